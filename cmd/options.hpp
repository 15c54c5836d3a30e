// Command-line options of rtp2jack (CLI11). Defaults come from
// core/defaults.hpp and --help shows them.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/defaults.hpp"
#include "net/payload_format.hpp"
#include "net/session_description.hpp"

namespace cmd {

struct Options {
  std::uint16_t port = core::defaults::kPort;
  std::string bind = core::defaults::kBind;
  std::string iface;
  std::vector<std::string> allow_from;  // ADDR[/PREFIX], any number
  bool rtcp = true;                     // --no-rtcp: false
  double latency_ms = core::defaults::kLatencyMs;  // fixed target; with auto, where it starts
  bool latency_auto = false;                       // --latency auto
  double min_latency_ms = core::defaults::kMinLatencyMs;
  double max_latency_ms = core::defaults::kMaxAutoLatencyMs;
  int channels = core::defaults::kChannels;
  int payload_type = -1;  // -1: lock to the first stream's payload type
  net::PayloadFormat format;  // --format, or the SDP's; Opus by default
  std::string sdp;            // --sdp FILE ("-": stdin), read again on SIGHUP
  std::string name = core::defaults::kName;
  std::string server;
  std::string connect = core::defaults::kConnect;
  std::string stats;      // "", "text" or "json"
  double stats_interval_s = core::defaults::kStatsIntervalS;
  bool verbose = false;
  // SAP (RFC 2974): --list prints the sessions announced within
  // list_seconds and exits; --session plays the one of that name.
  bool list = false;
  double list_seconds = 6.0;
  std::string session;
  // Given as flags: these win over a session description's (--sdp, --session).
  struct Given {
    bool port = false, bind = false, payload_type = false, allow_from = false, format = false;
  } given;
};

/// Why this build cannot play `f`; empty when it can.
std::string playable(const net::PayloadFormat& f);

/// Takes into `o` what a session description says, where no flag said
/// otherwise. Empty, or why the description cannot be played.
std::string apply_description(Options& o, const net::SessionDescription& s);

/// What --sdp FILE says now (SIGHUP): the format and payload type to play,
/// where no flag gave them.
struct SdpUpdate {
  net::PayloadFormat format;
  int payload_type = -1;
};

/// Thread: control. Reads `o.sdp` again. An update, or why not in one line
/// (an unreadable file, an unusable description, a format this build does
/// not play). The address, port and senders are not changed.
std::variant<SdpUpdate, std::string> read_sdp_again(const Options& o);

/// Parses the command line. Returns Options to run with, or an exit code when
/// the program should stop now (--help, --version: 0; a bad flag: one line on
/// stderr and 2).
std::variant<Options, int> parse_options(int argc, char** argv);

}  // namespace cmd
