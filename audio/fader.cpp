#include "audio/fader.hpp"

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstddef>

namespace audio {

namespace d = core::defaults;

std::uint32_t Fader::play(float* out, const float* pcm, std::uint32_t frames, std::int64_t pos) noexcept {
  // Samples from the first to the tail's end, inclusive (none: no tail).
  const std::int64_t to_end = tail_end_ >= 0 ? tail_end_ - pos : INT64_MAX;
  assert(to_end >= 0 && "fader: played past a tail's end (a move of the cursor must cancel_tail())");
  const auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(frames, to_end));
  if (silent_) {
    fade_in_left_ = fade_frames_;
    silent_ = false;
  }
  if (fade_in_left_ == 0 && fade_out_left_ == 0 && cross_left_ == 0 && n > 0 &&
      to_end - n >= fade_frames_) {
    // Nothing fading and no tail's fade in reach: every gain is 1, so the
    // audio passes as it is (what the loop below computes, in a copy).
    const std::size_t samples = std::size_t{n} * channels_;
    std::copy_n(pcm, samples, out);
    std::copy_n(pcm + samples - channels_, channels_, last_.begin());
    return n;
  }
  const float step = 1.0f / static_cast<float>(fade_frames_);
  for (std::uint32_t i = 0; i < n; ++i) {
    float gin = fade_in_left_ ? 1.0f - static_cast<float>(fade_in_left_) * step : 1.0f;
    const std::int64_t left = to_end - i;  // samples from this one to the end, inclusive
    if (left < fade_frames_) {
      gin *= static_cast<float>(left - 1) * step;
      // Faded out, a crossfade's old side with it: whatever plays next, if
      // anything does, fades in on its own.
      if (left == 1) silent_ = true;
    }
    const float gout = static_cast<float>(fade_out_left_) * step;
    const float gcross = static_cast<float>(cross_left_) * cross_step_;
    const float* old = old_ + std::size_t{cross_frames_ - cross_left_} * channels_;
    for (int c = 0; c < channels_; ++c) {
      const std::size_t k = std::size_t{i} * channels_ + c;
      float v = pcm[k] * gin + hold_[c] * gout;
      if (cross_left_) v += (old[c] * (left < fade_frames_ ? gin : 1.0f) - v) * gcross;
      out[k] = v;
      last_[c] = v;
    }
    if (fade_in_left_) --fade_in_left_;
    if (fade_out_left_) --fade_out_left_;
    if (cross_left_) --cross_left_;
  }
  if (tail_end_ >= 0 && pos + n >= tail_end_) {
    tail_end_ = -1;  // faded out: done
    cross_left_ = 0;
  }
  return n;
}

void Fader::silence(float* out, std::uint32_t frames) noexcept {
  if (cross_left_) {
    cross_left_ = 0;
    if (fade_out_left_ == 0) fade_out();
  }
  silent_ = true;
  fade_in_left_ = 0;
  const float step = 1.0f / static_cast<float>(fade_frames_);
  for (std::uint32_t i = 0; i < frames; ++i) {
    const float gout = static_cast<float>(fade_out_left_) * step;
    for (int c = 0; c < channels_; ++c) {
      out[std::size_t{i} * channels_ + c] = hold_[c] * gout;
      last_[c] = hold_[c] * gout;
    }
    if (fade_out_left_) --fade_out_left_;
  }
}

}  // namespace audio
