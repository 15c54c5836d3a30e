// Which sender the stream is. The first stage of StreamReceiver: every
// valid RTP packet passes here before anything else sees it.
// - A payload type given by the user admits only that type.
// - Locked to an SSRC and payload type, the stream ignores any other
//   source while its own is live (a second sender talking over it), and
//   takes one over once its own has been quiet for kStreamIdleMs or four
//   packet durations: a sender restart, or a switch of payload type.
// - A source not yet locked waits on probation (RFC 3550 A.1,
//   MIN_SEQUENTIAL = 2): its first packet is kept in a slot until a second
//   one from the same SSRC and payload type confirms it, a few sequence
//   numbers apart either way; then both are taken, the earlier first, so
//   the stream starts where it starts and no loss goes uncounted. A random
//   sequence number lands that near 1 time in 2000.
// Packets refused or waiting count as foreign; a waiting packet that is
// confirmed stops counting.
//
// Thread: net. Owned by StreamReceiver; storage is allocated once, in the
// constructor.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "core/defaults.hpp"
#include "net/rtp_packet.hpp"

namespace net {

class SourceLock {
 public:
  struct Config {
    int payload_type = -1;  // admit only this payload type; -1: any
    bool probation = true;
  };

  /// What to take of a datagram, in order: nothing, the packet itself, or
  /// (probation confirmed) the kept packet and this one, the earlier first.
  /// A kept packet's payload points into the lock's storage, valid until
  /// the next call of admit().
  struct Admission {
    int count = 0;
    std::array<RtpPacket, 2> packets{};
    std::array<std::int64_t, 2> arrival_ns{};
    std::array<bool, 2> ours{};  // of the locked stream (false: it starts a new one)
  };

  explicit SourceLock(const Config& config);

  /// False (counted foreign) when the packet's payload type is not the one
  /// asked for, or it is another source while ours is live.
  bool accepts(const RtpPacket& p, std::int64_t now_ns) noexcept;

  /// Whether `p` is of the locked stream: its SSRC and payload type.
  bool ours(const RtpPacket& p) const noexcept {
    return locked_ && p.ssrc == ssrc_ && p.payload_type == payload_type_;
  }

  /// What to take of an accepted packet. `ours`: ours() and not a far jump
  /// (a jump is a restart, which probation must confirm like a new source).
  Admission admit(const RtpPacket& p, std::span<const std::uint8_t> datagram, bool ours,
                  std::int64_t arrival_ns) noexcept;

  /// The stream locked to this source.
  void lock(std::uint32_t ssrc, std::uint8_t payload_type) noexcept;
  /// No stream: the next source that proves itself locks (a new format:
  /// what was locked is not decoded any more).
  void release() noexcept { locked_ = false; }
  /// Admit only this payload type from now on (-1: any).
  void set_payload_type(int payload_type) noexcept { config_.payload_type = payload_type; }

  /// A packet of the stream was taken at `now_ns`, `packet_ns` long: the
  /// stream is live.
  void heard(std::int64_t now_ns, std::int64_t packet_ns) noexcept;

  bool locked() const noexcept { return locked_; }
  std::uint32_t ssrc() const noexcept { return ssrc_; }
  std::uint8_t payload_type() const noexcept { return payload_type_; }

  /// Monotonic time of the stream's latest packet (heard()).
  std::int64_t heard_ns() const noexcept { return heard_ns_; }

  /// Packets refused or still waiting on probation.
  std::uint64_t foreign() const noexcept { return foreign_; }

 private:
  struct Candidate {
    bool used = false;
    std::uint32_t ssrc = 0;
    std::uint8_t payload_type = 0;
    std::uint16_t seq = 0;
    std::int64_t arrival_ns = 0;
    std::uint32_t size = 0;
    std::array<std::uint8_t, core::defaults::kMaxDatagramBytes> data;
  };

  Config config_;
  bool locked_ = false;
  std::uint32_t ssrc_ = 0;
  std::uint8_t payload_type_ = 0;
  std::int64_t heard_ns_ = 0;     // monotonic, of the stream's latest packet
  std::int64_t packet_ns_ = 0;    // its duration
  std::uint64_t foreign_ = 0;
  // Sources on probation, by a hash of SSRC and payload type: a flood of
  // others evicts the real one's first packet now and then, which only
  // delays its lock by a packet.
  const std::unique_ptr<Candidate[]> candidates_;
};

}  // namespace net
