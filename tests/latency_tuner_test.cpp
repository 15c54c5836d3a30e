// LatencyTuner's policy where the simulated-time cases do not reach it.
#include "net/latency_tuner.hpp"
#include "net/sender_clock.hpp"

#include <doctest/doctest.h>

#include <algorithm>
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

namespace {
// JACK cycling at 128 frames (48 kHz) with a status per cycle, losing
// `lost_ms` at `stall_at_ms` (its frame counter stands still while it
// stalls; its first cycle after counts the stall); 5 ms packets sent on
// time, those of [delay_from_ms, delay_from_ms + 30 ms) delayed by
// `delay_ms`, or all held until its end when `shared` (a host stall that
// held the sender or the path with JACK).
// For `settle_cycles` cycles after the stall JACK's clock settles: its
// status is provisional, with the cycle's start on the line before the
// stall (as audio::PlayoutClock reports it until the step is confirmed).
// Returns the tuner's target after `seconds`.
std::uint32_t run_stall(bool shared, double stall_at_ms, double lost_ms, double delay_from_ms, double delay_ms,
                        bool held, double seconds = 4, int settle_cycles = 0) {
  net::TunerConfig config;
  config.adaptive = true;
  config.initial_frames = 20 * 48;
  net::LatencyTuner tuner(config);
  core::AudioStatus audio = idle_status();
  audio.jack_rate = 48000;
  audio.period_ns = 128 * 1'000'000'000LL / 48000;
  const std::int64_t stall_at = static_cast<std::int64_t>(stall_at_ms * kMs);
  const std::int64_t lost = static_cast<std::int64_t>(lost_ms * kMs);
  std::int64_t next_cycle = 0, cycle = 0, next_packet = 0, k = 0;
  int settle_left = 0;
  const std::int64_t end = static_cast<std::int64_t>(seconds * 1000 * kMs);
  for (std::int64_t t = 0; t < end; t += kMs / 4) {
    // Net first: it may see the packets before JACK's cycle after a stall.
    while (next_packet <= t) {
      const double sent_ms = static_cast<double>(k) * 5;
      const bool delayed = sent_ms >= delay_from_ms && sent_ms < delay_from_ms + 30;
      double arrive_ms = sent_ms;
      if (delayed) arrive_ms = shared ? delay_from_ms + delay_ms : sent_ms + delay_ms;
      const auto arrival = static_cast<std::int64_t>(arrive_ms * kMs);
      if (arrival > t) break;
      if (held)
        tuner.on_arrival(k * 240, arrival, audio);
      else
        tuner.on_packet(k * 240, net::SenderClock::jack_time(arrival, audio));
      tuner.update(audio, t);
      ++k;
      next_packet = static_cast<std::int64_t>((static_cast<double>(k) * 5) * kMs);
    }
    while (next_cycle <= t) {
      if (next_cycle >= stall_at && next_cycle < stall_at + lost) {
        next_cycle = stall_at + lost;
        settle_left = settle_cycles;
        ++audio.jack_stalls;
      }
      if (next_cycle > t) break;
      audio.jack_settling = settle_left > 0;
      audio.cycle_ns = settle_left > 0 ? cycle * audio.period_ns : next_cycle;
      settle_left = std::max(settle_left - 1, 0);
      audio.cycle_jack_ns = cycle * audio.period_ns;
      ++audio.callbacks;
      ++cycle;
      next_cycle += audio.period_ns;
      tuner.update(audio, t);
    }
  }
  return tuner.target_frames();
}
}  // namespace

TEST_CASE("latency tuner: a packet a host stall delayed is not late for JACK, which stalled with it") {
  // The host stalls 30 ms at 2 s: JACK loses the 30 ms, and the sender's
  // packets of that time come at its end. Net may see them before JACK's
  // first cycle after it: taken on JACK's timeline as it stood before the
  // stall, they would be 30 ms late.
  const std::uint32_t before = run_stall(true, 2000, 30, 2000, 30, true, 1.9);
  CHECK(run_stall(true, 2000, 30, 2000, 30, true) == before);
  CHECK(run_stall(true, 2000, 30, 2000, 30, false) > before + 20 * 48);
  // JACK runs on while the path delays 30 ms of packets by 30 ms: they are
  // late, and the target grows by as much.
  CHECK(run_stall(false, 9000, 0, 2000, 30, true) > before + 20 * 48);
}

TEST_CASE("latency tuner: arrivals while JACK's clock settles after a stall are not measured") {
  // The same shared stall, and JACK's status provisional for 12 cycles
  // after it: mapped by that status, the held packets and those after them
  // would each be 30 ms late. No settling: the same target as before.
  const std::uint32_t before = run_stall(true, 2000, 30, 2000, 30, true, 1.9);
  CHECK(run_stall(true, 2000, 30, 2000, 30, true, 4, 12) == before);
  // A path that delays packets soon after the stall is measured again.
  CHECK(run_stall(false, 2000, 30, 2150, 30, true, 4, 12) > before + 20 * 48);
}
