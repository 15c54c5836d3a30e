#include "net/rtp_packet.hpp"

#include "net/byte_order.hpp"

namespace net {

const char* to_string(RtpError e) noexcept {
  switch (e) {
    case RtpError::None: return "ok";
    case RtpError::TooShort: return "shorter than an RTP header";
    case RtpError::BadVersion: return "RTP version is not 2";
    case RtpError::CsrcOverrun: return "CSRC list beyond the packet";
    case RtpError::ExtensionOverrun: return "header extension beyond the packet";
    case RtpError::BadPadding: return "bad padding length";
    case RtpError::Rtcp: return "RTCP packet";
  }
  return "unknown";
}

RtpError parse_rtp(std::span<const std::uint8_t> data, RtpPacket& out) noexcept {
  constexpr std::size_t kFixed = 12;
  if (data.size() < 2) return RtpError::TooShort;
  const std::uint8_t b0 = data[0];
  const std::uint8_t b1 = data[1];
  if ((b0 >> 6) != 2) return RtpError::BadVersion;
  // RFC 5761 section 4: RTCP packet types 192-223 land on payload types
  // 64-95 when the marker bit is read; they are never RTP.
  if ((b1 & 0x7f) >= 64 && (b1 & 0x7f) <= 95) return RtpError::Rtcp;
  if (data.size() < kFixed) return RtpError::TooShort;

  const bool padding = (b0 & 0x20) != 0;
  out.has_extension = (b0 & 0x10) != 0;
  out.csrc_count = b0 & 0x0f;
  out.marker = (b1 & 0x80) != 0;
  out.payload_type = b1 & 0x7f;
  out.seq = be16(&data[2]);
  out.timestamp = be32(&data[4]);
  out.ssrc = be32(&data[8]);

  std::size_t pos = kFixed + std::size_t{out.csrc_count} * 4;
  if (pos > data.size()) return RtpError::CsrcOverrun;

  out.extension_profile = 0;
  out.extension = {};
  if (out.has_extension) {
    // RFC 3550 section 5.3.1: 16-bit profile, 16-bit length in 32-bit words.
    if (pos + 4 > data.size()) return RtpError::ExtensionOverrun;
    out.extension_profile = be16(&data[pos]);
    const std::size_t words = be16(&data[pos + 2]);
    pos += 4;
    if (pos + words * 4 > data.size()) return RtpError::ExtensionOverrun;
    out.extension = data.subspan(pos, words * 4);
    pos += words * 4;
  }

  std::size_t end = data.size();
  out.padding = 0;
  if (padding) {
    // RFC 3550 section 5.1: the last octet counts the padding, itself included.
    const std::uint8_t count = data[end - 1];
    if (count == 0 || count > end - pos) return RtpError::BadPadding;
    out.padding = count;
    end -= count;
  }
  out.payload = data.subspan(pos, end - pos);
  return RtpError::None;
}

}  // namespace net
