// The audio context: what the JACK process callback does.
//
// Takes net's records into the jitter buffer (audio::RecordIntake) and
// net's latest StreamModel,
// renders the stream (at its rate) from the playout cursor and converts it to
// the JACK rate (audio::RateConverter). Where playout should be and how
// fast it goes come from the clocks (audio::PlayoutClock); the player
// carries out what they decide: start where the stream is due, skip or
// replay spliced in phase (audio::Splicer), hold silence, start over.
// Every edge of silence is faded (audio::Fader). Sends consumed records
// home and publishes its status to net. Plays the stream by a
// core::StreamFormat (rate, channels, ports): the one it is built with,
// then each one net swaps in, installed at the start of a callback before
// any record of its stream is read, once what played of the old one has
// faded out (install()); the one it replaces goes home to net.
//
// Playout is one state machine (State); transition() is the one place its
// state changes:
//
//   Buffering --Due--> Playing
//   Playing, Holding, Replaying --Replay--> Replaying --PlayedOut--> Playing
//   Playing, Holding --Hold--> Holding --PlayedOut--> Playing
//   Replaying --Hold--> Replaying --PlayedOut--> Holding (the hold follows the replay)
//   Playing --RanDry--> Buffering; not Buffering --StartOver--> Buffering
//   any --NewStream, NewFormat, Resync--> Buffering
//
// A skip forward moves the cursor and leaves the state as it is. What
// each state plays is in audio/player_render.cpp.
//
// Thread: audio for process(); control only while no callback can run.
// Everything process() touches was allocated at construction.
#pragma once

#include <cstdint>
#include <memory>

#include "audio/cycle.hpp"
#include "audio/fader.hpp"
#include "audio/jitter_buffer.hpp"
#include "audio/playout_clock.hpp"
#include "audio/rate_converter.hpp"
#include "audio/record_intake.hpp"
#include "audio/splicer.hpp"
#include "core/mailbox.hpp"
#include "core/messages.hpp"
#include "core/spsc_queue.hpp"
#include "core/stream_format.hpp"

namespace audio {

struct PlayerConfig {
  core::StreamFormat format{};  // the first stream's rate, the channels records carry, the ports they play on
  std::size_t capacity = 256;   // records the jitter buffer can hold: the pool size
};

class Player {
 public:
  enum class State : std::uint8_t {
    Buffering,  // nothing plays: no stream yet, a new one, a start over, or ran dry; waiting until audio is due
    Playing,    // the records from the cursor; a hole in them plays as silence
    Replaying,  // a splice backwards: what played before the cursor plays again, up to it
    Holding,    // a correction backwards that cannot splice: silence, the cursor standing still
  };

  /// Thread: control, at start-up.
  Player(const PlayerConfig& config, core::SpscQueue<core::Message>& from_net,
         core::SpscQueue<core::Message>& to_net, core::Mailbox<core::StreamModel>& model,
         core::Mailbox<core::AudioStatus>& status);

  /// Thread: audio. Real-time safe: no allocation, no locks, no syscalls,
  /// bounded time. Writes exactly `cycle.nframes` to each of
  /// `out[0..ports)` at `cycle.rate` (which may change between calls).
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
  /// Stream audio plays (or a hold of it): not Buffering.
  bool playing() const noexcept { return state_ != State::Buffering; }
  const core::AudioStatus& status() const noexcept { return status_; }
  const PlayoutClock& clock() const noexcept { return clock_; }

 private:
  // What moves playout from one state to another (the diagram above).
  enum class Event : std::uint8_t {
    Due,        // the first queued record is due: play from the cursor given
    RanDry,     // no record left to play
    StartOver,  // far from where the clocks say playout should be
    NewStream,  // a new epoch: what the buffer held went home
    NewFormat,  // a new stream format: what the buffer held went home, nothing of the old one fades
    Resync,     // a new JACK client: what the buffer held went home
    Replay,     // a correction backwards, spliced: replay the frames given
    Hold,       // a correction backwards that cannot splice: hold the frames given
    PlayedOut,  // the replay or the hold is over
  };
  void transition(Event e, std::int64_t frames = 0) noexcept;

  void take_model() noexcept;
  void drain_net() noexcept;
  void install(core::StreamFormat* format) noexcept;

  void start_if_due() noexcept;
  void steer(std::uint32_t nframes, double& ratio) noexcept;
  double position() const noexcept;
  // Entering a hole before `r`: true when it holds first.
  bool align_in_hole(const core::PacketRecord* r) noexcept;
  void jump_to(std::int64_t asked, std::int64_t window) noexcept;
  bool splice_back(std::int64_t frames) noexcept;
  bool splice_at(std::int64_t asked, std::int64_t window, std::int64_t& at) noexcept;

  void render(float* out, std::uint32_t frames) noexcept;
  std::uint32_t replay(float* out, std::uint32_t frames) noexcept;
  std::uint32_t hold(float* out, std::uint32_t frames) noexcept;
  std::uint32_t play_records(float* out, std::uint32_t frames) noexcept;
  void push_status(const Cycle& cycle, std::uint32_t stream_frames) noexcept;

  // The stream's format: rate, channels per record, the ports they play
  // on. The first is the player's own (initial_); each one net swaps in
  // is net's, and goes home when the next replaces it.
  core::StreamFormat initial_;
  core::StreamFormat* format_ = &initial_;
  // Swapped in, waiting for what plays to fade out (at most
  // kMaxFadeCycles callbacks); the records behind it wait in the queue.
  core::StreamFormat* incoming_ = nullptr;
  int incoming_cycles_ = 0;
  static constexpr int kMaxFadeCycles = 4;
  core::Mailbox<core::StreamModel>& model_;       // net -> audio: the latest model
  core::Mailbox<core::AudioStatus>& status_out_;  // audio -> net: the latest status

  // Everything below: only referenced by the audio context.
  JitterBuffer buffer_;
  RecordIntake intake_;  // net's records into buffer_, and home again

  PlayoutClock clock_;
  State state_ = State::Buffering;
  std::uint32_t epoch_ = 0;       // the stream the buffer holds
  std::int64_t cursor_ = 0;       // stream position of the next sample to render
  bool has_cursor_ = false;       // cursor_ is meaningful: playout began this epoch
  std::int64_t replay_left_ = 0;  // Replaying: frames of what played still to play again
  std::int64_t hold_left_ = 0;    // Holding (or to follow Replaying): frames still to hold
  bool in_hole_ = false;          // Playing: rendering through a hole in the timeline
  std::int64_t hole_error_ = 0;   // this cycle: what a hole may take up (PlayoutClock::trimmed_error)
  // Running dry is an underrun only if the stream goes on from where it ran
  // dry: the next record then starts before the position playout would have
  // reached. A stream that ended or paused (its timestamps jump ahead with
  // real time) ran dry without fault.
  struct DrySpell {
    bool on = false;          // ran dry; the next record has not come yet
    std::int64_t at = 0;      // cursor when the buffer ran dry
    std::int64_t frames = 0;  // stream frames rendered as silence since
  } dry_;

  Fader fader_;
  Splicer splicer_;
  RateConverter converter_;
  core::AudioStatus status_;
};

}  // namespace audio
