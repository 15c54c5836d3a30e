// LatencyTuner's policy where the simulated-time cases do not reach it.
#include "net/latency_tuner.hpp"

#include <doctest/doctest.h>

#include <cstdint>

namespace {
constexpr std::int64_t kMs = 1'000'000;

core::AudioStatus idle_status() {
  core::AudioStatus a;
  a.period_frames = 128;
  a.render_ahead = 16;
  return a;
}
}  // namespace

TEST_CASE("latency tuner: auto keeps its start target until a stream has been measured") {
  net::TunerConfig config;
  config.adaptive = true;
  config.initial_frames = 40 * 48;
  net::LatencyTuner tuner(config);
  // A minute of callbacks with no packet: nothing measured, nothing to
  // shrink to.
  for (std::int64_t t = 0; t < 60'000 * kMs; t += 3 * kMs) CHECK_FALSE(tuner.update(idle_status(), t));
  CHECK(tuner.target_frames() == 40 * 48);
  CHECK(tuner.changes() == 0);
  // Packets on time, 20 ms apart: after the first calm spell (5 s) it
  // shrinks towards what they need.
  const std::int64_t t0 = 60'000 * kMs;
  bool changed = false;
  for (std::int64_t k = 0; k < 400; ++k) {
    const std::int64_t t = t0 + k * 20 * kMs;
    tuner.on_packet(k * 960, t);
    changed = tuner.update(idle_status(), t) || changed;
    if (k * 20 < 4'900) CHECK(tuner.target_frames() == 40 * 48);
  }
  CHECK(changed);
  CHECK(tuner.target_frames() < 40 * 48);
}
