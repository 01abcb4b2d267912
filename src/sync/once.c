/* once.c: corun_once_do, on park/unpark (sched.h).
 * Layer: sync (uses base, sched).
 *
 * corun_once.state goes 0 (not run) -> 1 (running) -> 2 (done), with
 * __atomic builtins (the public struct has a plain int). The caller whose
 * CAS 0 -> 1 succeeds runs fn, stores 2 (release: a caller that reads 2
 * sees everything fn did) and wakes the waiters.
 *
 * Waiters do not hang off the once object (it has no destructor, so
 * nothing hung there could be freed): they park in a fixed table of
 * buckets chosen by the object's address, each a corun__lock and a FIFO
 * of waiters whose `elem` names the once they wait for (WebKit's and
 * Rust's parking lot). corun_once.waiter is left unused.
 *
 * No lost wake-up: a waiter reads the state under its bucket's lock and
 * queues itself in the same critical section; the runner stores 2 before
 * taking that lock. If the waiter's section comes first, the runner finds
 * it; if the runner's comes first, the waiter reads 2 and does not park.
 * The runner does not touch the once object after storing 2 (a caller that
 * sees 2 may free it at once); it only compares waiters' `elem` with its
 * address. If such freed memory became a new once with waiters in the same
 * bucket, the runner would wake them for nothing: a woken waiter therefore
 * re-reads the state and waits again unless it is 2.
 *
 * A waiting task that is cancelled stops waiting with -ECANCELED (fn is
 * still running then); a timeout cannot happen (no deadline). */
#include <errno.h>
#include <stdint.h>

#include "base/lock.h"
#include "sched/sched.h"

enum { NOT_RUN = 0, RUNNING = 1, DONE = 2 };

#define BUCKETS 64 /* a power of two */

static struct bucket {
  corun__lock lock;
  struct corun__waitq q;
} __attribute__((aligned(64))) buckets[BUCKETS];

static struct bucket *bucket_of(const corun_once *once) {
  uintptr_t a = (uintptr_t)once;
  a ^= a >> 17;
  a *= 0x9E3779B97F4A7C15ULL; /* Fibonacci hashing: the top bits mix */
  return &buckets[(a >> 58) & (BUCKETS - 1)];
}

static int load_state(const corun_once *once) {
  return __atomic_load_n(&once->state, __ATOMIC_ACQUIRE);
}

/* fn has returned: publish it and wake whoever waits for `once`. */
static void finish(corun_once *once) {
  struct bucket *b = bucket_of(once);
  __atomic_store_n(&once->state, DONE, __ATOMIC_RELEASE);
  /* From here on `once` is only an address to compare (see above). */
  struct corun__waiter *first = NULL, *last = NULL, *w, *next;
  corun__lock_acquire(&b->lock);
  for (w = b->q.head; w; w = next) {
    next = w->next;
    if (w->elem != (void *)once)
      continue;
    corun__waitq_remove(&b->q, w);
    if (corun__claim(w->task)) { /* unqueued, untouched until it runs */
      if (last)
        last->next = w;
      else
        first = w;
      last = w;
    } /* else cancelled: it finds itself off the queue and leaves */
  }
  corun__lock_release(&b->lock);
  corun__unpark_all(first); /* longest waiter first */
}

/* Waits until once's state is DONE. */
static int wait_done(corun_once *once) {
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  if (!t)
    return load_state(once) == DONE ? 0 : err; /* -EPERM */
  struct bucket *b = bucket_of(once);
  struct corun__waiter *w = &t->self_waiter;
  for (;;) {
    corun__lock_acquire(&b->lock);
    if (load_state(once) == DONE) {
      corun__lock_release(&b->lock);
      return 0;
    }
    w->task = t;
    w->index = 0;
    w->elem = once;
    w->result = 0;
    corun__waitq_push(&b->q, w);
    int rc = corun__park(t, "once", corun__unlock_cb, &b->lock, -1);
    if (rc < 0) { /* cancelled */
      corun__lock_acquire(&b->lock);
      if (w->queued)
        corun__waitq_remove(&b->q, w);
      corun__lock_release(&b->lock);
      return rc;
    }
    /* Woken by a runner: re-read the state (see above). */
  }
}

int corun_once_do(corun_once *once, void (*fn)(void *arg), void *arg) {
  if (!once || !fn)
    return -EINVAL;
  int s = load_state(once);
  if (s == DONE)
    return 0;
  if (s == NOT_RUN &&
      __atomic_compare_exchange_n(&once->state, &s, RUNNING, 0,
                                  __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
    fn(arg);
    finish(once);
    return 0;
  }
  return s == DONE ? 0 : wait_done(once);
}
