#include "net/payload_format.hpp"

#include <stdexcept>

#include "net/opus_stream_decoder.hpp"
#include "net/pcm_payload.hpp"
#include "net/text_fields.hpp"

namespace net {

std::string PayloadFormat::name() const {
  const char* enc = encoding == Encoding::Opus ? "opus" : encoding == Encoding::L16 ? "L16" : "L24";
  return std::string(enc) + "/" + std::to_string(rate) + "/" + std::to_string(channels);
}

std::string parse_payload_format(std::string_view text, PayloadFormat& out) {
  const std::size_t a = text.find('/');
  const std::string_view enc = text.substr(0, a);
  PayloadFormat f;
  if (iequals(enc, "opus")) {
    f.encoding = PayloadFormat::Encoding::Opus;
  } else if (iequals(enc, "L16")) {
    f.encoding = PayloadFormat::Encoding::L16;
  } else if (iequals(enc, "L24")) {
    f.encoding = PayloadFormat::Encoding::L24;
  } else {
    return "not opus, L16 or L24";
  }
  if (a != std::string_view::npos) {
    const std::string_view rest = text.substr(a + 1);
    const std::size_t b = rest.find('/');
    if (!parse_number(rest.substr(0, b), f.rate) || f.rate == 0) return "the clock rate is not a number";
    if (b != std::string_view::npos && (!parse_number(rest.substr(b + 1), f.channels) || f.channels < 1))
      return "the channel count is not a number";
    if (f.encoding != PayloadFormat::Encoding::Opus && b == std::string_view::npos) f.channels = 1;  // RFC 8866 6.6
  }
  // RFC 7587 section 7: always opus/48000/2, whatever the stream carries.
  if (f.encoding == PayloadFormat::Encoding::Opus && (f.rate != 48000 || f.channels != 2))
    return "Opus is opus/48000/2 (RFC 7587)";
  out = f;
  return {};
}

core::StreamFormat stream_format(const PayloadFormat& format, int ports) noexcept {
  // RFC 7587 section 7: Opus is always signalled as two channels; libopus
  // decodes it to one or two, mixing as needed.
  const int carried = format.encoding == PayloadFormat::Encoding::Opus ? 2 : format.channels;
  return core::make_stream_format(format.rate, carried, ports);
}

std::unique_ptr<PayloadDecoder> make_payload_decoder(const PayloadFormat& format, int channels) {
  switch (format.encoding) {
    case PayloadFormat::Encoding::Opus: return std::make_unique<OpusStreamDecoder>(channels);
    case PayloadFormat::Encoding::L16: return std::make_unique<PcmPayload>(2, format.channels, channels, format.rate);
    case PayloadFormat::Encoding::L24: return std::make_unique<PcmPayload>(3, format.channels, channels, format.rate);
  }
  throw std::invalid_argument("unknown payload encoding");
}

}  // namespace net
