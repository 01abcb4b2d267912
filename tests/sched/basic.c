/* basic.c: tasks on the scheduler: spawn/join with results, detached
 * tasks, corun_yield as Gosched, sleep, misuse outside a task, errno kept
 * per task across workers, and corun_main's return once all are done. */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>

#include "t.h"

static atomic_int detached_ran;

static void *square(void *arg) {
  intptr_t x = (intptr_t)arg;
  corun_yield(NULL);
  return (void *)(x * x);
}

static void *detached(void *arg) {
  (void)arg;
  corun_sleep(1000000);
  atomic_fetch_add(&detached_ran, 1);
  return NULL;
}

/* errno belongs to the task: set, give the worker away many times (and
 * maybe move to another worker), still ours. */
static void *errno_keeper(void *arg) {
  int mine = (int)(intptr_t)arg;
  for (int i = 0; i < 200; i++) {
    t_set_errno(mine);
    corun_yield(NULL);
    if (t_get_errno() != mine)
      return (void *)1;
  }
  return NULL;
}

static void *main_task(void *arg) {
  (void)arg;
  T_TRUE(corun_self() != NULL);
  corun_task *t[50];
  for (intptr_t i = 0; i < 50; i++)
    T_EQ(corun_spawn(&t[i], square, (void *)i, NULL), 0);
  for (intptr_t i = 0; i < 50; i++) {
    void *r;
    T_EQ(corun_join(t[i], &r), 0);
    T_EQ((intptr_t)r, i * i);
  }
  for (int i = 0; i < 20; i++)
    T_EQ(corun_go(detached, NULL), 0);
  corun_task *e[8];
  for (intptr_t i = 0; i < 8; i++)
    T_EQ(corun_spawn(&e[i], errno_keeper, (void *)(i + 100), NULL), 0);
  for (int i = 0; i < 8; i++) {
    void *r;
    T_EQ(corun_join(e[i], &r), 0);
    T_PTR_EQ(r, NULL);
  }
  /* Misuse inside a task. */
  T_EQ(corun_spawn(NULL, square, NULL, NULL), -EINVAL);
  T_EQ(corun_spawn(&t[0], NULL, NULL, NULL), -EINVAL);
  T_EQ(corun_join(NULL, NULL), -EINVAL);
  T_EQ(corun_join(corun_self(), NULL), -EINVAL);
  T_EQ(corun_go(NULL, NULL), -EINVAL);
  /* Sleep: at least as long as asked. */
  int64_t t0 = corun_now();
  T_EQ(corun_sleep(2000000), 0);
  T_GE(corun_now() - t0, 2000000);
  T_EQ(corun_sleep(0), 0);
  T_EQ(corun_sleep(-5), 0);
  T_EQ(corun_sleep_until(corun_now() + 1000000), 0);
  return NULL;
}

static void *never(void *arg) {
  return arg;
}

int main(void) {
  /* Outside a scheduler every task call is refused, not a crash. */
  corun_task *t;
  T_EQ(corun_spawn(&t, never, NULL, NULL), -EPERM);
  T_EQ(corun_go(never, NULL), -EPERM);
  T_EQ(corun_sleep(1), -EPERM);
  T_TRUE(corun_self() == NULL);
  T_EQ(corun_cancelled(), 0);
  T_EQ(corun_main(NULL, NULL, NULL), -EINVAL);
  for (unsigned workers = 1; workers <= 3; workers++) {
    corun_config cfg = {.workers = workers};
    atomic_store(&detached_ran, 0);
    T_EQ(corun_main(main_task, NULL, &cfg), 0);
    T_EQ(atomic_load(&detached_ran), 20); /* main returned: all finished */
  }
  corun_config cfg = {.workers = 2, .shuffle = 1};
  atomic_store(&detached_ran, 0);
  T_EQ(corun_main(main_task, NULL, &cfg), 0);
  T_EQ(atomic_load(&detached_ran), 20);
  return 0;
}
