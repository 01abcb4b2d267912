/* park.c: park/unpark (the protocol is in sched.h), wait queues, timers,
 * cancellation and sleep.
 * Layer: sched (uses base, coro). Locking: wait queues under their
 * object's lock; a worker's timer heap under its timer_lock, which the
 * solo bias covers (sched.h, corun__solo_lock): with one worker, arming
 * and disarming a timer take no locked instruction (bench_sched's
 * sleepers, one worker: the lock's exchange had 15 % of the samples,
 * waiting for the stores before it). Its firing (corun__timers_run)
 * takes the plain lock: it readies tasks, whose queues the bias covers
 * too, and sections held through the bias do not nest. (The wait words'
 * bias: solo.c.) */
#include <errno.h>

#include "base/clock.h"
#include "sched/worker.h"

/* ---- wait queues ---------------------------------------------------- */

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

/* ---- timers -----------------------------------------------------------
 * A task's timer is one heap node in its task object (`timer`), in the
 * heap of the worker it parked on (`timer_w`), and the deadline of the
 * park that armed it (`timer_when`, -1 when none: under timer_w's
 * timer_lock). A wait that ends before its deadline, the common case (a
 * read with a 60 s deadline that data completes), leaves the node where
 * it is, with timer_when -1; the next park with a deadline finds it in
 * the heap and only sets timer_when, as long as that deadline is not
 * earlier than the node's key. So the key is never later than the
 * deadline it stands for, and the heap's order stays true for the real
 * deadlines; a node whose timer_when is -1 (left) or later than its key
 * (re-armed) is dropped or moved down when it is at the top and its key
 * is due (Go's timers: deleted and modified-later states). Before,
 * each such read pushed the node and took it out again, with a cache miss
 * on another task's node at each level.
 * ntimers counts the armed ones only: the deadlock check and a pick's
 * "any?" ignore the nodes left behind. A task's end takes its node out of
 * whatever heap still holds it (corun__timer_forget), and so does a park
 * with a deadline on another worker. Nodes left behind cost nothing until
 * their keys are due; then the pick that finds them drops them, as many as
 * are due at once (at most one per task), under the heap's lock. */

/* Publishes w's armed-timer count and earliest key, under its timer_lock
 * (worker.h), after its heap or its count changed. */
static void timers_changed(struct corun__worker *w) {
  struct corun__heap_node *top = corun__heap_top(&w->timers);
  atomic_store_explicit(&w->ntimers, w->timers_armed, memory_order_relaxed);
  atomic_store_explicit(&w->timer_next, top ? top->key : INT64_MAX,
                        memory_order_relaxed);
}

static struct corun_task *task_of_timer(struct corun__heap_node *n) {
  return (struct corun_task *)((char *)n - offsetof(struct corun_task, timer));
}

void corun__timer_forget(struct corun_task *t) {
  struct corun__worker *w = t->timer_w;
  if (!w)
    return;
  int solo = corun__solo_lock(&w->timer_lock);
  if (t->timer.index != CORUN__HEAP_NONE) {
    corun__heap_remove(&w->timers, &t->timer);
    timers_changed(w);
  }
  corun__solo_unlock(&w->timer_lock, solo);
  t->timer_w = NULL;
}

/* By t on w, before its park: arms its timer for `deadline`. Returns 0,
 * or -ENOMEM (the heap could not grow: nothing armed). */
static int arm_timer(struct corun__worker *w, struct corun_task *t,
                     int64_t deadline) {
  if (t->timer_w != w)
    corun__timer_forget(t); /* left in another worker's heap: t moved */
  int rc = 0;
  int solo = corun__solo_lock(&w->timer_lock);
  if (t->timer.index == CORUN__HEAP_NONE) {
    t->timer.key = deadline;
    rc = corun__heap_push(&w->timers, &t->timer);
  } else if (deadline < t->timer.key) {
    t->timer.key = deadline; /* earlier than the node left here: move up */
    corun__heap_fix(&w->timers, &t->timer);
  } /* else: the key stays earlier; it is moved when it reaches the top */
  if (rc == 0) {
    t->timer_when = deadline;
    t->timer_w = w;
    t->timer_armed = 1;
    w->timers_armed++;
    timers_changed(w);
  }
  corun__solo_unlock(&w->timer_lock, solo);
  return rc;
}

/* Called by t itself after a park that armed its timer: disarms it if it
 * has not fired, leaving the node in the heap if t still runs on the
 * worker that holds it (its next deadline will likely be armed there).
 * After a move it takes the node out now, where it holds no other lock,
 * rather than at its next deadline, under the lock of the object it then
 * waits on. Taking the lock also waits for a firing that is under way, so
 * t cannot go away while the firing worker still looks at it. */
static void disarm_timer(struct corun_task *t) {
  struct corun__worker *w = t->timer_w;
  int moved = w != corun__worker_self();
  t->timer_armed = 0;
  int solo = corun__solo_lock(&w->timer_lock);
  if (t->timer_when >= 0) {
    t->timer_when = -1;
    w->timers_armed--;
    if (moved && t->timer.index != CORUN__HEAP_NONE)
      corun__heap_remove(&w->timers, &t->timer);
    timers_changed(w);
  }
  int in_heap = t->timer.index != CORUN__HEAP_NONE;
  corun__solo_unlock(&w->timer_lock, solo);
  if (!in_heap)
    t->timer_w = NULL; /* fired: nothing for the task's end to take out */
}

/* Whether w's last clock reading is under CORUN__CLOCK_SLACK_US old by
 * the counter, which reads `ticks` now: then the prefilter below skips
 * the clock, and now_at_least estimates the time from that reading (one
 * window for both: the estimate's bound rests on it). A count below the
 * last one (read on a CPU a little behind) wraps: old. */
static inline int reading_fresh(const struct corun__worker *w, uint64_t ticks,
                                int64_t per_us) {
  return ticks - w->ticks_seen < (uint64_t)per_us * CORUN__CLOCK_SLACK_US;
}

/* corun__timers_due (worker.h) once a timer is armed or a flush waits.
 * Out of line: inline, its clock read and calls made its callers (a
 * direct yield, a park's switch, pick) save and restore two more
 * registers each time (4 of the 217 instructions of a direct yield,
 * callgrind). */
CORUN__NOINLINE int corun__timers_due_slow(struct corun__worker *w,
                                           int64_t flush_at, size_t armed,
                                           int may_flush) {
  int64_t per_us = corun__ticks_per_us();
  if (per_us > 0) {
    /* Too soon to look again; but every CORUN__CLOCK_SKIPS_MAX skips it
     * looks anyway, so that a counter that stopped (the kernel found it
     * unstable since, and left it) cannot hold timers back for good
     * (between short tasks about ten skips fit in 5 us: the bound is far
     * from the common case). */
    uint64_t now = corun__ticks();
    if (reading_fresh(w, now, per_us) &&
        ++w->clock_skips < CORUN__CLOCK_SKIPS_MAX)
      return 0;
    w->clock_skips = 0;
    w->ticks_seen = now;
    w->clock_seen = corun__clock_ns();
  } else {
    w->clock_seen = corun__clock_ns();
    if (per_us == 0)
      corun__ticks_learn(w->clock_seen);
  }
  if (flush_at && w->clock_seen >= flush_at) {
    if (!may_flush)
      return -1;
    corun__sched_flush();
  }
  if (!armed || w->clock_seen <
                    atomic_load_explicit(&w->timer_next, memory_order_relaxed))
    return 0;
  corun__timers_run(w, w->clock_seen); /* (one clock read, not two) */
  return 1;
}

int64_t corun__timers_run(struct corun__worker *w, int64_t now) {
  if (!atomic_load_explicit(&w->ntimers, memory_order_relaxed))
    return -1;
  int64_t next = -1;
  corun__lock_acquire(&w->timer_lock);
  struct corun__heap_node *n;
  /* A node is looked at only once its key is due: one left behind stays
   * until then (its task's next park with a deadline may find it still
   * there), at the cost of one early look at that time. */
  while ((n = corun__heap_top(&w->timers)) != NULL) {
    if (n->key > now) {
      next = n->key;
      break;
    }
    struct corun_task *t = task_of_timer(n);
    if (t->timer_when < 0) { /* left by a wait that ended early */
      corun__heap_remove(&w->timers, n);
      continue;
    }
    if (t->timer_when > n->key) { /* re-armed later: to its real place */
      n->key = t->timer_when;
      corun__heap_fix(&w->timers, n);
      continue;
    }
    corun__heap_remove(&w->timers, n);
    t->timer_when = -1;
    w->timers_armed--;
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

/* corun__park_begin, for a caller that has read the clock already (`now`,
 * if deadline >= 0): a sleep reads it once, not three times. */
static inline __attribute__((always_inline)) int
park_begin(struct corun__worker *w, struct corun_task *t, const char *reason,
           void (*unlock)(void *), void *arg, int64_t deadline, int64_t now,
           struct corun_coro **to) {
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
  /* Off this stack (the caller's switch): to the task that runs next on
   * w, or to w itself; the side that arrives runs unlock (sched.c). */
  return corun__park_next(w, t, to);
}

/* corun__park_begin with a deadline or a cancel to look at. Without a
 * clock read: a deadline past the worker's last look at the clock ends
 * the park at once; one that passed since is armed, and the next pick (a
 * few hundred nanoseconds away: this park is switching to it) fires it. */
static CORUN__NOINLINE int park_begin_slow(struct corun_task *t,
                                           const char *reason,
                                           void (*unlock)(void *), void *arg,
                                           int64_t deadline,
                                           struct corun_coro **to) {
  struct corun__worker *w = corun__worker_self();
  return park_begin(w, t, reason, unlock, arg, deadline, w->clock_seen, to);
}

/* park_begin's common case, a park with no deadline of a task not
 * cancelled, in a function that makes only tail calls and so saves no
 * register (sched.c, corun__park_next). The worker is read straight: no
 * switch happens in here, and it is not inlined into a caller that
 * switches (worker.h; clang inlined it into corun__wait_queued). The cancel is
 * looked at before PARKING is stored, which is as good as after: a cancel that
 * comes later still meets park_done's look (see corun_cancel). */
CORUN__NOINLINE int corun__park_begin(struct corun_task *t, const char *reason,
                                      void (*unlock)(void *), void *arg,
                                      int64_t deadline,
                                      struct corun_coro **to) {
  if (CORUN__UNLIKELY(
          deadline >= 0 ||
          atomic_load_explicit(&t->cancelled, memory_order_relaxed)))
    return park_begin_slow(t, reason, unlock, arg, deadline, to);
  struct corun__worker *w = corun__tls_worker;
  atomic_store_explicit(&t->wait, CORUN__WAIT_PARKING, memory_order_release);
  t->reason = reason;
  t->unlock = unlock;
  t->unlock_arg = arg;
  return corun__park_next(w, t, to);
}

static void cancel_claim(struct corun_task *t);

/* corun__park_done after its compare-and-swap PARKING -> PARKED, which
 * won, or found the state s. */
static inline void park_done_after(struct corun_task *t, int won, int s) {
  if (won) {
    /* The common case: a waker will claim and ready it. Unless a
     * corun_cancel() came that neither corun__park's look nor the
     * cancel's claim saw (see corun_cancel): then this look sees it. */
    if (CORUN__UNLIKELY(atomic_load(&t->cancelled)))
      cancel_claim(t);
    return;
  }
  /* Claimed early (CLAIMING), or already unparked (UNPARKED). */
  if (s == CORUN__WAIT_CLAIMING &&
      corun__wait_cas(t, &s, CORUN__WAIT_WORKER_DONE))
    return;        /* the waker's unpark readies it */
  corun__ready(t); /* UNPARKED: the waker came first */
}

/* t's own part of corun__park_end, once the park it arrived from is
 * finished. */
static inline int park_end_own(struct corun_task *t) {
  if (t->timer_armed) /* (the check inline: most parks have no deadline) */
    disarm_timer(t);
  /* (plain: a claim of this park is over; the next park's claimers come
   * after its PARKING store, as above) */
  atomic_store_explicit(&t->wait, CORUN__WAIT_NONE, memory_order_relaxed);
  t->reason = NULL;
  return t->wake_code;
}

/* corun__park_end wherever its fast path stops short of the end. */
static CORUN__NOINLINE int park_end_slow(struct corun_task *t) {
  corun__park_arrive(); /* (finishes the park of a task that came here) */
  return park_end_own(t);
}

/* corun__park_end once the fast path has made the compare-and-swap of
 * corun__park_done for p (won, or found s) and it must go on. */
static CORUN__NOINLINE int park_end_done(struct corun_task *t,
                                         struct corun_task *p, int won, int s) {
  if (won < 0) /* this thread must enter the solo bias first (sched.h) */
    won = corun__wait_cas(p, &s, CORUN__WAIT_PARKED);
  park_done_after(p, won, s);
  return park_end_own(t);
}

/* The common case, in a function that calls nothing but leaves through a
 * tail call for everything else (as corun__park_begin: no register
 * saved): t arrived from a task p that parked with corun__unlock_cb, as
 * most parks do (every object's corun__lock, a channel's lock too), its
 * compare-and-swap to PARKED wins, nobody cancelled p, and t has no
 * timer armed. Then it is corun__park_arrive, corun__park_finish and the
 * end of the park in 21 instructions, not 54 (callgrind, bench_sched
 * pingpong). The worker is read straight: nothing here switches, and
 * this is not inlined into a caller that does (worker.h). */
CORUN__NOINLINE int corun__park_end(struct corun_task *t) {
  struct corun__worker *w = corun__tls_worker;
  struct corun_task *p = w ? w->parked : NULL;
  if (p) {
    if (CORUN__UNLIKELY(p->unlock != corun__unlock_cb))
      return park_end_slow(t);
    w->parked = NULL;
    p->parking = 0;
    corun__lock_release(p->unlock_arg);
    int s = CORUN__WAIT_PARKING;
    int won = corun__wait_cas_try(p, &s, CORUN__WAIT_PARKED);
    if (CORUN__UNLIKELY(won <= 0 || atomic_load(&p->cancelled)))
      return park_end_done(t, p, won, s);
  }
  if (CORUN__UNLIKELY(t->timer_armed))
    return park_end_slow(t); /* (nothing left to arrive: parked is NULL) */
  atomic_store_explicit(&t->wait, CORUN__WAIT_NONE, memory_order_relaxed);
  t->reason = NULL;
  return t->wake_code;
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
  if (!corun__wait_cas(t, &s, CORUN__WAIT_UNPARKED))
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
  int won = corun__wait_cas(t, &s, CORUN__WAIT_PARKED);
  park_done_after(t, won, s);
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
 * it itself. A park that begins after the store sees it at once. While
 * the wait words are biased (sched.h) park_done's move to PARKED is a
 * plain store on the worker thread: a cancel there is in program order
 * with it, and a cancel from any other thread revokes the bias first,
 * whose membarrier(2) is the worker's side of the handshake. */
int corun_cancel(corun_task *t) {
  if (!t)
    return -EINVAL;
  atomic_store(&t->cancelled, 1);
  /* (from another thread than the one the wait words are biased to: its
   * plain store of PARKED is no barrier, so revoke first) */
  corun__solo_foreign();
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
  struct corun_coro *to;
  int rc = park_begin(corun__worker_self(), t, "sleep", NULL, NULL, deadline,
                      now, &to);
  if (rc == CORUN__PARK_SWITCH) {
    corun__park_switch_to(to);
    rc = corun__park_end(t);
  }
  return rc == -ETIMEDOUT ? 0 : rc;
}

int corun_sleep_until(int64_t deadline) {
  return sleep_at(deadline, corun__clock_ns());
}

/* What corun_sleep adds to the estimate below: corun__ticks() waits for
 * nothing, so the CPU may read the counter ahead of the instructions
 * before it, by at most the reach of its out-of-order window, well under
 * a microsecond; and the clock may be slewed against the counter since
 * the rate was learned (by NTP: at most 0.05 %, under 3 ns over the 5 us
 * the estimate spans). */
#define SLEEP_MARGIN_NS 1000

/* For corun_sleep and corun_deadline_in, on worker w (NULL: not a
 * worker): a time not earlier than now, without reading the clock where
 * the worker's last reading is fresh. The clock's read (the vDSO's)
 * waits for every load in flight (base/clock.h): in a task that has just
 * started, for the cold misses of its first touches. It was the one
 * clock read left on the path of 100,000 sleepers on one worker, 10 % of
 * the samples in perf (the figures: docs/design.md §5, "Between tasks,
 * the clock at most every 5 us").
 * The estimate: w->clock_seen was read right after w->ticks_seen
 * (corun__timers_due_slow), so it is not earlier than the time at
 * ticks_seen; the counter's advance since, divided by the learned rate,
 * which is never above the true one (base/clock.h), is not less than the
 * time passed; SLEEP_MARGIN_NS covers the rest. Taken only while the
 * advance is under CORUN__CLOCK_SLACK_US, as the prefilter does. The
 * estimate is later than the time by SLEEP_MARGIN_NS plus the pause
 * between the worker's two reads (tens of nanoseconds, unless its thread
 * was held up right there; the advance bounds it): a sleep lasts about a
 * microsecond more than asked, 6 at most, never less. Where the counter
 * is not trusted, or the reading is older, the clock. */
static int64_t now_at_least(const struct corun__worker *w) {
  int64_t per_us = corun__ticks_per_us();
  if (w && per_us > 0) {
    uint64_t ticks = corun__ticks();
    if (reading_fresh(w, ticks, per_us))
      return w->clock_seen +
             (int64_t)((ticks - w->ticks_seen) * 1000 / (uint64_t)per_us) +
             SLEEP_MARGIN_NS;
  }
  return corun__clock_ns();
}

/* now + ns (ns >= 0), or INT64_MAX where that would wrap: "for ever" must
 * not wrap into the past. */
static int64_t later_by(int64_t now, int64_t ns) {
  return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

int64_t corun_deadline_in(int64_t ns) {
  return ns < 0 ? -1 : later_by(now_at_least(corun__worker_self()), ns);
}

int corun_sleep(int64_t ns) {
  int64_t now = now_at_least(corun__worker_self());
  return sleep_at(ns > 0 ? later_by(now, ns) : now, now);
}

int64_t corun_now(void) {
  return corun__clock_ns();
}
