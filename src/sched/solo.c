/* solo.c: the solo bias (sched.h): while one worker alone runs tasks, the
 * wait words and the channels' locks are biased to its thread.
 * Layer: sched (uses base, coro).
 *
 * Which workers are active: each worker's `solo_active`, under
 * solo_lock. A worker is active from its start until idle.c finds it has
 * slept for CORUN__QUIET_NS and it goes quiet (corun__solo_quiet, just
 * before it sleeps again), and active again as soon as it wakes
 * (corun__solo_wake, before it looks at anything). A quiet worker touches
 * no biased word: it is inside futex(2).
 *
 * Invariant: `bias` holds a worker's key only while that worker is the
 * only active one, no thread that is not a worker has touched a biased
 * word in this run (`frozen`) and the monitor is not touching any
 * (`monitor_in`). So an active worker finds NONE or
 * its own key there, and one that finds NONE may use atomics from then on
 * without looking again (sched.h, corun__solo_none): the bias can move to
 * another worker only after this one has gone quiet.
 *
 * Why the words written with atomics before the bias was taken are seen
 * by its thread: the worker that goes quiet (or any thread) wrote them
 * before it released solo_lock, and `bias` is stored with release under
 * it; the biased thread loads `bias` with acquire before its plain moves.
 * And the other way: a revoker waits for the biased thread's `busy` to
 * read 0 (acquire, after the handshake's fence), which that thread
 * clears with release after its plain moves (corun__bias_drop).
 *
 * Locking: solo_lock orders every change of `bias`, `frozen` and the
 * workers' `solo_active`. It is taken with corun__lock_acquire_serving:
 * its holder may be a revoker waiting for this thread's fence. */
#include "sched/worker.h"

struct corun__solo corun__solo = {CORUN__BIAS_NONE, 0};

static corun__lock solo_lock;
/* No bias again in this run: a thread that is not a worker has touched a
 * biased word, or nothing is biased in it (no membarrier(2)). Written
 * under solo_lock; read without it by corun__solo_enter's first look. */
static atomic_int frozen;
/* The monitor is between corun__solo_monitor_begin and _end: no bias is
 * given (solo_lock). */
static int monitor_in;

/* Under solo_lock: if `bias` holds another thread's key, revokes it (the
 * handshake of sched.h's biased words). */
static void revoke_other(uint64_t mine) {
  uint64_t b = atomic_load(&corun__solo.bias);
  if (b != CORUN__BIAS_NONE && b != mine)
    corun__bias_drop(&corun__solo.bias, &corun__solo.busy);
  /* Without membarrier(2) a revocation waits for the biased worker to
   * pass through its scheduler (corun__bias_fence): not again. */
  if (corun__bias_fence_denied())
    atomic_store(&frozen, 1);
}

/* Under solo_lock: if the bias is nobody's and exactly one worker is
 * active, gives it to that worker (with release: the words written
 * before, under or outside this lock, are seen by its thread). */
static void establish(void) {
  struct corun__sched *S = &corun__S;
  if (atomic_load(&frozen) || monitor_in ||
      atomic_load(&corun__solo.bias) != CORUN__BIAS_NONE)
    return;
  /* Every slot, not S->n: a spare may run (and be active) before the
   * count that includes it is stored (main.c); unused slots are never
   * active. */
  unsigned active = 0, which = 0;
  for (unsigned i = 0; i < S->cap; i++)
    if (S->w[i].solo_active) {
      active++;
      which = i;
    }
  if (active == 1)
    atomic_store_explicit(&corun__solo.bias, corun__bias_key_of(which),
                          memory_order_release);
}

void corun__solo_setup(int enabled) {
  struct corun__sched *S = &corun__S;
  /* (solo_lock is not made again: a thread that is not a worker may still
   * be inside corun__solo_enter for the run before, as for monitor.c's
   * bias_lock) */
  corun__lock_acquire(&solo_lock);
  atomic_store(&frozen, !enabled);
  monitor_in = 0;
  atomic_store(&corun__solo.busy, 0);
  atomic_store(&corun__solo.bias, CORUN__BIAS_NONE);
  /* The configured workers count as active from the start (their threads
   * begin with corun__solo_wake); spares once they start. */
  for (unsigned i = 0; i < S->cap; i++)
    S->w[i].solo_active = i < S->target;
  establish(); /* one configured worker: biased from the start */
  corun__lock_release(&solo_lock);
}

void corun__solo_end(void) {
  atomic_store(&frozen, 1);
  atomic_store(&corun__solo.bias, CORUN__BIAS_NONE); /* nobody's now */
}

void corun__solo_forked(void) {
  corun__lock_init(&solo_lock); /* (a thread of the parent may hold it) */
  corun__solo_end();
}

void corun__solo_quiet(struct corun__worker *w) {
  corun__lock_acquire_serving(&solo_lock);
  w->solo_active = 0;
  /* Its own bias: it is the biased thread, so a store (release: what it
   * moved with plain stores goes with it). */
  if (atomic_load(&corun__solo.bias) == corun__bias_key_of(w->index))
    atomic_store_explicit(&corun__solo.bias, CORUN__BIAS_NONE,
                          memory_order_release);
  establish();
  corun__lock_release(&solo_lock);
}

void corun__solo_wake(struct corun__worker *w) {
  corun__lock_acquire_serving(&solo_lock);
  w->solo_active = 1;
  revoke_other(corun__bias_key_of(w->index));
  establish(); /* the others are quiet: it runs alone */
  corun__lock_release(&solo_lock);
}

void corun__solo_monitor_begin(void) {
  corun__lock_acquire_serving(&solo_lock);
  monitor_in = 1;
  revoke_other(CORUN__BIAS_NOKEY);
  corun__lock_release(&solo_lock);
  corun__tls_bias_key = CORUN__BIAS_NOKEY;
}

void corun__solo_monitor_end(void) {
  corun__tls_bias_key = 0;
  corun__lock_acquire_serving(&solo_lock);
  monitor_in = 0;
  establish(); /* if one worker alone is active now */
  corun__lock_release(&solo_lock);
}

CORUN__NOINLINE void corun__solo_enter(void) {
  uint64_t key = corun__tls_bias_key;
  if (!key && atomic_load(&frozen) &&
      atomic_load_explicit(&corun__solo.bias, memory_order_acquire) ==
          CORUN__BIAS_NONE)
    return; /* no bias again in this run */
  corun__lock_acquire_serving(&solo_lock);
  if (!key)
    atomic_store(&frozen, 1);
  /* An active worker finds NONE, its own key, or REVOKING while another
   * revokes its bias: that revoker holds the lock, so it is done now. */
  revoke_other(key);
  corun__lock_release(&solo_lock);
}
