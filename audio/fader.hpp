// Rendering at the edges of silence, so that no edge is a step.
//
// Audio that follows silence fades in over kFadeMs. Where audio stops
// (a hold, a hole, running dry, a skip that cannot splice) the last sample
// rendered ramps to zero over kFadeMs, mixed under whatever plays
// next. Audio that ends at a known position because a hole follows (a
// tail) fades out over its own last samples instead of stopping mid-wave.
// A splice crossfades: what would have played on (the old side,
// audio::Splicer) goes out as the new audio comes in.
//
// Thread: audio (control only while no callback runs). Allocates nothing:
// its state is fixed-size. Real-time safe: bounded loops over the frames
// asked for.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "core/defaults.hpp"

namespace audio {

class Fader {
 public:
  /// Thread: control, at start-up.
  Fader(int channels, std::uint32_t rate) noexcept { set_stream(channels, rate); }

  /// Thread: audio (or control while no callback runs). A stream of
  /// `channels` (1..kMaxChannels) at `rate`: nothing of the last one is
  /// left to fade.
  void set_stream(int channels, std::uint32_t rate) noexcept {
    channels_ = channels;
    fade_frames_ = static_cast<std::uint32_t>(std::lround(core::defaults::kFadeMs * rate / 1000.0));
    reset();
    last_.fill(0.0f);
    hold_.fill(0.0f);
  }

  /// Thread: audio. Renders `pcm` (interleaved, `frames` of them, stream
  /// positions from `pos`) into `out`: faded in after silence, over the
  /// fade-out of what stopped, under a splice's crossfade, fading out at a
  /// tail. Stops at the tail's end; returns the frames rendered.
  std::uint32_t play(float* out, const float* pcm, std::uint32_t frames, std::int64_t pos) noexcept;

  /// Thread: audio. Renders `frames` of silence into `out`: the fade-out of
  /// what stopped, if it is under way (audio that stops calls stop() or
  /// fade_out() first, or has faded out at a tail). A crossfade under way
  /// is cut short (its new side stopped) and ramps out from where it got
  /// to. What plays next fades in.
  void silence(float* out, std::uint32_t frames) noexcept;

  /// Thread: audio. The last sample rendered ramps to zero from here,
  /// under whatever plays next (restarting the ramp if one is under way).
  void fade_out() noexcept {
    hold_ = last_;
    fade_out_left_ = fade_frames_;
  }
  /// Thread: audio. Audio stops here: if any plays, it ramps out; what
  /// plays next fades in.
  void stop() noexcept {
    if (!silent_) fade_out();
    silent_ = true;
  }
  /// Thread: audio. The audio moves elsewhere without a splice: what was
  /// output last ramps out (restarting the ramp if one is under way), a
  /// crossfade under way with it, and what plays next fades in.
  void cut() noexcept {
    fade_out();
    cross_left_ = 0;
    silent_ = true;
  }
  /// Thread: audio. The audio ends at `pos` (a hole follows): it fades out
  /// over its last kFadeMs. A tail under way runs to its end.
  void end_at(std::int64_t pos) noexcept {
    if (tail_end_ < 0) tail_end_ = pos;
  }
  /// Thread: audio. No tail: the cursor moved (a start, a skip, a new
  /// stream), so a tail's end means nothing now.
  void cancel_tail() noexcept { tail_end_ = -1; }
  /// Thread: audio. Over the next `frames` rendered by play(), `old`
  /// (interleaved, `frames` of them; it must stay as it is until then)
  /// goes out as the new audio comes in.
  void crossfade(const float* old, std::uint32_t frames) noexcept {
    old_ = old;
    cross_frames_ = frames;
    cross_step_ = 1.0f / static_cast<float>(frames);
    cross_left_ = frames;
  }
  void cancel_crossfade() noexcept { cross_left_ = 0; }
  /// Thread: audio, or control while no callback runs. Nothing left to
  /// fade: a new JACK client starts from silence.
  void reset() noexcept {
    silent_ = true;
    tail_end_ = -1;
    fade_out_left_ = 0;
    cross_left_ = 0;
  }

  /// The last sample rendered was silence (or a fade to it).
  bool silent() const noexcept { return silent_; }
  /// Silence, and nothing left fading out: what follows may start from
  /// nothing (a stream of another format).
  bool quiet() const noexcept { return silent_ && fade_out_left_ == 0 && cross_left_ == 0; }
  /// Audio plays at full level with no edge under way: a splice may
  /// crossfade here.
  bool steady() const noexcept {
    return !silent_ && tail_end_ < 0 && fade_in_left_ == 0 && fade_out_left_ == 0 && cross_left_ == 0;
  }

 private:
  int channels_ = 0;
  std::uint32_t fade_frames_ = 0;  // kFadeMs at the stream's rate
  bool silent_ = true;          // the last sample rendered was silence (or fading to it)
  std::int64_t tail_end_ = -1;  // a tail fade under way ends here (-1: none)
  std::uint32_t fade_in_left_ = 0;
  std::uint32_t fade_out_left_ = 0;
  std::array<float, core::defaults::kMaxChannels> last_{};  // last sample rendered, per channel
  std::array<float, core::defaults::kMaxChannels> hold_{};  // value the fade-out starts from
  const float* old_ = nullptr;  // a crossfade's old side
  std::uint32_t cross_frames_ = 0;
  float cross_step_ = 0;        // 1 / cross_frames_
  std::uint32_t cross_left_ = 0;  // frames of old_ still to mix in
};

}  // namespace audio
