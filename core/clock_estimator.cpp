#include "core/clock_estimator.hpp"

#include <algorithm>
#include <cmath>

namespace core {

ClockEstimator::Config ClockEstimator::jack_config(double rate) noexcept {
  Config c;
  c.fit = Fit::Minima;
  c.nominal_hz = rate;
  c.bucket_frames = static_cast<std::int64_t>(rate / 20);  // 50 ms
  c.late_ns = 300'000;
  c.late_count = 3;
  c.early_ns = 300'000;
  c.early_count = 3;
  c.settle_count = 6;
  c.settle_again_ns = 1'000'000;
  c.shift_ns = 40'000;
  c.steps_before_rate = true;
  c.min_span_s = 1.0;
  c.prior_span_s = 3.0;
  c.offset_buckets = 4;
  return c;
}

ClockEstimator::Config ClockEstimator::sender_config(double rate) noexcept {
  Config c;
  c.fit = Fit::Envelope;
  c.nominal_hz = rate;
  c.bucket_frames = static_cast<std::int64_t>(rate / 20);  // 50 ms
  c.late_ns = 2'000'000;
  c.late_spread = 0.5;
  c.late_count = 40;
  c.late_span_ns = 2'000'000'000;
  c.early_ns = 2'000'000;
  c.early_count = 3;
  c.steps_before_rate = false;
  c.unmeasured_late_ppm = 1500;
  c.min_span_s = 0.5;
  c.max_uncertainty_ppm = 30;
  c.forget_s = 0;
  c.window_buckets = 400;  // 20 s
  c.far_ppm = kSenderFarPpm;
  c.far_span_s = 6;
  return c;
}

ClockEstimator::ClockEstimator(const Config& config) noexcept
    : config_(config), nominal_ns_(1e9 / config.nominal_hz) {}

void ClockEstimator::reset(const Config& config) noexcept {
  config_ = config;
  nominal_ns_ = 1e9 / config.nominal_hz;
  reset();
}

void ClockEstimator::reset() noexcept {
  started_ = false;
  slope_ = 0;
  offset_ = 0;
  weight_ = 0;
  lateness_ = 0;
  observations_ = 0;
  uncertainty_ = 1e9;
  segment_uncertainty_ = 1e9;
  segment_floor_ = 1e9;
  steps_ = 0;
  shifts_ = 0;
  count_ = 0;
  first_ = 0;
  seg_count_ = 0;
  seg_next_ = 0;
  pending_ = 0;
  settling_ = 0;
  passing_ = 0;
}

std::int64_t ClockEstimator::time_of(std::int64_t frames) const noexcept {
  const double x = static_cast<double>(frames - x0_);
  return t0_ + std::llround(x * nominal_ns_ + line(x));
}

double ClockEstimator::frames_at(std::int64_t t_ns) const noexcept {
  // t - t0 = x (nominal + slope) + offset
  return static_cast<double>(x0_) + (static_cast<double>(t_ns - t0_) - offset_) / ns_per_frame();
}

std::int64_t ClockEstimator::observe(std::int64_t frames, std::int64_t t_ns) noexcept {
  if (!started_) {
    started_ = true;
    x0_ = frames;
    t0_ = t_ns;
    start_segment(0, 0);
    return 0;
  }
  const double x = static_cast<double>(frames - x0_);
  const double y = static_cast<double>(t_ns - t0_) - x * nominal_ns_;
  const double r = y - line(x);
  // How late observations are on average, for a threshold above jitter's
  // reach and the rate's uncertainty: the mean of the first 64, then a
  // one-pole mean over about as many; each capped at 100 ms so that a
  // stall does not inflate it.
  observations_ = std::min<std::uint64_t>(observations_ + 1, 64);
  lateness_ += (std::clamp(r, 0.0, 1e8) - lateness_) / static_cast<double>(observations_);

  if (settling_ > 0) {
    settle(x, y);
    return 0;
  }

  const double spread = config_.late_spread * lateness_;
  const double late = std::max(static_cast<double>(config_.late_ns), spread);
  const double early = std::max(static_cast<double>(config_.early_ns), spread);
  const bool steps =
      config_.steps_before_rate || (weight_ > 0 && uncertainty_ < config_.step_uncertainty_ppm) ||
      segment_uncertainty_ < config_.step_uncertainty_ppm;
  int side = r > late ? 1 : r < -early ? -1 : 0;
  if (!steps) side = side > 0 && r > late + unmeasured_reach(x) ? 1 : 0;
  if (side == 0) {
    pending_ = 0;
    add_point(x, y);
    return 0;
  }
  if (pending_ != side) {
    pending_ = side;
    pending_count_ = 0;
    pending_t_ = t_ns;
    pending_r_ = r;
    pending_x_ = x;
    pending_y_ = y;
  }
  ++pending_count_;
  if (r < pending_r_) {
    pending_r_ = r;
    pending_x_ = x;
    pending_y_ = y;
  }
  const bool confirmed =
      side > 0 ? pending_count_ >= config_.late_count && t_ns - pending_t_ >= config_.late_span_ns
               : pending_count_ >= config_.early_count;
  if (!confirmed) {
    // Until the rate is measured every observation goes into the fit, the
    // ones that may show a step too (they are no step to the rate alone).
    if (!steps) add_point(x, y);
    return 0;
  }
  // A step: the segment ends; the next one starts from the lowest of the
  // observations that showed it, and the rate carries over.
  const double before = line(pending_x_);
  pending_ = 0;
  ++steps_;
  end_segment();
  start_segment(pending_x_, pending_y_);
  combine(pending_x_);
  offset_ = pending_y_ - slope_ * pending_x_;
  settling_ = config_.settle_count;
  settle_ = {};
  passing_ = 0;
  passed_ = Settle{offset_, pending_x_, pending_y_};
  return std::llround(line(pending_x_) - before);
}

double ClockEstimator::unmeasured_reach(double x) const noexcept {
  if (config_.unmeasured_late_ppm <= 0) return 1e300;
  return config_.unmeasured_late_ppm * 1e-6 * nominal_ns_ * std::max(0.0, x - point(0).x);
}

void ClockEstimator::settle(double x, double y) noexcept {
  const Settle here{y - slope_ * x, x, y};
  // Meanwhile the envelope is the least late so far: cycles that came late
  // a few times in a row and then back on time (no time lost) bring it
  // back at once.
  offset_ = std::min(offset_, here.level);
  const Settle& before = settle_[1].level < kNoLevel ? settle_[1] : settle_[0].level < kNoLevel ? settle_[0] : passed_;
  if (config_.settle_again_ns > 0 && here.level - before.level > static_cast<double>(config_.settle_again_ns)) {
    settle_ = {};
    passed_ = here;
    passing_ = config_.late_count;
    settling_ = config_.settle_count;
  }
  if (passing_ > 0) {
    --passing_;
    if (here.level < passed_.level) passed_ = here;
    return;
  }
  if (here.level < settle_[0].level) {
    settle_[1] = settle_[0];
    settle_[0] = here;
  } else if (here.level < settle_[1].level) {
    settle_[1] = here;
  }
  if (--settling_ == 0) {
    const Settle& level = settle_[config_.settle_count > 1 ? 1 : 0];
    start_segment(level.x, level.y);
  }
}

void ClockEstimator::start_segment(double x, double y) noexcept {
  segment_floor_ = 1e9;
  segment_uncertainty_ = 1e9;
  count_ = 1;
  first_ = 0;
  points_[0] = Point{static_cast<std::int64_t>(std::floor(x / static_cast<double>(config_.bucket_frames))), x, y};
  offset_ = y - slope_ * x;
}

void ClockEstimator::end_segment() noexcept {
  double slope = 0, weight = 0, scatter = 0;
  if (!segment_slope(slope, weight, scatter)) return;
  segments_[seg_next_] = Segment{slope, weight, point(count_ - 1).x};
  seg_next_ = (seg_next_ + 1) % kSegments;
  seg_count_ = std::min(seg_count_ + 1, kSegments);
}

std::size_t ClockEstimator::split_at_shift() noexcept {
  // The buckets' levels at the rate in use: the latest kShiftBuckets
  // against the mean of those before them (the first bucket left out, as
  // in the fit). Bounded by kShiftBase + kShiftBuckets.
  constexpr std::size_t k = kShiftBuckets;
  if (count_ < 1 + kShiftBaseMin + k) return 0;
  const std::size_t to = count_ - k;
  const std::size_t from = to - std::min(to - 1, kShiftBase);
  const auto level = [&](std::size_t i) { return point(i).y - slope_ * point(i).x; };
  double mean = 0;
  for (std::size_t i = from; i < to; ++i) mean += level(i);
  mean /= static_cast<double>(to - from);
  double ss = 0;
  for (std::size_t i = from; i < to; ++i) ss += (level(i) - mean) * (level(i) - mean);
  const double threshold =
      std::max(static_cast<double>(config_.shift_ns), kShiftSpread * std::sqrt(ss / static_cast<double>(to - from)));
  // The latest buckets beyond the threshold on one side, newest first.
  std::size_t shifted = 0;
  int side = 0;
  for (std::size_t i = count_; i-- > to;) {
    const double d = level(i) - mean;
    const int s = d > threshold ? 1 : d < -threshold ? -1 : 0;
    if (s == 0 || (side != 0 && s != side)) break;
    side = s;
    ++shifted;
  }
  if (shifted < k) return shifted;
  // The buckets before the shift end their segment; the shifted ones start
  // the next.
  ++shifts_;
  count_ = to;
  end_segment();
  first_ = (first_ + to) % kBuckets;
  count_ = k;
  segment_floor_ = 1e9;
  segment_uncertainty_ = 1e9;
  return 0;
}

void ClockEstimator::add_point(double x, double y) noexcept {
  const auto bucket = static_cast<std::int64_t>(std::floor(x / static_cast<double>(config_.bucket_frames)));
  Point& last = point(count_ - 1);
  if (bucket == last.bucket) {
    if (y < last.y) last = Point{bucket, x, y};
  } else if (bucket < last.bucket) {
    // Out of order (a reordered packet): into its bucket if it is kept.
    // Bounded by kBuckets.
    for (std::size_t i = count_; i-- > 0;) {
      Point& p = point(i);
      if (p.bucket < bucket) break;
      if (p.bucket == bucket) {
        if (y < p.y) p = Point{bucket, x, y};
        break;
      }
    }
  } else {
    // A new bucket: the previous one is complete, and the slope is refitted.
    refit();
    if (count_ >= std::min(config_.window_buckets, kBuckets)) {
      first_ = (first_ + 1) % kBuckets;
      --count_;
    }
    point(count_) = Point{bucket, x, y};
    ++count_;
  }
  // The envelope follows a lower observation at once.
  offset_ = std::min(offset_, y - slope_ * x);
}

void ClockEstimator::combine(double now_x) noexcept {
  // Ended segments and the current one, each by its weight; an ended
  // segment's weight fades with its age.
  double sum = 0, weight = 0;
  if (config_.prior_span_s > 0) {
    // Slope 0, weighted as a segment of prior_span_s with a bucket in
    // every bucket's place.
    const double span = config_.prior_span_s * config_.nominal_hz;
    const double buckets = span / static_cast<double>(config_.bucket_frames);
    weight = config_.fit == Fit::Envelope ? span * span : buckets * span * span / 12;
  }
  const double prior = weight;
  double slope = 0, w = 0, scatter = 0, floor = 0;
  bool current = false, contradicted = false;
  if (segment_slope(slope, w, scatter, &floor)) {
    segment_floor_ = floor;
    // About a standard deviation of the slope: the segment's scatter
    // (segment_slope) over its span.
    const double span = point(count_ - 1).x - point(0).x;
    const double uncertainty = scatter / span / nominal_ns_ * 1e6;
    // Measured well enough, or so far from nominal that nominal is ruled
    // out (a sender 1000 ppm off under heavy jitter).
    const double ppm = std::fabs(slope) / nominal_ns_ * 1e6;
    const bool plausible = config_.far_ppm <= 0 || ppm <= config_.far_ppm ||
                           span >= config_.far_span_s * config_.nominal_hz;
    // A rate measured better than the one in use replaces it, whatever its
    // uncertainty: a rate taken once would otherwise stay while the floor
    // under later ones is less sharp.
    const bool better = weight_ > 0 && uncertainty < uncertainty_;
    if (plausible) segment_uncertainty_ = uncertainty;
    // A rate away from nominal, or one taken for being better, counts only
    // while the segment's latest half agrees (recent_agrees): packets that
    // fell behind for seconds and then held their lag tilt the segment's
    // envelope but not its latest half's.
    const bool measured = uncertainty < config_.max_uncertainty_ppm;
    const bool away = ppm > kRuledOut * uncertainty;
    if (plausible && (measured || away || better) && ((measured && !away) || recent_agrees(slope))) {
      sum += w * slope;
      weight += w;
      uncertainty_ = uncertainty;
      current = true;
    } else if (plausible && weight_ > 0 &&
               std::fabs(slope - slope_) / nominal_ns_ * 1e6 > kContradicted * uncertainty) {
      // The rate in use is ruled out by the packets since (a floor that
      // looked sharp early and was not), while nominal is not.
      contradicted = true;
    }
  }
  // forget_s 0: ended segments only stand in until the current one is
  // measured (a clock whose rate may have changed at the step).
  if (config_.forget_s > 0 || !current) {
    const double forget = config_.forget_s > 0 ? config_.forget_s * config_.nominal_hz : 1e300;
    for (std::size_t i = 0; i < seg_count_; ++i) {
      const Segment& s = segments_[i];
      const double sw = s.weight * std::exp(-std::max(0.0, now_x - s.end_x) / forget);
      sum += sw * s.slope;
      weight += sw;
    }
  }
  if (weight <= prior) {
    // Nothing measured yet: the slope stays as it is, unless it is ruled out.
    if (contradicted) {
      slope_ = 0;
      weight_ = 0;
      uncertainty_ = 1e9;
    }
    return;
  }
  const double limit = config_.max_deviation * nominal_ns_;
  slope_ = std::clamp(sum / weight, -limit, limit);
  weight_ = weight;
}

void ClockEstimator::refit() noexcept {
  // Buckets that may have shifted stay out of the fit until they are
  // known to have (a split) or not.
  const std::size_t held = config_.fit == Fit::Minima && config_.shift_ns > 0 ? split_at_shift() : 0;
  count_ -= held;
  combine(point(count_ - 1).x);
  count_ += held;
  // The envelope under the current segment's minima at that slope (or
  // under its latest offset_buckets; observations in the bucket now filling
  // lower it as they come, add_point).
  const std::size_t from =
      config_.offset_buckets == 0 || config_.offset_buckets >= count_ ? 0 : count_ - config_.offset_buckets;
  double offset = point(from).y - slope_ * point(from).x;
  for (std::size_t i = from + 1; i < count_; ++i) offset = std::min(offset, point(i).y - slope_ * point(i).x);
  offset_ = offset;
}

}  // namespace core
