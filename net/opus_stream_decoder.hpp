// libopus decoder for one stream (RFC 6716, RFC 7587).
//
// Thread: net. Created at start-up; decode and conceal do not allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

struct OpusDecoder;

namespace net {

class OpusStreamDecoder {
 public:
  /// Thread: control, at start-up. Decodes to `channels` (1 or 2) whatever
  /// the stream carries: libopus down- or up-mixes (RFC 7587 section 7).
  /// Throws std::runtime_error when libopus refuses.
  explicit OpusStreamDecoder(int channels);
  ~OpusStreamDecoder();
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

  /// Thread: net. Decodes into interleaved `pcm` (room for `max_frames`).
  /// Returns samples per channel, or a negative libopus error.
  int decode(std::span<const std::uint8_t> packet, float* pcm, int max_frames) noexcept;

  /// Thread: net. Recovers `frames` samples of the packet before `next` from
  /// `next`'s in-band FEC (RFC 6716 section 2.1.7); `frames` is that lost
  /// packet's duration, a multiple of 2.5 ms.
  int decode_fec(std::span<const std::uint8_t> next, float* pcm, int frames) noexcept;

  /// Thread: net. Packet-loss concealment for `frames` (a multiple of 2.5 ms).
  int conceal(float* pcm, int frames) noexcept;

  /// Thread: net. Forget all state (a new stream).
  void reset() noexcept;

  /// Thread: net. Keeps a copy of the decoder's state, which restore()
  /// brings back: a late packet can then be decoded as if the concealment
  /// made in its place (which moved the state on) had never been. libopus
  /// documents its state as one block that a shallow copy duplicates.
  void save() noexcept;
  void restore() noexcept;

  int channels() const noexcept { return channels_; }

 private:
  int channels_;
  std::size_t size_ = 0;                    // opus_decoder_get_size(channels)
  std::unique_ptr<unsigned char[]> state_;  // the live decoder
  std::unique_ptr<unsigned char[]> saved_;  // save()'s copy
  ::OpusDecoder* dec_ = nullptr;            // state_, typed
};

}  // namespace net
