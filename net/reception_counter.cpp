#include "net/reception_counter.hpp"

#include <algorithm>
#include <cmath>

#include "core/defaults.hpp"
#include "net/unwrap.hpp"

namespace net {

void ReceptionCounter::restart(std::uint16_t seq, std::uint32_t ts) noexcept {
  if (started_) lost_before_ = lost();
  started_ = true;
  base_seq_ = seq;
  highest_seq_ = std::int64_t{seq} - 1;
  highest_ts_ = ts;
  received_ = 0;
  have_transit_ = false;
  recent_.fill(INT64_MIN);  // no real extended sequence number
}

std::int64_t ReceptionCounter::extend_seq(std::uint16_t seq) const noexcept {
  return unwrap<16>(seq, highest_seq_);
}

std::int64_t ReceptionCounter::extend_ts(std::uint32_t ts) const noexcept {
  return unwrap<32>(ts, highest_ts_);
}

bool ReceptionCounter::arrived(std::int64_t seq, std::int64_t ts, std::int64_t arrival_ns) noexcept {
  recent_[slot(seq)] = seq;
  ++received_;
  // RFC 3550 A.8: J += (|D| - J) / 16, with D the change in relative transit
  // time, all in RTP timestamp units.
  const double arrival = static_cast<double>(arrival_ns) * (rate_ / 1e9);
  const double transit = arrival - static_cast<double>(ts);
  if (have_transit_) jitter_ += (std::abs(transit - transit_) - jitter_) / 16.0;
  transit_ = transit;
  have_transit_ = true;
  if (seq <= highest_seq_) return false;
  highest_seq_ = seq;
  highest_ts_ = ts;
  return true;
}

std::uint64_t ReceptionCounter::lost() const noexcept {
  if (!started_) return 0;
  // RFC 3550 A.3: expected = extended highest - base + 1.
  const std::int64_t expected = highest_seq_ - base_seq_ + 1;
  const std::int64_t lost = expected - static_cast<std::int64_t>(received_);
  return lost_before_ + static_cast<std::uint64_t>(std::max<std::int64_t>(lost, 0));
}

}  // namespace net
