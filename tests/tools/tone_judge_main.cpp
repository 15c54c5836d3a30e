// tone_judge: judges a WAV recording of a steady sine tone, 10 ms block by
// block, per channel (tone_judge.hpp has the method, tests/README.md the
// limits and their calibration). Prints one compact JSON object per channel
// on stdout, optionally the full per-block and per-window report to a file,
// and a one-line verdict naming every failure on stderr. Exit 0 pass, 1
// fail, 2 usage or unreadable file.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tone_judge.hpp"
#include "wav_analysis.hpp"

namespace {

using testtools::ChannelJudgement;
using testtools::ExcuseWindow;
using testtools::JudgeOptions;

// Every default in one place (the library's), printed by --help.
const testtools::JudgeLimits kDefaults;
const JudgeOptions kDefaultOptions;

void PrintUsage(FILE* to) {
  std::fprintf(
      to,
      "usage: tone_judge FILE [options]\n"
      "Judges each channel of a WAV recording of a steady sine tone: a sine fit per\n"
      "10 ms block (level, residual, phase continuity, silence, sample clicks), the\n"
      "pitch per 1 s window (windows start every 0.5 s), onset and offset.\n"
      "\nTone:\n"
      "  --freq HZ               nominal frequency (default %g)\n"
      "  --freq-ppm P            expected frequency is HZ * (1 + P * 1e-6) (default 0)\n"
      "  --amplitude A           expected steady amplitude, linear peak (1.0 = full scale)\n"
      "  --channels N            exact channel count of the file\n"
      "  --only-channel N        judge channel N (1-based) alone, e.g. one tone per channel\n"
      "\nWhat is judged (blocks inside the tone, %g ms after onset to %g ms before offset):\n"
      "  --from-s S              only from S s after the file's start; 'onset+S': after the onset\n"
      "  --to-s S                only up to S s after the file's start; 'onset+S': after the onset\n"
      "  --tail-s S              not the last S s before the offset (the stream's end)\n"
      "  --excuse FILE           excused windows, lines 'START_S END_S REASON' ('#' comments)\n"
      "  --excuse S:E[:REASON]   one excused window, seconds from the file's start\n"
      "                          (repeatable; a glitched block or pitch window overlapping\n"
      "                          one is reported as excused, not as a failure)\n"
      "\nLimits (defaults from calibration on the reference receiver, tests/README.md):\n"
      "  --level-tol-db DB       block level vs the median of the previous %d blocks (default %g)\n"
      "  --residual-max-db DB    block residual RMS after the sine fit, re amplitude (default %g)\n"
      "  --phase-tol-rad R       block phase advance vs the median of the previous %d (default %g)\n"
      "  --silence-db DB         a block this far below the steady level is silent (default %g)\n"
      "  --click-max-db DB       3-tap residual of any sample, re amplitude (default %g)\n"
      "  --max-pitch-ppm P|off   every pitch window within P ppm of the expected (default %g)\n"
      "  --max-glitches N        glitched blocks allowed per channel (default %d)\n"
      "  --amplitude-tol-db DB   steady level vs --amplitude (default %g)\n"
      "\nOutput:\n"
      "  --json FILE             the full report: every block and window of every channel\n"
      "  stdout: one JSON summary per channel; stderr: PASS/FAIL line naming each failure.\n"
      "Exit: 0 pass, 1 fail, 2 bad usage or unreadable file.\n",
      kDefaultOptions.freq_hz, testtools::kEdgeGuardS * 1000, testtools::kEdgeGuardS * 1000,
      testtools::kHistoryBlocks, kDefaults.level_tol_db, kDefaults.residual_max_db,
      testtools::kHistoryBlocks, kDefaults.phase_tol_rad, kDefaults.silence_db,
      kDefaults.click_max_db, kDefaults.max_pitch_ppm.value_or(0), kDefaults.max_glitches,
      kDefaults.amplitude_tol_db);
}

[[noreturn]] void UsageError(const std::string& why) {
  std::fprintf(stderr, "tone_judge: %s\n", why.c_str());
  PrintUsage(stderr);
  std::exit(2);
}

std::optional<double> ToNumber(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

double ParseNumber(const std::string& option, const std::string& text) {
  const auto v = ToNumber(text);
  if (!v) UsageError(option + " needs a number, got '" + text + "'");
  return *v;
}

int ParseCount(const std::string& option, const std::string& text) {
  const double v = ParseNumber(option, text);
  if (v < 0 || v != std::floor(v)) UsageError(option + " needs a whole number >= 0");
  return int(v);
}

// "S" (from the file's start) or "onset+S".
void ParseTime(const std::string& option, const std::string& text, double& s, bool& from_onset) {
  const std::string prefix = "onset+";
  from_onset = text.rfind(prefix, 0) == 0;
  s = ParseNumber(option, from_onset ? text.substr(prefix.size()) : text);
}

ExcuseWindow MakeExcuse(double start, double end, std::string reason, const std::string& where) {
  if (!(end > start)) UsageError("excused window " + where + " must end after it starts");
  return {start, end, reason.empty() ? "excused" : std::move(reason)};
}

// "S:E[:REASON]" inline, or else a file of "START_S END_S REASON" lines.
void ParseExcuse(const std::string& text, std::vector<ExcuseWindow>& out) {
  const size_t c1 = text.find(':');
  if (c1 != std::string::npos) {
    const size_t c2 = text.find(':', c1 + 1);
    const auto start = ToNumber(text.substr(0, c1));
    const auto end = ToNumber(text.substr(c1 + 1, c2 == std::string::npos ? c2 : c2 - c1 - 1));
    if (start && end) {
      out.push_back(MakeExcuse(*start, *end, c2 == std::string::npos ? "" : text.substr(c2 + 1),
                               "'" + text + "'"));
      return;
    }
  }
  std::ifstream in(text);
  if (!in) UsageError("--excuse: '" + text + "' is neither S:E[:REASON] nor a readable file");
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string a, b, reason;
    if (!(fields >> a)) continue;  // blank or comment
    fields >> b;
    std::getline(fields >> std::ws, reason);
    const auto start = ToNumber(a), end = ToNumber(b);
    const std::string where = text + ":" + std::to_string(n);
    if (!start || !end) UsageError("--excuse " + where + ": expected 'START_S END_S REASON'");
    out.push_back(MakeExcuse(*start, *end, reason, where));
  }
}

// JSON helpers: numbers with a fixed precision, NaN and unset as null.
std::string Num(double v, int decimals) {
  if (!std::isfinite(v)) return "null";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string Num(const std::optional<double>& v, int decimals) {
  return v ? Num(*v, decimals) : "null";
}
std::string Str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

std::string KindsJson(const int (&counts)[testtools::kGlitchKindCount]) {
  std::string out = "{";
  for (int bit = 0; bit < testtools::kGlitchKindCount; ++bit)
    out += std::string(bit ? "," : "") + Str(testtools::GlitchKindName(bit)) + ":" +
           std::to_string(counts[bit]);
  return out + "}";
}

std::string KindsList(uint8_t kinds) {
  std::string out = "[";
  for (int bit = 0; bit < testtools::kGlitchKindCount; ++bit)
    if (kinds & (1 << bit))
      out += std::string(out.size() > 1 ? "," : "") + Str(testtools::GlitchKindName(bit));
  return out + "]";
}

// The summary: counts, levels, edges, the pitch of every window (null when
// not judged), and the first glitched blocks (all of them are in --json).
std::string Summary(const ChannelJudgement& c, const JudgeOptions& o) {
  constexpr size_t kListed = 20;
  std::string s = "{\"channel\":" + std::to_string(c.channel + 1) +
                  ",\"has_tone\":" + (c.has_tone ? "true" : "false");
  s += ",\"onset_s\":" + Num(c.onset_s, 5) + ",\"offset_s\":" + Num(c.offset_s, 5);
  s += ",\"level_db\":" + Num(c.has_tone ? c.level_db : NAN, 3);
  if (o.limits.expected_amplitude && c.has_tone)
    s += ",\"level_vs_expected_db\":" +
         Num(c.level_db - 20 * std::log10(*o.limits.expected_amplitude), 3);
  s += ",\"median_residual_db\":" + Num(c.has_tone ? c.median_residual_db : NAN, 2);
  s += ",\"blocks_judged\":" + std::to_string(c.blocks_judged) +
       ",\"glitched\":" + std::to_string(c.glitched) + ",\"excused\":" + std::to_string(c.excused);
  s += ",\"by_kind\":" + KindsJson(c.by_kind) + ",\"excused_by_kind\":" + KindsJson(c.excused_by_kind);
  s += ",\"worst_pitch_ppm\":" + Num(c.worst_pitch_ppm, 2);
  s += ",\"pitch_windows_start_s\":" + Num(c.windows.empty() ? NAN : c.windows[0].start_s, 3) +
       ",\"pitch_ppm\":[";
  for (size_t i = 0; i < c.windows.size(); ++i) {
    if (i) s += ',';
    s += Num(c.windows[i].judged ? c.windows[i].ppm : NAN, 2);
  }
  s += "],\"pitch_excused\":[";
  bool first = true;
  for (size_t i = 0; i < c.windows.size(); ++i)
    if (c.windows[i].excuse >= 0) {
      if (!first) s += ',';
      s += std::to_string(i);
      first = false;
    }
  s += "],\"glitches\":[";
  size_t listed = 0;
  for (const auto& b : c.blocks) {
    if (!b.judged || b.kinds == 0) continue;
    if (listed++ == kListed) break;
    s += std::string(listed > 1 ? "," : "") + "{\"t\":" + Num(b.start_s, 3) +
         ",\"kinds\":" + KindsList(b.kinds);
    if (b.excuse >= 0) s += ",\"excused\":" + Str(o.excuses[size_t(b.excuse)].reason);
    s += "}";
  }
  return s + "]}";
}

void WriteReport(const std::string& path, const std::string& wav_path, int rate,
                 const std::vector<ChannelJudgement>& channels, const JudgeOptions& o) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error(path + ": cannot write");
  const auto& l = o.limits;
  out << "{\"file\":" << Str(wav_path) << ",\"sample_rate\":" << rate
      << ",\"freq_expected_hz\":" << Num(o.freq_hz * (1 + o.freq_ppm * 1e-6), 6)
      << ",\"limits\":{\"level_tol_db\":" << l.level_tol_db
      << ",\"residual_max_db\":" << l.residual_max_db << ",\"phase_tol_rad\":" << l.phase_tol_rad
      << ",\"silence_db\":" << l.silence_db << ",\"click_max_db\":" << l.click_max_db
      << ",\"max_pitch_ppm\":" << Num(l.max_pitch_ppm, 3) << ",\"max_glitches\":" << l.max_glitches
      << "},\"excuses\":[";
  for (size_t e = 0; e < o.excuses.size(); ++e)
    out << (e ? "," : "") << "{\"start_s\":" << Num(o.excuses[e].start_s, 4)
        << ",\"end_s\":" << Num(o.excuses[e].end_s, 4) << ",\"reason\":" << Str(o.excuses[e].reason)
        << "}";
  out << "],\"channels\":[";
  for (size_t ci = 0; ci < channels.size(); ++ci) {
    const auto& c = channels[ci];
    out << (ci ? ",\n" : "\n") << "{\"summary\":" << Summary(c, o) << ",\"failures\":[";
    for (size_t f = 0; f < c.failures.size(); ++f) out << (f ? "," : "") << Str(c.failures[f]);
    out << "],\n\"blocks\":[";
    bool first = true;
    for (const auto& b : c.blocks) {
      if (!b.judged) continue;
      out << (first ? "\n" : ",\n") << "{\"t\":" << Num(b.start_s, 3)
          << ",\"level_db\":" << Num(b.level_db, 3) << ",\"level_dev_db\":" << Num(b.level_dev_db, 4)
          << ",\"residual_db\":" << Num(b.residual_db, 2)
          << ",\"phase_dev_rad\":" << Num(b.phase_dev_rad, 6)
          << ",\"phase_step_rad\":" << Num(b.phase_step_rad, 6) << ",\"click_db\":" << Num(b.click_db, 2)
          << ",\"freq_err_ppm\":" << Num(b.freq_err_ppm, 1) << ",\"kinds\":" << KindsList(b.kinds)
          << ",\"excuse\":" << (b.excuse >= 0 ? Str(o.excuses[size_t(b.excuse)].reason) : "null")
          << "}";
      first = false;
    }
    out << "],\n\"windows\":[";
    for (size_t i = 0; i < c.windows.size(); ++i) {
      const auto& w = c.windows[i];
      out << (i ? ",\n" : "\n") << "{\"start_s\":" << Num(w.start_s, 3)
          << ",\"end_s\":" << Num(w.end_s, 3) << ",\"ppm\":" << Num(w.ppm, 3)
          << ",\"blocks_clean\":" << w.blocks_clean << ",\"judged\":" << (w.judged ? "true" : "false")
          << ",\"excuse\":" << (w.excuse >= 0 ? Str(o.excuses[size_t(w.excuse)].reason) : "null")
          << "}";
    }
    out << "]}";
  }
  out << "]}\n";
  if (!out) throw std::runtime_error(path + ": write failed");
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, json_path;
  JudgeOptions o;
  std::optional<int> channels_expected;
  std::optional<int> only_channel;
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
    const std::string v = argv[++i];
    auto& l = o.limits;
    if (arg == "--freq") o.freq_hz = ParseNumber(arg, v);
    else if (arg == "--freq-ppm") o.freq_ppm = ParseNumber(arg, v);
    else if (arg == "--amplitude") l.expected_amplitude = ParseNumber(arg, v);
    else if (arg == "--channels") channels_expected = ParseCount(arg, v);
    else if (arg == "--only-channel") only_channel = ParseCount(arg, v);
    else if (arg == "--from-s") ParseTime(arg, v, o.from_s, o.from_onset);
    else if (arg == "--to-s") ParseTime(arg, v, o.to_s, o.to_onset);
    else if (arg == "--tail-s") o.tail_s = ParseNumber(arg, v);
    else if (arg == "--excuse") ParseExcuse(v, o.excuses);
    else if (arg == "--level-tol-db") l.level_tol_db = ParseNumber(arg, v);
    else if (arg == "--residual-max-db") l.residual_max_db = ParseNumber(arg, v);
    else if (arg == "--phase-tol-rad") l.phase_tol_rad = ParseNumber(arg, v);
    else if (arg == "--silence-db") l.silence_db = ParseNumber(arg, v);
    else if (arg == "--click-max-db") l.click_max_db = ParseNumber(arg, v);
    else if (arg == "--max-pitch-ppm")
      l.max_pitch_ppm = v == "off" ? std::nullopt : std::optional(ParseNumber(arg, v));
    else if (arg == "--max-glitches") l.max_glitches = ParseCount(arg, v);
    else if (arg == "--amplitude-tol-db") l.amplitude_tol_db = ParseNumber(arg, v);
    else if (arg == "--json") json_path = v;
    else UsageError("unknown option " + arg);
  }
  if (path.empty()) UsageError("no FILE given");
  if (!(o.freq_hz > 0)) UsageError("--freq must be > 0");
  if (o.limits.expected_amplitude && !(*o.limits.expected_amplitude > 0))
    UsageError("--amplitude must be > 0");
  if (o.limits.silence_db >= 0) UsageError("--silence-db must be < 0");

  testtools::WavData wav;
  try {
    wav = testtools::ReadWav(path);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "tone_judge: %s\n", ex.what());
    return 2;
  }
  if (o.freq_hz >= wav.sample_rate / 2.0)
    UsageError("--freq must be below half the file's sample rate");

  std::vector<ChannelJudgement> judged;
  std::vector<std::string> failures;
  if (channels_expected && int(wav.channels.size()) != *channels_expected)
    failures.push_back("channels " + std::to_string(wav.channels.size()) + " vs expected " +
                       std::to_string(*channels_expected));
  if (only_channel && (*only_channel < 1 || *only_channel > int(wav.channels.size())))
    UsageError("--only-channel is not a channel of the file");
  for (size_t c = 0; c < wav.channels.size(); ++c) {
    if (only_channel && int(c) + 1 != *only_channel) continue;
    judged.push_back(testtools::JudgeChannel(wav.channels[c], wav.sample_rate, o));
    judged.back().channel = int(c);
    std::printf("%s\n", Summary(judged.back(), o).c_str());
    for (const auto& f : judged.back().failures)
      failures.push_back("ch" + std::to_string(c + 1) + ": " + f);
  }
  std::fflush(stdout);  // JSON first, then the verdict, when both go to one terminal
  if (!json_path.empty()) {
    try {
      WriteReport(json_path, path, wav.sample_rate, judged, o);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "tone_judge: %s\n", ex.what());
      return 2;
    }
  }

  if (!failures.empty()) {
    std::string line = "FAIL: " + path + ": " + failures[0];
    for (size_t i = 1; i < failures.size(); ++i) line += "; " + failures[i];
    std::fprintf(stderr, "%s\n", line.c_str());
    return 1;
  }
  std::string line = "PASS: " + path + ":";
  for (const auto& c : judged) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  " ch%d %d blocks, %d excused, level %.2f dBFS, residual %.1f dB, worst pitch "
                  "%s ppm;",
                  c.channel + 1, c.blocks_judged, c.excused, c.level_db, c.median_residual_db,
                  Num(c.worst_pitch_ppm, 2).c_str());
    line += buf;
  }
  line.pop_back();
  std::fprintf(stderr, "%s\n", line.c_str());
  return 0;
}
