// Fixed-capacity, lock-free, single-producer single-consumer ring buffer.
//
// Real-time safe after construction: try_push/try_pop never allocate, block,
// or make a syscall. Construction allocates; do it at start-up.
//
// Layout after rigtorp/SPSCQueue: the two indices sit on separate cache
// lines and each side keeps a cached copy of the other side's index, so the
// common case touches only its own line; the slot array has a cache line of
// padding at each end, so no neighbouring allocation shares a line with the
// first or last slot.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace core {

template <typename T>
class SpscQueue {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "SpscQueue: T must be nothrow move constructible (real-time path)");
  static_assert(std::is_nothrow_destructible_v<T>, "SpscQueue: T must be nothrow destructible");

 public:
  /// Thread: any, before both sides start. Allocates `capacity` slots.
  /// Throws std::length_error for 0 or a capacity whose slots (with the
  /// padding) would not fit in a size_t.
  explicit SpscQueue(std::size_t capacity)
      : capacity_(checked(capacity) + 1),  // one slot stays empty to tell full from empty
        slots_(std::make_unique<Slot[]>(capacity_ + 2 * kPadding)) {
    static_assert(alignof(SpscQueue) == kCacheLine);
    static_assert(sizeof(SpscQueue) >= 3 * kCacheLine);  // fields, producer's line, consumer's line
  }

  /// Thread: the owner, once neither side can touch the queue any more
  /// (both threads joined, or both contexts stopped). Destroys what is left.
  ~SpscQueue() {
    while (try_pop()) {
    }
  }

  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  /// Thread: producer only. Real-time safe. Returns false (and leaves `v`
  /// untouched) when full; the caller counts the drop.
  template <typename U>
  [[nodiscard]] bool try_push(U&& v) noexcept {
    static_assert(std::is_nothrow_constructible_v<T, U&&>);
    const std::size_t w = write_.load(std::memory_order_relaxed);  // own index
    std::size_t next = w + 1;
    if (next == capacity_) next = 0;
    if (next == read_cache_) {
      // acquire: the consumer's release of read_ means it is done with the slot.
      read_cache_ = read_.load(std::memory_order_acquire);
      if (next == read_cache_) return false;
    }
    new (slots_[w + kPadding].ptr()) T(std::forward<U>(v));
    // release: publishes the constructed element before the new index.
    write_.store(next, std::memory_order_release);
    return true;
  }

  /// Thread: consumer only. Real-time safe. Empty optional when empty.
  [[nodiscard]] std::optional<T> try_pop() noexcept {
    const std::size_t r = read_.load(std::memory_order_relaxed);  // own index
    if (r == write_cache_) {
      // acquire: pairs with the producer's release so the element is visible.
      write_cache_ = write_.load(std::memory_order_acquire);
      if (r == write_cache_) return std::nullopt;
    }
    T* p = slots_[r + kPadding].ptr();
    std::optional<T> out(std::move(*p));
    p->~T();
    std::size_t next = r + 1;
    if (next == capacity_) next = 0;
    // release: the slot is free for the producer only after we moved out of it.
    read_.store(next, std::memory_order_release);
    return out;
  }

  /// Thread: any. Approximate (exact when both sides are idle).
  std::size_t size_approx() const noexcept {
    const std::size_t w = write_.load(std::memory_order_acquire);
    const std::size_t r = read_.load(std::memory_order_acquire);
    return w >= r ? w - r : capacity_ - r + w;
  }

  std::size_t capacity() const noexcept { return capacity_ - 1; }

 private:
  struct Slot {
    alignas(T) unsigned char bytes[sizeof(T)];
    T* ptr() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  };

  static constexpr std::size_t kCacheLine = 64;
  // Slots that fill a cache line, before the first and after the last.
  static constexpr std::size_t kPadding = (kCacheLine - 1) / sizeof(Slot) + 1;

  static std::size_t checked(std::size_t capacity) {
    if (capacity == 0 || capacity > SIZE_MAX / sizeof(Slot) - 2 * kPadding - 1)
      throw std::length_error("SpscQueue: capacity must be positive and fit in memory");
    return capacity;
  }

  const std::size_t capacity_;
  const std::unique_ptr<Slot[]> slots_;

  // Written by the producer, read by the consumer.
  alignas(kCacheLine) std::atomic<std::size_t> write_{0};
  // Only referenced by the producer.
  std::size_t read_cache_ = 0;
  // Written by the consumer, read by the producer.
  alignas(kCacheLine) std::atomic<std::size_t> read_{0};
  // Only referenced by the consumer.
  std::size_t write_cache_ = 0;
  char pad_[kCacheLine - sizeof(std::size_t)] = {};
};

}  // namespace core
