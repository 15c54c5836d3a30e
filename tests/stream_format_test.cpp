#include "core/stream_format.hpp"

#include <doctest/doctest.h>

#include "core/packet_record.hpp"
#include "net/payload_format.hpp"

namespace d = core::defaults;

TEST_CASE("stream format: a record holds a fixed number of samples, frames by its channels") {
  for (int ch = 1; ch <= d::kMaxChannels; ++ch) {
    const core::StreamFormat f = core::make_stream_format(48000, ch, ch);
    CHECK(f.channels == ch);
    CHECK(f.max_record_frames() == d::kRecordSamples / ch);
    CHECK(std::size_t{f.max_record_frames()} * ch <= std::size(core::PacketRecord{}.pcm));
  }
  // Stereo holds the longest Opus packet; eight channels 30 ms at 48 kHz.
  CHECK(core::make_stream_format(48000, 2, 2).max_record_frames() == d::kMaxPacketFrames);
  CHECK(core::make_stream_format(48000, 8, 8).max_record_frames() == 1440);
}

TEST_CASE("stream format: which channel each port plays") {
  SUBCASE("the first channels of a wider stream") {
    const core::StreamFormat f = core::make_stream_format(48000, 8, 2);
    CHECK(f.channels == 2);
    CHECK(f.port_channel[0] == 0);
    CHECK(f.port_channel[1] == 1);
    CHECK(f.port_channel[2] == -1);
  }
  SUBCASE("a mono stream on every port, carried once") {
    const core::StreamFormat f = core::make_stream_format(48000, 1, 8);
    CHECK(f.channels == 1);
    for (int p = 0; p < 8; ++p) CHECK(f.port_channel[static_cast<std::size_t>(p)] == 0);
  }
  SUBCASE("a stereo stream on four ports: two silent") {
    const core::StreamFormat f = core::make_stream_format(48000, 2, 4);
    CHECK(f.channels == 2);
    CHECK(f.port_channel[2] == -1);
    CHECK(f.port_channel[3] == -1);
  }
  SUBCASE("Opus: at most two, whatever the ports") {
    net::PayloadFormat opus;
    CHECK(net::stream_format(opus, 1).channels == 1);
    CHECK(net::stream_format(opus, 2).channels == 2);
    CHECK(net::stream_format(opus, 8).channels == 2);
  }
}
