/* mutex.c: the mutex and the condition variable, on park/unpark (sched.h).
 * Layer: sync (uses base, sched).
 *
 * Mutex. One atomic word says whether the mutex is held:
 *   UNLOCKED   free;
 *   LOCKED     held, and nobody waits;
 *   CONTENDED  held, and tasks may wait on `q` (the unlock must look).
 * The fast paths touch only that word: lock is a CAS UNLOCKED -> LOCKED,
 * unlock a CAS LOCKED -> UNLOCKED. Everything else runs under the
 * mutex's corun__lock (`lock`), which guards the queue and `nwait`.
 *
 * Invariant (I): while `q` is non-empty, state == CONTENDED.
 *  - A waiter sets CONTENDED (CAS from LOCKED) under `lock` before it
 *    queues itself, and only if the mutex is held.
 *  - Only code under `lock` moves the word away from CONTENDED: the slow
 *    unlock (to UNLOCKED when no waiter is left, else it keeps the mutex
 *    locked for the waiter it hands it to) and a waiter that leaves on a
 *    timeout or a cancel (to LOCKED when it was the last). The fast paths
 *    cannot: each CASes from a value other than CONTENDED.
 *
 * No lost wake-up. A locker that parks has, under `lock`, seen the word
 * LOCKED and turned it into CONTENDED (or seen CONTENDED), then queued
 * itself; `lock` is released only after the task is parked (sched.h). The
 * owner's unlock either CASes LOCKED -> UNLOCKED before that CAS (then the
 * locker's CAS fails, it re-reads UNLOCKED and takes the mutex instead of
 * parking) or finds CONTENDED, fails its fast CAS and takes `lock`, which
 * it gets only once the waiter is queued and parked: it finds and claims it.
 *
 * No barging (FIFO hand-off). By (I) a waiter's presence keeps the word at
 * CONTENDED, so no fast-path lock can succeed while anybody waits; the
 * slow unlock hands the mutex to the first claimable waiter without ever
 * storing UNLOCKED, so the mutex is never free in between. A slow-path
 * locker sees UNLOCKED only when the queue is empty. Waiters are served in
 * the order they queued, except that a fast-path locker that arrives while
 * the queue is empty and the mutex free takes it (nobody waits then).
 *
 * Waiters that leave. A waiter whose park was claimed by its timer or by a
 * cancel takes itself off the queue (if the unlock did not already drop
 * it) under `lock`. `nwait` counts the waiters that will still take `lock`
 * (queued, or woken by a timer or cancel and on their way back), so that
 * corun_mutex_free() cannot free the mutex under one of them; a successful
 * claim by the unlock accounts for its waiter, which never comes back.
 *
 * Polling waiters. corun_cond_wait() must return with the mutex held even
 * when its task has been cancelled, and a cancelled task cannot park (each
 * corun__park returns -ECANCELED at once). Such a task queues a waiter of
 * kind WAIT_POLL: the unlock hands the mutex to it in its FIFO turn like to
 * any other (taking it off the queue is the hand-over), without a claim;
 * the task gives its worker back with corun_yield() until it sees itself
 * off the queue. Rare (a cancel during a contended re-lock) and costly
 * while it lasts; the task stays runnable, so the deadlock detector does
 * not see it.
 *
 * Bias. With one configured worker (sched.h, "Biased locks"), the first
 * worker thread to lock a mutex takes its bias (`bias` = that thread's
 * key, a CAS from CORUN__BIAS_UNSET); from then on that thread alone touches
 * `state`, with plain loads and stores and no read-modify-write: a lock
 * and unlock by tasks of one worker cost no atomic instruction (each
 * costs about 5 ns on the machines we measure on; bench_sched's 1-worker
 * mutex row, docs/design.md). While biased, `state` is only UNLOCKED or
 * LOCKED. Every other path first makes sure `bias` is CORUN__BIAS_NONE
 * (unbias(), under `lock`), for good (corun_cond_wait's look at `state`,
 * which only tells a misuse, excepted):
 *  - another thread revokes: it stores CORUN__BIAS_REVOKING, has the biased
 *    thread run a full fence (corun__bias_fence, membarrier(2)), waits
 *    until `busy` reads 0 and stores CORUN__BIAS_NONE (with release: a path
 *    that reads NONE with acquire sees the biased thread's stores). The
 *    biased thread (which alone writes `busy`: it looks at `bias` before)
 *    sets `busy`, then (a compiler fence only) reads
 *    `bias`, and clears `busy` with release after its last store to
 *    `state`: so either it saw the revoker's word, or the revoker sees it
 *    busy and waits, and then sees its stores (Dekker's handshake, with
 *    the biased side's fence made by the revoker). A path that finds
 *    REVOKING waits for `lock`, which the revoker holds;
 *  - the biased thread itself revokes when it finds the mutex LOCKED
 *    (another task of its worker holds it: a waiter must queue, which
 *    involves other threads; a failed try-lock too);
 *  - a path that finds CORUN__BIAS_UNSET moves it to CORUN__BIAS_NONE (so
 *    that no thread takes the bias after it has looked).
 * Revoking costs a system call that interrupts every CPU running a
 * thread of the program, once per mutex: hence one worker only. Where
 * that call has been denied since the run began, the revoker waits for
 * the worker to make the fence itself (corun__bias_fence).
 *
 * Condition variable: a queue of waiters under its own corun__lock. A wait
 * queues itself under the condition's lock and releases the mutex while
 * still holding it, then parks with the condition's lock as the park's
 * unlock; a signal (which takes that lock) thus finds every task that
 * released the mutex before the signaller could take it. Lock order: a
 * condition's lock, then a mutex's lock (never the other way).
 * After the wait (signalled, timed out, cancelled) the task locks the
 * mutex again with no deadline, ignoring cancellation (polling as above):
 * corun_cond_wait() always returns with the mutex held. */
#include <errno.h>
#include <stdatomic.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "base/lock.h"
#include "sched/sched.h"

enum { UNLOCKED, LOCKED, CONTENDED };

/* Kinds of mutex waiter (corun__waiter.index). */
enum { WAIT_PARK = 0, WAIT_POLL = 1 };

struct corun_mutex {
  atomic_int state; /* UNLOCKED, LOCKED or CONTENDED (see above) */
  atomic_int busy;  /* the biased thread may be looking at `state` (Bias);
                       only it writes this */
  /* CORUN__BIAS_UNSET, _NONE, _REVOKING (a revoker, under `lock`, waits
   * for the biased thread) or a thread's key (sched.h, "Biased locks",
   * whose revocation this shares) */
  _Atomic uint64_t bias;
  corun__lock lock; /* guards q, nwait and moves away from CONTENDED */
  struct corun__waitq q;
  size_t nwait; /* waiters that will still take `lock` */
};

struct corun_cond {
  corun__lock lock;
  struct corun__waitq q;
  size_t nwait; /* as for the mutex */
};

/* ---- bias (see the file comment) ------------------------------------ */

/* On the thread whose key is `key` (not 0): if m is biased to this
 * thread, moves `state` from `from` to `to` if it holds `from`, and
 * returns the state it found; -1 if m is not biased to this thread. */
static inline int bias_swap(corun_mutex *m, uint64_t key, int from, int to) {
  /* Only the biased thread may touch `busy` (sched.h, corun__bias_swap; a
   * helper review's find). */
  if (atomic_load_explicit(&m->bias, memory_order_relaxed) != key)
    return -1;
  return corun__bias_swap(&m->bias, &m->busy, &m->state, key, from, to);
}

/* Takes the bias of m for the thread of `key` if nobody has (CAS from
 * CORUN__BIAS_UNSET), and locks m through it. 1 if locked. */
static CORUN__NOINLINE int bias_take(corun_mutex *m, uint64_t key) {
  uint64_t b = CORUN__BIAS_UNSET;
  if (!atomic_compare_exchange_strong(&m->bias, &b, key))
    return 0;
  return bias_swap(m, key, UNLOCKED, LOCKED) == UNLOCKED;
}

/* Makes m unbiased for good (CORUN__BIAS_NONE), so that `state` may be used
 * with its atomics: revokes the bias (the file comment) or makes sure that no
 * thread takes it. */
static CORUN__NOINLINE void unbias(corun_mutex *m) {
  /* (the holder may be a revoker waiting for this thread's fence) */
  corun__lock_acquire_serving(&m->lock);
  corun__bias_drop(&m->bias, &m->busy);
  corun__lock_release(&m->lock);
}

/* Before a path that uses `state`'s atomics. */
static inline void unbiased(corun_mutex *m) {
  if (atomic_load_explicit(&m->bias, memory_order_acquire) != CORUN__BIAS_NONE)
    unbias(m);
}

/* A lock after the bias's own look (bias_swap) did not take m: the first
 * thread with a key takes the bias of a mutex nobody has locked yet;
 * else one CAS. 1 if locked; if not, m is unbiased. */
static inline int lock_unbiased(corun_mutex *m) {
  uint64_t key = corun__tls_bias_key;
  if (key && corun__bias_objects &&
      atomic_load_explicit(&m->bias, memory_order_relaxed) ==
          CORUN__BIAS_UNSET &&
      bias_take(m, key))
    return 1;
  unbiased(m);
  int s = UNLOCKED;
  return atomic_compare_exchange_strong_explicit(
      &m->state, &s, LOCKED, memory_order_acquire, memory_order_relaxed);
}

/* The fast lock: through the bias, else as lock_unbiased. */
static inline int lock_fast(corun_mutex *m) {
  uint64_t key = corun__tls_bias_key;
  if (key && bias_swap(m, key, UNLOCKED, LOCKED) == UNLOCKED)
    return 1;
  return lock_unbiased(m);
}

/* ---- mutex ------------------------------------------------------------- */

int corun_mutex_make(corun_mutex **out) {
  if (!out)
    return -EINVAL;
  corun_mutex *m = corun__malloc(sizeof *m);
  if (!m)
    return -ENOMEM;
  atomic_init(&m->state, UNLOCKED);
  atomic_init(&m->busy, 0);
  atomic_init(&m->bias, CORUN__BIAS_UNSET);
  corun__lock_init(&m->lock);
  m->q.head = m->q.tail = NULL;
  m->nwait = 0;
  *out = m;
  return 0;
}

int corun_mutex_free(corun_mutex *m) {
  if (!m)
    return -EINVAL;
  unbiased(m);
  corun__lock_acquire(&m->lock);
  int busy = atomic_load(&m->state) != UNLOCKED || m->nwait;
  corun__lock_release(&m->lock);
  if (busy)
    return -EBUSY;
  corun__free(m);
  return 0;
}

/* ---- lock and unlock ------------------------------------------------- */

/* Under m->lock: takes m if it is free (returns 1). Otherwise returns 0,
 * having made sure the word is CONTENDED if `mark` (the caller is about to
 * queue a waiter, which (I) requires). */
static int take_or_mark(corun_mutex *m, int mark) {
  int s = atomic_load(&m->state);
  for (;;) {
    if (s == UNLOCKED) {
      if (atomic_compare_exchange_weak(&m->state, &s, LOCKED))
        return 1;
    } else if (s == LOCKED && mark) {
      if (atomic_compare_exchange_weak(&m->state, &s, CONTENDED))
        return 0;
    } else {
      return 0; /* CONTENDED: only code under m->lock changes it (us) */
    }
  }
}

/* Under m->lock, which this releases: queues t and parks it until the
 * unlock hands m over (0) or the deadline or a cancel ends the wait. */
static int wait_park(corun_mutex *m, struct corun_task *t, int64_t deadline) {
  struct corun__waiter *w = &t->self_waiter;
  w->task = t;
  w->index = WAIT_PARK;
  w->elem = NULL;
  w->result = 0;
  corun__waitq_push(&m->q, w);
  m->nwait++;
  int rc = corun__park(t, "mutex lock", corun__unlock_cb, &m->lock, deadline);
  if (rc == 0)
    return 0; /* handed over; the unlock did the bookkeeping */
  corun__lock_acquire(&m->lock);
  if (w->queued) {
    corun__waitq_remove(&m->q, w);
    /* m is still held (CONTENDED says so, and only code under m->lock
     * changes that): without waiters, LOCKED, so its unlock is fast. */
    if (!m->q.head)
      atomic_store(&m->state, LOCKED);
  }
  m->nwait--;
  corun__lock_release(&m->lock);
  return rc;
}

/* Under m->lock, which this releases: queues t as a polling waiter and
 * yields until the unlock has handed m over (see the file comment). */
static void wait_poll(corun_mutex *m, struct corun_task *t) {
  struct corun__waiter *w = &t->self_waiter;
  w->task = t;
  w->index = WAIT_POLL;
  w->elem = NULL;
  w->result = 0;
  corun__waitq_push(&m->q, w);
  m->nwait++;
  corun__lock_release(&m->lock);
  for (;;) {
    corun_yield(NULL);
    corun__lock_acquire(&m->lock);
    int mine = !w->queued; /* only a hand-over takes a polling waiter off */
    if (mine)
      m->nwait--;
    corun__lock_release(&m->lock);
    if (mine)
      return;
  }
}

static CORUN__NOINLINE int lock_slow(corun_mutex *m, int64_t deadline) {
  int err = -EAGAIN;
  struct corun_task *t = deadline == 0 ? NULL : corun__task_blocking(&err);
  corun__lock_acquire(&m->lock);
  if (take_or_mark(m, t != NULL)) {
    corun__lock_release(&m->lock);
    return 0;
  }
  if (!t) {
    corun__lock_release(&m->lock);
    return err;
  }
  return wait_park(m, t, deadline);
}

/* A lock the bias did not do at once. Out of line, as is the rest of
 * each path: the public functions' fast paths then save no registers
 * (six pushes and pops per call when all of it was inlined: 4 -> 6 ns a
 * lock and unlock in bench_sched's 1-worker row). */
static CORUN__NOINLINE int lock_rest(corun_mutex *m, int64_t deadline) {
  if (lock_unbiased(m))
    return 0;
  return lock_slow(m, deadline);
}

int corun_mutex_lock(corun_mutex *m, int64_t deadline) {
  if (!m)
    return -EINVAL;
  uint64_t key = corun__tls_bias_key;
  if (key && bias_swap(m, key, UNLOCKED, LOCKED) == UNLOCKED)
    return 0;
  return lock_rest(m, deadline); /* (lock_fast, less what this did) */
}

/* Locks m for t, whatever happens: cancellation is ignored (it stays set
 * for t's next blocking call). For corun_cond_wait(). */
static void lock_for_good(corun_mutex *m, struct corun_task *t) {
  if (lock_fast(m))
    return;
  corun__lock_acquire(&m->lock);
  if (take_or_mark(m, 1)) {
    corun__lock_release(&m->lock);
    return;
  }
  if (!corun_cancelled()) {
    if (wait_park(m, t, -1) == 0)
      return;
    /* Cancelled while waiting (wait_park has left the queue). */
    corun__lock_acquire(&m->lock);
    if (take_or_mark(m, 1)) {
      corun__lock_release(&m->lock);
      return;
    }
  }
  wait_poll(m, t);
}

/* Takes waiters off the front of m's queue until one that can be given m
 * (a polling waiter, or a parked one whose claim succeeds); NULL if none. */
static struct corun__waiter *next_owner(corun_mutex *m) {
  struct corun__waiter *w;
  while ((w = m->q.head) != NULL) {
    corun__waitq_remove(&m->q, w);
    if (w->index == WAIT_POLL)
      return w; /* it sees itself off the queue and counts itself out */
    if (corun__claim(w->task)) {
      m->nwait--; /* woken with 0, it does not come back to the lock */
      return w;
    }
    /* Claimed by its timer or a cancel: it counts itself out. */
  }
  return NULL;
}

static CORUN__NOINLINE int unlock_slow(corun_mutex *m) {
  corun__lock_acquire(&m->lock);
  int s = atomic_load(&m->state);
  if (s == UNLOCKED) { /* not locked (or a racing second unlock) */
    corun__lock_release(&m->lock);
    return -EPERM;
  }
  struct corun__waiter *w = next_owner(m);
  if (!w) {
    /* LOCKED or CONTENDED, nobody waits: no fast path can move the word
     * from here (lockers need UNLOCKED, and we are the owner). */
    atomic_store_explicit(&m->state, UNLOCKED, memory_order_release);
    corun__lock_release(&m->lock);
    return 0;
  }
  /* Hand-over: m stays locked, now for w's task. (I) for what is left. */
  atomic_store(&m->state, m->q.head ? CONTENDED : LOCKED);
  struct corun_task *t = w->index == WAIT_PARK ? w->task : NULL;
  corun__lock_release(&m->lock);
  if (t) /* claimed: it stays parked (and w valid) until this */
    corun__unpark(t, 0);
  return 0;
}

/* An unlock the bias did not do (see lock_rest). */
static CORUN__NOINLINE int unlock_rest(corun_mutex *m) {
  unbiased(m);
  int s = LOCKED;
  if (atomic_compare_exchange_strong_explicit(
          &m->state, &s, UNLOCKED, memory_order_release, memory_order_relaxed))
    return 0;
  if (s == UNLOCKED)
    return -EPERM;
  return unlock_slow(m);
}

int corun_mutex_unlock(corun_mutex *m) {
  if (!m)
    return -EINVAL;
  uint64_t key = corun__tls_bias_key;
  if (key) {
    int b = bias_swap(m, key, LOCKED, UNLOCKED);
    if (b == LOCKED)
      return 0;
    if (b == UNLOCKED)
      return -EPERM;
  }
  return unlock_rest(m);
}

/* ---- condition variable --------------------------------------------- */

int corun_cond_make(corun_cond **out) {
  if (!out)
    return -EINVAL;
  corun_cond *c = corun__malloc(sizeof *c);
  if (!c)
    return -ENOMEM;
  corun__lock_init(&c->lock);
  c->q.head = c->q.tail = NULL;
  c->nwait = 0;
  *out = c;
  return 0;
}

int corun_cond_free(corun_cond *c) {
  if (!c)
    return -EINVAL;
  corun__lock_acquire(&c->lock);
  int busy = c->nwait != 0;
  corun__lock_release(&c->lock);
  if (busy)
    return -EBUSY;
  corun__free(c);
  return 0;
}

int corun_cond_wait(corun_cond *c, corun_mutex *m, int64_t deadline) {
  if (!c || !m)
    return -EINVAL;
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  if (!t)
    return err; /* -EPERM: m stays locked */
  if (atomic_load(&m->state) == UNLOCKED)
    return -EPERM; /* the caller does not hold m */
  if (deadline == 0)
    return -ETIMEDOUT; /* a wait that cannot block is over at once */
  /* m biased to another thread (this task moved since it locked m): the
   * unlock below must revoke, and without membarrier(2) a revoker waits
   * for that worker, whose task may want c->lock meanwhile (a signal):
   * revoke first, holding nothing (a review's find). */
  uint64_t b = atomic_load_explicit(&m->bias, memory_order_relaxed);
  if (b != CORUN__BIAS_NONE && b != corun__tls_bias_key)
    unbias(m);
  struct corun__waiter *w = &t->self_waiter;
  w->task = t;
  w->index = 0;
  w->elem = NULL;
  w->result = 0;
  corun__lock_acquire(&c->lock);
  corun__waitq_push(&c->q, w);
  c->nwait++;
  /* Release m only now, holding c->lock until the park: a signaller that
   * takes m after this finds w (see the file comment). */
  int rc = corun_mutex_unlock(m);
  if (rc < 0) { /* m was unlocked meanwhile by someone else (misuse) */
    corun__waitq_remove(&c->q, w);
    c->nwait--;
    corun__lock_release(&c->lock);
    return rc;
  }
  rc = corun__park(t, "cond wait", corun__unlock_cb, &c->lock, deadline);
  if (rc < 0) { /* timer or cancel: leave c if the signal did not drop us */
    corun__lock_acquire(&c->lock);
    if (w->queued)
      corun__waitq_remove(&c->q, w);
    c->nwait--;
    corun__lock_release(&c->lock);
  }
  lock_for_good(m, t);
  return rc;
}

int corun_cond_signal(corun_cond *c) {
  if (!c)
    return -EINVAL;
  corun__lock_acquire(&c->lock);
  struct corun__waiter *w = corun__waitq_claim(&c->q);
  struct corun_task *t = NULL;
  if (w) {
    c->nwait--; /* woken with 0, it does not come back to c */
    t = w->task;
  }
  corun__lock_release(&c->lock);
  if (t)
    corun__unpark(t, 0);
  return 0;
}

int corun_cond_broadcast(corun_cond *c) {
  if (!c)
    return -EINVAL;
  corun__lock_acquire(&c->lock);
  struct corun__waiter *all = corun__waitq_claim_all(&c->q, &c->nwait);
  corun__lock_release(&c->lock);
  corun__unpark_all(all); /* longest waiter first */
  return 0;
}
