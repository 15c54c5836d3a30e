#include "net/rtp_packet.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

// A header as RFC 3550 section 5.1 lays it out.
Bytes header(std::uint8_t b0, std::uint8_t b1, std::uint16_t seq = 0x1234,
             std::uint32_t ts = 0x01020304, std::uint32_t ssrc = 0xdeadbeef) {
  return {b0,
          b1,
          static_cast<std::uint8_t>(seq >> 8),
          static_cast<std::uint8_t>(seq),
          static_cast<std::uint8_t>(ts >> 24),
          static_cast<std::uint8_t>(ts >> 16),
          static_cast<std::uint8_t>(ts >> 8),
          static_cast<std::uint8_t>(ts),
          static_cast<std::uint8_t>(ssrc >> 24),
          static_cast<std::uint8_t>(ssrc >> 16),
          static_cast<std::uint8_t>(ssrc >> 8),
          static_cast<std::uint8_t>(ssrc)};
}

void append(Bytes& b, std::initializer_list<std::uint8_t> more) { b.insert(b.end(), more); }

net::RtpError parse(const Bytes& b, net::RtpPacket& p) { return net::parse_rtp(b, p); }

}  // namespace

TEST_CASE("rtp: a plain header with payload") {
  Bytes b = header(0x80, 0x80 | 96);
  append(b, {0xfc, 0xff, 0xfe});
  net::RtpPacket p;
  REQUIRE(parse(b, p) == net::RtpError::None);
  CHECK(p.marker);
  CHECK(p.payload_type == 96);
  CHECK(p.seq == 0x1234);
  CHECK(p.timestamp == 0x01020304u);
  CHECK(p.ssrc == 0xdeadbeefu);
  CHECK(p.csrc_count == 0);
  CHECK_FALSE(p.has_extension);
  CHECK(p.payload.size() == 3);
  CHECK(p.payload[0] == 0xfc);
}

TEST_CASE("rtp: CSRC list, extension and padding are skipped") {
  Bytes b = header(0x80 | 0x20 | 0x10 | 2, 97);
  append(b, {0, 0, 0, 1, 0, 0, 0, 2});          // two CSRCs
  append(b, {0xbe, 0xde, 0x00, 0x01});          // extension header: one word follows
  append(b, {0x10, 0xaa, 0x00, 0x00});          // RFC 8285 one-byte element
  append(b, {0x11, 0x22});                       // payload
  append(b, {0x00, 0x00, 0x03});                 // three bytes of padding
  net::RtpPacket p;
  REQUIRE(parse(b, p) == net::RtpError::None);
  CHECK(p.csrc_count == 2);
  CHECK(p.has_extension);
  CHECK(p.extension_profile == 0xbede);
  CHECK(p.extension.size() == 4);
  CHECK(p.padding == 3);
  REQUIRE(p.payload.size() == 2);
  CHECK(p.payload[0] == 0x11);
  CHECK(p.payload[1] == 0x22);
}

TEST_CASE("rtp: malformed headers are refused with their reason") {
  net::RtpPacket p;
  SUBCASE("empty and short") {
    CHECK(parse({}, p) == net::RtpError::TooShort);
    Bytes b = header(0x80, 96);
    b.resize(11);
    CHECK(parse(b, p) == net::RtpError::TooShort);
  }
  SUBCASE("version") {
    CHECK(parse(header(0x40, 96), p) == net::RtpError::BadVersion);
    CHECK(parse(header(0x00, 96), p) == net::RtpError::BadVersion);
    CHECK(parse(header(0xc0, 96), p) == net::RtpError::BadVersion);
  }
  SUBCASE("CSRC count beyond the packet") {
    Bytes b = header(0x80 | 15, 96);
    append(b, {0, 0, 0, 1});
    CHECK(parse(b, p) == net::RtpError::CsrcOverrun);
  }
  SUBCASE("extension header cut short") {
    Bytes b = header(0x90, 96);
    append(b, {0xbe, 0xde});
    CHECK(parse(b, p) == net::RtpError::ExtensionOverrun);
  }
  SUBCASE("extension length beyond the packet") {
    Bytes b = header(0x90, 96);
    append(b, {0xbe, 0xde, 0x40, 0x00, 1, 2, 3, 4});
    CHECK(parse(b, p) == net::RtpError::ExtensionOverrun);
  }
  SUBCASE("padding longer than the payload") {
    Bytes b = header(0xa0, 96);
    append(b, {1, 2, 9});
    CHECK(parse(b, p) == net::RtpError::BadPadding);
  }
  SUBCASE("padding count of zero") {
    Bytes b = header(0xa0, 96);
    append(b, {1, 2, 0});
    CHECK(parse(b, p) == net::RtpError::BadPadding);
  }
  SUBCASE("padding with no payload at all") {
    // The padding count would be the SSRC's last byte: far past the payload.
    CHECK(parse(header(0xa0, 96), p) == net::RtpError::BadPadding);
  }
}

TEST_CASE("rtp: RTCP multiplexed on the port is told apart (RFC 5761 section 4)") {
  net::RtpPacket p;
  for (int pt : {200, 201, 202, 203, 204}) {
    Bytes b = header(0x80, static_cast<std::uint8_t>(pt));  // RTCP: V=2, then the packet type byte
    CHECK(parse(b, p) == net::RtpError::Rtcp);
  }
  CHECK(parse(header(0x80, 96), p) == net::RtpError::None);
  CHECK(parse(header(0x80, 0x80 | 96), p) == net::RtpError::None);
}
