// core::ClockEstimator's fits: a segment's slope from its bucket minima,
// by the lower envelope (Fit::Envelope) or least squares (Fit::Minima),
// and how far it can be off (clock_estimator.hpp says why each).
#include "core/clock_estimator.hpp"

#include <algorithm>
#include <cmath>

namespace core {

bool ClockEstimator::segment_slope(double& slope, double& weight, double& scatter, double* floor_ns) const noexcept {
  // Minima: the first bucket may hold the cycles a step bunched together,
  // so it is left out.
  const std::size_t from = config_.fit == Fit::Minima ? 1 : 0;
  if (count_ < from + 2) return false;
  const double span = point(count_ - 1).x - point(from).x;
  if (span < config_.min_span_s * config_.nominal_hz) return false;
  const double n = static_cast<double>(count_ - from);
  if (config_.fit == Fit::Envelope) {
    double offset = 0;
    double edge = 0;
    if (!envelope_slope(0, slope, offset, edge)) return false;
    weight = span * span;
    // The envelope is as good as the floor under it is sharp: how far the
    // lowest minimum of each block of buckets sits above the line, as an
    // RMS. Uniform jitter leaves a block's lowest packet close to the
    // floor; a sender whose pacing wanders (ffmpeg -re's lowest packets
    // wander by +-3 ms from one half-second to the next) does not, and its
    // envelope's slope is that much less certain. The envelope rests on two
    // of the blocks: the others count as looks at the floor.
    const auto floor_rms = [&](std::size_t per_block, std::size_t& looks) {
      double ss = 0, low = 1e300;
      std::size_t blocks = 0, in_block = 0;
      for (std::size_t i = 0; i < count_; ++i) {
        low = std::min(low, point(i).y - (offset + slope * point(i).x));
        if (++in_block == per_block || i + 1 == count_) {
          ss += low * low;
          ++blocks;
          low = 1e300;
          in_block = 0;
        }
      }
      looks = blocks > 2 ? blocks - 2 : 0;
      return looks > 0 ? std::sqrt(ss / static_cast<double>(looks)) : 1e300;
    };
    std::size_t looks = 0;
    double floor = floor_rms(kFloorBuckets, looks);
    if (looks + 2 < kMinFloorBlocks) {
      // Too few blocks yet to judge the floor by: under jitter a few that
      // happen to sit low make an envelope that looks sharp and is not
      // (rates 500 to 5000 ppm off at 2 to 50 ppm of apparent uncertainty
      // in 1 run of 100 under 16 ms). A floor judged sharp over as many
      // smaller blocks is sharp, though (a sender paced by its clock on a
      // quiet path): no packet of a jittered path sits that close to it
      // that often.
      floor = floor_rms(std::max<std::size_t>(count_ / kMinFloorBlocks, 2), looks);
      if (looks + 2 < kMinFloorBlocks || floor > kSharpFloorNs) return false;
    }
    scatter = std::max(floor, kMinScatterNs) * kFloorScale / std::sqrt(static_cast<double>(looks)) * span / edge;
    if (floor_ns != nullptr) *floor_ns = floor;
    return true;
  }
  // Least squares, x and y centred on the segment's means. Bounded by kBuckets.
  double mx = 0, my = 0;
  for (std::size_t i = from; i < count_; ++i) {
    mx += point(i).x;
    my += point(i).y;
  }
  mx /= n;
  my /= n;
  double sxx = 0, sxy = 0;
  for (std::size_t i = from; i < count_; ++i) {
    const double dx = point(i).x - mx;
    sxx += dx * dx;
    sxy += dx * (point(i).y - my);
  }
  if (sxx <= 0) return false;
  slope = sxy / sxx;
  weight = sxx;
  double ss = 0;
  for (std::size_t i = from; i < count_; ++i) {
    const double r = point(i).y - (my + slope * (point(i).x - mx));
    ss += r * r;
  }
  scatter = std::max(std::sqrt(ss / n), kMinScatterNs) / std::sqrt(n);
  if (floor_ns != nullptr) *floor_ns = std::sqrt(ss / n);
  return true;
}

bool ClockEstimator::envelope_slope(std::size_t from, double& slope, double& offset, double& edge) const noexcept {
  // The lower convex hull of the bucket minima from `from` on (A. M.
  // Andrew's monotone chain: they are in order of x already), then the hull
  // edge that spans their mean x: the linear-programming optimum. Bounded
  // by kBuckets.
  auto& hull = hull_;
  std::size_t h = 0;
  double mean = 0;
  for (std::size_t i = from; i < count_; ++i) {
    const Point& p = point(i);
    mean += p.x;
    while (h >= 2) {
      const Point& a = point(hull[h - 2]);
      const Point& b = point(hull[h - 1]);
      // Drop b unless a -> b -> p turns left (b is below the chord a -> p).
      if ((b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) > 0) break;
      --h;
    }
    hull[h++] = i;
  }
  mean /= static_cast<double>(count_ - from);
  for (std::size_t k = 0; k + 1 < h; ++k) {
    const Point& a = point(hull[k]);
    const Point& b = point(hull[k + 1]);
    if (b.x >= mean || k + 2 == h) {
      if (b.x <= a.x) return false;
      slope = (b.y - a.y) / (b.x - a.x);
      offset = a.y - slope * a.x;
      edge = b.x - a.x;
      return true;
    }
  }
  return false;
}

bool ClockEstimator::recent_agrees(double slope) const noexcept {
  // The envelope of the segment's latest half of buckets, closer to `slope`
  // than to nominal. A clock's rate holds across the segment; a sender's
  // pacing that fell behind and then held does not, and the latest half
  // then sits nearer nominal. Only envelopes are judged so: a Minima fit's
  // clock is close to nominal from the start.
  if (config_.fit != Fit::Envelope) return true;
  double recent = 0, offset = 0, edge = 0;
  if (!envelope_slope(count_ / 2, recent, offset, edge)) return true;
  return std::fabs(recent - slope) < std::fabs(recent);
}

}  // namespace core
