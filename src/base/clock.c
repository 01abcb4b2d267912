/* clock.c: how fast corun__ticks() runs, and whether to trust it.
 * Layer: base. Locking: none; a pthread_once for the first look, then
 * atomics whose racing writers store the same or nearly the same value.
 *
 * Trusted, the counter must advance at one constant rate on every CPU, so
 * that a count taken on one CPU and compared on another after a migration
 * means time:
 *  - x86-64: only when the kernel's clocksource is "tsc": the kernel picks
 *    the time-stamp counter only after checking just that (invariant,
 *    synchronised between CPUs); on a VM whose counter it found unstable
 *    it uses another source, and then so does corun (-1). Its rate is
 *    measured against the clock over at least 10 ms (LEARN_NS).
 *  - AArch64: the generic timer's virtual counter is constant-rate and
 *    common to all CPUs by the architecture. Its rate is measured too:
 *    CNTFRQ_EL0 holds what the firmware wrote there, which Linux does not
 *    always believe (a device tree's clock-frequency overrides it), and
 *    a rate read too high would make park.c's estimates of the time early
 *    (a measured one errs low: corun__ticks_learn).
 *  - elsewhere: no counter (RISC-V's rdtime traps to the firmware on many
 *    machines, which would cost more than the clock read it saves). */
#include "base/clock.h"

#include <pthread.h>
#include <string.h>

#include "base/sysfile.h"

#define LEARN_NS ((int64_t)10000000)

_Atomic int64_t corun__ticks_per_us_state;

static _Atomic int64_t learn_from_ns; /* the measurement's start */
static _Atomic uint64_t learn_from_ticks;

#if defined(__x86_64__)
/* Whether the kernel keeps time with the time-stamp counter. */
static int clocksource_is_tsc(void) {
  char buf[32];
  if (corun__sysfile_read(
          "/sys/devices/system/clocksource/clocksource0/current_clocksource",
          buf, sizeof buf) < 0)
    return 0;
  return strcmp(buf, "tsc\n") == 0 || strcmp(buf, "tsc") == 0;
}
#endif

static void first_look(void) {
#if defined(__x86_64__) || defined(__aarch64__)
#if defined(__x86_64__)
  if (!clocksource_is_tsc()) {
    atomic_store(&corun__ticks_per_us_state, -1);
    return;
  }
#endif
  /* The clock, then the counter: see corun__ticks_learn. */
  int64_t ns = corun__clock_ns();
  atomic_store(&learn_from_ticks, corun__ticks());
  atomic_store(&learn_from_ns, ns);
#else
  atomic_store(&corun__ticks_per_us_state, -1);
#endif
}

void corun__ticks_learn(int64_t now_ns) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, first_look);
  int64_t from = atomic_load(&learn_from_ns);
  if (corun__ticks_per_us() != 0 || now_ns - from < LEARN_NS)
    return;
  /* The end sample: the counter, then the clock (the vDSO's read waits
   * for the counter read before it). With the start's order (the clock,
   * then the counter), a thread preempted between its two reads at
   * either end makes the rate come out low, never high: the counts span
   * at most the time the clock readings span. So a time estimated from a
   * count (park.c, now_at_least) is never short. */
  uint64_t ticks = corun__ticks();
  int64_t now = corun__clock_ns();
  double per_us = (double)(ticks - atomic_load(&learn_from_ticks)) /
                  ((double)(now - from) / 1000.0);
  /* Outside 1 MHz..100 GHz something else is wrong: then never trust it.
   * Rounded down, which also errs low. */
  atomic_store(&corun__ticks_per_us_state,
               per_us >= 1 && per_us <= 100000 ? (int64_t)per_us : -1);
}

/* Seconds between two looks at the clocksource (corun__ticks_recheck). */
#define RECHECK_NS ((int64_t)1000000000)

void corun__ticks_recheck(int64_t now_ns) {
#if defined(__x86_64__)
  static _Atomic int64_t next_ns;
  int64_t due = atomic_load_explicit(&next_ns, memory_order_relaxed);
  if (now_ns < due || corun__ticks_per_us() <= 0)
    return;
  atomic_store_explicit(&next_ns, now_ns + RECHECK_NS, memory_order_relaxed);
  if (!clocksource_is_tsc())
    atomic_store(&corun__ticks_per_us_state, -1);
#else
  (void)now_ns; /* AArch64's counter is the architecture's: no source to
                   lose */
#endif
}
