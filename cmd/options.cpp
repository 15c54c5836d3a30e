#include "cmd/options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "net/pcm_payload.hpp"
#include "net/session_description.hpp"

#ifndef RTP2JACK_VERSION
#define RTP2JACK_VERSION "0.0.0"
#endif

namespace cmd {

namespace {

namespace d = core::defaults;

// What the flags give before it is checked and turned into Options.
struct Raw {
  std::string latency = "20";
  bool no_rtcp = false;
  std::string sdp;     // --sdp FILE, "-" for stdin
  std::string format;  // --format ENC/RATE/CH
  CLI::Option* min_latency = nullptr;
  CLI::Option* max_latency = nullptr;
  // Given on the command line: these override the session description.
  CLI::Option* port = nullptr;
  CLI::Option* bind = nullptr;
  CLI::Option* allow_from = nullptr;
  CLI::Option* payload_type = nullptr;
};

void add_network(CLI::App& app, Options& o, Raw& raw) {
  const char* net = "Network";
  app.add_option("--sdp", raw.sdp,
                 "Take the address, port, payload type and allowed senders from this session "
                 "description (SDP, RFC 8866; '-': stdin); flags given as well override it. SIGHUP reads "
                 "it again: a new format or payload type in it starts a new stream")
      ->option_text("FILE")->group(net);
  app.add_option("--session", o.session,
                 "Play the session SAP (RFC 2974) announces under this name, and follow it when it "
                 "is announced again or deleted; flags given as well override it")
      ->option_text("NAME")->group(net);
  app.add_flag("--list", o.list, "Print the sessions SAP announces (name, origin, address, format) and exit")
      ->group(net);
  app.add_option("--list-seconds", o.list_seconds, "How long --list listens for announcements")
      ->capture_default_str()->check(CLI::Range(0.1, 3600.0))->group(net);
  raw.port = app.add_option("--port", o.port, "UDP port to receive RTP on (RTCP: port+1)")
      ->capture_default_str()->check(CLI::Range(1, 65535))->group(net);
  raw.bind = app.add_option("--bind", o.bind,
                 "Local address to listen on (IPv4 or IPv6; '::' for both); a multicast "
                 "group address is joined")
      ->capture_default_str()->group(net);
  app.add_option("--iface", o.iface, "Network interface for the multicast group (or to bind to)")
      ->group(net);
  raw.allow_from = app.add_option("--allow-from", o.allow_from,
                 "Accept packets only from ADDR[/PREFIX] (repeatable); default: any sender, "
                 "locked by SSRC")
      ->group(net);
  app.add_flag("--no-rtcp", raw.no_rtcp,
               "Do not use RTCP: no socket on port+1, no receiver reports, no end-to-end latency")
      ->group(net);
  raw.payload_type = app.add_option("--payload-type", o.payload_type,
                 "Accept only this RTP payload type (default: the first stream's)")
      ->check(CLI::Range(0, 127))->group(net);
  app.add_option("--format", raw.format,
                 "The payload: opus (default), or L16/RATE/CHANNELS or L24/RATE/CHANNELS "
                 "(uncompressed, RFC 3551, RFC 3190; RATE 44100, 48000 or 96000; 1 to 8 channels)")
      ->group(net);
}

void add_playout(CLI::App& app, Options& o, Raw& raw) {
  const char* play = "Playout";
  app.add_option("--latency", raw.latency,
                 "Target latency in ms, from a packet's arrival to the playout of its first "
                 "sample; or 'auto': adapt it to the network")
      ->capture_default_str()->group(play);
  raw.min_latency = app.add_option("--min-latency", o.min_latency_ms,
                                   "With --latency auto: the smallest target in ms")
                        ->capture_default_str()->check(CLI::Range(0.0, d::kMaxLatencyMs))->group(play);
  raw.max_latency = app.add_option("--max-latency", o.max_latency_ms,
                                   "With --latency auto: the largest target in ms")
                        ->capture_default_str()->check(CLI::Range(1.0, d::kMaxLatencyMs))->group(play);
  app.add_option("--channels", o.channels,
                 "Output ports out_1..out_N (1 to 8; Opus: 1 or 2, libopus mixes the stream to fit): the "
                 "stream's first N channels play (a mono stream on every port)")
      ->capture_default_str()->check(CLI::Range(1, d::kMaxChannels))->group(play);
}

void add_jack(CLI::App& app, Options& o) {
  const char* jack = "JACK";
  app.add_option("--name", o.name, "JACK client name; ports are NAME:out_1..out_N")
      ->capture_default_str()->group(jack);
  app.add_option("--server", o.server, "JACK server name (default: $JACK_DEFAULT_SERVER or 'default')")
      ->group(jack);
  app.add_option("--connect", o.connect,
                 "auto (physical playback ports), none, or PORT,PORT,... one per output")
      ->capture_default_str()->group(jack);
}

void add_reporting(CLI::App& app, Options& o) {
  const char* report = "Reporting";
  app.add_option("--stats", o.stats,
                 "Print statistics every interval: text (one line on stderr) or json (one object "
                 "per line on stdout)")
      ->check(CLI::IsMember({"text", "json"}))->group(report);
  app.add_option("--stats-interval", o.stats_interval_s, "Seconds between statistics lines")
      ->capture_default_str()->check(CLI::Range(0.05, 3600.0))->group(report);
  app.add_flag("--verbose,-v", o.verbose, "Say when a stream locks, restarts or underruns")
      ->group(report);
}

std::string read_all(const std::string& path, bool& ok) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    ok = !std::cin.bad();
  } else {
    std::ifstream f(path, std::ios::binary);
    ok = static_cast<bool>(f);
    if (ok) text << f.rdbuf();
  }
  return text.str();
}

// --format ENC/RATE/CH.
bool apply_format(Options& o, const Raw& raw) {
  std::string why = net::parse_payload_format(raw.format, o.format);
  if (why.empty()) why = playable(o.format);
  if (why.empty()) return true;
  std::cerr << "rtp2jack: --format " << raw.format << ": " << why << " (see --help)\n";
  return false;
}

// --sdp: what the description says, where no flag says otherwise.
bool apply_sdp(Options& o, const Raw& raw) {
  bool readable = false;
  const std::string text = read_all(raw.sdp, readable);
  if (!readable) {
    std::cerr << "rtp2jack: --sdp " << raw.sdp << ": cannot read it\n";
    return false;
  }
  const auto parsed = net::parse_session_description(text);
  if (const auto* e = std::get_if<net::SdpError>(&parsed)) {
    std::cerr << "rtp2jack: --sdp " << raw.sdp;
    if (e->line > 0) std::cerr << " line " << e->line;
    std::cerr << ": " << e->why << "\n";
    return false;
  }
  const auto& s = std::get<net::SessionDescription>(parsed);
  if (const std::string why = apply_description(o, s); !why.empty()) {
    std::cerr << "rtp2jack: --sdp " << raw.sdp << " line " << s.media_line << ": " << why << "\n";
    return false;
  }
  return true;
}

// Rules across flags, which CLI11's per-flag checks cannot state. One line
// on stderr and false when they do not hold.
bool finish(Options& o, const Raw& raw) {
  o.rtcp = !raw.no_rtcp;
  o.given = {raw.port->count() > 0, raw.bind->count() > 0, raw.payload_type->count() > 0,
             raw.allow_from->count() > 0, !raw.format.empty()};
  if (!o.session.empty() + !raw.sdp.empty() + o.list > 1) {
    std::cerr << "rtp2jack: give one of --sdp, --session and --list (see --help)\n";
    return false;
  }
  o.sdp = raw.sdp;
  if (!raw.format.empty() && !apply_format(o, raw)) return false;
  if (!raw.sdp.empty() && !apply_sdp(o, raw)) return false;
  // More ports than the stream has channels would only be silent; a mono
  // stream plays on every port. RFC 7587 section 7: Opus is one or two.
  // With --session the stream's channels are known when it is announced.
  const bool opus = o.format.encoding == net::PayloadFormat::Encoding::Opus;
  const int carried = opus ? 2 : o.format.channels;
  if (o.session.empty() && o.channels > carried && carried != 1) {
    std::cerr << "rtp2jack: --channels " << o.channels << ": " << o.format.name() << " carries "
              << (opus ? "at most 2 channels (RFC 7587)" : std::to_string(carried) + " channels") << " (see --help)\n";
    return false;
  }
  if (o.connect.empty()) {
    std::cerr << "rtp2jack: --connect: give auto, none, or a list of ports (see --help)\n";
    return false;
  }
  if (raw.latency == "auto") {
    o.latency_auto = true;
    if (o.min_latency_ms > o.max_latency_ms) {
      std::cerr << "rtp2jack: --min-latency is larger than --max-latency (see --help)\n";
      return false;
    }
    o.latency_ms = std::clamp(d::kAutoStartMs, o.min_latency_ms, o.max_latency_ms);
    return true;
  }
  char* end = nullptr;
  o.latency_ms = std::strtod(raw.latency.c_str(), &end);
  if (raw.latency.empty() || *end != '\0' || !(o.latency_ms >= 0.0 && o.latency_ms <= d::kMaxLatencyMs)) {
    std::cerr << "rtp2jack: --latency: give milliseconds from 0 to " << d::kMaxLatencyMs
              << ", or auto (see --help)\n";
    return false;
  }
  if (raw.min_latency->count() > 0 || raw.max_latency->count() > 0) {
    std::cerr << "rtp2jack: --min-latency and --max-latency go with --latency auto (see --help)\n";
    return false;
  }
  return true;
}

}  // namespace

std::string playable(const net::PayloadFormat& f) {
  // Opus is always 48 kHz (RFC 7587); L16/L24 (RFC 3551 section 4.5.11,
  // RFC 3190) at the rates AES67, PipeWire and CD audio use.
  if (f.rate != 44100 && f.rate != 48000 && f.rate != 96000)
    return f.name() + ": the rate is not 44100, 48000 or 96000 Hz";
  if (f.channels > net::PcmPayload::kMaxStreamChannels) return f.name() + ": at most 8 channels";
  return {};
}

std::string apply_description(Options& o, const net::SessionDescription& s) {
  if (!o.given.format) {
    if (std::string why = playable(s.format); !why.empty()) return why;
    o.format = s.format;
  }
  if (!o.given.port) o.port = s.port;
  if (!o.given.bind) o.bind = s.address;
  if (!o.given.payload_type) o.payload_type = s.payload_type;
  if (!o.given.allow_from) o.allow_from = s.sources;
  return {};
}

std::variant<SdpUpdate, std::string> read_sdp_again(const Options& o) {
  const std::string where = "--sdp " + o.sdp;
  if (o.sdp.empty() || o.sdp == "-") return std::string("no --sdp file to read again");
  bool readable = false;
  const std::string text = read_all(o.sdp, readable);
  if (!readable) return where + ": cannot read it";
  const auto parsed = net::parse_session_description(text);
  if (const auto* e = std::get_if<net::SdpError>(&parsed))
    return where + (e->line > 0 ? " line " + std::to_string(e->line) : std::string()) + ": " + e->why;
  const auto& s = std::get<net::SessionDescription>(parsed);
  SdpUpdate u{o.format, o.payload_type};
  if (!o.given.format) {
    if (const std::string why = playable(s.format); !why.empty())
      return where + " line " + std::to_string(s.media_line) + ": " + why;
    u.format = s.format;
  }
  if (!o.given.payload_type) u.payload_type = s.payload_type;
  return u;
}

std::variant<Options, int> parse_options(int argc, char** argv) {
  Options o;
  Raw raw;
  CLI::App app{"rtp2jack: receive an RTP stream (RFC 3550) of Opus (RFC 7587) or L16/L24 audio and play it into JACK"};
  app.set_version_flag("--version", std::string("rtp2jack ") + RTP2JACK_VERSION);
  app.get_formatter()->column_width(34);
  add_network(app, o, raw);
  add_playout(app, o, raw);
  add_jack(app, o);
  add_reporting(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "rtp2jack: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (!finish(o, raw)) return 2;
  return o;
}

}  // namespace cmd
