#include "net/sap_packet.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace net {

SapPacket parse_sap(const std::uint8_t* data, std::size_t size) noexcept {
  SapPacket p;
  if (size > kMaxSapBytes) {
    p.error = SapPacket::Error::Oversized;
    return p;
  }
  if (size < 4) {
    p.error = SapPacket::Error::Truncated;
    return p;
  }
  const std::uint8_t flags = data[0];
  if ((flags >> 5) != 1) {
    p.error = SapPacket::Error::Version;
    return p;
  }
  p.ipv6 = (flags & 0x10) != 0;
  p.deletion = (flags & 0x04) != 0;
  if ((flags & 0x02) != 0) {
    p.error = SapPacket::Error::Encrypted;
    return p;
  }
  if ((flags & 0x01) != 0) {
    p.error = SapPacket::Error::Compressed;
    return p;
  }
  const std::size_t auth = std::size_t{data[1]} * 4;
  p.hash = static_cast<std::uint16_t>(data[2] << 8 | data[3]);
  const std::size_t source = p.ipv6 ? 16 : 4;
  std::size_t at = 4;
  if (size < at + source + auth) {
    p.error = SapPacket::Error::Truncated;
    return p;
  }
  std::memcpy(p.source, data + at, source);
  at += source + auth;
  const auto* text = reinterpret_cast<const char*>(data + at);
  std::string_view rest(text, size - at);
  // The payload type is present unless the payload is SDP that says so by
  // starting with its version line.
  if (rest.substr(0, 4) != "v=0\r" && rest.substr(0, 4) != "v=0\n") {
    const std::size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) {
      // A deletion may carry only the session's o= line (RFC 2974
      // section 3), with no type before it.
      if (p.deletion) {
        p.sdp = rest;
        return p;
      }
      p.error = SapPacket::Error::Truncated;
      return p;
    }
    const std::string_view type = rest.substr(0, nul);
    if (type != "application/sdp") {
      p.error = SapPacket::Error::NotSdp;
      return p;
    }
    rest.remove_prefix(nul + 1);
  }
  p.sdp = rest;
  return p;
}

std::string sap_source_text(const SapPacket& p) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(p.ipv6 ? AF_INET6 : AF_INET, p.source, text, sizeof text);
  return text;
}

const char* sap_error_text(SapPacket::Error e) noexcept {
  switch (e) {
    case SapPacket::Error::None: return "ok";
    case SapPacket::Error::Truncated: return "truncated";
    case SapPacket::Error::Version: return "not SAP version 1";
    case SapPacket::Error::Encrypted: return "encrypted";
    case SapPacket::Error::Compressed: return "compressed";
    case SapPacket::Error::NotSdp: return "not SDP";
    case SapPacket::Error::Oversized: return "oversized";
  }
  return "?";
}

}  // namespace net
