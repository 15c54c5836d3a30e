#include "net/latency_tuner.hpp"

#include <algorithm>
#include <cmath>

#include "core/defaults.hpp"
#include "net/sender_clock.hpp"

namespace net {

namespace d = core::defaults;

namespace {
constexpr std::int64_t kNsPerS = 1'000'000'000;
constexpr std::int64_t kBucketNs = kNsPerS / 4;
// Until audio reports its period: a long one, so the first targets are safe.
constexpr std::uint32_t kAssumedPeriod = 1024;
constexpr std::uint32_t kAssumedAhead = 64;

std::uint32_t fixed_cost(std::uint32_t period, std::uint32_t ahead, std::uint32_t rate) {
  // Measured in simulated time (tests/sim_test.cpp, "sim: below that, one
  // period + 3.5 ms"): on a network without jitter the smallest target
  // that loses nothing is one period plus what the callback renders ahead
  // (16 frames) plus 1.3 to 1.5 ms at 64 to 256 frames with 5 ms packets,
  // up to 3.5 ms with 20 ms packets at 512. Net's repair margin (3 ms,
  // room for the net thread's wake-up) covers that.
  return period + ahead + static_cast<std::uint32_t>(std::uint64_t{d::kConcealMarginUs} * rate / 1'000'000);
}
}  // namespace

LatencyTuner::LatencyTuner(const TunerConfig& config) noexcept
    : config_(config),
      step_(static_cast<std::uint32_t>(std::lround(kStepMs * config.rate / 1000))),
      target_(config.initial_frames),
      fixed_(fixed_cost(kAssumedPeriod, kAssumedAhead, config.rate)) {
  if (config_.adaptive) target_ = clamp_target(target_);
  base_bucket_.fill(INT64_MIN);
  peak_second_.fill(INT64_MIN);
}

void LatencyTuner::reset() noexcept {
  have_origin_ = false;
  held_count_ = 0;
  base_bucket_.fill(INT64_MIN);
  pending_growth_ = false;
}

void LatencyTuner::set_rate(std::uint32_t rate) noexcept {
  if (rate == config_.rate) return;
  const double k = static_cast<double>(rate) / config_.rate;
  const auto scaled = [k](std::uint32_t frames) { return static_cast<std::uint32_t>(std::lround(frames * k)); };
  config_.initial_frames = scaled(config_.initial_frames);
  config_.min_frames = scaled(config_.min_frames);
  config_.max_frames = scaled(config_.max_frames);
  config_.rate = rate;
  step_ = static_cast<std::uint32_t>(std::lround(kStepMs * rate / 1000));
  target_ = scaled(target_);
  fixed_ = scaled(fixed_);
  fec_extra_ = scaled(fec_extra_);
  for (double& p : peak_) p *= k;
  latest_lateness_ *= k;
  growth_lateness_ *= k;
  reset();
}

void LatencyTuner::on_packet(std::int64_t position, std::int64_t arrival_ns) noexcept {
  if (!have_origin_) {
    have_origin_ = true;
    origin_ns_ = arrival_ns;
    origin_pos_ = position;
  }
  const double transit = static_cast<double>(arrival_ns - origin_ns_) * (config_.rate / 1e9) -
                         static_cast<double>(position - origin_pos_);
  // Floor division: arrival clocks before 1970 do not happen, but be exact.
  const std::int64_t bucket = arrival_ns >= 0 ? arrival_ns / kBucketNs : (arrival_ns + 1) / kBucketNs - 1;
  auto slot = static_cast<std::size_t>(bucket % kBaseBuckets);
  if (base_bucket_[slot] != bucket) {
    base_bucket_[slot] = bucket;
    base_[slot] = transit;
  } else {
    base_[slot] = std::min(base_[slot], transit);
  }
  double base = transit;
  for (int i = 0; i < kBaseBuckets; ++i)
    if (base_bucket_[i] > bucket - kBaseBuckets) base = std::min(base, base_[i]);
  const double lateness = transit - base;
  latest_lateness_ = lateness;

  const std::int64_t second = bucket / 4;
  slot = static_cast<std::size_t>(second % kPeakSeconds);
  if (peak_second_[slot] != second) {
    peak_second_[slot] = second;
    peak_[slot] = lateness;
  } else {
    peak_[slot] = std::max(peak_[slot], lateness);
  }

  // Later than the current target absorbs: grow (adaptive mode) at the next
  // update, which the caller makes at once.
  if (lateness + fixed_ + fec_extra_ > target_) {
    pending_growth_ = true;
    growth_lateness_ = std::max(growth_lateness_, lateness);
  }
}

void LatencyTuner::on_arrival(std::int64_t position, std::int64_t arrival_ns,
                              const core::AudioStatus& audio) noexcept {
  const bool running = audio.jack_rate > 0 && audio.callbacks > 0;
  if (running && (audio.jack_stalls != stalls_seen_ || audio.jack_settling)) {
    stalls_seen_ = audio.jack_stalls;
    settled_ns_ = std::max(settled_ns_, arrival_ns + SenderClock::kSettleNs);
  }
  if (arrival_ns < settled_ns_) return;
  const bool late = running && arrival_ns - audio.cycle_ns > audio.period_ns + kStaleNs;
  if (held_count_ == 0 && !late) {
    on_packet(position, SenderClock::jack_time(arrival_ns, audio));
    return;
  }
  // Behind those waiting, in arrival order.
  if (held_count_ == kHeld) place_first(audio);
  held_[(held_first_ + held_count_) % kHeld] = Arrival{position, arrival_ns, audio.jack_stalls};
  ++held_count_;
  if (!running) place_held(audio, true);
}

void LatencyTuner::place_held(const core::AudioStatus& audio, bool all) noexcept {
  if (audio.jack_settling && !all) return;
  while (held_count_ > 0 && (all || held_[held_first_].arrival_ns <= audio.cycle_ns)) place_first(audio);
}

void LatencyTuner::place_first(const core::AudioStatus& audio) noexcept {
  const Arrival& a = held_[held_first_];
  // One that came before a stall JACK has confirmed since, or in the
  // settling time after one, is not measured: where it fell on JACK's
  // timeline is known only to within the stall.
  if (!audio.jack_settling && a.stalls == audio.jack_stalls && a.arrival_ns >= settled_ns_)
    on_packet(a.position, SenderClock::jack_time(a.arrival_ns, audio));
  drop_first();
}

void LatencyTuner::drop_first() noexcept {
  held_first_ = (held_first_ + 1) % kHeld;
  --held_count_;
}

bool LatencyTuner::absorb(std::uint32_t frames, std::int64_t now_ns) noexcept {
  if (!config_.adaptive || target_ + frames > std::max(config_.min_frames, config_.max_frames)) return false;
  set_target(target_ + frames, now_ns);
  return true;
}

void LatencyTuner::on_loss_with_fec(std::uint32_t packet_frames) noexcept {
  fec_extra_ = std::max(fec_extra_, packet_frames);
  fec_seen_ns_ = now_ns_;
}

double LatencyTuner::peak_lateness_frames() const noexcept {
  // The newest second is the one the newest packet fell in.
  std::int64_t newest = INT64_MIN;
  for (const std::int64_t s : peak_second_) newest = std::max(newest, s);
  double peak = 0;
  for (int i = 0; i < kPeakSeconds; ++i)
    if (peak_second_[i] != INT64_MIN && peak_second_[i] > newest - kPeakSeconds)
      peak = std::max(peak, peak_[i]);
  return peak;
}

std::uint32_t LatencyTuner::need(double lateness) const noexcept {
  const double frames = fixed_ + lateness * (1.0 + kHeadroom) + fec_extra_;
  return static_cast<std::uint32_t>(std::ceil(frames / step_)) * step_;
}

std::uint32_t LatencyTuner::clamp_target(std::uint32_t frames) const noexcept {
  return std::clamp(frames, config_.min_frames, std::max(config_.min_frames, config_.max_frames));
}

std::uint32_t LatencyTuner::recommended_frames() const noexcept {
  return need(peak_lateness_frames());
}

void LatencyTuner::set_target(std::uint32_t frames, std::int64_t now_ns) noexcept {
  frames = clamp_target(frames);
  if (frames == target_) return;
  if (frames > target_) {
    // Growth soon after a shrink: the spikes are rarer than the calm spell.
    if (shrunk_ns_ != INT64_MIN && now_ns - shrunk_ns_ < static_cast<std::int64_t>(2 * calm_s_ * kNsPerS))
      calm_s_ = std::min(2 * calm_s_, kMaxCalmS);
    grown_ns_ = now_ns;
  } else {
    shrunk_ns_ = now_ns;
  }
  target_ = frames;
  ++changes_;
}

bool LatencyTuner::update(const core::AudioStatus& audio, std::int64_t now_ns) noexcept {
  now_ns_ = now_ns;
  place_held(audio, audio.jack_rate == 0 || audio.callbacks == 0);
  // Audio's frames count at the rate of the stream it plays, which is ours
  // once it has taken our format (0: not said).
  if (audio.period_frames > 0 && (audio.stream_rate == 0 || audio.stream_rate == config_.rate)) {
    fixed_ = fixed_cost(audio.period_frames, audio.render_ahead, config_.rate);
    have_status_ = true;
  }
  if (fec_extra_ > 0 && now_ns - fec_seen_ns_ > kPeakSeconds * kNsPerS) fec_extra_ = 0;
  if (!config_.adaptive) {
    pending_growth_ = false;
    growth_lateness_ = 0;
    underruns_seen_ = audio.underruns;
    return false;
  }
  // The calm spells count from the stream's first packet: before it there
  // is nothing measured to shrink to.
  if (started_ns_ == INT64_MIN && have_origin_) started_ns_ = now_ns;
  const std::uint32_t before = target_;

  if (audio.underruns > underruns_seen_) {
    // The buffer ran dry: whatever the measure says, it was not enough.
    underruns_seen_ = audio.underruns;
    const std::uint32_t grown = std::max(target_ + target_ / 4, target_ + 4 * step_);
    set_target(std::max(grown, need(peak_lateness_frames())), now_ns);
  }
  if (pending_growth_) {
    pending_growth_ = false;
    const std::uint32_t wanted = need(std::max(growth_lateness_, peak_lateness_frames()));
    growth_lateness_ = 0;
    if (wanted > target_) set_target(wanted, now_ns);
  }
  // Shrink only after a calm spell, by more than the hysteresis.
  const std::int64_t calm_since = std::max(started_ns_, grown_ns_);
  const double calm = grown_ns_ == INT64_MIN && shrunk_ns_ == INT64_MIN ? kFirstCalmS : calm_s_;
  if (have_status_ && started_ns_ != INT64_MIN &&
      now_ns - calm_since >= static_cast<std::int64_t>(calm * kNsPerS) &&
      now_ns - std::max(calm_since, shrunk_ns_) >= kNsPerS) {
    const std::uint32_t rec = recommended_frames();
    const std::uint32_t hysteresis = std::max<std::uint32_t>(2 * step_, target_ / 10);
    if (rec + hysteresis <= target_) set_target(rec, now_ns);
  }
  return target_ != before;
}

}  // namespace net
