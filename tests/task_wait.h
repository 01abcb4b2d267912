/* task_wait.h: waiting in a test until another task has parked, through
 * the task's internal state (tests may include src/ headers). Never with
 * a sleep: a sleep proves nothing on a slow or loaded machine (Valgrind,
 * TSan, CI), and a test that then blocks with no deadline hangs. */
#ifndef CORUN_TESTS_TASK_WAIT_H
#define CORUN_TESTS_TASK_WAIT_H

#include <corun.h>
#include <stdatomic.h>

#include "sched/sched.h"

/* Whether t's body has returned (read under its join lock, where the
 * task's end sets it). */
static inline int task_returned(corun_task *t) {
  corun__lock_acquire(&t->join_lock);
  int done = t->done;
  corun__lock_release(&t->join_lock);
  return done;
}

/* Yields until t is parked (its waiter is queued before it parks), or
 * has returned: a park with a deadline may time out, and its task end,
 * before this first looks. Waiting for the park alone then never ended:
 * a waiter with a 20 ms deadline, spawned by a task that Valgrind or a
 * loaded machine kept off its CPU for longer (valgrind sync/sem hung in
 * CI; with the deadline made 1 ms, 2 runs in about 45 hung). The tests'
 * joins check what such a task returned. */
static inline void wait_parked(corun_task *t) {
  while (atomic_load(&t->wait) != CORUN__WAIT_PARKED && !task_returned(t))
    corun_yield(NULL);
}

#endif
