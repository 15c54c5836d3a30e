#include "sim/simulation.hpp"

#include <opus/opus.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <queue>
#include <stdexcept>
#include <tuple>

#include "audio/player.hpp"
#include "core/mailbox.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/stream_receiver.hpp"

namespace sim {
namespace {

constexpr std::int64_t kNs = 1'000'000'000;
constexpr std::int64_t kTickNs = 5'000'000;  // net's housekeeping tick

// splitmix64: small, seedable, the same on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double pct) { return uniform() * 100.0 < pct; }

 private:
  std::uint64_t s_;
};

// Opus payloads of a 2 s loop of a 440 Hz tone (a whole number of cycles, so
// the loop is seamless), encoded once per (frame, fec, channels).
const std::vector<std::vector<std::uint8_t>>& payloads(int frame, bool fec, int channels) {
  static std::map<std::tuple<int, bool, int>, std::vector<std::vector<std::uint8_t>>> cache;
  auto& v = cache[{frame, fec, channels}];
  if (!v.empty()) return v;
  int err = 0;
  OpusEncoder* enc = opus_encoder_create(48000, channels,
                                         fec ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO, &err);
  if (err != OPUS_OK) throw std::runtime_error("opus_encoder_create");
  if (fec) {
    opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(20));
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(24000));
  } else {
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(96000));
  }
  // Encode the loop twice and keep the second pass: its first packet then
  // follows the last one in the encoder's own history, so the loop is
  // seamless for the decoder too.
  const int count = 96000 / frame;
  std::vector<float> pcm(static_cast<std::size_t>(frame * channels));
  std::int64_t n = 0;
  for (int k = 0; k < 2 * count; ++k) {
    for (int i = 0; i < frame; ++i, ++n)
      for (int c = 0; c < channels; ++c)
        pcm[static_cast<std::size_t>(i * channels + c)] =
            static_cast<float>(0.5 * std::sin(2 * M_PI * 440.0 * static_cast<double>(n) / 48000.0));
    std::vector<std::uint8_t> out(1500);
    const int len = opus_encode_float(enc, pcm.data(), frame, out.data(), 1500);
    if (len <= 0) throw std::runtime_error("opus_encode_float");
    out.resize(static_cast<std::size_t>(len));
    if (k >= count) v.push_back(std::move(out));
  }
  opus_encoder_destroy(enc);
  return v;
}

std::vector<std::uint8_t> rtp(std::uint8_t pt, std::uint16_t seq, std::uint32_t ts,
                              std::uint32_t ssrc, const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> p(12 + payload.size());
  std::copy(payload.begin(), payload.end(), p.begin() + 12);
  p[0] = 0x80;
  p[1] = pt;
  p[2] = static_cast<std::uint8_t>(seq >> 8);
  p[3] = static_cast<std::uint8_t>(seq);
  for (int i = 0; i < 4; ++i) p[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) p[8 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
  return p;
}

struct Arrival {
  std::int64_t at;
  std::uint64_t order;  // ties keep sending order
  std::vector<std::uint8_t> bytes;
  bool operator>(const Arrival& o) const { return std::tie(at, order) > std::tie(o.at, o.order); }
};

bool is_restart(SenderEvent::Kind k) {
  return k == SenderEvent::Kind::NewSsrc || k == SenderEvent::Kind::SeqJump ||
         k == SenderEvent::Kind::PayloadType;
}

}  // namespace

Result run(const Config& cfg) {
  Result res;
  Rng net_rng(cfg.seed);
  Rng id_rng(cfg.seed ^ 0xabcdef);
  Rng stall_rng(cfg.seed ^ 0x57a11);
  const int frame = cfg.frame_ms10 * 48 / 10;
  const std::int64_t frame_ns = std::int64_t{frame} * kNs / 48000;
  const auto target = static_cast<std::uint32_t>(std::lround(cfg.latency_ms * 48.0));

  // The receiver, sized and wired as cmd/app.cpp does it.
  const std::size_t records =
      static_cast<std::size_t>(
          std::ceil(((cfg.latency_auto ? cfg.max_latency_ms : cfg.latency_ms) + 280.0) / 2.5)) + 64;
  core::RecordPool pool(records);
  core::SpscQueue<core::Message> to_audio(records);
  core::SpscQueue<core::Message> to_net(records);
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  const auto ms_frames = [](double ms) { return static_cast<std::uint32_t>(std::lround(ms * 48.0)); };
  net::StreamReceiver rx({2, -1,
                          {cfg.latency_auto, target, ms_frames(cfg.min_latency_ms),
                           ms_frames(cfg.max_latency_ms)}},
                         pool, to_audio, to_net, model, status);
  audio::Player player({core::make_stream_format(48000, 2, 2), records}, to_audio, to_net, model, status);

  // ---- The sender and the network: every arrival, computed up front.
  std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>> arrivals;
  std::uint64_t order = 0;
  bool bad = false;  // Gilbert-Elliott state
  double jitter_ms = cfg.jitter_ms;  // now (SenderEvent::Kind::Jitter changes it)
  double late_ms = 0;                // now (SenderEvent::Kind::Late)
  auto transmit = [&](std::int64_t sent_at, std::vector<std::uint8_t> bytes) {
    ++res.sent;
    bool lost = cfg.loss_pct > 0 && net_rng.chance(cfg.loss_pct);
    if (cfg.burst_enter_pct > 0) {
      const bool was_bad = bad;
      bad = bad ? !net_rng.chance(cfg.burst_exit_pct) : net_rng.chance(cfg.burst_enter_pct);
      if (bad && !was_bad) ++res.bursts;
      lost = lost || bad;
    }
    if (lost) {
      ++res.dropped;
      return;
    }
    const int copies = cfg.dup_pct > 0 && net_rng.chance(cfg.dup_pct) ? 2 : 1;
    res.duplicated += static_cast<std::uint64_t>(copies - 1);
    for (int c = 0; c < copies; ++c) {
      double extra = 0;
      if (jitter_ms > 0) {
        extra = cfg.jitter == Jitter::Uniform
                    ? net_rng.uniform() * jitter_ms
                    // bursty: mostly a little, now and then a spike of 1-3x
                    : (net_rng.chance(5) ? jitter_ms * (1 + 2 * net_rng.uniform())
                                         : net_rng.uniform() * jitter_ms / 4);
      }
      extra += late_ms;
      const auto delay = static_cast<std::int64_t>((cfg.delay_ms + extra) * 1e6);
      arrivals.push(Arrival{sent_at + delay, order++, c == 0 ? bytes : std::vector<std::uint8_t>(bytes)});
    }
  };

  const std::int64_t start = kNs / 10;
  double drift = cfg.drift_ppm;  // the sender clock's rate against JACK's, now
  const auto end = static_cast<std::int64_t>(cfg.seconds * kNs);
  std::uint32_t ssrc = 0x5eed0000u ^ static_cast<std::uint32_t>(cfg.seed);
  std::uint16_t seq = cfg.first_seq;
  std::uint32_t ts = cfg.first_ts;
  std::uint8_t pt = 96;
  int channels = 2;
  std::int64_t last_restart = -1;
  std::int64_t restart_first_arrival = INT64_MAX;
  std::vector<std::pair<std::int64_t, std::int64_t>> excused;  // output silence expected here
  std::vector<bool> done(2 * cfg.events.size(), false);  // second half: an event's end
  double t_exact = static_cast<double>(start);
  for (std::int64_t k = 0;; ++k, t_exact += static_cast<double>(frame_ns) / (1.0 + drift * 1e-6)) {
    const auto t = static_cast<std::int64_t>(t_exact);
    if (t >= end) break;
    bool send = true;
    for (std::size_t e = 0; e < cfg.events.size(); ++e) {
      const SenderEvent& ev = cfg.events[e];
      const auto at = static_cast<std::int64_t>(ev.at_s * kNs);
      const auto until = static_cast<std::int64_t>(ev.until_s * kNs);
      const auto gap = static_cast<std::int64_t>(ev.gap_s * kNs);
      switch (ev.kind) {
        case SenderEvent::Kind::Pause:
          if (t >= at && t < until) send = false;
          break;
        case SenderEvent::Kind::NewSsrc:
          if (t >= at - gap && t < at) send = false;
          if (t >= at && !done[e]) {
            ssrc = static_cast<std::uint32_t>(id_rng.next());
            seq = static_cast<std::uint16_t>(id_rng.next());
            ts = static_cast<std::uint32_t>(id_rng.next());
          }
          break;
        case SenderEvent::Kind::SeqJump:
          if (t >= at && !done[e]) {
            seq = static_cast<std::uint16_t>(seq + 20000);
            ts += 48000u * 3600u;
          }
          break;
        case SenderEvent::Kind::PayloadType:
          if (t >= at && !done[e]) pt = 97;
          break;
        case SenderEvent::Kind::Mono:
          if (t >= at) channels = 1;
          break;
        case SenderEvent::Kind::Drift:
          if (t >= at) drift = ev.value;
          break;
        case SenderEvent::Kind::Jitter:
          if (t >= at && !done[e]) jitter_ms = ev.value;
          break;
        case SenderEvent::Kind::Late:
          if (t >= at && t < until) late_ms = ev.value;
          if (t >= until && !done[e + cfg.events.size()]) {
            late_ms = 0;
            done[e + cfg.events.size()] = true;
          }
          break;
        case SenderEvent::Kind::TsJump:
          if (t >= at && !done[e]) ts += static_cast<std::uint32_t>(ev.value * 48);
          break;
        case SenderEvent::Kind::SecondSender:
          if (t >= at && t < until) {
            const auto& other = payloads(frame, false, 2);
            transmit(t + frame_ns / 2,
                     rtp(96, static_cast<std::uint16_t>(k), static_cast<std::uint32_t>(k * frame),
                         0x0bad0bad, other[static_cast<std::size_t>(k) % other.size()]));
          }
          break;
      }
      if (t >= at && !done[e]) {
        done[e] = true;
        if (is_restart(ev.kind)) last_restart = at;
      }
    }
    if (send) {
      const auto& set = payloads(frame, cfg.fec, channels);
      transmit(t, rtp(pt, seq, ts, ssrc, set[static_cast<std::size_t>(k) % set.size()]));
      ++seq;
    }
    ts += static_cast<std::uint32_t>(frame);
  }
  // Where silence in the output is the script's doing, not a fault.
  const auto settle = static_cast<std::int64_t>((cfg.latency_ms + 300) * 1e6);
  for (const SenderEvent& ev : cfg.events) {
    const auto at = static_cast<std::int64_t>(ev.at_s * kNs);
    if (ev.kind == SenderEvent::Kind::Pause)
      excused.emplace_back(at, static_cast<std::int64_t>(ev.until_s * kNs) + settle);
    if (ev.kind == SenderEvent::Kind::TsJump) excused.emplace_back(at, at + settle);  // the sender's own gap
    if (is_restart(ev.kind)) excused.emplace_back(at - static_cast<std::int64_t>(ev.gap_s * kNs), at + settle);
  }
  // Arrivals after a restart, to time the resume: the earliest of them.
  if (last_restart >= 0) {
    restart_first_arrival = INT64_MAX;
    auto copy = arrivals;
    while (!copy.empty()) {
      const Arrival& a = copy.top();
      if (a.at >= last_restart) {
        restart_first_arrival = a.at;
        break;
      }
      copy.pop();
    }
  }

  // ---- The receiver's timeline: arrivals, net wake-ups, process calls.
  const double period_exact = static_cast<double>(cfg.period) * kNs / cfg.jack_rate;
  std::int64_t calls = 0;
  const auto wake = static_cast<std::int64_t>(cfg.net_wake_ms * 1e6);
  const std::int64_t last_send = end;
  std::vector<float> left(cfg.period), right(cfg.period);
  float* out[2] = {left.data(), right.data()};
  std::int64_t next_call = 0;
  std::int64_t lost_ns = 0;  // JACK's time lost to stalls (cfg.jack_stall_ms)
  std::int64_t next_stall = static_cast<std::int64_t>(cfg.jack_stall_every_s * kNs);
  std::int64_t next_tick = 0;
  std::int64_t last_timer = -1;
  std::int64_t zero_run = 0, zero_start = 0;
  double depth_sum = 0;
  std::uint64_t depth_n = 0;
  bool played = false;
  std::int64_t play_start = 0;
  bool lost_play_after_restart = false;
  std::int64_t first_arrival = arrivals.empty() ? 0 : arrivals.top().at;
  const std::int64_t stop = end + 2 * kNs;
  std::uint64_t concealed_seen = 0;
  auto watch_counters = [&] {
    const std::uint64_t c = rx.stats().net.packets_concealed;
    if (c < concealed_seen) ++res.concealed_backsteps;
    concealed_seen = std::max(concealed_seen, c);
  };

  auto excused_at = [&](std::int64_t t) {
    for (const auto& [a, b] : excused)
      if (t >= a && t < b) return true;
    return t >= last_send;
  };

  for (;;) {
    const std::int64_t arrival_at = arrivals.empty() ? INT64_MAX : arrivals.top().at + wake;
    std::int64_t deadline = rx.next_deadline();
    if (deadline <= last_timer) deadline = INT64_MAX;  // nothing more it can do now: wait for the tick
    const std::int64_t timer_at = std::min(next_tick, deadline == INT64_MAX ? INT64_MAX : deadline + wake);
    const std::int64_t t = std::min({arrival_at, timer_at, next_call});
    if (t >= stop) break;
    if (t == next_call) {
      // JACK's frame counter runs on through a stall; its time does not.
      player.process(out, audio::Cycle{cfg.period, cfg.jack_rate, calls * std::int64_t{cfg.period}, t});

      const auto& st = player.status();

      if (player.playing()) {
        depth_sum += st.delay_frames;
        ++depth_n;
        if (!played) {
          played = true;
          zero_run = 0;  // the silence before playout began is not a dropout
          play_start = t;
          res.first_play_ms = static_cast<double>(t - first_arrival) / 1e6;
        }
        if (last_restart >= 0 && lost_play_after_restart && res.resume_ms < 0 &&
            t >= restart_first_arrival)
          res.resume_ms = static_cast<double>(t - restart_first_arrival) / 1e6;
      } else if (last_restart >= 0 && t >= last_restart) {
        lost_play_after_restart = true;
      }
      for (std::uint32_t i = 0; i < cfg.period; ++i) {
        const std::int64_t ti = t + std::int64_t{i} * kNs / cfg.jack_rate;
        if (left[i] == 0.0f && right[i] == 0.0f) {
          if (zero_run++ == 0) zero_start = ti;
          continue;
        }
        // (The converter's own delay after playout starts is not a dropout.)
        if (played && zero_run >= 48 && zero_start > play_start + 20'000'000 &&
            !excused_at(zero_start)) {
          ++res.dropouts;
          res.longest_dropout_ms = std::max(res.longest_dropout_ms, static_cast<double>(zero_run) / 48.0);
        }
        zero_run = 0;
      }
      // Drift compensation, judged once a second after settling.
      const std::int64_t second = static_cast<std::int64_t>(cfg.jack_rate) / cfg.period;
      // (Judged from settle_s after the start, and again after a restart.)
      const std::int64_t since = last_restart >= 0 && t >= last_restart ? last_restart : 0;
      const auto trace_every = std::max<std::int64_t>(1, std::llround(cfg.trace_every_s * static_cast<double>(second)));
      if (calls % trace_every == 0) {
        const net::StatsSnapshot now = rx.stats();
        const net::ReceptionState rs = rx.reception();
        const double newest = static_cast<double>(rs.highest_ts + rs.ts_offset) + frame;
        res.trace.push_back({static_cast<double>(t) / kNs, st.target_frames / 48.0,
                             st.delay_frames / 48.0, now.net.packets_late, st.underruns,
                             st.playing ? (newest - static_cast<double>(st.cursor)) / 48.0 : 0.0,
                             st.drift_ppm, st.ratio_ppm, st.splices, st.holds});
      }
      if (!cfg.latency_auto && calls % second == 0 &&
          t >= since + static_cast<std::int64_t>(cfg.settle_s * kNs) && t < last_send &&
          player.playing()) {
        double truth = cfg.drift_ppm;
        for (const SenderEvent& ev : cfg.events)
          if (ev.kind == SenderEvent::Kind::Drift && t >= static_cast<std::int64_t>(ev.at_s * kNs)) truth = ev.value;
        res.worst_depth_error_ms =
            std::max(res.worst_depth_error_ms, std::fabs(st.delay_frames / 48.0 - cfg.latency_ms));
        res.worst_drift_error_ppm = std::max(res.worst_drift_error_ppm, std::fabs(st.drift_ppm - truth));
      }
      if (t >= last_send - kNs && t < last_send) res.tail.insert(res.tail.end(), left.begin(), left.end());
      if (t < last_send) res.final_drift_ppm = st.drift_ppm;
      rx.drain_audio();
      watch_counters();
      ++calls;
      next_call = static_cast<std::int64_t>(static_cast<double>(calls) * period_exact) + lost_ns;
      if (cfg.jack_stall_ms > 0 && next_call >= next_stall &&
          next_call >= static_cast<std::int64_t>(cfg.jack_stall_from_s * kNs) &&
          next_call < static_cast<std::int64_t>(cfg.jack_stall_until_s * kNs)) {
        const auto stall = static_cast<std::int64_t>(cfg.jack_stall_ms * 1e6);
        res.stalls_s.push_back(static_cast<double>(next_call) / kNs);
        lost_ns += stall;
        next_call += stall;
        next_stall = next_call + static_cast<std::int64_t>(cfg.jack_stall_every_s * kNs *
                                                           (0.5 + stall_rng.uniform()));
      }
    } else if (t == arrival_at) {
      const Arrival a = arrivals.top();
      arrivals.pop();
      rx.drain_audio();
      rx.on_datagram(a.bytes, a.at, t);
      watch_counters();

    } else {
      rx.drain_audio();

      rx.on_timer(t);
      last_timer = t;
      if (t >= next_tick) next_tick += kTickNs;
    }
  }
  rx.drain_audio();
  res.stats = rx.stats();
  res.mean_depth_ms = depth_n ? depth_sum / static_cast<double>(depth_n) / 48.0 : 0;
  res.played_fraction = static_cast<double>(res.stats.audio.frames_played) /
                        (static_cast<double>(end - start) * 48000.0 / kNs);
  return res;
}

}  // namespace sim
