/* pool.c: helper threads for calls that block in the kernel and have no
 * readiness to wait for: name resolution (tcp.c), regular-file reads and
 * writes (io.c: all of them with the epoll backend, those at the file
 * position with io_uring), and corun_offload. A task hands a
 * job to the pool and parks until a helper has run it, so a worker never
 * blocks. The pool grows as jobs come: a job that finds no idle helper
 * starts one, up to HELPERS_MAX, so jobs that block for long (a slow
 * resolver, an offloaded call waiting for another one) do not queue
 * behind each other. Helpers sleep on a condition variable when idle and
 * stop when the corun_main that started them ends.
 * Layer: io (uses base, sched).
 *
 * corun_offload runs a caller's function there the same way.
 *
 * A job that only writes memory of its own (a lookup's answer) may be
 * abandoned by its task at a deadline or a cancel: the helper frees it
 * when it is done. A job that writes the task's memory (a read into the
 * caller's buffer) is waited for to the end, whatever happens meanwhile.
 *
 * A job still in line may be withdrawn (corun__pool_withdraw): it then
 * never runs, and its task gets the job's withdrawn answer at once. So a
 * regular file's corun_close does not wait behind the calls queued before
 * a job of its fd (io.c).
 *
 * Locking: the queue under `pool.mu` (a job's admit runs under it, and
 * may take an fd record's lock: never the other way round); a job's
 * completion under its own lock, through park/unpark (the helper claims
 * the parked task). */
#include <errno.h>
#include <pthread.h>

#include "io/io.h"
#include "sched/sched.h"

/* Helpers running at most; more jobs wait in line for one. */
#define HELPERS_MAX 64

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct corun__job *head, *tail;
  int queued;  /* jobs in the line */
  int idle;    /* helpers waiting for a job */
  int started; /* helpers running */
  int stop;    /* the scheduler ended: helpers finish the queue and exit */
  pthread_t th[HELPERS_MAX];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* j has run (or was withdrawn): its task gets the answer, or the job is
 * freed if its task gave up. */
static void finish(struct corun__job *j) {
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

static void *helper(void *unused) {
  (void)unused;
  for (;;) {
    pthread_mutex_lock(&pool.mu);
    while (!pool.head && !pool.stop) {
      pool.idle++;
      pthread_cond_wait(&pool.cv, &pool.mu);
      pool.idle--;
    }
    struct corun__job *j = pool.head;
    if (!j) { /* stopping, nothing left */
      pthread_mutex_unlock(&pool.mu);
      return NULL;
    }
    pool.head = j->next;
    if (!pool.head)
      pool.tail = NULL;
    pool.queued--;
    pthread_mutex_unlock(&pool.mu);
    j->run(j);
    finish(j);
  }
}

int corun__pool_withdraw(int (*match)(struct corun__job *, void *), void *arg) {
  struct corun__job *taken = NULL, **link = &pool.head, *prev = NULL;
  int n = 0;
  pthread_mutex_lock(&pool.mu);
  while (*link) {
    struct corun__job *j = *link;
    if (!j->withdrawn || !match(j, arg)) {
      prev = j;
      link = &j->next;
      continue;
    }
    *link = j->next; /* out of the line */
    if (pool.tail == j)
      pool.tail = prev;
    pool.queued--;
    j->next = taken;
    taken = j;
    n++;
  }
  pthread_mutex_unlock(&pool.mu);
  while (taken) {
    struct corun__job *j = taken;
    taken = j->next;
    j->withdrawn(j);
    finish(j);
  }
  return n;
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
  pool.stop = 0; /* (queued and idle are 0: every helper took its job) */
  pthread_mutex_unlock(&pool.mu);
}

/* Under pool.mu, before a job is queued: makes sure a helper will take
 * it, an idle one that no queued job is waiting for, or a new one while
 * fewer than HELPERS_MAX run (at the scheduler's first job, the pool's
 * end is registered too). Returns 0, -ENOMEM or -EAGAIN (no helper at all
 * could start). */
static int pool_grow(void) {
  if (!pool.started && corun__sched_at_end(pool_stop) < 0)
    return -ENOMEM;
  if (pool.queued < pool.idle || pool.started == HELPERS_MAX)
    return 0;
  if (pthread_create(&pool.th[pool.started], NULL, helper, NULL) != 0)
    return pool.started ? 0 : -EAGAIN; /* the running ones get to it */
  pool.started++;
  return 0;
}

int corun__pool_call(struct corun__job *j, const char *reason,
                     int64_t deadline) {
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  if (!t)
    return err;
  j->next = NULL;
  j->done = j->abandoned = 0;
  corun__lock_init(&j->lock);
  corun__lock_acquire(&j->lock);
  j->task = t;
  pthread_mutex_lock(&pool.mu);
  if ((err = pool_grow()) < 0 || (j->admit && (err = j->admit(j)) < 0)) {
    pthread_mutex_unlock(&pool.mu);
    corun__lock_release(&j->lock);
    return err;
  }
  corun__external_begin(); /* a helper thread will wake it: no deadlock */
  if (pool.tail)
    pool.tail->next = j;
  else
    pool.head = j;
  pool.tail = j;
  pool.queued++;
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
  /* Not done: the park ended at its deadline or a cancel (nothing else
   * wakes it before the helper's answer), and the job is the helper's to
   * release. Whatever rc says, the caller is told one of the two codes
   * after which it must not free the job (io.h). */
  if (!done)
    return rc == -ETIMEDOUT ? rc : -ECANCELED;
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
  if (t->shared) { /* its memory may be swapped out while it waits */
    fn(arg);
    return 0;
  }
  struct offload o = {.job = {.run = offload_run}, .fn = fn, .arg = arg};
  return corun__pool_call(&o.job, "offload", -1);
}
