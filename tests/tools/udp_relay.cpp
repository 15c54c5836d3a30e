// udp_relay: forwards UDP datagrams from --listen to --to with seeded,
// repeatable impairments (loss, burst loss, delay, jitter, duplication,
// reordering, clock drift). Stands in for netem, which the test machines'
// kernels lack (no sch_netem module).
//
// One thread, POSIX sockets and ppoll. Every accepted packet goes through one
// time-ordered queue (a binary heap keyed by due time, then arrival order),
// even with no delay, so there is one code path. Storage is a fixed pool
// allocated at start-up; a full pool is counted as overflow and the packet
// dropped (STYLE rule 5).
//
// Repeatability: each impairment draws from its own splitmix64 stream seeded
// from --seed, once per received packet whether or not it is enabled for
// that packet, so e.g. the loss pattern for a seed does not change when
// jitter is added. Same seed and same input order give the same decisions.
//
// --drop-log names every packet a loss decision dropped, with when it came
// and when it would have left, so that a test can map each loss to a moment
// on CLOCK_MONOTONIC (and, through jack_tap's cycle log, to a position in a
// recording). Writing it changes no decision.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

// Every default in one place; --help prints them.
constexpr uint64_t kDefaultSeed = 1;
constexpr double kDefaultReorderMs = 50.0;  // > 2 frames of 20 ms, so a held packet is overtaken
constexpr size_t kDefaultQueueCap = 10000;
constexpr size_t kSlotBytes = 2048;  // an RTP/Opus packet is at most 1275 + 12 header bytes
constexpr int kSocketBufferBytes = 4 << 20;  // absorb bursts while we sleep in ppoll
constexpr int kMaxRecvPerWake = 256;  // then send what is due, so delays stay honest

struct Options {
  std::string listen, to;
  double loss_pct = 0;
  bool burst = false;
  double burst_enter_pct = 0, burst_exit_pct = 0;
  double delay_ms = 0, jitter_ms = 0;
  double drift_ppm = 0;
  double step_ms = 0, step_after_s = 0;
  double spike_ms = 0, spike_every_s = 0;
  double dup_pct = 0;
  double reorder_pct = 0, reorder_ms = kDefaultReorderMs;
  uint64_t seed = kDefaultSeed;
  uint64_t stats_every = 0;
  size_t queue_cap = kDefaultQueueCap;
  std::string stats_file, ready_file, drop_log, send_log;
};

void PrintUsage(FILE* to) {
  std::fprintf(
      to,
      "usage: udp_relay --listen ADDR:PORT --to ADDR:PORT [impairments] [control]\n"
      "Forwards UDP datagrams with repeatable impairments. IPv6 as [::1]:PORT.\n"
      "\nImpairments (PCT in percent, 0-100; applied in this order):\n"
      "  --burst-loss P_ENTER,P_EXIT\n"
      "                             Gilbert-Elliott loss, both in percent: at each\n"
      "                             packet the good state turns bad with P_ENTER and\n"
      "                             bad turns good with P_EXIT; packets in the bad\n"
      "                             state are lost (mean loss P_ENTER/(P_ENTER+P_EXIT),\n"
      "                             mean burst 100/P_EXIT packets)\n"
      "  --loss PCT                 independent random loss (default 0)\n"
      "  --dup PCT                  send a second copy, with its own jitter (default 0)\n"
      "  --delay-ms D               fixed delay (default 0)\n"
      "  --jitter-ms J              extra delay uniform in [0, J] (default 0)\n"
      "  --drift-ppm P              the sender's clock seen P ppm fast (negative: slow):\n"
      "                             the fixed delay shrinks by P us every second from\n"
      "                             the first packet on (grows when P < 0), never\n"
      "                             below 0; start from a --delay-ms that lasts the run\n"
      "  --step-ms MS,AFTER_S       a path that gets longer for good: packets received\n"
      "                             AFTER_S s or more after the first one take MS ms\n"
      "                             more (default none)\n"
      "  --spike-ms MS,EVERY_S      a path that stops for MS ms every EVERY_S s, from\n"
      "                             EVERY_S s after the first packet on (a Wi-Fi\n"
      "                             link's scan or retry): what comes meanwhile\n"
      "                             leaves together when it ends (default none)\n"
      "  --reorder PCT              hold a packet back by --reorder-ms (default 0)\n"
      "  --reorder-ms MS            (default %g)\n"
      "\nControl:\n"
      "  --seed N                   PRNG seed (default %llu)\n"
      "  --queue-cap N              most packets in flight; more are dropped as\n"
      "                             overflow (default %zu; packets over %zu bytes are\n"
      "                             dropped as oversize)\n"
      "  --stats-file F             JSON counters, written on SIGINT/SIGTERM\n"
      "  --stats-every N            ...and after every N received packets\n"
      "  --ready-file F             written with our pid once the socket is bound\n"
      "  --send-log F               a line per datagram forwarded: SENT_MONO_NS SEQ\n"
      "                             RTP_TS SSRC (-1 for each when not RTP)\n"
      "  --drop-log F               a line per packet --loss or --burst-loss dropped:\n"
      "                             RECV_MONO_NS DUE_MONO_NS SEQ RTP_TS\n"
      "                             (received; when it would have been sent: receive\n"
      "                             + delay + its jitter and hold; SEQ and RTP_TS -1\n"
      "                             when the datagram is not RTP), on CLOCK_MONOTONIC\n"
      "\nExit: 0 after SIGINT/SIGTERM, 2 on bad usage or set-up failure.\n",
      kDefaultReorderMs, static_cast<unsigned long long>(kDefaultSeed), kDefaultQueueCap,
      kSlotBytes);
}

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "udp_relay: %s\n", why.c_str());
  std::exit(2);
}
[[noreturn]] void DieErrno(const std::string& call) { Die(call + ": " + std::strerror(errno)); }
[[noreturn]] void UsageError(const std::string& why) {
  std::fprintf(stderr, "udp_relay: %s\n", why.c_str());
  PrintUsage(stderr);
  std::exit(2);
}

double ParseNumber(const std::string& option, const std::string& text, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= lo && v <= hi))
    UsageError(option + " needs a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
               "], got '" + text + "'");
  return v;
}

uint64_t ParseCount(const std::string& option, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-')
    UsageError(option + " needs a whole number, got '" + text + "'");
  return v;
}

// "A,B": two numbers, A in [lo_a, hi_a] and B in [lo_b, hi_b]; `form`
// names them in the error.
std::pair<double, double> ParsePair(const std::string& option, const std::string& text, const char* form,
                                    double lo_a, double hi_a, double lo_b, double hi_b) {
  const size_t comma = text.find(',');
  if (comma == std::string::npos) UsageError(option + " needs " + form);
  return {ParseNumber(option, text.substr(0, comma), lo_a, hi_a),
          ParseNumber(option, text.substr(comma + 1), lo_b, hi_b)};
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      PrintUsage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) UsageError(arg + " needs a value (or unknown option)");
    const std::string v = argv[++i];
    if (arg == "--listen") o.listen = v;
    else if (arg == "--to") o.to = v;
    else if (arg == "--loss") o.loss_pct = ParseNumber(arg, v, 0, 100);
    else if (arg == "--burst-loss") {
      o.burst = true;
      std::tie(o.burst_enter_pct, o.burst_exit_pct) = ParsePair(arg, v, "P_ENTER,P_EXIT", 0, 100, 0, 100);
    } else if (arg == "--delay-ms") o.delay_ms = ParseNumber(arg, v, 0, 1e6);
    else if (arg == "--jitter-ms") o.jitter_ms = ParseNumber(arg, v, 0, 1e6);
    else if (arg == "--drift-ppm") o.drift_ppm = ParseNumber(arg, v, -1e5, 1e5);
    else if (arg == "--step-ms") {
      std::tie(o.step_ms, o.step_after_s) = ParsePair(arg, v, "MS,AFTER_S", 0, 1e6, 0, 1e6);
    } else if (arg == "--spike-ms") {
      std::tie(o.spike_ms, o.spike_every_s) = ParsePair(arg, v, "MS,EVERY_S", 0, 1e6, 0.001, 1e6);
      if (o.spike_ms >= o.spike_every_s * 1e3) UsageError("--spike-ms: MS must be shorter than EVERY_S");
    }
    else if (arg == "--dup") o.dup_pct = ParseNumber(arg, v, 0, 100);
    else if (arg == "--reorder") o.reorder_pct = ParseNumber(arg, v, 0, 100);
    else if (arg == "--reorder-ms") o.reorder_ms = ParseNumber(arg, v, 0, 1e6);
    else if (arg == "--seed") o.seed = ParseCount(arg, v);
    else if (arg == "--stats-every") o.stats_every = ParseCount(arg, v);
    else if (arg == "--queue-cap") o.queue_cap = std::max<size_t>(1, ParseCount(arg, v));
    else if (arg == "--stats-file") o.stats_file = v;
    else if (arg == "--ready-file") o.ready_file = v;
    else if (arg == "--drop-log") o.drop_log = v;
    else if (arg == "--send-log") o.send_log = v;
    else UsageError("unknown option " + arg);
  }
  if (o.listen.empty() || o.to.empty()) UsageError("--listen and --to are required");
  return o;
}

// ADDR:PORT or [IPV6]:PORT, resolved numerically where possible.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};

Endpoint Resolve(const std::string& text, bool passive) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find("]:");
    if (close == std::string::npos) UsageError("bad address '" + text + "', want [ADDR]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon)
      UsageError("bad address '" + text + "', want ADDR:PORT (IPv6 as [ADDR]:PORT)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  // getaddrinfo would take 99999 and wrap it; check the range ourselves.
  char* end = nullptr;
  const long number = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || number < (passive ? 0 : 1) || number > 65535)
    UsageError("bad port in '" + text + "'");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    Die("getaddrinfo(" + text + "): " + gai_strerror(rc));
  Endpoint e;
  std::memcpy(&e.addr, res->ai_addr, res->ai_addrlen);
  e.len = res->ai_addrlen;
  e.family = res->ai_family;
  freeaddrinfo(res);
  return e;
}

// splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014): tiny, full-period, good enough to pick packets.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) from the top 53 bits.
  double Uniform() { return double(Next() >> 11) * 0x1.0p-53; }
  /// True with probability pct / 100.
  bool Chance(double pct) { return Uniform() * 100.0 < pct; }

 private:
  uint64_t state_;
};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Stats {
  uint64_t received = 0, forwarded = 0;
  uint64_t dropped = 0;        // by --loss and --burst-loss together
  uint64_t dropped_burst = 0;  // the part of `dropped` from --burst-loss
  uint64_t duplicated = 0;     // extra copies queued
  uint64_t held_back = 0;      // packets given the --reorder hold
  uint64_t reordered = 0;      // packets sent after a packet that arrived later
  uint64_t overflow = 0;       // queue full
  uint64_t oversize = 0;       // larger than kSlotBytes
  uint64_t send_errors = 0;
  uint64_t pending = 0;  // still queued at exit, never sent
};

// Writes via a temporary file and rename(), so a script polling the file
// never reads half of it.
void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) DieErrno("fopen(" + tmp + ")");
  std::fputs(text.c_str(), f);
  if (std::fclose(f) != 0) DieErrno("fclose(" + tmp + ")");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) DieErrno("rename(" + tmp + ")");
}

std::string StatsJson(const Stats& s) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"received\":%llu,\"forwarded\":%llu,\"dropped\":%llu,\"dropped_burst\":%llu,"
                "\"duplicated\":%llu,\"held_back\":%llu,\"reordered\":%llu,\"overflow\":%llu,"
                "\"oversize\":%llu,\"send_errors\":%llu,\"pending\":%llu}\n",
                (unsigned long long)s.received, (unsigned long long)s.forwarded,
                (unsigned long long)s.dropped, (unsigned long long)s.dropped_burst,
                (unsigned long long)s.duplicated, (unsigned long long)s.held_back,
                (unsigned long long)s.reordered, (unsigned long long)s.overflow,
                (unsigned long long)s.oversize, (unsigned long long)s.send_errors,
                (unsigned long long)s.pending);
  return buf;
}

// Self-pipe: the handler only write()s, which is async-signal-safe; the
// main loop sees the pipe readable in ppoll.
int g_signal_pipe_write = -1;
extern "C" void OnSignal(int) {
  const int saved = errno;
  const char byte = 1;
  [[maybe_unused]] ssize_t n = write(g_signal_pipe_write, &byte, 1);
  errno = saved;
}

class Relay {
 public:
  explicit Relay(const Options& o)
      : o_(o),
        pool_(new uint8_t[o.queue_cap * kSlotBytes]),  // untouched pages cost nothing
        recv_buf_(65536) {
    SplitMix64 seeder(o.seed);
    loss_rng_ = SplitMix64(seeder.Next());
    burst_rng_ = SplitMix64(seeder.Next());
    dup_rng_ = SplitMix64(seeder.Next());
    reorder_rng_ = SplitMix64(seeder.Next());
    jitter_rng_ = SplitMix64(seeder.Next());
    free_slots_.reserve(o.queue_cap);
    for (size_t i = o.queue_cap; i-- > 0;) free_slots_.push_back(uint32_t(i));
    heap_.reserve(o.queue_cap);
  }

  /// Binds, signals readiness, then relays until SIGINT/SIGTERM.
  void Run() {
    const Endpoint listen = Resolve(o_.listen, true);
    to_ = Resolve(o_.to, false);
    in_fd_ = OpenSocket(listen.family);
    if (bind(in_fd_, reinterpret_cast<const sockaddr*>(&listen.addr), listen.len) != 0)
      DieErrno("bind(" + o_.listen + ")");
    out_fd_ = OpenSocket(to_.family);
    SetupSignals();
    if (!o_.drop_log.empty()) {
      drop_log_ = std::fopen(o_.drop_log.c_str(), "w");
      if (drop_log_ == nullptr) DieErrno("fopen(" + o_.drop_log + ")");
      // A line at a time, so a test can read the drops while we run.
      setvbuf(drop_log_, nullptr, _IOLBF, 0);
    }
    if (!o_.send_log.empty()) {
      send_log_ = std::fopen(o_.send_log.c_str(), "w");
      if (send_log_ == nullptr) DieErrno("fopen(" + o_.send_log + ")");
      setvbuf(send_log_, nullptr, _IOLBF, 0);
    }
    // Logged for people reading test logs; with port 0 this names the real port.
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    if (getsockname(in_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0)
      DieErrno("getsockname");
    const in_port_t port = bound.ss_family == AF_INET6
                               ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                               : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port;
    std::fprintf(stderr, "udp_relay: pid %d, listening on port %u, forwarding to %s\n",
                 int(getpid()), unsigned(ntohs(port)), o_.to.c_str());
    if (!o_.ready_file.empty()) WriteFileAtomically(o_.ready_file, std::to_string(getpid()) + "\n");

    while (!stop_) {
      pollfd fds[2] = {{in_fd_, POLLIN, 0}, {signal_pipe_[0], POLLIN, 0}};
      timespec timeout{};
      const timespec* wait = nullptr;  // nothing queued: sleep until a packet or signal
      if (!heap_.empty()) {
        const int64_t ns = std::max<int64_t>(0, heap_.front().due_ns - NowNs());
        timeout = {time_t(ns / 1'000'000'000), long(ns % 1'000'000'000)};
        wait = &timeout;
      }
      if (ppoll(fds, 2, wait, nullptr) < 0 && errno != EINTR) DieErrno("ppoll");
      if (fds[1].revents & POLLIN) stop_ = true;
      if (fds[0].revents & POLLIN) ReceiveAvailable();
      SendDue();
    }
    stats_.pending = heap_.size();
    WriteStats();
    if (drop_log_ != nullptr && std::fclose(drop_log_) != 0)
      DieErrno("fclose(" + o_.drop_log + ")");
    if (send_log_ != nullptr && std::fclose(send_log_) != 0)
      DieErrno("fclose(" + o_.send_log + ")");
    std::fprintf(stderr, "udp_relay: %s", StatsJson(stats_).c_str());
  }

 private:
  struct Entry {
    int64_t due_ns;
    uint64_t arrival;  // tie-break: equal due times leave in arrival order
    uint32_t slot;
    uint32_t len;
  };
  // std::*_heap build a max-heap; "later" first-out inverted gives the earliest on top.
  static bool Later(const Entry& a, const Entry& b) {
    return a.due_ns != b.due_ns ? a.due_ns > b.due_ns : a.arrival > b.arrival;
  }

  static int OpenSocket(int family) {
    const int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) DieErrno("socket");
    // Best effort: the kernel caps these at net.core.*mem_max.
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBufferBytes, sizeof kSocketBufferBytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBufferBytes, sizeof kSocketBufferBytes);
    return fd;
  }

  void SetupSignals() {
    if (pipe2(signal_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) DieErrno("pipe2");
    g_signal_pipe_write = signal_pipe_[1];
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, nullptr) != 0 || sigaction(SIGTERM, &sa, nullptr) != 0)
      DieErrno("sigaction");
  }

  void ReceiveAvailable() {
    for (int n = 0; n < kMaxRecvPerWake; ++n) {
      // MSG_TRUNC: return the real length even if it did not fit.
      const ssize_t len = recv(in_fd_, recv_buf_.data(), recv_buf_.size(), MSG_TRUNC);
      if (len < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) DieErrno("recv");
        return;
      }
      Impair(size_t(len), NowNs());
    }
  }

  // One decision per enabled impairment per packet; see the file comment.
  void Impair(size_t len, int64_t now) {
    ++stats_.received;
    if (o_.stats_every != 0 && stats_.received % o_.stats_every == 0) WriteStats();
    bool lost = false;
    if (o_.burst) {
      const double u = burst_rng_.Uniform() * 100.0;
      bad_state_ = bad_state_ ? !(u < o_.burst_exit_pct) : (u < o_.burst_enter_pct);
      if (bad_state_) {
        lost = true;
        ++stats_.dropped_burst;
      }
    }
    if (loss_rng_.Chance(o_.loss_pct)) lost = true;
    const bool dup = dup_rng_.Chance(o_.dup_pct);
    const bool hold = reorder_rng_.Chance(o_.reorder_pct);
    const double jitter1 = jitter_rng_.Uniform(), jitter2 = jitter_rng_.Uniform();
    const int64_t hold_ns = hold ? int64_t(o_.reorder_ms * 1e6) : 0;
    const int64_t jitter1_ns = int64_t(jitter1 * o_.jitter_ms * 1e6);
    if (lost) {
      ++stats_.dropped;
      // The drift origin is the first forwarded packet; a loss before it
      // is due as if it were that packet.
      if (drop_log_ != nullptr)
        LogDrop(len, now, BaseDueNs(now, first_ns_ < 0 ? now : first_ns_) + hold_ns + jitter1_ns);
      return;
    }
    if (len > kSlotBytes) {
      ++stats_.oversize;
      return;
    }
    if (first_ns_ < 0) first_ns_ = now;
    const int64_t base = BaseDueNs(now, first_ns_);
    if (hold) ++stats_.held_back;
    Enqueue(len, base + hold_ns + jitter1_ns);
    if (dup) {
      ++stats_.duplicated;
      Enqueue(len, base + int64_t(jitter2 * o_.jitter_ms * 1e6));
    }
  }

  // When a packet received at `now` is due before its hold and jitter: the
  // fixed delay less the drift since `origin`, plus the step once it is
  // due, plus what is left of a spike it came in. Drift: packets sent
  // every T by the sender's clock arrive every T * (1 - P/1e6) by ours, as
  // if its clock ran P ppm fast.
  int64_t BaseDueNs(int64_t now, int64_t origin) const {
    const double since_ns = double(now - origin);
    double delay_ns = std::max(0.0, o_.delay_ms * 1e6 - o_.drift_ppm * 1e-6 * since_ns) +
                      (o_.step_ms > 0 && since_ns >= o_.step_after_s * 1e9 ? o_.step_ms * 1e6 : 0.0);
    if (o_.spike_ms > 0 && since_ns >= o_.spike_every_s * 1e9) {
      const double into_ns = std::fmod(since_ns, o_.spike_every_s * 1e9);
      if (into_ns < o_.spike_ms * 1e6) delay_ns += o_.spike_ms * 1e6 - into_ns;
    }
    return now + int64_t(delay_ns);
  }

  // One --drop-log line for the datagram in recv_buf_. RTP (RFC 3550 5.1)
  // when it has a version-2 fixed header and its second byte is not an
  // RTCP packet type (RFC 5761 4: 192-223 with the marker bit).
  void LogDrop(size_t len, int64_t recv_ns, int64_t due_ns) {
    const RtpIds id = Ids(recv_buf_.data(), len);
    std::fprintf(drop_log_, "%lld %lld %lld %lld\n", (long long)recv_ns, (long long)due_ns, id.seq,
                 id.ts);
  }

  struct RtpIds {
    long long seq = -1, ts = -1, ssrc = -1;
  };
  static RtpIds Ids(const uint8_t* p, size_t len) {
    RtpIds id;
    if (len >= 12 && (p[0] >> 6) == 2 && !(p[1] >= 192 && p[1] <= 223)) {
      const auto u32 = [p](int i) {
        return (uint32_t(p[i]) << 24) | (uint32_t(p[i + 1]) << 16) | (uint32_t(p[i + 2]) << 8) | p[i + 3];
      };
      id.seq = (p[2] << 8) | p[3];
      id.ts = u32(4);
      id.ssrc = u32(8);
    }
    return id;
  }

  void Enqueue(size_t len, int64_t due_ns) {
    if (free_slots_.empty()) {
      ++stats_.overflow;
      return;
    }
    const uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    std::memcpy(&pool_[size_t(slot) * kSlotBytes], recv_buf_.data(), len);
    heap_.push_back({due_ns, next_arrival_++, slot, uint32_t(len)});
    std::push_heap(heap_.begin(), heap_.end(), Later);
  }

  void SendDue() {
    const int64_t now = NowNs();
    while (!heap_.empty() && heap_.front().due_ns <= now) {
      std::pop_heap(heap_.begin(), heap_.end(), Later);
      const Entry e = heap_.back();
      heap_.pop_back();
      if (sendto(out_fd_, &pool_[size_t(e.slot) * kSlotBytes], e.len, 0,
                 reinterpret_cast<const sockaddr*>(&to_.addr), to_.len) < 0) {
        ++stats_.send_errors;  // e.g. a full socket buffer; the packet is lost
      } else {
        ++stats_.forwarded;
        if (send_log_ != nullptr) {
          const RtpIds id = Ids(&pool_[size_t(e.slot) * kSlotBytes], e.len);
          std::fprintf(send_log_, "%lld %lld %lld %lld\n", (long long)NowNs(), id.seq, id.ts, id.ssrc);
        }
        if (sent_any_ && e.arrival < max_sent_arrival_) ++stats_.reordered;
        max_sent_arrival_ = std::max(max_sent_arrival_, e.arrival);
        sent_any_ = true;
      }
      free_slots_.push_back(e.slot);
    }
  }

  void WriteStats() {
    if (!o_.stats_file.empty()) WriteFileAtomically(o_.stats_file, StatsJson(stats_));
  }

  const Options o_;
  std::unique_ptr<uint8_t[]> pool_;  // queue_cap slots of kSlotBytes
  std::vector<uint32_t> free_slots_;  // indices into pool_, capacity fixed at start
  std::vector<Entry> heap_;           // capacity fixed at start
  std::vector<uint8_t> recv_buf_;     // the largest UDP datagram
  SplitMix64 loss_rng_{0}, burst_rng_{0}, dup_rng_{0}, reorder_rng_{0}, jitter_rng_{0};
  bool bad_state_ = false;  // Gilbert-Elliott state
  uint64_t next_arrival_ = 0;
  int64_t first_ns_ = -1;  // arrival of the first packet, the origin of --drift-ppm
  uint64_t max_sent_arrival_ = 0;
  bool sent_any_ = false;
  Endpoint to_;
  int in_fd_ = -1, out_fd_ = -1;
  int signal_pipe_[2] = {-1, -1};
  FILE* drop_log_ = nullptr;  // --drop-log, line-buffered
  FILE* send_log_ = nullptr;  // --send-log, line-buffered
  bool stop_ = false;
  Stats stats_;
};

}  // namespace

int main(int argc, char** argv) {
  Relay relay(ParseArgs(argc, argv));
  relay.Run();
  return 0;
}
