#include <doctest/doctest.h>

#include <string>

#include "cmd/stats_format.hpp"

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

net::StatsSnapshot playing_snapshot() {
  net::StatsSnapshot s;
  s.net.locked = true;
  s.net.latency_auto = true;
  s.net.sender_on_jack = true;
  s.net.recommended_frames = 456;  // 9.5 ms
  s.net.lateness_frames = 48;      // 1 ms
  s.net.packets_lost = 3;
  s.net.packets_concealed = 2;
  s.net.packets_recovered = 1;
  s.net.frames_held = 1680;
  s.net.target_changes = 4;
  s.audio.playing = true;
  s.audio.delay_frames = 480;
  s.audio.target_frames = 480;
  s.audio.drift_ppm = -12.4;
  s.audio.ratio_ppm = 31.7;
  return s;
}

}  // namespace

TEST_CASE("stats_format: no stream yet: nothing to recommend") {
  const net::StatsSnapshot s;
  CHECK(has(cmd::stats_json(s, 1.0, false), "\"recommended_ms\":null"));
  CHECK(has(cmd::stats_text(s, 1.0, false), "waiting"));
  CHECK(has(cmd::stats_text(s, 1.0, false), "recommend - ms"));
}

TEST_CASE("stats_format: the text line says depth vs target, what to set, and what went wrong") {
  const std::string t = cmd::stats_text(playing_snapshot(), 12.0, false);
  MESSAGE(t);
  CHECK(has(t, "playing"));
  CHECK(has(t, "buf 10.0/10.0 ms auto"));
  CHECK(has(t, "peak 1.0 ms -> recommend 9.5 ms"));
  CHECK(has(t, "lost 3 late 0 rescued 0 plc 2 fec 1"));
  CHECK(has(t, "underruns 0"));
  CHECK(has(t, "drift -12 ppm"));
  CHECK(t.find('\n') == std::string::npos);  // one line, redrawn in place on a terminal
}

TEST_CASE("stats_format: the JSON object carries the latency fields") {
  const std::string j = cmd::stats_json(playing_snapshot(), 12.0, true);
  CHECK(has(j, "\"final\":true"));
  CHECK(has(j, "\"latency_auto\":true"));
  CHECK(has(j, "\"sender_on_jack\":true"));
  CHECK(has(j, "\"recommended_ms\":9.5"));
  CHECK(has(j, "\"lateness_ms\":1.00"));
  CHECK(has(j, "\"target_changes\":4"));
  CHECK(has(j, "\"target_ms\":10.00"));
  CHECK(has(j, "\"buffer_ms\":10.00"));
  // The clocks' drift and what playout consumed at, apart.
  CHECK(has(j, "\"drift_ppm\":-12.4"));
  CHECK(has(j, "\"ratio_ppm\":31.7"));
  CHECK(j.front() == '{');
  CHECK(j.back() == '}');
}

TEST_CASE("stats_format: RTCP fields in JSON and text") {
  net::StatsSnapshot s;
  SUBCASE("RTCP off: flagged, counters zero, e2e null; the text line says nothing of it") {
    const std::string j = cmd::stats_json(s, 1.0, false);
    CHECK(j.find("\"rtcp\":false") != std::string::npos);
    CHECK(j.find("\"rtcp_sr_received\":0") != std::string::npos);
    CHECK(j.find("\"e2e_latency_ms\":null") != std::string::npos);
    CHECK(j.back() == '}');
    CHECK(cmd::stats_text(s, 1.0, false).find("rtcp") == std::string::npos);
  }
  SUBCASE("RTCP on, latency known") {
    s.rtcp.enabled = true;
    s.rtcp.sr_received = 3;
    s.rtcp.rr_sent = 2;
    s.rtcp.invalid = 1;
    s.rtcp.filtered = 4;
    s.rtcp.e2e_rejected = 5;
    s.rtcp.e2e_known = true;
    s.rtcp.e2e_latency_ms = 61.234;
    s.audio.splices = 1;
    s.audio.holds = 2;
    s.audio.jack_stalls = 3;
    const std::string j = cmd::stats_json(s, 1.0, true);
    for (const char* field : {"\"rtcp\":true", "\"rtcp_sr_received\":3", "\"rtcp_rr_sent\":2",
                              "\"rtcp_invalid\":1", "\"rtcp_filtered\":4", "\"e2e_latency_ms\":61.23",
                              "\"e2e_rejected\":5", "\"final\":true", "\"records_dropped\":0",
                              "\"jack_stalls\":3", "\"splices\":1", "\"holds\":2"})
      CHECK_MESSAGE(j.find(field) != std::string::npos, field);
    CHECK(j.front() == '{');
    CHECK(j.back() == '}');
    CHECK(j.find("}") == j.size() - 1);  // one object
    const std::string t = cmd::stats_text(s, 1.0, false);
    CHECK(t.find("rtcp sr 3 rr 2 bad 1 | e2e 61.2 ms") != std::string::npos);
  }
  SUBCASE("RTCP on, latency unknown") {
    s.rtcp.enabled = true;
    CHECK(cmd::stats_json(s, 1.0, false).find("\"e2e_latency_ms\":null") != std::string::npos);
    CHECK(cmd::stats_text(s, 1.0, false).find("e2e ?") != std::string::npos);
  }
}

TEST_CASE("stats_format: renamed fields keep their former names as aliases with the same values") {
  const std::string j = cmd::stats_json(playing_snapshot(), 1.0, false);
  CHECK(has(j, "\"packets_concealed\":2"));
  CHECK(has(j, "\"packets_recovered\":1"));
  CHECK(has(j, "\"frames_concealed\":2"));  // deprecated alias
  CHECK(has(j, "\"frames_fec\":1"));        // deprecated alias
  CHECK(j.find("}") == j.size() - 1);       // still one object
}

TEST_CASE("stats_format: the JSON object carries the frames a repetition played over") {
  CHECK(has(cmd::stats_json(playing_snapshot(), 1.0, false), "\"frames_held\":1680"));
}

TEST_CASE("stats_format: records_dropped, deprecated, is the sum of the three kinds it was split into") {
  net::StatsSnapshot s = playing_snapshot();
  s.audio.records_overflow = 1;
  s.audio.records_duplicate = 2;
  s.audio.records_skipped = 4;
  const std::string j = cmd::stats_json(s, 1.0, false);
  CHECK(has(j, "\"records_overflow\":1"));
  CHECK(has(j, "\"records_duplicate\":2"));
  CHECK(has(j, "\"records_skipped\":4"));
  CHECK(has(j, "\"records_dropped\":7"));
}

TEST_CASE("stats_format: SAP's counters in JSON, zero unless following a session") {
  net::StatsSnapshot s;
  CHECK(cmd::stats_json(s, 1.0, false).find("\"sap_announcements\":0,\"sap_deletions\":0,\"sap_invalid\":0") !=
        std::string::npos);
  s.sap = {7, 2, 3};
  const std::string j = cmd::stats_json(s, 1.0, false);
  CHECK(j.find("\"sap_announcements\":7,\"sap_deletions\":2,\"sap_invalid\":3") != std::string::npos);
  CHECK(j.find("}") == j.size() - 1);
}
