// Listens for SAP announcements (RFC 2974) on UDP port 9875 of the IPv4
// groups where audio sessions are announced: 239.255.255.255, the
// administratively scoped group (RFC 2974 section 3: the highest address
// of the 239.255.0.0/16 scope, where AES67 devices announce),
// 224.2.127.254, the global scope's, and 224.0.0.56, where PipeWire's
// module-rtp-sink announces by default (sap.ip).
// Every datagram goes to a SessionDirectory; what changed goes to a
// callback. Sessions that fall silent expire.
//
// Thread: the io_context's (control for --list, net for --session).
// Allocates: not for the real-time path.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include <asio.hpp>

#include "net/session_directory.hpp"

namespace net {

class SapListener {
 public:
  using OnUpdate = std::function<void(const SessionDirectory::Update&)>;
  static constexpr std::uint16_t kPort = 9875;

  /// Opens port 9875 (shared with other listeners on this host) and joins
  /// the groups, on `iface` when given. Throws std::runtime_error with a
  /// one-line reason when no group can be joined.
  SapListener(asio::io_context& io, const std::string& iface, OnUpdate on_update);

  void start();
  /// Cancels outstanding work; the io_context's run() then returns.
  void stop();

  const SessionDirectory& directory() const noexcept { return directory_; }

 private:
  void arm_receive();
  void arm_expiry();

  asio::ip::udp::socket socket_;
  asio::steady_timer expiry_;
  OnUpdate on_update_;
  SessionDirectory directory_;
  bool stopped_ = false;
  // One byte more than the largest announcement taken: a longer datagram
  // arrives truncated to this and is refused as oversized.
  std::array<std::uint8_t, kMaxSapBytes + 1> buffer_{};
};

}  // namespace net
