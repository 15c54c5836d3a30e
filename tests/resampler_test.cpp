#include "audio/resampler.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "tools/thd.hpp"

namespace {

// Drives the converter as audio::Player does: 32-frame input chunks, 128
// output frames per call, the ratio chosen per call. Stereo, the same tone on
// both channels; returns the left channel.
std::vector<float> convert(double freq, double seconds, double (*ratio_at)(int call)) {
  audio::Resampler rs(2);
  std::vector<float> out;
  std::int64_t n = 0;
  float stage[64];
  std::uint32_t pos = 32, len = 32;
  const int calls = static_cast<int>(seconds * 48000 / 128);
  for (int call = 0; call < calls; ++call) {
    float o[256];
    std::uint32_t produced = 0;
    for (int guard = 0; produced < 128 && guard < 64; ++guard) {
      if (pos == len) {
        for (int i = 0; i < 32; ++i, ++n)
          stage[2 * i] = stage[2 * i + 1] =
              static_cast<float>(0.5 * std::sin(2 * M_PI * freq * static_cast<double>(n) / 48000));
        pos = 0;
      }
      const auto r = rs.process(stage + 2 * pos, len - pos, o + 2 * produced, 128 - produced, ratio_at(call));
      pos += r.used;
      produced += r.generated;
    }
    REQUIRE(produced == 128);
    for (int i = 0; i < 128; ++i) out.push_back(o[2 * i]);
  }
  return out;
}

}  // namespace

TEST_CASE("resampler: 48 kHz to 44.1 kHz (1 + 1e-4), THD+N below -90 dB") {
  const auto out = convert(1000, 2, [](int) { return 44100.0 / 48000 * (1 + 1e-4); });
  const std::vector<float> tail(out.end() - 4410, out.end());
  const double db = testtools::thd_n_db(tail, 44100 * (1 + 1e-4), 1000);
  MESSAGE("THD+N " << db << " dB");
  CHECK(db < -90);
}

TEST_CASE("resampler: up to 96 kHz and at equal rates with drift") {
  for (double ratio : {2.0, 1.002, 0.998}) {
    static double r;
    r = ratio;
    const auto out = convert(1000, 1, [](int) { return r; });
    const std::vector<float> tail(out.end() - 4000, out.end());
    CAPTURE(ratio);
    CHECK(testtools::thd_n_db(tail, 48000 * ratio, 1000) < -90);
  }
}

TEST_CASE("resampler: the ratio glides, so steering it never steps the output") {
  // Jump the ratio by 2000 ppm every call: the output stays a smooth sine,
  // its steps never beyond the sine's own (2 pi f / rate x amplitude).
  const auto out = convert(440, 1, [](int call) { return call % 2 ? 1.002 : 0.998; });
  float worst = 0;
  for (std::size_t i = 1000; i + 1 < out.size(); ++i)
    worst = std::max(worst, std::fabs(out[i + 1] - out[i]));
  CHECK(worst < static_cast<float>(2 * M_PI * 440 / 48000 * 0.5 * 1.01));
}

TEST_CASE("resampler: input used follows the ratio over a long run") {
  audio::Resampler rs(1);
  std::vector<float> in(32, 0.25f), out(128);
  std::uint64_t used = 0, made = 0;
  for (int call = 0; call < 20000; ++call) {
    std::uint32_t produced = 0;
    while (produced < 128) {
      const auto r = rs.process(in.data(), 32, out.data() + produced, 128 - produced, 44100.0 / 48000);
      used += r.used;
      produced += r.generated;
    }
    made += produced;
  }
  // Input consumed per output equals 48000/44100 to within the history held.
  CHECK(std::llabs(static_cast<long long>(used) - static_cast<long long>(made * 48000 / 44100)) <= 40);
}

TEST_CASE("resampler: the AVX2 build of the stereo loop sums what the portable one does") {
  if (!audio::kernel::avx2_usable()) {
    MESSAGE("this CPU has no AVX2/FMA: only the portable build runs here");
    CHECK((audio::kernel::best_stereo() == &audio::kernel::stereo_vec4));
    return;
  }
  CHECK((audio::kernel::best_stereo() == audio::kernel::stereo_avx2));
  // Unaligned arrays at every offset, values of a kernel's and a signal's
  // size: the two builds differ only by rounding (fused multiply-adds, the
  // order of the last sums).
  std::uint32_t seed = 12345;
  const auto next = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return static_cast<float>(seed >> 8) / static_cast<float>(1u << 24) * 2 - 1;
  };
  std::vector<float> t(64), dt(64), x0(64), x1(64);
  double worst = 0;
  for (int round = 0; round < 1000; ++round) {
    for (int k = 0; k < 64; ++k) {
      t[k] = next();
      dt[k] = next() * 0.01f;
      x0[k] = next();
      x1[k] = next();
    }
    const int off = round % 8;
    const float a = (next() + 1) / 2;
    float p[2], v[2];
    audio::kernel::stereo_vec4(t.data() + off, dt.data() + off, a, x0.data() + off, x1.data() + off, p);
    audio::kernel::stereo_avx2(t.data() + off, dt.data() + off, a, x0.data() + off, x1.data() + off, v);
    // Each sum's size: 32 terms of magnitude up to 1.
    for (int c = 0; c < 2; ++c) worst = std::max(worst, std::fabs(double(p[c]) - v[c]));
  }
  CHECK(worst < 1e-5);
  MESSAGE("largest difference " << worst);
}
