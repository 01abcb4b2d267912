/* clock.h: the monotonic clock in nanoseconds, the runtime's one notion of
 * time (deadlines compare with it), and a cheaper counter for "has this
 * much time passed yet?" tests. Layer: base. */
#ifndef CORUN_BASE_CLOCK_H
#define CORUN_BASE_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

static inline int64_t corun__clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The counter the CPU advances at a constant rate, read without waiting
 * for the instructions before it: x86-64's time-stamp counter (rdtsc),
 * AArch64's virtual counter (cntvct_el0); 0 elsewhere.
 *
 * Why not the clock: the vDSO's clock_gettime reads the same counter
 * behind a serialising instruction (Linux: rdtsc_ordered(), lfence;rdtsc
 * or rdtscp, on x86-64; isb on arm64), so that the time it returns is not
 * older than the loads before the call. That waits for every load in
 * flight, cache misses included. A worker that read the clock between
 * tasks waited, at each read, for the misses of the task before; among
 * 100,000 sleeping tasks, whose objects and stacks are all cold, those
 * waits were a quarter of the scheduler's time (docs/design.md §5,
 * "Between tasks, the clock at most every 5 us"). This read waits for
 * nothing; it is only good for interval tests (corun__ticks_per_us), and
 * every time the runtime keeps or hands out comes from corun__clock_ns. */
static inline uint64_t corun__ticks(void) {
#if defined(__x86_64__)
  return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
  uint64_t v;
  __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
  return 0;
#endif
}

/* corun__ticks per microsecond: > 0 once known; 0 while it is being
 * measured; -1 for good where the counter is not trusted (see clock.c).
 * A known rate is never above the true one (clock.c says why), so a count
 * divided by it never underestimates the time that passed. */
extern _Atomic int64_t corun__ticks_per_us_state;

static inline int64_t corun__ticks_per_us(void) {
  return atomic_load_explicit(&corun__ticks_per_us_state, memory_order_relaxed);
}

/* Called with a clock reading just taken (corun__clock_ns) while
 * corun__ticks_per_us() is 0: the first call decides whether the counter
 * is trusted and, where its rate must be measured, starts the
 * measurement; a call at least 10 ms later ends it. Any thread, any
 * number at once. */
void corun__ticks_learn(int64_t now_ns);

/* Called now and then with a clock reading (the scheduler's monitor, while
 * tasks run; it looks at most once a second): on x86-64, where the
 * counter is trusted because the kernel keeps time with it, and the kernel
 * has since switched to another clocksource (it found the counter
 * unstable: a VM moved to a host whose counter runs at another rate, say),
 * the counter is refused from then on, and the runtime reads the clock
 * instead. Without the monitor (corun_config.block_ms off) nobody looks. */
void corun__ticks_recheck(int64_t now_ns);

#endif
