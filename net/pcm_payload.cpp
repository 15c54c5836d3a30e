#include "net/pcm_payload.hpp"

#include <cmath>
#include <stdexcept>

namespace net {

namespace d = core::defaults;

PcmPayload::PcmPayload(int bytes, int stream_channels, int channels, std::uint32_t rate)
    : bytes_(bytes),
      stream_channels_(stream_channels),
      channels_(channels),
      fade_frames_(static_cast<std::uint32_t>(std::lround(d::kFadeMs * rate / 1000.0))) {
  if (bytes != 2 && bytes != 3) throw std::invalid_argument("PCM samples are 2 or 3 bytes");
  if (stream_channels < 1 || stream_channels > kMaxStreamChannels)
    throw std::invalid_argument("PCM streams carry 1 to 8 channels");
  if (channels < 1 || channels > d::kMaxChannels) throw std::invalid_argument("output channels");
}

int PcmPayload::frames_in(std::span<const std::uint8_t> payload) const noexcept {
  const std::size_t frame = static_cast<std::size_t>(bytes_ * stream_channels_);
  if (payload.empty() || payload.size() % frame != 0) return -1;
  return static_cast<int>(payload.size() / frame);
}

float PcmPayload::sample(const std::uint8_t* p) const noexcept {
  // Big-endian two's complement (RFC 3551 section 4.5.11), scaled to
  // [-1, 1).
  if (bytes_ == 2) {
    const auto v = static_cast<std::int16_t>((p[0] << 8) | p[1]);
    return static_cast<float>(v) * (1.0f / 32768.0f);
  }
  const std::int32_t u = (std::int32_t{p[0]} << 24) | (std::int32_t{p[1]} << 16) | (std::int32_t{p[2]} << 8);
  return static_cast<float>(u >> 8) * (1.0f / 8388608.0f);
}

int PcmPayload::decode(std::span<const std::uint8_t> payload, float* pcm, int max_frames) noexcept {
  const int n = frames_in(payload);
  if (n <= 0 || n > max_frames) return -1;
  const std::uint8_t* p = payload.data();
  const std::size_t frame = static_cast<std::size_t>(bytes_ * stream_channels_);
  for (int i = 0; i < n; ++i, p += frame)
    for (int c = 0; c < channels_; ++c) {
      const int from = c < stream_channels_ ? c : 0;  // a mono stream feeds every output
      pcm[i * channels_ + c] = sample(p + from * bytes_);
    }
  for (int c = 0; c < channels_; ++c) live_.last[static_cast<std::size_t>(c)] = pcm[(n - 1) * channels_ + c];
  live_.ramp_left = fade_frames_;
  return n;
}

int PcmPayload::conceal(float* pcm, int frames) noexcept {
  // From the last sample to silence over kFadeMs, then silence.
  for (int i = 0; i < frames; ++i) {
    const float g = live_.ramp_left > 0 ? static_cast<float>(live_.ramp_left) / static_cast<float>(fade_frames_) : 0.0f;
    for (int c = 0; c < channels_; ++c) pcm[i * channels_ + c] = g * live_.last[static_cast<std::size_t>(c)];
    if (live_.ramp_left > 0) --live_.ramp_left;
  }
  return frames;
}

void PcmPayload::reset() noexcept {
  live_ = State{};
  saved_ = State{};
}

}  // namespace net
