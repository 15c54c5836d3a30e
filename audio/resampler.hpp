// Variable-ratio sample-rate conversion for the process callback: band-
// limited interpolation with a windowed-sinc kernel (J. O. Smith, "Digital
// Audio Resampling", CCRMA, the "bandlimited interpolation" method), read
// from a table of kPhases sub-sample phases with linear interpolation
// between neighbouring phases.
//
// Our own, not a library's, because of bench/results/resampler-latest.md:
// of the permissive libraries only libsamplerate changes its ratio without
// allocating, and its cheapest sinc costs twice Opus decoding; speexdsp
// rebuilds its tables on a ratio change, soxr's variable mode allocates and
// delays 5 ms, zita-resampler is GPL-3. This one is output-driven, takes in
// only the input it needs (so what it holds inside is small and steady), and
// glides the ratio across each call so that steering never steps.
//
// Thread: construction in control; everything else audio, real-time safe:
// no allocation, no locks, bounded time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "audio/resample_kernel.hpp"
#include "core/defaults.hpp"

namespace audio {

class Resampler {
 public:
  static constexpr int kTaps = kernel::kTaps;  // kernel length in input samples
  static constexpr int kPhases = 512;    // table resolution per input sample
  static constexpr int kMaxInput = 256;  // input frames held at most

  /// Thread: control. Allocates and fills the tables (one per band: for
  /// streams up to 48 kHz, and above) and a history for kMaxChannels.
  explicit Resampler(int channels);

  /// Thread: audio (or control while no callback runs). Real-time safe.
  /// The stream's channels (1..kMaxChannels) and rate pick the history's
  /// layout and the kernel's band; the history starts over.
  void set_stream(int channels, std::uint32_t stream_rate) noexcept;

  struct Result {
    std::uint32_t used = 0;       // input frames consumed
    std::uint32_t generated = 0;  // output frames written
  };

  /// Thread: audio. Real-time safe. Converts interleaved `in` (up to
  /// `in_frames`) into interleaved `out` (up to `out_frames`) at `ratio` =
  /// output rate / input rate, reached by a linear glide from the previous
  /// call's ratio across this call's output.
  Result process(const float* in, std::uint32_t in_frames, float* out, std::uint32_t out_frames,
                 double ratio) noexcept;

  /// Thread: audio. Real-time safe. Forgets the history.
  void reset() noexcept;

  /// Thread: audio. Real-time safe. Input frames taken in since reset().
  std::int64_t taken() const noexcept { return taken_ - (kTaps / 2 - 1); }

  /// Thread: audio. Real-time safe. Over the `frames` input frames from
  /// input frame `from` (counted as taken()), read `amount` frames further
  /// (|amount| < 1) than the ratio says, spread evenly: a splice that lands
  /// between two input frames lands exactly where it asked, without a step
  /// (audio::Player::jump_to).
  void warp(std::int64_t from, double frames, double amount) noexcept;

  /// Stream frames audio::Player renders for the converter at a time. What
  /// sits rendered but unread is stream the callback took from the buffer
  /// before it had to: a packet must be in that much earlier. 32 made the
  /// smallest clean target 5 ms with a JACK-driven sender at 48 kHz / 128
  /// (packets arriving up to a period late in its 8-packet pattern); 8
  /// made it 3.5 ms (bench/results/latency-latest.md).
  static constexpr std::uint32_t kChunkFrames = 8;

  /// Input frames between an input sample and its output: half the kernel
  /// (its look-ahead) plus, on average, half a render chunk waiting to be
  /// read.
  static constexpr double kDelayFrames = kTaps / 2 + kChunkFrames / 2.0;

 private:
  void frame(double pos, float* out) const noexcept;

  static constexpr int kBands = 2;
  int channels_;
  kernel::StereoFn stereo_;  // the fastest build of the stereo loop this CPU runs
  // Kernel tables, one per band: kTaps coefficients for each of kPhases + 1
  // phases, and the differences to the next phase, for the linear
  // interpolation. table_ and delta_ point at the stream's band.
  const std::unique_ptr<float[]> tables_;
  const std::unique_ptr<float[]> deltas_;
  const float* table_ = nullptr;
  const float* delta_ = nullptr;
  // Per channel, the input history: kTaps + kMaxInput frames.
  const std::unique_ptr<float[]> history_;
  int len_ = 0;          // frames in history_
  double pos_ = 0;       // position of the next output sample, in history_ frames
  double ratio_ = 0;     // the previous call's ratio (0: none yet)
  std::int64_t taken_ = 0;  // input frames taken into history_ since reset()
  // A warp under way (warp()): input frames [warp_from_, warp_from_ +
  // warp_frames_) are read warp_amount_ / warp_frames_ further per frame.
  double warp_from_ = 0;
  double warp_frames_ = 0;
  double warp_amount_ = 0;
};

}  // namespace audio
