#include "net/audio_schedule.hpp"

#include <doctest/doctest.h>

#include <cstdint>

namespace {

constexpr std::int64_t kStart = 1'000'000'000;  // when the latest callback began
constexpr std::int64_t kPeriodNs = 2'666'667;  // 128 frames at 48 kHz

// Audio plays epoch 3: the latest callback began at kStart and left the
// cursor at 1000; it may render 40 frames beyond what it consumes.
core::AudioStatus playing() {
  core::AudioStatus s;
  s.epoch = 3;
  s.playing = true;
  s.cursor = 1000;
  s.cycle_ns = kStart;
  s.schedule_ns = kStart;
  s.period_frames = 128;
  s.period_ns = kPeriodNs;
  s.render_ahead = 40;
  return s;
}

}  // namespace

TEST_CASE("audio_schedule: need_time is the start of the first callback that may render a position") {
  net::AudioSchedule a;
  a.update(playing());
  REQUIRE(a.playing(3));
  // Before the cursor, or within what the latest callback may have rendered
  // ahead (1000 + 40): that callback has begun already.
  CHECK(a.need_time(0, 3) == kStart);
  CHECK(a.need_time(999, 3) == kStart);
  CHECK(a.need_time(1000, 3) == kStart);
  CHECK(a.need_time(1039, 3) == kStart);
  // After it: the next callback renders up to 1040 + 128, the one after
  // that 128 more.
  CHECK(a.need_time(1040, 3) == kStart + kPeriodNs);
  CHECK(a.need_time(1040 + 127, 3) == kStart + kPeriodNs);
  CHECK(a.need_time(1040 + 128, 3) == kStart + 2 * kPeriodNs);
  CHECK(a.need_time(1040 + 10 * 128 + 5, 3) == kStart + 11 * kPeriodNs);
  CHECK(a.next_callback_ns() == kStart + kPeriodNs);
  // Monotonic in the position.
  std::int64_t last = 0;
  for (std::int64_t pos = 0; pos < 5000; pos += 7) {
    const std::int64_t t = a.need_time(pos, 3);
    CHECK(t >= last);
    last = t;
  }
}

TEST_CASE("audio_schedule: no deadline while audio does not play the epoch") {
  net::AudioSchedule a;
  CHECK(a.need_time(0, 0) == INT64_MAX);  // no status yet
  CHECK_FALSE(a.playing(0));
  a.update(playing());
  CHECK(a.need_time(2000, 4) == INT64_MAX);  // another epoch
  CHECK(a.need_time(2000, 2) == INT64_MAX);
  CHECK_FALSE(a.playing(4));
  core::AudioStatus s = playing();
  s.playing = false;
  a.update(s);
  CHECK(a.need_time(2000, 3) == INT64_MAX);
  // A status without a period (before the first callback measured one).
  s = playing();
  s.period_frames = 0;
  a.update(s);
  CHECK(a.need_time(2000, 3) == INT64_MAX);
  s = playing();
  s.period_ns = 0;
  a.update(s);
  CHECK(a.need_time(2000, 3) == INT64_MAX);
  // The newest status counts, not the first.
  a.update(playing());
  CHECK(a.need_time(2000, 3) != INT64_MAX);
  CHECK(a.status().cursor == 1000);
}

TEST_CASE("audio_schedule: a callback is overdue after 1.5 periods and 0.5 ms, not before") {
  net::AudioSchedule a;
  a.update(playing());
  const std::int64_t limit = kStart + kPeriodNs + kPeriodNs / 2 + 500'000;
  CHECK_FALSE(a.overdue(kStart, 3));
  CHECK_FALSE(a.overdue(kStart + kPeriodNs, 3));  // the next one is due, not late
  CHECK_FALSE(a.overdue(limit, 3));
  CHECK(a.overdue(limit + 1, 3));
  CHECK(a.overdue(limit + 100 * kPeriodNs, 3));
  // Only for the epoch audio plays, and only while it plays.
  CHECK_FALSE(a.overdue(limit + 1, 4));
  core::AudioStatus s = playing();
  s.playing = false;
  a.update(s);
  CHECK_FALSE(a.overdue(limit + 1, 3));
  // Both go by the schedule JACK keeps (schedule_ns), not by when the
  // callback began (cycle_ns): while a stall is not yet confirmed as a
  // step, the schedule runs on from before it.
  s = playing();
  s.schedule_ns = kStart + 5 * kPeriodNs;
  a.update(s);
  CHECK_FALSE(a.overdue(limit + 1, 3));
  CHECK(a.overdue(limit + 5 * kPeriodNs + 1, 3));
  CHECK(a.need_time(1040, 3) == kStart + 6 * kPeriodNs);
}
