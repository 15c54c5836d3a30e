// The sessions SAP announces (RFC 2974): a bounded table built from the
// announcements heard, for --list and for following one session by name
// (--session).
//
// A session is known by its SDP origin without the version (username,
// session id, address: RFC 8866 section 5.2) and its name, since senders
// such as ffmpeg give every session the same origin. A re-announcement
// with another description is a change; a deletion (T bit) or silence for
// ten announcement intervals, and at least an hour (RFC 2974 section 3.1),
// ends it. An announcement the directory cannot read is counted and
// dropped; one whose session rtp2jack cannot play is kept, with the
// reason, so that --list shows it.
//
// Thread: whichever context owns the instance (control for --list, net
// when following). Allocates: not for the real-time path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/net_stats.hpp"
#include "net/sap_packet.hpp"
#include "net/session_description.hpp"

namespace net {

struct AnnouncedSession {
  std::string name;       // s=
  std::string origin;     // o= without the version
  std::string announcer;  // SAP originating source
  std::uint16_t hash = 0; // SAP message id hash of the latest announcement
  std::string sdp;        // the latest description, as announced
  std::optional<SessionDescription> description;  // when rtp2jack can play it
  std::string why;        // why not, when it cannot ("line 7: ...")
  std::int64_t first_ns = 0;
  std::int64_t heard_ns = 0;
  std::int64_t interval_ns = 0;  // between the latest two announcements

  /// "239.255.0.7:5006", or "" when the description is not playable.
  std::string where() const;
  /// "opus/48000/2", or "" when the description is not playable.
  std::string format() const;
};

class SessionDirectory {
 public:
  static constexpr std::size_t kMaxSessions = 64;
  static constexpr std::int64_t kMinTimeoutNs = 3600LL * 1'000'000'000;

  enum class Event : std::uint8_t { None, New, Changed, Repeated, Deleted };
  struct Update {
    Event event = Event::None;
    AnnouncedSession session;  // as it is now (Deleted: as it was)
  };

  /// One datagram from the SAP port, heard at `now_ns`.
  Update take(const std::uint8_t* data, std::size_t size, std::int64_t now_ns);

  /// Sessions silent for longer than RFC 2974 allows at `now_ns`, removed.
  std::vector<AnnouncedSession> expire(std::int64_t now_ns);

  /// The session announced under this s= name, or null.
  const AnnouncedSession* find(std::string_view name) const;

  const std::vector<AnnouncedSession>& sessions() const noexcept { return sessions_; }
  const SapCounters& counters() const noexcept { return counters_; }

 private:
  std::vector<AnnouncedSession> sessions_;
  SapCounters counters_;
};

}  // namespace net
