// SAP sessions at the command line: --list, and the first announcement of
// the session --session names.
//
// Thread: main (control), before the net and audio contexts exist.
#pragma once

#include <optional>
#include <string>

#include "cmd/options.hpp"
#include "net/session_directory.hpp"

namespace cmd {

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

}  // namespace cmd
