/* wg.c: the wait group (Go's sync.WaitGroup), on park/unpark (sched.h).
 * Layer: sync (uses base, sched).
 *
 * A count and a FIFO of parked waiters under the group's corun__lock. The
 * add that brings the count to 0 claims every waiter under the lock and
 * wakes them after releasing it (so a woken waiter may free the group at
 * once: the waker no longer touches it). A waiter whose park is claimed by
 * its timer or a cancel leaves the queue itself; `nwait` counts the
 * waiters that will still take the lock, so that corun_wg_free() never
 * frees under one. */
#include <errno.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/lock.h"
#include "sched/sched.h"

struct corun_wg {
  corun__lock lock;
  int64_t count;
  size_t nwait;
  struct corun__waitq q;
};

int corun_wg_make(corun_wg **out) {
  if (!out)
    return -EINVAL;
  corun_wg *wg = corun__malloc(sizeof *wg);
  if (!wg)
    return -ENOMEM;
  corun__lock_init(&wg->lock);
  wg->count = 0;
  wg->nwait = 0;
  wg->q.head = wg->q.tail = NULL;
  *out = wg;
  return 0;
}

int corun_wg_free(corun_wg *wg) {
  if (!wg)
    return -EINVAL;
  corun__lock_acquire(&wg->lock);
  int busy = wg->nwait != 0;
  corun__lock_release(&wg->lock);
  if (busy)
    return -EBUSY;
  corun__free(wg);
  return 0;
}

int corun_wg_add(corun_wg *wg, int64_t delta) {
  if (!wg)
    return -EINVAL;
  corun__lock_acquire(&wg->lock);
  int64_t c = wg->count;
  /* Below 0, or (for a huge delta) past INT64_MAX: refused unchanged. */
  if (delta < 0 ? c + delta < 0 : c > INT64_MAX - delta) { /* c >= 0 */
    corun__lock_release(&wg->lock);
    return -ERANGE;
  }
  wg->count = c + delta;
  if (wg->count != 0 || !wg->q.head) {
    corun__lock_release(&wg->lock);
    return 0;
  }
  /* At 0: every waiter, woken after the lock is released. */
  struct corun__waiter *all = corun__waitq_claim_all(&wg->q, &wg->nwait);
  corun__lock_release(&wg->lock);
  corun__unpark_all(all);
  return 0;
}

int corun_wg_done(corun_wg *wg) {
  return corun_wg_add(wg, -1);
}

int corun_wg_wait(corun_wg *wg, int64_t deadline) {
  if (!wg)
    return -EINVAL;
  corun__lock_acquire(&wg->lock);
  if (wg->count == 0) {
    corun__lock_release(&wg->lock);
    return 0;
  }
  int err = -EAGAIN;
  struct corun_task *t = deadline == 0 ? NULL : corun__task_blocking(&err);
  if (!t) {
    corun__lock_release(&wg->lock);
    return err;
  }
  /* 0: the count reached 0. */
  return corun__wait_queued(t, &wg->q, &wg->lock, &wg->nwait, NULL,
                            "wait group", deadline);
}
