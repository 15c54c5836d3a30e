// wav_analyze: checks a recording of a steady tone against expectations.
// Prints one JSON object per channel on stdout (for logs and scripts) and a
// one-line verdict on stderr (for people). Exit 0 pass, 1 fail, 2 usage or
// unreadable file.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "wav_analysis.hpp"

namespace {

// Every default in one place; --help prints them.
constexpr double kDefaultFreqTolHz = 2.0;
constexpr double kDefaultRmsTolDb = 1.5;
constexpr int kDefaultMaxGaps = 0;

struct Expectations {
  std::optional<double> freq_hz;
  double freq_tol_hz = kDefaultFreqTolHz;
  std::optional<double> rms;
  double rms_tol_db = kDefaultRmsTolDb;
  std::optional<double> min_sound_s;
  int max_gaps = kDefaultMaxGaps;
  std::optional<int> max_clicks;
  std::optional<int> channels;
};

void PrintUsage(FILE* to) {
  const testtools::AnalysisOptions d;
  std::fprintf(to,
               "usage: wav_analyze FILE [options]\n"
               "Analyses each channel of a WAV recording of a steady sine tone.\n"
               "\nExpectations (each given one is checked on every channel):\n"
               "  --freq HZ          tone frequency\n"
               "  --freq-tol HZ      allowed frequency error (default %g)\n"
               "  --rms X            linear RMS level over the steady part (1.0 = full scale)\n"
               "  --rms-tol-db DB    allowed level error (default %g)\n"
               "  --min-sound-s S    shortest acceptable sound duration\n"
               "  --max-gaps N       most gaps allowed (default %d)\n"
               "  --max-clicks N     most clicks allowed (default: not checked)\n"
               "  --channels N       exact channel count of the file\n"
               "  --sound-db DB      a 1 ms window is sound above this RMS in dB (default -40);\n"
               "                     raise it to keep a sender's low-level tail out of the tone\n"
               "  --analyse-s S      judge only S seconds from the onset (the tone that was\n"
               "                     sent), not what plays after the sender stopped\n"
               "\nAnalysis settings: sound above %g dB RMS in 1 ms windows; steady part\n"
               "from onset+%gs to offset-%gs; gap below %g x steady RMS.\n"
               "\nOutput: one JSON object per channel on stdout, PASS/FAIL line on stderr.\n"
               "Exit: 0 pass, 1 fail, 2 bad usage or unreadable file.\n",
               kDefaultFreqTolHz, kDefaultRmsTolDb, kDefaultMaxGaps, d.sound_threshold_db,
               d.steady_skip_start_s, d.steady_skip_end_s, d.gap_fraction);
}

[[noreturn]] void UsageError(const std::string& why) {
  std::fprintf(stderr, "wav_analyze: %s\n", why.c_str());
  PrintUsage(stderr);
  std::exit(2);
}

double ParseNumber(const std::string& option, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(v))
    UsageError(option + " needs a number, got '" + text + "'");
  return v;
}

int ParseCount(const std::string& option, const char* text) {
  const double v = ParseNumber(option, text);
  if (v < 0 || v != std::floor(v)) UsageError(option + " needs a whole number >= 0");
  return int(v);
}

void PrintJson(const testtools::ChannelAnalysis& a) {
  if (!a.has_sound) {
    std::printf(
        "{\"channel\":%d,\"onset_s\":null,\"offset_s\":null,\"duration_s\":null,"
        "\"freq_hz\":null,\"rms\":null,\"gaps\":null,\"longest_gap_ms\":null,\"clicks\":null}\n",
        a.channel + 1);
    return;
  }
  std::printf(
      "{\"channel\":%d,\"onset_s\":%.4f,\"offset_s\":%.4f,\"duration_s\":%.4f,"
      "\"freq_hz\":%.3f,\"rms\":%.5f,\"gaps\":%d,\"longest_gap_ms\":%.2f,\"clicks\":%d}\n",
      a.channel + 1, a.onset_s, a.offset_s, a.duration_s, a.freq_hz, a.rms, a.gaps,
      a.longest_gap_ms, a.clicks);
}

// Appends "channel N: what value vs expected" for each unmet expectation.
void Check(const testtools::ChannelAnalysis& a, const Expectations& e,
           std::vector<std::string>& failures) {
  char buf[200];
  const std::string ch = "channel " + std::to_string(a.channel + 1) + ": ";
  if (!a.has_sound) {
    failures.push_back(ch + "no sound above the threshold");
    return;
  }
  if (e.freq_hz && std::abs(a.freq_hz - *e.freq_hz) > e.freq_tol_hz) {
    std::snprintf(buf, sizeof buf, "freq %.3f Hz vs expected %g +- %g", a.freq_hz, *e.freq_hz,
                  e.freq_tol_hz);
    failures.push_back(ch + buf);
  }
  if (e.rms) {
    const double db = a.rms > 0 ? 20 * std::log10(a.rms / *e.rms) : -INFINITY;
    if (!(std::abs(db) <= e.rms_tol_db)) {
      std::snprintf(buf, sizeof buf, "rms %.5f (%+.2f dB) vs expected %g +- %g dB", a.rms, db,
                    *e.rms, e.rms_tol_db);
      failures.push_back(ch + buf);
    }
  }
  if (e.min_sound_s && a.duration_s < *e.min_sound_s) {
    std::snprintf(buf, sizeof buf, "sound %.3f s vs expected >= %g s", a.duration_s,
                  *e.min_sound_s);
    failures.push_back(ch + buf);
  }
  if (a.gaps > e.max_gaps) {
    std::snprintf(buf, sizeof buf, "gaps %d (longest %.1f ms) vs expected <= %d", a.gaps,
                  a.longest_gap_ms, e.max_gaps);
    failures.push_back(ch + buf);
  }
  if (e.max_clicks && a.clicks > *e.max_clicks) {
    std::snprintf(buf, sizeof buf, "clicks %d vs expected <= %d", a.clicks, *e.max_clicks);
    failures.push_back(ch + buf);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  Expectations e;
  testtools::AnalysisOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      PrintUsage(stdout);
      return 0;
    }
    if (arg.rfind("--", 0) != 0) {
      if (!path.empty()) UsageError("more than one FILE");
      path = arg;
      continue;
    }
    if (i + 1 >= argc) UsageError(arg + " needs a value");
    const char* value = argv[++i];
    if (arg == "--freq") e.freq_hz = ParseNumber(arg, value);
    else if (arg == "--freq-tol") e.freq_tol_hz = ParseNumber(arg, value);
    else if (arg == "--rms") e.rms = ParseNumber(arg, value);
    else if (arg == "--rms-tol-db") e.rms_tol_db = ParseNumber(arg, value);
    else if (arg == "--min-sound-s") e.min_sound_s = ParseNumber(arg, value);
    else if (arg == "--max-gaps") e.max_gaps = ParseCount(arg, value);
    else if (arg == "--max-clicks") e.max_clicks = ParseCount(arg, value);
    else if (arg == "--channels") e.channels = ParseCount(arg, value);
    else if (arg == "--sound-db") options.sound_threshold_db = ParseNumber(arg, value);
    else if (arg == "--analyse-s") options.analyse_s = ParseNumber(arg, value);
    else UsageError("unknown option " + arg);
  }
  if (path.empty()) UsageError("no FILE given");
  if (e.rms && *e.rms <= 0) UsageError("--rms must be > 0");

  std::vector<testtools::ChannelAnalysis> channels;
  try {
    channels = testtools::AnalyseWav(path, options);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "wav_analyze: %s\n", ex.what());
    return 2;
  }

  std::vector<std::string> failures;
  if (e.channels && int(channels.size()) != *e.channels)
    failures.push_back("channels " + std::to_string(channels.size()) + " vs expected " +
                       std::to_string(*e.channels));
  for (const auto& a : channels) {
    PrintJson(a);
    Check(a, e, failures);
  }
  std::fflush(stdout);  // JSON first, then the verdict, when both go to one terminal

  if (!failures.empty()) {
    std::string line = "FAIL: " + failures[0];
    for (size_t i = 1; i < failures.size(); ++i) line += "; " + failures[i];
    std::fprintf(stderr, "%s\n", line.c_str());
    return 1;
  }
  std::string line = "PASS: " + path + ": " + std::to_string(channels.size()) + " channel(s)";
  for (const auto& a : channels) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "; ch%d %.2f Hz rms %.4f sound %.2f s gaps %d clicks %d",
                  a.channel + 1, a.freq_hz, a.rms, a.duration_s, a.gaps, a.clicks);
    line += buf;
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  return 0;
}
