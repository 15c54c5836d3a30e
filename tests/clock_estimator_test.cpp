// core::ClockEstimator against synthetic clocks whose truth is known: a
// JACK-like frame clock woken by a scheduler, and a sender's media clock
// seen through a jittery, lossy network.
#include "core/clock_estimator.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>


namespace {

constexpr std::int64_t kNs = 1'000'000'000;
constexpr std::int64_t kStart = 5 * kNs;

struct Obs {
  std::int64_t frames;
  std::int64_t t;
};

// A JACK server's cycles: 128 frames at 48 kHz, woken 0-20 us late, now
// and then 2 ms late (the next one on time again); `stalls` lose their
// length for good at the given seconds. The first cycles after a stall
// are off their new schedule by `resume` (s) each, as a dummy driver's
// are (tests/lib/timeline.py).
std::vector<Obs> jack_cycles(double seconds, std::uint64_t seed,
                             const std::vector<std::pair<double, double>>& stalls = {},
                             const std::vector<double>& resume = {}) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Obs> v;
  double lost = 0;
  std::size_t next = 0, after = resume.size();
  for (std::int64_t k = 0; static_cast<double>(k) * 128 / 48000 < seconds; ++k) {
    const double due = static_cast<double>(k) * 128 / 48000;
    if (next < stalls.size() && due >= stalls[next].first) {
      lost += stalls[next++].second;
      after = 0;
    }
    double late = u(rng) * 20e-6;
    if (u(rng) < 0.01) late += 2e-3;
    if (after < resume.size()) late = resume[after++];
    v.push_back({1000 + k * 128, kStart + static_cast<std::int64_t>((due + lost + late) * 1e9)});
  }
  return v;
}

// A sender's packets of `packet` frames at 48 kHz, its clock `ppm` fast,
// through a network adding uniform jitter of up to `jitter_ms` and losing
// `loss` of them.
std::vector<Obs> arrivals(double seconds, double ppm, double jitter_ms, double loss, std::uint64_t seed,
                          std::int64_t packet = 960) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Obs> v;
  for (std::int64_t k = 0; static_cast<double>(k * packet) / 48000 < seconds; ++k) {
    const double sent = static_cast<double>(k * packet) / 48000 / (1 + ppm * 1e-6);
    const double delay = 0.002 + u(rng) * jitter_ms * 1e-3;
    if (u(rng) < loss) continue;
    v.push_back({77777 + k * packet, kStart + static_cast<std::int64_t>((sent + delay) * 1e9)});
  }
  return v;
}

}  // namespace

TEST_CASE("clock: a JACK clock woken late now and then keeps its nominal rate, without steps") {
  core::ClockEstimator c(core::ClockEstimator::jack_config(48000));
  for (const Obs& o : jack_cycles(20, 1)) CHECK(c.observe(o.frames, o.t) == 0);
  CHECK(c.steps() == 0);
  CHECK(c.rate_measured());
  CHECK(std::fabs(c.deviation_ppm()) < 2);
  // The envelope: the cycles' schedule, not their late wake-ups.
  const std::int64_t k = 20 * 375 - 1;
  CHECK(std::llabs(c.time_of(1000 + k * 128) - (kStart + k * 128 * kNs / 48000)) < 30'000);
}

TEST_CASE("clock: a JACK stall is a step of its length, and no rate") {
  core::ClockEstimator c(core::ClockEstimator::jack_config(48000));
  std::vector<std::int64_t> steps;
  for (const Obs& o : jack_cycles(12, 2, {{3, 0.040}, {6, 0.040}, {9, 0.0015}}))
    if (const std::int64_t s = c.observe(o.frames, o.t)) steps.push_back(s);
  REQUIRE(steps.size() == 3);
  CHECK(std::llabs(steps[0] - 40'000'000) < 100'000);
  CHECK(std::llabs(steps[1] - 40'000'000) < 100'000);
  CHECK(std::llabs(steps[2] - 1'500'000) < 100'000);
  CHECK(std::fabs(c.deviation_ppm()) < 2);
}

TEST_CASE("clock: a JACK stall's new level is where the cycles settle, not the first ones after it") {
  // Patterns seen on this project's test host: the cycle run at once on
  // resuming, then one ahead of the new schedule; one ahead alone; three
  // behind by 0.4 ms.
  const std::vector<std::vector<double>> resumes = {
      {2.2e-3, -0.17e-3}, {-0.2e-3}, {-0.6e-3, -0.6e-3, 2.2e-3, -0.2e-3}, {-0.4e-3, -0.4e-3, -0.4e-3}};
  for (std::size_t i = 0; i < resumes.size(); ++i) {
    CAPTURE(i);
    core::ClockEstimator c(core::ClockEstimator::jack_config(48000));
    const double lost = 1.85e-3;
    std::vector<std::int64_t> steps;
    double worst = 0;
    bool settled_seen = false;
    for (const Obs& o : jack_cycles(4, 6, {{2, lost}}, resumes[i])) {
      if (const std::int64_t s = c.observe(o.frames, o.t)) steps.push_back(s);
      const double since = static_cast<double>(o.t - kStart) / 1e9 - 2 - lost;
      if (since > 0.03 && since < 1.5) {
        // From 30 ms after the stall (as a correction waits: 60 ms), the
        // envelope is the new schedule, and stays there.
        const std::int64_t truth = kStart + static_cast<std::int64_t>(
                                                (static_cast<double>(o.frames - 1000) / 48000 + lost) * 1e9);
        worst = std::max(worst, std::fabs(static_cast<double>(c.time_of(o.frames) - truth)));
        settled_seen = settled_seen || !c.settling();
      }
    }
    REQUIRE(steps.size() == 1);
    CHECK(settled_seen);
    CHECK(worst < 40'000);
  }
}

namespace {

// 2 s of a JACK server's cycles on schedule (woken 0-20 us late), then
// `lags` (ms, one per cycle), then `after` (ms) for 1 s more.
constexpr std::int64_t kOnSchedule = 750;
std::vector<Obs> lagged_cycles(const std::vector<double>& lags, double after, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 20e-6);
  std::vector<Obs> v;
  for (std::int64_t k = 0; k < kOnSchedule + 375; ++k) {
    const std::size_t j = static_cast<std::size_t>(std::max<std::int64_t>(k - kOnSchedule, 0));
    const double lag = k < kOnSchedule ? 0 : j < lags.size() ? lags[j] * 1e-3 : after * 1e-3;
    const double due = static_cast<double>(k) * 128 / 48000;
    v.push_back({1000 + k * 128, kStart + static_cast<std::int64_t>((due + lag + u(rng)) * 1e9)});
  }
  return v;
}

// Where a cycle of lagged_cycles() is due on a schedule `level` ms late.
std::int64_t due_at(const Obs& o, double level) {
  const double due = static_cast<double>(o.frames - 1000) / 48000;
  return kStart + static_cast<std::int64_t>((due + level * 1e-3) * 1e9);
}

}  // namespace

TEST_CASE("clock: a storm of JACK stalls is taken at the level after its last stall") {
  // Cycle lateness (ms) from two of this host's recordings, from a stall's
  // first late cycle: a storm that lost 32.5 ms over 55 ms, whose first
  // stall confirms as 0.3 ms; a step of 1.4 ms reached in stages, with a
  // late wake-up among them. Playout acts on the envelope as soon as a
  // level is taken (an error beyond PlayoutClock::kStormMs at once): from
  // the storm's last loss of time on, every level taken must be the last.
  struct Storm {
    std::vector<double> lags;
    std::size_t last;  // the first cycle on the final schedule
    double level;
  };
  const std::vector<Storm> storms = {
      {{2.62, 0.31, 12.37, 13.37, 26.89, 27.88, 34.72, 32.30, 32.58, 32.55, 32.48, 32.50}, 7, 32.49},
      {{0.45, 0.46, 0.99, 1.12, 2.64, 1.60, 1.36, 1.40, 1.45, 1.39, 1.40}, 5, 1.40}};
  for (std::size_t i = 0; i < storms.size(); ++i) {
    CAPTURE(i);
    const Storm& storm = storms[i];
    core::ClockEstimator c(core::ClockEstimator::jack_config(48000));
    double worst = 0;
    int judged = 0;
    const std::vector<Obs> cycles = lagged_cycles(storm.lags, storm.level, 9);
    for (std::size_t k = 0; k < cycles.size(); ++k) {
      const Obs& o = cycles[k];
      c.observe(o.frames, o.t);
      if (k >= kOnSchedule + storm.last && !c.settling()) {
        worst = std::max(worst, std::fabs(static_cast<double>(c.time_of(o.frames) - due_at(o, storm.level))));
        ++judged;
      }
    }
    CHECK(judged > 300);
    CHECK(worst < 60'000);
  }
}

TEST_CASE("clock: cycles late three times in a row and then on time again leave the envelope where it was") {
  // From this host's recordings: three cycles 0.6 to 0.7 ms late confirm a
  // step, then one 1.3 ms late, then the old schedule again. Playout reads
  // the envelope every cycle, settling or not: from the second cycle back
  // on schedule it is the schedule.
  const std::vector<double> lags = {0.71, 0.61, 0.75, 1.32, 0.0, -0.02, 0.0, 0.01, 0.0, 0.02, 0.0, 0.0};
  core::ClockEstimator c(core::ClockEstimator::jack_config(48000));
  double worst = 0;
  const std::vector<Obs> cycles = lagged_cycles(lags, 0, 4);
  for (std::size_t k = 0; k < cycles.size(); ++k) {
    const Obs& o = cycles[k];
    c.observe(o.frames, o.t);
    if (k >= kOnSchedule + 5)
      worst = std::max(worst, std::fabs(static_cast<double>(c.time_of(o.frames) - due_at(o, 0))));
  }
  CHECK(worst < 60'000);
}

TEST_CASE("clock: a JACK clock 500 ppm slow is measured so, through stalls") {
  // The nominal rate weighs as a 3 s segment: over 30 s it pulls the
  // estimate by less than 1 %.
  core::ClockEstimator c(core::ClockEstimator::jack_config(48000));
  // Stretch the schedule: every cycle 500 ppm longer.
  for (Obs o : jack_cycles(30, 3, {{10, 0.010}, {20, 0.025}})) {
    o.t = kStart + static_cast<std::int64_t>(static_cast<double>(o.t - kStart) * 1.0005);
    c.observe(o.frames, o.t);
  }
  CHECK(c.steps() == 2);
  CHECK(c.deviation_ppm() == doctest::Approx(-500).epsilon(0.015));
}

TEST_CASE("clock: a JACK clock that loses a fraction of a millisecond keeps its rate") {
  // Shifts too small to be a step (0.3 ms), 2 s into a segment that began
  // at a stall: unsplit, the fit's one intercept would tilt its slope by
  // about 0.2 ppm per microsecond of shift (40 ppm at 190 us).
  for (const double shift : {50e-6, 100e-6, 190e-6, 250e-6, -120e-6}) {
    CAPTURE(shift);
    core::ClockEstimator c(core::ClockEstimator::jack_config(48000));
    double worst = 0;
    for (const Obs& o : jack_cycles(20, 4, {{3, 0.002}, {5, shift}})) {
      c.observe(o.frames, o.t);
      if (o.t > kStart + 4 * kNs) worst = std::max(worst, std::fabs(c.deviation_ppm()));
    }
    CHECK(c.steps() == 1);
    CHECK(c.shifts() == 1);
    CHECK(worst < 3);
  }
}

TEST_CASE("clock: a JACK floor that wanders within its scatter is no shift") {
  // Each 50 ms bucket's earliest wake-up 0 to 30 us late, at random.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  core::ClockEstimator c(core::ClockEstimator::jack_config(48000));
  double floor = 0;
  for (Obs o : jack_cycles(60, 6)) {
    if ((o.frames - 1000) % 2400 == 0) floor = u(rng) * 30e-6;
    o.t += static_cast<std::int64_t>(floor * 1e9);
    c.observe(o.frames, o.t);
  }
  CHECK(c.steps() == 0);
  CHECK(c.shifts() == 0);
  CHECK(std::fabs(c.deviation_ppm()) < 2);
}

TEST_CASE("clock: a sender's rate under jitter, within 100 ppm from 5 s and 20 ppm from 10 s (median)") {
  // 20 ms packets through 16 ms of uniform jitter (+-8 ms around its mean),
  // the sender 1000 ppm fast or slow, 5 % loss or none, 25 seeds each. The
  // rate stays nominal until it is measured to 30 ppm or nominal is ruled
  // out; in the worst seeds that takes more than 10 s (500 packets under
  // 16 ms of jitter hold no more: the envelope's offset is known to about
  // the jitter over the packets' count, 30 us, over half the span), and by
  // 15 s every seed's rate is within 150 ppm.
  for (const double ppm : {1000.0, -1000.0, 0.0}) {
    for (const double loss : {0.0, 0.05}) {
      std::vector<double> at5, at10, at15;
      for (std::uint64_t seed = 1; seed <= 25; ++seed) {
        core::ClockEstimator c(core::ClockEstimator::sender_config());
        double worst5 = 0, worst10 = 0, worst15 = 0;
        for (const Obs& o : arrivals(20, ppm, 16, loss, seed)) {
          c.observe(o.frames, o.t);
          const double err = std::fabs(c.deviation_ppm() - ppm);
          const double t = static_cast<double>(o.t - kStart) / 1e9;
          if (t >= 5) worst5 = std::max(worst5, err);
          if (t >= 10) worst10 = std::max(worst10, err);
          if (t >= 15) worst15 = std::max(worst15, err);
        }
        CHECK(c.steps() == 0);
        at5.push_back(worst5);
        at10.push_back(worst10);
        at15.push_back(worst15);
      }
      std::sort(at5.begin(), at5.end());
      std::sort(at10.begin(), at10.end());
      std::sort(at15.begin(), at15.end());
      MESSAGE(ppm << " ppm, loss " << loss << ": worst error from 5 s, median " << at5[12] << " max "
                  << at5.back() << "; from 10 s, median " << at10[12] << " max " << at10.back() << "; from 15 s, max "
                  << at15.back());
      CHECK(at5[12] < 100);
      CHECK(at10[12] < 20);
      CHECK(at15.back() < 150);
    }
  }
  // Under a LAN's jitter (0.5 ms) it is exact within a few ppm.
  core::ClockEstimator c(core::ClockEstimator::sender_config());
  for (const Obs& o : arrivals(10, 1000, 0.5, 0.05, 7)) c.observe(o.frames, o.t);
  CHECK(c.deviation_ppm() == doctest::Approx(1000).epsilon(0.01));
}

namespace {
// The slope of the edge of the observations' lower convex hull that spans
// their mean time (Moon, Skelly and Towsley's LP estimator), over every
// observation: what the envelope fit would be with no buckets and no
// window. Returns the sender's deviation from nominal, ppm.
double ideal_envelope_ppm(const std::vector<Obs>& obs) {
  struct P { double x, y; };
  std::vector<P> hull;
  double mean = 0;
  for (const Obs& o : obs) {
    // Sender time against transit time, both in seconds.
    const P p{static_cast<double>(o.frames - obs[0].frames) / 48000, static_cast<double>(o.t - kStart) / 1e9};
    const P q{p.x, p.y - p.x};
    mean += q.x;
    while (hull.size() >= 2) {
      const P& a = hull[hull.size() - 2];
      const P& b = hull.back();
      if ((b.x - a.x) * (q.y - a.y) - (b.y - a.y) * (q.x - a.x) > 0) break;
      hull.pop_back();
    }
    hull.push_back(q);
  }
  mean /= static_cast<double>(obs.size());
  for (std::size_t i = 1; i < hull.size(); ++i)
    if (hull[i].x >= mean) {
      const double slope = (hull[i].y - hull[i - 1].y) / (hull[i].x - hull[i - 1].x);
      return (1 / (1 + slope) - 1) * 1e6;
    }
  return 0;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}
}  // namespace

TEST_CASE("clock: under 16 ms of jitter a sender's rate is known as well as the packets allow") {
  // The ideal lower-envelope estimate from every packet so far, against
  // the estimator's, at 5, 10 and 25 s, over 300 seeds: the estimator's
  // buckets, window and rules lose nothing that matters.
  std::vector<double> ideal[3], ours[3];
  const double at[3] = {5, 10, 25};
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    const std::vector<Obs> all = arrivals(25.01, 0, 16, 0, seed + 1000);
    core::ClockEstimator c(core::ClockEstimator::sender_config());
    std::size_t n = 0;
    for (int i = 0; i < 3; ++i) {
      while (n < all.size() && static_cast<double>(all[n].frames - all[0].frames) / 48000 < at[i])
        c.observe(all[n].frames, all[n].t), ++n;
      ideal[i].push_back(std::fabs(ideal_envelope_ppm({all.begin(), all.begin() + static_cast<long>(n)})));
      ours[i].push_back(std::fabs(c.deviation_ppm()));
    }
  }
  for (int i = 0; i < 3; ++i) {
    MESSAGE("at " << at[i] << " s: ideal median " << percentile(ideal[i], 0.5) << " p90 " << percentile(ideal[i], 0.9)
                  << " ppm; ours " << percentile(ours[i], 0.5) << ", " << percentile(ours[i], 0.9));
    CHECK(percentile(ours[i], 0.5) <= 1.25 * percentile(ideal[i], 0.5) + 2);
    CHECK(percentile(ours[i], 0.9) <= 1.25 * percentile(ideal[i], 0.9) + 2);
  }
}

TEST_CASE("clock: the spread of a sender's rate under 16 ms of jitter, which playout_test's jitter case allows for") {
  // tests/integration/playout_test.sh, case jitter: 20 ms packets, 16 ms of
  // uniform jitter, its drift judged from 5, 10 and 25 s against limits of
  // 500, 300 and 40 ppm: above the 99.9th percentile of the worst error in
  // [5, 10), [10, 25) and [25, 31) s over 2000 seeds (about 290, 75 and
  // 25 ppm): what the packets hold, not what rtp2jack would like.
  std::vector<double> worst[3];
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    core::ClockEstimator c(core::ClockEstimator::sender_config());
    double w[3] = {0, 0, 0};
    for (const Obs& o : arrivals(31, 0, 16, 0, seed + 5000)) {
      c.observe(o.frames, o.t);
      const double t = static_cast<double>(o.frames - 77777) / 48000;
      const int i = t < 5 ? -1 : t < 10 ? 0 : t < 25 ? 1 : 2;
      if (i >= 0) w[i] = std::max(w[i], std::fabs(c.deviation_ppm()));
    }
    for (int i = 0; i < 3; ++i) worst[i].push_back(w[i]);
  }
  const double limit[3] = {500, 300, 40};
  for (int i = 0; i < 3; ++i) {
    MESSAGE("window " << i << ": worst error median " << percentile(worst[i], 0.5) << " p99 "
                      << percentile(worst[i], 0.99) << " p99.9 " << percentile(worst[i], 0.999) << " ppm");
    CHECK(percentile(worst[i], 0.999) < limit[i]);
  }
}

TEST_CASE("clock: duplicates and reordered packets do not move a sender's clock") {
  const std::vector<Obs> clean = arrivals(12, 300, 8, 0, 11);
  std::vector<Obs> rough = clean;
  // Every 7th packet also arrives again 5 ms later; every 11th is held 30 ms
  // and comes after its successors.
  for (std::size_t i = 0; i < clean.size(); ++i) {
    if (i % 7 == 0) rough.push_back({clean[i].frames, clean[i].t + 5'000'000});
    if (i % 11 == 0) rough[i].t += 30'000'000;
  }
  std::sort(rough.begin(), rough.end(), [](const Obs& a, const Obs& b) { return a.t < b.t; });
  core::ClockEstimator a(core::ClockEstimator::sender_config()), b(core::ClockEstimator::sender_config());
  // The held packets are late: their places' earliest arrivals are gone, so
  // compare with the clean stream without them.
  for (std::size_t i = 0; i < clean.size(); ++i)
    if (i % 11 != 0) a.observe(clean[i].frames, clean[i].t);
  for (const Obs& o : rough) b.observe(o.frames, o.t);
  CHECK(a.deviation_ppm() == doctest::Approx(b.deviation_ppm()).epsilon(1e-6));
  CHECK(std::llabs(a.time_of(clean.back().frames) - b.time_of(clean.back().frames)) < 1000);
}

TEST_CASE("clock: a path 30 ms longer for good is a step after 2 s; a burst of late packets is not") {
  core::ClockEstimator c(core::ClockEstimator::sender_config());
  std::vector<Obs> v = arrivals(14, 0, 4, 0, 5);
  for (Obs& o : v) {
    const double t = static_cast<double>(o.t - kStart) / 1e9;
    if (t >= 4 && t < 5) o.t += 30'000'000;  // one second of packets 30 ms late
    if (t >= 8) o.t += 30'000'000;           // and from 8 s on, every packet
  }
  double stepped_at = -1;
  std::int64_t size = 0;
  for (const Obs& o : v)
    if (const std::int64_t s = c.observe(o.frames, o.t); s != 0 && stepped_at < 0) {
      stepped_at = static_cast<double>(o.t - kStart) / 1e9;
      size = s;
    }
  CHECK(c.steps() == 1);
  CHECK(stepped_at >= 10.0);
  CHECK(stepped_at < 10.5);
  CHECK(std::llabs(size - 30'000'000) < 1'000'000);
}

TEST_CASE("clock: a path 12 ms longer before the rate is measured is a step after 2 s") {
  // Before the rate is measured no step is taken against a line of a
  // possibly wrong slope; but a step inside the first second keeps the
  // fit from measuring the rate at all (its floor is the step), and the
  // envelope would stay 12 ms early for the fit's whole window. Later
  // than any rate within 1500 ppm of nominal explains, for 2 s, is a step.
  for (const double at_s : {0.1, 0.3, 0.6, 1.0}) {
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      CAPTURE(at_s);
      CAPTURE(seed);
      core::ClockEstimator c(core::ClockEstimator::sender_config());
      double stepped_at = -1;
      std::int64_t size = 0;
      for (Obs o : arrivals(8, 0, 1, 0.05, seed, 240)) {
        const double t = static_cast<double>(o.t - kStart) / 1e9;
        if (t >= at_s) o.t += 12'000'000;
        if (const std::int64_t s = c.observe(o.frames, o.t); s != 0 && stepped_at < 0) {
          stepped_at = t;
          size = s;
        }
      }
      CHECK(c.steps() == 1);
      CHECK(stepped_at >= at_s + 2);
      CHECK(stepped_at < at_s + 2.5);
      CHECK(std::llabs(size - 12'000'000) < 1'000'000);
    }
  }
}

TEST_CASE("clock: timestamps that jump ahead are a step earlier; a lone bogus one is ignored") {
  core::ClockEstimator c(core::ClockEstimator::sender_config());
  std::vector<Obs> v = arrivals(10, 0, 1, 0, 9);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i == 200) v[i].frames += 48000;                  // one packet claims to be 1 s later
    if (i >= 400) v[i].frames += 2400;                   // from here on 50 ms later
  }
  std::vector<std::int64_t> steps;
  for (const Obs& o : v)
    if (const std::int64_t s = c.observe(o.frames, o.t)) steps.push_back(s);
  REQUIRE(steps.size() == 1);
  CHECK(std::llabs(steps[0] + 50'000'000) < 1'000'000);
}

namespace {
// Replays a capture from tests/data (`arrival_s sequence timestamp` per
// packet, tests/data/README.md) into `c`; after each packet, `each` with
// its arrival in seconds since the first.
template <class Each>
void replay_capture(const char* name, core::ClockEstimator& c, Each each) {
  const std::string path = std::string(RTP2JACK_TEST_DATA) + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f != nullptr);
  double arrival = 0, first = -1;
  long long seq = 0, ts = 0, prev = 0, frames = 0;
  while (std::fscanf(f, "%lf %lld %lld", &arrival, &seq, &ts) == 3) {
    if (first < 0) {
      first = arrival;
      prev = ts;
    }
    frames += static_cast<std::int32_t>(static_cast<std::uint32_t>(ts - prev));
    prev = ts;
    c.observe(frames, kStart + std::llround((arrival - first) * 1e9));
    each(arrival - first);
  }
  std::fclose(f);
}
}  // namespace

TEST_CASE("clock: ffmpeg -re's pacing is not taken for a rate") {
  // Real captures (tests/data/README.md). ffmpeg's clock is the host's, so
  // the truth is nominal; its packets' floor wanders by +-3 ms, which the
  // envelope's own scatter misses (it read 212 and 374 ppm at 100 ppm of
  // apparent uncertainty on these before the floor was judged per block).
  // Its L24 packets' floor wanders more slowly, and the uncertainty reads
  // low for the first seconds: a rate measured to 100 ppm was 218 and
  // 162 ppm off on these (the tone that sharp for seconds).
  struct Capture {
    const char* name;
    double limit_ppm;
  };
  for (const auto [name, limit] : {Capture{"ffmpeg_re_arrivals_1.txt", 100}, Capture{"ffmpeg_re_arrivals_3.txt", 100},
                                   Capture{"ffmpeg_re_l24_arrivals_1.txt", 50},
                                   Capture{"ffmpeg_re_l24_arrivals_2.txt", 50}}) {
    core::ClockEstimator c(core::ClockEstimator::sender_config());
    double worst = 0;
    replay_capture(name, c, [&](double) { worst = std::max(worst, std::fabs(c.deviation_ppm())); });
    MESSAGE(std::string(name) << ": worst " << worst << " ppm, uncertainty at the end " << c.uncertainty_ppm());
    CHECK(worst < limit);
    CHECK(c.steps() == 0);
  }
}

TEST_CASE("clock: ffmpeg -re's pacing that falls behind for seconds and holds is no rate; one that goes on is let go of") {
  // Real captures (tests/data/README.md) of an ffmpeg -re beside a busy
  // JACK test. Its packets come 1100 to 1600 ppm later for 3 to 5 s, under a
  // floor that wanders by a millisecond. In the first they then hold that
  // lag: the packets of the segment's latest half are closer to nominal
  // than to the rate the whole segment puts them at (it was taken at 6.1 s
  // for 2.2 s when nothing looked there). In the second they go on falling
  // behind until 5 s, which is what a sender 1000 ppm slow under 16 ms of
  // jitter looks like, and one must be taken within 5 s (above); they then
  // catch up, and the estimator drops the rate for nominal once the
  // packets since put it three uncertainties off.
  struct Capture {
    const char* name;
    double most_off_s;  // for how long the rate may be more than 100 ppm off
  };
  for (const auto [name, most_off_s] :
       {Capture{"ffmpeg_re_busy_arrivals_1.txt", 0}, Capture{"ffmpeg_re_busy_arrivals_2.txt", 3.5}}) {
    core::ClockEstimator c(core::ClockEstimator::sender_config());
    double off_from = -1, off_to = -1;
    replay_capture(name, c, [&](double t) {
      if (std::fabs(c.deviation_ppm()) > 100) {
        if (off_from < 0) off_from = t;
        off_to = t;
      }
    });
    MESSAGE(std::string(name) << ": more than 100 ppm off from " << off_from << " to " << off_to << " s");
    CHECK(off_to - off_from <= most_off_s);
    CHECK(std::fabs(c.deviation_ppm()) < 100);
    CHECK(c.steps() == 0);
  }
}

TEST_CASE("clock: packets that fall behind for 3 s after the rate is known, and then hold, do not move it") {
  // A sender on time, its packets through 0.3 ms of exponential jitter (a
  // floor sharp enough to measure it to 30 ppm within seconds), then
  // falling behind by 1200 ppm from 6 s to 9 s, as ffmpeg -re's may
  // (docs/design.md), and 3.6 ms late from then on. Without the look at the segment's
  // latest half, 27 seeds of 50 took a rate more than 100 ppm slow.
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    std::exponential_distribution<double> jitter(1 / 0.3e-3);
    core::ClockEstimator c(core::ClockEstimator::sender_config());
    double worst = 0;
    for (std::int64_t k = 0; k < 50 * 15; ++k) {
      const double media = static_cast<double>(k) * 0.02;
      const double behind = (std::clamp(media, 6.0, 9.0) - 6.0) * 1200e-6;
      c.observe(77777 + k * 960, kStart + std::llround((media + behind + jitter(rng)) * 1e9));
      if (media >= 5) worst = std::max(worst, std::fabs(c.deviation_ppm()));
    }
    CHECK(worst < 100);
  }
}

TEST_CASE("clock: pacing that runs thousands of ppm fast and then waits is not a rate; a clock that fast is, over 6 s") {
  // ffmpeg -re, seen live on this machine: its packets' floor falls by 2.5
  // to 5 ms a second for 2 to 3 s, then jumps back by as much; a first
  // tooth with a sharp floor read as a clock 2500 ppm fast (and playout
  // followed it, 4 cents flat, splicing every second).
  struct Saw {
    double ppm, period_s, phase_s;
  };
  for (const Saw saw : {Saw{2500, 3.2, 0}, Saw{4000, 2.5, 1.0}, Saw{3000, 3.0, 0.4}}) {
    CAPTURE(saw.ppm);
    CAPTURE(saw.period_s);
    std::mt19937_64 rng(static_cast<std::uint64_t>(saw.ppm));
    std::exponential_distribution<double> jitter(1 / 0.3e-3);
    core::ClockEstimator c(core::ClockEstimator::sender_config());
    double worst = 0;
    for (std::int64_t k = 0; k < 50 * 20; ++k) {
      const double media = static_cast<double>(k) * 0.02;
      const double tooth = std::fmod(media + saw.phase_s, saw.period_s);
      const double sent = media - saw.ppm * 1e-6 * tooth;
      c.observe(k * 960, kStart + std::llround((sent + jitter(rng)) * 1e9));
      worst = std::max(worst, std::fabs(c.deviation_ppm()));
    }
    CHECK(worst < 100);
    CHECK(c.steps() == 0);
  }
  // A clock 3000 ppm fast under 1 ms of jitter: measured once 6 s span it.
  core::ClockEstimator c(core::ClockEstimator::sender_config());
  double at_5s = 0;
  for (const Obs& o : arrivals(8, 3000, 1, 0, 7)) {
    c.observe(o.frames, o.t);
    if (o.t - kStart < 5 * kNs) at_5s = c.deviation_ppm();
  }
  CHECK(at_5s == 0);  // nominal until then
  CHECK(std::fabs(c.deviation_ppm() - 3000) < 50);
}
