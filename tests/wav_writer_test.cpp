// Unit tests for tests/tools/wav_writer: what it writes reads back through
// tests/tools/wav_analysis's reader, with header sizes that match the file.
#include "tools/wav_writer.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tools/wav_analysis.hpp"

namespace {

namespace fs = std::filesystem;
using testtools::WavWriter;

// A private directory per test case, removed when the case ends.
struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("wav_writer_test_" + std::to_string(getpid()) + "_" + std::to_string(next++));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string File(const std::string& name) const { return (path / name).string(); }
  static inline int next = 0;
};

std::vector<unsigned char> Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t Le32(const std::vector<unsigned char>& b, std::size_t at) {
  return std::uint32_t(b[at]) | std::uint32_t(b[at + 1]) << 8 | std::uint32_t(b[at + 2]) << 16 |
         std::uint32_t(b[at + 3]) << 24;
}

// The RIFF size is the file less 8 bytes; the data chunk, whose header
// ends `data_at` bytes in, runs to the end of the file.
void CheckSizes(const std::string& path, std::size_t data_at) {
  const auto b = Bytes(path);
  REQUIRE(b.size() >= data_at);
  CHECK(Le32(b, 4) == b.size() - 8);
  CHECK(std::string(b.begin() + long(data_at) - 8, b.begin() + long(data_at) - 4) == "data");
  CHECK(Le32(b, data_at - 4) == b.size() - data_at);
}

}  // namespace

TEST_CASE("wav_writer: float and 16-bit files read back with true sizes") {
  TempDir dir;
  // Three frames of two channels, planar with a stride of 4.
  const std::vector<float> planar = {0.5f, -0.25f, 1.5f, 9.0f, -1.0f, 0.0f, 0.125f, 9.0f};

  SUBCASE("32-bit float keeps samples exactly, with a fact chunk") {
    const std::string path = dir.File("f.wav");
    {
      WavWriter w(path, 48000, 2, WavWriter::Format::kFloat32);
      w.WritePlanar(planar.data(), 4, 3);
      w.WriteSilence(2);
      CHECK(w.frames() == 5);
      w.Close();
    }
    CheckSizes(path, 58);
    const auto b = Bytes(path);
    CHECK(std::string(b.begin() + 38, b.begin() + 42) == "fact");
    CHECK(Le32(b, 46) == 5);
    const auto wav = testtools::ReadWav(path);
    CHECK(wav.sample_rate == 48000);
    CHECK(wav.is_float);
    CHECK_FALSE(wav.size_from_file_length);
    REQUIRE(wav.channels.size() == 2);
    CHECK(wav.channels[0] == std::vector<float>{0.5f, -0.25f, 1.5f, 0.0f, 0.0f});
    CHECK(wav.channels[1] == std::vector<float>{-1.0f, 0.0f, 0.125f, 0.0f, 0.0f});
  }

  SUBCASE("16-bit PCM clips and rounds to 1/32768") {
    const std::string path = dir.File("i.wav");
    WavWriter w(path, 44100, 2, WavWriter::Format::kPcm16);
    w.WritePlanar(planar.data(), 4, 3);
    w.Close();
    CheckSizes(path, 44);
    const auto wav = testtools::ReadWav(path);
    CHECK(wav.sample_rate == 44100);
    CHECK(wav.bits_per_sample == 16);
    CHECK_FALSE(wav.size_from_file_length);
    REQUIRE(wav.channels.size() == 2);
    CHECK(wav.channels[0] == std::vector<float>{0.5f, -0.25f, 32767.0f / 32768.0f});
    CHECK(wav.channels[1] == std::vector<float>{-1.0f, 0.0f, 0.125f});
  }

  SUBCASE("a file flushed and never closed is valid up to the flush") {
    const std::string path = dir.File("open.wav");
    WavWriter w(path, 48000, 2, WavWriter::Format::kFloat32);
    w.WritePlanar(planar.data(), 4, 3);
    w.Flush();
    CheckSizes(path, 58);
    CHECK(testtools::ReadWav(path).channels[0].size() == 3);
  }
}

TEST_CASE("wav_writer: an unwritable path is a clear error") {
  CHECK_THROWS_WITH_AS(WavWriter("/nonexistent-dir/x.wav", 48000, 1, WavWriter::Format::kPcm16),
                       doctest::Contains("fopen(/nonexistent-dir/x.wav)"), std::runtime_error);
}
