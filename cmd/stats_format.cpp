#include "cmd/stats_format.hpp"

#include <cstdio>


namespace cmd {
namespace {

double ms(double frames, std::uint32_t rate) { return frames * 1000.0 / rate; }

// Audio's frames count at the rate of the stream it plays (net's, once it
// has taken net's format).
std::uint32_t audio_rate(const net::StatsSnapshot& s) {
  return s.audio.stream_rate != 0 ? s.audio.stream_rate : s.net.stream_rate;
}

// The recommended target once there is a stream to measure, else `none`.
std::string recommended_ms(const net::NetStats& n, const char* none) {
  if (!n.locked) return none;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", ms(n.recommended_frames, n.stream_rate));
  return buf;
}

// RTCP's fields, appended to the JSON object: counters, and the end-to-end
// latency (null while unknown).
std::string rtcp_json(const net::RtcpStats& r) {
  char buf[256];
  char e2e[32] = "null";
  if (r.e2e_known) std::snprintf(e2e, sizeof e2e, "%.2f", r.e2e_latency_ms);
  std::snprintf(buf, sizeof buf,
                ",\"rtcp\":%s,\"rtcp_sr_received\":%llu,\"rtcp_rr_sent\":%llu,"
                "\"rtcp_invalid\":%llu,\"rtcp_filtered\":%llu,\"e2e_latency_ms\":%s,"
                "\"e2e_rejected\":%llu",
                r.enabled ? "true" : "false", static_cast<unsigned long long>(r.sr_received),
                static_cast<unsigned long long>(r.rr_sent), static_cast<unsigned long long>(r.invalid),
                static_cast<unsigned long long>(r.filtered), e2e,
                static_cast<unsigned long long>(r.e2e_rejected));
  return buf;
}

// RTCP's part of the text line; empty with --no-rtcp.
std::string rtcp_text(const net::RtcpStats& r) {
  if (!r.enabled) return {};
  char buf[160];
  char e2e[32] = "?";
  if (r.e2e_known) std::snprintf(e2e, sizeof e2e, "%.1f ms", r.e2e_latency_ms);
  std::snprintf(buf, sizeof buf, " | rtcp sr %llu rr %llu bad %llu | e2e %s",
                static_cast<unsigned long long>(r.sr_received),
                static_cast<unsigned long long>(r.rr_sent),
                static_cast<unsigned long long>(r.invalid), e2e);
  return buf;
}

// SAP's counters (zero unless --session).
std::string sap_json(const net::SapCounters& a) {
  char buf[128];
  std::snprintf(buf, sizeof buf, ",\"sap_announcements\":%llu,\"sap_deletions\":%llu,\"sap_invalid\":%llu",
                static_cast<unsigned long long>(a.announcements), static_cast<unsigned long long>(a.deletions),
                static_cast<unsigned long long>(a.invalid));
  return buf;
}

// Fields under their former names, kept so that scripts reading them go
// on working; deprecated (README, "Statistics").
std::string deprecated_json(const net::StatsSnapshot& s) {
  const auto& a = s.audio;
  char buf[160];
  std::snprintf(buf, sizeof buf, ",\"frames_concealed\":%llu,\"frames_fec\":%llu,\"records_dropped\":%llu",
                static_cast<unsigned long long>(s.net.packets_concealed),
                static_cast<unsigned long long>(s.net.packets_recovered),
                static_cast<unsigned long long>(a.records_overflow + a.records_duplicate + a.records_skipped));
  return buf;
}

}  // namespace

std::string stats_json(const net::StatsSnapshot& s, double uptime_s, bool final) {
  const auto& n = s.net;
  const auto& a = s.audio;
  const std::string recommended = recommended_ms(n, "null");
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "{\"uptime_s\":%.3f,\"monotonic_s\":%.6f,\"final\":%s,\"playing\":%s,"
      "\"packets_received\":%llu,\"packets_lost\":%llu,\"packets_late\":%llu,\"packets_rescued\":%llu,"
      "\"packets_duplicate\":%llu,\"packets_reordered\":%llu,\"packets_invalid\":%llu,"
      "\"packets_foreign\":%llu,\"packets_filtered\":%llu,\"datagrams_received\":%llu,"
      "\"rtcp_received\":%llu,"
      "\"packets_concealed\":%llu,\"packets_recovered\":%llu,\"underruns\":%llu,\"gaps\":%llu,\"holes_shortened\":%llu,\"holes_lengthened\":%llu,"
      "\"buffer_ms\":%.2f,\"target_ms\":%.2f,\"jitter_ms\":%.3f,\"drift_ppm\":%.1f,\"ratio_ppm\":%.1f,\"sender_clock_ppm\":%.1f,\"jack_clock_ppm\":%.1f,"
      "\"ssrc\":%u,\"payload_type\":%u,\"packet_ms\":%.1f,\"stream_resets\":%llu,"
      "\"xruns\":%llu,\"pool_exhausted\":%llu,\"queue_full\":%llu,\"records_overflow\":%llu,\"records_duplicate\":%llu,\"records_skipped\":%llu,"
      "\"jack_stalls\":%llu,\"sender_steps\":%llu,\"sender_on_jack\":%s,\"splices\":%llu,\"holds\":%llu,\"restarts\":%llu,\"latency_auto\":%s,\"recommended_ms\":%s,\"lateness_ms\":%.2f,\"target_changes\":%llu,\"frames_stretched\":%llu,\"frames_held\":%llu,"
      "\"stream_rate\":%u,\"format_changes\":%llu}",
      uptime_s, static_cast<double>(s.taken_ns) / 1e9, final ? "true" : "false", a.playing ? "true" : "false",
      static_cast<unsigned long long>(n.packets_received),
      static_cast<unsigned long long>(n.packets_lost),
      static_cast<unsigned long long>(n.packets_late),
      static_cast<unsigned long long>(n.packets_rescued),
      static_cast<unsigned long long>(n.packets_duplicate),
      static_cast<unsigned long long>(n.packets_reordered),
      static_cast<unsigned long long>(n.packets_invalid),
      static_cast<unsigned long long>(n.packets_foreign),
      static_cast<unsigned long long>(n.packets_filtered),
      static_cast<unsigned long long>(n.datagrams_received),
      static_cast<unsigned long long>(n.rtcp_received),
      static_cast<unsigned long long>(n.packets_concealed),
      static_cast<unsigned long long>(n.packets_recovered), static_cast<unsigned long long>(a.underruns),
      static_cast<unsigned long long>(a.gaps), static_cast<unsigned long long>(a.holes_shortened),
      static_cast<unsigned long long>(a.holes_lengthened),
      ms(a.delay_frames, audio_rate(s)), ms(a.target_frames, audio_rate(s)),
      ms(n.jitter_frames, n.stream_rate), a.drift_ppm, a.ratio_ppm, n.sender_clock_ppm, a.jack_clock_ppm, n.ssrc, n.payload_type, ms(n.packet_frames, n.stream_rate),
      static_cast<unsigned long long>(n.stream_resets), static_cast<unsigned long long>(s.xruns),
      static_cast<unsigned long long>(n.pool_exhausted),
      static_cast<unsigned long long>(n.queue_full),
      static_cast<unsigned long long>(a.records_overflow),
      static_cast<unsigned long long>(a.records_duplicate),
      static_cast<unsigned long long>(a.records_skipped),
      static_cast<unsigned long long>(a.jack_stalls), static_cast<unsigned long long>(n.sender_steps),
      n.sender_on_jack ? "true" : "false",
      static_cast<unsigned long long>(a.splices),
      static_cast<unsigned long long>(a.holds), static_cast<unsigned long long>(a.restarts), n.latency_auto ? "true" : "false",
      recommended.c_str(), ms(n.lateness_frames, n.stream_rate),
      static_cast<unsigned long long>(n.target_changes),
      static_cast<unsigned long long>(n.frames_stretched),
      static_cast<unsigned long long>(n.frames_held), n.stream_rate,
      static_cast<unsigned long long>(a.formats));
  std::string out = buf;
  out.insert(out.size() - 1, rtcp_json(s.rtcp) + sap_json(s.sap) + deprecated_json(s));  // before the closing brace
  return out;
}

std::string stats_text(const net::StatsSnapshot& s, double uptime_s, bool final) {
  const auto& n = s.net;
  const auto& a = s.audio;
  char buf[512];
  const char* state = !n.locked ? "waiting" : a.playing ? "playing" : "buffering";
  // What a user tuning --latency looks at first: depth against target, the
  // network's jitter and peak lateness, and what it recommends; then what
  // went wrong, if anything; then RTCP and the end-to-end latency.
  std::snprintf(buf, sizeof buf,
                "rtp2jack%s %.0fs %s | buf %.1f/%.1f ms%s | jitter %.2f ms peak %.1f ms -> "
                "recommend %s ms | lost %llu late %llu rescued %llu plc %llu fec %llu | underruns %llu "
                "xruns %llu splices %llu | drift %+.0f ppm",
                final ? " final:" : ":", uptime_s, state, ms(a.delay_frames, audio_rate(s)), ms(a.target_frames, audio_rate(s)),
                n.latency_auto ? " auto" : "", ms(n.jitter_frames, n.stream_rate), ms(n.lateness_frames, n.stream_rate),
                recommended_ms(n, "-").c_str(), static_cast<unsigned long long>(n.packets_lost),
                static_cast<unsigned long long>(n.packets_late),
                static_cast<unsigned long long>(n.packets_rescued),
                static_cast<unsigned long long>(n.packets_concealed),
                static_cast<unsigned long long>(n.packets_recovered),
                static_cast<unsigned long long>(a.underruns),
                static_cast<unsigned long long>(s.xruns), static_cast<unsigned long long>(a.splices),
                a.drift_ppm);
  return buf + rtcp_text(s.rtcp);
}

}  // namespace cmd
