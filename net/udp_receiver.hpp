// The net context's I/O: one UDP socket on an asio::io_context run by the
// net thread, feeding net::StreamReceiver.
//
// A receive loop re-armed from its own handler over a fixed member buffer;
// one timer wakes net for the next loss-repair deadline, or after a tick at
// most, to take records home from audio. stop() cancels both so that
// io_context::run() returns by itself.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include <asio.hpp>

#include "net/source_filter.hpp"
#include "net/stream_receiver.hpp"

namespace net {

struct ListenConfig {
  std::string bind = "0.0.0.0";  // unicast address to bind, or a multicast group to join
  std::uint16_t port = 5004;
  std::string iface;             // interface for multicast (or SO_BINDTODEVICE for unicast)
  SourceFilter allow;            // --allow-from; empty: any sender (locked by SSRC)
};

class UdpReceiver {
 public:
  /// Thread: control, at start-up. Opens, binds and (for a group) joins.
  /// Throws std::runtime_error with a one-line reason on failure.
  UdpReceiver(asio::io_context& io, StreamReceiver& stream, const ListenConfig& config);

  /// Thread: control before the net thread runs, or net. Arms the receive
  /// loop and the tick.
  void start();

  /// Thread: net (post it). Cancels outstanding work; run() then returns.
  void stop();

  /// Thread: any. "ADDR:PORT" as bound.
  const std::string& description() const { return description_; }

 private:
  void arm_receive();
  void on_readable();
  void arm_timer();

  StreamReceiver& stream_;
  const SourceFilter allow_;
  asio::ip::udp::socket socket_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point timer_at_{};
  bool kernel_timestamps_ = false;
  bool stopped_ = false;
  std::string description_;
  // Only referenced by the net thread. Big enough for any UDP datagram, so
  // nothing is ever truncated into a valid-looking packet.
  std::array<std::uint8_t, 65536> buffer_{};
};

}  // namespace net
