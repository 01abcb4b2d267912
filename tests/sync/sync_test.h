/* sync_test.h: what the sync layer's tests share. */
#ifndef CORUN_TESTS_SYNC_TEST_H
#define CORUN_TESTS_SYNC_TEST_H

#include <corun.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/compiler.h"
#include "scale.h"
#include "sched/sched.h"
#include "t.h"
#include "task_wait.h"

#define MS 1000000LL

/* Joins t and returns its result. */
static inline void *join_rc(corun_task *t) {
  void *r = (void *)1;
  T_OK(corun_join(t, &r));
  return r;
}

/* Runs main_task(&cfg) under each scheduler configuration the sync tests
 * use: 1, 2 and 4 workers, and 2 shuffled. */
static inline void run_all_configs(corun_fn *main_task) {
  static const corun_config cfgs[] = {{.workers = 1},
                                      {.workers = 2},
                                      {.workers = 4},
                                      {.workers = 2, .shuffle = 1}};
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    T_OK(corun_main(main_task, (void *)&cfgs[i], &cfgs[i]));
}

#endif
