// The sender's media clock, as playout steers by it: when each stream
// position arrives on time. Two lower envelopes (core::ClockEstimator) of
// the same arrivals, on two timelines:
// - CLOCK_MONOTONIC, the system's: a sender on another host, or any sender
//   whose clock runs on its own;
// - JACK's: its frame counter as nanoseconds, which stands still while the
//   server stalls (core::AudioStatus::cycle_jack_ns). A sender in the same
//   JACK graph (jackaudiosrc, a JACK application that sends RTP) stalls
//   with the server: its timestamps follow JACK's frames, so on the
//   system's timeline each stall is a step (confirmed seconds later, or,
//   below the step threshold, never: an error left for playout to steer
//   away), and on JACK's it is nothing at all.
// A stall of JACK is a step on one timeline and not on the other: JACK's
// is the sender's once the system's has stepped and JACK's never has,
// where both envelopes are judged and JACK's fits the sender (jack_fits:
// a path that stepped while JACK's envelope was not judged, or took no
// arrivals after a stall, steps there by another amount, which it may
// never confirm); the system's again once it has stepped less often than
// JACK's, or once JACK's has not fitted for kSharperS. Ties (no
// stall yet, no JACK client) go to the system's. A
// later step takes seconds to confirm (and none is taken before the rate
// is measured), so JACK's timeline is taken as soon as the least late of
// the latest packets (kEvidence of them, over kEvidenceSpanNs at least)
// came more than kEvidenceNs late on the system's while JACK's put the
// least late of them within half of that of its envelope: jitter makes a
// packet as late on both, and only a stall the sender shared makes every
// packet late on the system's alone. The least late, because a sender in
// the graph sends on JACK's period boundaries: its packets come in a
// sawtooth of a period's depth (2.7 ms at 128 frames) that repeats every
// few packets, and only its lowest tooth is as early as the envelope.
// On a path with a floor over kQuietFloorNs (jitter; the floor as it was
// before the stall, as the packets after one the sender shared blunt it),
// the lateness must also exceed kLoudFloors floors: under jitter, a JACK step
// that the envelope on JACK's timeline has not yet followed can put a few
// packets in a row there, but only as late as the jitter makes them,
// while a stall the sender shared makes every packet after it late by the
// stall's length (a 40 ms stop: some 40 floors). Or, on any path, the
// least late came later than the least late before the latest stall by
// more than kEvidenceNs plus the path's spread: a floor takes seconds of
// arrivals to measure, and stalls the sender shared blunt it, while that
// spread is only the sender's sawtooth and the path's jitter. The path's
// spread is that of the packets between the previous stall and the
// latest, up to the first that came with JACK settling from it (audio
// counts a stall a packet or so after the stall delayed one); or, where
// too few came (a stall early in the stream), that of the packets since
// the latest, which it made late alike. Once the packets since a stall
// show the sender shared it, the stalls after it are judged against the
// path as it was before it (a busy host goes on stalling the server).
// Stalls too short to be steps (under 2 ms) show in the floor instead
// (core::ClockEstimator::segment_floor_ns: the same arrivals, so the same
// jitter, on either timeline): a floor kSharper times as sharp, and
// kSharperNs more, on one timeline than on the other for kSharperS on end
// makes it the sender's (under jitter the floors of a few seconds wander
// by as much, but not for that long); JACK's only if it never stepped.
//
// A sender in the graph never steps on JACK's timeline (unless its path
// does). A sender with a graph of its own (PipeWire) that a host stall
// stops together with JACK, but for less time, steps later on the system's
// timeline and early on JACK's: a step there, and under jitter a rate
// thousands of ppm off as its envelope follows. Whichever rule speaks for
// JACK's timeline, it is the sender's only while the sender's rate on it
// is within kOffNominalPpm of nominal (it takes its timestamps from
// JACK's frames).
//
// An arrival's place on JACK's timeline is extrapolated from audio's latest
// status: the timeline at the latest cycle's start (by JACK's clock, on
// CLOCK_MONOTONIC) and JACK's rate against CLOCK_MONOTONIC. While JACK's
// clock has a step to confirm or a step's new level to take
// (core::AudioStatus::jack_settling: the first cycles after a stall woke
// late or early by up to hundreds of us), and for kSettleNs after audio
// reports a stall, arrivals placed by it could come out early, which an
// envelope would keep: JACK's timeline takes none of them then.
//
// Thread: net. Real-time safe: two estimators on fixed arrays.
#pragma once

#include <cstdint>

#include "core/clock_estimator.hpp"
#include "core/messages.hpp"

namespace net {

class SenderClock {
 public:
  static constexpr int kEvidence = 8;
  static constexpr std::int64_t kEvidenceSpanNs = 40'000'000;
  static constexpr int kWindow = 32;  // packets kept for that, at most
  static constexpr std::int64_t kEvidenceNs = 1'000'000;
  static constexpr double kQuietFloorNs = 250'000;
  static constexpr double kLoudFloors = 8;
  static constexpr double kSharper = 4;
  static constexpr double kSharperNs = 20'000;
  static constexpr std::int64_t kSharperS = 2;
  // JACK's clock takes each step's level from a few cycles: in busy spells
  // on this VM, a sender in the graph had a floor of 43 to 128 us on
  // JACK's timeline against 15 us on CLOCK_MONOTONIC.
  static constexpr double kJackLevelNs = 150'000;
  static constexpr std::int64_t kSettleNs = 60'000'000;
  static constexpr double kOffNominalPpm = 100;
  static constexpr std::int64_t kSharedNs = 300'000;  // JACK's clock steps from 0.3 ms
  static constexpr std::int64_t kQuietSpreadNs = 4'000'000;  // a period's sawtooth and a little jitter

  SenderClock() noexcept;

  /// A new stream: both envelopes start over.
  void reset() noexcept;
  /// A stream whose RTP clock runs at `rate`: both envelopes start over
  /// with it as nominal (and their 50 ms buckets in its frames).
  void set_rate(std::uint32_t rate) noexcept;

  /// One packet, received once: its stream position, its arrival
  /// (CLOCK_MONOTONIC, ns) and audio's latest status.
  void observe(std::int64_t position, std::int64_t arrival_ns, const core::AudioStatus& audio) noexcept;

  /// `t_ns` (CLOCK_MONOTONIC) on JACK's timeline, by audio's status; `t_ns`
  /// itself while no JACK cycle has run.
  static std::int64_t jack_time(std::int64_t t_ns, const core::AudioStatus& audio) noexcept;

  bool valid() const noexcept { return system_.valid(); }
  /// The sender's timestamps follow JACK's frames: the model is on JACK's
  /// timeline.
  bool on_jack() const noexcept { return on_jack_; }
  /// Audio's stall count (AudioStatus::jack_stalls) as of the latest packet.
  std::uint64_t stalls_heard() const noexcept { return jack_stalls_; }
  /// On a quiet path (a floor under kQuietFloorNs before the stall; before
  /// the floor is measured, a spread under kQuietSpreadNs: path_spread()), the
  /// packets since audio's latest stall came kSharedNs later on the
  /// system's timeline than the least late before it, and JACK's timeline
  /// is not the sender's yet: it may have stalled with JACK, which the
  /// rules above tell a little later.
  bool stall_shared() const noexcept;
  /// The envelope playout steers by: JACK's timeline's or the system's.
  const core::ClockEstimator& model() const noexcept { return on_jack_ ? jack_ : system_; }
  /// The sender's nanoseconds per frame on the model's timeline. On JACK's
  /// it is nominal exactly: a sender in the graph takes its timestamps from
  /// JACK's frames, where a few seconds of arrivals measure it tens of ppm
  /// off.
  double ns_per_frame() const noexcept;
  /// The envelope against CLOCK_MONOTONIC, and against JACK's timeline,
  /// whichever playout uses.
  const core::ClockEstimator& system() const noexcept { return system_; }
  const core::ClockEstimator& jack() const noexcept { return jack_; }

  /// The evidence as the latest packet placed on JACK's timeline left it
  /// (diagnostics: tests/tools/clock_replay.cpp).
  struct Verdict {
    std::int64_t late_ns = 0;       // least lateness of the latest packets, system's timeline
    std::int64_t jack_ns = 0;       // ... and JACK's
    int packets = 0;                // how many of them
    double margin_ns = 0;           // the floors the lateness must stand clear of
    bool shifted = false;           // later than before the stall by more than the spread
    bool alone = false;             // late on the system's timeline alone
    bool fits = false;              // JACK's floor no worse than the system's
  };
  const Verdict& verdict() const noexcept { return verdict_; }

 private:
  core::ClockEstimator system_;
  core::ClockEstimator jack_;
  bool on_jack_ = false;
  std::uint64_t jack_stalls_ = 0;      // audio's count, as last seen
  // The latest packets' lateness on either timeline, newest at
  // (next_ - 1); and whether the least late of them were late on the
  // system's timeline alone.
  struct Lateness {
    std::int64_t arrival_ns = 0;
    std::int64_t system_ns = 0;
    std::int64_t jack_ns = 0;  // -1: not placed on JACK's timeline (kSettleNs)
  };
  Lateness window_[kWindow]{};
  int next_ = 0;
  int count_ = 0;
  bool evidence_ = false;
  Verdict verdict_{};
  // A condition's value and the arrival since which it has held.
  template <typename T>
  struct Held {
    T value{};
    std::int64_t since_ns = 0;
    // Takes the latest value; whether it has held for `span_ns`.
    bool update(T now_value, std::int64_t arrival_ns, std::int64_t span_ns) noexcept {
      if (now_value != value) {
        value = now_value;
        since_ns = arrival_ns;
      }
      return arrival_ns - since_ns >= span_ns;
    }
  };
  Held<int> sharper_{};       // the other timeline's floor is that much sharper: +1 JACK's, -1 the system's
  Held<bool> fits_{true, 0};  // JACK's envelope fits, or one of the two is not judged
  std::int64_t settled_ns_ = INT64_MIN;  // JACK's timeline takes arrivals from then on
  double floor_before_ = 1e300;          // the system's floor before the latest stall
  std::int64_t least_before_ = INT64_MAX;  // the least lateness on the system's timeline before it
  std::int64_t least_since_ = INT64_MAX;   // ... and since
  std::int64_t spread_before_ = INT64_MAX;  // the spread then of the packets since the stall before (INT64_MAX: too few)
  std::int64_t stalled_ns_ = INT64_MIN;    // the arrival that brought the latest stall's report
  std::int64_t unsettled_ns_ = INT64_MAX;  // the first arrival of the current settling status (INT64_MAX: none)

  // The latest packets' least lateness on the system's timeline and on
  // JACK's (kEvidence of them over kEvidenceSpanNs, as many as kept; with
  // `placed`, only those placed on JACK's timeline), and how many.
  struct Least {
    std::int64_t system_ns = INT64_MAX;
    std::int64_t jack_ns = INT64_MAX;
    int packets = 0;
  };
  Least least_late(std::int64_t now_ns, bool placed) const noexcept;
  // observe()'s steps: a stall audio reported since the last packet sets
  // the references as they stood before it; a packet placed on JACK's
  // timeline weighs the evidence that the sender is on it; every packet
  // may change the timeline playout steers by.
  void note_stall(std::uint64_t jack_stalls, std::int64_t arrival_ns) noexcept;
  void weigh_evidence(std::int64_t arrival_ns) noexcept;
  void choose_timeline(std::int64_t arrival_ns) noexcept;
  // The spread of the lateness on the system's timeline of the kept
  // packets that arrived in [since_ns, until_ns) (INT64_MAX: fewer than
  // half of kEvidence).
  std::int64_t spread(std::int64_t since_ns, std::int64_t until_ns) const noexcept;
  // The path's spread as the latest stall's evidence is judged against:
  // that of the packets before it, or, where too few came before it (a
  // stall early in the stream), of those since (INT64_MAX: too few yet).
  std::int64_t path_spread() const noexcept;
  // JACK's envelope fits the sender no worse than the system's, but for
  // the scatter of the levels JACK's clock takes after its steps.
  bool jack_fits() const noexcept;
};

}  // namespace net
