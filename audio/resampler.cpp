#include "audio/resampler.hpp"

#include <samplerate.h>

#include <stdexcept>
#include <string>

namespace audio {

Resampler::Resampler(int channels) {
  int err = 0;
  // SRC_SINC_FASTEST: the bench's choice among permissive libraries
  // (bench/results/resampler-latest.md): -103 dB THD+N at 1 kHz, 0.45 ms of
  // delay, a ratio change that neither allocates nor locks. It costs about
  // twice Opus decoding's CPU (0.5 % of a core); zita-resampler is cheaper
  // but GPL-3.
  state_ = src_new(SRC_SINC_FASTEST, channels, &err);
  if (state_ == nullptr) throw std::runtime_error(std::string("src_new: ") + src_strerror(err));
}

Resampler::~Resampler() { src_delete(state_); }

Resampler::Result Resampler::process(const float* in, std::uint32_t in_frames, float* out,
                                     std::uint32_t out_frames, double ratio) noexcept {
  SRC_DATA d{};
  d.data_in = in;
  d.data_out = out;
  d.input_frames = static_cast<long>(in_frames);
  d.output_frames = static_cast<long>(out_frames);
  d.src_ratio = ratio;
  d.end_of_input = 0;
  if (src_process(state_, &d) != 0) return {};
  return {static_cast<std::uint32_t>(d.input_frames_used),
          static_cast<std::uint32_t>(d.output_frames_gen)};
}

void Resampler::reset() noexcept { src_reset(state_); }

}  // namespace audio
