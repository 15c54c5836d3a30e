#include "net/rtcp.hpp"

#include <algorithm>
#include <cstring>

#include "net/byte_order.hpp"

namespace net {
namespace {

constexpr std::size_t kHeader = 4;       // V P count | PT | length (section 6.4.1)
constexpr std::size_t kSenderInfo = 20;  // NTP (8), RTP ts, packet count, octet count
constexpr std::size_t kBlock = 24;       // one report block

RtcpReportBlock read_block(const std::uint8_t* p) noexcept {
  RtcpReportBlock b;
  b.ssrc = be32(p);
  b.fraction_lost = p[4];
  // 24-bit two's complement (section 6.4.1: "signed"), sign-extended.
  const std::uint32_t raw = (std::uint32_t{p[5]} << 16) | (std::uint32_t{p[6]} << 8) | p[7];
  b.cumulative_lost = static_cast<std::int32_t>(raw ^ 0x800000u) - 0x800000;
  b.ext_highest_seq = be32(p + 8);
  b.jitter = be32(p + 12);
  b.lsr = be32(p + 16);
  b.dlsr = be32(p + 20);
  return b;
}

// SDES (section 6.5): `count` chunks of SSRC + items, each item list ended
// by a null octet and padded with nulls to the next 32-bit boundary.
bool walk_sdes(std::span<const std::uint8_t> body, unsigned count, RtcpVisitor* v) noexcept {
  std::size_t pos = 0;
  for (unsigned c = 0; c < count; ++c) {
    if (pos + 4 > body.size()) return false;
    const std::uint32_t ssrc = be32(&body[pos]);
    pos += 4;
    for (;;) {
      if (pos >= body.size()) return false;  // no end-of-list octet
      const std::uint8_t type = body[pos];
      if (type == kSdesEnd) {
        pos = (pos + 4) & ~std::size_t{3};  // the null octet, then up to the boundary
        if (pos > body.size()) return false;
        break;
      }
      if (pos + 2 > body.size()) return false;
      const std::size_t len = body[pos + 1];
      if (pos + 2 + len > body.size()) return false;
      if (v != nullptr) v->on_sdes_item(ssrc, type, body.subspan(pos + 2, len));
      pos += 2 + len;
    }
  }
  return pos == body.size();
}

// BYE (section 6.6): `count` SSRCs, then optionally a length-prefixed reason
// padded to the next 32-bit boundary.
bool walk_bye(std::span<const std::uint8_t> body, unsigned count, RtcpVisitor* v) noexcept {
  const std::size_t ids = std::size_t{count} * 4;
  if (ids > body.size()) return false;
  if (v != nullptr)
    for (std::size_t i = 0; i < ids; i += 4) v->on_bye(be32(&body[i]));
  if (ids == body.size()) return true;
  const std::size_t len = body[ids];
  if (ids + 1 + len > body.size()) return false;
  if (body.size() - (ids + 1 + len) >= 4) return false;  // more than padding after it
  if (v != nullptr) v->on_bye_reason(body.subspan(ids + 1, len));
  return true;
}

// One pass over the compound: validates when `v` is null, reports when not.
RtcpError walk(std::span<const std::uint8_t> data, RtcpVisitor* v) noexcept {
  if (data.size() < kHeader || data.size() % 4 != 0) return RtcpError::TooShort;
  std::size_t pos = 0;
  bool first = true;
  while (pos < data.size()) {
    if (data.size() - pos < kHeader) return RtcpError::TooShort;
    const std::uint8_t* h = &data[pos];
    if ((h[0] >> 6) != 2) return RtcpError::BadVersion;
    const bool padded = (h[0] & 0x20) != 0;
    const unsigned count = h[0] & 0x1f;
    const std::uint8_t pt = h[1];
    const std::size_t bytes = (std::size_t{be16(h + 2)} + 1) * 4;
    if (bytes > data.size() - pos) return RtcpError::LengthOverrun;
    // Appendix A.2: the first packet is an SR or RR without padding.
    if (first && pt != static_cast<std::uint8_t>(RtcpType::SR) &&
        pt != static_cast<std::uint8_t>(RtcpType::RR))
      return RtcpError::NotReportFirst;
    if (first && padded) return RtcpError::FirstPadded;
    std::size_t end = bytes;
    if (padded) {
      // Section 6.4.1: only the last packet of a compound may be padded; the
      // last octet counts the padding, itself included.
      if (pos + bytes != data.size()) return RtcpError::PaddingNotLast;
      const std::size_t pad = h[bytes - 1];
      if (pad == 0 || pad > bytes - kHeader) return RtcpError::BadPadding;
      end -= pad;
    }
    const std::span<const std::uint8_t> body = data.subspan(pos + kHeader, end - kHeader);
    switch (pt) {
      case static_cast<std::uint8_t>(RtcpType::SR): {
        if (body.size() < 4 + kSenderInfo + count * kBlock) return RtcpError::BadSr;
        if (v != nullptr) {
          RtcpSenderInfo si;
          si.ssrc = be32(&body[0]);
          si.ntp = (std::uint64_t{be32(&body[4])} << 32) | be32(&body[8]);
          si.rtp_ts = be32(&body[12]);
          si.packet_count = be32(&body[16]);
          si.octet_count = be32(&body[20]);
          v->on_sender_report(si);
          for (unsigned i = 0; i < count; ++i)
            v->on_report_block(si.ssrc, read_block(&body[4 + kSenderInfo + i * kBlock]));
        }
        break;
      }
      case static_cast<std::uint8_t>(RtcpType::RR): {
        if (body.size() < 4 + count * kBlock) return RtcpError::BadRr;
        if (v != nullptr) {
          const std::uint32_t reporter = be32(&body[0]);
          v->on_receiver_report(reporter);
          for (unsigned i = 0; i < count; ++i)
            v->on_report_block(reporter, read_block(&body[4 + i * kBlock]));
        }
        break;
      }
      case static_cast<std::uint8_t>(RtcpType::SDES):
        if (!walk_sdes(body, count, v)) return RtcpError::BadSdes;
        break;
      case static_cast<std::uint8_t>(RtcpType::BYE):
        if (!walk_bye(body, count, v)) return RtcpError::BadBye;
        break;
      case static_cast<std::uint8_t>(RtcpType::APP):
        // Section 6.7: SSRC, a 4-octet name, application data in words.
        if (body.size() < 8) return RtcpError::BadApp;
        if (v != nullptr)
          v->on_app(be32(&body[0]), static_cast<std::uint8_t>(count),
                    std::span<const std::uint8_t, 4>(&body[4], 4), body.subspan(8));
        break;
      default:
        // Section 6.1: types we do not know are skipped by their length.
        if (v != nullptr) v->on_other(pt, data.subspan(pos, bytes));
        break;
    }
    first = false;
    pos += bytes;
  }
  return RtcpError::None;
}

}  // namespace

const char* to_string(RtcpError e) noexcept {
  switch (e) {
    case RtcpError::None: return "ok";
    case RtcpError::TooShort: return "shorter than an RTCP header or not whole words";
    case RtcpError::BadVersion: return "RTCP version is not 2";
    case RtcpError::NotReportFirst: return "compound does not start with SR or RR";
    case RtcpError::FirstPadded: return "first packet of a compound is padded";
    case RtcpError::PaddingNotLast: return "padding on a packet that is not the last";
    case RtcpError::BadPadding: return "bad padding length";
    case RtcpError::LengthOverrun: return "length beyond the datagram";
    case RtcpError::BadSr: return "SR shorter than its contents";
    case RtcpError::BadRr: return "RR shorter than its report blocks";
    case RtcpError::BadSdes: return "malformed SDES";
    case RtcpError::BadBye: return "malformed BYE";
    case RtcpError::BadApp: return "APP shorter than SSRC and name";
  }
  return "unknown";
}

bool looks_like_rtcp(std::span<const std::uint8_t> data) noexcept {
  return data.size() >= 2 && (data[0] >> 6) == 2 && data[1] >= 192 && data[1] <= 223;
}

RtcpError parse_rtcp(std::span<const std::uint8_t> data, RtcpVisitor* visitor) noexcept {
  const RtcpError e = walk(data, nullptr);
  if (e != RtcpError::None || visitor == nullptr) return e;
  return walk(data, visitor);
}

std::size_t build_receiver_compound(const RtcpReceiverContent& c,
                                    std::span<std::uint8_t> out) noexcept {
  const std::size_t cname_len = std::min<std::size_t>(c.cname.size(), 255);
  const std::size_t reason_len = std::min<std::size_t>(c.bye_reason.size(), 255);
  const std::size_t rr = kHeader + 4 + (c.has_block ? kBlock : 0);
  // Chunk: SSRC, CNAME item (type, length, text), a null octet, padding.
  const std::size_t sdes = kHeader + ((4 + 2 + cname_len + 1 + 3) & ~std::size_t{3});
  const std::size_t bye =
      c.bye ? kHeader + 4 + (c.bye_reason.empty() ? 0 : (1 + reason_len + 3) & ~std::size_t{3}) : 0;
  const std::size_t total = rr + sdes + bye;
  if (total > out.size()) return 0;
  std::memset(out.data(), 0, total);
  std::uint8_t* p = out.data();

  // RR (section 6.4.2): the first packet of every compound a receiver sends.
  p[0] = static_cast<std::uint8_t>(0x80 | (c.has_block ? 1 : 0));
  p[1] = static_cast<std::uint8_t>(RtcpType::RR);
  put16(p + 2, static_cast<std::uint16_t>(rr / 4 - 1));
  put32(p + 4, c.ssrc);
  if (c.has_block) {
    std::uint8_t* b = p + 8;
    put32(b, c.block.ssrc);
    const std::int32_t lost = std::clamp<std::int32_t>(c.block.cumulative_lost, -0x800000, 0x7fffff);
    put32(b + 4, (std::uint32_t{c.block.fraction_lost} << 24) |
                     (static_cast<std::uint32_t>(lost) & 0xffffffu));
    put32(b + 8, c.block.ext_highest_seq);
    put32(b + 12, c.block.jitter);
    put32(b + 16, c.block.lsr);
    put32(b + 20, c.block.dlsr);
  }
  p += rr;

  // SDES with our CNAME (section 6.5.1): every compound carries one.
  p[0] = 0x81;
  p[1] = static_cast<std::uint8_t>(RtcpType::SDES);
  put16(p + 2, static_cast<std::uint16_t>(sdes / 4 - 1));
  put32(p + 4, c.ssrc);
  p[8] = kSdesCname;
  p[9] = static_cast<std::uint8_t>(cname_len);
  if (cname_len > 0) std::memcpy(p + 10, c.cname.data(), cname_len);  // end octet, padding: zero
  p += sdes;

  if (c.bye) {
    // BYE (section 6.6) comes last.
    p[0] = 0x81;
    p[1] = static_cast<std::uint8_t>(RtcpType::BYE);
    put16(p + 2, static_cast<std::uint16_t>(bye / 4 - 1));
    put32(p + 4, c.ssrc);
    if (!c.bye_reason.empty()) {
      p[8] = static_cast<std::uint8_t>(reason_len);
      std::memcpy(p + 9, c.bye_reason.data(), reason_len);  // not empty here
    }
  }
  return total;
}

}  // namespace net
