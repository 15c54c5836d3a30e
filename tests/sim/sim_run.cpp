// sim_run: a long simulated-time run of the real net and audio logic over a
// seeded impaired network; prints what happened and checks the invariants
// that must hold however rough the network:
//   - every lost packet is counted as lost (the model knows how many it dropped),
//   - every duplicate is counted as one,
//   - every place in the stream is repaired exactly once if its packet was lost or late,
//   - the buffer never runs dry while the network's jitter stays within the target.
// Exit 0 when all hold. The closing line reads "N passed, M failed".
#include <cstdint>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sim/simulation.hpp"

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: sim_run [--seconds S] [--seed N] [--loss PCT] [--burst ENTER,EXIT]\n"
               "               [--delay-ms D] [--jitter-ms J] [--bursty-jitter] [--dup PCT]\n"
               "               [--latency MS] [--frame-ms F] [--fec] [--drift-ppm P]\n"
               "               [--jack-rate HZ] [--period FRAMES] [--jack-stalls MS,EVERY_S[,FROM_S,UNTIL_S]]\n"
               "               [--auto [--min-latency MS] [--max-latency MS]]\n"
               "               [--jitter-at S:MS]... [--late S:UNTIL_S:MS]... [--trace [--trace-every S]]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  sim::Config c;
  c.seconds = 3600;
  bool trace = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--seconds") c.seconds = std::atof(value());
    else if (a == "--seed") c.seed = std::strtoull(value(), nullptr, 10);
    else if (a == "--loss") c.loss_pct = std::atof(value());
    else if (a == "--burst") {
      if (std::sscanf(value(), "%lf,%lf", &c.burst_enter_pct, &c.burst_exit_pct) != 2) usage();
    } else if (a == "--delay-ms") c.delay_ms = std::atof(value());
    else if (a == "--jitter-ms") c.jitter_ms = std::atof(value());
    else if (a == "--bursty-jitter") c.jitter = sim::Jitter::Bursty;
    else if (a == "--dup") c.dup_pct = std::atof(value());
    else if (a == "--latency") c.latency_ms = std::atof(value());
    else if (a == "--frame-ms") c.frame_ms10 = static_cast<int>(std::atof(value()) * 10 + 0.5);
    else if (a == "--fec") c.fec = true;
    else if (a == "--drift-ppm") c.drift_ppm = std::atof(value());
    else if (a == "--jack-rate") c.jack_rate = static_cast<std::uint32_t>(std::atoi(value()));
    else if (a == "--period") c.period = static_cast<std::uint32_t>(std::atoi(value()));
    else if (a == "--auto") c.latency_auto = true;
    else if (a == "--jack-stalls") {
      const std::string v = value();  // MS,EVERY_S[,FROM_S,UNTIL_S]
      double f[4] = {0, 0, 0, 1e9};
      std::sscanf(v.c_str(), "%lf,%lf,%lf,%lf", &f[0], &f[1], &f[2], &f[3]);
      c.jack_stall_ms = f[0];
      c.jack_stall_every_s = f[1];
      c.jack_stall_from_s = f[2];
      c.jack_stall_until_s = f[3];
    }
    else if (a == "--min-latency") c.min_latency_ms = std::atof(value());
    else if (a == "--max-latency") c.max_latency_ms = std::atof(value());
    else if (a == "--jitter-at" || a == "--late") {
      double x = 0, y = 0, z = 0;
      const char* v = value();
      if (a == "--jitter-at" && std::sscanf(v, "%lf:%lf", &x, &y) == 2)
        c.events.push_back({sim::SenderEvent::Kind::Jitter, x, 0, 0, y});
      else if (a == "--late" && std::sscanf(v, "%lf:%lf:%lf", &x, &y, &z) == 3)
        c.events.push_back({sim::SenderEvent::Kind::Late, x, y, 0, z});
      else
        usage();
    } else if (a == "--trace") trace = true;
    else if (a == "--trace-every" && i + 1 < argc) c.trace_every_s = std::atof(argv[++i]);
    else usage();
  }

  const sim::Result r = sim::run(c);
  const auto& n = r.stats.net;
  const auto& au = r.stats.audio;
  std::printf(
      "{\"seconds\":%.0f,\"sent\":%llu,\"dropped\":%llu,\"duplicated\":%llu,"
      "\"packets_received\":%llu,\"packets_lost\":%llu,\"packets_late\":%llu,\"packets_rescued\":%llu,"
      "\"packets_reordered\":%llu,\"packets_duplicate\":%llu,\"packets_concealed\":%llu,"
      "\"packets_recovered\":%llu,\"underruns\":%llu,\"dropouts\":%llu,\"longest_dropout_ms\":%.1f,"
      "\"mean_depth_ms\":%.2f,\"jitter_ms\":%.2f,\"played_fraction\":%.5f,"
      "\"drift_ppm\":%.1f,\"estimated_drift_ppm\":%.1f,\"worst_depth_error_ms\":%.3f,"
      "\"worst_drift_error_ppm\":%.1f,\"splices\":%llu,\"holds\":%llu,\"jack_stalls\":%llu}\n",
      c.seconds, (unsigned long long)r.sent, (unsigned long long)r.dropped,
      (unsigned long long)r.duplicated, (unsigned long long)n.packets_received,
      (unsigned long long)n.packets_lost, (unsigned long long)n.packets_late,
      (unsigned long long)n.packets_rescued, (unsigned long long)n.packets_reordered, (unsigned long long)n.packets_duplicate,
      (unsigned long long)n.packets_concealed, (unsigned long long)n.packets_recovered,
      (unsigned long long)au.underruns, (unsigned long long)r.dropouts, r.longest_dropout_ms,
      r.mean_depth_ms, n.jitter_frames / 48.0, r.played_fraction, c.drift_ppm, r.final_drift_ppm,
      r.worst_depth_error_ms, r.worst_drift_error_ppm, (unsigned long long)au.splices,
      (unsigned long long)au.holds, (unsigned long long)au.jack_stalls);

  if (trace)
    for (const auto& t : r.trace)
      std::printf("t=%.2f s target %.1f ms delay %.2f ms queue %.1f ms late %llu underruns %llu drift %.1f ppm "
                  "ratio %.1f ppm splices %llu holds %llu\n",
                  t.t_s, t.target_ms, t.depth_ms, t.queue_ms, (unsigned long long)t.late,
                  (unsigned long long)t.underruns, t.drift_ppm, t.ratio_ppm, (unsigned long long)t.splices,
                  (unsigned long long)t.holds);
  if (c.latency_auto)
    std::printf("auto: final target %.1f ms, recommended %.1f ms, %llu changes, peak lateness %.2f ms\n",
                au.target_frames / 48.0, n.recommended_frames / 48.0,
                (unsigned long long)n.target_changes, n.lateness_frames / 48.0);

  int passed = 0, failed = 0;
  auto check = [&](bool ok, const char* what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    (ok ? passed : failed)++;
  };
  check(n.packets_lost == r.dropped, "packets_lost equals the packets the network dropped");
  check(n.packets_duplicate == r.duplicated, "packets_duplicate equals the duplicates made");
  const std::uint64_t repaired = n.packets_concealed + n.packets_recovered;
  if (c.burst_enter_pct == 0) {
    check(repaired == n.packets_lost + n.packets_late,
          "every lost or late packet's place repaired exactly once");
  } else {
    // Past 100 ms of one burst, concealment stops and audio fades out.
    check(repaired <= n.packets_lost + n.packets_late,
          "no place repaired twice, none without a loss");
    check(repaired * 10 >= (n.packets_lost + n.packets_late) * 7,
          "most lost places repaired (bursts past 100 ms excepted)");
  }
  const bool jitter_fits = !c.latency_auto && c.jitter == sim::Jitter::Uniform &&
                           c.jitter_ms + c.net_wake_ms + 2.0 < c.latency_ms;
  if (jitter_fits) {
    check(au.underruns == 0, "no underrun while jitter stays within the target");
    check(n.packets_late == 0, "no late packet while jitter stays within the target");
  }
  if (c.burst_enter_pct == 0) check(r.dropouts == 0, "no dropout in the output: every loss repaired");
  // Drift compensation, once converged.
  if (c.jitter_ms == 0 && c.loss_pct == 0 && c.burst_enter_pct == 0) {
    check(r.worst_depth_error_ms <= 1.0, "buffer depth within 1 ms of the target");
    check(r.worst_drift_error_ppm <= std::max(0.1 * std::fabs(c.drift_ppm), 20.0),
          "drift estimate within 10% of the truth");
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
