#include "net/depacketizer.hpp"

#include <algorithm>
#include <cassert>
#include <climits>

#include "core/defaults.hpp"

namespace net {

namespace d = core::defaults;

namespace {
constexpr std::int64_t kNsPerSec = 1'000'000'000;
}  // namespace

Depacketizer::Depacketizer(PayloadDecoder& decoder, std::uint32_t rate, core::RecordPool& pool,
                           core::SpscQueue<core::Message>& to_audio,
                           const AudioSchedule& audio, LatencyTuner& tuner, NetStats& stats)
    : decoder_(&decoder),
      rate_(rate),
      pool_(pool),
      to_audio_(to_audio),
      audio_(audio),
      tuner_(tuner),
      stats_(stats),
      repair_(std::make_unique<LossRepair>(decoder, rate)) {}

void Depacketizer::set_payload(PayloadDecoder& decoder, std::uint32_t rate) {
  repair_ = std::make_unique<LossRepair>(decoder, rate);
  decoder_ = &decoder;
  rate_ = rate;
}

void Depacketizer::restart(std::uint32_t epoch, std::int64_t seq, std::uint32_t first_ts) noexcept {
  epoch_ = epoch;
  repair_->reset();
  ledger_.reset();
  held_.clear();
  ts_offset_ = -std::int64_t{first_ts};  // stream positions of an epoch start at 0
  stretched_ = 0;
  next_seq_ = seq;
  next_pos_ = 0;
  last_decoded_seq_ = -1;
  last_frames_ = 0;
  rescue_pos_ = -1;
}

void Depacketizer::push(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
                        std::uint32_t frames, std::int64_t now_ns) noexcept {
  now_ns_ = now_ns;
  heard_ns_ = now_ns;
  if (seq < next_seq_) {
    ++stats_.packets_late;  // its place was filled (concealed) already
  } else if (seq == next_seq_) {
    decode_next(payload, seq, ts, frames);
    release_ready();
  } else {
    hold(payload, seq, ts, frames, now_ns);
  }
}

void Depacketizer::fill_due(std::int64_t now_ns, std::int64_t heard_ns) noexcept {
  now_ns_ = now_ns;
  heard_ns_ = heard_ns;
  // Bounded: each step fills at least one quantum or moves past a held
  // packet.
  for (int i = 0; i < 512 && gap_due() <= now_ns; ++i) {
    // Deadlines assume JACK's callbacks come on schedule after audio's
    // latest status. When the next one is overdue, the server has stalled
    // (or lost time): audio's cursor stands still, and so does the sender
    // when it runs in the same JACK graph. Filling a gap that only a later
    // callback needs would make the packet that is merely waiting with it
    // late: wait for the next status instead (the timer looks again every
    // millisecond). The next callback's own needs are still met.
    if (audio_.overdue(now_ns, epoch_) && audio_.need_time(next_pos_, epoch_) > audio_.next_callback_ns())
      break;
    fill_one();
  }
}

std::int64_t Depacketizer::next_deadline() const noexcept { return gap_due(); }

bool Depacketizer::take_moved() noexcept {
  const bool moved = moved_;
  moved_ = false;
  return moved;
}

void Depacketizer::grow(std::uint32_t frames, std::int64_t now_ns) noexcept {
  // Growth is wanted now (packets came late, or the buffer ran dry): while
  // audio plays, the difference is inserted as concealment where the stream
  // has got to, and what follows shifts by as much, so the buffer is deeper
  // at once at the cost of one concealment. Steering alone would take
  // seconds, with a late packet concealed every few. Beyond what
  // concealment makes at full level, steering does the rest.
  if (!audio_.playing(epoch_) || last_frames_ == 0) return;
  const std::int64_t q = repair_->quantum();
  const std::int64_t want = std::min<std::int64_t>((frames + q - 1) / q * q,
                                                   repair_->room_at_full_level() / q * q);
  if (want <= 0) return;
  now_ns_ = now_ns;
  repair_->begin(next_pos_);
  core::PacketRecord* r = concealed(static_cast<std::uint32_t>(want));
  if (r == nullptr) return;
  const std::int64_t n = r->frames;
  next_pos_ += n;
  ts_offset_ += n;  // everything not yet made moves later by as much
  stretched_ += n;
  rescue_pos_ = -1;  // the timeline moved: a late packet's place is not where the run began
  stats_.frames_stretched += static_cast<std::uint64_t>(n);
  link(r);
}

void Depacketizer::decode_next(std::span<const std::uint8_t> payload, std::int64_t seq,
                               std::int64_t ts, std::uint32_t frames) noexcept {
  next_seq_ = seq + 1;
  std::int64_t pos = ts + ts_offset_;
  if (place(payload, seq, frames, pos)) emit(payload, seq, pos, frames);
}

bool Depacketizer::place(std::span<const std::uint8_t> payload, std::int64_t seq,
                         std::uint32_t frames, std::int64_t& pos) noexcept {
  const bool successor = seq == last_decoded_seq_ + 1;
  const bool overlaps_run = successor && repair_->in_run() && pos < next_pos_;
  if (overlaps_run && pos == rescue_pos_ && rescue()) {
    // Late, but audio has not played the concealment made in its place:
    // decoded as if it had come in time, it replaces that concealment.
  } else if (overlaps_run && tuner_.absorb(static_cast<std::uint32_t>(next_pos_ - pos), heard_ns_)) {
    // --latency auto: the packet after the last one decoded, late, its
    // place concealed. It plays after the concealment instead of being
    // dropped, and everything after it as much later: the concealment
    // becomes a stretch of the timeline, and the buffer is as much deeper,
    // which is what the network now needs.
    stats_.frames_stretched += static_cast<std::uint64_t>(next_pos_ - pos);
    ts_offset_ += next_pos_ - pos;
    stretched_ += next_pos_ - pos;
    pos = next_pos_;
    ledger_.forget();
    moved_ = true;
  }
  // Concealment with nothing after it was for a real loss if packets are
  // missing before this one or this one is late; not if the sender paused.
  if (!successor || pos < next_pos_) {
    // A loss its successor's FEC could have repaired, had it come in time.
    if (ledger_.pending() && !successor && decoder_->carries_previous(payload))
      tuner_.on_loss_with_fec(frames);
    ledger_.confirm();
  }
  ledger_.forget();
  if (pos + frames <= next_pos_ && last_decoded_seq_ >= 0) {
    // Its whole place was concealed while it was on its way.
    ++stats_.packets_late;
    resync_after_late(payload, seq, pos);
    return false;
  }
  if (pos < next_pos_ && successor && !repair_->in_run()) {
    // The timestamp says this audio overlaps the packet decoded just before,
    // but the decoder's output is contiguous: keep it so. GStreamer's
    // rtpopuspay does this on its first step (648 instead of 960).
    ts_offset_ += next_pos_ - pos;
    pos = next_pos_;
  }
  // A timestamp jump without loss (DTX, a paused sender) stays a hole in the
  // timeline; audio plays silence through it.
  return true;
}

void Depacketizer::emit(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t pos,
                        std::uint32_t frames) noexcept {
  core::PacketRecord* r = acquire();
  if (r == nullptr) {
    next_pos_ = std::max(next_pos_, pos + frames);
    return;
  }
  const int n = repair_->decode(payload, pos, pos == next_pos_, r->pcm, static_cast<int>(max_frames()));
  stats_.frames_held += repair_->take_frames_held();
  if (n <= 0) {
    give_back(r);
    ++stats_.packets_invalid;
    return;
  }
  stamp(r, seq, pos, n, core::PacketRecord::Kind::Decoded);
  stats_.packet_frames = r->frames;
  last_frames_ = r->frames;
  last_decoded_seq_ = seq;
  rescue_pos_ = -1;
  next_pos_ = std::max(next_pos_, pos + n);
  link(r);
}

void Depacketizer::release_ready() noexcept {
  // Held packets that are now in order go to the decoder; any that fell
  // behind (the gap was concealed past them) are late.
  while (HeldPacket* h = held_.earliest()) {
    if (h->seq > next_seq_) break;
    if (h->seq == next_seq_) {
      decode_next(h->payload(), h->seq, h->ts, h->frames);
    } else {
      ++stats_.packets_late;
    }
    held_.drop(h);
  }
}

void Depacketizer::hold(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
                        std::uint32_t frames, std::int64_t now_ns) noexcept {
  if (payload.size() > d::kMaxHeldBytes) {
    ++stats_.packets_late;  // too large to hold: cannot wait for the gap before it
    return;
  }
  if (held_.full()) {
    // A gap that outlived a whole window of packets: give up on it.
    skip_to(*held_.earliest());
    if (seq < next_seq_) {
      ++stats_.packets_late;
      return;
    }
    if (seq == next_seq_) {
      decode_next(payload, seq, ts, frames);
      release_ready();
      return;
    }
  }
  [[maybe_unused]] const bool kept =
      held_.hold(payload, seq, ts, frames, decoder_->carries_previous(payload), now_ns);
  assert(kept && "depacketizer: a slot was freed above");
}

void Depacketizer::skip_to(const HeldPacket& h) noexcept {
  next_seq_ = std::max(next_seq_, h.seq);
  release_ready();
}

std::int64_t Depacketizer::gap_due() const noexcept {
  if (last_frames_ == 0) return INT64_MAX;  // nothing decoded this epoch: nothing to conceal from
  const HeldPacket* h = held_.earliest();
  const bool can_conceal = !repair_->exhausted();
  if (h == nullptr && !can_conceal) return INT64_MAX;
  // Concealment gave up on this gap: nothing is gained by waiting for it.
  if (h != nullptr && !can_conceal) return 0;
  // Due before the callback that may render the gap's first sample.
  const std::int64_t need = audio_.need_time(next_pos_, epoch_);
  if (need != INT64_MAX) return need - std::int64_t{d::kConcealMarginUs} * 1000;
  // Before playout starts (or while audio is silent) there is no deadline:
  // a missing packet gets the target latency to turn up.
  if (h == nullptr) return INT64_MAX;
  return h->received_ns + std::int64_t{tuner_.target_frames()} * kNsPerSec / rate_;
}

void Depacketizer::fill_one() noexcept {
  HeldPacket* h = held_.earliest();
  if (h == nullptr) {
    // Nothing after the gap has arrived yet: the packet is late or lost, or
    // the stream paused or ended, and its time has come. Concealed (at the
    // end of a stream that is a short, natural fade-out).
    if (!conceal(last_frames_)) repair_->give_up();  // no record: stop trying
    return;
  }
  const std::int64_t span = h->ts + ts_offset_ - next_pos_;
  if (span <= 0 || repair_->exhausted()) {
    skip_to(*h);  // filled up to it already, or too long a gap to conceal
    return;
  }
  const std::int64_t q = repair_->quantum();
  // One packet's worth left before the held one (the last of a run of
  // losses, or the only one), and it carries that packet in its FEC:
  // recovered rather than guessed.
  if (h->lbrr && span <= h->frames && span % q == 0) {
    recover(*h, span);
    skip_to(*h);
    return;
  }
  const std::int64_t want = std::min<std::int64_t>(last_frames_, span) / q * q;
  if (want == 0 || !conceal(static_cast<std::uint32_t>(want))) skip_to(*h);
}

void Depacketizer::recover(const HeldPacket& h, std::int64_t span) noexcept {
  tuner_.on_loss_with_fec(h.frames);
  core::PacketRecord* r = acquire();
  if (r == nullptr) return;
  const int n = repair_->recover(h.payload(), next_pos_, r->pcm, static_cast<int>(span));
  stats_.frames_held += repair_->take_frames_held();
  if (n <= 0) {
    give_back(r);
    return;
  }
  stamp(r, next_seq_, next_pos_, n, core::PacketRecord::Kind::Fec);
  ++stats_.packets_recovered;
  next_pos_ += n;
  link(r);
}

bool Depacketizer::conceal(std::uint32_t frames) noexcept {
  if (repair_->begin(next_pos_)) rescue_pos_ = next_pos_;
  core::PacketRecord* r = concealed(frames);
  if (r == nullptr) return false;
  // Counted when the run can no longer be replaced (net::ConcealmentLedger).
  ledger_.made(next_pos_);
  next_pos_ += r->frames;
  link(r);
  return true;
}

core::PacketRecord* Depacketizer::concealed(std::uint32_t frames) noexcept {
  core::PacketRecord* r = acquire();
  if (r == nullptr) return nullptr;
  // No more than a record holds (of many channels, less than a run at
  // full level can be), in the codec's steps.
  const std::uint32_t q = repair_->quantum();
  const int n = repair_->conceal(next_pos_, r->pcm, std::min(frames, max_frames() / q * q));
  if (n <= 0) {
    give_back(r);
    return nullptr;
  }
  stamp(r, -1, next_pos_, n, core::PacketRecord::Kind::Concealed);
  return r;
}

bool Depacketizer::in_time(std::int64_t pos) const noexcept {
  // Audio takes in what net links at the start of each callback: a record
  // linked before the callback that may render its first sample begins is
  // in time to replace the concealment there, unplayed. The margin covers
  // the decode. Before playout starts nothing has played.
  const std::int64_t need = audio_.need_time(pos, epoch_);
  return need == INT64_MAX || now_ns_ <= need - std::int64_t{d::kRescueMarginUs} * 1000;
}

bool Depacketizer::rescue() noexcept {
  if (!in_time(rescue_pos_)) return false;
  // The run's concealment was made for a packet that did come: counted as
  // concealment now, and audio counts it rescued when it replaces it (the
  // stats show the difference: concealment that played).
  ledger_.confirm();
  repair_->undo_run();
  rewind_to(rescue_pos_);
  return true;
}

void Depacketizer::rewind_to(std::int64_t pos) noexcept {
  // The timeline goes back over concealment audio holds: what is made
  // again below its end replaces records that were counted.
  ledger_.rewound(next_pos_);
  next_pos_ = pos;
  rescue_pos_ = -1;
}

void Depacketizer::resync_after_late(std::span<const std::uint8_t> payload, std::int64_t seq,
                                     std::int64_t pos) noexcept {
  // Too late to replace its own concealment, which plays. But net may have
  // concealed the places after it too (with a small target it conceals
  // ahead of every packet of a sender's late phase), and the packets for
  // those can only replace them (rescue) as the successor of the packet
  // decoded last: otherwise one late packet makes every packet after it
  // late as well, a run of concealment fading to silence until one comes
  // before its own deadline. So it is decoded, for the decoder's state
  // only, from where the run began, and the timeline goes back to its end:
  // what follows is made again over the concealment audio holds, while
  // that has not begun to play.
  if (rescue_pos_ < 0 || rescue_pos_ > pos || !repair_->in_run()) return;
  const std::int64_t need = audio_.need_time(pos + last_frames_, epoch_);
  if (need == INT64_MAX || now_ns_ > need - std::int64_t{d::kRescueMarginUs} * 1000) return;
  const int n = repair_->replay(payload);
  if (n <= 0) return;
  rewind_to(pos + n);
  last_decoded_seq_ = seq;
  last_frames_ = static_cast<std::uint32_t>(n);
}

core::PacketRecord* Depacketizer::acquire() noexcept {
  core::PacketRecord* r = pool_.acquire();
  if (r == nullptr) ++stats_.pool_exhausted;
  return r;
}

void Depacketizer::give_back(core::PacketRecord* r) noexcept {
  [[maybe_unused]] const bool ok = pool_.release(r);
  assert(ok && "depacketizer: record came from the pool");
}

void Depacketizer::stamp(core::PacketRecord* r, std::int64_t seq, std::int64_t pos, int frames,
                         core::PacketRecord::Kind kind) const noexcept {
  r->seq = seq;
  r->timestamp = pos;
  r->frames = static_cast<std::uint32_t>(frames);
  r->epoch = epoch_;
  r->kind = kind;
}

void Depacketizer::link(core::PacketRecord* r) noexcept {
  ledger_.linked(r->timestamp, now_ns_);
  if (!to_audio_.try_push(core::Message::link(r))) {
    ++stats_.queue_full;
    give_back(r);
  }
}

}  // namespace net
