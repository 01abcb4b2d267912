/* mutex.c: corun_mutex: errors (-ENOMEM, outside a task, from a coroutine a
 * task resumed), mutual exclusion of a non-atomic counter under contention
 * (fast path, parks, deadline and try-lock variants, tasks on shared
 * stacks), FIFO hand-off with no barging, a timed-out and a cancelled waiter
 * leaving the queue, the last task out freeing the mutex, deadline timing,
 * a hand-over unparked by a thread that is not a worker, and free refused
 * while a dropped waiter still has to come back. Each scheduler run is repeated
 * with 1, 2 and 4 workers and once shuffled. CORUN_TEST_SCALE=<factor> scales
 * the stress part (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "sched/sched.h"
#include "sync_test.h"
#include "t.h"

/* ---- mutual exclusion ---------------------------------------------------- */

struct stress {
  corun_mutex *m;
  long counter; /* plain: only ever touched under m */
  long iters;
  atomic_int inside;
};

static void *stress_body(void *arg) {
  struct stress *s = arg;
  for (long i = 0; i < s->iters; i++) {
    /* Try-lock until it works, pinned tasks too (tasks on shared stacks
     * are): a pinned task that waits in a corun_yield() loop once starved
     * the holder queued on the same worker; pick()'s periodic turn now
     * serves every queue in turn (sched.c, fair_pop). */
    if (i % 11 == 5) {
      int rc;
      while ((rc = corun_mutex_lock(s->m, 0)) == -EAGAIN)
        corun_yield(NULL);
      T_OK(rc);
    } else if (i % 13 == 7) {
      /* A deadline that often expires: the waiter leaves the queue. */
      int rc;
      while ((rc = corun_mutex_lock(s->m, corun_now() + 20000)) == -ETIMEDOUT)
        ;
      T_OK(rc);
    } else {
      /* Some with a far deadline: arms and disarms a timer when parked. */
      int64_t dl = i % 7 == 3 ? corun_now() + 60000 * MS : -1;
      T_OK(corun_mutex_lock(s->m, dl));
    }
    T_EQ(atomic_fetch_add_explicit(&s->inside, 1, memory_order_relaxed), 0);
    long v = s->counter;
    if (i % 64 == 0)
      corun_yield(NULL); /* held across a yield: the others queue up */
    s->counter = v + 1;
    atomic_fetch_sub_explicit(&s->inside, 1, memory_order_relaxed);
    T_OK(corun_mutex_unlock(s->m));
  }
  return NULL;
}

static void stress(void) {
  enum { TASKS = 8 };
  struct stress s = {.iters = scaled(50000)};
  atomic_init(&s.inside, 0);
  T_OK(corun_mutex_make(&s.m));
  corun_shared_pool *pool = NULL;
  int have_pool = corun_shared_pool_create(&pool, 2, 0) == 0;
  corun_task *t[TASKS];
  for (int i = 0; i < TASKS; i++) {
    /* A quarter on shared stacks: their waiters must not be on them. */
    corun_attr a = {0};
    if (have_pool && i % 4 == 1)
      a.shared = corun_shared_pool_next(pool);
    T_OK(corun_spawn(&t[i], stress_body, &s, &a));
  }
  for (int i = 0; i < TASKS; i++)
    T_PTR_EQ(join_rc(t[i]), NULL);
  T_EQ(s.counter, TASKS * s.iters);
  T_OK(corun_mutex_free(s.m));
  if (have_pool)
    T_OK(corun_shared_pool_destroy(pool));
}

/* ---- FIFO, timeouts and cancels in the queue ---------------------------- */

enum { FIFO_N = 8 };

struct fifo {
  corun_mutex *m;
  int order[FIFO_N + 2];
  int n; /* under m */
};

struct fifo_arg {
  struct fifo *f;
  int id;
  int64_t deadline;
};

static void *fifo_body(void *arg) {
  struct fifo_arg *a = arg;
  int rc = corun_mutex_lock(a->f->m, a->deadline);
  if (rc < 0)
    return (void *)(intptr_t)rc;
  a->f->order[a->f->n++] = a->id;
  T_OK(corun_mutex_unlock(a->f->m));
  return NULL;
}

static void fifo(void) {
  struct fifo f = {.n = 0};
  struct fifo_arg a[FIFO_N];
  corun_task *t[FIFO_N];
  T_OK(corun_mutex_make(&f.m));
  T_OK(corun_mutex_lock(f.m, -1));
  for (int i = 0; i < FIFO_N; i++) {
    a[i] = (struct fifo_arg){&f, i, -1};
    T_OK(corun_spawn(&t[i], fifo_body, &a[i], NULL));
    wait_parked(t[i]); /* queued in spawn order */
  }
  T_EQ(corun_mutex_free(f.m), -EBUSY);
  T_OK(corun_mutex_unlock(f.m));
  /* Hand-off: the mutex went to task 0 and never was free, so this lock
   * queues behind every waiter and comes last. */
  T_OK(corun_mutex_lock(f.m, -1));
  f.order[f.n++] = FIFO_N;
  T_OK(corun_mutex_unlock(f.m));
  for (int i = 0; i < FIFO_N; i++)
    T_PTR_EQ(join_rc(t[i]), NULL);
  T_EQ(f.n, FIFO_N + 1);
  for (int i = 0; i <= FIFO_N; i++)
    T_EQ(f.order[i], i);

  /* Waiters 0..5 queue; 2 has a 20 ms deadline and 4 is cancelled: both
   * leave the queue and the others keep their order. */
  f.n = 0;
  T_OK(corun_mutex_lock(f.m, -1));
  for (int i = 0; i < 6; i++) {
    a[i] = (struct fifo_arg){&f, i, i == 2 ? corun_now() + 20 * MS : -1};
    T_OK(corun_spawn(&t[i], fifo_body, &a[i], NULL));
    wait_parked(t[i]);
  }
  T_OK(corun_cancel(t[4]));
  T_EQ((intptr_t)join_rc(t[4]), -ECANCELED);
  T_EQ((intptr_t)join_rc(t[2]), -ETIMEDOUT);
  T_OK(corun_mutex_unlock(f.m));
  for (int i = 0; i < 6; i++)
    if (i != 2 && i != 4)
      T_PTR_EQ(join_rc(t[i]), NULL);
  T_EQ(f.n, 4);
  T_EQ(f.order[0], 0);
  T_EQ(f.order[1], 1);
  T_EQ(f.order[2], 3);
  T_EQ(f.order[3], 5);

  /* The only waiter times out: the mutex is still held, and still works. */
  T_OK(corun_mutex_lock(f.m, -1));
  a[0] = (struct fifo_arg){&f, 0, corun_now() + 5 * MS};
  T_OK(corun_spawn(&t[0], fifo_body, &a[0], NULL));
  T_EQ((intptr_t)join_rc(t[0]), -ETIMEDOUT);
  T_EQ(corun_mutex_lock(f.m, 0), -EAGAIN);
  T_EQ(corun_mutex_free(f.m), -EBUSY);
  T_OK(corun_mutex_unlock(f.m));
  T_EQ(corun_mutex_unlock(f.m), -EPERM);
  T_OK(corun_mutex_lock(f.m, 0));
  T_OK(corun_mutex_unlock(f.m));
  T_OK(corun_mutex_free(f.m));
}

/* The last task out frees the mutex, right after its unlock, while the
 * unlocks of the others may still be under way on other workers: an
 * unlock must be done with the mutex before a later locker can free it
 * (under ASan, a touch of the freed mutex fails the test; a barging
 * variant of the mutex that woke its waiter after freeing the mutex
 * failed it 1 run in 3). Short deadlines make waiters leave. The holder
 * yields while its waiters time out and try again, with no yield of
 * their own: with one worker their timers kept its deque from running
 * dry, and the yield line behind it, holders included, waited for ever
 * (before pick()'s periodic turn served the yield line first every other
 * time). */
enum { LAST_OUT_OBJECTS = 300, LAST_OUT_TASKS = 3 };

struct last_out {
  corun_mutex *m;
  int left; /* under m */
};

static void *last_out_body(void *arg) {
  struct last_out *o = arg;
  for (int i = 0; i < 3; i++) {
    int rc;
    while ((rc = corun_mutex_lock(o->m, corun_now() + 2000)) == -ETIMEDOUT)
      ;
    T_OK(rc);
    corun_yield(NULL); /* held: the others queue, park, time out */
    int last = i == 2 && --o->left == 0;
    T_OK(corun_mutex_unlock(o->m));
    if (last) {
      T_OK(corun_mutex_free(o->m));
      corun__free(o);
    }
  }
  return NULL;
}

static void last_out(void) {
  enum { N = LAST_OUT_OBJECTS * LAST_OUT_TASKS };
  corun_task **t = corun__malloc(N * sizeof *t);
  T_TRUE(t != NULL);
  for (int i = 0; i < LAST_OUT_OBJECTS; i++) {
    struct last_out *o = corun__malloc(sizeof *o);
    T_TRUE(o != NULL);
    T_OK(corun_mutex_make(&o->m));
    o->left = LAST_OUT_TASKS;
    for (int k = 0; k < LAST_OUT_TASKS; k++)
      T_OK(corun_spawn(&t[i * LAST_OUT_TASKS + k], last_out_body, o, NULL));
  }
  for (int i = 0; i < N; i++)
    T_PTR_EQ(join_rc(t[i]), NULL);
  corun__free(t);
}

/* ---- deadlines, cancel, misuse ------------------------------------------ */

static void *lock_rc(void *arg) {
  return (void *)(intptr_t)corun_mutex_lock(arg, -1);
}

static void *cancelled_then_lock(void *arg) {
  while (!corun_cancelled())
    corun_yield(NULL);
  return (void *)(intptr_t)corun_mutex_lock(arg, -1);
}

static void *in_coroutine(void *arg) {
  return (void *)(intptr_t)corun_mutex_lock(arg, -1);
}

struct unlocker {
  corun_mutex *m;
  int rc;
};

static void *thread_unlock(void *arg) {
  struct unlocker *u = arg;
  u->rc = corun_mutex_unlock(u->m);
  return NULL;
}

static void misc(void) {
  corun_mutex *m;
  T_OK(corun_mutex_make(&m));
  T_OK(corun_mutex_lock(m, -1));
  /* Not recursive: our own lock waits for us, until its deadline. */
  T_EQ(corun_mutex_lock(m, 0), -EAGAIN);
  int64_t t0 = corun_now();
  T_EQ(corun_mutex_lock(m, t0 + 20 * MS), -ETIMEDOUT);
  T_GE(corun_now() - t0, 20 * MS);
  T_EQ(corun_mutex_lock(m, corun_now() - 1), -ETIMEDOUT); /* past */

  /* A cancelled waiter returns -ECANCELED, and can be joined. */
  corun_task *t;
  T_OK(corun_spawn(&t, lock_rc, m, NULL));
  wait_parked(t);
  T_OK(corun_cancel(t));
  T_OK(corun_cancel(t)); /* twice is harmless */
  T_EQ((intptr_t)join_rc(t), -ECANCELED);
  /* A task cancelled before it blocks does not block. */
  T_OK(corun_spawn(&t, cancelled_then_lock, m, NULL));
  T_OK(corun_cancel(t));
  T_EQ((intptr_t)join_rc(t), -ECANCELED);

  /* Only a task's own coroutine may block. */
  corun_coro *co;
  T_OK(corun_create(&co, in_coroutine, m, NULL));
  void *out = NULL;
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_EQ((intptr_t)out, -EPERM);
  T_OK(corun_destroy(co));

  /* A thread that is not a worker unlocks: it hands m to a parked task. */
  T_OK(corun_spawn(&t, lock_rc, m, NULL));
  wait_parked(t);
  struct unlocker u = {m, 1};
  pthread_t th;
  T_OK(pthread_create(&th, NULL, thread_unlock, &u));
  T_OK(pthread_join(th, NULL));
  T_OK(u.rc);
  T_PTR_EQ(join_rc(t), NULL); /* it has m now */
  T_EQ(corun_mutex_lock(m, 0), -EAGAIN);
  T_OK(corun_mutex_unlock(m));
  T_OK(corun_mutex_free(m));
}

/* A waiter whose park a cancel claimed, dropped by the unlock before it
 * ran again, still has to come back to the mutex's lock: free must wait
 * for it (1 worker: it cannot have run yet, so -EBUSY for sure). */
static void free_after_drop(int one_worker) {
  corun_mutex *m;
  corun_task *t;
  T_OK(corun_mutex_make(&m));
  T_OK(corun_mutex_lock(m, -1));
  T_OK(corun_spawn(&t, lock_rc, m, NULL));
  wait_parked(t);
  T_OK(corun_cancel(t));       /* t is readied, not run */
  T_OK(corun_mutex_unlock(m)); /* drops t's waiter */
  int rc = corun_mutex_free(m);
  T_TRUE(rc == -EBUSY || (rc == 0 && !one_worker));
  T_EQ((intptr_t)join_rc(t), -ECANCELED);
  if (rc == -EBUSY)
    T_OK(corun_mutex_free(m));
}

static void *main_task(void *arg) {
  const corun_config *cfg = arg;
  free_after_drop(cfg->workers == 1);
  misc();
  fifo();
  last_out();
  stress();
  return NULL;
}

/* Outside any task: nothing may block, the rest works. */
static void outside(void) {
  corun_mutex *m;
  T_EQ(corun_mutex_make(NULL), -EINVAL);
  T_EQ(corun_mutex_free(NULL), -EINVAL);
  T_EQ(corun_mutex_lock(NULL, -1), -EINVAL);
  T_EQ(corun_mutex_unlock(NULL), -EINVAL);
  m = NULL;
  corun__alloc_fail_after(0);
  T_EQ(corun_mutex_make(&m), -ENOMEM);
  corun__alloc_fail_after(-1);
  T_PTR_EQ(m, NULL); /* untouched on failure */
  T_OK(corun_mutex_make(&m));
  T_EQ(corun_mutex_unlock(m), -EPERM);
  T_OK(corun_mutex_lock(m, -1));
  T_EQ(corun_mutex_lock(m, -1), -EPERM);
  T_EQ(corun_mutex_lock(m, corun_now() + MS), -EPERM);
  T_EQ(corun_mutex_lock(m, 0), -EAGAIN);
  T_EQ(corun_mutex_free(m), -EBUSY);
  T_OK(corun_mutex_unlock(m));
  T_EQ(corun_mutex_unlock(m), -EPERM);
  T_OK(corun_mutex_free(m));
}

int main(void) {
  outside();
  run_all_configs(main_task);
  return 0;
}
