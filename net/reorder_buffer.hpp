// The reorder stage of StreamReceiver: packets that came after a gap wait
// here, by extended sequence number, for the gap before them to be filled
// (by the missing packet, FEC or concealment). A fixed set of slots
// (kHeldPackets), a handful in use; the earliest is found by a scan.
//
// Thread: net. Owned by StreamReceiver; storage is allocated once, in the
// constructor.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/defaults.hpp"

namespace net {

struct HeldPacket {
  std::int64_t seq = 0;          // extended sequence number
  std::int64_t ts = 0;           // extended RTP timestamp
  std::int64_t received_ns = 0;  // monotonic, for the fallback deadline
  std::uint32_t frames = 0;      // its duration (stream frames)
  std::uint32_t size = 0;
  bool lbrr = false;             // carries in-band FEC for the packet before it
  std::array<std::uint8_t, core::defaults::kMaxHeldBytes> data;

  std::span<const std::uint8_t> payload() const noexcept { return {data.data(), size}; }
};

class ReorderBuffer {
 public:
  ReorderBuffer();

  bool empty() const noexcept { return count_ == 0; }
  bool full() const noexcept { return count_ == core::defaults::kHeldPackets; }

  /// Keeps a copy of the packet. False (nothing kept) when its payload is
  /// larger than a slot or every slot is taken.
  bool hold(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
            std::uint32_t frames, bool lbrr, std::int64_t received_ns) noexcept;

  /// The packet with the lowest sequence number held; nullptr when empty.
  HeldPacket* earliest() noexcept;
  const HeldPacket* earliest() const noexcept;

  /// Frees the slot of a packet earliest() returned.
  void drop(const HeldPacket* h) noexcept;

  void clear() noexcept;

 private:
  const std::unique_ptr<HeldPacket[]> slots_;
  std::array<bool, core::defaults::kHeldPackets> used_{};
  std::size_t count_ = 0;
};

}  // namespace net
