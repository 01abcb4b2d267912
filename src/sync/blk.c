/* blk.c: the slow paths of the biased spin lock (blk.h).
 * Layer: sync (uses base, sched). Locking: revoke_lock orders revokers. */
#include "sync/blk.h"

/* One for every lock: each is revoked at most once, and a revocation
 * costs a membarrier(2) anyway; in each lock it would take 8 bytes of the
 * line its object's hot fields share (sync/chan.c). */
static corun__lock revoke_lock;

/* Makes b unbiased for good (BLK_NONE): revokes the bias (blk.h) or
 * makes sure that nobody takes it. */
static CORUN__NOINLINE void unbias(struct corun__blk *b) {
  corun__lock_acquire_serving(&revoke_lock);
  corun__bias_drop(&b->bias, &b->busy);
  corun__lock_release(&revoke_lock);
}

void corun__blk_acquire_slow(struct corun__blk *b) {
  uint64_t key = corun__tls_bias_key;
  /* The first worker thread to take b takes its bias. */
  uint64_t cur = BLK_UNSET;
  if (key &&
      atomic_load_explicit(&b->bias, memory_order_relaxed) == BLK_UNSET &&
      atomic_compare_exchange_strong(&b->bias, &cur, key) &&
      corun__blk_take(b, key))
    return;
  /* (acquire: a revoker's release of BLK_NONE orders the biased
   * thread's last taking of b before our exchange, which so cannot read
   * an older 0; what was written under b reaches us through the holder's
   * release store of `held`) */
  if (atomic_load_explicit(&b->bias, memory_order_acquire) != BLK_NONE)
    unbias(b);
  /* The holder may be waiting for this thread's fence: a select that
   * holds this lock while it revokes another channel's bias, where
   * membarrier(2) is denied (corun__bias_fence). Unanswered, the two
   * waited for each other for ever (a review's find; chan/bias,
   * no_membarrier). */
  corun__lock_acquire_serving(&b->held);
}
