#include "cmd/sessions.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <utility>

#include <asio.hpp>

#include "net/sap_listener.hpp"

namespace cmd {
namespace {

// The address of an origin (o= less its version): its last word.
std::string origin_address(const std::string& origin) {
  const std::size_t space = origin.rfind(' ');
  return space == std::string::npos ? origin : origin.substr(space + 1);
}

}  // namespace

std::string session_line(const net::AnnouncedSession& s) {
  std::string line = s.name + "\t" + origin_address(s.origin) + "\t";
  if (s.description)
    line += s.where() + "\t" + s.format();
  else
    line += "-\tcannot play: " + s.why;
  return line;
}

int list_sessions(const Options& o) {
  asio::io_context io;
  std::unique_ptr<net::SapListener> sap;
  try {
    sap = std::make_unique<net::SapListener>(io, o.iface, [](const net::SessionDirectory::Update& u) {
      using Event = net::SessionDirectory::Event;
      if (u.event == Event::New || u.event == Event::Changed) {
        std::printf("%s\n", session_line(u.session).c_str());
        std::fflush(stdout);
      }
    });
  } catch (const std::exception& e) {
    std::cerr << "rtp2jack: --list: " << e.what() << "\n";
    return 2;
  }
  asio::steady_timer done(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto stop = [&] {
    sap->stop();
    done.cancel();
    signals.cancel();
  };
  done.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(o.list_seconds)));
  done.async_wait([&](const asio::error_code& ec) {
    if (!ec) stop();
  });
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (!ec) stop();
  });
  sap->start();
  io.run();
  const auto& c = sap->directory().counters();
  if (c.invalid > 0) std::cerr << "rtp2jack: --list: " << c.invalid << " announcement(s) could not be read\n";
  return 0;
}

std::optional<net::SessionDescription> wait_for_session(const Options& o) {
  asio::io_context io;
  std::optional<net::SessionDescription> found;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::unique_ptr<net::SapListener> sap;
  sap = std::make_unique<net::SapListener>(io, o.iface, [&](const net::SessionDirectory::Update& u) {
    using Event = net::SessionDirectory::Event;
    if (u.session.name != o.session || (u.event != Event::New && u.event != Event::Changed)) return;
    if (!u.session.description) {
      std::cerr << "rtp2jack: session '" << o.session << "' cannot be played (" << u.session.why
                << "); waiting for another announcement\n";
      return;
    }
    Options trial = o;
    if (const std::string why = apply_description(trial, *u.session.description); !why.empty()) {
      std::cerr << "rtp2jack: session '" << o.session << "' cannot be played (" << why
                << "); waiting for another announcement\n";
      return;
    }
    found = *u.session.description;
    sap->stop();
    signals.cancel();
  });
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (!ec) sap->stop();
  });
  sap->start();
  std::cerr << "rtp2jack: waiting for SAP to announce session '" << o.session << "'\n";
  io.run();
  return found;
}

net::ListenConfig listen_config(const Options& o) {
  net::ListenConfig listen{o.bind, o.port, o.iface, {}};
  for (const auto& spec : o.allow_from)
    if (const auto error = listen.allow.add(spec)) throw std::invalid_argument(*error);
  return listen;
}

SessionFollower::SessionFollower(const Options& playing, net::StreamReceiver& stream, net::UdpReceiver& udp,
                                 Tell tell)
    : following_(playing), stream_(stream), udp_(udp), tell_(std::move(tell)) {}

void SessionFollower::on_update(const net::SessionDirectory::Update& u) {
  using Event = net::SessionDirectory::Event;
  if (u.session.name != following_.session) return;
  const std::string name = "rtp2jack: session '" + following_.session + "'";
  if (u.event == Event::Deleted) {
    if (!deleted_) tell_(name + " deleted; waiting for it to be announced again");
    deleted_ = true;
    udp_.close_stream();
    return;
  }
  if (u.event == Event::Repeated && !deleted_) return;
  if (!u.session.description) {
    tell_(name + " cannot be played (" + u.session.why + "); playing on as before");
    return;
  }
  Options next = following_;
  if (const std::string why = apply_description(next, *u.session.description); !why.empty()) {
    tell_(name + " cannot be played (" + why + "); playing on as before");
    return;
  }
  if (next.format.name() != following_.format.name() || next.payload_type != following_.payload_type) {
    try {
      stream_.set_format(next.format, next.payload_type);
    } catch (const std::exception& e) {
      tell_(name + " cannot be played (" + e.what() + "); playing on as before");
      return;
    }
    tell_(name + " is now " + next.format.name() + ", payload type " + std::to_string(next.payload_type));
  }
  const bool moved = deleted_ || next.bind != following_.bind || next.port != following_.port ||
                     next.allow_from != following_.allow_from;
  following_ = next;
  if (!moved) return;
  try {
    udp_.retarget(listen_config(next));
  } catch (const std::exception& e) {
    tell_(name + ": " + e.what());
    return;
  }
  deleted_ = false;
  tell_(name + ": receiving on " + udp_.description());
}

}  // namespace cmd
