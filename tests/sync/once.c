/* once.c: corun_once_do: errors, use outside a task, many tasks racing on
 * fresh once objects (fn runs exactly once and every caller returns only
 * after it finished), -EPERM for a thread that would have to wait while a
 * task runs fn, a thread that is not a worker running fn while tasks wait
 * (it wakes them), and a cancelled waiter. Each scheduler run is repeated
 * with 1, 2 and 4 workers and once shuffled.
 * CORUN_TEST_SCALE=<factor> scales the stress part (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/compiler.h"
#include "sched/sched.h"
#include "sync_test.h"
#include "t.h"

static void count_fn(void *arg) {
  atomic_fetch_add((atomic_int *)arg, 1);
}

/* ---- racing tasks ---------------------------------------------------------
 */

struct race {
  corun_once once;
  atomic_int runs;
  atomic_int finished; /* fn returned */
  long plain;          /* written by fn only: callers read it after */
};

static void slow_init(void *arg) {
  struct race *r = arg;
  T_EQ(atomic_fetch_add(&r->runs, 1), 0);
  for (int i = 0; i < 3; i++)
    corun_yield(NULL); /* others arrive and wait meanwhile */
  r->plain = 42;
  atomic_store(&r->finished, 1);
}

static void *racer(void *arg) {
  struct race *r = arg;
  T_OK(corun_once_do(&r->once, slow_init, r));
  T_EQ(atomic_load(&r->finished), 1);
  T_EQ(r->plain, 42); /* fn's effects are visible */
  T_EQ(atomic_load(&r->runs), 1);
  return NULL;
}

static void race(void) {
  enum { TASKS = 24 };
  long rounds = scaled(300);
  for (long k = 0; k < rounds; k++) {
    struct race *r = malloc(sizeof *r);
    T_TRUE(r != NULL);
    *r = (struct race){.once = CORUN_ONCE_INIT, .plain = 0};
    atomic_init(&r->runs, 0);
    atomic_init(&r->finished, 0);
    corun_task *t[TASKS];
    for (int i = 0; i < TASKS; i++)
      T_OK(corun_spawn(&t[i], racer, r, NULL));
    for (int i = 0; i < TASKS; i++)
      T_PTR_EQ(join_rc(t[i]), NULL);
    T_OK(corun_once_do(&r->once, slow_init, r)); /* done: not again */
    T_EQ(atomic_load(&r->runs), 1);
    free(r); /* heap, reused next round: stale wake-ups must not matter */
  }
}

/* ---- threads that are not workers ------------------------------------- */

/* The waits here block rather than spin (valgrind runs threads one at a
 * time, and spinning across threads crawls there). */
struct gate {
  corun_once once;
  corun_sem *started, *go; /* task runners: fn started; fn may finish */
  atomic_int thread_started;
  pthread_mutex_t mu; /* thread runners: fn waits for `released` */
  pthread_cond_t cv;
  int released;
  atomic_int runs;
  int thread_rc;
};

/* fn, run in a task: waits until the test lets it finish. */
static void gated_fn(void *arg) {
  struct gate *g = arg;
  atomic_fetch_add(&g->runs, 1);
  T_OK(corun_sem_release(g->started));
  T_OK(corun_sem_acquire(g->go, -1));
}

static void *task_runs_gated(void *arg) {
  struct gate *g = arg;
  return (void *)(intptr_t)corun_once_do(&g->once, gated_fn, g);
}

static void *thread_would_wait(void *arg) {
  struct gate *g = arg;
  g->thread_rc = corun_once_do(&g->once, gated_fn, g);
  return NULL;
}

/* fn, run by a thread that is not a worker: blocks that thread (no task)
 * until the test releases it. */
static void thread_fn(void *arg) {
  struct gate *g = arg;
  atomic_fetch_add(&g->runs, 1);
  atomic_store(&g->thread_started, 1);
  pthread_mutex_lock(&g->mu);
  while (!g->released)
    pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

static void *thread_runs(void *arg) {
  struct gate *g = arg;
  g->thread_rc = corun_once_do(&g->once, thread_fn, g);
  return NULL;
}

static void *task_waits(void *arg) {
  struct gate *g = arg;
  int rc = corun_once_do(&g->once, thread_fn, g);
  T_EQ(atomic_load(&g->runs), 1);
  return (void *)(intptr_t)rc;
}

static struct gate *gate_new(void) {
  struct gate *g = malloc(sizeof *g);
  T_TRUE(g != NULL);
  *g = (struct gate){.once = CORUN_ONCE_INIT, .released = 0, .thread_rc = 1};
  T_OK(corun_sem_make(&g->started, 0));
  T_OK(corun_sem_make(&g->go, 0));
  atomic_init(&g->thread_started, 0);
  atomic_init(&g->runs, 0);
  T_OK(pthread_mutex_init(&g->mu, NULL));
  T_OK(pthread_cond_init(&g->cv, NULL));
  return g;
}

static void gate_free(struct gate *g) {
  T_OK(corun_sem_free(g->started));
  T_OK(corun_sem_free(g->go));
  T_OK(pthread_mutex_destroy(&g->mu));
  T_OK(pthread_cond_destroy(&g->cv));
  free(g);
}

static void threads(void) {
  /* A task runs fn; a thread that comes meanwhile cannot wait: -EPERM.
   * A task that comes meanwhile waits; cancelled, it stops waiting. */
  struct gate *g = gate_new();
  corun_task *runner, *w, *c;
  T_OK(corun_spawn(&runner, task_runs_gated, g, NULL));
  T_OK(corun_sem_acquire(g->started, -1));
  pthread_t th;
  T_OK(pthread_create(&th, NULL, thread_would_wait, g));
  T_OK(pthread_join(th, NULL));
  T_EQ(g->thread_rc, -EPERM);
  T_OK(corun_spawn(&w, task_waits, g, NULL));
  T_OK(corun_spawn(&c, task_waits, g, NULL));
  wait_parked(w);
  wait_parked(c);
  T_OK(corun_cancel(c));
  T_EQ((intptr_t)join_rc(c), -ECANCELED);
  T_OK(corun_sem_release(g->go));
  T_PTR_EQ(join_rc(runner), NULL);
  T_PTR_EQ(join_rc(w), NULL);
  /* Done: a thread gets 0 at once, and fn does not run again. */
  g->thread_rc = 1;
  T_OK(pthread_create(&th, NULL, thread_would_wait, g));
  T_OK(pthread_join(th, NULL));
  T_EQ(g->thread_rc, 0);
  T_EQ(atomic_load(&g->runs), 1);
  gate_free(g);

  /* A thread that is not a worker runs fn while tasks wait: its finish
   * wakes them from outside the scheduler. (Waiting for the thread, the
   * main task sleeps: a timer, so the deadlock detector knows that
   * something can still happen.) */
  g = gate_new();
  T_OK(pthread_create(&th, NULL, thread_runs, g));
  while (!atomic_load(&g->thread_started))
    T_OK(corun_sleep(100000));
  enum { WAITERS = 6 };
  corun_task *t[WAITERS];
  for (int i = 0; i < WAITERS; i++)
    T_OK(corun_spawn(&t[i], task_waits, g, NULL));
  for (int i = 0; i < WAITERS; i++)
    wait_parked(t[i]);
  pthread_mutex_lock(&g->mu);
  g->released = 1;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  /* Join the thread first: its once_do returns after it has unparked the
   * waiters. Parking in corun_join before that could leave every task
   * parked with nothing the scheduler knows could wake them (its deadlock
   * detector does not know about the thread). */
  T_OK(pthread_join(th, NULL));
  T_OK(g->thread_rc);
  for (int i = 0; i < WAITERS; i++)
    T_PTR_EQ(join_rc(t[i]), NULL);
  T_EQ(atomic_load(&g->runs), 1);
  gate_free(g);
}

static void *main_task(void *arg) {
  (void)arg;
  threads();
  race();
  return NULL;
}

static void outside(void) {
  corun_once once = CORUN_ONCE_INIT;
  atomic_int n;
  atomic_init(&n, 0);
  T_EQ(corun_once_do(NULL, count_fn, &n), -EINVAL);
  T_EQ(corun_once_do(&once, NULL, &n), -EINVAL);
  T_EQ(atomic_load(&n), 0);
  /* Nothing to wait for: works without a task. */
  T_OK(corun_once_do(&once, count_fn, &n));
  T_OK(corun_once_do(&once, count_fn, &n));
  T_EQ(atomic_load(&n), 1);
  T_EQ(corun_once_do(&once, NULL, &n), -EINVAL);
}

int main(void) {
  outside();
  static const corun_config cfgs[] = {{.workers = 1},
                                      {.workers = 2},
                                      {.workers = 4},
                                      {.workers = 2, .shuffle = 1}};
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    T_OK(corun_main(main_task, NULL, &cfgs[i]));
  return 0;
}
