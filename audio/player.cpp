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
constexpr std::uint32_t kRenderChunk = 8;
constexpr std::uint32_t kStageFrames = kRenderChunk;
// Queued audio this far beyond the target and the newest record means the
// callback stopped for a while (JACK suspended or stalled) while the
// network went on: skip to the target rather than stay that late.
constexpr std::int64_t kCatchUpExcess = d::kStreamRate / 10;  // 100 ms
// ...for this many calls in a row: a message that deepens the target on
// purpose may trail the records it explains by a call or two.
constexpr std::uint32_t kCatchUpCalls = 8;
// A JACK stall shorter than catch_up()'s excess leaves the buffer deeper by
// as much when the network went on meanwhile and the server does not catch
// up (the drift loop's first whole window after the stall shows it): from
// this much on the excess is skipped (crossfaded, right after the stall's
// own glitch) instead of gliding back at 0.2 % for seconds.
// Smaller excesses glide away (5 s for 10 ms): a skip is a crossfade, and
// a crossfade a listener can hear where the glide is inaudible.
constexpr std::int64_t kStallSkipMin = d::kStreamRate / 100;  // 10 ms
// Stall debt (DriftController::debt_frames) is played away at 0.2 %; a
// server that loses time faster than that (1 % and more seen on busy VMs)
// piles it up, stall by small stall, and the latency with it without
// bound. From this much on it is skipped after the next stall.
constexpr std::int64_t kDebtSkipMin = d::kStreamRate / 50;  // 20 ms
}  // namespace

Player::Player(const PlayerConfig& config, core::SpscQueue<core::ToAudio>& from_net,
               core::SpscQueue<core::ToNet>& to_net)
    : channels_(config.channels),
      from_net_(from_net),
      to_net_(to_net),
      buffer_(config.capacity),
      pending_(std::make_unique<core::PacketRecord*[]>(config.capacity)),
      target_frames_(config.target_frames),
      splice_(std::make_unique<float[]>(std::size_t{kSpliceFrames} * config.channels)),
      search_(std::make_unique<float[]>(std::size_t{kSpliceSearch + kSpliceFrames} * config.channels)),
      resampler_(config.channels),
      stage_(std::make_unique<float[]>(std::size_t{kStageFrames} * config.channels)),
      out_(std::make_unique<float[]>(std::size_t{kMaxPeriod} * config.channels)) {
  assert(channels_ >= 1 && channels_ <= d::kMaxChannels && "player: channel count");
  status_.target_frames = target_frames_;
}

void Player::process(float* const* out, std::uint32_t nframes, std::int64_t cycle_ns,
                     std::uint32_t jack_rate) noexcept {
  ++status_.callbacks;
  return_pending();
  drain_net();
  if (jack_rate != jack_rate_) {
    // A new JACK rate (or the first call): the converter starts afresh.
    jack_rate_ = jack_rate;
    resampler_.reset();
  }
  if (nframes > kMaxPeriod || jack_rate == 0) {
    for (int c = 0; c < channels_; ++c) std::fill_n(out[c], nframes, 0.0f);
    return;
  }

  start_if_ready();
  // A short stall of the JACK side (cycles the server skipped, or ran late
  // on a busy machine; its own clock says so): the network went on filling the buffer meanwhile,
  // so it is that much deeper now. That is no drift: the loop's reference
  // moves up by as much and glides back (DriftController::shift_reference),
  // so the drift estimate does not wind up on it. Long stalls are
  // catch_up()'s.
  const std::int64_t period_ns = std::int64_t{nframes} * 1'000'000'000 / jack_rate;
  if (prev_cycle_ns_ != 0 && state_ == State::Playing) {
    const std::int64_t late_ns = cycle_ns - prev_cycle_ns_ - prev_period_ns_;
    // Either way: a server that catches up on lost time with cycles in
    // quick succession drains the buffer again.
    if (std::llabs(late_ns) > prev_period_ns_ / 2 &&
        late_ns < kCatchUpExcess * 1'000'000'000 / d::kStreamRate) {
      const double late_frames = static_cast<double>(late_ns) * d::kStreamRate / 1e9;
      if (stall_frames_ <= 0) {
        // skip_stall() judges by the first window wholly after the stall.
        // Stalls that come before that window is complete add to the one
        // it judges: restarted by each of a storm of stalls (a few per
        // 100 ms, seen on a busy VM), it would never complete, and the
        // backlog would grow unjudged.
        stall_reference_ = drift_.reference_frames();
        stall_debt_ = drift_.debt_frames();
        drift_.restart_window();
        stall_window_ = drift_.windows();
      }
      drift_.shift_reference(late_frames);
      stall_frames_ = std::max(0.0, stall_frames_ + late_frames);
    }
  }
  prev_cycle_ns_ = cycle_ns;
  prev_period_ns_ = period_ns;
  if (xruns_ != nullptr) {
    // Relaxed: a lone counter, no data behind it.
    const std::uint64_t x = xruns_->load(std::memory_order_relaxed);
    if (x != xruns_seen_) {
      xruns_seen_ = x;
      drift_.note_xrun();
    }
  }
  catch_up();
  skip_stall();
  const bool playing_before = state_ == State::Playing;
  // Depth at the start of the call: queued records plus what is rendered
  // and waiting in the converter's input (DriftController averages it).
  // Queued up to what came from the network (arrived_end), not up to
  // concealment net made ahead of a packet still on its way.
  const double depth = playing_before
                           ? static_cast<double>(std::max<std::int64_t>(arrived_end() - cursor_, 0)) +
                                 (stage_len_ - stage_pos_) + Resampler::kDelayFrames
                           : 0.0;

  // Output-driven: render the stream in small chunks as the converter asks.
  const double ratio = static_cast<double>(jack_rate) /
                       (static_cast<double>(d::kStreamRate) * (1.0 + drift_.correction()));
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

  if (playing_before && state_ == State::Playing) {
    const std::uint32_t packet = buffer_.empty() ? kRenderChunk : buffer_.back()->frames;
    drift_.update(depth, consumed, packet, target_frames_);
    if (const Skip s = skip_excess(drift_.take_skip(), target_queue()); s.meant > 0) {
      // A storm of xruns left the buffer this much deeper than the loop
      // steers to (DriftController::update): skipped, as after a stall.
      // What the splice left (it may skip a little less) is debt, played
      // away like a stall's.
      ++status_.stall_skips;
      drift_.shift_reference(static_cast<double>(s.meant - s.skipped));
    }
    // The start left the buffer this much deeper than the target
    // (DriftController::update), on average over its sawtooth: skipped down
    // to the next callback's needs at most, however low in the sawtooth
    // the queue is now. What the splice left glides away.
    if (const Skip s = skip_excess(drift_.take_start_trim(), std::int64_t{nframes} + kRenderChunk);
        s.meant > 0) {
      ++status_.start_trims;
      drift_.trimmed(static_cast<double>(s.skipped));
    }
  } else if (state_ != State::Playing) {
    drift_.reset();
    stall_frames_ = 0;
  }
  push_status(nframes, cycle_ns, jack_rate, consumed);
}

void Player::render(float* out, std::uint32_t nframes) noexcept {
  std::uint32_t done = 0;
  if (state_ != State::Playing && dry_) dry_frames_ += nframes;
  while (done < nframes) {
    if (state_ != State::Playing) {
      silence(out + std::size_t{done} * channels_, nframes - done);
      break;
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

void Player::drain_net() noexcept {
  // Bounded: the queue holds at most its capacity.
  while (auto m = from_net_.try_pop()) {
    switch (m->kind) {
      case core::ToAudio::Kind::Link: {
        core::PacketRecord* r = m->record;
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
        break;
      }
      case core::ToAudio::Kind::Reset:
        flush();
        if (state_ == State::Playing) begin_fade_out();
        state_ = State::Buffering;
        status_.epoch = m->value;
        has_cursor_ = false;
        dry_ = false;
        in_hole_ = false;
        tail_end_ = -1;
        splice_left_ = 0;
        break;
      case core::ToAudio::Kind::SetTarget:
        target_frames_ = m->value;
        status_.target_frames = m->value;
        break;
      case core::ToAudio::Kind::GrowTarget:
        // The records before this one made the buffer deeper by as much.
        target_frames_ = m->value;
        status_.target_frames = m->value;
        drift_.jump_reference(m->value);
        break;
    }
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

std::int64_t Player::arrived_end() const noexcept {
  // Net conceals a packet that has not come kConcealMarginUs before the
  // callback that may need it, and a packet that then comes in time
  // replaces that concealment (rescue). With a small target that happens
  // to the latest packets of a sender's pattern every few packets, and
  // counting the concealment as depth made the loop see the buffer up to
  // a packet deeper than the arrivals put it: 2.2 ms at a 5 ms target with
  // 5 ms packets, which it then steered away (or the start trim skipped),
  // and the packets after it came late. The depth that tells where
  // playout sits against the arrivals ends with the newest record made
  // from a packet; concealment in the middle of the queue counts (its
  // successors came). Bounded: walks back over trailing concealment only.
  for (std::size_t i = buffer_.size(); i-- > 0;) {
    const core::PacketRecord* r = buffer_.at(i);
    if (r->kind != core::PacketRecord::Kind::Concealed) return r->end();
  }
  return cursor_;
}

std::int64_t Player::target_queue() const noexcept {
  // The target less what the converter holds: stream frames queued ahead
  // of the cursor when playout sits at its target.
  return std::max<std::int64_t>(std::int64_t{target_frames_} - static_cast<std::int64_t>(Resampler::kDelayFrames), 0);
}

void Player::start_if_ready() noexcept {
  if (state_ == State::Playing || buffer_.empty()) return;
  // Start when the newest record has sat for the target latency: the queue
  // then holds L plus that record (DESIGN.md, "Latency, precisely"), the
  // converter's delay included, so that the drift controller starts at its
  // target rather than correcting a start-up offset.
  const std::int64_t need = target_queue() + buffer_.back()->frames;
  if (buffer_.end() - buffer_.front()->timestamp < need) return;
  cursor_ = std::max(buffer_.front()->timestamp, buffer_.end() - need);
  has_cursor_ = true;
  state_ = State::Playing;
  drift_.reset();
  stall_frames_ = 0;
}

void Player::catch_up() noexcept {
  if (state_ != State::Playing || buffer_.empty()) return;
  // The drift controller's +-0.5 % would take minutes to play a stall's
  // backlog away, with the pool held by it meanwhile (net drops new
  // packets). Jump as start_if_ready() would start, crossfading.
  const std::int64_t need = target_queue() + buffer_.back()->frames;
  // Measured from where the loop steers now: while --latency auto glides
  // down to a smaller target, the excess is on purpose. Stall debt is not:
  // a storm of stalls piles it up faster than skip_stall() judges.
  const auto gliding = static_cast<std::int64_t>(
      std::max(0.0, drift_.reference_frames() - drift_.debt_frames() - target_frames_));
  const std::int64_t allowed = need + gliding + kCatchUpExcess;
  // Audio queued, not the timeline's span: a hole in it (DTX, a sender's
  // timestamp jump) is no backlog. Counted only past the cheap test:
  // bounded by the buffer's capacity.
  bool over = buffer_.end() - cursor_ > allowed;
  if (over) {
    std::int64_t queued = 0;
    for (std::size_t i = 0; i < buffer_.size(); ++i) {
      const core::PacketRecord* r = buffer_.at(i);
      queued += std::max<std::int64_t>(r->end() - std::max(r->timestamp, cursor_), 0);
    }
    over = queued > allowed;
  }
  if (!over) {
    over_calls_ = 0;
    return;
  }
  if (++over_calls_ < kCatchUpCalls) return;
  over_calls_ = 0;
  jump_to(buffer_.end() - need, kSpliceSearch);
  drift_.reset();
  stall_frames_ = 0;
}

Player::Skip Player::skip_excess(double frames, std::int64_t keep) noexcept {
  if (frames <= 0 || buffer_.empty()) return {};
  const std::int64_t n = std::min(static_cast<std::int64_t>(frames),
                                  std::max<std::int64_t>(buffer_.end() - cursor_ - keep, 0));
  if (n <= 0) return {};
  const std::int64_t from = cursor_;
  return {n, jump_to(cursor_ + n, std::min<std::int64_t>(n, kSpliceSearch)) - from};
}

void Player::skip_stall() noexcept {
  if (stall_frames_ <= 0 || drift_.windows() <= stall_window_) return;
  const double stalled = stall_frames_;
  stall_frames_ = 0;
  if (state_ != State::Playing || buffer_.empty() || stall_reference_ < 0) return;
  // A whole window after the stall: how much deeper than before the
  // buffer is now. As deep as the stall was long when the network went on
  // meanwhile; no deeper at all when the sender stalled with JACK (a
  // sender in the same graph): then nothing piled up, and the reference
  // the stall moved up must come down at once, or the loop would slow
  // playout to fill a depth nobody lost.
  // Only the stall's own share, never more than it lasted: excess from
  // before it is the loop's, and a reference raised to the whole depth
  // would ratchet up with every stall of a server that keeps stalling.
  const double excess = drift_.window_depth() - stall_reference_;
  const std::int64_t keep = target_queue();
  const std::int64_t room = std::max<std::int64_t>(buffer_.end() - cursor_ - keep, 0);
  const std::int64_t piled =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(std::min(excess, stalled)), 0, room);
  // The debt: this stall's share and what earlier ones left unplayed.
  const double debt = stall_debt_ + static_cast<double>(piled);
  if (piled < kStallSkipMin && debt < static_cast<double>(kDebtSkipMin)) {
    // Too little to skip: the loop plays that much away.
    drift_.set_debt(debt);
    return;
  }
  const std::int64_t skip = std::min(static_cast<std::int64_t>(debt), room);
  ++status_.stall_skips;
  const std::int64_t from = cursor_;
  const std::int64_t skipped = jump_to(cursor_ + skip, std::min<std::int64_t>(skip, kSpliceSearch)) - from;
  drift_.set_debt(debt - static_cast<double>(skipped));
}

std::int64_t Player::jump_to(std::int64_t cursor, std::int64_t slack) noexcept {
  // A skip from the cursor to `cursor`, or up to `slack` short of it: the
  // old and the new audio are crossfaded over kSpliceFrames, spliced where
  // they match best (best_splice), as WSOLA splices (W. Verhelst and
  // M. Roelands, "An overlap-add technique based on waveform similarity
  // (WSOLA) for high quality time-scale modification of speech", ICASSP
  // 1993). Spliced anywhere, a tone would be mixed with itself out of
  // phase and dip (by up to all of it) in the middle of the crossfade.
  // Where either side is not all queued audio (a hole, the buffer's end),
  // or a fade is under way, the old audio ramps out and the new fades in.
  const bool steady = !silent_ && !in_hole_ && tail_end_ < 0 && fade_in_left_ == 0 &&
                      fade_out_left_ == 0 && splice_left_ == 0;
  bool spliced = false;
  if (steady && cursor > cursor_ && copy_stream(cursor_, kSpliceFrames, splice_.get())) {
    cursor = best_splice(cursor, std::max(cursor - slack, cursor_ + 1));
    spliced = copy_stream(cursor, kSpliceFrames, search_.get());  // the new side is queued too
  }
  // Records wholly before the new cursor go home.
  cursor_ = cursor;
  while (!buffer_.empty() && buffer_.front()->end() <= cursor_) {
    ++status_.records_dropped;
    unlink(buffer_.pop_front());
  }
  if (spliced) {
    splice_left_ = kSpliceFrames;  // play() mixes splice_ out as the new audio comes in
  } else {
    begin_fade_out();
    silent_ = true;  // what plays next fades in
  }
  in_hole_ = false;
  tail_end_ = -1;
  return cursor_;
}

bool Player::copy_stream(std::int64_t from, std::uint32_t frames, float* dst) const noexcept {
  // Queued audio [from, from + frames) into dst, interleaved; false where
  // some of it is not queued. Bounded by the buffer's capacity.
  std::int64_t pos = from;
  std::uint32_t done = 0;
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

std::int64_t Player::best_splice(std::int64_t latest, std::int64_t earliest) const noexcept {
  // The position in [earliest, latest] whose next kSpliceFrames correlate
  // best (normalised cross-correlation) with splice_, the audio that would
  // have played on (of near-equal peaks, the latest). Bounded: at most
  // (kSpliceSearch + 1) x kSpliceFrames x channels multiply-adds, about
  // 0.1 ms, once per skip.
  const auto span = static_cast<std::uint32_t>(std::clamp<std::int64_t>(latest - earliest, 0, kSpliceSearch));
  earliest = latest - span;
  if (span == 0 || !copy_stream(earliest, span + kSpliceFrames, search_.get())) return latest;
  const std::size_t n = std::size_t{kSpliceFrames} * channels_;
  const float* old = splice_.get();
  double old_energy = 0;
  for (std::size_t k = 0; k < n; ++k) old_energy += double{old[k]} * old[k];
  // Silence, or near it (below -60 dBFS, a codec's idle noise): a splice
  // anywhere is inaudible, so the whole skip.
  if (old_energy < 1e-6 * static_cast<double>(n)) return latest;
  // Energy of each candidate's window, slid along.
  const float* s = search_.get();
  const std::size_t step = static_cast<std::size_t>(channels_);
  double energy = 0;
  for (std::size_t k = 0; k < n; ++k) energy += double{s[span * step + k]} * s[span * step + k];
  std::array<float, kSpliceSearch + 1> score;
  float top = -2;
  for (std::uint32_t c = span + 1; c-- > 0;) {
    const float* w = s + std::size_t{c} * step;
    if (c < span) {
      for (std::size_t k = 0; k < step; ++k) {
        energy += double{w[k]} * w[k];
        energy -= double{w[n + k]} * w[n + k];
      }
    }
    float dot = 0;
    for (std::size_t k = 0; k < n; ++k) dot += old[k] * w[k];
    score[c] = static_cast<float>(dot / std::sqrt(std::max(energy, 1e-12) * old_energy));
    top = std::max(top, score[c]);
  }
  // A periodic sound matches once per period: of the peaks that score
  // within kNear of the best, the latest, which skips the most of what
  // was asked (the rest is left to the loop).
  constexpr float kNear = 0.05f;
  std::uint32_t best = span;
  for (std::uint32_t c = span + 1; c-- > 0;) {
    const bool peak = (c == span || score[c] >= score[c + 1]) && (c == 0 || score[c] >= score[c - 1]);
    if (peak && score[c] >= top - kNear) {
      best = c;
      break;
    }
  }
  return earliest + best;
}

void Player::resync() noexcept {
  flush();
  if (state_ == State::Playing) state_ = State::Buffering;
  has_cursor_ = false;
  dry_ = false;
  in_hole_ = false;
  tail_end_ = -1;
  silent_ = true;
  fade_out_left_ = 0;
  splice_left_ = 0;
  stage_pos_ = stage_len_ = 0;
  resampler_.reset();
  drift_.reset();
  stall_frames_ = 0;
}

void Player::flush() noexcept {
  while (!buffer_.empty()) unlink(buffer_.pop_front());
}

void Player::unlink(core::PacketRecord* r) noexcept {
  if (!to_net_.try_push(core::ToNet{core::ToNet::Kind::Unlink, r, {}})) {
    assert(pending_count_ < buffer_.capacity() && "player: more records out than the pool holds");
    pending_[pending_count_++] = r;
  }
}

void Player::return_pending() noexcept {
  while (pending_count_ > 0 &&
         to_net_.try_push(core::ToNet{core::ToNet::Kind::Unlink, pending_[pending_count_ - 1], {}}))
    --pending_count_;
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

void Player::push_status(std::uint32_t nframes, std::int64_t cycle_ns, std::uint32_t jack_rate,
                         std::uint32_t stream_frames) noexcept {
  status_.playing = state_ == State::Playing;
  status_.cursor = cursor_;
  status_.cycle_ns = cycle_ns;
  status_.period_frames = std::max<std::uint32_t>(stream_frames, 1);
  status_.period_ns = static_cast<std::int64_t>(nframes) * 1'000'000'000 / jack_rate;
  // A call may leave up to a chunk rendered but not yet read by the
  // converter (which takes in only the input it needs); the slack covers
  // the unevenness of `period_frames` from one call to the next.
  status_.render_ahead = kRenderChunk + 8;
  status_.jack_rate = jack_rate;
  status_.depth_frames =
      status_.playing && drift_.has_depth()
          ? static_cast<std::uint32_t>(std::max(0.0, std::round(drift_.depth_frames())))
          : 0;
  status_.drift_ppm = drift_.drift_ppm();
  // Keep half the queue for Unlinks: a status can be dropped, a record not.
  if (to_net_.size_approx() < to_net_.capacity() / 2)
    (void)to_net_.try_push(core::ToNet{core::ToNet::Kind::Status, nullptr, status_});
}

}  // namespace audio
