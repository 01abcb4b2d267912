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
  /* At 0: claim every waiter (linked through their unqueued waiters'
   * `next`, which nobody else touches until their task is unparked). */
  struct corun__waiter *list = NULL, *w;
  while ((w = corun__waitq_claim(&wg->q)) != NULL) {
    wg->nwait--;
    w->next = list;
    list = w;
  }
  corun__lock_release(&wg->lock);
  struct corun__waiter *fifo = NULL; /* longest waiter first */
  while (list) {
    w = list;
    list = w->next;
    w->next = fifo;
    fifo = w;
  }
  while (fifo) {
    w = fifo;
    fifo = w->next;
    w->next = NULL;
    corun__unpark(w->task, 0); /* w may be reused from here on */
  }
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
  struct corun__waiter *w = &t->self_waiter;
  w->task = t;
  w->index = 0;
  w->elem = NULL;
  w->result = 0;
  corun__waitq_push(&wg->q, w);
  wg->nwait++;
  int rc = corun__park(t, "wait group", corun__unlock_cb, &wg->lock, deadline);
  if (rc == 0)
    return 0; /* the count reached 0 */
  corun__lock_acquire(&wg->lock);
  if (w->queued)
    corun__waitq_remove(&wg->q, w);
  wg->nwait--;
  corun__lock_release(&wg->lock);
  return rc;
}
