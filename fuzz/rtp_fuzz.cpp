// libFuzzer target: net::parse_rtp on arbitrary datagrams.
//
// Beyond "no out-of-bounds read" (ASan sees that: libFuzzer hands over a heap
// buffer of exactly the input's size), every accepted packet must describe
// the datagram it came from: the fields are the header's bits, and the CSRC
// list, the extension, the payload and the padding tile the datagram in that
// order with nothing left over (RFC 3550 sections 5.1 and 5.3.1).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "net/rtp_packet.hpp"

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "rtp_fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                     \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

namespace {

bool inside(std::span<const std::uint8_t> part, std::span<const std::uint8_t> whole) {
  if (part.empty()) return true;  // an empty span may point anywhere
  const auto* b = whole.data();
  const auto* e = whole.data() + whole.size();
  return part.data() >= b && part.data() <= e && part.size() <= static_cast<std::size_t>(e - part.data());
}

void check_accepted(std::span<const std::uint8_t> d, const net::RtpPacket& p) {
  FUZZ_CHECK(d.size() >= 12);
  FUZZ_CHECK((d[0] >> 6) == 2);
  const int pt = d[1] & 0x7f;
  FUZZ_CHECK(pt < 64 || pt > 95);  // RFC 5761 section 4: those are RTCP
  FUZZ_CHECK(p.payload_type == pt);
  FUZZ_CHECK(p.marker == ((d[1] & 0x80) != 0));
  FUZZ_CHECK(p.csrc_count == (d[0] & 0x0f));
  FUZZ_CHECK(p.has_extension == ((d[0] & 0x10) != 0));
  FUZZ_CHECK(p.seq == ((d[2] << 8) | d[3]));
  FUZZ_CHECK(p.timestamp == ((std::uint32_t{d[4]} << 24) | (std::uint32_t{d[5]} << 16) |
                             (std::uint32_t{d[6]} << 8) | d[7]));
  FUZZ_CHECK(p.ssrc == ((std::uint32_t{d[8]} << 24) | (std::uint32_t{d[9]} << 16) |
                        (std::uint32_t{d[10]} << 8) | d[11]));

  // The CSRC list lies inside the datagram.
  std::size_t pos = 12 + std::size_t{p.csrc_count} * 4;
  FUZZ_CHECK(pos <= d.size());

  // The extension: its 4-byte header and body inside, the body in 32-bit words.
  if (p.has_extension) {
    FUZZ_CHECK(pos + 4 <= d.size());
    FUZZ_CHECK(p.extension_profile == ((d[pos] << 8) | d[pos + 1]));
    const std::size_t words = static_cast<std::size_t>((d[pos + 2] << 8) | d[pos + 3]);
    FUZZ_CHECK(p.extension.size() == words * 4);
    pos += 4;
    if (!p.extension.empty()) FUZZ_CHECK(p.extension.data() == d.data() + pos);
    FUZZ_CHECK(inside(p.extension, d));
    pos += p.extension.size();
  } else {
    FUZZ_CHECK(p.extension.empty());
    FUZZ_CHECK(p.extension_profile == 0);
  }
  FUZZ_CHECK(pos <= d.size());

  // Padding: only with the P bit, counted by the last octet, within what
  // follows the headers.
  const bool padded = (d[0] & 0x20) != 0;
  if (padded) {
    FUZZ_CHECK(p.padding >= 1);
    FUZZ_CHECK(p.padding == d[d.size() - 1]);
  } else {
    FUZZ_CHECK(p.padding == 0);
  }
  FUZZ_CHECK(p.padding <= d.size() - pos);

  // The payload is exactly what lies between the headers and the padding.
  FUZZ_CHECK(inside(p.payload, d));
  FUZZ_CHECK(p.payload.size() == d.size() - pos - p.padding);
  if (!p.payload.empty()) FUZZ_CHECK(p.payload.data() == d.data() + pos);
}

void check_rejected(std::span<const std::uint8_t> d, net::RtpError e) {
  switch (e) {
    case net::RtpError::TooShort:
      FUZZ_CHECK(d.size() < 12);
      break;
    case net::RtpError::BadVersion:
      FUZZ_CHECK(d.size() >= 2 && (d[0] >> 6) != 2);
      break;
    case net::RtpError::Rtcp:
      FUZZ_CHECK(d.size() >= 2 && (d[1] & 0x7f) >= 64 && (d[1] & 0x7f) <= 95);
      break;
    case net::RtpError::CsrcOverrun:
      FUZZ_CHECK(d.size() >= 12 && 12 + std::size_t{d[0] & 0x0fu} * 4 > d.size());
      break;
    case net::RtpError::ExtensionOverrun:
      FUZZ_CHECK(d.size() >= 12 && (d[0] & 0x10) != 0);
      break;
    case net::RtpError::BadPadding:
      FUZZ_CHECK(d.size() >= 12 && (d[0] & 0x20) != 0);
      break;
    case net::RtpError::None:
      FUZZ_CHECK(false);
      break;
  }
  FUZZ_CHECK(net::to_string(e) != nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> d(data, size);
  net::RtpPacket p;
  const net::RtpError e = net::parse_rtp(d, p);
  if (e == net::RtpError::None)
    check_accepted(d, p);
  else
    check_rejected(d, e);
  return 0;
}
