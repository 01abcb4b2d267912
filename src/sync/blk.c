/* blk.c: the slow path of the biased spin lock (blk.h).
 * Layer: sync (uses base, sched). Locking: solo.c's lock orders the
 * revokers of the bias. */
#include "sync/blk.h"

void corun__blk_acquire_slow(struct corun__blk *b) {
  corun__solo_foreign();
  /* The holder may be waiting for this thread's fence: a select that
   * holds this lock while it revokes the bias, where membarrier(2) is
   * denied (corun__bias_fence). Unanswered, the two waited for each
   * other for ever (a review's find; chan/bias, no_membarrier). */
  corun__lock_acquire_serving(&b->held);
}
