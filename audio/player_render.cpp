// The player's rendering: what each playout state plays, piece by piece,
// at the stream's rate (the converter asks for it in small chunks). The
// state machine and the steering are in audio/player.cpp.
//
// Thread: audio. Real-time safe.
#include "audio/player.hpp"

#include <algorithm>
#include <cstdint>

namespace audio {

void Player::render(float* out, std::uint32_t frames) noexcept {
  // What the state plays, piece by piece: each piece ends where the state
  // may change.
  for (std::uint32_t done = 0; done < frames;) {
    float* const dst = out + std::size_t{done} * format_->channels;
    const std::uint32_t want = frames - done;
    switch (state_) {
      case State::Buffering:
        if (dry_.on) dry_.frames += want;
        fader_.silence(dst, want);
        return;
      case State::Replaying:
        done += replay(dst, want);
        break;
      case State::Holding:
        done += hold(dst, want);
        break;
      case State::Playing:
        done += play_records(dst, want);
        break;
    }
  }
}

std::uint32_t Player::replay(float* out, std::uint32_t frames) noexcept {
  // What played before the cursor plays again, up to the cursor, where
  // the records go on.
  const std::int64_t pos = cursor_ - replay_left_;
  auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(replay_left_, frames));
  const float* pcm = splicer_.played(pos, n);
  fader_.play(out, pcm, n, pos);
  replay_left_ -= n;
  status_.frames_played += n;
  if (replay_left_ == 0) transition(Event::PlayedOut);
  return n;
}

std::uint32_t Player::hold(float* out, std::uint32_t frames) noexcept {
  // Silence, the cursor standing still; what plays after it fades in.
  const auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(hold_left_, frames));
  fader_.stop();
  fader_.silence(out, n);
  hold_left_ -= n;
  if (hold_left_ == 0) transition(Event::PlayedOut);
  return n;
}

std::uint32_t Player::play_records(float* out, std::uint32_t frames) noexcept {
  intake_.drop_before(cursor_);
  if (buffer_.empty()) {
    // Net conceals anything missing in time, so an empty buffer means the
    // target is too small for this network, or the stream stopped. Which
    // one is decided when the next record comes (dry_).
    transition(Event::RanDry);
    return 0;
  }
  const core::PacketRecord* r = buffer_.front();
  if (r->timestamp > cursor_) {
    // A hole in the timeline (DTX, a paused sender, a gap too long to
    // conceal): silence until the next record starts.
    if (!in_hole_) {
      ++status_.gaps;
      in_hole_ = true;
      fader_.stop();
      if (align_in_hole(r)) return 0;  // holding first
    }
    const auto n = static_cast<std::uint32_t>(std::min<std::int64_t>(r->timestamp - cursor_, frames));
    fader_.silence(out, n);
    cursor_ += n;
    return n;
  }
  const auto offset = static_cast<std::uint32_t>(cursor_ - r->timestamp);
  const float* pcm = r->pcm + std::size_t{offset} * format_->channels;
  // Audio before a hole in the timeline fades out over its own last
  // samples instead of stopping mid-wave (a tail). Audio with nothing
  // after it yet plays on: net conceals whatever is missing before it is
  // due (and fades a stream that ended to silence), so waiting for a
  // successor here would only add latency; if the buffer does run dry,
  // the last sample ramps to zero.
  const core::PacketRecord* next = buffer_.size() > 1 ? buffer_.at(1) : nullptr;
  if (next != nullptr && next->timestamp > r->end()) fader_.end_at(r->end());
  const std::uint32_t n = fader_.play(out, pcm, std::min(r->frames - offset, frames), cursor_);
  splicer_.remember(cursor_, pcm, n);
  in_hole_ = false;
  cursor_ += n;
  status_.frames_played += n;
  return n;
}

}  // namespace audio
