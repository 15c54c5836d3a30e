#include "core/mailbox.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <thread>

namespace {

struct Value {
  std::uint64_t n = 0;
  std::uint64_t check[7] = {};  // every word derived from n: a torn copy shows
  static Value of(std::uint64_t n) {
    Value v;
    v.n = n;
    for (std::uint64_t i = 0; i < 7; ++i) v.check[i] = n * 0x9E3779B97F4A7C15ULL + i;
    return v;
  }
  bool whole() const {
    for (std::uint64_t i = 0; i < 7; ++i)
      if (check[i] != n * 0x9E3779B97F4A7C15ULL + i) return false;
    return true;
  }
};

}  // namespace

TEST_CASE("mailbox: nothing before the first publish, then the latest value once") {
  core::Mailbox<Value> box;
  CHECK(box.take() == nullptr);
  box.publish(Value::of(1));
  box.publish(Value::of(2));
  const Value* v = box.take();
  REQUIRE(v != nullptr);
  CHECK(v->n == 2);
  CHECK(box.take() == nullptr);  // taken already
  box.publish(Value::of(3));
  v = box.take();
  REQUIRE(v != nullptr);
  CHECK(v->n == 3);
}

TEST_CASE("mailbox: two threads, a million values: every value taken is whole and newer than the last") {
  core::Mailbox<Value> box;
  constexpr std::uint64_t kCount = 1'000'000;
  std::thread writer([&] {
    for (std::uint64_t n = 1; n <= kCount; ++n) box.publish(Value::of(n));
  });
  std::uint64_t last = 0, taken = 0, torn = 0, backwards = 0;
  while (last < kCount) {
    if (const Value* v = box.take()) {
      ++taken;
      if (!v->whole()) ++torn;
      if (v->n <= last) ++backwards;
      last = v->n;
    }
  }
  writer.join();
  CHECK(torn == 0);
  CHECK(backwards == 0);
  CHECK(last == kCount);  // the final value always arrives
  CHECK(taken > 0);
}
