#include "net/sap_listener.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace net {
namespace {

constexpr const char* kGroups[] = {"239.255.255.255", "224.2.127.254", "224.0.0.56"};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The IPv4 address of an interface, for IP_ADD_MEMBERSHIP.
bool interface_v4(const std::string& iface, asio::ip::address_v4& out) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool ok = false;
  for (ifaddrs* i = list; i != nullptr && !ok; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || iface != i->ifa_name) continue;
    out = asio::ip::address_v4(ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
    ok = true;
  }
  freeifaddrs(list);
  return ok;
}

}  // namespace

SapListener::SapListener(asio::io_context& io, const std::string& iface, OnUpdate on_update)
    : socket_(io), expiry_(io), on_update_(std::move(on_update)) {
  asio::error_code ec;
  const asio::ip::udp::endpoint local(asio::ip::address_v4::any(), kPort);
  socket_.open(local.protocol(), ec);
  if (!ec) socket_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) socket_.bind(local, ec);
  if (ec) throw std::runtime_error("cannot listen for SAP on port 9875: " + ec.message());
  asio::ip::address_v4 at;
  if (!iface.empty() && !interface_v4(iface, at))
    throw std::runtime_error("interface '" + iface + "' has no IPv4 address for SAP");
  std::string why;
  int joined = 0;
  for (const char* group : kGroups) {
    const auto g = asio::ip::make_address_v4(group);
    if (iface.empty())
      socket_.set_option(asio::ip::multicast::join_group(g), ec);
    else
      socket_.set_option(asio::ip::multicast::join_group(g, at), ec);
    if (ec)
      why = ec.message();
    else
      ++joined;
  }
  if (joined == 0) throw std::runtime_error("cannot join the SAP groups: " + why);
  socket_.non_blocking(true, ec);
}

void SapListener::start() {
  arm_receive();
  arm_expiry();
}

void SapListener::stop() {
  stopped_ = true;
  asio::error_code ec;
  socket_.cancel(ec);
  expiry_.cancel();
}

void SapListener::arm_receive() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    // The callback may stop the listener: nothing is read or armed after.
    while (!stopped_) {
      asio::error_code rec;
      asio::ip::udp::endpoint from;
      const std::size_t n = socket_.receive_from(asio::buffer(buffer_), from, 0, rec);
      if (rec) break;  // would block: all read
      const auto update = directory_.take(buffer_.data(), n, now_ns());
      if (update.event != SessionDirectory::Event::None) on_update_(update);
    }
    if (!stopped_) arm_receive();
  });
}

void SapListener::arm_expiry() {
  expiry_.expires_after(std::chrono::seconds(10));
  expiry_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    for (auto& gone : directory_.expire(now_ns())) {
      SessionDirectory::Update u;
      u.event = SessionDirectory::Event::Deleted;
      u.session = std::move(gone);
      on_update_(u);
    }
    arm_expiry();
  });
}

}  // namespace net
