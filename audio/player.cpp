#include "audio/player.hpp"

#include <algorithm>
#include <cassert>

namespace audio {

namespace d = core::defaults;

Player::Player(const PlayerConfig& config, core::SpscQueue<core::ToAudio>& from_net,
               core::SpscQueue<core::ToNet>& to_net)
    : channels_(config.channels),
      from_net_(from_net),
      to_net_(to_net),
      buffer_(config.capacity),
      pending_(std::make_unique<core::PacketRecord*[]>(config.capacity)),
      target_frames_(config.target_frames) {
  assert(channels_ >= 1 && channels_ <= d::kMaxChannels && "player: channel count");
  status_.target_frames = target_frames_;
}

void Player::process(float* const* out, std::uint32_t nframes, std::int64_t cycle_ns) noexcept {
  ++status_.callbacks;
  return_pending();
  drain_net();

  if (state_ == State::Playing) {
    const std::int64_t queued = buffer_.empty() ? 0 : buffer_.end() - cursor_;
    depth_min_ = std::min<std::uint32_t>(depth_min_, static_cast<std::uint32_t>(std::max<std::int64_t>(queued, 0)));
  }
  start_if_ready();

  std::uint32_t done = 0;
  if (state_ != State::Playing && dry_) dry_frames_ += nframes;
  while (done < nframes) {
    if (state_ != State::Playing) {
      silence(out, done, nframes - done);
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
      silence(out, done, nframes - done);
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
      }
      const auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(r->timestamp - cursor_, want));
      silence(out, done, n);
      cursor_ += n;
      done += n;
      continue;
    }
    const auto offset = static_cast<std::uint32_t>(cursor_ - r->timestamp);
    const std::uint32_t n = std::min(r->frames - offset, want);
    // Audio with nothing after it (a hole follows, or the buffer runs dry
    // within this call) fades out over its own last samples instead of
    // stopping mid-wave.
    const core::PacketRecord* next = buffer_.size() > 1 ? buffer_.at(1) : nullptr;
    const bool ends_here = next ? next->timestamp > r->end() : r->end() - cursor_ <= want;
    play(out, done, r->pcm + std::size_t{offset} * channels_, n,
         ends_here ? r->end() - cursor_ : INT64_MAX);
    in_hole_ = false;
    cursor_ += n;
    done += n;
    status_.frames_played += n;
  }
  while (state_ == State::Playing && !buffer_.empty() && buffer_.front()->end() <= cursor_)
    unlink(buffer_.pop_front());

  // Close the depth window after about one packet interval.
  if (state_ == State::Playing) {
    const std::uint32_t packet = buffer_.empty() ? nframes : buffer_.back()->frames;
    if (depth_window_left_ <= nframes) {
      status_.depth_frames = depth_min_ == UINT32_MAX ? 0 : depth_min_;
      depth_min_ = UINT32_MAX;
      depth_window_left_ = std::max(packet, nframes);
    } else {
      depth_window_left_ -= nframes;
    }
  } else {
    status_.depth_frames = 0;
  }
  push_status(nframes, cycle_ns);
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
        has_cursor_ = false;
        dry_ = false;
        in_hole_ = false;
        status_.epoch = m->value;
        break;
      case core::ToAudio::Kind::SetTarget:
        target_frames_ = m->value;
        status_.target_frames = m->value;
        break;
    }
  }
}

void Player::start_if_ready() noexcept {
  if (state_ == State::Playing || buffer_.empty()) return;
  // Start when the newest record has sat for the target latency: the queue
  // then holds L plus that record (DESIGN.md, "Latency, precisely").
  const std::int64_t need = std::int64_t{target_frames_} + buffer_.back()->frames;
  if (buffer_.end() - buffer_.front()->timestamp < need) return;
  cursor_ = std::max(buffer_.front()->timestamp, buffer_.end() - need);
  has_cursor_ = true;
  state_ = State::Playing;
  depth_min_ = UINT32_MAX;
  depth_window_left_ = 0;
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

void Player::play(float* const* out, std::uint32_t offset, const float* pcm, std::uint32_t frames,
                  std::int64_t frames_to_end) noexcept {
  if (silent_) {
    fade_in_left_ = d::kFadeFrames;
    silent_ = false;
  }
  // (A fade-out that ends in this call sets silent_ again below.)
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
    for (int c = 0; c < channels_; ++c) {
      const float v = pcm[std::size_t{i} * channels_ + c] * gin + hold_[c] * gout;
      out[c][offset + i] = v;
      last_[c] = v;
    }
    if (fade_in_left_) --fade_in_left_;
    if (fade_out_left_) --fade_out_left_;
  }
}

void Player::silence(float* const* out, std::uint32_t offset, std::uint32_t frames) noexcept {
  silent_ = true;
  fade_in_left_ = 0;
  constexpr float kStep = 1.0f / d::kFadeFrames;
  for (std::uint32_t i = 0; i < frames; ++i) {
    const float gout = static_cast<float>(fade_out_left_) * kStep;
    for (int c = 0; c < channels_; ++c) {
      out[c][offset + i] = hold_[c] * gout;
      last_[c] = hold_[c] * gout;
    }
    if (fade_out_left_) --fade_out_left_;
  }
}

void Player::push_status(std::uint32_t nframes, std::int64_t cycle_ns) noexcept {
  status_.playing = state_ == State::Playing;
  status_.cursor = cursor_;
  status_.cycle_ns = cycle_ns;
  status_.period_frames = nframes;
  // Keep half the queue for Unlinks: a status can be dropped, a record not.
  if (to_net_.size_approx() < to_net_.capacity() / 2)
    (void)to_net_.try_push(core::ToNet{core::ToNet::Kind::Status, nullptr, status_});
}

}  // namespace audio
