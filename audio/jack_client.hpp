// The JACK client: its lifecycle belongs to the control context, its
// process callback to the audio context.
//
// Control opens the client (never starting a server), registers out_1..N,
// installs the callbacks, activates and connects. The process callback is a
// static trampoline that fetches the port buffers and hands them to the
// audio context's function.
#pragma once

#include <jack/jack.h>
#include <jack/thread.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "audio/cycle.hpp"
#include "core/defaults.hpp"

namespace audio {

/// A set-up failure with a one-line, actionable message.
class JackError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class JackClient {
 public:
  /// The audio context's entry: writes `cycle.nframes` to each of
  /// `out[0..channels)`. Called on JACK's real-time thread; must be
  /// real-time safe.
  using ProcessFn = void (*)(void* arg, float* const* out, const Cycle& cycle) noexcept;

  struct Options {
    std::string name = core::defaults::kName;
    std::string server;  // empty: JACK's default server ($JACK_DEFAULT_SERVER)
    int channels = core::defaults::kChannels;
    bool verbose = false;  // pass libjack's own messages through to stderr
  };

  /// Thread: control. Opens the client and registers its ports. Throws
  /// JackError when no server runs or a port cannot be registered.
  explicit JackClient(const Options& options);
  ~JackClient();
  JackClient(const JackClient&) = delete;
  JackClient& operator=(const JackClient&) = delete;

  /// Thread: control. Installs `fn` as the process function and activates.
  void activate(ProcessFn fn, void* arg);

  /// A request the server has not answered in this long is given up: a
  /// server that is stopped or wedged never answers, and a receiver that
  /// is told to stop must not wait on it.
  static constexpr std::chrono::milliseconds kAnswerLimit{2000};

  /// Thread: control. Stops callbacks: true when the server confirmed it
  /// (no callback runs any more). False when the server did not answer
  /// within kAnswerLimit: the client is then left as it is, and never
  /// closed (closing would wait on the server too).
  bool deactivate() noexcept;
  /// Thread: control. False once a request timed out: libjack's threads
  /// may still call into this client (and whatever its process function
  /// reaches), so neither may be freed while the process runs.
  bool answered() const noexcept { return !unanswered_; }

  /// Thread: control. `auto`: the physical playback ports in order; `none`;
  /// or a comma-separated list of port names, one per output. Returns the
  /// connections it could not make (empty when all succeeded).
  std::vector<std::string> connect(const std::string& spec);

  /// Thread: control. Sets the latency the receiver adds, in JACK frames, for
  /// JACK's latency callback (capture latency of the outputs).
  void set_added_latency(std::uint32_t frames) noexcept;

  /// The real-time priority JACK gives its client threads (SCHED_FIFO), or
  /// -1 when JACK does not run real-time.
  int realtime_priority() const noexcept;
  std::uint32_t sample_rate() const noexcept;
  std::uint32_t buffer_size() const noexcept;
  const std::string& name() const noexcept { return name_; }

  /// Thread: any. Counted by JACK's xrun callback.
  std::uint64_t xruns() const noexcept { return xruns_.load(std::memory_order_relaxed); }
  /// Thread: any. The counter itself, for the audio context to watch.
  const std::atomic<std::uint64_t>& xrun_counter() const noexcept { return xruns_; }
  /// Thread: any. True once JACK has shut the client down (server gone).
  bool shut_down() const noexcept { return shut_down_.load(std::memory_order_acquire); }

 private:
  static int on_process(jack_nframes_t nframes, void* self) noexcept;
  static int on_xrun(void* self) noexcept;
  static void on_shutdown(void* self) noexcept;
  static void on_latency(jack_latency_callback_mode_t mode, void* self) noexcept;

  jack_client_t* client_ = nullptr;
  std::string name_;
  std::vector<jack_port_t*> ports_;  // written by control before activate, read by audio
  bool active_ = false;
  bool unanswered_ = false;  // a request timed out: the server is not to be asked again

  // Written by control before activate, read by the process callback.
  ProcessFn process_ = nullptr;
  void* process_arg_ = nullptr;

  // Written by JACK's xrun callback (a non-real-time JACK thread), read by
  // control: relaxed, it is a statistic.
  std::atomic<std::uint64_t> xruns_{0};
  // Written by JACK's shutdown callback, read by control. release/acquire so
  // that control sees the client as dead only after JACK said so.
  std::atomic<bool> shut_down_{false};
  // Written by control, read by JACK's latency callback.
  std::atomic<std::uint32_t> added_latency_{0};
  // JACK's 32-bit frame counter unwrapped (it wraps after a day at 48 kHz).
  // Only referenced by the process callback.
  std::int64_t frames_base_ = 0;
  std::uint32_t frames_last_ = 0;
};

}  // namespace audio
