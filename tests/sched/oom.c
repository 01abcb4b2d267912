/* oom.c: the scheduler under allocation failure (corun__alloc_fail_after):
 * spawning (corun_spawn, corun_go) fails with -ENOMEM, never crashes,
 * leaves nothing half made, and works again once memory is back;
 * corun_main itself fails cleanly when it cannot start. Every allocation point
 * of a spawn is swept: the budget runs out after k allocations, for k = 0, 1,
 * 2, ... */
#include <corun.h>
#include <errno.h>

#include "base/alloc.h"
#include "t.h"

static void *child(void *arg) {
  corun_yield(NULL);
  return arg;
}

static int saw_enomem; /* sweeps that ended in -ENOMEM */

static void *main_task(void *arg) {
  (void)arg;
  enum { MAX = 3000 }; /* beyond a task slab and a stack slab */
  static corun_task *t[MAX];
  for (long budget = 0; budget < 12; budget++) {
    corun__alloc_fail_after(budget);
    int n = 0, rc = 0;
    while (n < MAX &&
           (rc = corun_spawn(&t[n], child, (void *)(intptr_t)n, NULL)) == 0)
      n++;
    corun__alloc_fail_after(-1);
    T_TRUE(rc == 0 || rc == -ENOMEM);
    saw_enomem += rc == -ENOMEM;
    for (int i = 0; i < n; i++) {
      void *r;
      T_EQ(corun_join(t[i], &r), 0);
      T_EQ((intptr_t)r, i);
    }
    /* Memory is back: spawning works. */
    corun_task *x;
    T_EQ(corun_spawn(&x, child, (void *)7, NULL), 0);
    void *r;
    T_EQ(corun_join(x, &r), 0);
    T_EQ((intptr_t)r, 7);
  }
  /* Channels too. */
  corun__alloc_fail_after(0);
  corun_chan *ch;
  T_EQ(corun_chan_make(&ch, 8, 4), -ENOMEM);
  corun__alloc_fail_after(-1);
  T_EQ(corun_chan_make(&ch, 8, 4), 0);
  T_EQ(corun_chan_free(ch), 0);
  T_GT(saw_enomem, 6); /* the sweep did reach the failures */
  return NULL;
}

/* corun_go: detached tasks fail the same way, and those started before
 * the failure run and end on their own (corun_main waits for them). With
 * one worker none of them runs, and frees its task and stack, while this
 * loop goes on: so the memory must run out. */
static void *go_main(void *arg) {
  (void)arg;
  corun__alloc_fail_after(0);
  int rc = 0;
  for (long n = 0; n < 1000000 && (rc = corun_go(child, NULL)) == 0; n++)
    ;
  corun__alloc_fail_after(-1);
  T_EQ(rc, -ENOMEM);
  T_OK(corun_go(child, NULL));
  return NULL;
}

static void *never(void *arg) {
  return arg;
}

int main(void) {
  /* corun_main cannot even start. */
  corun_config cfg = {.workers = 2};
  corun__alloc_fail_after(0);
  T_EQ(corun_main(never, NULL, &cfg), -ENOMEM);
  corun__alloc_fail_after(1);
  int rc = corun_main(never, NULL, &cfg);
  T_TRUE(rc == 0 || rc == -ENOMEM);
  corun__alloc_fail_after(-1);
  /* The monitor off: a spare worker it started (the sweep of 3000 spawns
   * may keep a worker busy past its threshold under TSan or Valgrind)
   * would spend the allocation budget on its own state. */
  cfg.block_ms = -1;
  for (unsigned w = 1; w <= 2; w++) {
    cfg.workers = w;
    T_EQ(corun_main(main_task, NULL, &cfg), 0);
  }
  cfg.workers = 1;
  T_EQ(corun_main(go_main, NULL, &cfg), 0);
  return 0;
}
