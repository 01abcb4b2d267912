/* sched.h: tasks, workers and the park/unpark protocol, for the layers
 * built on the scheduler (sync, poll, io). Internal; users see corun.h.
 * Layer: sched (uses base, coro).
 *
 * Park/unpark is the one primitive every blocking operation is built on.
 * A blocking operation
 *   1. locks the object it waits on and registers a waiter (a
 *      struct corun__waiter naming the task) there;
 *   2. calls corun__park(t, reason, unlock, obj, deadline): the task
 *      switches away, to its worker's loop or straight to the next task
 *      (sched.c, corun__park_next), and whichever side arrives calls
 *      unlock(obj) once the task is off its stack. From then on a waker
 *      may find the waiter;
 *   3. a waker, holding the object's lock, takes the waiter and calls
 *      corun__claim(task). Exactly one claim of each park succeeds
 *      (timers and corun_cancel() claim too); the winner then does the
 *      operation's part for the task (copies a channel element, hands
 *      over a mutex) and calls corun__unpark(task, code);
 *   4. back in the task, corun__park returns the code (-ETIMEDOUT or
 *      -ECANCELED when a timer or a cancel won), and the operation
 *      removes its waiter under the object's lock if it is still queued.
 * A claim made while the task is still on its way out (between 2 and the
 * end of the switch) is safe: whichever of the worker and the waker comes
 * second makes the task runnable, so a task never runs on two workers
 * (the states below). In the common case, a claim after the worker is
 * done, that costs one compare-and-swap on each side.
 * Every claim is made under the lock its waiter is registered under (or
 * by corun_cancel, which is valid at any park), and a task deregisters
 * under that lock before its operation returns, so a stale claim cannot
 * hit a later park.
 *
 * Locking: each object's own corun__lock; the worker's timer heap has its
 * own lock (a task may disarm its timer from another worker, and take a
 * node it left there out: park.c). */
#ifndef CORUN_SCHED_SCHED_H
#define CORUN_SCHED_SCHED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "base/heap.h"
#include "base/lock.h"
#include "coro/coro.h"
#include "corun.h"

struct corun__worker;

/* One registration of a waiting task on an object's queue. */
struct corun__waiter {
  struct corun__waiter *prev, *next;
  struct corun_task *task;
  void *elem; /* channels: the element to send, or where to receive */
  int index;  /* select: the case it stands for */
  int result; /* set by the claimer: 0, or -EPIPE (closed channel) */
  int queued; /* on a queue now (a claimer takes it off) */
};

/* A FIFO of waiters; protected by the lock of the object it belongs to. */
struct corun__waitq {
  struct corun__waiter *head, *tail;
};

/* Inline: every blocking wait makes one (a call cost a rendezvous on a
 * channel 4 instructions more, callgrind). */
static inline void corun__waitq_push(struct corun__waitq *q,
                                     struct corun__waiter *w) {
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail)
    q->tail->next = w;
  else
    q->head = w;
  q->tail = w;
  w->queued = 1;
}
void corun__waitq_remove(struct corun__waitq *q, struct corun__waiter *w);
/* Takes waiters off the front until one whose task it can claim
 * (corun__claim); returns it, or NULL if the queue ran empty. */
struct corun__waiter *corun__waitq_claim(struct corun__waitq *q);

/* Park states (corun_task.wait), and who makes the task runnable again.
 * A park goes NONE -> PARKING (the task, before its switch) -> PARKED (its
 * worker, once the task is off its stack) -> CLAIMED (a waker), and the
 * waker readies it at unpark: one compare-and-swap on each side. A claim
 * that comes while the task is still PARKING goes to CLAIMING instead;
 * then the worker and the waker each mark their part done (WORKER_DONE,
 * UNPARKED) and whichever is second readies the task. */
enum {
  CORUN__WAIT_NONE,
  CORUN__WAIT_PARKING,
  CORUN__WAIT_PARKED,
  CORUN__WAIT_CLAIMED,
  CORUN__WAIT_CLAIMING,
  CORUN__WAIT_WORKER_DONE,
  CORUN__WAIT_UNPARKED
};

struct corun_task {
  corun_coro *co;
  corun_fn *fn;
  void *arg;
  void *result;
  struct corun__worker *home; /* pinned to this worker, or NULL */
  struct corun_task *qnext;   /* link in a locked task queue */
  /* Park protocol (see above). */
  atomic_int wait;        /* CORUN__WAIT_* */
  int claimed_early;      /* the winning claim found it PARKING */
  int wake_code;          /* what corun__park returns; set by the claimer */
  int parking;            /* parked back to the worker's loop (run()) */
  const char *reason;     /* what it waits for, for deadlock dumps */
  void (*unlock)(void *); /* run by the arriving side after the switch */
  void *unlock_arg;
  /* The timer (park.c's "timers"): a node in timer_w's heap, maybe left
   * there by an earlier park; the deadline of the park that armed it, or
   * -1 (under timer_w's timer_lock); whether this park armed it (the
   * task's own). */
  struct corun__heap_node timer;
  struct corun__worker *timer_w; /* whose heap may hold `timer`, or NULL */
  int64_t timer_when;
  int timer_armed;
  atomic_int cancelled;
  /* In corun__park_nocancel: corun_cancel leaves this park alone. */
  atomic_int nocancel;
  /* libcorun_hook's mode for this task's calls: 0 through corun, 1 off
   * (the task's choice: libc's behaviour), 2 corun itself is making the
   * call (CORUN__LIBC: straight to the system call). */
  int hooks_off;
  /* corun_pin: nesting depth, and `home` from before the first pin. */
  int pin_depth;
  struct corun__worker *home_before_pin;
  /* Join. */
  corun__lock join_lock;
  int done;                  /* the body returned: `result` is valid */
  int detached;              /* corun_go: nobody joins, freed at exit */
  struct corun_task *joiner; /* parked in corun_join(), or NULL */
  int alive; /* created and not finished: deadlock dumps list it */
  /* A waiter for single-object waits, off the stack (see corun__waiter_of). */
  struct corun__waiter self_waiter;
  /* The shared stack it runs on (its locals may be swapped out while it
   * waits), or NULL: its own stack. */
  corun_shared_stack *shared;
};

/* The calling task, or NULL outside a task. */
struct corun_task *corun__task_self(void);

/* 1 in a child forked while corun_main ran (set by a pthread_atfork
 * handler in the child, where only the forking thread exists): corun is
 * off there. The child shares the parent's epoll instance and io_uring
 * ring (kernel objects; the ring's memory is mapped shared), so the
 * layers that reach them (poll) must leave them alone; the forking
 * thread is no task any more (corun__task_self() is NULL). */
extern int corun__forked;

/* The task that may block here: the calling task, if the running coroutine
 * is its own (not one it resumed); else NULL and *err = -EPERM. */
struct corun_task *corun__task_blocking(int *err);

/* Queues the calling task t on q (its self_waiter, with index 0 and
 * `elem`) and parks it: the common wait of an object whose lock `lock` the
 * caller holds (the park releases it). *nwait counts the waiters that will
 * still take `lock`: whoever claims the waiter decrements it; when this
 * returns an error (deadline, cancel), it has taken `lock` again, removed
 * the waiter if still queued and decremented *nwait. Returns the claimer's
 * code or corun__park's error. */
int corun__wait_queued(struct corun_task *t, struct corun__waitq *q,
                       corun__lock *lock, size_t *nwait, void *elem,
                       const char *reason, int64_t deadline);

/* Under q's lock: claims every waiter of q it can, decrementing *nwait for
 * each, and returns them linked through `next`, longest waiter first. */
struct corun__waiter *corun__waitq_claim_all(struct corun__waitq *q,
                                             size_t *nwait);

/* After the object's lock is released: unparks, with code 0 and in order,
 * the claimed waiters linked through `next` from `first`. Each waiter may
 * be reused as soon as its task runs. */
void corun__unpark_all(struct corun__waiter *first);

/* park.c: the two halves of corun__park, around its switch.
 * corun__park_begin does everything before it; it returns
 * CORUN__PARK_SWITCH with *to set to the coroutine to switch to (the next
 * task of the worker, or NULL: back to the worker's loop), or the park's
 * result if it ended before it started. corun__park_end runs when the
 * task is back and returns the park's result. */
enum { CORUN__PARK_SWITCH = 1 };
int corun__park_begin(struct corun_task *t, const char *reason,
                      void (*unlock)(void *), void *arg, int64_t deadline,
                      struct corun_coro **to);
int corun__park_end(struct corun_task *t);

/* The switch of a park, for corun__park and park.c's sleep: to the next
 * task without corun_transfer's checks (coro.h, corun__coro_pass: the
 * scheduler knows them true), or back to the worker's loop. */
static inline __attribute__((always_inline)) void
corun__park_switch_to(struct corun_coro *to) {
  if (to) {
    corun__coro_pass(to);
  } else {
    corun_yield(NULL); /* to the worker: run() finishes the park */
  }
}

/* Parks the calling task (see the protocol above). `unlock` (may be NULL)
 * runs with `arg` on the scheduler side once the task is off its stack.
 * deadline: -1 none, else absolute corun_now() time (0 or a past time
 * wakes at once with -ETIMEDOUT, after the unlock). Returns the claimer's
 * code, -ETIMEDOUT or -ECANCELED; a cancelled task does not park at all
 * (-ECANCELED, unlock run).
 * Inline, with the switch in the caller's own frame: each function whose
 * frame is live across a switch ends in a `ret` that the CPU mispredicts
 * (its return-address stack holds the other task's calls), about 6 ns
 * each here; the halves around the switch are plain calls, which return
 * where the predictor expects. */
static inline __attribute__((always_inline)) int
corun__park(struct corun_task *t, const char *reason, void (*unlock)(void *),
            void *arg, int64_t deadline) {
  struct corun_coro *to;
  int rc = corun__park_begin(t, reason, unlock, arg, deadline, &to);
  if (rc != CORUN__PARK_SWITCH)
    return rc;
  corun__park_switch_to(to);
  return corun__park_end(t);
}

/* Evaluates the libc call `expr` with the calling task's hooks off: corun's
 * own system calls must reach libc, not come back into corun through
 * libcorun_hook's wrappers (with the wrong deadline, or recursing). */
#define CORUN__LIBC(expr)                                                      \
  __extension__({                                                              \
    struct corun_task *t_ = corun__task_self();                                \
    int o_ = t_ ? t_->hooks_off : 0;                                           \
    if (t_)                                                                    \
      t_->hooks_off = 2;                                                       \
    __typeof__(expr) r_ = (expr);                                              \
    if (t_)                                                                    \
      t_->hooks_off = o_;                                                      \
    r_;                                                                        \
  })

/* corun__park with no deadline that corun_cancel does not end (it still
 * marks the task cancelled, for its later calls): for waits that must see
 * their event whatever happens, such as the completion of an IO whose
 * buffer the kernel still holds. It may return early (a cancel that raced
 * with the start of the park): the caller loops until its condition holds,
 * under its lock. Returns the claimer's code. */
int corun__park_nocancel(struct corun_task *t, const char *reason,
                         void (*unlock)(void *), void *arg);

/* Biased locks (sync/mutex.c). With one configured worker, a mutex may be
 * biased to the worker thread that first takes it: that thread alone then
 * reads and writes the lock's word, with plain loads and stores, and any
 * other thread first revokes the bias (an asymmetric Dekker handshake:
 * the biased thread's side is a compiler fence, the revoker's side a
 * membarrier(2) that makes every thread of the process run a full fence).
 * The tasks' wait words and the channels' locks share one bias instead,
 * the solo bias below, which also serves several workers.
 *
 * corun__tls_bias_key: the calling thread's key, which a biased word
 * stores; 0 on a thread that is not a worker. Unique to a worker of one
 * corun_main: (run << 16) | (worker index + 1), > 65535; in a run
 * without membarrier(2), where nothing is biased, CORUN__BIAS_NOKEY
 * (a key no word ever holds). corun__bias_objects: whether a mutex may
 * take a bias of its own in this run (one configured worker: with
 * several, a mutex that tasks take on two workers, which work stealing
 * makes common, would cost a membarrier(2) each).
 *
 * corun__bias_fence(key): for a revoker that has stored "revoked" in the
 * lock: once it returns, the thread of `key` either has finished its
 * look at the lock (and its stores to it are visible once the lock's
 * `busy` flag reads 0, with acquire) or will see the revoked word at its
 * next look; returns 1. Nothing to do for a key of a corun_main that has
 * ended (its threads were joined, or this is a child of fork()): returns
 * 0, and `busy` means nothing (a fork may have copied it set). If
 * membarrier(2), registered for the run, fails (a seccomp policy installed
 * since), it waits until that worker has made a fence of its own, is idle, or
 * sleeps in the kernel (monitor.c). */
extern __thread uint64_t corun__tls_bias_key
    __attribute__((tls_model("initial-exec")));
extern int corun__bias_objects;
int corun__bias_fence(uint64_t key);
/* Whether corun__bias_fence had to wait for a worker in this run
 * (membarrier(2) denied since the run began). */
int corun__bias_fence_denied(void);
/* What a thread that waits for a lock's revoker calls while it waits: if
 * it is a worker whose fence a revoker asked for (the case above without
 * membarrier), makes it; the revoker could otherwise wait for it for
 * ever. */
void corun__bias_serve(void);

/* The revoker's side, for any biased word (a lock's, sync/blk.h; a
 * mutex's, sync/mutex.c; the solo bias, below): under a lock that
 * orders the revokers of `bias`, makes it CORUN__BIAS_NONE for good: from
 * UNSET at once (nobody may take it after), from a key by the handshake
 * (busy: the biased thread's flag, set around each of its looks). */
enum {
  CORUN__BIAS_UNSET = 0,
  CORUN__BIAS_NONE = 1,
  CORUN__BIAS_REVOKING = 2, /* a revoker waits for the biased thread */
  CORUN__BIAS_NOKEY = 3     /* a worker's key where nothing is biased */
};
void corun__bias_drop(_Atomic uint64_t *bias, atomic_int *busy);
/* Takes l, a lock that a revoker may hold while it waits for this
 * thread's fence: answers such requests while it waits. */
void corun__lock_acquire_serving(corun__lock *l);

/* The biased thread's side of the handshake, for any biased word: on the
 * thread of `key`, which has seen `bias` hold it, sets `busy` and looks at
 * `bias` again. 1 if it still holds `key`: the thread may then move the
 * words with plain loads and stores until it clears `busy` (with release,
 * corun__bias_unhold); 0 if the bias went meanwhile (`busy` cleared,
 * nothing to end). Only the biased thread may call it: another thread's
 * clear of `busy` could land inside the biased one's look (a spare worker
 * has a key too), and the revoker would stop waiting. */
static inline int corun__bias_hold(_Atomic uint64_t *bias, atomic_int *busy,
                                   uint64_t key) {
  atomic_store_explicit(busy, 1, memory_order_relaxed);
  /* busy, then bias: a revoker's membarrier(2) orders the hardware */
  atomic_signal_fence(memory_order_seq_cst);
  /* (acquire: the bias may have gone and come back to this thread since
   * the caller's look, with another thread's atomic moves in between) */
  if (atomic_load_explicit(bias, memory_order_acquire) == key)
    return 1;
  atomic_store_explicit(busy, 0, memory_order_release);
  return 0;
}
static inline void corun__bias_unhold(atomic_int *busy) {
  atomic_store_explicit(busy, 0, memory_order_release);
}

/* corun__bias_hold around one move: *word from `from` to `to` if it
 * holds `from`. Returns the value found (values are >= 0), or -1 if the
 * bias went meanwhile (nothing done). */
static inline int corun__bias_swap(_Atomic uint64_t *bias, atomic_int *busy,
                                   atomic_int *word, uint64_t key, int from,
                                   int to) {
  if (!corun__bias_hold(bias, busy, key))
    return -1;
  int s = atomic_load_explicit(word, memory_order_relaxed);
  if (s == from)
    atomic_store_explicit(word, to, memory_order_relaxed);
  corun__bias_unhold(busy);
  return s;
}

/* The solo bias (solo.c). While one worker alone runs tasks, every
 * task's `wait` word and every channel's lock (sync/blk.h) are biased to
 * its thread: it moves them with plain loads and stores, between `busy`
 * set and cleared (corun__bias_swap), instead of a compare-and-swap or
 * an exchange (a channel ping-pong round trip makes eight of those:
 * 54 ns biased against 77 unbiased, one worker, Intel VM). That is the
 * case with one configured worker from the start, and with several
 * whenever the others have slept for CORUN__QUIET_NS: a program whose
 * work fits one worker runs at one worker's speed on all its CPUs.
 *
 * `bias` holds the key of that worker or CORUN__BIAS_NONE (or REVOKING,
 * while a revoker waits for the biased thread). It changes only under
 * solo.c's lock:
 *  - a worker going to sleep for long (idle.c) announces itself quiet
 *    (corun__solo_quiet); if exactly one worker is then active, `bias`
 *    takes its key;
 *  - a quiet worker that wakes (corun__solo_wake), and the first time
 *    any thread that is not a worker touches a biased word
 *    (corun__solo_enter, which it calls where these functions return -1
 *    or on a key of 0), revokes the bias of another thread: the
 *    handshake of the biased locks above, one membarrier(2) (so at most
 *    one per worker sleep of CORUN__QUIET_NS). A thread that is not a
 *    worker (the IO helpers, any thread of the program) also ends the
 *    bias for the rest of the run: it cannot say when it is done with
 *    the words. The monitor can, and does (corun__solo_monitor_begin
 *    and _end around what it does to a blocked worker): no bias is
 *    given while it is inside, and it uses the atomics meanwhile.
 * So while an active worker runs, `bias` is NONE or its own key, and a
 * worker (key != 0) that reads NONE may use atomics without looking
 * again. Before membarrier(2) (or where it is denied) nothing is
 * biased. */
struct __attribute__((aligned(64))) corun__solo { /* a line of its own */
  _Atomic uint64_t bias; /* the worker's key, or CORUN__BIAS_* */
  atomic_int busy;       /* the biased thread is moving a word */
};
extern struct corun__solo corun__solo;
/* From a thread that found `bias` holding another thread's key or
 * REVOKING, or that has no key: on return this thread may use the
 * atomics on every biased word (the bias is NONE or its own). */
void corun__solo_enter(void);
/* The monitor's thread is about to touch biased words (a blocked
 * worker's queues, its timers' tasks) and is done with them: between the
 * two, the bias is nobody's, and its thread has a key that matches no
 * bias (CORUN__BIAS_NOKEY), so it uses the atomics. Not nested. */
void corun__solo_monitor_begin(void);
void corun__solo_monitor_end(void);

/* A section of plain loads and stores on what only the biased thread
 * touches while it holds the solo bias (a run queue: sched/ready.c):
 * corun__bias_swap's handshake around several moves. 1 if the calling
 * thread, whose key is `key`, holds the bias: it must then end the
 * section with corun__solo_unhold; 0 if not (nothing to end). Only
 * after a look at `bias` found `key` (sched.h, corun__bias_swap). */
static inline int corun__solo_hold(uint64_t key) {
  return corun__bias_hold(&corun__solo.bias, &corun__solo.busy, key);
}
static inline void corun__solo_unhold(void) {
  corun__bias_unhold(&corun__solo.busy);
}

/* Whether the calling thread may use atomics on biased words at once,
 * `bias` being b: a worker, with the bias nobody's. */
static inline int corun__solo_none(uint64_t b, uint64_t key) {
  return b == CORUN__BIAS_NONE && key;
}

/* A lock the solo bias covers: every thread but the biased one takes it
 * through here, revoking the bias first; the biased thread may skip it,
 * holding the bias instead (no locked instruction), or take it as a
 * plain lock (which also excludes every other taker: they revoke first).
 * Returns 1 through the bias (leave with that), 0 under l. No section
 * held through the bias may begin inside another: the first one's end
 * would end both (a run queue's: sched/taskq.h; a worker's timer heap:
 * sched/park.c, whose firing takes the plain lock, since it readies
 * tasks into run queues). */
static inline int corun__solo_lock(corun__lock *l) {
  uint64_t key = corun__tls_bias_key;
  uint64_t b = atomic_load_explicit(&corun__solo.bias, memory_order_acquire);
  if (b == key && corun__solo_hold(key))
    return 1;
  if (!corun__solo_none(b, key))
    corun__solo_enter();
  corun__lock_acquire(l);
  return 0;
}

static inline void corun__solo_unlock(corun__lock *l, int solo) {
  if (solo)
    corun__solo_unhold();
  else
    corun__lock_release(l);
}

/* A compare-and-swap of t->wait from *expect to want: 1 if done, else 0
 * and *expect = what it found; plain on the biased thread. -1, with
 * nothing done, where this thread must first call corun__solo_enter:
 * the fast paths that call nothing (park.c's corun__park_end, a
 * channel's transfer) then take their slow path. */
static inline int corun__wait_cas_try(struct corun_task *t, int *expect,
                                      int want) {
  /* (acquire: a worker that went quiet wrote its last words before it
   * gave this thread the bias) */
  uint64_t b = atomic_load_explicit(&corun__solo.bias, memory_order_acquire);
  uint64_t key = corun__tls_bias_key;
  if (b != key) { /* (never 0: a thread without a key goes on) */
    if (CORUN__LIKELY(corun__solo_none(b, key)))
      return atomic_compare_exchange_strong(&t->wait, expect, want);
    return -1;
  }
  int s = corun__bias_swap(&corun__solo.bias, &corun__solo.busy, &t->wait, key,
                           *expect, want);
  if (s >= 0) {
    if (s == *expect)
      return 1;
    *expect = s;
    return 0;
  }
  /* Being revoked: the revoker waits for this thread's plain moves only,
   * so a compare-and-swap is safe here at once. */
  return atomic_compare_exchange_strong(&t->wait, expect, want);
}

/* corun__wait_cas_try, revoking the bias where it must: 1 or 0. After
 * corun__solo_enter the thread may use the atomics (a thread that is not
 * a worker always gets -1 from the _try forms). */
static inline int corun__wait_cas(struct corun_task *t, int *expect, int want) {
  int r = corun__wait_cas_try(t, expect, want);
  if (r < 0) {
    corun__solo_enter();
    r = atomic_compare_exchange_strong(&t->wait, expect, want);
  }
  return r;
}

/* Makes sure this thread may use the atomics on the biased words: the
 * thread they are biased to, or a worker with the bias nobody's, may at
 * once; any other enters first (a thread without a key, or one that
 * finds another's key or REVOKING). For a reader of a wait word whose
 * decision needs it current (a cancel: the biased thread reads them in
 * program order), and for a channel lock's slow path (sync/blk.c). */
static inline void corun__solo_foreign(void) {
  uint64_t b = atomic_load_explicit(&corun__solo.bias, memory_order_acquire);
  uint64_t key = corun__tls_bias_key;
  if (CORUN__UNLIKELY(!key || (b != CORUN__BIAS_NONE && b != key)))
    corun__solo_enter();
}

/* One claim of t's current park: through corun__wait_cas_try, or with
 * the atomics once the caller has called corun__solo_enter (entered). */
static CORUN__ALWAYS_INLINE int corun__claim_as(struct corun_task *t,
                                                int entered) {
  int s = atomic_load_explicit(&t->wait, memory_order_relaxed);
  for (;;) {
    int want;
    if (s == CORUN__WAIT_PARKED)
      want = CORUN__WAIT_CLAIMED;
    else if (s == CORUN__WAIT_PARKING)
      want = CORUN__WAIT_CLAIMING;
    else
      return 0;
    int r = entered ? atomic_compare_exchange_strong(&t->wait, &s, want)
                    : corun__wait_cas_try(t, &s, want);
    if (r) {
      if (r > 0)
        t->claimed_early = want == CORUN__WAIT_CLAIMING;
      return r;
    }
  }
}

/* corun__claim without the bias's revocation: -1, nothing done, where
 * this thread must call corun__solo_enter first (corun__wait_cas_try). */
static CORUN__ALWAYS_INLINE int corun__claim_try(struct corun_task *t) {
  return corun__claim_as(t, 0);
}

/* Claims t's current park; 1 if this caller won (it must then unpark t),
 * 0 if t is not parked or another claim won. */
static inline int corun__claim(struct corun_task *t) {
  int r = corun__claim_as(t, 0);
  if (r < 0) {
    corun__solo_enter();
    r = corun__claim_as(t, 1);
  }
  return r;
}

/* Wakes t, claimed by the caller, with `code` as corun__park's result. */
void corun__unpark(struct corun_task *t, int code);

/* A corun__lock's release, as a park unlock callback. */
void corun__unlock_cb(void *lock);

/* The event loop, as the scheduler sees it (the poll layer installs it:
 * sched never includes poll). An idle worker blocks in poll() instead of
 * its futex while tasks wait for IO, and busy workers call poll(0) now and
 * then so that IO is never starved by runnable tasks. */
struct corun__poller {
  /* Waits up to timeout_ns (-1: no limit, 0: just look) for IO events and
   * unparks the tasks they complete. */
  void (*poll)(int64_t timeout_ns);
  /* Makes a poll() under way in another thread return soon. */
  void (*wake)(void);
  /* Tasks parked on IO now: while > 0, no deadlock can be declared. */
  long (*pending)(void);
  /* The scheduler is ending: free everything (every task has finished). */
  void (*fini)(void);
  /* NULL, or hands requests queued since the last call to the kernel: a
   * backend that batches submissions needs it called by every worker
   * before it sleeps and now and then while it is busy (unlike poll,
   * which one worker at a time runs). Returns 0, or -1 when the kernel
   * took none for now: the poller has asked for another flush
   * (corun__sched_flush_soon), and a worker going to sleep wakes for it. */
  int (*flush)(void);
};

/* For a poller whose flush batches submissions: it has queued a request
 * while none was queued; every worker between tasks then has its flush
 * called once the request has waited CORUN__FLUSH_NS, so that a batch
 * is handed over soon even while tasks keep the workers busy (and not
 * only every few dispatches). corun__sched_flushed: the queue went to the
 * kernel. Both under the poller's lock. */
void corun__sched_flush_soon(void);
void corun__sched_flushed(void);

/* A task is about to park waiting for something outside the scheduler
 * that is not the poller (a helper thread's answer): while any such wait
 * is under way no deadlock is declared. Pair each begin with an end. */
void corun__external_begin(void);
void corun__external_end(void);

/* Runs fn once when the running scheduler ends, after its workers have
 * stopped (helper threads of upper layers stop there). Returns 0, or
 * -ENOMEM when too many are registered. */
int corun__sched_at_end(void (*fn)(void));

/* Installs the poller for the running scheduler, once; returns 0, or
 * -EBUSY if one is installed already. Called from a task. */
int corun__sched_set_poller(const struct corun__poller *p);

#endif
