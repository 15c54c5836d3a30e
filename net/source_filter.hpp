// --allow-from: which source addresses may send to us.
//
// Thread: parse in control; allows() in net, real-time safe (a short scan
// of a small fixed list).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace net {

class SourceFilter {
 public:
  /// Thread: control. Adds "ADDR" or "ADDR/PREFIX" (IPv4 or IPv6). Returns a
  /// one-line reason when the text is not that.
  std::optional<std::string> add(const std::string& spec);

  /// Thread: net. True when no rule is set, or when `from` matches one.
  /// IPv4-mapped IPv6 sources (a dual-stack socket) match IPv4 rules.
  bool allows(const sockaddr_storage& from) const noexcept;

  bool empty() const noexcept { return rules_.empty(); }

 private:
  struct Rule {
    bool v6 = false;
    std::array<std::uint8_t, 16> addr{};
    int prefix = 0;  // bits that must match
  };
  static bool match(const Rule& r, bool v6, const std::uint8_t* addr) noexcept;
  std::vector<Rule> rules_;  // filled in control before net starts; read-only after
};

}  // namespace net
