#include "audio/player.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>

namespace audio {

namespace d = core::defaults;

namespace {
// Stream frames rendered ahead for the resampler at a time: small, so that
// what sits rendered but unread adds little delay.
constexpr std::uint32_t kRenderChunk = Resampler::kChunkFrames;
}  // namespace

Player::Player(const PlayerConfig& config, core::SpscQueue<core::PacketRecord*>& from_net,
               core::SpscQueue<core::PacketRecord*>& to_net, core::Mailbox<core::StreamModel>& model,
               core::Mailbox<core::AudioStatus>& status)
    : channels_(config.channels),
      from_net_(from_net),
      to_net_(to_net),
      model_(model),
      status_out_(status),
      buffer_(config.capacity),
      pending_(std::make_unique<core::PacketRecord*[]>(config.capacity)),
      history_(std::make_unique<float[]>(std::size_t{kHistoryFrames} * config.channels)),
      splice_(std::make_unique<float[]>(std::size_t{kSpliceFrames + 1} * config.channels)),
      search_(std::make_unique<float[]>(std::size_t{2 * kSpliceSearch + kMatchFrames} * config.channels)),
      resampler_(config.channels),
      stage_(std::make_unique<float[]>(std::size_t{kRenderChunk} * config.channels)),
      out_(std::make_unique<float[]>(std::size_t{kMaxPeriod} * config.channels)) {
  assert(channels_ >= 1 && channels_ <= d::kMaxChannels && "player: channel count");
}

void Player::process(float* const* out, const Cycle& cycle) noexcept {
  ++status_.callbacks;
  return_pending();
  take_model();
  drain_net();
  const std::uint32_t nframes = cycle.nframes;
  if (cycle.rate != jack_rate_) {
    // A new JACK rate (or the first call): the converter starts afresh.
    jack_rate_ = cycle.rate;
    resampler_.reset();
  }
  if (nframes > kMaxPeriod || cycle.rate == 0) {
    for (int c = 0; c < channels_; ++c) std::fill_n(out[c], nframes, 0.0f);
    return;
  }
  status_.jack_stalls += clock_.on_cycle(cycle.jack_frames, cycle.wake_ns, cycle.rate) > 0 ? 1 : 0;

  start_if_due();
  double ratio = 1;
  if (state_ == State::Playing) steer(nframes, ratio);
  if (state_ != State::Playing) ratio = clock_.idle_ratio();

  // Output-driven: render the stream in small chunks as the converter asks.
  std::uint32_t produced = 0;
  std::uint32_t consumed = 0;
  float* const dst = out_.get();
  for (int guard = 0; produced < nframes && guard < 4 * static_cast<int>(kMaxPeriod); ++guard) {
    if (stage_pos_ == stage_len_) {
      render(stage_.get(), kRenderChunk);
      stage_pos_ = 0;
      stage_len_ = kRenderChunk;
    }
    const Resampler::Result r = resampler_.process(
        stage_.get() + std::size_t{stage_pos_} * channels_, stage_len_ - stage_pos_,
        dst + std::size_t{produced} * channels_, nframes - produced, ratio);
    stage_pos_ += r.used;
    consumed += r.used;
    produced += r.generated;
  }
  std::fill(dst + std::size_t{produced} * channels_, dst + std::size_t{nframes} * channels_, 0.0f);
  for (int c = 0; c < channels_; ++c)
    for (std::uint32_t i = 0; i < nframes; ++i) out[c][i] = dst[std::size_t{i} * channels_ + c];

  while (state_ == State::Playing && !buffer_.empty() && buffer_.front()->end() <= cursor_)
    unlink(buffer_.pop_front());
  push_status(cycle, consumed);
}

double Player::position() const noexcept {
  // The stream position output first this cycle: the cursor less what is
  // rendered but unread and the converter's look-ahead, and less a hold or
  // a replay still to play before the cursor's audio.
  return static_cast<double>(cursor_ - hold_left_ - replay_left_) - (stage_len_ - stage_pos_) -
         Resampler::kTaps / 2;
}

void Player::steer(std::uint32_t nframes, double& ratio) noexcept {
  // A skip must find queued beyond the due position what the splice
  // compares (within its window) and this cycle's audio with what the
  // converter reads ahead (from wherever in the window it lands); the rest
  // of the crossfade comes as it plays.
  const double cycle = nframes * (static_cast<double>(d::kStreamRate) / jack_rate_) + kRenderChunk + Resampler::kTaps;
  const double needed = kSpliceSearch + std::max<double>(cycle, kMatchFrames);
  const std::int64_t landing = static_cast<std::int64_t>(std::floor(clock_.due())) - kSpliceSearch;
  const PlayoutClock::Steer s =
      clock_.steer(position(), buffer_.end(), buffer_.contiguous_end(landing), needed, nframes);
  ratio = s.ratio;
  if (s.restart) {
    restart();
  } else if (s.correct > 0) {
    ++status_.splices;
    jump_to(cursor_ + s.correct, kSpliceSearch);
  } else if (s.correct < 0) {
    if (splice_back(-s.correct)) {
      ++status_.splices;
    } else {
      // Not enough of what played is kept (or it had holes): silence.
      ++status_.holds;
      if (!silent_) begin_fade_out();
      hold_left_ = -s.correct;
    }
  }
}

void Player::start_if_due() noexcept {
  if (state_ == State::Playing || buffer_.empty() || !clock_.ready()) return;
  // Playout starts with the stream position the clocks say is due: the one
  // that arrived on time the target latency ago. Earlier records are too
  // late to play; a stream not due yet waits.
  const double due = clock_.due();
  if (due < static_cast<double>(buffer_.front()->timestamp)) return;
  // What is rendered but unread and the converter's look-ahead play first.
  const std::int64_t cursor = std::llround(due + (stage_len_ - stage_pos_) + Resampler::kTaps / 2);
  while (!buffer_.empty() && buffer_.front()->end() <= cursor) {
    ++status_.records_dropped;
    unlink(buffer_.pop_front());
  }
  if (buffer_.empty()) return;  // all of it was older than what is due
  cursor_ = cursor;
  has_cursor_ = true;
  state_ = State::Playing;
  hold_left_ = 0;
  replay_left_ = 0;
  in_hole_ = false;
  tail_end_ = -1;
  clock_.start();
}

void Player::restart() noexcept {
  // Far from where the clocks say playout should be (a long stall, a pool
  // that ran dry): start over from what is due, fading out here.
  ++status_.restarts;
  if (!silent_) begin_fade_out();
  silent_ = true;
  state_ = State::Buffering;
  splice_left_ = 0;
  hold_left_ = 0;
  replay_left_ = 0;
  start_if_due();
}

void Player::take_model() noexcept {
  const core::StreamModel* m = model_.take();
  if (m == nullptr) return;
  if (m->epoch != epoch_) {
    // A new stream (a sender restart): what the buffer holds is the old
    // one's. Records of the new epoch may have come already (drain_net).
    flush();
    if (state_ == State::Playing) begin_fade_out();
    state_ = State::Buffering;
    epoch_ = m->epoch;
    status_.epoch = m->epoch;
    has_cursor_ = false;
    dry_ = false;
    in_hole_ = false;
    tail_end_ = -1;
    splice_left_ = 0;
    hold_left_ = 0;
    replay_left_ = 0;
  }
  clock_.set_model(*m);
  status_.target_frames = m->target_frames;
}

void Player::drain_net() noexcept {
  // Bounded: the queue holds at most its capacity.
  while (auto m = from_net_.try_pop()) {
    core::PacketRecord* r = *m;
    if (r->epoch != epoch_) {
      // From a stream that is over (audio saw its successor's model
      // first), or from a new one whose model comes next call: either way
      // not playable now.
      unlink(r);
      continue;
    }
    if (dry_) {
      // Playout would be at dry_at_ + dry_frames_ by now had the buffer
      // not run dry: a record from before that point was awaited.
      if (r->timestamp < dry_at_ + dry_frames_) ++status_.underruns;
      dry_ = false;
    }
    if (has_cursor_ && r->end() <= cursor_) {
      if (r->kind == core::PacketRecord::Kind::Decoded) ++status_.records_late;
      unlink(r);
    } else if (const std::size_t i = buffer_.find(r->timestamp); i < buffer_.size()) {
      replace(i, r);
    } else if (!buffer_.insert(r)) {
      ++status_.records_dropped;
      unlink(r);
    }
  }
}

void Player::render(float* out, std::uint32_t nframes) noexcept {
  std::uint32_t done = 0;
  if (state_ != State::Playing && dry_) dry_frames_ += nframes;
  while (done < nframes) {
    if (state_ != State::Playing) {
      silence(out + std::size_t{done} * channels_, nframes - done);
      break;
    }
    if (replay_left_ > 0) {
      // A splice backwards: what played before the cursor plays again, up
      // to the cursor, where the records go on.
      const std::int64_t pos = cursor_ - replay_left_;
      const auto at = static_cast<std::uint32_t>(pos % kHistoryFrames);
      const auto n = static_cast<std::uint32_t>(
          std::min<std::int64_t>({replay_left_, nframes - done, kHistoryFrames - at}));
      play(out + std::size_t{done} * channels_, history_.get() + std::size_t{at} * channels_, n, INT64_MAX);
      replay_left_ -= n;
      done += n;
      status_.frames_played += n;
      continue;
    }
    if (hold_left_ > 0) {
      // A hold (PlayoutClock): silence, the cursor standing still; what
      // plays after it fades in.
      if (!silent_) begin_fade_out();
      const auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(hold_left_, nframes - done));
      silence(out + std::size_t{done} * channels_, n);
      hold_left_ -= n;
      done += n;
      continue;
    }
    while (!buffer_.empty() && buffer_.front()->end() <= cursor_) unlink(buffer_.pop_front());
    if (buffer_.empty()) {
      // Net conceals anything missing in time, so an empty buffer means the
      // target is too small for this network, or the stream stopped. Which
      // one is decided when the next record comes (see dry_).
      state_ = State::Buffering;
      dry_ = true;
      dry_at_ = cursor_;
      dry_frames_ = 0;
      begin_fade_out();
      silence(out + std::size_t{done} * channels_, nframes - done);
      dry_frames_ += nframes - done;
      break;
    }
    const core::PacketRecord* r = buffer_.front();
    const std::uint32_t want = nframes - done;
    if (r->timestamp > cursor_) {
      // A hole in the timeline (DTX, a paused sender, a gap too long to
      // conceal): silence until the next record starts.
      if (!in_hole_) {
        ++status_.gaps;
        in_hole_ = true;
        if (!silent_) begin_fade_out();
        shorten_hole(r);
      }
      const auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(r->timestamp - cursor_, want));
      silence(out + std::size_t{done} * channels_, n);
      cursor_ += n;
      done += n;
      continue;
    }
    const auto offset = static_cast<std::uint32_t>(cursor_ - r->timestamp);
    const std::uint32_t n = std::min(r->frames - offset, want);
    // Audio before a hole in the timeline fades out over its own last
    // samples instead of stopping mid-wave. Once begun, the fade runs to its
    // end (the record after the hole then fades in). Audio with nothing
    // after it yet plays on: net conceals whatever is missing before it is
    // due (and fades a stream that ended to silence), so waiting for a
    // successor here would only add latency; if the buffer does run dry,
    // the last sample ramps to zero (begin_fade_out).
    const core::PacketRecord* next = buffer_.size() > 1 ? buffer_.at(1) : nullptr;
    const bool ends_soon = next != nullptr && next->timestamp > r->end();
    if (ends_soon && tail_end_ < 0) tail_end_ = r->end();
    const std::uint32_t m =
        tail_end_ >= 0 ? static_cast<std::uint32_t>(std::min<std::int64_t>(n, tail_end_ - cursor_)) : n;
    play(out + std::size_t{done} * channels_, r->pcm + std::size_t{offset} * channels_, m,
         tail_end_ >= 0 ? tail_end_ - cursor_ : INT64_MAX);
    remember(r->pcm + std::size_t{offset} * channels_, m);
    if (tail_end_ >= 0 && cursor_ + m >= tail_end_) tail_end_ = -1;  // faded out: done
    in_hole_ = false;
    cursor_ += m;
    done += m;
    status_.frames_played += m;
    continue;
  }
}

void Player::shorten_hole(const core::PacketRecord* r) noexcept {
  // A hole whose far side is queued deeper than the target already: the
  // sender's timestamps jumped while its packets kept coming (GStreamer's
  // audio sources jump when their capture lost time, e.g. when JACK
  // stalled with the sender in its graph). Played in full, the hole would
  // add its length to the latency for good, left to the drift loop to
  // glide away at 0.2 % (seconds for a few ms). Only as much of it plays as
  // leaves the target queued beyond it (the converter holds the rest); the
  // rest is skipped. Silence either way. A hole in real time (DTX, a paused
  // sender) has little or nothing beyond it yet and plays in full.
  const std::int64_t keep = target_queue();
  const std::int64_t hole = r->timestamp - cursor_;
  const std::int64_t play = std::clamp<std::int64_t>(keep - (buffer_.end() - r->timestamp), 0, hole);
  if (play < hole) {
    cursor_ = r->timestamp - play;
    ++status_.holes_shortened;
  }
}

void Player::replace(std::size_t i, core::PacketRecord* r) noexcept {
  // A record where one already is: net made this place again. A packet
  // that came after its concealment (StreamReceiver::rescue), or what
  // follows it, replaces concealment that has not begun to play. Once
  // it has, the concealment plays on, and the packet was late after all.
  // A second decoded record is a duplicate.
  using Kind = core::PacketRecord::Kind;
  const core::PacketRecord* old = buffer_.at(i);
  const bool begun = has_cursor_ && cursor_ > old->timestamp;
  if (old->kind == Kind::Decoded || begun) {
    if (r->kind == Kind::Decoded && old->kind != Kind::Decoded) ++status_.records_late;
    else if (old->kind == Kind::Decoded) ++status_.records_dropped;
    unlink(r);
    return;
  }
  if (old->kind == Kind::Concealed && r->kind != Kind::Concealed) ++status_.records_rescued;
  unlink(buffer_.replace(i, r));
}

std::int64_t Player::target_queue() const noexcept {
  // The target less what the converter holds: stream frames queued ahead
  // of the cursor when playout sits at its target.
  return std::max<std::int64_t>(std::int64_t{status_.target_frames} - Resampler::kTaps / 2, 0);
}

void Player::remember(const float* pcm, std::uint32_t frames) noexcept {
  // What plays from the records, kept by position for splices backwards.
  if (cursor_ != history_end_) history_from_ = cursor_;  // a jump, a hole: what came before is no lead-in
  for (std::uint32_t i = 0; i < frames; ++i)
    std::copy_n(pcm + std::size_t{i} * channels_, channels_,
                history_.get() + static_cast<std::size_t>((cursor_ + i) % kHistoryFrames) * channels_);
  history_end_ = cursor_ + frames;
}

bool Player::splice_at(std::int64_t asked, std::int64_t window, std::int64_t& at) noexcept {
  // Where within `window` of `asked` a splice from the cursor lands in
  // phase, as WSOLA splices (W. Verhelst and M. Roelands, "An overlap-add
  // technique based on waveform similarity (WSOLA) for high quality
  // time-scale modification of speech", ICASSP 1993): the old audio (what
  // would have played on, splice_) and the new are crossfaded over
  // kSpliceFrames where they match best (best_splice); spliced anywhere, a
  // tone would be mixed with itself out of phase and dip (by up to all of
  // it) in the middle of the crossfade. False where either side is not all
  // audio (a hole, the buffer's end) or a fade is under way: the caller
  // then ramps the old audio out and fades the new in.
  const bool steady = !silent_ && !in_hole_ && tail_end_ < 0 && fade_in_left_ == 0 &&
                      fade_out_left_ == 0 && splice_left_ == 0;
  double fraction = 0;
  at = asked;
  if (!steady || std::llabs(asked - cursor_) <= window ||
      !copy_stream(cursor_, kSpliceFrames + 1, splice_.get()) || !best_splice(asked, window, at, fraction))
    return false;
  if (fraction != 0) {
    // The waveforms match between two samples: the new audio is read
    // `fraction` of a frame further, gliding there over the crossfade (the
    // resampler's warp), and what would have played on is read as much
    // nearer over it, so that it plays on unmoved while it fades out.
    resampler_.warp(resampler_.taken() + (stage_len_ - stage_pos_), kSpliceFrames, fraction);
    float* old = splice_.get();
    for (std::uint32_t k = 0; k < kSpliceFrames; ++k) {
      const double p = k - fraction * k / kSpliceFrames;  // within half a frame of k, from 0 up
      const auto i = static_cast<std::uint32_t>(p);
      const auto f = static_cast<float>(p - i);
      for (int c = 0; c < channels_; ++c) {
        const std::size_t from = std::size_t{i} * channels_ + c;
        old[std::size_t{k} * channels_ + c] = old[from] + f * (old[from + channels_] - old[from]);
      }
    }
  }
  splice_left_ = kSpliceFrames;  // play() mixes splice_ out as the new audio comes in
  return true;
}

std::int64_t Player::jump_to(std::int64_t asked, std::int64_t window) noexcept {
  // A skip forward from the cursor to `asked`, or up to `window` either side
  // of it, spliced in phase where it can be (splice_at).
  std::int64_t cursor = asked;
  const bool spliced = splice_at(asked, window, cursor);
  // Records wholly before the new cursor go home.
  cursor_ = cursor;
  while (!buffer_.empty() && buffer_.front()->end() <= cursor_) {
    ++status_.records_dropped;
    unlink(buffer_.pop_front());
  }
  if (!spliced) {
    begin_fade_out();
    silent_ = true;  // what plays next fades in
  }
  in_hole_ = false;
  tail_end_ = -1;
  return cursor_;
}

bool Player::splice_back(std::int64_t frames) noexcept {
  // A skip backwards by `frames`: what played from there to the cursor
  // plays again (replay_left_), spliced in phase, and the records go on
  // from the cursor after it. Only over audio that played without a break
  // and is still kept.
  const std::int64_t from = std::max(history_from_, history_end_ - std::int64_t{kHistoryFrames} + 1);
  std::int64_t at = cursor_ - frames;
  if (history_end_ != cursor_ || at - kSpliceSearch < from || !splice_at(at, kSpliceSearch, at)) return false;
  replay_left_ = cursor_ - at;
  return true;
}

bool Player::copy_stream(std::int64_t from, std::uint32_t frames, float* dst) const noexcept {
  // Stream audio [from, from + frames) into dst, interleaved: what played
  // (history_) below the cursor, queued records from it; false where some
  // of it is neither. Bounded by the buffer's capacity.
  std::int64_t pos = from;
  std::uint32_t done = 0;
  if (pos < cursor_) {
    const std::int64_t kept = std::max(history_from_, history_end_ - std::int64_t{kHistoryFrames} + 1);
    if (history_end_ != cursor_ || pos < kept) return false;
    for (; pos < cursor_ && done < frames; ++pos, ++done)
      std::copy_n(history_.get() + static_cast<std::size_t>(pos % kHistoryFrames) * channels_, channels_,
                  dst + std::size_t{done} * channels_);
  }
  for (std::size_t i = 0; i < buffer_.size() && done < frames; ++i) {
    const core::PacketRecord* r = buffer_.at(i);
    if (r->end() <= pos) continue;
    if (r->timestamp > pos) return false;  // a hole
    const auto offset = static_cast<std::size_t>(pos - r->timestamp);
    const auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(r->end() - pos, frames - done));
    std::copy_n(r->pcm + offset * channels_, std::size_t{n} * channels_,
                dst + std::size_t{done} * channels_);
    done += n;
    pos += n;
  }
  return done == frames;
}

bool Player::best_splice(std::int64_t asked, std::int64_t window, std::int64_t& at,
                         double& fraction) const noexcept {
  // The position within `window` of `asked` whose next kMatchFrames
  // correlate best (normalised cross-correlation) with the start of
  // splice_, the audio that would have played on; of near-equal peaks (a
  // periodic sound matches once per period), the one nearest `asked`.
  // `fraction`: where between that position and its neighbours the match
  // peaks (a parabola through the three scores), within half a frame.
  // False when the new side is not queued. Bounded: at most
  // (2 kSpliceSearch + 1) x kMatchFrames x channels multiply-adds, once per
  // skip.
  window = std::clamp<std::int64_t>(window, 0, kSpliceSearch);
  const std::int64_t earliest = asked - window;
  const auto span = static_cast<std::uint32_t>(2 * window);
  at = asked;
  fraction = 0;
  if (!copy_stream(earliest, span + kMatchFrames, search_.get())) return false;
  const std::size_t n = std::size_t{kMatchFrames} * channels_;
  const float* old = splice_.get();
  double old_energy = 0;
  for (std::size_t k = 0; k < n; ++k) old_energy += double{old[k]} * old[k];
  // Silence, or near it (below -60 dBFS, a codec's idle noise): a splice
  // anywhere is inaudible, so where asked.
  if (old_energy < 1e-6 * static_cast<double>(n)) return true;
  // Energy of each candidate's window, slid along.
  const float* s = search_.get();
  const std::size_t step = static_cast<std::size_t>(channels_);
  double energy = 0;
  for (std::size_t k = 0; k < n; ++k) energy += double{s[k]} * s[k];
  std::array<float, 2 * kSpliceSearch + 1> score;
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
    score[c] = static_cast<float>(dot / std::sqrt(std::max(energy, 1e-12) * old_energy));
    top = std::max(top, score[c]);
  }
  // Of the peaks that score within kNear of the best, the nearest to asked:
  // what is left is for the trim.
  constexpr float kNear = 0.05f;
  std::int64_t best = window;
  std::int64_t best_distance = INT64_MAX;
  for (std::uint32_t c = 0; c <= span; ++c) {
    const bool peak = (c == 0 || score[c] >= score[c - 1]) && (c == span || score[c] >= score[c + 1]);
    const std::int64_t distance = std::llabs(static_cast<std::int64_t>(c) - window);
    if (peak && score[c] >= top - kNear && distance < best_distance) {
      best = c;
      best_distance = distance;
    }
  }
  at = earliest + best;
  if (best > 0 && best < span) {
    const double l = score[best - 1], m = score[best], r = score[best + 1];
    const double curve = l - 2 * m + r;
    if (curve < 0) fraction = std::clamp(0.5 * (l - r) / curve, -0.5, 0.5);
  }
  return true;
}

void Player::resync() noexcept {
  flush();
  state_ = State::Buffering;
  has_cursor_ = false;
  dry_ = false;
  in_hole_ = false;
  tail_end_ = -1;
  silent_ = true;
  fade_out_left_ = 0;
  splice_left_ = 0;
  hold_left_ = 0;
  replay_left_ = 0;
  stage_pos_ = stage_len_ = 0;
  resampler_.reset();
  clock_.reset_jack();
}

void Player::flush() noexcept {
  while (!buffer_.empty()) unlink(buffer_.pop_front());
}

void Player::unlink(core::PacketRecord* r) noexcept {
  if (!to_net_.try_push(r)) {
    assert(pending_count_ < buffer_.capacity() && "player: more records out than the pool holds");
    pending_[pending_count_++] = r;
  }
}

void Player::return_pending() noexcept {
  while (pending_count_ > 0 && to_net_.try_push(pending_[pending_count_ - 1])) --pending_count_;
}

void Player::begin_fade_out() noexcept {
  hold_ = last_;
  fade_out_left_ = d::kFadeFrames;
}

void Player::play(float* out, const float* pcm, std::uint32_t frames,
                  std::int64_t frames_to_end) noexcept {
  if (silent_) {
    fade_in_left_ = d::kFadeFrames;
    silent_ = false;
  }
  constexpr float kStep = 1.0f / d::kFadeFrames;
  for (std::uint32_t i = 0; i < frames; ++i) {
    float gin = fade_in_left_ ? 1.0f - static_cast<float>(fade_in_left_) * kStep : 1.0f;
    const std::int64_t left = frames_to_end - i;  // samples from this one to the end, inclusive
    if (left < d::kFadeFrames) {
      gin *= static_cast<float>(left - 1) * kStep;
      // Faded out: whatever plays next, if anything does, fades in.
      if (left == 1) silent_ = true;
    }
    const float gout = static_cast<float>(fade_out_left_) * kStep;
    // A skip's crossfade (jump_to): what would have played on goes out
    // as the new audio comes in.
    const float gsplice = static_cast<float>(splice_left_) * (1.0f / kSpliceFrames);
    const float* old = splice_.get() + std::size_t{kSpliceFrames - splice_left_} * channels_;
    for (int c = 0; c < channels_; ++c) {
      const std::size_t k = std::size_t{i} * channels_ + c;
      float v = pcm[k] * gin + hold_[c] * gout;
      if (splice_left_) v += (old[c] * (left < d::kFadeFrames ? gin : 1.0f) - v) * gsplice;
      out[k] = v;
      last_[c] = v;
    }
    if (fade_in_left_) --fade_in_left_;
    if (fade_out_left_) --fade_out_left_;
    if (splice_left_) --splice_left_;
  }
}

void Player::silence(float* out, std::uint32_t frames) noexcept {
  if (splice_left_) {
    // A skip's crossfade cut short: ramp out from where it got to.
    splice_left_ = 0;
    if (fade_out_left_ == 0) begin_fade_out();
  }
  silent_ = true;
  fade_in_left_ = 0;
  constexpr float kStep = 1.0f / d::kFadeFrames;
  for (std::uint32_t i = 0; i < frames; ++i) {
    const float gout = static_cast<float>(fade_out_left_) * kStep;
    for (int c = 0; c < channels_; ++c) {
      out[std::size_t{i} * channels_ + c] = hold_[c] * gout;
      last_[c] = hold_[c] * gout;
    }
    if (fade_out_left_) --fade_out_left_;
  }
}

void Player::push_status(const Cycle& cycle, std::uint32_t stream_frames) noexcept {
  status_.playing = state_ == State::Playing;
  status_.cursor = cursor_;
  status_.cycle_ns = clock_.cycle_ns();
  status_.cycle_jack_ns = clock_.cycle_jack_ns();
  status_.schedule_ns = clock_.schedule_ns();
  status_.period_frames = std::max<std::uint32_t>(stream_frames, 1);
  status_.period_ns = static_cast<std::int64_t>(cycle.nframes) * 1'000'000'000 / cycle.rate;
  // A call may leave up to a chunk rendered but not yet read by the
  // converter (which takes in only the input it needs); the slack covers
  // the unevenness of `period_frames` from one call to the next.
  status_.render_ahead = kRenderChunk + 8;
  status_.jack_rate = cycle.rate;
  status_.drift_ppm = clock_.drift_ppm();
  status_.ratio_ppm = clock_.ratio_ppm();
  status_.jack_clock_ppm = clock_.jack().valid() ? clock_.jack().deviation_ppm() : 0;
  status_.delay_frames = status_.playing ? clock_.delay_frames() : 0;
  status_out_.publish(status_);
}

}  // namespace audio
