#include "net/reorder_buffer.hpp"

#include <cstring>

namespace net {

namespace d = core::defaults;

ReorderBuffer::ReorderBuffer() : slots_(std::make_unique<HeldPacket[]>(d::kHeldPackets)) {}

bool ReorderBuffer::hold(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
                         std::uint32_t frames, bool lbrr, std::int64_t received_ns) noexcept {
  if (payload.size() > d::kMaxHeldBytes || full()) return false;
  std::size_t slot = 0;
  while (used_[slot]) ++slot;
  HeldPacket& h = slots_[slot];
  used_[slot] = true;
  ++count_;
  h.seq = seq;
  h.ts = ts;
  h.received_ns = received_ns;
  h.frames = frames;
  h.size = static_cast<std::uint32_t>(payload.size());
  h.lbrr = lbrr;
  std::memcpy(h.data.data(), payload.data(), payload.size());
  return true;
}

HeldPacket* ReorderBuffer::earliest() noexcept {
  return const_cast<HeldPacket*>(static_cast<const ReorderBuffer*>(this)->earliest());
}

const HeldPacket* ReorderBuffer::earliest() const noexcept {
  if (count_ == 0) return nullptr;
  const HeldPacket* best = nullptr;
  for (std::size_t i = 0; i < d::kHeldPackets; ++i)
    if (used_[i] && (best == nullptr || slots_[i].seq < best->seq)) best = &slots_[i];
  return best;
}

void ReorderBuffer::drop(const HeldPacket* h) noexcept {
  used_[static_cast<std::size_t>(h - slots_.get())] = false;
  --count_;
}

void ReorderBuffer::clear() noexcept {
  used_.fill(false);
  count_ = 0;
}

}  // namespace net
