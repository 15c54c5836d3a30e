#include "net/waveform_concealer.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

constexpr std::uint32_t kRate = 48000;

// Interleaved stereo: a sine per channel, at frames [from, from + n).
std::vector<float> tone(double hz, std::int64_t from, int n, double phase_right = 0.5) {
  std::vector<float> v(static_cast<std::size_t>(n) * 2);
  for (int i = 0; i < n; ++i) {
    const double t = static_cast<double>(from + i) / kRate;
    v[2 * static_cast<std::size_t>(i)] = static_cast<float>(0.5 * std::sin(2 * M_PI * hz * t));
    v[2 * static_cast<std::size_t>(i) + 1] =
        static_cast<float>(0.3 * std::sin(2 * M_PI * hz * t + phase_right));
  }
  return v;
}

double max_error(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) e = std::max(e, std::abs(double{a[i]} - b[i]));
  return e;
}

// 60 ms of history (three 20 ms packets), then `n` frames rendered from
// its end.
std::vector<float> continue_tone(net::WaveformConcealer& w, double hz, int n) {
  for (int k = 0; k < 3; ++k) w.played(k * 960, tone(hz, k * 960, 960).data(), 960);
  REQUIRE(w.begin(2880));
  std::vector<float> out(static_cast<std::size_t>(n) * 2);
  w.render(2880, out.data(), n);
  return out;
}

}  // namespace

TEST_CASE("waveform_concealer: a tone goes on in phase, whatever its period's fraction") {
  // 440 Hz: 109.09 frames; 97.3 Hz: 493.3; 1 kHz: 48 (below the shortest
  // period searched: repeated in multiples). 100 ms: the phase error of a
  // period rounded to whole frames would grow to 0.2 rad and more.
  for (const double hz : {440.0, 97.3, 1000.0, 261.63}) {
    CAPTURE(hz);
    net::WaveformConcealer w(2, kRate);
    const auto out = continue_tone(w, hz, 4800);
    CHECK(w.correlation() > 0.999);
    // Within -60 dB of the amplitude (0.5) over all 100 ms.
    CHECK(max_error(out, tone(hz, 2880, 4800)) < 0.0005);
  }
}

TEST_CASE("waveform_concealer: noise, silence and a short history are left to the codec") {
  net::WaveformConcealer w(2, kRate);
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0, 0.2f);
  std::vector<float> noise(960 * 2);
  for (int k = 0; k < 3; ++k) {
    for (auto& s : noise) s = g(rng);
    w.played(k * 960, noise.data(), 960);
  }
  CHECK_FALSE(w.begin(2880));
  CHECK_FALSE(w.active());

  const std::vector<float> silence(960 * 2, 0.0f);
  for (int k = 3; k < 6; ++k) w.played(k * 960, silence.data(), 960);
  CHECK_FALSE(w.begin(6 * 960));

  // 20 ms of tone after a hole: the history starts again, too short to
  // measure a 20 ms period against a 10 ms window.
  w.played(10 * 960, tone(440, 10 * 960, 960).data(), 960);
  CHECK_FALSE(w.begin(11 * 960));
  w.played(11 * 960, tone(440, 11 * 960, 960).data(), 960);
  CHECK(w.begin(12 * 960));

  // Nothing to continue before the history's end.
  CHECK_FALSE(w.begin(12 * 960 - 1));
  w.reset();
  CHECK_FALSE(w.begin(12 * 960));
}

TEST_CASE("waveform_concealer: the repetition is a function of the stream position") {
  net::WaveformConcealer w(2, kRate);
  const auto whole = continue_tone(w, 440, 1920);
  // Rendered again from the middle (a run rewound and made again, or a
  // stretch inside a run): the same samples.
  std::vector<float> part(960 * 2);
  w.render(2880 + 960, part.data(), 960);
  CHECK(std::vector<float>(whole.begin() + 1920, whole.end()) == part);
  // A second run after the same history keeps the period measured.
  const double period = w.period();
  w.end();
  CHECK_FALSE(w.active());
  CHECK(w.begin(2880 + 1920));
  CHECK(w.period() == period);
}

TEST_CASE("waveform_concealer: the audio after a run fades in from the repetition") {
  net::WaveformConcealer w(2, kRate);
  continue_tone(w, 440, 960);
  // The true continuation joins without a seam.
  auto next = tone(440, 2880 + 960, 960);
  const auto truth = next;
  w.blend_into(2880 + 960, next.data(), 960);
  CHECK(max_error(next, truth) < 0.0005);
  CHECK_FALSE(w.active());

  // Audio 6 dB quieter joins from the repetition's level: the first frame
  // is the repetition's, the blend's end (5 ms) the new audio's.
  net::WaveformConcealer v(2, kRate);
  continue_tone(v, 440, 960);
  std::vector<float> cont(960 * 2);
  v.render(2880 + 960, cont.data(), 960);
  auto quiet = tone(440, 2880 + 960, 960);
  for (auto& s : quiet) s *= 0.5f;
  const auto quiet_before = quiet;
  v.blend_into(2880 + 960, quiet.data(), 960);
  CHECK(quiet[0] == doctest::Approx(cont[0]).epsilon(1e-6));
  CHECK(quiet[1] == doctest::Approx(cont[1]).epsilon(1e-6));
  for (std::size_t i = 2 * 240; i < quiet.size(); ++i) CHECK(quiet[i] == quiet_before[i]);
  // ... and it is now the history: a run after it continues it.
  CHECK(v.begin(2880 + 1920));
}
