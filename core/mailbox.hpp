// A latest-value mailbox between two threads: the writer publishes whole
// values, the reader takes the newest one. Nothing queues, so nothing can
// overflow or be lost but values a newer one replaced: the right channel
// for state (a target, a clock model, a status), where only the latest
// value means anything.
//
// A triple buffer: the writer fills its own slot and swaps it with the
// shared middle slot; the reader swaps its own slot with the middle one
// when the middle holds a value it has not seen. Wait-free on both sides,
// one atomic exchange per operation.
//
// Thread: one writer thread calls publish(), one reader thread calls
// take(); both real-time safe (no allocation, lock or system call).
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace core {

template <typename T>
class Mailbox {
  static_assert(std::is_trivially_copyable_v<T>, "Mailbox: values are copied between threads");

 public:
  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  /// Thread: writer. Real-time safe. The value replaces any the reader has
  /// not taken yet.
  void publish(const T& value) noexcept {
    slots_[back_] = value;
    // acq_rel: release publishes the slot's contents with the swap; acquire
    // makes sure the reader is done with the slot we get back.
    back_ = middle_.exchange(back_ | kFresh, std::memory_order_acq_rel) & kIndex;
  }

  /// Thread: reader. Real-time safe. The newest value published since the
  /// last take, or nullptr when there is none. The pointer stays valid
  /// until the next take().
  const T* take() noexcept {
    // relaxed: only a hint; the exchange below orders the data.
    if ((middle_.load(std::memory_order_relaxed) & kFresh) == 0) return nullptr;
    // acq_rel: acquire sees the writer's slot contents; release hands our
    // old slot back.
    front_ = middle_.exchange(front_, std::memory_order_acq_rel) & kIndex;
    return &slots_[front_];
  }

 private:
  static constexpr std::uint8_t kIndex = 3;
  static constexpr std::uint8_t kFresh = 4;  // the middle slot holds an unread value

  T slots_[3]{};
  std::uint8_t back_ = 0;  // only referenced by the writer
  alignas(64) std::atomic<std::uint8_t> middle_{1};
  alignas(64) std::uint8_t front_ = 2;  // only referenced by the reader
};

}  // namespace core
