// The net context's logic, free of sockets: datagrams in, decoded records out.
//
// Stream identity (SSRC lock, RFC 3550 section 8.2 restarts), 64-bit
// unwrapping, loss and duplicate detection, interarrival jitter (RFC 3550
// A.8), Opus decoding into pooled records, and the net side of the
// net <-> audio queues. Kept apart from Asio so that a simulated clock can
// drive it.
//
// Thread: net, every method. Nothing here blocks; nothing allocates after
// construction.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "core/messages.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/net_stats.hpp"
#include "net/opus_stream_decoder.hpp"

namespace net {

struct StreamConfig {
  int channels = 2;                // decoded channels (1 or 2)
  int payload_type = -1;           // accept only this payload type; -1: lock to the first
};

class StreamReceiver {
 public:
  /// Thread: control, at start-up.
  StreamReceiver(const StreamConfig& config, core::RecordPool& pool,
                 core::SpscQueue<core::ToAudio>& to_audio,
                 core::SpscQueue<core::ToNet>& from_audio);

  /// Thread: net. One datagram from the RTP port, with its arrival time
  /// (CLOCK_REALTIME nanoseconds, kernel timestamp where available).
  void on_datagram(std::span<const std::uint8_t> data, std::int64_t arrival_ns) noexcept;

  /// Thread: net. Takes records home and caches audio's latest status.
  void drain_audio() noexcept;

  /// Thread: net. Counters plus the cached audio status.
  StatsSnapshot stats() const noexcept;

 private:
  void lock_stream(std::uint32_t ssrc, std::uint8_t pt, std::uint16_t seq, std::uint32_t ts) noexcept;
  void update_jitter(std::int64_t ext_ts, std::int64_t arrival_ns) noexcept;
  void conceal(std::int64_t frames) noexcept;
  void link(core::PacketRecord* r) noexcept;
  bool seen(std::int64_t ext_seq) const noexcept;
  void mark_seen(std::int64_t ext_seq) noexcept;

  const StreamConfig config_;
  core::RecordPool& pool_;
  core::SpscQueue<core::ToAudio>& to_audio_;   // net -> audio: Link, Reset
  core::SpscQueue<core::ToNet>& from_audio_;   // audio -> net: Unlink, Status
  OpusStreamDecoder decoder_;

  NetStats stats_;
  core::AudioStatus audio_;  // cached state: the latest Status audio pushed

  // Stream state, valid while stats_.locked.
  std::uint32_t epoch_ = 0;
  std::int64_t base_seq_ = 0;       // first extended sequence number of this epoch
  std::int64_t highest_seq_ = 0;    // highest extended sequence number seen
  std::int64_t highest_ts_ = 0;     // extended RTP timestamp of highest_seq_
  std::int64_t ts_offset_ = 0;      // stream position = extended RTP timestamp + offset
  std::int64_t next_pos_ = 0;       // stream position where the next record starts
  std::uint64_t unique_received_ = 0;  // this epoch, duplicates excluded
  std::uint64_t lost_before_ = 0;   // loss counted in earlier epochs
  std::int64_t last_arrival_ns_ = 0;
  bool have_transit_ = false;
  double transit_ = 0.0;            // RFC 3550 A.8 relative transit of the previous packet
  // Recently received extended sequence numbers, indexed modulo the size:
  // tells a duplicate from a reordered packet.
  std::array<std::int64_t, 1024> recent_{};
};

}  // namespace net
