/* blk.h: a biased spin lock, for the objects of the sync layer that a
 * task holds only between two of its own switches (a channel's lock).
 * Layer: sync (uses base, sched: the bias keys and fences of sched.h).
 *
 * With one configured worker, the first worker thread to take the lock
 * takes its bias (the thread's corun__tls_bias_key, CAS from BLK_UNSET);
 * that thread then takes and releases it with plain loads and stores:
 * no atomic read-modify-write, which costs about 5 ns on the machines we
 * measure on (bench_sched's 1-worker buffered channel row: 13.4-13.8 ns
 * an element with an exchange per lock, 6.5-6.6 biased). Every other
 * thread (a spare worker, a thread that is not a worker, a later
 * corun_main) first revokes the bias for good (blk.c, unbias), with
 * the handshake that sync/mutex.c's file comment describes for the
 * mutex's bias: to take the lock, the biased thread sets `busy`, then
 * (a compiler fence only) reads `bias`, and clears `busy` with release
 * after its store to `held`; to release it, whoever holds it stores 0
 * (corun__blk_release). The revoker, under blk.c's revoke_lock (one for
 * every lock: each is revoked once), stores BLK_REVOKING, has the biased
 * thread run a full fence (corun__bias_fence: membarrier(2)), waits until
 * `busy` reads 0, and stores BLK_NONE with release. From then on `held`
 * is an ordinary spin lock (exchange to take it), including for the
 * biased thread, which may hold it at that moment. A thread that reads
 * BLK_REVOKING waits for revoke_lock.
 * Only the biased thread writes `busy`, and only after it has seen its
 * own key in `bias` (a spare's write could land inside its look).
 * A lock is released by the thread that took it: a park's unlock runs on
 * the arriving side of the switch, on the same thread.
 * Locking: revoke_lock (blk.c) orders revokers; nothing here is held
 * across a switch except as the park's unlock says. */
#ifndef CORUN_SYNC_BLK_H
#define CORUN_SYNC_BLK_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/compiler.h"
#include "base/lock.h"
#include "sched/sched.h"

/* `bias` besides a thread's key (sched.h: keys are > 65535). */
enum {
  BLK_UNSET = CORUN__BIAS_UNSET,
  BLK_NONE = CORUN__BIAS_NONE,
  BLK_REVOKING = CORUN__BIAS_REVOKING
};

/* 16 bytes: on the line of what the lock guards (sync/chan.c). */
struct corun__blk {
  corun__lock held;      /* taken; a plain spin lock once unbiased */
  atomic_int busy;       /* the biased thread is looking at `held` */
  _Atomic uint64_t bias; /* BLK_UNSET, BLK_NONE, BLK_REVOKING or a key */
};

static inline void corun__blk_init(struct corun__blk *b) {
  corun__lock_init(&b->held);
  atomic_init(&b->busy, 0);
  atomic_init(&b->bias, BLK_UNSET);
}

/* The slow path (blk.c): takes the bias of a lock nobody has taken yet,
 * or takes b without its bias (revoking it first, or ruling out that
 * anybody takes it later). */
void corun__blk_acquire_slow(struct corun__blk *b);

/* On the biased thread (key == bias): takes b (`held` 0 -> 1) if it is
 * free. 1 if done; 0 if not (the bias is gone, or b is held). */
static inline int corun__blk_take(struct corun__blk *b, uint64_t key) {
  return corun__bias_swap(&b->bias, &b->busy, &b->held.held, key, 0, 1) == 0;
}

/* corun__blk_acquire's fast paths: 1 if they took b, 0 if not (b is not
 * taken: corun__blk_acquire_slow's turn). */
static inline int corun__blk_take_fast(struct corun__blk *b) {
  uint64_t key = corun__tls_bias_key;
  if (key) /* one worker: through the bias, if it is this thread's */
    return atomic_load_explicit(&b->bias, memory_order_relaxed) == key &&
           corun__blk_take(b, key);
  /* (acquire: see corun__blk_acquire_slow) */
  return atomic_load_explicit(&b->bias, memory_order_acquire) == BLK_NONE &&
         !atomic_exchange_explicit(&b->held.held, 1, memory_order_acquire);
}

static inline void corun__blk_acquire(struct corun__blk *b) {
  if (!corun__blk_take_fast(b))
    corun__blk_acquire_slow(b);
}

/* A store, biased or not (a plain `mov` on x86-64). Unlike the mutex's
 * word, `held` has no state that another thread may have moved it to
 * meanwhile (a waiter's CONTENDED): whoever holds b alone writes it until
 * this store, and a thread that revoked the bias waits for it with an
 * exchange (acquire), which orders the holder's writes under b before its
 * own. The handshake covers only the biased thread's taking of b, where
 * it reads `held` and then writes it. */
static inline void corun__blk_release(struct corun__blk *b) {
  corun__lock_release(&b->held);
}

/* A park releases b with corun__unlock_cb(&b->held) (sched.h): the
 * release above, and the callback the park's fast path knows (park.c,
 * corun__park_end). */

#endif
