/* sem.c: corun_sem: errors (also outside a task), -EOVERFLOW, counting under
 * contention (never more than N holders, checked with an atomic counter; the
 * permits are all back at the end), FIFO hand-off of released permits with
 * no barging, deadline timing, a timed-out and a cancelled waiter taking no
 * permit, free while busy (also while a dropped waiter still has to come
 * back). Each scheduler run is repeated with 1, 2 and 4 workers and once
 * shuffled.
 * CORUN_TEST_SCALE=<factor> scales the stress part (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "sched/sched.h"
#include "sync_test.h"
#include "t.h"

/* Takes every permit left without blocking; returns how many. */
static unsigned drain(corun_sem *s) {
  unsigned n = 0;
  while (corun_sem_acquire(s, 0) == 0)
    n++;
  return n;
}

/* ---- counting ------------------------------------------------------------ */

enum { PERMITS = 3, TASKS = 12 };

struct count {
  corun_sem *s;
  long iters;
  atomic_int holders, max;
};

static void *count_body(void *arg) {
  struct count *c = arg;
  for (long i = 0; i < c->iters; i++) {
    if (i % 9 == 4) {
      int rc;
      while ((rc = corun_sem_acquire(c->s, 0)) == -EAGAIN)
        corun_yield(NULL);
      T_OK(rc);
    } else {
      T_OK(corun_sem_acquire(c->s, i % 5 == 1 ? corun_now() + 60000 * MS : -1));
    }
    int h = atomic_fetch_add(&c->holders, 1) + 1;
    T_LE(h, PERMITS);
    int m = atomic_load(&c->max);
    while (h > m && !atomic_compare_exchange_weak(&c->max, &m, h))
      ;
    if (i % 4 == 0)
      corun_yield(NULL); /* hold it a while */
    atomic_fetch_sub(&c->holders, 1);
    T_OK(corun_sem_release(c->s));
  }
  return NULL;
}

static void counting(void) {
  struct count c = {.iters = scaled(10000)};
  atomic_init(&c.holders, 0);
  atomic_init(&c.max, 0);
  T_OK(corun_sem_make(&c.s, PERMITS));
  corun_task *t[TASKS];
  for (int i = 0; i < TASKS; i++)
    T_OK(corun_spawn(&t[i], count_body, &c, NULL));
  for (int i = 0; i < TASKS; i++)
    T_PTR_EQ(join_rc(t[i]), NULL);
  T_LE(atomic_load(&c.max), PERMITS);
  T_GE(atomic_load(&c.max), 1);
  T_EQ(drain(c.s), PERMITS); /* every permit came back, none was made */
  T_OK(corun_sem_free(c.s));
}

/* ---- FIFO, no barging, timeouts, cancel --------------------------------- */

enum { N = 6 };

struct fifo {
  corun_sem *s;
  int order[N];
  atomic_int n;
};

struct farg {
  struct fifo *f;
  int id;
  int64_t deadline;
};

static void *fifo_body(void *arg) {
  struct farg *a = arg;
  int rc = corun_sem_acquire(a->f->s, a->deadline);
  if (rc == 0)
    a->f->order[atomic_fetch_add(&a->f->n, 1)] = a->id;
  return (void *)(intptr_t)rc;
}

static void fifo(void) {
  struct fifo f;
  atomic_init(&f.n, 0);
  T_OK(corun_sem_make(&f.s, 0));
  corun_task *t[N];
  struct farg a[N];
  /* 0..5 queue; 2 has a 20 ms deadline and 4 is cancelled. */
  for (int i = 0; i < N; i++) {
    a[i] = (struct farg){&f, i, i == 2 ? corun_now() + 20 * MS : -1};
    T_OK(corun_spawn(&t[i], fifo_body, &a[i], NULL));
    wait_parked(t[i]);
  }
  T_EQ(corun_sem_free(f.s), -EBUSY);
  T_OK(corun_cancel(t[4]));
  T_EQ((intptr_t)join_rc(t[4]), -ECANCELED);
  T_EQ((intptr_t)join_rc(t[2]), -ETIMEDOUT);
  /* Each release goes to the longest waiter, not to a newcomer. */
  int expect[] = {0, 1, 3, 5};
  for (int k = 0; k < 4; k++) {
    T_OK(corun_sem_release(f.s));
    T_EQ(corun_sem_acquire(f.s, 0), -EAGAIN); /* no barging */
    T_PTR_EQ(join_rc(t[expect[k]]), NULL);
    T_EQ(atomic_load(&f.n), k + 1);
    T_EQ(f.order[k], expect[k]);
  }
  /* Nobody waits: the permits pile up. */
  T_OK(corun_sem_release(f.s));
  T_OK(corun_sem_release(f.s));
  T_EQ(drain(f.s), 2);
  T_OK(corun_sem_free(f.s));
}

static void *in_coroutine(void *arg) {
  return (void *)(intptr_t)corun_sem_acquire(arg, -1);
}

static void timeouts(void) {
  corun_sem *s;
  T_OK(corun_sem_make(&s, 1));
  T_OK(corun_sem_acquire(s, 0));
  T_EQ(corun_sem_acquire(s, 0), -EAGAIN);
  int64_t t0 = corun_now();
  T_EQ(corun_sem_acquire(s, t0 + 20 * MS), -ETIMEDOUT);
  T_GE(corun_now() - t0, 20 * MS);
  T_EQ(corun_sem_acquire(s, corun_now() - 1), -ETIMEDOUT);
  corun_coro *co;
  T_OK(corun_create(&co, in_coroutine, s, NULL));
  void *out = NULL;
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_EQ((intptr_t)out, -EPERM);
  T_OK(corun_destroy(co));
  T_OK(corun_sem_release(s));
  T_OK(corun_sem_acquire(s, -1));
  T_OK(corun_sem_release(s));
  T_OK(corun_sem_free(s));
}

/* A waiter whose park a cancel claimed, dropped by a release before it
 * ran again, still has to come back to the semaphore's lock: free must
 * wait for it (1 worker: it cannot have run yet, so -EBUSY for sure). */
static void free_after_drop(int one_worker) {
  struct fifo f;
  atomic_init(&f.n, 0);
  T_OK(corun_sem_make(&f.s, 0));
  struct farg a = {&f, 0, -1};
  corun_task *t;
  T_OK(corun_spawn(&t, fifo_body, &a, NULL));
  wait_parked(t);
  T_OK(corun_cancel(t));        /* t is readied, not run */
  T_OK(corun_sem_release(f.s)); /* drops t's waiter: the permit stays */
  int rc = corun_sem_free(f.s);
  T_TRUE(rc == -EBUSY || (rc == 0 && !one_worker));
  T_EQ((intptr_t)join_rc(t), -ECANCELED);
  if (rc == -EBUSY) {
    T_EQ(drain(f.s), 1);
    T_OK(corun_sem_free(f.s));
  }
}

static void *main_task(void *arg) {
  const corun_config *cfg = arg;
  free_after_drop(cfg->workers == 1);
  timeouts();
  fifo();
  counting();
  return NULL;
}

static void outside(void) {
  corun_sem *s;
  T_EQ(corun_sem_make(NULL, 1), -EINVAL);
  T_EQ(corun_sem_free(NULL), -EINVAL);
  T_EQ(corun_sem_acquire(NULL, -1), -EINVAL);
  T_EQ(corun_sem_release(NULL), -EINVAL);
  s = NULL;
  corun__alloc_fail_after(0);
  T_EQ(corun_sem_make(&s, 2), -ENOMEM);
  corun__alloc_fail_after(-1);
  T_PTR_EQ(s, NULL); /* untouched on failure */
  T_OK(corun_sem_make(&s, 2));
  T_OK(corun_sem_acquire(s, -1)); /* does not block: fine outside a task */
  T_OK(corun_sem_acquire(s, 0));
  T_EQ(corun_sem_acquire(s, -1), -EPERM);
  T_EQ(corun_sem_acquire(s, corun_now() + MS), -EPERM);
  T_EQ(corun_sem_acquire(s, 0), -EAGAIN);
  T_OK(corun_sem_release(s));
  T_OK(corun_sem_release(s));
  T_EQ(drain(s), 2);
  T_OK(corun_sem_free(s));
  /* The count is an unsigned: one more than UINT_MAX is refused. */
  T_OK(corun_sem_make(&s, UINT_MAX));
  T_EQ(corun_sem_release(s), -EOVERFLOW);
  T_OK(corun_sem_acquire(s, 0));
  T_OK(corun_sem_release(s));
  T_EQ(corun_sem_release(s), -EOVERFLOW);
  T_OK(corun_sem_free(s));
}

int main(void) {
  outside();
  run_all_configs(main_task);
  return 0;
}
