#include "cmd/app.hpp"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <asio.hpp>

#include "audio/jack_client.hpp"
#include "audio/player.hpp"
#include "cmd/console.hpp"
#include "cmd/rtcp_setup.hpp"
#include "cmd/sessions.hpp"
#include "core/defaults.hpp"
#include "core/mailbox.hpp"
#include "core/messages.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/sap_listener.hpp"
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
// the format's shortest packet.
std::size_t pool_size(double latency_ms, double packet_ms) {
  const double span_ms = latency_ms + 120.0 + 100.0 + 60.0;
  return static_cast<std::size_t>(std::ceil(span_ms / packet_ms)) + 64;
}

// `ms` in frames of a stream at `rate`.
std::uint32_t stream_frames(double ms, std::uint32_t rate) {
  return static_cast<std::uint32_t>(std::lround(ms * rate / 1000.0));
}

// A start-up failure: one line, exit 2.
struct StartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The running program: the net context (its io_context on a thread of its
// own), the audio context (the JACK client's callback), and the control
// context (this thread's io_context: signals, statistics, watching the JACK
// client). Everything the contexts will ever use is allocated in the
// constructor, before either starts. Members are declared in the order
// they must be built; they are destroyed in reverse, the JACK client (no
// callback after it) before the socket, both before the state they use.
//
// Thread: main. Net and audio state is touched here only when their
// context is not running (before start, after shutdown, or while the JACK
// client is closed: Player::resync).
class Receiver {
 public:
  explicit Receiver(const Options& o)
      : o_(o),
        // A session followed may come back in the shortest packets.
        records_(pool_size(o.latency_auto ? o.max_latency_ms : o.latency_ms,
                           o.session.empty() ? o.format.min_packet_ms() : 1.0)),
        pool_(records_),
        // Every record can be in either queue at once: neither can overflow.
        to_audio_(records_),
        to_net_(records_),
        stream_({o.channels, o.payload_type,
                 {o.latency_auto, stream_frames(o.latency_ms, o.format.rate),
                  stream_frames(o.min_latency_ms, o.format.rate), stream_frames(o.max_latency_ms, o.format.rate),
                  o.format.rate},
                 true, o.format},
                pool_, to_audio_, to_net_, model_, status_),
        player_({net::stream_format(o.format, o.channels), records_}, to_audio_, to_net_, model_, status_),
        rtcp_(make_rtcp_session(o)),  // null: --no-rtcp
        console_(o.stats == "text" && isatty(STDERR_FILENO) == 1),
        reported_target_(stream_frames(o.latency_ms, o.format.rate)),
        reported_rate_(o.format.rate),
        signals_(control_io_, SIGINT, SIGTERM),
        reload_(control_io_, SIGHUP),
        stats_timer_(control_io_),
        watch_timer_(control_io_) {
    try {
      udp_ = std::make_unique<net::UdpReceiver>(net_io_, stream_, listen_config(o), rtcp_.get());
      if (!o.session.empty()) {
        follower_ = std::make_unique<SessionFollower>(o, stream_, *udp_,
                                                      [this](std::string m) { tell(std::move(m)); });
        sap_ = std::make_unique<net::SapListener>(
            net_io_, o.iface, [this](const net::SessionDirectory::Update& u) { follower_->on_update(u); });
      }
      jack_ = open_jack();
    } catch (const std::exception& e) {
      throw StartError(e.what());
    }
    open_clock_trace();
  }

  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  /// Runs until SIGINT/SIGTERM, then shuts down and prints the final
  /// statistics.
  void run() {
    start_net();
    console_.say("rtp2jack: receiving on %s, playing to JACK '%s' (%u Hz, %u frames), latency %s%.1f ms\n",
                 udp_->description().c_str(), jack_->name().c_str(), jack_->sample_rate(),
                 jack_->buffer_size(), o_.latency_auto ? "auto from " : "", o_.latency_ms);
    // A signal cancels the control context's work; run() returns when none
    // is left.
    signals_.async_wait([this](const asio::error_code& ec, int) {
      if (ec) return;
      stats_timer_.cancel();
      watch_timer_.cancel();
      reload_.cancel();
    });
    arm_reload();
    if (!o_.stats.empty()) arm_stats(start_ + interval());
    arm_watch();
    control_io_.run();
    shutdown();
  }

  /// After run(): the JACK server did not answer, so its client was never
  /// closed and its threads may still call into the audio state.
  bool left_jack() const noexcept { return jack_ && !jack_->answered(); }

 private:
  double uptime() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  Clock::duration interval() const {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.stats_interval_s));
  }

  // The latency the ports report (JACK's latency callback, capture
  // direction), in JACK frames: the target, which the playout clock holds
  // with the converter's delay counted in (docs/design.md, "Clocks"). With
  // --latency auto it follows the target.
  void set_port_latency(audio::JackClient& client) const {
    client.set_added_latency(static_cast<std::uint32_t>(std::lround(
        static_cast<double>(reported_target_) * client.sample_rate() / reported_rate_)));
  }

  // Opens, activates and connects a JACK client for the audio context: at
  // start-up, and again whenever the server comes back after going away.
  std::unique_ptr<audio::JackClient> open_jack() {
    auto client = std::make_unique<audio::JackClient>(
        audio::JackClient::Options{o_.name, o_.server, o_.channels, o_.verbose});
    player_.resync();  // no callback runs yet: the audio state is control's
    set_port_latency(*client);
    client->activate(&audio::Player::process_trampoline, &player_);
    for (const auto& port : client->connect(o_.connect))
      console_.say("rtp2jack: warning: could not connect to JACK port '%s'\n", port.c_str());
    return client;
  }

  void start_net() {
    udp_->start();
    if (sap_) sap_->start();
    net_thread_ = std::thread([this] { net_io_.run(); });
    // Named, so that top -H and the CPU benchmark can tell it from JACK's.
    pthread_setname_np(net_thread_.native_handle(), "rtp2jack-net");
    // Net fills a missing packet's place a couple of milliseconds before
    // audio needs it (core::defaults::kConcealMarginUs): it must wake on
    // time even when the machine is busy. Where JACK runs real-time, net
    // runs real-time too, one step below JACK's own threads; where it may
    // not (no rtprio for this user), it runs as it is.
    if (const int jack_priority = jack_->realtime_priority(); jack_priority > 1) {
      sched_param param{};
      param.sched_priority = jack_priority - 1;
      const int err = pthread_setschedparam(net_thread_.native_handle(), SCHED_FIFO, &param);
      if (o_.verbose)
        console_.say("rtp2jack: net thread %s (SCHED_FIFO %d)\n", err == 0 ? "real-time" : "not real-time",
                     param.sched_priority);
    }
  }

  // Asks net for a snapshot; it answers by posting back (net owns its state).
  template <typename OnSnapshot>
  void request_stats(OnSnapshot on_snapshot) {
    asio::post(net_io_, [this, on_snapshot] {
      net::StatsSnapshot s = stream_.stats();
      s.rtcp = udp_->rtcp_stats();
      s.sap = sap_stats();
      s.taken_ns = monotonic_ns();
      asio::post(control_io_, [this, s, on_snapshot]() mutable {
        s.xruns = xruns_before_ + (jack_ ? jack_->xruns() : 0);
        on_snapshot(s);
      });
    });
  }

  void arm_stats(Clock::time_point when) {
    stats_timer_.expires_at(when);
    stats_timer_.async_wait([this, when](const asio::error_code& ec) {
      if (ec) return;
      request_stats([this](const net::StatsSnapshot& s) { print_stats(o_, console_, s, uptime(), false); });
      arm_stats(when + interval());
    });
  }

  // SIGHUP: --sdp FILE is read again, and a new format or payload type in
  // it is net's from then on (StreamReceiver::set_format: a new stream,
  // whose format reaches audio by the swap pattern). What cannot be used
  // is said in one line, and the stream goes on as it was.
  void arm_reload() {
    reload_.async_wait([this](const asio::error_code& ec, int) {
      if (ec) return;
      const auto update = read_sdp_again(o_);
      if (const auto* why = std::get_if<std::string>(&update)) {
        console_.say("rtp2jack: SIGHUP: %s; the stream goes on as it was\n", why->c_str());
      } else {
        const SdpUpdate u = std::get<SdpUpdate>(update);
        console_.say("rtp2jack: SIGHUP: %s read again: %s, payload type %d\n", o_.sdp.c_str(),
                     u.format.name().c_str(), u.payload_type);
        asio::post(net_io_, [this, u] { stream_.set_format(u.format, u.payload_type); });
      }
      arm_reload();
    });
  }

  // Net's state matters to control only where it can change what control
  // does: the target moves (--latency auto) or events are printed
  // (--verbose). Then control asks every 100 ms (costing net and control a
  // wake-up each); otherwise it only watches JACK, twice a second.
  bool follows_net() const { return o_.latency_auto || o_.verbose; }
  int watch_ms() const { return follows_net() ? 100 : kRetryMs; }

  void arm_watch() {
    watch_timer_.expires_after(std::chrono::milliseconds(watch_ms()));
    watch_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      watch_jack();
      if (follows_net()) request_stats([this](const net::StatsSnapshot& s) { follow(s); });
      arm_watch();
    });
  }

  void follow(const net::StatsSnapshot& s) {
    // The ports follow the target (--latency auto moves it).
    if (s.audio.target_frames != 0 && s.audio.stream_rate != 0 &&
        (s.audio.target_frames != reported_target_ || s.audio.stream_rate != reported_rate_)) {
      reported_target_ = s.audio.target_frames;
      reported_rate_ = s.audio.stream_rate;
      if (jack_) set_port_latency(*jack_);
    }
    if (o_.verbose) print_events(console_, last_seen_, s);
    last_seen_ = s;
  }

  // Thread: net (or control once net has stopped).
  net::SapCounters sap_stats() const { return sap_ ? sap_->directory().counters() : net::SapCounters{}; }

  // Thread: net. A message for control to print.
  void tell(std::string message) {
    asio::post(control_io_, [this, message = std::move(message)] { console_.say("%s\n", message.c_str()); });
  }

  void watch_jack() {
    if (jack_ && jack_->shut_down()) {
      // No callback runs any more: the audio context is control's until a
      // new client activates. Net goes on receiving (and counting what it
      // cannot hand over).
      console_.say("rtp2jack: the JACK server went away; waiting for it to come back\n");
      xruns_before_ += jack_->xruns();
      jack_.reset();  // closes the client: its thread is gone after this
    }
    // Try again every kRetryMs; libjack says nothing while it fails.
    if (!jack_ && ++jack_polls_ % (kRetryMs / watch_ms()) == 0) {
      try {
        jack_ = open_jack();
        console_.say("rtp2jack: JACK is back (%u Hz, %u frames); playing again\n", jack_->sample_rate(),
                     jack_->buffer_size());
      } catch (const std::exception&) {
      }
    }
  }

  // RTP2JACK_CLOCK_TRACE=FILE (tests/README.md): net writes what its
  // sender clock saw of each packet there, for tests/tools/clock_replay.
  void open_clock_trace() {
    const char* path = std::getenv("RTP2JACK_CLOCK_TRACE");
    if (path == nullptr || *path == '\0') return;
    clock_trace_.reset(std::fopen(path, "wb"));
    if (!clock_trace_) throw StartError(std::string("cannot write the clock trace ") + path);
    std::setvbuf(clock_trace_.get(), nullptr, _IOFBF, 1 << 20);
    stream_.set_clock_trace(clock_trace_.get());
  }

  // No callback runs after deactivate, so the audio state is control's;
  // then net stops (its socket closes and its io_context runs out of work)
  // and its state is control's too. A server that does not answer is left
  // behind: the final statistics still come (what audio hands net goes
  // through its queues, whose consumer is control once net has stopped).
  void shutdown() {
    if (jack_ && !jack_->deactivate())
      console_.say("rtp2jack: JACK did not answer within %lld ms; leaving without it\n",
                   static_cast<long long>(audio::JackClient::kAnswerLimit.count()));
    asio::post(net_io_, [this] {
      udp_->stop();
      if (sap_) sap_->stop();
    });
    net_thread_.join();
    clock_trace_.reset();
    stream_.drain_audio();
    net::StatsSnapshot final_stats = stream_.stats();
    final_stats.rtcp = udp_->rtcp_stats();
    final_stats.sap = sap_stats();
    final_stats.taken_ns = monotonic_ns();
    final_stats.xruns = xruns_before_ + (jack_ ? jack_->xruns() : 0);
    print_stats(o_, console_, final_stats, uptime(), true);
  }

  const Options o_;
  const Clock::time_point start_ = Clock::now();
  const std::size_t records_;
  core::RecordPool pool_;
  core::SpscQueue<core::Message> to_audio_;
  core::SpscQueue<core::Message> to_net_;
  core::Mailbox<core::StreamModel> model_;
  core::Mailbox<core::AudioStatus> status_;
  net::StreamReceiver stream_;
  audio::Player player_;
  // One thread runs it; others only post to it. Told so, asio keeps the
  // completions that thread queues itself off its shared, locked queue.
  asio::io_context net_io_{1};
  const std::unique_ptr<net::RtcpSession> rtcp_;
  std::unique_ptr<net::UdpReceiver> udp_;
  std::unique_ptr<SessionFollower> follower_;  // --session: net follows it
  std::unique_ptr<net::SapListener> sap_;      // ... as SAP announces it
  Console console_;
  std::uint32_t reported_target_;  // stream frames, at reported_rate_
  std::uint32_t reported_rate_;
  std::unique_ptr<audio::JackClient> jack_;
  struct CloseFile {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, CloseFile> clock_trace_;
  std::thread net_thread_;
  asio::io_context control_io_;
  asio::signal_set signals_;
  asio::signal_set reload_;  // SIGHUP
  asio::steady_timer stats_timer_;
  asio::steady_timer watch_timer_;
  std::uint64_t xruns_before_ = 0;  // of JACK clients that are gone
  static constexpr int kRetryMs = 500;  // between attempts to reopen JACK
  unsigned jack_polls_ = 0;
  net::StatsSnapshot last_seen_;
};

}  // namespace

int run(const Options& given) {
  if (given.list) return list_sessions(given);
  Options o = given;
  if (!o.session.empty()) {
    std::optional<net::SessionDescription> s;
    try {
      s = wait_for_session(o);
    } catch (const std::exception& e) {
      std::cerr << "rtp2jack: --session: " << e.what() << "\n";
      return 2;
    }
    if (!s) return 0;  // a signal while waiting
    apply_description(o, *s);
  }
  std::unique_ptr<Receiver> receiver;
  try {
    receiver = std::make_unique<Receiver>(o);
  } catch (const StartError& e) {
    std::cerr << "rtp2jack: " << e.what() << "\n";
    return 2;
  }
  receiver->run();
  // A server that did not answer keeps threads that may call into the
  // client and the player: the receiver stays allocated (and reachable) for
  // the rest of the process.
  if (receiver->left_jack()) {
    static Receiver* const left = receiver.release();
    (void)left;
  }
  return 0;
}

}  // namespace cmd
