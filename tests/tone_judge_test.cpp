// Unit tests for tests/tools/tone_judge: positive controls. A 440 Hz stereo
// tone at amplitude 0.5, 48 kHz, goes through a real Opus encoder and
// decoder at 128 kbit/s (20 ms frames, OPUS_APPLICATION_AUDIO) so that the
// judge sees real codec noise; then each defect is applied to the decoded
// audio and must be caught at the block where it is, while the clean
// decode passes without a glitch.
#include "tools/tone_judge.hpp"

#include <doctest/doctest.h>
#include <opus/opus.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

namespace {

using testtools::ChannelJudgement;
using testtools::JudgeChannel;
using testtools::JudgeOptions;

constexpr int kRate = 48000;
constexpr int kBlock = kRate / 100;  // the judge's 10 ms block
constexpr double kAmplitude = 0.5;
constexpr double kLeadS = 0.5;  // silence before the tone
constexpr double kToneS = 5.0;
constexpr double kTailS = 0.5;  // silence after it

// kLeadS of silence, kToneS of a sine starting at phase 0 whose frequency
// at time t (from the tone's start) is freq(t), phase accumulated sample by
// sample so that a frequency step keeps the phase continuous, then kTailS
// of silence. Sampled at `rate`.
std::vector<float> ToneInput(const std::function<double(double)>& freq, int rate = kRate) {
  const auto lead = size_t(kLeadS * rate), tone = size_t(kToneS * rate);
  std::vector<float> x(lead + tone + size_t(kTailS * rate), 0.0f);
  double phase = 0;
  for (size_t i = 0; i < tone; ++i) {
    x[lead + i] = float(kAmplitude * std::sin(phase));
    phase += 2 * std::numbers::pi * freq(double(i) / rate) / rate;
  }
  return x;
}

// The same signal on both channels through libopus and back: 20 ms frames,
// OPUS_APPLICATION_AUDIO. The decoder's output lags the input by the
// encoder's look-ahead (312 samples at 48 kHz), as a receiver's would.
std::vector<std::vector<float>> OpusRoundTrip(const std::vector<float>& mono,
                                              int bitrate = 128000) {
  constexpr int kFrame = 960;
  int err = 0;
  OpusEncoder* enc = opus_encoder_create(kRate, 2, OPUS_APPLICATION_AUDIO, &err);
  REQUIRE(err == OPUS_OK);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
  OpusDecoder* dec = opus_decoder_create(kRate, 2, &err);
  REQUIRE(err == OPUS_OK);
  std::vector<std::vector<float>> out(2);
  std::vector<float> pcm(2 * kFrame), decoded(2 * kFrame);
  std::vector<unsigned char> packet(4000);
  for (size_t start = 0; start < mono.size(); start += kFrame) {
    for (size_t i = 0; i < size_t(kFrame); ++i) {
      const float v = start + i < mono.size() ? mono[start + i] : 0.0f;
      pcm[2 * i] = pcm[2 * i + 1] = v;
    }
    const int bytes = opus_encode_float(enc, pcm.data(), kFrame, packet.data(), int(packet.size()));
    REQUIRE(bytes > 0);
    const int frames = opus_decode_float(dec, packet.data(), bytes, decoded.data(), kFrame, 0);
    REQUIRE(frames == kFrame);
    for (int i = 0; i < frames; ++i) {
      out[0].push_back(decoded[2 * size_t(i)]);
      out[1].push_back(decoded[2 * size_t(i) + 1]);
    }
  }
  opus_encoder_destroy(enc);
  opus_decoder_destroy(dec);
  return out;
}

// The clean 440 Hz tone, coded once for all the cases.
const std::vector<std::vector<float>>& CleanOpus() {
  static const auto coded = OpusRoundTrip(ToneInput([](double) { return 440.0; }));
  return coded;
}

ChannelJudgement Judge(const std::vector<float>& x, JudgeOptions options = {},
                       int rate = kRate) {
  return JudgeChannel(x, rate, options);
}

// Indices of the judged blocks with a glitch (excused or not).
std::vector<size_t> Glitched(const ChannelJudgement& j) {
  std::vector<size_t> out;
  for (size_t k = 0; k < j.blocks.size(); ++k)
    if (j.blocks[k].judged && j.blocks[k].kinds != 0) out.push_back(k);
  return out;
}

std::string Describe(const ChannelJudgement& j) {
  std::string s;
  for (size_t k : Glitched(j)) {
    const auto& b = j.blocks[k];
    s += "block " + std::to_string(k) + " kinds " + std::to_string(b.kinds) + " level_dev " +
         std::to_string(b.level_dev_db) + " residual " + std::to_string(b.residual_db) +
         " phase " + std::to_string(b.phase_dev_rad) + " step " + std::to_string(b.phase_step_rad) +
         " click " + std::to_string(b.click_db) +
         (b.excuse >= 0 ? " excused" : "") + "\n";
  }
  for (const auto& f : j.failures) s += f + "\n";
  return s;
}

// Applies `defect` to each channel of the clean decode and judges both:
// the channels carry the same tone, so they must agree.
std::vector<ChannelJudgement> JudgeDefect(const std::function<void(std::vector<float>&)>& defect,
                                          const JudgeOptions& options = {}) {
  std::vector<ChannelJudgement> out;
  for (auto x : CleanOpus()) {
    defect(x);
    out.push_back(Judge(x, options));
  }
  CHECK(Glitched(out[0]) == Glitched(out[1]));
  return out;
}

// Time of sample `i`, and the block a time falls in.
double At(size_t i) { return double(i) / kRate; }
size_t BlockOf(size_t sample) { return sample / kBlock; }

}  // namespace

TEST_CASE("tone_judge: the clean Opus-coded tone has no glitch, 0 ppm and its onset and offset") {
  for (const auto& x : CleanOpus()) {
    const ChannelJudgement j = Judge(x);
    INFO(Describe(j));
    CHECK(j.has_tone);
    CHECK(j.glitched == 0);
    CHECK(j.excused == 0);
    CHECK(j.failures.empty());
    CHECK(j.blocks_judged > 490);  // 5 s less the guards at both ends
    CHECK(j.level_db == doctest::Approx(20 * std::log10(kAmplitude)).epsilon(0.01));
    CHECK(j.median_residual_db < -45);
    REQUIRE(j.worst_pitch_ppm.has_value());
    CHECK(std::abs(*j.worst_pitch_ppm) < 1.0);
    CHECK(j.windows.size() >= 8);
    // The decoder lags by the encoder's 312-sample look-ahead (6.5 ms).
    REQUIRE(j.onset_s.has_value());
    REQUIRE(j.offset_s.has_value());
    MESSAGE("onset " << *j.onset_s << " s, offset " << *j.offset_s << " s");
    CHECK(*j.onset_s == doctest::Approx(kLeadS + 312.0 / kRate).epsilon(0.0005 / kLeadS));
    CHECK(*j.offset_s ==
          doctest::Approx(kLeadS + kToneS + 312.0 / kRate).epsilon(0.0005 / (kLeadS + kToneS)));
  }
}

TEST_CASE("tone_judge: onset and offset move with the audio to a hundredth of a millisecond") {
  // The latency benchmark takes changes of latency from them: 24 samples
  // (0.5 ms) more silence in front must move both by 0.5 ms.
  const auto& x = CleanOpus()[0];
  std::vector<float> later(24, 0.0f);
  later.insert(later.end(), x.begin(), x.end());
  const ChannelJudgement a = Judge(x), b = Judge(later);
  REQUIRE(a.onset_s.has_value());
  REQUIRE(b.onset_s.has_value());
  CHECK(std::abs(*b.onset_s - *a.onset_s - 0.0005) < 1e-5);
  CHECK(std::abs(*b.offset_s - *a.offset_s - 0.0005) < 1e-5);

  // An uncoded tone that starts and stops at a known sample, at any phase:
  // its edges are found within a sample period (21 us).
  for (double phase : {0.0, 0.7, 1.6, 3.0}) {
    std::vector<float> t(kRate * 2, 0.0f);
    const size_t on = 33333, off = 77777;
    for (size_t i = on; i < off; ++i)
      t[i] = float(kAmplitude * std::sin(phase + 2 * std::numbers::pi * 440 * At(i - on)));
    const ChannelJudgement j = Judge(t);
    REQUIRE(j.onset_s.has_value());
    REQUIRE(j.offset_s.has_value());
    CHECK(std::abs(*j.onset_s - At(on)) < 1.0 / kRate);
    CHECK(std::abs(*j.offset_s - At(off)) < 1.0 / kRate);
  }
}

TEST_CASE("tone_judge: one slipped sample is caught in its block") {
  // Dropped samples across block 250, at several phases of the tone: at a
  // zero crossing the step is largest (offsets 100 and 200 here), at a peak
  // smallest (230, 285, 394, 448), where the phase and a click of about
  // -55 dB show it. Early in the block the phase step shows mostly in its
  // advance, late in the block mostly in the next block's.
  for (size_t offset : {5, 20, 30, 100, 200, 230, 240, 285, 300, 351, 394, 448, 470, 479}) {
    const size_t at = 250 * kBlock + offset;
    const auto j = JudgeDefect([&](std::vector<float>& x) { x.erase(x.begin() + long(at)); });
    INFO("slip at sample " << at << "\n" << Describe(j[0]));
    const auto g = Glitched(j[0]);
    REQUIRE(!g.empty());
    CHECK(g.front() == BlockOf(at));
    CHECK(g.back() <= BlockOf(at) + 1);
    CHECK(j[0].failures.size() >= 1);
    REQUIRE(j[0].worst_pitch_ppm.has_value());
    CHECK(std::abs(*j[0].worst_pitch_ppm) < 5);
  }
  // Exactly at a block boundary (the first sample of block 250 dropped),
  // the step is between the blocks and either may be charged.
  const size_t at = 250 * kBlock;
  const auto j = JudgeDefect([&](std::vector<float>& x) { x.erase(x.begin() + long(at)); });
  INFO("slip at sample " << at << "\n" << Describe(j[0]));
  const auto g = Glitched(j[0]);
  REQUIRE(!g.empty());
  CHECK(g.front() + 1 >= BlockOf(at));
  CHECK(g.back() <= BlockOf(at));
}

TEST_CASE("tone_judge: a 2 ms dropout is caught in its block") {
  const size_t at = 300 * kBlock + 100;
  const auto j = JudgeDefect(
      [&](std::vector<float>& x) { std::fill_n(x.begin() + long(at), kRate / 500, 0.0f); });
  INFO(Describe(j[0]));
  const auto g = Glitched(j[0]);
  REQUIRE(!g.empty());
  CHECK(g.front() == BlockOf(at));
  CHECK(g.back() <= BlockOf(at) + 1);
}

TEST_CASE("tone_judge: a repeated 5 ms stretch is caught in its block") {
  const size_t from = 350 * kBlock + 50, len = kRate / 200;
  const auto j = JudgeDefect([&](std::vector<float>& x) {
    const std::vector<float> stretch(x.begin() + long(from), x.begin() + long(from + len));
    x.insert(x.begin() + long(from + len), stretch.begin(), stretch.end());
  });
  INFO(Describe(j[0]));
  const auto g = Glitched(j[0]);
  REQUIRE(!g.empty());
  CHECK(g.front() == BlockOf(from + len));
  CHECK(g.back() <= BlockOf(from + len) + 1);
  // The phase jump (1.26 rad) is a glitch, not pitch: the windows over it
  // leave its advances out.
  REQUIRE(j[0].worst_pitch_ppm.has_value());
  CHECK(std::abs(*j[0].worst_pitch_ppm) < 5);
}

TEST_CASE("tone_judge: a 1 dB level step is caught where it starts") {
  // In the middle of block 200: that block holds the step itself (a click
  // where the gain jumps) and the blocks after it are 1 dB louder.
  const size_t at = 200 * kBlock + kBlock / 2;
  const auto j = JudgeDefect([&](std::vector<float>& x) {
    for (size_t i = at; i < x.size(); ++i) x[i] *= float(std::pow(10.0, 1.0 / 20));
  });
  INFO(Describe(j[0]));
  const auto g = Glitched(j[0]);
  REQUIRE(!g.empty());
  CHECK(g.front() == BlockOf(at));
  CHECK(j[0].blocks[BlockOf(at) + 1].kinds == testtools::kGlitchLevel);
  for (size_t k : g)
    if (k > BlockOf(at)) CHECK(j[0].blocks[k].kinds == testtools::kGlitchLevel);
  // Flagged until the running median of the previous blocks has moved on.
  CHECK(j[0].glitched <= testtools::kHistoryBlocks / 2 + 1);
}

TEST_CASE("tone_judge: a 100 ppm pitch step shows in the windows after it") {
  // The tone rises by 100 ppm 2.5 s after it starts, phase continuous.
  const auto coded = OpusRoundTrip(
      ToneInput([](double t) { return t < 2.5 ? 440.0 : 440.0 * (1 + 100e-6); }));
  const double step_s = kLeadS + 2.5 + 312.0 / kRate;  // in the decoded audio
  JudgeOptions options;
  options.limits.max_pitch_ppm = 50;
  for (const auto& x : coded) {
    const ChannelJudgement j = Judge(x, options);
    INFO(Describe(j));
    CHECK(j.glitched == 0);  // a change of pitch is not a glitch of a block
    int before = 0, after = 0;
    for (const auto& w : j.windows) {
      MESSAGE("window " << w.start_s << "-" << w.end_s << " s: " << w.ppm << " ppm");
      if (w.end_s <= step_s) {
        CHECK(std::abs(w.ppm) < 5);
        ++before;
      } else if (w.start_s >= step_s) {
        CHECK(std::abs(w.ppm - 100) < 5);
        ++after;
      }
    }
    CHECK(before >= 3);
    CHECK(after >= 2);
    REQUIRE(j.worst_pitch_ppm.has_value());
    CHECK(*j.worst_pitch_ppm == doctest::Approx(100).epsilon(0.05));
    // With a +-50 ppm limit it fails, naming the windows.
    REQUIRE(!j.failures.empty());
    CHECK(j.failures[0].find("pitch +") != std::string::npos);
  }
}

TEST_CASE("tone_judge: a smooth +1000 ppm tone measures +1000 ppm in every window") {
  const auto coded = OpusRoundTrip(ToneInput([](double) { return 440.0 * (1 + 1000e-6); }));
  for (const auto& x : coded) {
    JudgeOptions options;
    options.limits.max_pitch_ppm.reset();
    const ChannelJudgement j = Judge(x, options);
    INFO(Describe(j));
    CHECK(j.glitched == 0);
    CHECK(j.windows.size() >= 8);
    for (const auto& w : j.windows) CHECK(std::abs(w.ppm - 1000) < 5);
    // Against an expected frequency of 440 Hz + 1000 ppm, it is on pitch.
    options.freq_ppm = 1000;
    options.limits.max_pitch_ppm = 5;
    const ChannelJudgement k = Judge(x, options);
    CHECK(k.failures.empty());
  }
}

TEST_CASE("tone_judge: excused windows excuse exactly the blocks they overlap") {
  // A 2 ms dropout across the boundary of blocks 300 and 301, and a slip
  // in block 250. The excused window covers block 300's time only, ending
  // where block 301 starts.
  const size_t hole = 300 * kBlock + 430, slip = 250 * kBlock + 240;
  const auto defects = [&](std::vector<float>& x) {
    std::fill_n(x.begin() + long(hole), kRate / 500, 0.0f);
    x.erase(x.begin() + long(slip));  // before the hole: the hole stays where it is, less one
  };
  const auto plain = JudgeDefect(defects);
  INFO(Describe(plain[0]));
  const auto g = Glitched(plain[0]);
  REQUIRE(std::count(g.begin(), g.end(), 300) == 1);
  REQUIRE(std::count(g.begin(), g.end(), 301) == 1);

  JudgeOptions options;
  options.excuses.push_back({At(300 * kBlock), At(301 * kBlock), "provoked stall"});
  const auto excused = JudgeDefect(defects, options);
  INFO(Describe(excused[0]));
  const auto& j = excused[0];
  CHECK(j.blocks[300].excuse == 0);
  CHECK(j.blocks[301].excuse == -1);
  CHECK(j.excused == 1);
  CHECK(j.glitched == plain[0].glitched - 1);
  for (size_t k : Glitched(j))
    if (k != 300) CHECK(j.blocks[k].excuse == -1);
  // An excused window over everything glitched leaves nothing to fail.
  options.excuses = {{At(250 * kBlock), At(252 * kBlock), "a"}, {At(300 * kBlock), At(302 * kBlock), "b"}};
  const auto all = JudgeDefect(defects, options);
  CHECK(all[0].glitched == 0);
  CHECK(all[0].excused == plain[0].glitched);
  CHECK(all[0].failures.empty());
}

TEST_CASE("tone_judge: a phase-exact WSOLA splice passes, one half a period off does not") {
  // Skip `skip` samples at `at`, crossfading linearly over 5 ms from the
  // audio that would have played on to the audio after the skip, as a
  // receiver drops a backlog (WSOLA).
  const auto splice = [](std::vector<float>& x, size_t at, size_t skip) {
    const size_t fade = kRate / 200;
    std::vector<float> out(x.begin(), x.begin() + long(at));
    for (size_t i = 0; i < fade; ++i) {
      const float g = float(i + 1) / float(fade + 1);
      out.push_back((1 - g) * x[at + i] + g * x[at + skip + i]);
    }
    out.insert(out.end(), x.begin() + long(at + skip + fade), x.end());
    x = std::move(out);
  };
  const size_t at = 222 * kBlock + 123;
  // 11 periods of 440 Hz are exactly 1200 samples at 48 kHz.
  const auto exact = JudgeDefect([&](std::vector<float>& x) { splice(x, at, 1200); });
  INFO(Describe(exact[0]));
  CHECK(exact[0].glitched == 0);
  CHECK(exact[0].failures.empty());
  // 11.5 periods: the two sides are in antiphase.
  const auto off = JudgeDefect([&](std::vector<float>& x) { splice(x, at, 1255); });
  MESSAGE("half a period off:\n" << Describe(off[0]));
  INFO(Describe(off[0]));
  const auto g = Glitched(off[0]);
  REQUIRE(!g.empty());
  CHECK(g.front() == BlockOf(at));
  CHECK(g.back() <= BlockOf(at + kRate / 200) + 1);
}

TEST_CASE("tone_judge: 44.1 and 96 kHz, clean and with a slipped sample") {
  // Uncoded tones rounded to 16 bits, as jack_rec -b 16 records them: the
  // judge's block and window lengths follow the rate.
  for (int rate : {44100, 96000}) {
    auto x = ToneInput([](double) { return 440.0; }, rate);
    for (auto& v : x) v = std::round(v * 32768.0f) / 32768.0f;
    const ChannelJudgement clean = Judge(x, {}, rate);
    INFO(rate << " Hz\n" << Describe(clean));
    CHECK(clean.glitched == 0);
    REQUIRE(clean.worst_pitch_ppm.has_value());
    CHECK(std::abs(*clean.worst_pitch_ppm) < 1);
    // A third into block 250, and in its middle at a peak of the tone,
    // where the click is smallest (-68 dB at 96 kHz) and the phase step
    // splits evenly between two blocks' advances.
    const size_t block = size_t(rate / 100);
    for (size_t at : {250 * block + block / 3, 250 * block + size_t(std::lround(2.25 * rate / 440))}) {
      auto y = x;
      y.erase(y.begin() + long(at));
      const ChannelJudgement slipped = Judge(y, {}, rate);
      INFO("slip at " << at << "\n" << Describe(slipped));
      const auto g = Glitched(slipped);
      REQUIRE(!g.empty());
      CHECK(g.front() == at / block);
      CHECK(g.back() <= at / block + 1);
    }
  }
}

TEST_CASE("tone_judge: no tone, and a span cut by from/to") {
  const ChannelJudgement silent = Judge(std::vector<float>(kRate, 0.0f));
  CHECK_FALSE(silent.has_tone);
  CHECK_FALSE(silent.failures.empty());

  JudgeOptions options;
  options.from_s = 2.0;
  options.to_s = 3.0;
  const ChannelJudgement j = Judge(CleanOpus()[0], options);
  CHECK(j.blocks_judged == 100);
  CHECK(j.windows.size() == 1);
  // From the onset: blocks start at 1 s after it, or just after.
  options.from_s = 1.0;
  options.from_onset = true;
  options.to_s = std::numeric_limits<double>::infinity();
  const ChannelJudgement k = Judge(CleanOpus()[0], options);
  REQUIRE(k.onset_s.has_value());
  size_t first = 0;
  while (!k.blocks[first].judged) ++first;
  CHECK(k.blocks[first].start_s >= *k.onset_s + 1.0);
  CHECK(k.blocks[first].start_s < *k.onset_s + 1.0 + 0.010);
  // The tail: no block judged in the last 0.1 s before the offset, and one
  // within 10 ms of that.
  options.tail_s = 0.1;
  const ChannelJudgement t = Judge(CleanOpus()[0], options);
  REQUIRE(t.offset_s.has_value());
  size_t last = t.blocks.size() - 1;
  while (!t.blocks[last].judged) --last;
  const double end = t.blocks[last].start_s + 0.010;
  CHECK(end <= *t.offset_s - 0.1 + 1e-9);
  CHECK(end > *t.offset_s - 0.1 - 0.010);
}
