#include "tools/cycle_ring.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace {

using testtools::CycleHeader;
using testtools::CycleRing;

// Bytes one cycle of `nframes` takes in a ring of `channels`.
constexpr std::size_t CycleBytes(std::uint32_t channels, std::uint32_t nframes) {
  return sizeof(CycleHeader) + std::size_t{channels} * nframes * sizeof(float);
}

// A sample value that names the cycle and frame exactly (below 2^24).
float Tag(std::uint32_t cycle, std::uint32_t frame) {
  return float((cycle % 10000) * 1000 + frame);
}

// Two channels whose samples name the cycle, channel and frame, so that a
// sample in the wrong place shows.
struct TwoChannels {
  std::vector<float> left, right;
  const float* ptrs[2];
  TwoChannels(std::uint32_t cycle, std::uint32_t nframes) : left(nframes), right(nframes) {
    for (std::uint32_t i = 0; i < nframes; ++i) {
      left[i] = Tag(cycle, i);
      right[i] = -Tag(cycle, i);
    }
    ptrs[0] = left.data();
    ptrs[1] = right.data();
  }
};

bool SamplesMatch(const std::vector<float>& planar, std::uint32_t cycle, std::uint32_t nframes) {
  for (std::uint32_t i = 0; i < nframes; ++i)
    if (planar[i] != Tag(cycle, i) || planar[nframes + i] != -Tag(cycle, i))
      return false;
  return true;
}

}  // namespace

TEST_CASE("cycle_ring: cycles come out whole and in order, full refuses, wrap splits") {
  constexpr std::uint32_t kFrames = 8;
  // Room for two cycles and a half: the third push is refused, and later
  // cycles straddle the end of the storage.
  CycleRing ring(CycleBytes(2, kFrames) * 5 / 2, 2);
  CycleHeader h;
  std::vector<float> planar;
  CHECK(ring.empty());
  CHECK_FALSE(ring.try_pop(h, planar));

  SUBCASE("full and empty") {
    TwoChannels a(1, kFrames), b(2, kFrames), c(3, kFrames);
    CHECK(ring.try_push({100, 5, 7, kFrames}, a.ptrs));
    CHECK(ring.try_push({108, 6, 15, kFrames}, b.ptrs));
    CHECK_FALSE(ring.try_push({116, 7, 23, kFrames}, c.ptrs));  // refused whole
    REQUIRE(ring.try_pop(h, planar));
    CHECK(h.rec_frame == 100);
    CHECK(h.wake_ns == 5);
    CHECK(h.jack_frames == 7);
    CHECK(h.nframes == kFrames);
    CHECK(SamplesMatch(planar, 1, kFrames));
    REQUIRE(ring.try_pop(h, planar));
    CHECK(h.rec_frame == 108);
    CHECK(SamplesMatch(planar, 2, kFrames));
    CHECK(ring.empty());
    CHECK_FALSE(ring.try_pop(h, planar));
  }

  SUBCASE("many laps over the end of the storage, cycles of varying length") {
    std::uint64_t rec = 0;
    for (std::uint32_t cycle = 0; cycle < 100; ++cycle) {
      const std::uint32_t n = 1 + cycle % kFrames;
      TwoChannels x(cycle, n);
      REQUIRE(ring.try_push({rec, int64_t(cycle), cycle, n}, x.ptrs));
      REQUIRE(ring.try_pop(h, planar));
      CHECK(h.rec_frame == rec);
      CHECK(h.jack_frames == cycle);
      REQUIRE(h.nframes == n);
      CHECK(SamplesMatch(planar, cycle, n));
      rec += n;
    }
    CHECK(ring.empty());
  }
}

TEST_CASE("cycle_ring: two threads, every cycle arrives once, whole and in order") {
  constexpr std::uint32_t kCycles = 200'000;
  constexpr std::uint32_t kMaxFrames = 64;
  CycleRing ring(CycleBytes(2, kMaxFrames) * 3, 2);  // small: many full/empty transitions
  std::uint64_t push_failures = 0;
  std::thread producer([&] {
    std::uint64_t rec = 0;
    for (std::uint32_t cycle = 0; cycle < kCycles;) {
      const std::uint32_t n = 1 + (cycle * 7) % kMaxFrames;
      TwoChannels x(cycle, n);
      if (ring.try_push({rec, int64_t(cycle), cycle, n}, x.ptrs)) {
        rec += n;
        ++cycle;
      } else {
        ++push_failures;
        std::this_thread::yield();
      }
    }
  });
  std::uint64_t bad = 0, rec = 0;
  CycleHeader h;
  std::vector<float> planar;
  for (std::uint32_t cycle = 0; cycle < kCycles;) {
    if (!ring.try_pop(h, planar)) {
      std::this_thread::yield();
      continue;
    }
    const std::uint32_t n = 1 + (cycle * 7) % kMaxFrames;
    if (h.jack_frames != cycle || h.rec_frame != rec || h.nframes != n ||
        !SamplesMatch(planar, cycle, n))
      ++bad;
    rec += n;
    ++cycle;
  }
  producer.join();
  CHECK(bad == 0);
  CHECK(ring.empty());
  MESSAGE("producer found the ring full " << push_failures << " times");
}
