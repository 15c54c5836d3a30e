// Opus payloads (no RTP header) of a steady 440 Hz stereo tone from a real
// libopus encoder, for the net stage tests.
#pragma once

#include <opus/opus.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace testtools {

// `n` packets of `frame` samples per channel at 48 kHz, amplitude 0.5.
// `fec`: in-band FEC at a speech-like bit rate (24 kbit/s VOIP: SILK,
// every packet after the first carries LBRR for the one before it); else
// 128 kbit/s music (CELT-only, no LBRR).
inline std::vector<std::vector<std::uint8_t>> opus_tone(int n, int frame, bool fec) {
  int err = 0;
  OpusEncoder* enc =
      opus_encoder_create(48000, 2, fec ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO, &err);
  if (err != OPUS_OK) throw std::runtime_error("opus_encoder_create");
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(fec ? 24000 : 128000));
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(fec ? 1 : 0));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(fec ? 20 : 0));
  std::vector<std::vector<std::uint8_t>> out;
  std::vector<float> pcm(static_cast<std::size_t>(frame) * 2);
  double phase = 0;
  for (int k = 0; k < n; ++k) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(frame); ++i, phase += 2 * M_PI * 440 / 48000)
      pcm[2 * i] = pcm[2 * i + 1] = static_cast<float>(0.5 * std::sin(phase));
    std::vector<std::uint8_t> p(1500);
    const int len = opus_encode_float(enc, pcm.data(), frame, p.data(), 1500);
    if (len <= 0) {
      opus_encoder_destroy(enc);
      throw std::runtime_error("opus_encode_float");
    }
    p.resize(static_cast<std::size_t>(len));
    out.push_back(std::move(p));
  }
  opus_encoder_destroy(enc);
  return out;
}

}  // namespace testtools
