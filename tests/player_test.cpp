#include "audio/player.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "core/record_pool.hpp"

namespace {

constexpr std::uint32_t kFrame = 960;   // 20 ms packets
constexpr std::uint32_t kPeriod = 128;  // JACK period
constexpr std::uint32_t kTarget = 960;  // 20 ms target

// Drives a Player the way net and JACK do, with a mono ramp signal whose
// value is the stream position: continuity is easy to check.
struct Rig {
  core::RecordPool pool{64};
  core::SpscQueue<core::ToAudio> to_audio{80};
  core::SpscQueue<core::ToNet> to_net{200};
  audio::Player player{{1, kTarget, 64}, to_audio, to_net};
  std::vector<float> out;  // everything played so far
  std::size_t returned = 0;
  core::AudioStatus status;

  static float value(std::int64_t pos) { return 0.5f * std::sin(static_cast<float>(pos) * 0.01f); }

  void link(std::int64_t ts, std::uint32_t frames = kFrame,
            core::PacketRecord::Kind kind = core::PacketRecord::Kind::Decoded) {
    core::PacketRecord* r = pool.acquire();
    REQUIRE(r != nullptr);
    r->timestamp = ts;
    r->frames = frames;
    r->kind = kind;
    // Concealment here is a guess that is off by a constant: audible as a
    // step where it starts.
    const float off = kind == core::PacketRecord::Kind::Concealed ? 0.3f : 0.0f;
    for (std::uint32_t i = 0; i < frames; ++i) r->pcm[i] = value(ts + i) + off;
    REQUIRE(to_audio.try_push(core::ToAudio{core::ToAudio::Kind::Link, 0, r}));
  }
  void reset(std::uint32_t epoch) {
    REQUIRE(to_audio.try_push(core::ToAudio{core::ToAudio::Kind::Reset, epoch, nullptr}));
  }
  // JACK's cycle start for process_on_time(): 0 leaves the player's
  // stall detection off, as in most cases here.
  std::int64_t cycle_ns = 0;
  static constexpr std::int64_t kPeriodNs = std::int64_t{kPeriod} * 1'000'000'000 / 48000;

  // One callback `late_ns` after the previous one's period ended.
  void process_on_time(std::int64_t late_ns = 0) {
    cycle_ns += (cycle_ns == 0 ? 1'000'000'000 : kPeriodNs) + late_ns;
    process(kPeriod, cycle_ns);
  }
  void process(std::uint32_t n = kPeriod, std::int64_t at_ns = 0) {
    std::vector<float> buf(n, 12345.0f);  // poison: every sample must be written
    float* chans[1] = {buf.data()};
    player.process(chans, n, at_ns, 48000);
    for (float v : buf) CHECK(v != 12345.0f);
    out.insert(out.end(), buf.begin(), buf.end());
    while (auto m = to_net.try_pop()) {
      if (m->kind == core::ToNet::Kind::Unlink) {
        REQUIRE(pool.release(m->record));
        ++returned;
      } else {
        status = m->status;
      }
    }
  }
  // Least instantaneous amplitude of the output's sine (Rig::value) from
  // `from` on: a^2 = x^2 + (x' / w)^2, x' by the central difference.
  float min_amplitude(std::size_t from) const {
    const float w2 = 2.0f * std::sin(0.01f);
    float m = 1e9f;
    for (std::size_t i = from + 1; i + 1 < out.size(); ++i) {
      const float d = (out[i + 1] - out[i - 1]) / w2;
      m = std::min(m, std::sqrt(out[i] * out[i] + d * d));
    }
    return m;
  }
  // Largest jump between neighbouring output samples from `from` on.
  float max_step(std::size_t from = 0) const {
    float m = 0;
    for (std::size_t i = from + 1; i < out.size(); ++i) m = std::max(m, std::fabs(out[i] - out[i - 1]));
    return m;
  }
};

}  // namespace

TEST_CASE("player: silent until the target is buffered, then plays contiguously") {
  Rig rig;
  rig.reset(1);
  rig.link(0);
  for (int i = 0; i < 10; ++i) rig.process();
  CHECK(rig.player.state() == audio::Player::State::Buffering);
  for (float v : rig.out) CHECK(v == 0.0f);

  // A second packet: the queue holds target + one frame, playout starts.
  rig.link(kFrame);
  rig.process();
  CHECK(rig.player.state() == audio::Player::State::Playing);
  const std::size_t start = rig.out.size() - kPeriod;

  // Feed a packet per 20 ms of playout, as a clean network would.
  std::int64_t next = 2 * kFrame;
  for (int i = 0; i < 300; ++i) {
    rig.process();
    if ((i + 1) * kPeriod / kFrame != i * kPeriod / kFrame) {
      rig.link(next);
      next += kFrame;
    }
  }
  CHECK(rig.status.underruns == 0);
  CHECK(rig.status.gaps == 0);
  // After the fade-in and the converter's settling, the output is the
  // signal: a sine of amplitude 0.5 whose steps never exceed its own.
  const std::size_t settled = start + 256;
  CHECK(rig.max_step(settled) <= 0.0052f);
  float peak = 0;
  for (std::size_t i = settled; i < rig.out.size(); ++i) peak = std::max(peak, std::fabs(rig.out[i]));
  CHECK(peak == doctest::Approx(0.5).epsilon(0.01));
  CHECK(rig.max_step() <= 0.0052f + 0.5f / core::defaults::kFadeFrames);  // fade-in: a ramp, no step
  // Depth: the queue's mean over a packet interval less half a packet
  // (converter included) sits at the target, give or take a period.
  CHECK(rig.status.depth_frames >= kTarget - kPeriod);
  CHECK(rig.status.depth_frames <= kTarget + kPeriod);
}

TEST_CASE("player: a stream that ends fades out and is not an underrun") {
  Rig rig;
  rig.reset(1);
  for (int k = 0; k < 5; ++k) rig.link(std::int64_t{k} * kFrame);
  for (int i = 0; i < 100; ++i) rig.process();
  CHECK(rig.player.state() == audio::Player::State::Buffering);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.out.back() == 0.0f);
  CHECK(rig.max_step() <= 0.0051f + 0.5f / core::defaults::kFadeFrames);  // no click
  CHECK(rig.returned == 5);  // every record came home
  // The audio's own last millisecond fades out: over the final half
  // millisecond before silence the 0.5-amplitude sine stays under half its
  // level, while the second before it reaches full level.
  std::size_t last = rig.out.size();
  while (last > 0 && std::fabs(rig.out[last - 1]) < 0.02f) --last;
  REQUIRE(last > 800);
  float before = 0, tail = 0;
  for (std::size_t i = last - 700; i < last - 100; ++i) before = std::max(before, std::fabs(rig.out[i]));
  for (std::size_t i = last - 24; i < last; ++i) tail = std::max(tail, std::fabs(rig.out[i]));
  CHECK(before > 0.45f);
  CHECK(tail < 0.3f);
}

TEST_CASE("player: a record that comes after the buffer ran dry counts one underrun") {
  Rig rig;
  rig.reset(1);
  for (int k = 0; k < 3; ++k) rig.link(std::int64_t{k} * kFrame);
  for (int i = 0; i < 40; ++i) rig.process();  // runs dry
  CHECK(rig.status.underruns == 0);
  rig.link(3 * kFrame);  // the stream goes on from where it stopped: it was late
  rig.process();
  CHECK(rig.status.underruns == 1);
  // Playout re-buffers from there rather than dropping the rest as late.
  CHECK(rig.status.records_late == 0);
  rig.link(4 * kFrame);
  rig.process();
  CHECK(rig.player.state() == audio::Player::State::Playing);
  CHECK(rig.status.underruns == 1);
}

TEST_CASE("player: a pause whose timestamps jump ahead is not an underrun") {
  Rig rig;
  rig.reset(1);
  for (int k = 0; k < 3; ++k) rig.link(std::int64_t{k} * kFrame);
  for (int i = 0; i < 40; ++i) rig.process();
  // 40 periods later, the sender resumes with timestamps that moved on by a second
  rig.link(3 * kFrame + 48000);
  rig.link(4 * kFrame + 48000);
  rig.process();
  CHECK(rig.status.underruns == 0);
  CHECK(rig.player.state() == audio::Player::State::Playing);
}

TEST_CASE("player: late records go home and are counted") {
  Rig rig;
  rig.reset(1);
  for (int k = 0; k < 4; ++k) rig.link(std::int64_t{k} * kFrame);
  for (int i = 0; i < 10; ++i) rig.process();
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  const std::size_t before = rig.returned;
  rig.link(-static_cast<std::int64_t>(kFrame));  // long gone
  rig.process();
  CHECK(rig.status.records_late == 1);
  CHECK(rig.returned >= before + 1);
}

TEST_CASE("player: a Reset flushes every record home and re-buffers") {
  Rig rig;
  rig.reset(1);
  for (int k = 0; k < 6; ++k) rig.link(std::int64_t{k} * kFrame);
  rig.process();
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  rig.reset(2);
  rig.process();
  CHECK(rig.player.state() == audio::Player::State::Buffering);
  CHECK(rig.returned == 6);
  CHECK(rig.status.epoch == 2);
  // the new stream starts from its own positions
  rig.link(0);
  rig.link(kFrame);
  rig.process();
  CHECK(rig.player.state() == audio::Player::State::Playing);
}

TEST_CASE("player: a hole in the timeline plays as faded silence") {
  Rig rig;
  rig.reset(1);
  rig.link(0);
  rig.link(kFrame);
  rig.process();
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  rig.link(4 * kFrame);  // 40 ms of nothing between
  rig.link(5 * kFrame);
  for (int i = 0; i < 60; ++i) rig.process();
  CHECK(rig.status.gaps == 1);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.max_step() <= 0.0051f + 0.5f / core::defaults::kFadeFrames);
}

TEST_CASE("player: a JACK rate change while playing goes on playing") {
  Rig rig;
  rig.reset(1);
  std::int64_t next = 0;
  for (int k = 0; k < 3; ++k, next += kFrame) rig.link(next);
  std::vector<float> buf(kPeriod);
  float* chans[1] = {buf.data()};
  float peak_after = 0;
  for (int i = 0; i < 400; ++i) {
    // 48 kHz for a while, then 44.1 kHz: the converter starts over, playout goes on.
    rig.player.process(chans, kPeriod, 0, i < 200 ? 48000 : 44100);
    if (i % 6 == 0) {
      rig.link(next);
      next += kFrame;
    }
    if (i > 220) for (float v : buf) peak_after = std::max(peak_after, std::fabs(v));
    while (auto m = rig.to_net.try_pop())
      if (m->kind == core::ToNet::Kind::Unlink) REQUIRE(rig.pool.release(m->record));
  }
  CHECK(rig.player.state() == audio::Player::State::Playing);
  CHECK(peak_after > 0.4f);
  CHECK(rig.player.status().jack_rate == 44100);
}

TEST_CASE("player: a stall's backlog is skipped back to the target, not played late for ever") {
  Rig rig;
  rig.reset(1);
  rig.link(0);
  rig.link(kFrame);
  for (int i = 0; i < 8; ++i) rig.process();
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  // The callback stops for a second while net links 50 packets; then it
  // runs again.
  for (int k = 2; k < 52; ++k) rig.link(std::int64_t{k} * kFrame);
  const std::size_t before = rig.returned;
  for (int i = 0; i < 7; ++i) rig.process();  // a trailing GrowTarget would come by now
  CHECK(rig.status.records_dropped == 0);
  rig.process();
  CHECK(rig.player.state() == audio::Player::State::Playing);
  CHECK(rig.status.records_dropped >= 45);
  CHECK(rig.returned - before >= 45);  // the skipped records went home
  // What is left is the target and the newest packet, not a second's worth.
  for (int i = 0; i < 30; ++i) rig.process();
  CHECK(rig.status.depth_frames < kTarget + 2 * kFrame);
  // The jump is crossfaded: no step bigger than a sine of this pitch makes.
  CHECK(rig.max_step(rig.out.size() - 31 * kPeriod) < 0.02f);
}

namespace {
// A sender in wall time, 20 ms packets, and JACK calling on time: `clock`
// is wall time in frames, `next` the next packet's timestamp. A packet is
// linked once its last frame has been captured.
struct Steady {
  std::int64_t clock = 0;
  std::int64_t next = 0;
  void run(Rig& rig, int calls) {
    for (int i = 0; i < calls; ++i) {
      clock += kPeriod;
      send(rig);
      rig.process_on_time();
    }
  }
  void send(Rig& rig) {
    for (; next + kFrame <= clock; next += kFrame) rig.link(next);
  }
};
}  // namespace

TEST_CASE("player: a short JACK stall's backlog is skipped, crossfaded, once the server does not catch up") {
  Rig rig;
  rig.reset(1);
  Steady net;
  net.run(rig, 400);  // 1 s: playing, settled
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  const auto depth_before = static_cast<std::int64_t>(rig.status.depth_frames);
  // The server stalls 20 ms while the network goes on.
  net.clock += 960 + kPeriod;
  net.send(rig);
  rig.process_on_time(20'000'000);
  const std::size_t from = rig.out.size();
  // Judged on the first whole window of the loop after the stall (100 ms,
  // 37.5 periods), then skipped.
  net.run(rig, 30);
  CHECK(rig.status.stall_skips == 0);
  net.run(rig, 20);
  CHECK(rig.status.stall_skips == 1);
  // Depth is back where it was within a second, not after ten of gliding:
  // to within what the splice left (it skips up to kSpliceSearch less, to
  // where the waveforms match), and that glides away in a few seconds.
  net.run(rig, 400);
  const auto off = [&] { return std::llabs(static_cast<std::int64_t>(rig.status.depth_frames) - depth_before); };
  CHECK(off() <= audio::Player::kSpliceSearch + kPeriod);
  net.run(rig, 2000);
  CHECK(off() <= kPeriod);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.max_step(from) < 0.02f);  // crossfaded: no click
  // Spliced in phase: the sine's amplitude holds through the crossfade
  // (spliced where it landed, 20 ms on, this 13 ms wave would meet itself
  // nearly out of phase and dip to a tenth).
  CHECK(rig.min_amplitude(from) > 0.45f);
}

TEST_CASE("player: a stall the sender shared (nothing piled up) leaves the depth where it was") {
  Rig rig;
  rig.reset(1);
  Steady net;
  net.run(rig, 400);
  const auto depth_before = static_cast<std::int64_t>(rig.status.depth_frames);
  // A sender in the same JACK graph stalls too: its clock does not run on.
  net.clock += kPeriod;
  net.send(rig);
  rig.process_on_time(20'000'000);
  net.run(rig, 800);
  CHECK(rig.status.stall_skips == 0);
  // The loop did not slow playout to grow the buffer by the stall.
  CHECK(std::llabs(static_cast<std::int64_t>(rig.status.depth_frames) - depth_before) <= kPeriod);
  CHECK(rig.status.underruns == 0);
}

TEST_CASE("player: a decoded record replaces concealment at its place until that begins to play") {
  using Kind = core::PacketRecord::Kind;
  Rig rig;
  rig.reset(1);
  for (int k = 0; k < 3; ++k) rig.link(std::int64_t{k} * kFrame);
  rig.process();
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  const std::size_t start = rig.out.size();
  // Net concealed the next place, then the packet came: it replaces the
  // concealment, which goes home unplayed.
  rig.link(3 * kFrame, kFrame, Kind::Concealed);
  rig.process();
  const std::size_t before = rig.returned;
  rig.link(3 * kFrame);
  rig.process();
  CHECK(rig.status.records_rescued == 1);
  CHECK(rig.returned >= before + 1);
  rig.link(4 * kFrame, kFrame, Kind::Concealed);
  // The duplicate of a decoded record is dropped as before.
  rig.link(3 * kFrame);
  rig.process();
  CHECK(rig.status.records_dropped == 1);
  // Play into the concealment at 4 * kFrame; the packet that comes after
  // it has begun is late, and the concealment plays on.
  std::size_t began = rig.out.size();  // the concealment begins in the call that starts here
  while (rig.status.cursor <= 4 * kFrame) {
    began = rig.out.size();
    rig.process();
  }
  rig.link(4 * kFrame);
  rig.link(5 * kFrame);
  rig.process();
  CHECK(rig.status.records_late == 1);
  CHECK(rig.status.records_rescued == 1);
  for (int i = 0; i < 20; ++i) rig.process();
  CHECK(rig.status.underruns == 0);
  // The signal is whole (the replaced concealment never played) up to the
  // one that did; that one shows.
  const auto step = [&](std::size_t from, std::size_t to) {
    float m = 0;
    for (std::size_t i = from; i + 1 < to; ++i) m = std::max(m, std::fabs(rig.out[i + 1] - rig.out[i]));
    return m;
  };
  const std::size_t converter = 16;  // the resampler's delay, and then some
  CHECK(step(start + 64, began) <= 0.0052f);
  CHECK(step(began, began + kPeriod + converter) > 0.1f);
}

TEST_CASE("player: a burst of records just after playout began is trimmed, spliced, to the target") {
  // Net was late at start-up (held records while it could not reach the
  // socket) and links them just after playout began: the buffer starts
  // 40 ms deeper than the target. Gliding at 0.2 % would take 20 s.
  const auto settle = [](std::int64_t lag) {
    auto rig = std::make_unique<Rig>();
    rig->reset(1);
    Steady net;
    net.clock = -lag;  // links what was captured `lag` frames ago
    while (rig->player.state() != audio::Player::State::Playing) net.run(*rig, 1);
    net.clock += lag;  // the held records come at once
    net.run(*rig, 1600);  // 4.3 s: buffer_ms averages over about a second
    return rig;
  };
  const auto plain = settle(0);
  const auto late = settle(2 * kFrame);
  CHECK(plain->status.start_trims == 0);
  CHECK(late->status.start_trims == 1);
  CHECK(late->status.stall_skips == 0);
  CHECK(std::llabs(static_cast<std::int64_t>(late->status.depth_frames) -
                   static_cast<std::int64_t>(plain->status.depth_frames)) <= kPeriod);
  CHECK(late->status.underruns == 0);
  // Spliced in phase after the fade-in: no click, no dip.
  CHECK(late->max_step(4800) < 0.02f);
  CHECK(late->min_amplitude(4800) > 0.45f);
}
