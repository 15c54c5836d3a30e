#include "net/session_description.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using Encoding = net::PayloadFormat::Encoding;

net::SessionDescription ok(const std::string& text) {
  auto r = net::parse_session_description(text);
  if (auto* e = std::get_if<net::SdpError>(&r)) FAIL("line " << e->line << ": " << e->why);
  return std::get<net::SessionDescription>(r);
}

net::SdpError refused(const std::string& text) {
  auto r = net::parse_session_description(text);
  REQUIRE(std::holds_alternative<net::SdpError>(r));
  return std::get<net::SdpError>(r);
}

// What ffmpeg 5.1 (Debian 12) writes with -sdp_file, unchanged.
const char* kFfmpegOpus =
    "v=0\n"
    "o=- 0 0 IN IP4 127.0.0.1\n"
    "s=No Name\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "a=tool:libavformat LIBAVFORMAT_VERSION\n"
    "m=audio 5990 RTP/AVP 96\n"
    "b=AS:128\n"
    "a=rtpmap:96 opus/48000/2\n"
    "a=fmtp:96 sprop-stereo=1\n";
const char* kFfmpegL24Multicast =
    "v=0\r\n"
    "o=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=No Name\r\n"
    "c=IN IP4 239.1.2.3/4\r\n"
    "t=0 0\r\n"
    "a=tool:libavformat LIBAVFORMAT_VERSION\r\n"
    "m=audio 5992 RTP/AVP 97\r\n"
    "b=AS:2304\r\n"
    "a=rtpmap:97 L24/48000/2\r\n";
const char* kFfmpegL16Static =
    "v=0\n"
    "o=- 0 0 IN IP4 127.0.0.1\n"
    "s=No Name\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "m=audio 5994 RTP/AVP 10\n"
    "b=AS:1411\n";

}  // namespace

TEST_CASE("sdp: ffmpeg's Opus description") {
  const auto s = ok(kFfmpegOpus);
  CHECK(s.name == "No Name");
  CHECK(s.origin_address == "127.0.0.1");
  CHECK(s.address == "127.0.0.1");
  CHECK(s.ttl == -1);
  CHECK(s.port == 5990);
  CHECK(s.payload_type == 96);
  CHECK(s.format.encoding == Encoding::Opus);
  CHECK(s.format.rate == 48000);
  CHECK(s.format.channels == 2);
  CHECK(s.stereo);
  CHECK(s.sources.empty());
}

TEST_CASE("sdp: ffmpeg's L24 to a multicast group, CRLF line ends, TTL") {
  const auto s = ok(kFfmpegL24Multicast);
  CHECK(s.address == "239.1.2.3");
  CHECK(s.ttl == 4);
  CHECK(s.port == 5992);
  CHECK(s.payload_type == 97);
  CHECK(s.format.encoding == Encoding::L24);
  CHECK(s.format.rate == 48000);
  CHECK(s.format.channels == 2);
}

TEST_CASE("sdp: a static payload type without rtpmap (RFC 3551: 10 is L16/44100/2)") {
  const auto s = ok(kFfmpegL16Static);
  CHECK(s.payload_type == 10);
  CHECK(s.format.encoding == Encoding::L16);
  CHECK(s.format.rate == 44100);
  CHECK(s.format.channels == 2);
}

TEST_CASE("sdp: an AES67 description: media-level c=, ptime, source filter, the first playable format") {
  const auto s = ok(
      "v=0\n"
      "o=- 1311738121 1311738121 IN IP4 192.168.1.1\n"
      "s=Stage left\n"
      "c=IN IP4 10.0.0.1\n"
      "t=0 0\n"
      "m=video 5000 RTP/AVP 31\n"
      "m=audio 5004 RTP/AVP 0 98 96\n"
      "c=IN IP4 239.69.83.67/32\n"
      "a=rtpmap:0 PCMU/8000\n"
      "a=rtpmap:98 L24/96000/8\n"
      "a=rtpmap:96 L16/48000/2\n"
      "a=ptime:1\n"
      "a=source-filter: incl IN IP4 239.69.83.67 192.168.1.1\n"
      "a=source-filter: incl IN IP4 239.1.1.1 192.168.9.9\n");
  CHECK(s.name == "Stage left");
  CHECK(s.address == "239.69.83.67");
  CHECK(s.ttl == 32);
  CHECK(s.port == 5004);
  CHECK(s.payload_type == 98);  // PCMU is not ours; 98 comes before 96
  CHECK(s.format.encoding == Encoding::L24);
  CHECK(s.format.rate == 96000);
  CHECK(s.format.channels == 8);
  CHECK(s.ptime_ms == doctest::Approx(1.0));
  REQUIRE(s.sources.size() == 1);  // the filter for another group does not apply
  CHECK(s.sources[0] == "192.168.1.1");
}

TEST_CASE("sdp: a session-level source filter with a wildcard destination applies") {
  const auto s = ok(
      "v=0\no=- 1 1 IN IP4 10.0.0.2\ns=x\nc=IN IP4 232.1.1.1/16\nt=0 0\n"
      "a=source-filter: incl IN IP4 * 10.0.0.2 10.0.0.3\n"
      "m=audio 6000 RTP/AVP 96\na=rtpmap:96 opus/48000/2\n");
  REQUIRE(s.sources.size() == 2);
  CHECK(s.sources[1] == "10.0.0.3");
}

TEST_CASE("sdp: a description rtp2jack cannot use is refused with its line and the reason") {
  CHECK(refused("").line == 0);
  CHECK(refused("hello\n").line == 1);
  CHECK(refused("v=1\n").why.find("v=0") != std::string::npos);
  CHECK(refused("v=0\ns=x\nbogus line\n").line == 3);
  const auto no_c = refused("v=0\ns=x\nt=0 0\nm=audio 5004 RTP/AVP 96\na=rtpmap:96 opus/48000/2\n");
  CHECK(no_c.line == 4);
  CHECK(no_c.why.find("c=") != std::string::npos);
  const auto bad_c = refused("v=0\ns=x\nc=IN IP4 239.1.1.1/999\n");
  CHECK(bad_c.line == 3);
  const auto pcmu = refused("v=0\ns=x\nc=IN IP4 1.2.3.4\nm=audio 5004 RTP/AVP 0\n");
  CHECK(pcmu.line == 4);
  CHECK(pcmu.why.find("no Opus, L16 or L24") != std::string::npos);
  const auto opus_rate = refused("v=0\ns=x\nc=IN IP4 1.2.3.4\nm=audio 5004 RTP/AVP 96\na=rtpmap:96 opus/16000/1\n");
  CHECK(opus_rate.line == 4);
  CHECK(opus_rate.why.find("RFC 7587") != std::string::npos);
  const auto srtp = refused("v=0\ns=x\nc=IN IP4 1.2.3.4\nm=audio 5004 RTP/SAVP 96\na=rtpmap:96 opus/48000/2\n");
  CHECK(srtp.why.find("RTP/SAVP") != std::string::npos);
  const auto excl = refused("v=0\ns=x\nc=IN IP4 1.2.3.4\nm=audio 5004 RTP/AVP 96\n"
                            "a=source-filter: excl IN IP4 * 10.0.0.9\n");
  CHECK(excl.line == 5);
  CHECK(excl.why.find("excl") != std::string::npos);
  CHECK(refused("v=0\ns=x\nc=IN IP4 1.2.3.4\nm=video 5004 RTP/AVP 31\n").why == "no m=audio line");
  CHECK(refused("v=0\ns=x\nc=IN IP4 1.2.3.4\nm=audio 50x4 RTP/AVP 96\n").line == 4);
}

TEST_CASE("sdp: a disabled media (port 0) is passed over for the next") {
  const auto s = ok("v=0\ns=x\nc=IN IP4 1.2.3.4\nm=audio 0 RTP/AVP 96\na=rtpmap:96 opus/48000/2\n"
                    "m=audio 7000 RTP/AVP 97\na=rtpmap:97 L16/48000/1\n");
  CHECK(s.port == 7000);
  CHECK(s.format.encoding == Encoding::L16);
  CHECK(s.format.channels == 1);
}
