#include "net/source_filter.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace net {

std::optional<std::string> SourceFilter::add(const std::string& spec) {
  // inet_pton and strtol stop at a NUL: "1.2.3.4\0junk" must not pass.
  if (spec.find('\0') != std::string::npos)
    return "--allow-from: '" + spec.substr(0, spec.find('\0')) + "...' holds a NUL byte";
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
    // Digits only: strtol alone would take " 8", "+8" and "-0".
    const bool digits = !bits.empty() && bits.size() <= 4 &&
                        bits.find_first_not_of("0123456789") == std::string::npos;
    const long p = digits ? std::strtol(bits.c_str(), nullptr, 10) : -1;
    if (p < 0 || p > r.prefix)
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
  const std::uint8_t* mapped = nullptr;  // the whole IPv4-mapped IPv6 address
  if (from.ss_family == AF_INET) {
    addr = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in&>(from).sin_addr);
  } else if (from.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(from).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      // Matches IPv4 rules, and IPv6 rules written as ::ffff:a.b.c.d.
      mapped = reinterpret_cast<const std::uint8_t*>(&a6);
      addr = mapped + 12;
    } else {
      v6 = true;
      addr = reinterpret_cast<const std::uint8_t*>(&a6);
    }
  } else {
    return false;
  }
  for (const Rule& r : rules_)
    if (mapped != nullptr && r.v6 ? match(r, true, mapped) : match(r, v6, addr)) return true;
  return false;
}

}  // namespace net
