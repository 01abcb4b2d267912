/* ready.c: where a task made runnable goes: the worker's runnext, its
 * deque, its inbox or the global queue (worker.h says what each is for),
 * and the wake-up of an idle worker when the task may run elsewhere.
 * Layer: sched (uses base, coro).
 *
 * corun__ready is every wake-up's way in (unpark, spawn, timers, IO);
 * the worker's loop (sched.c) takes from these queues. A task readied by
 * a task that the monitor finds blocking its worker must not stay in
 * that worker's runnext: see runnext_reclaim.
 *
 * Locking: see worker.h for the queues. */
#include "base/compiler.h"
#include "base/rand.h"
#include "sched/taskq.h"

/* Puts the chain first..last at q's tail, inside q's section. */
static inline void taskq_link(struct corun__taskq *q, struct corun_task *first,
                              struct corun_task *last) {
  if (q->tail)
    q->tail->qnext = first;
  else
    q->head = first;
  q->tail = last;
}

/* Puts the chain first..last (n tasks, linked through qnext, last's
 * NULL) at q's tail: one section for all of them (taskq.h). */
static inline void taskq_push_chain(struct corun__taskq *q,
                                    struct corun_task *first,
                                    struct corun_task *last, size_t n) {
  int solo = corun__taskq_enter(q);
  taskq_link(q, first, last);
  if (solo)
    atomic_store_explicit(
        &q->len, atomic_load_explicit(&q->len, memory_order_relaxed) + n,
        memory_order_relaxed);
  else
    atomic_fetch_add(&q->len, n); /* publishes it to idle workers */
  corun__taskq_leave(q, solo);
}

/* Not inlined: corun__ready's fast path (runnext) would otherwise save
 * the registers of this lock's spin loop on every call (15 instructions
 * more per wake-up, callgrind). */
CORUN__NOINLINE void corun__taskq_push(struct corun__taskq *q,
                                       struct corun_task *t) {
  t->qnext = NULL;
  taskq_push_chain(q, t, t, 1);
}

/* push_local's slow path: self's deque is full. Its older half goes to
 * the global queue, then t, in one push (Go's runqputslow), so that a
 * burst of spawns or of timers pays the global queue's lock once per
 * DEQUE_CAP / 2 tasks rather than once per task, and a locked
 * instruction per task that waited for the cold stores before it. The
 * tasks are linked straight from the deque's slots: an array of them
 * would take a kilobyte of the stack of the task that spawns, which may
 * have only 4 KiB (CORUN_STACK_MIN). */
static CORUN__NOINLINE void push_overflow(struct corun__worker *self,
                                          struct corun_task *t) {
  const size_t half = CORUN__DEQUE_CAP / 2;
  ptrdiff_t at = corun__deque_take_oldest(&self->dq, half);
  if (at < 0) {
    if (corun__deque_push(&self->dq, t) == 0)
      return; /* thieves made room */
    corun__taskq_push(&corun__S.global, t);
    return;
  }
  struct corun_task *first = corun__deque_at(&self->dq, (size_t)at);
  struct corun_task *prev = first;
  for (size_t i = 1; i < half; i++) {
    struct corun_task *next = corun__deque_at(&self->dq, (size_t)at + i);
    prev->qnext = next;
    prev = next;
  }
  prev->qnext = t;
  t->qnext = NULL;
  taskq_push_chain(&corun__S.global, first, t, half + 1);
}

void corun__give_away(struct corun__worker *self) {
  struct corun_task *first = NULL, *last = NULL, *t;
  size_t n = 0;
  /* (an exchange: the monitor takes runnext with one, worker.h) */
  if ((t = atomic_exchange(&self->runnext, NULL)) && t->home)
    corun__taskq_push(&self->inbox, t);
  else if (t)
    corun__chain_add(&first, &last, t), n++;
  /* The deque's tasks are not pinned (push_here); popped newest first,
   * each goes before the one popped before it. */
  struct corun_task *dfirst = NULL, *dlast = NULL;
  while ((t = corun__deque_pop(&self->dq))) {
    t->qnext = dfirst;
    dfirst = t;
    if (!dlast)
      dlast = t;
    n++;
  }
  if (dfirst) {
    if (last)
      last->qnext = dfirst;
    else
      first = dfirst;
    last = dlast;
  }
  while ((t = self->yield_head)) {
    self->yield_head = t->qnext;
    if (t->home)
      corun__taskq_push(&self->inbox, t);
    else
      corun__chain_add(&first, &last, t), n++;
  }
  self->yield_tail = NULL;
  if (n) {
    taskq_push_chain(&corun__S.global, first, last, n);
    corun__wake_one();
  }
}

/* Puts t where worker `self` keeps stealable work. */
static void push_local(struct corun__worker *self, struct corun_task *t) {
  if (CORUN__UNLIKELY(corun__deque_push(&self->dq, t) < 0))
    push_overflow(self, t);
  corun__wake_one();
}

void corun__push_fifo(struct corun__worker *self, struct corun_task *t) {
  if (t->home) {
    corun__taskq_push(&self->inbox, t);
  } else {
    corun__taskq_push(&corun__S.global, t);
    corun__wake_one();
  }
}

void corun__push_here(struct corun__worker *self, struct corun_task *t) {
  if (t->home)
    corun__taskq_push(&self->inbox, t);
  else
    push_local(self, t);
}

/* The second half of Dekker's handshake with the monitor (monitor.c,
 * top) for a task just stored in self's runnext: corun__ready looked at
 * `blocked` before the store, and a monitor that found this worker
 * blocked after that look and took runnext before the store found it
 * empty. t would then wait there until the task that keeps the worker
 * ends, for ever if that task waits for t (a review's find: a task
 * readied by a spare worker's task just before that task spun; with a
 * 3 ms stall injected between look and store, stranded 3 runs of 3). So
 * after the store the caller looks at `blocked` again, as dispatch_end
 * does after its store, and the monitor's membarrier orders both. Either
 * the monitor's exchange finds the task, or that look finds `blocked`
 * and this takes the task back (an exchange: the monitor may be taking
 * it too) to where other workers can run it. */
static CORUN__NOINLINE void runnext_reclaim(struct corun__worker *self) {
  struct corun_task *back = atomic_exchange(&self->runnext, NULL);
  if (back)
    corun__push_here(self, back);
}

/* corun__ready's other case: runnext holds a task, which t displaces, or
 * the monitor takes runnext without its membarrier (runnext_shared), so
 * that the store must be an exchange (the full fence the look at
 * `blocked` after it needs). A task in runnext is taken out with an
 * exchange, which the monitor may be making too (worker.h). */
static CORUN__NOINLINE void runnext_displace(struct corun__worker *self,
                                             struct corun_task *t) {
  struct corun_task *old = atomic_exchange(&self->runnext, t);
  if (CORUN__UNLIKELY(
          atomic_load_explicit(&self->blocked, memory_order_relaxed)))
    runnext_reclaim(self);
  if (old) /* the older one becomes stealable (or waits in the inbox) */
    corun__push_here(self, old);
}

/* corun__ready for a task pinned to another worker than the caller's:
 * into that worker's inbox. Out of line, like every case but runnext's. */
static CORUN__NOINLINE void push_home(struct corun__worker *home,
                                      struct corun_task *t) {
  corun__taskq_push(&home->inbox, t);
  corun__wake_this(home);
}

void corun__ready(struct corun_task *t) {
  /* (read straight: nothing here switches, worker.h) */
  struct corun__worker *self = corun__tls_worker;
  /* Read once: t may run (and change its pin) as soon as it is queued. */
  struct corun__worker *home = t->home;
  if (home && home != self) {
    push_home(home, t);
    return;
  }
  if (!self) { /* a thread that is not a worker */
    corun__taskq_push(&corun__S.global, t);
    corun__wake_one();
    return;
  }
  if (CORUN__UNLIKELY(corun__S.shuffle)) {
    if (home || corun__rand(&self->rng) & 1)
      corun__taskq_push(home ? &self->inbox : &corun__S.global, t);
    else
      push_local(self, t);
    corun__wake_one();
    return;
  }
  if (self->in_poller) {
    /* Readied by IO, maybe one of many in this poll: first come, first
     * served, on the global queue (runnext and the deque would serve the
     * last first, and under steady load the first might wait for long:
     * a p99 latency of 300 ms in an HTTP benchmark). Also visible to the
     * deadlock check before the poller drops its pending count. A task
     * pinned here (a shared stack's) stays. */
    corun__push_fifo(self, t);
    return;
  }
  if (CORUN__UNLIKELY(
          self->asleep ||
          atomic_load_explicit(&self->blocked, memory_order_relaxed))) {
    /* Readied by IO this worker polled while counted asleep: where other
     * workers see it, or one going idle now could find every worker
     * asleep, no IO pending and no work, and declare a deadlock. Readied
     * by a task the monitor found blocking this worker: where others
     * can take it. */
    corun__push_here(self, t);
    return;
  }
  /* Plain loads and stores when runnext is empty (the common case); the
   * rest out of line, so that this path saves no registers. */
  if (CORUN__LIKELY(
          !atomic_load_explicit(&self->runnext, memory_order_relaxed) &&
          !corun__S.runnext_shared)) {
    /* (Release: a monitor that takes t reads it.) */
    atomic_store_explicit(&self->runnext, t, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
    if (CORUN__UNLIKELY(
            atomic_load_explicit(&self->blocked, memory_order_relaxed)))
      runnext_reclaim(self);
    return;
  }
  runnext_displace(self, t);
}
