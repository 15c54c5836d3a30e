// Counters kept by the net context. Cumulative since start.
#pragma once

#include <cstdint>

#include "core/messages.hpp"

namespace net {

struct NetStats {
  std::uint64_t datagrams_received = 0;  // everything that arrived on the RTP port
  std::uint64_t packets_received = 0;    // RTP packets of the locked stream, duplicates included
  std::uint64_t packets_lost = 0;        // RFC 3550 A.3: expected minus received (never negative)
  std::uint64_t packets_late = 0;        // arrived after their place was concealed or played
  std::uint64_t packets_rescued = 0;     // arrived after their place was concealed, but before it played: replaced it
  std::uint64_t packets_duplicate = 0;
  std::uint64_t packets_reordered = 0;   // arrived after a later sequence number
  std::uint64_t packets_invalid = 0;     // malformed RTP or undecodable Opus
  std::uint64_t packets_foreign = 0;     // another SSRC or payload type while the stream is live
  std::uint64_t packets_filtered = 0;    // from a source --allow-from does not allow
  std::uint64_t rtcp_received = 0;       // RTCP multiplexed on the RTP port (RFC 5761)
  std::uint64_t packets_concealed = 0;   // lost or late packets whose place concealment filled, and played
  std::uint64_t packets_recovered = 0;   // lost packets recovered from the next one's in-band FEC (LBRR)
  std::uint64_t frames_stretched = 0;    // stream frames of concealment inserted to grow the target at once
  std::uint64_t frames_held = 0;         // decoded stream frames a repetition played over while the decoder settled after it
  std::uint64_t stream_resets = 0;       // sender restarts after the first lock
  std::uint64_t sender_steps = 0;        // steps in the sender's clock: its path got longer or its timestamps jumped
  std::uint64_t pool_exhausted = 0;      // packets dropped: no free record (audio stalled)
  std::uint64_t queue_full = 0;          // packets dropped: net -> audio queue full
  std::uint32_t stream_rate = 48000;     // the stream's rate: what net's frame counts here count
  double jitter_frames = 0.0;            // RFC 3550 A.8 interarrival jitter, RTP timestamp units (stream_rate)
  double sender_clock_ppm = 0.0;         // the sender's media clock against CLOCK_MONOTONIC (0 until measured)
  double lateness_frames = 0.0;          // peak lateness over the last 30 s (net::LatencyTuner)
  std::uint32_t recommended_frames = 0;  // the target latency this network needs
  std::uint64_t target_changes = 0;      // adaptive target changes so far
  bool latency_auto = false;             // --latency auto
  bool sender_on_jack = false;           // the sender's timestamps follow JACK's frames (it runs in the same JACK graph)
  std::uint32_t ssrc = 0;
  bool locked = false;
  std::uint8_t payload_type = 0;
  std::uint32_t packet_frames = 0;       // samples per channel in the latest packet
};

/// RTCP (RFC 3550 section 6) as the net context's RtcpSession sees it.
struct RtcpStats {
  bool enabled = false;                // --no-rtcp: false
  std::uint64_t sr_received = 0;       // sender reports in valid compounds (either port)
  std::uint64_t rr_sent = 0;           // compound RR packets sent (the BYE one included)
  std::uint64_t invalid = 0;           // malformed RTCP compounds, dropped (appendix A.2)
  std::uint64_t filtered = 0;          // RTCP from a source --allow-from does not allow
  std::uint64_t e2e_rejected = 0;      // latency evaluations that came out negative or > 10 s
  bool e2e_known = false;
  double e2e_latency_ms = 0;           // capture (sender's SR clock) -> JACK output
};

/// SAP announcements heard (net::SessionDirectory's counters; in the
/// statistics while following a session, --session).
struct SapCounters {
  std::uint64_t announcements = 0;  // read, of sessions new, changed or repeated
  std::uint64_t deletions = 0;      // read, of known sessions or not
  std::uint64_t invalid = 0;        // SAP headers or SDP that could not be read
  std::uint64_t evicted = 0;        // sessions dropped for a full table
};

/// What control prints: net's counters and its cached copy of audio's status.
struct StatsSnapshot {
  NetStats net;
  core::AudioStatus audio;
  RtcpStats rtcp;           // filled in by net's RTCP session, if any
  SapCounters sap;          // filled in by net's SAP listener, if any
  std::uint64_t xruns = 0;  // filled in by control from the JACK client
  std::int64_t taken_ns = 0;  // CLOCK_MONOTONIC when net took it
};

}  // namespace net
