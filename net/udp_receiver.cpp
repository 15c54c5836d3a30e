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
  std::string text = a.is_v6() ? "[" : "";
  text += a.to_string();
  text += a.is_v6() ? "]:" : ":";
  text += std::to_string(port);
  return text;
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

// Opens, binds and (for a group) joins one socket. Throws
// std::runtime_error with a one-line reason on failure.
void open_socket(asio::ip::udp::socket& socket, const asio::ip::address& addr, std::uint16_t port,
                 const std::string& iface, const std::string& where) {
  asio::error_code ec;
  const bool group = addr.is_multicast();
  const asio::ip::udp::endpoint local(
      group ? (addr.is_v6() ? asio::ip::address(asio::ip::address_v6::any())
                            : asio::ip::address(asio::ip::address_v4::any()))
            : addr,
      port);
  socket.open(local.protocol(), ec);
  if (ec) throw std::runtime_error(where + ec.message());
  if (addr.is_v6() && addr.to_v6().is_unspecified()) {
    socket.set_option(asio::ip::v6_only(false), ec);  // "::" takes IPv4 too
  }
  if (group) socket.set_option(asio::socket_base::reuse_address(true), ec);
  // Room for bursts while the net thread is descheduled.
  socket.set_option(asio::socket_base::receive_buffer_size(1 << 20), ec);

  if (!group && !iface.empty()) {
    if (setsockopt(socket.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, iface.c_str(),
                   static_cast<socklen_t>(iface.size())) != 0)
      throw std::runtime_error(where + "SO_BINDTODEVICE " + iface + ": " + strerror(errno));
  }

  socket.bind(local, ec);
  if (ec) throw std::runtime_error(where + ec.message());

  if (group) {
    if (addr.is_v6()) {
      unsigned index = 0;
      if (!iface.empty()) {
        index = if_nametoindex(iface.c_str());
        if (index == 0) throw std::runtime_error(where + "no interface '" + iface + "'");
      }
      socket.set_option(asio::ip::multicast::join_group(addr.to_v6(), index), ec);
    } else if (!iface.empty()) {
      socket.set_option(asio::ip::multicast::join_group(addr.to_v4(), interface_v4(iface)), ec);
    } else {
      socket.set_option(asio::ip::multicast::join_group(addr), ec);
    }
    if (ec) throw std::runtime_error(where + "joining the group: " + ec.message());
  }
  socket.non_blocking(true, ec);
  if (ec) throw std::runtime_error(where + ec.message());
}

asio::ip::udp::endpoint to_endpoint(const sockaddr_storage& from) {
  asio::ip::udp::endpoint e;
  const std::size_t len = from.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  std::memcpy(e.data(), &from, len);
  e.resize(len);
  return e;
}

// CLOCK_REALTIME minus CLOCK_MONOTONIC, from reads on both sides of one
// realtime read (the midpoint halves the error of being descheduled).
std::int64_t realtime_minus_monotonic_ns() noexcept {
  timespec a{}, r{}, b{};
  clock_gettime(CLOCK_MONOTONIC, &a);
  clock_gettime(CLOCK_REALTIME, &r);
  clock_gettime(CLOCK_MONOTONIC, &b);
  const std::int64_t mono = (std::int64_t{a.tv_sec} + b.tv_sec) * 500'000'000 + (a.tv_nsec + b.tv_nsec) / 2;
  return std::int64_t{r.tv_sec} * 1'000'000'000 + r.tv_nsec - mono;
}

}  // namespace

UdpReceiver::UdpReceiver(asio::io_context& io, StreamReceiver& stream, const ListenConfig& config,
                         RtcpSession* rtcp)
    : stream_(stream),
      rtcp_(rtcp),
      allow_(config.allow),
      socket_(io),
      timer_(io),
      rtcp_socket_(io),
      rtcp_timer_(io) {
  open(config);
}

void UdpReceiver::open(const ListenConfig& config) {
  asio::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(config.bind, ec);
  if (ec) throw std::runtime_error("--bind '" + config.bind + "' is not an IP address");
  description_ = endpoint_text(addr, config.port);
  open_socket(socket_, addr, config.port, config.iface, "cannot listen on " + description_ + ": ");
  if (rtcp_ != nullptr) {
    // RFC 3550 section 11: RTCP on the next (odd) port.
    if (config.port == 65535)
      throw std::runtime_error("--port 65535 leaves no port+1 for RTCP: choose another port, or --no-rtcp");
    const std::string rtcp_at = endpoint_text(addr, static_cast<std::uint16_t>(config.port + 1));
    open_socket(rtcp_socket_, addr, static_cast<std::uint16_t>(config.port + 1), config.iface,
                "cannot listen for RTCP on " + rtcp_at + " (port+1; --no-rtcp turns RTCP off): ");
    description_ += " (RTCP " + rtcp_at + ")";
  }

  // Kernel receive timestamps make the jitter figure independent of how late
  // the net thread wakes up.
  const int on = 1;
  kernel_timestamps_ =
      setsockopt(socket_.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
}

void UdpReceiver::close_stream() {
  if (rtcp_ != nullptr && socket_.is_open()) {
    send_rtcp(rtcp_->goodbye(stream_.reception(), monotonic_ns(std::chrono::steady_clock::now()),
                             rtcp_out_));
  }
  // Waits under way end with operation_aborted: their handlers return.
  asio::error_code ec;
  socket_.close(ec);
  rtcp_socket_.close(ec);
  have_rtp_from_ = have_sr_from_ = sr_on_rtp_port_ = muxed_ = false;
  rtp_packets_ = 0;
}

void UdpReceiver::retarget(const ListenConfig& config) {
  close_stream();
  allow_ = config.allow;
  open(config);
  arm_receive();
  if (rtcp_ != nullptr) arm_rtcp_receive();
}

void UdpReceiver::start() {
  arm_receive();
  arm_timer();
  if (rtcp_ != nullptr) {
    arm_rtcp_receive();
    arm_rtcp_timer();
  }
}

void UdpReceiver::stop() {
  if (rtcp_ != nullptr && !stopped_) {
    // RFC 3550 section 6.6: say goodbye (RR + SDES + BYE), if we ever spoke.
    if (socket_.is_open())
      send_rtcp(rtcp_->goodbye(stream_.reception(), monotonic_ns(std::chrono::steady_clock::now()),
                               rtcp_out_));
  }
  stopped_ = true;
  asio::error_code ec;
  socket_.cancel(ec);
  timer_.cancel();
  rtcp_socket_.cancel(ec);
  rtcp_timer_.cancel();
}

RtcpStats UdpReceiver::rtcp_stats() {
  if (rtcp_ == nullptr) return {};
  return rtcp_->stats(stream_.reception(), stream_.audio_status(), realtime_minus_monotonic_ns());
}

void UdpReceiver::send_rtcp(std::size_t n) {
  if (n == 0) return;
  // Where the sender listens: where its SRs come from; else its RTP port if
  // it multiplexes RTCP there (RFC 5761), else its RTP port + 1.
  asio::ip::udp::socket* via = &rtcp_socket_;
  asio::ip::udp::endpoint to;
  if (have_sr_from_) {
    to = sr_from_;
    if (sr_on_rtp_port_) via = &socket_;
  } else if (muxed_) {
    to = mux_from_;
    via = &socket_;
  } else if (have_rtp_from_ && rtp_from_.port() < 65535) {
    to = rtp_from_;
    to.port(static_cast<std::uint16_t>(rtp_from_.port() + 1));
  } else {
    return;  // nobody to send to (the session counted it sent: harmless)
  }
  asio::error_code ec;
  via->send_to(asio::buffer(rtcp_out_.data(), n), to, 0, ec);  // non-blocking; a full buffer drops it
}

void UdpReceiver::arm_rtcp_receive() {
  rtcp_socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    on_rtcp_readable();
    arm_rtcp_receive();
  });
}

void UdpReceiver::on_rtcp_readable() {
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    std::array<std::uint8_t, 65536>& buffer = slots_[0].data;
    const ssize_t n = recvfrom(rtcp_socket_.native_handle(), buffer.data(), buffer.size(),
                               MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;  // EAGAIN: drained
    if (!allow_.allows(from)) {
      rtcp_->count_filtered();
      continue;
    }
    const auto got = rtcp_->on_rtcp(
        std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)),
        monotonic_ns(std::chrono::steady_clock::now()));
    const ReceptionState r = stream_.reception();
    if (got.sender_report && (!r.locked || got.sr_ssrc == r.ssrc)) {
      sr_from_ = to_endpoint(from);
      have_sr_from_ = true;
      sr_on_rtp_port_ = false;
    }
  }
}

void UdpReceiver::arm_rtcp_timer() {
  using namespace std::chrono;
  const auto now = steady_clock::now();
  // Look at least once a second: a stream that locks schedules its first
  // report a few seconds ahead, and datagrams re-arm this when it is sooner.
  auto at = now + seconds(1);
  const std::int64_t due = rtcp_->next_report_ns();
  if (due < monotonic_ns(at)) at = steady_clock::time_point(nanoseconds(std::max(due, monotonic_ns(now))));
  rtcp_timer_at_ = at;
  rtcp_timer_.expires_at(at);
  rtcp_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    stream_.drain_audio();
    send_rtcp(rtcp_->poll(stream_.reception(), monotonic_ns(std::chrono::steady_clock::now()),
                          rtcp_out_));
    arm_rtcp_timer();
  });
}

void UdpReceiver::arm_receive() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    on_readable();
    arm_receive();
    // A packet may have opened a gap, or closed one: the deadline moved.
    // It moved earlier: the timer must fire sooner. It moved later (the
    // stream goes on): a timer due before the next packet would wake the
    // thread for nothing, so it moves too, costing one timer update instead
    // of a wake-up. One due later than that stays: the next packet moves
    // it, so a steady stream updates the timer once every (latency /
    // packet) packets or so, not on every packet.
    const std::int64_t fires = monotonic_ns(timer_at_);
    const std::int64_t due = stream_.next_deadline();
    if (due < fires ||
        (due > fires && fires - monotonic_ns(std::chrono::steady_clock::now()) < stream_.packet_ns()))
      arm_timer();
    // A stream that locked schedules its first report.
    if (rtcp_ != nullptr && rtcp_->next_report_ns() < monotonic_ns(rtcp_timer_at_)) {
      rtcp_timer_.cancel();  // its handler sees operation_aborted and returns
      arm_rtcp_timer();
    }
  });
}

void UdpReceiver::on_readable() {
  stream_.drain_audio();  // records home first: the pool is fullest when packets come
  // Drain everything queued in the kernel with one wake-up, up to kBatch
  // datagrams a system call: a steady stream costs one call a packet, not
  // a second that finds nothing.
  for (;;) {
    for (unsigned i = 0; i < kBatch; ++i) {
      Slot& slot = slots_[i];
      slot.iov = iovec{slot.data.data(), slot.data.size()};
      msghdr& msg = msgs_[i].msg_hdr;
      msg = msghdr{};
      msg.msg_name = &slot.from;
      msg.msg_namelen = sizeof slot.from;
      msg.msg_iov = &slot.iov;
      msg.msg_iovlen = 1;
      msg.msg_control = slot.control;
      msg.msg_controllen = sizeof slot.control;
    }
    const int got = recvmmsg(socket_.native_handle(), msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
    // Nothing (EAGAIN: drained; other errors: try again on the next wake-up).
    if (got <= 0) return;
    for (int i = 0; i < got; ++i) on_datagram(msgs_[i].msg_hdr, msgs_[i].msg_len);
    // Fewer than asked: the queue was empty. One that fills again since
    // wakes the thread again (arm_receive re-arms the wait).
    if (static_cast<unsigned>(got) < kBatch) return;
  }
}

void UdpReceiver::on_datagram(const msghdr& msg, std::size_t size) {
  const sockaddr_storage& from = *static_cast<const sockaddr_storage*>(msg.msg_name);
  if (!allow_.allows(from)) {
    stream_.count_filtered();
    return;
  }
  std::int64_t arrival = 0;
  if (kernel_timestamps_) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        arrival = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
      }
    }
  }
  const std::span<const std::uint8_t> data(static_cast<const std::uint8_t*>(msg.msg_iov->iov_base), size);
  const std::int64_t now = monotonic_ns(std::chrono::steady_clock::now());
  // The kernel stamps on CLOCK_REALTIME; the sender's clock is measured on
  // CLOCK_MONOTONIC, which no one sets or slews in steps. The offset is
  // read now, microseconds after the stamp: NTP's slewing moves it by
  // nanoseconds meanwhile.
  arrival = arrival == 0 ? now : arrival - realtime_minus_monotonic_ns();
  stream_.on_datagram(data, arrival, now);
  if (rtcp_ == nullptr) return;
  if (looks_like_rtcp(data)) {
    // RFC 5761 section 4: RTCP multiplexed on the RTP port.
    const auto got = rtcp_->on_rtcp(data, now);
    if (!got.valid) return;
    muxed_ = true;
    mux_from_ = to_endpoint(from);
    const ReceptionState r = stream_.reception();
    if (got.sender_report && (!r.locked || got.sr_ssrc == r.ssrc)) {
      sr_from_ = mux_from_;
      have_sr_from_ = true;
      sr_on_rtp_port_ = true;
    }
    return;
  }
  const ReceptionState r = stream_.reception();
  if (r.locked && r.packets != rtp_packets_) {  // the locked stream's RTP, not junk
    rtp_packets_ = r.packets;
    rtp_from_ = to_endpoint(from);
    have_rtp_from_ = true;
    rtcp_->on_rtp(r, now);
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
