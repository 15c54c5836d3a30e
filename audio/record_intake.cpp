#include "audio/record_intake.hpp"

#include <cassert>

namespace audio {

RecordIntake::RecordIntake(JitterBuffer& buffer, core::SpscQueue<core::Message>& from_net,
                           core::SpscQueue<core::Message>& to_net)
    : buffer_(buffer),
      from_net_(from_net),
      to_net_(to_net),
      pending_capacity_(buffer.capacity() + core::defaults::kMaxFormatsOut),
      pending_(std::make_unique<core::Message[]>(pending_capacity_)) {}

bool RecordIntake::drain(std::uint32_t epoch, std::int64_t played_to, core::AudioStatus& status,
                         std::int64_t& first, core::StreamFormat*& format) noexcept {
  bool came = false;
  format = nullptr;
  // Bounded: the queue holds at most its capacity.
  while (auto m = from_net_.try_pop()) {
    if (m->format != nullptr) {
      format = m->format;
      return came;
    }
    core::PacketRecord* r = m->record;
    if (r->epoch != epoch) {
      // From a stream that is over (audio saw its successor's model
      // first), or from a new one whose model comes next call: either way
      // not playable now.
      unlink(r);
      continue;
    }
    if (!came) first = r->timestamp;
    came = true;
    if (r->end() <= played_to) {
      if (r->kind == core::PacketRecord::Kind::Decoded) ++status.records_late;
      unlink(r);
    } else if (const std::size_t i = buffer_.find(r->timestamp); i < buffer_.size()) {
      replace(i, r, played_to, status);
    } else if (!buffer_.insert(r)) {
      ++status.records_overflow;
      unlink(r);
    }
  }
  return came;
}

void RecordIntake::replace(std::size_t i, core::PacketRecord* r, std::int64_t played_to,
                           core::AudioStatus& status) noexcept {
  // A record where one already is: net made this place again. A packet
  // that came after its concealment (StreamReceiver::rescue), or what
  // follows it, replaces concealment that has not begun to play. Once
  // it has, the concealment plays on, and the packet was late after all.
  // A second decoded record is a duplicate.
  using Kind = core::PacketRecord::Kind;
  const core::PacketRecord* old = buffer_.at(i);
  const bool begun = played_to > old->timestamp;
  if (old->kind == Kind::Decoded || begun) {
    if (r->kind == Kind::Decoded && old->kind != Kind::Decoded) ++status.records_late;
    else if (old->kind == Kind::Decoded) ++status.records_duplicate;
    unlink(r);
    return;
  }
  if (old->kind == Kind::Concealed && r->kind != Kind::Concealed) ++status.records_rescued;
  unlink(buffer_.replace(i, r));
}

void RecordIntake::send_home(const core::Message& m) noexcept {
  if (!to_net_.try_push(m)) {
    assert(pending_count_ < pending_capacity_ && "player: more records out than the pool holds");
    pending_[pending_count_++] = m;
  }
}

void RecordIntake::return_pending() noexcept {
  while (pending_count_ > 0 && to_net_.try_push(pending_[pending_count_ - 1])) --pending_count_;
}

}  // namespace audio
