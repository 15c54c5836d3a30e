#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "net/sap_packet.hpp"
#include "net/session_directory.hpp"

namespace {

using Error = net::SapPacket::Error;
using Event = net::SessionDirectory::Event;

// A SAP datagram: header (IPv4 source 192.0.2.9), optional payload type.
std::vector<std::uint8_t> sap(const std::string& sdp, std::uint16_t hash = 0x5052, bool deletion = false,
                              const char* type = "application/sdp", std::uint8_t auth_words = 0) {
  const std::uint8_t header[] = {static_cast<std::uint8_t>(0x20 | (deletion ? 0x04 : 0)), auth_words,
                                 static_cast<std::uint8_t>(hash >> 8), static_cast<std::uint8_t>(hash), 192, 0, 2, 9};
  const std::size_t type_size = type == nullptr ? 0 : std::char_traits<char>::length(type) + 1;
  // Sized at once: GCC 12 warns falsely (-Warray-bounds) where it grows.
  std::vector<std::uint8_t> p(sizeof header + auth_words * 4u + type_size + sdp.size(), 0xAB);
  auto at = std::copy(std::begin(header), std::end(header), p.begin()) + auth_words * 4;
  if (type != nullptr) at = std::copy(type, type + type_size, at);
  std::copy(sdp.begin(), sdp.end(), at);
  return p;
}

std::string describe(const std::string& name, int port, const std::string& rtpmap = "opus/48000/2",
                     const std::string& version = "0") {
  return "v=0\r\no=- 7 " + version + " IN IP4 192.0.2.9\r\ns=" + name +
         "\r\nc=IN IP4 239.255.0.7/32\r\nt=0 0\r\nm=audio " + std::to_string(port) +
         " RTP/AVP 96\r\na=rtpmap:96 " + rtpmap + "\r\n";
}

net::SapPacket parse(const std::vector<std::uint8_t>& p) { return net::parse_sap(p.data(), p.size()); }

}  // namespace

TEST_CASE("SAP: an announcement with and without its payload type (RFC 2974 section 3)") {
  const std::string text = describe("Studio A", 5004);
  // The result points into the packet: each packet outlives its result.
  const auto typed_packet = sap(text);
  const auto typed = parse(typed_packet);
  REQUIRE(typed.ok());
  CHECK_FALSE(typed.deletion);
  CHECK(typed.hash == 0x5052);
  CHECK(net::sap_source_text(typed) == "192.0.2.9");
  CHECK(typed.sdp == text);
  const auto bare_packet = sap(text, 1, false, nullptr);
  const auto bare = parse(bare_packet);
  REQUIRE(bare.ok());
  CHECK(bare.sdp == text);
  // Authentication data is skipped by its length.
  const auto authed_packet = sap(text, 1, false, "application/sdp", 3);
  const auto authed = parse(authed_packet);
  REQUIRE(authed.ok());
  CHECK(authed.sdp == text);
}

TEST_CASE("SAP: what cannot be read is refused with its reason") {
  const std::string text = describe("x", 5004);
  auto p = sap(text);
  CHECK(net::parse_sap(p.data(), 3).error == Error::Truncated);
  CHECK(net::parse_sap(p.data(), 7).error == Error::Truncated);
  auto v2 = p;
  v2[0] = 0x40;
  CHECK(parse(v2).error == Error::Version);
  auto enc = p;
  enc[0] |= 0x02;
  CHECK(parse(enc).error == Error::Encrypted);
  auto zip = p;
  zip[0] |= 0x01;
  CHECK(parse(zip).error == Error::Compressed);
  CHECK(parse(sap(text, 1, false, "text/plain")).error == Error::NotSdp);
  // Authentication longer than the packet.
  auto auth = sap(text);
  auth[1] = 255;
  CHECK(parse(auth).error == Error::Truncated);
  // A payload type with no end.
  std::vector<std::uint8_t> open{0x20, 0, 0, 1, 1, 2, 3, 4, 'a', 'p', 'p'};
  CHECK(parse(open).error == Error::Truncated);
  std::vector<std::uint8_t> big = sap(std::string(net::kMaxSapBytes, 'x'));
  CHECK(parse(big).error == Error::Oversized);
}

TEST_CASE("SAP: an IPv6 source") {
  std::vector<std::uint8_t> p{0x30, 0, 0, 1};
  for (int i = 0; i < 15; ++i) p.push_back(0);
  p.push_back(1);
  const std::string text = describe("v6", 5004);
  p.insert(p.end(), text.begin(), text.end());
  const auto r = parse(p);
  REQUIRE(r.ok());
  CHECK(r.ipv6);
  CHECK(net::sap_source_text(r) == "::1");
}

TEST_CASE("Directory: new, repeated, changed, deleted") {
  net::SessionDirectory dir;
  const auto a = sap(describe("Studio A", 5004), 1);
  auto u = dir.take(a.data(), a.size(), 1'000);
  CHECK(u.event == Event::New);
  CHECK(u.session.name == "Studio A");
  REQUIRE(u.session.description);
  CHECK(u.session.where() == "239.255.0.7:5004");
  CHECK(u.session.format() == "opus/48000/2");
  CHECK(dir.take(a.data(), a.size(), 2'000).event == Event::Repeated);
  CHECK(dir.sessions().size() == 1);
  CHECK(dir.sessions()[0].interval_ns == 1'000);
  // A new version (new hash, new port) of the same session is a change.
  const auto b = sap(describe("Studio A", 5006, "L24/48000/2", "1"), 2);
  u = dir.take(b.data(), b.size(), 3'000);
  CHECK(u.event == Event::Changed);
  CHECK(u.session.where() == "239.255.0.7:5006");
  CHECK(u.session.format() == "L24/48000/2");
  CHECK(dir.sessions().size() == 1);
  // Another name from the same origin (ffmpeg gives them all one) is
  // another session.
  const auto c = sap(describe("Studio B", 5008), 3);
  CHECK(dir.take(c.data(), c.size(), 3'000).event == Event::New);
  CHECK(dir.sessions().size() == 2);
  REQUIRE(dir.find("Studio B") != nullptr);
  // A deletion by hash and source, with no payload at all.
  const auto del = sap("", 2, true, nullptr);
  u = dir.take(del.data(), del.size(), 4'000);
  CHECK(u.event == Event::Deleted);
  CHECK(u.session.name == "Studio A");
  CHECK(dir.find("Studio A") == nullptr);
  // A deletion by origin and name, under a hash never heard.
  const auto del_b = sap(describe("Studio B", 5008), 99, true);
  CHECK(dir.take(del_b.data(), del_b.size(), 5'000).event == Event::Deleted);
  CHECK(dir.sessions().empty());
  CHECK(dir.counters().deletions == 2);
  CHECK(dir.counters().announcements == 4);
}

TEST_CASE("Directory: unplayable sessions are listed with the reason; junk is counted") {
  net::SessionDirectory dir;
  const std::string video =
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=Camera\r\nc=IN IP4 239.1.1.1\r\nt=0 0\r\n"
      "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
  const auto v = sap(video);
  const auto u = dir.take(v.data(), v.size(), 1);
  CHECK(u.event == Event::New);
  CHECK_FALSE(u.session.description);
  CHECK_FALSE(u.session.why.empty());
  const auto junk = sap("v=0\r\nno origin here\r\n");
  CHECK(dir.take(junk.data(), junk.size(), 2).event == Event::None);
  std::vector<std::uint8_t> noise{0xff, 0x00, 0x12};
  CHECK(dir.take(noise.data(), noise.size(), 3).event == Event::None);
  CHECK(dir.counters().invalid == 2);
  CHECK(dir.sessions().size() == 1);
}

TEST_CASE("Directory: bounded, and silent sessions expire after ten intervals or an hour") {
  net::SessionDirectory dir;
  for (int i = 0; i < 70; ++i) {
    std::string name = "s";
    name += std::to_string(i);  // not "s" + ...: GCC 12 warns falsely (-Wrestrict) there
    const auto p = sap(describe(name, 5000 + 2 * i), static_cast<std::uint16_t>(i));
    dir.take(p.data(), p.size(), i);
  }
  CHECK(dir.sessions().size() == net::SessionDirectory::kMaxSessions);
  CHECK(dir.counters().evicted == 6);
  CHECK(dir.find("s0") == nullptr);  // heard least recently
  CHECK(dir.find("s69") != nullptr);
  const std::int64_t hour = net::SessionDirectory::kMinTimeoutNs;
  CHECK(dir.expire(hour).empty());
  CHECK(dir.expire(hour + 69).size() == 63);  // all but s69 silent for over an hour
  CHECK(dir.sessions().size() == 1);
}
