// Judges a recording of a steady sine tone of known frequency, block by
// block, strictly enough that one slipped sample, a 2 ms hole or a 1 dB
// step is a failure at the block where it happens, and measures its pitch
// per window to a fraction of a ppm and its onset and offset to a sample. The integration tests and the benchmarks share it
// (tests/README.md, "How audio is judged", gives the limits and how they
// were calibrated).
//
// Test-only code (STYLE rule 11). Not real-time: it allocates and throws.
//
// Method. Each 10 ms block (boundaries from the file's first sample) gets a
// least-squares fit of a*cos(w t) + b*sin(w t) + c at the block's local
// frequency w, t counted from the block's centre: the three-parameter
// (known-frequency) sine fit of IEEE Std 1057 (also IEEE Std 1241). The
// fit gives the block's amplitude, its phase at the centre and the residual.
// The local frequency comes from the tone itself: the phase advance from
// one block centre to the next, less the advance the expected frequency
// gives, is the block's frequency error; a median over neighbouring blocks
// makes it robust. Pitch over a window is the slope of a straight line
// fitted to the accumulated phase advances (the tone's phase against the
// expected frequency's), which averages the phase noise of a hundred
// blocks: within 0.2 ppm on clean Opus at 64 and 128 kbit/s.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace testtools {

/// What went wrong in a block; a block may show several at once.
enum GlitchKind : uint8_t {
  kGlitchLevel = 1 << 0,     // amplitude off its running median
  kGlitchResidual = 1 << 1,  // too much left after the sine fit
  kGlitchPhase = 1 << 2,     // a step in phase (advances off their running median)
  kGlitchSilence = 1 << 3,   // far below the steady level
  kGlitchClick = 1 << 4,     // a sample-level step (3-tap residual)
};
inline constexpr int kGlitchKindCount = 5;

/// Thread: any. "level", "residual", "phase", "silence" or "click" for one
/// kind bit (bit index 0 to kGlitchKindCount - 1).
const char* GlitchKindName(int bit);

/// A span of the recording the caller knows is disturbed (a server stall it
/// provoked, say). Glitched blocks that overlap it are reported as excused,
/// not as failures. A pitch window is judged whatever it overlaps: the
/// advances of glitched blocks in it, excused or not, are replaced by
/// their running median, and it is judged when half its advances are clean.
struct ExcuseWindow {
  double start_s = 0;  // from the start of the file
  double end_s = 0;
  std::string reason;
};

/// The limits, each from calibration on clean recordings of the reference
/// receiver (tests/README.md). Nothing measured in the recording moves them.
struct JudgeLimits {
  /// A block's level may depart this far from the median of the previous
  /// blocks' levels.
  double level_tol_db = 0.5;
  /// Residual RMS after the fit, relative to the block's amplitude.
  double residual_max_db = -35.0;
  /// The block-to-block phase advance may depart this far from the median
  /// of the previous blocks' advances, in radians.
  double phase_tol_rad = 0.015;
  /// A block this far below the steady level is silent.
  double silence_db = -20.0;
  /// The 3-tap residual x[i-1] + x[i+1] - 2cos(w)x[i] of any sample, over
  /// the block's reference amplitude, in dB.
  double click_max_db = -60.0;
  /// Every judged pitch window within this many ppm of the expected
  /// frequency; unset = not judged.
  std::optional<double> max_pitch_ppm = 50.0;
  /// Most glitched (not excused) blocks a channel may have.
  int max_glitches = 0;
  /// When set: the channel's steady amplitude (linear peak, 1.0 = full
  /// scale) must be within amplitude_tol_db of it.
  std::optional<double> expected_amplitude;
  double amplitude_tol_db = 0.5;
};

struct JudgeOptions {
  double freq_hz = 440.0;  // nominal tone frequency
  double freq_ppm = 0.0;   // expected = freq_hz * (1 + freq_ppm * 1e-6)
  /// Judge only blocks inside [from_s, to_s], and inside the tone (onset +
  /// guard to offset - guard). Seconds from the file's start, or from the
  /// onset when from_onset / to_onset is set (from the file's start when
  /// the tone is there from the first sample).
  double from_s = 0.0;
  bool from_onset = false;
  double to_s = std::numeric_limits<double>::infinity();
  bool to_onset = false;
  /// Not the last this many seconds before the offset (at least
  /// kEdgeGuardS): a stream's end, which a receiver conceals once the
  /// last packet has played, is not the stream.
  double tail_s = 0.0;
  std::vector<ExcuseWindow> excuses;
  JudgeLimits limits;
};

/// Fixed parameters of the method (not limits; see tests/README.md).
inline constexpr double kBlockS = 0.010;         // block length
inline constexpr double kPitchWindowS = 1.0;     // pitch window length
inline constexpr double kPitchHopS = 0.5;        // pitch windows start this far apart
inline constexpr double kEdgeGuardS = 0.020;     // not judged after onset / before offset
inline constexpr int kHistoryBlocks = 50;        // running medians span this many blocks

/// One 10 ms block. Values are meaningful when `judged`; phase_dev_rad and
/// phase_step_rad are NaN when the block is silent or follows a silence of
/// 100 ms or more.
struct BlockReport {
  double start_s = 0;
  bool judged = false;
  double level_db = 0;       // amplitude in dBFS (peak, 0 dB = 1.0)
  double level_dev_db = 0;   // against the running median of previous blocks
  double residual_db = 0;    // residual RMS over amplitude
  double phase_dev_rad = 0;  // phase advance against its running median (after a
                             // short silence: against the last sounding block)
  double phase_step_rad = 0; // phase_dev_rad plus the next block's: the phase step
                             // between this block's centre and the next one's
  double click_db = -200;    // largest 3-tap residual over reference amplitude
  double freq_err_ppm = 0;   // this block's phase advance as a frequency error (NaN
                             // where phase_dev_rad is not an advance)
  uint8_t kinds = 0;         // GlitchKind bits
  int excuse = -1;           // index into JudgeOptions::excuses when excused
};

/// One pitch window: its frequency error against the expected frequency.
struct PitchWindow {
  double start_s = 0;
  double end_s = 0;
  double ppm = 0;
  int blocks_clean = 0;  // blocks whose own phase advance was used
  bool judged = false;   // enough clean blocks (at least half)
  int excuse = -1;       // index into JudgeOptions::excuses of one it overlaps (for the report)
};

struct ChannelJudgement {
  int channel = 0;  // 0-based
  bool has_tone = false;
  /// The tone's start and end: where its one-period mean square crosses
  /// half the steady mean square, interpolated between samples. Unset when
  /// the tone is already there at the file's start, or still there at its
  /// end.
  std::optional<double> onset_s;
  std::optional<double> offset_s;
  double level_db = 0;            // steady amplitude, dBFS
  double median_residual_db = 0;  // over the judged blocks
  int blocks_judged = 0;
  int glitched = 0;  // not excused
  int excused = 0;
  int by_kind[kGlitchKindCount] = {};          // glitched (not excused) blocks showing each kind
  int excused_by_kind[kGlitchKindCount] = {};  // excused blocks showing each kind
  std::optional<double> worst_pitch_ppm;       // largest |ppm| of the judged windows, signed
  std::vector<BlockReport> blocks;             // every full block of the file
  std::vector<PitchWindow> windows;
  std::vector<std::string> failures;  // each names its time and kind; empty = pass
};

/// Thread: any. Judges one channel sampled at `sample_rate`.
ChannelJudgement JudgeChannel(const std::vector<float>& samples, int sample_rate,
                              const JudgeOptions& options);

}  // namespace testtools
