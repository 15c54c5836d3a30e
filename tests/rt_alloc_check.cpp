// rt_alloc_check: the real rtp2jack, with every allocation, free and mutex
// lock in the process that happens on the process callback counted.
//
// How: this executable defines malloc, free, calloc, realloc, the aligned
// allocators, operator new/delete and pthread_mutex_lock itself. ELF symbol
// interposition makes every library in the process (libstdc++, libjack,
// libopus, asio) call these instead of glibc's; they forward to glibc's
// __libc_* entry points. A thread-local flag, set only while the process
// callback runs (through cmd::run's ProcessHook), decides what is counted.
// At exit it prints the counts and fails if any is non-zero or if the
// callback never played audio.
//
// Not for sanitizer builds: ASan brings its own allocator.
#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <variant>

#include "cmd/app.hpp"
#include "cmd/options.hpp"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

namespace {

thread_local bool t_in_callback = false;  // only referenced by its own thread
// Written by the real-time thread, read by main after JACK stopped: relaxed
// is enough for counters read after a join-like shutdown.
std::atomic<unsigned long> g_allocs{0};
std::atomic<unsigned long> g_frees{0};
std::atomic<unsigned long> g_locks{0};
std::atomic<unsigned long> g_callbacks{0};

inline void count(std::atomic<unsigned long>& c) {
  if (t_in_callback) c.fetch_add(1, std::memory_order_relaxed);
}

void hook(audio::JackClient::ProcessFn inner, void* arg, float* const* out, std::uint32_t nframes,
          std::int64_t cycle_ns, std::uint32_t rate) noexcept {
  t_in_callback = true;
  inner(arg, out, nframes, cycle_ns, rate);
  t_in_callback = false;
  g_callbacks.fetch_add(1, std::memory_order_relaxed);
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
  if (p != nullptr) count(g_frees);
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

void* operator new(size_t n) {
  count(g_allocs);
  if (void* p = __libc_malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, std::align_val_t a) {
  count(g_allocs);
  if (void* p = __libc_memalign(static_cast<size_t>(a), n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }

int main(int argc, char** argv) {
  // Prove the counting works before trusting a zero: an allocation made with
  // the flag set must be seen.
  t_in_callback = true;
  void* probe = std::malloc(16);
  std::free(probe);
  t_in_callback = false;
  if (g_allocs.exchange(0) != 1 || g_frees.exchange(0) != 1) {
    std::fprintf(stderr, "rt_alloc_check: the interposed allocator is not in use\n");
    return 3;
  }

  const auto parsed = cmd::parse_options(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const int rc = cmd::run(std::get<cmd::Options>(parsed), &hook);

  const unsigned long callbacks = g_callbacks.load();
  std::fprintf(stderr,
               "rt_alloc_check: %lu callbacks; in them %lu allocations, %lu frees, %lu mutex locks\n",
               callbacks, g_allocs.load(), g_frees.load(), g_locks.load());
  if (rc != 0) return rc;
  if (callbacks == 0) return 4;
  return g_allocs.load() + g_frees.load() + g_locks.load() == 0 ? 0 : 1;
}
