#include "net/waveform_concealer.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace net {
namespace {

std::int64_t frames_in(double ms, std::uint32_t rate) {
  return static_cast<std::int64_t>(std::lround(ms * rate / 1000.0));
}

std::int64_t power_of_two_above(std::int64_t n) {
  std::int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

// Catmull-Rom through y1 (t = 0) and y2 (t = 1).
float catmull_rom(float y0, float y1, float y2, float y3, float t) noexcept {
  return y1 + 0.5f * t * (y2 - y0 + t * (2.0f * y0 - 5.0f * y1 + 4.0f * y2 - y3 +
                                         t * (3.0f * (y1 - y2) + y3 - y0)));
}

}  // namespace

WaveformConcealer::WaveformConcealer(int channels, std::uint32_t rate)
    : channels_(channels),
      min_lag_(frames_in(kMinPeriodMs, rate)),
      max_lag_(frames_in(kMaxPeriodMs, rate)),
      window_(frames_in(kWindowMs, rate)),
      blend_(frames_in(kBlendMs, rate)),
      // The search reads max_lag_ + window_ frames, interpolation 2 more.
      capacity_(power_of_two_above(max_lag_ + window_ + 4)),
      ring_(std::make_unique<float[]>(static_cast<std::size_t>(capacity_ * channels))),
      scratch_(std::make_unique<float[]>(static_cast<std::size_t>(capacity_ * channels))),
      mono_(std::make_unique<float[]>(static_cast<std::size_t>(max_lag_ + window_))),
      corr_(std::make_unique<double[]>(static_cast<std::size_t>(max_lag_ + 2))) {}

void WaveformConcealer::reset() noexcept {
  held_ = 0;
  measured_ = periodic_ = active_ = false;
  period_ = correlation_ = 0;
}

void WaveformConcealer::played(std::int64_t pos, const float* pcm, int frames) noexcept {
  active_ = false;
  if (frames <= 0) return;
  if (held_ == 0 || pos != end_) {  // not contiguous: the history starts here
    held_ = 0;
    end_ = pos;
  }
  append(pcm, frames);
}

void WaveformConcealer::append(const float* pcm, int frames) noexcept {
  // In at most two runs: up to the ring's end, then from its start. Only
  // the latest capacity_ frames can stay.
  const std::int64_t mask = capacity_ - 1;
  const std::int64_t skip = std::max<std::int64_t>(0, frames - capacity_);
  std::int64_t at = end_ + skip;
  for (std::int64_t i = skip; i < frames;) {
    const std::int64_t run = std::min(frames - i, capacity_ - (at & mask));
    std::copy_n(pcm + i * channels_, run * channels_, &ring_[static_cast<std::size_t>((at & mask) * channels_)]);
    i += run;
    at += run;
  }
  end_ += frames;
  held_ = std::min(capacity_, held_ + frames);
  measured_ = false;
}

bool WaveformConcealer::begin(std::int64_t pos) noexcept {
  if (held_ == 0 || pos < end_) {
    active_ = false;
    return false;
  }
  if (!measured_) {
    periodic_ = measure();
    measured_ = true;
  }
  active_ = periodic_;
  return active_;
}

bool WaveformConcealer::measure() noexcept {
  period_ = correlation_ = 0;
  const std::int64_t span = max_lag_ + window_;
  if (held_ < span + 4) return false;
  // The channels' sum: a period common to them all.
  const std::int64_t first = end_ - span;
  for (std::int64_t i = 0; i < span; ++i) {
    float s = 0;
    for (int c = 0; c < channels_; ++c) s += at(first + i, c);
    mono_[static_cast<std::size_t>(i)] = s;
  }
  // The last window against the window `lag` frames before it.
  const float* a = &mono_[static_cast<std::size_t>(span - window_)];
  double aa = 0;
  for (std::int64_t i = 0; i < window_; ++i) aa += double{a[i]} * a[i];
  if (aa < 1e-9 * static_cast<double>(window_)) return false;  // silence (below -90 dBFS)
  double best = -1;
  std::int64_t best_lag = 0;
  double bb = 0;  // the earlier window's energy, slid one frame per lag
  for (std::int64_t i = 0; i < window_; ++i) bb += double{a[i - min_lag_ + 1]} * a[i - min_lag_ + 1];
  for (std::int64_t lag = min_lag_ - 1; lag <= max_lag_; ++lag) {
    const float* b = a - lag;
    if (lag >= min_lag_) bb += double{b[0]} * b[0] - double{b[window_]} * b[window_];
    double ab = 0;
    for (std::int64_t i = 0; i < window_; ++i) ab += double{a[i]} * b[i];
    const double r = bb > 0 ? ab / std::sqrt(aa * bb) : 0;
    corr_[static_cast<std::size_t>(lag)] = r;
    if (lag >= min_lag_ && r > best) {
      best = r;
      best_lag = lag;
    }
  }
  if (best < kMinCorrelation) return false;
  // A parabola through the peak and its neighbours places it between lags.
  double frac = 0;
  if (best_lag < max_lag_) {
    const double l = corr_[static_cast<std::size_t>(best_lag - 1)];
    const double r = corr_[static_cast<std::size_t>(best_lag + 1)];
    const double den = l - 2 * best + r;
    if (den < 0) frac = std::clamp(0.5 * (l - r) / den, -0.5, 0.5);
  }
  period_ = static_cast<double>(best_lag) + frac;
  correlation_ = best;
  return true;
}

float WaveformConcealer::at(std::int64_t i, int c) const noexcept {
  return ring_[static_cast<std::size_t>((i & (capacity_ - 1)) * channels_ + c)];
}

float WaveformConcealer::extended(std::int64_t i, int c) const noexcept {
  if (i < end_) return at(i, c);
  // One period on: the history at i - period, interpolated from frames
  // that are all held (period >= min_lag_ > 3).
  const double x = static_cast<double>(i) - period_;
  const auto k = static_cast<std::int64_t>(std::floor(x));
  return catmull_rom(at(k - 1, c), at(k, c), at(k + 1, c), at(k + 2, c), static_cast<float>(x - static_cast<double>(k)));
}

float WaveformConcealer::sample(double x, int c) const noexcept {
  const auto k = static_cast<std::int64_t>(std::floor(x));
  return catmull_rom(extended(k - 1, c), extended(k, c), extended(k + 1, c), extended(k + 2, c),
                     static_cast<float>(x - static_cast<double>(k)));
}

double WaveformConcealer::source(std::int64_t pos) const noexcept {
  // Repetition m of the last period: position x in [end_ - period, end_).
  const double o = static_cast<double>(pos - end_);
  const double m = std::floor(o / period_) + 1;
  return static_cast<double>(end_) + o - m * period_;
}

void WaveformConcealer::render(std::int64_t pos, float* pcm, int frames) const noexcept {
  for (int i = 0; i < frames; ++i) {
    const double x = source(pos + i);
    for (int c = 0; c < channels_; ++c) pcm[i * channels_ + c] = sample(x, c);
  }
}

void WaveformConcealer::blend_into(std::int64_t pos, float* pcm, int frames, float level) noexcept {
  if (active_ && pos >= end_) {
    // The repetition played up to pos: it joins the history (its last
    // capacity_ frames, made aside first: the ring holds what they read).
    const std::int64_t from = std::max(end_, pos - capacity_);
    const int made = static_cast<int>(pos - from);
    render(from, scratch_.get(), made);
    const int n = static_cast<int>(std::min<std::int64_t>(frames, blend_));
    for (int i = 0; i < n; ++i) {
      const float w = 0.5f - 0.5f * std::cos(std::numbers::pi_v<float> * static_cast<float>(i) /
                                             static_cast<float>(n));
      const double x = source(pos + i);
      for (int c = 0; c < channels_; ++c)
        pcm[i * channels_ + c] = w * pcm[i * channels_ + c] + (1 - w) * level * sample(x, c);
    }
    end_ = from;
    append(scratch_.get(), made);
  }
  played(pos, pcm, frames);
}

}  // namespace net
