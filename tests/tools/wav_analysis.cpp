// See wav_analysis.hpp. Plain loops over float vectors: the recordings are
// seconds long, so clarity beats speed here.
#include "wav_analysis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numbers>
#include <stdexcept>

namespace testtools {
namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatFloat = 3;
constexpr uint16_t kFormatExtensible = 0xFFFE;

// WAV is little-endian whatever the host; read byte by byte.
uint32_t Le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint16_t Le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

[[noreturn]] void Fail(const std::string& path, const std::string& why) {
  throw std::runtime_error(path + ": " + why);
}

// One sample of `bytes` bytes at p, scaled to [-1, 1).
float Decode(const uint8_t* p, int bytes, bool is_float) {
  switch (bytes) {
    case 1:  // 8-bit WAV is unsigned
      return (float(p[0]) - 128.0f) / 128.0f;
    case 2:
      return float(int16_t(Le16(p))) / 32768.0f;
    case 3:  // sign-extend by placing the 24 bits at the top of an int32
      return float(int32_t(uint32_t(p[0]) << 8 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 24)) /
             2147483648.0f;
    case 4:
      if (is_float) {
        uint32_t u = Le32(p);
        float f;
        std::memcpy(&f, &u, sizeof f);
        return f;
      }
      return float(double(int32_t(Le32(p))) / 2147483648.0);
    case 8: {
      uint64_t u = uint64_t(Le32(p)) | uint64_t(Le32(p + 4)) << 32;
      double d;
      std::memcpy(&d, &u, sizeof d);
      return float(d);
    }
  }
  return 0.0f;  // unreachable: sizes are checked when the header is parsed
}

double Rms(const std::vector<float>& x, size_t begin, size_t end) {
  if (end <= begin) return 0.0;
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += double(x[i]) * x[i];
  return std::sqrt(sum / double(end - begin));
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// Frequency from upward crossings of the mean, each placed by linear
// interpolation between the two samples around it. The signal must first
// fall below mean - hysteresis, so noise near a crossing, a dropped sample
// or a hole of zeros cannot add crossings. Periods more than 2% from the
// median (those spanning a hole) are left out; the mean of the rest is
// about (last - first crossing) / count, so the error shrinks with length.
double EstimateFrequency(const std::vector<float>& x, size_t begin, size_t end, double amplitude,
                         int rate) {
  double mean = 0;
  for (size_t i = begin; i < end; ++i) mean += x[i];
  mean /= double(std::max<size_t>(end - begin, 1));
  const double hysteresis = 0.25 * amplitude;

  std::vector<double> crossings;
  bool armed = false;
  for (size_t i = std::max<size_t>(begin, 1); i < end; ++i) {
    if (x[i] < mean - hysteresis) armed = true;
    if (armed && x[i] >= mean && x[i - 1] < mean) {
      crossings.push_back(double(i - 1) + (mean - x[i - 1]) / (double(x[i]) - x[i - 1]));
      armed = false;
    }
  }
  std::vector<double> periods;
  for (size_t k = 1; k < crossings.size(); ++k) periods.push_back(crossings[k] - crossings[k - 1]);
  const double median = Median(periods);
  double sum = 0;
  int kept = 0;
  for (double p : periods) {
    if (std::abs(p - median) <= 0.02 * median) {
      sum += p;
      ++kept;
    }
  }
  return kept >= 2 ? rate * kept / sum : 0.0;
}

// Residual after a 3-tap FIR with zeros exactly at the tone frequency:
// r[i] = x[i-1] + x[i+1] - 2 cos(w) x[i] is 0 for any sine at w, whatever
// its amplitude and phase, and passes steps, dropped samples and codec
// noise. Cheaper and more robust than fitting a sine whose phase drifts.
double Residual(const std::vector<float>& x, size_t i, double two_cos_w) {
  return double(x[i - 1]) + x[i + 1] - two_cos_w * x[i];
}

}  // namespace

WavData ReadWav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(path, "cannot open");
  const std::vector<uint8_t> file{std::istreambuf_iterator<char>(in), {}};
  const size_t size = file.size();
  if (size < 12 || std::memcmp(&file[0], "RIFF", 4) != 0 || std::memcmp(&file[8], "WAVE", 4) != 0)
    Fail(path, "not a RIFF/WAVE file");
  // The RIFF size at byte 4 is ignored: jack_rec leaves it at 8 when killed.

  WavData wav;
  uint16_t format = 0, channels = 0, block_align = 0;
  size_t data_begin = 0, data_bytes = 0;
  bool have_fmt = false, have_data = false;
  for (size_t pos = 12; pos + 8 <= size;) {
    const uint8_t* chunk = &file[pos];
    const size_t body = pos + 8;
    const size_t chunk_size = Le32(chunk + 4);
    const size_t available = size - body;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (chunk_size < 16 || available < 16) Fail(path, "fmt chunk too short");
      format = Le16(&file[body]);
      channels = Le16(&file[body + 2]);
      wav.sample_rate = int(Le32(&file[body + 4]));
      block_align = Le16(&file[body + 12]);
      wav.bits_per_sample = Le16(&file[body + 14]);
      if (format == kFormatExtensible) {
        // The real format is the first two bytes of the SubFormat GUID.
        if (chunk_size < 40 || available < 40) Fail(path, "extensible fmt chunk too short");
        format = Le16(&file[body + 24]);
      }
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      have_data = true;
      data_begin = body;
      // A killed writer leaves 0 here; a cut file has less than it says.
      // Either way the data runs to the end of the file.
      if (chunk_size == 0 || chunk_size > available) {
        data_bytes = available;
        wav.size_from_file_length = true;
        break;
      }
      data_bytes = chunk_size;
    }
    if (chunk_size > available) break;  // a cut-off trailing chunk: ignore it
    pos = body + chunk_size + (chunk_size & 1);  // chunks are padded to even sizes
  }
  if (!have_fmt) Fail(path, "no fmt chunk");
  if (!have_data) Fail(path, "no data chunk");

  wav.is_float = format == kFormatFloat;
  if (format != kFormatPcm && !wav.is_float)
    Fail(path, "unsupported format tag " + std::to_string(format));
  if (channels == 0 || wav.sample_rate <= 0) Fail(path, "zero channels or sample rate");
  // The container size comes from block_align: WAVE_FORMAT_EXTENSIBLE may
  // declare fewer valid bits than it stores, left-justified.
  const int bytes = block_align / channels;
  const bool size_ok = wav.is_float ? (bytes == 4 || bytes == 8) : (bytes >= 1 && bytes <= 4);
  if (!size_ok || block_align % channels != 0)
    Fail(path, "unsupported sample size " + std::to_string(bytes) + " bytes");

  const size_t frames = data_bytes / block_align;  // a torn last frame is dropped
  wav.channels.assign(channels, std::vector<float>(frames));
  for (size_t f = 0; f < frames; ++f) {
    const uint8_t* p = &file[data_begin + f * block_align];
    for (int c = 0; c < channels; ++c) wav.channels[c][f] = Decode(p + c * bytes, bytes, wav.is_float);
  }
  return wav;
}

ChannelAnalysis AnalyseChannel(const std::vector<float>& x, int rate,
                               const AnalysisOptions& options) {
  ChannelAnalysis a;
  const size_t win = std::max<size_t>(1, size_t(std::lround(rate * 0.001)));
  const size_t windows = x.size() / win;
  const double threshold = std::pow(10.0, options.sound_threshold_db / 20.0);

  // Onset and offset on 1 ms windows.
  size_t first = windows, last = 0;
  for (size_t w = 0; w < windows; ++w) {
    if (Rms(x, w * win, (w + 1) * win) > threshold) {
      if (first == windows) first = w;
      last = w;
    }
  }
  if (first == windows) return a;
  a.has_sound = true;
  const size_t sound_begin = first * win, sound_end = (last + 1) * win;
  a.onset_s = double(sound_begin) / rate;
  a.offset_s = double(sound_end) / rate;
  a.duration_s = a.offset_s - a.onset_s;

  // What is judged: the whole sound, or only as much as the sender sent, so
  // that what a receiver plays after the sender stops is not part of the tone.
  const size_t judged_end =
      options.analyse_s > 0
          ? std::min(sound_end, sound_begin + size_t(options.analyse_s * rate))
          : sound_end;

  // Steady part; a sound too short for the skips falls back to its middle half.
  size_t steady_begin = sound_begin + size_t(options.steady_skip_start_s * rate);
  size_t steady_end = judged_end - std::min(judged_end, size_t(options.steady_skip_end_s * rate));
  if (steady_end < steady_begin + size_t(0.1 * rate)) {
    steady_begin = sound_begin + (judged_end - sound_begin) / 4;
    steady_end = judged_end - (judged_end - sound_begin) / 4;
  }
  a.rms = Rms(x, steady_begin, steady_end);
  const double amplitude = a.rms * std::numbers::sqrt2;
  a.freq_hz = EstimateFrequency(x, steady_begin, steady_end, amplitude, rate);

  // Gaps. Windows are at least half a period long so that a clean sine's
  // window RMS does not depend on its phase (a 1 ms window of a 200 Hz tone
  // can read 6 dB low). Only quiet runs with loud windows on both sides
  // count, so a fade-in or fade-out is not a gap.
  const size_t gap_win =
      a.freq_hz > 0 ? std::max(win, size_t(std::lround(rate / (2 * a.freq_hz)))) : win;
  const double quiet = options.gap_fraction * a.rms;
  bool seen_loud = false;
  size_t run = 0;
  for (size_t begin = sound_begin; begin + gap_win <= judged_end; begin += gap_win) {
    if (Rms(x, begin, begin + gap_win) < quiet) {
      if (seen_loud) ++run;
      continue;
    }
    if (run > 0) {
      ++a.gaps;
      a.longest_gap_ms = std::max(a.longest_gap_ms, 1000.0 * double(run * gap_win) / rate);
    }
    run = 0;
    seen_loud = true;
  }

  // Clicks: residual above a threshold set from its own noise over the
  // steady part (median absolute deviation, robust to the clicks themselves).
  const double two_cos_w = 2 * std::cos(2 * std::numbers::pi * a.freq_hz / rate);
  std::vector<double> noise;
  for (size_t i = std::max<size_t>(steady_begin, 1); i + 1 < steady_end; ++i)
    noise.push_back(std::abs(Residual(x, i, two_cos_w)));
  const double sigma = 1.4826 * Median(std::move(noise));
  const double click_level =
      std::max(options.click_sigmas * sigma, options.click_min_fraction * amplitude);
  // Skip 5 ms at each end: a tone that starts or stops mid-cycle steps there.
  const size_t edge = size_t(0.005 * rate);
  const size_t merge = win;  // samples above within 1 ms form one click
  size_t last_above = 0;
  bool any_above = false;
  for (size_t i = sound_begin + edge; i + edge < judged_end && i + 1 < x.size(); ++i) {
    if (i == 0 || std::abs(Residual(x, i, two_cos_w)) <= click_level) continue;
    if (!any_above || i - last_above > merge) ++a.clicks;
    any_above = true;
    last_above = i;
  }
  return a;
}

std::vector<ChannelAnalysis> AnalyseWav(const std::string& path, const AnalysisOptions& options) {
  const WavData wav = ReadWav(path);
  std::vector<ChannelAnalysis> result;
  for (size_t c = 0; c < wav.channels.size(); ++c) {
    result.push_back(AnalyseChannel(wav.channels[c], wav.sample_rate, options));
    result.back().channel = int(c);
  }
  return result;
}

}  // namespace testtools
