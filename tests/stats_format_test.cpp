#include "cmd/stats_format.hpp"

#include <doctest/doctest.h>

#include <string>

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
    const std::string j = cmd::stats_json(s, 1.0, true);
    for (const char* field : {"\"rtcp\":true", "\"rtcp_sr_received\":3", "\"rtcp_rr_sent\":2",
                              "\"rtcp_invalid\":1", "\"rtcp_filtered\":4", "\"e2e_latency_ms\":61.23",
                              "\"e2e_rejected\":5", "\"final\":true", "\"records_dropped\":0"})
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
