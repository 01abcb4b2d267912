/* cond.c: corun_cond: errors (also outside a task), signal wakes the longest
 * waiter (FIFO) and only one, broadcast wakes all, signals are not
 * remembered, timeouts (the mutex is held again on every return), cancel
 * while waiting, cancel while the mutex to re-lock is held by another task
 * (the re-lock ignores the cancel and keeps its FIFO turn), cancel while
 * re-locking after a signal, free while busy (also while a dropped waiter
 * still has to come back), and a bounded buffer with several producers and
 * consumers. Each scheduler run is repeated with 1, 2 and 4 workers and once
 * shuffled.
 * CORUN_TEST_SCALE=<factor> scales the stress part (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "sched/sched.h"
#include "sync_test.h"
#include "t.h"

/* m is held by the caller exactly once: unlock works, a second fails. */
static void check_held_and_unlock(corun_mutex *m) {
  T_OK(corun_mutex_unlock(m));
  T_EQ(corun_mutex_unlock(m), -EPERM);
}

/* ---- waiters that record the order they return in ----------------------- */

enum { N = 6 };

struct shared {
  corun_mutex *m;
  corun_cond *c;
  atomic_int entered; /* waiters that reached their wait */
  int order[N + 2];
  int n;      /* under m */
  int inside; /* under m: tasks between lock and unlock */
};

struct warg {
  struct shared *s;
  int id;
  int64_t deadline;
};

static void *waiter(void *arg) {
  struct warg *a = arg;
  struct shared *s = a->s;
  T_OK(corun_mutex_lock(s->m, -1));
  T_EQ(s->inside++, 0);
  atomic_fetch_add(&s->entered, 1);
  s->inside--;
  int rc = corun_cond_wait(s->c, s->m, a->deadline);
  /* Whatever rc, m is ours again. */
  T_EQ(s->inside++, 0);
  s->order[s->n++] = a->id;
  corun_yield(NULL); /* hold it a while: nobody else may come in */
  s->inside--;
  T_OK(corun_mutex_unlock(s->m));
  return (void *)(intptr_t)rc;
}

/* Spawns waiter i and returns once it waits on the condition. */
static void spawn_waiter(corun_task **t, struct warg *a, struct shared *s,
                         int id, int64_t deadline) {
  *a = (struct warg){s, id, deadline};
  int before = atomic_load(&s->entered);
  T_OK(corun_spawn(t, waiter, a, NULL));
  while (atomic_load(&s->entered) == before)
    corun_yield(NULL);
  wait_parked(*t); /* the next park after `entered` is the wait's */
}

static int count(struct shared *s) {
  T_OK(corun_mutex_lock(s->m, -1));
  int n = s->n;
  T_OK(corun_mutex_unlock(s->m));
  return n;
}

static void signal_fifo_broadcast(void) {
  struct shared s = {.n = 0};
  atomic_init(&s.entered, 0);
  T_OK(corun_mutex_make(&s.m));
  T_OK(corun_cond_make(&s.c));
  corun_task *t[N];
  struct warg a[N];

  /* Signal: one waiter at a time, the longest first. */
  for (int i = 0; i < N; i++)
    spawn_waiter(&t[i], &a[i], &s, i, -1);
  T_EQ(corun_cond_free(s.c), -EBUSY);
  for (int i = 0; i < N; i++) {
    T_OK(corun_mutex_lock(s.m, -1));
    T_OK(corun_cond_signal(s.c));
    T_OK(corun_mutex_unlock(s.m));
    while (count(&s) < i + 1)
      corun_yield(NULL);
    corun_sleep(MS / 2); /* time for a wrongly woken second one to show */
    T_EQ(count(&s), i + 1);
  }
  for (int i = 0; i < N; i++) {
    T_PTR_EQ(join_rc(t[i]), NULL);
    T_EQ(s.order[i], i);
  }

  /* Broadcast: all of them, each returning with m held (inside). */
  s.n = 0;
  for (int i = 0; i < N; i++)
    spawn_waiter(&t[i], &a[i], &s, i, -1);
  T_OK(corun_mutex_lock(s.m, -1));
  T_OK(corun_cond_broadcast(s.c));
  T_OK(corun_mutex_unlock(s.m));
  for (int i = 0; i < N; i++)
    T_PTR_EQ(join_rc(t[i]), NULL);
  T_EQ(s.n, N); /* (they race for m again: any order) */

  /* Nobody waits: a signal or broadcast is not remembered. */
  T_OK(corun_cond_signal(s.c));
  T_OK(corun_cond_broadcast(s.c));
  T_OK(corun_mutex_lock(s.m, -1));
  T_EQ(corun_cond_wait(s.c, s.m, corun_now() + 5 * MS), -ETIMEDOUT);
  check_held_and_unlock(s.m);

  /* A timed-out waiter among signalled ones is skipped by the signal. */
  s.n = 0;
  spawn_waiter(&t[0], &a[0], &s, 0, corun_now() + 10 * MS);
  spawn_waiter(&t[1], &a[1], &s, 1, -1);
  T_EQ((intptr_t)join_rc(t[0]), -ETIMEDOUT);
  T_OK(corun_cond_signal(s.c));
  T_PTR_EQ(join_rc(t[1]), NULL);
  T_EQ(s.n, 2);

  T_OK(corun_cond_free(s.c));
  T_OK(corun_mutex_free(s.m));
}

/* ---- timeouts, cancel, misuse ----------------------------------------- */

static void *cancelled_wait(void *arg) {
  struct shared *s = arg;
  T_OK(corun_mutex_lock(s->m, -1));
  atomic_fetch_add(&s->entered, 1);
  int rc = corun_cond_wait(s->c, s->m, -1);
  T_EQ(corun_mutex_lock(s->m, 0), -EAGAIN); /* held (by us) */
  s->order[s->n++] = 100;
  T_OK(corun_mutex_unlock(s->m));
  T_EQ(corun_sleep(1), -ECANCELED); /* the cancel still holds */
  return (void *)(intptr_t)rc;
}

static void *in_coroutine(void *arg) {
  struct shared *s = arg;
  return (void *)(intptr_t)corun_cond_wait(s->c, s->m, -1);
}

static void timeouts_cancel(void) {
  struct shared s = {.n = 0};
  atomic_init(&s.entered, 0);
  T_OK(corun_mutex_make(&s.m));
  T_OK(corun_cond_make(&s.c));

  T_EQ(corun_cond_wait(s.c, s.m, -1), -EPERM); /* m not held */
  T_OK(corun_mutex_lock(s.m, -1));
  T_EQ(corun_cond_wait(NULL, s.m, -1), -EINVAL);
  T_EQ(corun_cond_wait(s.c, NULL, -1), -EINVAL);
  /* deadline 0: over at once, m still held. */
  T_EQ(corun_cond_wait(s.c, s.m, 0), -ETIMEDOUT);
  T_EQ(corun_mutex_lock(s.m, 0), -EAGAIN);
  /* A 20 ms deadline, and one in the past. */
  int64_t t0 = corun_now();
  T_EQ(corun_cond_wait(s.c, s.m, t0 + 20 * MS), -ETIMEDOUT);
  T_GE(corun_now() - t0, 20 * MS);
  T_EQ(corun_mutex_lock(s.m, 0), -EAGAIN);
  T_EQ(corun_cond_wait(s.c, s.m, corun_now() - 1), -ETIMEDOUT);
  /* From a coroutine a task resumed: -EPERM, m untouched. */
  corun_coro *co;
  T_OK(corun_create(&co, in_coroutine, &s, NULL));
  void *out = NULL;
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_EQ((intptr_t)out, -EPERM);
  T_OK(corun_destroy(co));
  check_held_and_unlock(s.m);

  /* Cancel while waiting, m free: -ECANCELED with m held. */
  corun_task *t, *u;
  struct warg a;
  spawn_waiter(&t, &a, &s, 0, -1);
  T_OK(corun_cancel(t));
  T_EQ((intptr_t)join_rc(t), -ECANCELED);
  T_EQ(s.n, 1);

  /* Cancel while waiting, m held by us with another task queued on it:
   * the cancelled task cannot park, yet it must not return without m, and
   * it takes m in its FIFO turn (after u). */
  s.n = 0;
  int before = atomic_load(&s.entered);
  T_OK(corun_spawn(&t, cancelled_wait, &s, NULL));
  while (atomic_load(&s.entered) == before)
    corun_yield(NULL);
  wait_parked(t);
  T_OK(corun_mutex_lock(s.m, -1));
  struct warg ua = {&s, 7, -1};
  T_OK(corun_spawn(&u, waiter, &ua, NULL)); /* queues on m */
  wait_parked(u);
  T_OK(corun_cancel(t));
  corun_sleep(2 * MS); /* t is woken; it must still be waiting for m */
  T_EQ(s.n, 0);
  T_OK(corun_mutex_unlock(s.m));
  /* u got m first and waits on c now (that released m to t). */
  T_EQ((intptr_t)join_rc(t), -ECANCELED);
  T_EQ(s.n, 1);
  T_EQ(s.order[0], 100);
  T_OK(corun_cond_signal(s.c));
  T_PTR_EQ(join_rc(u), NULL);

  /* Signalled, then cancelled while parked for the re-lock: the wait
   * succeeded (0), and the task still returns with m held. */
  s.n = 0;
  before = atomic_load(&s.entered);
  T_OK(corun_spawn(&t, cancelled_wait, &s, NULL));
  while (atomic_load(&s.entered) == before)
    corun_yield(NULL);
  wait_parked(t);
  T_OK(corun_mutex_lock(s.m, -1));
  T_OK(corun_cond_signal(s.c)); /* claims t: not PARKED until it re-parks */
  wait_parked(t);               /* now parked on m */
  T_OK(corun_cancel(t));
  corun_sleep(2 * MS);
  T_EQ(s.n, 0);
  T_OK(corun_mutex_unlock(s.m));
  T_PTR_EQ(join_rc(t), NULL);
  T_EQ(s.n, 1);

  T_OK(corun_cond_free(s.c));
  T_OK(corun_mutex_free(s.m));
}

/* ---- bounded buffer: many producers and consumers ------------------------ */

enum { CAP = 4, PRODUCERS = 4, CONSUMERS = 3 };

struct buffer {
  corun_mutex *m;
  corun_cond *not_full, *not_empty;
  long items[CAP];
  int head, len;
  int producers_left;
  long per_producer;
  long sum, received; /* under m */
};

static void *producer(void *arg) {
  struct buffer *b = arg;
  for (long i = 1; i <= b->per_producer; i++) {
    T_OK(corun_mutex_lock(b->m, -1));
    while (b->len == CAP) {
      /* Some waits with a deadline: a timeout just goes round again. */
      int64_t dl = i % 5 == 0 ? corun_now() + MS : -1;
      int rc = corun_cond_wait(b->not_full, b->m, dl);
      T_TRUE(rc == 0 || (dl > 0 && rc == -ETIMEDOUT));
    }
    b->items[(b->head + b->len++) % CAP] = i;
    T_OK(corun_cond_signal(b->not_empty));
    T_OK(corun_mutex_unlock(b->m));
  }
  T_OK(corun_mutex_lock(b->m, -1));
  if (--b->producers_left == 0)
    T_OK(corun_cond_broadcast(b->not_empty));
  T_OK(corun_mutex_unlock(b->m));
  return NULL;
}

static void *consumer(void *arg) {
  struct buffer *b = arg;
  for (;;) {
    T_OK(corun_mutex_lock(b->m, -1));
    while (b->len == 0 && b->producers_left > 0)
      T_OK(corun_cond_wait(b->not_empty, b->m, -1));
    if (b->len == 0) {
      T_OK(corun_mutex_unlock(b->m));
      return NULL;
    }
    b->sum += b->items[b->head];
    b->head = (b->head + 1) % CAP;
    b->len--;
    b->received++;
    T_OK(corun_cond_signal(b->not_full));
    T_OK(corun_mutex_unlock(b->m));
  }
}

static void bounded_buffer(void) {
  struct buffer b = {.producers_left = PRODUCERS,
                     .per_producer = scaled(20000)};
  T_OK(corun_mutex_make(&b.m));
  T_OK(corun_cond_make(&b.not_full));
  T_OK(corun_cond_make(&b.not_empty));
  corun_task *t[PRODUCERS + CONSUMERS];
  for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
    T_OK(corun_spawn(&t[i], i < PRODUCERS ? producer : consumer, &b, NULL));
  for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
    T_PTR_EQ(join_rc(t[i]), NULL);
  long n = b.per_producer;
  T_EQ(b.received, PRODUCERS * n);
  T_EQ(b.sum, PRODUCERS * (n * (n + 1) / 2));
  T_OK(corun_cond_free(b.not_full));
  T_OK(corun_cond_free(b.not_empty));
  T_OK(corun_mutex_free(b.m));
}

/* A waiter whose park a cancel claimed, dropped by a signal before it ran
 * again, still has to come back to the condition's lock: free must wait
 * for it (1 worker: it cannot have run yet, so -EBUSY for sure). */
static void free_after_drop(int one_worker) {
  struct shared s = {.n = 0};
  atomic_init(&s.entered, 0);
  T_OK(corun_mutex_make(&s.m));
  T_OK(corun_cond_make(&s.c));
  corun_task *t;
  struct warg a;
  spawn_waiter(&t, &a, &s, 0, -1);
  T_OK(corun_cancel(t));        /* t is readied, not run */
  T_OK(corun_cond_signal(s.c)); /* drops t's waiter */
  int rc = corun_cond_free(s.c);
  T_TRUE(rc == -EBUSY || (rc == 0 && !one_worker));
  T_EQ((intptr_t)join_rc(t), -ECANCELED);
  if (rc == -EBUSY)
    T_OK(corun_cond_free(s.c));
  T_OK(corun_mutex_free(s.m));
}

static void *main_task(void *arg) {
  const corun_config *cfg = arg;
  free_after_drop(cfg->workers == 1);
  timeouts_cancel();
  signal_fifo_broadcast();
  bounded_buffer();
  return NULL;
}

static void outside(void) {
  corun_cond *c;
  corun_mutex *m;
  T_EQ(corun_cond_make(NULL), -EINVAL);
  T_EQ(corun_cond_free(NULL), -EINVAL);
  T_EQ(corun_cond_signal(NULL), -EINVAL);
  T_EQ(corun_cond_broadcast(NULL), -EINVAL);
  c = NULL;
  corun__alloc_fail_after(0);
  T_EQ(corun_cond_make(&c), -ENOMEM);
  corun__alloc_fail_after(-1);
  T_PTR_EQ(c, NULL); /* untouched on failure */
  T_OK(corun_cond_make(&c));
  T_OK(corun_mutex_make(&m));
  T_EQ(corun_cond_wait(NULL, m, -1), -EINVAL);
  T_EQ(corun_cond_wait(c, NULL, -1), -EINVAL);
  T_OK(corun_mutex_lock(m, -1));
  T_EQ(corun_cond_wait(c, m, -1), -EPERM);
  T_EQ(corun_cond_wait(c, m, 0), -EPERM);
  check_held_and_unlock(m); /* the failed wait left m alone */
  T_OK(corun_cond_signal(c));
  T_OK(corun_cond_broadcast(c));
  T_OK(corun_cond_free(c));
  T_OK(corun_mutex_free(m));
}

int main(void) {
  outside();
  run_all_configs(main_task);
  return 0;
}
