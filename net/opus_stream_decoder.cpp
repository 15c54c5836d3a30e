#include "net/opus_stream_decoder.hpp"

#include <opus/opus.h>

#include <stdexcept>
#include <string>

#include "core/defaults.hpp"

namespace net {

OpusStreamDecoder::OpusStreamDecoder(int channels) : channels_(channels) {
  int err = OPUS_OK;
  dec_ = opus_decoder_create(static_cast<opus_int32>(core::defaults::kStreamRate), channels, &err);
  if (err != OPUS_OK || dec_ == nullptr)
    throw std::runtime_error(std::string("opus_decoder_create: ") + opus_strerror(err));
}

OpusStreamDecoder::~OpusStreamDecoder() { opus_decoder_destroy(dec_); }

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

int OpusStreamDecoder::decode(std::span<const std::uint8_t> packet, float* pcm,
                              int max_frames) noexcept {
  return opus_decode_float(dec_, packet.data(), static_cast<opus_int32>(packet.size()), pcm,
                           max_frames, 0);
}

int OpusStreamDecoder::conceal(float* pcm, int frames) noexcept {
  return opus_decode_float(dec_, nullptr, 0, pcm, frames, 0);
}

void OpusStreamDecoder::reset() noexcept { opus_decoder_ctl(dec_, OPUS_RESET_STATE); }

}  // namespace net
