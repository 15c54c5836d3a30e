#include "net/rtcp_session.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

#include "core/defaults.hpp"
#include "net/unwrap.hpp"

namespace net {
namespace {

constexpr std::int64_t kNsPerSec = 1'000'000'000;
// Section 6.3.5: a participant silent for M = 5 report intervals timed out.
constexpr std::int64_t kSenderTimeoutNs = 5 * RtcpSession::kMinIntervalNs;
// Appendix A.7 counts lower-layer headers in the average size: IPv4 + UDP.
constexpr double kUdpIpHeader = 28;
// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
constexpr std::int64_t kNtpToUnixS = 2'208'988'800;

// Collects what the session needs from one valid compound.
struct Collector final : RtcpVisitor {
  bool sr = false;
  RtcpSenderInfo info;
  std::uint32_t bye_ssrc[4] = {};
  unsigned byes = 0;
  void on_sender_report(const RtcpSenderInfo& s) override {
    if (!sr) info = s;  // a compound carries one SR; take the first
    sr = true;
  }
  void on_bye(std::uint32_t ssrc) override {
    if (byes < 4) bye_ssrc[byes++] = ssrc;
  }
};

// NTP 32.32 fixed point (since 1900) to Unix nanoseconds. Era 0 only: good
// until 2036.
std::int64_t ntp_to_unix_ns(std::uint64_t ntp) noexcept {
  const auto secs = static_cast<std::int64_t>(ntp >> 32);
  const std::uint64_t frac = ntp & 0xffffffffu;
  return (secs - kNtpToUnixS) * kNsPerSec + static_cast<std::int64_t>((frac * kNsPerSec) >> 32);
}

}  // namespace

RtcpSession::RtcpSession(const RtcpConfig& config) : config_(config), rng_(config.seed) {
  new_ssrc(0);
  // Appendix A.7: start from the size of the packet we are about to send.
  avg_rtcp_size_ = 8 + 24 + 12 + static_cast<double>(config_.cname.size()) + kUdpIpHeader;
}

void RtcpSession::new_ssrc(std::uint32_t avoid) noexcept {
  // Section 8.1: random; never the sender's (section 8.2 on collisions).
  do {
    ssrc_ = static_cast<std::uint32_t>(rng_());
  } while (ssrc_ == 0 || ssrc_ == avoid);
}

std::int64_t RtcpSession::interval_ns(bool initial) noexcept {
  // Section 6.3.1 / appendix A.7, for the two members of this session (the
  // sender and us). Senders are more than a quarter of the members, so the
  // RTCP bandwidth is not split between senders and receivers. Without timer
  // reconsideration (a two-party session does not grow), the e - 3/2
  // compensation is not applied.
  const double rtcp_bw = 0.05 * config_.session_bw_bytes_per_s;
  const double c = rtcp_bw > 0 ? avg_rtcp_size_ * 2 / rtcp_bw : 0;
  // Section 6.2: "the initial ... may be set to half the minimum" before
  // the first report.
  const double tmin = static_cast<double>(initial ? kMinIntervalNs / 2 : kMinIntervalNs) / 1e9;
  const double td = std::max(tmin, c);
  // Section 6.3.1: randomised over [0.5, 1.5] Td, so that reports of many
  // receivers do not synchronise.
  const double u = 0.5 + std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  return static_cast<std::int64_t>(td * u * 1e9);
}

RtcpSession::Received RtcpSession::on_rtcp(std::span<const std::uint8_t> data,
                                           std::int64_t now_ns) noexcept {
  Collector c;
  if (parse_rtcp(data, &c) != RtcpError::None) {
    ++stats_.invalid;
    return {};
  }
  avg_rtcp_size_ += (static_cast<double>(data.size()) + kUdpIpHeader - avg_rtcp_size_) / 16;
  if (c.sr) {
    ++stats_.sr_received;
    // Keep the locked stream's SR. Another sender's replaces it only once
    // ours has gone quiet (as StreamReceiver lets a new SSRC take over), so
    // a second sender cannot spoil LSR or the latency of a live stream.
    const bool live = block_ssrc_ != 0 && now_ns - last_heard_ns_ <
                                              std::int64_t{core::defaults::kStreamIdleMs} * 1'000'000;
    if (c.info.ssrc == block_ssrc_ || !live) {
      have_sr_ = true;
      sr_ = c.info;
      sr_arrival_ns_ = now_ns;
    }
    if (c.info.ssrc == block_ssrc_) last_heard_ns_ = now_ns;
    if (c.info.ssrc == ssrc_) new_ssrc(c.info.ssrc);
  }
  for (unsigned i = 0; i < c.byes; ++i)
    if (c.bye_ssrc[i] == block_ssrc_) sender_left_ = true;  // section 6.3.7: it left
  return {true, c.sr, c.info.ssrc};
}

void RtcpSession::on_rtp(const ReceptionState& r, std::int64_t now_ns) noexcept {
  if (!r.locked || r.packets == packets_seen_) return;
  packets_seen_ = r.packets;
  last_heard_ns_ = now_ns;
  if (r.ssrc != block_ssrc_ || r.epoch != block_epoch_) {
    // A new stream (or a restart): appendix A.3's interval starts afresh.
    block_ssrc_ = r.ssrc;
    block_epoch_ = r.epoch;
    expected_prior_ = 0;
    received_prior_ = 0;
  }
  sender_left_ = false;
  if (r.ssrc == ssrc_) new_ssrc(r.ssrc);
  if (next_report_ns_ == INT64_MAX) next_report_ns_ = now_ns + interval_ns(!sent_any_);
}

RtcpReportBlock RtcpSession::report_block(const ReceptionState& r,
                                          std::int64_t now_ns) const noexcept {
  RtcpReportBlock b;
  b.ssrc = r.ssrc;
  const bool same = r.ssrc == block_ssrc_ && r.epoch == block_epoch_;
  const std::int64_t expected_prior = same ? expected_prior_ : 0;
  const std::int64_t received_prior = same ? received_prior_ : 0;
  // Appendix A.3.
  const std::int64_t expected = r.highest_seq - r.base_seq + 1;
  const auto received = static_cast<std::int64_t>(r.received);
  // Section 6.4.1: cumulative lost is 24-bit signed; clamp, do not wrap.
  b.cumulative_lost =
      static_cast<std::int32_t>(std::clamp<std::int64_t>(expected - received, -0x800000, 0x7fffff));
  const std::int64_t expected_interval = expected - expected_prior;
  const std::int64_t received_interval = received - received_prior;
  const std::int64_t lost_interval = expected_interval - received_interval;
  b.fraction_lost = expected_interval <= 0 || lost_interval <= 0
                        ? 0
                        : static_cast<std::uint8_t>(
                              std::min<std::int64_t>((lost_interval << 8) / expected_interval, 255));
  // Appendix A.1's extended number is the cycle count above the 16-bit
  // number; our 64-bit unwrapping counts from the first sequence number the
  // same way, so its low 32 bits are that field.
  b.ext_highest_seq = static_cast<std::uint32_t>(r.highest_seq);
  // Appendix A.8: already estimated in StreamReceiver, in RTP units.
  b.jitter = static_cast<std::uint32_t>(std::lround(std::max(0.0, r.jitter)));
  if (have_sr_ && sr_.ssrc == r.ssrc) {
    // Section 6.4.1: LSR is the middle 32 bits of the SR's NTP timestamp,
    // DLSR the delay since we received it, in 1/65536 s.
    b.lsr = static_cast<std::uint32_t>(sr_.ntp >> 16);
    const std::int64_t since = std::max<std::int64_t>(now_ns - sr_arrival_ns_, 0);
    b.dlsr = static_cast<std::uint32_t>(std::min<std::int64_t>(since * 65536 / kNsPerSec, UINT32_MAX));
  }
  return b;
}

std::size_t RtcpSession::build(const ReceptionState& r, std::int64_t now_ns, bool bye,
                               std::span<std::uint8_t> out) noexcept {
  RtcpReceiverContent c;
  c.ssrc = ssrc_;
  c.cname = config_.cname;
  c.bye = bye;
  // Section 6.4: a block only on a source heard since the last report.
  const bool same = r.ssrc == block_ssrc_ && r.epoch == block_epoch_;
  const std::int64_t received_prior = same ? received_prior_ : 0;
  if (r.locked && static_cast<std::int64_t>(r.received) > received_prior) {
    c.has_block = true;
    c.block = report_block(r, now_ns);
  }
  const std::size_t n = build_receiver_compound(c, out);
  if (n == 0) return 0;
  if (c.has_block) {
    block_ssrc_ = r.ssrc;
    block_epoch_ = r.epoch;
    expected_prior_ = r.highest_seq - r.base_seq + 1;
    received_prior_ = static_cast<std::int64_t>(r.received);
  }
  sent_any_ = true;
  ++stats_.rr_sent;
  avg_rtcp_size_ += (static_cast<double>(n) + kUdpIpHeader - avg_rtcp_size_) / 16;
  return n;
}

std::size_t RtcpSession::poll(const ReceptionState& r, std::int64_t now_ns,
                              std::span<std::uint8_t> out) noexcept {
  if (now_ns < next_report_ns_) return 0;
  if (sender_left_ || now_ns - last_heard_ns_ > kSenderTimeoutNs) {
    // Nobody to report to until RTP comes again (on_rtp reschedules).
    next_report_ns_ = INT64_MAX;
    return 0;
  }
  if (r.locked && r.ssrc == ssrc_) new_ssrc(r.ssrc);
  next_report_ns_ = now_ns + interval_ns(false);
  return build(r, now_ns, false, out);
}

std::size_t RtcpSession::goodbye(const ReceptionState& r, std::int64_t now_ns,
                                 std::span<std::uint8_t> out) noexcept {
  if (!sent_any_) return 0;
  next_report_ns_ = INT64_MAX;
  return build(r, now_ns, true, out);
}

bool RtcpSession::e2e(const ReceptionState& r, const core::AudioStatus& a,
                      std::int64_t realtime_minus_monotonic_ns, std::int64_t& out_ns) const noexcept {
  if (!have_sr_ || !r.locked || sr_.ssrc != r.ssrc || sr_.ntp == 0) return false;
  if (!a.playing || a.epoch != r.epoch || a.period_ns <= 0) return false;
  // The RTP clock, and audio's frames of the same epoch, at the stream's rate.
  const double rate = r.rate;
  // Audio's status: after the callback that began at cycle_ns, `cursor` is
  // the next stream sample to render. The next callback (one period later)
  // outputs it after the samples still inside the converter; its buffer
  // leaves for the driver when that cycle ends, one period on.
  const double out_mono = static_cast<double>(a.cycle_ns) + 2.0 * static_cast<double>(a.period_ns) +
                          config_.output_pipeline_frames * 1e9 / rate;
  const double out_real = out_mono + static_cast<double>(realtime_minus_monotonic_ns);
  // Section 6.4.1: the SR's RTP timestamp and NTP timestamp are the same
  // instant; the RTP clock runs at the stream's rate from there.
  const std::int64_t sr_ts = unwrap<32>(sr_.rtp_ts, r.highest_ts);
  const std::int64_t cursor_ts = a.cursor - r.ts_offset;
  const double capture_real = static_cast<double>(ntp_to_unix_ns(sr_.ntp)) +
                              static_cast<double>(cursor_ts - sr_ts) * 1e9 / rate;
  out_ns = std::llround(out_real - capture_real);
  return true;
}

RtcpStats RtcpSession::stats(const ReceptionState& r, const core::AudioStatus& a,
                             std::int64_t realtime_minus_monotonic_ns) noexcept {
  std::int64_t ns = 0;
  stats_.e2e_known = false;
  if (e2e(r, a, realtime_minus_monotonic_ns, ns)) {
    if (ns < 0 || ns > kMaxE2eNs) {
      ++stats_.e2e_rejected;  // clocks not synchronised, or a sender's odd mapping
    } else {
      stats_.e2e_known = true;
      stats_.e2e_latency_ms = static_cast<double>(ns) / 1e6;
    }
  }
  RtcpStats s = stats_;
  s.enabled = true;
  return s;
}

}  // namespace net
