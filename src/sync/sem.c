/* sem.c: the counting semaphore, on park/unpark (sched.h).
 * Layer: sync (uses base, sched).
 *
 * A count of permits and a FIFO of parked acquirers, all under the
 * semaphore's corun__lock. Invariant: waiters queued => value == 0 (an
 * acquirer waits only when no permit is left, and a release with a waiter
 * hands its permit straight to the longest one instead of adding it to
 * `value`), so a newcomer cannot take a permit ahead of a waiter.
 * A waiter whose park is claimed by its timer or a cancel got no permit
 * and leaves the queue itself; `nwait` counts the waiters that will still
 * take the lock, so that corun_sem_free() never frees under one. */
#include <errno.h>
#include <limits.h>

#include "base/alloc.h"
#include "base/lock.h"
#include "sched/sched.h"

struct corun_sem {
  corun__lock lock;
  unsigned value;
  size_t nwait;
  struct corun__waitq q;
};

int corun_sem_make(corun_sem **out, unsigned value) {
  if (!out)
    return -EINVAL;
  corun_sem *s = corun__malloc(sizeof *s);
  if (!s)
    return -ENOMEM;
  corun__lock_init(&s->lock);
  s->value = value;
  s->nwait = 0;
  s->q.head = s->q.tail = NULL;
  *out = s;
  return 0;
}

int corun_sem_free(corun_sem *s) {
  if (!s)
    return -EINVAL;
  corun__lock_acquire(&s->lock);
  int busy = s->nwait != 0;
  corun__lock_release(&s->lock);
  if (busy)
    return -EBUSY;
  corun__free(s);
  return 0;
}

int corun_sem_acquire(corun_sem *s, int64_t deadline) {
  if (!s)
    return -EINVAL;
  corun__lock_acquire(&s->lock);
  if (s->value > 0) {
    s->value--;
    corun__lock_release(&s->lock);
    return 0;
  }
  int err = -EAGAIN;
  struct corun_task *t = deadline == 0 ? NULL : corun__task_blocking(&err);
  if (!t) {
    corun__lock_release(&s->lock);
    return err;
  }
  /* 0: a release handed us its permit. */
  return corun__wait_queued(t, &s->q, &s->lock, &s->nwait, NULL, "semaphore",
                            deadline);
}

int corun_sem_release(corun_sem *s) {
  if (!s)
    return -EINVAL;
  corun__lock_acquire(&s->lock);
  struct corun__waiter *w = corun__waitq_claim(&s->q);
  if (w) { /* the permit goes to the longest waiter; value stays 0 */
    s->nwait--;
    struct corun_task *t = w->task;
    corun__lock_release(&s->lock);
    corun__unpark(t, 0);
    return 0;
  }
  if (s->value == UINT_MAX) {
    corun__lock_release(&s->lock);
    return -EOVERFLOW;
  }
  s->value++;
  corun__lock_release(&s->lock);
  return 0;
}
