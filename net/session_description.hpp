// A session description (SDP, RFC 8866) as rtp2jack uses it: where the
// stream comes (connection address, TTL, port), what it carries (payload
// type, encoding, rate, channels, packet time) and whom to take it from
// (RFC 4570 source filters). Read from a file (--sdp) or from a SAP
// announcement (RFC 2974); anything else in it is ignored.
//
// Thread: any (control for --sdp, net for announcements). Allocates: not
// for the real-time path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "net/payload_format.hpp"

namespace net {

struct SessionDescription {
  std::string name;          // s=
  std::string origin;        // o=: username, session id and address, as one line's words
  std::string origin_address;
  std::string address;       // c= of the chosen media (or the session's): unicast or a group
  int ttl = -1;              // an IPv4 group's TTL (c=.../TTL); -1 when none was given
  std::uint16_t port = 0;    // m=
  int media_line = 0;        // the chosen m= line's number (1-based), for messages
  int payload_type = -1;     // the first format of the chosen m= line rtp2jack can play
  PayloadFormat format;      // a=rtpmap, or RFC 3551's static types
  double ptime_ms = 0;       // a=ptime; 0 when not given
  bool stereo = false;       // Opus: a=fmtp sprop-stereo=1 (RFC 7587 section 7)
  // a=source-filter: incl (RFC 4570), for the chosen media: the only
  // senders to take packets from; empty: any.
  std::vector<std::string> sources;
};

/// Why a description cannot be used: its line (1-based; 0 for the whole
/// text) and the reason, in a few words.
struct SdpError {
  int line = 0;
  std::string why;
};

/// Parses `text` (CRLF or LF line ends) and chooses the first audio media
/// whose first playable format is Opus, L16 or L24.
std::variant<SessionDescription, SdpError> parse_session_description(std::string_view text);

}  // namespace net
