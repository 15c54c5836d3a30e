#include "core/stream_format.hpp"

#include <doctest/doctest.h>

#include "core/packet_record.hpp"
#include "audio/splicer.hpp"
#include "net/latency_tuner.hpp"
#include "net/loss_repair.hpp"
#include "net/payload_format.hpp"
#include "net/pcm_payload.hpp"

#include <cmath>

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

TEST_CASE("stream format: durations are the same time at every stream rate") {
  for (const std::uint32_t rate : {44100u, 48000u, 96000u}) {
    CAPTURE(rate);
    const core::StreamFormat f = core::make_stream_format(rate, 2, 2);
    CHECK(f.frames(1) == std::lround(rate / 1000.0));
    CHECK(f.ms(f.frames(20)) == doctest::Approx(20).epsilon(0.001));
    // The splicer's windows and history.
    audio::Splicer splicer{2, rate};
    CHECK(f.ms(splicer.crossfade()) == doctest::Approx(5).epsilon(0.005));
    CHECK(f.ms(splicer.search()) == doctest::Approx(1.25).epsilon(0.02));
    CHECK(f.ms(splicer.match_frames()) == doctest::Approx(2).epsilon(0.01));
    CHECK(f.ms(splicer.history_frames()) == doctest::Approx(2048 / 48.0).epsilon(0.001));
    // Concealment: 40 ms at full level.
    net::PcmPayload pcm{3, 2, 2, rate};
    net::LossRepair repair{pcm, rate};
    CHECK(repair.room_at_full_level() == f.frames(40));
  }
}

TEST_CASE("stream format: the latency tuner keeps its times when the rate changes") {
  net::TunerConfig config;
  config.adaptive = true;
  config.initial_frames = 40 * 48;
  config.min_frames = 5 * 48;
  config.max_frames = 250 * 48;
  net::LatencyTuner tuner{config};
  REQUIRE(tuner.target_frames() == 1920);
  tuner.set_rate(96000);
  CHECK(tuner.rate() == 96000);
  CHECK(tuner.target_frames() == 3840);
  tuner.set_rate(44100);
  CHECK(tuner.target_frames() == 1764);
  CHECK(tuner.fixed_cost_frames() > 0);
}
