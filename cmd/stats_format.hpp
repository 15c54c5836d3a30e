// Statistics as text (one compact human line) or JSON (one object per line).
#pragma once

#include <string>

#include "net/net_stats.hpp"

namespace cmd {

/// Thread: control. `uptime_s` is seconds since start; `final` marks the line
/// printed at shutdown.
std::string stats_json(const net::StatsSnapshot& s, double uptime_s, bool final);
std::string stats_text(const net::StatsSnapshot& s, double uptime_s, bool final);

}  // namespace cmd
