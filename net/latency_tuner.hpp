// What target latency the network needs, and (with --latency auto) the
// policy that moves the target to it.
//
// The measure: each packet's lateness, its relative transit time (arrival
// minus RTP timestamp, RFC 3550 section 6.4.1) above the smallest transit of
// the last two seconds. The earliest packets of the recent past define "on
// time" (as a base delay does in LEDBAT, RFC 6817 section 3.4.2); a packet
// that comes l later needs l more of the target. The peak lateness of each
// second is kept for half a minute. Arrivals count on JACK's timeline
// (on_arrival): a host stall delays packets and JACK alike.
//
// The need: the fixed cost of playout (the JACK period the callback reads
// in, what it renders ahead, net's repair margin) plus the peak lateness
// with a quarter's headroom, plus one packet when the stream carries in-band
// FEC and loses packets (FEC recovers a packet from the next one, which
// must then have arrived in time). `recommended()` is that need over the
// last half minute.
//
// The policy (adaptive mode): start from a safe target; grow at once to the
// need when a packet comes later than the target absorbs, or by a quarter
// after an underrun; shrink to the half-minute need only after a calm spell
// (no growth for calm_s) and only if that saves more than hysteresis; a
// growth soon after a shrink doubles the calm spell, so that rare spikes do
// not make the target swing. Targets are multiples of half a millisecond.
// The audio context applies every change by steering the resampler
// (audio::DriftController), never by dropping or inserting audio.
//
// Thread: net, every method. Arithmetic on fixed arrays: no allocation.
#pragma once

#include <array>
#include <cstdint>

#include "core/messages.hpp"

namespace net {

struct TunerConfig {
  bool adaptive = false;             // --latency auto
  std::uint32_t initial_frames = 960;  // fixed target, or where auto starts
  std::uint32_t min_frames = 0;      // --min-latency (auto only)
  std::uint32_t max_frames = 12000;  // --max-latency (auto only)
  std::uint32_t rate = 48000;        // the stream's rate, which the frames above count
};

class LatencyTuner {
 public:
  explicit LatencyTuner(const TunerConfig& config) noexcept;

  /// A new stream epoch: transit times start over (the target stays).
  void reset() noexcept;
  /// A stream at another rate: every duration the tuner holds (target,
  /// bounds, peaks, costs) is the same time in its frames; transit times
  /// start over.
  void set_rate(std::uint32_t rate) noexcept;
  std::uint32_t rate() const noexcept { return config_.rate; }

  /// Each packet received once: its stream position (stream frames) and
  /// arrival (any clock at a fixed offset from real time, ns).
  void on_packet(std::int64_t position, std::int64_t arrival_ns) noexcept;
  /// The same, with the arrival on CLOCK_MONOTONIC: measured on JACK's
  /// timeline (SenderClock::jack_time), from the first status of a cycle
  /// that began after it. One that comes when JACK has run no cycle for
  /// a period and kStaleNs waits for it (up to kHeld of them, then by the
  /// latest status): the host may have stalled, JACK with it, and a packet
  /// that a host stall delayed is not late for a server that lost the
  /// stall's time too. Arrivals are not measured across a stall JACK
  /// confirms after them, nor while JACK's clock settles after one and
  /// SenderClock::kSettleNs beyond (as SenderClock): a stall's held-up
  /// packets come in a burst whose place on JACK's timeline is known only
  /// to within the stall (their backlog is playout's to skip), and a
  /// settling status maps CLOCK_MONOTONIC by the line before the stall.
  /// update() places those that wait.
  void on_arrival(std::int64_t position, std::int64_t arrival_ns, const core::AudioStatus& audio) noexcept;

  /// Adaptive mode: net will play a late packet `frames` later than its
  /// timestamp says, after the concealment that filled its place, rather
  /// than drop it; the target grows by as much. False (and nothing
  /// changes) in fixed mode or beyond --max-latency.
  bool absorb(std::uint32_t frames, std::int64_t now_ns) noexcept;

  /// The stream carries in-band FEC (LBRR) and a packet was lost.
  void on_loss_with_fec(std::uint32_t packet_frames) noexcept;

  /// Audio's latest status (period, render-ahead, underruns). Returns true
  /// when the target changed (adaptive mode only): send it to audio.
  bool update(const core::AudioStatus& audio, std::int64_t now_ns) noexcept;

  std::uint32_t target_frames() const noexcept { return target_; }
  /// The target the network of the last half minute needs (both modes).
  std::uint32_t recommended_frames() const noexcept;
  /// Peak lateness over the last half minute, stream frames.
  double peak_lateness_frames() const noexcept;
  /// What playout costs before any network jitter: the floor of a target.
  std::uint32_t fixed_cost_frames() const noexcept { return fixed_; }
  std::uint64_t changes() const noexcept { return changes_; }

  // Policy constants (docs/design.md and README, "Adaptive latency").
  static constexpr int kBaseBuckets = 8;         // x 250 ms: the base-delay window
  static constexpr int kPeakSeconds = 30;        // the window of peaks
  static constexpr double kHeadroom = 0.25;      // on top of the peak lateness
  static constexpr double kCalmS = 15;           // no growth for this long before a shrink
  static constexpr double kFirstCalmS = 5;       // ... the first shrink after start
  static constexpr double kMaxCalmS = 240;
  static constexpr double kStepMs = 0.5;         // the target's grain
  static constexpr std::size_t kHeld = 64;       // arrivals waiting for JACK's next cycle
  static constexpr std::int64_t kStaleNs = 1'000'000;  // JACK is late beyond a period plus this

 private:
  std::uint32_t need(double lateness) const noexcept;
  // Places the waiting arrivals that JACK's status now covers (all: `all`).
  void place_held(const core::AudioStatus& audio, bool all) noexcept;
  // Places the oldest waiting arrival by `audio`.
  void place_first(const core::AudioStatus& audio) noexcept;
  // Forgets the oldest waiting arrival.
  void drop_first() noexcept;
  std::uint32_t clamp_target(std::uint32_t frames) const noexcept;
  void set_target(std::uint32_t frames, std::int64_t now_ns) noexcept;

  TunerConfig config_;           // its frames at config_.rate, the stream's
  std::uint32_t step_;           // kStepMs in frames
  std::uint32_t target_;
  std::uint32_t fixed_;          // from audio's period and render-ahead
  std::uint64_t changes_ = 0;

  // Base delay: the smallest transit per 250 ms bucket, for the last two s.
  bool have_origin_ = false;
  std::int64_t origin_ns_ = 0;   // arrival of the first packet of the epoch
  std::int64_t origin_pos_ = 0;
  std::array<double, kBaseBuckets> base_{};
  std::array<std::int64_t, kBaseBuckets> base_bucket_{};

  // Arrivals waiting for a JACK cycle after them, oldest first (a ring).
  struct Arrival {
    std::int64_t position = 0;
    std::int64_t arrival_ns = 0;
    std::uint64_t stalls = 0;    // JACK's stalls in the status at its arrival
  };
  std::array<Arrival, kHeld> held_{};
  std::size_t held_first_ = 0;
  std::size_t held_count_ = 0;
  std::uint64_t stalls_seen_ = 0;       // JACK's stalls in the latest arrival's status
  std::int64_t settled_ns_ = INT64_MIN; // arrivals earlier than this follow a stall too closely to measure

  // Peak lateness per second, for the last kPeakSeconds.
  std::array<double, kPeakSeconds> peak_{};
  std::array<std::int64_t, kPeakSeconds> peak_second_{};
  double latest_lateness_ = 0;   // of the newest packet
  bool pending_growth_ = false;  // a packet came later than the target absorbs
  double growth_lateness_ = 0;

  std::uint32_t fec_extra_ = 0;  // one packet while FEC has losses to repair
  std::int64_t fec_seen_ns_ = INT64_MIN;
  std::int64_t now_ns_ = 0;      // of the latest packet or update

  std::uint64_t underruns_seen_ = 0;
  bool have_status_ = false;
  std::int64_t started_ns_ = INT64_MIN;   // first update after the first packet
  std::int64_t grown_ns_ = INT64_MIN;     // latest growth
  std::int64_t shrunk_ns_ = INT64_MIN;    // latest shrink
  double calm_s_ = kCalmS;
};

}  // namespace net
