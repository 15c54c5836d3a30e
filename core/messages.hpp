// What travels between the net and audio contexts.
//
// Records move through two core::SpscQueue<Message>, one per direction:
// net links a filled record into audio's jitter buffer (the link pattern),
// audio sends a consumed, late or flushed one home (the unlink pattern).
// The same queues carry a new stream format (the swap pattern): net sends
// a core::StreamFormat it built, audio installs it at the start of a
// callback, before any record of the stream it describes (which come after
// it in the queue), and sends the one it replaced home for net to destroy.
// At most kMaxFormatsOut formats are away from net at once, so the queues
// hold the whole pool and those, and neither can overflow. Everything
// else is state, where only the latest value
// counts, and goes through a core::Mailbox that cannot overflow:
// StreamModel from net to audio (mutate target state: a new stream, a new
// target, the sender's clock), AudioStatus from audio to net (the observer
// pattern: pushed every callback, net keeps the latest as cached state).
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/packet_record.hpp"
#include "core/stream_format.hpp"

namespace core {

/// net <-> audio, queued, O(1): a record (link, unlink) or a stream format
/// (swap). Exactly one of the two is set; the sender gives up the object
/// until it comes back.
struct Message {
  PacketRecord* record = nullptr;
  StreamFormat* format = nullptr;

  static Message link(PacketRecord* r) noexcept { return {r, nullptr}; }    // net -> audio
  static Message unlink(PacketRecord* r) noexcept { return {r, nullptr}; }  // audio -> net
  static Message swap(StreamFormat* f) noexcept { return {nullptr, f}; }    // either way
};

/// net -> audio, latest value: what playout steers by.
struct StreamModel {
  // The stream: bumped by every sender restart (0 before the first lock).
  // Records carry the epoch they belong to; audio flushes what it holds
  // when the epoch changes.
  std::uint32_t epoch = 0;
  std::uint32_t target_frames = 0;  // target latency L, stream frames
  // Frames of concealment net inserted this epoch to grow the target at
  // once (--latency auto): stream positions after them are that much later,
  // so the target grows with them without any steering.
  std::int64_t stretched_frames = 0;
  // The sender's clock: stream position `ref_pos` arrives on time (the
  // lower envelope of arrivals) at `ref_ns`, and each further stream frame
  // `ns_per_frame` later. Valid once `clock` is set. On CLOCK_MONOTONIC,
  // or, when `jack_timeline` is set (a sender in the same JACK graph), on
  // JACK's timeline (AudioStatus::cycle_jack_ns).
  bool clock = false;
  bool jack_timeline = false;
  std::int64_t ref_pos = 0;
  std::int64_t ref_ns = 0;
  double ns_per_frame = 0;
  double clock_uncertainty_ppm = 0;
  // JACK stalls (AudioStatus::jack_stalls) net has had packets after, and
  // whether those packets suggest the sender stalled too (a sender in the
  // graph not yet measured on JACK's timeline): a skip waits while either
  // is in doubt (audio::PlayoutClock::kSkipQuietS at most).
  std::uint64_t stalls_heard = 0;
  bool stall_shared = false;
};

/// audio -> net, latest value: what the audio context reports about itself.
/// Counters are cumulative since start.
struct AudioStatus {
  std::uint32_t epoch = 0;          // stream epoch this status belongs to
  bool playing = false;
  std::int64_t cursor = 0;          // stream position of the next sample to render
  std::int64_t cycle_ns = 0;        // CLOCK_MONOTONIC start of the callback that pushed this (JACK's clock)
  std::int64_t cycle_jack_ns = 0;   // the same instant on JACK's timeline: its frame counter in ns, still while it stalls
  std::int64_t schedule_ns = 0;     // when the callback began on the schedule JACK keeps now: cycle_ns, or later while a stall is not yet confirmed as a step (net's deadlines)
  bool jack_settling = false;       // JACK's clock has a step to confirm or a step's new level to take: cycle_ns is provisional
  std::uint32_t period_frames = 0;  // stream frames the latest callback consumed
  std::int64_t period_ns = 0;       // length of a JACK period
  std::uint32_t render_ahead = 0;   // stream frames a callback may render beyond what it consumes
  std::uint32_t jack_rate = 0;
  std::uint32_t stream_rate = 0;    // the rate of the stream audio plays: what every frame count here counts
  double drift_ppm = 0;             // the sender's clock against JACK's, from both clocks
  double ratio_ppm = 0;             // playout's consumption rate against nominal: drift plus corrections
  double jack_clock_ppm = 0;        // JACK's frame clock against CLOCK_MONOTONIC (positive: fast)
  double delay_frames = 0;          // the buffer's delay: playout time of the sample playing less its on-time arrival
  std::uint32_t target_frames = 0;
  std::uint64_t underruns = 0;
  std::uint64_t records_late = 0;   // arrived after the cursor had passed them
  std::uint64_t records_rescued = 0;// replaced a concealment at their place before it played
  std::uint64_t records_overflow = 0;  // the jitter buffer was full
  std::uint64_t records_duplicate = 0; // a second decoded record for a place (a duplicate net let through)
  std::uint64_t records_skipped = 0;   // behind where playout starts or jumps to: never played
  std::uint64_t gaps = 0;           // holes in the stream timeline played as silence
  std::uint64_t holes_shortened = 0;// of which part was skipped: playout was behind the clocks by less than a correction
  std::uint64_t holes_lengthened = 0;// or was held longer: playout was ahead by as little
  std::uint64_t jack_stalls = 0;    // steps in JACK's clock (time the server lost)
  std::uint64_t splices = 0;        // stream audio skipped in one decision to get back to the target
  std::uint64_t holds = 0;          // silence inserted in one decision to get back to the target
  std::uint64_t restarts = 0;       // playout started over from where it is due (far off, or a skip's audio never came)
  std::uint64_t frames_played = 0;  // stream frames written to the ports
  std::uint64_t callbacks = 0;
  std::uint64_t formats = 0;        // stream formats net swapped in and audio installed
};

static_assert(std::is_trivially_copyable_v<Message>);
static_assert(std::is_trivially_copyable_v<StreamModel>);
static_assert(std::is_trivially_copyable_v<AudioStatus>);

}  // namespace core
