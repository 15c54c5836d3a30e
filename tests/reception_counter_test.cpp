#include "net/reception_counter.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

namespace {

constexpr std::int64_t kMs = 1'000'000;

// A packet of the stream: its 16-bit sequence number and 32-bit timestamp
// extended as the receiver does, then counted.
bool arrive(net::ReceptionCounter& c, std::uint16_t seq, std::uint32_t ts, std::int64_t at_ns) {
  return c.arrived(c.extend_seq(seq), c.extend_ts(ts), at_ns);
}

}  // namespace

TEST_CASE("reception_counter: sequence numbers and timestamps extend across the wrap") {
  net::ReceptionCounter c;
  c.restart(65534, 0xFFFFFC40u);  // 960 before the timestamp wraps
  std::uint16_t seq = 65534;
  std::uint32_t ts = 0xFFFFFC40u;
  for (int i = 0; i < 4; ++i, ++seq, ts += 960) CHECK(arrive(c, seq, ts, i * 20 * kMs));
  CHECK(c.extend_seq(0) == 65536);  // 65534, 65535, 0, 1: forward, not back
  CHECK(c.highest_seq() == 65537);
  CHECK(c.highest_ts() == 0xFFFFFC40LL + 3 * 960);
  CHECK(c.highest_ts() > 0xFFFFFFFFLL);
  CHECK(c.base_seq() == 65534);
  CHECK(c.received() == 4);
  CHECK(c.lost() == 0);
  // A straggler from before the wrap extends backwards, not a cycle on.
  CHECK(c.extend_seq(65535) == 65535);
}

TEST_CASE("reception_counter: a reordered packet is not new, and the loss it seemed recovers to 0") {
  net::ReceptionCounter c;
  c.restart(100, 0);
  CHECK(arrive(c, 100, 0, 0));
  CHECK(arrive(c, 102, 1920, 40 * kMs));
  CHECK(c.lost() == 1);  // 101 missing so far
  CHECK_FALSE(arrive(c, 101, 960, 41 * kMs));  // came after a later one
  CHECK(c.lost() == 0);
  CHECK(c.highest_seq() == 102);  // the highest stays where it was
  CHECK(c.highest_ts() == 1920);
  CHECK(c.received() == 3);
}

TEST_CASE("reception_counter: a duplicate is known within the last 1024, and only then") {
  net::ReceptionCounter c;
  c.restart(10, 0);
  CHECK_FALSE(c.duplicate(10));
  CHECK(arrive(c, 10, 0, 0));
  CHECK(c.duplicate(10));
  CHECK_FALSE(c.duplicate(11));  // never received
  // 12 arrives with 11 missing: 11 is late when it comes, not a duplicate.
  CHECK(arrive(c, 12, 1920, 40 * kMs));
  CHECK_FALSE(c.duplicate(11));
  CHECK(c.duplicate(12));
  // 1024 packets later, 10's slot holds another number.
  for (std::uint16_t s = 13; s <= 10 + 1024; ++s) arrive(c, s, std::uint32_t{s} * 960, s * 20 * kMs);
  CHECK_FALSE(c.duplicate(10));
  CHECK(c.duplicate(10 + 1024));
  // A restart forgets what was received: the new epoch's numbers are new.
  c.restart(12, 0);
  CHECK_FALSE(c.duplicate(12));
}

TEST_CASE("reception_counter: loss is kept across restarts and never goes negative") {
  net::ReceptionCounter c;
  CHECK(c.lost() == 0);  // nothing started
  c.restart(10, 0);
  arrive(c, 10, 0, 0);
  arrive(c, 13, 3 * 960, 60 * kMs);
  CHECK(c.lost() == 2);
  // The sender restarts far away: the two lost stay counted.
  c.restart(5000, 777);
  CHECK(c.lost() == 2);
  CHECK(c.received() == 0);
  CHECK(c.base_seq() == 5000);
  arrive(c, 5000, 777, 100 * kMs);
  arrive(c, 5002, 777 + 1920, 140 * kMs);
  CHECK(c.lost() == 3);
  // More received than expected in this epoch (an old copy counted twice
  // by a caller): this epoch counts 0, not -1 off the earlier loss.
  c.restart(9000, 0);
  arrive(c, 9000, 0, 200 * kMs);
  c.arrived(9000, 0, 201 * kMs);
  CHECK(c.lost() == 3);
  // ... and a packet before the epoch's base does not make loss negative.
  c.restart(20000, 0);
  c.arrived(19999, 0, 300 * kMs);
  CHECK(c.lost() == 3);
}

TEST_CASE("reception_counter: jitter is RFC 3550 A.8's") {
  SUBCASE("perfectly paced arrivals: 0") {
    net::ReceptionCounter c;
    c.restart(0, 1000);
    for (int i = 0; i < 100; ++i)
      arrive(c, static_cast<std::uint16_t>(i), 1000 + static_cast<std::uint32_t>(i) * 960,
             1'000'000'000 + i * 20 * kMs);
    CHECK(c.jitter() < 1e-6);
  }
  SUBCASE("arrivals alternately 1 ms early and late: |D| = 2 ms = 96 units, J -> 96") {
    net::ReceptionCounter c;
    c.restart(0, 0);
    double expected = 0;  // the RFC's recurrence, by hand
    for (int i = 0; i < 200; ++i) {
      const std::int64_t wobble = (i % 2 == 0 ? -1 : 1) * kMs;
      arrive(c, static_cast<std::uint16_t>(i), static_cast<std::uint32_t>(i) * 960,
             1'000'000'000 + i * 20 * kMs + wobble);
      if (i > 0) expected += (96.0 - expected) / 16.0;
      if (i == 1) CHECK(c.jitter() == doctest::Approx(6.0));  // 96 / 16 after the first D
    }
    CHECK(c.jitter() == doctest::Approx(expected).epsilon(1e-6));
    CHECK(c.jitter() == doctest::Approx(96.0).epsilon(1e-3));
  }
  SUBCASE("a reordered packet's transit counts too") {
    net::ReceptionCounter c;
    c.restart(0, 0);
    arrive(c, 0, 0, 0);
    arrive(c, 2, 1920, 40 * kMs);
    const double before = c.jitter();
    arrive(c, 1, 960, 45 * kMs);  // 25 ms after its place: D = 1200 units
    CHECK(before == doctest::Approx(0.0));
    CHECK(c.jitter() == doctest::Approx(1200.0 / 16).epsilon(1e-6));
  }
}
