// RTCP (RFC 3550 section 6): a bounds-checked parser of compound packets and
// a builder of the compound packets a receiver sends (RR + SDES CNAME, and
// BYE when it leaves).
//
// Thread: any. Real-time safe: no allocation; parsed text points into the
// caller's buffer. Every length field is checked against the datagram before
// it is trusted, and a compound packet is checked whole (RFC 3550 A.2) before
// the visitor sees any of it: a malformed compound is dropped entire.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace net {

// RFC 3550 section 12.1.
enum class RtcpType : std::uint8_t { SR = 200, RR = 201, SDES = 202, BYE = 203, APP = 204 };
// RFC 3550 section 12.2.
inline constexpr std::uint8_t kSdesEnd = 0;
inline constexpr std::uint8_t kSdesCname = 1;

enum class RtcpError : std::uint8_t {
  None,
  TooShort,         // shorter than a header, or not a multiple of 4 octets
  BadVersion,       // a packet's version is not 2
  NotReportFirst,   // the compound does not start with SR or RR (A.2)
  FirstPadded,      // padding bit on the first packet (A.2)
  PaddingNotLast,   // padding bit on a packet other than the last (section 6.4.1)
  BadPadding,       // padding count 0, not a multiple of 4, or larger than the packet
  LengthOverrun,    // a length field runs past the datagram
  BadSr,            // SR shorter than its sender info and report blocks
  BadRr,            // RR shorter than its report blocks
  BadSdes,          // SDES chunks or items inconsistent with the length
  BadBye,           // BYE SSRC list or reason inconsistent with the length
  BadApp,           // APP shorter than SSRC + name
};

const char* to_string(RtcpError e) noexcept;

/// RFC 5761 section 4: on a port shared with RTP, an RTCP packet is one whose
/// second octet (the packet type) is 192..223 (payload types 64..95 with the
/// marker bit, which RTP must not use). Thread: any. Real-time safe.
bool looks_like_rtcp(std::span<const std::uint8_t> data) noexcept;

/// RFC 3550 section 6.4.1: the sender info of an SR.
struct RtcpSenderInfo {
  std::uint32_t ssrc = 0;
  std::uint64_t ntp = 0;  // NTP timestamp, 32.32 fixed point seconds since 1900
  std::uint32_t rtp_ts = 0;
  std::uint32_t packet_count = 0;
  std::uint32_t octet_count = 0;
};

/// RFC 3550 section 6.4.1: one report block of an SR or RR.
struct RtcpReportBlock {
  std::uint32_t ssrc = 0;             // the source reported on
  std::uint8_t fraction_lost = 0;     // over the interval, 1/256 units
  std::int32_t cumulative_lost = 0;   // 24-bit signed
  std::uint32_t ext_highest_seq = 0;  // cycles << 16 | highest sequence number
  std::uint32_t jitter = 0;           // RTP timestamp units
  std::uint32_t lsr = 0;              // middle 32 bits of the last SR's NTP timestamp
  std::uint32_t dlsr = 0;             // delay since that SR, 1/65536 s
};

/// What a parsed compound packet contains, one call per item, in order.
/// Defaults ignore everything; override what you need.
class RtcpVisitor {
 public:
  virtual ~RtcpVisitor() = default;
  virtual void on_sender_report(const RtcpSenderInfo&) {}
  virtual void on_receiver_report(std::uint32_t /*reporter*/) {}
  virtual void on_report_block(std::uint32_t /*reporter*/, const RtcpReportBlock&) {}
  virtual void on_sdes_item(std::uint32_t /*ssrc*/, std::uint8_t /*type*/,
                            std::span<const std::uint8_t> /*text*/) {}
  virtual void on_bye(std::uint32_t /*ssrc*/) {}
  virtual void on_bye_reason(std::span<const std::uint8_t> /*text*/) {}
  virtual void on_app(std::uint32_t /*ssrc*/, std::uint8_t /*subtype*/,
                      std::span<const std::uint8_t, 4> /*name*/,
                      std::span<const std::uint8_t> /*data*/) {}
  /// A packet type this parser does not decode (RTPFB, PSFB, XR, ...):
  /// skipped by its length field.
  virtual void on_other(std::uint8_t /*type*/, std::span<const std::uint8_t> /*packet*/) {}
};

/// Thread: any. Real-time safe. Validates the compound packet `data` whole
/// (RFC 3550 section 6.1 and appendix A.2), then, only if it is valid and
/// `visitor` is not null, walks it calling `visitor`.
RtcpError parse_rtcp(std::span<const std::uint8_t> data, RtcpVisitor* visitor) noexcept;

/// What a receiver's compound packet carries (RFC 3550 section 6.1: an RR
/// first, then SDES with a CNAME, then BYE if leaving).
struct RtcpReceiverContent {
  std::uint32_t ssrc = 0;          // ours
  bool has_block = false;          // a report block on the sender (section 6.4.2)
  RtcpReportBlock block;
  std::string_view cname;          // at most 255 octets (section 6.5); longer is cut
  bool bye = false;                // append a BYE for `ssrc` (section 6.6)
  std::string_view bye_reason;     // optional, at most 255 octets
};

/// Largest compound build_receiver_compound() writes: RR with one block
/// (32), SDES with a 255-octet CNAME (4 + 4 + 2 + 255 + 1, padded: 268), BYE
/// with a 255-octet reason (8 + 256).
inline constexpr std::size_t kMaxReceiverCompound = 32 + 268 + 264;

/// Thread: any. Real-time safe. Writes the compound packet into `out`;
/// returns the octets written, 0 if `out` is too small.
std::size_t build_receiver_compound(const RtcpReceiverContent& content,
                                    std::span<std::uint8_t> out) noexcept;

}  // namespace net
