#include "net/pcm_payload.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "net/payload_format.hpp"

namespace {

// Big-endian samples, `bytes` each, frames of `channels`.
std::vector<std::uint8_t> pack(const std::vector<std::int32_t>& samples, int bytes) {
  std::vector<std::uint8_t> out;
  for (const std::int32_t v : samples)
    for (int b = bytes - 1; b >= 0; --b) out.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
  return out;
}

}  // namespace

TEST_CASE("pcm: L16 and L24 decode exactly, big-endian two's complement") {
  net::PcmPayload l16(2, 2, 2, 48000);
  const auto p16 = pack({0, 16384, -32768, 32767}, 2);
  float pcm[4] = {};
  REQUIRE(l16.decode(p16, pcm, 2) == 2);
  CHECK(pcm[0] == 0.0f);
  CHECK(pcm[1] == 0.5f);
  CHECK(pcm[2] == -1.0f);
  CHECK(pcm[3] == 32767.0f / 32768.0f);
  net::PcmPayload l24(3, 1, 1, 48000);
  const auto p24 = pack({1, -1, 4194304, -8388608}, 3);
  float mono[4] = {};
  REQUIRE(l24.decode(p24, mono, 4) == 4);
  CHECK(mono[0] == 1.0f / 8388608.0f);  // the least significant bit survives
  CHECK(mono[1] == -1.0f / 8388608.0f);
  CHECK(mono[2] == 0.5f);
  CHECK(mono[3] == -1.0f);
}

TEST_CASE("pcm: a payload that is not whole frames, or is empty, is malformed") {
  const net::PcmPayload l24(3, 2, 2, 48000);
  CHECK(l24.frames_in(std::vector<std::uint8_t>(288)) == 48);  // AES67: 1 ms of stereo L24
  CHECK(l24.frames_in(std::vector<std::uint8_t>(287)) < 0);
  CHECK(l24.frames_in(std::vector<std::uint8_t>{}) < 0);
  net::PcmPayload l16(2, 1, 2, 48000);
  float pcm[8] = {};
  CHECK(l16.decode(std::vector<std::uint8_t>(3), pcm, 4) < 0);
  CHECK(l16.decode(std::vector<std::uint8_t>(10), pcm, 4) < 0);  // more frames than room
}

TEST_CASE("pcm: channels map onto the outputs: the first ones, and mono to all") {
  net::PcmPayload eight(3, 8, 2, 48000);
  std::vector<std::int32_t> frame;
  for (int c = 0; c < 8; ++c) frame.push_back((c + 1) * 100000);
  float pcm[2] = {};
  REQUIRE(eight.decode(pack(frame, 3), pcm, 1) == 1);
  CHECK(pcm[0] == 100000.0f / 8388608.0f);
  CHECK(pcm[1] == 200000.0f / 8388608.0f);
  net::PcmPayload mono(2, 1, 2, 48000);
  REQUIRE(mono.decode(pack({8192}, 2), pcm, 1) == 1);
  CHECK(pcm[0] == 0.25f);
  CHECK(pcm[1] == 0.25f);
}

TEST_CASE("pcm: concealment ramps from the last sample to silence, never a step; restore brings the ramp back") {
  net::PcmPayload l16(2, 1, 1, 48000);
  float pcm[96] = {};
  REQUIRE(l16.decode(pack({16384, 16384}, 2), pcm, 2) == 2);
  l16.save();
  float gap[96] = {};
  REQUIRE(l16.conceal(gap, 96) == 96);
  float prev = 0.5f;
  for (int i = 0; i < 96; ++i) {
    CHECK(std::fabs(gap[i] - prev) <= 0.5f / 48 + 1e-6f);  // a ramp over 1 ms, no step
    prev = gap[i];
  }
  CHECK(gap[95] == 0.0f);
  float again[4] = {};
  REQUIRE(l16.conceal(again, 4) == 4);
  CHECK(again[0] == 0.0f);
  l16.restore();
  REQUIRE(l16.conceal(again, 1) == 1);
  CHECK(again[0] == doctest::Approx(0.5f));
}

TEST_CASE("pcm: the formats --format and SDP name, and their decoders") {
  net::PayloadFormat f;
  CHECK(net::parse_payload_format("L24/48000/8", f).empty());
  CHECK(f.encoding == net::PayloadFormat::Encoding::L24);
  CHECK(f.channels == 8);
  CHECK(f.name() == "L24/48000/8");
  CHECK(f.min_packet_ms() == 1.0);
  CHECK(net::parse_payload_format("l16/48000", f).empty());
  CHECK(f.channels == 1);  // RFC 8866 section 6.6: one channel unless given
  CHECK(net::parse_payload_format("opus", f).empty());
  CHECK(f.name() == "opus/48000/2");
  CHECK_FALSE(net::parse_payload_format("PCMU/8000", f).empty());
  CHECK_FALSE(net::parse_payload_format("L24/x", f).empty());
  CHECK_FALSE(net::parse_payload_format("opus/48000/1", f).empty());
  net::PayloadFormat l24{net::PayloadFormat::Encoding::L24, 48000, 2};
  const auto d = net::make_payload_decoder(l24, 2);
  CHECK(d->frames_in(std::vector<std::uint8_t>(288)) == 48);
  CHECK(d->wants_repetition({}));
  CHECK_FALSE(d->carries_previous(std::vector<std::uint8_t>(288)));
}

// ---- Through the stream receiver: AES67's 1 ms L24 packets -------------

#include "core/mailbox.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/stream_receiver.hpp"

namespace {

constexpr std::int64_t kMsNs = 1'000'000;

// A stereo 440 Hz tone at 0.5 in L24 packets of 48 frames.
struct L24Sender {
  std::uint16_t seq = 100;
  std::uint32_t ts = 0;
  static double tone(std::int64_t i) { return 0.5 * std::sin(2 * M_PI * 440.0 * static_cast<double>(i) / 48000); }
  std::vector<std::uint8_t> next() {
    std::vector<std::uint8_t> p = {0x80, 96, static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq)};
    for (int b = 3; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(ts >> (8 * b)));
    for (int b = 3; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(0x5eed0001u >> (8 * b)));
    for (std::uint32_t i = 0; i < 48; ++i) {
      const auto v = static_cast<std::int32_t>(std::lround(tone(ts + i) * 8388607.0));
      for (int c = 0; c < 2; ++c)
        for (int b = 2; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
    }
    ++seq;
    ts += 48;
    return p;
  }
};

}  // namespace

TEST_CASE("pcm: L24 through the receiver is the sent samples, and a lost 5 ms is a repetition at full level, counted") {
  core::RecordPool pool{512};
  core::SpscQueue<core::Message> to_audio{600}, from_audio{600};
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  net::PayloadFormat l24{net::PayloadFormat::Encoding::L24, 48000, 2};
  net::StreamReceiver rx{{2, -1, {}, false, l24}, pool, to_audio, from_audio, model, status};
  std::vector<float> out;  // left channel, by stream position
  std::vector<core::PacketRecord::Kind> kinds;
  auto collect = [&] {
    while (auto m = to_audio.try_pop()) {
      const core::PacketRecord* r = m->record;
      REQUIRE(r->timestamp == static_cast<std::int64_t>(out.size()));  // contiguous
      for (std::uint32_t i = 0; i < r->frames; ++i) {
        out.push_back(r->pcm[2 * i]);
        kinds.push_back(r->kind);
      }
      REQUIRE(from_audio.try_push(*m));
    }
    rx.drain_audio();
  };
  L24Sender s;
  std::int64_t now = 1'000'000 * kMsNs;
  for (int i = 0; i < 200; ++i) {
    now += kMsNs;
    const auto p = s.next();
    if (i >= 150 && i < 155) continue;  // 5 packets lost
    rx.on_datagram(p, now, now);
    collect();
    // No audio plays: a gap waits for the target (20 ms) after its successor came.
    while (rx.next_deadline() <= now) {
      rx.on_timer(now);
      collect();
    }
  }
  for (int k = 0; k < 40; ++k) {
    now += kMsNs;
    while (rx.next_deadline() <= now) {
      rx.on_timer(now);
      collect();
    }
  }
  REQUIRE(out.size() >= 9600);
  double worst_clean = 0, worst_gap = 0;
  // The gap is 7200-7440; the 5 ms after it fade in from the repetition.
  for (std::size_t i = 0; i < 9600; ++i) {
    const double err = std::fabs(out[i] - L24Sender::tone(static_cast<std::int64_t>(i)));
    if (i < 7200 || i >= 7680) {
      CHECK(kinds[i] == core::PacketRecord::Kind::Decoded);
      worst_clean = std::max(worst_clean, err);
    } else {
      worst_gap = std::max(worst_gap, err);
    }
  }
  CHECK(worst_clean < 1.0 / 8388607.0);  // what was sent, to the last bit
  CHECK(worst_gap < 0.01);               // the tone continued in phase at its level (-34 dB)
  const net::NetStats st = rx.stats().net;
  CHECK(st.packets_lost == 5);
  CHECK(st.packets_concealed >= 1);
  CHECK(st.packets_invalid == 0);
  CHECK(st.packet_frames == 48);
}

TEST_CASE("pcm: eight L24 channels through the receiver, each its own; a packet longer than a record holds is invalid") {
  core::RecordPool pool{64};
  core::SpscQueue<core::Message> to_audio{80}, from_audio{80};
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  net::PayloadFormat l24{net::PayloadFormat::Encoding::L24, 48000, 8};
  net::StreamReceiver rx{{8, -1, {}, false, l24}, pool, to_audio, from_audio, model, status};
  std::uint16_t seq = 1;
  std::uint32_t ts = 0;
  // Channel c carries (c + 1) / 16 throughout: 24-bit exact.
  auto packet = [&](std::uint32_t frames) {
    std::vector<std::uint8_t> p = {0x80, 96, static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq)};
    for (int b = 3; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(ts >> (8 * b)));
    for (int b = 3; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(0x5eed0008u >> (8 * b)));
    for (std::uint32_t i = 0; i < frames; ++i)
      for (int c = 0; c < 8; ++c) {
        const std::int32_t v = (c + 1) * (1 << 19);
        for (int b = 2; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
      }
    ++seq;
    ts += frames;
    return p;
  };
  std::int64_t now = 1'000'000 * kMsNs;
  std::uint32_t frames_out = 0;
  for (int i = 0; i < 10; ++i) {
    now += kMsNs;
    rx.on_datagram(packet(48), now, now);
    while (auto m = to_audio.try_pop()) {
      const core::PacketRecord* r = m->record;
      for (std::uint32_t k = 0; k < r->frames; ++k)
        for (int c = 0; c < 8; ++c) REQUIRE(r->pcm[k * 8 + c] == static_cast<float>(c + 1) / 16);
      frames_out += r->frames;
      REQUIRE(from_audio.try_push(*m));
    }
    rx.drain_audio();
  }
  CHECK(frames_out == 480);
  CHECK(rx.stats().net.packets_invalid == 0);
  // 1441 frames of 8 channels (34.6 kB: a datagram may be that large) do
  // not fit a record; 1440 do.
  now += kMsNs;
  rx.on_datagram(packet(1441), now, now);
  CHECK(rx.stats().net.packets_invalid == 1);
  now += kMsNs;
  rx.on_datagram(packet(1440), now, now);
  CHECK(rx.stats().net.packets_invalid == 1);
}

TEST_CASE("pcm: a 96 kHz stream's timestamps, packets and clock are counted at 96 kHz") {
  core::RecordPool pool{256};
  core::SpscQueue<core::Message> to_audio{300}, from_audio{300};
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  net::PayloadFormat l24{net::PayloadFormat::Encoding::L24, 96000, 2};
  net::StreamReceiver rx{{2, -1, {}, false, l24}, pool, to_audio, from_audio, model, status};
  CHECK(rx.rate() == 96000);
  std::uint16_t seq = 1;
  std::uint32_t ts = 0;
  std::int64_t now = 1'000'000 * kMsNs;
  std::int64_t frames = 0;
  for (int i = 0; i < 4000; ++i) {  // 4 s of 1 ms packets, 96 frames each
    std::vector<std::uint8_t> p = {0x80, 96, static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq)};
    for (int b = 3; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(ts >> (8 * b)));
    for (int b = 3; b >= 0; --b) p.push_back(static_cast<std::uint8_t>(0x5eed0096u >> (8 * b)));
    p.resize(p.size() + 96 * 2 * 3, 0);
    ++seq;
    ts += 96;
    now += kMsNs;
    rx.on_datagram(p, now, now);
    while (auto m = to_audio.try_pop()) {
      frames += m->record->frames;
      REQUIRE(from_audio.try_push(*m));
    }
    rx.drain_audio();
  }
  CHECK(frames == 4000 * 96);
  CHECK(rx.packet_ns() == kMsNs);
  const net::StatsSnapshot s = rx.stats();
  CHECK(s.net.stream_rate == 96000);
  CHECK(s.net.packet_frames == 96);
  CHECK(s.net.jitter_frames < 1);  // perfectly paced: no jitter in 96 kHz units either
  const core::StreamModel* m = model.take();
  REQUIRE(m != nullptr);
  REQUIRE(m->clock);
  CHECK(m->ns_per_frame == doctest::Approx(1e9 / 96000).epsilon(1e-4));
}
