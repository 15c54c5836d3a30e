// One JACK process cycle, as the callback hands it to the audio context.
#pragma once

#include <cstdint>

namespace audio {

struct Cycle {
  std::uint32_t nframes = 0;     // frames to write to each port
  std::uint32_t rate = 0;        // JACK's sample rate now
  std::int64_t jack_frames = 0;  // JACK's frame counter at the cycle's start, unwrapped
  std::int64_t wake_ns = 0;      // when the callback began (CLOCK_MONOTONIC)
};

}  // namespace audio
