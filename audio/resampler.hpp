// Variable-ratio sample-rate conversion for the process callback.
//
// Wraps libsamplerate (BSD-2-Clause since 0.1.9); the choice and its figures
// are in bench/results/resampler-latest.md. src_process allocates nothing
// and takes no lock; the ratio may change on every call, and libsamplerate
// glides from the previous ratio to the new one across the call's output,
// so steering never steps.
//
// Thread: construction and destruction in control; everything else audio,
// real-time safe.
#pragma once

#include <cstdint>

struct SRC_STATE_tag;

namespace audio {

class Resampler {
 public:
  /// Thread: control. Throws std::runtime_error when libsamplerate refuses.
  explicit Resampler(int channels);
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  struct Result {
    std::uint32_t used = 0;       // input frames consumed
    std::uint32_t generated = 0;  // output frames written
  };

  /// Thread: audio. Real-time safe. Converts interleaved `in` (up to
  /// `in_frames`) into `out` (up to `out_frames`) at `ratio` = output rate /
  /// input rate.
  Result process(const float* in, std::uint32_t in_frames, float* out, std::uint32_t out_frames,
                 double ratio) noexcept;

  /// Thread: audio. Real-time safe. Forgets the filter's history.
  void reset() noexcept;

  /// The converter's delay, in input frames: about 20 measured (see
  /// bench/results/resampler-latest.md), plus up to one 32-frame render
  /// chunk it takes in ahead of need, half of it on average.
  static constexpr double kDelayFrames = 36.0;

 private:
  SRC_STATE_tag* state_ = nullptr;
};

}  // namespace audio
