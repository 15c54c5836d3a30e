#include "audio/fader.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

constexpr std::uint32_t kFade = 48;  // 1 ms at 48 kHz
constexpr double kW = 2 * M_PI * 440 / 48000;

// A 0.5 sine, mono, by stream position.
float sine(std::int64_t pos) { return static_cast<float>(0.5 * std::sin(kW * static_cast<double>(pos))); }
std::vector<float> sine_from(std::int64_t pos, std::uint32_t n) {
  std::vector<float> v(n);
  for (std::uint32_t i = 0; i < n; ++i) v[i] = sine(pos + i);
  return v;
}
float max_step(const std::vector<float>& out) {
  float m = 0;
  for (std::size_t i = 1; i < out.size(); ++i) m = std::max(m, std::fabs(out[i] - out[i - 1]));
  return m;
}

// Renders through a Fader, mono, collecting everything it writes.
struct Rig {
  audio::Fader fader{1, 48000};
  std::vector<float> out;
  std::uint32_t play(const std::vector<float>& pcm, std::int64_t pos) {
    std::vector<float> buf(pcm.size(), 12345.0f);
    const std::uint32_t n = fader.play(buf.data(), pcm.data(), static_cast<std::uint32_t>(pcm.size()), pos);
    out.insert(out.end(), buf.begin(), buf.begin() + n);
    return n;
  }
  void silence(std::uint32_t n) {
    std::vector<float> buf(n, 12345.0f);
    fader.silence(buf.data(), n);
    out.insert(out.end(), buf.begin(), buf.end());
  }
};

}  // namespace

TEST_CASE("fader: audio after silence fades in over kFadeMs, a ramp from zero") {
  Rig rig;
  CHECK(rig.fader.silent());
  rig.play(std::vector<float>(200, 1.0f), 0);
  CHECK(rig.out[0] == 0.0f);
  CHECK(rig.out[kFade] == 1.0f);
  CHECK(max_step(rig.out) <= 1.0f / kFade + 1e-6f);
  CHECK_FALSE(rig.fader.silent());
  CHECK(rig.fader.steady());
}

TEST_CASE("fader: audio that stops ramps from its last sample to zero") {
  Rig rig;
  rig.play(std::vector<float>(200, 0.8f), 0);
  rig.fader.stop();
  CHECK(rig.fader.silent());
  CHECK_FALSE(rig.fader.steady());
  rig.silence(100);
  CHECK(max_step(rig.out) <= 0.8f / kFade + 1e-6f);
  CHECK(rig.out.back() == 0.0f);
  // The ramp runs under what plays next, which fades in: no step either.
  rig.fader.stop();
  rig.play(std::vector<float>(10, 0.8f), 300);
  rig.fader.stop();
  rig.play(std::vector<float>(200, -0.8f), 310);
  CHECK(max_step(rig.out) <= 2 * 0.8f / kFade + 1e-6f);
}

TEST_CASE("fader: a tail fades out over its own last samples, and play stops at its end") {
  Rig rig;
  rig.play(sine_from(0, 500), 0);
  rig.fader.end_at(600);
  rig.fader.end_at(700);  // a tail under way runs to its end
  CHECK_FALSE(rig.fader.steady());
  CHECK(rig.play(sine_from(500, 500), 500) == 100);
  CHECK(rig.out.back() == 0.0f);
  CHECK(rig.fader.silent());
  CHECK(max_step(rig.out) <= static_cast<float>(0.5 * kW) + 0.5f / kFade);
  // What plays after the hole fades in.
  rig.silence(50);
  rig.play(sine_from(900, 200), 900);
  CHECK(max_step(rig.out) <= static_cast<float>(0.5 * kW) + 0.5f / kFade);
}

TEST_CASE("fader: a crossfade goes from the old side to the new linearly, and is cut short without a step") {
  constexpr std::uint32_t kCross = 240;
  Rig rig;
  rig.play(std::vector<float>(100, 1.0f), 0);
  std::vector<float> old(kCross + 1, 1.0f);
  rig.fader.crossfade(old.data(), kCross);
  CHECK_FALSE(rig.fader.steady());
  rig.play(std::vector<float>(kCross + 10, 0.0f), 100);
  for (std::uint32_t k = 0; k < kCross; ++k)
    CHECK(rig.out[100 + k] == doctest::Approx(1.0 - static_cast<double>(k) / kCross).epsilon(1e-5));
  CHECK(rig.out.back() == 0.0f);
  CHECK(rig.fader.steady());
}

TEST_CASE("fader: a crossfade cut short ramps out from where it got to") {
  constexpr std::uint32_t kCross = 240;
  Rig rig;
  rig.play(std::vector<float>(100, 0.5f), 0);
  std::vector<float> old(kCross + 1, 1.0f);
  rig.fader.crossfade(old.data(), kCross);
  rig.play(std::vector<float>(60, 0.5f), 100);
  rig.silence(100);
  std::vector<float> after(rig.out.begin() + 100, rig.out.end());
  CHECK(after.front() == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(max_step(after) <= 1.0f / kFade + 1e-6f);
  CHECK(rig.out.back() == 0.0f);
}

TEST_CASE("fader: whatever the sequence of edges, the output never steps") {
  // Moves as the player makes them: play on, stop (a hole, a hold, running
  // dry), a cut (a skip that cannot splice), a crossfade from what would
  // have played on (a splice), a tail before a hole. The signal jumps
  // anywhere at each.
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  Rig rig;
  std::int64_t pos = 0;
  std::vector<float> old;
  for (int step = 0; step < 4000; ++step) {
    const auto n = static_cast<std::uint32_t>(1 + pick(300));
    switch (pick(6)) {
      case 0:
      case 1:
        pos += rig.play(sine_from(pos, n), pos);  // after a tail's end: a hole filled in time
        break;
      case 2:
        rig.fader.stop();
        rig.silence(n);
        break;
      case 3:
        rig.fader.cut();
        rig.fader.cancel_tail();
        pos += pick(5000);
        break;
      case 4:
        if (!rig.fader.steady()) break;
        old = sine_from(pos, 241);
        rig.fader.crossfade(old.data(), 240);
        pos += pick(5000);
        break;
      case 5:
        rig.fader.end_at(pos + kFade + pick(200));  // the player sets a tail a record ahead
        break;
    }
  }
  CHECK(rig.out.size() > 100000);
  CHECK(max_step(rig.out) <= static_cast<float>(0.5 * kW) + 2 * 0.5f / kFade + 1.0f / 240);
}
