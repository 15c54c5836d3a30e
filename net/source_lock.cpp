#include "net/source_lock.hpp"

#include <algorithm>
#include <cstdlib>

namespace net {

namespace d = core::defaults;

SourceLock::SourceLock(const Config& config)
    : config_(config), candidates_(std::make_unique<Candidate[]>(d::kProbationSlots)) {}

bool SourceLock::accepts(const RtpPacket& p, std::int64_t now_ns) noexcept {
  if (config_.payload_type >= 0 && p.payload_type != config_.payload_type) {
    ++foreign_;
    return false;
  }
  if (!locked_ || ours(p)) return true;
  // Another SSRC (or our SSRC with another payload type) while ours is live
  // is a second sender: ignored. A sender that switches type stops the old
  // one, and junk that borrows our SSRC cannot restart the stream.
  const std::int64_t idle_ns = std::max<std::int64_t>(
      std::int64_t{d::kStreamIdleMs} * 1'000'000,
      4 * packet_ns_);
  if (now_ns - heard_ns_ < idle_ns) {
    ++foreign_;
    return false;
  }
  return true;
}

SourceLock::Admission SourceLock::admit(const RtpPacket& p, std::span<const std::uint8_t> datagram,
                                        bool ours, std::int64_t arrival_ns) noexcept {
  Admission a;
  if (ours || !config_.probation) {
    a.count = 1;
    a.packets[0] = p;
    a.arrival_ns[0] = arrival_ns;
    a.ours[0] = ours;
    return a;
  }
  std::uint32_t key = (p.ssrc + p.payload_type * 0x9E3779B1U) * 0x85EBCA6BU;
  key ^= key >> 16;  // every input bit reaches the low bits
  Candidate& c = candidates_[key % d::kProbationSlots];
  const auto ahead = static_cast<std::int16_t>(static_cast<std::uint16_t>(p.seq - c.seq));
  const bool confirms = c.used && c.ssrc == p.ssrc && c.payload_type == p.payload_type &&
                        ahead != 0 && std::abs(ahead) <= d::kProbationSeqWindow;
  if (!confirms) {
    c.used = true;
    c.ssrc = p.ssrc;
    c.payload_type = p.payload_type;
    c.seq = p.seq;
    c.arrival_ns = arrival_ns;
    c.size = datagram.size() <= c.data.size() ? static_cast<std::uint32_t>(datagram.size()) : 0;
    std::copy_n(datagram.begin(), c.size, c.data.begin());
    ++foreign_;
    return a;
  }
  c.used = false;
  RtpPacket kept;
  a.count = 1;
  a.packets[0] = p;
  a.arrival_ns[0] = arrival_ns;
  a.ours[0] = false;
  if (c.size == 0 || parse_rtp(std::span(c.data.data(), c.size), kept) != RtpError::None)
    return a;  // too big to keep: the stream starts with this packet
  --foreign_;  // the kept packet was ours after all
  const int first = ahead > 0 ? 0 : 1;  // where the kept packet goes
  a.count = 2;
  a.packets[first] = kept;
  a.arrival_ns[first] = c.arrival_ns;
  a.packets[1 - first] = p;
  a.arrival_ns[1 - first] = arrival_ns;
  // The first locks the stream, the second is then of it.
  a.ours = {false, true};
  return a;
}

void SourceLock::lock(std::uint32_t ssrc, std::uint8_t payload_type) noexcept {
  locked_ = true;
  ssrc_ = ssrc;
  payload_type_ = payload_type;
}

void SourceLock::heard(std::int64_t now_ns, std::int64_t packet_ns) noexcept {
  heard_ns_ = now_ns;
  if (packet_ns > 0) packet_ns_ = packet_ns;
}

}  // namespace net
