// callback_cost: the real rtp2jack with the time of every process callback
// taken (the process-callback cost).
//
//   callback_cost [rtp2jack options...]     # e.g. --port 5004 --latency 20
//
// The same program as rtp2jack (cmd::run with the same options), with its
// own jack_set_process_callback (ELF symbol interposition, as
// tests/rt_check.cpp does; the product has no hook for it) that wraps the
// audio context's callback: it reads the monotonic clock (vDSO, no system
// call) before and after the callback, and counts the duration
// into a preallocated histogram of 0.1 us bins (the callback stays free of
// allocations, locks and system calls). Calls in the first
// CALLBACK_COST_SKIP_S seconds (default 5: start-up, first packets) are not
// counted. At exit it prints one JSON line to stderr, prefixed
// "callback_cost:": calls counted, the period, and the median, 99th, 99.9th
// percentile and worst duration, in microseconds and as fractions of the
// period. Wall-clock time: on a shared VM the worst includes preemption.
#include <dlfcn.h>
#include <jack/jack.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <variant>

#include "cmd/app.hpp"
#include "cmd/options.hpp"

namespace {

constexpr std::size_t kBins = 200000;  // 0.1 us each: up to 20 ms
std::array<std::uint32_t, kBins + 1> g_hist{};  // the last bin: 20 ms or more
std::int64_t g_max_ns = 0;
std::uint64_t g_calls = 0;
std::int64_t g_skip_ns = 5'000'000'000;
std::int64_t g_first_ns = -1;
std::atomic<std::uint32_t> g_nframes{0};
std::atomic<std::uint32_t> g_rate{0};

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The product's process callbacks, one slot per registration (a client is
// reopened whenever the server comes back); a fixed array, never freed.
struct Registration {
  JackProcessCallback fn;
  void* arg;
  std::uint32_t rate;
};
Registration g_registrations[256];
std::atomic<int> g_registration_count{0};

int timed(jack_nframes_t nframes, void* slot) noexcept {
  const auto* reg = static_cast<const Registration*>(slot);
  const std::int64_t t0 = now_ns();
  const int rc = reg->fn(nframes, reg->arg);
  const std::int64_t dt = now_ns() - t0;
  if (g_first_ns < 0) g_first_ns = t0;
  if (t0 - g_first_ns < g_skip_ns) return rc;
  g_nframes.store(nframes, std::memory_order_relaxed);
  g_rate.store(reg->rate, std::memory_order_relaxed);
  const auto bin = static_cast<std::size_t>(dt / 100);
  ++g_hist[bin < kBins ? bin : kBins];
  if (dt > g_max_ns) g_max_ns = dt;
  ++g_calls;
  return rc;
}

double percentile_us(double q) {
  const auto want = static_cast<std::uint64_t>(q * static_cast<double>(g_calls));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b <= kBins; ++b) {
    seen += g_hist[b];
    if (seen > want) return (static_cast<double>(b) + 0.5) / 10.0;
  }
  return static_cast<double>(g_max_ns) / 1000.0;
}

}  // namespace

extern "C" int jack_set_process_callback(jack_client_t* client, JackProcessCallback fn, void* arg) {
  using Real = int (*)(jack_client_t*, JackProcessCallback, void*);
  static Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "jack_set_process_callback"));
  const int i = g_registration_count.fetch_add(1);
  if (i >= static_cast<int>(std::size(g_registrations))) std::abort();
  g_registrations[i] = {fn, arg, jack_get_sample_rate(client)};
  return real(client, &timed, &g_registrations[i]);
}

int main(int argc, char** argv) {
  if (const char* s = std::getenv("CALLBACK_COST_SKIP_S")) {
    g_skip_ns = static_cast<std::int64_t>(std::atof(s) * 1e9);
  }
  const auto parsed = cmd::parse_options(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  int rc = 0;
  try {
    rc = cmd::run(std::get<cmd::Options>(parsed));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "callback_cost: %s\n", e.what());
    return 1;
  }
  const std::uint32_t rate = g_rate.load();
  const double period_us = rate ? g_nframes.load() * 1e6 / rate : 0;
  const double med = percentile_us(0.5), p99 = percentile_us(0.99), p999 = percentile_us(0.999);
  const double worst = static_cast<double>(g_max_ns) / 1000.0;
  const auto frac = [&](double us) { return period_us > 0 ? us / period_us : 0.0; };
  std::fprintf(stderr,
               "callback_cost: {\"calls\":%llu,\"nframes\":%u,\"rate\":%u,\"period_us\":%.1f,"
               "\"median_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"worst_us\":%.2f,"
               "\"median_frac\":%.5f,\"p99_frac\":%.5f,\"p999_frac\":%.5f,\"worst_frac\":%.5f}\n",
               static_cast<unsigned long long>(g_calls), g_nframes.load(), rate, period_us, med, p99,
               p999, worst, frac(med), frac(p99), frac(p999), frac(worst));
  return rc;
}
