// Keeps the jitter buffer at its target by steering how fast playout
// consumes the stream: a PI controller on the buffer depth, after
// F. Adriaensen, "Controlling adaptive resampling", Linux Audio Conference
// 2012 (the loop zita-njbridge and zita-ajbridge use).
//
// The depth is averaged over windows of whole packet intervals (100 ms at
// least), which removes the sawtooth of packets landing whole, and compared
// with the target plus half a packet (the sawtooth's mean). The loop is a second-order one:
// with consumption factor c = Kp e + Ki ∫e and a sender fast by x, the depth
// error obeys e'' + R Kp e' + R Ki e = R x' (R the stream rate), so
// Ki = w^2 / R and Kp = 2 zeta w / R. It starts wide (w = 1 rad/s, locked in
// a few seconds) and narrows to w = 0.15 rad/s over the next seconds, so
// that network jitter barely moves the pitch once locked. The integrator
// is the drift estimate.
//
// A new target (--latency auto) is not a step for the loop: the reference
// it steers to glides there at kGrowSlew or kShrinkSlew of the stream rate,
// and the glide's own rate is fed forward into the consumption factor, so
// the integrator (the drift estimate) does not wind up, and the buffer
// fills or drains by a pitch change below a few cents, never by a jump.
//
// Thread: audio. Real-time safe: arithmetic only.
#pragma once

#include <cstdint>

namespace audio {

class DriftController {
 public:
  /// Forget everything: a new stream, or playout restarting.
  void reset() noexcept;

  /// One callback's depth sample (stream frames queued ahead of playout,
  /// converter included) covering `frames` stream frames of playout.
  /// `packet_frames` sets the averaging window; `target_frames` the goal.
  void update(double depth_frames, std::uint32_t frames, std::uint32_t packet_frames,
              std::uint32_t target_frames) noexcept;

  /// Consumption factor minus one: playout reads the stream at R (1 + c).
  double correction() const noexcept { return correction_; }
  /// The sender's clock against JACK's, parts per million (positive: the
  /// sender runs fast).
  double drift_ppm() const noexcept { return integral_ * 1e6; }
  /// The depth less half a packet, averaged over about a second: the target
  /// latency when all is well (DESIGN.md, "Latency, precisely"). What
  /// buffer_ms reports.
  double depth_frames() const noexcept { return smooth_depth_; }
  bool has_depth() const noexcept { return windows_ > 0; }

  /// Largest correction either way: ±5000 ppm covers ±2000 ppm of drift
  /// with room to move the buffer back to target.
  static constexpr double kMaxCorrection = 5e-3;
  /// How fast the reference follows a new target: a target 10 ms larger
  /// is reached in 2 s (playout 0.5% slow, 8.6 cents flat), a smaller one
  /// in 5 s (0.2% fast, 3.5 cents sharp).
  static constexpr double kGrowSlew = 5e-3;
  static constexpr double kShrinkSlew = 2e-3;
  /// How fast stall debt is played away: as gently as a target shrinks
  /// (0.5 % would be 2.5 Hz sharp on 440 Hz, which the tone tests catch).
  static constexpr double kDebtSlew = kShrinkSlew;
  /// Largest correction of all: drift, depth error and glide together.
  static constexpr double kMaxSteer = kMaxCorrection + kGrowSlew + kDebtSlew;

  /// A new target the buffer has jumped to already (net inserted audio):
  /// the reference jumps too, and the current window starts over.
  void jump_reference(std::uint32_t target_frames) noexcept;

  /// The buffer is `frames` deeper than the loop put it, by no fault of
  /// either clock (the callback stalled while packets came): the reference
  /// moves up by as much, as debt, instead of the integrator (the drift
  /// estimate) winding up on it. The debt is played away at kDebtSlew on
  /// top of any glide to the target; a host whose server keeps losing time
  /// faster than that builds it up, and the player skips it
  /// (Player::skip_stall).
  void shift_reference(double frames) noexcept;
  /// The stall debt in the reference now (stream frames), and a new value
  /// for it (the player judged a stall, or skipped its backlog); the current
  /// window starts over.
  double debt_frames() const noexcept { return debt_; }
  void set_debt(double frames) noexcept;

  /// The window in progress is discarded (it straddles a stall).
  void restart_window() noexcept;
  /// Windows completed since reset, and the latest one's depth (mean
  /// less half a packet, stream frames).
  std::uint64_t windows() const noexcept { return windows_; }
  double window_depth() const noexcept { return depth_; }
  /// JACK reported an xrun since the last call: a depth step in this
  /// window is the server's lost time, not drift (the reference moves to
  /// it and glides back; a step of 20 ms and more that the next window
  /// confirms is for the player to skip: take_skip()).
  void note_xrun() noexcept;
  /// Frames the player should skip (crossfaded) now; zeroed.
  double take_skip() noexcept {
    const double s = skip_;
    skip_ = 0;
    return s;
  }

  /// Frames above the target the start left (playout started on a
  /// late packet), for the player to skip now; zeroed. Set once,
  /// with the first reference, when at least kStartTrimFrames.
  double take_start_trim() noexcept {
    const double s = start_trim_;
    start_trim_ = 0;
    return s;
  }
  /// The player skipped `frames` of the start's excess: the reference
  /// comes down by as much, and the current window starts over.
  void trimmed(double frames) noexcept;
  /// 2 ms: less is the callback's phase against the packets', glided away
  /// in a second.
  static constexpr double kStartTrimFrames = 96;

  /// The depth the loop steers to now: the target, or on its way there,
  /// plus stall debt.
  double reference_frames() const noexcept { return reference_ + debt_; }

 private:
  double sum_ = 0;              // depth x frames over the current window
  std::uint64_t frames_ = 0;    // frames in the current window
  double integral_ = 0;
  double correction_ = 0;
  double depth_ = 0;            // the latest window's mean less half a packet
  double reference_ = -1;       // gliding towards the target (-1: not yet set)
  double debt_ = 0;             // above it: the server's lost time not yet played away
  double skip_ = 0;             // excess for the player to skip (take_skip)
  double start_trim_ = 0;       // the start's excess for the player to skip (take_start_trim)
  double pending_skip_ = 0;     // an xrun window's step, for the next window to confirm
  double pending_reference_ = 0;  // the reference before that step
  bool xrun_in_window_ = false;
  double last_target_ = -1;     // the target of the previous window
  bool growing_ = false;        // gliding up to a target that grew
  double smooth_depth_ = 0;
  double elapsed_s_ = 0;        // since reset
  std::uint64_t windows_ = 0;
};

}  // namespace audio
