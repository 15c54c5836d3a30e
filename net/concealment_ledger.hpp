// The accounting of concealment: how many concealed packets played, as
// the stats show it.
//
// A run's concealment is counted only when it can no longer be replaced:
// the packet after it shows something was missing, or the missing packet
// comes late and replaces it (a rescue, which audio counts when it takes
// the replacement in). A run the stream's pause or end explains is
// forgotten. After a rescue rewinds the timeline, concealment made again
// below the rewound end replaces records already counted and is not
// counted twice. The count shown is concealment that played: counted less
// rescued, as of the latest moment net and audio had both settled, so
// that it never steps back.
//
// Thread: net. Owned by net::Depacketizer.
#pragma once

#include <cstdint>

#include "core/messages.hpp"

namespace net {

class ConcealmentLedger {
 public:
  /// A new stream: nothing pending, nothing rewound.
  void reset() noexcept {
    pending_ = 0;
    rescued_until_ = 0;
  }

  /// A concealed record made at `pos`.
  void made(std::int64_t pos) noexcept {
    if (pos >= rescued_until_) ++pending_;
  }
  bool pending() const noexcept { return pending_ > 0; }
  /// The pending run was for a real loss (or a rescue replaces it).
  void confirm() noexcept {
    counted_ += pending_;
    pending_ = 0;
  }
  /// The pending run was not a loss (a pause, an end, a stretch).
  void forget() noexcept { pending_ = 0; }

  /// The timeline goes back over records made up to `made_until`.
  void rewound(std::int64_t made_until) noexcept {
    if (made_until > rescued_until_) rescued_until_ = made_until;
  }
  /// A record at `pos` was linked at `now_ns`.
  void linked(std::int64_t pos, std::int64_t now_ns) noexcept {
    if (pos < rescued_until_) replaced_ns_ = now_ns;
  }

  /// Audio's latest status came; net has made everything up to `next_pos`.
  void on_status(const core::AudioStatus& audio, std::int64_t next_pos) noexcept {
    if (settled(audio, next_pos)) shown_ = played(audio);
  }
  /// Concealed packets that played, as the stats show them.
  std::uint64_t shown(const core::AudioStatus& audio, std::int64_t next_pos) const noexcept {
    return settled(audio, next_pos) ? played(audio) : shown_;
  }

 private:
  // Net has made again everything a rescue rewound, and audio has taken it
  // in: the status is from a callback that began after the last of it was
  // linked (audio takes in what is queued at the start of each callback).
  // Every rescue net counted is then counted by audio too, or was refused
  // (the concealment had begun to play) and so counts as played.
  bool settled(const core::AudioStatus& audio, std::int64_t next_pos) const noexcept {
    return next_pos >= rescued_until_ && audio.cycle_ns > replaced_ns_;
  }
  std::uint64_t played(const core::AudioStatus& audio) const noexcept {
    return counted_ - (audio.records_rescued < counted_ ? audio.records_rescued : counted_);
  }

  std::uint64_t pending_ = 0;           // made, not yet counted
  std::uint64_t counted_ = 0;           // counted since start
  std::int64_t rescued_until_ = 0;      // end of the concealment audio holds after a rescue
  std::int64_t replaced_ns_ = INT64_MIN;  // the latest record linked below rescued_until_
  std::uint64_t shown_ = 0;
};

}  // namespace net
