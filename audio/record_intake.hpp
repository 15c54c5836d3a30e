// The records' way in and out of the jitter buffer: net links records
// into it through one queue (the link pattern), and the buffer sends them
// home through the other (the unlink pattern) once played, late, flushed
// or skipped. Decides what a record that comes is: the next in line, a
// replacement for concealment that has not begun to play (a rescue), a
// duplicate, late, or one too many for a full buffer.
//
// Thread: audio (control only while no callback runs). Allocates at
// construction only (the records waiting for room on the way home, sized
// for the whole pool); everything else is real-time safe and bounded by
// the queue's and the buffer's capacity.
#pragma once

#include <cstdint>
#include <memory>

#include "audio/jitter_buffer.hpp"
#include "core/messages.hpp"
#include "core/spsc_queue.hpp"

namespace audio {

class RecordIntake {
 public:
  /// Thread: control, at start-up. `buffer` outlives the intake.
  RecordIntake(JitterBuffer& buffer, core::SpscQueue<core::PacketRecord*>& from_net,
               core::SpscQueue<core::PacketRecord*>& to_net);

  /// Thread: audio. Links what net sent: records of `epoch` into the
  /// buffer, where they are not late (ending at or before `played_to`,
  /// the cursor) and not duplicates; the rest goes home, counted in
  /// `status`. True when a record of `epoch` came; `first` is the first
  /// one's timestamp.
  bool drain(std::uint32_t epoch, std::int64_t played_to, core::AudioStatus& status,
             std::int64_t& first) noexcept;

  /// Thread: audio. Sends `r` home; when the queue home is full, keeps it
  /// to retry (return_pending()).
  void unlink(core::PacketRecord* r) noexcept;
  /// Thread: audio. Retries what unlink() kept.
  void return_pending() noexcept;
  /// Thread: audio. Sends home the records wholly before `pos`, counting
  /// them in `*dropped` if given.
  void drop_before(std::int64_t pos, std::uint64_t* dropped = nullptr) noexcept {
    while (!buffer_.empty() && buffer_.front()->end() <= pos) {
      if (dropped != nullptr) ++*dropped;
      unlink(buffer_.pop_front());
    }
  }
  /// Thread: audio. Sends every record home.
  void flush() noexcept {
    while (!buffer_.empty()) unlink(buffer_.pop_front());
  }

 private:
  void replace(std::size_t i, core::PacketRecord* r, std::int64_t played_to, core::AudioStatus& status) noexcept;

  JitterBuffer& buffer_;
  core::SpscQueue<core::PacketRecord*>& from_net_;  // net -> audio: records to link
  core::SpscQueue<core::PacketRecord*>& to_net_;    // audio -> net: records going home
  // Records whose unlink found to_net_ full; retried every call. Sized for
  // the whole pool, so nothing is ever lost.
  const std::unique_ptr<core::PacketRecord*[]> pending_;
  std::size_t pending_count_ = 0;
};

}  // namespace audio
