// resampler_bench: the variable-ratio resampler candidates for the JACK
// process callback, measured the way the callback will drive them.
//
// rtp2jack decodes Opus at 48 kHz and must play at the JACK rate while
// absorbing the sender's clock drift (up to ±2000 ppm), so the callback runs
// a resampler whose ratio a controller nudges every period. This program
// measures Debian's four candidates, and rtp2jack's own audio::Resampler,
// on what that job needs:
//
//   - CPU per second of stereo audio, output-driven (exactly `nframes` out per
//     call, input pulled as needed) with the ratio changed every block, next
//     to the CPU of decoding the same audio with libopus: decoding, not
//     resampling, must dominate the receiver's CPU (at 44.1, 48 and 96 kHz
//     out);
//   - the worst single call (the callback has a deadline, not an average);
//   - THD+N of a 1, a 10 and a 19 kHz sine at a fixed ratio, and the -1 dB
//     passband edge (Opus fullband stops at 20 kHz);
//   - the delay it adds, in output samples, as the receiver will see it;
//   - whether its calls allocate or lock, counted, also while the ratio
//     sweeps the whole ±2000 ppm range.
//
// It prints one Markdown table of the figures, a table of the real-time
// counts, and what each library does when the ratio changes (read from its
// source), and writes them with the date, machine and command to
// bench/results/resampler-latest.md. It is a benchmark: it exits non-zero
// only when it could not measure (a library refused a set-up, a resampler
// produced short blocks, the THD+N self-test failed).
//
// Built standalone by bench/build_resampler_bench.sh (g++ -O2, pkg-config);
// one file on purpose, so the whole method can be read in one place.

#include <dlfcn.h>
#include <opus.h>
#include <pthread.h>
#include <samplerate.h>
#include <soxr.h>
#include <speex/speex_resampler.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zita-resampler/vresampler.h>

#include "audio/resampler.hpp"

#include <algorithm>
#include <atomic>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

// Versions and the build line come from bench/build_resampler_bench.sh.
#ifndef RB_VERSIONS
#define RB_VERSIONS "unknown"
#endif
#ifndef RB_BUILD
#define RB_BUILD "unknown"
#endif
#ifndef RB_DEFAULT_OUT
#define RB_DEFAULT_OUT "bench/results/resampler-latest.md"
#endif

namespace {

// Every default in one place; --help prints them.
namespace defaults {
constexpr double kInRate = 48000;        // Opus always decodes at 48 kHz
constexpr int kBlock = 128;              // JACK period asked of the resampler
constexpr double kSeconds = 60;          // audio per CPU run
constexpr int kReps = 3;                 // CPU rounds; the medians count
constexpr double kWobblePpm = 200;       // ratio wobble in CPU runs, changed every block
constexpr double kWobblePeriodS = 5;     // a slow sine, like a controller's steering
constexpr double kMaxDriftPpm = 2000;    // what the controller may have to absorb
constexpr int kPullChunk = 64;           // most frames a pull-API resampler gets per request
constexpr int kWarmupCalls = 10;         // calls left out of "worst call"
constexpr int kOpusBitrate = 128000;
constexpr int kOpusFrame = 960;          // 20 ms at 48 kHz
}  // namespace defaults

constexpr double kPi = std::numbers::pi;

// ---------------------------------------------------------------------------
// Clocks

/// CPU time of this thread in seconds: what the audio thread would spend,
/// not counting time other processes on this shared machine take from it.
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ---------------------------------------------------------------------------
// Allocation and lock counting (the method of tests/rt_alloc_check.cpp)
//
// This executable defines malloc, calloc, realloc, free, the aligned
// allocators and pthread_mutex_lock; ELF symbol interposition makes the
// resampler libraries call these, which forward to glibc's __libc_* entry
// points. What happens while t_counting is set (around the resampler calls
// only) is counted, so "does changing the ratio allocate or lock" is
// measured, not just read from the source. The cost when not counting is one
// thread-local test per allocation, and the libraries do not allocate in
// steady state anyway.

}  // namespace

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

namespace {
thread_local bool t_counting = false;  // only referenced by its own thread
// Single-threaded program: relaxed is enough, atomics only for tidiness.
std::atomic<unsigned long> g_allocs{0}, g_frees{0}, g_locks{0};
inline void count(std::atomic<unsigned long>& c) {
  if (t_counting) c.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(size_t n) {
  count(g_allocs);
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
  count(g_allocs);
  return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  count(g_allocs);
  return __libc_realloc(p, n);
}
void free(void* p) {
  if (p) count(g_frees);
  __libc_free(p);
}
void* memalign(size_t a, size_t n) {
  count(g_allocs);
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) {
  count(g_allocs);
  return __libc_memalign(a, n);
}
int posix_memalign(void** p, size_t a, size_t n) {
  count(g_allocs);
  *p = __libc_memalign(a, n);
  return *p ? 0 : ENOMEM;
}
int pthread_mutex_lock(pthread_mutex_t* m) {
  using Fn = int (*)(pthread_mutex_t*);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pthread_mutex_lock"));
  count(g_locks);
  return real(m);
}
}  // extern "C"

// operator new/delete go through malloc/free in libstdc++ already, so they
// are counted without their own definitions.

namespace {

/// Counts of what the resampler did while being counted.
struct RtCounts {
  unsigned long allocs = 0, frees = 0, locks = 0;
  unsigned long total() const { return allocs + frees + locks; }
};

/// Counts everything in its scope (RAII around the resampler calls).
class Counting {
 public:
  Counting() {
    g_allocs = g_frees = g_locks = 0;
    t_counting = true;
  }
  ~Counting() { t_counting = false; }
  RtCounts counts() const { return {g_allocs.load(), g_frees.load(), g_locks.load()}; }
};

/// Proves the interposition works before a zero is trusted.
bool counting_works() {
  RtCounts c;
  {
    Counting scope;
    void* p = std::malloc(16);
    std::free(p);
    c = scope.counts();
  }
  return c.allocs == 1 && c.frees == 1;
}

// ---------------------------------------------------------------------------
// Input side

/// Decoded audio waiting for the resampler: stereo interleaved frames handed
/// out in order, as the callback will take them from the jitter buffer.
/// `pos` counts the frames a resampler has taken, so the delay measurement
/// can see when each input sample left the buffer.
struct Feed {
  const float* data = nullptr;
  size_t frames = 0;
  size_t pos = 0;
  size_t chunk = defaults::kPullChunk;  // for libraries that call us for input

  /// Hands out up to `chunk` (and `limit`) frames, fewer at the end, and
  /// counts them taken.
  size_t pull(const float** p, size_t limit = SIZE_MAX) {
    const size_t n = std::min({chunk, limit, frames - pos});
    *p = data + 2 * pos;
    pos += n;
    return n;
  }
  const float* next() const { return data + 2 * pos; }
  size_t available() const { return frames - pos; }
};

// ---------------------------------------------------------------------------
// The candidates, each behind the interface the callback needs

/// One resampler configured as the callback would use it. `ratio` is always
/// output rate / input rate.
class Resampler {
 public:
  virtual ~Resampler() = default;
  /// Set-up, off the audio thread: may allocate. `nominal` is JACK rate /
  /// 48000 (what the controller steers around), `ratio` the first ratio.
  virtual bool open(double nominal, double ratio, Feed* feed) = 0;
  /// The callback's call: exactly `n` stereo frames into `out`, the ratio
  /// moving to `ratio` over this block, input pulled from the feed as
  /// needed. Returns frames produced (fewer only if the feed ran dry).
  virtual int process(double ratio, float* out, int n) = 0;
};

// libsamplerate's callback API is output-driven by design: src_callback_read
// asks for `n` frames and calls back for input. Passing the new ratio with
// each read makes it ramp linearly from the last one over the block.
class LsrResampler final : public Resampler {
 public:
  explicit LsrResampler(int type) : type_(type) {}
  ~LsrResampler() override {
    if (st_) src_delete(st_);
  }
  bool open(double, double ratio, Feed* feed) override {
    feed_ = feed;
    int err = 0;
    st_ = src_callback_new(&LsrResampler::pull, type_, 2, &err, this);
    if (!st_) return false;
    return src_set_ratio(st_, ratio) == 0;
  }
  int process(double ratio, float* out, int n) override {
    return int(src_callback_read(st_, ratio, n, out));
  }

 private:
  static long pull(void* self, float** data) {
    const float* p = nullptr;
    const long n = long(static_cast<LsrResampler*>(self)->feed_->pull(&p));
    *data = const_cast<float*>(p);  // libsamplerate only reads it
    return n;
  }
  int type_;
  SRC_STATE* st_ = nullptr;
  Feed* feed_ = nullptr;
};

/// The fraction p/q closest to x with p and q at most `limit` (continued
/// fractions, with the last semiconvergent), in lowest terms.
std::pair<uint32_t, uint32_t> best_fraction(double x, uint64_t limit) {
  uint64_t h0 = 0, h1 = 1, k0 = 1, k1 = 0;  // h1/k1: the last convergent
  double f = x;
  for (int i = 0; i < 64; ++i) {
    const double whole = std::floor(f);
    const auto a = uint64_t(whole);
    const uint64_t h2 = a * h1 + h0, k2 = a * k1 + k0;
    if (h2 > limit || k2 > limit) {
      uint64_t t = (limit - h0) / h1;
      if (k1) t = std::min(t, (limit - k0) / k1);
      const uint64_t hs = t * h1 + h0, ks = t * k1 + k0;
      if (ks && std::fabs(double(hs) / double(ks) - x) < std::fabs(double(h1) / double(k1) - x))
        return {uint32_t(hs), uint32_t(ks)};
      break;
    }
    h0 = h1, h1 = h2, k0 = k1, k1 = k2;
    if (f - whole < 1e-12) break;
    f = 1.0 / (f - whole);
  }
  return {uint32_t(h1), uint32_t(k1)};
}

// speexdsp takes the ratio as a fraction in/out of two 32-bit integers, and
// both must stay below 2^16. On a change, speex_resampler_set_rate_frac
// rescales the phase with multiply_frac(), which computes phase * new_den in
// 32 bits; when that would overflow it returns RESAMPLER_ERR_OVERFLOW after
// storing the new fraction but before rebuilding the filter, and the next
// process call reads outside its table (resample.c, SpeexDSP-1.2.1; found
// here as a segfault with in = 48000000). It also compares the fraction it
// is given with the one it stored reduced, so an unreduced fraction is
// "changed" on every call. Hence: the closest reduced fraction with both
// terms <= 65535, which still steers in steps far below 0.01 ppm.
// The push API consumes exactly the input it needs and says how much.
class SpeexResampler final : public Resampler {
 public:
  explicit SpeexResampler(int quality) : quality_(quality) {}
  ~SpeexResampler() override {
    if (st_) speex_resampler_destroy(st_);
  }
  bool open(double, double ratio, Feed* feed) override {
    feed_ = feed;
    frac_ = best_fraction(1.0 / ratio, kLimit);
    int err = 0;
    st_ = speex_resampler_init_frac(2, frac_.first, frac_.second, uint32_t(defaults::kInRate),
                                    uint32_t(std::lround(defaults::kInRate * ratio)), quality_, &err);
    return st_ != nullptr && err == RESAMPLER_ERR_SUCCESS;
  }
  int process(double ratio, float* out, int n) override {
    const auto frac = best_fraction(1.0 / ratio, kLimit);
    if (frac != frac_) {  // every change rebuilds the filter table (update_filter)
      frac_ = frac;
      if (speex_resampler_set_rate_frac(st_, frac_.first, frac_.second, uint32_t(defaults::kInRate),
                                        uint32_t(std::lround(defaults::kInRate * ratio))) !=
          RESAMPLER_ERR_SUCCESS)
        return 0;  // the state is no longer usable: report a short block
    }
    int done = 0;
    while (done < n) {
      spx_uint32_t in_len = spx_uint32_t(std::min<size_t>(feed_->available(), 2 * size_t(n) + 64));
      spx_uint32_t out_len = spx_uint32_t(n - done);
      speex_resampler_process_interleaved_float(st_, feed_->next(), &in_len, out + 2 * done, &out_len);
      feed_->pos += in_len;
      done += int(out_len);
      if (in_len == 0 && out_len == 0) break;  // feed dry
    }
    return done;
  }

 private:
  static constexpr uint64_t kLimit = 65535;
  int quality_;
  std::pair<uint32_t, uint32_t> frac_{};
  SpeexResamplerState* st_ = nullptr;
  Feed* feed_ = nullptr;
};

// soxr's variable-rate engine (SOXR_VR). Its examples/5-variable-rate.c says
// the irate/orate given to soxr_create must be the largest in/out ratio that
// will be used. soxr_set_io_ratio(.., slew_len = n) moves the ratio smoothly
// over the next n output samples; soxr_output with an input function is the
// output-driven form.
class SoxrResampler final : public Resampler {
 public:
  explicit SoxrResampler(unsigned long recipe) : recipe_(recipe) {}
  ~SoxrResampler() override {
    if (st_) soxr_delete(st_);
  }
  bool open(double nominal, double ratio, Feed* feed) override {
    feed_ = feed;
    const soxr_quality_spec_t q = soxr_quality_spec(recipe_, SOXR_VR);
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const double max_io = (1.0 / nominal) * (1.0 + 1.5 * defaults::kMaxDriftPpm * 1e-6);
    soxr_error_t err = nullptr;
    st_ = soxr_create(max_io, 1.0, 2, &err, &io, &q, nullptr);
    if (!st_ || err) return false;
    if (soxr_set_io_ratio(st_, 1.0 / ratio, 0)) return false;
    return soxr_set_input_fn(st_, &SoxrResampler::pull, this, feed->chunk) == nullptr;
  }
  int process(double ratio, float* out, int n) override {
    soxr_set_io_ratio(st_, 1.0 / ratio, size_t(n));
    return int(soxr_output(st_, out, size_t(n)));
  }

 private:
  static size_t pull(void* self, soxr_in_t* data, size_t requested) {
    const float* p = nullptr;
    const size_t n = static_cast<SoxrResampler*>(self)->feed_->pull(&p, requested);
    *data = p;
    return n;
  }
  unsigned long recipe_;
  soxr_t st_ = nullptr;
  Feed* feed_ = nullptr;
};

// zita-resampler's VResampler is set up for the nominal ratio and steered by
// set_rratio (a factor on it, clamped to 0.95..16). set_rrfilt smooths a
// step in the ratio over about one block (zita-njbridge smooths the same way,
// with set_rrfilt(100)). Input is
// pushed; process() stops as soon as the output is full, so it takes exactly
// the input it needs.
class ZitaResampler final : public Resampler {
 public:
  explicit ZitaResampler(unsigned hlen) : hlen_(hlen) {}
  bool open(double nominal, double ratio, Feed* feed) override {
    feed_ = feed;
    nominal_ = nominal;
    if (vr_.setup(nominal, 2, hlen_) != 0) return false;
    vr_.set_rrfilt(defaults::kBlock);
    vr_.set_rratio(ratio / nominal_);
    return true;
  }
  int process(double ratio, float* out, int n) override {
    vr_.set_rratio(ratio / nominal_);
    vr_.out_count = unsigned(n);
    vr_.out_data = out;
    while (vr_.out_count > 0) {
      const size_t avail = std::min<size_t>(feed_->available(), 2 * size_t(n) + 64);
      if (avail == 0) break;  // feed dry
      vr_.inp_count = unsigned(avail);
      vr_.inp_data = const_cast<float*>(feed_->next());  // only read
      vr_.process();
      feed_->pos += avail - vr_.inp_count;
    }
    return n - int(vr_.out_count);
  }

 private:
  unsigned hlen_;
  double nominal_ = 1;
  VResampler vr_;
  Feed* feed_ = nullptr;
};

// rtp2jack's own audio::Resampler (audio/resampler.cpp, compiled into this
// binary by build_resampler_bench.sh): a 32-tap windowed sinc read from a
// 512-phase table with linear phase interpolation. Output-driven like the
// callback: process() is offered all the input there is and takes only what
// the next outputs need; the ratio given glides linearly from the previous
// call's across the block.
class OwnResampler final : public Resampler {
 public:
  bool open(double, double, Feed* feed) override {
    feed_ = feed;
    rs_ = std::make_unique<audio::Resampler>(2);  // allocates its tables here
    return true;
  }
  int process(double ratio, float* out, int n) override {
    int done = 0;
    while (done < n) {
      const auto r = rs_->process(feed_->next(), uint32_t(feed_->available()), out + 2 * done,
                                  uint32_t(n - done), ratio);
      feed_->pos += r.used;
      done += int(r.generated);
      if (r.generated == 0 && r.used == 0) break;  // feed dry
    }
    return done;
  }

 private:
  std::unique_ptr<audio::Resampler> rs_;
  Feed* feed_ = nullptr;
};

struct Candidate {
  std::string name;
  std::string licence;
  std::function<std::unique_ptr<Resampler>()> make;
};

std::vector<Candidate> candidates() {
  auto lsr = [](const char* name, int type) {
    return Candidate{std::string("libsamplerate ") + name, "BSD-2",
                     [type] { return std::make_unique<LsrResampler>(type); }};
  };
  auto speex = [](int q) {
    return Candidate{"speexdsp q" + std::to_string(q), "BSD-3",
                     [q] { return std::make_unique<SpeexResampler>(q); }};
  };
  auto zita = [](unsigned h) {
    return Candidate{"zita VResampler hlen " + std::to_string(h), "GPL-3",
                     [h] { return std::make_unique<ZitaResampler>(h); }};
  };
  return {
      lsr("SRC_LINEAR", SRC_LINEAR),
      lsr("SRC_SINC_FASTEST", SRC_SINC_FASTEST),
      lsr("SRC_SINC_MEDIUM_QUALITY", SRC_SINC_MEDIUM_QUALITY),
      speex(3),
      speex(5),
      speex(8),
      // LQ and MQ are checked below to give the very same output as HQ: the
      // VR engine (vr32.c) has one fixed filter and ignores the quality.
      Candidate{"soxr SOXR_VR (HQ)", "LGPL-2.1",
                [] { return std::make_unique<SoxrResampler>(SOXR_HQ); }},
      zita(16),
      zita(32),
      zita(48),
      Candidate{"rtp2jack own, 32 taps", "rtp2jack's own",
                [] { return std::make_unique<OwnResampler>(); }},
  };
}

// What changing the ratio costs each library, read from its source
// (libsamplerate 0.2.2 src/samplerate.c, src_sinc.c; speexdsp 1.2.1
// libspeexdsp/resample.c; soxr 0.1.3 src/soxr.c, vr32.c, fifo.h;
// zita-resampler vresampler.cc; rtp2jack audio/resampler.cpp). Printed under
// the table.
struct LibraryFacts {
  const char* library;
  const char* licence;
  const char* ratio_change;
  const char* process;
};
constexpr std::array kFacts{
    LibraryFacts{"libsamplerate", "BSD-2-Clause",
                 "ratio passed with each src_callback_read/src_process and ramped linearly over "
                 "the block; src_set_ratio only stores it. No allocation, no lock",
                 "no allocation after src_new (buffers sized there); bounded: "
                 "work per output frame fixed by the filter length"},
    LibraryFacts{"speexdsp", "BSD-3-Clause",
                 "every speex_resampler_set_rate_frac that changes the fraction calls update_filter(): "
                 "recomputes the whole windowed-sinc table (filter length x oversampling sincs), and "
                 "realloc()s the table or the history when they must grow (leaving an exact small "
                 "fraction such as 1/1, or a longer filter when downsampling more). Not real-time safe. "
                 "Both terms of the fraction must stay <= 65535, or the call fails half-way and the next "
                 "process call reads out of bounds (seen here as a segfault). No lock. A step in ratio, "
                 "no ramp",
                 "no allocation in process; bounded"},
    LibraryFacts{"soxr (SOXR_VR)", "LGPL-2.1+",
                 "soxr_set_io_ratio only computes a step and a slew over slew_len outputs: smooth, "
                 "no allocation, no lock. Quality settings are ignored in VR mode (one fixed "
                 "filter); VHQ and up cannot vary the ratio at all",
                 "its FIFOs grow with realloc() inside soxr_output/soxr_process (fifo_reserve) "
                 "until they reach their working size, so the first calls allocate, and a later call "
                 "asking for more than ever before would again; soxr_delay() returns a constant 100 "
                 "in VR mode (TODO in vr32.c), so the controller cannot read the resampler's fill"},
    LibraryFacts{"zita-resampler (VResampler)", "GPL-3.0+",
                 "set_rratio/set_rrfilt only compute a step; the step is smoothed by a first-order "
                 "filter. No allocation, no lock (the shared coefficient table's mutex is taken in "
                 "setup only)",
                 "no allocation in process(); bounded (one memmove of 2*hlen frames per wrap)"},
    LibraryFacts{"rtp2jack audio::Resampler", "rtp2jack's own",
                 "ratio passed with each process() and glided linearly from the previous call's "
                 "across the call's output; nothing else to update. No allocation, no lock",
                 "no allocation after construction (tables and a 288-frame history sized there); "
                 "takes only the input the next outputs need; bounded: 32 taps per output frame "
                 "plus one copy of the history when more than 128 frames are spent"},
};

// ---------------------------------------------------------------------------
// Signals

/// Stereo interleaved test signal standing in for music: a few partials with
/// slow vibrato plus low-level noise, different in each channel, peak about
/// 0.7. Its content does not change a resampler's cost (no branch on data),
/// but it keeps the numbers away from denormals and the compiler honest.
std::vector<float> music_like(size_t frames) {
  std::vector<float> v(2 * frames);
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> noise(-1.0f, 1.0f);
  const double fs = defaults::kInRate;
  for (size_t i = 0; i < frames; ++i) {
    const double t = double(i) / fs;
    for (int c = 0; c < 2; ++c) {
      const double vib = 1.0 + 0.003 * std::sin(2 * kPi * (5.0 + c) * t);
      double s = 0.25 * std::sin(2 * kPi * 220.0 * (1 + c * 0.5) * vib * t) +
                 0.15 * std::sin(2 * kPi * 1370.0 * vib * t + c) +
                 0.08 * std::sin(2 * kPi * 5210.0 * t) + 0.04 * std::sin(2 * kPi * 11300.0 * t);
      s += 0.05 * noise(rng);
      v[2 * i + c] = float(s);
    }
  }
  return v;
}

std::vector<float> stereo_sine(size_t frames, double freq, double amp) {
  std::vector<float> v(2 * frames);
  const double w = 2 * kPi * freq / defaults::kInRate;
  for (size_t i = 0; i < frames; ++i) {
    v[2 * i] = float(amp * std::sin(w * double(i)));
    v[2 * i + 1] = float(amp * std::sin(w * double(i) + 1.0));  // another phase
  }
  return v;
}

// ---------------------------------------------------------------------------
// THD+N: a least-squares sine fit (IEEE Std 1057's four-parameter fit:
// amplitude, phase, offset, and frequency by Gauss-Newton), subtracted; the
// residual is harmonics, noise and the resampler's images and aliases. The
// frequency is fitted rather than assumed because each library represents
// the ratio with its own rounding (speexdsp: an integer fraction), and a
// 1e-8 frequency error over 2 s would already read near -90 dB. A Hann weight
// and an integer number of cycles keep the ends of the record from
// mattering.

struct SineFit {
  double amplitude = 0;
  double omega = 0;  // radians per sample
  double thdn_db = 0;
};

/// Solves the n x n system m * x = r in place (Gaussian elimination with
/// partial pivoting); n <= 4 here.
template <size_t N>
std::array<double, N> solve(std::array<std::array<double, N>, N> m, std::array<double, N> r) {
  for (size_t k = 0; k < N; ++k) {
    size_t p = k;
    for (size_t i = k + 1; i < N; ++i)
      if (std::fabs(m[i][k]) > std::fabs(m[p][k])) p = i;
    std::swap(m[k], m[p]);
    std::swap(r[k], r[p]);
    for (size_t i = k + 1; i < N; ++i) {
      const double f = m[i][k] / m[k][k];
      for (size_t j = k; j < N; ++j) m[i][j] -= f * m[k][j];
      r[i] -= f * r[k];
    }
  }
  std::array<double, N> x{};
  for (size_t k = N; k-- > 0;) {
    double s = r[k];
    for (size_t j = k + 1; j < N; ++j) s -= m[k][j] * x[j];
    x[k] = s / m[k][k];
  }
  return x;
}

SineFit fit_sine(const std::vector<double>& y, double omega0) {
  const size_t len = y.size();
  const double mid = double(len - 1) / 2;  // centred time keeps the system well conditioned
  std::vector<double> w(len);
  for (size_t n = 0; n < len; ++n) w[n] = 0.5 - 0.5 * std::cos(2 * kPi * (double(n) + 0.5) / double(len));

  double omega = omega0, a = 0, b = 0, c = 0;
  // Weighted least squares over the columns cos, sin, 1 and (when fitting
  // the frequency) the derivative of the model with respect to omega.
  auto fit = [&](bool with_freq) {
    constexpr size_t N = 4;
    std::array<std::array<double, N>, N> m{};
    std::array<double, N> r{};
    const size_t k = with_freq ? 4 : 3;
    for (size_t n = 0; n < len; ++n) {
      const double t = double(n) - mid, cs = std::cos(omega * t), sn = std::sin(omega * t);
      const std::array<double, N> col{cs, sn, 1.0, t * (-a * sn + b * cs)};
      for (size_t i = 0; i < k; ++i) {
        r[i] += w[n] * col[i] * y[n];
        for (size_t j = 0; j < k; ++j) m[i][j] += w[n] * col[i] * col[j];
      }
    }
    if (!with_freq) m[3][3] = 1, r[3] = 0;  // leave the fourth unknown at 0
    const auto x = solve<N>(m, r);
    a = x[0], b = x[1], c = x[2];
    omega += x[3];
  };
  fit(false);
  for (int it = 0; it < 6; ++it) fit(true);
  fit(false);

  double res = 0, wsum = 0;
  for (size_t n = 0; n < len; ++n) {
    const double t = double(n) - mid;
    const double e = y[n] - (a * std::cos(omega * t) + b * std::sin(omega * t) + c);
    res += w[n] * e * e;
    wsum += w[n];
  }
  const double fund_power = (a * a + b * b) / 2;
  SineFit f;
  f.amplitude = std::sqrt(a * a + b * b);
  f.omega = omega;
  f.thdn_db = 10 * std::log10(std::max(res / wsum, 1e-300) / fund_power);
  return f;
}

/// The analysed stretch of a record: from `start`, the whole number of
/// cycles of `omega` closest to `want` samples.
std::vector<double> cycles(const std::vector<float>& interleaved, int channel, size_t start, size_t want,
                           double omega) {
  const double period = 2 * kPi / omega;
  const size_t len = size_t(std::llround(std::max(1.0, std::round(double(want) / period)) * period));
  std::vector<double> y(len);
  for (size_t n = 0; n < len; ++n) y[n] = interleaved[2 * (start + n) + size_t(channel)];
  return y;
}

/// The fit's own check: a pure sine in double must read far below -120 dB;
/// known noise and a known harmonic must read what they are. Returns false
/// (and says why) if the method is broken, so no table is printed from it.
bool thdn_self_test(std::string* report) {
  const size_t len = 88200;
  const double omega = 2 * kPi * 1000.0 / 44104.41, amp = 0.5;
  std::vector<double> pure(len), noisy(len), harm(len), single(len);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> gauss(0.0, 1e-3);
  for (size_t n = 0; n < len; ++n) {
    const double s = amp * std::sin(omega * double(n) + 0.3);
    pure[n] = s;
    single[n] = double(float(s));
    noisy[n] = s + gauss(rng);
    harm[n] = s + 1e-3 * std::sin(2 * omega * double(n) + 0.3);
  }
  const double off = omega * (1 + 3e-7);  // start the fit slightly off frequency
  const double r_pure = fit_sine(pure, off).thdn_db;
  const double r_single = fit_sine(single, off).thdn_db;
  const double r_noisy = fit_sine(noisy, off).thdn_db;
  const double r_harm = fit_sine(harm, off).thdn_db;
  const double want_noise = 20 * std::log10(1e-3 / (amp / std::sqrt(2.0)));
  const double want_harm = 20 * std::log10(1e-3 / amp);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "THD+N self-test (88200 samples, fit started 0.3 ppm off frequency): pure sine in double "
                "%.1f dB (must be < -120); rounded to float %.1f dB; with Gaussian noise of RMS 1e-3 "
                "%.2f dB (expected %.2f); with a 2nd harmonic at 1e-3 %.2f dB (expected %.2f)",
                r_pure, r_single, r_noisy, want_noise, r_harm, want_harm);
  *report = buf;
  return r_pure < -120 && std::fabs(r_noisy - want_noise) < 0.3 && std::fabs(r_harm - want_harm) < 0.1;
}

// ---------------------------------------------------------------------------
// Measurements

struct Case {
  const char* label;
  double out_rate;  // nominal JACK rate
  double ppm;       // where the controller has settled: above nominal when JACK's clock is the faster
  double nominal() const { return out_rate / defaults::kInRate; }
  double ratio() const { return nominal() * (1 + ppm * 1e-6); }
};

struct Options {
  double seconds = defaults::kSeconds;
  int reps = defaults::kReps;
  std::string out = RB_DEFAULT_OUT;
  std::string only;  // run only candidates whose name contains this
};

/// How the ratio moves during a run, per block k.
using Steering = std::function<double(size_t k)>;

/// The CPU runs' steering: the case's ratio with a slow ±200 ppm sine on it,
/// a new value every block.
Steering wobble(const Case& cs) {
  return [cs](size_t k) {
    const double t = double(k) * defaults::kBlock / cs.out_rate;
    return cs.ratio() * (1 + defaults::kWobblePpm * 1e-6 * std::sin(2 * kPi * t / defaults::kWobblePeriodS));
  };
}
Steering fixed(const Case& cs) {
  return [r = cs.ratio()](size_t) { return r; };
}
/// The whole steering range: from the nominal ratio up to +2000 ppm, down to
/// -2000 ppm and back (a triangle) over `seconds`. At equal rates it starts
/// at ratio 1 and crosses it, where libraries switch between their up- and
/// down-sampling paths.
Steering sweep(const Case& cs, double seconds) {
  return [cs, seconds](size_t k) {
    const double x = std::fmod(double(k) * defaults::kBlock / cs.out_rate / seconds, 1.0);  // 0..1
    const double tri = x < 0.25 ? 4 * x : x < 0.75 ? 2 - 4 * x : 4 * x - 4;                 // 0,1,-1,0
    return cs.nominal() * (1 + tri * defaults::kMaxDriftPpm * 1e-6);
  };
}

struct Run {
  bool ok = false;      // set-up accepted and every block full
  double cpu_s = 0;     // thread CPU of the whole loop
  double checksum = 0;  // to compare runs and keep the compiler honest
  RtCounts rt;          // allocations and locks inside the resampler calls
  RtCounts rt_first_s;  // the same, in the first second only
  std::vector<double> call_us;  // per call, when asked for
  double worst_call_us() const {  // after the warm-up calls
    return *std::max_element(call_us.begin() + defaults::kWarmupCalls, call_us.end());
  }
};

/// One pass over `seconds` of audio in blocks of kBlock output frames, the
/// way the callback drives it. Timing each call costs two clock reads per
/// call, which would inflate totals by a few per cent, so it is optional.
Run run_blocks(const Candidate& cand, const Case& cs, const std::vector<float>& input, double seconds,
               const Steering& ratio_at, bool time_calls) {
  Run run;
  Feed feed{input.data(), input.size() / 2};
  auto rs = cand.make();
  if (!rs->open(cs.nominal(), ratio_at(0), &feed)) return run;
  const int n = defaults::kBlock;
  const size_t blocks = size_t(std::ceil(seconds * cs.out_rate / n));
  std::vector<float> out(2 * size_t(n));
  if (time_calls) run.call_us.reserve(blocks);  // nothing may allocate inside Counting
  bool full = true;
  {
    Counting counting;
    const double t0 = thread_cpu_s();
    const size_t first_s = size_t(cs.out_rate / n);
    for (size_t k = 0; k < blocks; ++k) {
      if (k == first_s) run.rt_first_s = counting.counts();
      const double ratio = ratio_at(k);
      const double c0 = time_calls ? thread_cpu_s() : 0;
      full &= rs->process(ratio, out.data(), n) == n;
      if (time_calls) run.call_us.push_back((thread_cpu_s() - c0) * 1e6);
      run.checksum += double(out[0]) + out[2 * size_t(n) - 1];
    }
    run.cpu_s = thread_cpu_s() - t0;
    run.rt = counting.counts();
  }
  run.ok = full;
  return run;
}

/// CPU figures of one candidate, gathered over the rounds (see main: every
/// round runs every candidate once, so a slow spell on this shared machine
/// hits them all rather than one).
struct Cpu {
  std::vector<double> a_wobble, a_fixed, b_wobble, c_wobble, a_worst, a_first;  // per round
  RtCounts rt, rt_first_s;     // the call-by-call 44.1k runs, worst round
  double first_checksum = NAN;
  bool ok = true, deterministic = true;

  /// Runs the round's five passes and keeps their figures.
  void round(const Candidate& cand, const Case& a, const Case& b, const Case& c, const std::vector<float>& input,
             double seconds) {
    const Run w = run_blocks(cand, a, input, seconds, wobble(a), false);
    const Run f = run_blocks(cand, a, input, seconds, fixed(a), false);
    const Run bw = run_blocks(cand, b, input, seconds, wobble(b), false);
    const Run cw = run_blocks(cand, c, input, seconds, wobble(c), false);
    const Run t = run_blocks(cand, a, input, seconds, wobble(a), true);
    ok &= w.ok && f.ok && bw.ok && cw.ok && t.ok;
    if (!ok) return;
    if (std::isnan(first_checksum)) first_checksum = w.checksum;
    deterministic &= w.checksum == first_checksum && t.checksum == first_checksum;
    a_wobble.push_back(w.cpu_s * 1e6 / seconds);
    a_fixed.push_back(f.cpu_s * 1e6 / seconds);
    b_wobble.push_back(bw.cpu_s * 1e6 / seconds);
    c_wobble.push_back(cw.cpu_s * 1e6 / seconds);
    a_worst.push_back(t.worst_call_us());
    a_first.push_back(t.call_us.front());
    if (t.rt.total() > rt.total()) rt = t.rt, rt_first_s = t.rt_first_s;
  }
};

/// Resamples `input` at the case's fixed ratio in blocks of kBlock; returns
/// `seconds` of output (interleaved), or nothing if the resampler failed.
std::vector<float> resample_fixed(const Candidate& cand, const Case& cs, const std::vector<float>& input,
                                  double seconds) {
  Feed feed{input.data(), input.size() / 2};
  auto rs = cand.make();
  if (!rs->open(cs.nominal(), cs.ratio(), &feed)) return {};
  const int n = defaults::kBlock;
  const size_t blocks = size_t(seconds * cs.out_rate / n);
  std::vector<float> out(2 * blocks * size_t(n));
  for (size_t k = 0; k < blocks; ++k)
    if (rs->process(cs.ratio(), out.data() + 2 * k * size_t(n), n) != n) return {};
  return out;
}

struct SineResult {
  double thdn_db = NAN;  // worse channel
  double gain_db = NAN;  // mean of the channels
};

/// A sine of amplitude 0.5 through the resampler at the case's fixed ratio:
/// `skip` seconds dropped (start-up transient and delay), then `analyse`
/// seconds fitted.
SineResult sine_test(const Candidate& cand, const Case& cs, double freq, double skip = 1.0,
                     double analyse = 2.0, std::vector<float>* keep = nullptr) {
  const double out_s = skip + analyse + 0.25;
  const auto in = stereo_sine(size_t((out_s + 1) * defaults::kInRate), freq, 0.5);
  const auto out = resample_fixed(cand, cs, in, out_s);
  if (out.empty()) return {};
  if (keep) *keep = out;
  const double omega = 2 * kPi * freq / (defaults::kInRate * cs.ratio());
  SineResult r{-1e9, 0};
  for (int ch = 0; ch < 2; ++ch) {
    const auto y = cycles(out, ch, size_t(skip * cs.out_rate), size_t(analyse * cs.out_rate), omega);
    const SineFit f = fit_sine(y, omega);
    r.thdn_db = std::max(r.thdn_db, f.thdn_db);
    r.gain_db += 0.5 * 20 * std::log10(f.amplitude / 0.5);
  }
  return r;
}

/// The highest frequency passed within 1 dB, by bisection on sine gain
/// (every candidate's response falls monotonically at the band edge). Opus
/// fullband codes up to 20 kHz, so more than that buys nothing.
double passband_edge_hz(const Candidate& cand, const Case& cs) {
  auto passes = [&](double f) { return sine_test(cand, cs, f, 0.25, 0.5).gain_db >= -1.0; };
  double lo = 1000, hi = 0.5 * cs.out_rate - 50;
  if (passes(hi)) return hi;
  if (!passes(lo)) return NAN;
  while (hi - lo > 20) {
    const double mid = 0.5 * (lo + hi);
    (passes(mid) ? lo : hi) = mid;
  }
  return lo;
}

/// The delay the resampler adds in the pull model, in output samples: from
/// the output call during which an input sample is taken from the feed to
/// the moment its energy comes out. The resampler is driven one output frame
/// per call and handed input one frame at a time (pull APIs) or takes only
/// what it needs (push APIs), so "taken" means "needed now". The event is a
/// Gaussian pulse (sigma 6 input samples: well inside every passband), and
/// "comes out" is the centroid of the output pulse, which is shifted by
/// exactly the filter's group delay at low frequencies whatever its phase
/// response. Averaged over 16 pulses at different output phases.
/// This counts look-ahead and start-up alignment alike, so libraries that
/// read ahead (libsamplerate, soxr, zita) and one that outputs zeros first
/// (speexdsp) are compared on the same footing.
double measure_delay(const Candidate& cand, const Case& cs) {
  constexpr int kPulses = 16;
  constexpr size_t kSpacing = 4096;
  constexpr double kSigma = 6;
  const size_t frames = kSpacing * (kPulses + 2);
  std::vector<float> in(2 * frames, 0.0f);
  std::vector<size_t> centre(kPulses);
  for (int k = 0; k < kPulses; ++k) {
    centre[size_t(k)] = kSpacing * size_t(k + 1);
    for (int d = -60; d <= 60; ++d) {
      const float v = float(0.5 * std::exp(-0.5 * (d / kSigma) * (d / kSigma)));
      in[2 * (centre[size_t(k)] + size_t(d))] = v;
      in[2 * (centre[size_t(k)] + size_t(d)) + 1] = v;
    }
  }
  Feed feed{in.data(), frames};
  feed.chunk = 1;
  auto rs = cand.make();
  if (!rs->open(cs.nominal(), cs.ratio(), &feed)) return NAN;
  const size_t outs = size_t(double(frames - kSpacing) * cs.ratio());
  std::vector<float> y(outs);
  std::vector<size_t> taken(outs);  // frames taken from the feed after each call
  float frame[2];
  for (size_t m = 0; m < outs; ++m) {
    if (rs->process(cs.ratio(), frame, 1) != 1) return NAN;
    y[m] = frame[0];
    taken[m] = feed.pos;
  }
  double total = 0;
  for (int k = 0; k < kPulses; ++k) {
    const size_t c = centre[size_t(k)];
    // The call that took input sample c.
    const size_t pulled = size_t(std::upper_bound(taken.begin(), taken.end(), c) - taken.begin());
    // The output pulse: its peak after the pull, then the centroid around it.
    size_t peak = pulled;
    for (size_t m = pulled; m < std::min(outs, pulled + 1500); ++m)
      if (std::fabs(y[m]) > std::fabs(y[peak])) peak = m;
    double s = 0, sm = 0;
    for (size_t m = peak > 1024 ? peak - 1024 : 0; m < std::min(outs, peak + 1024); ++m) {
      s += y[m];
      sm += double(m) * y[m];
    }
    total += sm / s - double(pulled);
  }
  return total / kPulses;
}

/// Reference: the receiver's main job, decoding the same audio from Opus.
/// The test signal is encoded once, as a sender would (128 kbit/s, 20 ms
/// frames); only opus_decode_float is timed, once per round.
class OpusReference {
 public:
  bool encode(const std::vector<float>& input, double seconds) {
    int err = 0;
    OpusEncoder* enc = opus_encoder_create(int(defaults::kInRate), 2, OPUS_APPLICATION_AUDIO, &err);
    if (!enc || err != OPUS_OK) return false;
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(defaults::kOpusBitrate));
    const size_t fr = defaults::kOpusFrame, frames = size_t(seconds * defaults::kInRate) / fr;
    std::vector<unsigned char> buf(4000);
    for (size_t i = 0; i < frames; ++i) {
      const int len = opus_encode_float(enc, input.data() + 2 * i * fr, int(fr), buf.data(), int(buf.size()));
      if (len < 0) break;
      packets_.emplace_back(buf.begin(), buf.begin() + len);
    }
    opus_encoder_destroy(enc);
    return packets_.size() == frames;
  }
  /// µs of CPU per second of audio for one decode of every packet; NaN on error.
  double decode_us_per_s() const {
    int err = 0;
    OpusDecoder* dec = opus_decoder_create(int(defaults::kInRate), 2, &err);
    if (!dec || err != OPUS_OK) return NAN;
    std::vector<float> pcm(2 * size_t(defaults::kOpusFrame));
    bool ok = true;
    const double t0 = thread_cpu_s();
    for (const auto& p : packets_)
      ok &= opus_decode_float(dec, p.data(), int(p.size()), pcm.data(), defaults::kOpusFrame, 0) ==
            defaults::kOpusFrame;
    const double cpu = thread_cpu_s() - t0;
    opus_decoder_destroy(dec);
    const double audio_s = double(packets_.size()) * defaults::kOpusFrame / defaults::kInRate;
    return ok ? cpu * 1e6 / audio_s : NAN;
  }
  /// Mean packet size, to show the encoder kept its bit rate.
  double mean_bytes() const {
    double total = 0;
    for (const auto& p : packets_) total += double(p.size());
    return total / double(packets_.size());
  }

 private:
  std::vector<std::vector<unsigned char>> packets_;
};

// ---------------------------------------------------------------------------
// Report

std::string read_first(const char* path, const char* key) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

std::string machine() {
  utsname u{};
  uname(&u);
  std::ifstream la("/proc/loadavg");
  std::string l1, l5, l15;
  la >> l1 >> l5 >> l15;
  return std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs (" + read_first("/proc/cpuinfo", "model name") +
         "), kernel " + u.release + ", load average at start " + l1 + " " + l5 + " " + l15;
}

std::string fmt(const char* f, double v) {
  if (std::isnan(v)) return "n/a";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

int usage(FILE* to) {
  std::fprintf(to,
               "usage: resampler_bench [options]\n"
               "Measures variable-ratio resamplers for rtp2jack's JACK callback.\n\n"
               "Run length:\n"
               "  --seconds S   audio per CPU run (default %.0f)\n"
               "  --reps N      CPU rounds (each runs Opus and every candidate once); medians (default %d)\n"
               "Selection and output:\n"
               "  --only TEXT   only candidates whose name contains TEXT\n"
               "  --out PATH    also write the report there, '-' for none (default %s)\n\n"
               "Fixed: 48000 Hz stereo float in; %d output frames per call; ratio wobble +-%.0f ppm\n"
               "(%.0f s sine) in CPU runs; Opus reference %d bit/s, %d-sample frames.\n",
               defaults::kSeconds, defaults::kReps, RB_DEFAULT_OUT, defaults::kBlock, defaults::kWobblePpm,
               defaults::kWobblePeriodS, defaults::kOpusBitrate, defaults::kOpusFrame);
  return to == stderr ? 2 : 0;
}

/// The sweep's length: long enough that a ±2000 ppm triangle is a slow
/// steering move, not a jump.
double sweep_seconds(const Options& opt) { return std::max(10.0, opt.seconds / 3); }

/// Everything measured for one candidate.
struct Row {
  const Candidate* cand = nullptr;
  Cpu cpu;                    // gathered in the rounds
  SineResult a1, a10, a19, b1;  // THD+N at 1, 10 and 19 kHz
  double edge_hz = NAN;       // -1 dB passband edge, 48 → 44.1 kHz
  double delay_a = NAN, delay_b = NAN;
  Run sweep;                  // 48 kHz, ratio over the whole ±2000 ppm
  bool ok() const { return cpu.ok && sweep.ok && !cpu.a_wobble.empty(); }
};

/// The measurements that are not CPU totals: quality, delay, and the sweep
/// (call-by-call, so its figures are per call, not a total to compare).
void measure_rest(Row& r, const Case& a, const Case& b, const std::vector<float>& input, const Options& opt,
                  std::vector<float>* keep_1k) {
  const Candidate& cand = *r.cand;
  const double sweep_s = sweep_seconds(opt);
  r.sweep = run_blocks(cand, b, input, sweep_s, sweep(b, sweep_s), true);
  r.sweep.cpu_s *= 1e6 / sweep_s;  // now µs per second
  r.a1 = sine_test(cand, a, 1000, 1.0, 2.0, keep_1k);
  r.a10 = sine_test(cand, a, 10000);
  r.a19 = sine_test(cand, a, 19000);
  r.b1 = sine_test(cand, b, 1000);
  r.edge_hz = passband_edge_hz(cand, a);
  r.delay_a = measure_delay(cand, a);
  r.delay_b = measure_delay(cand, b);
}

std::string now_utc() {
  char b[64];
  const time_t t = time(nullptr);
  strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S+00:00", gmtime(&t));
  return b;
}

std::string counts(const RtCounts& x) {
  return std::to_string(x.allocs) + " / " + std::to_string(x.frees) + " / " + std::to_string(x.locks);
}

std::string report(const std::vector<Row>& rows, double opus_us, const std::string& header,
                   const std::string& soxr_note, const std::string& self_test) {
  std::ostringstream md;
  md << header;
  md << "| candidate | licence | 44.1k CPU µs/s | % of decode | fixed µs/s | worst call µs | THD+N 1 kHz dB "
        "| THD+N 10 kHz dB | THD+N 19 kHz dB | −1 dB edge kHz | delay samples | 48k CPU µs/s | % of decode "
        "| THD+N 1 kHz dB | delay samples | 96k CPU µs/s | % of decode |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
  for (const Row& r : rows) {
    md << "| " << r.cand->name << " | " << r.cand->licence << " | ";
    if (!r.ok()) {
      md << "failed | | | | | | | | | | | | | | |\n";
      continue;
    }
    const double a = median(r.cpu.a_wobble), b = median(r.cpu.b_wobble), c = median(r.cpu.c_wobble);
    md << fmt("%.0f", a) << " | " << fmt("%.0f%%", 100 * a / opus_us) << " | "
       << fmt("%.0f", median(r.cpu.a_fixed)) << " | " << fmt("%.0f", median(r.cpu.a_worst)) << " | "
       << fmt("%.1f", r.a1.thdn_db) << " | " << fmt("%.1f", r.a10.thdn_db) << " | " << fmt("%.1f", r.a19.thdn_db)
       << " | "
       << fmt("%.1f", r.edge_hz / 1000) << " | " << fmt("%.1f", r.delay_a) << " | " << fmt("%.0f", b) << " | "
       << fmt("%.0f%%", 100 * b / opus_us) << " | " << fmt("%.1f", r.b1.thdn_db) << " | "
       << fmt("%.1f", r.delay_b) << " | " << fmt("%.0f", c) << " | " << fmt("%.0f%%", 100 * c / opus_us)
       << " |\n";
  }
  md << "\nReal-time check, measured: allocations (malloc, calloc, realloc, aligned), frees and "
        "pthread_mutex_lock calls made inside the resampler calls, counted by interposing those "
        "functions. *44.1k run*: a call-by-call 48 → 44.1 kHz run with the ±200 ppm wobble (the round "
        "with most); *sweep*: 48 → 48 kHz, the ratio moved every block from nominal to +2000 ppm, to "
        "−2000 ppm and back (crossing ratio 1), one run, call by call. Counts in the first second "
        "in brackets. *worst call*: slowest call after the first "
     << defaults::kWarmupCalls << "; *first call*: median over the rounds.\n\n"
        "| candidate | 44.1k run: allocs / frees / locks | sweep: allocs / frees / locks | sweep CPU µs/s "
        "| sweep worst call µs | first call µs |\n|---|--:|--:|--:|--:|--:|\n";
  for (const Row& r : rows) {
    if (!r.ok()) continue;
    md << "| " << r.cand->name << " | " << counts(r.cpu.rt) << " (" << counts(r.cpu.rt_first_s) << ") | "
       << counts(r.sweep.rt) << " (" << counts(r.sweep.rt_first_s) << ") | " << fmt("%.0f", r.sweep.cpu_s)
       << " | " << fmt("%.0f", r.sweep.worst_call_us()) << " | " << fmt("%.0f", median(r.cpu.a_first))
       << " |\n";
  }
  md << "\n";
  for (const Row& r : rows)
    if (r.ok() && !r.cpu.deterministic)
      md << "Note: " << r.cand->name << " gave different output in runs that should be identical.\n\n";
  if (!soxr_note.empty()) md << soxr_note << "\n\n";
  md << self_test << ".\n\n";
  md << "What changing the ratio does, read from each library's source:\n\n"
        "| library | licence | changing the ratio | processing |\n|---|---|---|---|\n";
  for (const auto& f : kFacts)
    md << "| " << f.library << " | " << f.licence << " | " << f.ratio_change << " | " << f.process << " |\n";
  return md.str();
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  std::string command = "build-bench/resampler_bench";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage(stdout);
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!v) return usage(stderr);
    if (a == "--seconds") opt.seconds = std::atof(v);
    else if (a == "--reps") opt.reps = std::atoi(v);
    else if (a == "--only") opt.only = v;
    else if (a == "--out") opt.out = v;
    else return usage(stderr);
    command += " " + a + " " + v;
    ++i;
  }
  if (opt.seconds < 5 || opt.reps < 1) return usage(stderr);

  if (!counting_works()) {
    std::fprintf(stderr, "resampler_bench: the interposed allocator is not in use\n");
    return 1;
  }
  std::string self_test;
  if (!thdn_self_test(&self_test)) {
    std::fprintf(stderr, "resampler_bench: THD+N self-test failed: %s\n", self_test.c_str());
    return 1;
  }
  std::fprintf(stderr, "%s\n", self_test.c_str());

  const Case k441{"44.1k", 44100, 100};  // JACK at 44.1 kHz, 100 ppm of drift
  const Case k48{"48k", 48000, 2000};    // equal rates: only drift, at its limit
  const Case k96{"96k", 96000, 100};     // JACK at 96 kHz: twice the output to compute
  const std::string started = now_utc(), mach = machine();
  // One second spare: the ratio wobbles, and the sweep may outlast a short run.
  const auto input = music_like(size_t((std::max(opt.seconds, sweep_seconds(opt)) + 1) * defaults::kInRate));

  OpusReference opus;
  if (!opus.encode(input, opt.seconds)) {
    std::fprintf(stderr, "resampler_bench: libopus encode failed\n");
    return 1;
  }

  const auto cands = candidates();
  std::vector<Row> rows;
  for (const Candidate& cand : cands)
    if (opt.only.empty() || cand.name.find(opt.only) != std::string::npos) {
      rows.emplace_back();
      rows.back().cand = &cand;
    }

  // CPU in rounds: each round decodes the Opus reference and runs every
  // candidate once, so the medians compare like with like even when the
  // machine's speed drifts (it is shared, with two CPUs).
  std::vector<double> opus_runs;
  for (int round = 0; round < opt.reps; ++round) {
    std::fprintf(stderr, "CPU round %d of %d...\n", round + 1, opt.reps);
    opus_runs.push_back(opus.decode_us_per_s());
    if (std::isnan(opus_runs.back())) {
      std::fprintf(stderr, "resampler_bench: libopus decode failed\n");
      return 1;
    }
    for (Row& r : rows) r.cpu.round(*r.cand, k441, k48, k96, input, opt.seconds);
  }
  const double opus_us = median(opus_runs);

  std::vector<float> soxr_hq;  // for the LQ/MQ/HQ identity check
  bool failed = false;
  for (Row& r : rows) {
    std::fprintf(stderr, "%s: quality, delay, sweep...\n", r.cand->name.c_str());
    measure_rest(r, k441, k48, input, opt, r.cand->name.starts_with("soxr") ? &soxr_hq : nullptr);
    if (!r.ok()) {
      std::fprintf(stderr, "resampler_bench: %s: set-up refused or short block\n", r.cand->name.c_str());
      failed = true;
    }
  }

  // soxr's VR engine takes no quality parameter (vr32.c ignores q_spec):
  // shown rather than assumed, by comparing the outputs bit for bit.
  std::string soxr_note;
  if (!soxr_hq.empty()) {
    bool same = true;
    for (unsigned long recipe : {SOXR_LQ, SOXR_MQ}) {
      const Candidate c{"soxr", "", [recipe] { return std::make_unique<SoxrResampler>(recipe); }};
      std::vector<float> other;
      sine_test(c, k441, 1000, 1.0, 2.0, &other);
      same &= other == soxr_hq;
    }
    soxr_note = same ? "soxr SOXR_VR with SOXR_LQ and with SOXR_MQ gives output bit-identical to SOXR_HQ "
                       "(the VR engine has one fixed filter), so one row stands for all three."
                     : "soxr SOXR_VR: LQ/MQ output differs from HQ (unexpected: measure them as rows).";
  }

  char opus_range[128];
  std::snprintf(opus_range, sizeof opus_range, "%.0f–%.0f",
                *std::min_element(opus_runs.begin(), opus_runs.end()),
                *std::max_element(opus_runs.begin(), opus_runs.end()));
  char head[4096];
  std::snprintf(
      head, sizeof head,
      "# Resampler benchmark: variable-ratio candidates for the JACK callback\n\n"
      "- date: %s\n"
      "- machine: %s\n"
      "- command: `bench/build_resampler_bench.sh && %s` (%s)\n"
      "- libraries (Debian) and rtp2jack sources: %s\n"
      "- drive: 48000 Hz stereo float in, output-driven: exactly %d frames out per call, input pulled "
      "as needed (libraries that call back for input get at most %d frames a time), interleaved in "
      "and out\n"
      "- cases: *44.1k* is 48000 → 44100·(1+1e-4); *48k* is 48000 → 48000·(1+2e-3), equal rates with "
      "drift at the limit the controller must absorb; *96k* (CPU only) is 48000 → 96000·(1+1e-4)\n"
      "- CPU: %.0f s of a music-like test signal per run, ratio wobbling ±%.0f ppm (a %.0f s sine) and "
      "changed every block; µs of CLOCK_THREAD_CPUTIME_ID per second of audio, median of %d rounds "
      "(each round runs the Opus reference and every candidate once); *fixed*: the same at a "
      "constant ratio; *worst call*: slowest call after the first %d of a run timed call by call, "
      "median over the rounds (one block at 44.1 kHz lasts 2902 µs)\n"
      "- Opus reference: decoding the same %.0f s (encoded at %d bit/s, 20 ms frames; "
      "mean packet %.0f bytes; opus_decode_float only) costs **%.0f µs per second** (rounds: %s); "
      "*%% of decode* is resampler CPU / that\n"
      "- THD+N: a sine of amplitude 0.5 (1, 10 or 19 kHz) at a fixed ratio, 1 s skipped, 2 s fitted (4-parameter "
      "least squares, Hann-weighted, whole cycles) and subtracted: residual / fundamental, worse "
      "channel. *−1 dB edge*: highest frequency within 1 dB (44.1k; Opus fullband stops at 20 kHz)\n"
      "- delay: output samples from the call that takes an input sample to the centroid of its "
      "output (Gaussian pulses, one frame per call, input taken only when needed): the filter's "
      "group delay plus any look-ahead; divided by the ratio (0.919 at 44.1k, 1.002 at 48k) it is in "
      "input samples\n\n",
      started.c_str(), mach.c_str(), command.c_str(), RB_BUILD, RB_VERSIONS, defaults::kBlock,
      defaults::kPullChunk, opt.seconds, defaults::kWobblePpm, defaults::kWobblePeriodS, opt.reps,
      defaults::kWarmupCalls, opt.seconds, defaults::kOpusBitrate, opus.mean_bytes(), opus_us, opus_range);

  const std::string md = report(rows, opus_us, head, soxr_note, self_test);
  std::fputs(md.c_str(), stdout);
  if (opt.out != "-") {
    std::ofstream f(opt.out);
    f << md;
    if (!f) {
      std::fprintf(stderr, "resampler_bench: cannot write %s\n", opt.out.c_str());
      return 1;
    }
    std::fprintf(stderr, "wrote %s\n", opt.out.c_str());
  }
  return failed ? 1 : 0;
}
