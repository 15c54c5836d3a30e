// The pool of packet records: allocated once, then reused forever.
//
// Thread: net only (allocate in source, release in source). The pool is never
// touched by the audio context; audio hands records back with Unlink.
#pragma once

#include <cassert>
#include <cstddef>
#include <memory>

#include "core/packet_record.hpp"

namespace core {

class RecordPool {
 public:
  /// Thread: control, at start-up. Allocates every record there will ever be.
  explicit RecordPool(std::size_t size)
      : size_(size),
        records_(new PacketRecord[size]),  // default-init: pcm stays untouched
        free_(std::make_unique<PacketRecord*[]>(size)) {
    for (std::size_t i = 0; i < size_; ++i) {
      records_[i].pooled = true;
      free_[i] = &records_[i];
    }
    free_count_ = size_;
  }

  RecordPool(const RecordPool&) = delete;
  RecordPool& operator=(const RecordPool&) = delete;

  /// Thread: net. Real-time safe. nullptr when every record is out; the
  /// caller counts the drop and never allocates more.
  PacketRecord* acquire() noexcept {
    if (free_count_ == 0) return nullptr;
    PacketRecord* r = free_[--free_count_];
    assert(r->pooled && "record_pool: free list holds a record that is out");
    r->pooled = false;
    return r;
  }

  /// Thread: net. Real-time safe. Returns false (and ignores the record) for
  /// a record that is not from this pool or is already home: a bug upstream,
  /// which the caller asserts on.
  [[nodiscard]] bool release(PacketRecord* r) noexcept {
    if (!owns(r) || r->pooled || free_count_ == size_) return false;
    r->pooled = true;
    free_[free_count_++] = r;
    return true;
  }

  bool owns(const PacketRecord* r) const noexcept {
    return r >= records_.get() && r < records_.get() + size_;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t available() const noexcept { return free_count_; }

 private:
  const std::size_t size_;
  const std::unique_ptr<PacketRecord[]> records_;
  const std::unique_ptr<PacketRecord*[]> free_;  // stack of records at home
  std::size_t free_count_ = 0;
};

}  // namespace core
