#include "net/session_directory.hpp"

#include <algorithm>
#include <variant>

namespace net {
namespace {

// The value of the first "X=" line of an SDP text, without its line end.
std::string_view sdp_field(std::string_view text, char type) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() >= 2 && line[0] == type && line[1] == '=') return line.substr(2);
    at = end + 1;
  }
  return {};
}

// o= less its third word, the session version.
std::string origin_key(std::string_view o) {
  std::string out;
  int word = 0;
  std::size_t i = 0;
  while (i < o.size()) {
    const std::size_t j = std::min(o.find(' ', i), o.size());
    if (word != 2) {
      if (!out.empty()) out += ' ';
      out.append(o.substr(i, j - i));
    }
    ++word;
    i = j + 1;
  }
  return out;
}

}  // namespace

std::string AnnouncedSession::where() const {
  if (!description) return {};
  const auto& d = *description;
  const bool v6 = d.address.find(':') != std::string::npos;
  return (v6 ? "[" + d.address + "]" : d.address) + ":" + std::to_string(d.port);
}

std::string AnnouncedSession::format() const { return description ? description->format.name() : std::string(); }

SessionDirectory::Update SessionDirectory::take(const std::uint8_t* data, std::size_t size, std::int64_t now_ns) {
  Update u;
  const SapPacket p = parse_sap(data, size);
  if (!p.ok()) {
    ++counters_.invalid;
    return u;
  }
  const std::string origin = origin_key(sdp_field(p.sdp, 'o'));
  const std::string name(sdp_field(p.sdp, 's'));
  const std::string announcer = sap_source_text(p);
  if (p.deletion) {
    ++counters_.deletions;
    // The same announcement by its hash and source, or the session by its
    // origin and name when the deletion carries them.
    const auto it = std::find_if(sessions_.begin(), sessions_.end(), [&](const AnnouncedSession& s) {
      return (s.hash == p.hash && s.announcer == announcer) ||
             (!origin.empty() && s.origin == origin && (name.empty() || s.name == name));
    });
    if (it != sessions_.end()) {
      u.event = Event::Deleted;
      u.session = std::move(*it);
      sessions_.erase(it);
    }
    return u;
  }
  if (origin.empty() || name.empty()) {
    ++counters_.invalid;  // RFC 8866 section 5: o= and s= are required
    return u;
  }
  ++counters_.announcements;
  auto it = std::find_if(sessions_.begin(), sessions_.end(),
                         [&](const AnnouncedSession& s) { return s.origin == origin && s.name == name; });
  if (it != sessions_.end() && it->sdp == p.sdp) {
    it->interval_ns = now_ns - it->heard_ns;
    it->heard_ns = now_ns;
    it->hash = p.hash;
    u.event = Event::Repeated;
    u.session = *it;
    return u;
  }
  if (it == sessions_.end()) {
    if (sessions_.size() == kMaxSessions) {
      // The one heard least recently makes room.
      sessions_.erase(std::min_element(sessions_.begin(), sessions_.end(),
                                       [](const AnnouncedSession& a, const AnnouncedSession& b) {
                                         return a.heard_ns < b.heard_ns;
                                       }));
      ++counters_.evicted;
    }
    AnnouncedSession fresh;
    fresh.name = name;
    fresh.origin = origin;
    fresh.first_ns = now_ns;
    fresh.heard_ns = now_ns;
    sessions_.push_back(std::move(fresh));
    it = sessions_.end() - 1;
    u.event = Event::New;
  } else {
    it->interval_ns = now_ns - it->heard_ns;
    it->heard_ns = now_ns;
    u.event = Event::Changed;
  }
  it->announcer = announcer;
  it->hash = p.hash;
  it->sdp = std::string(p.sdp);
  auto parsed = parse_session_description(it->sdp);
  if (auto* d = std::get_if<SessionDescription>(&parsed)) {
    it->description = std::move(*d);
    it->why.clear();
  } else {
    const auto& e = std::get<SdpError>(parsed);
    it->description.reset();
    it->why = (e.line > 0 ? "line " + std::to_string(e.line) + ": " : std::string()) + e.why;
  }
  u.session = *it;
  return u;
}

std::vector<AnnouncedSession> SessionDirectory::expire(std::int64_t now_ns) {
  std::vector<AnnouncedSession> gone;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const std::int64_t timeout = std::max(10 * it->interval_ns, kMinTimeoutNs);
    if (now_ns - it->heard_ns > timeout) {
      gone.push_back(std::move(*it));
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

const AnnouncedSession* SessionDirectory::find(std::string_view name) const {
  for (const auto& s : sessions_)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace net
