#include "net/source_filter.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace net {

std::optional<std::string> SourceFilter::add(const std::string& spec) {
  const auto slash = spec.find('/');
  const std::string host = spec.substr(0, slash);
  Rule r;
  if (inet_pton(AF_INET, host.c_str(), r.addr.data()) == 1) {
    r.v6 = false;
    r.prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), r.addr.data()) == 1) {
    r.v6 = true;
    r.prefix = 128;
  } else {
    return "--allow-from: '" + spec + "' is not ADDR or ADDR/PREFIX";
  }
  if (slash != std::string::npos) {
    const std::string bits = spec.substr(slash + 1);
    char* end = nullptr;
    const long p = std::strtol(bits.c_str(), &end, 10);
    if (bits.empty() || *end != '\0' || p < 0 || p > r.prefix)
      return "--allow-from: bad prefix length in '" + spec + "'";
    r.prefix = static_cast<int>(p);
  }
  rules_.push_back(r);
  return std::nullopt;
}

bool SourceFilter::match(const Rule& r, bool v6, const std::uint8_t* addr) noexcept {
  if (r.v6 != v6) return false;
  const int whole = r.prefix / 8;
  if (std::memcmp(r.addr.data(), addr, static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = r.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (r.addr[static_cast<std::size_t>(whole)] & mask) == (addr[whole] & mask);
}

bool SourceFilter::allows(const sockaddr_storage& from) const noexcept {
  if (rules_.empty()) return true;
  bool v6 = false;
  const std::uint8_t* addr = nullptr;
  if (from.ss_family == AF_INET) {
    addr = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in&>(from).sin_addr);
  } else if (from.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(from).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      addr = reinterpret_cast<const std::uint8_t*>(&a6) + 12;
    } else {
      v6 = true;
      addr = reinterpret_cast<const std::uint8_t*>(&a6);
    }
  } else {
    return false;
  }
  for (const Rule& r : rules_)
    if (match(r, v6, addr)) return true;
  return false;
}

}  // namespace net
