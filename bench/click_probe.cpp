// click_probe: emits clicks into JACK and times their arrival on other ports,
// in JACK frames (the click-to-output latency benchmark).
//
//   click_probe --inputs 2 --seconds 20 [--interval-ms 250] [--rtp-port P]
//
// Two JACK clients in one process:
//   click_gen:out         a 1 kHz tone at 0.2 (so that dropouts show) with,
//                         every interval, a 1 ms burst of 4 kHz at 0.8
//                         starting exactly on a frame that is a multiple of
//                         the interval in JACK's frame timeline;
//   click_det:in_1..in_N  the outputs under test (connect them, e.g. with
//                         jack_connect). A click arrives where |x| first
//                         rises above 0.5 after 10 ms below 0.35; its delay
//                         is the arrival frame modulo the interval (so a
//                         delay must stay below the interval, 250 ms).
// Two clients, not one with both, so that the graph has no cycle: a
// feedback loop through the receivers would add a period of its own.
//
// With --rtp-port, it also receives a copy of the RTP stream (the sender
// sends it there too), decodes it with libopus, and times the arrival of
// each packet whose decoded audio holds a click's first sample above 0.5:
// the kernel's receive time, in JACK's frame timeline. That is the shared
// share of both receivers' delays (JACK input, Opus frame and look-ahead,
// network); a receiver's delay less it is the receiver's own. One more
// JSON line, "input":"rtp".
//
// Once ready it prints "ready" on stdout. It measures from SIGUSR1 (with
// --on-signal; otherwise from the first click seen on any input) for
// --seconds of JACK's frame time, then prints one JSON line
// per input: clicks seen, delay min / median / max in frames (and every delay, in order), how often the
// delay stepped by more than 1 ms between consecutive clicks (audio dropped
// or inserted), and dropouts (the tone below 0.01 for more than 2 ms after
// the first click). Exit status 0 once it has measured, whatever it saw.
#include <arpa/inet.h>
#include <jack/jack.h>
#include <netinet/in.h>
#include <opus/opus.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kToneLevel = 0.2F;
constexpr float kClickLevel = 0.8F;
constexpr float kHigh = 0.5F;
constexpr float kLow = 0.35F;
constexpr float kSilent = 0.01F;
constexpr std::size_t kMaxClicks = 1 << 14;

struct Input {
  jack_port_t* port = nullptr;
  // Written by the process callback only; read after it stopped counting.
  std::vector<std::int64_t> delays;  // preallocated, kMaxClicks
  std::atomic<std::size_t> clicks{0};
  std::int64_t quiet_frames = 0;     // consecutive frames below kLow
  bool armed = false;                // quiet for 10 ms: the next rise is a click
  std::int64_t silent_frames = 0;    // consecutive frames below kSilent
  std::uint64_t dropouts = 0;
  std::int64_t longest_dropout = 0;
  bool started = false;
};

struct Probe {
  jack_client_t* gen = nullptr;
  jack_client_t* det = nullptr;
  jack_port_t* out = nullptr;
  std::vector<Input> inputs;
  std::int64_t interval = 12000;  // frames
  std::int64_t click_len = 48;
  double rate = 48000;
  std::int64_t span = 0;                    // frames to measure
  std::atomic<std::int64_t> start{-1};      // JACK frame where measuring starts
  std::atomic<std::int64_t> now{0};
  bool on_signal = false;  // measure from SIGUSR1 only, not from the first click
};

std::atomic<bool> g_start_requested{false};
void on_usr1(int) { g_start_requested.store(true, std::memory_order_relaxed); }

int gen_process(jack_nframes_t n, void* arg) {
  auto* p = static_cast<Probe*>(arg);
  auto* out = static_cast<float*>(jack_port_get_buffer(p->out, n));
  const std::int64_t t0 = jack_last_frame_time(p->gen);
  for (jack_nframes_t i = 0; i < n; ++i) {
    const std::int64_t t = t0 + i;
    const std::int64_t phase = t % p->interval;
    const double s = static_cast<double>(t) / p->rate;
    float x = kToneLevel * static_cast<float>(std::sin(2 * kPi * 1000 * s));
    if (phase < p->click_len) {
      x = kClickLevel * static_cast<float>(std::sin(2 * kPi * 4000 * static_cast<double>(phase) / p->rate));
    }
    out[i] = x;
  }
  p->now.store(t0 + n, std::memory_order_relaxed);
  return 0;
}

int det_process(jack_nframes_t n, void* arg) {
  auto* p = static_cast<Probe*>(arg);
  const std::int64_t t0 = jack_last_frame_time(p->det);
  std::int64_t start = p->start.load(std::memory_order_relaxed);
  if (start < 0 && g_start_requested.load(std::memory_order_relaxed)) {
    start = t0;
    p->start.store(start, std::memory_order_relaxed);
  }
  const bool counting = start >= 0 && t0 >= start && t0 < start + p->span;
  const std::int64_t min_dropout = static_cast<std::int64_t>(p->rate * 0.002);
  const std::int64_t rearm = static_cast<std::int64_t>(p->rate * 0.010);
  for (auto& in : p->inputs) {
    const auto* x = static_cast<const float*>(jack_port_get_buffer(in.port, n));
    for (jack_nframes_t i = 0; i < n; ++i) {
      const float a = std::fabs(x[i]);
      if (a > kHigh && in.armed) {
        in.armed = false;
        const std::int64_t at = t0 + i;
        if (start < 0 && !p->on_signal && !g_start_requested.load(std::memory_order_relaxed)) {
          g_start_requested.store(true, std::memory_order_relaxed);
        }
        if (counting) in.started = true;
        const std::size_t k = in.clicks.load(std::memory_order_relaxed);
        if (counting && k < kMaxClicks) {
          in.delays[k] = at % p->interval;
          in.clicks.store(k + 1, std::memory_order_release);
        }
      }
      in.quiet_frames = a < kLow ? in.quiet_frames + 1 : 0;
      if (in.quiet_frames >= rearm) in.armed = true;
      if (a < kSilent) {
        ++in.silent_frames;
      } else {
        if (in.started && counting && in.silent_frames > min_dropout) {
          ++in.dropouts;
          in.longest_dropout = std::max(in.longest_dropout, in.silent_frames);
        }
        in.silent_frames = 0;
      }
    }
  }
  return 0;
}

// The RTP tap (--rtp-port): runs in its own thread, stops with `stop`.
struct RtpTap {
  int fd = -1;
  Input result;  // delays, clicks: as for a JACK input
  std::uint64_t packets = 0;
  std::uint64_t undecodable = 0;
};

std::int64_t ns_of(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void run_tap(Probe* p, RtpTap* tap, const std::atomic<bool>* stop) {
  int err = 0;
  OpusDecoder* dec = opus_decoder_create(48000, 2, &err);
  if (dec == nullptr) return;
  std::vector<float> pcm(5760 * 2);
  std::vector<unsigned char> buf(2048);
  alignas(cmsghdr) char control[256];
  const std::int64_t rearm = static_cast<std::int64_t>(48000 * 0.010);
  std::int64_t quiet = 0;
  bool armed = false;
  while (!stop->load(std::memory_order_relaxed)) {
    pollfd pfd{tap->fd, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(tap->fd, &msg, 0);
    if (n < 12) continue;
    // The kernel's receive time (CLOCK_REALTIME), moved to JACK's clock
    // (jack_get_time(), microseconds) by the clocks' offsets now.
    std::int64_t arrival_real = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        arrival_real = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
      }
    }
    const std::int64_t jack_now = static_cast<std::int64_t>(jack_get_time()) * 1000;
    const std::int64_t arrival_jack =
        arrival_real != 0 ? arrival_real - (ns_of(CLOCK_REALTIME) - jack_now) : jack_now;
    ++tap->packets;
    // RFC 3550 section 5.1: fixed header, CSRCs, extension, padding.
    const unsigned char* d = buf.data();
    std::size_t head = 12 + 4 * std::size_t(d[0] & 0x0f);
    std::size_t len = static_cast<std::size_t>(n);
    if (d[0] & 0x20) len -= d[len - 1];
    if ((d[0] & 0x10) && head + 4 <= len) head += 4 + 4 * ((std::size_t(d[head + 2]) << 8) | d[head + 3]);
    if (head >= len) {
      ++tap->undecodable;
      continue;
    }
    const int frames = opus_decode_float(dec, d + head, static_cast<opus_int32>(len - head), pcm.data(), 5760, 0);
    if (frames <= 0) {
      ++tap->undecodable;
      continue;
    }
    const std::int64_t start = p->start.load(std::memory_order_relaxed);
    for (int i = 0; i < frames; ++i) {
      const float a = std::fabs(pcm[2 * std::size_t(i)]);
      if (a > kHigh && armed) {
        armed = false;
        const auto at = static_cast<std::int64_t>(
            jack_time_to_frames(p->gen, static_cast<jack_time_t>(arrival_jack / 1000)));
        const bool counting = start >= 0 && at >= start && at < start + p->span;
        const std::size_t k = tap->result.clicks.load(std::memory_order_relaxed);
        if (counting && k < kMaxClicks) {
          tap->result.delays[k] = at % p->interval;
          tap->result.clicks.store(k + 1, std::memory_order_release);
        }
      }
      quiet = a < kLow ? quiet + 1 : 0;
      if (quiet >= rearm) armed = true;
    }
  }
  opus_decoder_destroy(dec);
}

int open_tap(int port) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    std::fprintf(stderr, "click_probe: cannot bind UDP 127.0.0.1:%d\n", port);
    std::exit(1);
  }
  return fd;
}

jack_client_t* open_client(const char* name) {
  jack_status_t status{};
  jack_client_t* c = jack_client_open(name, JackNoStartServer, &status);
  if (c == nullptr) {
    std::fprintf(stderr, "click_probe: cannot open JACK client %s (status 0x%x)\n", name,
                 static_cast<unsigned>(status));
    std::exit(1);
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int inputs = 2;
  double seconds = 20;
  double interval_ms = 250;
  bool on_signal = false;
  int rtp_port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> double {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "click_probe: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atof(argv[++i]);
    };
    if (a == "--inputs") {
      inputs = static_cast<int>(value());
    } else if (a == "--seconds") {
      seconds = value();
    } else if (a == "--on-signal") {
      on_signal = true;
    } else if (a == "--interval-ms") {
      interval_ms = value();
    } else if (a == "--rtp-port") {
      rtp_port = static_cast<int>(value());
    } else {
      std::fprintf(stderr, "click_probe: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (inputs < 1 || inputs > 16 || seconds <= 0 || interval_ms < 20) {
    std::fprintf(stderr, "click_probe: want 1..16 inputs, seconds > 0, interval >= 20 ms\n");
    return 2;
  }

  Probe p;
  p.on_signal = on_signal;
  if (on_signal) std::signal(SIGUSR1, on_usr1);
  p.gen = open_client("click_gen");
  p.det = open_client("click_det");
  p.rate = jack_get_sample_rate(p.gen);
  p.interval = static_cast<std::int64_t>(std::llround(p.rate * interval_ms / 1000));
  p.click_len = static_cast<std::int64_t>(p.rate / 1000);
  p.span = static_cast<std::int64_t>(seconds * p.rate);
  p.out = jack_port_register(p.gen, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
  p.inputs = std::vector<Input>(static_cast<std::size_t>(inputs));
  for (int k = 0; k < inputs; ++k) {
    auto& in = p.inputs[static_cast<std::size_t>(k)];
    in.delays.assign(kMaxClicks, 0);
    const std::string name = "in_" + std::to_string(k + 1);
    in.port = jack_port_register(p.det, name.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
  }
  jack_set_process_callback(p.gen, gen_process, &p);
  jack_set_process_callback(p.det, det_process, &p);
  if (jack_activate(p.gen) != 0 || jack_activate(p.det) != 0) {
    std::fprintf(stderr, "click_probe: cannot activate\n");
    return 1;
  }
  RtpTap tap;
  std::atomic<bool> tap_stop{false};
  std::thread tap_thread;
  if (rtp_port > 0) {
    tap.fd = open_tap(rtp_port);
    tap.result.delays.assign(kMaxClicks, 0);
    tap_thread = std::thread(run_tap, &p, &tap, &tap_stop);
  }
  std::printf("ready\n");
  std::fflush(stdout);

  // Measure for --seconds of JACK's own timeline.
  const std::int64_t span = p.span;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::int64_t start = p.start.load(std::memory_order_relaxed);
    if (start >= 0 && p.now.load(std::memory_order_relaxed) - start >= span + p.interval) break;
  }
  if (tap_thread.joinable()) {
    tap_stop.store(true);
    tap_thread.join();
    close(tap.fd);
  }
  jack_deactivate(p.det);
  jack_deactivate(p.gen);

  const double ms_per_frame = 1000 / p.rate;
  const std::int64_t step_limit = static_cast<std::int64_t>(p.rate / 1000);
  const auto print = [&](const std::string& name, Input& in) {
    const std::size_t n = in.clicks.load(std::memory_order_acquire);
    std::vector<std::int64_t> d(in.delays.begin(), in.delays.begin() + static_cast<long>(n));
    std::uint64_t steps = 0;
    for (std::size_t i = 1; i < n; ++i) {
      if (std::llabs(d[i] - d[i - 1]) > step_limit) ++steps;
    }
    std::vector<std::int64_t> sorted = d;
    std::sort(sorted.begin(), sorted.end());
    const std::int64_t lo = n ? sorted.front() : -1;
    const std::int64_t med = n ? sorted[n / 2] : -1;
    const std::int64_t hi = n ? sorted.back() : -1;
    std::printf(
        "{\"input\":%s,\"clicks\":%zu,\"expected_clicks\":%lld,\"delay_min_frames\":%lld,"
        "\"delay_median_frames\":%lld,\"delay_max_frames\":%lld,\"delay_median_ms\":%.3f,"
        "\"delay_steps\":%llu,\"dropouts\":%llu,\"longest_dropout_ms\":%.2f,\"delays\":[",
        name.c_str(), n, static_cast<long long>(span / p.interval), static_cast<long long>(lo),
        static_cast<long long>(med), static_cast<long long>(hi),
        static_cast<double>(med) * ms_per_frame, static_cast<unsigned long long>(steps),
        static_cast<unsigned long long>(in.dropouts),
        static_cast<double>(in.longest_dropout) * ms_per_frame);
    for (std::size_t i = 0; i < n; ++i) std::printf("%s%lld", i ? "," : "", static_cast<long long>(d[i]));
    std::printf("]}\n");
  };
  for (int k = 0; k < inputs; ++k) print(std::to_string(k + 1), p.inputs[static_cast<std::size_t>(k)]);
  if (rtp_port > 0) print("\"rtp\"", tap.result);
  std::fflush(stdout);
  jack_client_close(p.det);
  jack_client_close(p.gen);
  return 0;
}
