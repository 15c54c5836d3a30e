#include "net/loss_repair.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/defaults.hpp"
#include "net/opus_stream_decoder.hpp"
#include "tools/opus_tone.hpp"

// At 48 kHz: 40 ms at full level, faded to silence by 100 ms, 1 ms fades.
constexpr std::uint32_t kFull = 1920;
constexpr std::uint32_t kMax = 4800;
constexpr std::uint32_t kFade = 48;

namespace {

namespace d = core::defaults;
using Bytes = std::vector<std::uint8_t>;

// An uncompressed mono payload (floats as they are): decoding copies, the
// codec's concealment is a constant, so every sample LossRepair writes is
// known exactly.
class PcmDecoder final : public net::PayloadDecoder {
 public:
  bool repetition = false;  // wants_repetition()
  bool recovers = false;    // carries_previous(), and recover() copies as decode() does
  float concealed = 0.0f;   // what conceal() writes
  int saves = 0;
  int restores = 0;

  int channels() const noexcept override { return 1; }
  std::uint32_t quantum() const noexcept override { return 120; }
  int frames_in(std::span<const std::uint8_t> p) const noexcept override {
    return p.size() % sizeof(float) != 0 ? -1 : static_cast<int>(p.size() / sizeof(float));
  }
  bool carries_previous(std::span<const std::uint8_t>) const noexcept override { return recovers; }
  bool wants_repetition(std::span<const std::uint8_t>) const noexcept override { return repetition; }
  int decode(std::span<const std::uint8_t> p, float* pcm, int max_frames) noexcept override {
    const int n = frames_in(p);
    if (n <= 0 || n > max_frames) return -1;
    std::memcpy(pcm, p.data(), p.size());
    return n;
  }
  int recover(std::span<const std::uint8_t> p, float* pcm, int frames) noexcept override {
    return recovers ? decode(p, pcm, frames) : -1;
  }
  int conceal(float* pcm, int frames) noexcept override {
    for (int i = 0; i < frames; ++i) pcm[i] = concealed;
    return frames;
  }
  void reset() noexcept override {}
  void save() noexcept override { ++saves; }
  void restore() noexcept override { ++restores; }
};

std::vector<float> tone(std::int64_t from, int n, double amplitude = 0.5) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] =
        static_cast<float>(amplitude * std::sin(2 * M_PI * 440 * static_cast<double>(from + i) / 48000));
  return v;
}

Bytes bytes(const std::vector<float>& v) {
  Bytes b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Three 20 ms packets of a 440 Hz tone at 0, 960 and 1920.
void tone_history(net::LossRepair& r) {
  std::vector<float> out(960);
  for (int k = 0; k < 3; ++k) REQUIRE(r.decode(bytes(tone(k * 960, 960)), k * 960, true, out.data(), 960) == 960);
}

// tone_history(), then `lost` 20 ms packets concealed from 2880 on.
void tone_then_run(net::LossRepair& r, int lost = 1) {
  tone_history(r);
  std::vector<float> out(960);
  for (int k = 0; k < lost; ++k) {
    r.begin(2880 + k * 960);
    REQUIRE(r.conceal(2880 + k * 960, out.data(), 960) == 960);
  }
}

}  // namespace

TEST_CASE("loss_repair: a gap after a tone is repeated when the payload asks for it, the codec's otherwise") {
  for (const bool repetition : {true, false}) {
    CAPTURE(repetition);
    PcmDecoder dec;
    dec.repetition = repetition;
    net::LossRepair r(dec, 48000);
    tone_history(r);
    CHECK_FALSE(r.in_run());
    CHECK(r.begin(2880));
    CHECK(dec.saves == 1);  // where a late packet will be decoded from
    std::vector<float> out(960, 9.0f);
    REQUIRE(r.conceal(2880, out.data(), 960) == 960);
    CHECK(r.in_run());
    CHECK(r.run_frames() == 960);
    CHECK_FALSE(r.begin(3840));  // the run goes on: no second save
    CHECK(dec.saves == 1);
    const auto truth = tone(2880, 960);
    double error = 0, level = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      error = std::max(error, double(std::abs(out[i] - truth[i])));
      level = std::max(level, double(std::abs(out[i])));
    }
    if (repetition) {
      CHECK(error < 0.001);  // the tone goes on, in phase
    } else {
      CHECK(level == 0.0);   // the codec's own (silence), untouched
    }
  }
}

TEST_CASE("loss_repair: past 40 ms a run fades linearly to exactly zero at 100 ms") {
  PcmDecoder dec;
  dec.concealed = 1.0f;
  net::LossRepair r(dec, 48000);
  std::vector<float> buf(240, 1.0f);
  REQUIRE(r.decode(bytes(buf), 0, true, buf.data(), 240) == 240);
  REQUIRE(r.begin(240));
  CHECK(r.room_at_full_level() == kFull);
  std::vector<float> all;
  for (std::int64_t pos = 240; all.size() < kMax + 480; pos += 240) {
    REQUIRE(r.conceal(pos, buf.data(), 240) == 240);
    all.insert(all.end(), buf.begin(), buf.end());
    CHECK(r.exhausted() == (all.size() >= kMax));
    CHECK(r.room_at_full_level() ==
          (all.size() < kFull ? kFull - all.size() : 0));
  }
  const double span = kMax - kFull;
  for (std::size_t t = 0; t < all.size(); ++t) {
    CAPTURE(t);
    if (t < kFull) {
      REQUIRE(all[t] == 1.0f);
    } else if (t < kMax) {
      REQUIRE(all[t] == doctest::Approx(1.0 - double(t - kFull) / span).epsilon(1e-5));
      REQUIRE(all[t] > 0.0f);
    } else {
      REQUIRE(all[t] == 0.0f);
    }
  }
}

TEST_CASE("loss_repair: the audio after a faded run rises from the fade's level; after a run at full level it does not") {
  for (const std::uint32_t run : {kFull, kFull + 240, kMax}) {
    for (const bool fec : {false, true}) {
      CAPTURE(run);
      CAPTURE(fec);
      PcmDecoder dec;
      dec.concealed = 1.0f;
      dec.recovers = fec;
      net::LossRepair r(dec, 48000);
      std::vector<float> buf(240, 1.0f);
      const auto ones = bytes(buf);
      REQUIRE(r.decode(ones, 0, true, buf.data(), 240) == 240);
      r.begin(240);
      for (std::uint32_t done = 0; done < run; done += 240) REQUIRE(r.conceal(240 + done, buf.data(), 240) == 240);
      // The run's last sample was at this level; the audio after it (a
      // packet, or the next one's FEC copy of the last lost) starts there.
      const double from = run <= kFull ? 1.0 : 1.0 - double(run - 1 - kFull) / (kMax - kFull);
      CHECK(buf[239] == doctest::Approx(std::max(0.0, from)).epsilon(1e-4));
      if (fec) {
        REQUIRE(r.recover(ones, 240 + run, buf.data(), 240) == 240);
      } else {
        REQUIRE(r.decode(ones, 240 + run, true, buf.data(), 240) == 240);
      }
      CHECK_FALSE(r.in_run());
      const double level = run <= kFull ? 1.0 : std::max(0.0, 1.0 - double(run - kFull) / (kMax - kFull));
      for (std::uint32_t i = 0; i < kFade; ++i)
        CHECK(buf[i] == doctest::Approx(level + (1 - level) * double(i) / kFade).epsilon(1e-5));
      for (std::size_t i = kFade; i < buf.size(); ++i) CHECK(buf[i] == 1.0f);
      // The run is over: the packet after the recovered one plays as it is.
      REQUIRE(r.decode(ones, 480 + run, true, buf.data(), 240) == 240);
      for (const float x : buf) REQUIRE(x == 1.0f);
    }
  }
}

TEST_CASE("loss_repair: audio that follows a repetition is decoded from the saved state and cross-faded") {
  enum Next { kFollows, kMoved, kRescued };
  for (const Next next : {kFollows, kMoved, kRescued}) {
    CAPTURE(static_cast<int>(next));
    PcmDecoder dec;
    dec.repetition = true;
    net::LossRepair r(dec, 48000);
    tone_then_run(r);
    std::vector<float> out(960);
    // At half the level: the packet after the gap (the timeline moved under
    // it, or not), or the one for its place, replacing the run.
    const std::int64_t pos = next == kRescued ? 2880 : 3840;
    if (next == kRescued) r.undo_run();
    const auto quiet = tone(pos, 960, 0.25);
    REQUIRE(r.decode(bytes(quiet), pos, next != kMoved, out.data(), 960) == 960);
    // From the state saved before the run (undo_run() restored it already).
    CHECK(dec.restores == (next == kMoved ? 0 : 1));
    if (next == kFollows) {
      // The first audio after the repetition only brings the decoder up to
      // date: the repetition (the tone) plays over it.
      const auto loud = tone(3840, 960);
      for (std::size_t i = 0; i < out.size(); ++i) REQUIRE(out[i] == doctest::Approx(loud[i]).epsilon(0.002).scale(1));
      // The next packet, 6 dB down at both ends, is new sound: it starts at
      // the repetition's level and is itself after 5 ms, decoded on from
      // the state the first left.
      const auto quieter = tone(4800, 960, 0.25);
      REQUIRE(r.decode(bytes(quieter), 4800, true, out.data(), 960) == 960);
      CHECK(dec.restores == 1);
      CHECK(out[1] == doctest::Approx(tone(4801, 1)[0]).epsilon(0.002));
      CHECK(std::abs(out[1] - quieter[1]) > 0.01);
      for (std::size_t i = 240; i < out.size(); ++i) REQUIRE(out[i] == quieter[i]);
    } else {
      CHECK(out == quiet);  // nothing to join: as decoded
    }
  }
}

TEST_CASE("loss_repair: a lost packet is recovered from the next one's in-band FEC") {
  const auto p = testtools::opus_tone(12, 960, true);
  REQUIRE(net::OpusStreamDecoder::has_lbrr(p[11]));
  net::OpusStreamDecoder dec(2), ref(2);
  net::LossRepair r(dec, 48000);
  std::vector<float> a(960 * 2), b(960 * 2);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(r.decode(p[i], i * 960, true, a.data(), 960) == 960);
    REQUIRE(ref.decode(p[i], b.data(), 960) == 960);
  }
  // p[10] lost: its 960 frames from p[11]'s copy, as libopus makes them.
  REQUIRE(r.recover(p[11], 9600, a.data(), 960) == 960);
  REQUIRE(ref.recover(p[11], b.data(), 960) == 960);
  CHECK(a == b);
  double power = 0;
  for (const float s : a) power += double(s) * s;
  CHECK(std::sqrt(power / double(a.size())) > 0.5 / std::sqrt(2.0) / 2);  // the tone, within 6 dB
  CHECK(r.decode(p[11], 10560, true, a.data(), 960) == 960);
}

TEST_CASE("loss_repair: a tone goes through a burst of 1 to 6 lost packets without a click, with FEC or without") {
  // GStreamer's opusenc at 128 kbit/s with in-band FEC (the impairment
  // benchmark's sender): hybrid frames, whose concealment is the
  // repetition. Lost packets are concealed as net::Depacketizer does: the
  // last from the next packet's FEC where it carries one. A click is a step
  // between two samples larger than the tone's own steepest (2 pi 440 /
  // 48000 x 0.5 = 0.029) could be, twice over. Decoded audio that starts
  // from silence, or at full level, after a run faded part of the way
  // steps by 0.1 to 0.6.
  const auto p = testtools::opus_tone(40, 960, testtools::ToneCodec::MusicFec);
  REQUIRE(net::OpusStreamDecoder::has_silk(p[19]));
  REQUIRE(net::OpusStreamDecoder::has_lbrr(p[20]));
  const double steepest = 2 * M_PI * 440 / 48000 * 0.5;
  for (int lost = 1; lost <= 6; ++lost) {
    for (const bool fec : {false, true}) {
      CAPTURE(lost);
      CAPTURE(fec);
      net::OpusStreamDecoder dec(2);
      net::LossRepair r(dec, 48000);
      std::vector<float> out(40 * 960 * 2);
      for (int k = 0; k < 40; ++k) {
        float* o = out.data() + std::size_t(k) * 960 * 2;
        const std::int64_t pos = std::int64_t{k} * 960;
        if (k < 20 || k >= 20 + lost) {
          REQUIRE(r.decode(p[std::size_t(k)], pos, true, o, 960) == 960);
        } else if (fec && k == 20 + lost - 1 && net::OpusStreamDecoder::has_lbrr(p[std::size_t(k) + 1])) {
          REQUIRE(r.recover(p[std::size_t(k) + 1], pos, o, 960) == 960);
        } else {
          r.begin(pos);
          REQUIRE(r.conceal(pos, o, 960) == 960);
        }
      }
      double worst = 0;
      std::size_t at = 0;
      for (std::size_t i = 19 * 960; i < 40 * 960; ++i)
        for (std::size_t c = 0; c < 2; ++c) {
          const double step = std::abs(double(out[2 * i + c]) - out[2 * (i - 1) + c]);
          if (step > worst) {
            worst = step;
            at = i;
          }
        }
      CAPTURE(at);
      CHECK(worst < 2 * steepest);
    }
  }
}

TEST_CASE("loss_repair: a CELT-only tone holds its level through 40 ms of loss") {
  // 128 kbit/s music: CELT-only frames, whose concealment by Opus is 2 dB
  // down through the second lost 20 ms frame. The repetition holds it.
  const auto p = testtools::opus_tone(30, 960, testtools::ToneCodec::Music);
  REQUIRE_FALSE(net::OpusStreamDecoder::has_silk(p[19]));
  net::OpusStreamDecoder dec(2);
  net::LossRepair r(dec, 48000);
  std::vector<float> out(30 * 960 * 2);
  for (int k = 0; k < 30; ++k) {
    float* o = out.data() + std::size_t(k) * 960 * 2;
    if (k == 20 || k == 21) {
      r.begin(k * 960);
      REQUIRE(r.conceal(k * 960, o, 960) == 960);
    } else {
      REQUIRE(r.decode(p[std::size_t(k)], k * 960, true, o, 960) == 960);
    }
  }
  // Each 10 ms block's RMS against the tone's before the gap (4.4 periods
  // a block: within 0.1 dB of each other where the tone is whole).
  const auto rms = [&](int block) {
    double sum = 0;
    for (int i = block * 480; i < (block + 1) * 480; ++i) sum += double(out[2 * std::size_t(i)]) * out[2 * std::size_t(i)];
    return std::sqrt(sum / 480);
  };
  const double before = rms(38);
  for (int block = 40; block < 44; ++block) {
    CAPTURE(block);
    CHECK(std::abs(20 * std::log10(rms(block) / before)) < 0.5);
  }
}

TEST_CASE("loss_repair: undo_run and replay decode as if the run had never been") {
  const auto p = testtools::opus_tone(7, 240, false);
  net::OpusStreamDecoder dc(2), du(2), dk(2), dr(2);
  net::LossRepair clean(dc, 48000), undo(du, 48000), kept(dk, 48000), replay(dr, 48000);
  std::vector<float> a(240 * 2), b(240 * 2);
  for (int i = 0; i < 5; ++i)
    for (net::LossRepair* r : {&clean, &undo, &kept, &replay}) REQUIRE(r->decode(p[i], i * 240, true, a.data(), 240) == 240);
  for (net::LossRepair* r : {&undo, &kept, &replay}) {
    r->begin(1200);
    REQUIRE(r->conceal(1200, a.data(), 240) == 240);
    REQUIRE(r->conceal(1440, a.data(), 240) == 240);
  }
  REQUIRE(clean.decode(p[5], 1200, true, a.data(), 240) == 240);
  // p[5] came in time to replace the run.
  undo.undo_run();
  CHECK_FALSE(undo.in_run());
  REQUIRE(undo.decode(p[5], 1200, true, b.data(), 240) == 240);
  CHECK(b == a);
  // Decoded after the run instead, it bears the concealment's mark.
  REQUIRE(kept.decode(p[5], 1680, false, b.data(), 240) == 240);
  CHECK(b != a);
  // p[5] too late to replace its concealment: decoded for the state only,
  // and p[6] then decodes as it would have. A broken payload first: the
  // run stays, from where it began.
  const Bytes broken{0x03, 0x00};  // code 3, no frames (RFC 6716 section 3.2.5)
  REQUIRE(net::OpusStreamDecoder::packet_frames(broken) < 0);
  CHECK(replay.replay(broken) <= 0);
  CHECK(replay.in_run());
  CHECK(replay.replay(p[5]) == 240);
  CHECK_FALSE(replay.in_run());
  REQUIRE(clean.decode(p[6], 1440, true, a.data(), 240) == 240);
  REQUIRE(replay.decode(p[6], 1440, true, b.data(), 240) == 240);
  CHECK(b == a);
}

TEST_CASE("loss_repair: give_up ends concealment until a packet decodes") {
  PcmDecoder dec;
  net::LossRepair r(dec, 48000);
  std::vector<float> buf(240, 0.5f);
  REQUIRE(r.decode(bytes(buf), 0, true, buf.data(), 240) == 240);
  r.begin(240);
  r.give_up();
  CHECK(r.exhausted());
  CHECK(r.room_at_full_level() == 0);
  REQUIRE(r.decode(bytes(std::vector<float>(240, 0.5f)), 4000, false, buf.data(), 240) == 240);
  CHECK_FALSE(r.exhausted());
  CHECK(r.room_at_full_level() == kFull);
  CHECK(buf[0] == 0.0f);  // after a run given up on, the audio fades in
  CHECK(buf[kFade] == 0.5f);
}

namespace {

// One channel's least-squares fit to a tone at `hz` over 10 ms block `b` of
// interleaved stereo: level (dB) and phase (rad) at the block's start.
struct BlockFit {
  double level_db;
  double phase;
};
BlockFit fit_block(const std::vector<float>& pcm, int b, double hz) {
  double ss = 0, cc = 0, sc = 0, xs = 0, xc = 0;
  for (int i = 0; i < 480; ++i) {
    const double t = 2 * M_PI * hz * i / 48000, s = std::sin(t), c = std::cos(t);
    const double x = pcm[2 * (std::size_t(b) * 480 + std::size_t(i))];
    ss += s * s;
    cc += c * c;
    sc += s * c;
    xs += x * s;
    xc += x * c;
  }
  const double det = ss * cc - sc * sc;
  const double a = (xs * cc - xc * sc) / det, q = (xc * ss - xs * sc) / det;
  return {20 * std::log10(std::hypot(a, q) + 1e-12), std::atan2(q, a)};
}

// 40 packets of 20 ms (MusicFec: hybrid with LBRR), packets 20 to
// 20 + lost - 1 lost and repaired as net::Depacketizer does (the last from
// the next packet's FEC, with `fec`). The output, and the frames held.
std::vector<float> through_loss(const std::vector<std::vector<std::uint8_t>>& p, int lost, bool fec,
                                std::uint64_t* held) {
  net::OpusStreamDecoder dec(2);
  net::LossRepair r(dec, 48000);
  std::vector<float> out(p.size() * 960 * 2);
  *held = 0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    float* o = out.data() + k * 960 * 2;
    const std::int64_t pos = std::int64_t(k) * 960;
    if (k < 20 || k >= 20 + std::size_t(lost)) {
      REQUIRE(r.decode(p[k], pos, true, o, 960) == 960);
    } else if (fec && k == 20 + std::size_t(lost) - 1) {
      REQUIRE(net::OpusStreamDecoder::has_lbrr(p[k + 1]));
      REQUIRE(r.recover(p[k + 1], pos, o, 960) == 960);
    } else {
      r.begin(pos);
      REQUIRE(r.conceal(pos, o, 960) == 960);
    }
    *held += r.take_frames_held();
  }
  return out;
}

std::vector<float> decoded(const std::vector<std::vector<std::uint8_t>>& p) {
  net::OpusStreamDecoder dec(2);
  std::vector<float> out(p.size() * 960 * 2);
  for (std::size_t k = 0; k < p.size(); ++k) REQUIRE(dec.decode(p[k], out.data() + k * 960 * 2, 960) == 960);
  return out;
}

}  // namespace

TEST_CASE("loss_repair: after a repetition the decoder's first, unsettled audio is played over") {
  // Decoded from the state before one or two lost 20 ms packets, libopus's
  // first 10 to 30 ms after them dip 2 to 15 dB and jump in phase (by
  // libopus 1.3.1, measured). The repetition plays on over them, so every
  // 10 ms block from the gap on is the tone without the loss: within
  // 0.5 dB and 0.05 rad of the clean decode's fit.
  for (const double hz : {440.0, 523.25, 659.25}) {
    const auto p = testtools::opus_tone(40, 960, testtools::ToneCodec::MusicFec, hz);
    const auto clean = decoded(p);
    for (int lost = 1; lost <= 2; ++lost) {
      for (const bool fec : {false, true}) {
        if (fec && lost == 1) continue;  // no run: the FEC copy decodes from the current state
        CAPTURE(hz);
        CAPTURE(lost);
        CAPTURE(fec);
        std::uint64_t held = 0;
        const auto out = through_loss(p, lost, fec, &held);
        CHECK(held > 0);
        double worst_db = 0, worst_rad = 0;
        int worst_block = 0;
        for (int b = 40; b < 60; ++b) {
          const BlockFit want = fit_block(clean, b, hz), got = fit_block(out, b, hz);
          const double db = std::abs(got.level_db - want.level_db);
          const double rad = std::abs(std::remainder(got.phase - want.phase, 2 * M_PI));
          if (db > worst_db || rad > worst_rad) worst_block = b;
          worst_db = std::max(worst_db, db);
          worst_rad = std::max(worst_rad, rad);
        }
        MESSAGE(hz << " Hz, " << lost << " lost, fec " << fec << ": worst " << worst_db << " dB, " << worst_rad
                    << " rad (block " << worst_block << "), held " << held);
        CHECK(worst_db < 0.5);
        CHECK(worst_rad < 0.05);
      }
    }
  }
}

TEST_CASE("loss_repair: a new note after the gap is held back by one packet only") {
  // The tone moves from 440 to 523.25 Hz at the packet after the gap.
  // Decoded from the state before the gap, that packet's first 10 ms come
  // out as the old note: the repetition plays over it. The next packet
  // differs from the repetition at both ends: it takes over within the
  // cross-fade's 5 ms, and the rest of it is the new note as decoded.
  const auto p = testtools::opus_tone(40, 960, testtools::ToneCodec::MusicFec, 440, 22, 523.25);
  std::uint64_t held = 0;
  const auto out = through_loss(p, 2, false, &held);
  CHECK(held == 960);
  // From the second 10 ms of that next packet on, the new note leads the
  // old by more than 10 dB (it settles from -10 dB in the first).
  for (int b = 47; b < 52; ++b) {
    CAPTURE(b);
    CHECK(fit_block(out, b, 523.25).level_db > fit_block(out, b, 440).level_db + 10);
  }
}

TEST_CASE("loss_repair: after the first packet, decoded audio is played over while it is the same sound, unsettled") {
  // The PCM payload decodes exactly. After a 20 ms run of the 440 Hz tone
  // the first packet (or FEC copy) is played over, whatever it is. Then: a
  // packet that is the tone but for its first 5 ms (silent) is the same
  // sound, settled by its end: the repetition plays to 5 ms before its end
  // and cross-fades there. One that is the tone 2 dB down throughout is
  // the same sound, not settled: the repetition plays over all of it too,
  // and the next decides again; a third such packet would pass 40 ms
  // played over, so it takes over at its end.
  enum Case { kSettlesLate, kQuieter };
  for (const Case c : {kSettlesLate, kQuieter}) {
    for (const bool fec : {false, true}) {
      CAPTURE(static_cast<int>(c));
      CAPTURE(fec);
      PcmDecoder dec;
      dec.repetition = true;
      dec.recovers = true;
      net::LossRepair r(dec, 48000);
      tone_then_run(r);
      std::vector<float> out(960);
      const auto first = tone(3840, 960, 0.1);
      REQUIRE((fec ? r.recover(bytes(first), 3840, out.data(), 960)
                   : r.decode(bytes(first), 3840, true, out.data(), 960)) == 960);
      CHECK(r.take_frames_held() == 960);
      const auto tone_first = tone(3840, 960);
      for (std::size_t i = 0; i < 960; ++i) REQUIRE(out[i] == doctest::Approx(tone_first[i]).epsilon(0.002).scale(1));
      const double quieter = 0.5 * std::pow(10.0, -2.0 / 20);
      for (int k = 0; k < (c == kQuieter ? 2 : 1); ++k) {
        CAPTURE(k);
        const std::int64_t pos = 4800 + k * 960;
        auto next = tone(pos, 960, c == kQuieter ? quieter : 0.5);
        if (c == kSettlesLate) std::fill_n(next.begin(), 240, 0.0f);
        REQUIRE(r.decode(bytes(next), pos, true, out.data(), 960) == 960);
        const std::size_t over = c == kQuieter && k == 0 ? 960 : 960 - 240;
        CHECK(r.take_frames_held() == over);
        const auto tone_now = tone(pos, 960);
        for (std::size_t i = 0; i < over; ++i) REQUIRE(out[i] == doctest::Approx(tone_now[i]).epsilon(0.002).scale(1));
        if (over < 960) {
          CHECK(std::abs(out[over + 1] - next[over + 1]) > 1e-4);  // cross-fading
          CHECK(out[959] == doctest::Approx(next[959]).epsilon(1e-3));
        }
      }
      // Over: the next packet plays as decoded.
      const auto after = tone(6720, 960);
      REQUIRE(r.decode(bytes(after), 6720, true, out.data(), 960) == 960);
      CHECK(r.take_frames_held() == 0);
      CHECK(out == after);
    }
  }
}

TEST_CASE("loss_repair: nothing is played over after a run that faded below half level") {
  // 60 ms of repetition end at 2/3 of full level: the first packet after
  // them is played over, rising to full level. 80 ms end at 1/3: an outage
  // more than a gap, and the packet after it takes over at once.
  for (const int lost : {3, 4}) {
    CAPTURE(lost);
    PcmDecoder dec;
    dec.repetition = true;
    net::LossRepair r(dec, 48000);
    tone_then_run(r, lost);
    std::vector<float> out(960);
    const std::int64_t pos = 2880 + lost * 960;
    const auto next = tone(pos, 960);
    REQUIRE(r.decode(bytes(next), pos, true, out.data(), 960) == 960);
    if (lost == 3) {
      CHECK(r.take_frames_held() == 960);
      CHECK(std::abs(out[0]) <= std::abs(next[0]) * 2.0f / 3.0f + 1e-3f);  // from the fade's level
      CHECK(out[959] == doctest::Approx(next[959]).epsilon(0.01).scale(1));
    } else {
      CHECK(r.take_frames_held() == 0);
      for (std::size_t i = 240; i < 960; ++i) REQUIRE(out[i] == next[i]);
    }
  }
}
