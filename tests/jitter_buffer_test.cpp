#include "audio/jitter_buffer.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <vector>

namespace {

struct Records {
  std::vector<std::unique_ptr<core::PacketRecord>> all;
  core::PacketRecord* make(std::int64_t ts, std::uint32_t frames = 960) {
    all.push_back(std::make_unique<core::PacketRecord>());
    all.back()->timestamp = ts;
    all.back()->frames = frames;
    return all.back().get();
  }
};

}  // namespace

TEST_CASE("jitter_buffer: keeps records in timestamp order") {
  audio::JitterBuffer jb(8);
  Records rs;
  CHECK(jb.empty());
  REQUIRE(jb.insert(rs.make(960)));
  REQUIRE(jb.insert(rs.make(2880)));
  REQUIRE(jb.insert(rs.make(0)));     // early arrival goes to the front
  REQUIRE(jb.insert(rs.make(1920)));  // reordered one goes in the middle
  CHECK(jb.size() == 4);
  CHECK(jb.end() == 3840);
  std::int64_t expect = 0;
  while (auto* r = jb.pop_front()) {
    CHECK(r->timestamp == expect);
    expect += 960;
  }
  CHECK(expect == 3840);
}

TEST_CASE("jitter_buffer: refuses duplicates and overflow, unchanged") {
  audio::JitterBuffer jb(3);
  Records rs;
  REQUIRE(jb.insert(rs.make(0)));
  REQUIRE(jb.insert(rs.make(960)));
  CHECK_FALSE(jb.insert(rs.make(0)));  // same position
  CHECK(jb.size() == 2);
  CHECK(jb.front()->timestamp == 0);
  CHECK(jb.back()->timestamp == 960);
  REQUIRE(jb.insert(rs.make(1920)));
  CHECK_FALSE(jb.insert(rs.make(2880)));  // full
  CHECK(jb.size() == 3);
}

TEST_CASE("jitter_buffer: wraps around its ring many times") {
  audio::JitterBuffer jb(4);
  Records rs;
  std::int64_t next_in = 0, next_out = 0;
  for (int i = 0; i < 1000; ++i) {
    while (jb.size() < 3) REQUIRE(jb.insert(rs.make(next_in++ * 960)));
    auto* r = jb.pop_front();
    REQUIRE(r != nullptr);
    CHECK(r->timestamp == next_out++ * 960);
  }
}

TEST_CASE("jitter_buffer: contiguous_end stops at the first hole after a position") {
  std::vector<core::PacketRecord> recs(4);
  audio::JitterBuffer b(8);
  const std::int64_t at[] = {0, 960, 2880, 3840};  // a packet missing at 1920
  for (int i = 0; i < 4; ++i) {
    recs[i].timestamp = at[i];
    recs[i].frames = 960;
    REQUIRE(b.insert(&recs[i]));
  }
  CHECK(b.contiguous_end(0) == 1920);
  CHECK(b.contiguous_end(500) == 1920);
  CHECK(b.contiguous_end(1920) == 1920);  // in the hole: nothing beyond it counts
  CHECK(b.contiguous_end(2880) == 4800);
  CHECK(b.contiguous_end(5000) == 5000);
}
