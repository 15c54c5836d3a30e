#include "core/spsc_queue.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <thread>

namespace {

// Counts live instances, so the test sees every element destroyed once.
struct Counted {
  static inline int live = 0;
  int value = 0;
  explicit Counted(int v) noexcept : value(v) { ++live; }
  Counted(Counted&& o) noexcept : value(o.value) { ++live; }
  Counted(const Counted&) = delete;
  ~Counted() { --live; }
};

}  // namespace

TEST_CASE("spsc_queue: push and pop in order, full and empty") {
  core::SpscQueue<int> q(3);
  CHECK(q.capacity() == 3);
  CHECK_FALSE(q.try_pop());
  CHECK(q.try_push(1));
  CHECK(q.try_push(2));
  CHECK(q.try_push(3));
  CHECK_FALSE(q.try_push(4));  // full: refused, not blocked
  CHECK(q.size_approx() == 3);
  CHECK(*q.try_pop() == 1);
  CHECK(q.try_push(4));  // wraps around
  CHECK(*q.try_pop() == 2);
  CHECK(*q.try_pop() == 3);
  CHECK(*q.try_pop() == 4);
  CHECK_FALSE(q.try_pop());
  CHECK(q.size_approx() == 0);
}

TEST_CASE("spsc_queue: a capacity of nothing, or of more than memory holds, is refused") {
  CHECK_THROWS_AS(core::SpscQueue<int>(0), std::length_error);
  CHECK_THROWS_AS(core::SpscQueue<int>(SIZE_MAX), std::length_error);
  CHECK_THROWS_AS(core::SpscQueue<int>(SIZE_MAX / sizeof(int)), std::length_error);
  core::SpscQueue<int> one(1);
  CHECK(one.try_push(7));
  CHECK_FALSE(one.try_push(8));
  CHECK(*one.try_pop() == 7);
}

TEST_CASE("spsc_queue: elements are constructed and destroyed exactly once") {
  Counted::live = 0;
  {
    core::SpscQueue<Counted> q(4);
    SUBCASE("popped elements") {
      REQUIRE(q.try_push(Counted(1)));
      REQUIRE(q.try_push(Counted(2)));
      CHECK(Counted::live == 2);
      {
        auto a = q.try_pop();
        CHECK(a->value == 1);
        CHECK(Counted::live == 2);  // one in the optional, one in the queue
      }
      CHECK(Counted::live == 1);
    }
    SUBCASE("elements left in the queue are destroyed with it") {
      REQUIRE(q.try_push(Counted(1)));
      REQUIRE(q.try_push(Counted(2)));
      REQUIRE(q.try_push(Counted(3)));
    }
  }
  CHECK(Counted::live == 0);
}

TEST_CASE("spsc_queue: two threads, every element arrives once and in order") {
  constexpr std::uint64_t kCount = 2'000'000;
  core::SpscQueue<std::uint64_t> q(64);  // small: forces many full/empty transitions
  std::uint64_t push_failures = 0;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount;) {
      if (q.try_push(i)) {
        ++i;
      } else {
        ++push_failures;
        std::this_thread::yield();
      }
    }
  });
  std::uint64_t expected = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t sum = 0;
  while (expected < kCount) {
    if (auto v = q.try_pop()) {
      if (*v != expected) ++out_of_order;
      sum += *v;
      ++expected;
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  CHECK(out_of_order == 0);
  CHECK(sum == kCount * (kCount - 1) / 2);
  CHECK_FALSE(q.try_pop());
  MESSAGE("producer found the queue full " << push_failures << " times");
}
