// What the audio context needs to know of the stream it plays: its rate,
// the channels a record carries, and which of them each output port plays.
//
// Net builds one for each stream format (net::stream_format) and hands it
// to audio whole; audio renders, fades, splices and resamples by it.
// Records carry the stream's channels that play (at most the ports; a
// mono stream one, which every port plays), never more, so that a record's
// fixed capacity (kRecordSamples) holds as many frames as it can.
//
// Thread: built by net (or control at start-up), read by audio once
// installed; never written after it leaves its builder.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/defaults.hpp"

namespace core {

struct StreamFormat {
  std::uint32_t rate = defaults::kStreamRate;  // stream frames per second (the RTP clock)
  int channels = 2;                            // interleaved in each record, 1..kMaxChannels
  int ports = 2;                               // output ports, 1..kMaxChannels
  // Per output port: the record channel it plays, or -1 for silence.
  std::array<std::int8_t, defaults::kMaxChannels> port_channel{0, 1, -1, -1, -1, -1, -1, -1};

  /// Frames a record of this format holds at most.
  std::uint32_t max_record_frames() const noexcept {
    return defaults::kRecordSamples / static_cast<std::uint32_t>(channels);
  }
  /// A duration in stream frames at this rate (rounded to the nearest).
  std::uint32_t frames(double ms) const noexcept {
    return static_cast<std::uint32_t>(std::lround(ms * rate / 1000.0));
  }
  /// Stream frames in ms at this rate.
  double ms(double frames) const noexcept { return frames * 1000.0 / rate; }
};

/// The format of a stream of `stream_channels` at `rate` played on `ports`
/// outputs: the first min(stream_channels, ports) channels, port k playing
/// channel k; a mono stream plays on every port; ports beyond the stream's
/// channels are silent.
inline StreamFormat make_stream_format(std::uint32_t rate, int stream_channels, int ports) noexcept {
  StreamFormat f;
  f.rate = rate;
  f.ports = ports;
  f.channels = stream_channels < ports ? stream_channels : ports;
  for (int p = 0; p < defaults::kMaxChannels; ++p)
    f.port_channel[static_cast<std::size_t>(p)] =
        p >= ports ? -1 : stream_channels == 1 ? 0 : p < f.channels ? static_cast<std::int8_t>(p) : -1;
  return f;
}

static_assert(std::is_trivially_copyable_v<StreamFormat>);

}  // namespace core
