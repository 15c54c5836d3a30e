#include "audio/splicer.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

namespace {

using audio::Splicer;

// A periodic signal (a sine of `period` frames, not a whole number), mono,
// by stream position; records of it queued in a jitter buffer.
struct Rig {
  double period = 100.37;
  float value(double pos) const { return static_cast<float>(0.5 * std::sin(2 * M_PI * pos / period)); }
  audio::JitterBuffer buffer{64};
  std::vector<std::unique_ptr<core::PacketRecord>> records;
  Splicer splicer{1, 48000};
  void queue(std::int64_t ts, std::uint32_t frames = 480) {
    records.push_back(std::make_unique<core::PacketRecord>());
    core::PacketRecord* r = records.back().get();
    r->timestamp = ts;
    r->frames = frames;
    for (std::uint32_t i = 0; i < frames; ++i) r->pcm[i] = value(static_cast<double>(ts + i));
    REQUIRE(buffer.insert(r));
  }
  // Plays [from, to) into the history, as the player does.
  void played(std::int64_t from, std::int64_t to) {
    std::vector<float> pcm(static_cast<std::size_t>(to - from));
    for (std::size_t i = 0; i < pcm.size(); ++i) pcm[i] = value(static_cast<double>(from) + static_cast<double>(i));
    splicer.remember(from, pcm.data(), static_cast<std::uint32_t>(pcm.size()));
  }
};

// How far (frames, signed, within half a period) `pos` is from a position
// where the signal is in the phase it has at `ref`.
double phase_error(double pos, double ref, double period) {
  const double d = std::fmod(pos - ref, period);
  return d > period / 2 ? d - period : d < -period / 2 ? d + period : d;
}

}  // namespace

TEST_CASE("splicer: a skip forward lands where a periodic signal matches, nearest the position asked, between samples") {
  Rig rig;
  for (std::int64_t ts = 0; ts < 9600; ts += 480) rig.queue(ts);
  const std::int64_t cursor = 1000;
  for (std::int64_t asked : {2017, 3333, 4100, 5555}) {
    std::int64_t at = 0;
    double fraction = 0;
    REQUIRE(rig.splicer.find(cursor, asked, rig.splicer.search(), rig.buffer, at, fraction));
    CHECK(std::llabs(at - asked) <= rig.period / 2 + 1);
    CHECK(std::fabs(fraction) <= 0.5);
    // In phase with what would have played on, to a hundredth of a frame.
    CHECK(std::fabs(phase_error(static_cast<double>(at) + fraction, cursor, rig.period)) < 0.01);
  }
}

TEST_CASE("splicer: a skip backwards lands in phase in what played") {
  Rig rig;
  rig.played(0, 3000);
  rig.queue(3000);
  CHECK(rig.splicer.history_end() == 3000);
  CHECK(rig.splicer.kept_from() == 3000 - rig.splicer.history_frames() + 1);
  std::int64_t at = 0;
  double fraction = 0;
  const std::int64_t asked = 3000 - 1234;
  REQUIRE(rig.splicer.find(3000, asked, rig.splicer.search(), rig.buffer, at, fraction));
  CHECK(std::llabs(at - asked) <= rig.period / 2 + 1);
  CHECK(std::fabs(phase_error(static_cast<double>(at) + fraction, 3000, rig.period)) < 0.01);
}

TEST_CASE("splicer: silence splices where asked") {
  Rig rig;
  rig.period = 1e12;  // a sine that never leaves zero's neighbourhood: silence
  for (std::int64_t ts = 0; ts < 4800; ts += 480) rig.queue(ts);
  std::int64_t at = 0;
  double fraction = 1;
  REQUIRE(rig.splicer.find(0, 2000, rig.splicer.search(), rig.buffer, at, fraction));
  CHECK(at == 2000);
  CHECK(fraction == 0);
}

TEST_CASE("splicer: no splice over a hole, the buffer's end, or history that is not kept") {
  Rig rig;
  rig.queue(0);
  rig.queue(480);
  rig.queue(1440);  // a hole at [960, 1440)
  std::int64_t at = 0;
  double fraction = 0;
  CHECK_FALSE(rig.splicer.find(0, 1000, rig.splicer.search(), rig.buffer, at, fraction));  // the new side
  CHECK(at == 1000);
  CHECK_FALSE(rig.splicer.find(800, 1400, rig.splicer.search(), rig.buffer, at, fraction));  // the old side
  CHECK_FALSE(rig.splicer.find(0, 1900, rig.splicer.search(), rig.buffer, at, fraction));  // past the end
  // Behind the cursor only what played without a break is kept.
  rig.played(0, 500);
  rig.played(700, 960);  // a jump: what came before is no lead-in
  CHECK(rig.splicer.kept_from() == 700);
  std::vector<float> dst(60);
  CHECK_FALSE(rig.splicer.copy(650, 60, dst.data(), 960, rig.buffer));
  REQUIRE(rig.splicer.copy(900, 60, dst.data(), 960, rig.buffer));
  for (std::size_t i = 0; i < dst.size(); ++i) CHECK(dst[i] == rig.value(900.0 + static_cast<double>(i)));
}

TEST_CASE("splicer: what played is kept by position, across the ring's wrap") {
  Rig rig;
  rig.played(0, 5000);
  const std::int64_t from = rig.splicer.kept_from();
  std::int64_t pos = from;
  while (pos < 5000) {
    auto n = static_cast<std::uint32_t>(5000 - pos);
    const float* pcm = rig.splicer.played(pos, n);
    REQUIRE(n > 0);
    for (std::uint32_t i = 0; i < n; ++i) CHECK(pcm[i] == rig.value(static_cast<double>(pos + i)));
    pos += n;
  }
}

TEST_CASE("splicer: the old side, read a fraction of a frame nearer, is the signal there (either sign)") {
  bool positive = false, negative = false;
  for (std::int64_t i = 0; i < 400 && !(positive && negative); ++i) {
    Rig rig;
    rig.period = 100.37 + 0.013 * static_cast<double>(i);  // the match falls between samples anywhere
    for (std::int64_t ts = 0; ts < 9600; ts += 480) rig.queue(ts);
    const std::int64_t cursor = 1000;
    const std::int64_t asked = 2000 + i;
    std::int64_t at = 0;
    double fraction = 0;
    REQUIRE(rig.splicer.find(cursor, asked, rig.splicer.search(), rig.buffer, at, fraction));
    if (std::fabs(fraction) < 0.1) continue;
    (fraction > 0 ? positive : negative) = true;
    const float* old = rig.splicer.old_side();
    double worst = 0;
    for (std::uint32_t k = 0; k < rig.splicer.crossfade(); ++k) {
      const double p = static_cast<double>(k) - fraction * k / rig.splicer.crossfade();
      worst = std::max(worst, std::fabs(double{old[k]} - rig.value(static_cast<double>(cursor) + p)));
    }
    CAPTURE(fraction);
    CHECK(worst < 1e-3);  // linear interpolation of this sine: 6e-4 at most
  }
  CHECK(positive);
  CHECK(negative);
}
