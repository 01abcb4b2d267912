/* sched/ticks: the counter a busy worker times its clock reads with
 * (src/base/clock.c, corun__ticks_learn; used by corun__timers_due).
 * - Learning ends: after clock readings over a little more than 10 ms,
 *   the rate is known (> 0), or the counter is refused for good (-1),
 *   which the architecture decides: x86-64 only with clocksource "tsc",
 *   AArch64 always, nothing else.
 * - A known rate is the counter's real one: over 50 ms slept, the count
 *   divided by the microseconds the clock saw is within 20 % of it (the
 *   counter only has to tell a few microseconds from a few more; the
 *   bound is loose so that a preempted sample cannot fail the test).
 * - The counter does not run backwards on one thread.
 * - A recheck (corun__ticks_recheck) keeps a counter that is still the
 *   kernel's clocksource. */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "t.h"

/* What the architecture and the kernel allow (clock.c's rule). */
static int expect_trusted(void) {
#if defined(__x86_64__)
  char buf[32] = {0};
  int fd = open("/sys/devices/system/clocksource/clocksource0/"
                "current_clocksource",
                O_RDONLY);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && strncmp(buf, "tsc\n", 4) == 0;
#elif defined(__aarch64__)
  return 1;
#else
  return 0;
#endif
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

int main(void) {
  T_EQ(corun__ticks_per_us(), 0); /* nothing learnt before the first call */
  int64_t start = corun__clock_ns();
  while (corun__ticks_per_us() == 0) {
    int64_t now = corun__clock_ns();
    T_LT(now - start, (int64_t)5000000000); /* it must end */
    corun__ticks_learn(now);
    sleep_ms(1);
  }
  int64_t per_us = corun__ticks_per_us();
  if (!expect_trusted()) {
    T_EQ(per_us, -1);
    return 0;
  }
  T_GT(per_us, 0);
  /* A second look at the clocksource (the monitor's, once a second) keeps
   * a counter the kernel still keeps time with. */
  corun__ticks_recheck(corun__clock_ns());
  T_EQ(corun__ticks_per_us(), per_us);

  uint64_t t0 = corun__ticks();
  int64_t c0 = corun__clock_ns();
  uint64_t last = t0;
  for (int i = 0; i < 50; i++) {
    sleep_ms(1);
    uint64_t t = corun__ticks();
    T_GE(t, last);
    last = t;
  }
  int64_t us = (corun__clock_ns() - c0) / 1000;
  int64_t measured = (int64_t)(last - t0) / us;
  T_GE(measured * 10, per_us * 8);
  T_LE(measured * 10, per_us * 12);
  return 0;
}
