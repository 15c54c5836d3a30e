#include "audio/playout_clock.hpp"

#include <algorithm>
#include <cmath>

#include "core/defaults.hpp"

namespace audio {
namespace {

// From `from` at 0 to `to` at 1, geometrically; most cycles are at either
// end, where no pow() is needed.
double geometric(double from, double to, double t) noexcept {
  if (t <= 0) return from;
  if (t >= 1) return to;
  return from * std::pow(to / from, t);
}

}  // namespace

PlayoutClock::PlayoutClock() noexcept : jack_(core::ClockEstimator::jack_config(core::defaults::kStreamRate)) {}

void PlayoutClock::set_stream_rate(std::uint32_t rate) noexcept {
  stream_rate_ = rate;
  frames_per_ms_ = stream_rate_ / 1000;
}

void PlayoutClock::reset_jack() noexcept {
  jack_.reset();
  jack_rate_ = 0;
  timeline_new_ = true;
  settled_epoch_ = 0;  // a new JACK clock is measured afresh: settle again
}

void PlayoutClock::set_model(const core::StreamModel& model) noexcept {
  if (model.epoch != model_.epoch) {
    started_ = false;
    stretched_ = model.stretched_frames;
  } else if (model.stretched_frames != stretched_) {
    // Net inserted concealment: what follows is that much later, and the
    // target that much larger. The reference moves with both.
    reference_ += static_cast<double>(model.stretched_frames - stretched_);
    stretched_ = model.stretched_frames;
  }
  model_ = model;
  if (!started_) reference_ = model.target_frames;
}

void PlayoutClock::start() noexcept {
  started_ = true;
  reference_ = model_.target_frames;
  stretched_ = model_.stretched_frames;
  glide_ = 0;
  waited_s_ = 0;
  peaks_[0] = peaks_[1] = Peaks{};
  peaks_s_ = 0;
  if (model_.epoch != settled_epoch_) {
    // A new stream (or JACK client): the clocks are still being measured,
    // so settle, and take the rate as it is. Playout that resumes on the
    // same stream (after a dry spell, a restart) keeps both.
    settled_epoch_ = model_.epoch;
    played_s_ = 0;
    rate_ = 0;
  }
}

std::int64_t PlayoutClock::on_cycle(std::int64_t jack_frames, std::int64_t wake_ns,
                                    std::uint32_t jack_rate) noexcept {
  if (jack_rate != jack_rate_) {
    jack_rate_ = jack_rate;
    jack_.reset(core::ClockEstimator::jack_config(jack_rate));
    timeline_new_ = true;
  }
  const std::int64_t step = jack_.observe(jack_frames, wake_ns);
  if (step != 0) step_frames_ = jack_frames;
  if (step > 0) ++stalls_;
  quiet_s_ = static_cast<double>(jack_frames - step_frames_) / jack_rate;
  cycle_ns_ = jack_.time_of(jack_frames);
  if (timeline_new_) {
    // A new client's frame counter starts anywhere: its timeline goes on
    // from where the previous client's would be now (CLOCK_MONOTONIC for
    // the first), so that a sender measured on it sees no step.
    timeline_new_ = false;
    timeline_base_ = timeline_known_ ? timeline_ns_ + std::llround(static_cast<double>(cycle_ns_ - timeline_cycle_ns_) *
                                                                    timeline_rate_)
                                     : cycle_ns_;
    timeline_frames_ = jack_frames;
    timeline_known_ = true;
  }
  timeline_ns_ = timeline_base_ + std::llround(static_cast<double>(jack_frames - timeline_frames_) * 1e9 / jack_rate);
  timeline_cycle_ns_ = cycle_ns_;
  timeline_rate_ = 1e9 / jack_rate / jack_.ns_per_frame();
  update_due();
  return step;
}

void PlayoutClock::update_due() noexcept {
  if (!ready()) return;
  // The position that arrived on time the reference latency ago.
  const double latency_ns = reference_ * 1e9 / stream_rate_;
  const std::int64_t now = model_.jack_timeline ? timeline_ns_ : cycle_ns_;
  due_ = static_cast<double>(model_.ref_pos) +
         (static_cast<double>(now - model_.ref_ns) - latency_ns) / model_.ns_per_frame;
}

double PlayoutClock::consumption() const noexcept {
  // Stream frames per JACK frame: JACK's ns per frame over the sender's
  // (on JACK's timeline a JACK frame is its nominal period, exactly).
  const double nominal = stream_rate_ / jack_rate_;
  if (!model_.clock || !jack_.valid()) return nominal;
  return (model_.jack_timeline ? 1e9 / jack_rate_ : jack_.ns_per_frame()) / model_.ns_per_frame;
}

double PlayoutClock::idle_ratio() noexcept {
  const double c = consumption();
  drift_ppm_ = (c * jack_rate_ / stream_rate_ - 1) * 1e6;
  ratio_ppm_ = drift_ppm_;
  return 1.0 / c;
}

void PlayoutClock::note_headroom(double headroom, bool peak, double seconds) noexcept {
  if (peak) {
    peaks_[1].high = std::max(peaks_[1].high, headroom);
    peaks_[1].low = std::min(peaks_[1].low, headroom);
    ++peaks_[1].count;
  }
  peaks_s_ += seconds;
  if (peaks_s_ >= kHeadroomS) {
    peaks_[0] = peaks_[1];
    peaks_[1] = Peaks{};
    peaks_s_ = 0;
  }
}

double PlayoutClock::skip_bar(double error) const noexcept {
  // The headroom (queued beyond the due position, less the target) is the
  // same before and after a JACK stall the network went on through: what
  // arrived meanwhile is what the due position moved past. A sender that
  // stalled too (one in the same JACK graph, before net measures it on
  // JACK's timeline) sent nothing meanwhile: its headroom is the stall
  // lower until its clock shows the step, even right after a packet
  // longer than the stall. So a skip waits until the headroom is back
  // within half the skip of its highest peak in the last second, however
  // far below the target the sender's own pacing keeps its newest packets
  // (ffmpeg -re sends 21 ms at a time); or within the peaks' spread, where
  // the network's jitter (and the cycle a packet is first seen in) spreads
  // them wider than that. Before a quarter second of peaks, the target's
  // worth.
  const Peaks& a = peaks_[0];
  const Peaks& b = peaks_[1];
  if (a.count + b.count < 2 || (a.count == 0 && peaks_s_ < kHeadroomS / 2)) return reference_;
  const double high = std::max(a.high, b.high);
  const double low = std::min(a.low, b.low);
  return reference_ + high - std::max(error / 2, high - low);
}

void PlayoutClock::skip(double error, std::int64_t queued_end, std::int64_t whole_end, double needed,
                        std::uint32_t nframes, Steer& s) noexcept {
  // A skip lands on the due position when what is queued beyond it is
  // what playout on time has there (skip_bar), as when the network went
  // on while JACK stalled. Less means the audio is not here yet: the
  // sender stalled with JACK before net saw that it runs on JACK's
  // timeline (its clock will show the same step). What the splice and
  // this cycle need must be there without a hole: one still to be filled
  // there (a lost packet waiting for the next one's FEC) would run dry;
  // holes further on net fills before they are due.
  const bool playable =
      due_ + needed <= static_cast<double>(queued_end) && due_ + needed <= static_cast<double>(whole_end);
  if (playable && due_ + std::max(needed, skip_bar(error)) <= static_cast<double>(queued_end)) {
    s.correct = std::llround(error);
  } else if (due_ > static_cast<double>(queued_end) + kRestartMs * frames_per_ms_) {
    s.restart = true;
  } else if ((waited_s_ += nframes / static_cast<double>(jack_rate_)) > kWaitS) {
    // Nothing explained it: where the audio is there, a splice lands
    // where a start over would, without its fades.
    if (playable)
      s.correct = std::llround(error);
    else
      s.restart = true;
  }
  if (s.correct != 0 || s.restart) waited_s_ = 0;
}

void PlayoutClock::follow(double wanted, double settled, double seconds) noexcept {
  if (rate_ == 0) {
    rate_ = wanted;  // playout just started: no step to smooth
    far_catch_up_ = false;
    return;
  }
  // A large gap (a rate measured late, far from nominal) closes with a
  // time constant of kCatchUpS, at kCatchUpSlew at most (kFarCatchUpSlew
  // for one that began beyond kFarGap); small ones at the slew.
  const double gap = wanted - rate_;
  const double rate_slew = geometric(kSettleSlew, kSlew, settled) * rate_;
  if (std::fabs(gap) > kFarGap * rate_) far_catch_up_ = true;
  else if (std::fabs(gap) <= kSlew * kCatchUpS * rate_) far_catch_up_ = false;
  const double catch_up = (far_catch_up_ ? kFarCatchUpSlew : kCatchUpSlew) * rate_;
  const double most = std::max(rate_slew, std::min(std::fabs(gap) / kCatchUpS, catch_up)) * seconds;
  rate_ += std::clamp(gap, -most, most);
}

PlayoutClock::Steer PlayoutClock::steer(double position, std::int64_t queued_end, std::int64_t whole_end, double needed,
                                        std::uint32_t nframes) noexcept {
  const double c = consumption();
  const double nominal = stream_rate_ / jack_rate_;
  const double stream_frames = c * nframes;
  // The reference glides to a new target, fed forward below.
  const double diff = model_.target_frames - reference_;
  const double slew = (diff > 0 ? kGrowSlew : kShrinkSlew) * stream_frames;
  const double glide = std::clamp(diff, -slew, slew);
  reference_ += glide;
  glide_ = glide / stream_frames;
  update_due();

  Steer s;
  const double error = due_ - position;
  delay_frames_ = reference_ + error;
  double trim = 0;
  trimmed_error_ = 0;
  const double limit = kCorrectMs * frames_per_ms_;
  const bool small = std::fabs(error) < kStormMs * frames_per_ms_;
  const bool storm = (quiet_s_ < kQuietS || jack_.settling()) && small;
  if (storm) {
    // JACK's clock is still stepping, or a step's new level is still being
    // taken: the decision waits for the storm to pass.
  } else if (error > limit && small && quiet_s_ < kSkipQuietS &&
             (model_.stall_shared || model_.stalls_heard < stalls_)) {
    // Ahead after a short stall, and the sender may have stalled too: net
    // has had no packet since, or those it had came late by as much. Net
    // tells a sender in the graph soon, and then there is nothing to skip.
  } else if (error < -kRestartMs * frames_per_ms_) {
    s.restart = true;
  } else if (error < -limit) {
    s.correct = std::llround(error);
  } else if (error > limit) {
    skip(error, queued_end, whole_end, needed, nframes, s);
  }
  // Geometric from the settling trim and slew to the steady ones over
  // kSettleS.
  const double settled = std::clamp((played_s_ - kSettleS) / kSettleS, 0.0, 1.0);
  const double seconds = nframes / static_cast<double>(jack_rate_);
  if (std::fabs(error) <= limit && !storm) {
    waited_s_ = 0;
    // Not while a stall is still to be confirmed as a step of JACK's
    // clock: the due position is still on the old schedule then.
    if (jack_.pending_late_ns() == 0 && quiet_s_ >= kQuietS)
      note_headroom(static_cast<double>(queued_end) - due_ - reference_, queued_end > queued_end_, seconds);
    const double time = geometric(kSettleTrimS, kTrimS, settled);
    const double trust = std::clamp(kTrustPpm / std::max(model_.clock_uncertainty_ppm, 1e-9), 0.25, 1.0);
    const double most = geometric(kMaxSettleTrim, kMaxTrim * trust, settled);
    trim = std::clamp(error / (time * stream_rate_), -most, most);
    trimmed_error_ = error;
  }
  played_s_ += seconds;
  queued_end_ = queued_end;
  follow(c * (1 + trim), settled, seconds);
  const double total = rate_ * (1 - glide_);
  drift_ppm_ = (c / nominal - 1) * 1e6;
  ratio_ppm_ = (total / nominal - 1) * 1e6;
  s.ratio = 1.0 / total;
  return s;
}

}  // namespace audio
