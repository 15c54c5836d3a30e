#include "audio/splicer.hpp"

#include <cmath>
#include <cstddef>
#include <cstdlib>

namespace audio {

namespace {
std::uint32_t frames_in(double ms, std::uint32_t rate) {
  return static_cast<std::uint32_t>(std::lround(ms * rate / 1000.0));
}
}  // namespace

Splicer::Splicer(int channels, std::uint32_t rate)
    : history_(std::make_unique<float[]>(std::size_t{kMaxHistory} * core::defaults::kMaxChannels)),
      old_(std::make_unique<float[]>(std::size_t{kMaxFrames + 1} * core::defaults::kMaxChannels)),
      search_(std::make_unique<float[]>(std::size_t{2 * kMaxSearch + kMaxMatch} * core::defaults::kMaxChannels)) {
  set_stream(channels, rate);
}

void Splicer::set_stream(int channels, std::uint32_t rate) noexcept {
  channels_ = channels;
  frames_ = frames_in(kCrossfadeMs, rate);
  search_frames_ = frames_in(kSearchMs, rate);
  match_frames_ = frames_in(kMatchMs, rate);
  history_frames_ = static_cast<std::uint32_t>(std::uint64_t{kHistoryFrames48k} * rate / 48000);
  history_from_ = history_end_ = 0;
}

void Splicer::remember(std::int64_t pos, const float* pcm, std::uint32_t frames) noexcept {
  if (pos != history_end_) history_from_ = pos;
  for (std::uint32_t i = 0; i < frames; ++i)
    std::copy_n(pcm + std::size_t{i} * channels_, channels_,
                history_.get() + static_cast<std::size_t>((pos + i) % history_frames_) * channels_);
  history_end_ = pos + frames;
}

const float* Splicer::played(std::int64_t pos, std::uint32_t& frames) const noexcept {
  const auto at = static_cast<std::uint32_t>(pos % history_frames_);
  frames = std::min(frames, history_frames_ - at);
  return history_.get() + std::size_t{at} * channels_;
}

bool Splicer::copy(std::int64_t from, std::uint32_t frames, float* dst, std::int64_t cursor,
                   const JitterBuffer& buffer) const noexcept {
  std::int64_t pos = from;
  std::uint32_t done = 0;
  if (pos < cursor) {
    if (history_end_ != cursor || pos < kept_from()) return false;
    for (; pos < cursor && done < frames; ++pos, ++done)
      std::copy_n(history_.get() + static_cast<std::size_t>(pos % history_frames_) * channels_, channels_,
                  dst + std::size_t{done} * channels_);
  }
  for (std::size_t i = 0; i < buffer.size() && done < frames; ++i) {
    const core::PacketRecord* r = buffer.at(i);
    if (r->end() <= pos) continue;
    if (r->timestamp > pos) return false;  // a hole
    const auto offset = static_cast<std::size_t>(pos - r->timestamp);
    const auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(r->end() - pos, frames - done));
    std::copy_n(r->pcm + offset * channels_, std::size_t{n} * channels_, dst + std::size_t{done} * channels_);
    done += n;
    pos += n;
  }
  return done == frames;
}

bool Splicer::find(std::int64_t cursor, std::int64_t asked, std::int64_t window, const JitterBuffer& buffer,
                   std::int64_t& at, double& fraction) noexcept {
  at = asked;
  fraction = 0;
  if (!copy(cursor, frames_ + 1, old_.get(), cursor, buffer) || !best(cursor, asked, window, buffer, at, fraction))
    return false;
  if (fraction != 0) shift_old(fraction);
  return true;
}

bool Splicer::best(std::int64_t cursor, std::int64_t asked, std::int64_t window, const JitterBuffer& buffer,
                   std::int64_t& at, double& fraction) noexcept {
  // The position within `window` of `asked` whose next match_frames()
  // correlate best (normalised cross-correlation) with the start of the
  // old side; of near-equal peaks (a periodic sound matches once per
  // period), the one nearest `asked`. `fraction`: where between that
  // position and its neighbours the match peaks (a parabola through the
  // three scores), within half a frame.
  window = std::clamp<std::int64_t>(window, 0, std::int64_t{search_frames_});
  const std::int64_t earliest = asked - window;
  const auto span = static_cast<std::uint32_t>(2 * window);
  if (!copy(earliest, span + match_frames_, search_.get(), cursor, buffer)) return false;
  const std::size_t n = std::size_t{match_frames_} * channels_;
  const float* old = old_.get();
  double old_energy = 0;
  for (std::size_t k = 0; k < n; ++k) old_energy += double{old[k]} * old[k];
  // Silence, or near it (below -60 dBFS, a codec's idle noise): a splice
  // anywhere is inaudible, so where asked.
  if (old_energy < 1e-6 * static_cast<double>(n)) return true;
  const float top = score(span, old_energy);
  // Of the peaks that score within kNear of the best, the nearest to asked:
  // what is left is for the trim.
  constexpr float kNear = 0.05f;
  const auto& s = scores_;
  std::int64_t best = window;
  std::int64_t best_distance = INT64_MAX;
  for (std::uint32_t c = 0; c <= span; ++c) {
    const bool peak = (c == 0 || s[c] >= s[c - 1]) && (c == span || s[c] >= s[c + 1]);
    const std::int64_t distance = std::llabs(static_cast<std::int64_t>(c) - window);
    if (peak && s[c] >= top - kNear && distance < best_distance) {
      best = c;
      best_distance = distance;
    }
  }
  at = earliest + best;
  if (best > 0 && best < span) {
    const double l = s[best - 1], m = s[best], r = s[best + 1];
    const double curve = l - 2 * m + r;
    if (curve < 0) fraction = std::clamp(0.5 * (l - r) / curve, -0.5, 0.5);
  }
  return true;
}

float Splicer::score(std::uint32_t span, double old_energy) noexcept {
  // Each candidate's match with the old side, into scores_[0..span];
  // returns the best. The energy of each candidate's window is slid along.
  const std::size_t n = std::size_t{match_frames_} * channels_;
  const float* old = old_.get();
  const float* s = search_.get();
  const std::size_t step = static_cast<std::size_t>(channels_);
  double energy = 0;
  for (std::size_t k = 0; k < n; ++k) energy += double{s[k]} * s[k];
  float top = -2;
  for (std::uint32_t c = 0; c <= span; ++c) {
    const float* w = s + std::size_t{c} * step;
    if (c > 0) {
      for (std::size_t k = 0; k < step; ++k) {
        energy -= double{(w - step)[k]} * (w - step)[k];
        energy += double{w[n - step + k]} * w[n - step + k];
      }
    }
    float dot = 0;
    for (std::size_t k = 0; k < n; ++k) dot += old[k] * w[k];
    scores_[c] = static_cast<float>(dot / std::sqrt(std::max(energy, 1e-12) * old_energy));
    top = std::max(top, scores_[c]);
  }
  return top;
}

void Splicer::shift_old(double fraction) noexcept {
  // The waveforms match `fraction` of a frame past `at`: the new side is
  // read that much further (the resampler's warp), so the old side is read
  // as much nearer over the crossfade, and plays on unmoved while it fades
  // out. In place: frame k reads frames k-1 and k (fraction > 0) or k and
  // k+1 (fraction < 0), so the loop runs the way that reads only frames
  // not yet written.
  float* old = old_.get();
  const auto at = [&](std::uint32_t k) {
    const double p = k - fraction * k / frames_;  // within half a frame of k
    const auto i = static_cast<std::uint32_t>(p);
    const auto f = static_cast<float>(p - i);
    for (int c = 0; c < channels_; ++c) {
      const std::size_t from = std::size_t{i} * channels_ + c;
      old[std::size_t{k} * channels_ + c] = old[from] + f * (old[from + channels_] - old[from]);
    }
  };
  if (fraction > 0) {
    for (std::uint32_t k = frames_; k-- > 0;) at(k);
  } else {
    for (std::uint32_t k = 0; k < frames_; ++k) at(k);
  }
}

}  // namespace audio
