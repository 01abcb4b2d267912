/* lock.h: a small spinlock for the runtime's short critical sections.
 * Layer: base (knows nothing of coroutines).
 *
 * Why not pthread_mutex_t: the sections it guards (a channel's queues, a
 * run queue, a timer heap) last tens of nanoseconds and never block, and a
 * worker must never sleep in the kernel holding one while tasks wait. A
 * test-and-test-and-set loop with `pause` costs one atomic exchange when
 * free; after a few hundred spins it calls sched_yield(), so a holder that
 * was preempted (2 vCPUs, noisy neighbours) gets the CPU back instead of
 * being spun against for a whole time slice.
 *
 * Invariants: never held across a context switch, except by the park
 * protocol (sched.h), which releases it on the scheduler side right after
 * the switch. Not recursive. Plain C11 atomics, so ThreadSanitizer sees
 * the acquire/release pairs. */
#ifndef CORUN_BASE_LOCK_H
#define CORUN_BASE_LOCK_H

#include <sched.h>
#include <stdatomic.h>

typedef struct corun__lock {
  atomic_int held;
} corun__lock;

#define CORUN__LOCK_INIT                                                       \
  { 0 }

static inline void corun__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

/* Called by a spinner each time it gives its CPU up (past 256 spins), if
 * set: the scheduler installs what a worker thread must do while it waits
 * (answer a revoker of a biased word that waits for this thread's fence,
 * sched.h); such a revoker may hold the lock spun on. NULL elsewhere. */
extern void (*_Atomic corun__lock_spin_hook)(void);

static inline void corun__lock_init(corun__lock *l) {
  atomic_init(&l->held, 0);
}

static inline void corun__lock_acquire(corun__lock *l) {
  for (unsigned spins = 0;; spins++) {
    if (!atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
      return;
    while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
      if (++spins > 256) {
        void (*hook)(void) =
            atomic_load_explicit(&corun__lock_spin_hook, memory_order_relaxed);
        if (hook)
          hook();
        sched_yield();
      } else {
        corun__cpu_relax();
      }
    }
  }
}

/* Takes l if it is free: 1, else 0. */
static inline int corun__lock_try(corun__lock *l) {
  return !atomic_load_explicit(&l->held, memory_order_relaxed) &&
         !atomic_exchange_explicit(&l->held, 1, memory_order_acquire);
}

static inline void corun__lock_release(corun__lock *l) {
  atomic_store_explicit(&l->held, 0, memory_order_release);
}

#endif
