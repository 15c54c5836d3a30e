// Replays a clock trace (RTP2JACK_CLOCK_TRACE, tests/README.md) through
// net::SenderClock and prints, per packet, what it decided and why: which
// timeline the sender is on, both envelopes' steps and floors, and the
// evidence terms. The trace holds every input SenderClock took, so the
// replay is exact.
//
//   clock_replay TRACE [FROM_S [TO_S]]   (seconds on CLOCK_MONOTONIC)
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "net/sender_clock.hpp"
#include "net/stream_receiver.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: clock_replay TRACE [FROM_S [TO_S]]\n");
    return 2;
  }
  std::FILE* f = std::fopen(argv[1], "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "clock_replay: cannot read %s\n", argv[1]);
    return 1;
  }
  const double from = argc > 2 ? std::atof(argv[2]) : 0;
  const double to = argc > 3 ? std::atof(argv[3]) : 1e18;
  net::SenderClock clock;
  net::StreamReceiver::ClockTraceRecord r;
  std::uint32_t epoch = 0;
  std::printf("# arrival_s on_jack stalls settling steps_sys steps_jack floor_sys_us floor_jack_us "
              "dev_sys_ppm unc_sys_ppm dev_jack_ppm shared late_us jack_us packets margin_us shifted alone fits\n");
  while (std::fread(&r, sizeof r, 1, f) == 1) {
    // A new epoch: the receiver started its clock over (a new stream, a
    // new format).
    if (r.epoch != epoch) {
      epoch = r.epoch;
      clock.set_rate(r.rate);
      clock.reset();
    }
    clock.observe(r.position, r.arrival_ns, r.audio);
    const double t = static_cast<double>(r.arrival_ns) / 1e9;
    if (t < from || t > to) continue;
    const net::SenderClock::Verdict& v = clock.verdict();
    std::printf("%.4f %d %" PRIu64 " %d %" PRIu64 " %" PRIu64
                " %.0f %.0f %.1f %.1f %.1f %d %.0f %.0f %d %.0f %d %d %d\n",
                t, clock.on_jack(), r.audio.jack_stalls, r.audio.jack_settling, clock.system().steps(),
                clock.jack().steps(), clock.system().segment_floor_ns() / 1e3, clock.jack().segment_floor_ns() / 1e3,
                clock.system().deviation_ppm(), clock.system().uncertainty_ppm(), clock.jack().deviation_ppm(),
                clock.stall_shared(), static_cast<double>(v.late_ns) / 1e3, static_cast<double>(v.jack_ns) / 1e3,
                v.packets, v.margin_ns / 1e3, v.shifted, v.alone, v.fits);
  }
  std::fclose(f);
  return 0;
}
