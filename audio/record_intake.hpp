// The records' way in and out of the jitter buffer: net links records
// into it through one queue (the link pattern), and the buffer sends them
// home through the other (the unlink pattern) once played, late, flushed
// or skipped. A stream format on the way in stops the drain and goes to
// the player to install (the swap pattern); the one it replaces goes home
// the records' way. Decides what a record that comes is: the next in line, a
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
  RecordIntake(JitterBuffer& buffer, core::SpscQueue<core::Message>& from_net,
               core::SpscQueue<core::Message>& to_net);

  /// Thread: audio. Links what net sent: records of `epoch` into the
  /// buffer, where they are not late (ending at or before `played_to`,
  /// the cursor) and not duplicates; the rest goes home, counted in
  /// `status`. True when a record of `epoch` came; `first` is the first
  /// one's timestamp. Stops at a stream format, which `format` then holds
  /// (else nullptr): the records after it are of that format, so the
  /// caller installs it and drains again.
  bool drain(std::uint32_t epoch, std::int64_t played_to, core::AudioStatus& status,
             std::int64_t& first, core::StreamFormat*& format) noexcept;

  /// Thread: audio. Sends `r` home; when the queue home is full, keeps it
  /// to retry (return_pending()).
  void unlink(core::PacketRecord* r) noexcept { send_home(core::Message::unlink(r)); }
  /// Thread: audio. Sends home a stream format that audio has replaced, for
  /// net to destroy; like a record, kept to retry if the queue is full.
  void unlink(core::StreamFormat* f) noexcept { send_home(core::Message::swap(f)); }
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
  void send_home(const core::Message& m) noexcept;

  JitterBuffer& buffer_;
  core::SpscQueue<core::Message>& from_net_;  // net -> audio: records to link, formats to install
  core::SpscQueue<core::Message>& to_net_;    // audio -> net: records and formats going home
  // What found to_net_ full on its way home; retried every call. Sized
  // for the whole pool and every format, so nothing is ever lost.
  const std::size_t pending_capacity_;
  const std::unique_ptr<core::Message[]> pending_;
  std::size_t pending_count_ = 0;
};

}  // namespace audio
