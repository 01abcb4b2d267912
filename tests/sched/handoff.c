/* handoff.c: a task whose body returns goes straight to its parked joiner
 * (sched.c, finish_next), and that must not strand other work.
 *  - runnext_stealable: the child spawns a task X just before it returns
 *    (X goes to its worker's runnext); the joiner then keeps that worker
 *    in a loop that never gives it back until X has run. With 2 workers
 *    the other worker must take X, as it does when the exit goes through
 *    the scheduler's loop (corun__ready makes the older runnext task
 *    stealable). The first version of the direct exit left X in runnext,
 *    where no other worker may take it: it never ran (a review's find).
 *  - results: many spawn/join pairs, children that return at once, after
 *    a yield or after a sleep, joiners that are cancelled meanwhile or
 *    not: each join returns its child's value or -ECANCELED, and errno
 *    survives the join.
 * Runs with 1, 2 and 4 workers (runnext_stealable: 2 and 4). */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "t.h"

#define MS 1000000LL

/* ---- runnext_stealable ----------------------------------------------------
 */

static atomic_int x_ran;

static void *x_body(void *arg) {
  (void)arg;
  atomic_store(&x_ran, 1);
  return NULL;
}

static void *spawn_x_and_return(void *arg) {
  T_OK(corun_spawn((corun_task **)arg, x_body, NULL, NULL));
  return (void *)7;
}

static void *stealable_main(void *arg) {
  (void)arg;
  for (int round = 0; round < 5; round++) {
    atomic_store(&x_ran, 0);
    corun_task *c, *x = NULL;
    void *r = NULL;
    T_OK(corun_spawn(&c, spawn_x_and_return, &x, NULL));
    T_OK(corun_join(c, &r));
    T_PTR_EQ(r, (void *)7);
    /* Keep this worker: only another worker can run X now. */
    int64_t give_up = corun_now() + 5000 * MS;
    while (!atomic_load(&x_ran) && corun_now() < give_up)
      ;
    T_TRUE(atomic_load(&x_ran));
    T_OK(corun_join(x, NULL));
  }
  return NULL;
}

/* ---- results ------------------------------------------------------------- */

static void *child(void *arg) {
  intptr_t i = (intptr_t)arg;
  if (i % 3 == 1)
    corun_yield(NULL);
  else if (i % 3 == 2)
    T_OK(corun_sleep(10000)); /* 10 us */
  return (void *)(i * 2 + 1);
}

enum { N = 400 };
static corun_task *kids[N]; /* a cancelled joiner leaves its child here */

static void *joiner(void *arg) {
  intptr_t i = (intptr_t)arg;
  T_OK(corun_spawn(&kids[i], child, (void *)i, NULL));
  t_set_errno((int)i + 1);
  void *r = NULL;
  int rc = corun_join(kids[i], &r);
  T_EQ(t_get_errno(), (int)i + 1);
  if (rc == -ECANCELED)
    return (void *)1; /* not joined: the main task joins it */
  T_OK(rc);
  T_PTR_EQ(r, (void *)(i * 2 + 1));
  kids[i] = NULL;
  return NULL;
}

static void *results_main(void *arg) {
  (void)arg;
  static corun_task *j[N];
  for (intptr_t i = 0; i < N; i++)
    T_OK(corun_spawn(&j[i], joiner, (void *)i, NULL));
  for (int i = 0; i < N; i += 5)
    T_OK(corun_cancel(j[i]));
  for (intptr_t i = 0; i < N; i++) {
    void *r = (void *)-1;
    T_OK(corun_join(j[i], &r));
    T_TRUE(r == NULL || (r == (void *)1 && i % 5 == 0));
    if (r) {
      T_TRUE(kids[i] != NULL);
      T_OK(corun_join(kids[i], &r));
      T_PTR_EQ(r, (void *)(i * 2 + 1));
    }
  }
  return NULL;
}

int main(void) {
  static const unsigned workers[] = {1, 2, 4};
  for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++) {
    corun_config cfg = {.workers = workers[i]};
    if (workers[i] > 1)
      T_OK(corun_main(stealable_main, NULL, &cfg));
    T_OK(corun_main(results_main, NULL, &cfg));
  }
  return 0;
}
