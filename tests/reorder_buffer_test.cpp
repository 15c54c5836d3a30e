#include "net/reorder_buffer.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

TEST_CASE("reorder_buffer: the earliest sequence number comes out first, whatever the order held") {
  net::ReorderBuffer b;
  CHECK(b.empty());
  CHECK(b.earliest() == nullptr);
  const std::vector<std::uint8_t> payload{1, 2, 3};
  for (const std::int64_t seq : {105, 102, 104, 103})
    CHECK(b.hold(payload, seq, seq * 960, 960, seq == 103, 7));
  std::vector<std::int64_t> order;
  while (const net::HeldPacket* h = b.earliest()) {
    order.push_back(h->seq);
    CHECK(h->ts == h->seq * 960);
    CHECK(h->lbrr == (h->seq == 103));
    CHECK(h->received_ns == 7);
    CHECK(std::vector<std::uint8_t>(h->payload().begin(), h->payload().end()) == payload);
    b.drop(h);
  }
  CHECK(order == std::vector<std::int64_t>{102, 103, 104, 105});
  CHECK(b.empty());
}

TEST_CASE("reorder_buffer: a payload larger than a slot, or a full buffer, keeps nothing") {
  net::ReorderBuffer b;
  const std::vector<std::uint8_t> big(core::defaults::kMaxHeldBytes + 1, 0);
  CHECK_FALSE(b.hold(big, 1, 0, 960, false, 0));
  CHECK(b.empty());
  const std::vector<std::uint8_t> small{9};
  for (std::size_t i = 0; i < core::defaults::kHeldPackets; ++i)
    CHECK(b.hold(small, static_cast<std::int64_t>(i), 0, 960, false, 0));
  CHECK(b.full());
  CHECK_FALSE(b.hold(small, 1000, 0, 960, false, 0));
  b.drop(b.earliest());
  CHECK(b.hold(small, 1000, 0, 960, false, 0));  // the freed slot
  b.clear();
  CHECK(b.empty());
  CHECK(b.earliest() == nullptr);
}
