#include "cmd/app.hpp"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <asio.hpp>

#include "audio/jack_client.hpp"
#include "audio/player.hpp"
#include "cmd/rtcp_setup.hpp"
#include "cmd/stats_format.hpp"
#include "core/defaults.hpp"
#include "core/mailbox.hpp"
#include "core/messages.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/stream_receiver.hpp"
#include "net/udp_receiver.hpp"

namespace cmd {
namespace {

namespace d = core::defaults;
using Clock = std::chrono::steady_clock;

std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// Records in flight at most: the jitter buffer at the target plus the
// longest packet, a concealment burst, and a margin for both queues; all at
// the shortest Opus frame.
std::size_t pool_size(double latency_ms) {
  const double span_ms = latency_ms + 120.0 + 100.0 + 60.0;
  return static_cast<std::size_t>(std::ceil(span_ms / 2.5)) + 64;
}

// Control's stderr: messages, and the text statistics, which on a terminal
// are one line redrawn in place (plain lines otherwise).
class Console {
 public:
  explicit Console(bool live) : live_(live) {}

  void status(const std::string& line) {
    if (live_) {
      std::fprintf(stderr, "\r\x1b[K%s", line.c_str());
      shown_ = true;
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  /// A message on a line of its own; the status line comes back with the
  /// next statistics.
  void say(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    clear();
    std::va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
  }

  /// Leaves the status line where it is, for what comes after.
  void end() {
    if (shown_) std::fputc('\n', stderr);
    shown_ = false;
  }

 private:
  void clear() {
    if (shown_) std::fputs("\r\x1b[K", stderr);
    shown_ = false;
  }
  const bool live_;
  bool shown_ = false;
};

void print_stats(const Options& o, Console& console, const net::StatsSnapshot& s, double uptime,
                 bool final) {
  if (o.stats == "json") {
    std::printf("%s\n", stats_json(s, uptime, final).c_str());
    std::fflush(stdout);
  } else {
    console.status(stats_text(s, uptime, final));
    if (final) console.end();
  }
}

// --verbose: say what changed since the last look.
void print_events(Console& console, const net::StatsSnapshot& prev, const net::StatsSnapshot& now) {
  if (now.net.locked && (!prev.net.locked || now.net.ssrc != prev.net.ssrc ||
                         now.net.stream_resets != prev.net.stream_resets))
    console.say("rtp2jack: stream ssrc=%08x payload type %u%s\n", now.net.ssrc,
                now.net.payload_type, now.net.stream_resets ? " (sender restarted)" : "");
  if (now.audio.playing && !prev.audio.playing)
    console.say("rtp2jack: playing, %.1f ms packets\n",
                now.net.packet_frames * 1000.0 / d::kStreamRate);
  if (now.audio.underruns > prev.audio.underruns)
    console.say("rtp2jack: underrun (%llu so far): the buffer ran dry; raise --latency?\n",
                static_cast<unsigned long long>(now.audio.underruns));
  if (prev.audio.target_frames != 0 && now.audio.target_frames != prev.audio.target_frames)
    console.say("rtp2jack: target latency %.1f ms (was %.1f ms)\n",
                now.audio.target_frames * 1000.0 / d::kStreamRate,
                prev.audio.target_frames * 1000.0 / d::kStreamRate);
}

// The hook and what it wraps, for the hooked trampoline.
struct HookedProcess {
  ProcessHook hook;
  audio::JackClient::ProcessFn inner;
  void* inner_arg;
  static void trampoline(void* self, float* const* out, const audio::Cycle& cycle) noexcept {
    const auto* h = static_cast<const HookedProcess*>(self);
    h->hook(h->inner, h->inner_arg, out, cycle);
  }
};

}  // namespace

int run(const Options& o, ProcessHook hook) {
  const auto start = Clock::now();
  const auto uptime = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  // Everything the contexts will ever use is allocated here, before start.
  const std::size_t records = pool_size(o.latency_auto ? o.max_latency_ms : o.latency_ms);
  core::RecordPool pool(records);
  // Every record can be in either queue at once: neither can overflow.
  core::SpscQueue<core::PacketRecord*> to_audio(records);
  core::SpscQueue<core::PacketRecord*> to_net(records);
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
  const auto frames = [](double ms) {
    return static_cast<std::uint32_t>(std::lround(ms * d::kStreamRate / 1000.0));
  };
  const std::uint32_t target = frames(o.latency_ms);
  const net::TunerConfig tuning{o.latency_auto, target, frames(o.min_latency_ms), frames(o.max_latency_ms)};
  net::StreamReceiver stream({o.channels, o.payload_type, tuning}, pool, to_audio, to_net, model, status);
  audio::Player player({o.channels, records}, to_audio, to_net, model, status);

  asio::io_context net_io;
  const std::unique_ptr<net::RtcpSession> rtcp = make_rtcp_session(o);  // null: --no-rtcp
  std::unique_ptr<net::UdpReceiver> udp;
  std::unique_ptr<audio::JackClient> jack;
  net::ListenConfig listen{o.bind, o.port, o.iface, {}};
  for (const auto& spec : o.allow_from)
    if (const auto error = listen.allow.add(spec)) {
      std::cerr << "rtp2jack: " << *error << "\n";
      return 2;
    }
  try {
    udp = std::make_unique<net::UdpReceiver>(net_io, stream, listen, rtcp.get());
  } catch (const std::exception& e) {
    std::cerr << "rtp2jack: " << e.what() << "\n";
    return 2;
  }

  // Opens, activates and connects a JACK client for the audio context. Used
  // at start-up and again whenever the server comes back after going away.
  HookedProcess hooked{hook, &audio::Player::process_trampoline, &player};
  Console console(o.stats == "text" && isatty(STDERR_FILENO) == 1);
  // The latency the ports report (JACK's latency callback, capture
  // direction), in JACK frames: the target, which the playout clock holds
  // with the converter's delay counted in (docs/design.md, "Clocks"). With
  // --latency auto it follows the target.
  std::uint32_t reported_target = target;
  const auto set_port_latency = [&](audio::JackClient& client) {
    client.set_added_latency(static_cast<std::uint32_t>(std::lround(
        static_cast<double>(reported_target) * client.sample_rate() / d::kStreamRate)));
  };
  auto open_jack = [&]() -> std::unique_ptr<audio::JackClient> {
    auto client = std::make_unique<audio::JackClient>(
        audio::JackClient::Options{o.name, o.server, o.channels, o.verbose});
    player.resync();  // no callback runs yet: the audio state is control's
    set_port_latency(*client);
    if (hook != nullptr)
      client->activate(&HookedProcess::trampoline, &hooked);
    else
      client->activate(&audio::Player::process_trampoline, &player);
    for (const auto& port : client->connect(o.connect))
      console.say("rtp2jack: warning: could not connect to JACK port '%s'\n", port.c_str());
    return client;
  };
  try {
    jack = open_jack();
  } catch (const std::exception& e) {
    std::cerr << "rtp2jack: " << e.what() << "\n";
    return 2;
  }

  udp->start();
  std::thread net_thread([&] { net_io.run(); });
  // Named, so that top -H and the CPU benchmark can tell it from JACK's.
  pthread_setname_np(net_thread.native_handle(), "rtp2jack-net");
  // Net fills a missing packet's place a couple of milliseconds before
  // audio needs it (core::defaults::kConcealMarginUs): it must wake on time
  // even when the machine is busy. Where JACK runs real-time, net runs
  // real-time too, one step below JACK's own threads; where it may not
  // (no rtprio for this user), it runs as it is.
  if (const int jack_priority = jack->realtime_priority(); jack_priority > 1) {
    sched_param param{};
    param.sched_priority = jack_priority - 1;
    const int err = pthread_setschedparam(net_thread.native_handle(), SCHED_FIFO, &param);
    if (o.verbose)
      console.say("rtp2jack: net thread %s (SCHED_FIFO %d)\n", err == 0 ? "real-time" : "not real-time",
                  param.sched_priority);
  }
  console.say("rtp2jack: receiving on %s, playing to JACK '%s' (%u Hz, %u frames), latency %s%.1f ms\n",
              udp->description().c_str(), jack->name().c_str(), jack->sample_rate(),
              jack->buffer_size(), o.latency_auto ? "auto from " : "", o.latency_ms);

  // The control context: signals, statistics, watching the JACK client.
  asio::io_context control_io;
  asio::signal_set signals(control_io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (!ec) control_io.stop();
  });

  std::uint64_t xruns_before = 0;  // of JACK clients that are gone
  // Ask net for a snapshot; it answers by posting back (net owns its state).
  auto request_stats = [&](auto&& on_snapshot) {
    asio::post(net_io, [&, on_snapshot] {
      net::StatsSnapshot s = stream.stats();
      s.rtcp = udp->rtcp_stats();
      s.taken_ns = monotonic_ns();
      asio::post(control_io, [&, s, on_snapshot]() mutable {
        s.xruns = xruns_before + (jack ? jack->xruns() : 0);
        on_snapshot(s);
      });
    });
  };

  asio::steady_timer stats_timer(control_io);
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.stats_interval_s));
  std::function<void(Clock::time_point)> arm_stats = [&](Clock::time_point when) {
    stats_timer.expires_at(when);
    stats_timer.async_wait([&, when](const asio::error_code& ec) {
      if (ec) return;
      request_stats([&](const net::StatsSnapshot& s) { print_stats(o, console, s, uptime(), false); });
      arm_stats(when + interval);
    });
  };
  if (!o.stats.empty()) arm_stats(start + interval);

  asio::steady_timer watch_timer(control_io);
  unsigned jack_polls = 0;
  net::StatsSnapshot last_seen;
  std::function<void()> arm_watch = [&] {
    watch_timer.expires_after(std::chrono::milliseconds(100));
    watch_timer.async_wait([&](const asio::error_code& ec) {
      if (ec) return;
      if (jack && jack->shut_down()) {
        // No callback runs any more: the audio context is control's until a
        // new client activates. Net goes on receiving (and counting what it
        // cannot hand over).
        console.say("rtp2jack: the JACK server went away; waiting for it to come back\n");
        xruns_before += jack->xruns();
        jack.reset();  // closes the client: its thread is gone after this
      }
      if (!jack) {
        // Try again every half second; libjack says nothing while it fails.
        if (++jack_polls % 5 == 0) {
          try {
            jack = open_jack();
            console.say("rtp2jack: JACK is back (%u Hz, %u frames); playing again\n",
                        jack->sample_rate(), jack->buffer_size());
          } catch (const std::exception&) {
          }
        }
      }
      request_stats([&](const net::StatsSnapshot& s) {
        // The ports follow the target (--latency auto moves it).
        if (s.audio.target_frames != 0 && s.audio.target_frames != reported_target) {
          reported_target = s.audio.target_frames;
          if (jack) set_port_latency(*jack);
        }
        if (o.verbose) print_events(console, last_seen, s);
        last_seen = s;
      });
      arm_watch();
    });
  };
  arm_watch();

  control_io.run();

  // Shutdown: no callback runs after deactivate, so the audio state is
  // control's; then net stops and its state migrates to control too.
  if (jack) jack->deactivate();
  asio::post(net_io, [&] { udp->stop(); });
  net_thread.join();
  stream.drain_audio();
  net::StatsSnapshot final_stats = stream.stats();
  final_stats.rtcp = udp->rtcp_stats();
  final_stats.taken_ns = monotonic_ns();
  final_stats.xruns = xruns_before + (jack ? jack->xruns() : 0);
  print_stats(o, console, final_stats, uptime(), true);
  return 0;
}

}  // namespace cmd
