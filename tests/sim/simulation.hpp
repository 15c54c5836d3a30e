// Simulated time: the real net and audio logic (net::StreamReceiver,
// audio::Player, the real queues, pool and libopus) driven by a virtual
// clock, with a scripted sender, a seeded network model and scripted JACK
// process calls. An hour of network runs in seconds and every run repeats
// exactly from its seed.
#pragma once

#include <cstdint>
#include <vector>

#include "net/net_stats.hpp"

namespace sim {

enum class Jitter { Uniform, Bursty };

/// A scripted event on the sender's timeline.
struct SenderEvent {
  enum class Kind {
    Pause,         // send nothing in [at_s, until_s); timestamps run on (DTX, a muted sender)
    NewSsrc,       // restart with a new SSRC, sequence and timestamp (after a silence of gap_s)
    SeqJump,       // same SSRC, sequence and timestamp jump far away (a restarted sender)
    PayloadType,   // same SSRC, payload type changes
    Mono,          // packets become mono (the encoder changes its channel count)
    SecondSender,  // another SSRC sends too, interleaved, in [at_s, until_s)
    Drift,         // the sender's clock changes to `value` ppm against JACK's
    Jitter,        // the network's jitter becomes `value` ms from at_s on
    Late,          // packets sent in [at_s, until_s) take `value` ms longer
    TsJump,        // timestamps jump `value` ms ahead, packets go on as before (a GStreamer
                   // source whose capture lost time)
  };
  Kind kind;
  double at_s = 0;
  double until_s = 0;
  double gap_s = 0;
  double value = 0;
};

struct Config {
  std::uint64_t seed = 1;
  double seconds = 60;
  // Sender.
  int frame_ms10 = 200;          // frame duration in tenths of ms (25 = 2.5 ms ... 600)
  bool fec = false;              // in-band FEC (SILK layer, voice bit rate)
  double drift_ppm = 0;          // the sender's clock against JACK's (positive: fast)
  std::uint16_t first_seq = 1000;
  std::uint32_t first_ts = 123456;
  std::vector<SenderEvent> events;
  // Network.
  double loss_pct = 0;
  double burst_enter_pct = 0;    // Gilbert-Elliott: good -> bad per packet
  double burst_exit_pct = 0;     // bad -> good per packet; lost while bad
  double delay_ms = 2;
  double jitter_ms = 0;
  Jitter jitter = Jitter::Uniform;
  double dup_pct = 0;
  // Receiver.
  double latency_ms = 30;        // fixed target; with latency_auto, where it starts
  bool latency_auto = false;     // --latency auto
  double min_latency_ms = 0;
  double max_latency_ms = 250;
  std::uint32_t period = 128;    // JACK frames per process call
  std::uint32_t jack_rate = 48000;
  double net_wake_ms = 0.2;      // the net thread wakes this much after an event (scheduling)
  // JACK losing time (a busy host): about every jack_stall_every_s seconds
  // (0.5x to 1.5x, seeded) a process call comes jack_stall_ms late and the
  // server does not catch up, while the sender, outside JACK, goes on.
  double jack_stall_ms = 0;
  double jack_stall_every_s = 0;
  double jack_stall_from_s = 0;   // ... in this span of the run only
  double jack_stall_until_s = 1e9;
  double trace_every_s = 1;      // Result::trace: a sample this often
  double settle_s = 10;          // drift compensation is judged from here on (within 10 s)
};

struct Result {
  net::StatsSnapshot stats;      // the receiver's own counters at the end
  // What the model did, to hold the counters against.
  std::uint64_t sent = 0;
  std::uint64_t dropped = 0;     // by the network model
  std::uint64_t duplicated = 0;
  std::uint64_t bursts = 0;      // Gilbert-Elliott entries into the bad state
  // What came out of the process callback.
  std::uint64_t dropouts = 0;    // runs of >= 1 ms of exact silence while the sender was sending
  // The stats a user sees, read after every arrival and callback: how often
  // a counter that only grows (concealment played) showed less than before.
  std::uint64_t concealed_backsteps = 0;
  double longest_dropout_ms = 0;
  double resume_ms = -1;         // after the last restart event: first arrival -> playing again
  double first_play_ms = -1;     // first arrival -> playing
  double mean_depth_ms = 0;      // buffer depth as audio reports it, over the run
  double played_fraction = 0;    // stream frames played / frames the sender's time span holds
  // Drift compensation, sampled once a second of simulated time after
  // Config::settle_s.
  double worst_depth_error_ms = 0;  // |depth - target| after settling
  double worst_drift_error_ppm = 0; // |estimate - truth| after settling
  double final_drift_ppm = 0;
  std::vector<float> tail;          // the last second of output, left channel
  // Once a second of simulated time: the target and the depth (ms).
  struct Sample {
    double t_s;
    double target_ms;
    double depth_ms;
    std::uint64_t late;       // packets late so far (net and audio)
    std::uint64_t underruns;  // so far
    double queue_ms;          // newest packet's end received less the playout cursor: the real
                              // latency, which depth_ms (the loop's windows) may lag in a stall storm
    double drift_ppm;         // the clocks' estimate
    double ratio_ppm;         // the rate playout consumes the stream at: drift plus corrections
    std::uint64_t splices;    // so far
    std::uint64_t holds;      // so far
  };
  std::vector<Sample> trace;
  std::vector<double> stalls_s;  // when each simulated JACK stall began
};

Result run(const Config& config);

}  // namespace sim
