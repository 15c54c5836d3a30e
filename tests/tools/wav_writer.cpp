// See wav_writer.hpp. The layout follows Microsoft's RIFF WAVE
// specification: RIFF header, `fmt ` chunk (18 bytes with cbSize for
// float, 16 for PCM), `fact` chunk for float, then `data`.
#include "wav_writer.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace testtools {

namespace {

static_assert(std::endian::native == std::endian::little,
              "WavWriter writes samples in host order; WAV is little-endian");

constexpr std::uint16_t kFormatPcm = 1;
constexpr std::uint16_t kFormatFloat = 3;
// Frames converted per fwrite: big enough to amortise the call.
constexpr std::size_t kBatchFrames = 4096;

[[noreturn]] void Fail(const std::string& call, const std::string& path) {
  throw std::runtime_error(call + "(" + path + "): " + std::strerror(errno));
}

void Put16(std::vector<unsigned char>& out, std::uint16_t v) {
  out.push_back(static_cast<unsigned char>(v));
  out.push_back(static_cast<unsigned char>(v >> 8));
}
void Put32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
void PutTag(std::vector<unsigned char>& out, const char* tag) {
  out.insert(out.end(), tag, tag + 4);
}

// Full scale is 32768, as readers divide by it; NaN becomes silence.
std::int16_t ToPcm16(float x) {
  const float clipped = std::isnan(x) ? 0.0f : std::clamp(x, -1.0f, 32767.0f / 32768.0f);
  return static_cast<std::int16_t>(std::nearbyint(clipped * 32768.0f));
}

}  // namespace

WavWriter::WavWriter(const std::string& path, std::uint32_t rate, std::uint32_t channels,
                     Format format)
    : path_(path), rate_(rate), channels_(channels), format_(format) {
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) Fail("fopen", path);
  WriteHeader();
}

WavWriter::~WavWriter() {
  try {
    Close();
  } catch (const std::exception&) {
    // The destructor cannot report; callers who care call Close().
  }
}

void WavWriter::WriteHeader() {
  const bool is_float = format_ == Format::kFloat32;
  const std::uint32_t bytes_per_sample = is_float ? 4 : 2;
  const std::uint64_t data_bytes = frames_ * channels_ * bytes_per_sample;
  const std::uint32_t fmt_bytes = is_float ? 18 : 16;
  const std::uint32_t fact_chunk = is_float ? 12 : 0;
  std::vector<unsigned char> h;
  PutTag(h, "RIFF");
  Put32(h, static_cast<std::uint32_t>(4 + (8 + fmt_bytes) + fact_chunk + 8 + data_bytes));
  PutTag(h, "WAVE");
  PutTag(h, "fmt ");
  Put32(h, fmt_bytes);
  Put16(h, is_float ? kFormatFloat : kFormatPcm);
  Put16(h, static_cast<std::uint16_t>(channels_));
  Put32(h, rate_);
  Put32(h, rate_ * channels_ * bytes_per_sample);  // byte rate
  Put16(h, static_cast<std::uint16_t>(channels_ * bytes_per_sample));  // block align
  Put16(h, static_cast<std::uint16_t>(8 * bytes_per_sample));
  if (is_float) {
    Put16(h, 0);  // cbSize: no extension
    PutTag(h, "fact");
    Put32(h, 4);
    Put32(h, static_cast<std::uint32_t>(frames_));  // frames per channel
  }
  PutTag(h, "data");
  Put32(h, static_cast<std::uint32_t>(data_bytes));
  if (std::fseek(file_, 0, SEEK_SET) != 0) Fail("fseek", path_);
  if (std::fwrite(h.data(), 1, h.size(), file_) != h.size()) Fail("fwrite", path_);
  if (std::fseek(file_, 0, SEEK_END) != 0) Fail("fseek", path_);
}

void WavWriter::Append(const void* data, std::size_t bytes) {
  if (std::fwrite(data, 1, bytes, file_) != bytes) Fail("fwrite", path_);
}

void WavWriter::WritePlanar(const float* planar, std::size_t stride, std::size_t frames) {
  const std::size_t bytes_per_sample = format_ == Format::kFloat32 ? 4 : 2;
  // The RIFF size counts the header too; keep a few kB of it spare.
  if ((frames_ + frames) * channels_ * bytes_per_sample > 0xFFFF0000ull)
    throw std::runtime_error(path_ + ": the recording passes the 4 GiB a WAV file can hold");
  for (std::size_t done = 0; done < frames;) {
    const std::size_t n = std::min(kBatchFrames, frames - done);
    buffer_.resize(n * channels_ * bytes_per_sample);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t c = 0; c < channels_; ++c) {
        const float x = planar[c * stride + done + i];
        unsigned char* to = &buffer_[(i * channels_ + c) * bytes_per_sample];
        if (format_ == Format::kFloat32) {
          std::memcpy(to, &x, 4);
        } else {
          const std::int16_t s = ToPcm16(x);
          std::memcpy(to, &s, 2);
        }
      }
    }
    Append(buffer_.data(), buffer_.size());
    done += n;
  }
  frames_ += frames;
}

void WavWriter::WriteSilence(std::size_t frames) {
  const std::vector<float> zeros(std::min(kBatchFrames, frames) * channels_, 0.0f);
  for (std::size_t done = 0; done < frames;) {
    const std::size_t n = std::min(kBatchFrames, frames - done);
    WritePlanar(zeros.data(), n, n);
    done += n;
  }
}

void WavWriter::Flush() {
  WriteHeader();
  if (std::fflush(file_) != 0) Fail("fflush", path_);
}

void WavWriter::Close() {
  if (file_ == nullptr) return;
  std::FILE* f = file_;
  try {
    Flush();
  } catch (const std::exception&) {
    file_ = nullptr;
    std::fclose(f);
    throw;
  }
  file_ = nullptr;
  if (std::fclose(f) != 0) Fail("fclose", path_);
}

}  // namespace testtools
