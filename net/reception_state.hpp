// What net::StreamReceiver knows about the stream it receives, copied out
// for RTCP's receiver reports (RFC 3550 section 6.4.1, appendix A.3) and the
// end-to-end latency.
#pragma once

#include <cstdint>

namespace net {

/// What net::StreamReceiver knows about the stream it receives, by value.
struct ReceptionState {
  bool locked = false;
  std::uint32_t ssrc = 0;
  std::uint32_t epoch = 0;          // changes on every (re)lock
  std::int64_t base_seq = 0;        // first extended sequence number of the epoch
  std::int64_t highest_seq = 0;     // highest extended sequence number seen
  std::uint64_t received = 0;       // packets of the epoch, duplicates excluded
  std::uint64_t packets = 0;        // packets of the stream since start (changes: RTP came)
  std::uint32_t rate = 48000;       // the RTP clock's rate (the stream's)
  double jitter = 0;                // RFC 3550 A.8, RTP timestamp units (`rate`)
  std::int64_t highest_ts = 0;      // extended RTP timestamp of highest_seq
  std::int64_t ts_offset = 0;       // stream position = extended RTP timestamp + ts_offset
};

}  // namespace net
