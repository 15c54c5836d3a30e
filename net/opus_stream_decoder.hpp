// libopus decoder for one stream (RFC 6716, RFC 7587): the Opus payload
// behind net::PayloadDecoder.
//
// Thread: net. Created at start-up; decode and conceal do not allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "net/payload_decoder.hpp"

struct OpusDecoder;

namespace net {

class OpusStreamDecoder final : public PayloadDecoder {
 public:
  /// Thread: control, at start-up. Decodes to `channels` (1 or 2) whatever
  /// the stream carries: libopus down- or up-mixes (RFC 7587 section 7).
  /// Throws std::runtime_error when libopus refuses.
  explicit OpusStreamDecoder(int channels);
  ~OpusStreamDecoder() override;
  OpusStreamDecoder(const OpusStreamDecoder&) = delete;
  OpusStreamDecoder& operator=(const OpusStreamDecoder&) = delete;

  /// Thread: any. Real-time safe. Samples per channel at 48 kHz that the
  /// packet decodes to, or a negative value for a malformed TOC/frame layout
  /// (RFC 6716 section 3.4 rules, as libopus checks them).
  static int packet_frames(std::span<const std::uint8_t> packet) noexcept;

  /// Thread: any. Real-time safe. True when the packet's first frame carries
  /// low-bit-rate redundancy (LBRR, in-band FEC) for the packet before it.
  /// RFC 6716 section 4.2.3: a SILK or hybrid frame opens with one VAD flag
  /// per SILK frame and then the LBRR flag, for the mid channel and then (in
  /// stereo) the side channel, all coded with probability 1/2 at the start of
  /// the range coder, so they are the leading bits of the frame's first byte.
  static bool has_lbrr(std::span<const std::uint8_t> packet) noexcept;

  /// Thread: any. Real-time safe. True when the packet's TOC says SILK-only
  /// or hybrid (configurations 0-15, RFC 6716 section 3.1).
  static bool has_silk(std::span<const std::uint8_t> packet) noexcept;

  // PayloadDecoder. Thread: net.
  int channels() const noexcept override { return channels_; }
  std::uint32_t quantum() const noexcept override;  // 2.5 ms
  int frames_in(std::span<const std::uint8_t> payload) const noexcept override {
    return packet_frames(payload);
  }
  bool carries_previous(std::span<const std::uint8_t> payload) const noexcept override {
    return has_lbrr(payload);
  }
  /// Every packet: Opus's concealment of SILK (SILK-only and hybrid
  /// frames) fades out within 40 ms, and its pitch repetition of CELT-only
  /// frames decays too (a 440 Hz tone at 128 kbit/s in 20 ms frames: 2 dB
  /// down through the second lost frame), where the waveform repetition
  /// holds the level.
  bool wants_repetition(std::span<const std::uint8_t>) const noexcept override { return true; }
  /// Returns samples per channel, or a negative libopus error.
  int decode(std::span<const std::uint8_t> packet, float* pcm, int max_frames) noexcept override;
  /// From `next`'s in-band FEC (RFC 6716 section 2.1.7); `frames` is the
  /// lost packet's duration, a multiple of 2.5 ms.
  int recover(std::span<const std::uint8_t> next, float* pcm, int frames) noexcept override;
  int conceal(float* pcm, int frames) noexcept override;
  void reset() noexcept override;
  /// libopus documents its state as one block that a shallow copy
  /// duplicates.
  void save() noexcept override;
  void restore() noexcept override;

 private:
  int channels_;
  std::size_t size_ = 0;                    // opus_decoder_get_size(channels)
  std::unique_ptr<unsigned char[]> state_;  // the live decoder
  std::unique_ptr<unsigned char[]> saved_;  // save()'s copy
  ::OpusDecoder* dec_ = nullptr;            // state_, typed
};

}  // namespace net
