#include "net/loss_repair.hpp"

#include <algorithm>
#include <cmath>

#include "core/defaults.hpp"

namespace net {

namespace d = core::defaults;

namespace {
std::uint32_t frames_in(double ms, std::uint32_t rate) {
  return static_cast<std::uint32_t>(std::lround(ms * rate / 1000.0));
}
}  // namespace

LossRepair::LossRepair(PayloadDecoder& decoder, std::uint32_t rate)
    : decoder_(decoder),
      full_frames_(frames_in(d::kConcealFullMs, rate)),
      max_frames_(frames_in(d::kMaxConcealMs, rate)),
      fade_frames_(frames_in(d::kFadeMs, rate)),
      blend_frames_(frames_in(WaveformConcealer::kBlendMs, rate)),
      evidence_frames_(frames_in(kEvidenceMs, rate)),
      max_hold_frames_(frames_in(kMaxHoldMs, rate)),
      concealer_(decoder.channels(), rate),
      scratch_(std::make_unique<float[]>(std::size_t{d::kRecordSamples})) {}

void LossRepair::reset() noexcept {
  decoder_.reset();
  concealer_.reset();
  run_ = 0;
  held_ = 0;
  repeat_ = false;
  silent_ = false;
}

bool LossRepair::begin(std::int64_t pos) noexcept {
  if (run_ > 0) return false;
  // While the repetition plays over decoded audio the decoder is current:
  // the run starts from its state, and the repetition goes on.
  held_ = 0;
  decoder_.save();
  if (repeat_) {
    concealer_.begin(pos);
  } else {
    concealer_.end();
  }
  return true;
}

int LossRepair::conceal(std::int64_t pos, float* pcm, std::uint32_t frames) noexcept {
  int n = static_cast<int>(frames);
  if (concealer_.active()) {
    // The repetition fills the run; the codec's concealment would be
    // thrown away. The decoder stays where the run began: the audio after
    // the run is decoded from there.
    concealer_.render(pos, pcm, n);
  } else {
    n = decoder_.conceal(pcm, n);
    if (n <= 0) return n;
    silent_ = decoder_.conceals_with_silence();
  }
  fade_out(pcm, n);
  run_ += static_cast<std::uint32_t>(n);
  return n;
}

bool LossRepair::joins(bool follows) const noexcept {
  // Audio that follows a repetition is cross-faded in from it, at the
  // level the run's fade had reached.
  return concealer_.active() && follows;
}

int LossRepair::decode(std::span<const std::uint8_t> payload, std::int64_t pos, bool follows,
                       float* pcm, int max_frames) noexcept {
  const bool blend = joins(follows);
  if (blend && !holding()) decoder_.restore();
  const int n = decoder_.decode(payload, pcm, max_frames);
  if (n <= 0) return n;
  resumed(pos, blend, pcm, n);
  repeat_ = decoder_.wants_repetition(payload);
  return n;
}

int LossRepair::recover(std::span<const std::uint8_t> next, std::int64_t pos, float* pcm,
                        int frames) noexcept {
  const bool blend = joins(true);
  if (blend && !holding()) decoder_.restore();
  const int n = decoder_.recover(next, pcm, frames);
  if (n > 0) resumed(pos, blend, pcm, n);
  return n;
}

void LossRepair::resumed(std::int64_t pos, bool blend, float* pcm, int frames) noexcept {
  // Decoded audio ends the run. It joins the repetition at the level the
  // run's fade reached, or starts the concealer's history. After the
  // codec's concealment it goes on from the decoder's own, whose level the
  // fade lowered: it rises from there (from silence after the codec's
  // silence), so that it neither steps up nor dips to silence first.
  const float level = gain(run_);
  if (blend) {
    hand_over(pos, pcm, frames, level);
  } else {
    concealer_.played(pos, pcm, frames);
    if (silent_ || level < 1.0f) fade_in(pcm, frames, silent_ ? 0.0f : level);
    held_ = 0;
  }
  run_ = 0;
  silent_ = false;
}

LossRepair::Join LossRepair::choose(const float* pcm, const float* rep, int frames,
                                    float level) const noexcept {
  // Too short to compare both ends and still cross-fade; or a run that
  // faded below half level, an outage more than a gap: what follows it
  // takes over at once.
  if (frames < 2 * static_cast<int>(blend_frames_) || level < kMinHoldLevel) return Join::AtStart;
  const bool room = held_ + static_cast<std::uint32_t>(frames) <= max_hold_frames_;
  // The first audio decoded from the state before the run, the same sound
  // or a new one, is the decoder catching up (a new note can come out as
  // the old one for 10 ms): it only brings the decoder up to date.
  if (!holding() && room) return Join::Whole;
  const int ends = std::min(static_cast<int>(evidence_frames_), frames / 4);
  if (mismatch_db(pcm, rep, 0, ends) < kSettledDb) return Join::AtStart;
  const double last = mismatch_db(pcm, rep, frames - ends, ends);
  if (last < kSettledDb) return Join::BeforeEnd;
  if (last < kConsistentDb) return room ? Join::Whole : Join::BeforeEnd;
  return Join::AtStart;
}

void LossRepair::hand_over(std::int64_t pos, float* pcm, int frames, float level) noexcept {
  // The repetition at full level: a settling decoder's audio is compared
  // with it, and what it plays over rises from the run's fade to full
  // level (the decoded audio says the sound is there).
  const int ch = decoder_.channels();
  float* rep = scratch_.get();
  concealer_.render(pos, rep, frames);
  const Join join = choose(pcm, rep, frames, level);
  const int over = join == Join::Whole ? frames : join == Join::BeforeEnd ? frames - static_cast<int>(blend_frames_) : 0;
  for (int i = 0; i < over; ++i) {
    const float g = level + (1.0f - level) * static_cast<float>(i) / static_cast<float>(over);
    for (int c = 0; c < ch; ++c) pcm[i * ch + c] = g * rep[i * ch + c];
  }
  held_ += static_cast<std::uint32_t>(over);
  frames_held_ += static_cast<std::uint64_t>(over);
  if (join == Join::Whole) return;  // the next packet decides again
  concealer_.blend_into(pos + over, pcm + std::size_t(over) * ch, frames - over, over > 0 ? 1.0f : level);
  held_ = 0;
}

double LossRepair::mismatch_db(const float* a, const float* b, int from, int frames) const noexcept {
  const int ch = decoder_.channels();
  double diff = 0, ref = 0;
  for (int i = from * ch; i < (from + frames) * ch; ++i) {
    const double d = double{a[i]} - b[i];
    diff += d * d;
    ref += double{b[i]} * b[i];
  }
  if (ref < 1e-9 * frames * ch) return 0;  // a silent repetition: nothing agrees with it
  return 10 * std::log10(diff / ref + 1e-12);
}

void LossRepair::undo_run() noexcept {
  decoder_.restore();
  detach();
}

int LossRepair::replay(std::span<const std::uint8_t> payload) noexcept {
  decoder_.restore();
  const int n = decoder_.decode(payload, scratch_.get(), static_cast<int>(d::kRecordSamples) / decoder_.channels());
  if (n <= 0) {
    decoder_.save();  // the run goes on from where it began
    return n;
  }
  detach();
  return n;
}

void LossRepair::detach() noexcept {
  // What is made next replaces the run from its start, or goes on with it
  // after a late packet (begin() then repeats the same history).
  run_ = 0;
  held_ = 0;
  silent_ = false;
  concealer_.end();
}

void LossRepair::give_up() noexcept { run_ = max_frames_; }

std::uint64_t LossRepair::take_frames_held() noexcept {
  const std::uint64_t n = frames_held_;
  frames_held_ = 0;
  return n;
}

bool LossRepair::exhausted() const noexcept { return run_ >= max_frames_; }

std::uint32_t LossRepair::room_at_full_level() const noexcept {
  return run_ < full_frames_ ? full_frames_ - run_ : 0;
}

float LossRepair::gain(std::int64_t t) const noexcept {
  // Full level for kConcealFullMs of one run, then a linear fade to
  // silence at kMaxConcealMs.
  if (t <= full_frames_) return 1.0f;
  return std::max(0.0f, 1.0f - static_cast<float>(t - full_frames_) /
                                   static_cast<float>(max_frames_ - full_frames_));
}

void LossRepair::fade_out(float* pcm, int frames) const noexcept {
  const int ch = decoder_.channels();
  for (int i = 0; i < frames; ++i) {
    const float g = gain(std::int64_t{run_} + i);
    if (g == 1.0f) continue;
    for (int c = 0; c < ch; ++c) pcm[i * ch + c] *= g;
  }
}

void LossRepair::fade_in(float* pcm, int frames, float from) const noexcept {
  const int ch = decoder_.channels();
  const int ramp = std::min<int>(frames, fade_frames_);
  for (int i = 0; i < ramp; ++i) {
    const float g = from + (1.0f - from) * static_cast<float>(i) / static_cast<float>(ramp);
    for (int c = 0; c < ch; ++c) pcm[i * ch + c] *= g;
  }
}

}  // namespace net
