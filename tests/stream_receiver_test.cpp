#include "net/stream_receiver.hpp"

#include <doctest/doctest.h>
#include <opus/opus.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "net/opus_stream_decoder.hpp"

namespace {

// A real Opus encoder and an RTP packetiser, like a sender would have.
struct Sender {
  OpusEncoder* enc = nullptr;
  std::uint32_t ssrc = 0x11223344;
  std::uint16_t seq = 1000;
  std::uint32_t ts = 5000;
  std::uint8_t pt = 96;
  int frame = 960;
  double phase = 0;

  explicit Sender(int frame_size = 960, bool fec = false) : frame(frame_size) {
    int err = 0;
    enc = opus_encoder_create(48000, 2, fec ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO, &err);
    REQUIRE(err == OPUS_OK);
    if (fec) {
      // In-band FEC lives in the SILK layer: a speech-like bit rate keeps it there.
      opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
      opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(20));
      opus_encoder_ctl(enc, OPUS_SET_BITRATE(24000));
    }
  }
  ~Sender() { opus_encoder_destroy(enc); }

  std::vector<std::uint8_t> next() {
    std::vector<float> pcm(static_cast<std::size_t>(frame) * 2);
    for (int i = 0; i < frame; ++i) {
      pcm[2 * i] = pcm[2 * i + 1] = static_cast<float>(0.5 * std::sin(phase));
      phase += 2 * M_PI * 440 / 48000;
    }
    std::vector<std::uint8_t> pkt(12 + 1500);
    const int n = opus_encode_float(enc, pcm.data(), frame, pkt.data() + 12, 1500);
    REQUIRE(n > 0);
    pkt.resize(12 + static_cast<std::size_t>(n));
    pkt[0] = 0x80;
    pkt[1] = pt;
    pkt[2] = static_cast<std::uint8_t>(seq >> 8);
    pkt[3] = static_cast<std::uint8_t>(seq);
    for (int i = 0; i < 4; ++i) pkt[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
    for (int i = 0; i < 4; ++i) pkt[8 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
    ++seq;
    ts += static_cast<std::uint32_t>(frame);
    return pkt;
  }
};

constexpr std::int64_t kMs = 1'000'000;

struct Rig {
  // Probation (RFC 3550 A.1) off unless asked for: most cases here test
  // what happens after the lock, from the first packet on.
  explicit Rig(bool probation = false)
      : rx{{2, -1, {}, probation}, pool, to_audio, from_audio, model, status} {}

  core::RecordPool pool{256};
  core::SpscQueue<core::Message> to_audio{300};
  core::SpscQueue<core::Message> from_audio{300};
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  net::StreamReceiver rx;
  std::int64_t now = 1'700'000'000LL * 1'000'000'000;
  std::uint32_t epoch = 0;  // the latest model's
  int epochs = 0;           // epochs the models announced
  std::vector<core::PacketRecord> linked;  // copies taken on arrival: records are reused
  std::vector<std::vector<float>> pcm;     // ... and their audio

  void feed(const std::vector<std::uint8_t>& p, std::int64_t advance_ms = 20) {
    now += advance_ms * kMs;
    rx.on_datagram(p, now, now);
    collect();
  }
  // Lets time pass, running net's timer when it asks, as the Asio loop does.
  void wait(std::int64_t ms) {
    const std::int64_t until = now + ms * kMs;
    while (rx.next_deadline() <= until) {
      now = std::max(now, rx.next_deadline());
      rx.on_timer(now);
      collect();
    }
    now = until;
  }
  // Plays the audio context: takes the model, sends every record home.
  void collect() {
    if (const core::StreamModel* m = model.take(); m != nullptr && m->epoch != epoch) {
      epoch = m->epoch;
      ++epochs;
    }
    while (auto m = to_audio.try_pop()) {
      const core::PacketRecord* rec = m->record;
      core::PacketRecord& r = linked.emplace_back();
      r.timestamp = rec->timestamp;
      r.frames = rec->frames;
      r.kind = rec->kind;
      r.epoch = rec->epoch;
      r.seq = rec->seq;
      pcm.emplace_back(rec->pcm, rec->pcm + std::size_t{rec->frames} * 2);
      REQUIRE(from_audio.try_push(*m));
    }
    rx.drain_audio();
  }
  // Audio's status as a JACK callback that began now would push it: the
  // next sample to play is `cursor`, 128-frame periods at 48 kHz.
  void audio_at(std::int64_t cursor, std::uint64_t rescued = 0) {
    core::AudioStatus a;
    a.records_rescued = rescued;
    a.epoch = 1;
    a.playing = true;
    a.cursor = cursor;
    a.cycle_ns = now;
    a.schedule_ns = now;
    a.period_frames = 128;
    a.period_ns = 2'666'667;
    a.render_ahead = 40;
    a.jack_rate = 48000;
    status.publish(a);
    rx.drain_audio();
  }
  const std::vector<core::PacketRecord>& links() const { return linked; }
  int resets() const { return epochs; }
  net::NetStats stats() const { return rx.stats().net; }
};

// `n` packets of 5 ms; the first ten fed 5 ms apart, then audio's status
// puts the place of p[10] (2400) in the next callback (2.67 ms from now):
// net conceals it at once, 3 ms before (kConcealMarginUs).
std::vector<std::vector<std::uint8_t>> conceal_p10(Rig& rig, Sender& s, int n) {
  std::vector<std::vector<std::uint8_t>> p;
  for (int i = 0; i < n; ++i) p.push_back(s.next());
  for (int i = 0; i < 10; ++i) rig.feed(p[i], 5);
  rig.audio_at(2400 - 40 - 100);
  rig.wait(0);
  REQUIRE(rig.links().size() == 11);
  return p;
}

// conceal_p10 with 14 packets, then p[10] and p[11] come 1.5 ms later,
// over a millisecond before the callback that may render p[10]'s place:
// p[10] replaces its concealment (rescue), decoded from the decoder's state
// before it.
std::vector<std::vector<std::uint8_t>> rescue_p10(Rig& rig, Sender& s) {
  const auto p = conceal_p10(rig, s, 14);
  CHECK(rig.links()[10].kind == core::PacketRecord::Kind::Concealed);
  CHECK(rig.links()[10].timestamp == 2400);
  rig.now += 1'500'000;
  rig.feed(p[10], 0);
  rig.feed(p[11], 0);
  return p;
}

}  // namespace

TEST_CASE("stream_receiver: locks, decodes in order, positions are contiguous") {
  Rig rig;
  Sender s;
  for (int i = 0; i < 10; ++i) rig.feed(s.next());
  const auto l = rig.links();
  REQUIRE(l.size() == 10);
  CHECK(rig.resets() == 1);  // the lock starts epoch 1
  for (std::size_t i = 0; i < l.size(); ++i) {
    CHECK(l[i].timestamp == static_cast<std::int64_t>(i) * 960);
    CHECK(l[i].frames == 960);
    CHECK(l[i].kind == core::PacketRecord::Kind::Decoded);
    CHECK(l[i].epoch == 1);
  }
  const auto st = rig.stats();
  CHECK(st.locked);
  CHECK(st.ssrc == s.ssrc);
  CHECK(st.packets_received == 10);
  CHECK(st.packets_lost == 0);
  CHECK(st.stream_resets == 0);
  CHECK(st.jitter_frames < 1.0);  // perfectly regular arrivals
  CHECK(rig.pool.available() == rig.pool.size());  // closed loop: all home
}

TEST_CASE("stream_receiver: a loss is concealed, a duplicate dropped, a late one counted") {
  Rig rig;
  Sender s;
  std::vector<std::vector<std::uint8_t>> p;
  for (int i = 0; i < 8; ++i) p.push_back(s.next());
  rig.feed(p[0]);
  rig.feed(p[1]);
  rig.feed(p[1], 0);  // duplicate
  rig.feed(p[3], 40); // p[2] missing: p[3] waits for it
  CHECK(rig.links().size() == 2);
  rig.feed(p[2], 1);  // arrives before its deadline: used, in order
  rig.feed(p[4], 19);
  auto st = rig.stats();
  CHECK(st.packets_received == 6);
  CHECK(st.packets_duplicate == 1);
  CHECK(st.packets_reordered == 1);
  CHECK(st.packets_late == 0);
  CHECK(st.packets_lost == 0);
  CHECK(st.packets_concealed == 0);
  auto l = rig.links();
  REQUIRE(l.size() == 5);
  for (std::size_t i = 0; i < l.size(); ++i) {
    CHECK(l[i].timestamp == static_cast<std::int64_t>(i) * 960);
    CHECK(l[i].kind == core::PacketRecord::Kind::Decoded);
  }

  // p[6] arrives, p[5] does not by the deadline (the target latency, as no
  // audio status says otherwise): concealed. When it turns up, it is late.
  rig.feed(p[6], 40);
  rig.wait(30);
  rig.feed(p[5], 0);
  st = rig.stats();
  CHECK(st.packets_concealed == 1);
  CHECK(st.packets_late == 1);
  CHECK(st.packets_lost == 0);  // it did arrive, in the end (RFC 3550 A.3)
  l = rig.links();
  REQUIRE(l.size() == 7);
  CHECK(l[5].kind == core::PacketRecord::Kind::Concealed);
  CHECK(l[5].timestamp == 5 * 960);
  CHECK(l[5].frames == 960);
  CHECK(l[6].kind == core::PacketRecord::Kind::Decoded);
  CHECK(l[6].timestamp == 6 * 960);
}

TEST_CASE("opus: a saved decoder state brings back what concealment moved on") {
  Sender s(240);
  std::vector<std::vector<std::uint8_t>> p;
  for (int i = 0; i < 6; ++i) p.push_back(s.next());
  const auto payload = [&](int i) { return std::span<const std::uint8_t>(p[i]).subspan(12); };
  net::OpusStreamDecoder clean(2), concealed(2), rescued(2);
  std::vector<float> a(240 * 2), b(240 * 2), c(240 * 2);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(clean.decode(payload(i), a.data(), 240) == 240);
    REQUIRE(concealed.decode(payload(i), b.data(), 240) == 240);
    REQUIRE(rescued.decode(payload(i), c.data(), 240) == 240);
  }
  rescued.save();
  REQUIRE(concealed.conceal(b.data(), 240) == 240);
  REQUIRE(rescued.conceal(c.data(), 240) == 240);
  rescued.restore();
  REQUIRE(clean.decode(payload(5), a.data(), 240) == 240);
  REQUIRE(concealed.decode(payload(5), b.data(), 240) == 240);
  REQUIRE(rescued.decode(payload(5), c.data(), 240) == 240);
  CHECK(c == a);  // as if the concealment had never been made
  CHECK(b != a);  // which it otherwise leaves its mark on
}

TEST_CASE("stream_receiver: a late packet replaces its concealment while audio has not played it") {
  Rig rig;
  Sender s(240);  // 5 ms packets
  const auto p = rescue_p10(rig, s);
  REQUIRE(rig.links().size() == 13);
  CHECK(rig.links()[11].kind == core::PacketRecord::Kind::Decoded);
  CHECK(rig.links()[11].timestamp == 2400);
  CHECK(rig.links()[12].timestamp == 2640);
  net::OpusStreamDecoder clean(2);
  std::vector<float> ref(240 * 2);
  for (int i = 0; i <= 10; ++i)
    REQUIRE(clean.decode(std::span<const std::uint8_t>(p[i]).subspan(12), ref.data(), 240) == 240);
  CHECK(rig.pcm[11] == ref);
  auto st = rig.stats();
  CHECK(st.packets_late == 0);
  CHECK(st.packets_lost == 0);
  // Net counts the concealment once p[10] came; audio counts the rescue
  // when it takes the replacement in, a callback later. Until then the
  // count does not show it, to take it back after.
  CHECK(st.packets_concealed == 0);
  rig.now += 1'000'000;
  rig.audio_at(2400 - 40 - 100 + 128, 1);  // replaced unplayed
  CHECK(rig.stats().packets_concealed == 0);
  CHECK(rig.stats().packets_rescued == 1);
}

TEST_CASE("stream_receiver: a rescue audio refuses (its concealment had begun to play) counts as concealment") {
  Rig rig;
  Sender s(240);
  rescue_p10(rig, s);
  CHECK(rig.stats().packets_concealed == 0);
  // A status from a callback that began before the replacement was linked
  // says nothing of it yet.
  const std::int64_t linked_at = rig.now;
  rig.now -= 100'000;
  rig.audio_at(2400 - 40 - 100 + 128);
  CHECK(rig.stats().packets_concealed == 0);
  rig.now = linked_at + 1'000'000;
  rig.audio_at(2400 - 40 - 100 + 256);  // took it in, and did not count it rescued
  CHECK(rig.stats().packets_concealed == 1);
  CHECK(rig.stats().packets_rescued == 0);
}

TEST_CASE("stream_receiver: a packet too late to replace its concealment is late") {
  Rig rig;
  Sender s(240);
  const auto p = conceal_p10(rig, s, 12);
  // 0.37 ms before the callback that may render it: no time for a decode.
  rig.now += 2'300'000;
  rig.feed(p[10], 0);
  CHECK(rig.links().size() == 11);
  CHECK(rig.stats().packets_late == 1);
  CHECK(rig.stats().packets_concealed == 1);
}

TEST_CASE("stream_receiver: after a packet too late to replace its concealment, the next one still can") {
  // With a small target net conceals ahead of every packet of a sender's
  // late phase. One packet too late for its own place must not make every
  // packet after it late too (as it would if each could replace its
  // concealment only as the successor of the packet decoded last): that
  // is a run of concealment that fades to silence.
  Rig rig;
  Sender s(240);
  const auto p = conceal_p10(rig, s, 12);
  // The next callback: p[11]'s place (2640) is concealed 3 ms before the
  // callback that may render it.
  rig.now += 2'666'667;
  rig.audio_at(2400 - 40 - 100 + 128);
  rig.wait(3);
  REQUIRE(rig.links().size() == 12);
  CHECK(rig.links()[11].kind == core::PacketRecord::Kind::Concealed);
  CHECK(rig.links()[11].timestamp == 2640);
  // p[10] comes after the callback that renders its place began: late. Its
  // successor's place is still 2.3 ms from being rendered.
  rig.feed(p[10], 0);
  CHECK(rig.stats().packets_late == 1);
  rig.now += 500'000;
  rig.feed(p[11], 0);
  REQUIRE(rig.links().size() >= 13);
  const core::PacketRecord& last = rig.links().back();
  CHECK(last.kind == core::PacketRecord::Kind::Decoded);
  CHECK(last.timestamp == 2640);
  // Decoded from the state p[10] left: as if nothing had been late.
  net::OpusStreamDecoder clean(2);
  std::vector<float> ref(240 * 2);
  for (int i = 0; i <= 11; ++i)
    REQUIRE(clean.decode(std::span<const std::uint8_t>(p[i]).subspan(12), ref.data(), 240) == 240);
  CHECK(rig.pcm.back() == ref);
  CHECK(rig.stats().packets_late == 1);
  // Net counts both concealments; audio, replacing p[11]'s unplayed,
  // counts it rescued (the snapshot subtracts those) once it has taken
  // the replacement in.
  rig.now += 1'000'000;
  rig.audio_at(2400 - 40 - 100 + 256, 1);
  CHECK(rig.stats().packets_concealed == 1);
}

TEST_CASE("stream_receiver: packets that never come count as lost") {
  Rig rig;
  Sender s;
  rig.feed(s.next());
  s.next();
  s.next();
  rig.feed(s.next(), 60);
  rig.wait(25);
  CHECK(rig.stats().packets_lost == 2);
  CHECK(rig.stats().packets_concealed == 2);
  const auto& l = rig.links();
  REQUIRE(l.size() == 4);
  for (std::size_t i = 0; i < l.size(); ++i) CHECK(l[i].timestamp == static_cast<std::int64_t>(i) * 960);
}

TEST_CASE("stream_receiver: a lost packet is recovered from the next one's in-band FEC") {
  Rig rig;
  Sender s(960, true);
  for (int i = 0; i < 10; ++i) rig.feed(s.next());
  s.next();  // lost
  const auto after = s.next();
  REQUIRE(net::OpusStreamDecoder::has_lbrr(std::span<const std::uint8_t>(after).subspan(12)));
  rig.feed(after, 40);
  rig.wait(25);
  CHECK(rig.stats().packets_recovered == 1);
  CHECK(rig.stats().packets_concealed == 0);
  const auto& l = rig.links();
  REQUIRE(l.size() == 12);
  CHECK(l[10].kind == core::PacketRecord::Kind::Fec);
  CHECK(l[10].timestamp == 10 * 960);
  CHECK(l[10].frames == 960);
  CHECK(l[11].timestamp == 11 * 960);
}

TEST_CASE("opus: LBRR is found where the encoder put it, and only there") {
  Sender with_fec(960, true);
  Sender plain;  // 128 kbit/s music: CELT, no SILK layer
  int fec_packets = 0;
  int plain_packets = 0;
  for (int i = 0; i < 50; ++i) {
    const auto a = with_fec.next();
    const auto b = plain.next();
    fec_packets += net::OpusStreamDecoder::has_lbrr(std::span<const std::uint8_t>(a).subspan(12));
    plain_packets += net::OpusStreamDecoder::has_lbrr(std::span<const std::uint8_t>(b).subspan(12));
  }
  CHECK(fec_packets >= 45);  // every packet after the first carries its predecessor
  CHECK(plain_packets == 0);
}

TEST_CASE("stream_receiver: GStreamer's short first step keeps the audio contiguous") {
  Rig rig;
  Sender s;
  rig.feed(s.next());
  s.ts -= 312;  // rtpopuspay: second timestamp 648 after the first
  for (int i = 0; i < 4; ++i) rig.feed(s.next());
  const auto l = rig.links();
  REQUIRE(l.size() == 5);
  for (std::size_t i = 0; i < l.size(); ++i) CHECK(l[i].timestamp == static_cast<std::int64_t>(i) * 960);
  CHECK(rig.stats().packets_lost == 0);
}

TEST_CASE("stream_receiver: sequence and timestamp wraparound play on") {
  Rig rig;
  Sender s;
  s.seq = 65530;
  s.ts = 0xffffffffu - 960 * 3;
  for (int i = 0; i < 12; ++i) rig.feed(s.next());
  const auto l = rig.links();
  REQUIRE(l.size() == 12);
  for (std::size_t i = 0; i < l.size(); ++i) CHECK(l[i].timestamp == static_cast<std::int64_t>(i) * 960);
  CHECK(l.back().seq == 65530 + 11);
  CHECK(rig.stats().packets_lost == 0);
  CHECK(rig.resets() == 1);
}

TEST_CASE("stream_receiver: another sender is ignored while ours is live, taken once it is idle") {
  Rig rig;
  Sender a;
  Sender b;
  b.ssrc = 0x55667788;
  for (int i = 0; i < 5; ++i) {
    rig.feed(a.next());
    rig.feed(b.next(), 0);
  }
  CHECK(rig.stats().packets_foreign == 5);
  CHECK(rig.stats().ssrc == a.ssrc);
  CHECK(rig.resets() == 1);
  rig.feed(b.next(), 60);  // a silent for 60 ms: still live (jitter, not a restart)
  CHECK(rig.stats().packets_foreign == 6);
  rig.feed(b.next(), 60);  // a silent for 120 ms: b is the sender now
  CHECK(rig.stats().ssrc == b.ssrc);
  CHECK(rig.stats().stream_resets == 1);
  CHECK(rig.resets() == 2);
  CHECK(rig.links().back().epoch == 2);
  CHECK(rig.links().back().timestamp == 0);
}

TEST_CASE("stream_receiver: the same SSRC jumping far away is a restart") {
  Rig rig;
  Sender s;
  for (int i = 0; i < 5; ++i) rig.feed(s.next());
  s.seq = static_cast<std::uint16_t>(s.seq + 20000);
  s.ts += 48000 * 3600;
  rig.feed(s.next());
  CHECK(rig.stats().stream_resets == 1);
  CHECK(rig.stats().packets_lost == 0);
  CHECK(rig.resets() == 2);
}

TEST_CASE("stream_receiver: probation: two packets in sequence lock, and the first one plays too") {
  Rig rig(true);
  Sender s;
  rig.feed(s.next());
  CHECK_FALSE(rig.stats().locked);  // one packet proves nothing (RFC 3550 A.1)
  CHECK(rig.stats().packets_foreign == 1);
  for (int i = 0; i < 9; ++i) rig.feed(s.next());
  const auto st = rig.stats();
  CHECK(st.locked);
  CHECK(st.packets_received == 10);
  CHECK(st.packets_foreign == 0);  // the first one was ours after all
  const auto l = rig.links();
  REQUIRE(l.size() == 10);
  for (std::size_t i = 0; i < l.size(); ++i) CHECK(l[i].timestamp == static_cast<std::int64_t>(i) * 960);
  CHECK(rig.resets() == 1);
}

TEST_CASE("stream_receiver: probation: the first two arriving swapped, or one lost, start the stream where it starts") {
  Rig rig(true);
  Sender s;
  const auto p0 = s.next();
  const auto p1 = s.next();
  rig.feed(p1);
  rig.feed(p0, 1);  // overtaken: it locks the stream at p0, p1 waits behind it
  s.next();         // lost
  for (int i = 0; i < 5; ++i) rig.feed(s.next());
  rig.wait(200);
  const auto st = rig.stats();
  CHECK(st.packets_received == 7);
  CHECK(st.packets_lost == 1);
  CHECK(st.packets_foreign == 0);
  CHECK(rig.links().front().timestamp == 0);
  CHECK(rig.links().size() == 8);  // the lost one concealed
}

TEST_CASE("stream_receiver: probation: junk with our SSRC and another type before the stream cannot hold the lock") {
  // Forged packets that copy the real sender's SSRC, with another payload
  // type and random sequence numbers, arrive first and keep arriving.
  Rig rig(true);
  Sender real;
  Sender junk;
  junk.pt = 111;
  std::uint32_t lcg = 12345;
  const auto jump = [&] {
    lcg = lcg * 1664525U + 1013904223U;
    junk.seq = static_cast<std::uint16_t>(lcg >> 16);
  };
  for (int i = 0; i < 5; ++i) {
    jump();
    rig.feed(junk.next(), 1);
  }
  CHECK_FALSE(rig.stats().locked);
  for (int i = 0; i < 20; ++i) {
    rig.feed(real.next());
    jump();
    rig.feed(junk.next(), 1);
  }
  const auto st = rig.stats();
  CHECK(st.locked);
  CHECK(st.payload_type == 96);
  CHECK(st.packets_received == 20);
  CHECK(st.packets_foreign == 25);
  CHECK(st.stream_resets == 0);
  CHECK(rig.links().size() == 20);
}

TEST_CASE("stream_receiver: probation: one far jump is junk, two in sequence a restart") {
  Rig rig(true);
  Sender s;
  for (int i = 0; i < 5; ++i) rig.feed(s.next());
  Sender forged;  // same SSRC and type, far away
  forged.seq = static_cast<std::uint16_t>(s.seq + 40000);
  forged.ts = s.ts + 48000 * 3600;
  rig.feed(forged.next(), 1);
  CHECK(rig.stats().stream_resets == 0);
  CHECK(rig.stats().packets_foreign == 1);
  for (int i = 0; i < 5; ++i) rig.feed(s.next());
  CHECK(rig.stats().stream_resets == 0);
  CHECK(rig.stats().packets_received == 10);
  CHECK(rig.stats().packets_lost == 0);
  // The sender really starts over: its second packet confirms the first.
  s.seq = static_cast<std::uint16_t>(s.seq + 20000);
  s.ts += 48000 * 3600;
  rig.feed(s.next());
  CHECK(rig.stats().stream_resets == 0);
  rig.feed(s.next());
  CHECK(rig.stats().stream_resets == 1);
  CHECK(rig.stats().packets_received == 12);
  CHECK(rig.resets() == 2);
}

TEST_CASE("stream_receiver: junk is counted and dropped") {
  Rig rig;
  Sender s;
  rig.feed(s.next());
  rig.feed({1, 2, 3});                                  // not RTP
  rig.feed({0x80, 200, 0, 1, 0, 0, 0, 0});              // RTCP SR header
  auto bad_opus = s.next();
  bad_opus.resize(12);
  bad_opus.push_back(0x03);                             // code 3 TOC with no frame count byte
  rig.feed(bad_opus);
  auto wrong_pt = s.next();
  wrong_pt[1] = 97;
  wrong_pt[11] ^= 1;
  rig.feed(wrong_pt);                                   // another sender and type: foreign
  const auto st = rig.stats();
  CHECK(st.packets_invalid == 2);
  CHECK(st.rtcp_received == 1);
  CHECK(st.packets_foreign == 1);
  CHECK(st.packets_received == 1);
  CHECK(st.datagrams_received == 5);
}

TEST_CASE("stream_receiver: jitter follows RFC 3550 A.8") {
  Rig rig;
  Sender s;
  // arrivals alternate 18 and 22 ms apart for 20 ms packets: |D| = 2 ms
  rig.feed(s.next());
  for (int i = 0; i < 200; ++i) rig.feed(s.next(), i % 2 ? 18 : 22);
  CHECK(rig.stats().jitter_frames == doctest::Approx(96.0).epsilon(0.02));  // 2 ms at 48 kHz
}

TEST_CASE("stream_receiver: an exhausted pool drops and counts, never allocates") {
  core::RecordPool pool(4);
  core::SpscQueue<core::Message> to_audio(40);
  core::SpscQueue<core::Message> from_audio(40);
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  net::StreamReceiver rx({2, -1, {}, false}, pool, to_audio, from_audio, model, status);
  Sender s;
  std::int64_t now = 0;
  for (int i = 0; i < 10; ++i) {
    now += 20 * kMs;
    rx.on_datagram(s.next(), now, now);  // audio never returns any
  }
  CHECK(rx.stats().net.pool_exhausted == 6);
  CHECK(pool.available() == 0);
}

TEST_CASE("stream_receiver: a steady tone goes on through a burst loss, and the audio after it joins at its level") {
  // Two 20 ms packets lost: their places are a repetition of the tone, and
  // the packets after the gap decode from the decoder's state before it.
  // Opus's own concealment fades the tone out within 40 ms, and the packets
  // after it glide back up over 40-60 ms.
  Rig rig;
  Sender s;
  // A music encoder with in-band FEC at 128 kbit/s (GStreamer's opusenc
  // inband-fec=true bitrate=128000): hybrid frames, SILK below 8 kHz.
  opus_encoder_ctl(s.enc, OPUS_SET_BITRATE(128000));
  opus_encoder_ctl(s.enc, OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(s.enc, OPUS_SET_PACKET_LOSS_PERC(10));
  std::vector<std::vector<std::uint8_t>> p;
  for (int i = 0; i < 40; ++i) p.push_back(s.next());
  REQUIRE(net::OpusStreamDecoder::has_silk(std::span<const std::uint8_t>(p[24]).subspan(12)));
  for (int i = 0; i < 25; ++i) rig.feed(p[i]);
  rig.feed(p[27], 60);
  rig.wait(60);
  for (int i = 28; i < 40; ++i) rig.feed(p[i]);
  // The stream as audio would play it, by position.
  std::vector<float> out(40 * 960 * 2, 0.0f);
  int concealed = 0;
  for (std::size_t k = 0; k < rig.links().size(); ++k) {
    const auto& r = rig.links()[k];
    if (r.kind == core::PacketRecord::Kind::Concealed) ++concealed;
    for (std::size_t i = 0; i < rig.pcm[k].size(); ++i) out[std::size_t(r.timestamp) * 2 + i] = rig.pcm[k][i];
  }
  CHECK(concealed == 1);  // p[25]; p[26] comes from p[27]'s FEC
  CHECK(rig.stats().packets_concealed == 1);
  CHECK(rig.stats().packets_recovered == 1);
  // A sine fitted to the steady tone before the gap (400-500 ms), and each
  // 10 ms block's level and residual against it.
  const double w = 2 * M_PI * 440 / 48000;
  double sc = 0, cc = 0;
  for (int i = 400 * 48; i < 500 * 48; ++i) {
    sc += out[2 * std::size_t(i)] * std::sin(w * i);
    cc += out[2 * std::size_t(i)] * std::cos(w * i);
  }
  const double a = 2 * sc / (100 * 48), b = 2 * cc / (100 * 48);
  const double fit_power = (a * a + b * b) / 2 * 480;
  const auto judge = [&](int block) {
    double e = 0, x = 0;
    for (int i = block * 480; i < (block + 1) * 480; ++i) {
      const double fit = a * std::sin(w * i) + b * std::cos(w * i);
      e += (out[2 * std::size_t(i)] - fit) * (out[2 * std::size_t(i)] - fit);
      x += out[2 * std::size_t(i)] * out[2 * std::size_t(i)];
    }
    return std::pair{10 * std::log10(x / fit_power), 10 * std::log10(e / fit_power)};
  };
  // The concealed packet's place (500-520 ms): the tone, at its level.
  for (int block = 50; block < 52; ++block) {
    const auto [level, residual] = judge(block);
    CAPTURE(block);
    CHECK(std::abs(level) < 0.5);
    CHECK(residual < -30);
  }
  // The FEC frame and the packets after it: the decoder, from its state
  // before the gap, takes up to 60 ms to settle, never below -6 dB.
  for (int block = 52; block < 58; ++block) {
    const auto [level, residual] = judge(block);
    CAPTURE(block);
    CAPTURE(residual);
    CHECK(std::abs(level) < 6);
  }
  for (int block = 58; block < 78; ++block) {
    const auto [level, residual] = judge(block);
    CAPTURE(block);
    CHECK(std::abs(level) < 0.5);
    CHECK(residual < -30);
  }
}
