// The audio context: what the JACK process callback does.
//
// Takes net's records into the jitter buffer and net's latest StreamModel,
// renders the stream (48 kHz) from the playout cursor with fades at the
// edges of silence, and converts it to the JACK rate with a variable-ratio
// resampler. Where playout should be and how fast it goes come from the
// clocks (audio::PlayoutClock); the player carries out what they decide:
// start where the stream is due, skip (spliced) or hold (silence) in one
// decision, start over. Sends consumed records home and publishes its
// status to net.
//
// Thread: audio for process(); control only while no callback can run.
// Everything process() touches was allocated at construction.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "audio/cycle.hpp"
#include "audio/jitter_buffer.hpp"
#include "audio/playout_clock.hpp"
#include "audio/resampler.hpp"
#include "core/defaults.hpp"
#include "core/mailbox.hpp"
#include "core/messages.hpp"
#include "core/spsc_queue.hpp"

namespace audio {

struct PlayerConfig {
  int channels = 2;            // output ports; records carry the same count
  std::size_t capacity = 256;  // records the jitter buffer can hold: the pool size
};

class Player {
 public:
  enum class State : std::uint8_t {
    Buffering,  // no stream yet, flushed by a new one, or ran dry: waiting until audio is due
    Playing,
  };

  /// Largest JACK period process() takes; larger ones play silence.
  static constexpr std::uint32_t kMaxPeriod = 8192;
  /// A splice's crossfade (5 ms); how far either way from the asked
  /// position it may land to splice where the waveforms match (1.25 ms: a
  /// window of more than a period of 400 Hz, and less than the clocks'
  /// correction threshold either way); and how much of both sides is
  /// compared to find the match (2 ms: little enough to be queued at a
  /// target of a few ms).
  static constexpr std::uint32_t kSpliceFrames = core::defaults::kStreamRate / 200;
  static constexpr std::uint32_t kSpliceSearch = core::defaults::kStreamRate / 800;
  static constexpr std::uint32_t kMatchFrames = core::defaults::kStreamRate / 500;
  /// Stream audio kept after it played (42 ms), for splices backwards: a
  /// buffer short of its target repeats a stretch, spliced where the
  /// waveforms match, rather than hold silence.
  static constexpr std::uint32_t kHistoryFrames = 2048;

  /// Thread: control, at start-up.
  Player(const PlayerConfig& config, core::SpscQueue<core::PacketRecord*>& from_net,
         core::SpscQueue<core::PacketRecord*>& to_net, core::Mailbox<core::StreamModel>& model,
         core::Mailbox<core::AudioStatus>& status);

  /// Thread: audio. Real-time safe: no allocation, no locks, no syscalls,
  /// bounded time. Writes exactly `cycle.nframes` to each of
  /// `out[0..channels)` at `cycle.rate` (which may change between calls).
  void process(float* const* out, const Cycle& cycle) noexcept;

  /// Static trampoline for audio::JackClient.
  static void process_trampoline(void* self, float* const* out, const Cycle& cycle) noexcept {
    static_cast<Player*>(self)->process(out, cycle);
  }

  /// Thread: control, while no callback runs (the JACK client is gone: the
  /// audio state has migrated to control). Sends every buffered record home
  /// and starts over from what comes next, with a new JACK clock: a server
  /// that comes back does not play what piled up meanwhile.
  void resync() noexcept;

  /// Thread: audio (or control while no callback runs).
  State state() const noexcept { return state_; }
  const core::AudioStatus& status() const noexcept { return status_; }
  const PlayoutClock& clock() const noexcept { return clock_; }

 private:
  void take_model() noexcept;
  void drain_net() noexcept;
  void flush() noexcept;
  void restart() noexcept;
  void unlink(core::PacketRecord* r) noexcept;
  void replace(std::size_t i, core::PacketRecord* r) noexcept;
  void return_pending() noexcept;
  void start_if_due() noexcept;
  void steer(std::uint32_t nframes, double& ratio) noexcept;
  double position() const noexcept;
  std::int64_t target_queue() const noexcept;
  void shorten_hole(const core::PacketRecord* r) noexcept;
  std::int64_t jump_to(std::int64_t cursor, std::int64_t window) noexcept;
  bool splice_back(std::int64_t frames) noexcept;
  bool splice_at(std::int64_t asked, std::int64_t window, std::int64_t& at) noexcept;
  void remember(const float* pcm, std::uint32_t frames) noexcept;
  bool copy_stream(std::int64_t from, std::uint32_t frames, float* dst) const noexcept;
  bool best_splice(std::int64_t asked, std::int64_t window, std::int64_t& at, double& fraction) const noexcept;
  void render(float* out, std::uint32_t frames) noexcept;
  void play(float* out, const float* pcm, std::uint32_t frames, std::int64_t frames_to_end) noexcept;
  void silence(float* out, std::uint32_t frames) noexcept;
  void begin_fade_out() noexcept;
  void push_status(const Cycle& cycle, std::uint32_t stream_frames) noexcept;

  const int channels_;
  core::SpscQueue<core::PacketRecord*>& from_net_;  // net -> audio: records to link
  core::SpscQueue<core::PacketRecord*>& to_net_;    // audio -> net: records going home
  core::Mailbox<core::StreamModel>& model_;         // net -> audio: the latest model
  core::Mailbox<core::AudioStatus>& status_out_;    // audio -> net: the latest status

  // Everything below: only referenced by the audio context.
  JitterBuffer buffer_;
  // Records whose Unlink found to_net_ full; retried every call. Sized for
  // the whole pool, so nothing is ever lost.
  const std::unique_ptr<core::PacketRecord*[]> pending_;
  std::size_t pending_count_ = 0;

  PlayoutClock clock_;
  State state_ = State::Buffering;
  std::uint32_t epoch_ = 0;           // the stream the buffer holds
  std::int64_t cursor_ = 0;           // stream position of the next sample to render
  bool has_cursor_ = false;           // cursor_ is meaningful: playout began this epoch
  std::int64_t hold_left_ = 0;        // frames of a hold still to render as silence
  std::int64_t replay_left_ = 0;      // frames of history_ still to play before the cursor's audio
  // Stream audio that played, by position modulo kHistoryFrames: valid
  // from history_from_ up to the cursor, contiguous (rendered from records).
  const std::unique_ptr<float[]> history_;  // kHistoryFrames x channels
  std::int64_t history_from_ = 0;
  std::int64_t history_end_ = 0;
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
  const std::unique_ptr<float[]> splice_;  // (kSpliceFrames + 1) x channels, interleaved
  const std::unique_ptr<float[]> search_;  // (2 kSpliceSearch + kMatchFrames) x channels
  std::uint32_t splice_left_ = 0;          // frames of splice_ still to mix in

  // Rate conversion: the stream rendered at 48 kHz into stage_, read by the
  // resampler at the JACK rate into out_.
  Resampler resampler_;
  const std::unique_ptr<float[]> stage_;  // kRenderChunk x channels, interleaved
  std::uint32_t stage_pos_ = 0;           // first frame not yet read by the resampler
  std::uint32_t stage_len_ = 0;           // frames rendered into stage_
  const std::unique_ptr<float[]> out_;    // kMaxPeriod x channels, interleaved
  std::uint32_t jack_rate_ = 0;

  core::AudioStatus status_;
};

}  // namespace audio
