#include "audio/record_intake.hpp"

#include <doctest/doctest.h>

#include <climits>
#include <cstdint>

#include "core/record_pool.hpp"

namespace {

using Kind = core::PacketRecord::Kind;

// Net's side of the two queues, around an intake of 8 records.
struct Rig {
  core::RecordPool pool{8};
  core::SpscQueue<core::Message> to_audio{8};
  core::SpscQueue<core::Message> home{8};
  audio::JitterBuffer buffer{8};
  audio::RecordIntake intake{buffer, to_audio, home};
  core::AudioStatus status;
  core::PacketRecord* link(std::int64_t ts, Kind kind = Kind::Decoded, std::uint32_t epoch = 1) {
    core::PacketRecord* r = pool.acquire();
    REQUIRE(r != nullptr);
    r->timestamp = ts;
    r->frames = 960;
    r->kind = kind;
    r->epoch = epoch;
    REQUIRE(to_audio.try_push(core::Message::link(r)));
    return r;
  }
  bool drain(std::int64_t played_to = INT64_MIN) {
    std::int64_t first = 0;
    core::StreamFormat* format = nullptr;
    const bool came = intake.drain(1, played_to, status, first, format);
    REQUIRE(format == nullptr);
    return came;
  }
  int returned() {
    int n = 0;
    while (auto m = home.try_pop()) {
      REQUIRE(pool.release(m->record));
      ++n;
    }
    return n;
  }
};

}  // namespace

TEST_CASE("record_intake: records of the stream go into the buffer in order; others go home") {
  Rig rig;
  rig.link(960);
  rig.link(0);
  rig.link(1920, Kind::Decoded, 2);  // another stream's
  std::int64_t first = -1;
  core::StreamFormat* format = nullptr;
  CHECK(rig.intake.drain(1, INT64_MIN, rig.status, first, format));
  CHECK(first == 960);  // the first to come, not the earliest
  CHECK(rig.buffer.size() == 2);
  CHECK(rig.buffer.front()->timestamp == 0);
  CHECK(rig.returned() == 1);
  CHECK_FALSE(rig.drain());  // nothing came
}

TEST_CASE("record_intake: late records, duplicates and rescues are told apart and counted") {
  Rig rig;
  rig.link(0);
  rig.link(960, Kind::Concealed);
  rig.link(1920, Kind::Concealed);
  rig.drain(500);
  CHECK(rig.buffer.size() == 3);
  rig.link(0);     // a duplicate of a decoded record
  rig.link(960);   // after its concealment, which has not begun: a rescue
  rig.link(-960);  // wholly before the cursor: late
  rig.drain(500);
  CHECK(rig.status.records_duplicate == 1);
  CHECK(rig.status.records_rescued == 1);
  CHECK(rig.status.records_late == 1);
  CHECK(rig.buffer.at(1)->kind == Kind::Decoded);
  CHECK(rig.returned() == 3);
  // Concealment that has begun to play plays on: the packet was late.
  rig.link(1920);
  rig.drain(2000);
  CHECK(rig.status.records_late == 2);
  CHECK(rig.buffer.at(2)->kind == Kind::Concealed);
}

TEST_CASE("record_intake: a full way home keeps records and sends them later; none is lost") {
  Rig rig;
  for (int k = 0; k < 8; ++k) rig.link(960 * k);
  rig.drain();
  for (int k = 0; k < 8; ++k) REQUIRE(rig.home.try_push(core::Message{}));  // net is not taking any
  rig.intake.drop_before(3 * 960, &rig.status.records_skipped);
  CHECK(rig.status.records_skipped == 3);
  rig.intake.flush();
  CHECK(rig.buffer.empty());
  for (int k = 0; k < 8; ++k) REQUIRE(rig.home.try_pop()->record == nullptr);
  rig.intake.return_pending();
  CHECK(rig.returned() == 8);
}
