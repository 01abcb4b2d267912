/* wg.c: corun_wg: errors (also outside a task), -ERANGE below 0 and past
 * INT64_MAX with the count unchanged, many tasks finishing while several
 * tasks wait (all of them return after the last done), reuse after 0,
 * deadline timing, cancel, free while busy (also while a dropped waiter
 * still has to come back), and a waiter that frees the group right after it
 * wakes (the waker must not touch it after; ASan checks). Each scheduler run
 * is repeated with 1, 2 and 4 workers and once shuffled.
 * CORUN_TEST_SCALE=<factor> scales the stress part (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "sched/sched.h"
#include "sync_test.h"
#include "t.h"

/* ---- many workers, several waiters ------------------------------------ */

struct group {
  corun_wg *wg;
  atomic_long finished; /* workers that did their part */
  long workers;
};

static void *worker(void *arg) {
  struct group *g = arg;
  long id = atomic_load(&g->finished); /* something varying */
  if (id % 3 == 0)
    corun_yield(NULL);
  if (id % 50 == 1)
    corun_sleep(100000);
  atomic_fetch_add(&g->finished, 1);
  T_OK(corun_wg_done(g->wg));
  return NULL;
}

static void *waiter(void *arg) {
  struct group *g = arg;
  T_OK(corun_wg_wait(g->wg, -1));
  T_EQ(atomic_load(&g->finished), g->workers); /* only after the last */
  return NULL;
}

static void many(void) {
  enum { WAITERS = 5 };
  for (int round = 0; round < 3; round++) {
    struct group g = {.workers = scaled(2000)};
    atomic_init(&g.finished, 0);
    T_OK(corun_wg_make(&g.wg));
    corun_task *w[WAITERS];
    T_OK(corun_wg_add(g.wg, g.workers));
    for (int i = 0; i < WAITERS; i++)
      T_OK(corun_spawn(&w[i], waiter, &g, NULL));
    for (long i = 0; i < g.workers; i++)
      T_OK(corun_go(worker, &g));
    T_OK(corun_wg_wait(g.wg, -1));
    T_EQ(atomic_load(&g.finished), g.workers);
    for (int i = 0; i < WAITERS; i++)
      T_PTR_EQ(join_rc(w[i]), NULL);
    /* Reuse: the count is 0 again and can go up and down. */
    T_OK(corun_wg_wait(g.wg, 0));
    T_OK(corun_wg_add(g.wg, 5));
    T_OK(corun_wg_add(g.wg, -3));
    T_EQ(corun_wg_wait(g.wg, 0), -EAGAIN);
    T_OK(corun_wg_add(g.wg, -2));
    T_OK(corun_wg_wait(g.wg, 0));
    T_OK(corun_wg_free(g.wg));
  }
}

static void *done_once(void *arg) {
  T_OK(corun_wg_done(arg));
  return NULL;
}

/* The waiter owns the group and frees it as soon as it wakes. */
static void free_on_wake(void) {
  long rounds = scaled(300);
  for (long r = 0; r < rounds; r++) {
    corun_wg *wg;
    T_OK(corun_wg_make(&wg));
    int k = 1 + (int)(r % 4);
    T_OK(corun_wg_add(wg, k));
    for (int i = 0; i < k; i++)
      T_OK(corun_go(done_once, wg));
    T_OK(corun_wg_wait(wg, -1));
    T_OK(corun_wg_free(wg)); /* the last done may still be returning */
  }
}

/* ---- timeouts, cancel, misuse ----------------------------------------- */

static void *wait_rc(void *arg) {
  return (void *)(intptr_t)corun_wg_wait(arg, -1);
}

static void misc(void) {
  corun_wg *wg;
  T_OK(corun_wg_make(&wg));
  T_OK(corun_wg_add(wg, 1));
  T_EQ(corun_wg_wait(wg, 0), -EAGAIN);
  int64_t t0 = corun_now();
  T_EQ(corun_wg_wait(wg, t0 + 20 * MS), -ETIMEDOUT);
  T_GE(corun_now() - t0, 20 * MS);
  T_EQ(corun_wg_wait(wg, corun_now() - 1), -ETIMEDOUT);
  /* From a coroutine a task resumed. */
  corun_coro *co;
  T_OK(corun_create(&co, wait_rc, wg, NULL));
  void *out = NULL;
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_EQ((intptr_t)out, -EPERM);
  T_OK(corun_destroy(co));
  /* Cancel one waiter; another keeps waiting and wakes at 0. */
  corun_task *a, *b;
  T_OK(corun_spawn(&a, wait_rc, wg, NULL));
  T_OK(corun_spawn(&b, wait_rc, wg, NULL));
  wait_parked(a);
  wait_parked(b);
  T_EQ(corun_wg_free(wg), -EBUSY);
  T_OK(corun_cancel(a));
  T_EQ((intptr_t)join_rc(a), -ECANCELED);
  T_EQ(corun_wg_free(wg), -EBUSY);
  T_OK(corun_wg_done(wg));
  T_PTR_EQ(join_rc(b), NULL);
  T_EQ(corun_wg_done(wg), -ERANGE);
  T_OK(corun_wg_free(wg));
}

/* A waiter whose park a cancel claimed, dropped by the last done before
 * it ran again, still has to come back to the group's lock: free must
 * wait for it (1 worker: it cannot have run yet, so -EBUSY for sure). */
static void free_after_drop(int one_worker) {
  corun_wg *wg;
  corun_task *t;
  T_OK(corun_wg_make(&wg));
  T_OK(corun_wg_add(wg, 1));
  T_OK(corun_spawn(&t, wait_rc, wg, NULL));
  wait_parked(t);
  T_OK(corun_cancel(t));   /* t is readied, not run */
  T_OK(corun_wg_done(wg)); /* at 0: drops t's waiter */
  int rc = corun_wg_free(wg);
  T_TRUE(rc == -EBUSY || (rc == 0 && !one_worker));
  T_EQ((intptr_t)join_rc(t), -ECANCELED);
  if (rc == -EBUSY)
    T_OK(corun_wg_free(wg));
}

static void *main_task(void *arg) {
  const corun_config *cfg = arg;
  free_after_drop(cfg->workers == 1);
  misc();
  many();
  free_on_wake();
  return NULL;
}

static void outside(void) {
  corun_wg *wg;
  T_EQ(corun_wg_make(NULL), -EINVAL);
  T_EQ(corun_wg_free(NULL), -EINVAL);
  T_EQ(corun_wg_add(NULL, 1), -EINVAL);
  T_EQ(corun_wg_done(NULL), -EINVAL);
  T_EQ(corun_wg_wait(NULL, -1), -EINVAL);
  wg = NULL;
  corun__alloc_fail_after(0);
  T_EQ(corun_wg_make(&wg), -ENOMEM);
  corun__alloc_fail_after(-1);
  T_PTR_EQ(wg, NULL); /* untouched on failure */
  T_OK(corun_wg_make(&wg));
  T_OK(corun_wg_wait(wg, -1)); /* at 0: does not block */
  T_EQ(corun_wg_done(wg), -ERANGE);
  T_EQ(corun_wg_add(wg, INT64_MIN), -ERANGE);
  T_OK(corun_wg_add(wg, 2));
  T_EQ(corun_wg_add(wg, -3), -ERANGE); /* refused, count unchanged: 2 */
  T_EQ(corun_wg_wait(wg, -1), -EPERM);
  T_EQ(corun_wg_wait(wg, 0), -EAGAIN);
  T_OK(corun_wg_done(wg));
  T_EQ(corun_wg_wait(wg, 0), -EAGAIN);
  T_OK(corun_wg_done(wg));
  T_OK(corun_wg_wait(wg, 0));
  /* Past INT64_MAX is refused too. */
  T_OK(corun_wg_add(wg, INT64_MAX));
  T_EQ(corun_wg_add(wg, 1), -ERANGE);
  T_OK(corun_wg_add(wg, -INT64_MAX));
  T_OK(corun_wg_wait(wg, 0));
  T_OK(corun_wg_add(wg, 0));
  T_OK(corun_wg_free(wg));
}

int main(void) {
  outside();
  run_all_configs(main_task);
  return 0;
}
