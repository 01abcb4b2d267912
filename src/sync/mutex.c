/* mutex.c: the mutex and the condition variable, on park/unpark (sched.h).
 * Layer: sync (uses base, sched).
 *
 * Mutex. One atomic word, `state`, of four bits:
 *   HELD     somebody holds the mutex;
 *   WAITERS  tasks may wait on `q`: an unlock must look;
 *   WOKEN    an unlock took a waiter off `q` and woke it, and it has not
 *            yet tried again: later unlocks need not wake another;
 *   HANDOFF  starving: each unlock hands the mutex to the first waiter,
 *            which stays HELD; nobody else may take it meanwhile.
 * Lock is a CAS that sets HELD in a word without it (whatever the other
 * bits: barging). Unlock is a CAS that clears HELD from the value a load
 * saw, unless a waiter must be woken (WAITERS set, WOKEN not) or the
 * mutex is starving: then it takes `lock` first (unlock_locked). The
 * queue and `nwait` are under the mutex's corun__lock (`lock`), and so
 * are all changes of WAITERS, WOKEN and HANDOFF (the new owner's end of
 * HANDOFF below excepted).
 *
 * Why barging. The mutex used to hand itself to the first waiter at each
 * unlock (strict FIFO): with tasks on two workers that lock and unlock in
 * a loop, every lock then became a park and a wake-up, 50 ns a lock and
 * unlock against Go's 28 (bench_sched's 2-worker mutex row). Go's
 * sync.Mutex and glibc's mutexes let the running thread take the lock
 * first; so does this: 11 ns (docs/design.md §5).
 *
 * Waiting (lock_wait, under `lock`). A locker that cannot take the mutex
 * sets WAITERS by a CAS that also finds HELD set (if HELD is clear, it
 * takes the mutex instead), queues itself and parks; `lock` is released
 * only once it is parked (sched.h). The holder's unlock loads the word
 * after that CAS (or its own CAS fails), sees WAITERS and takes `lock`,
 * which it gets once the waiter is queued and parked: no wake-up is lost.
 * Under `lock`, still holding the mutex (so the word cannot change), the
 * unlock takes the first waiter off the queue, and in one store frees
 * the mutex and sets WOKEN, then unparks the waiter with GOT_WAKE. While
 * WOKEN is set, unlocks only clear HELD. The woken task, under `lock`,
 * clears WOKEN in the CAS with which it either takes the free mutex or
 * re-announces itself (WAITERS, HELD seen set), and then queues at the
 * front: a holder's unlock that skipped its wake-up because of WOKEN
 * came before this CAS, which found HELD set by a later holder, whose
 * unlock will wake.
 *
 * Starving. A woken waiter that has waited STARVE_NS since it first
 * queued and still finds the mutex held sets HANDOFF with that CAS. An
 * unlock that sees HANDOFF takes `lock`, keeps HELD and gives the mutex
 * to the first waiter with GOT_MUTEX; HANDOFF implies HELD, so
 * no barger gets in. HANDOFF ends when the queue runs empty (the unlock,
 * or a waiter that leaves, clears it with WAITERS) or when the new owner
 * waited less than STARVE_NS (it clears it itself: it holds the mutex,
 * so no unlock runs meanwhile). The same rules and bound as Go's.
 *
 * Waiters that leave. A waiter whose park was claimed by its timer or by a
 * cancel takes itself off the queue (if an unlock did not already drop
 * it) under `lock`, clearing WAITERS if the queue is then empty. `nwait`
 * counts the waiters that will still take `lock` (queued, woken, or on
 * their way back from a timer or cancel), so that corun_mutex_free()
 * cannot free the mutex under one of them; an unlock that hands the
 * mutex to a parked waiter accounts for it, since it never comes back.
 *
 * Polling waiters. corun_cond_wait() must return with the mutex held even
 * when its task has been cancelled, and a cancelled task cannot park (each
 * corun__park returns -ECANCELED at once). Such a task queues a waiter of
 * kind WAIT_POLL, which unlocks treat like any other (taking it off the
 * queue is the wake-up or the hand-over), without a claim; the task gives
 * its worker back with corun_yield() until it sees itself off the queue.
 * Rare (a cancel during a contended re-lock) and costly while it lasts;
 * the task stays runnable, so the deadlock detector does not see it.
 *
 * Bias. With one configured worker (sched.h, "Biased locks"), the first
 * worker thread to lock a mutex takes its bias (`bias` = that thread's
 * key, a CAS from BLK_UNSET); from then on that thread alone touches
 * `state`, with plain loads and stores and no read-modify-write: a lock
 * and unlock by tasks of one worker cost no atomic instruction (each
 * costs about 5 ns on the machines we measure on; bench_sched's 1-worker
 * mutex row, docs/design.md). While biased, `state` is only UNLOCKED or
 * HELD. Every other path first makes sure `bias` is BLK_NONE
 * (unbias(), under `lock`), for good (corun_cond_wait's look at `state`,
 * which only tells a misuse, excepted):
 *  - another thread revokes: it stores BLK_REVOKING, has the biased
 *    thread run a full fence (corun__bias_fence, membarrier(2)), waits
 *    until `busy` reads 0 and stores BLK_NONE (with release: a path
 *    that reads NONE with acquire sees the biased thread's stores). The
 *    biased thread (which alone writes `busy`: it looks at `bias` before)
 *    sets `busy`, then (a compiler fence only) reads
 *    `bias`, and clears `busy` with release after its last store to
 *    `state`: so either it saw the revoker's word, or the revoker sees it
 *    busy and waits, and then sees its stores (Dekker's handshake, with
 *    the biased side's fence made by the revoker). A path that finds
 *    REVOKING waits for `lock`, which the revoker holds;
 *  - the biased thread itself revokes when it finds the mutex HELD
 *    (another task of its worker holds it: a waiter must queue, which
 *    involves other threads; a failed try-lock too);
 *  - a path that finds BLK_UNSET moves it to BLK_NONE (so that no
 *    thread takes the bias after it has looked).
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
#include "base/clock.h"
#include "base/compiler.h"
#include "base/lock.h"
#include "sched/sched.h"
#include "sync/blk.h"

/* `state` bits (the file comment). A biased mutex is only 0 or HELD. */
enum {
  UNLOCKED = 0,
  HELD = 1,    /* somebody holds the mutex */
  WAITERS = 2, /* the queue may hold waiters: an unlock must look */
  WOKEN = 4,   /* an unlock has woken a waiter, which has not yet tried */
  HANDOFF = 8, /* starving: each unlock hands m to the first waiter */
};

/* Kinds of mutex waiter (corun__waiter.index). */
enum { WAIT_PARK = 0, WAIT_POLL = 1 };

/* What the unlock that took a waiter off the queue gave it
 * (corun__waiter.result). */
enum { GOT_WAKE = 1, GOT_MUTEX = 2 };

/* A waiter that has waited this long makes the mutex hand itself over
 * (HANDOFF): Go's sync.Mutex uses the same bound (starvationThresholdNs,
 * 1 ms, src/sync/mutex.go). */
#define STARVE_NS 1000000

struct corun_mutex {
  atomic_int state; /* HELD, WAITERS, WOKEN, HANDOFF (see above) */
  atomic_int busy;  /* the biased thread may be looking at `state` (Bias);
                       only it writes this */
  _Atomic uint64_t bias; /* BLK_UNSET, BLK_NONE, BLK_REVOKING (a revoker,
                            under `lock`, waits for the biased thread) or
                            a thread's key: the values of the channels'
                            biased lock (sync/blk.h), whose revocation
                            this shares */
  corun__lock lock;      /* guards q and nwait; WAITERS, WOKEN and HANDOFF
                            change under it */
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
  /* Only the biased thread may touch `busy`: another thread's clear could
   * land inside the biased one's look (a spare worker has a key too), and
   * the revoker would stop waiting for it (a helper review's find). */
  if (atomic_load_explicit(&m->bias, memory_order_relaxed) != key)
    return -1;
  atomic_store_explicit(&m->busy, 1, memory_order_relaxed);
  /* busy, then bias: the revoker's membarrier(2) orders the hardware */
  atomic_signal_fence(memory_order_seq_cst);
  int s = -1;
  if (atomic_load_explicit(&m->bias, memory_order_relaxed) == key) {
    s = atomic_load_explicit(&m->state, memory_order_relaxed);
    if (s == from)
      atomic_store_explicit(&m->state, to, memory_order_relaxed);
  }
  atomic_store_explicit(&m->busy, 0, memory_order_release);
  return s;
}

/* Takes the bias of m for the thread of `key` if nobody has (CAS from
 * BLK_UNSET), and locks m through it. 1 if locked. */
static CORUN__NOINLINE int bias_take(corun_mutex *m, uint64_t key) {
  uint64_t b = BLK_UNSET;
  if (!atomic_compare_exchange_strong(&m->bias, &b, key))
    return 0;
  return bias_swap(m, key, UNLOCKED, HELD) == UNLOCKED;
}

/* Makes m unbiased for good (BLK_NONE), so that `state` may be used with
 * its atomics: revokes the bias (the file comment) or makes sure that no
 * thread takes it. */
static CORUN__NOINLINE void unbias(corun_mutex *m) {
  /* (the holder may be a revoker waiting for this thread's fence) */
  corun__lock_acquire_serving(&m->lock);
  corun__bias_drop(&m->bias, &m->busy);
  corun__lock_release(&m->lock);
}

/* Before a path that uses `state`'s atomics. */
static inline void unbiased(corun_mutex *m) {
  if (atomic_load_explicit(&m->bias, memory_order_acquire) != BLK_NONE)
    unbias(m);
}

/* Takes m if it is free, whoever waits (a barging lock). 1 if taken. */
static inline int try_take(corun_mutex *m) {
  int s = atomic_load_explicit(&m->state, memory_order_relaxed);
  while (!(s & HELD)) /* (HANDOFF implies HELD) */
    if (atomic_compare_exchange_weak_explicit(&m->state, &s, s | HELD,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      return 1;
  return 0;
}

/* A lock after the bias's own look (bias_swap) did not take m: the first
 * thread with a key takes the bias of a mutex nobody has locked yet;
 * else one CAS. 1 if locked; if not, m is unbiased. */
static inline int lock_unbiased(corun_mutex *m) {
  uint64_t key = corun__tls_bias_key;
  if (key &&
      atomic_load_explicit(&m->bias, memory_order_relaxed) == BLK_UNSET &&
      bias_take(m, key))
    return 1;
  unbiased(m);
  return try_take(m);
}

/* The fast lock: through the bias, else as lock_unbiased. */
static inline int lock_fast(corun_mutex *m) {
  uint64_t key = corun__tls_bias_key;
  if (key && bias_swap(m, key, UNLOCKED, HELD) == UNLOCKED)
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
  atomic_init(&m->bias, BLK_UNSET);
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

/* Under m->lock, after a waiter left the queue on its own (timeout,
 * cancel): with nobody left to wake or hand m to, the mark and the
 * starving go (unlock_locked does the same for the waiters it drops). */
static void queue_emptied(corun_mutex *m) {
  if (!m->q.head)
    atomic_fetch_and_explicit(&m->state, ~(WAITERS | HANDOFF),
                              memory_order_relaxed);
}

/* Under m->lock, which this releases: a waiter of t whose park a timer or
 * a cancel ended takes itself off the queue (if the unlock did not
 * already drop it) and stops counting. */
static int leave(corun_mutex *m, struct corun__waiter *w, int rc) {
  if (w->queued) {
    corun__waitq_remove(&m->q, w);
    queue_emptied(m);
  }
  m->nwait--;
  corun__lock_release(&m->lock);
  return rc;
}

/* Under m->lock, which this releases: t waits for m until it holds it
 * (0), or until the deadline or a cancel (-ETIMEDOUT, -ECANCELED) with a
 * WAIT_PARK waiter; a WAIT_POLL one yields instead of parking and waits
 * for good (see the file comment). Each round tries to take m first,
 * else queues (at the back the first time, at the front after a wake-up,
 * keeping its turn) and waits for an unlock. */
static int lock_wait(corun_mutex *m, struct corun_task *t, int64_t deadline,
                     int kind) {
  struct corun__waiter *w = &t->self_waiter;
  int64_t since = -1; /* when t first queued */
  int woken = 0;      /* an unlock woke t (and set WOKEN for it) */
  m->nwait++;
  for (;;) {
    int starving = woken && corun__clock_ns() - since >= STARVE_NS;
    int clear = woken ? WOKEN : 0;
    int s = atomic_load_explicit(&m->state, memory_order_relaxed);
    for (;;) {
      if (!(s & HELD)) { /* free: take it */
        if (atomic_compare_exchange_weak_explicit(
                &m->state, &s, (s | HELD) & ~clear, memory_order_acquire,
                memory_order_relaxed)) {
          m->nwait--;
          corun__lock_release(&m->lock);
          return 0;
        }
        continue;
      }
      /* Held: announce a waiter before queueing, so that the holder's
       * unlock, which must take m->lock to look, finds it queued. */
      int to = (s | WAITERS | (starving ? HANDOFF : 0)) & ~clear;
      if (atomic_compare_exchange_weak_explicit(
              &m->state, &s, to, memory_order_relaxed, memory_order_relaxed))
        break;
    }
    w->task = t;
    w->index = kind;
    w->elem = NULL;
    w->result = 0;
    if (since < 0) {
      since = corun__clock_ns();
      corun__waitq_push(&m->q, w);
    } else {
      corun__waitq_push_front(&m->q, w);
    }
    if (kind == WAIT_PARK) {
      int rc =
          corun__park(t, "mutex lock", corun__unlock_cb, &m->lock, deadline);
      if (rc < 0) {
        corun__lock_acquire(&m->lock);
        return leave(m, w, rc);
      }
      if (w->result == GOT_WAKE)
        corun__lock_acquire(&m->lock);
    } else {
      corun__lock_release(&m->lock);
      for (;;) { /* only an unlock takes a polling waiter off the queue */
        corun_yield(NULL);
        corun__lock_acquire(&m->lock);
        if (!w->queued)
          break;
        corun__lock_release(&m->lock);
      }
      if (w->result == GOT_MUTEX) {
        m->nwait--;
        corun__lock_release(&m->lock);
      }
    }
    if (w->result == GOT_MUTEX) {
      /* Handed over. A waiter that did not wait long ends the starving,
       * as in Go. */
      if ((atomic_load_explicit(&m->state, memory_order_relaxed) & HANDOFF) &&
          corun__clock_ns() - since < STARVE_NS)
        atomic_fetch_and_explicit(&m->state, ~HANDOFF, memory_order_relaxed);
      return 0;
    }
    woken = 1; /* GOT_WAKE, m->lock held: try again */
  }
}

static CORUN__NOINLINE int lock_slow(corun_mutex *m, int64_t deadline) {
  int err = -EAGAIN;
  struct corun_task *t = deadline == 0 ? NULL : corun__task_blocking(&err);
  if (!t)
    return try_take(m) ? 0 : err;
  corun__lock_acquire(&m->lock);
  return lock_wait(m, t, deadline, WAIT_PARK);
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
  if (key && bias_swap(m, key, UNLOCKED, HELD) == UNLOCKED)
    return 0;
  return lock_rest(m, deadline); /* (lock_fast, less what this did) */
}

/* Locks m for t, whatever happens: cancellation is ignored (it stays set
 * for t's next blocking call). For corun_cond_wait(). */
static void lock_for_good(corun_mutex *m, struct corun_task *t) {
  if (lock_fast(m))
    return;
  corun__lock_acquire(&m->lock);
  if (!corun_cancelled()) {
    if (lock_wait(m, t, -1, WAIT_PARK) == 0)
      return;
    corun__lock_acquire(&m->lock); /* cancelled while waiting */
  }
  lock_wait(m, t, -1, WAIT_POLL);
}

/* Under m->lock: takes waiters off the front of m's queue until one that
 * can be woken or given m (a polling waiter, or a parked one whose claim
 * succeeds), and returns it with `result` set to `got`; NULL if none. */
static struct corun__waiter *take_waiter(corun_mutex *m, int got) {
  struct corun__waiter *w;
  while ((w = m->q.head) != NULL) {
    corun__waitq_remove(&m->q, w);
    if (w->index == WAIT_POLL || corun__claim(w->task)) {
      w->result = got;
      /* A parked waiter given m does not come back to the lock; a woken
       * one does, and a polling one counts itself out. */
      if (got == GOT_MUTEX && w->index == WAIT_PARK)
        m->nwait--;
      return w;
    }
    /* Claimed by its timer or a cancel: it counts itself out. */
  }
  return NULL;
}

/* An unlock that must look at the queue (a waiter to wake, or the mutex
 * starving). Under m->lock from before it frees m: corun_mutex_free()
 * takes that lock too, so a task that locks m after this unlock and then
 * frees it (the last one out frees, which POSIX allows for its mutexes)
 * waits until the unlock is done with m. Freeing first and taking the
 * lock after, to wake, let the unlock touch freed memory (a review's
 * find). While this holds m->lock and m is HELD, nobody else changes
 * `state`: bargers need HELD clear, the others m->lock. */
static CORUN__NOINLINE int unlock_locked(corun_mutex *m) {
  corun__lock_acquire(&m->lock);
  int s = atomic_load_explicit(&m->state, memory_order_relaxed);
  if (!(s & HELD)) { /* a racing second unlock */
    corun__lock_release(&m->lock);
    return -EPERM;
  }
  struct corun__waiter *w;
  int to;
  if (s & HANDOFF) { /* to the first waiter, still HELD; or free */
    w = take_waiter(m, GOT_MUTEX);
    to = w ? s : s & ~HELD;
  } else { /* free, and wake the first waiter unless one is woken */
    w = s & WOKEN ? NULL : take_waiter(m, GOT_WAKE);
    to = (s & ~HELD) | (w ? WOKEN : 0);
  }
  if (!m->q.head) /* (queue_emptied) */
    to &= ~(WAITERS | HANDOFF);
  atomic_store_explicit(&m->state, to, memory_order_release);
  corun__lock_release(&m->lock);
  if (w && w->index == WAIT_PARK) /* claimed: it stays parked until this */
    corun__unpark(w->task, 0);
  return 0;
}

/* An unlock the bias did not do (see lock_rest). One compare-and-swap
 * from the value a load saw (this thread's own lock left the line in its
 * cache), also when a waiter is woken already: a first CAS that expected
 * plain HELD failed there and cost a second atomic instruction per
 * unlock (bench_sched's 2-worker mutex row). */
static CORUN__NOINLINE int unlock_rest(corun_mutex *m) {
  unbiased(m);
  int s = atomic_load_explicit(&m->state, memory_order_relaxed);
  for (;;) {
    if (!(s & HELD)) /* not locked (or a racing second unlock) */
      return -EPERM;
    if ((s & HANDOFF) || ((s & WAITERS) && !(s & WOKEN)))
      return unlock_locked(m);
    if (atomic_compare_exchange_weak_explicit(&m->state, &s, s & ~HELD,
                                              memory_order_release,
                                              memory_order_relaxed))
      return 0;
  }
}

int corun_mutex_unlock(corun_mutex *m) {
  if (!m)
    return -EINVAL;
  uint64_t key = corun__tls_bias_key;
  if (key) {
    int b = bias_swap(m, key, HELD, UNLOCKED);
    if (b == HELD)
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
  if (!(atomic_load(&m->state) & HELD))
    return -EPERM; /* the caller does not hold m */
  if (deadline == 0)
    return -ETIMEDOUT; /* a wait that cannot block is over at once */
  /* m biased to another thread (this task moved since it locked m): the
   * unlock below must revoke, and without membarrier(2) a revoker waits
   * for that worker, whose task may want c->lock meanwhile (a signal):
   * revoke first, holding nothing (a review's find). */
  uint64_t b = atomic_load_explicit(&m->bias, memory_order_relaxed);
  if (b != BLK_NONE && b != corun__tls_bias_key)
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
