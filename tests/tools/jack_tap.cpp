// jack_tap: records JACK output ports to a WAV file, like jack_rec, and
// writes a cycle log that ties every process cycle of the recording to JACK's
// frame clock and to CLOCK_MONOTONIC, so that tests can find where the
// server stalled and map moments on CLOCK_MONOTONIC (a dropped packet, an
// injected SIGSTOP) to positions in the recording (tests/lib/timeline.py).
//
// Threads: JACK's process thread pushes each recorded cycle (header and
// samples) into a lock-free CycleRing; the main thread pops them, writes the
// WAV file and the log, and waits for SIGINT/SIGTERM in sigtimedwait between
// drains. The process callback never allocates, locks or logs.
//
// The cycle log is text: `#` lines first (`# rate R` among them), then one
// line per recorded cycle, `rec_frame jack_frames wake_mono_ns nframes`.
// The wake time is read at callback entry, before anything else, because
// JACK's own cycle-time estimate (jack_get_cycle_times) drifts after stalls;
// the raw wake time plus the frame counter lets the reader find JACK's
// schedule as the lower envelope of the wake times.
#include <errno.h>
#include <jack/jack.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cycle_ring.hpp"
#include "wav_writer.hpp"

namespace {

using testtools::CycleHeader;
using testtools::CycleRing;
using testtools::WavWriter;

// Every default in one place; --help prints them.
constexpr const char* kDefaultName = "jack_tap";
constexpr int kDefaultBits = 32;
constexpr double kDefaultWaitS = 5.0;
constexpr double kRingSeconds = 4.0;  // the writer may fall this far behind before data is lost
constexpr long kDrainEveryNs = 5'000'000;
constexpr int64_t kFlushEveryNs = 1'000'000'000;  // header sizes and log on disk this often
constexpr long kPortPollNs = 10'000'000;

struct Options {
  std::string out, cycles, name = kDefaultName, ready_file;
  std::optional<double> seconds;
  int bits = kDefaultBits;
  double wait_s = kDefaultWaitS;
  std::vector<std::string> ports;
};

void PrintUsage(FILE* to) {
  std::fprintf(
      to,
      "usage: jack_tap --out FILE.wav --cycles FILE.cycles [options] PORT...\n"
      "Records JACK output PORTs (one channel each) to a WAV file and logs every\n"
      "process cycle against CLOCK_MONOTONIC. The server is $JACK_DEFAULT_SERVER;\n"
      "none is ever started.\n"
      "\nRecording:\n"
      "  --out FILE                 WAV file to write\n"
      "  --bits 32|16               32-bit float or 16-bit PCM (default %d)\n"
      "  --seconds S                stop after S seconds of recorded frames\n"
      "                             (default: at SIGINT/SIGTERM)\n"
      "\nCycle log:\n"
      "  --cycles FILE              one line per recorded cycle:\n"
      "                             rec_frame jack_frames wake_mono_ns nframes\n"
      "                             after '#' lines, '# rate R' among them\n"
      "\nControl:\n"
      "  --name NAME                JACK client name (default %s)\n"
      "  --wait-s S                 wait this long for the PORTs to appear (default %g)\n"
      "  --ready-file F             written with our pid once the first frame is recorded\n"
      "\nRecording starts with the first cycle after every PORT is connected. At the\n"
      "end, and every second, the WAV header's sizes are made true.\n"
      "Exit: 0 done; 1 data lost, server gone or write error; 2 bad usage or set-up.\n",
      kDefaultBits, kDefaultName, kDefaultWaitS);
}

[[noreturn]] void Die(int status, const std::string& why) {
  std::fprintf(stderr, "jack_tap: %s\n", why.c_str());
  std::exit(status);
}
[[noreturn]] void UsageError(const std::string& why) {
  std::fprintf(stderr, "jack_tap: %s (see --help)\n", why.c_str());
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

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      PrintUsage(stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) {
      o.ports.push_back(arg);
      continue;
    }
    if (i + 1 >= argc) UsageError(arg + " needs a value (or unknown option)");
    const std::string v = argv[++i];
    if (arg == "--out") o.out = v;
    else if (arg == "--cycles") o.cycles = v;
    else if (arg == "--name") o.name = v;
    else if (arg == "--ready-file") o.ready_file = v;
    else if (arg == "--seconds") o.seconds = ParseNumber(arg, v, 1e-3, 1e6);
    else if (arg == "--wait-s") o.wait_s = ParseNumber(arg, v, 0, 3600);
    else if (arg == "--bits") {
      if (v != "16" && v != "32") UsageError("--bits needs 16 or 32, got '" + v + "'");
      o.bits = std::stoi(v);
    } else UsageError("unknown option " + arg);
  }
  if (o.out.empty() || o.cycles.empty()) UsageError("--out and --cycles are required");
  if (o.ports.empty()) UsageError("name at least one PORT to record");
  return o;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Writes via a temporary file and rename(), so a script polling the file
// never reads half of it.
void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) Die(1, "fopen(" + tmp + "): " + std::strerror(errno));
  std::fputs(text.c_str(), f);
  if (std::fclose(f) != 0) Die(1, "fclose(" + tmp + "): " + std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    Die(1, "rename(" + tmp + "): " + std::strerror(errno));
}

std::runtime_error IoError(const std::string& call, const std::string& path) {
  return std::runtime_error(call + "(" + path + "): " + std::strerror(errno));
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

void Quiet(const char*) {}

// The JACK client: control (open, connect, start, close) on the main thread,
// the process callback on JACK's real-time thread.
class Tap {
 public:
  // The process callback's state; transitions only in Process().
  //   kWaiting   --start requested-->      kRecording
  //   kRecording --target frames reached--> kDone
  enum class State : std::uint8_t { kWaiting, kRecording, kDone };

  /// Thread: main. Opens the client (never starting a server) and registers
  /// one input per source port. Exits with status 2 on failure.
  explicit Tap(const Options& o) : sources_(o.ports) {
    // libjack explains a failure in several lines of its own; we say it in one.
    jack_set_error_function(&Quiet);
    jack_set_info_function(&Quiet);
    jack_status_t status{};
    client_ = jack_client_open(o.name.c_str(), JackNoStartServer, &status);
    if (client_ == nullptr) {
      const char* env = std::getenv("JACK_DEFAULT_SERVER");
      const std::string which =
          env ? "JACK server '" + std::string(env) + "'" : "the default JACK server";
      Die(2, (status & JackServerFailed) ? "cannot connect to " + which + ": is it running?"
                                         : "jack_client_open failed for " + which);
    }
    rate_ = jack_get_sample_rate(client_);
    for (std::size_t c = 0; c < sources_.size(); ++c) {
      const std::string name = "in_" + std::to_string(c + 1);
      jack_port_t* p = jack_port_register(client_, name.c_str(), JACK_DEFAULT_AUDIO_TYPE,
                                          JackPortIsInput | JackPortIsTerminal, 0);
      if (p == nullptr) Die(2, "jack_port_register(" + name + ") failed");
      ports_.push_back(p);
    }
    buffers_.assign(ports_.size(), nullptr);
    const auto channels = static_cast<std::uint32_t>(ports_.size());
    const auto ring_bytes = static_cast<std::size_t>(kRingSeconds * rate_) * channels * sizeof(float);
    ring_.emplace(ring_bytes, channels);
    target_frames_ = o.seconds ? static_cast<std::uint64_t>(std::llround(*o.seconds * rate_))
                               : UINT64_MAX;
    if (jack_set_process_callback(client_, &Tap::OnProcess, this) != 0)
      Die(2, "jack_set_process_callback failed");
    jack_on_shutdown(client_, &Tap::OnShutdown, this);
  }

  ~Tap() {
    Deactivate();
    jack_client_close(client_);
  }
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;

  /// Thread: main. Activates, waits up to `wait_s` for each source port to
  /// exist, and connects it to its input. Exits with status 2 on failure.
  void ActivateAndConnect(double wait_s) {
    if (jack_activate(client_) != 0) Die(2, "jack_activate failed");
    active_ = true;
    const int64_t deadline = NowNs() + static_cast<int64_t>(wait_s * 1e9);
    for (std::size_t c = 0; c < sources_.size(); ++c) {
      const std::string& src = sources_[c];
      jack_port_t* p = nullptr;
      while ((p = jack_port_by_name(client_, src.c_str())) == nullptr && NowNs() < deadline) {
        const timespec poll{0, kPortPollNs};
        nanosleep(&poll, nullptr);
      }
      if (p == nullptr) Die(2, "no JACK port '" + src + "' (waited " + Seconds(wait_s) + ")");
      if ((jack_port_flags(p) & JackPortIsOutput) == 0)
        Die(2, "'" + src + "' is not an output port");
      const int rc = jack_connect(client_, src.c_str(), jack_port_name(ports_[c]));
      if (rc != 0 && rc != EEXIST)
        Die(2, "jack_connect(" + src + ", " + jack_port_name(ports_[c]) + ") failed");
    }
  }

  /// Thread: main. Recording begins with the next process cycle.
  void Start() noexcept { start_.store(true, std::memory_order_relaxed); }  // no data to publish

  /// Thread: main. After it returns no process callback runs.
  void Deactivate() noexcept {
    if (active_ && !ShutDown()) jack_deactivate(client_);
    active_ = false;
  }

  /// Thread: main. True once the target frames are all pushed to the ring.
  bool Done() const noexcept {
    // acquire: pairs with Process()'s release, so every push before it is visible.
    return state_.load(std::memory_order_acquire) == State::kDone;
  }
  bool ShutDown() const noexcept { return shut_down_.load(std::memory_order_relaxed); }
  std::uint64_t LostCycles() const noexcept { return lost_cycles_.load(std::memory_order_relaxed); }
  CycleRing& Ring() noexcept { return *ring_; }
  std::uint32_t Rate() const noexcept { return rate_; }
  std::uint32_t Channels() const noexcept { return static_cast<std::uint32_t>(ports_.size()); }
  const std::vector<std::string>& Sources() const noexcept { return sources_; }
  const char* Name() const noexcept { return jack_get_client_name(client_); }

 private:
  static int OnProcess(jack_nframes_t nframes, void* self) noexcept {
    return static_cast<Tap*>(self)->Process(nframes);
  }
  static void OnShutdown(void* self) noexcept {
    static_cast<Tap*>(self)->shut_down_.store(true, std::memory_order_relaxed);
  }

  /// Thread: JACK process. Real-time safe: no allocation, no locks; reads
  /// the vDSO clock.
  int Process(jack_nframes_t nframes) noexcept {
    // First thing: the wake time is what the cycle log is about.
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int64_t wake_ns = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
    const jack_nframes_t jack_frames = jack_last_frame_time(client_);

    State state = state_.load(std::memory_order_relaxed);  // only this thread writes it
    if (state == State::kWaiting && start_.load(std::memory_order_relaxed))
      state = State::kRecording;
    if (state != State::kRecording) {
      state_.store(state, std::memory_order_relaxed);
      return 0;
    }
    for (std::size_t c = 0; c < ports_.size(); ++c)
      buffers_[c] = static_cast<const float*>(jack_port_get_buffer(ports_[c], nframes));
    const auto take =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(nframes, target_frames_ - rec_frame_));
    // A full ring loses the cycle; rec_frame still advances, so the writer
    // sees the hole, fills it with silence and the positions stay true.
    if (!ring_->try_push(CycleHeader{rec_frame_, wake_ns, jack_frames, take}, buffers_.data()))
      lost_cycles_.fetch_add(1, std::memory_order_relaxed);  // a count, nothing to publish
    rec_frame_ += take;
    if (rec_frame_ >= target_frames_) state = State::kDone;
    // release: the pushes above happen-before a reader that sees kDone.
    state_.store(state, std::memory_order_release);
    return 0;
  }

  jack_client_t* client_ = nullptr;
  const std::vector<std::string> sources_;
  std::vector<jack_port_t*> ports_;        // fixed after the constructor
  std::vector<const float*> buffers_;      // only referenced by the process thread
  std::optional<CycleRing> ring_;          // process thread pushes, main pops
  std::uint32_t rate_ = 0;
  std::uint64_t target_frames_ = 0;        // fixed after the constructor
  std::uint64_t rec_frame_ = 0;            // only referenced by the process thread
  bool active_ = false;                    // only referenced by main
  // Written by main, read by the process thread.
  std::atomic<bool> start_{false};
  // Written by the process thread, read by main.
  std::atomic<State> state_{State::kWaiting};
  std::atomic<std::uint64_t> lost_cycles_{0};
  // Written by JACK's shutdown callback, read by main.
  std::atomic<bool> shut_down_{false};
};

// The main thread's side: pops cycles, writes the WAV file and the log.
class Writer {
 public:
  Writer(const Options& o, const Tap& tap)
      : o_(o),
        wav_(o.out, tap.Rate(), tap.Channels(),
             o.bits == 16 ? WavWriter::Format::kPcm16 : WavWriter::Format::kFloat32) {
    log_ = std::fopen(o.cycles.c_str(), "w");
    if (log_ == nullptr) throw IoError("fopen", o.cycles);
    std::fprintf(log_, "# jack_tap cycle log\n# rate %u\n# client %s\n# ports", tap.Rate(),
                 tap.Name());
    for (const auto& s : tap.Sources()) std::fprintf(log_, " %s", s.c_str());
    std::fprintf(log_, "\n# columns rec_frame jack_frames wake_mono_ns nframes\n");
  }
  ~Writer() {
    if (log_ != nullptr) std::fclose(log_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Thread: main. Writes every cycle the ring holds now; throws on I/O error.
  void Drain(CycleRing& ring) {
    CycleHeader h;
    while (ring.try_pop(h, planar_)) {
      if (h.rec_frame > wav_.frames()) {  // cycles lost to a full ring
        lost_frames_ += h.rec_frame - wav_.frames();
        wav_.WriteSilence(h.rec_frame - wav_.frames());
      }
      wav_.WritePlanar(planar_.data(), h.nframes, h.nframes);
      std::fprintf(log_, "%llu %u %lld %u\n", static_cast<unsigned long long>(h.rec_frame),
                   h.jack_frames, static_cast<long long>(h.wake_ns), h.nframes);
      ++cycles_;
      if (cycles_ == 1 && !o_.ready_file.empty()) {
        Flush();
        WriteFileAtomically(o_.ready_file, std::to_string(getpid()) + "\n");
      }
    }
    if (NowNs() - last_flush_ns_ >= kFlushEveryNs) Flush();
  }

  /// Thread: main. Makes the files whole; throws on I/O error.
  void Close() {
    wav_.Close();
    if (std::fclose(log_) != 0) throw IoError("fclose", o_.cycles);
    log_ = nullptr;
  }

  std::uint64_t frames() const noexcept { return wav_.frames(); }
  std::uint64_t cycles() const noexcept { return cycles_; }
  std::uint64_t lost_frames() const noexcept { return lost_frames_; }

 private:
  void Flush() {
    wav_.Flush();
    if (std::fflush(log_) != 0) throw IoError("fflush", o_.cycles);
    last_flush_ns_ = NowNs();
  }

  const Options& o_;
  WavWriter wav_;
  FILE* log_ = nullptr;
  std::vector<float> planar_;
  std::uint64_t cycles_ = 0, lost_frames_ = 0;
  int64_t last_flush_ns_ = NowNs();
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  // SIGINT/SIGTERM are taken by sigtimedwait below. Blocked before JACK
  // starts its threads, which inherit the mask, so no thread dies of them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Tap tap(o);
  std::optional<Writer> writer;
  try {
    writer.emplace(o, tap);
  } catch (const std::exception& e) {
    Die(2, e.what());
  }
  tap.ActivateAndConnect(o.wait_s);
  tap.Start();

  std::string failure;
  try {
    bool stop = false;
    while (!stop) {
      writer->Drain(tap.Ring());
      if (tap.Done() && tap.Ring().empty()) break;
      if (tap.ShutDown()) {
        failure = "the JACK server shut down";
        break;
      }
      const timespec wait{0, kDrainEveryNs};
      siginfo_t info;
      stop = sigtimedwait(&stop_signals, &info, &wait) > 0;
    }
    tap.Deactivate();
    writer->Drain(tap.Ring());  // what the last callbacks pushed
    writer->Close();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  const double seconds = double(writer->frames()) / tap.Rate();
  std::fprintf(stderr, "jack_tap: %llu frames (%.3f s) in %llu cycles from %s to %s\n",
               static_cast<unsigned long long>(writer->frames()), seconds,
               static_cast<unsigned long long>(writer->cycles()), tap.Name(), o.out.c_str());
  if (failure.empty() && tap.LostCycles() > 0)
    failure = std::to_string(tap.LostCycles()) + " cycles lost to a full ring (" +
              std::to_string(writer->lost_frames()) + " frames written as silence)";
  if (!failure.empty()) Die(1, failure);
  return 0;
}
