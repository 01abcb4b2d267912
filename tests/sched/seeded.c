/* seeded.c: the sanitizers still see bugs inside tasks (USERS.md,
 * property 5). A suite that runs clean under ASan and TSan proves little
 * if switching stacks had blinded them; so each build plants the bug its
 * sanitizer must catch, in a forked child, and checks the report:
 *   - ASan: a heap overflow in a task that runs on a worker thread (not
 *     the thread that called corun_main) is reported as
 *     heap-buffer-overflow, with the task's own function in the trace;
 *   - TSan: two tasks, running at once on two workers, write one plain
 *     variable with nothing ordering them: a data race, whose report
 *     names the task's function;
 *   - and, as a control, the same program with the race ordered by a
 *     corun channel (whose hand-off TSan must see as synchronisation)
 *     gives no report.
 * Other builds skip. */
#include <corun.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/compiler.h" /* CORUN__ASAN, CORUN__TSAN */
#include "stack/child.h"
#include "t.h"

/* ---- ASan: a heap overflow in a task ---------------------------------- */

static volatile int sink;
static volatile size_t past = 16; /* (volatile: hidden from the compiler) */

/* (not UBSan's: its object-size check would report the read first) */
__attribute__((noinline, no_sanitize_undefined)) void *
seeded_overflow_task(void *arg) {
  (void)arg;
  char *p = calloc(16, 1);
  T_TRUE(p != NULL);
  sink = p[past]; /* one past the end */
  free(p);
  return NULL;
}

static void *spawn_on_worker(void *arg) {
  (void)arg;
  corun_task *t;
  /* workers = 2: with the caller busy joining, another worker may run
   * it; either way it is a task on a task stack */
  T_OK(corun_spawn(&t, seeded_overflow_task, NULL, NULL));
  T_OK(corun_join(t, NULL));
  return NULL;
}

static int asan_child(void *arg) {
  (void)arg;
  return corun_main(spawn_on_worker, NULL, &(corun_config){.workers = 2});
}

/* ---- TSan: a race between tasks on two workers ------------------------ */

static int shared_plain;
static corun_chan *order; /* NULL: the race; else the writes are ordered */
/* Started flags, relaxed: they order nothing for TSan (nor for C11). */
static atomic_int started[2];

/* Waits, without yielding, up to a second for flag i. */
static void spin_for(int i) {
  int64_t until = corun_now() + 1000000000LL;
  while (!atomic_load_explicit(&started[i], memory_order_relaxed) &&
         corun_now() < until) {
  }
}

/* Task 0 waits until task 1 has started too: both then run at once, on
 * two workers (on one, the switch between them would order them). */
__attribute__((noinline)) void *seeded_race_task(void *arg) {
  int i = (int)(intptr_t)arg;
  atomic_store_explicit(&started[i], 1, memory_order_relaxed);
  if (i == 0)
    spin_for(1);
  int v = 1;
  if (order && i == 1)
    T_OK(corun_chan_recv(order, &v, -1)); /* after task 0's write */
  shared_plain += v;
  if (order && i == 0)
    T_OK(corun_chan_send(order, &v, -1));
  return NULL;
}

static void *race_main(void *arg) {
  (void)arg;
  corun_task *a, *b;
  /* b takes this worker's runnext slot, a goes to its deque; main keeps
   * the worker until the other one has stolen a and started it, and b
   * runs here once main parks in join */
  T_OK(corun_spawn(&a, seeded_race_task, (void *)(intptr_t)0, NULL));
  T_OK(corun_spawn(&b, seeded_race_task, (void *)(intptr_t)1, NULL));
  spin_for(0);
  T_OK(corun_join(a, NULL));
  T_OK(corun_join(b, NULL));
  return NULL;
}

/* (exit, not a return: child_run's _exit would skip TSan's exit code,
 * 66 if it reported) The monitor is off: main holds its worker while it
 * waits for task 0 to start on the other one, and on a loaded machine
 * (ctest -j2 of the TSan build) that wait could outlast the monitor's
 * patience: it took main's worker for blocked and could hand task 1 to
 * the other worker, where both tasks then ran one after the other, with
 * no race to report (the child exited 0 in 4 runs of 288 next to the
 * other TSan tests; with the monitor off, in none of 338). */
static int race_child(void *arg) {
  (void)arg;
  corun_main(race_main, NULL, &(corun_config){.workers = 2, .block_ms = -1});
  exit(0);
}

static int ordered_child(void *arg) {
  if (corun_chan_make(&order, sizeof(int), 0) != 0)
    return 3;
  return race_child(arg);
}

int main(void) {
  static struct child c;
  if (CORUN__ASAN) {
    child_run(&c, asan_child, NULL);
    if (!strstr(c.err, "seeded_overflow_task"))
      child_show("the ASan child", &c);
    T_TRUE(!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0);
    T_TRUE(strstr(c.err, "heap-buffer-overflow") != NULL);
    T_TRUE(strstr(c.err, "seeded_overflow_task") != NULL);
    return 0;
  }
  if (CORUN__TSAN) {
    /* A run whose two writes did not overlap after all reports nothing
     * and exits 0: 1 in about 27 runs of the TSan suite next to a
     * helper's builds (24 Nov), 0 in 300 runs of this test alone; the
     * cause was not found. TSan blind to tasks would miss every time:
     * up to three tries, each miss said. */
    for (int try = 0; try < 3; try++) {
      child_run(&c, race_child, NULL);
      if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0 || *c.err)
        break;
      fprintf(stderr, "seeded: the racing child reported nothing (try %d)\n",
              try + 1);
    }
    if (!strstr(c.err, "seeded_race_task"))
      child_show("the racing child", &c);
    T_TRUE(WIFEXITED(c.status));
    T_EQ(WEXITSTATUS(c.status), 66);
    T_TRUE(strstr(c.err, "WARNING: ThreadSanitizer: data race") != NULL);
    T_TRUE(strstr(c.err, "seeded_race_task") != NULL);
    child_run(&c, ordered_child, NULL);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0)
      child_show("the ordered child", &c);
    T_TRUE(WIFEXITED(c.status));
    T_EQ(WEXITSTATUS(c.status), 0);
    return 0;
  }
  printf("SKIP: neither ASan nor TSan in this build\n");
  return 77;
}
