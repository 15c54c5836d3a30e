// Extending RTP's wrapping counters to 64 bits (RFC 3550 appendix A.1 keeps a
// cycle count; here the nearest candidate to a reference is chosen instead).
#pragma once

#include <cstdint>

namespace net {

/// Thread: any. Real-time safe. The 64-bit value congruent to `value` modulo
/// 2^Bits that lies nearest to `reference` (ties go forward).
template <unsigned Bits>
constexpr std::int64_t unwrap(std::uint64_t value, std::int64_t reference) noexcept {
  static_assert(Bits > 0 && Bits < 63);
  constexpr std::int64_t kRange = std::int64_t{1} << Bits;
  constexpr std::int64_t kMask = kRange - 1;
  std::int64_t delta = (static_cast<std::int64_t>(value) - reference) & kMask;
  if (delta > kRange / 2) delta -= kRange;
  return reference + delta;
}

}  // namespace net
