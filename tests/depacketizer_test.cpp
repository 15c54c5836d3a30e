#include "net/depacketizer.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "net/opus_stream_decoder.hpp"
#include "tools/opus_tone.hpp"

namespace {

using Kind = core::PacketRecord::Kind;
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kPeriodNs = 2'666'667;  // 128 frames at 48 kHz
constexpr std::uint32_t kFirstTs = 5000;

struct Packet {
  std::vector<std::uint8_t> payload;
  std::int64_t seq, ts;  // extended
  std::uint32_t frames;
};

// Real Opus packets of a tone (testtools::opus_tone), numbered from 0,
// timestamps from kFirstTs.
std::vector<Packet> packets(int n, int frame, bool fec) {
  std::vector<Packet> out;
  for (auto& payload : testtools::opus_tone(n, frame, fec)) {
    const auto k = static_cast<std::int64_t>(out.size());
    out.push_back({std::move(payload), k, kFirstTs + k * frame, static_cast<std::uint32_t>(frame)});
  }
  return out;
}

// The depacketizer with the real decoder, pool, queue, schedule, tuner
// (fixed 20 ms) and stats; the test plays the audio context.
struct Rig {
  explicit Rig(std::size_t records = 64) : pool(records) { dp.restart(1, 0, kFirstTs); }

  struct Linked {  // a copy taken on arrival: records are reused
    Kind kind;
    std::int64_t seq, timestamp;
    std::uint32_t frames, epoch;
    std::vector<float> pcm;
  };
  net::OpusStreamDecoder dec{2};
  core::RecordPool pool;
  core::SpscQueue<core::Message> to_audio{300};
  net::AudioSchedule schedule;
  net::LatencyTuner tuner{net::TunerConfig{}};
  net::NetStats stats;
  net::Depacketizer dp{dec, 48000, pool, to_audio, schedule, tuner, stats};
  std::int64_t now = 1'000'000'000;
  std::vector<Linked> links;
  bool send_home = true;                 // records go back to the pool once copied
  std::vector<core::PacketRecord*> kept; // ... or stay out (audio stalled)

  void push(const Packet& p, std::int64_t at) {
    now = at;
    dp.push(p.payload, p.seq, p.ts, p.frames, now);
    collect();
  }
  void fill(std::int64_t at) {
    now = at;
    dp.fill_due(now, now);
    collect();
  }
  void collect() {
    while (auto m = to_audio.try_pop()) {
      const core::PacketRecord* r = m->record;
      links.push_back({r->kind, r->seq, r->timestamp, r->frames, r->epoch,
                       std::vector<float>(r->pcm, r->pcm + std::size_t{r->frames} * 2)});
      if (!send_home) kept.push_back(m->record);
      else REQUIRE(pool.release(m->record));
    }
  }
  // Audio plays epoch 1: a callback began now and left the cursor at
  // `cursor`; 128-frame periods, 40 frames rendered ahead.
  void audio_at(std::int64_t cursor) {
    schedule.update({.epoch = 1, .playing = true, .cursor = cursor, .cycle_ns = now, .schedule_ns = now,
                     .period_frames = 128, .period_ns = kPeriodNs, .render_ahead = 40});
    dp.on_status();
  }
};

// The samples a decoder that saw every packet in order makes of p[last].
std::vector<float> clean_decode(const std::vector<Packet>& p, int last) {
  net::OpusStreamDecoder d(2);
  std::vector<float> pcm(std::size_t{p[0].frames} * 2);
  for (int i = 0; i <= last; ++i) REQUIRE(d.decode(p[i].payload, pcm.data(), int(p[i].frames)) == int(p[i].frames));
  return pcm;
}

}  // namespace

TEST_CASE("depacketizer: packets in order, or reordered within the window, become contiguous records") {
  Rig rig;
  const auto p = packets(8, 960, false);
  for (int i = 0; i < 5; ++i) rig.push(p[i], rig.now + 20 * kMs);
  CHECK(rig.dp.next_deadline() == INT64_MAX);  // no gap
  rig.push(p[6], rig.now + 40 * kMs);           // p[5] is late: p[6] waits for it
  CHECK(rig.links.size() == 5);
  CHECK(rig.dp.next_deadline() == rig.now + 20 * kMs);
  rig.push(p[5], rig.now + 1 * kMs);  // before its deadline
  rig.push(p[7], rig.now + 19 * kMs);
  rig.fill(rig.now + 100 * kMs);
  REQUIRE(rig.links.size() == 8);
  for (std::size_t i = 0; i < 8; ++i) {
    CAPTURE(i);
    CHECK(rig.links[i].kind == Kind::Decoded);  // no concealment
    CHECK(rig.links[i].seq == std::int64_t(i));
    CHECK(rig.links[i].timestamp == std::int64_t(i) * 960);  // each place once, from the epoch's first packet
    CHECK(rig.links[i].frames == 960);
    CHECK(rig.links[i].epoch == 1);
  }
  CHECK(rig.links[7].pcm == clean_decode(p, 7));
  CHECK(rig.dp.offset() == -std::int64_t{kFirstTs});
  CHECK(rig.stats.packet_frames == 960);
  CHECK(rig.stats.packets_late == 0);
  CHECK(rig.dp.concealed_shown() == 0);
  CHECK(rig.dp.next_deadline() == INT64_MAX);
  CHECK(rig.pool.available() == rig.pool.size());
}

TEST_CASE("depacketizer: a gap before a held packet is filled from its FEC if it carries LBRR, else concealed") {
  for (const bool fec : {true, false}) {
    CAPTURE(fec);
    Rig rig;
    const auto p = packets(12, 960, fec);
    REQUIRE(net::OpusStreamDecoder::has_lbrr(p[11].payload) == fec);
    for (int i = 0; i < 10; ++i) rig.push(p[i], rig.now + 20 * kMs);
    rig.push(p[11], rig.now + 40 * kMs);  // p[10] lost: p[11] waits
    REQUIRE(rig.links.size() == 10);
    // Audio does not play yet: the gap gets the target latency (20 ms)
    // from the held packet's arrival to turn up.
    const std::int64_t due = rig.dp.next_deadline();
    CHECK(due == rig.now + 20 * kMs);
    rig.fill(due - 1);
    CHECK(rig.links.size() == 10);
    rig.fill(due);
    REQUIRE(rig.links.size() == 12);
    CHECK(rig.links[10].kind == (fec ? Kind::Fec : Kind::Concealed));
    CHECK(rig.links[10].timestamp == 9600);
    CHECK(rig.links[10].frames == 960);
    CHECK(rig.links[11].kind == Kind::Decoded);
    CHECK(rig.links[11].seq == 11);
    CHECK(rig.links[11].timestamp == 10560);
    CHECK(rig.stats.packets_recovered == (fec ? 1u : 0u));
    CHECK(rig.dp.concealed_shown() == (fec ? 0u : 1u));
    CHECK(rig.dp.next_deadline() == INT64_MAX);
  }
}

TEST_CASE("depacketizer: a gap is concealed 3 ms before the callback that may play it; a late packet "
          "replaces the concealment until 0.5 ms before it") {
  for (const std::int64_t after_limit : {0, 1}) {
    CAPTURE(after_limit);
    Rig rig;
    const auto p = packets(12, 240, false);  // 5 ms packets
    for (int i = 0; i < 10; ++i) rig.push(p[i], rig.now + 5 * kMs);
    // p[10] (position 2400) is missing; the second callback from now may
    // render it (cursor 2160, 40 frames ahead, 128 per callback).
    rig.audio_at(2400 - 40 - 200);
    const std::int64_t need = rig.now + 2 * kPeriodNs;
    REQUIRE(rig.schedule.need_time(2400, 1) == need);
    CHECK(rig.dp.next_deadline() == need - 3 * kMs);
    rig.fill(need - 3 * kMs - 1);
    CHECK(rig.links.size() == 10);  // not yet: p[10] may still come
    rig.fill(need - 3 * kMs);
    REQUIRE(rig.links.size() == 11);
    CHECK(rig.links[10].kind == Kind::Concealed);
    CHECK(rig.links[10].timestamp == 2400);
    CHECK(rig.links[10].frames == 240);
    // p[10] comes, at the last moment it may replace its concealment or
    // just after.
    rig.push(p[10], need - 500'000 + after_limit);
    rig.push(p[11], rig.now);
    REQUIRE(rig.links.size() == (after_limit == 0 ? 13u : 12u));
    const auto& next = rig.links.back();
    CHECK(next.seq == 11);
    CHECK(next.timestamp == 2640);
    // Either way the decoder goes on from p[10]: p[11] is as a decoder
    // that never lost p[10] makes it.
    CHECK(next.pcm == clean_decode(p, 11));
    if (after_limit == 0) {
      // Rescued: p[10] decoded at its place, as if it had come in time.
      CHECK(rig.links[11].kind == Kind::Decoded);
      CHECK(rig.links[11].seq == 10);
      CHECK(rig.links[11].timestamp == 2400);
      CHECK(rig.links[11].pcm == clean_decode(p, 10));
      CHECK(rig.stats.packets_late == 0);
      CHECK(rig.dp.concealed_shown() == 0);  // audio has not said yet whether it took it in
    } else {
      // Late: its concealment plays, and no second record goes to 2400.
      CHECK(rig.stats.packets_late == 1);
      CHECK(rig.links[10].kind == Kind::Concealed);
      CHECK(rig.dp.concealed_shown() == 1);
    }
  }
}

TEST_CASE("depacketizer: grow() inserts concealment and moves the offset and the stretch by as much") {
  Rig rig;
  const auto p = packets(8, 960, false);
  for (int i = 0; i < 5; ++i) rig.push(p[i], rig.now + 20 * kMs);
  rig.dp.grow(500, rig.now);  // audio does not play: nothing to grow
  CHECK(rig.links.size() == 5);
  CHECK(rig.dp.stretched() == 0);
  rig.audio_at(0);
  const std::int64_t offset = rig.dp.offset();
  rig.dp.grow(500, rig.now);  // whole 2.5 ms quanta: 600
  rig.collect();
  REQUIRE(rig.links.size() == 6);
  CHECK(rig.links[5].kind == Kind::Concealed);
  CHECK(rig.links[5].timestamp == 4800);
  CHECK(rig.links[5].frames == 600);
  CHECK(rig.dp.offset() - offset == 600);
  CHECK(rig.dp.stretched() == 600);
  CHECK(rig.stats.frames_stretched == 600);
  rig.push(p[5], rig.now + 20 * kMs);
  CHECK(rig.links.back().timestamp == 5400);  // after the inserted concealment
  // At most what concealment makes at full level (40 ms), and no more
  // until a packet ends that run.
  rig.dp.grow(5000, rig.now);
  rig.collect();
  CHECK(rig.links.back().frames == 1920);
  CHECK(rig.dp.stretched() == 600 + 1920);
  rig.dp.grow(240, rig.now);
  rig.collect();
  CHECK(rig.links.size() == 8);
  CHECK(rig.dp.offset() - offset == rig.dp.stretched());
  rig.push(p[6], rig.now + 20 * kMs);
  CHECK(rig.links.back().timestamp == 6 * 960 + 2520);
}

TEST_CASE("depacketizer: with the pool exhausted records are dropped and counted, the timeline goes on") {
  Rig rig(3);
  rig.send_home = false;  // audio holds every record
  const auto p = packets(12, 960, false);
  for (int i = 0; i < 4; ++i) rig.push(p[i], rig.now + 20 * kMs);
  CHECK(rig.links.size() == 3);
  CHECK(rig.stats.pool_exhausted == 1);  // p[3]
  const auto home = [&] {
    for (core::PacketRecord* r : rig.kept) REQUIRE(rig.pool.release(r));
    rig.kept.clear();
  };
  home();
  // p[4] lost: the gap is p[4]'s place, not p[3]'s as well (p[3] was
  // dropped, its place is behind).
  rig.push(p[5], rig.now + 40 * kMs);
  rig.fill(rig.dp.next_deadline());
  REQUIRE(rig.links.size() == 5);
  CHECK(rig.links[3].kind == Kind::Concealed);
  CHECK(rig.links[3].timestamp == 4 * 960);
  CHECK(rig.links[4].timestamp == 5 * 960);
  // Out again, with p[9] lost: no record to conceal it in, nor for p[10].
  home();
  for (int i = 6; i < 9; ++i) rig.push(p[i], rig.now + 20 * kMs);
  rig.push(p[10], rig.now + 40 * kMs);
  REQUIRE(rig.dp.next_deadline() != INT64_MAX);
  rig.fill(rig.dp.next_deadline());
  CHECK(rig.links.size() == 8);
  CHECK(rig.stats.pool_exhausted == 3);  // the concealment, then p[10]
  CHECK(rig.dp.next_deadline() == INT64_MAX);
  home();
  rig.send_home = true;
  rig.push(p[11], rig.now + 20 * kMs);
  REQUIRE(rig.links.size() == 9);
  CHECK(rig.links[8].seq == 11);
  CHECK(rig.links[8].timestamp == 11 * 960);
  CHECK(rig.pool.available() == rig.pool.size());
}
