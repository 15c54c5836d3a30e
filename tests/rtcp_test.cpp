#include "net/rtcp.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

void add(Bytes& b, std::initializer_list<std::uint8_t> more) { b.insert(b.end(), more); }

void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (24 - 8 * i)));
}

// An RTCP header (RFC 3550 section 6.4.1): V=2, P, count, PT, length in
// words minus one.
void header(Bytes& b, bool padding, unsigned count, std::uint8_t pt, std::uint16_t words_minus_one) {
  b.push_back(static_cast<std::uint8_t>(0x80 | (padding ? 0x20 : 0) | count));
  b.push_back(pt);
  b.push_back(static_cast<std::uint8_t>(words_minus_one >> 8));
  b.push_back(static_cast<std::uint8_t>(words_minus_one));
}

// An SR with one report block, then SDES CNAME "ab@c" — what a sender sends.
Bytes sr_compound() {
  Bytes b;
  header(b, false, 1, 200, 12);  // 4 + 24 sender info + 24 block = 52 octets = 13 words
  put32(b, 0x11223344);          // sender SSRC
  put32(b, 0xe8a1b2c3);          // NTP seconds
  put32(b, 0x80000000);          // NTP fraction: .5
  put32(b, 123456);              // RTP timestamp
  put32(b, 500);                 // packets
  put32(b, 64000);               // octets
  put32(b, 0xaabbccdd);          // block: about this source
  put32(b, (25u << 24) | 0xfffffeu);  // fraction 25, cumulative -2
  put32(b, 0x00010005);
  put32(b, 77);
  put32(b, 0x12345678);
  put32(b, 65536);
  header(b, false, 1, 202, 3);   // SSRC + (1 + 1 + 4 + 1 null, padded to 8) = 12 octets + 4
  put32(b, 0x11223344);
  add(b, {1, 4, 'a', 'b', '@', 'c', 0, 0});
  return b;
}

struct Record final : net::RtcpVisitor {
  std::vector<net::RtcpSenderInfo> srs;
  std::vector<std::uint32_t> rrs;
  std::vector<net::RtcpReportBlock> blocks;
  std::vector<std::string> cnames;
  std::vector<std::uint32_t> byes;
  std::string reason;
  std::vector<std::uint8_t> others;
  int apps = 0;
  void on_sender_report(const net::RtcpSenderInfo& s) override { srs.push_back(s); }
  void on_receiver_report(std::uint32_t r) override { rrs.push_back(r); }
  void on_report_block(std::uint32_t, const net::RtcpReportBlock& b) override { blocks.push_back(b); }
  void on_sdes_item(std::uint32_t, std::uint8_t type, std::span<const std::uint8_t> text) override {
    if (type == net::kSdesCname) cnames.emplace_back(text.begin(), text.end());
  }
  void on_bye(std::uint32_t s) override { byes.push_back(s); }
  void on_bye_reason(std::span<const std::uint8_t> t) override { reason.assign(t.begin(), t.end()); }
  void on_app(std::uint32_t, std::uint8_t, std::span<const std::uint8_t, 4>,
              std::span<const std::uint8_t>) override {
    ++apps;
  }
  void on_other(std::uint8_t type, std::span<const std::uint8_t>) override { others.push_back(type); }
};

}  // namespace

TEST_CASE("rtcp: an SR with a report block and SDES CNAME") {
  const Bytes b = sr_compound();
  Record r;
  REQUIRE(net::parse_rtcp(b, &r) == net::RtcpError::None);
  REQUIRE(r.srs.size() == 1);
  CHECK(r.srs[0].ssrc == 0x11223344);
  CHECK(r.srs[0].ntp == 0xe8a1b2c380000000ull);
  CHECK(r.srs[0].rtp_ts == 123456);
  CHECK(r.srs[0].packet_count == 500);
  CHECK(r.srs[0].octet_count == 64000);
  REQUIRE(r.blocks.size() == 1);
  CHECK(r.blocks[0].ssrc == 0xaabbccdd);
  CHECK(r.blocks[0].fraction_lost == 25);
  CHECK(r.blocks[0].cumulative_lost == -2);  // 24-bit signed, sign-extended
  CHECK(r.blocks[0].ext_highest_seq == 0x00010005);
  CHECK(r.blocks[0].jitter == 77);
  CHECK(r.blocks[0].lsr == 0x12345678);
  CHECK(r.blocks[0].dlsr == 65536);
  REQUIRE(r.cnames.size() == 1);
  CHECK(r.cnames[0] == "ab@c");
  CHECK(net::looks_like_rtcp(b));
}

TEST_CASE("rtcp: RR, BYE with reason, APP and unknown types are walked in order") {
  Bytes b;
  header(b, false, 0, 201, 1);
  put32(b, 0x01020304);
  header(b, false, 0, 205, 2);  // RTPFB (RFC 4585): not ours, skipped by length
  put32(b, 1);
  put32(b, 2);
  header(b, false, 3, 204, 3);  // APP subtype 3
  put32(b, 0x01020304);
  add(b, {'t', 'e', 's', 't'});
  put32(b, 0xdeadbeef);
  header(b, false, 2, 203, 4);  // BYE of two SSRCs with a 5-octet reason (+2 pad)
  put32(b, 7);
  put32(b, 8);
  add(b, {5, 'b', 'y', 'e', '!', '!', 0, 0});
  Record r;
  REQUIRE(net::parse_rtcp(b, &r) == net::RtcpError::None);
  CHECK(r.rrs == std::vector<std::uint32_t>{0x01020304});
  CHECK(r.blocks.empty());
  CHECK(r.others == std::vector<std::uint8_t>{205});
  CHECK(r.apps == 1);
  CHECK(r.byes == std::vector<std::uint32_t>{7, 8});
  CHECK(r.reason == "bye!!");
}

TEST_CASE("rtcp: padding on the last packet is honoured") {
  Bytes b;
  header(b, false, 0, 201, 1);
  put32(b, 9);
  header(b, true, 1, 203, 2);  // BYE of one SSRC, then 4 octets of padding
  put32(b, 9);
  add(b, {0, 0, 0, 4});
  Record r;
  REQUIRE(net::parse_rtcp(b, &r) == net::RtcpError::None);
  CHECK(r.byes == std::vector<std::uint32_t>{9});
  CHECK(r.reason.empty());
}

TEST_CASE("rtcp: malformed compounds are rejected whole, nothing reported") {
  auto check = [](Bytes b, net::RtcpError want) {
    Record r;
    CHECK(net::parse_rtcp(b, &r) == want);
    CHECK(r.srs.empty());
    CHECK(r.rrs.empty());
    CHECK(r.cnames.empty());
  };
  SUBCASE("empty and not whole words") {
    check({}, net::RtcpError::TooShort);
    Bytes b = sr_compound();
    b.push_back(0);
    check(b, net::RtcpError::TooShort);
  }
  SUBCASE("version") {
    Bytes b = sr_compound();
    b[0] = static_cast<std::uint8_t>((b[0] & 0x3f) | 0x40);
    check(b, net::RtcpError::BadVersion);
    b = sr_compound();
    b[52] = static_cast<std::uint8_t>(b[52] & 0x3f);  // the SDES header: version 0
    check(b, net::RtcpError::BadVersion);
  }
  SUBCASE("the first packet must be SR or RR (A.2)") {
    Bytes b;
    header(b, false, 1, 203, 1);
    put32(b, 1);
    check(b, net::RtcpError::NotReportFirst);
  }
  SUBCASE("padding on the first, or on a packet that is not the last") {
    Bytes b = sr_compound();
    b[0] |= 0x20;
    check(b, net::RtcpError::FirstPadded);
    Bytes c;
    header(c, false, 0, 201, 1);
    put32(c, 1);
    header(c, true, 1, 203, 1);
    put32(c, 1);
    header(c, false, 1, 203, 1);
    put32(c, 1);
    check(c, net::RtcpError::PaddingNotLast);
  }
  SUBCASE("bad padding count") {
    for (const std::uint8_t count : std::array<std::uint8_t, 2>{0, 9}) {
      Bytes b;
      header(b, false, 0, 201, 1);
      put32(b, 1);
      header(b, true, 0, 203, 1);
      add(b, {0, 0, 0, count});
      check(b, net::RtcpError::BadPadding);
    }
  }
  SUBCASE("a length beyond the datagram") {
    Bytes b = sr_compound();
    b[55] = 4;  // the SDES claims one word more than there is
    check(b, net::RtcpError::LengthOverrun);
    b = sr_compound();
    b[2] = 0xff;
    check(b, net::RtcpError::LengthOverrun);
  }
  SUBCASE("SR and RR shorter than their report blocks") {
    Bytes b = sr_compound();
    b[0] = 0x82;  // claims two blocks
    check(b, net::RtcpError::BadSr);
    Bytes c;
    header(c, false, 1, 201, 1);  // one block, no room for it
    put32(c, 1);
    check(c, net::RtcpError::BadRr);
  }
  SUBCASE("SDES: item past the end, no end octet, chunks missing") {
    Bytes b = sr_compound();
    b[61] = 9;  // CNAME length past the chunk
    check(b, net::RtcpError::BadSdes);
    b = sr_compound();
    b[66] = 1;  // the null octet becomes an item type with a length beyond the packet
    check(b, net::RtcpError::BadSdes);
    b = sr_compound();
    b[52] = 0x82;  // two chunks claimed, one present
    check(b, net::RtcpError::BadSdes);
  }
  SUBCASE("BYE: SSRCs or reason beyond the packet") {
    Bytes b;
    header(b, false, 0, 201, 1);
    put32(b, 1);
    header(b, false, 2, 203, 1);
    put32(b, 1);
    check(b, net::RtcpError::BadBye);
    Bytes c;
    header(c, false, 0, 201, 1);
    put32(c, 1);
    header(c, false, 1, 203, 2);
    put32(c, 1);
    add(c, {9, 'a', 'b', 'c'});
    check(c, net::RtcpError::BadBye);
  }
  SUBCASE("APP without its name") {
    Bytes b;
    header(b, false, 0, 201, 1);
    put32(b, 1);
    header(b, false, 0, 204, 1);
    put32(b, 1);
    check(b, net::RtcpError::BadApp);
  }
  SUBCASE("every truncation of a valid compound") {
    const Bytes full = sr_compound();
    for (std::size_t n = 0; n < full.size(); ++n) {
      if (n == 52) continue;  // the SR alone: a whole, valid compound
      Record r;
      CHECK(net::parse_rtcp(std::span<const std::uint8_t>(full.data(), n), &r) != net::RtcpError::None);
      CHECK(r.srs.empty());
    }
  }
}

TEST_CASE("rtcp: RFC 5761 demultiplexing by packet type") {
  CHECK(net::looks_like_rtcp(std::array<std::uint8_t, 2>{0x80, 200}));
  CHECK(net::looks_like_rtcp(std::array<std::uint8_t, 2>{0x81, 223}));
  CHECK_FALSE(net::looks_like_rtcp(std::array<std::uint8_t, 2>{0x80, 0x80 | 96}));  // RTP, marker
  CHECK_FALSE(net::looks_like_rtcp(std::array<std::uint8_t, 2>{0x80, 224}));
  CHECK_FALSE(net::looks_like_rtcp(std::array<std::uint8_t, 2>{0x40, 200}));  // version 1
  CHECK_FALSE(net::looks_like_rtcp(std::array<std::uint8_t, 1>{0x80}));
}

TEST_CASE("rtcp: the receiver's compound round-trips through the parser") {
  net::RtcpReceiverContent c;
  c.ssrc = 0x5eed5eed;
  c.has_block = true;
  c.block = {0x11223344, 48, 3, 0x00010009, 5, 0xa1b2c3d4, 131072};
  c.cname = "rtp2jack@host";
  std::array<std::uint8_t, net::kMaxReceiverCompound> out{};

  SUBCASE("RR + SDES") {
    const std::size_t n = net::build_receiver_compound(c, out);
    // RR 8 + 24, SDES 4 + 4 + 2 + 13 + 1 = 24: whole words.
    CHECK(n == 32 + 24);
    CHECK(out[0] == 0x81);
    CHECK(out[1] == 201);
    Record r;
    REQUIRE(net::parse_rtcp(std::span<const std::uint8_t>(out.data(), n), &r) == net::RtcpError::None);
    CHECK(r.rrs == std::vector<std::uint32_t>{0x5eed5eed});
    REQUIRE(r.blocks.size() == 1);
    const auto& b = r.blocks[0];
    CHECK(b.ssrc == 0x11223344);
    CHECK(b.fraction_lost == 48);
    CHECK(b.cumulative_lost == 3);
    CHECK(b.ext_highest_seq == 0x00010009);
    CHECK(b.jitter == 5);
    CHECK(b.lsr == 0xa1b2c3d4);
    CHECK(b.dlsr == 131072);
    CHECK(r.cnames == std::vector<std::string>{"rtp2jack@host"});
    CHECK(r.byes.empty());
  }
  SUBCASE("an empty RR, SDES and BYE with a reason; CNAME lengths that pad 0-3 octets") {
    c.has_block = false;
    c.bye = true;
    c.bye_reason = "bye";
    for (const std::string& name : std::vector<std::string>{"a", "ab", "abc", "abcd", std::string(300, 'x')}) {
      c.cname = name;
      const std::size_t n = net::build_receiver_compound(c, out);
      REQUIRE(n > 0);
      CHECK(n % 4 == 0);
      Record r;
      REQUIRE(net::parse_rtcp(std::span<const std::uint8_t>(out.data(), n), &r) == net::RtcpError::None);
      CHECK(r.blocks.empty());
      REQUIRE(r.cnames.size() == 1);
      CHECK(r.cnames[0] == name.substr(0, 255));
      CHECK(r.byes == std::vector<std::uint32_t>{0x5eed5eed});
      CHECK(r.reason == "bye");
    }
  }
  SUBCASE("cumulative loss beyond 24 bits is clamped, not wrapped") {
    c.block.cumulative_lost = -0x900000;
    std::size_t n = net::build_receiver_compound(c, out);
    Record r;
    REQUIRE(net::parse_rtcp(std::span<const std::uint8_t>(out.data(), n), &r) == net::RtcpError::None);
    CHECK(r.blocks.at(0).cumulative_lost == -0x800000);
    c.block.cumulative_lost = 0x7fffffff;
    n = net::build_receiver_compound(c, out);
    Record r2;
    REQUIRE(net::parse_rtcp(std::span<const std::uint8_t>(out.data(), n), &r2) == net::RtcpError::None);
    CHECK(r2.blocks.at(0).cumulative_lost == 0x7fffff);
  }
  SUBCASE("too small a buffer writes nothing") {
    CHECK(net::build_receiver_compound(c, std::span<std::uint8_t>(out.data(), 40)) == 0);
  }
}
