// Unit tests for tests/tools/wav_analysis: synthesise 16-bit WAVs with known
// defects and check that the analysis finds exactly those.
#include "tools/wav_analysis.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using testtools::AnalyseWav;
using testtools::ChannelAnalysis;

constexpr int kRate = 48000;

// A private directory per test case, removed when the case ends.
struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("wav_analysis_test_" + std::to_string(getpid()) + "_" + std::to_string(next++));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string File(const std::string& name) const { return (path / name).string(); }
  static inline int next = 0;
};

// `lead_s` of silence, then a sine of `freq` and `amplitude` for `tone_s`,
// then silence up to `total_s`.
std::vector<float> Tone(double freq, double amplitude, double lead_s, double tone_s,
                        double total_s) {
  std::vector<float> x(size_t(total_s * kRate), 0.0f);
  const size_t begin = size_t(lead_s * kRate), end = begin + size_t(tone_s * kRate);
  for (size_t i = begin; i < end && i < x.size(); ++i)
    x[i] = float(amplitude * std::sin(2 * std::numbers::pi * freq * double(i - begin) / kRate));
  return x;
}

// Header fields a broken writer gets wrong; unset means "correct".
struct Layout {
  std::optional<uint32_t> riff_size;
  std::optional<uint32_t> data_size;
  bool odd_chunk_before_data = false;  // a 3-byte chunk plus its pad byte
};

void Put32(std::ofstream& out, uint32_t v) {
  const char b[4] = {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  out.write(b, 4);
}
void Put16(std::ofstream& out, uint16_t v) {
  const char b[2] = {char(v), char(v >> 8)};
  out.write(b, 2);
}

void WriteWav16(const std::string& path, const std::vector<std::vector<float>>& channels,
                const Layout& layout = {}) {
  const uint16_t nch = uint16_t(channels.size());
  const uint32_t frames = uint32_t(channels[0].size());
  const uint32_t data_bytes = frames * nch * 2;
  const uint32_t extra = layout.odd_chunk_before_data ? 12 : 0;
  std::ofstream out(path, std::ios::binary);
  out.write("RIFF", 4);
  Put32(out, layout.riff_size.value_or(36 + extra + data_bytes));
  out.write("WAVEfmt ", 8);
  Put32(out, 16);
  Put16(out, 1);  // PCM
  Put16(out, nch);
  Put32(out, kRate);
  Put32(out, kRate * nch * 2);
  Put16(out, uint16_t(nch * 2));
  Put16(out, 16);
  if (layout.odd_chunk_before_data) out.write("junk\3\0\0\0abc\0", 12);
  out.write("data", 4);
  Put32(out, layout.data_size.value_or(data_bytes));
  for (uint32_t f = 0; f < frames; ++f)
    for (const auto& ch : channels)
      Put16(out, uint16_t(int16_t(std::lround(std::clamp(ch[f] * 32768.0f, -32768.0f, 32767.0f)))));
}

// The common checks for a 440 Hz, amplitude 0.5 tone from 0.5 s to 2.5 s.
void CheckCleanTone(const ChannelAnalysis& a) {
  REQUIRE(a.has_sound);
  CHECK(std::abs(a.onset_s - 0.5) <= 0.001);  // the window resolution
  CHECK(std::abs(a.duration_s - 2.0) <= 0.002);
  CHECK(std::abs(a.freq_hz - 440.0) < 0.5);
  CHECK(a.rms == doctest::Approx(0.5 / std::numbers::sqrt2).epsilon(0.01));
}

}  // namespace

TEST_CASE("clean 440 Hz tone with silence around it") {
  TempDir dir;
  const std::string path = dir.File("clean.wav");
  WriteWav16(path, {Tone(440, 0.5, 0.5, 2.0, 3.0)});
  const auto result = AnalyseWav(path);
  REQUIRE(result.size() == 1);
  CheckCleanTone(result[0]);
  CHECK(result[0].gaps == 0);
  CHECK(result[0].clicks == 0);
}

TEST_CASE("a 5 ms hole is one gap") {
  TempDir dir;
  auto x = Tone(440, 0.5, 0.5, 2.0, 3.0);
  const size_t hole = size_t(1.5 * kRate) + 30;  // mid-cycle, so it also clicks
  for (size_t i = hole; i < hole + size_t(0.005 * kRate); ++i) x[i] = 0;
  WriteWav16(dir.File("hole.wav"), {x});
  const auto a = AnalyseWav(dir.File("hole.wav"))[0];
  CheckCleanTone(a);
  CHECK(a.gaps == 1);
  CHECK(a.longest_gap_ms >= 3.0);
  CHECK(a.longest_gap_ms <= 6.0);
  CHECK(a.clicks >= 1);
}

TEST_CASE("--analyse-s judges only the tone that was sent") {
  TempDir dir;
  // Tone from 0.5 s to 2.5 s, then a loud hole-ridden tail until 2.6 s.
  auto x = Tone(440, 0.5, 0.5, 2.1, 3.0);
  for (size_t i = size_t(2.53 * kRate); i < size_t(2.54 * kRate); ++i) x[i] = 0;
  WriteWav16(dir.File("tail.wav"), {x});
  const auto all = AnalyseWav(dir.File("tail.wav"))[0];
  CHECK(all.gaps == 1);
  testtools::AnalysisOptions options;
  options.analyse_s = 2.0;
  const auto sent = AnalyseWav(dir.File("tail.wav"), options)[0];
  CHECK(sent.gaps == 0);
  CHECK(sent.clicks == 0);
  CHECK(sent.duration_s == doctest::Approx(all.duration_s));  // reported whole
}

TEST_CASE("a single zeroed sample is one click and no gap") {
  TempDir dir;
  auto x = Tone(440, 0.5, 0.5, 2.0, 3.0);
  size_t at = size_t(1.5 * kRate);
  while (std::abs(x[at]) < 0.3f) ++at;  // a dropout near a zero crossing is inaudible
  x[at] = 0;
  WriteWav16(dir.File("click.wav"), {x});
  const auto a = AnalyseWav(dir.File("click.wav"))[0];
  CheckCleanTone(a);
  CHECK(a.clicks == 1);
  CHECK(a.gaps == 0);
}

TEST_CASE("stereo with a different tone per channel") {
  TempDir dir;
  WriteWav16(dir.File("stereo.wav"),
             {Tone(440, 0.5, 0.5, 2.0, 3.0), Tone(1000, 0.25, 1.0, 1.5, 3.0)});
  const auto result = AnalyseWav(dir.File("stereo.wav"));
  REQUIRE(result.size() == 2);
  CheckCleanTone(result[0]);
  const ChannelAnalysis& right = result[1];
  CHECK(right.channel == 1);
  CHECK(std::abs(right.onset_s - 1.0) <= 0.001);
  CHECK(std::abs(right.duration_s - 1.5) <= 0.002);
  CHECK(std::abs(right.freq_hz - 1000.0) < 0.5);
  CHECK(right.rms == doctest::Approx(0.25 / std::numbers::sqrt2).epsilon(0.01));
  CHECK(right.gaps == 0);
  CHECK(right.clicks == 0);
}

TEST_CASE("silence has no sound") {
  TempDir dir;
  WriteWav16(dir.File("silence.wav"), {std::vector<float>(kRate, 0.0f)});
  CHECK_FALSE(AnalyseWav(dir.File("silence.wav"))[0].has_sound);
}

TEST_CASE("headers a killed or odd writer leaves") {
  TempDir dir;
  const std::string path = dir.File("broken.wav");
  const std::vector<std::vector<float>> tone = {Tone(440, 0.5, 0.5, 2.0, 3.0)};
  Layout layout;  // set field by field: GCC 12 -Wextra warns on partial designated inits

  SUBCASE("sizes 0, as jack_rec leaves them when killed") {
    layout.riff_size = 8;
    layout.data_size = 0;
    WriteWav16(path, tone, layout);
    CHECK(testtools::ReadWav(path).size_from_file_length);
    CheckCleanTone(AnalyseWav(path)[0]);
  }
  SUBCASE("data size past the end of a cut file") {
    layout.data_size = 0x7fffffff;
    WriteWav16(path, tone, layout);
    const auto wav = testtools::ReadWav(path);
    CHECK(wav.size_from_file_length);
    CHECK(wav.channels[0].size() == tone[0].size());
  }
  SUBCASE("an odd-sized chunk before data") {
    layout.odd_chunk_before_data = true;
    WriteWav16(path, tone, layout);
    CHECK_FALSE(testtools::ReadWav(path).size_from_file_length);
    CheckCleanTone(AnalyseWav(path)[0]);
  }
  SUBCASE("file cut inside the header") {
    WriteWav16(path, tone);
    fs::resize_file(path, 30);
    CHECK_THROWS_AS(AnalyseWav(path), std::runtime_error);
  }
  SUBCASE("missing file") { CHECK_THROWS_AS(AnalyseWav(dir.File("none.wav")), std::runtime_error); }
}
