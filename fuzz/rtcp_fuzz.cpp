// libFuzzer target: net::parse_rtcp, net::RtcpSession and the receiver-report
// builder on arbitrary datagrams.
//
// Beyond "no out-of-bounds read" (ASan: libFuzzer's buffer is exactly the
// input's size):
// - a compound is accepted only if it is whole 32-bit words, starts with an
//   unpadded SR or RR of version 2 (RFC 3550 A.2), and every span the
//   visitor sees lies inside the datagram;
// - validation alone and the visiting walk agree;
// - a rejected compound reports nothing;
// - the session swallows anything: valid or invalid is counted exactly once;
// - what the builder writes from input-chosen fields parses back to the
//   same fields (RFC 3550 sections 6.4.2, 6.5, 6.6).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "net/rtcp.hpp"
#include "net/rtcp_session.hpp"

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "rtcp_fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace {

bool inside(std::span<const std::uint8_t> part, std::span<const std::uint8_t> whole) {
  if (part.empty()) return true;
  const auto* b = whole.data();
  const auto* e = whole.data() + whole.size();
  return part.data() >= b && part.data() <= e && part.size() <= static_cast<std::size_t>(e - part.data());
}

struct Checker final : net::RtcpVisitor {
  std::span<const std::uint8_t> whole;
  unsigned calls = 0;
  unsigned reports = 0;
  std::uint32_t reporter = 0;
  net::RtcpReportBlock block;
  unsigned blocks = 0;
  std::string_view cname;
  unsigned byes = 0;
  std::uint32_t bye_ssrc = 0;
  void on_sender_report(const net::RtcpSenderInfo&) override { ++calls, ++reports; }
  void on_receiver_report(std::uint32_t r) override {
    ++calls, ++reports;
    reporter = r;
  }
  void on_report_block(std::uint32_t, const net::RtcpReportBlock& b) override {
    ++calls;
    FUZZ_CHECK(b.cumulative_lost >= -0x800000 && b.cumulative_lost <= 0x7fffff);
    block = b;
    ++blocks;
  }
  void on_sdes_item(std::uint32_t, std::uint8_t type, std::span<const std::uint8_t> t) override {
    ++calls;
    FUZZ_CHECK(type != net::kSdesEnd);
    FUZZ_CHECK(inside(t, whole));
    if (type == net::kSdesCname) cname = {reinterpret_cast<const char*>(t.data()), t.size()};
  }
  void on_bye(std::uint32_t s) override {
    ++calls;
    ++byes;
    bye_ssrc = s;
  }
  void on_bye_reason(std::span<const std::uint8_t> t) override {
    ++calls;
    FUZZ_CHECK(inside(t, whole));
  }
  void on_app(std::uint32_t, std::uint8_t sub, std::span<const std::uint8_t, 4> name,
              std::span<const std::uint8_t> data) override {
    ++calls;
    FUZZ_CHECK(sub < 32);
    FUZZ_CHECK(inside(name, whole));
    FUZZ_CHECK(inside(data, whole));
  }
  void on_other(std::uint8_t type, std::span<const std::uint8_t> p) override {
    ++calls;
    FUZZ_CHECK(type < 200 || type > 204);
    FUZZ_CHECK(inside(p, whole));
    FUZZ_CHECK(p.size() >= 4 && p.size() % 4 == 0);
  }
};

std::uint32_t be32(std::span<const std::uint8_t> d, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = v << 8 | (at + i < d.size() ? d[at + i] : 0u);
  return v;
}

void parse_checks(std::span<const std::uint8_t> d) {
  Checker c;
  c.whole = d;
  const net::RtcpError alone = net::parse_rtcp(d, nullptr);
  const net::RtcpError visited = net::parse_rtcp(d, &c);
  FUZZ_CHECK(alone == visited);
  FUZZ_CHECK(net::to_string(visited) != nullptr);
  if (visited != net::RtcpError::None) {
    FUZZ_CHECK(c.calls == 0);  // rejected whole: nothing reported
    return;
  }
  FUZZ_CHECK(d.size() >= 4 && d.size() % 4 == 0);
  FUZZ_CHECK((d[0] >> 6) == 2 && (d[0] & 0x20) == 0);
  FUZZ_CHECK(d[1] == 200 || d[1] == 201);
  FUZZ_CHECK(net::looks_like_rtcp(d));
  FUZZ_CHECK(c.reports >= 1);
}

void session_checks(std::span<const std::uint8_t> d) {
  net::RtcpConfig cfg;
  cfg.seed = be32(d, 0);
  cfg.output_pipeline_frames = 32;
  net::RtcpSession s(cfg);
  net::ReceptionState r;
  r.locked = true;
  r.ssrc = be32(d, 4);  // often the SR's own SSRC in seeds
  r.epoch = 1;
  r.base_seq = 100;
  r.highest_seq = 100 + (d.empty() ? 0 : d[0]);
  r.received = 50;
  r.packets = 50;
  r.jitter = 12.5;
  r.highest_ts = be32(d, 16);
  r.ts_offset = -r.highest_ts;
  s.on_rtp(r, 0);
  const auto got = s.on_rtcp(d, 1'000'000'000);
  FUZZ_CHECK(got.valid == (net::parse_rtcp(d, nullptr) == net::RtcpError::None));
  core::AudioStatus a;
  a.epoch = 1;
  a.playing = true;
  a.cursor = be32(d, 24);
  a.cycle_ns = 2'000'000'000;
  a.period_ns = 2'666'667;
  const net::RtcpStats st = s.stats(r, a, static_cast<std::int64_t>(be32(d, 8)) * 1'000'000'000);
  FUZZ_CHECK(st.invalid + (got.valid ? 1 : 0) == 1);
  FUZZ_CHECK(st.sr_received == (got.sender_report ? 1u : 0u));
  if (st.e2e_known) FUZZ_CHECK(st.e2e_latency_ms >= 0 && st.e2e_latency_ms <= 10'000);
  std::array<std::uint8_t, net::kMaxReceiverCompound> out{};
  for (std::int64_t t = 1; t <= 4; ++t) {
    const std::size_t n = s.poll(r, t * 4'000'000'000, out);
    if (n > 0) FUZZ_CHECK(net::parse_rtcp(std::span<const std::uint8_t>(out.data(), n), nullptr) ==
                          net::RtcpError::None);
  }
  const std::size_t n = s.goodbye(r, 20'000'000'000, out);
  if (n > 0) FUZZ_CHECK(net::parse_rtcp(std::span<const std::uint8_t>(out.data(), n), nullptr) ==
                        net::RtcpError::None);
}

void builder_checks(std::span<const std::uint8_t> d) {
  // Fields from the input's first 32 octets, the CNAME and reason from the rest.
  net::RtcpReceiverContent c;
  c.ssrc = be32(d, 0);
  c.has_block = !d.empty() && (d[0] & 1);
  c.bye = !d.empty() && (d[0] & 2);
  c.block.ssrc = be32(d, 4);
  c.block.fraction_lost = static_cast<std::uint8_t>(be32(d, 8));
  c.block.cumulative_lost = static_cast<std::int32_t>(be32(d, 12));
  c.block.ext_highest_seq = be32(d, 16);
  c.block.jitter = be32(d, 20);
  c.block.lsr = be32(d, 24);
  c.block.dlsr = be32(d, 28);
  const std::size_t rest = d.size() > 32 ? d.size() - 32 : 0;
  const std::size_t split = rest / 2;
  c.cname = {reinterpret_cast<const char*>(d.data()) + (rest ? 32 : 0), split};
  c.bye_reason = {reinterpret_cast<const char*>(d.data()) + (rest ? 32 + split : 0), rest - split};
  std::array<std::uint8_t, net::kMaxReceiverCompound> out{};
  const std::size_t n = net::build_receiver_compound(c, out);
  FUZZ_CHECK(n > 0 && n % 4 == 0 && n <= out.size());
  Checker k;
  k.whole = std::span<const std::uint8_t>(out.data(), n);
  FUZZ_CHECK(net::parse_rtcp(k.whole, &k) == net::RtcpError::None);
  FUZZ_CHECK(k.reporter == c.ssrc);
  FUZZ_CHECK(k.blocks == (c.has_block ? 1u : 0u));
  if (c.has_block) {
    FUZZ_CHECK(k.block.ssrc == c.block.ssrc);
    FUZZ_CHECK(k.block.fraction_lost == c.block.fraction_lost);
    FUZZ_CHECK(k.block.cumulative_lost ==
               std::clamp<std::int32_t>(c.block.cumulative_lost, -0x800000, 0x7fffff));
    FUZZ_CHECK(k.block.ext_highest_seq == c.block.ext_highest_seq);
    FUZZ_CHECK(k.block.jitter == c.block.jitter);
    FUZZ_CHECK(k.block.lsr == c.block.lsr);
    FUZZ_CHECK(k.block.dlsr == c.block.dlsr);
  }
  FUZZ_CHECK(k.cname == c.cname.substr(0, 255));
  FUZZ_CHECK(k.byes == (c.bye ? 1u : 0u));
  if (c.bye) FUZZ_CHECK(k.bye_ssrc == c.ssrc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> d(data, size);
  parse_checks(d);
  session_checks(d);
  builder_checks(d);
  return 0;
}
