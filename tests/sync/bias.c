/* bias.c: corun_mutex with one worker, where a mutex is biased to the
 * worker thread that first locks it (src/sync/mutex.c, "Bias"): every
 * other thread must see what that thread did to it, and never hold it at
 * the same time.
 *  - held_foreign: a thread that is not a worker finds the mutex held by
 *    a task (try-lock -EAGAIN), takes it once the task has unlocked, and
 *    the task locks it again after that.
 *  - race_foreign: for each of many mutexes, a task locks and unlocks it
 *    in a loop while another thread takes it away (each revocation meets
 *    the task in the middle of its loop); a flag counts who is inside and
 *    a plain counter under the mutex must come out exact.
 *  - spare: a task holding a biased mutex blocks its worker in usleep(3);
 *    the monitor moves a second task to a spare worker, whose lock must
 *    wait until the holder unlocks.
 *  - spare_race: a task on a spare worker takes each of many mutexes
 *    away from worker 0's task, which locks and unlocks it in a loop,
 *    while a signal handler holds worker 0 for 300 us wherever it was:
 *    often inside its look at the mutex. The spare's own look at the
 *    mutex used to clear the flag that tells the revoker to wait (a
 *    helper review's find): mutual exclusion lost, or a hang.
 *  - across_runs: one mutex used by a 1-worker corun_main, then by tasks
 *    on 2 workers, then by 1 worker again: exact counts each time.
 *  - no_membarrier (last: it stays for the process): a seccomp policy
 *    denies membarrier(2) in the middle of a run; a thread that is not a
 *    worker then takes biased mutexes from a task blocked in a system
 *    call, and from a task locking it in a loop (the worker makes the
 *    fence itself). Skipped where seccomp cannot be set.
 *  - cond_moved (in the same run, after it): a task locks a biased
 *    mutex and sleeps while another task computes on worker 0, so the
 *    monitor wakes the first on a spare worker, where its cond wait
 *    unlocks the mutex (a revocation); the computing task then signals.
 *    The revocation used to wait for worker 0 while holding the
 *    condition's lock, which worker 0's signal spun on: a hang (a review's
 *    find).
 * Where membarrier(2) is missing (Valgrind, some qemu), nothing is biased
 * and the same behaviour is expected of the plain mutex (under Valgrind,
 * without the two races, which spin: a minute).
 * CORUN_TEST_SCALE=<factor> scales the loops (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "deny.h"
#include "sync_test.h"
#include "t.h"

/* pthread_self() through a non-inlined call: re-read after every switch. */
static T_NOIPA pthread_t self_thread(void) {
  return pthread_self();
}

/* ---- held_foreign -------------------------------------------------------- */

struct held {
  corun_mutex *m;
  atomic_int step; /* 1: task holds m; 2: thread saw it held; 3: task
                      unlocked; 4: thread took and released it */
};

static void *held_thread(void *arg) {
  struct held *h = arg;
  while (atomic_load(&h->step) != 1)
    sched_yield();
  T_EQ(corun_mutex_lock(h->m, 0), -EAGAIN);
  T_EQ(corun_mutex_lock(h->m, -1), -EPERM); /* not a task: cannot wait */
  atomic_store(&h->step, 2);
  while (atomic_load(&h->step) != 3)
    sched_yield();
  T_OK(corun_mutex_lock(h->m, 0));
  T_OK(corun_mutex_unlock(h->m));
  T_EQ(corun_mutex_unlock(h->m), -EPERM);
  atomic_store(&h->step, 4);
  return NULL;
}

static void *held_main(void *arg) {
  (void)arg;
  struct held h;
  atomic_init(&h.step, 0);
  T_OK(corun_mutex_make(&h.m));
  T_OK(corun_mutex_lock(h.m, -1)); /* the first lock: biased, if it can */
  T_OK(corun_mutex_unlock(h.m));
  T_OK(corun_mutex_lock(h.m, -1));
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, held_thread, &h), 0);
  atomic_store(&h.step, 1);
  while (atomic_load(&h.step) != 2)
    T_OK(corun_sleep(MS / 10));
  T_OK(corun_mutex_unlock(h.m));
  atomic_store(&h.step, 3);
  while (atomic_load(&h.step) != 4)
    T_OK(corun_sleep(MS / 10));
  T_OK(corun_mutex_lock(h.m, -1));
  T_EQ(corun_mutex_lock(h.m, 0), -EAGAIN);
  T_OK(corun_mutex_unlock(h.m));
  T_EQ(corun_mutex_unlock(h.m), -EPERM);
  T_OK(corun_mutex_free(h.m));
  T_EQ(pthread_join(th, NULL), 0);
  return NULL;
}

/* ---- race_foreign -------------------------------------------------------- */

struct race {
  long n;
  corun_mutex **m;
  long *counter;       /* counter[i]: plain, under m[i] */
  atomic_int *inside;  /* inside[i]: holders of m[i] now */
  atomic_long started; /* the task is looping on m[started - 1] */
  atomic_long taken;   /* the thread has taken m[0 .. taken - 1] */
  long task_ops, thread_ops;
};

static void critical(struct race *r, long i) {
  T_EQ(atomic_fetch_add_explicit(&r->inside[i], 1, memory_order_relaxed), 0);
  r->counter[i]++;
  atomic_fetch_sub_explicit(&r->inside[i], 1, memory_order_relaxed);
}

/* Makes r's r->n mutexes and counters. */
static void race_setup(struct race *r) {
  r->m = calloc((size_t)r->n, sizeof *r->m);
  r->counter = calloc((size_t)r->n, sizeof *r->counter);
  r->inside = calloc((size_t)r->n, sizeof *r->inside);
  T_TRUE(r->m && r->counter && r->inside);
  for (long i = 0; i < r->n; i++)
    T_OK(corun_mutex_make(&r->m[i]));
}

/* Frees what race_setup made; returns the sum of the counters. */
static long race_teardown(struct race *r) {
  long sum = 0;
  for (long i = 0; i < r->n; i++) {
    sum += r->counter[i];
    T_OK(corun_mutex_free(r->m[i]));
  }
  free(r->m);
  free(r->counter);
  free(r->inside);
  return sum;
}

static void *race_thread(void *arg) {
  struct race *r = arg;
  for (long i = 0; i < r->n; i++) {
    while (atomic_load(&r->started) <= i)
      sched_yield(); /* until the task loops on m[i] */
    for (int k = 0; k < 3; k++) {
      int rc;
      while ((rc = corun_mutex_lock(r->m[i], 0)) == -EAGAIN)
        sched_yield();
      T_OK(rc);
      critical(r, i);
      r->thread_ops++;
      T_OK(corun_mutex_unlock(r->m[i]));
    }
    atomic_store(&r->taken, i + 1);
  }
  return NULL;
}

static void *race_main(void *arg) {
  struct race *r = arg;
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, race_thread, r), 0);
  for (long i = 0; i < r->n; i++) {
    /* Lock and unlock m[i] until the thread has taken it away three
     * times: its first try-lock revokes the bias in the middle of this. */
    long ops = 0;
    do {
      /* When the thread holds it: wait with a timer, or the deadlock
       * check would see a task parked for good. */
      if (corun_mutex_lock(r->m[i], 0) == -EAGAIN)
        T_OK(corun_mutex_lock(r->m[i], corun_now() + 60000 * MS));
      critical(r, i);
      T_OK(corun_mutex_unlock(r->m[i]));
      if (++ops == 1)
        atomic_store(&r->started, i + 1);
      if (ops % 4096 == 0)
        corun_yield(NULL); /* (nothing else to run: a look at IO) */
    } while (atomic_load_explicit(&r->taken, memory_order_relaxed) <= i);
    r->task_ops += ops;
  }
  T_EQ(pthread_join(th, NULL), 0);
  return NULL;
}

static void race_foreign(void) {
  struct race r = {.n = scaled(2000)};
  race_setup(&r);
  corun_config cfg = {.workers = 1};
  T_OK(corun_main(race_main, &r, &cfg));
  T_EQ(r.thread_ops, 3 * r.n);
  T_EQ(race_teardown(&r), r.task_ops + r.thread_ops);
}

/* ---- spare --------------------------------------------------------------- */

struct spare {
  corun_mutex *m;
  pthread_t holder_thread, taker_thread;
  atomic_int taker_started;
  atomic_int released; /* set by the holder just before its unlock */
  int taker_saw_released;
};

static void *taker(void *arg) {
  struct spare *s = arg;
  s->taker_thread = self_thread();
  atomic_store(&s->taker_started, 1);
  T_OK(corun_mutex_lock(s->m, -1));
  s->taker_saw_released = atomic_load(&s->released);
  T_OK(corun_mutex_unlock(s->m));
  return NULL;
}

static void *spare_main(void *arg) {
  struct spare *s = arg;
  T_OK(corun_mutex_make(&s->m));
  T_OK(corun_mutex_lock(s->m, -1)); /* biased to this worker, if it can */
  s->holder_thread = self_thread();
  corun_task *t;
  T_OK(corun_spawn(&t, taker, s, NULL));
  /* Keep the worker in a call the runtime does not see until the monitor
   * has moved the taker to a spare worker and it has started. */
  int64_t give_up = corun_now() + 5000 * MS;
  while (!atomic_load(&s->taker_started) && corun_now() < give_up)
    usleep(10000);
  T_TRUE(atomic_load(&s->taker_started));
  usleep(20000); /* let its lock find m held and park */
  atomic_store(&s->released, 1);
  T_OK(corun_mutex_unlock(s->m));
  T_PTR_EQ(join_rc(t), NULL);
  T_TRUE(s->taker_saw_released);
  T_TRUE(!pthread_equal(s->taker_thread, s->holder_thread));
  T_OK(corun_mutex_free(s->m));
  return NULL;
}

/* ---- spare_race ---------------------------------------------------------- */

static int64_t clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void spin_ns(int64_t ns) {
  for (int64_t t = clock_ns(); clock_ns() - t < ns;)
    ;
}

static atomic_int in_handler;

/* Holds the thread wherever the signal found it: a stand-in for a
 * preemption inside the lock's few instructions. */
static void hold_here(int sig) {
  (void)sig;
  atomic_store(&in_handler, 1);
  spin_ns(300000);
}

struct spare_race {
  struct race r;
  pthread_t worker0;
  atomic_int spare_up;
  int spare_moved;
  atomic_int spare_inside; /* the spare's task holds the mutex */
  atomic_int overlaps;     /* worker 0's task saw it inside */
};

static void *spare_race_taker(void *arg) {
  struct spare_race *s = arg;
  struct race *r = &s->r;
  s->spare_moved = !pthread_equal(self_thread(), s->worker0);
  atomic_store(&s->spare_up, 1);
  for (long i = 0; i < r->n; i++) {
    while (atomic_load(&r->started) <= i)
      ; /* (a worker of its own: worker 0 loops) */
    spin_ns(2000);
    atomic_store(&in_handler, 0);
    pthread_kill(s->worker0, SIGUSR1);
    while (!atomic_load(&in_handler))
      ;
    T_OK(corun_mutex_lock(r->m[i], corun_now() + 5000 * MS));
    atomic_store(&s->spare_inside, 1);
    r->counter[i]++;
    spin_ns(400000); /* held past the handler's end */
    atomic_store(&s->spare_inside, 0);
    r->thread_ops++;
    T_OK(corun_mutex_unlock(r->m[i]));
    atomic_store(&r->taken, i + 1);
  }
  return NULL;
}

static void *spare_race_main(void *arg) {
  struct spare_race *s = arg;
  struct race *r = &s->r;
  s->worker0 = self_thread();
  corun_task *t;
  T_OK(corun_spawn(&t, spare_race_taker, s, NULL));
  /* Blocked in a call the runtime does not see: the monitor moves the
   * taker to a spare worker. */
  int64_t give_up = corun_now() + 5000 * MS;
  while (!atomic_load(&s->spare_up) && corun_now() < give_up)
    usleep(5000);
  T_TRUE(atomic_load(&s->spare_up));
  T_TRUE(s->spare_moved);
  for (long i = 0; i < r->n; i++) {
    long ops = 0;
    do { /* as bare as can be: most of the time inside lock and unlock */
      if (corun_mutex_lock(r->m[i], 0) == -EAGAIN)
        T_OK(corun_mutex_lock(r->m[i], corun_now() + 5000 * MS));
      if (atomic_load_explicit(&s->spare_inside, memory_order_relaxed))
        atomic_fetch_add(&s->overlaps, 1);
      r->counter[i]++;
      T_OK(corun_mutex_unlock(r->m[i]));
      if (++ops == 1)
        atomic_store(&r->started, i + 1);
    } while (atomic_load_explicit(&r->taken, memory_order_relaxed) <= i);
    r->task_ops += ops;
  }
  T_PTR_EQ(join_rc(t), NULL);
  T_EQ(atomic_load(&s->overlaps), 0);
  return NULL;
}

static void spare_race(void) {
  struct spare_race s = {.r = {.n = scaled(1000)}};
  struct race *r = &s.r;
  race_setup(r);
  struct sigaction sa = {.sa_handler = hold_here};
  T_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
  corun_config cfg = {.workers = 1, .block_ms = 2};
  T_OK(corun_main(spare_race_main, &s, &cfg));
  T_EQ(r->thread_ops, r->n);
  T_EQ(race_teardown(r), r->task_ops + r->thread_ops);
}

/* ---- across_runs --------------------------------------------------------- */

struct across {
  corun_mutex *m;
  long iters;
  long counter; /* under m */
  atomic_int inside;
};

static void *across_body(void *arg) {
  struct across *a = arg;
  for (long i = 0; i < a->iters; i++) {
    T_OK(corun_mutex_lock(a->m, -1));
    T_EQ(atomic_fetch_add_explicit(&a->inside, 1, memory_order_relaxed), 0);
    a->counter++;
    if (i % 256 == 0)
      corun_yield(NULL); /* held across a yield now and then */
    atomic_fetch_sub_explicit(&a->inside, 1, memory_order_relaxed);
    T_OK(corun_mutex_unlock(a->m));
  }
  return NULL;
}

static void *across_main(void *arg) {
  struct across *a = arg;
  enum { TASKS = 4 };
  corun_task *t[TASKS];
  long before = a->counter;
  for (int i = 0; i < TASKS; i++)
    T_OK(corun_spawn(&t[i], across_body, a, NULL));
  for (int i = 0; i < TASKS; i++)
    T_PTR_EQ(join_rc(t[i]), NULL);
  T_EQ(a->counter, before + TASKS * a->iters);
  return NULL;
}

static void *lock_unlock(void *arg) {
  corun_mutex *m = arg;
  for (int i = 0; i < 100; i++) {
    T_OK(corun_mutex_lock(m, -1));
    T_OK(corun_mutex_unlock(m));
  }
  return NULL;
}

static void across_runs(void) {
  struct across a = {.iters = scaled(20000)};
  atomic_init(&a.inside, 0);
  T_OK(corun_mutex_make(&a.m));
  corun_config one = {.workers = 1}, two = {.workers = 2};
  T_OK(corun_main(lock_unlock, a.m, &one)); /* biased to that run's worker */
  T_OK(corun_main(across_main, &a, &two));
  T_OK(corun_main(across_main, &a, &one));
  T_OK(corun_mutex_lock(a.m, 0)); /* and outside any run */
  T_EQ(corun_mutex_free(a.m), -EBUSY);
  T_OK(corun_mutex_unlock(a.m));
  T_OK(corun_mutex_free(a.m));
}

/* ---- cond_moved -----------------------------------------------------------
 */

struct moved {
  corun_mutex *m;
  corun_cond *c;
  atomic_int signalled;
};

static void *signal_after_work(void *arg) {
  struct moved *v = arg;
  int64_t end = corun_now() + 100 * MS;
  while (corun_now() < end)
    ; /* a computation that keeps worker 0 */
  atomic_store(&v->signalled, 1);
  T_OK(corun_cond_signal(v->c));
  return NULL;
}

static void *moved_main(void *arg) {
  struct moved *v = arg;
  T_OK(corun_mutex_make(&v->m));
  T_OK(corun_cond_make(&v->c));
  T_OK(corun_mutex_lock(v->m, -1)); /* biased to worker 0, and held */
  corun_task *t;
  T_OK(corun_spawn(&t, signal_after_work, v, NULL));
  T_OK(corun_sleep(MS)); /* the monitor fires it on a spare worker */
  while (!atomic_load(&v->signalled)) {
    int rc = corun_cond_wait(v->c, v->m, corun_now() + 5000 * MS);
    T_TRUE(rc == 0 || rc == -ETIMEDOUT);
  }
  T_OK(corun_mutex_unlock(v->m));
  T_PTR_EQ(join_rc(t), NULL);
  T_OK(corun_cond_free(v->c));
  T_OK(corun_mutex_free(v->m));
  return NULL;
}

/* ---- no_membarrier --------------------------------------------------------
 */

/* Denies membarrier(2) to every thread of the process from now on; 0, or
 * -1 where seccomp cannot be set. */
static int deny_membarrier(void) {
#ifdef __NR_membarrier
  return t_deny_syscall_all(__NR_membarrier, EPERM);
#else
  return -1;
#endif
}

struct nomb {
  corun_mutex *blocked_m; /* biased, its task blocked in a system call */
  struct race r;          /* biased, its task in a lock loop */
  struct moved v;         /* cond_moved */
  int denied;
};

static void *nomb_thread(void *arg) {
  struct nomb *b = arg;
  /* The task that biased it waits in pthread_join for this thread: its
   * worker's thread sleeps in the kernel. */
  T_OK(corun_mutex_lock(b->blocked_m, 0));
  T_OK(corun_mutex_unlock(b->blocked_m));
  return NULL;
}

static void *nomb_main(void *arg) {
  struct nomb *b = arg;
  T_OK(corun_mutex_make(&b->blocked_m));
  T_OK(corun_mutex_lock(b->blocked_m, -1)); /* biased, if it can be */
  T_OK(corun_mutex_unlock(b->blocked_m));
  b->denied = deny_membarrier() == 0;
  if (!b->denied) {
    T_OK(corun_mutex_free(b->blocked_m));
    return NULL;
  }
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, nomb_thread, b), 0);
  T_EQ(pthread_join(th, NULL), 0);
  T_OK(corun_mutex_free(b->blocked_m));
  race_main(&b->r); /* a foreign thread against a lock loop */
  return moved_main(&b->v);
}

static void no_membarrier(void) {
  struct nomb b = {.r = {.n = scaled(200)}};
  struct race *r = &b.r;
  race_setup(r);
  atomic_init(&b.v.signalled, 0);
  /* (membarrier must be there when the run starts, or nothing is biased;
   * cond_moved needs the monitor) */
  corun_config one = {.workers = 1, .block_ms = 5};
  T_OK(corun_main(nomb_main, &b, &one));
  long sum = race_teardown(r);
  if (!b.denied) {
    fprintf(stderr, "bias: no_membarrier skipped (no seccomp here)\n");
  } else {
    T_EQ(r->thread_ops, 3 * r->n);
    T_EQ(sum, r->task_ops + r->thread_ops);
  }
}

int main(void) {
  corun_config one = {.workers = 1};
  T_OK(corun_main(held_main, NULL, &one));
  /* Under Valgrind nothing is biased (no membarrier(2)), and the two
   * races, which spin, take a minute: sync/mutex covers the plain mutex. */
  if (!t_under_valgrind())
    race_foreign();
  struct spare s = {0};
  corun_config spare_cfg = {.workers = 1, .block_ms = 2};
  T_OK(corun_main(spare_main, &s, &spare_cfg));
  if (!t_under_valgrind())
    spare_race();
  across_runs();
  no_membarrier();
  return 0;
}
