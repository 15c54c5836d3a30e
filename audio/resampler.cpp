#include "audio/resampler.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace audio {
namespace {

constexpr int kHistory = Resampler::kTaps + Resampler::kMaxInput;
constexpr int kHalf = Resampler::kTaps / 2;
// Cut-off at 0.95 of 24 kHz (22.8 kHz), or of the input's Nyquist
// frequency where that is lower (20.9 kHz at 44.1 kHz): Opus carries nothing
// above 20 kHz, and the images of what it does carry start at 28 kHz,
// inside the Kaiser window's stop band. A 96 kHz stream is low-passed at
// the same 22.8 kHz (half its band), so that played at 48 kHz its upper
// octave does not alias.
constexpr double kCutoff = 0.95;
constexpr std::uint32_t kBandRate = 48000;
constexpr double kBeta = 8.0;  // Kaiser window: about -80 dB side lobes

// Modified Bessel function of the first kind, order 0, by its series.
double bessel_i0(double x) {
  double sum = 1, term = 1;
  for (int k = 1; k < 50; ++k) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
  }
  return sum;
}

// The windowed sinc at t input samples from the centre, cut off at
// `cutoff` of the input's Nyquist frequency.
double kernel(double t, double cutoff) {
  const double r = t / kHalf;
  if (std::fabs(r) >= 1) return 0;
  const double x = std::numbers::pi * cutoff * t;
  const double sinc = t == 0 ? 1 : std::sin(x) / x;
  return cutoff * sinc * bessel_i0(kBeta * std::sqrt(1 - r * r)) / bessel_i0(kBeta);
}

void fill(float* table, float* delta, double cutoff) {
  // Phase p, tap k weighs the input sample k - (kHalf - 1) places from the
  // output's integer part, which lies p / kPhases before the output.
  constexpr int kTaps = Resampler::kTaps;
  constexpr int kPhases = Resampler::kPhases;
  for (int p = 0; p <= kPhases; ++p)
    for (int k = 0; k < kTaps; ++k)
      table[std::size_t(p) * kTaps + k] =
          static_cast<float>(kernel(static_cast<double>(p) / kPhases + (kHalf - 1) - k, cutoff));
  for (int p = 0; p < kPhases; ++p)
    for (int k = 0; k < kTaps; ++k)
      delta[std::size_t(p) * kTaps + k] = table[std::size_t(p + 1) * kTaps + k] - table[std::size_t(p) * kTaps + k];
}

}  // namespace

Resampler::Resampler(int channels)
    : channels_(channels),
      stereo_(kernel::best_stereo()),
      tables_(std::make_unique<float[]>(std::size_t{kBands} * (kPhases + 1) * kTaps)),
      deltas_(std::make_unique<float[]>(std::size_t{kBands} * kPhases * kTaps)),
      history_(std::make_unique<float[]>(std::size_t{kHistory} * core::defaults::kMaxChannels)) {
  // Band 0 for streams up to 48 kHz, band 1 for those above (96 kHz): cut
  // off at half the fraction of their Nyquist frequency.
  for (int b = 0; b < kBands; ++b)
    fill(tables_.get() + std::size_t(b) * (kPhases + 1) * kTaps, deltas_.get() + std::size_t(b) * kPhases * kTaps,
         kCutoff / (b + 1));
  table_ = tables_.get();
  delta_ = deltas_.get();
  reset();
}

void Resampler::set_stream(int channels, std::uint32_t stream_rate) noexcept {
  channels_ = channels;
  const int band = stream_rate > kBandRate ? 1 : 0;
  table_ = tables_.get() + std::size_t(band) * (kPhases + 1) * kTaps;
  delta_ = deltas_.get() + std::size_t(band) * kPhases * kTaps;
  reset();
}

void Resampler::reset() noexcept {
  // Half a kernel of silence before the first input sample, which the first
  // output sample then sits on.
  std::fill_n(history_.get(), std::size_t{kHistory} * core::defaults::kMaxChannels, 0.0f);
  len_ = kHalf - 1;
  pos_ = kHalf - 1;
  ratio_ = 0;
  // The half kernel of silence counts as taken: input frame 0 is the first
  // one process() takes in.
  taken_ = kHalf - 1;
  warp_frames_ = 0;
}

void Resampler::warp(std::int64_t from, double frames, double amount) noexcept {
  warp_from_ = static_cast<double>(from + kHalf - 1);
  warp_frames_ = frames;
  warp_amount_ = amount;
}

void Resampler::frame(double pos, float* out) const noexcept {
  const int base = static_cast<int>(pos);
  const double frac = (pos - base) * kPhases;
  const int phase = std::min(static_cast<int>(frac), kPhases - 1);
  const auto a = static_cast<float>(frac - phase);
  const float* t = table_ + std::size_t(phase) * kTaps;
  const float* dt = delta_ + std::size_t(phase) * kTaps;
  if (channels_ == 2) {
    const float* x0 = history_.get() + (base - (kHalf - 1));
    stereo_(t, dt, a, x0, x0 + kHistory, out);
    return;
  }
  // The kernel at this sub-sample position, once for all channels.
  alignas(32) float coef[kTaps];
  for (int k = 0; k < kTaps; ++k) coef[k] = t[k] + a * dt[k];
  for (int c = 0; c < channels_; ++c) {
    const float* x = history_.get() + std::size_t(c) * kHistory + (base - (kHalf - 1));
    // Eight independent partial sums: a shape the compiler turns into
    // vector instructions without reordering a single sum.
    float lane[8] = {};
    for (int k = 0; k < kTaps; k += 8)
      for (int j = 0; j < 8; ++j) lane[j] += coef[k + j] * x[k + j];
    out[c] = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  }
}

Resampler::Result Resampler::process(const float* in, std::uint32_t in_frames, float* out,
                                     std::uint32_t out_frames, double ratio) noexcept {
  Result r;
  const double from = ratio_ > 0 ? ratio_ : ratio;
  const double n = out_frames > 0 ? out_frames : 1;
  for (;;) {
    const double step_ratio = from + (ratio - from) * (r.generated / n);
    // An output at pos_ needs input up to floor(pos_) + kHalf.
    const int need = static_cast<int>(pos_) + kHalf + 1;
    while (len_ < need && r.used < in_frames) {
      if (len_ == kHistory) break;
      for (int c = 0; c < channels_; ++c)
        history_[std::size_t(c) * kHistory + len_] = in[std::size_t(r.used) * channels_ + c];
      ++len_;
      ++r.used;
      ++taken_;
    }
    if (len_ < need || r.generated == out_frames) break;
    frame(pos_, out + std::size_t(r.generated) * channels_);
    ++r.generated;
    const double before = static_cast<double>(taken_ - len_) + pos_;  // absolute input position
    pos_ += 1.0 / step_ratio;
    if (warp_frames_ > 0) {
      // The part of this step inside the warp's span gets its share.
      const double after = before + 1.0 / step_ratio;
      const double inside = std::min(after, warp_from_ + warp_frames_) - std::max(before, warp_from_);
      if (inside > 0) pos_ += warp_amount_ * inside / warp_frames_;
      if (before >= warp_from_ + warp_frames_) warp_frames_ = 0;
    }
    // Keep the history short: drop what no future output can reach.
    const int drop = static_cast<int>(pos_) - (kHalf - 1);
    if (drop > kMaxInput / 2) {
      for (int c = 0; c < channels_; ++c) {
        float* h = history_.get() + std::size_t(c) * kHistory;
        std::copy(h + drop, h + len_, h);
      }
      len_ -= drop;
      pos_ -= drop;
    }
  }
  if (r.generated > 0) ratio_ = from + (ratio - from) * (r.generated / n);
  return r;
}

}  // namespace audio
