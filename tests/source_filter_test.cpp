#include "net/source_filter.hpp"

#include <doctest/doctest.h>
#include <arpa/inet.h>

namespace {

sockaddr_storage v4(const char* a) {
  sockaddr_storage s{};
  auto& in = reinterpret_cast<sockaddr_in&>(s);
  in.sin_family = AF_INET;
  inet_pton(AF_INET, a, &in.sin_addr);
  return s;
}

sockaddr_storage v6(const char* a) {
  sockaddr_storage s{};
  auto& in = reinterpret_cast<sockaddr_in6&>(s);
  in.sin6_family = AF_INET6;
  inet_pton(AF_INET6, a, &in.sin6_addr);
  return s;
}

}  // namespace

TEST_CASE("source_filter: empty allows everyone") {
  net::SourceFilter f;
  CHECK(f.allows(v4("192.0.2.1")));
  CHECK(f.allows(v6("2001:db8::1")));
}

TEST_CASE("source_filter: addresses and prefixes, IPv4 and IPv6") {
  net::SourceFilter f;
  REQUIRE_FALSE(f.add("192.0.2.7"));
  REQUIRE_FALSE(f.add("10.1.0.0/16"));
  REQUIRE_FALSE(f.add("2001:db8:40::/42"));
  CHECK(f.allows(v4("192.0.2.7")));
  CHECK_FALSE(f.allows(v4("192.0.2.8")));
  CHECK(f.allows(v4("10.1.255.3")));
  CHECK_FALSE(f.allows(v4("10.2.0.1")));
  CHECK(f.allows(v6("2001:db8:40::1")));
  CHECK(f.allows(v6("2001:db8:7f:ffff::1")));   // still inside /42
  CHECK_FALSE(f.allows(v6("2001:db8:80::1")));  // just outside
  CHECK(f.allows(v6("::ffff:10.1.2.3")));        // IPv4 through a dual-stack socket
  CHECK_FALSE(f.allows(v6("::ffff:10.9.2.3")));
}

TEST_CASE("source_filter: bad specs are refused with a reason") {
  net::SourceFilter f;
  CHECK(f.add("example.org"));
  CHECK(f.add("10.0.0.0/33"));
  CHECK(f.add("10.0.0.0/"));
  CHECK(f.add("10.0.0.0/x"));
  CHECK(f.add("::1/129"));
  CHECK(f.empty());
}

// Found by fuzz/source_filter_fuzz.cpp.
TEST_CASE("source_filter: a prefix is digits only; a NUL byte is refused") {
  net::SourceFilter f;
  CHECK(f.add("192.0.2.7/ 8"));
  CHECK(f.add("192.0.2.7/+8"));
  CHECK(f.add("192.0.2.7/-0"));
  CHECK(f.add(std::string("192.0.2.7\0junk", 14)));
  CHECK(f.add(std::string("192.0.2.7/8\0", 12)));
  CHECK(f.empty());
  CHECK_FALSE(f.add("192.0.2.7/008"));
}

TEST_CASE("source_filter: an IPv6 rule written as ::ffff:a.b.c.d matches on a dual-stack socket") {
  net::SourceFilter f;
  REQUIRE_FALSE(f.add("::ffff:192.0.2.0/120"));
  CHECK(f.allows(v6("::ffff:192.0.2.9")));
  CHECK_FALSE(f.allows(v6("::ffff:192.0.3.9")));
}
