#include "net/sender_clock.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace net {

SenderClock::SenderClock() noexcept
    : system_(core::ClockEstimator::sender_config()), jack_(core::ClockEstimator::sender_config()) {}

void SenderClock::set_rate(std::uint32_t rate) noexcept {
  system_.reset(core::ClockEstimator::sender_config(rate));
  jack_.reset(core::ClockEstimator::sender_config(rate));
  reset();
}

void SenderClock::reset() noexcept {
  system_.reset();
  jack_.reset();
  on_jack_ = false;
  settled_ns_ = INT64_MIN;
  floor_before_ = 1e300;
  least_before_ = least_since_ = spread_before_ = INT64_MAX;
  stalled_ns_ = INT64_MIN;
  unsettled_ns_ = INT64_MAX;
  evidence_ = false;
  verdict_ = {};
  count_ = 0;
  next_ = 0;
  sharper_ = {};
  fits_ = {true, 0};
}

std::int64_t SenderClock::jack_time(std::int64_t t_ns, const core::AudioStatus& audio) noexcept {
  if (audio.jack_rate == 0 || audio.callbacks == 0) return t_ns;
  // JACK's timeline advances by its nominal period per frame, so against
  // CLOCK_MONOTONIC at JACK's rate.
  const double since = static_cast<double>(t_ns - audio.cycle_ns);
  return audio.cycle_jack_ns + std::llround(since * (1 + audio.jack_clock_ppm * 1e-6));
}

void SenderClock::observe(std::int64_t position, std::int64_t arrival_ns, const core::AudioStatus& audio) noexcept {
  system_.observe(position, arrival_ns);
  if (audio.jack_stalls != jack_stalls_) note_stall(audio.jack_stalls, arrival_ns);
  // JACK settles from a stall's first late cycle on, and audio counts the
  // stall only once it is confirmed: the packets since the first settling
  // status may already be the stall's.
  if (!audio.jack_settling)
    unsettled_ns_ = INT64_MAX;
  else if (unsettled_ns_ == INT64_MAX)
    unsettled_ns_ = arrival_ns;
  const std::int64_t system_late = arrival_ns - system_.time_of(position);
  least_since_ = std::min(least_since_, system_late);
  const bool placed = arrival_ns >= settled_ns_ && !audio.jack_settling;
  const std::int64_t on_jack = placed ? jack_time(arrival_ns, audio) : 0;
  if (placed) jack_.observe(position, on_jack);
  window_[next_] = Lateness{arrival_ns, system_late, placed ? std::llabs(on_jack - jack_.time_of(position)) : -1};
  next_ = (next_ + 1) % kWindow;
  count_ = std::min(count_ + 1, kWindow);
  if (placed) weigh_evidence(arrival_ns);
  choose_timeline(arrival_ns);
}

void SenderClock::note_stall(std::uint64_t jack_stalls, std::int64_t arrival_ns) noexcept {
  jack_stalls_ = jack_stalls;
  settled_ns_ = arrival_ns + kSettleNs;
  // The floor as it was: the arrivals after a stall the sender shared
  // sit the stall later on the system's timeline and blunt its floor.
  // After one that the packets since show it shared, every reference
  // stays as it was before that stall: a storm goes on stalling the
  // server before the evidence is in.
  const bool shared = least_before_ != INT64_MAX && least_since_ != INT64_MAX &&
                      least_since_ - least_before_ > kSharedNs;
  if (!shared) {
    floor_before_ = system_.segment_floor_ns();
    least_before_ = least_late(arrival_ns, false).system_ns;
    spread_before_ = spread(stalled_ns_, unsettled_ns_);
  }
  stalled_ns_ = arrival_ns;
  least_since_ = INT64_MAX;
  unsettled_ns_ = INT64_MAX;
}

void SenderClock::weigh_evidence(std::int64_t arrival_ns) noexcept {
  const Least least = least_late(arrival_ns, true);
  const std::int64_t late = least.system_ns;
  // On a path with a floor (jitter), the lateness must stand well clear
  // of it.
  const double floor = std::min(system_.segment_floor_ns(), floor_before_);
  const double margin = floor < kQuietFloorNs ? 0.0 : kLoudFloors * floor;
  // Or the least late came later than the least late before the stall
  // by more than the whole spread of the packets before it: a floor
  // takes seconds of arrivals to measure, and the stalls a sender in
  // the graph shared blunt it, while that spread is the sender's own
  // pattern (a sawtooth) and the path's jitter.
  const std::int64_t path = path_spread();
  const bool shifted = path != INT64_MAX && least_before_ != INT64_MAX && late - least_before_ > kEvidenceNs + path;
  const bool alone = least.packets >= kEvidence && 2 * least.jack_ns < late &&
                     (static_cast<double>(late) > static_cast<double>(kEvidenceNs) + margin || shifted);
  // ... and JACK's envelope is no worse a fit than the system's (the
  // envelope of a sender that is not on it is no guide), where both are
  // judged yet (JACK's takes no arrivals for a while after each stall),
  // but for the scatter of the levels JACK's clock takes after its steps
  // (kJackLevelNs) and the floors' own (kSharper).
  const bool fits = !jack_.judged() || jack_fits();
  evidence_ = alone && fits;
  verdict_ = Verdict{late, least.jack_ns, least.packets, margin, shifted, alone, fits};
}

void SenderClock::choose_timeline(std::int64_t arrival_ns) noexcept {
  // Hysteresis by construction: the choice changes to JACK's when it has
  // never stepped and the system's has, or as often with a floor that much
  // sharper for long enough (and no step), or when packets come late on
  // the system's timeline alone; back when the system's has stepped less
  // often, or as often with a sharper floor, or the rate on JACK's is off
  // nominal.
  const auto sharper = [](const core::ClockEstimator& a, const core::ClockEstimator& b) {
    return a.segment_floor_ns() * kSharper + kSharperNs < b.segment_floor_ns();
  };
  constexpr std::int64_t span_ns = kSharperS * 1'000'000'000;
  const int side = sharper(jack_, system_) ? 1 : sharper(system_, jack_) ? -1 : 0;
  const bool held = sharper_.update(side, arrival_ns, span_ns) && sharper_.value != 0;
  // JACK's envelope fits the sender far worse than the system's, both
  // judged: the sender is not in the graph, whatever the steps say.
  const bool judged = jack_.judged() && system_.judged();
  const bool loose = fits_.update(!judged || jack_fits(), arrival_ns, span_ns) && !fits_.value;
  // A sender in the graph runs at nominal on JACK's timeline: its
  // timestamps are JACK's frames.
  const bool agree = std::fabs(jack_.deviation_ppm()) <= kOffNominalPpm;
  if (on_jack_) {
    if (!agree || loose || system_.steps() < jack_.steps() ||
        (system_.steps() == jack_.steps() && held && sharper_.value < 0))
      on_jack_ = false;
  } else if (agree && jack_.steps() == 0) {
    // A step the system's envelope took counts only once both envelopes
    // are judged and JACK's fits: a path that stepped while JACK's
    // envelope was not judged yet (or not taking arrivals, after a stall)
    // may step there by another amount it never confirms.
    on_jack_ = (system_.steps() > 0 && judged && jack_fits()) || evidence_ || (held && sharper_.value > 0);
  } else if (agree && jack_.steps() == system_.steps()) {
    on_jack_ = evidence_;
  }
}

bool SenderClock::jack_fits() const noexcept {
  // The scatter of the levels JACK's clock takes after its steps
  // (kJackLevelNs) and the floors' own (kSharper).
  return jack_.segment_floor_ns() <= system_.segment_floor_ns() * kSharper + kJackLevelNs;
}

SenderClock::Least SenderClock::least_late(std::int64_t now_ns, bool placed) const noexcept {
  Least least;
  for (; least.packets < count_; ++least.packets) {
    const Lateness& l = window_[(next_ - 1 - least.packets + kWindow) % kWindow];
    if ((least.packets >= kEvidence && now_ns - l.arrival_ns > kEvidenceSpanNs) || (placed && l.jack_ns < 0)) break;
    least.system_ns = std::min(least.system_ns, l.system_ns);
    least.jack_ns = std::min(least.jack_ns, l.jack_ns);
  }
  return least;
}

std::int64_t SenderClock::spread(std::int64_t since_ns, std::int64_t until_ns) const noexcept {
  std::int64_t low = INT64_MAX, high = INT64_MIN;
  int n = 0;
  for (int i = 0; i < count_; ++i) {
    if (window_[i].arrival_ns < since_ns || window_[i].arrival_ns >= until_ns) continue;
    low = std::min(low, window_[i].system_ns);
    high = std::max(high, window_[i].system_ns);
    ++n;
  }
  return n < kEvidence / 2 ? INT64_MAX : high - low;
}

std::int64_t SenderClock::path_spread() const noexcept {
  // A stall in a stream's first few packets leaves too few before it; the
  // packets since show the path as well, the stall's shift aside (every
  // one of them is late by it alike).
  return spread_before_ != INT64_MAX ? spread_before_ : spread(stalled_ns_, INT64_MAX);
}

bool SenderClock::stall_shared() const noexcept {
  // On a quiet path only: under jitter the few packets since the stall are
  // as likely to be late as not. Before the floor is measured, the path's
  // spread tells.
  const bool quiet = floor_before_ < kQuietFloorNs ||
                     (floor_before_ >= core::ClockEstimator::kUnjudgedNs && path_spread() <= kQuietSpreadNs);
  return !on_jack_ && quiet && least_since_ != INT64_MAX && least_before_ != INT64_MAX &&
         least_since_ - least_before_ >= kSharedNs;
}

double SenderClock::ns_per_frame() const noexcept {
  return on_jack_ ? jack_.nominal_ns_per_frame() : system_.ns_per_frame();
}

}  // namespace net
