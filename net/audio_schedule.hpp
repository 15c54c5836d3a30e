// Net's view of audio's callback schedule, from the latest status audio
// published (the observer pattern: cached state): when a stream position
// must be linked to be in time, and whether a callback is overdue.
//
// Thread: net. Owned by net::StreamReceiver.
#pragma once

#include <cstdint>

#include "core/messages.hpp"

namespace net {

class AudioSchedule {
 public:
  /// Audio's latest status.
  void update(const core::AudioStatus& s) noexcept { status_ = s; }
  const core::AudioStatus& status() const noexcept { return status_; }

  /// Audio plays stream `epoch`.
  bool playing(std::uint32_t epoch) const noexcept {
    return status_.playing && status_.epoch == epoch;
  }

  /// When the callback that may render stream position `pos` of `epoch`
  /// first begins (CLOCK_MONOTONIC ns): audio takes in what is queued at
  /// the start of each callback, so a record linked before then is in time.
  /// INT64_MAX while audio does not play that epoch.
  std::int64_t need_time(std::int64_t pos, std::uint32_t epoch) const noexcept {
    // The latest status says where the cursor was after the callback that
    // began at schedule_ns. Callback m after it renders up to
    // cursor + m periods, plus the chunk it may render ahead for the
    // converter, and begins at schedule_ns + m periods.
    if (!playing(epoch) || status_.period_frames == 0 || status_.period_ns == 0) return INT64_MAX;
    const std::int64_t n = status_.period_frames;
    const std::int64_t ahead = pos - status_.cursor - status_.render_ahead;
    const std::int64_t m = ahead < 0 ? 0 : ahead / n + 1;
    return status_.schedule_ns + m * status_.period_ns;
  }

  /// The callback after the latest status has not run by `now_ns`: audio
  /// pushes a status every callback, and net takes them in before each
  /// look, so none for one and a half periods (plus wake-up slack) means
  /// the server stalled or lost time.
  bool overdue(std::int64_t now_ns, std::uint32_t epoch) const noexcept {
    constexpr std::int64_t kSlackNs = 500'000;
    return playing(epoch) && status_.period_ns > 0 &&
           now_ns - status_.schedule_ns > status_.period_ns + status_.period_ns / 2 + kSlackNs;
  }

  /// When the callback after the latest status begins, on its schedule.
  std::int64_t next_callback_ns() const noexcept { return status_.schedule_ns + status_.period_ns; }

 private:
  core::AudioStatus status_;
};

}  // namespace net
