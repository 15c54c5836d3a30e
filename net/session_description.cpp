#include "net/session_description.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "net/text_fields.hpp"

namespace net {

namespace {

using Format = PayloadFormat;
using Encoding = PayloadFormat::Encoding;

struct Connection {
  std::string address;
  int ttl = -1;
  int line = 0;
};

struct Filter {
  std::string dest;  // "*" for any
  std::vector<std::string> sources;
};

struct Media {
  int line = 0;
  std::string type;
  std::uint16_t port = 0;
  std::string proto;
  std::vector<int> formats;
  std::optional<Connection> connection;
  std::map<int, std::string> rtpmap;  // payload type -> "enc/rate[/ch]"
  std::map<int, std::string> fmtp;
  double ptime_ms = 0;
  std::vector<Filter> filters;
};

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// RFC 3551 table 4: the static audio types rtp2jack can play.
std::optional<Format> static_format(int pt) {
  if (pt == 10) return Format{Encoding::L16, 44100, 2};
  if (pt == 11) return Format{Encoding::L16, 44100, 1};
  return std::nullopt;
}

// "opus/48000/2", "L24/48000/2", "L16/44100": the format, or why not
// (empty: another encoding, not ours, and no error).
std::variant<Format, std::string> rtpmap_format(std::string_view map) {
  Format f;
  const std::string why = parse_payload_format(map, f);
  if (why.empty()) return f;
  const std::string_view enc = map.substr(0, map.find('/'));
  if (!iequals(enc, "opus") && !iequals(enc, "L16") && !iequals(enc, "L24")) return std::string{};
  return "a=rtpmap: " + why;
}

std::optional<Connection> parse_connection(std::string_view v, int line) {
  const auto w = words(v);
  if (w.size() != 3 || w[0] != "IN" || (w[1] != "IP4" && w[1] != "IP6")) return std::nullopt;
  Connection c;
  c.line = line;
  const std::string_view addr = w[2];
  const std::size_t slash = addr.find('/');
  c.address = std::string(addr.substr(0, slash));
  if (slash != std::string_view::npos && w[1] == "IP4") {
    // IPv4 groups: ADDRESS/TTL[/COUNT] (RFC 8866 section 5.7).
    const std::string_view rest = addr.substr(slash + 1);
    if (!parse_number(rest.substr(0, rest.find('/')), c.ttl) || c.ttl < 0 || c.ttl > 255) return std::nullopt;
  }
  if (c.address.empty()) return std::nullopt;
  return c;
}

std::optional<Media> parse_media(std::string_view v, int line) {
  const auto w = words(v);
  if (w.size() < 4) return std::nullopt;
  Media m;
  m.line = line;
  m.type = std::string(w[0]);
  if (!parse_number(w[1].substr(0, w[1].find('/')), m.port)) return std::nullopt;
  m.proto = std::string(w[2]);
  for (std::size_t i = 3; i < w.size(); ++i) {
    int pt = -1;
    if (parse_number(w[i], pt) && pt >= 0 && pt <= 127) m.formats.push_back(pt);
  }
  return m;
}

// "PT rest" of a=rtpmap: and a=fmtp:.
bool split_pt(std::string_view v, int& pt, std::string_view& rest) {
  const std::size_t sp = v.find(' ');
  if (sp == std::string_view::npos || !parse_number(v.substr(0, sp), pt)) return false;
  rest = v.substr(sp + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return true;
}

// a=source-filter: incl IN IP4 DEST SRC... (RFC 4570 section 3).
std::variant<Filter, std::string> parse_filter(std::string_view v) {
  const auto w = words(v);
  if (w.size() < 5 || w[1] != "IN") return std::string("a=source-filter: expected MODE IN TYPE DEST SOURCE...");
  if (w[0] == "excl") return std::string("a=source-filter: excl is not supported, only incl");
  if (w[0] != "incl") return std::string("a=source-filter: the mode must be incl or excl");
  Filter f;
  f.dest = std::string(w[3]);
  for (std::size_t i = 4; i < w.size(); ++i) f.sources.emplace_back(w[i]);
  return f;
}

struct Parsed {
  std::string name, origin, origin_address;
  std::optional<Connection> connection;
  std::vector<Filter> filters;  // session level
  std::vector<Media> media;
};

// One attribute line, at session level (media == nullptr) or in a media
// block. An error string when it is one rtp2jack must refuse.
std::string attribute(std::string_view v, Parsed& p, Media* media) {
  const std::size_t colon = v.find(':');
  const std::string_view key = v.substr(0, colon);
  const std::string_view value = colon == std::string_view::npos ? std::string_view{} : v.substr(colon + 1);
  if (key == "source-filter") {
    auto f = parse_filter(value);
    if (auto* why = std::get_if<std::string>(&f)) return *why;
    (media ? media->filters : p.filters).push_back(std::get<Filter>(std::move(f)));
    return {};
  }
  if (media == nullptr) return {};
  int pt = -1;
  std::string_view rest;
  if (key == "rtpmap") {
    if (!split_pt(value, pt, rest)) return "a=rtpmap: expected PT ENCODING/RATE[/CHANNELS]";
    media->rtpmap[pt] = std::string(rest);
  } else if (key == "fmtp") {
    if (split_pt(value, pt, rest)) media->fmtp[pt] = std::string(rest);
  } else if (key == "ptime") {
    double ms = 0;
    if (!parse_number(value, ms) || !(ms > 0)) return "a=ptime: not a number of milliseconds";
    media->ptime_ms = ms;
  }
  return {};
}

std::variant<Parsed, SdpError> read_lines(std::string_view text) {
  Parsed p;
  int n = 0;
  bool first = true;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++n;
    if (line.empty()) continue;
    if (line.size() < 2 || line[1] != '=' || !std::islower(static_cast<unsigned char>(line[0])))
      return SdpError{n, "not a TYPE=VALUE line"};
    const char type = line[0];
    const std::string_view v = line.substr(2);
    if (first && line != "v=0") return SdpError{n, "not a session description: the first line must be v=0"};
    first = false;
    Media* media = p.media.empty() ? nullptr : &p.media.back();
    if (type == 's' && media == nullptr) {
      p.name = std::string(v);
    } else if (type == 'o' && media == nullptr) {
      const auto w = words(v);
      if (w.size() != 6) return SdpError{n, "o=: expected six fields"};
      p.origin = std::string(w[0]) + " " + std::string(w[1]) + " " + std::string(w[5]);
      p.origin_address = std::string(w[5]);
    } else if (type == 'c') {
      auto c = parse_connection(v, n);
      if (!c) return SdpError{n, "c=: expected IN IP4|IP6 ADDRESS[/TTL]"};
      (media ? media->connection : p.connection) = std::move(c);
    } else if (type == 'm') {
      auto m = parse_media(v, n);
      if (!m) return SdpError{n, "m=: expected MEDIA PORT PROTO FORMAT..."};
      p.media.push_back(std::move(*m));
    } else if (type == 'a') {
      if (std::string why = attribute(v, p, media); !why.empty()) return SdpError{n, why};
    }
  }
  if (first) return SdpError{0, "empty"};
  return p;
}

// The first format of `m` rtp2jack can play, as its payload type; or why
// none (empty: none of ours, no error in them).
std::variant<std::pair<int, Format>, SdpError> playable(const Media& m) {
  for (const int pt : m.formats) {
    if (const auto it = m.rtpmap.find(pt); it != m.rtpmap.end()) {
      auto f = rtpmap_format(it->second);
      if (auto* why = std::get_if<std::string>(&f)) {
        if (!why->empty()) return SdpError{m.line, *why};
        continue;
      }
      return std::pair{pt, std::get<Format>(f)};
    }
    if (auto f = static_format(pt)) return std::pair{pt, *f};
  }
  return SdpError{m.line, "m=audio: no Opus, L16 or L24 format"};
}

std::vector<std::string> sources_for(const std::vector<Filter>& filters, const std::string& address) {
  std::vector<std::string> out;
  for (const Filter& f : filters)
    if (f.dest == "*" || f.dest == address) out.insert(out.end(), f.sources.begin(), f.sources.end());
  return out;
}

}  // namespace

std::variant<SessionDescription, SdpError> parse_session_description(std::string_view text) {
  auto parsed = read_lines(text);
  if (auto* e = std::get_if<SdpError>(&parsed)) return *e;
  const Parsed& p = std::get<Parsed>(parsed);
  std::optional<SdpError> why;  // of the first audio media passed over
  for (const Media& m : p.media) {
    if (m.type != "audio" || m.port == 0) continue;
    if (m.proto != "RTP/AVP" && m.proto != "RTP/AVPF") {
      if (!why) why = SdpError{m.line, "m=audio: " + m.proto + " is not supported, only RTP/AVP"};
      continue;
    }
    auto chosen = playable(m);
    if (auto* e = std::get_if<SdpError>(&chosen)) {
      if (!why) why = *e;
      continue;
    }
    const auto [pt, format] = std::get<std::pair<int, Format>>(chosen);
    const std::optional<Connection>& c = m.connection ? m.connection : p.connection;
    if (!c) return SdpError{m.line, "no c= line for this media or the session"};
    SessionDescription s;
    s.name = p.name;
    s.origin = p.origin;
    s.origin_address = p.origin_address;
    s.address = c->address;
    s.ttl = c->ttl;
    s.port = m.port;
    s.media_line = m.line;
    s.payload_type = pt;
    s.format = format;
    s.ptime_ms = m.ptime_ms;
    if (const auto f = m.fmtp.find(pt); f != m.fmtp.end())
      s.stereo = f->second.find("sprop-stereo=1") != std::string::npos;
    s.sources = sources_for(m.filters, s.address);
    if (s.sources.empty()) s.sources = sources_for(p.filters, s.address);
    return s;
  }
  if (why) return *why;
  return SdpError{0, "no m=audio line"};
}

}  // namespace net
