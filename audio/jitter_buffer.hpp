// The jitter buffer: linked records ordered by stream position.
//
// Thread: audio (after construction). Real-time safe: a fixed ring of
// pointers allocated at start-up; insert is O(1) for in-order arrivals and
// O(n) bounded by the capacity otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/packet_record.hpp"

namespace audio {

class JitterBuffer {
 public:
  /// Thread: control, at start-up.
  explicit JitterBuffer(std::size_t capacity)
      : capacity_(capacity), ring_(std::make_unique<core::PacketRecord*[]>(capacity)) {}

  /// Thread: audio. Real-time safe. Inserts in timestamp order. False when
  /// full or when a record already starts at the same position; the caller
  /// then sends the record home.
  [[nodiscard]] bool insert(core::PacketRecord* r) noexcept {
    if (size_ == capacity_) return false;
    std::size_t i = size_;  // the slot to fill, walking back from the end
    while (i > 0) {
      const core::PacketRecord* prev = at(i - 1);
      if (prev->timestamp < r->timestamp) break;
      if (prev->timestamp == r->timestamp) {
        // shift back what was moved so far, then refuse
        for (std::size_t j = i; j < size_; ++j) slot(j) = slot(j + 1);
        return false;
      }
      slot(i) = slot(i - 1);
      --i;
    }
    slot(i) = r;
    ++size_;
    return true;
  }

  /// Thread: audio. Real-time safe. Index of the record that starts at
  /// `timestamp`, or size() when none does. Walks back from the newest,
  /// where a replacement usually lands; bounded by the capacity.
  std::size_t find(std::int64_t timestamp) const noexcept {
    for (std::size_t i = size_; i > 0; --i) {
      const std::int64_t t = at(i - 1)->timestamp;
      if (t == timestamp) return i - 1;
      if (t < timestamp) break;
    }
    return size_;
  }

  /// Thread: audio. Puts `r` in the i-th record's place (same position) and
  /// returns the record it replaced, for the caller to send home.
  core::PacketRecord* replace(std::size_t i, core::PacketRecord* r) noexcept {
    core::PacketRecord* old = at(i);
    slot(i) = r;
    return old;
  }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  core::PacketRecord* front() const noexcept { return at(0); }
  core::PacketRecord* back() const noexcept { return at(size_ - 1); }
  /// The i-th record in order; i < size().
  core::PacketRecord* at(std::size_t i) const noexcept { return ring_[(head_ + i) % capacity_]; }

  /// Thread: audio. Removes and returns the earliest record (nullptr if empty).
  core::PacketRecord* pop_front() noexcept {
    if (size_ == 0) return nullptr;
    core::PacketRecord* r = at(0);
    head_ = (head_ + 1) % capacity_;
    --size_;
    return r;
  }

  /// Stream position just past the last queued sample.
  std::int64_t end() const noexcept { return size_ ? back()->end() : 0; }

  /// Stream position just past the audio queued without a hole from
  /// `from` on (`from` itself if nothing covers it). A hole is a place net
  /// has not filled yet (a packet on its way, a loss FEC or concealment
  /// will fill) or a pause in the stream. Bounded by size().
  std::int64_t contiguous_end(std::int64_t from) const noexcept {
    std::int64_t end = from;
    for (std::size_t i = 0; i < size_; ++i) {
      const core::PacketRecord* r = at(i);
      if (r->end() <= end) continue;
      if (r->timestamp > end) break;
      end = r->end();
    }
    return end;
  }

 private:
  core::PacketRecord*& slot(std::size_t i) noexcept { return ring_[(head_ + i) % capacity_]; }

  const std::size_t capacity_;
  const std::unique_ptr<core::PacketRecord*[]> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace audio
