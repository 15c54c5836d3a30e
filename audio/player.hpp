// The audio context: what the JACK process callback does.
//
// Drains net -> audio messages into the jitter buffer, renders the stream
// (48 kHz) from the playout cursor with fades at the edges of silence, and
// converts it to the JACK rate with a variable-ratio resampler that a drift
// controller steers to keep the buffer at its target. Sends consumed records
// home and pushes its status to net.
//
// Thread: audio for process(); control only while no callback can run.
// Everything process() touches was allocated at construction.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "audio/drift_controller.hpp"
#include "audio/jitter_buffer.hpp"
#include "audio/resampler.hpp"
#include "core/defaults.hpp"
#include "core/messages.hpp"
#include "core/spsc_queue.hpp"

namespace audio {

struct PlayerConfig {
  int channels = 2;                  // output ports; records carry the same count
  std::uint32_t target_frames = 960; // target latency L in stream (48 kHz) frames
  std::size_t capacity = 256;        // records the jitter buffer can hold: the pool size
};

class Player {
 public:
  enum class State : std::uint8_t {
    Idle,       // no stream yet, or flushed by a Reset
    Buffering,  // filling up to the target latency
    Playing,
  };

  /// Largest JACK period process() takes; larger ones play silence.
  static constexpr std::uint32_t kMaxPeriod = 8192;
  /// A skip's crossfade (5 ms), and how much less than asked a skip may
  /// skip to splice where the waveforms match (10 ms: a period of 100 Hz).
  static constexpr std::uint32_t kSpliceFrames = core::defaults::kStreamRate / 200;
  static constexpr std::uint32_t kSpliceSearch = core::defaults::kStreamRate / 100;

  /// Thread: control, at start-up.
  Player(const PlayerConfig& config, core::SpscQueue<core::ToAudio>& from_net,
         core::SpscQueue<core::ToNet>& to_net);

  /// Thread: audio. Real-time safe: no allocation, no locks, no syscalls,
  /// bounded time. Writes exactly `nframes` to each of `out[0..channels)` at
  /// `jack_rate` (which may change between calls). `cycle_ns` is when this
  /// cycle began (CLOCK_MONOTONIC); net times its loss repair from it.
  void process(float* const* out, std::uint32_t nframes, std::int64_t cycle_ns,
               std::uint32_t jack_rate) noexcept;

  /// Static trampoline for audio::JackClient.
  static void process_trampoline(void* self, float* const* out, std::uint32_t nframes,
                                 std::int64_t cycle_ns, std::uint32_t jack_rate) noexcept {
    static_cast<Player*>(self)->process(out, nframes, cycle_ns, jack_rate);
  }

  /// Thread: control, while no callback runs (the JACK client is gone: the
  /// audio state has migrated to control). Sends every buffered record home
  /// and re-buffers from what comes next, so that a JACK server that comes
  /// back does not play what piled up meanwhile.
  void resync() noexcept;

  /// Thread: control, while no callback runs. JACK's xrun count (written by
  /// JACK's xrun callback), read relaxed by the audio context each call;
  /// nullptr: none.
  void watch_xruns(const std::atomic<std::uint64_t>* xruns) noexcept {
    xruns_ = xruns;
    xruns_seen_ = xruns != nullptr ? xruns->load(std::memory_order_relaxed) : 0;
  }

  /// Thread: audio (or control while no callback runs).
  State state() const noexcept { return state_; }
  const core::AudioStatus& status() const noexcept { return status_; }

 private:
  void drain_net() noexcept;
  void flush() noexcept;
  void unlink(core::PacketRecord* r) noexcept;
  void replace(std::size_t i, core::PacketRecord* r) noexcept;
  void return_pending() noexcept;
  void start_if_ready() noexcept;
  std::int64_t target_queue() const noexcept;
  std::int64_t arrived_end() const noexcept;
  void catch_up() noexcept;
  void skip_stall() noexcept;
  void shorten_hole(const core::PacketRecord* r) noexcept;
  std::int64_t jump_to(std::int64_t cursor, std::int64_t slack) noexcept;
  // Up to `frames` of queued audio skipped (jump_to), leaving `keep`
  // queued at least: the frames it meant to skip and those it skipped.
  struct Skip {
    std::int64_t meant = 0;
    std::int64_t skipped = 0;
  };
  Skip skip_excess(double frames, std::int64_t keep) noexcept;
  bool copy_stream(std::int64_t from, std::uint32_t frames, float* dst) const noexcept;
  std::int64_t best_splice(std::int64_t latest, std::int64_t earliest) const noexcept;
  void render(float* out, std::uint32_t frames) noexcept;
  void play(float* out, const float* pcm, std::uint32_t frames, std::int64_t frames_to_end) noexcept;
  void silence(float* out, std::uint32_t frames) noexcept;
  void begin_fade_out() noexcept;
  void push_status(std::uint32_t nframes, std::int64_t cycle_ns, std::uint32_t jack_rate,
                   std::uint32_t stream_frames) noexcept;

  const int channels_;
  core::SpscQueue<core::ToAudio>& from_net_;  // net -> audio: Link, Reset, SetTarget
  core::SpscQueue<core::ToNet>& to_net_;      // audio -> net: Unlink, Status

  // Everything below: only referenced by the audio context.
  JitterBuffer buffer_;
  // Records whose Unlink found to_net_ full; retried every call. Sized for
  // the whole pool, so nothing is ever lost.
  const std::unique_ptr<core::PacketRecord*[]> pending_;
  std::size_t pending_count_ = 0;

  State state_ = State::Idle;
  std::uint32_t target_frames_;
  std::int64_t cursor_ = 0;           // stream position of the next sample to render
  bool has_cursor_ = false;           // cursor_ is meaningful: playout began this epoch
  std::uint32_t over_calls_ = 0;      // calls in a row with the queue far beyond the target
  double stall_frames_ = 0;           // JACK's late cycles not caught up or skipped yet
  double stall_reference_ = -1;       // the loop's reference before them
  double stall_debt_ = 0;             // ... and the stall debt in it
  std::uint64_t stall_window_ = 0;    // the loop's window count at the latest
  const std::atomic<std::uint64_t>* xruns_ = nullptr;  // JACK's xrun count (watch_xruns)
  std::uint64_t xruns_seen_ = 0;
  std::int64_t prev_cycle_ns_ = 0;    // when the previous call's cycle began (0: none yet)
  std::int64_t prev_period_ns_ = 0;   // and how long it was
  // Running dry is an underrun only if the stream goes on from where it ran
  // dry: the next record then starts before the position playout would have
  // reached. A stream that ended or paused (its timestamps jump ahead with
  // real time) ran dry without fault.
  bool dry_ = false;
  std::int64_t dry_at_ = 0;           // cursor when the buffer ran dry
  std::int64_t dry_frames_ = 0;       // stream frames rendered as silence since

  // Edges of silence: fade-in of new audio over kFadeFrames, and a ramp to
  // zero from the last sample rendered (hold_), mixed where they meet, so
  // that no edge is a step.
  bool silent_ = true;                // the last sample rendered was silence (or fading)
  bool in_hole_ = false;              // rendering through a hole in the timeline
  std::int64_t tail_end_ = -1;        // a tail fade under way ends here (-1: none)
  std::uint32_t fade_in_left_ = 0;
  std::uint32_t fade_out_left_ = 0;
  std::array<float, core::defaults::kMaxChannels> last_{};  // last sample rendered, per channel
  std::array<float, core::defaults::kMaxChannels> hold_{};  // value the fade-out starts from
  // A skip (jump_to) crossfades from what would have played on (splice_,
  // kSpliceFrames rendered from the old cursor) to the new cursor, chosen
  // where the two match best (best_splice).
  const std::unique_ptr<float[]> splice_;  // kSpliceFrames x channels, interleaved
  const std::unique_ptr<float[]> search_;  // (kSpliceSearch + kSpliceFrames) x channels
  std::uint32_t splice_left_ = 0;          // frames of splice_ still to mix in

  // Rate conversion: the stream rendered at 48 kHz into stage_, read by the
  // resampler at the JACK rate into out_, steered by drift_.
  Resampler resampler_;
  DriftController drift_;
  const std::unique_ptr<float[]> stage_;  // kStageFrames x channels, interleaved
  std::uint32_t stage_pos_ = 0;           // first frame not yet read by the resampler
  std::uint32_t stage_len_ = 0;           // frames rendered into stage_
  const std::unique_ptr<float[]> out_;    // kMaxPeriod x channels, interleaved
  std::uint32_t jack_rate_ = 0;

  core::AudioStatus status_;
};

}  // namespace audio
