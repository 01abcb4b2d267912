/* oom.c: an allocation-failure sweep (libuv's test-loop-oom idea) through
 * the internal hook corun__alloc_fail_after(n). (1) In a fresh thread per
 * step (so the thread's own corun state must be allocated too), with only
 * n = 0, 1, 2, ... allocations allowed, corun_create() fails with -ENOMEM
 * and no side effect (*co untouched, nothing runs, corun_current() NULL,
 * the thread keeps working) until some n where it succeeds; from then on
 * everything works and the coroutine is destroyed. At least one step must
 * fail, or the hook did not reach corun. (2) The same on a thread that is
 * already set up, for a stack size never used before (its pool class and
 * first slab are allocated on demand). (3) A suspended coroutine resumed,
 * and one destroyed, from a fresh thread while allocations fail: if the
 * call fails it is -ENOMEM and nothing happened (body not run, coroutine
 * still SUSPENDED and usable, *out untouched); with memory back, both work;
 * the first steps must fail, as a fresh thread has its state to allocate.
 * A corun_transfer from a fresh thread's root context fails the same way.
 * (4) The shared stacks: a shared stack or pool destroyed from a fresh
 * thread without memory, and created without memory, give -ENOMEM and
 * leave everything as it was.
 * corun__alloc_fail_after(-1) stops the injection after each step. */
#include <errno.h>
#include <pthread.h>

#include "base/alloc.h"
#include "corun.h"
#include "t.h"

#define SENTINEL ((void *)(intptr_t)0x5e5e5e5e)
#define MAX_STEPS 64

static int body_runs;

static void *body(void *arg) {
  body_runs++;
  void *in = corun_yield(arg);
  return (void *)((intptr_t)in + 1);
}

/* One step of the sweep: returns 1 if the create succeeded. */
static int create_step(long n, const corun_attr *attr) {
  corun_coro *co = SENTINEL;
  int runs = body_runs;
  corun__alloc_fail_after(n);
  int rc = corun_create(&co, body, (void *)7, attr);
  corun__alloc_fail_after(-1);
  if (rc != 0) {
    T_EQ(rc, -ENOMEM);
    T_PTR_EQ(co, SENTINEL);
    T_EQ(body_runs, runs);
    T_PTR_EQ(corun_current(), NULL);
    T_PTR_EQ(corun_yield((void *)1), NULL);
    T_EQ(corun_closing(), 0);
    return 0;
  }
  T_PTR_NE(co, SENTINEL);
  T_EQ(corun_status(co), CORUN_SUSPENDED);
  T_NE(corun_id(co), 0);
  void *out = NULL;
  T_EQ(corun_resume(co, NULL, &out), 1);
  T_PTR_EQ(out, (void *)7);
  T_EQ(corun_resume(co, (void *)9, &out), 0);
  T_PTR_EQ(out, (void *)10);
  T_EQ(body_runs, runs + 1);
  T_OK(corun_destroy(co));
  /* And a few more, with memory available again. */
  corun_coro *more[8];
  for (int i = 0; i < 8; i++)
    T_OK(corun_create(&more[i], body, NULL, attr));
  for (int i = 0; i < 8; i++) {
    T_EQ(corun_resume(more[i], NULL, NULL), 1);
    T_OK(corun_destroy(more[i]));
  }
  return 1;
}

struct step {
  long n;
  int ok;
};

static void *fresh_thread_step(void *arg) {
  struct step *s = arg;
  s->ok = create_step(s->n, NULL);
  return NULL;
}

static void sweep_fresh_threads(void) {
  long n;
  for (n = 0; n < MAX_STEPS; n++) {
    struct step s = {.n = n};
    pthread_t th;
    T_OK(pthread_create(&th, NULL, fresh_thread_step, &s));
    T_OK(pthread_join(th, NULL));
    if (s.ok)
      break;
  }
  T_LT(n, MAX_STEPS);
  T_GT(n, 0); /* the first steps must have failed */
  printf("fresh thread: create succeeds with %ld allocations\n", n);
}

static void sweep_new_class(void) {
  corun_coro *co; /* set this thread up first */
  T_OK(corun_create(&co, body, NULL, NULL));
  T_OK(corun_destroy(co));
  corun_attr attr = {.stack_size = 200 * 1024}; /* not used before */
  long n;
  for (n = 0; n < MAX_STEPS; n++)
    if (create_step(n, &attr))
      break;
  T_LT(n, MAX_STEPS);
  T_GT(n, 0);
  printf("new stack size: create succeeds with %ld allocations\n", n);
}

/* ---- (3) resume and destroy from a fresh thread -------------------- */

struct foreign {
  corun_coro *co;
  long n;
  int rc;
};

static void *foreign_resume(void *arg) {
  struct foreign *f = arg;
  void *out = SENTINEL;
  corun__alloc_fail_after(f->n);
  f->rc = corun_resume(f->co, (void *)41, &out);
  corun__alloc_fail_after(-1);
  if (f->rc == 0)
    T_PTR_EQ(out, (void *)42);
  else
    T_PTR_EQ(out, SENTINEL);
  return NULL;
}

static void *foreign_transfer(void *arg) {
  struct foreign *f = arg;
  void *out = SENTINEL;
  corun__alloc_fail_after(f->n);
  f->rc = corun_transfer(f->co, (void *)41, &out);
  corun__alloc_fail_after(-1);
  if (f->rc < 0)
    T_PTR_EQ(out, SENTINEL);
  return NULL;
}

static void *foreign_destroy(void *arg) {
  struct foreign *f = arg;
  corun__alloc_fail_after(f->n);
  f->rc = corun_destroy(f->co);
  corun__alloc_fail_after(-1);
  return NULL;
}

static void run_foreign(void *(*fn)(void *), struct foreign *f) {
  pthread_t th;
  T_OK(pthread_create(&th, NULL, fn, f));
  T_OK(pthread_join(th, NULL));
}

static void sweep_foreign(void) {
  corun_coro *co;
  T_OK(corun_create(&co, body, (void *)5, NULL));
  T_EQ(corun_resume(co, NULL, NULL), 1);
  int runs = body_runs;
  long n;
  for (n = 0; n < MAX_STEPS; n++) {
    struct foreign f = {.co = co, .n = n};
    run_foreign(foreign_resume, &f);
    if (f.rc == 0)
      break;
    T_EQ(f.rc, -ENOMEM);
    T_EQ(corun_status(co), CORUN_SUSPENDED);
    T_EQ(body_runs, runs);
  }
  T_LT(n, MAX_STEPS);
  T_GT(n, 0);
  T_EQ(corun_status(co), CORUN_DEAD);
  printf("fresh thread: resume succeeds with %ld allocations\n", n);
  T_OK(corun_destroy(co));

  /* A transfer from a fresh thread's root context, without memory. */
  T_OK(corun_create(&co, body, (void *)5, NULL));
  struct foreign tf = {.co = co, .n = 0};
  run_foreign(foreign_transfer, &tf);
  T_EQ(tf.rc, -ENOMEM);
  T_EQ(corun_status(co), CORUN_SUSPENDED);
  T_EQ(body_runs, runs);
  T_OK(corun_destroy(co));

  /* Destroy of a started (suspended) and of a never-started coroutine. */
  for (int started = 0; started < 2; started++) {
    T_OK(corun_create(&co, body, NULL, NULL));
    if (started)
      T_EQ(corun_resume(co, NULL, NULL), 1);
    for (n = 0; n < MAX_STEPS; n++) {
      struct foreign f = {.co = co, .n = n};
      run_foreign(foreign_destroy, &f);
      if (f.rc == 0)
        break;
      T_EQ(f.rc, -ENOMEM);
      T_EQ(corun_status(co), CORUN_SUSPENDED); /* still alive */
      T_NE(corun_id(co), 0);
    }
    T_LT(n, MAX_STEPS);
    T_GT(n, 0);
    printf("fresh thread: destroy (%s) succeeds with %ld allocations\n",
           started ? "started" : "never started", n);
  }
}

/* ---- (4) shared stacks --------------------------------------------- */

struct shared_destroy {
  corun_shared_stack *ss;
  corun_shared_pool *pool;
  int rc;
};

static void *destroy_without_memory(void *arg) {
  struct shared_destroy *d = arg;
  corun__alloc_fail_after(0);
  d->rc = d->ss ? corun_shared_stack_destroy(d->ss)
                : corun_shared_pool_destroy(d->pool);
  corun__alloc_fail_after(-1);
  return NULL;
}

static void shared_stacks(void) {
  corun_shared_stack *ss = SENTINEL;
  corun__alloc_fail_after(0);
  int rc = corun_shared_stack_create(&ss, 0);
  corun__alloc_fail_after(-1);
  if (rc == -ENOTSUP)
    return; /* the ucontext backend has no shared stacks */
  T_EQ(rc, -ENOMEM);
  T_PTR_EQ(ss, SENTINEL);
  corun_shared_pool *pool = SENTINEL;
  corun__alloc_fail_after(1); /* some of the pool, not all of it */
  T_EQ(corun_shared_pool_create(&pool, 4, 0), -ENOMEM);
  corun__alloc_fail_after(-1);
  T_PTR_EQ(pool, SENTINEL);

  T_OK(corun_shared_stack_create(&ss, 0));
  T_OK(corun_shared_pool_create(&pool, 4, 0));
  struct shared_destroy d = {.ss = ss};
  pthread_t th;
  T_OK(pthread_create(&th, NULL, destroy_without_memory, &d));
  T_OK(pthread_join(th, NULL));
  T_EQ(d.rc, -ENOMEM);
  d = (struct shared_destroy){.pool = pool};
  T_OK(pthread_create(&th, NULL, destroy_without_memory, &d));
  T_OK(pthread_join(th, NULL));
  T_EQ(d.rc, -ENOMEM);
  /* Nothing was freed: both still work, and go away normally. */
  corun_attr attr = {.shared = ss};
  corun_coro *co;
  T_OK(corun_create(&co, body, (void *)3, &attr));
  T_EQ(corun_resume(co, NULL, NULL), 1);
  T_OK(corun_destroy(co));
  attr.shared = corun_shared_pool_next(pool);
  T_OK(corun_create(&co, body, (void *)3, &attr));
  T_EQ(corun_resume(co, NULL, NULL), 1);
  T_OK(corun_destroy(co));
  T_OK(corun_shared_stack_destroy(ss));
  T_OK(corun_shared_pool_destroy(pool));
}

int main(void) {
  /* Nothing in this process has used corun yet. */
  sweep_fresh_threads();
  sweep_new_class();
  sweep_foreign();
  shared_stacks();
  return 0;
}
