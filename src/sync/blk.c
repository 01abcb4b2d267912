/* blk.c: the slow path of the biased spin lock (blk.h).
 * Layer: sync (uses base, sched). Locking: solo.c's lock orders the
 * revokers of the bias. */
#include "sync/blk.h"

void corun__blk_acquire_slow(struct corun__blk *b) {
  uint64_t key = corun__tls_bias_key;
  uint64_t s = atomic_load_explicit(&corun__solo.bias, memory_order_acquire);
  if (!key || (s != CORUN__BIAS_NONE && s != key))
    corun__solo_enter();
  /* The holder may be waiting for this thread's fence: a select that
   * holds this lock while it revokes the bias, where membarrier(2) is
   * denied (corun__bias_fence). Unanswered, the two waited for each
   * other for ever (a review's find; chan/bias, no_membarrier). */
  corun__lock_acquire_serving(&b->held);
}
