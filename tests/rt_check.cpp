// rt_check: the real rtp2jack, with every allocation, free, lock and system
// call made on the JACK process callback counted.
//
// What is "the callback": everything between libjack calling our process
// function and that function returning. This executable defines
// jack_set_process_callback itself (ELF symbol interposition: the product's
// call lands here) and registers a wrapper with the real libjack around the
// function the product asked for, so JackClient::on_process (port buffers,
// cycle times) is inside the measured window along with the player.
//
// Allocations and locks: malloc, free, calloc, realloc, the aligned
// allocators, operator new/delete, pthread_mutex_lock/trylock, the rwlock
// locks, sem_wait/trywait/timedwait and pthread_cond_wait/timedwait are
// defined here too, so every library in the process (libstdc++, libjack,
// libopus, asio) calls these; they forward to glibc. A thread-local flag,
// set only inside the wrapper, decides what is counted.
//
// System calls: Linux syscall user dispatch (prctl
// PR_SET_SYSCALL_USER_DISPATCH, kernel 5.11+,
// Documentation/admin-guide/syscall-user-dispatch.rst). On each thread that
// runs the callback, the wrapper turns dispatch on once, before its first
// measured window; the kernel then reads a selector byte of ours on every
// system call that thread makes. The wrapper writes BLOCK into it on entry
// and ALLOW on exit (plain stores, no system call). A system call made while
// it reads BLOCK is not executed: the kernel raises SIGSYS instead, with the
// call's number in si_syscall. Our handler counts the number, then performs
// the call itself with the registers' arguments and puts the result in RAX,
// so the program runs on unchanged and the report names every offender. The
// handler's own system call and the signal return (rt_sigreturn, through a
// restorer of ours installed with the raw rt_sigaction) sit in a small
// assembly region that the prctl exempts, so the handler never touches the
// selector. vDSO calls (clock_gettime on a TSC or kvm-clock clocksource) do
// not enter the kernel and are not system calls; a vDSO that falls back to
// the real call would be counted, rightly. Asynchronous signals are blocked
// on the callback thread (once, outside the window) so that no signal
// handler's system calls are charged to the callback.
//
// Self-checks: at start-up every counter and the dispatch are proven on a
// probe thread; `--rt-check-selftest` (first argument) additionally has the
// interposed callback misbehave before the product's, every 100th cycle:
// it allocates, frees, locks and calls getpid() through syscall() inside
// the window, so that CI can see the check fail when it should
// (tests/integration/rt_check_test.sh).
//
// At exit it prints the counts and each system call number seen, and fails
// if any is non-zero or if the callback never ran.
//
// x86_64 Linux only; not for sanitizer builds (ASan brings its own allocator).
#include <dlfcn.h>
#include <jack/jack.h>
#include <linux/prctl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <variant>

#include "cmd/app.hpp"
#include "cmd/options.hpp"

#if !defined(__x86_64__) || !defined(__linux__)
#error "rt_check: syscall user dispatch emulation is written for x86_64 Linux"
#endif

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

// The region exempt from dispatch: a raw system call and the signal restorer.
long rt_check_raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
void rt_check_restorer();
extern const char rt_check_exempt_begin[];
extern const char rt_check_exempt_end[];
}

// SysV: nr, a1..a5 in rdi, rsi, rdx, rcx, r8, r9; a6 on the stack. The
// kernel's: nr in rax, args in rdi, rsi, rdx, r10, r8, r9.
asm(R"(
  .text
  .globl rt_check_exempt_begin, rt_check_exempt_end, rt_check_raw_syscall, rt_check_restorer
  .type rt_check_raw_syscall, @function
  .type rt_check_restorer, @function
rt_check_exempt_begin:
rt_check_raw_syscall:
  mov %rdi, %rax
  mov %rsi, %rdi
  mov %rdx, %rsi
  mov %rcx, %rdx
  mov %r8, %r10
  mov %r9, %r8
  mov 8(%rsp), %r9
  syscall
  ret
rt_check_restorer:
  mov $15, %rax
  syscall
  hlt
rt_check_exempt_end:
)");

namespace {

constexpr int kMaxSyscall = 512;
constexpr int kSysUserDispatch = 2;  // si_code, <asm-generic/siginfo.h>; glibc lacks it

// Only referenced by its own thread.
thread_local bool t_in_callback = false;
thread_local char t_selector = SYSCALL_DISPATCH_FILTER_ALLOW;  // read by the kernel
thread_local bool t_dispatch_on = false;

// Written by the real-time thread, read by main after JACK stopped: relaxed
// is enough for counters read after a join-like shutdown.
std::atomic<unsigned long> g_allocs{0};
std::atomic<unsigned long> g_frees{0};
std::atomic<unsigned long> g_locks{0};
std::atomic<unsigned long> g_syscalls{0};
std::atomic<unsigned long> g_by_syscall[kMaxSyscall];
std::atomic<unsigned long> g_callbacks{0};
std::atomic<unsigned long> g_unwatched{0};  // callbacks on a thread where dispatch failed
std::atomic<int> g_dispatch_errno{0};

inline void count(std::atomic<unsigned long>& c) {
  if (t_in_callback) c.fetch_add(1, std::memory_order_relaxed);
}

// SIGSYS from dispatch: count, then do the call for the caller.
void on_sigsys(int, siginfo_t* si, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  greg_t* r = uc->uc_mcontext.gregs;
  if (si->si_code != kSysUserDispatch) std::abort();  // not ours: seccomp or a kill
  const int nr = si->si_syscall;
  g_syscalls.fetch_add(1, std::memory_order_relaxed);
  if (nr >= 0 && nr < kMaxSyscall) g_by_syscall[nr].fetch_add(1, std::memory_order_relaxed);
  if (nr == SYS_rt_sigreturn) {
    // Cannot be emulated from a nested handler: run it again, unwatched, once
    // we are back (the syscall instruction is 2 bytes long).
    t_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    r[REG_RIP] -= 2;
    return;
  }
  r[REG_RAX] = rt_check_raw_syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8],
                                    r[REG_R9]);
}

// The kernel's struct sigaction (x86_64), for a restorer of our own.
struct KernelSigaction {
  void (*handler)(int, siginfo_t*, void*);
  unsigned long flags;
  void (*restorer)();
  std::uint64_t mask;
};
constexpr unsigned long kSaRestorer = 0x04000000;

bool install_sigsys_handler() {
  KernelSigaction sa{&on_sigsys, SA_SIGINFO | kSaRestorer, &rt_check_restorer, 0};
  return syscall(SYS_rt_sigaction, SIGSYS, &sa, nullptr, sizeof sa.mask) == 0;
}

// Thread: the one about to run a callback, outside the measured window.
void enable_dispatch_on_this_thread() {
  t_dispatch_on = true;
  // Asynchronous signals go to other threads (see the file comment).
  sigset_t all;
  sigfillset(&all);
  for (int s : {SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) sigdelset(&all, s);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  const auto begin = reinterpret_cast<unsigned long>(rt_check_exempt_begin);
  const auto len = reinterpret_cast<unsigned long>(rt_check_exempt_end) - begin;
  t_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
  if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, begin, len, &t_selector) != 0) {
    g_dispatch_errno.store(errno, std::memory_order_relaxed);
    t_dispatch_on = false;
  }
}

inline void enter_window() {
  if (!t_dispatch_on) enable_dispatch_on_this_thread();
  if (g_dispatch_errno.load(std::memory_order_relaxed) != 0) g_unwatched.fetch_add(1, std::memory_order_relaxed);
  t_in_callback = true;
  // The compiler must not move the store past the callback's first system
  // call: a signal fence orders it against code on this thread.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

inline void leave_window() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_in_callback = false;
  g_callbacks.fetch_add(1, std::memory_order_relaxed);
}

// The product's process callbacks, one slot per registration (a client is
// reopened whenever the server comes back); a fixed array, never freed.
struct Registration {
  JackProcessCallback fn;
  void* arg;
};
Registration g_registrations[256];
std::atomic<int> g_registration_count{0};

// --rt-check-selftest: on every 100th callback, before the product's, do
// everything the check must catch (the counts in the report show it did).
bool g_selftest = false;
pthread_mutex_t g_selftest_mutex = PTHREAD_MUTEX_INITIALIZER;
void misbehave() {
  static unsigned calls = 0;  // only the callback thread
  if (++calls % 100 != 0) return;
  void* volatile p = std::malloc(64);
  std::free(p);
  pthread_mutex_lock(&g_selftest_mutex);
  pthread_mutex_unlock(&g_selftest_mutex);
  syscall(SYS_getpid);
}

int wrapped_process(jack_nframes_t nframes, void* slot) {
  const auto* reg = static_cast<const Registration*>(slot);
  enter_window();
  if (g_selftest) misbehave();
  const int rc = reg->fn(nframes, reg->arg);
  leave_window();
  return rc;
}

// Proves every detector on a thread of our own before trusting a zero.
bool self_test() {
  bool ok = true;
  std::thread probe([&] {
    // A thread's first allocation maps an arena for it: do that outside.
    std::free(std::malloc(16));
    enter_window();
    void* p = std::malloc(16);
    std::free(p);
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    const long pid = syscall(SYS_getpid);  // must be emulated, with the right answer
    leave_window();
    if (pid != getpid()) ok = false;
  });
  probe.join();
  const unsigned long allocs = g_allocs.exchange(0), frees = g_frees.exchange(0),
                      locks = g_locks.exchange(0), calls = g_syscalls.exchange(0),
                      getpids = g_by_syscall[SYS_getpid].exchange(0);
  g_callbacks.store(0);
  g_unwatched.store(0);
  if (allocs != 1 || frees != 1 || locks != 1) {
    std::fprintf(stderr, "rt_check: self-test: the interposed allocator or lock is not in use "
                         "(%lu allocations, %lu frees, %lu locks; want 1 each)\n", allocs, frees, locks);
    ok = false;
  }
  if (const int e = g_dispatch_errno.load()) {
    std::fprintf(stderr, "rt_check: self-test: prctl(PR_SET_SYSCALL_USER_DISPATCH): %s\n", std::strerror(e));
    ok = false;
  } else if (calls != 1 || getpids != 1) {
    for (int nr = 0; nr < kMaxSyscall; ++nr)
      if (const unsigned long n = g_by_syscall[nr].load())
        std::fprintf(stderr, "rt_check: self-test: system call %d seen %lu times\n", nr, n);
    std::fprintf(stderr, "rt_check: self-test: getpid() under dispatch seen %lu times (want 1), "
                         "%lu system calls in all\n", getpids, calls);
    ok = false;
  }
  for (auto& c : g_by_syscall) c.store(0);
  return ok;
}

}  // namespace

extern "C" {

int jack_set_process_callback(jack_client_t* client, JackProcessCallback fn, void* arg) {
  using Real = int (*)(jack_client_t*, JackProcessCallback, void*);
  static Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "jack_set_process_callback"));
  const int i = g_registration_count.fetch_add(1);
  if (i >= static_cast<int>(std::size(g_registrations))) std::abort();
  g_registrations[i] = {fn, arg};
  return real(client, &wrapped_process, &g_registrations[i]);
}

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

// Locks: counted, then forwarded to the next definition (glibc's).
// The next definition is looked up on first use (libraries lock before main
// runs) and again by resolve_all() at start-up, so that no lookup, which
// takes locks itself, can happen on the callback. Relaxed: every thread that
// looks it up stores the same value.
#define RT_CHECK_FORWARD(ret, name, params, args)                                \
  using name##_fn = ret(*) params;                                              \
  std::atomic<name##_fn> real_##name{nullptr};                                  \
  name##_fn resolve_##name() {                                                  \
    auto fn = real_##name.load(std::memory_order_relaxed);                      \
    if (fn == nullptr) {                                                        \
      fn = reinterpret_cast<name##_fn>(dlsym(RTLD_NEXT, #name));                \
      real_##name.store(fn, std::memory_order_relaxed);                         \
    }                                                                           \
    return fn;                                                                  \
  }                                                                             \
  ret name params {                                                             \
    count(g_locks);                                                             \
    return resolve_##name() args;                                               \
  }
RT_CHECK_FORWARD(int, pthread_mutex_lock, (pthread_mutex_t* m), (m))
RT_CHECK_FORWARD(int, pthread_mutex_trylock, (pthread_mutex_t* m), (m))
RT_CHECK_FORWARD(int, pthread_mutex_timedlock, (pthread_mutex_t* m, const struct timespec* t), (m, t))
RT_CHECK_FORWARD(int, pthread_rwlock_rdlock, (pthread_rwlock_t* l), (l))
RT_CHECK_FORWARD(int, pthread_rwlock_wrlock, (pthread_rwlock_t* l), (l))
RT_CHECK_FORWARD(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t* l), (l))
RT_CHECK_FORWARD(int, pthread_rwlock_trywrlock, (pthread_rwlock_t* l), (l))
RT_CHECK_FORWARD(int, pthread_spin_lock, (pthread_spinlock_t* l), (l))
RT_CHECK_FORWARD(int, pthread_spin_trylock, (pthread_spinlock_t* l), (l))
RT_CHECK_FORWARD(int, sem_wait, (sem_t* s), (s))
RT_CHECK_FORWARD(int, sem_trywait, (sem_t* s), (s))
RT_CHECK_FORWARD(int, sem_timedwait, (sem_t* s, const struct timespec* t), (s, t))
RT_CHECK_FORWARD(int, pthread_cond_wait, (pthread_cond_t* c, pthread_mutex_t* m), (c, m))
RT_CHECK_FORWARD(int, pthread_cond_timedwait,
                 (pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t), (c, m, t))
#undef RT_CHECK_FORWARD

}  // extern "C"

namespace {
void resolve_all() {
  resolve_pthread_mutex_lock(), resolve_pthread_mutex_trylock(), resolve_pthread_mutex_timedlock();
  resolve_pthread_rwlock_rdlock(), resolve_pthread_rwlock_wrlock();
  resolve_pthread_rwlock_tryrdlock(), resolve_pthread_rwlock_trywrlock();
  resolve_pthread_spin_lock(), resolve_pthread_spin_trylock();
  resolve_sem_wait(), resolve_sem_trywait(), resolve_sem_timedwait();
  resolve_pthread_cond_wait(), resolve_pthread_cond_timedwait();
}
}  // namespace

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
  const bool selftest = argc > 1 && std::strcmp(argv[1], "--rt-check-selftest") == 0;
  if (selftest) {
    argv[1] = argv[0];
    ++argv;
    --argc;
  }
  resolve_all();
  if (!install_sigsys_handler()) {
    std::perror("rt_check: rt_sigaction(SIGSYS)");
    return 3;
  }
  if (!self_test()) return 3;

  const auto parsed = cmd::parse_options(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  g_selftest = selftest;
  const int rc = cmd::run(std::get<cmd::Options>(parsed));

  const unsigned long callbacks = g_callbacks.load(), syscalls = g_syscalls.load();
  std::fprintf(stderr,
               "rt_check: %lu callbacks; in them %lu allocations, %lu frees, %lu locks, %lu system calls\n",
               callbacks, g_allocs.load(), g_frees.load(), g_locks.load(), syscalls);
  for (int nr = 0; nr < kMaxSyscall; ++nr)
    if (const unsigned long n = g_by_syscall[nr].load())
      std::fprintf(stderr, "rt_check: system call %d made %lu times in the callback\n", nr, n);
  if (const unsigned long n = g_unwatched.load()) {
    std::fprintf(stderr, "rt_check: %lu callbacks ran without syscall dispatch\n", n);
    return 3;
  }
  if (rc != 0) return rc;
  if (callbacks == 0) return 4;
  return g_allocs.load() + g_frees.load() + g_locks.load() + syscalls == 0 ? 0 : 1;
}
