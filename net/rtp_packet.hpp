// RTP fixed header parsing (RFC 3550 section 5.1).
//
// Thread: any. Real-time safe: no allocation; the parsed packet points into
// the caller's buffer. Every length field is checked against the datagram
// before it is trusted.
#pragma once

#include <cstdint>
#include <span>

namespace net {

enum class RtpError : std::uint8_t {
  None,
  TooShort,          // fewer than 12 bytes
  BadVersion,        // version field is not 2
  CsrcOverrun,       // the CSRC list runs past the end
  ExtensionOverrun,  // the header extension runs past the end
  BadPadding,        // padding count 0 or longer than the payload
  Rtcp,              // an RTCP packet multiplexed on the RTP port (RFC 5761 section 4)
};

const char* to_string(RtpError e) noexcept;

struct RtpPacket {
  bool marker = false;
  std::uint8_t payload_type = 0;
  std::uint16_t seq = 0;
  std::uint32_t timestamp = 0;
  std::uint32_t ssrc = 0;
  std::uint8_t csrc_count = 0;
  bool has_extension = false;
  std::uint16_t extension_profile = 0;
  std::span<const std::uint8_t> extension;  // extension body, without its 4-byte header
  std::uint8_t padding = 0;                 // padding bytes removed from the end
  std::span<const std::uint8_t> payload;    // may be empty
};

/// Thread: any. Real-time safe. Parses `data` into `out`; on error `out` is
/// unspecified.
RtpError parse_rtp(std::span<const std::uint8_t> data, RtpPacket& out) noexcept;

}  // namespace net
