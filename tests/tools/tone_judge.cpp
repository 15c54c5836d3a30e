// See tone_judge.hpp. Plain loops in double precision: recordings are
// seconds long, so clarity beats speed here.
#include "tone_judge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

namespace testtools {
namespace {

constexpr double kTwoPi = 2 * std::numbers::pi;
// Below this (-80 dBFS) a recording holds no tone at all.
constexpr double kNoToneAmplitude = 1e-4;
// The phase after a silence of fewer than this many blocks is checked
// against the sounding block before it. Over 100 ms the running reference's
// own error (about 1e-4 rad per block on clean Opus) adds up to far less
// than the phase limit; longer silences are flagged as such.
constexpr size_t kGapPhaseBlocks = 10;

double Db(double ratio) { return 20 * std::log10(std::max(ratio, 1e-10)); }

double Median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  auto at = v.begin() + std::ptrdiff_t(std::min(v.size() - 1, size_t(p * double(v.size()))));
  std::nth_element(v.begin(), at, v.end());
  return *at;
}

// The phase difference a - b folded into [-pi, pi].
double WrapPhase(double x) { return std::remainder(x, kTwoPi); }

struct SineFit {
  double amplitude = 0;
  double phase = 0;  // of a*cos + b*sin = A*cos(w t + phase) at the centre, t = 0
  double residual_rms = 0;
};

// Three-parameter least-squares sine fit with known frequency (IEEE Std
// 1057, "three-parameter sine fit"): x[i] ~ a cos(w t) + b sin(w t) + c
// with t = i - centre, solved from the 3x3 normal equations. Counting t
// from the block's centre makes the phase that of the centre, and keeps the
// system well conditioned (the sine column is then orthogonal to the other
// two).
SineFit FitSine(const float* x, size_t n, double w) {
  const double centre = 0.5 * double(n - 1);
  double cc = 0, ss = 0, sc = 0, c1 = 0, s1 = 0, xc = 0, xs = 0, x1 = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) - centre;
    const double c = std::cos(w * t), s = std::sin(w * t), v = x[i];
    cc += c * c;
    ss += s * s;
    sc += s * c;
    c1 += c;
    s1 += s;
    xc += v * c;
    xs += v * s;
    x1 += v;
  }
  const double nn = double(n);
  // Cramer's rule on [cc sc c1; sc ss s1; c1 s1 n] [a b c]' = [xc xs x1]'.
  const auto det3 = [](double a11, double a12, double a13, double a21, double a22, double a23,
                       double a31, double a32, double a33) {
    return a11 * (a22 * a33 - a23 * a32) - a12 * (a21 * a33 - a23 * a31) +
           a13 * (a21 * a32 - a22 * a31);
  };
  const double det = det3(cc, sc, c1, sc, ss, s1, c1, s1, nn);
  SineFit fit;
  if (std::abs(det) < 1e-12) return fit;
  const double a = det3(xc, sc, c1, xs, ss, s1, x1, s1, nn) / det;
  const double b = det3(cc, xc, c1, sc, xs, s1, c1, x1, nn) / det;
  const double dc = det3(cc, sc, xc, sc, ss, xs, c1, s1, x1) / det;
  double sq = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) - centre;
    const double e = x[i] - (a * std::cos(w * t) + b * std::sin(w * t) + dc);
    sq += e * e;
  }
  fit.amplitude = std::hypot(a, b);
  fit.phase = std::atan2(-b, a);
  fit.residual_rms = std::sqrt(sq / nn);
  return fit;
}

// The tone's onset and offset. m(u) is the mean square over one period of
// the tone centred on position u (sample i spans [i, i+1)), from prefix
// sums interpolated at fractional ends. Over a whole period, sin^2 averages
// to 1/2 whatever the phase, so m(u) is the envelope without ripple; for a
// tone that starts at u0, the window centred on u0 holds exactly half a
// period of it, so m(u0) is half the steady mean square at any starting
// phase. Onset and offset are the first upward and last downward crossings
// of that half, interpolated between samples.
struct Edges {
  std::optional<double> onset_sample;
  std::optional<double> offset_sample;
};

Edges FindEdges(const std::vector<float>& x, double period, double steady_amplitude) {
  const size_t n = x.size();
  std::vector<double> prefix(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + double(x[i]) * x[i];
  const auto energy_to = [&](double u) {  // sum of x^2 over [0, u)
    const auto i = size_t(u);
    if (i >= n) return prefix[n];
    return prefix[i] + (u - double(i)) * double(x[i]) * x[i];
  };
  const double half = period / 2;
  const auto mean_square = [&](size_t u) {
    return (energy_to(double(u) + half) - energy_to(double(u) - half)) / period;
  };
  const double target = 0.5 * steady_amplitude * steady_amplitude / 2;
  const auto first = size_t(std::ceil(half)), last = size_t(double(n) - std::ceil(half));
  Edges e;
  if (last <= first) return e;
  size_t up = first;  // the first u with m(u) >= target
  while (up <= last && mean_square(up) < target) ++up;
  if (up > last) return e;
  if (up > first) {
    const double before = mean_square(up - 1), at = mean_square(up);
    e.onset_sample = double(up - 1) + (target - before) / (at - before);
  }
  size_t down = last;  // the last u with m(u) >= target
  while (mean_square(down) < target) --down;
  if (down < last) {
    const double at = mean_square(down), after = mean_square(down + 1);
    e.offset_sample = double(down) + (at - target) / (at - after);
  }
  return e;
}

// Median of the values of the previous `kHistoryBlocks` entries, or of the
// first `kHistoryBlocks` for the first entries (so that the first blocks of
// the span are compared with the tone that follows them).
class RunningReference {
 public:
  void Add(double v) { values_.push_back(v); }
  // The reference for an entry that comes after `before` entries were added
  // (call after every value of the span is in): entries [before-H, before).
  double At(size_t before) const {
    if (values_.empty()) return std::nan("");
    const size_t h = kHistoryBlocks;
    const size_t end = before < h ? std::min(h, values_.size()) : before;
    const size_t begin = end >= h ? end - h : 0;
    return Median({values_.begin() + std::ptrdiff_t(begin), values_.begin() + std::ptrdiff_t(end)});
  }
  size_t size() const { return values_.size(); }

 private:
  std::vector<double> values_;
};

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

std::string KindsText(uint8_t kinds) {
  std::string out;
  for (int bit = 0; bit < kGlitchKindCount; ++bit) {
    if (!(kinds & (1 << bit))) continue;
    if (!out.empty()) out += "+";
    out += GlitchKindName(bit);
  }
  return out;
}

}  // namespace

const char* GlitchKindName(int bit) {
  static const char* const kNames[kGlitchKindCount] = {"level", "residual", "phase", "silence",
                                                       "click"};
  return bit >= 0 && bit < kGlitchKindCount ? kNames[bit] : "?";
}

ChannelJudgement JudgeChannel(const std::vector<float>& x, int sample_rate,
                              const JudgeOptions& options) {
  ChannelJudgement j;
  const JudgeLimits& lim = options.limits;
  const double fs = sample_rate;
  const auto block = size_t(std::lround(fs * kBlockS));
  const size_t blocks = block > 0 ? x.size() / block : 0;
  const double f_expected = options.freq_hz * (1 + options.freq_ppm * 1e-6);
  const double w_expected = kTwoPi * f_expected / fs;  // rad per sample
  const double advance = w_expected * double(block);   // expected phase advance per block

  // First pass: every block at the expected frequency.
  std::vector<SineFit> fit(blocks);
  for (size_t k = 0; k < blocks; ++k) fit[k] = FitSine(&x[k * block], block, w_expected);
  j.blocks.resize(blocks);
  for (size_t k = 0; k < blocks; ++k) j.blocks[k].start_s = double(k * block) / fs;

  // The steady level: the median of the blocks within 6 dB of the loud end
  // (90th percentile), so that silence before and after the tone and a few
  // loud clicks do not move it.
  std::vector<double> amps;
  for (const auto& f : fit) amps.push_back(f.amplitude);
  const double loud = Percentile(amps, 0.9);
  if (blocks == 0 || !(loud > kNoToneAmplitude)) {
    j.failures.push_back("no tone found");
    return j;
  }
  std::vector<double> steady;
  for (double a : amps)
    if (a >= loud / 2 && a <= loud * 2) steady.push_back(a);
  const double level = Median(steady);
  j.has_tone = true;
  j.level_db = Db(level);
  const double silent_below = level * std::pow(10.0, lim.silence_db / 20);

  const Edges edges = FindEdges(x, fs / f_expected, level);
  if (edges.onset_sample) j.onset_s = *edges.onset_sample / fs;
  if (edges.offset_sample) j.offset_s = *edges.offset_sample / fs;

  // Phase advance of block k over block k-1 against the expected advance,
  // in (-pi, pi]; NaN when either block is silent.
  const auto phase_advances = [&] {
    std::vector<double> d(blocks, std::nan(""));
    for (size_t k = 1; k < blocks; ++k)
      if (fit[k].amplitude >= silent_below && fit[k - 1].amplitude >= silent_below)
        d[k] = WrapPhase(fit[k].phase - fit[k - 1].phase - advance);
    return d;
  };

  // Second pass: each sounding block at its local frequency, the median
  // advance over the neighbouring blocks (centred, so a phase jump in one
  // block does not bend its neighbours' fits).
  std::vector<double> d = phase_advances();
  std::vector<double> w_local(blocks, w_expected);
  for (size_t k = 0; k < blocks; ++k) {
    if (fit[k].amplitude < silent_below) continue;
    std::vector<double> near;
    const size_t half = kHistoryBlocks / 2;
    for (size_t i = k >= half ? k - half : 0; i < std::min(blocks, k + half + 1); ++i)
      if (!std::isnan(d[i])) near.push_back(d[i]);
    if (!near.empty()) w_local[k] = w_expected + Median(near) / double(block);
    fit[k] = FitSine(&x[k * block], block, w_local[k]);
  }
  d = phase_advances();

  // The judged span: whole blocks inside the tone (less the guards) and
  // inside the span asked for.
  const double onset = j.onset_s.value_or(0.0);
  const double span_begin_s = std::max(j.onset_s ? onset + kEdgeGuardS : 0.0,
                                       options.from_s + (options.from_onset ? onset : 0.0));
  const double file_end_s = double(x.size()) / fs;
  const double span_end_s = std::min(j.offset_s ? *j.offset_s - std::max(kEdgeGuardS, options.tail_s) : file_end_s,
                                     options.to_s + (options.to_onset ? onset : 0.0));
  std::vector<size_t> judged;
  for (size_t k = 0; k < blocks; ++k) {
    const double b = double(k * block) / fs, e = double((k + 1) * block) / fs;
    // A hair of slack so that a block starting exactly at from_s counts.
    if (b >= span_begin_s - 1e-9 && e <= span_end_s + 1e-9) judged.push_back(k);
  }

  // Running references: levels of judged sounding blocks, phase advances of
  // judged blocks that have one. Each block is compared with the blocks
  // before it, so a lasting change is flagged where it starts.
  RunningReference level_ref, advance_ref;
  std::vector<size_t> level_before(blocks, 0), advance_before(blocks, 0);
  for (size_t k : judged) {
    level_before[k] = level_ref.size();
    advance_before[k] = advance_ref.size();
    if (fit[k].amplitude >= silent_below) level_ref.Add(fit[k].amplitude);
    if (!std::isnan(d[k])) advance_ref.Add(d[k]);
  }

  std::vector<double> advance_reference(blocks, 0.0);
  std::vector<double> residuals;
  for (size_t k : judged) {
    BlockReport& r = j.blocks[k];
    r.judged = true;
    const SineFit& f = fit[k];
    advance_reference[k] = advance_ref.size() > 0 ? advance_ref.At(advance_before[k]) : 0.0;
    r.level_db = Db(f.amplitude);
    r.phase_dev_rad = std::nan("");
    r.freq_err_ppm = std::nan("");
    if (f.amplitude < silent_below) {
      r.kinds |= kGlitchSilence;
      r.level_dev_db = Db(f.amplitude / level);
      r.residual_db = std::nan("");
    } else {
      const double ref = level_ref.At(level_before[k]);
      r.level_dev_db = Db(f.amplitude / ref);
      if (std::abs(r.level_dev_db) > lim.level_tol_db) r.kinds |= kGlitchLevel;
      r.residual_db = Db(f.residual_rms / f.amplitude);
      residuals.push_back(r.residual_db);
      if (r.residual_db > lim.residual_max_db) r.kinds |= kGlitchResidual;
      if (!std::isnan(d[k])) {
        r.phase_dev_rad = WrapPhase(d[k] - advance_reference[k]);
        r.freq_err_ppm = d[k] / advance * 1e6;
      } else {
        // After a short silence the phase is checked against the last
        // sounding block: a hole that keeps the timeline passes, one that
        // shifts it (or an antiphase splice that dips to silence) does not.
        size_t p = k;
        while (p > 0 && k - p < kGapPhaseBlocks && fit[p - 1].amplitude < silent_below) --p;
        if (p > 0 && k - p < kGapPhaseBlocks) {
          const double blocks_apart = double(k - (p - 1));
          r.phase_dev_rad = WrapPhase(fit[k].phase - fit[p - 1].phase -
                                      blocks_apart * (advance + advance_reference[k]));
        }
      }
      // Sample-level steps: r[i] = x[i-1] + x[i+1] - 2cos(w)x[i] is zero
      // for any sine at w, whatever its amplitude and phase, so it shows a
      // slipped or repeated sample even where the block fit averages it
      // away.
      const double two_cos = 2 * std::cos(w_local[k]);
      double worst = 0;
      for (size_t i = std::max<size_t>(k * block, 1); i < std::min((k + 1) * block, x.size() - 1);
           ++i)
        worst = std::max(worst, std::abs(double(x[i - 1]) + x[i + 1] - two_cos * x[i]));
      r.click_db = Db(worst / ref);
      if (r.click_db > lim.click_max_db) r.kinds |= kGlitchClick;
    }
  }
  // Phase steps. A step at a fraction f into block k moves that block's
  // fitted phase by (1 - f) of it and the next block's by all of it, so it
  // splits between the advances of blocks k and k+1 (a slipped sample late
  // in a block shows mostly in the next block's advance). Each block's
  // deviation is therefore summed with the next one's: the sum holds all of
  // the step, with no more noise than one advance (the phase of the block
  // in between cancels). A run of sums over the limit is one step, in one
  // of the two blocks of the largest sum: the earlier, unless the later
  // holds most of the step and its fit is the more disturbed (a step just
  // after a block boundary, where codec noise decides which sum is larger).
  for (size_t i = 0; i < judged.size(); ++i) {
    BlockReport& r = j.blocks[judged[i]];
    const double next = i + 1 < judged.size() ? j.blocks[judged[i + 1]].phase_dev_rad : 0.0;
    r.phase_step_rad = r.phase_dev_rad + (std::isnan(next) ? 0.0 : next);
  }
  const auto step_at = [&](size_t i) { return std::abs(j.blocks[judged[i]].phase_step_rad); };
  for (size_t i = 0; i < judged.size();) {
    if (!(step_at(i) > lim.phase_tol_rad)) {
      ++i;
      continue;
    }
    size_t peak = i;
    for (; i < judged.size() && step_at(i) > lim.phase_tol_rad; ++i)
      if (step_at(i) > step_at(peak)) peak = i;
    BlockReport* in = &j.blocks[judged[peak]];
    if (peak + 1 < judged.size()) {
      BlockReport& later = j.blocks[judged[peak + 1]];
      if (std::abs(later.phase_dev_rad) > std::abs(in->phase_dev_rad) &&
          later.residual_db > in->residual_db)
        in = &later;
    }
    in->kinds |= kGlitchPhase;
  }
  for (size_t k : judged) {
    BlockReport& r = j.blocks[k];
    if (r.kinds == 0) continue;
    for (size_t e = 0; e < options.excuses.size(); ++e) {
      const ExcuseWindow& w = options.excuses[e];
      if (r.start_s < w.end_s && w.start_s < r.start_s + double(block) / fs) {
        r.excuse = int(e);
        break;
      }
    }
  }
  j.blocks_judged = int(judged.size());
  j.median_residual_db = residuals.empty() ? std::nan("") : Median(residuals);

  // Pitch windows: the tone's phase against the expected frequency,
  // accumulated from the block advances, fitted with straight lines of one
  // common slope and an intercept of their own per run of clean advances;
  // the slope per block over the expected advance is the frequency error.
  // An advance is not clean where either block it spans is glitched (a
  // disturbed fit moves both advances it is part of) or a phase step runs
  // through it (a sum over the limit that includes it). Each run's own
  // intercept makes what happens between runs count for nothing: a phase
  // jump does not read as pitch, nor does a concealed stretch whose phase
  // wanders and comes back.
  std::vector<bool> clean_advance(blocks, false);
  for (size_t i = 0; i < judged.size(); ++i) {
    const size_t k = judged[i];
    const auto quiet = [&](size_t at) {
      const BlockReport& r = j.blocks[judged[at]];
      return r.kinds == 0 && !(std::abs(r.phase_step_rad) > lim.phase_tol_rad);
    };
    clean_advance[k] = !std::isnan(d[k]) && quiet(i) && (i == 0 || quiet(i - 1));
  }
  if (!judged.empty()) {
    const size_t per_window = size_t(std::lround(kPitchWindowS / kBlockS));
    const size_t hop = size_t(std::lround(kPitchHopS / kBlockS));
    for (size_t s = 0; s + per_window <= judged.size(); s += hop) {
      PitchWindow pw;
      const size_t k0 = judged[s];
      pw.start_s = j.blocks[k0].start_s;
      pw.end_s = pw.start_s + double(per_window * block) / fs;
      // Sums over the runs of each run's centred products.
      double sxx = 0, sxy = 0;
      double theta = 0, n = 0, st = 0, sp = 0, stt = 0, stp = 0;
      const auto close_run = [&] {
        if (n >= 2) {
          sxx += stt - st * st / n;
          sxy += stp - st * sp / n;
        }
        theta = n = st = sp = stt = stp = 0;
      };
      for (size_t i = 1; i < per_window; ++i) {
        const size_t k = judged[s + i];
        if (!clean_advance[k]) {
          close_run();
          continue;
        }
        ++pw.blocks_clean;
        if (n == 0) {  // the run's first point: the block before this advance
          n = 1;
          st = double(i - 1);
          stt = st * st;
        }
        theta += d[k];
        const double t = double(i);
        n += 1;
        st += t;
        sp += theta;
        stt += t * t;
        stp += t * theta;
      }
      close_run();
      const double slope = sxx > 0 ? sxy / sxx : 0;
      pw.ppm = slope / advance * 1e6;
      pw.judged = 2 * pw.blocks_clean >= int(per_window - 1);
      for (size_t e = 0; e < options.excuses.size(); ++e) {
        const ExcuseWindow& w = options.excuses[e];
        if (pw.start_s < w.end_s && w.start_s < pw.end_s) {
          pw.excuse = int(e);
          break;
        }
      }
      j.windows.push_back(pw);
    }
  }

  // Tally and verdict. A run of consecutive unexcused glitched blocks is
  // named once, with its first and last block and every kind it shows.
  std::vector<std::string> glitch_failures;
  const auto unexcused_glitch = [&](size_t i) {
    const BlockReport& r = j.blocks[judged[i]];
    return r.kinds != 0 && r.excuse < 0;
  };
  for (size_t i = 0; i < judged.size(); ++i) {
    const BlockReport& r = j.blocks[judged[i]];
    if (r.kinds == 0) continue;
    for (int bit = 0; bit < kGlitchKindCount; ++bit)
      if (r.kinds & (1 << bit)) ++(r.excuse >= 0 ? j.excused_by_kind : j.by_kind)[bit];
    ++(r.excuse >= 0 ? j.excused : j.glitched);
    if (r.excuse >= 0 || (i > 0 && unexcused_glitch(i - 1))) continue;
    size_t end = i;  // one past the run
    uint8_t kinds = 0;
    while (end < judged.size() && unexcused_glitch(end)) kinds |= j.blocks[judged[end++]].kinds;
    const double last_s = j.blocks[judged[end - 1]].start_s;
    glitch_failures.push_back(
        end - i == 1 ? "glitch at " + Seconds(r.start_s) + " s: " + KindsText(kinds)
                     : "glitches at " + Seconds(r.start_s) + "-" + Seconds(last_s) + " s (" +
                           std::to_string(end - i) + " blocks): " + KindsText(kinds));
  }
  if (j.glitched > lim.max_glitches) {
    j.failures.push_back(std::to_string(j.glitched) + " glitched blocks (limit " +
                         std::to_string(lim.max_glitches) + ")");
    j.failures.insert(j.failures.end(), glitch_failures.begin(), glitch_failures.end());
  }
  for (const PitchWindow& pw : j.windows) {
    if (!pw.judged) continue;
    if (!j.worst_pitch_ppm || std::abs(pw.ppm) > std::abs(*j.worst_pitch_ppm))
      j.worst_pitch_ppm = pw.ppm;
    if (lim.max_pitch_ppm && std::abs(pw.ppm) > *lim.max_pitch_ppm) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "pitch %+.1f ppm in %.3f-%.3f s (limit %g)", pw.ppm,
                    pw.start_s, pw.end_s, *lim.max_pitch_ppm);
      j.failures.push_back(buf);
    }
  }
  if (lim.expected_amplitude) {
    const double off = Db(level / *lim.expected_amplitude);
    if (std::abs(off) > lim.amplitude_tol_db) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "level %.2f dBFS, %+.2f dB from the expected %.2f (limit %g)",
                    j.level_db, off, Db(*lim.expected_amplitude), lim.amplitude_tol_db);
      j.failures.push_back(buf);
    }
  }
  if (judged.empty()) j.failures.push_back("no block to judge");
  return j;
}

}  // namespace testtools
