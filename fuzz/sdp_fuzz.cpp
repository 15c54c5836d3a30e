// libFuzzer target: net::parse_session_description, which reads SDP from
// --sdp files and, with SAP, from the network.
//
// Beyond "no crash, no out-of-bounds read": a description it accepts names
// an audio port, a payload type in 0..127, a rate and at least one
// channel, and an address; Opus is always 48000/2 (RFC 7587); a refusal
// gives a line number within the text and a reason.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "net/session_description.hpp"

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "sdp_fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = net::parse_session_description(text);
  if (const auto* e = std::get_if<net::SdpError>(&r)) {
    int lines = 1;
    for (const char c : text) lines += c == '\n';
    FUZZ_CHECK(e->line >= 0 && e->line <= lines);
    FUZZ_CHECK(!e->why.empty());
    return 0;
  }
  const auto& s = std::get<net::SessionDescription>(r);
  FUZZ_CHECK(s.port != 0);
  FUZZ_CHECK(s.payload_type >= 0 && s.payload_type <= 127);
  FUZZ_CHECK(s.format.rate > 0 && s.format.channels >= 1);
  FUZZ_CHECK(!s.address.empty());
  FUZZ_CHECK(s.media_line >= 1);
  if (s.format.encoding == net::PayloadFormat::Encoding::Opus)
    FUZZ_CHECK(s.format.rate == 48000 && s.format.channels == 2);
  return 0;
}
