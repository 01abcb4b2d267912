/* park.c: park/unpark (the protocol is in sched.h), wait queues, timers,
 * cancellation and sleep.
 * Layer: sched (uses base, coro). Locking: wait queues under their
 * object's lock; a worker's timer heap under its timer_lock. */
#include <errno.h>

#include "base/clock.h"
#include "base/panic.h"
#include "sched/worker.h"

/* ---- wait queues ---------------------------------------------------- */

void corun__waitq_push(struct corun__waitq *q, struct corun__waiter *w) {
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail)
    q->tail->next = w;
  else
    q->head = w;
  q->tail = w;
  w->queued = 1;
}

void corun__waitq_remove(struct corun__waitq *q, struct corun__waiter *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    q->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    q->tail = w->prev;
  w->prev = w->next = NULL;
  w->queued = 0;
}

struct corun__waiter *corun__waitq_claim(struct corun__waitq *q) {
  struct corun__waiter *w;
  while ((w = q->head) != NULL) {
    corun__waitq_remove(q, w);
    if (corun__claim(w->task))
      return w;
    /* Its park was claimed already (a timeout, a cancel, another select
     * case): it deregisters itself; this one is just dropped. */
  }
  return NULL;
}

struct corun__waiter *corun__waitq_claim_all(struct corun__waitq *q,
                                             size_t *nwait) {
  struct corun__waiter *first = NULL, *last = NULL, *w;
  while ((w = corun__waitq_claim(q)) != NULL) {
    (*nwait)--;     /* woken with 0, it does not come back to the object */
    w->next = NULL; /* unqueued: nobody else touches it until it runs */
    if (last)
      last->next = w;
    else
      first = w;
    last = w;
  }
  return first;
}

void corun__unpark_all(struct corun__waiter *first) {
  while (first) {
    struct corun__waiter *w = first;
    first = w->next;
    w->next = NULL;
    corun__unpark(w->task, 0); /* w may be reused from here on */
  }
}

int corun__wait_queued(struct corun_task *t, struct corun__waitq *q,
                       corun__lock *lock, size_t *nwait, void *elem,
                       const char *reason, int64_t deadline) {
  struct corun__waiter *w = &t->self_waiter;
  w->task = t;
  w->index = 0;
  w->elem = elem;
  w->result = 0;
  corun__waitq_push(q, w);
  (*nwait)++;
  int rc = corun__park(t, reason, corun__unlock_cb, lock, deadline);
  if (rc < 0) { /* nobody claimed it: leave the object */
    corun__lock_acquire(lock);
    if (w->queued)
      corun__waitq_remove(q, w);
    (*nwait)--;
    corun__lock_release(lock);
  }
  return rc;
}

void corun__unlock_cb(void *lock) {
  corun__lock_release(lock);
}

/* ---- timers ----------------------------------------------------------- */

/* Publishes w's timer count and earliest deadline, under its timer_lock
 * (worker.h), after its heap changed. */
static void timers_changed(struct corun__worker *w) {
  struct corun__heap_node *top = corun__heap_top(&w->timers);
  atomic_store_explicit(&w->ntimers, w->timers.n, memory_order_relaxed);
  atomic_store_explicit(&w->timer_next, top ? top->key : INT64_MAX,
                        memory_order_relaxed);
}

static int arm_timer(struct corun__worker *w, struct corun_task *t,
                     int64_t deadline) {
  t->timer.key = deadline;
  corun__lock_acquire(&w->timer_lock);
  int rc = corun__heap_push(&w->timers, &t->timer);
  if (rc == 0) {
    timers_changed(w);
    t->timer_w = w;
  }
  corun__lock_release(&w->timer_lock);
  return rc;
}

/* Called by t itself after its park: takes its timer out if it has not
 * fired. Taking the lock also waits for a firing that is under way, so t
 * cannot go away while the firing worker still looks at it. */
static void disarm_timer(struct corun_task *t) {
  struct corun__worker *w = t->timer_w;
  if (!w)
    return;
  corun__lock_acquire(&w->timer_lock);
  if (t->timer.index != CORUN__HEAP_NONE) {
    corun__heap_remove(&w->timers, &t->timer);
    timers_changed(w);
  }
  corun__lock_release(&w->timer_lock);
  t->timer_w = NULL;
}

int64_t corun__timers_run(struct corun__worker *w) {
  if (!atomic_load_explicit(&w->ntimers, memory_order_relaxed))
    return -1;
  int64_t now = corun__clock_ns();
  int64_t next = -1;
  corun__lock_acquire(&w->timer_lock);
  struct corun__heap_node *n;
  while ((n = corun__heap_top(&w->timers)) != NULL) {
    if (n->key > now) {
      next = n->key;
      break;
    }
    corun__heap_remove(&w->timers, n);
    struct corun_task *t =
        (struct corun_task *)((char *)n - offsetof(struct corun_task, timer));
    if (corun__claim(t))
      corun__unpark(t, -ETIMEDOUT);
  }
  timers_changed(w);
  corun__lock_release(&w->timer_lock);
  return next;
}

/* ---- park / unpark ------------------------------------------------------ */

/* A park that ends before it starts (cancelled, or the deadline is past):
 * nobody else can have claimed it, since nothing was armed or unlocked. */
static int park_cut_short(struct corun_task *t, void (*unlock)(void *),
                          void *arg, int code) {
  if (!corun__claim(t))
    return -1; /* a cancel got in first: park for real, it wakes us */
  if (unlock)
    unlock(arg);
  atomic_store_explicit(&t->wait, CORUN__WAIT_NONE, memory_order_relaxed);
  return code;
}

/* corun__park, for a caller that has read the clock already (`now`, if
 * deadline >= 0): a sleep reads it once, not three times. */
static inline __attribute__((always_inline)) int
park_at(struct corun__worker *w, struct corun_task *t, const char *reason,
        void (*unlock)(void *), void *arg, int64_t deadline, int64_t now) {
  /* Claimable from now on. No barrier (a plain store on x86-64): claimers
   * find the task through its timer or its waiter, which are published
   * after this by a lock's release (arm_timer, the unlock).
   * corun_cancel() is the exception: this look at `cancelled` may miss
   * one that comes now, and park_done() looks again, after a full barrier
   * (see corun_cancel); and since a cancel reaches the task through this
   * word alone, the store is a release, which orders the last claimer's
   * writes to the task (claimed_early, wake_code) before a cancel's
   * claim. */
  atomic_store_explicit(&t->wait, CORUN__WAIT_PARKING, memory_order_release);
  int rc;
  if (atomic_load_explicit(&t->cancelled, memory_order_relaxed) &&
      !atomic_load_explicit(&t->nocancel, memory_order_relaxed) &&
      (rc = park_cut_short(t, unlock, arg, -ECANCELED)) != -1)
    return rc;
  if (deadline >= 0) {
    if ((deadline <= now || arm_timer(w, t, deadline) < 0) &&
        (rc = park_cut_short(t, unlock, arg, -ETIMEDOUT)) != -1)
      return rc; /* also when the heap cannot grow: time out at once */
  }
  t->reason = reason;
  t->unlock = unlock;
  t->unlock_arg = arg;
  /* Off this stack: to the task that runs next on w, or to w itself; the
   * side that arrives runs unlock (sched.c). */
  corun__park_switch(w, t);
  if (t->timer_w) /* (the check inline: most parks have no deadline) */
    disarm_timer(t);
  /* (plain: a claim of this park is over; the next park's claimers come
   * after its PARKING store, as above) */
  atomic_store_explicit(&t->wait, CORUN__WAIT_NONE, memory_order_relaxed);
  t->reason = NULL;
  return t->wake_code;
}

/* Without a clock read: a deadline past the worker's last look at the
 * clock ends the park at once; one that passed since is armed, and the
 * next pick (a few hundred nanoseconds away: this park is switching to
 * it) fires it. */
int corun__park(struct corun_task *t, const char *reason,
                void (*unlock)(void *), void *arg, int64_t deadline) {
  struct corun__worker *w = corun__worker_self();
  return park_at(w, t, reason, unlock, arg, deadline, w->clock_seen);
}

int corun__park_nocancel(struct corun_task *t, const char *reason,
                         void (*unlock)(void *), void *arg) {
  /* Set before the park: a corun_cancel that read it clear may still
   * claim this park (the caller's loop parks again), but one that comes
   * later sees it and does not. */
  atomic_store(&t->nocancel, 1);
  int rc = corun__park(t, reason, unlock, arg, -1);
  atomic_store(&t->nocancel, 0);
  return rc;
}

void corun__unpark(struct corun_task *t, int code) {
  t->wake_code = code;
  if (!t->claimed_early) {
    corun__ready(t); /* its worker had finished parking it */
    return;
  }
  int s = CORUN__WAIT_CLAIMING;
  if (!atomic_compare_exchange_strong(&t->wait, &s, CORUN__WAIT_UNPARKED))
    corun__ready(t); /* WORKER_DONE: the worker came first */
}

/* A cancel's claim of t's park, unless t waits in corun__park_nocancel:
 * woken with -ECANCELED if the claim wins. */
static void cancel_claim(struct corun_task *t) {
  if (!atomic_load(&t->nocancel) && corun__claim(t))
    corun__unpark(t, -ECANCELED);
}

void corun__park_finish(struct corun_task *t) {
  t->parking = 0;
  if (t->unlock)
    t->unlock(t->unlock_arg);
  corun__park_done(t);
}

void corun__park_done(struct corun_task *t) {
  int s = CORUN__WAIT_PARKING;
  if (atomic_compare_exchange_strong(&t->wait, &s, CORUN__WAIT_PARKED)) {
    /* The common case: a waker will claim and ready it. Unless a
     * corun_cancel() came that neither corun__park's look nor the
     * cancel's claim saw (see corun_cancel): then this look sees it. */
    if (CORUN__UNLIKELY(atomic_load(&t->cancelled)))
      cancel_claim(t);
    return;
  }
  /* Claimed early (CLAIMING), or already unparked (UNPARKED). */
  if (s == CORUN__WAIT_CLAIMING &&
      atomic_compare_exchange_strong(&t->wait, &s, CORUN__WAIT_WORKER_DONE))
    return;        /* the waker's unpark readies it */
  corun__ready(t); /* UNPARKED: the waker came first */
}

/* ---- cancellation and sleep --------------------------------------------- */

/* Dekker's handshake with a park, which stores its PARKING state without
 * a barrier (to save a locked instruction per park): the cancel stores
 * `cancelled` and then reads the park state, both sequentially
 * consistent; park_done() moves the state to PARKED with a sequentially
 * consistent compare-and-swap and then reads `cancelled`. In the single
 * order of those four operations one of the two reads comes last and
 * sees the other side's write: either the cancel finds the task parked
 * (or parking) and claims it, or park_done finds it cancelled and claims
 * it itself. A park that begins after the store sees it at once. */
int corun_cancel(corun_task *t) {
  if (!t)
    return -EINVAL;
  atomic_store(&t->cancelled, 1);
  if (atomic_load(&t->wait) != CORUN__WAIT_NONE)
    cancel_claim(t);
  return 0;
}

int corun_pin(int on) {
  struct corun_task *t = corun__task_self();
  if (!t)
    return -EPERM;
  if (on) {
    if (t->pin_depth++ == 0) {
      t->home_before_pin = t->home;
      t->home = corun__worker_self(); /* wakers read it after their claim */
    }
  } else if (t->pin_depth > 0 && --t->pin_depth == 0) {
    t->home = t->home_before_pin;
  }
  return 0;
}

int corun_hooks_set(int enabled) {
  struct corun_task *t = corun__task_self();
  if (!t)
    return -EPERM;
  int was = corun_hooks_enabled();
  t->hooks_off = !enabled;
  return was;
}

int corun_hooks_enabled(void) {
  struct corun_task *t = corun__task_self();
  if (!t)
    return -EPERM;
  return t->hooks_off == 0 ? 1 : t->hooks_off == 1 ? 0 : 2;
}

int corun_cancelled(void) {
  struct corun_task *t = corun__task_self();
  return t ? atomic_load(&t->cancelled) : 0;
}

/* Sleeps until deadline, the clock having read `now`. */
static int sleep_at(int64_t deadline, int64_t now) {
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  if (!t)
    return err;
  if (deadline <= now) {
    if (atomic_load(&t->cancelled))
      return -ECANCELED;
    corun_yield(NULL); /* give the worker back, as a zero sleep does */
    return 0;
  }
  int rc = park_at(corun__worker_self(), t, "sleep", NULL, NULL, deadline, now);
  return rc == -ETIMEDOUT ? 0 : rc;
}

int corun_sleep_until(int64_t deadline) {
  return sleep_at(deadline, corun__clock_ns());
}

int corun_sleep(int64_t ns) {
  int64_t now = corun__clock_ns();
  if (ns > INT64_MAX - now)
    ns = INT64_MAX - now; /* "for ever" must not wrap into the past */
  return sleep_at(ns > 0 ? now + ns : now, now);
}

int64_t corun_now(void) {
  return corun__clock_ns();
}
