#include <doctest/doctest.h>

#include <string>

#include "cmd/stats_format.hpp"

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

net::StatsSnapshot playing_snapshot() {
  net::StatsSnapshot s;
  s.net.locked = true;
  s.net.latency_auto = true;
  s.net.recommended_frames = 456;  // 9.5 ms
  s.net.lateness_frames = 48;      // 1 ms
  s.net.packets_lost = 3;
  s.net.frames_concealed = 2;
  s.net.frames_fec = 1;
  s.net.target_changes = 4;
  s.audio.playing = true;
  s.audio.depth_frames = 480;
  s.audio.target_frames = 480;
  s.audio.drift_ppm = -12.4;
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
  CHECK(has(t, "lost 3 late 0 plc 2 fec 1"));
  CHECK(has(t, "underruns 0"));
  CHECK(has(t, "drift -12 ppm"));
  CHECK(t.find('\n') == std::string::npos);  // one line, redrawn in place on a terminal
}

TEST_CASE("stats_format: the JSON object carries the latency fields") {
  const std::string j = cmd::stats_json(playing_snapshot(), 12.0, true);
  CHECK(has(j, "\"final\":true"));
  CHECK(has(j, "\"latency_auto\":true"));
  CHECK(has(j, "\"recommended_ms\":9.5"));
  CHECK(has(j, "\"lateness_ms\":1.00"));
  CHECK(has(j, "\"target_changes\":4"));
  CHECK(has(j, "\"target_ms\":10.00"));
  CHECK(j.front() == '{');
  CHECK(j.back() == '}');
}
