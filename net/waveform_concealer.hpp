// Concealment by waveform repetition: when the audio decoded last is
// periodic (a held note, a chord, a voiced vowel), a lost stretch is filled
// with that audio repeated at its period, at full level, and the first
// audio decoded after the gap is cross-faded in from the repetition's
// continuation. The technique is the pitch-period repetition of ITU-T
// G.711 Appendix I, with the period measured to a fraction of a sample
// (normalised cross-correlation, then a parabola through its peak) and
// read back with cubic (Catmull-Rom) interpolation, so that a long repeat
// keeps the phase of the source.
//
// Audio that is not periodic (noise, transients, silence) is left to the
// codec's own concealment: begin() says which. Codec-agnostic: it sees
// only decoded samples at stream positions.
//
// Thread: net. Owned by the StreamReceiver; storage is allocated once, in
// the constructor, and nothing after it allocates.
#pragma once

#include <cstdint>
#include <memory>

namespace net {

class WaveformConcealer {
 public:
  /// `channels` interleaved channels at `rate` frames per second.
  WaveformConcealer(int channels, std::uint32_t rate);

  /// A new stream: no history.
  void reset() noexcept;

  /// Audio that plays at stream position `pos` onwards. History is kept
  /// only while contiguous: audio that does not start where the last ended
  /// starts it anew. Ends a repetition in progress.
  void played(std::int64_t pos, const float* pcm, int frames) noexcept;

  /// A concealment run starts at `pos` (at or after the history's end).
  /// True when the history is periodic, and render() fills the run; false
  /// leaves the run to the codec. A run after the same history (nothing
  /// played between) keeps the period it measured.
  bool begin(std::int64_t pos) noexcept;

  /// A run from begin() is in progress: render() continues the history.
  bool active() const noexcept { return active_; }

  /// The repetition's frames at `pos` onwards (pos at or after the
  /// history's end), into `pcm`. Only while active().
  void render(std::int64_t pos, float* pcm, int frames) const noexcept;

  /// The first decoded audio after an active run, at `pos`: its first
  /// kBlendMs fade in from the repetition's continuation (a raised cosine),
  /// that at `level` (where a fade of the run left it). The repetition up
  /// to `pos` and this audio become the history.
  void blend_into(std::int64_t pos, float* pcm, int frames, float level = 1.0f) noexcept;

  /// The run ends without a blend (what follows does not join it).
  void end() noexcept { active_ = false; }

  /// Normalised cross-correlation at the period begin() found; 0 if none.
  double correlation() const noexcept { return correlation_; }
  /// The period begin() found, in frames; 0 if none.
  double period() const noexcept { return period_; }

  static constexpr double kMinPeriodMs = 2.0;    // 500 Hz: shorter periods repeat in multiples
  static constexpr double kMaxPeriodMs = 20.0;   // 50 Hz
  static constexpr double kWindowMs = 10.0;      // the stretch compared at each lag
  static constexpr double kMinCorrelation = 0.9; // periodic enough to repeat
  static constexpr double kBlendMs = 5.0;

 private:
  float at(std::int64_t i, int c) const noexcept;          // history frame i (< end_)
  float extended(std::int64_t i, int c) const noexcept;    // frame i of history + one repeat
  float sample(double x, int c) const noexcept;            // the repetition at position x
  double source(std::int64_t pos) const noexcept;          // where the repetition reads pos
  bool measure() noexcept;
  void append(const float* pcm, int frames) noexcept;  // at end_

  const int channels_;
  const std::int64_t min_lag_, max_lag_, window_, blend_;
  const std::int64_t capacity_;      // frames the ring holds (a power of two)
  std::unique_ptr<float[]> ring_;    // interleaved frames, frame i at (i & (capacity_ - 1))
  std::unique_ptr<float[]> scratch_; // the repetition that played, on its way into the ring
  std::unique_ptr<float[]> mono_;    // the channels' sum of the stretch measure() reads
  std::unique_ptr<double[]> corr_;   // per lag, for the parabola
  std::int64_t end_ = 0;             // stream position after the last frame held
  std::int64_t held_ = 0;            // frames held (contiguous, ending at end_)
  bool measured_ = false;            // period_ is for the history as it is
  bool periodic_ = false;
  bool active_ = false;
  double period_ = 0;
  double correlation_ = 0;
};

}  // namespace net
