#include "audio/rate_converter.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

TEST_CASE("rate_converter: renders chunks as the resampler asks and writes every frame of every port") {
  audio::RateConverter conv{core::make_stream_format(48000, 2, 2)};
  CHECK_FALSE(conv.begin(audio::RateConverter::kMaxPeriod + 1, 48000));
  CHECK_FALSE(conv.begin(128, 0));
  std::int64_t rendered = 0;
  const auto render = [&](float* dst, std::uint32_t frames) {
    CHECK(frames == audio::RateConverter::kChunkFrames);
    for (std::uint32_t i = 0; i < frames; ++i) {
      dst[2 * i] = 0.25f;
      dst[2 * i + 1] = -0.25f;
    }
    rendered += frames;
  };
  std::vector<float> left(256), right(256);
  float* out[2] = {left.data(), right.data()};
  std::int64_t consumed = 0;
  for (int call = 0; call < 100; ++call) {
    left.assign(256, 12345.0f);
    right.assign(256, 12345.0f);
    REQUIRE(conv.begin(256, 48000));
    consumed += conv.run(out, 256, 1.0, render);
    for (int i = 0; i < 256; ++i) REQUIRE((left[i] != 12345.0f && right[i] != 12345.0f));
  }
  // At ratio 1 the stream is read at the output's pace, and no more than
  // a chunk sits rendered but unread.
  CHECK(consumed == doctest::Approx(100 * 256).epsilon(0.01));
  CHECK(rendered - consumed == conv.unread());
  CHECK(conv.unread() <= audio::RateConverter::kChunkFrames);
  CHECK(left[255] == doctest::Approx(0.25).epsilon(0.01));
  CHECK(right[255] == doctest::Approx(-0.25).epsilon(0.01));
}

TEST_CASE("rate_converter: at 44.1 kHz it reads the stream 48/44.1 as fast") {
  audio::RateConverter conv{core::make_stream_format(48000, 1, 1)};
  std::vector<float> buf(441);
  float* out[1] = {buf.data()};
  std::int64_t consumed = 0;
  for (int call = 0; call < 100; ++call) {
    REQUIRE(conv.begin(441, 44100));
    consumed += conv.run(out, 441, 44100.0 / 48000, [](float* dst, std::uint32_t n) {
      for (std::uint32_t i = 0; i < n; ++i) dst[i] = 0.1f;
    });
  }
  CHECK(consumed == doctest::Approx(48000).epsilon(0.01));
}

TEST_CASE("rate_converter: each port plays its channel; a mono stream every port; ports beyond the stream silence") {
  auto run = [](const core::StreamFormat& f) {
    audio::RateConverter conv{f};
    std::vector<std::vector<float>> bufs(static_cast<std::size_t>(f.ports), std::vector<float>(256, -9.0f));
    std::vector<float*> out;
    for (auto& b : bufs) out.push_back(b.data());
    for (int call = 0; call < 4; ++call) {
      REQUIRE(conv.begin(256, 48000));
      conv.run(out.data(), 256, 1.0, [&](float* dst, std::uint32_t n) {
        for (std::uint32_t i = 0; i < n; ++i)
          for (int c = 0; c < f.channels; ++c) dst[i * f.channels + c] = 0.1f * static_cast<float>(c + 1);
      });
    }
    std::vector<float> last;
    for (const auto& b : bufs) last.push_back(b[255]);
    return last;
  };
  const auto eight = run(core::make_stream_format(48000, 8, 8));
  for (std::size_t p = 0; p < 8; ++p) CHECK(eight[p] == doctest::Approx(0.1 * static_cast<double>(p + 1)).epsilon(1e-4));
  const auto mono = run(core::make_stream_format(48000, 1, 4));
  for (std::size_t p = 0; p < 4; ++p) CHECK(mono[p] == doctest::Approx(0.1).epsilon(1e-4));
  const auto stereo = run(core::make_stream_format(48000, 2, 4));
  CHECK(stereo[1] == doctest::Approx(0.2).epsilon(1e-4));
  CHECK(stereo[2] == 0.0f);
  CHECK(stereo[3] == 0.0f);
}
