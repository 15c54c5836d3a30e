#include "audio/player.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <climits>
#include <cstdlib>
#include <utility>

namespace audio {

namespace d = core::defaults;

Player::Player(const PlayerConfig& config, core::SpscQueue<core::Message>& from_net,
               core::SpscQueue<core::Message>& to_net, core::Mailbox<core::StreamModel>& model,
               core::Mailbox<core::AudioStatus>& status)
    : initial_(config.format),
      model_(model),
      status_out_(status),
      buffer_(config.capacity),
      intake_(buffer_, from_net, to_net),
      fader_(config.format.channels, config.format.rate),
      splicer_(config.format.channels, config.format.rate),
      converter_(config.format) {
  clock_.set_stream_rate(format_->rate);
  status_.stream_rate = format_->rate;
  assert(format_->channels >= 1 && format_->channels <= format_->ports && format_->ports <= d::kMaxChannels &&
         "player: channel count");
}

void Player::process(float* const* out, const Cycle& cycle) noexcept {
  ++status_.callbacks;
  intake_.return_pending();
  take_model();
  drain_net();
  if (!converter_.begin(cycle.nframes, cycle.rate)) {
    // Longer than a period can be, or no rate: silence.
    for (int p = 0; p < format_->ports; ++p) std::fill_n(out[p], cycle.nframes, 0.0f);
    return;
  }
  clock_.on_cycle(cycle.jack_frames, cycle.wake_ns, cycle.rate);
  status_.jack_stalls = clock_.stalls();

  // Start when due; once playing, follow the clocks (which may skip,
  // replay, hold or start over).
  start_if_due();
  double ratio = 1;
  if (state_ != State::Buffering) steer(cycle.nframes, ratio);
  if (state_ == State::Buffering) ratio = clock_.idle_ratio();

  // Output-driven: the stream is rendered in small chunks as the converter
  // asks for them.
  const std::uint32_t consumed =
      converter_.run(out, cycle.nframes, ratio, [this](float* dst, std::uint32_t n) { render(dst, n); });
  if (state_ != State::Buffering) intake_.drop_before(cursor_);
  push_status(cycle, consumed);
}

void Player::transition(Event e, std::int64_t frames) noexcept {
  switch (e) {
    case Event::Due:  // Buffering -> Playing, from `frames`
      cursor_ = frames;
      has_cursor_ = true;
      hold_left_ = 0;
      replay_left_ = 0;
      in_hole_ = false;
      fader_.cancel_tail();
      clock_.start();
      state_ = State::Playing;
      return;
    case Event::RanDry:  // Playing -> Buffering; the next record says whether it was an underrun
      dry_ = {true, cursor_, 0};
      fader_.fade_out();
      state_ = State::Buffering;
      return;
    case Event::StartOver:  // -> Buffering, fading out here; the caller starts again where due
      ++status_.restarts;
      fader_.stop();
      fader_.cancel_crossfade();
      hold_left_ = 0;
      replay_left_ = 0;
      state_ = State::Buffering;
      return;
    case Event::NewStream:  // -> Buffering, with no cursor on the new stream
      if (state_ != State::Buffering) fader_.fade_out();
      has_cursor_ = false;
      dry_.on = false;
      in_hole_ = false;
      fader_.cancel_tail();
      fader_.cancel_crossfade();
      hold_left_ = 0;
      replay_left_ = 0;
      state_ = State::Buffering;
      return;
    case Event::NewFormat:  // -> Buffering, with no cursor; the old format's audio cannot fade into the new
    case Event::Resync:  // -> Buffering, with no cursor and nothing left to fade
      has_cursor_ = false;
      dry_.on = false;
      in_hole_ = false;
      fader_.reset();
      hold_left_ = 0;
      replay_left_ = 0;
      state_ = State::Buffering;
      return;
    case Event::Replay:  // -> Replaying `frames`; a hold already due follows the replay
      replay_left_ = frames;
      state_ = State::Replaying;
      return;
    case Event::Hold:  // -> Holding `frames`, after the replay if one is under way
      if (!fader_.silent()) fader_.fade_out();
      hold_left_ = frames;
      if (state_ != State::Replaying) state_ = State::Holding;
      return;
    case Event::PlayedOut:  // Replaying, Holding -> Playing, or the hold that follows a replay
      state_ = hold_left_ > 0 ? State::Holding : State::Playing;
      return;
  }
}

// --- Net: the model and the records ---------------------------------------

void Player::take_model() noexcept {
  const core::StreamModel* m = model_.take();
  if (m == nullptr) return;
  if (m->epoch != epoch_) {
    // A new stream (a sender restart): what the buffer holds is the old
    // one's. Records of the new epoch may have come already (drain_net).
    intake_.flush();
    transition(Event::NewStream);
    epoch_ = m->epoch;
    status_.epoch = m->epoch;
  }
  clock_.set_model(*m);
  status_.target_frames = m->target_frames;
}

void Player::drain_net() noexcept {
  // Bounded: each pass takes what is queued up to a format, and the queue
  // holds at most kMaxFormatsOut of them.
  for (;;) {
    if (incoming_ != nullptr) {
      // The old format's audio fades out first (within a callback or two:
      // its 1 ms ramp), then the new one starts from silence.
      if (!fader_.quiet() && ++incoming_cycles_ <= kMaxFadeCycles) return;
      install(incoming_);
      incoming_ = nullptr;
    }
    std::int64_t first = 0;
    core::StreamFormat* format = nullptr;
    if (intake_.drain(epoch_, has_cursor_ ? cursor_ : INT64_MIN, status_, first, format) && dry_.on) {
      // Playout would be at dry_.at + dry_.frames by now had the buffer
      // not run dry: a record from before that point was awaited.
      if (first < dry_.at + dry_.frames) ++status_.underruns;
      dry_.on = false;
    }
    if (format == nullptr) return;
    // What the buffer holds is an earlier stream's (the records of the new
    // one come after the format): it goes home, and what plays fades out.
    intake_.flush();
    transition(Event::NewStream);
    incoming_ = format;
    incoming_cycles_ = 0;
  }
}

void Player::install(core::StreamFormat* format) noexcept {
  // The swap pattern: here, at the start of a callback and before any
  // record after it in the queue is read, the new format replaces the old
  // one in O(1), and the old one goes home for net to destroy. Net sends a
  // format with a new epoch: what the buffer holds is an earlier stream's,
  // laid out by the old format, and goes home unplayed; the fader, the
  // splicer and the converter start over at the new rate and channels
  // (what played has faded out: drain_net()).
  assert(format->ports == format_->ports && "player: a format for other ports than JACK's");
  intake_.flush();
  transition(Event::NewFormat);
  core::StreamFormat* old = format_;
  format_ = format;
  fader_.set_stream(format->channels, format->rate);
  splicer_.set_stream(format->channels, format->rate);
  converter_.set_stream(*format);
  clock_.set_stream_rate(format->rate);
  status_.stream_rate = format->rate;
  ++status_.formats;
  if (old != &initial_) intake_.unlink(old);
}

void Player::resync() noexcept {
  if (incoming_ != nullptr) {
    install(incoming_);  // nothing plays: no fade to wait for
    incoming_ = nullptr;
  }
  intake_.flush();
  transition(Event::Resync);
  converter_.reset();
  clock_.reset_jack();
}

// --- Following the clocks: start, skip, replay, hold, start over ---------

void Player::start_if_due() noexcept {
  if (state_ != State::Buffering || buffer_.empty() || !clock_.ready()) return;
  // Playout starts with the stream position the clocks say is due: the one
  // that arrived on time the target latency ago. Earlier records are too
  // late to play; a stream not due yet waits.
  const double due = clock_.due();
  if (due < static_cast<double>(buffer_.front()->timestamp)) return;
  // What is rendered but unread and the converter's look-ahead play first.
  const std::int64_t cursor = std::llround(due + converter_.unread() + Resampler::kTaps / 2);
  intake_.drop_before(cursor, &status_.records_skipped);
  if (buffer_.empty()) return;  // all of it was older than what is due
  transition(Event::Due, cursor);
}

void Player::steer(std::uint32_t nframes, double& ratio) noexcept {
  // A skip must find queued beyond the due position what the splice
  // compares (within its window) and this cycle's audio with what the
  // converter reads ahead (from wherever in the window it lands); the rest
  // of the crossfade comes as it plays.
  const double cycle = nframes * (static_cast<double>(format_->rate) / converter_.rate()) +
                       RateConverter::kChunkFrames + Resampler::kTaps;
  const double needed = splicer_.search() + std::max<double>(cycle, splicer_.match_frames());
  const std::int64_t landing = static_cast<std::int64_t>(std::floor(clock_.due())) - splicer_.search();
  const PlayoutClock::Steer s =
      clock_.steer(position(), buffer_.end(), buffer_.contiguous_end(landing), needed, nframes);
  ratio = s.ratio;
  hole_error_ = std::llround(clock_.trimmed_error());
  if (s.restart) {
    // Far from where the clocks say playout should be (a long stall, a
    // pool that ran dry): start over from what is due, fading out here.
    transition(Event::StartOver);
    start_if_due();
  } else if (s.correct > 0) {
    ++status_.splices;
    jump_to(cursor_ + s.correct, splicer_.search());
  } else if (s.correct < 0) {
    if (splice_back(-s.correct)) {
      ++status_.splices;
    } else {
      // Not enough of what played is kept (or it had holes): silence.
      ++status_.holds;
      transition(Event::Hold, -s.correct);
    }
  }
}

double Player::position() const noexcept {
  // The stream position output first this cycle: the cursor less what is
  // rendered but unread and the converter's look-ahead, and less a hold or
  // a replay still to play before the cursor's audio.
  return static_cast<double>(cursor_ - hold_left_ - replay_left_) - converter_.unread() - Resampler::kTaps / 2;
}

bool Player::align_in_hole(const core::PacketRecord* r) noexcept {
  // A hole in the timeline (DTX, a sender that paused, or one whose
  // timestamps jumped): silence, which may take up at once the error the
  // clocks leave to the trim (PlayoutClock::trimmed_error), where the trim
  // would take many seconds. Behind: the hole plays that much shorter.
  // Ahead: silence is held that much longer first (Holding). Nothing else
  // moves the hole: a pause in real time plays in full; a jump while the
  // sender's packets go on plays in part until net's clock confirms it as
  // a step, and then playout skips the rest (steer()).
  const std::int64_t error = std::exchange(hole_error_, 0);
  if (error > 0) {
    cursor_ += std::min(error, r->timestamp - cursor_);
    ++status_.holes_shortened;
  } else if (error < 0) {
    ++status_.holes_lengthened;
    transition(Event::Hold, -error);
    return true;
  }
  return false;
}

void Player::jump_to(std::int64_t asked, std::int64_t window) noexcept {
  // A skip forward from the cursor to `asked`, or up to `window` either side
  // of it, spliced in phase where it can be (splice_at); otherwise what
  // plays ramps out and the new audio fades in.
  std::int64_t cursor = asked;
  const bool spliced = splice_at(asked, window, cursor);
  // Records wholly before the new cursor go home.
  cursor_ = cursor;
  intake_.drop_before(cursor_, &status_.records_skipped);
  if (!spliced) fader_.cut();
  in_hole_ = false;
  fader_.cancel_tail();
}

bool Player::splice_back(std::int64_t frames) noexcept {
  // A skip backwards by `frames`: what played from there to the cursor
  // plays again (Replaying), spliced in phase, and the records go on from
  // the cursor after it. Only over audio that played without a break and
  // is still kept.
  std::int64_t at = cursor_ - frames;
  if (splicer_.history_end() != cursor_ || at - splicer_.search() < splicer_.kept_from() ||
      !splice_at(at, splicer_.search(), at))
    return false;
  transition(Event::Replay, cursor_ - at);
  return true;
}

bool Player::splice_at(std::int64_t asked, std::int64_t window, std::int64_t& at) noexcept {
  // Where within `window` of `asked` a splice from the cursor lands in
  // phase (Splicer::find), crossfading from what would have played on.
  // False where either side is not all audio (a hole, the buffer's end) or
  // an edge of silence is under way (Fader::steady): the caller then ramps
  // the old audio out and fades the new in.
  double fraction = 0;
  at = asked;
  if (!fader_.steady() || in_hole_ || std::llabs(asked - cursor_) <= window ||
      !splicer_.find(cursor_, asked, window, buffer_, at, fraction))
    return false;
  // The waveforms match between two samples: the new audio is read
  // `fraction` of a frame further, gliding there over the crossfade.
  if (fraction != 0) converter_.warp(splicer_.crossfade(), fraction);
  fader_.crossfade(splicer_.old_side(), splicer_.crossfade());
  return true;
}

void Player::push_status(const Cycle& cycle, std::uint32_t stream_frames) noexcept {
  status_.playing = state_ != State::Buffering;
  status_.cursor = cursor_;
  status_.cycle_ns = clock_.cycle_ns();
  status_.cycle_jack_ns = clock_.cycle_jack_ns();
  status_.schedule_ns = clock_.schedule_ns();
  status_.jack_settling = clock_.jack_settling();
  status_.period_frames = std::max<std::uint32_t>(stream_frames, 1);
  status_.period_ns = static_cast<std::int64_t>(cycle.nframes) * 1'000'000'000 / cycle.rate;
  // A call may leave up to a chunk rendered but not yet read by the
  // converter (which takes in only the input it needs); the slack covers
  // the unevenness of `period_frames` from one call to the next.
  status_.render_ahead = RateConverter::kChunkFrames + 8;
  status_.jack_rate = cycle.rate;
  status_.drift_ppm = clock_.drift_ppm();
  status_.ratio_ppm = clock_.ratio_ppm();
  status_.jack_clock_ppm = clock_.jack().valid() ? clock_.jack().deviation_ppm() : 0;
  status_.delay_frames = status_.playing ? clock_.delay_frames() : 0;
  status_out_.publish(status_);
}

}  // namespace audio
