// What an RTP stream's payload is: its encoding, clock rate and channels,
// as an SDP rtpmap (RFC 8866 section 6.6) or --format gives them; and the
// decoder for it.
//
// Thread: control, at start-up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/stream_format.hpp"
#include "net/payload_decoder.hpp"

namespace net {

struct PayloadFormat {
  enum class Encoding : std::uint8_t { Opus, L16, L24 };
  Encoding encoding = Encoding::Opus;
  std::uint32_t rate = 48000;  // RTP clock rate
  int channels = 2;            // Opus: what the stream may carry (libopus mixes to the outputs)

  /// "opus/48000/2", "L24/48000/8".
  std::string name() const;
  bool operator==(const PayloadFormat& o) const noexcept {
    return encoding == o.encoding && rate == o.rate && channels == o.channels;
  }
  bool operator!=(const PayloadFormat& o) const noexcept { return !(*this == o); }
  /// Shortest packet the format is sent in, in ms: what the record pool
  /// is sized by (Opus: 2.5; PCM: 1, as AES67 sends).
  double min_packet_ms() const noexcept { return encoding == Encoding::Opus ? 2.5 : 1.0; }
};

/// Parses ENCODING[/RATE[/CHANNELS]] ("opus", "L16/48000/2"), the rtpmap's
/// form. Why not, or empty when it is one of the three.
std::string parse_payload_format(std::string_view text, PayloadFormat& out);

/// What audio plays of a stream of `format` on `ports` outputs: its rate,
/// the channels records carry (Opus: libopus mixes to at most two), and
/// the port each plays on.
core::StreamFormat stream_format(const PayloadFormat& format, int ports) noexcept;

/// Thread: control. The decoder for `format`, writing `channels` outputs
/// (stream_format(format, ports).channels).
/// Throws std::invalid_argument for a format this build cannot decode.
std::unique_ptr<PayloadDecoder> make_payload_decoder(const PayloadFormat& format, int channels);

}  // namespace net
