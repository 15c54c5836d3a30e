// libFuzzer target: SAP announcements (net::parse_sap) through the session
// directory (net::SessionDirectory), as the SAP listener feeds it from the
// network. The input is split into datagrams at each "\xff\xfe" pair, so
// that a run sees announcements, changes and deletions in sequence.
//
// Beyond "no crash, no out-of-bounds read": the table never holds more
// than its bound, each session in it has a name and an origin, a playable
// one a port and a format, an unplayable one a reason; every datagram is
// counted as an announcement, a deletion or invalid.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "net/session_directory.hpp"

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "sap_fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  net::SessionDirectory dir;
  std::uint64_t datagrams = 0;
  std::size_t at = 0;
  std::int64_t now = 0;
  while (at <= size) {
    std::size_t end = at;
    while (end + 1 < size && !(data[end] == 0xff && data[end + 1] == 0xfe)) ++end;
    if (end + 1 >= size) end = size;
    dir.take(data + at, end - at, now);
    ++datagrams;
    now += 5'000'000'000;
    at = end + 2;
  }
  const auto& c = dir.counters();
  FUZZ_CHECK(c.announcements + c.deletions + c.invalid == datagrams);
  FUZZ_CHECK(dir.sessions().size() <= net::SessionDirectory::kMaxSessions);
  for (const auto& s : dir.sessions()) {
    FUZZ_CHECK(!s.name.empty() && !s.origin.empty());
    if (s.description) {
      FUZZ_CHECK(s.description->port != 0);
      FUZZ_CHECK(!s.format().empty() && !s.where().empty());
    } else {
      FUZZ_CHECK(!s.why.empty());
    }
  }
  dir.expire(now + net::SessionDirectory::kMinTimeoutNs + 1);
  FUZZ_CHECK(dir.sessions().empty());
  return 0;
}
