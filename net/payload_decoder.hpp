// What the stream logic needs of a payload format: how long a payload is,
// decoding it, recovering a lost one from its successor where the format
// carries redundancy, and the codec's own concealment. Opus
// (net::OpusStreamDecoder, RFC 7587) implements it; an uncompressed format
// (L16/L24, RFC 3551) would decode by copying and conceal with silence,
// leaving the fill to net::WaveformConcealer.
//
// Thread: net, every method. Implementations allocate only when
// constructed.
#pragma once

#include <cstdint>
#include <span>

namespace net {

class PayloadDecoder {
 public:
  virtual ~PayloadDecoder() = default;

  /// Interleaved channels decode() writes.
  virtual int channels() const noexcept = 0;

  /// The smallest step a payload's duration comes in (Opus: 2.5 ms). A
  /// concealment or a recovery is a multiple of it.
  virtual std::uint32_t quantum() const noexcept = 0;

  /// Frames (samples per channel at the stream rate) the payload decodes
  /// to, or a negative value when it is malformed and must not reach
  /// decode().
  virtual int frames_in(std::span<const std::uint8_t> payload) const noexcept = 0;

  /// The payload carries a redundant copy of the one before it, which
  /// recover() decodes (Opus in-band FEC).
  virtual bool carries_previous(std::span<const std::uint8_t> payload) const noexcept = 0;

  /// The codec's own concealment after this payload fades a steady sound
  /// out (Opus's does, SILK and CELT alike: OpusStreamDecoder), or it has
  /// none (PCM): a waveform repetition should fill the gap instead.
  virtual bool wants_repetition(std::span<const std::uint8_t> payload) const noexcept = 0;

  /// The codec's concealment is silence (after a short ramp): the audio
  /// after it must fade in rather than start with a step.
  virtual bool conceals_with_silence() const noexcept { return false; }

  /// Decodes into interleaved `pcm` (room for `max_frames`): the frames
  /// written, or a negative value when the payload is undecodable.
  virtual int decode(std::span<const std::uint8_t> payload, float* pcm, int max_frames) noexcept = 0;

  /// The `frames` before `next`, from the copy `next` carries.
  virtual int recover(std::span<const std::uint8_t> next, float* pcm, int frames) noexcept = 0;

  /// The codec's concealment of `frames` (a multiple of quantum()).
  virtual int conceal(float* pcm, int frames) noexcept = 0;

  /// Forget the stream (a new one starts).
  virtual void reset() noexcept = 0;

  /// Keep a copy of the decoder's state, which restore() brings back: a
  /// late packet can then be decoded as if the concealment made in its
  /// place had never been.
  virtual void save() noexcept = 0;
  virtual void restore() noexcept = 0;
};

}  // namespace net
