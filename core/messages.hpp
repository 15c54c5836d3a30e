// Messages between the net and audio contexts, carried by value in
// core::SpscQueue. A selector plus parameters; trivially copyable.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/packet_record.hpp"

namespace core {

/// net -> audio (queue `to_audio_`).
struct ToAudio {
  enum class Kind : std::uint8_t {
    Link,       // install `record` in the jitter buffer (link pattern)
    Reset,      // new stream epoch `value`: flush and restart playout (mutate target state)
    SetTarget,  // new target latency, `value` in 48 kHz frames: steer there (mutate target state)
    GrowTarget, // new, larger target; net inserted the difference (concealment) in the records before this: no steering
  };
  Kind kind = Kind::Link;
  std::uint32_t value = 0;
  PacketRecord* record = nullptr;
};

/// What the audio context reports about itself (observer pattern: pushed,
/// never polled). Counters are cumulative since start.
struct AudioStatus {
  std::uint32_t epoch = 0;          // stream epoch this status belongs to
  bool playing = false;
  std::int64_t cursor = 0;          // stream position of the next sample to play
  std::int64_t cycle_ns = 0;        // CLOCK_MONOTONIC start of the callback that pushed this
  std::uint32_t period_frames = 0;  // stream frames the latest callback consumed
  std::int64_t period_ns = 0;       // length of a JACK period
  std::uint32_t render_ahead = 0;   // stream frames a callback may render beyond what it consumes
  std::uint32_t jack_rate = 0;
  double drift_ppm = 0;             // the drift controller's estimate (sender vs JACK clock)
  std::uint32_t depth_frames = 0;   // audio queued ahead of playout: mean over the last packet interval less half a packet
  std::uint32_t target_frames = 0;
  std::uint64_t underruns = 0;
  std::uint64_t records_late = 0;   // arrived after the cursor had passed them
  std::uint64_t records_rescued = 0;// replaced a concealment at their place before it played
  std::uint64_t records_dropped = 0;// jitter buffer full
  std::uint64_t gaps = 0;           // holes in the stream timeline played as silence
  std::uint64_t holes_shortened = 0;// of which only part played: the far side was queued already
  std::uint64_t stall_skips = 0;    // JACK stalls whose excess latency was skipped (crossfaded)
  std::uint64_t start_trims = 0;    // starts whose excess over the target was skipped (spliced)
  std::uint64_t frames_played = 0;  // stream frames written to the ports
  std::uint64_t callbacks = 0;
};

/// audio -> net (queue `to_net_`).
struct ToNet {
  enum class Kind : std::uint8_t {
    Unlink,  // `record` goes home to the pool (unlink pattern)
    Status,  // `status` replaces net's cached copy (observer pattern)
  };
  Kind kind = Kind::Unlink;
  PacketRecord* record = nullptr;
  AudioStatus status{};
};

static_assert(std::is_trivially_copyable_v<ToAudio>);
static_assert(std::is_trivially_copyable_v<ToNet>);

}  // namespace core
