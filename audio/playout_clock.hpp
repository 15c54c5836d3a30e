// Where playout should be, and how fast it should go, from two clocks:
// - the sender's: net's core::StreamModel says when each stream position
//   arrives on time (the lower envelope of arrivals, core::ClockEstimator);
// - JACK's: its frame counter against the process callback's wake-ups,
//   filtered here by a core::ClockEstimator of its own.
// Net measures a sender in the same JACK graph on JACK's timeline instead
// (its frame counter in ns, which stands still while the server stalls,
// net::SenderClock): then the cycle's start on that timeline is exact, and
// a stall, which stalls that sender too, moves nothing.
// A packet that arrives on time is to play the target latency L after it
// arrives, so at the start of each cycle the stream position due is the one
// that arrived on time L earlier. Playout's error is that position less
// the one actually playing. Neither the queue's contents nor its depth
// enter: loss, reordering, duplicates, concealment, FEC and rescue move
// neither clock, so they move neither the error nor the drift estimate.
//
// - Drift: the ratio of the two clocks' rates is the rate playout consumes
//   the stream at; the resampler follows it.
// - Trim: what the estimates leave of the error is played away slowly, in
//   proportion, never faster than kMaxTrim (faster in the first seconds,
//   while the sender's clock is still being measured). The rate playout
//   runs at follows drift and trim at kSlew at most: it never steps.
// - Discontinuities: a step in either clock (a JACK stall, a sender whose
//   timestamps jump or whose path gets longer) moves the due position at
//   once. An error beyond kCorrectMs is corrected in one decision: stream
//   audio skipped, or played again, spliced in phase by the player (or
//   silence held where it cannot be); never glided away. A skip whose
//   audio is not queued waits for it: the sender stalled too (it is in the
//   same JACK graph), and its clock shows the same step once confirmed
//   (then nothing is to be skipped). Far beyond what is queued, playout
//   starts over.
// - A new target (--latency auto) glides there, fed forward; one that net
//   grew by inserting concealment (a stretch) is there already.
//
// Thread: audio (or control while no callback runs). Real-time safe:
// arithmetic on fixed state.
#pragma once

#include <cstdint>

#include "core/clock_estimator.hpp"
#include "core/defaults.hpp"
#include "core/messages.hpp"

namespace audio {

class PlayoutClock {
 public:
  /// Errors beyond this are corrected at once (skip or hold): more than
  /// half a period of 400 Hz, so that a splice that lands on the nearest
  /// matching waveform never leaves more than this.
  static constexpr double kCorrectMs = 1.5;
  /// A correction waits until JACK's clock has gone this long without a
  /// step, and has its new level (unless the error is beyond kStormMs): a
  /// storm of stalls (a busy host stalls the server several times in a few
  /// hundred ms) is one decision, not one splice per stall.
  static constexpr double kQuietS = 0.06;
  static constexpr double kStormMs = 20;
  /// A skip under kStormMs after a JACK stall waits up to this long while
  /// net has had no packet since the stall, or has had only packets that
  /// came late by about as much (core::StreamModel::stall_shared): a
  /// sender in the same graph, which net tells from the packets after the
  /// stall (net::SenderClock: kSettleNs, then a few packets), stalled too
  /// and is not ahead at all. A skip then would be played again.
  static constexpr double kSkipQuietS = 0.5;
  /// A skip whose audio is not queued (less beyond where it lands than
  /// playout on time had there of late) waits this long for the sender's
  /// clock to explain it; then it is spliced if what the splice needs is
  /// there, and otherwise playout starts over from where it is due.
  /// A path that gets longer is a step of the sender's clock confirmed 2 s
  /// after it (core::ClockEstimator::sender_config); one that gets longer
  /// in stages over a second or two is explained piece by piece, up to 4 s
  /// after it began. Meanwhile playout goes on where it is.
  static constexpr double kWaitS = 6;
  /// Errors beyond this, or a skip past everything queued by more than
  /// this, start playout over at once: a long stall, a pool run dry.
  static constexpr double kRestartMs = 500;
  /// The headroom (what is queued beyond the due position, less the
  /// target) in the cycles that find a newer packet queued (its peaks) is
  /// kept at its largest and least over windows of kHeadroomS while
  /// playout is on time: a skip compares against the last two windows'.
  static constexpr double kHeadroomS = 0.5;
  /// The trim: the error over kTrimS, at most kMaxTrim. For the first
  /// kSettleS of playout, while the clocks are still being measured (the
  /// sender's envelope drops as the earliest packets show, both rates take
  /// a second or two), faster: the error over kSettleTrimS, at most
  /// kMaxSettleTrim; then over the next kSettleS it narrows to the steady
  /// trim. The pitch is the drift estimate plus the trim: 30 ppm at most
  /// beside a drift estimate 20 ppm off keeps it within 50 ppm.
  static constexpr double kTrimS = 25;
  static constexpr double kMaxTrim = 30e-6;
  /// Under jitter the sender's clock is known less well (its model's
  /// uncertainty, core::ClockEstimator::uncertainty_ppm), and the error the
  /// trim sees is mostly the model's own wander as its envelope settles: the
  /// steady trim is scaled down by kTrustPpm over that uncertainty (to a
  /// quarter at most), so that it does not put the wander into the pitch.
  static constexpr double kTrustPpm = 5;
  static constexpr double kSettleS = 2;
  static constexpr double kSettleTrimS = 2;
  static constexpr double kMaxSettleTrim = 200e-6;
  /// How fast the rate playout runs at may change (drift and trim; a
  /// target's glide is fed forward apart): a new estimate or a trim that
  /// jumps after a splice is followed, not stepped to. A step of the rate is
  /// a kink in the tone's phase; 100 ppm/s moves the phase of a 440 Hz
  /// tone by less than a thousandth of a radian per 10 ms from where its
  /// pitch of the last half second put it. Faster while settling, but no
  /// faster than 200 ppm/s: the settling trim that plays away what a splice
  /// left (up to half the tone's period) then ramps to its most in a
  /// second, and puts the phase advance of 10 ms at most 1.4 mrad off its
  /// median of the last half second. A codec's own phase wander (Opus at
  /// 64 kbit/s mono: up to 12 mrad over two blocks a splice joins,
  /// tests/README.md) comes on top of that in tests/tools/tone_judge's eyes.
  static constexpr double kSlew = 100e-6;
  static constexpr double kSettleSlew = 200e-6;
  /// A gap larger than kSlew x kCatchUpS (a sender's rate measured only
  /// after a while, far from the nominal it was taken for) closes with this
  /// time constant, at kCatchUpSlew at most. A ramp of S ppm/s puts the
  /// phase advance of 10 ms of a tone at f Hz 2 pi f 10 ms S 0.25 s off its
  /// median of the last half second: 300 ppm/s, 4.7 mrad at 1 kHz (2 mrad
  /// at 440 Hz), and tests/tools/tone_judge adds two blocks' deviations
  /// against its 15 mrad. Such a ramp closes a gap of 1000 ppm in 4 s;
  /// what playout falls behind or ahead meanwhile (1 to 2.5 ms) is spliced
  /// away in one decision beyond kCorrectMs, and trimmed below it.
  /// A catch-up that begins beyond kFarGap (no crystal is that far off; a
  /// rate that far is measured only after 6 s,
  /// core::ClockEstimator::sender_config) runs at kFarCatchUpSlew: such a
  /// sender is followed 6 s late already.
  static constexpr double kCatchUpS = 1.0;
  static constexpr double kCatchUpSlew = 300e-6;
  static constexpr double kFarGap = core::ClockEstimator::kSenderFarPpm * 1e-6;
  static constexpr double kFarCatchUpSlew = 500e-6;
  /// How fast the reference follows a new target: a target 10 ms larger is
  /// reached in 2 s (playout 0.5 % slow), a smaller one in 5 s (0.2 % fast).
  static constexpr double kGrowSlew = 5e-3;
  static constexpr double kShrinkSlew = 2e-3;

  PlayoutClock() noexcept;

  /// The stream's rate: what its positions, the model's frames and the
  /// target count. Set before the first model of a stream at that rate.
  void set_stream_rate(std::uint32_t rate) noexcept;

  /// A new JACK client: its frame counter starts over.
  void reset_jack() noexcept;
  /// Net's latest model. A new epoch is a new stream: call start() when
  /// playout starts on it.
  void set_model(const core::StreamModel& model) noexcept;
  const core::StreamModel& model() const noexcept { return model_; }
  /// Playout (re)starts: the reference is the target, no glide, no wait;
  /// on a new stream it settles again (fast trim and slew).
  void start() noexcept;

  /// First thing each cycle: JACK's frame counter at the cycle's start and
  /// when the callback woke (CLOCK_MONOTONIC). Returns the step in JACK's
  /// clock this cycle confirmed (ns, positive: the server lost that much
  /// time), or 0.
  std::int64_t on_cycle(std::int64_t jack_frames, std::int64_t wake_ns, std::uint32_t jack_rate) noexcept;
  /// Later steps of JACK's clock so far (time the server lost): what audio
  /// reports as AudioStatus::jack_stalls, and net answers with
  /// StreamModel::stalls_heard.
  std::uint64_t stalls() const noexcept { return stalls_; }
  /// When this cycle began by JACK's clock (its envelope), CLOCK_MONOTONIC.
  std::int64_t cycle_ns() const noexcept { return cycle_ns_; }
  /// The same instant on JACK's timeline: the frame counter in ns since
  /// the timeline's origin, continued across a new JACK client from where
  /// the old one's would be.
  std::int64_t cycle_jack_ns() const noexcept { return timeline_ns_; }
  /// When this cycle began on the schedule JACK keeps now: cycle_ns(), or,
  /// while the cycles since a stall are too few to confirm it as a step of
  /// JACK's clock, where they put it. What to time the next callbacks by.
  std::int64_t schedule_ns() const noexcept { return cycle_ns_ + jack_.pending_late_ns(); }
  /// JACK's clock has a step to confirm or a step's new level to take:
  /// cycle_ns() is provisional.
  bool jack_settling() const noexcept { return jack_.step_pending() || jack_.settling(); }
  /// Both clocks known: due() and steer() mean something.
  bool ready() const noexcept { return model_.clock && model_.epoch != 0 && jack_.valid(); }
  /// The stream position due at the start of this cycle (fractional).
  double due() const noexcept { return due_; }

  struct Steer {
    double ratio = 1;          // resampler: output rate / input rate, this cycle
    std::int64_t correct = 0;  // stream frames to skip now (> 0) or hold as silence (< 0)
    bool restart = false;      // start over from due()
  };
  /// Where playout is at the start of this cycle (the stream position whose
  /// sample is output first, fractional, counting a correction still
  /// playing out); the end of what is queued, and of what is queued
  /// without a hole from where a skip would land (the due position less the
  /// splice's search); how much must be queued beyond the due position for
  /// a skip to land there (this cycle's audio and the splice's search);
  /// `nframes` the cycle's length.
  Steer steer(double position, std::int64_t queued_end, std::int64_t whole_end, double needed,
              std::uint32_t nframes) noexcept;
  /// Not playing this cycle: the resampler's nominal ratio and the drift.
  double idle_ratio() noexcept;
  /// The error the latest steer() left to the trim (stream frames,
  /// positive: playout is behind): one within kCorrectMs, outside a storm;
  /// 0 otherwise (a correction was decided, or one waits). Silence may
  /// take it up at once: a hole in the stream plays that much shorter or
  /// longer.
  double trimmed_error() const noexcept { return trimmed_error_; }

  /// The sender's clock against JACK's (positive: the sender runs fast).
  double drift_ppm() const noexcept { return drift_ppm_; }
  /// The rate playout consumed the stream at in the latest steer(): drift,
  /// trim and glide, against nominal.
  double ratio_ppm() const noexcept { return ratio_ppm_; }
  /// The buffer's delay in the latest steer(): the target plus the error
  /// (stream frames).
  double delay_frames() const noexcept { return delay_frames_; }
  const core::ClockEstimator& jack() const noexcept { return jack_; }

 private:
  double consumption() const noexcept;  // stream frames per JACK frame, drift only
  void note_headroom(double headroom, bool peak, double seconds) noexcept;
  // What a skip of `error` must find queued beyond the due position.
  double skip_bar(double error) const noexcept;
  // A skip of `error` now, a wait for its audio, or a start over.
  void skip(double error, std::int64_t queued_end, std::int64_t whole_end, double needed, std::uint32_t nframes,
            Steer& s) noexcept;
  // The rate playout runs at follows `wanted` (stream frames per JACK
  // frame), slewed.
  void follow(double wanted, double settled, double seconds) noexcept;
  void update_due() noexcept;

  core::ClockEstimator jack_;
  double stream_rate_ = core::defaults::kStreamRate;  // stream frames per second
  double frames_per_ms_ = stream_rate_ / 1000;
  core::StreamModel model_{};
  std::uint32_t jack_rate_ = 0;
  std::int64_t cycle_ns_ = 0;
  // JACK's timeline: timeline_base_ at frame timeline_frames_ of this
  // client; timeline_ns_ this cycle, when cycle_ns_ on CLOCK_MONOTONIC, at
  // timeline_rate_ timeline ns per CLOCK_MONOTONIC ns.
  bool timeline_known_ = false;  // a cycle of some client has run
  bool timeline_new_ = true;     // the next cycle is a new client's first
  std::int64_t timeline_base_ = 0;
  std::int64_t timeline_frames_ = 0;
  std::int64_t timeline_ns_ = 0;
  std::int64_t timeline_cycle_ns_ = 0;
  double timeline_rate_ = 1;
  double due_ = 0;
  bool started_ = false;        // playout runs on this epoch (start())
  double reference_ = 0;        // the target playout steers to now, gliding (stream frames)
  double glide_ = 0;            // how fast it moves this cycle (frames per stream frame)
  std::int64_t stretched_ = 0;  // model_.stretched_frames already in reference_
  double waited_s_ = 0;         // a skip has waited this long for its audio
  // The headroom's peaks in the window before (peaks_[0]) and in this
  // one, which began peaks_s_ ago.
  struct Peaks {
    double high = -1e18;
    double low = 1e18;
    int count = 0;
  };
  Peaks peaks_[2];
  double peaks_s_ = 0;
  std::int64_t queued_end_ = INT64_MIN;  // in the latest steer()
  double played_s_ = 0;         // since start() on a new stream
  std::uint32_t settled_epoch_ = 0;  // the stream played_s_ counts for
  double quiet_s_ = 1e9;        // since JACK's clock last stepped
  std::uint64_t stalls_ = 0;    // its later steps: time the server lost
  std::int64_t step_frames_ = INT64_MIN / 2;  // JACK's frame counter then
  double rate_ = 0;             // stream frames per JACK frame, drift and trim, slewed (0: not yet)
  bool far_catch_up_ = false;   // the catch-up under way began beyond kFarGap
  double drift_ppm_ = 0;
  double ratio_ppm_ = 0;
  double delay_frames_ = 0;
  double trimmed_error_ = 0;
};

}  // namespace audio
