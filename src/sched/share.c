/* share.c: where a worker looks beyond its own queues' usual order
 * (runnext, inbox, deque newest first, yield line: sched.c's pick):
 *  - the periodic turn's oldest task of one queue, each queue in turn,
 *    so that no queue starves behind another (fairness);
 *  - the global queue, with the worker's share of the tasks behind the
 *    oldest moved to its deque;
 *  - the other workers' deques (stealing).
 * Layer: sched (uses base, coro). Locking: the run queues' sections
 * (taskq.h); deques lock-free (deque.h). Out of pick's inline path: each
 * runs once in 61 picks or when the worker's own queues are empty. */
#include "base/rand.h"
#include "sched/taskq.h"

/* The periodic turn's first look: the oldest task of one of w's queues
 * behind runnext, each queue in turn. Every queue is otherwise served
 * only once those before it in pick's order (sched.c) run dry, the deque
 * from its newest end, and one that never runs dry starved the rest for
 * good:
 *  - a deque kept busy by tasks whose short deadlines keep expiring
 *    (readied by their timers as fast as they park again) held back a
 *    yielder that owned the mutex they waited for (tests/sync/mutex,
 *    last_out);
 *  - an inbox kept busy by pinned tasks that wake each other (corun_pin,
 *    or a shared stack's tasks readied by another worker) held back the
 *    deque (tests/sched/fair; tests/sync/mutex's stress under TSan);
 *  - tasks pushed and popped at the deque's newest end hold back its
 *    oldest: the turn takes that one, as a thief would.
 * So a task waits at most for the tasks ahead of it in its own queue, a
 * turn each. */
struct corun_task *corun__fair_pop(struct corun__worker *w) {
  switch (w->fair_next++ & 3) {
  case 0:
    return corun__yield_line_pop(w);
  case 1:
    return corun__taskq_pop(&corun__S.global);
  case 2:
    return corun__taskq_pop(&w->inbox);
  default:
    return corun__deque_steal(&w->dq);
  }
}

/* Tasks corun__global_take moves to the deque at most, besides the one it
 * returns. */
#define GLOBAL_BATCH 32

/* The global queue's oldest task, or NULL; with several workers, also
 * the worker's share of the tasks behind it (the queue's length over the
 * number of workers, at most GLOBAL_BATCH), into w's deque, which is
 * empty here (pick_local found nothing). Go's globrunqget does the same.
 * Taken one at a time, the tasks of a burst that overflowed a deque
 * (bench_sched's 100,000 sleepers) went to both workers by turns: each
 * pop fought the other worker for the queue's lock, and its prefetches of
 * the next tasks (corun__taskq_pop) served the other worker's pop, on the
 * other CPU. Now each worker runs a run of them itself, the deque's pops
 * prefetch for it (deque_prefetch), and the other can still steal them.
 * Pushed newest first, so that the deque's owner, which pops its newest,
 * runs them in their order. sleepers with two workers, 15-run medians,
 * three alternating pairs: 752-790 -> 500-511 ns. */
struct corun_task *corun__global_take(struct corun__worker *w) {
  struct corun__taskq *g = &corun__S.global;
  struct corun_task *t = corun__taskq_pop(g);
  unsigned n = atomic_load_explicit(&corun__S.n, memory_order_relaxed);
  if (!t || n < 2)
    return t;
  size_t k = atomic_load_explicit(&g->len, memory_order_relaxed) / n;
  if (k > GLOBAL_BATCH)
    k = GLOBAL_BATCH;
  struct corun_task *batch[GLOBAL_BATCH];
  size_t got = 0;
  while (got < k && (batch[got] = corun__taskq_pop(g)))
    got++;
  while (got > 0) {
    struct corun_task *u = batch[--got];
    if (corun__deque_push(&w->dq, u) < 0) /* thieves race: not expected */
      corun__taskq_push(g, u);
  }
  return t;
}

/* Takes a task from another worker's deque, from a random victim onwards
 * (or from the one idle() watched stay busy: steal_from), or NULL. */
struct corun_task *corun__steal(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  unsigned n = atomic_load_explicit(&S->n, memory_order_relaxed);
  if (n < 2)
    return NULL;
  unsigned start = w->steal_from && w->steal_from <= n
                       ? w->steal_from - 1
                       : corun__rand_below(&w->rng, n);
  w->steal_from = 0;
  for (unsigned i = 0; i < n; i++) {
    struct corun__worker *v = &S->w[(start + i) % n];
    struct corun_task *t;
    if (v != w && (t = corun__deque_steal(&v->dq)))
      return t;
  }
  return NULL;
}
