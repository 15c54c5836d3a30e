// The stream format's way from net to audio and back (the swap pattern):
// net::StreamReceiver::set_format and audio::Player::install, through the
// real queues, mailboxes, pool and both contexts' code, on a simulated
// clock.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "audio/player.hpp"
#include "core/mailbox.hpp"
#include "core/messages.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/stream_receiver.hpp"

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::size_t kRecords = 512;
using Encoding = net::PayloadFormat::Encoding;

// An L24 sender: every channel a constant, channel c at (c + 1) / 8, so
// that each port shows which channel it plays.
struct Sender {
  std::uint8_t pt = 96;
  std::uint32_t ssrc = 0x5eed0001;
  std::uint16_t seq = 1;
  std::uint32_t ts = 0;
  std::uint32_t rate = 48000;
  int channels = 2;
  std::vector<std::uint8_t> next() {  // 1 ms
    const std::uint32_t frames = rate / 1000;
    std::vector<std::uint8_t> p = {0x80, pt, static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq)};
    for (int b = 3; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(ts >> (8 * b)));
    for (int b = 3; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(ssrc >> (8 * b)));
    for (std::uint32_t i = 0; i < frames; ++i)
      for (int c = 0; c < channels; ++c) {
        const std::int32_t v = (c + 1) * (1 << 20);  // (c + 1) / 8 of full scale
        for (int b = 2; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
      }
    ++seq;
    ts += frames;
    return p;
  }
};

// Net and audio on one simulated clock: a packet every millisecond, a JACK
// cycle of 128 frames at 48 kHz when due, net's timer when due.
struct Loop {
  core::RecordPool pool{kRecords};
  core::SpscQueue<core::Message> to_audio{kRecords + core::defaults::kMaxFormatsOut};
  core::SpscQueue<core::Message> to_net{kRecords + core::defaults::kMaxFormatsOut};
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  net::PayloadFormat first{Encoding::L24, 48000, 2};
  net::StreamReceiver rx{{2, -1, {false, 960, 0, 12000, 48000}, true, first}, pool, to_audio, to_net, model, status};
  audio::Player player{{net::stream_format(first, 2), kRecords}, to_audio, to_net, model, status};
  std::int64_t now = 1000 * kMs;
  std::int64_t next_cycle = now;
  std::int64_t jack_frames = 0;
  std::vector<float> left, right;  // the ports, the latest cycle
  float step_left = 0, step_right = 0;  // the largest step between neighbouring samples so far
  float last_left = 0, last_right = 0;
  core::AudioStatus seen;

  void cycle() {
    left.assign(128, 9.0f);
    right.assign(128, 9.0f);
    float* out[2] = {left.data(), right.data()};
    player.process(out, audio::Cycle{128, 48000, jack_frames, next_cycle});
    for (std::size_t i = 0; i < 128; ++i) {
      step_left = std::max(step_left, std::fabs(left[i] - last_left));
      step_right = std::max(step_right, std::fabs(right[i] - last_right));
      last_left = left[i];
      last_right = right[i];
    }
    jack_frames += 128;
    next_cycle += 128 * 1'000'000'000LL / 48000;
    if (const core::AudioStatus* s = status.take()) seen = *s;
    status.publish(seen);  // for net too
  }
  // `ms` milliseconds, a packet of `sender` each (none: nullptr).
  void run(int ms, Sender* sender) {
    for (int i = 0; i < ms; ++i) {
      now += kMs;
      if (sender != nullptr) rx.on_datagram(sender->next(), now, now);
      rx.drain_audio();
      while (rx.next_deadline() <= now) rx.on_timer(now);
      while (next_cycle <= now) cycle();
      rx.drain_audio();
    }
  }
};

}  // namespace

TEST_CASE("format swap: audio installs the new format before its stream's records; the old comes home to net") {
  Loop loop;
  Sender a;  // L24/48000/2
  loop.run(1500, &a);
  REQUIRE(loop.seen.playing);
  CHECK(loop.seen.stream_rate == 48000);
  CHECK(loop.left[100] == doctest::Approx(0.125).epsilon(0.01));
  CHECK(loop.right[100] == doctest::Approx(0.25).epsilon(0.01));
  CHECK(loop.rx.formats_away() == 0);  // audio plays the format it was built with

  // A re-announcement: mono L24 at 96 kHz, payload type 97, another sender.
  loop.rx.set_format({Encoding::L24, 96000, 1}, 97);
  CHECK(loop.rx.formats_away() == 1);
  CHECK(loop.rx.rate() == 96000);
  CHECK(loop.rx.stats().net.packet_frames == 0);  // the 48 kHz packets' length is not this stream's
  Sender b;
  b.pt = 97;
  b.ssrc = 0x5eed0002;
  b.rate = 96000;
  b.channels = 1;
  loop.run(1500, &b);
  CHECK(loop.seen.formats == 1);
  CHECK(loop.seen.stream_rate == 96000);
  REQUIRE(loop.seen.playing);
  // Mono on both ports, at its level, resampled from 96 kHz.
  CHECK(loop.left[100] == doctest::Approx(0.125).epsilon(0.01));
  CHECK(loop.right[100] == doctest::Approx(0.125).epsilon(0.01));
  const net::StatsSnapshot s = loop.rx.stats();
  CHECK(s.net.stream_rate == 96000);
  CHECK(s.net.packet_frames == 96);
  CHECK(s.net.packets_invalid == 0);

  // Back to stereo at 44.1 kHz: audio installs it and sends the 96 kHz one
  // home, where net destroys it.
  loop.rx.set_format({Encoding::L24, 44100, 2}, 96);
  CHECK(loop.rx.formats_away() == 2);
  Sender c;
  c.ssrc = 0x5eed0003;
  c.rate = 44100;
  loop.run(1500, &c);
  CHECK(loop.seen.formats == 2);
  CHECK(loop.seen.stream_rate == 44100);
  CHECK(loop.rx.formats_away() == 1);
  REQUIRE(loop.seen.playing);
  CHECK(loop.left[100] == doctest::Approx(0.125).epsilon(0.01));
  CHECK(loop.right[100] == doctest::Approx(0.25).epsilon(0.01));
  // Every start and every swap faded (1 ms: 48 JACK frames), never a step:
  // the old format's audio fades out before the new one is installed.
  CHECK(loop.step_left < 0.125f / 48 * 2);  // (the resampler sharpens a ramp's corners a little)
  CHECK(loop.step_right < 0.25f / 48 * 2);
}

TEST_CASE("format swap: while audio takes none, the latest format waits in net and the stream is dropped") {
  Loop loop;
  for (std::size_t k = 0; k < core::defaults::kMaxFormatsOut + 2; ++k)
    loop.rx.set_format({Encoding::L16, k % 2 ? 44100u : 96000u, 2}, 96);
  CHECK(loop.rx.formats_away() == core::defaults::kMaxFormatsOut);
  Sender s;
  loop.rx.on_datagram(s.next(), loop.now, loop.now);
  CHECK(loop.rx.stats().net.queue_full == 1);
  // Audio runs again: it installs all it was sent, the last one last, and
  // sends the rest home; net then sends the one that waited.
  loop.cycle();
  CHECK(loop.seen.formats == core::defaults::kMaxFormatsOut);
  loop.rx.drain_audio();
  CHECK(loop.rx.formats_away() == 2);
  loop.cycle();
  loop.rx.drain_audio();
  CHECK(loop.seen.formats == core::defaults::kMaxFormatsOut + 1);
  CHECK(loop.seen.stream_rate == 44100);  // the latest
  CHECK(loop.rx.formats_away() == 1);
}
