/* blk.h: a biased spin lock, for the objects of the sync layer that a
 * task holds only between two of its own switches (a channel's lock).
 * Layer: sync (uses base, sched: the solo bias of sched.h).
 *
 * Every such lock follows the solo bias (sched.h): while one worker alone
 * runs tasks, its thread takes and releases the lock with plain loads and
 * stores, between the bias's `busy` set and cleared (corun__bias_swap):
 * no atomic read-modify-write, which costs about 5 ns on the machines we
 * measure on (bench_sched's 1-worker buffered channel row: 13.4-13.8 ns
 * an element with an exchange per lock, 6.5-6.6 biased). Any other
 * thread, and every thread while the bias is nobody's, takes it with an
 * exchange; a thread that finds the bias another's revokes it first
 * (corun__solo_enter). The bias is one for all locks, not one per lock:
 * it is revoked when a second worker wakes, whatever it touches then,
 * and a lock costs 4 bytes on its object's line (sync/chan.c).
 * A lock is released by the thread that took it, with a store (a park's
 * unlock runs on the arriving side of the switch, on the same thread):
 * whoever holds the lock alone writes `held` until then, and a thread
 * that revoked the bias waits for it with an exchange (acquire), which
 * orders the holder's writes under the lock before its own.
 * Locking: solo.c's lock orders revokers; nothing here is held across a
 * switch except as the park's unlock says. */
#ifndef CORUN_SYNC_BLK_H
#define CORUN_SYNC_BLK_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/compiler.h"
#include "base/lock.h"
#include "sched/sched.h"

struct corun__blk {
  corun__lock held; /* taken; through the solo bias or an exchange */
};

static inline void corun__blk_init(struct corun__blk *b) {
  corun__lock_init(&b->held);
}

/* The slow path (blk.c): revokes another thread's bias if it must, then
 * takes b with an exchange, spinning. */
void corun__blk_acquire_slow(struct corun__blk *b);

/* corun__blk_acquire's fast paths: 1 if they took b, 0 if not (b is not
 * taken: corun__blk_acquire_slow's turn). */
static inline int corun__blk_take_fast(struct corun__blk *b) {
  /* (acquire: see corun__wait_cas_try) */
  uint64_t s = atomic_load_explicit(&corun__solo.bias, memory_order_acquire);
  uint64_t key = corun__tls_bias_key;
  if (s == key) /* (never 0: a thread without a key goes on) */
    return corun__bias_swap(&corun__solo.bias, &corun__solo.busy, &b->held.held,
                            key, 0, 1) == 0;
  return corun__solo_none(s, key) &&
         !atomic_exchange_explicit(&b->held.held, 1, memory_order_acquire);
}

static inline void corun__blk_acquire(struct corun__blk *b) {
  if (!corun__blk_take_fast(b))
    corun__blk_acquire_slow(b);
}

/* A store, biased or not (a plain `mov` on x86-64), with release. */
static inline void corun__blk_release(struct corun__blk *b) {
  corun__lock_release(&b->held);
}

/* A park releases b with corun__unlock_cb(&b->held) (sched.h): the
 * release above, and the callback the park's fast path knows (park.c,
 * corun__park_end). */

#endif
