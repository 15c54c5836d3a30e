// The net context's logic, free of sockets and clocks: datagrams and the time
// in, decoded records out.
//
// Stream identity (SSRC lock, restarts), 64-bit unwrapping, a reorder stage
// that holds out-of-order packets until the gap before them closes, loss
// repair timed by the playout deadline (in-band FEC when the next packet has
// arrived and carries it, else Opus concealment), duplicate and late
// detection, interarrival jitter (RFC 3550 A.8), the sender's clock (its
// timestamps against the arrivals' lower envelope, net::SenderClock),
// Opus decoding into pooled records, and the net side of the net <-> audio
// queues and mailboxes.
//
// Time comes in as arguments (CLOCK_MONOTONIC nanoseconds), so a simulated
// clock can drive it exactly as the Asio wrapper drives it in real time.
//
// Thread: net, every method. Nothing here blocks; nothing allocates after
// construction.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "core/defaults.hpp"
#include "core/mailbox.hpp"
#include "core/messages.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/latency_tuner.hpp"
#include "net/net_stats.hpp"
#include "net/opus_stream_decoder.hpp"
#include "net/reorder_buffer.hpp"
#include "net/sender_clock.hpp"
#include "net/source_lock.hpp"
#include "net/waveform_concealer.hpp"
#include "net/reception_state.hpp"
#include "net/rtp_packet.hpp"

namespace net {

struct StreamConfig {
  int channels = 2;                // decoded channels (1 or 2)
  int payload_type = -1;           // accept only this payload type; -1: lock to the first
  TunerConfig latency{};           // the target latency, fixed or adaptive
  // RFC 3550 A.1 probation: a source (a new SSRC, payload type, or a
  // sequence far from ours) is taken only after two packets in sequence,
  // so that a stray or forged packet can neither lock nor restart the
  // stream. Off: the first valid packet locks (the unit tests' choice).
  bool probation = true;
};

class StreamReceiver {
 public:
  /// Thread: control, at start-up.
  StreamReceiver(const StreamConfig& config, core::RecordPool& pool,
                 core::SpscQueue<core::PacketRecord*>& to_audio,
                 core::SpscQueue<core::PacketRecord*>& from_audio,
                 core::Mailbox<core::StreamModel>& model, core::Mailbox<core::AudioStatus>& status);

  /// Thread: net. One datagram from the RTP port. `arrival_ns` is when it
  /// arrived (CLOCK_MONOTONIC, from the kernel's timestamp where there is
  /// one; the sender's clock and jitter are measured from it), `now_ns` the
  /// present on CLOCK_MONOTONIC.
  void on_datagram(std::span<const std::uint8_t> data, std::int64_t arrival_ns,
                   std::int64_t now_ns) noexcept;

  /// Thread: net. A datagram --allow-from turned away.
  void count_filtered() noexcept {
    ++stats_.datagrams_received;
    ++stats_.packets_filtered;
  }

  /// Thread: net. Fills every gap whose deadline has come.
  void on_timer(std::int64_t now_ns) noexcept;

  /// Thread: net. When on_timer next has work (CLOCK_MONOTONIC ns);
  /// INT64_MAX for never. Valid after any other call.
  std::int64_t next_deadline() const noexcept;

  /// Thread: net. Takes records home and caches audio's latest status.
  void drain_audio() noexcept;

  /// Thread: net. Counters plus the cached audio status.
  StatsSnapshot stats() const noexcept;

  /// Thread: net. The stream's sequence space, counts and jitter, for RTCP.
  ReceptionState reception() const noexcept;

  /// Thread: net. Cached state: audio's latest Status.
  const core::AudioStatus& audio_status() const noexcept { return audio_; }

 private:
  // A source on probation: its first packet, kept until its successor
  // arrives (then both are taken) or another candidate takes the slot.
  void take(const RtpPacket& p, int packet_frames, bool ours, std::int64_t arrival_ns,
            std::int64_t now_ns) noexcept;
  void lock_stream(std::uint32_t ssrc, std::uint8_t pt, std::uint16_t seq, std::uint32_t ts) noexcept;
  void update_jitter(std::int64_t ext_ts, std::int64_t arrival_ns) noexcept;
  void decode_in_order(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
                       std::uint32_t frames) noexcept;
  void release_ready() noexcept;
  void hold(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
            std::uint32_t frames, std::int64_t now_ns) noexcept;
  void skip_to(const HeldPacket& h) noexcept;
  std::int64_t gap_due() const noexcept;
  std::int64_t need_time(std::int64_t pos) const noexcept;
  void fill_one() noexcept;
  bool conceal(std::uint32_t frames) noexcept;
  void begin_run() noexcept;
  bool resume_after_run(std::int64_t pos) noexcept;
  void resumed(std::int64_t pos, bool blend, float* pcm, int frames) noexcept;
  // A pooled record of up to `frames` of Opus concealment at next_pos_;
  // null (counted) when the pool is empty.
  core::PacketRecord* concealed_record(std::uint32_t frames) noexcept;
  void link(core::PacketRecord* r) noexcept;
  bool seen(std::int64_t ext_seq) const noexcept;
  bool rescues_settled() const noexcept;
  std::uint64_t concealed_played() const noexcept;
  void mark_seen(std::int64_t ext_seq) noexcept;
  void publish() noexcept;
  void service(std::int64_t now_ns) noexcept;
  bool audio_overdue(std::int64_t now_ns) const noexcept;
  void tune(std::int64_t now_ns) noexcept;
  bool rescue() noexcept;
  void rewind_to(std::int64_t pos) noexcept;
  void resync_after_late(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t pos) noexcept;
  std::uint32_t stretch(std::uint32_t frames) noexcept;

  const StreamConfig config_;
  core::RecordPool& pool_;
  core::SpscQueue<core::PacketRecord*>& to_audio_;    // net -> audio: records to link
  core::SpscQueue<core::PacketRecord*>& from_audio_;  // audio -> net: records going home
  core::Mailbox<core::StreamModel>& model_out_;       // net -> audio: epoch, target, clock
  core::Mailbox<core::AudioStatus>& status_in_;       // audio -> net: audio's latest status
  SourceLock lock_;  // which sender the stream is
  OpusStreamDecoder decoder_;
  WaveformConcealer concealer_;  // fills a run by repetition where the audio before it is periodic

  NetStats stats_;
  core::AudioStatus audio_;  // cached state: the latest status audio published
  LatencyTuner tuner_;
  SenderClock clock_;  // the sender's media clock, this epoch
  std::uint64_t sender_steps_ = 0;  // its steps in earlier epochs
  core::StreamModel model_;     // as published last

  // Stream state, valid while stats_.locked.
  std::uint32_t epoch_ = 0;
  std::int64_t base_seq_ = 0;       // first extended sequence number of this epoch
  std::int64_t highest_seq_ = 0;    // highest extended sequence number seen
  std::int64_t highest_ts_ = 0;     // extended RTP timestamp of highest_seq_
  std::int64_t ts_offset_ = 0;      // stream position = extended RTP timestamp + offset
  std::int64_t stretched_ = 0;      // of which net's stretches (--latency auto) this epoch
  std::int64_t next_seq_ = 0;       // the packet the decoder takes next
  std::int64_t next_pos_ = 0;       // stream position up to which audio was made
  std::int64_t last_decoded_seq_ = -1;  // of the latest record decoded from a packet
  std::uint32_t last_frames_ = 0;   // duration of the latest decoded packet
  std::uint32_t conceal_run_ = 0;   // frames concealed since the last decoded packet
  bool silk_layer_ = false;         // the latest decoded packet has a SILK layer
  // Late-packet rescue: where the current run of concealment began (the
  // decoder's state there is saved), -1 when there is none to undo; and
  // after a rescue, the end of the concealment audio already holds (what
  // net makes again below it replaces records that were counted).
  std::int64_t rescue_pos_ = -1;
  std::int64_t rescued_until_ = 0;
  // Concealment played, as the stats show it (concealed_played()): net
  // counts a rescued run's concealment when the packet comes, audio counts
  // the rescue when it takes the replacement in, a callback later. Shown
  // as of the latest moment both had settled, so that it never steps back.
  std::int64_t replaced_ns_ = INT64_MIN;  // the latest record linked below rescued_until_
  std::uint64_t concealed_shown_ = 0;
  std::int64_t now_ns_ = 0;         // monotonic, of the datagram or timer being handled
  // Concealment not counted yet: counted once the packet after the run is
  // decoded and shows something was missing, or a late packet rescues the
  // run; forgotten if the stream just paused (DTX) or ended.
  std::uint64_t conceal_unconfirmed_ = 0;
  std::uint64_t unique_received_ = 0;  // this epoch, duplicates excluded
  std::uint64_t lost_before_ = 0;   // loss counted in earlier epochs
  bool have_transit_ = false;
  double transit_ = 0.0;            // RFC 3550 A.8 relative transit of the previous packet
  // Recently received extended sequence numbers, indexed modulo the size:
  // tells a duplicate from a late or reordered packet.
  std::array<std::int64_t, 1024> recent_{};

  ReorderBuffer held_;  // the reorder stage
};

}  // namespace net
