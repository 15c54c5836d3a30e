#include "audio/jack_client.hpp"

#include <array>
#include <cassert>
#include <cstdlib>
#include <ctime>
#include <future>
#include <memory>
#include <sstream>
#include <thread>

namespace audio {

namespace {
void quiet(const char*) {}

// Runs `call` on a thread of its own and waits up to `limit` for it: true
// when it returned. A request to a server that is stopped or wedged blocks
// on the server's socket for good; that thread is then left to it (the
// process exits around it).
template <typename Call>
bool within(std::chrono::milliseconds limit, Call call) noexcept {
  try {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> returned = done->get_future();
    std::thread([done, call] {
      call();
      done->set_value();
    }).detach();
    return returned.wait_for(limit) == std::future_status::ready;
  } catch (const std::exception&) {
    call();  // no thread to spare: wait as long as it takes
    return true;
  }
}
}  // namespace

JackClient::JackClient(const Options& options) {
  // libjack explains a failed connection in several lines of its own; we say
  // it in one (set-up failures print one clear line). --verbose keeps them.
  if (!options.verbose) {
    jack_set_error_function(&quiet);
    jack_set_info_function(&quiet);
  }
  // Never start a server behind the user's back: a receiver that silently
  // spawns its own JACK plays into nothing.
  int flags = JackNoStartServer;
  if (!options.server.empty()) flags |= JackServerName;
  jack_status_t status{};
  client_ = options.server.empty()
                ? jack_client_open(options.name.c_str(), static_cast<jack_options_t>(flags), &status)
                : jack_client_open(options.name.c_str(), static_cast<jack_options_t>(flags), &status,
                                   options.server.c_str());
  if (client_ == nullptr) {
    const char* env = std::getenv("JACK_DEFAULT_SERVER");
    const std::string server = !options.server.empty() ? options.server : env ? env : "";
    const std::string which =
        server.empty() ? std::string("the default JACK server") : "JACK server '" + server + "'";
    if (status & JackServerFailed)
      throw JackError("cannot connect to " + which +
                      ": is it running? Start one, e.g. `jackd -d alsa` or `jackd -d dummy -r 48000`");
    if (status & JackNameNotUnique)
      throw JackError("a JACK client named '" + options.name + "' exists already: choose --name");
    throw JackError("jack_client_open failed for " + which + " (status 0x" +
                    [&] { std::ostringstream o; o << std::hex << status; return o.str(); }() + ")");
  }
  name_ = jack_get_client_name(client_);

  for (int c = 0; c < options.channels; ++c) {
    const std::string port = "out_" + std::to_string(c + 1);
    jack_port_t* p = jack_port_register(client_, port.c_str(), JACK_DEFAULT_AUDIO_TYPE,
                                        JackPortIsOutput | JackPortIsTerminal, 0);
    if (p == nullptr) throw JackError("jack_port_register " + port + " failed");
    ports_.push_back(p);
  }
  jack_set_process_callback(client_, &JackClient::on_process, this);
  jack_set_xrun_callback(client_, &JackClient::on_xrun, this);
  jack_on_shutdown(client_, &JackClient::on_shutdown, this);
  jack_set_latency_callback(client_, &JackClient::on_latency, this);
}

JackClient::~JackClient() {
  if (!deactivate() || client_ == nullptr) return;
  jack_client_t* client = client_;
  within(kAnswerLimit, [client] { jack_client_close(client); });
}

void JackClient::activate(ProcessFn fn, void* arg) {
  process_ = fn;
  process_arg_ = arg;
  if (jack_activate(client_) != 0) throw JackError("jack_activate failed");
  active_ = true;
}

bool JackClient::deactivate() noexcept {
  if (unanswered_) return false;
  if (active_ && !shut_down()) {
    jack_client_t* client = client_;
    unanswered_ = !within(kAnswerLimit, [client] { jack_deactivate(client); });
  }
  active_ = false;
  return !unanswered_;
}

std::vector<std::string> JackClient::connect(const std::string& spec) {
  std::vector<std::string> targets;
  if (spec == "none") return {};
  if (spec == "auto") {
    const char** ports = jack_get_ports(client_, nullptr, JACK_DEFAULT_AUDIO_TYPE,
                                        JackPortIsPhysical | JackPortIsInput);
    for (const char** p = ports; p != nullptr && *p != nullptr; ++p) targets.emplace_back(*p);
    jack_free(ports);
    // A mono stream on a stereo device: feed the one output to both sides.
    if (ports_.size() == 1 && targets.size() >= 2) {
      targets.resize(2);
      std::vector<std::string> failed;
      for (const auto& t : targets)
        if (jack_connect(client_, jack_port_name(ports_[0]), t.c_str()) != 0) failed.push_back(t);
      return failed;
    }
  } else {
    std::stringstream in(spec);
    for (std::string t; std::getline(in, t, ',');)
      if (!t.empty()) targets.push_back(t);
  }
  std::vector<std::string> failed;
  for (std::size_t i = 0; i < ports_.size() && i < targets.size(); ++i) {
    const int rc = jack_connect(client_, jack_port_name(ports_[i]), targets[i].c_str());
    if (rc != 0 && rc != EEXIST) failed.push_back(targets[i]);
  }
  return failed;
}

void JackClient::set_added_latency(std::uint32_t frames) noexcept {
  added_latency_.store(frames, std::memory_order_relaxed);
  if (client_ != nullptr && active_) jack_recompute_total_latencies(client_);
}

int JackClient::realtime_priority() const noexcept {
  return jack_is_realtime(client_) ? jack_client_real_time_priority(client_) : -1;
}
std::uint32_t JackClient::sample_rate() const noexcept { return jack_get_sample_rate(client_); }
std::uint32_t JackClient::buffer_size() const noexcept { return jack_get_buffer_size(client_); }

int JackClient::on_process(jack_nframes_t nframes, void* self) noexcept {
  auto* me = static_cast<JackClient*>(self);
  // When the callback woke, on CLOCK_MONOTONIC (the vDSO: no system call),
  // and JACK's frame counter at the cycle's start (shared memory). The
  // audio context filters the pair into JACK's clock itself: JACK's own
  // filtered cycle times (jack_get_cycle_times' usecs) run a period
  // estimate that a stall throws off by percents for seconds.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  std::array<float*, core::defaults::kMaxChannels> out{};
  for (std::size_t c = 0; c < me->ports_.size(); ++c)
    out[c] = static_cast<float*>(jack_port_get_buffer(me->ports_[c], nframes));
  jack_nframes_t frames = 0;
  jack_time_t start_us = 0, next_us = 0;
  float period_us = 0;
  if (jack_get_cycle_times(me->client_, &frames, &start_us, &next_us, &period_us) != 0)
    frames = jack_last_frame_time(me->client_);
  if (frames < me->frames_last_) me->frames_base_ += std::int64_t{1} << 32;
  me->frames_last_ = frames;
  Cycle cycle;
  cycle.nframes = nframes;
  // The rate is read from the engine's shared state each cycle, so a server
  // that changes it is followed without a callback of our own.
  cycle.rate = jack_get_sample_rate(me->client_);
  cycle.jack_frames = me->frames_base_ + frames;
  cycle.wake_ns = std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
  me->process_(me->process_arg_, out.data(), cycle);
  return 0;
}

int JackClient::on_xrun(void* self) noexcept {
  static_cast<JackClient*>(self)->xruns_.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

void JackClient::on_shutdown(void* self) noexcept {
  static_cast<JackClient*>(self)->shut_down_.store(true, std::memory_order_release);
}

void JackClient::on_latency(jack_latency_callback_mode_t mode, void* self) noexcept {
  // Our outputs are a source: their capture latency is how long ago the
  // audio they carry arrived, i.e. what the receiver adds (JACK latency API).
  if (mode != JackCaptureLatency) return;
  auto* me = static_cast<JackClient*>(self);
  const jack_nframes_t l = me->added_latency_.load(std::memory_order_relaxed);
  jack_latency_range_t range{l, l};
  for (jack_port_t* p : me->ports_) jack_port_set_latency_range(p, JackCaptureLatency, &range);
}

}  // namespace audio
