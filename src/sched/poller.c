/* poller.c: the scheduler's side of what wakes tasks from outside it:
 * the event loop (installed by the poll layer, run by idle or busy
 * workers now and then), the flush deadline of a poller that batches its
 * submissions, waits on helper threads (which rule a deadlock out), and
 * the functions other layers ask corun_main to run at its end.
 * Layer: sched (uses base, coro).
 *
 * Locking: `polling` lets one worker at a time into the poller; the
 * at-end table is under end_lock; the rest are single atomic words. */
#include <errno.h>

#include "base/clock.h"
#include "sched/worker.h"

void corun__external_begin(void) {
  atomic_fetch_add(&corun__S.external, 1);
}

void corun__external_end(void) {
  atomic_fetch_sub(&corun__S.external, 1);
}

int corun__sched_at_end(void (*fn)(void)) {
  struct corun__sched *S = &corun__S;
  int rc = -ENOMEM;
  corun__lock_acquire(&S->end_lock);
  for (unsigned i = 0; i < sizeof S->at_end / sizeof S->at_end[0]; i++)
    if (!S->at_end[i] || S->at_end[i] == fn) {
      S->at_end[i] = fn;
      rc = 0;
      break;
    }
  corun__lock_release(&S->end_lock);
  return rc;
}

/* How long a request a batching poller has queued may wait for its flush
 * while the workers are busy (corun__sched_flush_soon). Its batch is the
 * requests the tasks that run meanwhile queue: with an HTTP server's
 * handlers, a microsecond or two each, on the order of ten per
 * io_uring_enter (an estimate, not counted). A task that runs longer than
 * this delays the flush until it is done, unless another worker goes
 * between tasks meanwhile (or, if it blocks its worker, until the monitor
 * makes another worker take over, and that one flushes before it
 * sleeps). */
#ifndef CORUN__FLUSH_NS
#define CORUN__FLUSH_NS 20000
#endif

struct corun__flush_by corun__flush_by;

void corun__sched_flush_soon(void) {
  if (!atomic_load_explicit(&corun__flush_by.at, memory_order_relaxed))
    atomic_store_explicit(&corun__flush_by.at,
                          corun__clock_ns() + CORUN__FLUSH_NS,
                          memory_order_relaxed);
}

void corun__sched_flushed(void) {
  if (atomic_load_explicit(&corun__flush_by.at, memory_order_relaxed))
    atomic_store_explicit(&corun__flush_by.at, 0, memory_order_relaxed);
}

void corun__sched_flush(void) {
  const struct corun__poller *p =
      atomic_load_explicit(&corun__S.poller, memory_order_relaxed);
  if (p && p->flush)
    p->flush();
  else
    corun__sched_flushed();
}

int corun__sched_set_poller(const struct corun__poller *p) {
  const struct corun__poller *none = NULL;
  return atomic_compare_exchange_strong(&corun__S.poller, &none, p) ? 0
                                                                    : -EBUSY;
}

/* Runs the poller for up to timeout_ns if tasks wait for IO and no other
 * worker is in it. Returns whether it ran. */
int corun__poll_io(struct corun__worker *w, int64_t timeout_ns) {
  struct corun__sched *S = &corun__S;
  const struct corun__poller *p = atomic_load(&S->poller);
  if (!p || p->pending() == 0)
    return 0;
  int zero = 0;
  if (!atomic_compare_exchange_strong(&S->polling, &zero, 1))
    return 0;
  /* A worker about to sleep in the poller (idle.c) may have been woken
   * after its last look at futex_word, through the poller's wake-up
   * (an eventfd): which another worker, polling before this one got in,
   * may have reaped and drained. Then nothing would interrupt this
   * wait. The waker sets futex_word before its wake-up and the other
   * poller's reap comes before its release of `polling`, which this CAS
   * acquired: so the word is seen set here. (A hang of tests/io/fdreuse
   * with 2 workers and io_uring: 1 batch in about 40 of 4 runs at once.) */
  if (timeout_ns != 0 && atomic_load(&w->futex_word))
    timeout_ns = 0;
  w->in_poller = 1; /* the tasks it readies queue FIFO: corun__ready */
  p->poll(timeout_ns);
  w->in_poller = 0;
  atomic_store(&S->polling, 0);
  return 1;
}
