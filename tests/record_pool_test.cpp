#include "core/record_pool.hpp"

#include <doctest/doctest.h>

#include <set>
#include <vector>

TEST_CASE("record_pool: hands out every record once, then nothing") {
  core::RecordPool pool(8);
  std::set<core::PacketRecord*> out;
  for (int i = 0; i < 8; ++i) {
    core::PacketRecord* r = pool.acquire();
    REQUIRE(r != nullptr);
    CHECK(pool.owns(r));
    CHECK_FALSE(r->pooled);
    CHECK(out.insert(r).second);  // never the same record twice
  }
  CHECK(pool.available() == 0);
  CHECK(pool.acquire() == nullptr);  // exhausted: no allocation, a refusal
  for (auto* r : out) CHECK(pool.release(r));
  CHECK(pool.available() == 8);
}

TEST_CASE("record_pool: double and foreign releases are refused") {
  core::RecordPool pool(2);
  core::PacketRecord* r = pool.acquire();
  REQUIRE(r != nullptr);
  CHECK(pool.release(r));
  CHECK_FALSE(pool.release(r));  // already home
  CHECK(pool.available() == 2);
  core::PacketRecord stranger;
  CHECK_FALSE(pool.release(&stranger));
  CHECK(pool.available() == 2);
}

TEST_CASE("record_pool: cycling many times leaks nothing") {
  core::RecordPool pool(16);
  std::vector<core::PacketRecord*> held;
  for (int round = 0; round < 1000; ++round) {
    while (auto* r = pool.acquire()) held.push_back(r);
    CHECK(held.size() == 16);
    // give back in a different order each round
    for (std::size_t i = 0; i < held.size(); ++i)
      CHECK(pool.release(held[(i * 7 + static_cast<std::size_t>(round)) % held.size()]));
    held.clear();
    REQUIRE(pool.available() == 16);
  }
}
