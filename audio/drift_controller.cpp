#include "audio/drift_controller.hpp"

#include <algorithm>
#include <cmath>

#include "core/defaults.hpp"

namespace audio {
namespace {

constexpr double kRate = core::defaults::kStreamRate;
constexpr double kZeta = 0.8;
constexpr double kWideW = 1.0;     // rad/s while acquiring
constexpr double kNarrowW = 0.15;  // rad/s once locked
constexpr double kWideS = 3.0;     // seconds at kWideW, then a glide to kNarrowW
constexpr double kGlideS = 6.0;
constexpr std::uint32_t kWindowFrames = core::defaults::kStreamRate / 10;
// 1 ms: more than the depth moves in a window by drift or jitter's average.
constexpr double kStepFrames = core::defaults::kStreamRate / 1000.0;
// 20 ms: far more than it wanders; an xrun window's step this large is skipped.
constexpr double kSkipFrames = core::defaults::kStreamRate / 50.0;

}  // namespace

void DriftController::reset() noexcept { *this = DriftController{}; }

void DriftController::jump_reference(std::uint32_t target_frames) noexcept {
  if (reference_ >= 0) reference_ = target_frames;
  sum_ = 0;
  frames_ = 0;
}

void DriftController::note_xrun() noexcept { xrun_in_window_ = true; }

void DriftController::shift_reference(double frames) noexcept {
  if (reference_ >= 0) debt_ = std::max(0.0, debt_ + frames);
}

void DriftController::trimmed(double frames) noexcept {
  if (reference_ >= 0) reference_ = std::max(0.0, reference_ - frames);
  restart_window();
}

void DriftController::restart_window() noexcept {
  sum_ = 0;
  frames_ = 0;
}

void DriftController::set_debt(double frames) noexcept {
  if (reference_ >= 0) debt_ = std::max(0.0, frames);
  restart_window();
}

void DriftController::update(double depth_frames, std::uint32_t frames,
                             std::uint32_t packet_frames, std::uint32_t target_frames) noexcept {
  sum_ += depth_frames * frames;
  frames_ += frames;
  // A whole number of packet intervals, at least 100 ms: the packets'
  // sawtooth averages out exactly, the converter's uneven intake nearly.
  const std::uint32_t packet = std::max<std::uint32_t>(packet_frames, 1);
  const std::uint32_t window = packet * ((kWindowFrames + packet - 1) / packet);
  if (frames_ < window) return;

  const double dt = static_cast<double>(frames_) / kRate;
  depth_ = sum_ / static_cast<double>(frames_) - packet / 2.0;
  sum_ = 0;
  frames_ = 0;
  ++windows_;
  // One-pole average over about a second, for reporting only.
  smooth_depth_ = windows_ == 1 ? depth_ : smooth_depth_ + (depth_ - smooth_depth_) * std::min(1.0, dt);
  if (windows_ == 1) return;  // the first window may straddle the start

  elapsed_s_ += dt;
  const double narrowing = std::clamp((elapsed_s_ - kWideS) / kGlideS, 0.0, 1.0);
  const double w = kWideW * std::pow(kNarrowW / kWideW, narrowing);  // geometric glide
  const double ki = w * w / kRate;
  const double kp = 2 * kZeta * w / kRate;

  // The reference glides to the target; the glide's rate is fed forward
  // (consuming slower by s fills the buffer by s frames per frame played).
  const double target = target_frames;
  // Playout starts on the target (audio::Player::start_if_ready), give or
  // take when the first callback comes after the packet that completed it
  // (up to a period later: the queue sits that much higher in its
  // sawtooth), and early or late first packets. Whatever depth it left is
  // where the reference starts and glides from, fed forward: as an error,
  // the wide loop's integrator would take it for drift (1000 ppm for 2.5 ms,
  // in simulation) and unwind it for seconds.
  // More than kStartTrimFrames above the target, though, is no phase:
  // playout started on a late packet (Player::start_if_ready starts on the
  // newest record), and the ones after it came on time (the README's
  // Performance section has the figures). Gliding that away at kShrinkSlew
  // would take seconds at a latency nobody asked for. The player skips it now (take_start_trim),
  // spliced, in the fade-in's wake.
  if (reference_ < 0) {
    reference_ = std::max(0.0, depth_);
    if (depth_ - target >= kStartTrimFrames) start_trim_ = depth_ - target;
  }
  const double played = dt * kRate;
  // Up at kGrowSlew only towards a target that grew (--latency auto wants
  // more, now); everything else (a smaller target, the way back from a
  // stall or an xrun) at the gentler kShrinkSlew.
  if (target > last_target_) growing_ = true;
  if (reference_ >= target) growing_ = false;
  last_target_ = target;
  const double up = growing_ ? kGrowSlew : kShrinkSlew;
  const auto glide_step = [&] {
    // None while the player has a trim to make (trimmed() moves the
    // reference by what it skips).
    return start_trim_ > 0 ? 0.0 : std::clamp(target - reference_, -kShrinkSlew * played, up * played);
  };
  reference_ += glide_step();
  // Stall debt is played away on top, and fed forward like the glide.
  const double pay = std::min(debt_, kDebtSlew * played);
  debt_ -= pay;
  const double feed = (-glide_step() + std::min(debt_, kDebtSlew * played)) / played;  // the next window's

  // A step of the depth in a window in which JACK had an xrun is the
  // server's lost (or made-up) time, not drift: glide back from where the
  // depth is rather than wind the integrator up on it. Not as debt: the
  // step may be no more than the depth's own wander, and debt is skipped
  // (audibly) once large; a stall the server's clock shows is judged as
  // such (shift_reference).
  // A step of kSkipFrames and more, though, is a storm of stalls whose
  // time the server's cycle times did not show (it ran the missed cycles
  // in quick succession, yet lost time): left to the reference, it would
  // ratchet up with every such window. The player skips it instead.
  // Only a step the next window confirms is skipped, and no more of it
  // than is still there: a server that runs its missed cycles late drains
  // what its stall piled up a window later, and a skip of that would leave
  // the buffer short by as much (seen in CI: 19 ms of end-to-end latency
  // for a 40 ms target, right after such a skip). Meanwhile the reference
  // sits at the stepped depth, so the integrator does not wind up on it.
  if (pending_skip_ > 0) {
    const double still = depth_ - pending_reference_ - debt_;
    if (still >= kSkipFrames) {
      skip_ += std::min(pending_skip_, still);
      reference_ = pending_reference_;
      xrun_in_window_ = false;  // this window's step is the one skipped
    } else if (still > kStepFrames) {
      reference_ = std::max(pending_reference_, depth_ - debt_);
    } else {
      reference_ = pending_reference_;
    }
    pending_skip_ = 0;
  }
  if (xrun_in_window_ && std::fabs(depth_ - reference_ - debt_) > kStepFrames) {
    if (depth_ - reference_ - debt_ >= kSkipFrames) {
      pending_skip_ = depth_ - reference_ - debt_;
      pending_reference_ = reference_;
    }
    reference_ = std::max(0.0, depth_ - debt_);
    debt_ = std::min(debt_, depth_);
  }
  xrun_in_window_ = false;

  const double error = depth_ - reference_ - debt_;
  integral_ = std::clamp(integral_ + ki * error * dt, -kMaxCorrection, kMaxCorrection);
  correction_ = std::clamp(kp * error + integral_ + feed, -kMaxSteer, kMaxSteer);
}

}  // namespace audio
