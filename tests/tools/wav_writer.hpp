// Writes a WAV file as samples arrive, keeping the header's sizes true:
// Flush() rewrites them for what has been written so far, so a recording
// stopped at any Flush() or Close() is a valid file.
//
// Test-only code (STYLE rule 11). Not real-time: it makes system calls and
// may allocate. Formats: 32-bit float (WAVE_FORMAT_IEEE_FLOAT, with the
// `fact` chunk that non-PCM formats carry) or 16-bit PCM.
#pragma once

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace testtools {

class WavWriter {
 public:
  enum class Format { kFloat32, kPcm16 };

  /// Thread: one at a time. Creates `path` and writes a header for no
  /// frames. Throws std::runtime_error naming the call that failed.
  WavWriter(const std::string& path, std::uint32_t rate, std::uint32_t channels, Format format);
  ~WavWriter();
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  /// Thread: one at a time. Appends `frames` frames from planar samples:
  /// channel c's frame i at planar[c * stride + i]. PCM clips to
  /// [-1, 1 - 2^-15]. Throws on a write error, or when the data chunk would
  /// pass the 4 GiB a WAV header can state.
  void WritePlanar(const float* planar, std::size_t stride, std::size_t frames);

  /// Thread: one at a time. Appends `frames` frames of silence.
  void WriteSilence(std::size_t frames);

  /// Thread: one at a time. Rewrites the header's sizes for the frames
  /// written so far and flushes the file to the kernel. Throws on error.
  void Flush();

  /// Thread: one at a time. Flush() and close; the destructor does the same
  /// but cannot report errors.
  void Close();

  std::uint64_t frames() const noexcept { return frames_; }

 private:
  void WriteHeader();
  void Append(const void* data, std::size_t bytes);

  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint32_t rate_, channels_;
  Format format_;
  std::uint64_t frames_ = 0;
  std::vector<unsigned char> buffer_;  // one batch of converted frames
};

}  // namespace testtools
