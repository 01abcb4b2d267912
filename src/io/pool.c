/* pool.c: a few helper threads for calls that block in the kernel and
 * have no readiness to wait for: name resolution (tcp.c) and, with the
 * epoll backend, regular-file reads and writes (io.c). A task hands a job
 * to the pool and parks until a helper has run it, so a worker never
 * blocks. The helpers start at a scheduler's first job and stop when that
 * corun_main ends (they sleep on a condition variable when idle).
 * Layer: io (uses base, sched).
 *
 * corun_offload runs a caller's function there the same way.
 *
 * A job that only writes memory of its own (a lookup's answer) may be
 * abandoned by its task at a deadline or a cancel: the helper frees it
 * when it is done. A job that writes the task's memory (a read into the
 * caller's buffer) is waited for to the end, whatever happens meanwhile.
 *
 * Locking: the queue under `pool.mu`; a job's completion under its own
 * lock, through park/unpark (the helper claims the parked task). */
#include <errno.h>
#include <pthread.h>

#include "io/io.h"
#include "sched/sched.h"

#define HELPERS 2

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct corun__job *head, *tail;
  int started; /* helpers running */
  int stop;    /* the scheduler ended: helpers finish the queue and exit */
  pthread_t th[HELPERS];
} pool = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, {0}};

static void *helper(void *unused) {
  (void)unused;
  for (;;) {
    pthread_mutex_lock(&pool.mu);
    while (!pool.head && !pool.stop)
      pthread_cond_wait(&pool.cv, &pool.mu);
    struct corun__job *j = pool.head;
    if (!j) { /* stopping, nothing left */
      pthread_mutex_unlock(&pool.mu);
      return NULL;
    }
    pool.head = j->next;
    if (!pool.head)
      pool.tail = NULL;
    pthread_mutex_unlock(&pool.mu);
    j->run(j);
    corun__lock_acquire(&j->lock);
    j->done = 1;
    int abandoned = j->abandoned;
    struct corun_task *t = j->task;
    int won = t && corun__claim(t);
    corun__lock_release(&j->lock);
    if (abandoned)
      j->release(j);
    else if (won)
      corun__unpark(t, 0);
  }
}

/* The scheduler ended (every task finished): the helpers run what is
 * queued (abandoned jobs) and exit, so that no thread and none of the
 * resolver's per-thread memory outlives corun_main. */
static void pool_stop(void) {
  pthread_mutex_lock(&pool.mu);
  int n = pool.started;
  pool.stop = 1;
  pthread_cond_broadcast(&pool.cv);
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < n; i++)
    pthread_join(pool.th[i], NULL);
  pthread_mutex_lock(&pool.mu);
  pool.started = 0;
  pool.stop = 0;
  pthread_mutex_unlock(&pool.mu);
}

/* Starts the helpers for this scheduler if they are not running. Returns
 * 0, -ENOMEM or -EAGAIN. */
static int pool_start(void) {
  int rc = 0;
  pthread_mutex_lock(&pool.mu);
  if (!pool.started) {
    if (corun__sched_at_end(pool_stop) < 0) {
      rc = -ENOMEM;
    } else {
      for (int i = 0; i < HELPERS; i++) {
        if (pthread_create(&pool.th[i], NULL, helper, NULL) != 0)
          break;
        pool.started++;
      }
      if (!pool.started)
        rc = -EAGAIN;
    }
  }
  pthread_mutex_unlock(&pool.mu);
  return rc;
}

int corun__pool_call(struct corun__job *j, const char *reason,
                     int64_t deadline) {
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  if (!t)
    return err;
  if ((err = pool_start()) < 0)
    return err;
  j->next = NULL;
  j->done = j->abandoned = 0;
  corun__lock_init(&j->lock);
  corun__lock_acquire(&j->lock);
  j->task = t;
  corun__external_begin(); /* a helper thread will wake it: no deadlock */
  pthread_mutex_lock(&pool.mu);
  if (pool.tail)
    pool.tail->next = j;
  else
    pool.head = j;
  pool.tail = j;
  pthread_cond_signal(&pool.cv);
  pthread_mutex_unlock(&pool.mu);
  int rc = j->release
               ? corun__park(t, reason, corun__unlock_cb, &j->lock, deadline)
               : corun__park_nocancel(t, reason, corun__unlock_cb, &j->lock);
  corun__lock_acquire(&j->lock);
  while (!j->done && !j->release) { /* a cancel raced with the park */
    corun__park_nocancel(t, reason, corun__unlock_cb, &j->lock);
    corun__lock_acquire(&j->lock);
  }
  int done = j->done;
  j->task = NULL;
  if (!done)
    j->abandoned = 1; /* the helper releases it when it has run */
  corun__lock_release(&j->lock);
  corun__external_end();
  if (!done)
    return rc < 0 ? rc : -EINTR;
  return 0;
}

/* corun_offload's job: the caller's function. */
struct offload {
  struct corun__job job; /* first: the pool hands back the job */
  void (*fn)(void *);
  void *arg;
};

static void offload_run(struct corun__job *j) {
  struct offload *o = (struct offload *)j;
  o->fn(o->arg);
}

int corun_offload(void (*fn)(void *arg), void *arg) {
  if (!fn)
    return -EINVAL;
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  if (!t)
    return err;
  if (t->on_shared) { /* its memory may be swapped out while it waits */
    fn(arg);
    return 0;
  }
  struct offload o = {.job = {.run = offload_run}, .fn = fn, .arg = arg};
  return corun__pool_call(&o.job, "offload", -1);
}
