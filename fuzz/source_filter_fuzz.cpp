// libFuzzer target: net::SourceFilter::add, which parses --allow-from text
// (ADDR or ADDR/PREFIX, IPv4 or IPv6), and allows() on what it accepted.
//
// Beyond "no crash, no out-of-bounds read": the verdict must match an
// independent reading of the text (the address is all inet_pton accepts, a
// prefix is decimal digits only, within the family's width; a NUL byte,
// which no command line can carry, is refused), a refusal is one line that
// names the flag, and an accepted rule must match exactly the addresses
// that share its first PREFIX bits (probed by flipping each bit), IPv4
// rules also in their IPv4-mapped IPv6 form (a dual-stack socket), and
// IPv6 rules written as ::ffff:a.b.c.d on such a socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "net/source_filter.hpp"

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "source_filter_fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                               \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace {

struct Expected {
  bool ok = false;
  bool v6 = false;
  std::uint8_t addr[16]{};
  int prefix = 0;
};

// The oracle: the --allow-from grammar read without the product's code.
Expected expect(const std::string& spec) {
  Expected e;
  if (spec.find('\0') != std::string::npos) return e;
  const auto slash = spec.find('/');
  const std::string host = spec.substr(0, slash);
  if (inet_pton(AF_INET, host.c_str(), e.addr) == 1) {
    e.prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), e.addr) == 1) {
    e.v6 = true;
    e.prefix = 128;
  } else {
    return e;
  }
  if (slash != std::string::npos) {
    const std::string bits = spec.substr(slash + 1);
    if (bits.empty() || bits.size() > 4) return e;
    int p = 0;
    for (char c : bits) {
      if (c < '0' || c > '9') return e;
      p = p * 10 + (c - '0');
    }
    if (p > e.prefix) return e;
    e.prefix = p;
  }
  e.ok = true;
  return e;
}

sockaddr_storage v4(const std::uint8_t* a) {
  sockaddr_storage s{};
  auto& in = reinterpret_cast<sockaddr_in&>(s);
  in.sin_family = AF_INET;
  std::memcpy(&in.sin_addr, a, 4);
  return s;
}

sockaddr_storage v6(const std::uint8_t* a) {
  sockaddr_storage s{};
  auto& in = reinterpret_cast<sockaddr_in6&>(s);
  in.sin6_family = AF_INET6;
  std::memcpy(&in.sin6_addr, a, 16);
  return s;
}

sockaddr_storage mapped(const std::uint8_t* a4) {
  std::uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  std::memcpy(a + 12, a4, 4);
  return v6(a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  const Expected e = expect(spec);
  net::SourceFilter f;
  const auto error = f.add(spec);
  FUZZ_CHECK(error.has_value() != e.ok);
  if (error) {
    FUZZ_CHECK(error->rfind("--allow-from: ", 0) == 0);
    FUZZ_CHECK(f.empty());
    return 0;
  }
  FUZZ_CHECK(!f.empty());
  const int width = e.v6 ? 128 : 32;
  const auto probe = [&](const std::uint8_t* a) { return f.allows(e.v6 ? v6(a) : v4(a)); };
  FUZZ_CHECK(probe(e.addr));
  if (!e.v6) FUZZ_CHECK(f.allows(mapped(e.addr)));
  // The other family never matches.
  std::uint8_t other[16] = {};
  std::memcpy(other, e.addr, 4);
  if (e.v6) {
    FUZZ_CHECK(!f.allows(v4(e.addr)));
  } else {
    other[0] ^= 0x20;  // 2000::/3 style, not v4-mapped
    FUZZ_CHECK(!f.allows(v6(other)));
  }
  for (int bit = 0; bit < width; ++bit) {
    std::uint8_t a[16];
    std::memcpy(a, e.addr, sizeof a);
    a[bit / 8] ^= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    FUZZ_CHECK(probe(a) == (bit >= e.prefix));
    if (!e.v6) FUZZ_CHECK(f.allows(mapped(a)) == (bit >= e.prefix));
  }
  // A second rule widens, never narrows.
  FUZZ_CHECK(!f.add("::/0").has_value());
  FUZZ_CHECK(probe(e.addr));
  return 0;
}
