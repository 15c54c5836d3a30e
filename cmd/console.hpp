// Control's stderr and stdout: messages, and the statistics (--stats).
//
// Thread: main (the control context) only.
#pragma once

#include <string>

#include "cmd/options.hpp"
#include "net/net_stats.hpp"

namespace cmd {

class Console {
 public:
  /// `live`: text statistics on a terminal, one line redrawn in place
  /// (plain lines otherwise).
  explicit Console(bool live) : live_(live) {}

  /// The status line (or a plain line).
  void status(const std::string& line);

  /// A message on a line of its own; the status line comes back with the
  /// next statistics.
  void say(const char* format, ...) __attribute__((format(printf, 2, 3)));

  /// Leaves the status line where it is, for what comes after.
  void end();

 private:
  void clear();
  const bool live_;
  bool shown_ = false;
};

/// --stats: one JSON line on stdout, or the text status line on stderr.
void print_stats(const Options& o, Console& console, const net::StatsSnapshot& s, double uptime,
                 bool final);

/// --verbose: what changed since the last look (lock, playing, underruns,
/// the target).
void print_events(Console& console, const net::StatsSnapshot& prev, const net::StatsSnapshot& now);

}  // namespace cmd
