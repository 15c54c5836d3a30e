#include "net/udp_receiver.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <sys/socket.h>
#include <time.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "core/defaults.hpp"

namespace net {
namespace {

std::string endpoint_text(const asio::ip::address& a, std::uint16_t port) {
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(port)
                   : a.to_string() + ":" + std::to_string(port);
}

// The IPv4 address of an interface, for IP_ADD_MEMBERSHIP (which names the
// interface by address, not by index).
asio::ip::address_v4 interface_v4(const std::string& iface) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) throw std::runtime_error("getifaddrs: " + std::string(strerror(errno)));
  asio::ip::address_v4 found;
  bool ok = false;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || iface != i->ifa_name)
      continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    found = asio::ip::address_v4(ntohl(sin->sin_addr.s_addr));
    ok = true;
    break;
  }
  freeifaddrs(list);
  if (!ok) throw std::runtime_error("interface '" + iface + "' has no IPv4 address");
  return found;
}

// steady_clock is CLOCK_MONOTONIC on Linux: the clock StreamReceiver and the
// audio status use.
std::int64_t monotonic_ns(std::chrono::steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::int64_t realtime_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

UdpReceiver::UdpReceiver(asio::io_context& io, StreamReceiver& stream, const ListenConfig& config)
    : stream_(stream), allow_(config.allow), socket_(io), timer_(io) {
  asio::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(config.bind, ec);
  if (ec) throw std::runtime_error("--bind '" + config.bind + "' is not an IP address");
  description_ = endpoint_text(addr, config.port);
  const std::string where = "cannot listen on " + description_ + ": ";

  const bool group = addr.is_multicast();
  const asio::ip::udp::endpoint local(
      group ? (addr.is_v6() ? asio::ip::address(asio::ip::address_v6::any())
                            : asio::ip::address(asio::ip::address_v4::any()))
            : addr,
      config.port);
  socket_.open(local.protocol(), ec);
  if (ec) throw std::runtime_error(where + ec.message());
  if (addr.is_v6() && addr.to_v6().is_unspecified()) {
    socket_.set_option(asio::ip::v6_only(false), ec);  // "::" takes IPv4 too
  }
  if (group) socket_.set_option(asio::socket_base::reuse_address(true), ec);
  // Room for bursts while the net thread is descheduled.
  socket_.set_option(asio::socket_base::receive_buffer_size(1 << 20), ec);

  if (!group && !config.iface.empty()) {
    if (setsockopt(socket_.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, config.iface.c_str(),
                   static_cast<socklen_t>(config.iface.size())) != 0)
      throw std::runtime_error(where + "SO_BINDTODEVICE " + config.iface + ": " + strerror(errno));
  }

  socket_.bind(local, ec);
  if (ec) throw std::runtime_error(where + ec.message());

  if (group) {
    if (addr.is_v6()) {
      unsigned index = 0;
      if (!config.iface.empty()) {
        index = if_nametoindex(config.iface.c_str());
        if (index == 0) throw std::runtime_error(where + "no interface '" + config.iface + "'");
      }
      socket_.set_option(asio::ip::multicast::join_group(addr.to_v6(), index), ec);
    } else if (!config.iface.empty()) {
      socket_.set_option(asio::ip::multicast::join_group(addr.to_v4(), interface_v4(config.iface)),
                         ec);
    } else {
      socket_.set_option(asio::ip::multicast::join_group(addr), ec);
    }
    if (ec) throw std::runtime_error(where + "joining the group: " + ec.message());
  }

  // Kernel receive timestamps make the jitter figure independent of how late
  // the net thread wakes up.
  const int on = 1;
  kernel_timestamps_ =
      setsockopt(socket_.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
  socket_.non_blocking(true, ec);
  if (ec) throw std::runtime_error(where + ec.message());
}

void UdpReceiver::start() {
  arm_receive();
  arm_timer();
}

void UdpReceiver::stop() {
  stopped_ = true;
  asio::error_code ec;
  socket_.cancel(ec);
  timer_.cancel();
}

void UdpReceiver::arm_receive() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    on_readable();
    arm_receive();
    // A packet may have opened a gap, or closed one: the deadline moved.
    if (stream_.next_deadline() < monotonic_ns(timer_at_)) arm_timer();
  });
}

void UdpReceiver::on_readable() {
  stream_.drain_audio();  // records home first: the pool is fullest when packets come
  // Drain everything queued in the kernel with one wake-up.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  for (;;) {
    iovec iov{buffer_.data(), buffer_.size()};
    sockaddr_storage from{};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN: drained (other errors: try again on the next wake-up)
    if (!allow_.allows(from)) {
      stream_.count_filtered();
      continue;
    }
    std::int64_t arrival = 0;
    if (kernel_timestamps_) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          arrival = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
        }
      }
    }
    if (arrival == 0) arrival = realtime_ns();
    stream_.on_datagram(std::span<const std::uint8_t>(buffer_.data(), static_cast<std::size_t>(n)),
                        arrival, monotonic_ns(std::chrono::steady_clock::now()));
  }
}

void UdpReceiver::arm_timer() {
  // Wake for the next loss-repair deadline, or after a tick at most to take
  // records home and see audio's status.
  using namespace std::chrono;
  const auto now = steady_clock::now();
  auto at = now + microseconds(core::defaults::kNetTickUs);
  std::int64_t due = stream_.next_deadline();
  // Every call into the stream has just served what was due; a deadline still
  // in the past means nothing can progress yet: look again in a millisecond.
  if (due <= monotonic_ns(now)) due = monotonic_ns(now) + 1'000'000;
  if (due < monotonic_ns(at)) at = steady_clock::time_point(nanoseconds(due));
  timer_at_ = at;
  timer_.expires_at(at);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) return;  // cancelled: re-armed elsewhere, or stopping
    stream_.drain_audio();
    stream_.on_timer(monotonic_ns(std::chrono::steady_clock::now()));
    arm_timer();
  });
}

}  // namespace net
