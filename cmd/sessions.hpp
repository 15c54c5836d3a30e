// SAP sessions at the command line: --list, the first announcement of the
// session --session names (thread: main, before the net and audio
// contexts exist), and net following it as it plays (SessionFollower).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "cmd/options.hpp"
#include "net/session_directory.hpp"
#include "net/stream_receiver.hpp"
#include "net/udp_receiver.hpp"

namespace cmd {

/// Where net listens and whom it takes packets from. Throws
/// std::invalid_argument for an --allow-from (or source filter) it cannot
/// read.
net::ListenConfig listen_config(const Options& o);

/// One line for a session: name, origin address, where and format (or why
/// it cannot be played), tab-separated.
std::string session_line(const net::AnnouncedSession& s);

/// --list: prints each session as it is first announced (or changes) for
/// o.list_seconds, then exits. Returns the exit code (2: cannot listen).
int list_sessions(const Options& o);

/// --session: waits for the named session's announcement until one that
/// rtp2jack can play arrives (returned) or SIGINT/SIGTERM (nullopt).
/// Throws std::runtime_error when SAP cannot be listened to.
std::optional<net::SessionDescription> wait_for_session(const Options& o);

/// --session as it plays: the session announced again, changed or deleted.
/// Net listens where it is now announced (UdpReceiver::retarget), and not
/// at all while it is deleted (UdpReceiver::close_stream); a new format or
/// payload type is a new stream (StreamReceiver::set_format, whose format
/// reaches audio by the swap pattern). Flags given win over the
/// announcement, as at start-up (apply_description). What happens is told
/// in one line each, through `tell`.
///
/// Thread: net (the SAP listener's callback).
class SessionFollower {
 public:
  using Tell = std::function<void(std::string)>;
  /// `playing`: the options the stream started with, the announcement
  /// applied.
  SessionFollower(const Options& playing, net::StreamReceiver& stream, net::UdpReceiver& udp, Tell tell);

  void on_update(const net::SessionDirectory::Update& u);

 private:
  Options following_;  // the session as it plays now
  bool deleted_ = false;
  net::StreamReceiver& stream_;
  net::UdpReceiver& udp_;
  Tell tell_;
};

}  // namespace cmd
