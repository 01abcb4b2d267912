/* chan/bias: with one worker, a channel's lock follows the solo bias
 * (src/sync/blk.h, src/sched/solo.c): the worker's thread takes and
 * releases it with plain loads and stores, and any other thread revokes
 * the bias first. Every element must still arrive exactly once.
 *  - race_foreign: for each of many buffered channels, a task sends and
 *    receives in a loop (try operations) while a thread that is not a
 *    worker sends and receives on the same channel; a corun_main for
 *    every few channels, since the thread's first operation of a run
 *    revokes the bias (in the middle of the task's loop) and it is not
 *    biased again in that run; each side counts
 *    what it sent and received, the rest is drained at the end, and the
 *    sums must match; each element is 64 copies of its value, and none
 *    may come out torn. Without the revoker's fence the biased thread's
 *    store of "held" could still sit in its store buffer while the other
 *    thread took the lock: two of them in the ring at once, elements lost
 *    or doubled.
 *  - foreign_first: a thread that is not a worker takes a channel's lock
 *    before any task has (the bias ends for the run), then tasks use it.
 *  - across_runs: a channel biased by a 1-worker corun_main, then used
 *    by 2 workers, then by 1 again.
 *  - no_membarrier (last: the seccomp filter stays for the process): a
 *    thread that is not a worker selects over two channels, the first
 *    (by address, the lock order) unbiased, the second biased to the
 *    worker, after membarrier(2) has been denied; the worker's task
 *    meanwhile takes the first channel's lock in a loop. The select holds
 *    the first lock while it waits for the worker to make the fence of
 *    the second's revocation, and the worker, spinning on that first
 *    lock, never made it: a hang (a review's find). Skipped where seccomp
 *    cannot be set, and under qemu.
 * Where membarrier(2) is missing (Valgrind, some qemu) nothing is biased
 * and the same is expected of the plain lock.
 * CORUN_TEST_SCALE=<factor> scales the loops (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../sync/sync_test.h"
#include "deny.h"
#include "t.h"

#define CAP 4

struct tally {
  int64_t sent, sent_sum, got, got_sum;
};

/* The race's elements: WORDS copies of one value, so that the copy in
 * and out of the ring takes a while under the lock, and an element that
 * two threads wrote or read at once shows (torn). */
#define WORDS 64
struct elem {
  int64_t w[WORDS];
};

static int try_send_big(corun_chan *ch, int64_t v, struct tally *t) {
  struct elem e;
  for (int k = 0; k < WORDS; k++)
    e.w[k] = v;
  int rc = corun_chan_send(ch, &e, 0);
  if (rc == 0) {
    t->sent++;
    t->sent_sum += v;
  } else {
    T_EQ(rc, -EAGAIN);
  }
  return rc;
}

static int try_recv_big(corun_chan *ch, struct tally *t) {
  struct elem e;
  int rc = corun_chan_recv(ch, &e, 0);
  if (rc == 0) {
    for (int k = 1; k < WORDS; k++)
      T_EQ(e.w[k], e.w[0]);
    t->got++;
    t->got_sum += e.w[0];
  } else {
    T_EQ(rc, -EAGAIN);
  }
  return rc;
}

/* ---- race_foreign -------------------------------------------------------- */

struct race {
  long n;
  long from, to; /* this run's channels: ch[from .. to - 1] */
  corun_chan **ch;
  atomic_long started; /* the task is looping on ch[started - 1] */
  atomic_long taken;   /* the thread is done with ch[0 .. taken - 1] */
  struct tally task, thread;
};

static void *race_thread(void *arg) {
  struct race *r = arg;
  /* the thread's values: apart from the task's */
  int64_t v = ((int64_t)1 << 40) + 3 * r->from;
  for (long i = r->from; i < r->to; i++) {
    while (atomic_load(&r->started) <= i)
      sched_yield(); /* until the task loops on ch[i] */
    for (int k = 0; k < 3; k++) {
      while (try_send_big(r->ch[i], v, &r->thread) == -EAGAIN)
        sched_yield(); /* full: the task receives */
      v++;
      while (try_recv_big(r->ch[i], &r->thread) == -EAGAIN)
        sched_yield(); /* empty: the task sends */
    }
    atomic_store(&r->taken, i + 1);
  }
  return NULL;
}

static void *race_main(void *arg) {
  struct race *r = arg;
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, race_thread, r), 0);
  int64_t v = 1 + ((int64_t)1 << 20) * r->from;
  for (long i = r->from; i < r->to; i++) {
    long ops = 0;
    do {
      if (try_send_big(r->ch[i], v, &r->task) == 0)
        v++;
      try_recv_big(r->ch[i], &r->task);
      if (++ops == 1)
        atomic_store(&r->started, i + 1);
      if (ops % 4096 == 0)
        corun_yield(NULL); /* (nothing else to run: a look at IO) */
    } while (atomic_load_explicit(&r->taken, memory_order_relaxed) <= i);
  }
  T_EQ(pthread_join(th, NULL), 0);
  return NULL;
}

static void race_foreign(void) {
  struct race r = {.n = scaled(2000)};
  r.ch = calloc((size_t)r.n, sizeof *r.ch);
  T_TRUE(r.ch != NULL);
  for (long i = 0; i < r.n; i++)
    T_OK(corun_chan_make(&r.ch[i], sizeof(struct elem), CAP));
  corun_config cfg = {.workers = 1};
  const long per = 10; /* channels per run */
  for (r.from = 0; r.from < r.n; r.from += per) {
    r.to = r.from + per < r.n ? r.from + per : r.n;
    T_OK(corun_main(race_main, &r, &cfg));
  }
  struct tally rest = {0};
  for (long i = 0; i < r.n; i++) {
    while (try_recv_big(r.ch[i], &rest) == 0)
      ;
    T_EQ(corun_chan_len(r.ch[i]), 0);
    T_OK(corun_chan_free(r.ch[i]));
  }
  free(r.ch);
  T_EQ(r.thread.sent, 3 * r.n);
  T_EQ(r.thread.got, 3 * r.n);
  T_EQ(r.task.sent + r.thread.sent, r.task.got + r.thread.got + rest.got);
  T_EQ(r.task.sent_sum + r.thread.sent_sum,
       r.task.got_sum + r.thread.got_sum + rest.got_sum);
}

/* ---- foreign_first ------------------------------------------------------- */

static void *ping_back(void *arg) {
  corun_chan *ch = arg;
  int64_t v;
  T_OK(corun_chan_recv(ch, &v, -1));
  T_OK(corun_chan_send(ch, &v, -1));
  return NULL;
}

static void *first_main(void *arg) {
  corun_chan *ch = arg;
  int64_t v = 0;
  T_OK(corun_chan_recv(ch, &v, -1)); /* what the thread sent before */
  T_EQ(v, 41);
  corun_task *t;
  T_OK(corun_spawn(&t, ping_back, ch, NULL));
  v = 42;
  T_OK(corun_chan_send(ch, &v, -1));
  T_OK(corun_join(t, NULL));
  T_OK(corun_chan_recv(ch, &v, -1));
  T_EQ(v, 42);
  return NULL;
}

static void foreign_first(void) {
  corun_chan *ch;
  T_OK(corun_chan_make(&ch, sizeof(int64_t), 1));
  int64_t v = 41;
  T_OK(corun_chan_send(ch, &v, 0)); /* this thread is no worker */
  corun_config cfg = {.workers = 1};
  T_OK(corun_main(first_main, ch, &cfg));
  T_EQ(corun_chan_len(ch), 0);
  T_OK(corun_chan_free(ch));
}

/* ---- across_runs --------------------------------------------------------- */

enum { ACROSS = 20000 };

struct across {
  corun_chan *ch;
  int64_t sum;
};

static void *producer(void *arg) {
  struct across *a = arg;
  for (int64_t i = 1; i <= ACROSS; i++)
    T_OK(corun_chan_send(a->ch, &i, -1));
  return NULL;
}

static void *across_main(void *arg) {
  struct across *a = arg;
  corun_task *t;
  T_OK(corun_spawn(&t, producer, a, NULL));
  for (int i = 0; i < ACROSS; i++) {
    int64_t v;
    T_OK(corun_chan_recv(a->ch, &v, -1));
    a->sum += v;
  }
  T_OK(corun_join(t, NULL));
  return NULL;
}

static void across_runs(void) {
  struct across a = {0};
  T_OK(corun_chan_make(&a.ch, sizeof(int64_t), CAP));
  static const unsigned workers[] = {1, 2, 1};
  for (int k = 0; k < 3; k++) {
    a.sum = 0;
    corun_config cfg = {.workers = workers[k]};
    T_OK(corun_main(across_main, &a, &cfg));
    T_EQ(a.sum, (int64_t)ACROSS * (ACROSS + 1) / 2);
  }
  T_OK(corun_chan_free(a.ch));
}

/* ---- no_membarrier ------------------------------------------------------ */

/* Denies membarrier(2) to every thread of the process from now on; 0, or
 * -1 where it cannot be done. */
static int deny_membarrier(void) {
#ifdef __NR_membarrier
  return t_deny_syscall_all(__NR_membarrier, EPERM);
#else
  return -1;
#endif
}

struct nomb {
  corun_chan *lo, *hi; /* lo < hi: select locks lo first */
  atomic_int phase, done, denied;
};

static void *nomb_thread(void *arg) {
  struct nomb *b = arg;
  while (atomic_load(&b->phase) < 1)
    sched_yield();
  int64_t v;
  /* lo's bias goes while membarrier(2) still works */
  T_EQ(corun_chan_recv(b->lo, &v, 0), -EAGAIN);
  atomic_store(&b->denied, deny_membarrier() == 0);
  if (atomic_load(&b->denied)) {
    int64_t x, y;
    corun_case c[2] = {{.ch = b->lo, .op = CORUN_RECV, .elem = &x},
                       {.ch = b->hi, .op = CORUN_RECV, .elem = &y}};
    T_EQ(corun_select(c, 2, 0), -EAGAIN);
  }
  atomic_store(&b->done, 1);
  return NULL;
}

static void *nomb_main(void *arg) {
  struct nomb *b = arg;
  int64_t v;
  T_EQ(corun_chan_recv(b->hi, &v, 0), -EAGAIN); /* biased to this worker */
  T_EQ(corun_chan_recv(b->lo, &v, 0), -EAGAIN);
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, nomb_thread, b), 0);
  atomic_store(&b->phase, 1);
  while (!atomic_load(&b->done)) {
    (void)corun_chan_recv(b->lo, &v, 0); /* spins on lo's lock */
    corun_yield(NULL);
  }
  T_EQ(pthread_join(th, NULL), 0);
  return NULL;
}

static void no_membarrier(void) {
  struct nomb b = {0};
  T_OK(corun_chan_make(&b.lo, sizeof(int64_t), 1));
  T_OK(corun_chan_make(&b.hi, sizeof(int64_t), 1));
  if ((uintptr_t)b.lo > (uintptr_t)b.hi) {
    corun_chan *t = b.lo;
    b.lo = b.hi;
    b.hi = t;
  }
  alarm(60); /* a hang fails here rather than at ctest's timeout */
  corun_config cfg = {.workers = 1};
  T_OK(corun_main(nomb_main, &b, &cfg));
  alarm(0);
  if (!atomic_load(&b.denied))
    fprintf(stderr, "chan/bias: no_membarrier skipped (no seccomp here)\n");
  T_OK(corun_chan_free(b.lo));
  T_OK(corun_chan_free(b.hi));
}

int main(void) {
  foreign_first();
  across_runs();
  race_foreign();
  if (!t_under_valgrind()) /* (the filter would apply to Valgrind's own) */
    no_membarrier();
  return 0;
}
