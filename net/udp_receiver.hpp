// The net context's I/O: the RTP socket (and, unless RTCP is off, the RTCP
// socket on port+1) on an asio::io_context run by the net thread, feeding
// net::StreamReceiver and net::RtcpSession.
//
// RTCP (RFC 3550 section 6) arrives on port+1 or multiplexed on the RTP port
// (RFC 5761 section 4); both go to the same session. Receiver reports go to
// where the sender's SRs came from; before any SR, to the RTP source's
// port+1, or to its RTP port if it multiplexes.
//
// A receive loop re-armed from its own handler over a fixed member buffer;
// retarget() moves it to another address and port (a session that SAP
// announces elsewhere), close_stream() stops it;
// one timer wakes net for the next loss-repair deadline, or after a tick at
// most, to take records home from audio. stop() cancels both so that
// io_context::run() returns by itself.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include <asio.hpp>

#include "net/rtcp_session.hpp"
#include "net/source_filter.hpp"
#include "net/stream_receiver.hpp"

namespace net {

struct ListenConfig {
  std::string bind = "0.0.0.0";  // unicast address to bind, or a multicast group to join
  std::uint16_t port = 5004;
  std::string iface;             // interface for multicast (or SO_BINDTODEVICE for unicast)
  SourceFilter allow;            // --allow-from (RTP and RTCP); empty: any sender (locked by SSRC)
};

class UdpReceiver {
 public:
  /// Thread: control, at start-up. Opens, binds and (for a group) joins.
  /// Throws std::runtime_error with a one-line reason on failure.
  /// `rtcp` null: no RTCP socket, no reports (--no-rtcp).
  UdpReceiver(asio::io_context& io, StreamReceiver& stream, const ListenConfig& config,
              RtcpSession* rtcp = nullptr);

  /// Thread: control before the net thread runs, or net. Arms the receive
  /// loop and the tick.
  void start();

  /// Thread: net (post it). Sends RTCP BYE (if RTCP was sent), cancels
  /// outstanding work; run() then returns.
  void stop();

  /// Thread: net. Says goodbye to the sender (RTCP BYE) and closes the
  /// sockets: nothing is received until retarget().
  void close_stream();

  /// Thread: net. Closes the sockets (as close_stream) and listens where
  /// `config` says instead: a session that moved (SAP). Throws
  /// std::runtime_error with a one-line reason; then nothing is received.
  void retarget(const ListenConfig& config);

  /// Thread: net (or control once net has stopped). RTCP counters and the
  /// end-to-end latency, with CLOCK_MONOTONIC converted to CLOCK_REALTIME.
  RtcpStats rtcp_stats();

  /// Thread: control before net runs, or net. "ADDR:PORT" as bound.
  const std::string& description() const { return description_; }

 private:
  void open(const ListenConfig& config);
  void arm_receive();
  void on_readable();
  void on_datagram(const msghdr& msg, std::size_t size);
  void arm_timer();
  void arm_rtcp_receive();
  void on_rtcp_readable();
  void arm_rtcp_timer();
  void send_rtcp(std::size_t n);

  StreamReceiver& stream_;
  RtcpSession* const rtcp_;  // null: RTCP off
  SourceFilter allow_;
  asio::ip::udp::socket socket_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point timer_at_{};
  bool kernel_timestamps_ = false;
  bool stopped_ = false;
  std::string description_;

  // RTCP, only referenced by the net thread.
  asio::ip::udp::socket rtcp_socket_;
  asio::steady_timer rtcp_timer_;
  std::chrono::steady_clock::time_point rtcp_timer_at_{};
  asio::ip::udp::endpoint rtp_from_;   // source of the locked stream's RTP
  asio::ip::udp::endpoint sr_from_;    // source of the latest SR of the stream
  std::uint64_t rtp_packets_ = 0;      // ReceptionState::packets when rtp_from_ was taken
  bool have_rtp_from_ = false;
  bool have_sr_from_ = false;
  bool sr_on_rtp_port_ = false;        // that SR came multiplexed (RFC 5761)
  bool muxed_ = false;                 // valid RTCP seen on the RTP port
  asio::ip::udp::endpoint mux_from_;   // ...from here
  std::array<std::uint8_t, kMaxReceiverCompound> rtcp_out_{};
  // Only referenced by the net thread: kBatch datagrams received by one
  // recvmmsg(2), each buffer big enough for any UDP datagram, so nothing is
  // ever truncated into a valid-looking packet. RTCP uses the first.
  static constexpr unsigned kBatch = 8;
  struct Slot {
    std::array<std::uint8_t, 65536> data;
    sockaddr_storage from;
    iovec iov;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  };
  std::array<Slot, kBatch> slots_{};
  std::array<mmsghdr, kBatch> msgs_{};
};

}  // namespace net
