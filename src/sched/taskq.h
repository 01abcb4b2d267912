/* taskq.h: a locked FIFO of tasks (struct corun__taskq, worker.h): the
 * section its pushes (ready.c) and pops (sched.c) run in, and the pop.
 * Internal to the sched layer (uses base, coro).
 *
 * Locking: q's lock; or, on the worker that holds the solo bias (sched.h),
 * no lock and no locked instruction at all. Every other thread then either
 * sleeps quiet (its first look at a queue comes after its wake-up has
 * revoked the bias, whose membarrier(2) shows it these stores) or must
 * revoke first, as a thread that is not a worker does here
 * (corun__solo_enter). For IO: a task readied by a poll goes to the global
 * queue, and one worker's server paid two locked instructions a message
 * for the push, one for the pop and one for the wake-up's look at the idle
 * count (idle.c, idle_count). `len` changes only inside the section. */
#ifndef CORUN_SCHED_TASKQ_H
#define CORUN_SCHED_TASKQ_H

#include "coro/coro.h"
#include "sched/worker.h"

/* Enters q's section: 1 through the solo bias (leave with that), 0
 * under q's lock. */
static inline int corun__taskq_enter(struct corun__taskq *q) {
  return corun__solo_lock(&q->lock);
}

static inline void corun__taskq_leave(struct corun__taskq *q, int solo) {
  corun__solo_unlock(&q->lock, solo);
}

/* How much of a queued task's stack a pop prefetches: the frames a task
 * parked in IO returns through first (an HTTP server's keep-alive read:
 * the switch, park, the poll layer, run_io and corun_read take 816 bytes
 * on x86-64 at -O2), and the bottom of the caller's frame. */
#define CORUN__PREFETCH_STACK 1024

/* Takes the task at q's head, or NULL; starts loading what the next pops
 * will need. */
static inline struct corun_task *corun__taskq_pop(struct corun__taskq *q) {
  if (!atomic_load_explicit(&q->len, memory_order_relaxed))
    return NULL;
  const char *span = NULL;
  size_t nspan = 0;
  int solo = corun__taskq_enter(q);
  struct corun_task *t = q->head;
  /* t's own stack is loaded below unless the last pop started it (t was
   * its next): t came first in its batch, or the queue had run empty. */
  int cold = t && t != q->warm;
  if (t) {
    struct corun_task *next = t->qnext;
    q->head = next;
    if (!next) {
      q->tail = NULL;
      q->warm = NULL;
    } else {
      /* The global queue holds the tasks a poll readied, in batches of
       * up to 128, each task cold by its turn when there are many
       * connections: its object, its coroutine struct and its stack.
       * Each pop starts loading what the next ones need, in steps that
       * each read only what the previous pop loaded: the next task's
       * stack (its coroutine struct came at the last pop; the prefetch
       * instructions themselves after the unlock), the coroutine struct
       * of the one after it, and the task object after that. */
      struct corun_task *after = next->qnext;
      nspan = corun__coro_resume_span(next->co, CORUN__PREFETCH_STACK, &span);
      corun__coro_prefetch_end(next->co);
      q->warm = next;
      if (after) {
        __builtin_prefetch(after->co);
        if (after->qnext)
          __builtin_prefetch(after->qnext);
      }
    }
    /* Not a locked decrement: len changes only inside the section, and a
     * locked instruction would wait here for the loads above. (Pushes
     * under the lock keep theirs: it publishes the task to idle workers,
     * worker.h.) */
    atomic_store_explicit(
        &q->len, atomic_load_explicit(&q->len, memory_order_relaxed) - 1,
        memory_order_relaxed);
  }
  corun__taskq_leave(q, solo);
  corun__prefetch_span(span, nspan);
  if (cold) {
    nspan = corun__coro_resume_span(t->co, CORUN__PREFETCH_STACK, &span);
    corun__prefetch_span(span, nspan);
  }
  return t;
}

#endif
