#include "net/rtcp_session.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/stream_receiver.hpp"

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::uint64_t kNtpUnix = 2'208'988'800;  // seconds from 1900 to 1970

using Bytes = std::vector<std::uint8_t>;

void add(Bytes& b, std::initializer_list<std::uint8_t> more) { b.insert(b.end(), more); }

void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (24 - 8 * i)));
}

// A sender's SR (no blocks) + SDES, as ffmpeg and GStreamer send them.
Bytes sender_report(std::uint32_t ssrc, std::uint64_t ntp, std::uint32_t rtp_ts) {
  Bytes b = {0x80, 200, 0, 6};
  put32(b, ssrc);
  put32(b, static_cast<std::uint32_t>(ntp >> 32));
  put32(b, static_cast<std::uint32_t>(ntp));
  put32(b, rtp_ts);
  put32(b, 100);
  put32(b, 10000);
  add(b, {0x81, 202, 0, 2});
  put32(b, ssrc);
  add(b, {1, 1, 'x', 0});
  return b;
}

Bytes bye(std::uint32_t ssrc) {
  Bytes b = {0x80, 201, 0, 1};
  put32(b, ssrc);
  add(b, {0x81, 203, 0, 1});
  put32(b, ssrc);
  return b;
}

struct Parsed final : net::RtcpVisitor {
  std::uint32_t reporter = 0;
  std::vector<net::RtcpReportBlock> blocks;
  std::string cname;
  std::vector<std::uint32_t> byes;
  void on_receiver_report(std::uint32_t r) override { reporter = r; }
  void on_report_block(std::uint32_t, const net::RtcpReportBlock& b) override { blocks.push_back(b); }
  void on_sdes_item(std::uint32_t, std::uint8_t type, std::span<const std::uint8_t> t) override {
    if (type == net::kSdesCname) cname.assign(t.begin(), t.end());
  }
  void on_bye(std::uint32_t s) override { byes.push_back(s); }
};

Parsed parse(std::span<const std::uint8_t> b) {
  Parsed p;
  REQUIRE(net::parse_rtcp(b, &p) == net::RtcpError::None);
  return p;
}

net::ReceptionState stream_state(std::uint32_t ssrc, std::int64_t base, std::int64_t highest,
                                 std::uint64_t received) {
  net::ReceptionState r;
  r.locked = true;
  r.ssrc = ssrc;
  r.epoch = 1;
  r.base_seq = base;
  r.highest_seq = highest;
  r.received = received;
  r.packets = received;
  return r;
}

}  // namespace

TEST_CASE("rtcp session: report block per RFC 3550 A.3, by hand") {
  net::RtcpConfig cfg;
  cfg.cname = "rtp2jack@test";
  net::RtcpSession s(cfg);
  std::array<std::uint8_t, net::kMaxReceiverCompound> out{};

  // Sequence numbers 65530 .. 65535, 0 .. 9 (a wrap) with 65533, 2 and 3
  // lost: expected 16, received 13.
  net::ReceptionState r = stream_state(0xabcdef01, 65530, 65536 + 9, 13);
  r.jitter = 5.449;
  s.on_rtp(r, 0);
  const std::int64_t first = s.next_report_ns();
  REQUIRE(first != INT64_MAX);
  CHECK(s.poll(r, first - 1, out) == 0);  // not due yet
  std::size_t n = s.poll(r, first, out);
  REQUIRE(n > 0);
  Parsed p = parse(std::span<const std::uint8_t>(out.data(), n));
  CHECK(p.reporter == s.ssrc());
  CHECK(p.reporter != r.ssrc);
  CHECK(p.cname == "rtp2jack@test");
  REQUIRE(p.blocks.size() == 1);
  CHECK(p.blocks[0].ssrc == 0xabcdef01);
  CHECK(p.blocks[0].fraction_lost == 48);       // (3 << 8) / 16
  CHECK(p.blocks[0].cumulative_lost == 3);
  CHECK(p.blocks[0].ext_highest_seq == 0x00010009);  // one cycle, then 9
  CHECK(p.blocks[0].jitter == 5);
  CHECK(p.blocks[0].lsr == 0);                  // no SR yet
  CHECK(p.blocks[0].dlsr == 0);

  // Next interval: 10 .. 19, one lost: 10 expected, 9 received.
  r.highest_seq = 65536 + 19;
  r.received = 22;
  r.packets = 22;
  s.on_rtp(r, first + 100 * kMs);
  const std::int64_t second = s.next_report_ns();
  n = s.poll(r, second, out);
  REQUIRE(n > 0);
  p = parse(std::span<const std::uint8_t>(out.data(), n));
  REQUIRE(p.blocks.size() == 1);
  CHECK(p.blocks[0].fraction_lost == 25);       // (1 << 8) / 10 = 25.6, truncated
  CHECK(p.blocks[0].cumulative_lost == 4);
  CHECK(p.blocks[0].ext_highest_seq == 0x00010013);

  // Duplicates make "received" exceed "expected": fraction 0, cumulative
  // negative (A.3 allows it).
  r.highest_seq = 65536 + 21;  // expected 28
  r.received = 30;
  r.packets = 30;
  s.on_rtp(r, second + 100 * kMs);
  n = s.poll(r, s.next_report_ns(), out);
  p = parse(std::span<const std::uint8_t>(out.data(), n));
  REQUIRE(p.blocks.size() == 1);
  CHECK(p.blocks[0].fraction_lost == 0);
  CHECK(p.blocks[0].cumulative_lost == -2);

  // Nothing since: an empty RR, still with SDES.
  const std::int64_t t = s.next_report_ns();
  n = s.poll(r, t, out);
  p = parse(std::span<const std::uint8_t>(out.data(), n));
  CHECK(p.blocks.empty());
  CHECK(p.cname == "rtp2jack@test");
}

TEST_CASE("rtcp session: LSR and DLSR from the sender's SR") {
  net::RtcpSession s(net::RtcpConfig{});
  const std::uint64_t ntp = (std::uint64_t{0xe8a1b2c3} << 32) | 0x12345678;
  net::ReceptionState r = stream_state(42, 0, 99, 100);
  s.on_rtp(r, 0);

  SUBCASE("from the locked stream") {
    const auto got = s.on_rtcp(sender_report(42, ntp, 1000), 1 * kSec);
    CHECK(got.valid);
    CHECK(got.sender_report);
    // 1.5 s after the SR: DLSR = 1.5 * 65536.
    const auto b = s.report_block(r, 2500 * kMs);
    CHECK(b.lsr == 0xb2c31234);  // the middle 32 bits
    CHECK(b.dlsr == 98304);
  }
  SUBCASE("from another SSRC: not ours to echo") {
    s.on_rtcp(sender_report(43, ntp, 1000), 1 * kSec);
    const auto b = s.report_block(r, 2 * kSec);
    CHECK(b.lsr == 0);
    CHECK(b.dlsr == 0);
  }
  SUBCASE("another sender's SR does not displace ours while ours is live") {
    s.on_rtcp(sender_report(42, ntp, 1000), 1 * kSec);
    r.packets += 1;
    s.on_rtp(r, 1010 * kMs);
    s.on_rtcp(sender_report(43, ntp + (1ull << 32), 1000), 1020 * kMs);  // 10 ms after our RTP
    CHECK(s.report_block(r, 2 * kSec).lsr == 0xb2c31234);
    CHECK(s.stats(r, core::AudioStatus{}, 0).sr_received == 2);
  }
  SUBCASE("malformed RTCP is counted and changes nothing") {
    Bytes bad = sender_report(42, ntp, 1000);
    bad[3] = 7;  // SR length one word too long: the SDES header becomes its body
    CHECK_FALSE(s.on_rtcp(bad, 1 * kSec).valid);
    CHECK_FALSE(s.on_rtcp(Bytes{0x80}, 1 * kSec).valid);
    const auto st = s.stats(r, core::AudioStatus{}, 0);
    CHECK(st.invalid == 2);
    CHECK(st.sr_received == 0);
    CHECK(s.report_block(r, 2 * kSec).lsr == 0);
  }
}

TEST_CASE("rtcp session: report timing per RFC 3550 sections 6.2 and 6.3") {
  std::array<std::uint8_t, net::kMaxReceiverCompound> out{};
  double sum = 0;
  int count = 0;
  std::int64_t shortest = INT64_MAX, longest = 0, first_min = INT64_MAX, first_max = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    net::RtcpConfig cfg;
    cfg.seed = seed;
    net::RtcpSession s(cfg);
    CHECK(s.next_report_ns() == INT64_MAX);  // no stream, nobody to report to
    net::ReceptionState r = stream_state(7, 0, 0, 1);
    std::int64_t now = 10 * kSec;
    s.on_rtp(r, now);
    const std::int64_t first = s.next_report_ns() - now;
    first_min = std::min(first_min, first);
    first_max = std::max(first_max, first);
    std::int64_t at = s.next_report_ns();
    for (int i = 0; i < 20; ++i) {
      // RTP keeps coming (the sender is alive).
      r.received += 250;
      r.packets += 250;
      r.highest_seq += 250;
      s.on_rtp(r, at - 1);
      REQUIRE(s.poll(r, at, out) > 0);
      const std::int64_t gap = s.next_report_ns() - at;
      shortest = std::min(shortest, gap);
      longest = std::max(longest, gap);
      sum += static_cast<double>(gap);
      ++count;
      at = s.next_report_ns();
    }
  }
  // The first report after half the minimum interval, randomised 0.5-1.5.
  CHECK(first_min >= 1250 * kMs);
  CHECK(first_max <= 3750 * kMs);
  // Then Td = 5 s, randomised over [2.5, 7.5] s, 5 s on average.
  CHECK(shortest >= 2500 * kMs);
  CHECK(longest <= 7500 * kMs);
  CHECK(shortest < 3000 * kMs);  // the randomisation does spread them
  CHECK(longest > 7000 * kMs);
  CHECK(sum / count == doctest::Approx(5e9).epsilon(0.08));
}

TEST_CASE("rtcp session: a silent or departed sender is no longer reported to; BYE on leaving") {
  std::array<std::uint8_t, net::kMaxReceiverCompound> out{};
  net::RtcpSession s(net::RtcpConfig{});
  net::ReceptionState r = stream_state(9, 0, 9, 10);
  CHECK(s.goodbye(r, 0, out) == 0);  // section 6.3.7: never spoke, no BYE
  s.on_rtp(r, 0);

  SUBCASE("timeout after 5 intervals of silence (section 6.3.5)") {
    std::int64_t at = s.next_report_ns();
    REQUIRE(s.poll(r, at, out) > 0);
    at = 26 * kSec;  // nothing heard for > 25 s
    CHECK(s.poll(r, at, out) == 0);
    CHECK(s.next_report_ns() == INT64_MAX);
    r.packets += 1;  // the sender is back
    r.received += 1;
    r.highest_seq += 1;
    s.on_rtp(r, at);
    CHECK(s.next_report_ns() > at);
    CHECK(s.next_report_ns() <= at + 7500 * kMs);
  }
  SUBCASE("the sender's BYE (section 6.6)") {
    CHECK(s.on_rtcp(bye(9), 1 * kSec).valid);
    CHECK(s.poll(r, s.next_report_ns(), out) == 0);
    CHECK(s.next_report_ns() == INT64_MAX);
  }
  SUBCASE("our BYE comes last, after RR and SDES") {
    REQUIRE(s.poll(r, s.next_report_ns(), out) > 0);
    const std::size_t n = s.goodbye(r, 20 * kSec, out);
    REQUIRE(n > 0);
    CHECK(out[1] == 201);
    const Parsed p = parse(std::span<const std::uint8_t>(out.data(), n));
    CHECK(p.byes == std::vector<std::uint32_t>{s.ssrc()});
    CHECK(s.stats(r, core::AudioStatus{}, 0).rr_sent == 2);
  }
}

TEST_CASE("rtcp session: our SSRC never equals the sender's") {
  // Find the SSRC a seed gives, then send from it: the session moves away.
  net::RtcpConfig cfg;
  cfg.seed = 99;
  const std::uint32_t taken = net::RtcpSession(cfg).ssrc();
  net::RtcpSession s(cfg);
  REQUIRE(s.ssrc() == taken);
  s.on_rtp(stream_state(taken, 0, 0, 1), 0);
  CHECK(s.ssrc() != taken);
  CHECK(s.ssrc() != 0);
}

TEST_CASE("rtcp session: end-to-end latency arithmetic") {
  net::RtcpConfig cfg;
  cfg.output_pipeline_frames = 48;  // 1 ms
  net::RtcpSession s(cfg);
  // The SR says RTP timestamp 1000 was captured at Unix 1'700'000'000.5 s.
  const std::uint64_t ntp = ((1'700'000'000ull + kNtpUnix) << 32) | 0x80000000u;
  net::ReceptionState r = stream_state(5, 0, 100, 101);
  r.ts_offset = -1000;           // stream position 0 is RTP timestamp 1000
  r.highest_ts = 1000 + 48'000;
  s.on_rtp(r, 0);
  REQUIRE(s.on_rtcp(sender_report(5, ntp, 1000), 0).sender_report);

  core::AudioStatus a;
  a.epoch = 1;
  a.playing = true;
  a.cursor = 48'000;  // one second after the SR's sample: captured at ...001.5 s
  a.cycle_ns = 5 * kSec;
  a.period_ns = 2'666'667;  // 128 frames at 48 kHz
  // It leaves our port at cycle + 2 periods + 1 ms (monotonic); choose the
  // clock offset so that this is 60 ms after its capture.
  const std::int64_t out_mono = 5 * kSec + 2 * 2'666'667 + 1'000'000;
  const std::int64_t capture_real = (1'700'000'001LL * kSec) + 500 * kMs;
  const std::int64_t offset = capture_real + 60 * kMs - out_mono;

  std::int64_t e2e = 0;
  REQUIRE(s.e2e(r, a, offset, e2e));
  CHECK(e2e == 60 * kMs);
  net::RtcpStats st = s.stats(r, a, offset);
  CHECK(st.e2e_known);
  CHECK(st.e2e_latency_ms == doctest::Approx(60.0).epsilon(1e-9));
  CHECK(st.sr_received == 1);

  SUBCASE("the RTP timestamp wraps between the SR and the cursor") {
    // Same SR instant, but its RTP timestamp just below 2^32.
    net::RtcpSession w(cfg);
    net::ReceptionState rw = r;
    rw.ts_offset = -(std::int64_t{0xffffff00});
    rw.highest_ts = std::int64_t{0xffffff00} + 48'000;  // extended past the wrap
    w.on_rtp(rw, 0);
    w.on_rtcp(sender_report(5, ntp, 0xffffff00), 0);
    REQUIRE(w.e2e(rw, a, offset, e2e));
    CHECK(e2e == 60 * kMs);
  }
  SUBCASE("negative or absurd: unknown, and counted") {
    st = s.stats(r, a, offset - 61 * kMs);  // output 1 ms before capture
    CHECK_FALSE(st.e2e_known);
    CHECK(st.e2e_rejected == 1);
    st = s.stats(r, a, offset + 11 * kSec);
    CHECK_FALSE(st.e2e_known);
    CHECK(st.e2e_rejected == 2);
  }
  SUBCASE("unknown without a playing audio status of this epoch, or with another sender's SR") {
    core::AudioStatus stale = a;
    stale.epoch = 0;
    CHECK_FALSE(s.e2e(r, stale, offset, e2e));
    core::AudioStatus idle = a;
    idle.playing = false;
    CHECK_FALSE(s.e2e(r, idle, offset, e2e));
    net::ReceptionState other = r;
    other.ssrc = 6;
    CHECK_FALSE(s.e2e(other, a, offset, e2e));
    CHECK_FALSE(s.stats(other, a, offset).e2e_known);
    CHECK(s.stats(other, a, offset).e2e_rejected == 0);
  }
}

TEST_CASE("rtcp session: reception statistics straight from StreamReceiver") {
  // Real packets through the real receiver: 1-byte Opus packets (TOC only,
  // 20 ms CELT stereo) with sequence numbers across a wrap, three lost.
  core::RecordPool pool(256);
  core::SpscQueue<core::Message> to_audio(512);
  core::SpscQueue<core::Message> to_net(512);
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  net::StreamReceiver rx({2, -1, {false, 960}}, pool, to_audio, to_net, model, status);
  net::RtcpSession s(net::RtcpConfig{});
  std::uint16_t seq = 65530;
  std::uint32_t ts = 1000;
  std::int64_t now = 0;
  for (int i = 0; i < 16; ++i, ++seq, ts += 960, now += 20 * kMs) {
    if (seq == 65533 || seq == 2 || seq == 3) continue;
    // Arrival 1 ms late for packet 1: transit differences 48, 48, 0, ...
    const std::int64_t arrival = now + (i == 1 ? kMs : 0);
    Bytes p = {0x80, 96, static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq)};
    put32(p, ts);
    put32(p, 0x77777777);
    p.push_back(0xfc);
    rx.on_datagram(p, arrival, now);
    s.on_rtp(rx.reception(), now);
    while (auto m = to_audio.try_pop()) (void)pool.release(m->record);
  }
  const net::ReceptionState r = rx.reception();
  CHECK(r.locked);
  CHECK(r.ssrc == 0x77777777);
  CHECK(r.received == 13);
  const auto b = s.report_block(r, now);
  CHECK(b.ssrc == 0x77777777);
  CHECK(b.ext_highest_seq == 0x00010009);
  CHECK(b.cumulative_lost == 3);
  CHECK(b.fraction_lost == 48);
  // A.8 by hand: D = 48, 48 (the late packet and the one after), then 0:
  // J = 3, 5.8125, then decays by 15/16 per packet over the 10 after.
  double j = 3.0;
  j += (48 - j) / 16;
  for (int i = 0; i < 10; ++i) j += (0 - j) / 16;
  CHECK(b.jitter == static_cast<std::uint32_t>(std::lround(j)));
}
