// A fixed-capacity, lock-free, single-producer single-consumer byte ring
// that carries whole JACK process cycles: a CycleHeader followed by the
// cycle's samples, one block per channel. Direction: JACK's process thread
// (producer) to jack_tap's writer thread (consumer).
//
// Test-only code (STYLE rule 11). Real-time safe on the producer side:
// try_push never allocates, blocks or makes a system call. Construction
// allocates; do it before the JACK client is activated.
//
// One ring for headers and samples, so a cycle is pushed all or nothing:
// a full ring never leaves samples without their header or the reverse.
// Positions are 64-bit byte counters that never wrap in practice (2^64
// bytes), so full and empty need no spare slot; the byte offset is the
// counter modulo the capacity. Each index sits on its own cache line, and
// each side keeps a cached copy of the other's index (after
// rigtorp/SPSCQueue), so the common case touches only its own line.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace testtools {

/// One process cycle as the process callback saw it.
struct CycleHeader {
  std::uint64_t rec_frame = 0;    // index in the recording of the cycle's first frame
  std::int64_t wake_ns = 0;       // CLOCK_MONOTONIC at callback entry
  std::uint32_t jack_frames = 0;  // JACK's frame time of the cycle's first frame
  std::uint32_t nframes = 0;      // frames recorded from this cycle (per channel)
};

class CycleRing {
 public:
  /// Thread: any, before both sides start. Allocates `capacity_bytes`, of
  /// which a cycle takes sizeof(CycleHeader) + channels * nframes floats.
  CycleRing(std::size_t capacity_bytes, std::uint32_t channels)
      : capacity_(capacity_bytes), channels_(channels), bytes_(new unsigned char[capacity_bytes]) {
    assert(capacity_bytes > sizeof(CycleHeader) && channels > 0);
  }

  CycleRing(const CycleRing&) = delete;
  CycleRing& operator=(const CycleRing&) = delete;

  /// Thread: producer only. Real-time safe. Copies `header` and
  /// header.nframes samples from each of `channels[0..channels)`. Returns
  /// false, pushing nothing, when the ring lacks room; the caller counts it.
  [[nodiscard]] bool try_push(const CycleHeader& header, const float* const* channels) noexcept {
    const std::size_t block = std::size_t{header.nframes} * sizeof(float);
    const std::size_t need = sizeof(CycleHeader) + channels_ * block;
    const std::uint64_t w = write_.load(std::memory_order_relaxed);  // own index
    if (w + need - read_cache_ > capacity_) {
      // acquire: the consumer's release of read_ means it is done with those bytes.
      read_cache_ = read_.load(std::memory_order_acquire);
      if (w + need - read_cache_ > capacity_) return false;
    }
    std::uint64_t at = w;
    CopyIn(at, &header, sizeof header);
    at += sizeof header;
    for (std::uint32_t c = 0; c < channels_; ++c, at += block) CopyIn(at, channels[c], block);
    // release: publishes the bytes before the index that covers them.
    write_.store(at, std::memory_order_release);
    return true;
  }

  /// Thread: consumer only. Pops one cycle into `header` and its samples
  /// into `planar` (channel c at planar[c * nframes]), growing `planar` when
  /// needed (allocates then, on the consumer's side). False when empty.
  [[nodiscard]] bool try_pop(CycleHeader& header, std::vector<float>& planar) {
    const std::uint64_t r = read_.load(std::memory_order_relaxed);  // own index
    if (r == write_cache_) {
      // acquire: pairs with the producer's release, so the bytes are visible.
      write_cache_ = write_.load(std::memory_order_acquire);
      if (r == write_cache_) return false;
    }
    std::uint64_t at = r;
    CopyOut(at, &header, sizeof header);
    at += sizeof header;
    const std::size_t samples = std::size_t{channels_} * header.nframes;
    if (planar.size() < samples) planar.resize(samples);
    CopyOut(at, planar.data(), samples * sizeof(float));
    at += samples * sizeof(float);
    assert(at <= write_cache_);
    // release: the producer may reuse the bytes only after we copied them out.
    read_.store(at, std::memory_order_release);
    return true;
  }

  /// Thread: any. Approximate while both sides run; exact when idle.
  [[nodiscard]] bool empty() const noexcept {
    return read_.load(std::memory_order_acquire) == write_.load(std::memory_order_acquire);
  }

  std::uint32_t channels() const noexcept { return channels_; }

 private:
  // Copies across the end of the storage in at most two pieces.
  void CopyIn(std::uint64_t at, const void* from, std::size_t n) noexcept {
    const std::size_t off = static_cast<std::size_t>(at % capacity_);
    const std::size_t first = n < capacity_ - off ? n : capacity_ - off;
    std::memcpy(&bytes_[off], from, first);
    std::memcpy(&bytes_[0], static_cast<const unsigned char*>(from) + first, n - first);
  }
  void CopyOut(std::uint64_t at, void* to, std::size_t n) const noexcept {
    const std::size_t off = static_cast<std::size_t>(at % capacity_);
    const std::size_t first = n < capacity_ - off ? n : capacity_ - off;
    std::memcpy(to, &bytes_[off], first);
    std::memcpy(static_cast<unsigned char*>(to) + first, &bytes_[0], n - first);
  }

  static constexpr std::size_t kCacheLine = 64;

  const std::size_t capacity_;
  const std::uint32_t channels_;
  const std::unique_ptr<unsigned char[]> bytes_;

  // Written by the producer, read by the consumer: bytes pushed so far.
  alignas(kCacheLine) std::atomic<std::uint64_t> write_{0};
  // Only referenced by the producer.
  std::uint64_t read_cache_ = 0;
  // Written by the consumer, read by the producer: bytes popped so far.
  alignas(kCacheLine) std::atomic<std::uint64_t> read_{0};
  // Only referenced by the consumer.
  std::uint64_t write_cache_ = 0;
  char pad_[kCacheLine - sizeof(std::uint64_t)] = {};
};

}  // namespace testtools
