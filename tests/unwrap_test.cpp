#include "net/unwrap.hpp"

#include <doctest/doctest.h>

TEST_CASE("unwrap: 16-bit sequence numbers across the wrap") {
  CHECK(net::unwrap<16>(5, 4) == 5);
  CHECK(net::unwrap<16>(0, 65535) == 65536);       // forward across the wrap
  CHECK(net::unwrap<16>(65535, 65536) == 65535);   // a late one from before it
  CHECK(net::unwrap<16>(3, 65536 * 3 + 65530) == 65536 * 4 + 3);
  CHECK(net::unwrap<16>(65530, 65536 * 4 + 3) == 65536 * 3 + 65530);
  CHECK(net::unwrap<16>(65535, -1) == -1);
  CHECK(net::unwrap<16>(0, -1) == 0);
}

TEST_CASE("unwrap: 32-bit timestamps") {
  const std::int64_t k32 = std::int64_t{1} << 32;
  CHECK(net::unwrap<32>(960, k32 - 480) == k32 + 960);
  CHECK(net::unwrap<32>(0xffffff00u, k32 + 100) == 0xffffff00LL);
  // a run of 20 ms steps stays monotonic across the wrap
  std::int64_t ext = k32 - 960 * 5000;
  int wrong = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::int64_t next = ext + 960;
    if (net::unwrap<32>(static_cast<std::uint64_t>(next) & 0xffffffffu, ext) != next) ++wrong;
    ext = next;
  }
  CHECK(wrong == 0);
  CHECK(ext > k32);
}
