/* futex.h: the two futex(2) operations the runtime sleeps and wakes with
 * (private to the process). Layer: base (knows nothing of coroutines).
 * A word is an atomic_uint; a sleeper sleeps only while it holds 0. */
#ifndef CORUN_BASE_FUTEX_H
#define CORUN_BASE_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleeps while *word is 0, until woken, a signal, or the relative timeout
 * ts (NULL: none). Returns nothing: callers look at their word again. */
static inline void corun__futex_wait(atomic_uint *word,
                                     const struct timespec *ts) {
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 0, ts, NULL, 0);
}

/* Wakes up to n sleepers on word. */
static inline void corun__futex_wake(atomic_uint *word, int n) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#endif
