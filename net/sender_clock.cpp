#include "net/sender_clock.hpp"

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
  evidence_ = 0;
  sharper_ = 0;
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
  if (audio.jack_stalls != jack_stalls_) {
    jack_stalls_ = audio.jack_stalls;
    settled_ns_ = arrival_ns + kSettleNs;
  }
  if (arrival_ns >= settled_ns_) {
    const std::int64_t on_jack = jack_time(arrival_ns, audio);
    jack_.observe(position, on_jack);
    const std::int64_t late = arrival_ns - system_.time_of(position);
    // On a path with a floor (a sender in the graph sends on JACK's period
    // boundaries; jitter), the lateness must stand well clear of it.
    const double floor = system_.segment_floor_ns();
    const double margin = floor < kQuietFloorNs ? 0.0 : kLoudFloors * floor;
    const bool alone = static_cast<double>(late) > static_cast<double>(kEvidenceNs) + margin &&
                       4 * std::llabs(on_jack - jack_.time_of(position)) < late;
    // ... and JACK's envelope is no worse a fit than the system's (the
    // envelope of a sender that is not on it is no guide).
    const bool fits = jack_.segment_floor_ns() <= system_.segment_floor_ns() + kSharperNs;
    evidence_ = alone && fits ? evidence_ + 1 : 0;
  }
  // Hysteresis by construction: the choice changes to JACK's when it has
  // never stepped and the system's has, or as often with a floor that much
  // sharper for long enough (and no step), or when packets come late on
  // the system's timeline alone; back when the system's has stepped less
  // often, or as often with a sharper floor, or the rate on JACK's is off
  // nominal.
  const auto sharper = [](const core::ClockEstimator& a, const core::ClockEstimator& b) {
    return a.segment_floor_ns() * kSharper + kSharperNs < b.segment_floor_ns();
  };
  const int side = sharper(jack_, system_) ? 1 : sharper(system_, jack_) ? -1 : 0;
  if (side != sharper_) {
    sharper_ = side;
    sharper_since_ = arrival_ns;
  }
  const bool held = sharper_ != 0 && arrival_ns - sharper_since_ >= kSharperS * 1'000'000'000;
  // A sender in the graph runs at nominal on JACK's timeline: its
  // timestamps are JACK's frames.
  const bool agree = std::fabs(jack_.deviation_ppm()) <= kOffNominalPpm;
  if (on_jack_) {
    if (!agree || system_.steps() < jack_.steps() ||
        (system_.steps() == jack_.steps() && held && sharper_ < 0))
      on_jack_ = false;
  } else if (agree && jack_.steps() == 0) {
    on_jack_ = system_.steps() > 0 || evidence_ >= kEvidence || (held && sharper_ > 0);
  } else if (agree && jack_.steps() == system_.steps()) {
    on_jack_ = evidence_ >= kEvidence;
  }
}

double SenderClock::ns_per_frame() const noexcept {
  return on_jack_ ? jack_.nominal_ns_per_frame() : system_.ns_per_frame();
}

}  // namespace net
