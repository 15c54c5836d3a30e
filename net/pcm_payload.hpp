// Uncompressed linear PCM payloads (RFC 3551 section 4.5.11 L16, RFC 3190
// L24), at any of the rates rtp2jack plays (44.1, 48, 96 kHz): big-endian two's complement samples, channels interleaved, as
// AES67 devices (L24, 1 ms packets) and PipeWire's RTP sink (L16, L24)
// send them. Decoding is a conversion to float, mapping the stream's
// channels onto the outputs (the first ones; a mono stream feeds every
// output). There is no redundancy to recover from; a gap is filled by
// net::WaveformConcealer's repetition where the audio is periodic, and
// otherwise ramps to silence from the last sample (never a step).
//
// Thread: net. Allocates nothing.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "core/defaults.hpp"
#include "net/payload_decoder.hpp"

namespace net {

class PcmPayload final : public PayloadDecoder {
 public:
  /// `bytes` per sample (2: L16, 3: L24); the stream's `stream_channels`
  /// (1..kMaxStreamChannels) onto `channels` outputs; `rate` frames per
  /// second (the concealment's ramp is kFadeMs of them).
  PcmPayload(int bytes, int stream_channels, int channels, std::uint32_t rate);

  int channels() const noexcept override { return channels_; }
  std::uint32_t quantum() const noexcept override { return 1; }
  int frames_in(std::span<const std::uint8_t> payload) const noexcept override;
  bool carries_previous(std::span<const std::uint8_t>) const noexcept override { return false; }
  bool wants_repetition(std::span<const std::uint8_t>) const noexcept override { return true; }
  bool conceals_with_silence() const noexcept override { return true; }
  int decode(std::span<const std::uint8_t> payload, float* pcm, int max_frames) noexcept override;
  int recover(std::span<const std::uint8_t>, float*, int) noexcept override { return -1; }
  int conceal(float* pcm, int frames) noexcept override;
  void reset() noexcept override;
  void save() noexcept override { saved_ = live_; }
  void restore() noexcept override { live_ = saved_; }

  static constexpr int kMaxStreamChannels = 8;

 private:
  struct State {
    std::array<float, core::defaults::kMaxChannels> last{};  // the last frame decoded, per output
    std::uint32_t ramp_left = 0;  // frames of the ramp to silence still to make
  };
  float sample(const std::uint8_t* p) const noexcept;

  const int bytes_;
  const int stream_channels_;
  const int channels_;
  const std::uint32_t fade_frames_;
  State live_;
  State saved_;
};

}  // namespace net
