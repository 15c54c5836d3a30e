// The receiver's side of RTCP (RFC 3550 section 6), free of sockets and
// clocks: compound packets and the time in; receiver reports, statistics
// and the end-to-end latency out.
//
// - Sender reports from the locked stream's SSRC are kept for LSR/DLSR
//   (section 6.4.1) and for their NTP <-> RTP timestamp mapping.
// - Reception statistics come from net::StreamReceiver (one extended
//   sequence space, one jitter estimate: not duplicated here) and become a
//   report block per section 6.4.1 and appendix A.3.
// - Reports are timed per sections 6.2 and 6.3 (appendix A.7): 5 s minimum,
//   randomised over [0.5, 1.5] of the interval, the first after half of it.
// - The end-to-end latency: the SR's NTP time of the sample at the playout
//   cursor against the wall-clock time it leaves our JACK port (see e2e()).
//
// Time comes in as arguments (CLOCK_MONOTONIC ns), so tests drive it with a
// fake clock. Thread: net, every method. Nothing allocates after
// construction.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "core/messages.hpp"
#include "net/net_stats.hpp"
#include "net/reception_state.hpp"
#include "net/rtcp.hpp"

namespace net {

struct RtcpConfig {
  std::string cname = "rtp2jack@localhost";  // section 6.5.1: user@host
  std::uint64_t seed = 1;                    // SSRC and interval randomisation
  // Session bandwidth for section 6.2's share (5%, receivers 75% of it).
  // Unknown without SDP; at any Opus rate the 5 s minimum dominates.
  double session_bw_bytes_per_s = 64000.0 / 8;
  // Stream frames between audio's render cursor and the JACK output buffer
  // (the converter's delay and, on average, half a render chunk).
  double output_pipeline_frames = 0;
};

class RtcpSession {
 public:
  static constexpr std::int64_t kMinIntervalNs = 5'000'000'000;  // section 6.2: Tmin
  static constexpr std::int64_t kMaxE2eNs = 10'000'000'000;      // beyond: not believed

  /// Thread: control, at start-up.
  explicit RtcpSession(const RtcpConfig& config);

  /// Our SSRC (random, section 8.1; never the sender's).
  std::uint32_t ssrc() const noexcept { return ssrc_; }

  /// What one datagram of RTCP turned out to be.
  struct Received {
    bool valid = false;          // a well-formed compound (appendix A.2)
    bool sender_report = false;  // ...carrying an SR
    std::uint32_t sr_ssrc = 0;   // ...from this sender
  };

  /// Thread: net. One RTCP datagram (from port+1, or multiplexed on the RTP
  /// port). Malformed compounds are counted and dropped.
  Received on_rtcp(std::span<const std::uint8_t> data, std::int64_t now_ns) noexcept;

  /// Thread: net. An RTCP datagram --allow-from turned away.
  void count_filtered() noexcept { ++stats_.filtered; }

  /// Thread: net. After RTP arrived: schedules the first report once a
  /// stream has locked, and keeps the sender alive (section 6.3.5).
  void on_rtp(const ReceptionState& r, std::int64_t now_ns) noexcept;

  /// Thread: net. When a report is next due (CLOCK_MONOTONIC ns); INT64_MAX
  /// while there is nobody to report to.
  std::int64_t next_report_ns() const noexcept { return next_report_ns_; }

  /// Thread: net. If a report is due at `now_ns`, writes RR (+ report block)
  /// + SDES CNAME into `out`, schedules the next, and returns its size; else
  /// 0. `out` should hold kMaxReceiverCompound octets.
  std::size_t poll(const ReceptionState& r, std::int64_t now_ns, std::span<std::uint8_t> out) noexcept;

  /// Thread: net. The last compound, RR + SDES + BYE (section 6.6), to send
  /// when leaving; 0 if we never sent RTCP (section 6.3.7: then no BYE).
  std::size_t goodbye(const ReceptionState& r, std::int64_t now_ns, std::span<std::uint8_t> out) noexcept;

  /// Thread: net. Counters, and the end-to-end latency if known now.
  /// `realtime_minus_monotonic_ns` converts CLOCK_MONOTONIC to CLOCK_REALTIME.
  RtcpStats stats(const ReceptionState& r, const core::AudioStatus& audio,
                  std::int64_t realtime_minus_monotonic_ns) noexcept;

  /// Thread: net. Capture -> JACK output latency of the sample at audio's
  /// playout cursor, in ns, from the latest SR of the locked stream; false
  /// when unknown. The output time is the end of the JACK cycle whose buffer
  /// carries the sample (the cycle start, plus its offset in the buffer,
  /// plus one period: the buffer leaves for the driver when the cycle ends).
  /// The capture time is what the sender's NTP <-> RTP mapping assigns to
  /// that sample's RTP timestamp.
  bool e2e(const ReceptionState& r, const core::AudioStatus& audio,
           std::int64_t realtime_minus_monotonic_ns, std::int64_t& out_ns) const noexcept;

  /// Thread: net. The report block for `r` as the next report would carry
  /// it, without ending the interval (section 6.4.1, appendix A.3).
  RtcpReportBlock report_block(const ReceptionState& r, std::int64_t now_ns) const noexcept;

 private:
  std::int64_t interval_ns(bool initial) noexcept;
  std::size_t build(const ReceptionState& r, std::int64_t now_ns, bool bye,
                    std::span<std::uint8_t> out) noexcept;
  void new_ssrc(std::uint32_t avoid) noexcept;

  const RtcpConfig config_;
  std::mt19937_64 rng_;
  std::uint32_t ssrc_ = 0;
  RtcpStats stats_;

  // The latest SR (of any SSRC; used only when it is the locked stream's).
  bool have_sr_ = false;
  RtcpSenderInfo sr_;
  std::int64_t sr_arrival_ns_ = 0;

  // Interval state of appendix A.3, for the stream (ssrc, epoch) below.
  std::uint32_t block_ssrc_ = 0;
  std::uint32_t block_epoch_ = 0;
  std::int64_t expected_prior_ = 0;
  std::int64_t received_prior_ = 0;

  std::int64_t next_report_ns_ = INT64_MAX;
  std::int64_t last_heard_ns_ = 0;  // latest RTP or SR of the locked stream
  std::uint64_t packets_seen_ = 0;  // ReceptionState::packets at the last on_rtp
  bool sender_left_ = false;        // BYE from the locked stream
  bool sent_any_ = false;
  double avg_rtcp_size_ = 0;        // appendix A.7, octets with UDP/IP headers
};

}  // namespace net
