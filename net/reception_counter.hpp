// The stream's sequence space as RFC 3550 counts it: extended sequence
// numbers and timestamps (appendix A.1), packets expected and lost
// (appendix A.3), duplicates, and interarrival jitter (appendix A.8).
//
// Thread: net. Owned by net::StreamReceiver; nothing allocates.
#pragma once

#include <array>
#include <cstdint>

#include "core/defaults.hpp"

namespace net {

class ReceptionCounter {
 public:
  ReceptionCounter() noexcept { recent_.fill(INT64_MIN); }

  /// A new epoch starts with the packet `seq`, `ts`. Loss counted so far is
  /// kept.
  void restart(std::uint16_t seq, std::uint32_t ts) noexcept;
  /// The RTP clock's rate (the stream's), for the jitter's units: the
  /// jitter so far is the same time in the new units, and the next
  /// packet's transit starts over.
  void set_rate(std::uint32_t rate) noexcept {
    jitter_ *= static_cast<double>(rate) / rate_;
    rate_ = rate;
    have_transit_ = false;
  }

  /// The extended values nearest to the highest seen.
  std::int64_t extend_seq(std::uint16_t seq) const noexcept;
  std::int64_t extend_ts(std::uint32_t ts) const noexcept;

  /// The packet `seq` was received before (within the last 1024).
  bool duplicate(std::int64_t seq) const noexcept {
    return recent_[slot(seq)] == seq;
  }

  /// A packet new to the stream arrived at `arrival_ns` (CLOCK_MONOTONIC).
  /// False when it came after a later sequence number (reordered).
  bool arrived(std::int64_t seq, std::int64_t ts, std::int64_t arrival_ns) noexcept;

  /// Packets lost since start: expected less received, per epoch, never
  /// negative.
  std::uint64_t lost() const noexcept;

  std::int64_t base_seq() const noexcept { return base_seq_; }
  std::int64_t highest_seq() const noexcept { return highest_seq_; }
  std::int64_t highest_ts() const noexcept { return highest_ts_; }
  std::uint64_t received() const noexcept { return received_; }
  /// RFC 3550 A.8 interarrival jitter, in RTP timestamp units (the
  /// stream's rate).
  double jitter() const noexcept { return jitter_; }

 private:
  static std::size_t slot(std::int64_t seq) noexcept {
    return static_cast<std::size_t>(seq) % kRecent;
  }

  static constexpr std::size_t kRecent = 1024;
  bool started_ = false;
  std::uint32_t rate_ = core::defaults::kStreamRate;  // RTP timestamp units per second
  std::int64_t base_seq_ = 0;       // first extended sequence number of this epoch
  std::int64_t highest_seq_ = 0;    // highest extended sequence number seen
  std::int64_t highest_ts_ = 0;     // extended RTP timestamp of highest_seq_
  std::uint64_t received_ = 0;      // this epoch, duplicates excluded
  std::uint64_t lost_before_ = 0;   // loss counted in earlier epochs
  bool have_transit_ = false;
  double transit_ = 0.0;            // relative transit of the previous packet
  double jitter_ = 0.0;
  // Recently received extended sequence numbers, indexed modulo kRecent:
  // tells a duplicate from a late or reordered packet.
  std::array<std::int64_t, kRecent> recent_{};
};

}  // namespace net
