/* standdown.c: a spare worker, which the monitor starts for a blocked
 * one (src/sched/monitor.c), does not leave the program with more
 * workers taking tasks than it asked for once the blocked worker is back
 * (src/sched/worker.h, "Standing down"):
 *   - one worker; its task blocks in a call corun cannot see (the
 *     kernel's nanosleep, directly, 400 ms against a 50 ms threshold): a
 *     task queued behind it runs meanwhile, on another thread (a spare);
 *   - that task pins itself there and sleeps past the block's end;
 *   - after the block, eight tasks that each compute for 2 ms without
 *     yielding never run two at a time: one worker takes tasks again (on
 *     the old code the idle spare was woken for them and stole some). (A
 *     compute task that the kernel held off its CPU for 50 ms would be
 *     found blocked, rightly, and another would run: the threshold is
 *     25 times the task's length.);
 *   - the pinned task wakes on its own thread, whether that worker stood
 *     down or not, and finishes;
 *   - a second block: a task queued behind it runs meanwhile again (the
 *     worker that stood down comes back for it);
 *   - corun_main returns 0 (the worker that stood down is woken to end).
 * The same with two workers, both blocked (each block is one per
 * worker): never more than two computing at once. */
#include <corun.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "t.h"

#define MS 1000000LL
#define NCOMPUTE 8

static atomic_int queued_ran, computing, most_computing;
static atomic_int pinned_done, pinned_same_thread;

static void *queued(void *arg) {
  (void)arg;
  atomic_store(&queued_ran, 1);
  return NULL;
}

/* Runs during the first block (on the spare), pins itself to the worker
 * it runs on, sleeps past the block, and notes whether it woke on the
 * same thread. */
static void *pinned(void *arg) {
  (void)arg;
  atomic_store(&queued_ran, 1);
  pthread_t before = pthread_self();
  T_OK(corun_pin(1));
  T_OK(corun_sleep(500 * MS));
  atomic_store(&pinned_same_thread, pthread_equal(before, pthread_self()));
  T_OK(corun_pin(0));
  atomic_store(&pinned_done, 1);
  return NULL;
}

/* 2 ms on the CPU (by the clock), counting how many run at once. */
static void *compute(void *arg) {
  (void)arg;
  int now = atomic_fetch_add(&computing, 1) + 1;
  int most = atomic_load(&most_computing);
  while (now > most &&
         !atomic_compare_exchange_weak(&most_computing, &most, now))
    ;
  int64_t until = corun_now() + 2 * MS;
  while (corun_now() < until)
    ;
  atomic_fetch_sub(&computing, 1);
  return NULL;
}

static unsigned nworkers;

static void *blocker(void *arg) {
  (void)arg;
  t_block_raw(400 * MS);
  return NULL;
}

/* Blocks every worker, this task's last with `behind` queued behind it;
 * returns whether `behind` ran during the block. */
static int block_with(corun_fn *behind, corun_task **q) {
  atomic_store(&queued_ran, 0);
  corun_task *b = NULL;
  if (nworkers == 2) {
    /* the blocker runs next here; the monitor moves this task, in the
     * yield line, to the other worker */
    T_OK(corun_spawn(&b, blocker, NULL, NULL));
    corun_yield(NULL);
  }
  T_OK(corun_spawn(q, behind, NULL, NULL)); /* to this worker's runnext */
  t_block_raw(400 * MS);
  int ran = atomic_load(&queued_ran);
  if (b)
    T_OK(corun_join(b, NULL));
  return ran;
}

static void *main_task(void *arg) {
  int *ran = arg;
  atomic_store(&pinned_done, 0);
  atomic_store(&most_computing, 0);
  corun_task *p, *q, *c[NCOMPUTE];
  ran[0] = block_with(pinned, &p);
  /* settle: the workers find themselves one too many */
  T_OK(corun_sleep(20 * MS));
  for (int i = 0; i < NCOMPUTE; i++)
    T_OK(corun_spawn(&c[i], compute, NULL, NULL));
  for (int i = 0; i < NCOMPUTE; i++)
    T_OK(corun_join(c[i], NULL));
  ran[1] = block_with(queued, &q);
  T_OK(corun_join(q, NULL));
  T_OK(corun_join(p, NULL));
  return NULL;
}

int main(void) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    int ran[2] = {0, 0};
    nworkers = workers;
    T_OK(corun_main(main_task, ran,
                    &(corun_config){.workers = workers, .block_ms = 50}));
    T_EQ(ran[0], 1); /* the first queued task ran during the block */
    int most = atomic_load(&most_computing);
    T_LE(most, (int)workers);
    T_EQ(atomic_load(&pinned_done), 1);
    T_EQ(atomic_load(&pinned_same_thread), 1);
    T_EQ(ran[1], 1); /* and the second during the second block */
  }
  return 0;
}
