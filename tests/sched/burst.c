/* burst.c: bursts of spawns that overflow a worker's deque.
 *
 * A task that spawns without giving its worker back fills the worker's
 * deque (CORUN__DEQUE_CAP tasks); each push past that moves the deque's
 * older half, and then the new task, to the global queue in one chain
 * (sched/ready.c, push_overflow), while other workers may be stealing
 * from the same deque. Checked, on 1, 2 and 4 workers: every task of a
 * burst of BURST (over ten times the deque) runs exactly once (a counter
 * per task) and its join returns its own result; a burst of detached
 * tasks (corun_go) all run, counted by a wait group. */
#include <corun.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "t.h"

/* Not more: under ThreadSanitizer each live task is a fiber, which counts
 * as one of its 8128 threads. */
#define BURST 3000

static atomic_int runs[BURST];

static void *numbered(void *arg) {
  uintptr_t i = (uintptr_t)arg;
  atomic_fetch_add(&runs[i], 1);
  return (void *)(i * 3 + 1);
}

struct detached {
  corun_wg *wg;
  atomic_long sum;
};

static struct detached det;

static void *counted(void *arg) {
  atomic_fetch_add(&det.sum, (long)(uintptr_t)arg);
  T_OK(corun_wg_done(det.wg));
  return NULL;
}

static void *burst_main(void *arg) {
  (void)arg;
  static corun_task *t[BURST];
  for (int i = 0; i < BURST; i++)
    atomic_store(&runs[i], 0);
  for (uintptr_t i = 0; i < BURST; i++)
    T_OK(corun_spawn(&t[i], numbered, (void *)i, NULL));
  for (uintptr_t i = 0; i < BURST; i++) {
    void *r;
    T_OK(corun_join(t[i], &r));
    T_EQ((uintptr_t)r, i * 3 + 1);
  }
  for (int i = 0; i < BURST; i++)
    T_EQ(atomic_load(&runs[i]), 1);

  T_OK(corun_wg_make(&det.wg));
  atomic_store(&det.sum, 0);
  T_OK(corun_wg_add(det.wg, BURST));
  for (uintptr_t i = 1; i <= BURST; i++)
    T_OK(corun_go(counted, (void *)i));
  T_OK(corun_wg_wait(det.wg, -1));
  T_EQ(atomic_load(&det.sum), (long)BURST * (BURST + 1) / 2);
  T_OK(corun_wg_free(det.wg));
  return NULL;
}

int main(void) {
  static const unsigned workers[] = {1, 2, 4};
  for (size_t k = 0; k < sizeof workers / sizeof workers[0]; k++)
    T_OK(corun_main(burst_main, NULL, &(corun_config){.workers = workers[k]}));
  return 0;
}
