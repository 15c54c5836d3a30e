// A packet record: one decoded (or concealed) stretch of audio, pooled.
//
// Records are allocated once at start-up (core::RecordPool) and cycle
// net -> audio -> net forever (closed-loop reuse). Exactly one context owns a
// record at a time; ownership moves with the Link/Unlink messages.
#pragma once

#include <cstdint>

#include "core/defaults.hpp"

namespace core {

struct PacketRecord {
  enum class Kind : std::uint8_t { Decoded, Concealed, Fec };

  // Written by net before Link, read by audio after. Never both at once.
  std::int64_t seq = 0;        // extended (64-bit) RTP sequence number; -1 for concealment
  std::int64_t timestamp = 0;  // stream position of the first sample, in stream frames
  std::uint32_t frames = 0;    // samples per channel in pcm
  std::uint32_t epoch = 0;     // stream epoch: bumped by every Reset
  Kind kind = Kind::Decoded;
  bool pooled = false;         // only referenced by the pool: catches double release

  // Interleaved, as many channels as the stream's core::StreamFormat says;
  // kRecordSamples / channels frames at most. Left uninitialised so that
  // untouched records cost no resident memory.
  float pcm[defaults::kRecordSamples];

  std::int64_t end() const noexcept { return timestamp + frames; }
};

}  // namespace core
