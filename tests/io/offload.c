/* offload.c: proves corun_offload():
 *  - runs fn(arg) on a thread that is not the worker's, and returns 0 once
 *    fn has returned, its writes visible;
 *  - leaves the worker free meanwhile: with one worker, an offloaded fn
 *    that waits for another task of that worker finishes;
 *  - runs many at once: OFFLOADS jobs, each waiting until all of them are
 *    running, all finish (a pool of a fixed few threads would leave the
 *    later ones queued behind the first, which wait for them);
 *  - waits for fn to the end in a task cancelled meanwhile (fn may use the
 *    task's memory), and the cancel reaches the task's next blocking call;
 *  - runs fn on the worker itself for a task on a shared stack;
 *  - returns -EINVAL for a NULL fn and -EPERM outside a task.
 * The waits inside the jobs have a 20 s bound, which only a broken pool
 * reaches: the test then fails instead of hanging. */
#include <pthread.h>
#include <time.h>

#include "io_test.h"

#define OFFLOADS 16
#define BOUND_NS (20000 * MS)

/* Sleeps (the thread, not a task) in 1 ms steps until *flag is set or the
 * bound passes; returns the flag. */
static int wait_flag(atomic_int *flag) {
  int64_t until = corun_now() + BOUND_NS; /* (works on any thread) */
  while (!atomic_load(flag) && corun_now() < until) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  return atomic_load(flag);
}

/* ---- runs elsewhere, results visible --------------------------------- */

struct where {
  pthread_t thread;
  int value;
};

static void record_thread(void *arg) {
  struct where *w = arg;
  w->thread = pthread_self();
  w->value = 42;
}

static void *elsewhere(void *unused) {
  (void)unused;
  struct where w = {pthread_self(), 0};
  pthread_t me = pthread_self();
  T_OK(corun_offload(record_thread, &w));
  T_EQ(w.value, 42);
  T_TRUE(!pthread_equal(w.thread, me));
  T_EQ(corun_offload(NULL, &w), -EINVAL);
  return NULL;
}

/* ---- the worker stays free ------------------------------------------- */

static atomic_int other_ran;

static void wait_for_other(void *arg) {
  *(int *)arg = wait_flag(&other_ran);
}

static void *other_task(void *unused) {
  (void)unused;
  atomic_store(&other_ran, 1);
  return NULL;
}

static void *worker_free(void *unused) {
  (void)unused;
  corun_task *t;
  int seen = 0;
  /* Spawned first, it runs only once this task parks in the offload. */
  T_OK(corun_spawn(&t, other_task, NULL, NULL));
  T_OK(corun_offload(wait_for_other, &seen));
  T_EQ(seen, 1);
  T_OK(corun_join(t, NULL));
  return NULL;
}

/* ---- many at once ---------------------------------------------------- */

static atomic_int running, all_running;

static void meet_all(void *arg) {
  if (atomic_fetch_add(&running, 1) + 1 == OFFLOADS)
    atomic_store(&all_running, 1);
  *(int *)arg = wait_flag(&all_running);
}

static void *meeter(void *unused) {
  (void)unused;
  int met = 0;
  T_OK(corun_offload(meet_all, &met));
  return (void *)(intptr_t)met;
}

static void *many(void *unused) {
  (void)unused;
  corun_task *t[OFFLOADS];
  for (int i = 0; i < OFFLOADS; i++)
    T_OK(corun_spawn(&t[i], meeter, NULL, NULL));
  for (int i = 0; i < OFFLOADS; i++) {
    void *met;
    T_OK(corun_join(t[i], &met));
    T_EQ((intptr_t)met, 1);
  }
  T_EQ(atomic_load(&running), OFFLOADS);
  return NULL;
}

/* ---- cancelled while fn runs ----------------------------------------- */

static atomic_int fn_started, let_fn_end;

static void slow_write(void *arg) {
  atomic_store(&fn_started, 1);
  wait_flag(&let_fn_end);
  *(int *)arg = 7; /* the task's memory, after its cancel */
}

static void *cancelled_offloader(void *unused) {
  (void)unused;
  int out = 0;
  T_OK(corun_offload(slow_write, &out));
  T_EQ(out, 7);
  T_EQ(corun_sleep(0), -ECANCELED); /* the cancel, at the next call */
  return NULL;
}

static void *cancel_during(void *unused) {
  (void)unused;
  corun_task *t;
  T_OK(corun_spawn(&t, cancelled_offloader, NULL, NULL));
  while (!atomic_load(&fn_started))
    T_OK(corun_sleep(MS));
  T_OK(corun_cancel(t));
  T_OK(corun_sleep(5 * MS)); /* the cancel must not end the offload */
  atomic_store(&let_fn_end, 1);
  T_OK(corun_join(t, NULL));
  return NULL;
}

/* ---- a task on a shared stack ---------------------------------------- */

static void *shared_offloader(void *arg) {
  struct where *w = arg;
  T_OK(corun_offload(record_thread, w));
  T_TRUE(pthread_equal(w->thread, pthread_self()));
  return NULL;
}

static void *on_shared(void *unused) {
  (void)unused;
  corun_shared_stack *ss;
  int rc = corun_shared_stack_create(&ss, 0);
  if (rc == -ENOTSUP)
    return NULL; /* the ucontext backend has no shared stacks */
  T_OK(rc);
  struct where w = {0};
  corun_attr attr = {.shared = ss};
  corun_task *t;
  T_OK(corun_spawn(&t, shared_offloader, &w, &attr));
  T_OK(corun_join(t, NULL));
  T_EQ(w.value, 42);
  T_OK(corun_shared_stack_destroy(ss));
  return NULL;
}

int main(void) {
  T_EQ(corun_offload(record_thread, &(struct where){0}), -EPERM);
  io_main(elsewhere, NULL, 2);
  io_main(worker_free, NULL, 1);
  io_main(many, NULL, 2);
  io_main(cancel_during, NULL, 2);
  io_main(on_shared, NULL, 1);
  return 0;
}
