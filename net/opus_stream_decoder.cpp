#include "net/opus_stream_decoder.hpp"

#include <opus/opus.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "core/defaults.hpp"

namespace net {

OpusStreamDecoder::OpusStreamDecoder(int channels) : channels_(channels) {
  // Our own storage (opus_decoder_init, not _create), so that its size is
  // known to save() and restore().
  const int size = opus_decoder_get_size(channels);
  if (size <= 0) throw std::runtime_error("opus_decoder_get_size: channels must be 1 or 2");
  size_ = static_cast<std::size_t>(size);
  state_ = std::make_unique<unsigned char[]>(size_);
  saved_ = std::make_unique<unsigned char[]>(size_);
  dec_ = reinterpret_cast<::OpusDecoder*>(state_.get());
  const int err = opus_decoder_init(dec_, static_cast<opus_int32>(core::defaults::kStreamRate), channels);
  if (err != OPUS_OK) throw std::runtime_error(std::string("opus_decoder_init: ") + opus_strerror(err));
  save();
}

OpusStreamDecoder::~OpusStreamDecoder() = default;

int OpusStreamDecoder::packet_frames(std::span<const std::uint8_t> packet) noexcept {
  if (packet.empty()) return OPUS_INVALID_PACKET;
  // opus_packet_parse walks every frame length (RFC 6716 section 3.2), so a
  // packet it accepts can be handed to the decoder.
  const unsigned char* frames[48];
  opus_int16 sizes[48];
  const int n = opus_packet_parse(packet.data(), static_cast<opus_int32>(packet.size()), nullptr,
                                  frames, sizes, nullptr);
  if (n < 0) return n;
  return opus_packet_get_nb_samples(packet.data(), static_cast<opus_int32>(packet.size()),
                                    static_cast<opus_int32>(core::defaults::kStreamRate));
}

bool OpusStreamDecoder::has_lbrr(std::span<const std::uint8_t> packet) noexcept {
  const unsigned char* frames[48];
  opus_int16 sizes[48];
  const int n = opus_packet_parse(packet.data(), static_cast<opus_int32>(packet.size()), nullptr,
                                  frames, sizes, nullptr);
  if (n <= 0 || sizes[0] == 0) return false;
  const int config = packet[0] >> 3;
  if (config >= 16) return false;  // CELT-only: no SILK layer, no LBRR (RFC 6716 section 3.1)
  // SILK frames per Opus frame: one for 10 and 20 ms, else one per 20 ms.
  const int frame_samples = opus_packet_get_samples_per_frame(packet.data(), 48000);
  const int silk_frames = frame_samples > 960 ? frame_samples / 960 : 1;
  const unsigned first = frames[0][0];
  bool lbrr = ((first >> (7 - silk_frames)) & 1u) != 0;             // mid channel
  if (opus_packet_get_nb_channels(packet.data()) == 2)
    lbrr = lbrr || ((first >> (6 - 2 * silk_frames)) & 1u) != 0;    // side channel
  return lbrr;
}

bool OpusStreamDecoder::has_silk(std::span<const std::uint8_t> packet) noexcept {
  return !packet.empty() && (packet[0] >> 3) < 16;  // configs 0-15: SILK-only or hybrid
}

int OpusStreamDecoder::recover(std::span<const std::uint8_t> next, float* pcm,
                                  int frames) noexcept {
  return opus_decode_float(dec_, next.data(), static_cast<opus_int32>(next.size()), pcm, frames, 1);
}

int OpusStreamDecoder::decode(std::span<const std::uint8_t> packet, float* pcm,
                              int max_frames) noexcept {
  return opus_decode_float(dec_, packet.data(), static_cast<opus_int32>(packet.size()), pcm,
                           max_frames, 0);
}

int OpusStreamDecoder::conceal(float* pcm, int frames) noexcept {
  return opus_decode_float(dec_, nullptr, 0, pcm, frames, 0);
}

std::uint32_t OpusStreamDecoder::quantum() const noexcept { return core::defaults::kMinPacketFrames; }

void OpusStreamDecoder::reset() noexcept { opus_decoder_ctl(dec_, OPUS_RESET_STATE); }

void OpusStreamDecoder::save() noexcept { std::memcpy(saved_.get(), state_.get(), size_); }

void OpusStreamDecoder::restore() noexcept { std::memcpy(state_.get(), saved_.get(), size_); }

}  // namespace net
