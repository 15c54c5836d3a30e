// The net context's logic, free of sockets and clocks: datagrams and the
// time in, decoded records out. It composes the stages a packet passes:
//
//   parse_rtp -> SourceLock (which sender; probation, restarts)
//             -> ReceptionCounter (duplicates, loss, jitter: RFC 3550)
//             -> SenderClock (the sender's media clock) and LatencyTuner
//             -> Depacketizer (reorder, decode, repair gaps by FEC and
//                concealment, rescue, stretch) -> records to audio
//
// and keeps the net side of the net <-> audio queues and mailboxes: the
// stream model it publishes, audio's status it caches (AudioSchedule), the
// records coming home, and the stream's format (set_format): net's decoder
// and rates at once, audio's core::StreamFormat by the swap pattern.
//
// Time comes in as arguments (CLOCK_MONOTONIC nanoseconds), so a simulated
// clock can drive it exactly as the Asio wrapper drives it in real time.
//
// Thread: net, every method. Nothing here blocks; nothing allocates after
// construction but set_format() (a new decoder, a new format for audio).
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>

#include "core/defaults.hpp"
#include "core/mailbox.hpp"
#include "core/messages.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/audio_schedule.hpp"
#include "net/depacketizer.hpp"
#include "net/latency_tuner.hpp"
#include "net/net_stats.hpp"
#include "net/payload_format.hpp"
#include "net/reception_counter.hpp"
#include "net/reception_state.hpp"
#include "net/rtp_packet.hpp"
#include "net/sender_clock.hpp"
#include "net/source_lock.hpp"

namespace net {

struct StreamConfig {
  int channels = 2;                // output ports (1..kMaxChannels); records carry at most as many
  int payload_type = -1;           // accept only this payload type; -1: lock to the first
  TunerConfig latency{};           // the target latency, fixed or adaptive (its frames at latency.rate)
  // RFC 3550 A.1 probation: a source (a new SSRC, payload type, or a
  // sequence far from ours) is taken only after two packets in sequence,
  // so that a stray or forged packet can neither lock nor restart the
  // stream. Off: the first valid packet locks (the unit tests' choice).
  bool probation = true;
  PayloadFormat format{};          // what the payload is (Opus unless an SDP or --format says)
};

class StreamReceiver {
 public:
  /// Thread: control, at start-up.
  StreamReceiver(const StreamConfig& config, core::RecordPool& pool,
                 core::SpscQueue<core::Message>& to_audio,
                 core::SpscQueue<core::Message>& from_audio,
                 core::Mailbox<core::StreamModel>& model, core::Mailbox<core::AudioStatus>& status);

  /// Thread: net. One datagram from the RTP port. `arrival_ns` is when it
  /// arrived (CLOCK_MONOTONIC, from the kernel's timestamp where there is
  /// one; the sender's clock and jitter are measured from it), `now_ns` the
  /// present on CLOCK_MONOTONIC.
  void on_datagram(std::span<const std::uint8_t> data, std::int64_t arrival_ns,
                   std::int64_t now_ns) noexcept;

  /// What the sender's clock saw of one packet: enough to replay
  /// SenderClock offline (tests/tools/clock_replay.cpp).
  struct ClockTraceRecord {
    std::uint32_t epoch = 0;       // the clock starts over with each
    std::uint32_t rate = 0;        // the stream's
    std::int64_t position = 0;
    std::int64_t arrival_ns = 0;
    core::AudioStatus audio{};
  };
  /// Thread: control, before net runs. Diagnostics: a record per packet
  /// the sender's clock observes, written to `file` (null: none). Net
  /// writes it through the stream's own buffer, which flushes by system
  /// calls now and then: for tests and field reports, never by default.
  void set_clock_trace(std::FILE* file) noexcept { trace_ = file; }

  /// Thread: net. A datagram --allow-from turned away.
  void count_filtered() noexcept {
    ++stats_.datagrams_received;
    ++stats_.packets_filtered;
  }

  /// Thread: net. The stream is of `format` from now on, with payload type
  /// `payload_type` (-1: any): an SDP read again, a SAP re-announcement.
  /// The same format and payload type again change nothing.
  /// Builds the decoder for it here (allocates; not real-time), sets every
  /// stage's rate, and starts a new stream (a new epoch: the source locks
  /// again, after probation, and nothing of the old one is decoded any
  /// more). Audio gets the new core::StreamFormat by the swap pattern: one
  /// message on the records' queue, ahead of every record of the new
  /// stream; audio installs it at the start of a callback and sends the
  /// old one home, where drain_audio() destroys it. While kMaxFormatsOut
  /// are away (audio takes none: JACK gone), the latest waits here, and
  /// packets are dropped (`queue_full`) until audio can have it. Throws
  /// std::invalid_argument, having changed nothing, for a format this build
  /// cannot decode.
  void set_format(const PayloadFormat& format, int payload_type);
  const PayloadFormat& format() const noexcept { return format_; }
  /// Thread: net. Formats net made that audio has not sent home (the one
  /// it plays among them): at most kMaxFormatsOut.
  std::size_t formats_away() const noexcept {
    std::size_t n = 0;
    for (const bool a : away_) n += a ? 1 : 0;
    return n;
  }

  /// Thread: net. Fills every gap whose deadline has come.
  void on_timer(std::int64_t now_ns) noexcept { service(now_ns); }

  /// Thread: net. When on_timer next has work (CLOCK_MONOTONIC ns);
  /// INT64_MAX for never. Valid after any other call.
  std::int64_t next_deadline() const noexcept { return depack_.next_deadline(); }

  /// Thread: net. How long the stream's latest packet lasts, in ns (0
  /// before one): about how soon the next one comes.
  std::int64_t packet_ns() const noexcept {
    return std::int64_t{depack_.packet_frames()} * 1'000'000'000 / rate();
  }

  /// Thread: net. The stream's rate: what its frames count.
  std::uint32_t rate() const noexcept { return format_.rate; }

  /// Thread: net. Takes records home and caches audio's latest status.
  void drain_audio() noexcept;

  /// Thread: net. Counters plus the cached audio status.
  StatsSnapshot stats() const noexcept;

  /// Thread: net. The stream's sequence space, counts and jitter, for RTCP.
  ReceptionState reception() const noexcept;

  /// Thread: net. Cached state: audio's latest Status.
  const core::AudioStatus& audio_status() const noexcept { return schedule_.status(); }

 private:
  bool far_jump(const RtpPacket& p) const noexcept;
  void take(const RtpPacket& p, bool ours, std::int64_t arrival_ns, std::int64_t now_ns) noexcept;
  void lock_stream(const RtpPacket& p) noexcept;
  void service(std::int64_t now_ns) noexcept;
  void tune(std::int64_t now_ns) noexcept;
  void publish() noexcept;
  void send_format() noexcept;
  void format_home(core::StreamFormat* f) noexcept;

  const StreamConfig config_;
  core::RecordPool& pool_;
  core::SpscQueue<core::Message>& to_audio_;    // net -> audio: records (by the depacketizer), formats
  core::SpscQueue<core::Message>& from_audio_;  // audio -> net: records and formats going home
  core::Mailbox<core::StreamModel>& model_out_;       // net -> audio: epoch, target, clock
  core::Mailbox<core::AudioStatus>& status_in_;       // audio -> net: audio's latest status

  NetStats stats_;
  SourceLock lock_;            // which sender the stream is
  ReceptionCounter counter_;   // sequence space, loss, jitter
  AudioSchedule schedule_;     // cached state: audio's latest status
  LatencyTuner tuner_;
  SenderClock clock_;          // the sender's media clock, this epoch
  PayloadFormat format_;       // the stream's, as set last
  int payload_type_;           // admitted (-1: any), as set last
  std::unique_ptr<PayloadDecoder> decoder_;  // the payload
  Depacketizer depack_;        // packets in order -> records, gaps repaired
  std::uint64_t sender_steps_ = 0;  // the sender clock's steps in earlier epochs
  std::uint32_t epoch_ = 0;         // bumped by every (re)lock
  core::StreamModel model_;         // as published last
  // Formats built for audio: each slot's object is away (in the queue to
  // audio, or the one audio plays) until audio sends it home.
  std::array<std::unique_ptr<core::StreamFormat>, core::defaults::kMaxFormatsOut> formats_;
  std::array<bool, core::defaults::kMaxFormatsOut> away_{};
  bool format_waiting_ = false;     // set_format() came while every slot was away
  std::FILE* trace_ = nullptr;      // set_clock_trace()
};

}  // namespace net
