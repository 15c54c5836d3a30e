// A SAP packet (Session Announcement Protocol, RFC 2974 section 3): the
// header rtp2jack reads, and where the session description in it starts.
//
//   0                   1                   2                   3
//   V=1 |A|R|T|E|C|   auth len    |         msg id hash           |
//   originating source (4 bytes, A=0; 16 bytes, A=1)
//   authentication data (auth len 32-bit words)
//   optional payload type: a MIME type and a NUL ("application/sdp")
//   payload
//
// Encrypted (E) and compressed (C) payloads are not read: neither AES67
// devices nor PipeWire send them, and RFC 2974 section 7 deprecates
// encryption. The payload type may be left out when the payload is SDP
// (section 3, "v=0" then starts the payload).
//
// Thread: any. No allocation; the result points into the packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace net {

/// The largest announcement taken: RFC 2974 section 3 asks for at most 1
/// kbyte of SDP; four times that is room for generous senders.
inline constexpr std::size_t kMaxSapBytes = 4096;

struct SapPacket {
  enum class Error : std::uint8_t {
    None,
    Truncated,    // shorter than its header says
    Version,      // V != 1
    Encrypted,    // E set
    Compressed,   // C set
    NotSdp,       // a payload type other than application/sdp
    Oversized,    // over kMaxSapBytes
  };
  Error error = Error::None;
  bool deletion = false;           // T: a deletion, not an announcement
  bool ipv6 = false;               // A
  std::uint16_t hash = 0;          // message id hash
  std::uint8_t source[16] = {};    // originating source: 4 bytes (IPv4) or 16
  std::string_view sdp;            // the payload: an SDP text

  bool ok() const noexcept { return error == Error::None; }
};

/// Reads the header of a SAP datagram of `size` bytes at `data`.
SapPacket parse_sap(const std::uint8_t* data, std::size_t size) noexcept;

/// The originating source as text ("192.0.2.1", "2001:db8::1").
std::string sap_source_text(const SapPacket& p);

/// A few words for an error, for counters and --verbose.
const char* sap_error_text(SapPacket::Error e) noexcept;

}  // namespace net
