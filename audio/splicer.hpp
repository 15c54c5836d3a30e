// Splices in phase, as WSOLA splices (W. Verhelst and M. Roelands, "An
// overlap-add technique based on waveform similarity (WSOLA) for high
// quality time-scale modification of speech", ICASSP 1993).
//
// A correction moves playout's cursor forwards (stream audio skipped) or
// backwards (what played plays again). Spliced anywhere, a tone would be
// mixed with itself out of phase over the crossfade and dip (by up to all
// of it) in the middle. The splicer finds, within kSearch of the position
// asked for, where the audio there matches best what would have played on
// (the old side), refines the match between samples, and keeps the old
// side for the crossfade (audio::Fader). It keeps the stream audio that
// played (history_frames(), by position) for splices backwards and for the
// old side of a splice that lands behind the cursor.
//
// Thread: audio (control only while no callback runs). Allocates at
// construction only; everything else is real-time safe and bounded.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>

#include "audio/jitter_buffer.hpp"
#include "core/defaults.hpp"

namespace audio {

class Splicer {
 public:
  /// The crossfade (5 ms); how far either way from the asked position a
  /// splice may land to splice where the waveforms match (1.25 ms: a
  /// window of more than a period of 400 Hz, and less than the clocks'
  /// correction threshold either way); and how much of both sides is
  /// compared to find the match (2 ms: little enough to be queued at a
  /// target of a few ms).
  /// In stream frames at the stream's rate: crossfade(), search() and
  /// match_frames().
  static constexpr double kCrossfadeMs = 5;
  static constexpr double kSearchMs = 1.25;
  static constexpr double kMatchMs = 2;
  /// Stream audio kept after it played (42.7 ms: 2048 frames at 48 kHz),
  /// for splices backwards: a buffer short of its target repeats a
  /// stretch, spliced where the waveforms match, rather than hold silence.
  static constexpr std::uint32_t kHistoryFrames48k = 2048;

  /// Thread: control, at start-up. Allocates the history and the buffers
  /// a splice compares, for up to kMaxChannels at up to kMaxStreamRate.
  Splicer(int channels, std::uint32_t rate);

  /// Thread: audio (or control while no callback runs). Real-time safe. A
  /// stream of `channels` at `rate`: nothing is kept.
  void set_stream(int channels, std::uint32_t rate) noexcept;

  /// The crossfade, the search either way, the match compared, the history
  /// kept: in stream frames.
  std::uint32_t crossfade() const noexcept { return frames_; }
  std::uint32_t search() const noexcept { return search_frames_; }
  std::uint32_t match_frames() const noexcept { return match_frames_; }
  std::uint32_t history_frames() const noexcept { return history_frames_; }

  /// Thread: audio. `frames` of stream audio (interleaved) played from
  /// `pos`. Audio that does not follow on from what is kept (a skip, a
  /// hole) starts the history over: what came before is no lead-in.
  void remember(std::int64_t pos, const float* pcm, std::uint32_t frames) noexcept;
  /// What is kept: [kept_from(), history_end()), contiguous.
  std::int64_t kept_from() const noexcept {
    return std::max(history_from_, history_end_ - std::int64_t{history_frames_} + 1);
  }
  std::int64_t history_end() const noexcept { return history_end_; }
  /// The kept audio from `pos` (within what is kept), interleaved; clamps
  /// `frames` to what follows on in memory (the ring wraps).
  const float* played(std::int64_t pos, std::uint32_t& frames) const noexcept;

  /// Thread: audio. Stream audio [from, from + frames) into `dst`,
  /// interleaved: what played below `cursor` (the history, which must
  /// reach it), what `buffer` queues from it. False where some of it is
  /// neither. Bounded by the buffer's capacity.
  bool copy(std::int64_t from, std::uint32_t frames, float* dst, std::int64_t cursor,
            const JitterBuffer& buffer) const noexcept;

  /// Thread: audio. A splice from `cursor` to within `window` (at most
  /// search()) of `asked`: takes the old side (crossfade() from the cursor) and
  /// finds where the new side matches it best: `at`, and `fraction` of a
  /// frame further where the match peaks between samples; the old side is
  /// then read as much nearer (old_side()), so that it plays on unmoved
  /// while it fades out and the new side glides by `fraction` (the
  /// resampler's warp). False, `at` = `asked`, where either side is not
  /// all audio (a hole, the buffer's end). Bounded: at most (2 search() +
  /// 1) x match_frames() x channels multiply-adds.
  bool find(std::int64_t cursor, std::int64_t asked, std::int64_t window, const JitterBuffer& buffer,
            std::int64_t& at, double& fraction) noexcept;
  /// The old side of the latest splice found: crossfade() frames, interleaved. Stays
  /// as it is until the next find().
  const float* old_side() const noexcept { return old_.get(); }

 private:
  bool best(std::int64_t cursor, std::int64_t asked, std::int64_t window, const JitterBuffer& buffer,
            std::int64_t& at, double& fraction) noexcept;
  float score(std::uint32_t span, double old_energy) noexcept;
  void shift_old(double fraction) noexcept;

  static constexpr std::uint32_t kMaxFrames = core::defaults::kMaxStreamRate / 200;
  static constexpr std::uint32_t kMaxSearch = core::defaults::kMaxStreamRate / 800;
  static constexpr std::uint32_t kMaxMatch = core::defaults::kMaxStreamRate / 500;
  static constexpr std::uint32_t kMaxHistory = kHistoryFrames48k * (core::defaults::kMaxStreamRate / 48000);

  int channels_ = 0;
  std::uint32_t frames_ = 0;          // kCrossfadeMs
  std::uint32_t search_frames_ = 0;   // kSearchMs
  std::uint32_t match_frames_ = 0;    // kMatchMs
  std::uint32_t history_frames_ = 0;  // kHistoryFrames48k at the stream's rate
  // Stream audio that played, by position modulo history_frames_: valid
  // from history_from_ up to history_end_, contiguous.
  const std::unique_ptr<float[]> history_;  // kMaxHistory x kMaxChannels
  std::int64_t history_from_ = 0;
  std::int64_t history_end_ = 0;
  const std::unique_ptr<float[]> old_;     // (crossfade() + 1) x channels, interleaved
  const std::unique_ptr<float[]> search_;  // (2 search() + match_frames()) x channels
  std::array<float, 2 * kMaxSearch + 1> scores_{};  // the match at each candidate
};

}  // namespace audio
