#include "audio/drift_controller.hpp"

#include <doctest/doctest.h>

#include <cmath>

namespace {

constexpr std::uint32_t kPacket = 240;  // 5 ms packets
constexpr std::uint32_t kTarget = 960;  // 20 ms
constexpr std::uint32_t kPeriod = 128;

// Feeds the loop `seconds` of callbacks at a constant depth (what the
// player measures: target plus half a packet when all is well).
void run(audio::DriftController& loop, double seconds, double depth) {
  for (int i = 0; i < static_cast<int>(seconds * 48000 / kPeriod); ++i)
    loop.update(depth, kPeriod, kPacket, kTarget);
}

// Up to the end of the loop's current window (100 ms), at a constant depth.
void window(audio::DriftController& loop, double depth) {
  const std::uint64_t n = loop.windows();
  while (loop.windows() == n) loop.update(depth, kPeriod, kPacket, kTarget);
}

audio::DriftController settled() {
  audio::DriftController loop;
  run(loop, 5, kTarget + kPacket / 2.0);
  window(loop, kTarget + kPacket / 2.0);  // a window starts now
  REQUIRE(std::fabs(loop.reference_frames() - kTarget) < 1);
  REQUIRE(loop.take_skip() == 0);
  return loop;
}

}  // namespace

TEST_CASE("drift: an xrun window's large step that the next window confirms is skipped") {
  audio::DriftController loop = settled();
  const double step = 48 * 30;  // 30 ms
  loop.note_xrun();
  window(loop, kTarget + kPacket / 2.0 + step);  // the window with the xrun
  CHECK(loop.take_skip() == 0);                    // not yet: judged by the next
  window(loop, kTarget + kPacket / 2.0 + step);
  const double skip = loop.take_skip();
  CHECK(skip == doctest::Approx(step).epsilon(0.05));
  CHECK(loop.reference_frames() == doctest::Approx(kTarget).epsilon(0.01));
}

TEST_CASE("drift: an xrun window's step that is gone a window later is not skipped") {
  // The server ran its missed cycles late and drained what its stall piled
  // up: a skip would have left the buffer short by the whole step.
  audio::DriftController loop = settled();
  loop.note_xrun();
  window(loop, kTarget + kPacket / 2.0 + 48 * 30);
  CHECK(loop.take_skip() == 0);
  window(loop, kTarget + kPacket / 2.0);
  CHECK(loop.take_skip() == 0);
  // The reference is back on the target (not left at the step, which the
  // loop would then refill by slowing playout).
  CHECK(loop.reference_frames() == doctest::Approx(kTarget).epsilon(0.01));
  run(loop, 1, kTarget + kPacket / 2.0);
  CHECK(std::fabs(loop.correction()) < 1e-4);
}

TEST_CASE("drift: a confirmed step skips only what is still there") {
  audio::DriftController loop = settled();
  loop.note_xrun();
  window(loop, kTarget + kPacket / 2.0 + 48 * 40);
  CHECK(loop.take_skip() == 0);
  window(loop, kTarget + kPacket / 2.0 + 48 * 25);  // half drained
  CHECK(loop.take_skip() == doctest::Approx(48 * 25).epsilon(0.05));
}

TEST_CASE("drift: a start well above the target is for the player to trim, once") {
  audio::DriftController loop;
  const double excess = 48 * 10;  // 10 ms
  window(loop, kTarget + kPacket / 2.0 + excess);  // the first window may straddle the start
  window(loop, kTarget + kPacket / 2.0 + excess);  // the reference starts here
  const double trim = loop.take_start_trim();
  CHECK(trim == doctest::Approx(excess).epsilon(0.001));
  CHECK(loop.take_start_trim() == 0);
  loop.trimmed(trim);
  CHECK(loop.reference_frames() == doctest::Approx(kTarget).epsilon(0.001));
  run(loop, 3, kTarget + kPacket / 2.0);  // the skip took the buffer down by as much
  CHECK(loop.take_start_trim() == 0);
  CHECK(std::fabs(loop.drift_ppm()) < 10);  // taken for no drift
}

TEST_CASE("drift: a start within 2 ms of the target glides there") {
  audio::DriftController loop;
  const double excess = 48 * 1.5;  // the callback's phase, a period and a bit
  window(loop, kTarget + kPacket / 2.0 + excess);
  window(loop, kTarget + kPacket / 2.0 + excess);
  CHECK(loop.take_start_trim() == 0);
  CHECK(loop.reference_frames() == doctest::Approx(kTarget + excess).epsilon(0.01));
}
