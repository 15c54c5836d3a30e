#include "audio/player.hpp"
#include "audio/playout_clock.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/mailbox.hpp"
#include "core/record_pool.hpp"
#include "tools/tone_judge.hpp"

namespace {

constexpr std::uint32_t kFrame = 960;   // 20 ms packets
constexpr std::uint32_t kPeriod = 128;  // JACK period
constexpr std::uint32_t kTarget = 960;  // 20 ms target
constexpr std::int64_t kNs = 1'000'000'000;
constexpr std::int64_t kMs = 1'000'000;
constexpr double kNsPerFrame = 1e9 / 48000;
// The signal: a 480 Hz sine (100 frames a period, inside a splice's search
// window) whose phase is the stream position: continuity is easy to check.
constexpr double kW = 2 * M_PI * 480 / 48000;

// Drives a Player the way net and JACK do: records linked through the
// queue, net's StreamModel through the mailbox, JACK cycles with a frame
// counter and a wake-up time.
struct Rig {
  core::RecordPool pool{256};
  core::SpscQueue<core::Message> to_audio{256};
  core::SpscQueue<core::Message> to_net{256};
  core::Mailbox<core::StreamModel> model_box;
  core::Mailbox<core::AudioStatus> status_box;
  audio::Player player{{core::make_stream_format(48000, 1, 1), 256}, to_audio, to_net, model_box, status_box};
  std::vector<float> out;  // everything played so far
  std::size_t returned = 0;
  core::AudioStatus status;
  std::int64_t now = 10 * kNs;  // the next cycle's start
  std::int64_t frames = 0;      // JACK's frame counter at it
  core::StreamModel model;

  double w = kW;  // the signal's frequency, radians per stream frame
  float value(std::int64_t pos) const { return static_cast<float>(0.5 * std::sin(w * static_cast<double>(pos))); }

  // A stream whose position 0 arrives on time at `arrival`.
  void stream(std::int64_t arrival, std::uint32_t epoch = 1, std::uint32_t target = kTarget) {
    model.epoch = epoch;
    model.target_frames = target;
    model.clock = true;
    model.ref_pos = 0;
    model.ref_ns = arrival;
    model.ns_per_frame = kNsPerFrame;
    model_box.publish(model);
  }
  void link(std::int64_t ts, std::uint32_t n = kFrame,
            core::PacketRecord::Kind kind = core::PacketRecord::Kind::Decoded) {
    core::PacketRecord* r = pool.acquire();
    REQUIRE(r != nullptr);
    r->timestamp = ts;
    r->frames = n;
    r->kind = kind;
    r->epoch = model.epoch;
    // Concealment here is a guess that is off by a constant: audible as a
    // step where it starts.
    const float off = kind == core::PacketRecord::Kind::Concealed ? 0.3f : 0.0f;
    for (std::uint32_t i = 0; i < n; ++i) r->pcm[i] = value(ts + std::int64_t{i}) + off;
    REQUIRE(to_audio.try_push(core::Message::link(r)));
  }
  void process(std::uint32_t n = kPeriod, std::uint32_t rate = 48000) {
    std::vector<float> buf(n, 12345.0f);  // poison: every sample must be written
    float* chans[1] = {buf.data()};
    player.process(chans, audio::Cycle{n, rate, frames, now});
    frames += n;
    now += std::int64_t{n} * kNs / rate;
    for (float v : buf) CHECK(v != 12345.0f);
    out.insert(out.end(), buf.begin(), buf.end());
    while (auto m = to_net.try_pop()) {
      REQUIRE(pool.release(m->record));
      ++returned;
    }
    if (const core::AudioStatus* s = status_box.take()) status = *s;
    // Net's part: packets came after each stall (a sender on its own
    // clock), unless a test says otherwise.
    if (hears_stalls && status.jack_stalls != model.stalls_heard) {
      model.stalls_heard = status.jack_stalls;
      model_box.publish(model);
    }
  }
  bool hears_stalls = true;
  // JACK stalls: its clock loses `ns` (the next cycle comes that much late,
  // its frame counter where it was).
  void stall(std::int64_t ns) { now += ns; }

  double delay_ms() const { return status.delay_frames / 48.0; }
  // Least instantaneous amplitude of the output's sine from `from` on:
  // a^2 = x^2 + (x' / w)^2, x' by the central difference.
  float min_amplitude(std::size_t from) const {
    const auto w2 = static_cast<float>(2 * std::sin(w));
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

// The largest step a 0.5 sine at kW makes between neighbouring samples.
const float kSineStep = static_cast<float>(0.5 * kW * 1.02);

// A sender in wall time: 20 ms packets, packet k (timestamp 960 k) arriving
// on time 20 ms after its first sample was captured, `late` later than
// that. JACK calls on time unless the rig stalls.
struct Sender {
  std::int64_t t0 = 10 * kNs;  // when position 0 was captured
  std::int64_t next = 0;       // the next packet's timestamp
  std::int64_t late = 0;       // the network's delay beyond on time
  std::int64_t on_time(std::int64_t ts) const {
    return t0 + 20 * kMs + static_cast<std::int64_t>(static_cast<double>(ts) * kNsPerFrame);
  }
  void send(Rig& rig) {
    for (; on_time(next) + late <= rig.now; next += kFrame) rig.link(next);
  }
  void run(Rig& rig, int calls) {
    run_late(rig, calls, [this] { return late; });
  }
  // The same, each packet `lateness()` later than on time (asked again for
  // every packet it decides on).
  template <class Late>
  void run_late(Rig& rig, int calls, Late lateness) {
    for (int i = 0; i < calls; ++i) {
      for (; on_time(next) + lateness() <= rig.now; next += kFrame) rig.link(next);
      rig.process();
    }
  }
  void begin(Rig& rig) { rig.stream(on_time(0)); }
};

}  // namespace

TEST_CASE("player: silent until the first record is due, then plays from the due position, contiguously") {
  Rig rig;
  Sender net;
  net.begin(rig);
  // Position 0 arrives at 10.02 s and is due 20 ms later.
  while (rig.now < net.on_time(0) + 20 * kMs - 3 * kMs) {
    net.send(rig);
    rig.process();
    CHECK(rig.player.state() == audio::Player::State::Buffering);
  }
  for (float v : rig.out) CHECK(v == 0.0f);
  net.run(rig, 4);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  const std::size_t start = rig.out.size() - 4 * kPeriod;
  net.run(rig, 400);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.status.gaps == 0);
  CHECK(rig.status.splices == 0);
  CHECK(rig.status.holds == 0);
  // After the fade-in and the converter's settling, the output is the
  // signal: a sine of amplitude 0.5 with no step larger than its own.
  const std::size_t settled = start + 4 * kPeriod;
  CHECK(rig.max_step(settled) <= kSineStep);
  float peak = 0;
  for (std::size_t i = settled; i < rig.out.size(); ++i) peak = std::max(peak, std::fabs(rig.out[i]));
  CHECK(peak == doctest::Approx(0.5).epsilon(0.01));
  CHECK(rig.max_step() <= kSineStep + 0.5f / 48);  // fade-in: a ramp, no step
  // Playout runs the target behind the on-time arrivals, to the frame: the
  // sample output at a cycle's start is the one that arrived 20 ms before.
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.002));
  const std::int64_t cycle = rig.now - std::int64_t{kPeriod} * kNs / 48000;  // the last cycle's start
  const double due = (static_cast<double>(cycle - net.on_time(0)) - 20e6) / kNsPerFrame;
  const std::size_t first = rig.out.size() - kPeriod;
  CHECK(std::fabs(rig.out[first] - rig.value(std::llround(due))) < 2 * kSineStep);
  CHECK(std::fabs(rig.status.drift_ppm) < 0.1);
}

TEST_CASE("player: a stream that ends fades out and is not an underrun") {
  Rig rig;
  Sender net;
  net.begin(rig);
  for (int k = 0; k < 5; ++k) rig.link(std::int64_t{k} * kFrame);
  while (rig.now < net.on_time(6 * kFrame)) rig.process();
  CHECK(rig.player.state() == audio::Player::State::Buffering);  // ran dry
  CHECK(rig.status.underruns == 0);
  // Faded out over the last samples: no step.
  CHECK(rig.max_step() <= kSineStep + 0.5f / 48);
  CHECK(std::fabs(rig.out.back()) < 1e-6f);
}

TEST_CASE("player: a record that comes after the buffer ran dry counts one underrun, and playout goes on where it is due") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 200);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  // The network holds everything for 50 ms: the buffer runs dry; then the
  // held packets come at once, and playout resumes where it is due.
  net.late = 50 * kMs;
  net.run(rig, 15);
  CHECK(rig.player.state() == audio::Player::State::Buffering);
  net.late = 0;
  net.run(rig, 100);
  CHECK(rig.status.underruns == 1);
  CHECK(rig.player.state() == audio::Player::State::Playing);
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.01));
}

TEST_CASE("player: a pause whose timestamps jump ahead is not an underrun") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 100);
  // The sender pauses 200 ms (DTX); its timestamps run on.
  const std::int64_t resume = net.next + 10 * kFrame;
  while (net.on_time(resume) > rig.now) rig.process();
  net.next = resume;
  net.run(rig, 100);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.status.splices == 0);
  CHECK(rig.player.state() == audio::Player::State::Playing);
}

TEST_CASE("player: a short pause in real time plays in full, though what follows it is queued already") {
  // A sender whose stream pauses 6.5 ms between two segments (GStreamer's
  // opusenc, as its input starts over): the packets after the pause come
  // 6.5 ms later too. At a 40 ms target, two of them are queued when
  // playout reaches the hole.
  Rig rig;
  Sender net;
  rig.stream(net.on_time(0), 1, 40 * 48);
  net.run(rig, 300);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  net.next += 312;
  net.run(rig, 300);
  CHECK(rig.status.gaps == 1);
  CHECK(rig.status.splices == 0);
  CHECK(rig.status.holds == 0);
  CHECK(rig.delay_ms() == doctest::Approx(40).epsilon(0.002));
}

TEST_CASE("player: a hole takes up at once an error the trim would take seconds over") {
  // Behind by a JACK stall of 1 ms (under a correction), then ahead by a
  // path 1 ms longer: each time the next pause in the stream plays that
  // much shorter, or longer, and playout is back at the target.
  Rig rig;
  Sender net;
  rig.stream(net.on_time(0), 1, 40 * 48);
  net.run(rig, 300);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  rig.stall(1 * kMs);
  net.run(rig, 100);
  CHECK(rig.status.jack_stalls == 1);
  CHECK(rig.status.splices == 0);
  CHECK(rig.delay_ms() == doctest::Approx(41).epsilon(0.005));
  net.next += 480;
  net.run(rig, 100);
  CHECK(rig.status.holes_shortened == 1);
  CHECK(rig.delay_ms() == doctest::Approx(40).epsilon(0.001));

  rig.model.ref_ns += 1 * kMs;
  rig.model_box.publish(rig.model);
  net.t0 += 1 * kMs;
  net.run(rig, 100);
  CHECK(rig.delay_ms() == doctest::Approx(39).epsilon(0.005));
  net.next += 480;
  net.run(rig, 100);
  CHECK(rig.status.holes_lengthened == 1);
  CHECK(rig.status.gaps == 2);
  CHECK(rig.status.splices == 0);
  CHECK(rig.status.holds == 0);
  CHECK(rig.delay_ms() == doctest::Approx(40).epsilon(0.001));
}

TEST_CASE("player: timestamps that jump while the packets go on: skipped once net's clock shows the step") {
  // The sender's timestamps jump 20 ms ahead; its packets keep their pace.
  // Net's clock confirms the step three packets later, after the hole
  // played: playout then skips the jump, spliced. Nothing is held first.
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 300);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  net.t0 -= 20 * kMs;
  net.next += kFrame;
  const std::int64_t confirmed = net.on_time(net.next + 3 * kFrame);
  while (rig.now < confirmed) net.run(rig, 1);
  CHECK(rig.status.gaps == 1);
  rig.stream(net.on_time(0));
  net.run(rig, 300);
  CHECK(rig.status.gaps == 1);
  CHECK(rig.status.splices == 1);
  CHECK(rig.status.holds == 0);
  CHECK(std::fabs(rig.delay_ms() - 20) < audio::PlayoutClock::kCorrectMs);
}

TEST_CASE("player: late records go home and are counted") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 100);
  const std::size_t before = rig.returned;
  rig.link(0);  // long played
  rig.process();
  CHECK(rig.status.records_late == 1);
  CHECK(rig.returned > before);
}

TEST_CASE("player: a new epoch flushes every record home and starts over on the new stream") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 100);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  // A restart: epoch 2, a new timeline from 0, arriving from now on.
  Sender second;
  second.t0 = rig.now;
  rig.stream(second.on_time(0), 2);
  rig.process();
  CHECK(rig.player.state() == audio::Player::State::Buffering);
  CHECK(rig.returned == net.next / kFrame);  // every record of epoch 1 came home
  second.run(rig, 100);
  CHECK(rig.player.state() == audio::Player::State::Playing);
  CHECK(rig.status.epoch == 2);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.002));
}

TEST_CASE("player: a hole in the timeline plays as faded silence") {
  Rig rig;
  Sender net;
  net.begin(rig);
  // Packets 0-4 and 6-9, queued ahead: a hole where 5 would be that
  // nothing fills.
  for (int k = 0; k < 10; ++k)
    if (k != 5) rig.link(std::int64_t{k} * kFrame);
  net.next = 10 * kFrame;
  net.run(rig, 100);
  CHECK(rig.status.gaps == 1);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.max_step() <= kSineStep + 0.5f / 48);
}

TEST_CASE("player: a JACK rate change while playing goes on playing, at the new rate") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 100);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  for (int i = 0; i < 400; ++i) {
    net.send(rig);
    rig.process(kPeriod, 44100);
  }
  float peak_after = 0;
  for (std::size_t i = rig.out.size() - 2000; i < rig.out.size(); ++i)
    peak_after = std::max(peak_after, std::fabs(rig.out[i]));
  CHECK(peak_after > 0.4f);
  CHECK(rig.status.jack_rate == 44100);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.1));
}

namespace {
// After one splice: back at `target_ms` to within half the tone's period
// (the splice lands where the waveforms match; the trim plays the rest
// away), and spliced in phase from `from` on: no step, and the sine's
// amplitude holds through the crossfade.
void check_spliced_in_phase(const Rig& rig, std::size_t from, double target_ms) {
  CHECK(std::fabs(rig.delay_ms() - target_ms) <= 100 / 2 / 48.0 + 0.05);
  CHECK(rig.max_step(from) <= kSineStep * 1.1f);
  CHECK(rig.min_amplitude(from) > 0.45f);
}
}  // namespace

TEST_CASE("player: a JACK stall's backlog is spliced away in one decision, in phase") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 400);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  // The server stalls 20 ms while the network goes on.
  rig.stall(20 * kMs);
  const std::size_t from = rig.out.size();
  net.run(rig, 400);
  CHECK(rig.status.jack_stalls == 1);
  CHECK(rig.status.splices == 1);
  CHECK(rig.status.holds == 0);
  CHECK(rig.status.underruns == 0);
  check_spliced_in_phase(rig, from, 20);
  // The drift estimate never saw it.
  CHECK(std::fabs(rig.status.drift_ppm) < 0.1);
}

namespace {
// The phase (radians) of a sine of `w` radians per sample in out[from, from
// + n), by a least-squares fit of a cos + b sin with t counted from `from`.
double phase_at(const std::vector<float>& out, std::size_t from, std::size_t n, double w) {
  double cc = 0, ss = 0, cs = 0, xc = 0, xs = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double c = std::cos(w * static_cast<double>(i)), s = std::sin(w * static_cast<double>(i));
    cc += c * c;
    ss += s * s;
    cs += c * s;
    xc += out[from + i] * c;
    xs += out[from + i] * s;
  }
  const double det = cc * ss - cs * cs;
  const double a = (xc * ss - xs * cs) / det, b = (xs * cc - xc * cs) / det;
  return std::atan2(a, b);  // x = A sin(w t + phase)
}
}  // namespace

TEST_CASE("player: net times its deadlines by a stall's new schedule before JACK's clock confirms the step") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 400);
  const std::int64_t on_schedule = rig.now;
  rig.stall(20 * kMs);
  net.run(rig, 1);
  // The first cycle after the stall: too few to confirm a step, so JACK's
  // clock still puts it on the old schedule; the schedule is the new one.
  CHECK(rig.status.jack_stalls == 0);
  CHECK(std::llabs(rig.status.cycle_ns - on_schedule) < 20'000);
  CHECK(std::llabs(rig.status.schedule_ns - (on_schedule + 20 * kMs)) < 20'000);
  net.run(rig, 10);
  CHECK(rig.status.jack_stalls == 1);
  CHECK(rig.status.schedule_ns == rig.status.cycle_ns);
  CHECK(std::llabs(rig.status.cycle_ns - (rig.now - std::int64_t{kPeriod} * kNs / 48000)) < 20'000);
}

TEST_CASE("player: a splice lands between samples where the waveforms match: the tone's phase goes on") {
  // A tone whose period is no whole number of frames: a splice at the
  // nearest whole frame would leave up to half a frame of phase (0.029 rad
  // at 440 Hz); the resampler's warp takes it the rest of the way.
  for (const double stall_ms : {10.0, 13.3, 17.71, 26.2}) {
    Rig rig;
    rig.w = 2 * M_PI * 441.37 / 48000;
    Sender net;
    net.begin(rig);
    net.run(rig, 400);
    REQUIRE(rig.player.state() == audio::Player::State::Playing);
    const std::size_t before = rig.out.size() - 480;  // the last 10 ms before the stall
    rig.stall(static_cast<std::int64_t>(stall_ms * 1e6));
    net.run(rig, 100);
    REQUIRE(rig.status.splices == 1);
    // The output's phase 10 ms before and 100 ms after: the tone at its own
    // pitch in between, whatever the splice skipped.
    const std::size_t after = before + 480 + 4800;
    const double expected = std::remainder(
        phase_at(rig.out, before, 480, rig.w) + rig.w * static_cast<double>(after - before), 2 * M_PI);
    const double jump = std::remainder(phase_at(rig.out, after, 480, rig.w) - expected, 2 * M_PI);
    CAPTURE(stall_ms);
    CHECK(std::fabs(jump) < 0.004);
    CHECK(rig.max_step(before) <= kSineStep * 1.1f);
  }
}

TEST_CASE("player: the trim after a splice early in a stream ramps in gently: no kink in the tone's phase") {
  // While playout settles, what a splice leaves (up to half the tone's
  // period) is trimmed at up to 200 ppm. The pitch ramps there: a ramp
  // puts each 10 ms block's phase advance off the median of the last half
  // second by the ramp's slope times a quarter of a second, and
  // tests/tools/tone_judge sums two blocks. It must stay within what a
  // splice leaves (4 mrad, above), or a codec's own phase wander on top of
  // it reads as a glitch.
  testtools::JudgeOptions judge;
  judge.from_s = 0.3;
  judge.limits.max_pitch_ppm = std::nullopt;
  for (double stall_ms = 6; stall_ms < 16; stall_ms += 0.73) {
    Rig rig;
    rig.w = 2 * M_PI * 440 / 48000;
    Sender net;
    net.begin(rig);
    net.run(rig, 375);  // 1 s
    rig.stall(static_cast<std::int64_t>(stall_ms * 1e6));
    net.run(rig, 750);
    REQUIRE(rig.status.splices == 1);
    double worst = 0;
    for (const auto& b : testtools::JudgeChannel(rig.out, 48000, judge).blocks)
      if (b.judged && !std::isnan(b.phase_step_rad)) worst = std::max(worst, std::fabs(b.phase_step_rad));
    CAPTURE(stall_ms);
    CHECK(worst < 0.004);
  }
}

TEST_CASE("player: a JACK stall's backlog under a sender sending in bursts is spliced at once, not started over") {
  // ffmpeg -re sends 21 ms of audio at a time: its newest packets are
  // always some ms late against their floor, here 22 to 30 ms, more than a
  // packet, and a skip never finds the target's worth beyond where it
  // lands. What is queued beyond it is what it was before the stall,
  // though: the backlog is spliced away at once, and not started over.
  Rig rig;
  Sender net;
  const auto bursty = [&](int calls) {
    net.run_late(rig, calls, [&] { return 22 * kMs + (rig.now % (20 * kMs)) * 4 / 10; });
  };
  rig.stream(net.on_time(0), 1, 60 * 48);
  bursty(400);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  rig.stall(20 * kMs);
  const std::size_t from = rig.out.size();
  bursty(94);  // 250 ms
  CHECK(rig.status.splices == 1);
  bursty(375 * 7);  // beyond the wait for the sender's clock
  CHECK(rig.status.splices == 1);
  CHECK(rig.status.restarts == 0);
  CHECK(rig.status.underruns == 0);
  check_spliced_in_phase(rig, from, 60);
}

TEST_CASE("player: a skip waits while net suspects the sender stalled with JACK, kSkipQuietS at most") {
  // A sender in the same graph, before net measures it on JACK's
  // timeline: after a short stall its packets come late by as much on the
  // system's timeline (net says so, StreamModel::stall_shared), and the
  // skip the system's timeline asks for would be played again once net
  // tells. So the skip waits; without net's word it goes ahead after
  // kSkipQuietS.
  for (const bool verdict : {true, false}) {
    CAPTURE(verdict);
    Rig rig;
    Sender net;
    rig.stream(net.on_time(0), 1, 30 * 48);
    net.run(rig, 400);
    REQUIRE(rig.player.state() == audio::Player::State::Playing);
    rig.hears_stalls = false;
    rig.stall(3 * kMs);
    net.run(rig, 10);
    REQUIRE(rig.status.jack_stalls == 1);
    rig.model.stalls_heard = 1;
    rig.model.stall_shared = true;
    rig.model_box.publish(rig.model);
    net.run(rig, 100);  // 0.27 s after the stall
    CHECK(rig.status.splices == 0);
    if (verdict) {
      // Net's verdict: the sender stalled too (on JACK's timeline it did
      // not move; on the system's its packets now come 3 ms later).
      rig.model.stall_shared = false;
      rig.model.ref_ns += 3 * kMs;
      rig.model_box.publish(rig.model);
    }
    net.run(rig, 200);
    CHECK(rig.status.splices == (verdict ? 0 : 1));
    CHECK(rig.status.restarts == 0);
  }
}

TEST_CASE("player: under network jitter a small JACK stall's backlog is spliced at once") {
  // Packets 0 to 16 ms late at random: the peaks of what is queued spread
  // that wide, and a skip of 3 ms need not wait for the earliest of them
  // to come again.
  Rig rig;
  Sender net;
  std::uint32_t seed = 12345;
  const auto jittery = [&](int calls) {
    net.run_late(rig, calls, [&] {
      seed = seed * 1664525u + 1013904223u;
      return static_cast<std::int64_t>(seed >> 8) % (16 * kMs);
    });
  };
  rig.stream(net.on_time(0), 1, 40 * 48);
  jittery(400);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  rig.stall(3 * kMs);
  const std::size_t from = rig.out.size();
  // JACK's step is confirmed, and quiet for 60 ms, within about 35
  // cycles; waiting for the earliest peak again takes 80 to 200 here.
  jittery(50);
  CHECK(rig.status.jack_stalls == 1);
  CHECK(rig.status.splices == 1);
  jittery(94);
  CHECK(rig.status.splices == 1);
  CHECK(rig.status.underruns == 0);
  check_spliced_in_phase(rig, from, 40);
}

TEST_CASE("player: a stall the sender shared (its clock stepped too) skips nothing") {
  // Stalls shorter than a packet too: right after a packet arrives, the
  // target's worth and more is queued beyond the due position, but less
  // than before the stall.
  for (const double stall_ms : {3.0, 5.0, 10.0, 20.0, 45.0}) {
    CAPTURE(stall_ms);
    Rig rig;
    Sender net;
    net.begin(rig);
    net.run(rig, 400);
    // A sender in the same JACK graph stalls with the server: its packets
    // come that much later from now on, and its clock shows that step (net
    // confirms a step of a sender's clock after 2 s).
    const auto stall = static_cast<std::int64_t>(stall_ms * 1e6);
    rig.stall(stall);
    net.t0 += stall;
    net.run(rig, 375);  // 1 s: the JACK step is seen, the sender's not yet
    CHECK(rig.status.jack_stalls == 1);
    CHECK(rig.status.splices == 0);
    rig.stream(net.on_time(0));  // net's model confirms the sender's step
    net.run(rig, 400);
    CHECK(rig.status.splices == 0);
    CHECK(rig.status.holds == 0);
    CHECK(rig.status.restarts == 0);
    CHECK(rig.status.underruns == 0);
    CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.01));
  }
}

TEST_CASE("player: a sender measured on JACK's timeline stalls with the server: nothing to correct") {
  Rig rig;
  Sender net;  // on JACK's timeline, which begins at the first cycle's start
  rig.model.jack_timeline = true;
  net.begin(rig);
  const std::int64_t origin = rig.now;
  const auto run = [&](int calls) {
    for (int i = 0; i < calls; ++i) {
      const auto timeline = origin + static_cast<std::int64_t>(static_cast<double>(rig.frames) * kNsPerFrame);
      for (; net.on_time(net.next) <= timeline; net.next += kFrame) rig.link(net.next);
      rig.process();
    }
  };
  run(400);
  REQUIRE(rig.player.state() == audio::Player::State::Playing);
  const std::size_t from = rig.out.size() - 1;
  // Stalls from below JACK's step threshold to a storm's worth.
  for (const double ms : {0.2, 1.0, 3.0, 7.5, 40.0}) {
    rig.stall(static_cast<std::int64_t>(ms * 1e6));
    run(300);
  }
  CHECK(rig.status.jack_stalls >= 4);
  // The timeline is the frame counter, whatever JACK lost.
  CHECK(rig.status.cycle_jack_ns ==
        origin + std::llround(static_cast<double>(rig.frames - kPeriod) * kNsPerFrame));
  CHECK(rig.status.splices == 0);
  CHECK(rig.status.holds == 0);
  CHECK(rig.status.restarts == 0);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.001));
  CHECK(std::fabs(rig.status.drift_ppm) < 0.1);
  CHECK(rig.max_step(from) <= kSineStep * 1.1f);
}

TEST_CASE("player: JACK's timeline goes on across a new JACK client") {
  audio::PlayoutClock clock;
  std::int64_t t = 10 * kNs;
  for (std::int64_t f = 0; f < 128 * 100; f += 128, t += 128 * kNs / 48000) clock.on_cycle(f, t, 48000);
  const std::int64_t last = clock.cycle_jack_ns();
  const std::int64_t last_ns = clock.cycle_ns();
  // The server restarts 2 s later with a frame counter of its own.
  clock.reset_jack();
  t += 2 * kNs;
  clock.on_cycle(777'777, t, 48000);
  CHECK(std::llabs(clock.cycle_jack_ns() - (last + (clock.cycle_ns() - last_ns))) < 1000);
  clock.on_cycle(777'777 + 128, t + 128 * kNs / 48000, 48000);
  CHECK(std::llabs(clock.cycle_jack_ns() - (last + (clock.cycle_ns() - last_ns))) < 1000);
}

TEST_CASE("player: a path that got longer for good: what played plays again, spliced in phase") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 400);
  // From now on every packet comes 10 ms later; net's model says so.
  net.late = 10 * kMs;
  rig.model.ref_ns += 10 * kMs;
  rig.model_box.publish(rig.model);
  const std::size_t from = rig.out.size();
  net.run(rig, 400);
  CHECK(rig.status.splices == 1);
  CHECK(rig.status.holds == 0);
  CHECK(rig.status.underruns == 0);
  check_spliced_in_phase(rig, from, 20);
}

TEST_CASE("player: a path longer by more than what is kept of the played audio is a hold of silence") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 400);
  net.late = 60 * kMs;
  rig.model.ref_ns += 60 * kMs;
  rig.model_box.publish(rig.model);
  net.run(rig, 400);
  CHECK(rig.status.holds == 1);
  CHECK(rig.status.splices == 0);
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.01));
}

TEST_CASE("player: loss and concealment do not move playout") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 200);
  // Every third packet is lost and net links concealment in its place a
  // little before it is due.
  for (int i = 0; i < 800; ++i) {
    for (; net.on_time(net.next) <= rig.now; net.next += kFrame) {
      if ((net.next / kFrame) % 3 == 0)
        rig.link(net.next, kFrame, core::PacketRecord::Kind::Concealed);
      else
        rig.link(net.next);
    }
    rig.process();
  }
  CHECK(rig.status.splices == 0);
  CHECK(rig.status.holds == 0);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.002));
  CHECK(std::fabs(rig.status.ratio_ppm) < 1);
}

TEST_CASE("player: a sender 1000 ppm fast is played 1000 ppm fast, at the target") {
  Rig rig;
  Sender net;
  net.begin(rig);
  rig.model.ns_per_frame = kNsPerFrame / 1.001;  // net measured the sender's clock so
  rig.model_box.publish(rig.model);
  // Its packets come 1000 ppm early on JACK's clock.
  const auto on_time = [&](std::int64_t ts) {
    return net.t0 + 20 * kMs + static_cast<std::int64_t>(static_cast<double>(ts) * kNsPerFrame / 1.001);
  };
  for (int i = 0; i < 375 * 20; ++i) {
    for (; on_time(net.next) <= rig.now; net.next += kFrame) rig.link(net.next);
    rig.process();
  }
  CHECK(rig.status.drift_ppm == doctest::Approx(1000).epsilon(0.001));
  CHECK(rig.status.ratio_ppm == doctest::Approx(1000).epsilon(0.01));
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.002));
  CHECK(rig.status.splices == 0);
  CHECK(rig.status.underruns == 0);
}

TEST_CASE("player: a long stall with nothing due queued starts playout over where it is due") {
  Rig rig;
  Sender net;
  net.begin(rig);
  net.run(rig, 100);
  // JACK stops for 2 s; the records of that time never came (the pool ran
  // dry), only the newest.
  rig.stall(2 * kNs);
  net.next = (rig.now - net.t0) / 20 / kMs * kFrame - 2 * kFrame;
  net.run(rig, 100);
  CHECK(rig.player.state() == audio::Player::State::Playing);
  CHECK(rig.status.underruns == 0);
  CHECK(rig.delay_ms() == doctest::Approx(20).epsilon(0.01));
}

TEST_CASE("player: a decoded record replaces concealment at its place until that begins to play") {
  using Kind = core::PacketRecord::Kind;
  Rig rig;
  Sender net;
  net.begin(rig);
  for (int k = 0; k < 3; ++k) rig.link(std::int64_t{k} * kFrame);
  while (rig.player.state() != audio::Player::State::Playing) rig.process();
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
  CHECK(rig.status.records_duplicate == 1);
  // Play into the concealment at 4 * kFrame; the packet that comes after
  // it has begun is late, and the concealment plays on.
  std::size_t began = rig.out.size();  // the concealment begins in the call that starts here
  while (rig.status.cursor <= 4 * kFrame) {
    began = rig.out.size();
    rig.process();
  }
  rig.link(4 * kFrame);
  rig.link(5 * kFrame);
  rig.link(6 * kFrame);
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
  const std::size_t converter = 24;  // the resampler's delay and a render chunk
  CHECK(step(start + 64, began) <= kSineStep);
  CHECK(step(began, began + kPeriod + converter) > 0.1f);
}
