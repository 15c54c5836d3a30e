// Opus payloads (no RTP header) of a steady stereo tone (440 Hz unless told) from a real
// libopus encoder, for the net stage tests.
#pragma once

#include <opus/opus.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace testtools {

// How the tone is encoded: 128 kbit/s music (CELT-only, no LBRR); in-band
// FEC at a speech-like bit rate (24 kbit/s VOIP: SILK, every packet after
// the first carries LBRR for the one before it); or 128 kbit/s music with
// in-band FEC for 10 % loss (GStreamer's opusenc inband-fec=true
// packet-loss-percentage=10: hybrid frames, SILK below 8 kHz, with LBRR).
enum class ToneCodec { Music, SpeechFec, MusicFec };

// `n` packets of `frame` samples per channel at 48 kHz, amplitude 0.5, of
// a tone at `hz`; from packet `change_at` on (if >= 0) at `hz_after`, in
// phase.
inline std::vector<std::vector<std::uint8_t>> opus_tone(int n, int frame, ToneCodec codec, double hz = 440,
                                                        int change_at = -1, double hz_after = 0) {
  const bool speech = codec == ToneCodec::SpeechFec;
  const bool fec = codec != ToneCodec::Music;
  int err = 0;
  OpusEncoder* enc =
      opus_encoder_create(48000, 2, speech ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO, &err);
  if (err != OPUS_OK) throw std::runtime_error("opus_encoder_create");
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(speech ? 24000 : 128000));
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(fec ? 1 : 0));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(speech ? 20 : fec ? 10 : 0));
  std::vector<std::vector<std::uint8_t>> out;
  std::vector<float> pcm(static_cast<std::size_t>(frame) * 2);
  double phase = 0;
  for (int k = 0; k < n; ++k) {
    const double f = change_at >= 0 && k >= change_at ? hz_after : hz;
    for (std::size_t i = 0; i < static_cast<std::size_t>(frame); ++i, phase += 2 * M_PI * f / 48000)
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

// `fec`: ToneCodec::SpeechFec, else ToneCodec::Music.
inline std::vector<std::vector<std::uint8_t>> opus_tone(int n, int frame, bool fec) {
  return opus_tone(n, frame, fec ? ToneCodec::SpeechFec : ToneCodec::Music);
}

}  // namespace testtools
