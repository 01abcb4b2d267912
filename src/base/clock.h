/* clock.h: the monotonic clock in nanoseconds, the runtime's one notion of
 * time (deadlines compare with it). Layer: base. */
#ifndef CORUN_BASE_CLOCK_H
#define CORUN_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t corun__clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
