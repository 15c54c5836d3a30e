// The RTCP session rtp2jack runs unless --no-rtcp: our CNAME, a random seed
// for the SSRC and report timing, and where audio's output sits behind its
// render cursor.
#pragma once

#include <memory>

#include "cmd/options.hpp"
#include "net/rtcp_session.hpp"

namespace cmd {

/// Thread: control, at start-up. Null when RTCP is off.
std::unique_ptr<net::RtcpSession> make_rtcp_session(const Options& o);

}  // namespace cmd
