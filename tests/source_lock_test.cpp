#include "net/source_lock.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

namespace {

constexpr std::int64_t kMs = 1'000'000;

// A datagram: RTP header and a three-byte payload.
std::vector<std::uint8_t> datagram(std::uint32_t ssrc, std::uint16_t seq, std::uint8_t pt = 96) {
  std::vector<std::uint8_t> d(15, 0);
  d[0] = 0x80;
  d[1] = pt;
  d[2] = static_cast<std::uint8_t>(seq >> 8);
  d[3] = static_cast<std::uint8_t>(seq);
  const std::uint32_t ts = seq * 960u;
  for (int i = 0; i < 4; ++i) d[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) d[8 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
  d[12] = 0xF8;
  d[13] = static_cast<std::uint8_t>(seq & 0xFF);
  return d;
}

net::RtpPacket parsed(const std::vector<std::uint8_t>& d) {
  net::RtpPacket p;
  REQUIRE(net::parse_rtp(d, p) == net::RtpError::None);
  return p;
}

// What the receiver does: ask, then take what is admitted (the first of a
// new source locks the stream).
struct Rig {
  explicit Rig(net::SourceLock::Config c = {}) : lock(c) {}
  net::SourceLock lock;
  std::int64_t now = 1000 * kMs;
  std::vector<std::uint16_t> taken;

  int offer(const std::vector<std::uint8_t>& d, std::int64_t advance_ms = 20) {
    now += advance_ms * kMs;
    const net::RtpPacket p = parsed(d);
    if (!lock.accepts(p, now)) return -1;
    const auto a = lock.admit(p, d, lock.ours(p), now);
    for (int i = 0; i < a.count; ++i) {
      const auto& q = a.packets[static_cast<std::size_t>(i)];
      if (!a.ours[static_cast<std::size_t>(i)]) lock.lock(q.ssrc, q.payload_type);
      lock.heard(now, 20 * kMs);
      taken.push_back(q.seq);
    }
    return a.count;
  }
};

}  // namespace

TEST_CASE("source_lock: probation holds the first packet until a second confirms it, then takes both in order") {
  Rig rig;
  CHECK(rig.offer(datagram(1, 100)) == 0);
  CHECK(rig.lock.foreign() == 1);
  CHECK(rig.offer(datagram(1, 101)) == 2);
  CHECK(rig.taken == std::vector<std::uint16_t>{100, 101});
  CHECK(rig.lock.foreign() == 0);  // the kept one was ours after all
  CHECK(rig.offer(datagram(1, 102)) == 1);

  // Arriving swapped: the earlier one still goes first, and its payload is
  // the kept copy's.
  Rig swapped;
  CHECK(swapped.offer(datagram(2, 501)) == 0);
  const auto d = datagram(2, 500);
  const net::RtpPacket p = parsed(d);
  REQUIRE(swapped.lock.accepts(p, swapped.now));
  const auto a = swapped.lock.admit(p, d, false, swapped.now);
  REQUIRE(a.count == 2);
  CHECK(a.packets[0].seq == 500);
  CHECK(a.packets[1].seq == 501);
  CHECK(a.packets[1].payload[1] == (501 & 0xFF));
  CHECK(a.ours[0] == false);
  CHECK(a.ours[1] == true);
}

TEST_CASE("source_lock: a second packet far from the first does not confirm it") {
  Rig rig;
  CHECK(rig.offer(datagram(1, 100)) == 0);
  CHECK(rig.offer(datagram(1, 100)) == 0);           // the same number: a duplicate
  CHECK(rig.offer(datagram(1, 100 + 5000)) == 0);    // far: replaces the candidate
  CHECK(rig.offer(datagram(1, 100 + 5001)) == 2);
  CHECK(rig.lock.foreign() == 3 - 1);
}

TEST_CASE("source_lock: another sender is refused while ours is live, taken once it is quiet") {
  Rig rig;
  rig.offer(datagram(1, 100));
  rig.offer(datagram(1, 101));
  CHECK(rig.offer(datagram(9, 7000)) == -1);         // ours spoke 20 ms ago
  CHECK(rig.offer(datagram(1, 96 + 0, 97)) == -1);   // our SSRC, another type: not ours either
  CHECK(rig.lock.foreign() == 2);
  // Ours quiet for 100 ms (kStreamIdleMs; four 20 ms packets are less): the
  // other starts its probation.
  CHECK(rig.offer(datagram(9, 7001), 101) == 0);
  CHECK(rig.offer(datagram(9, 7002)) == 2);
  CHECK(rig.lock.ours(parsed(datagram(9, 7003))));
  CHECK_FALSE(rig.lock.ours(parsed(datagram(1, 102))));
}

TEST_CASE("source_lock: a payload type asked for admits only that type; without probation a source is taken at once") {
  Rig rig({96, false});
  CHECK(rig.offer(datagram(1, 100, 111)) == -1);
  CHECK(rig.lock.foreign() == 1);
  CHECK(rig.offer(datagram(1, 100, 96)) == 1);
  CHECK(rig.taken == std::vector<std::uint16_t>{100});
}
