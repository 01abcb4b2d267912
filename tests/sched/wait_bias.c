/* sched/wait_bias: with one worker, every task's wait word is biased to
 * the worker thread (src/sched/sched.h, corun__wait_cas): that thread
 * moves it with plain loads and stores, and any other thread revokes the
 * bias before it claims a park or looks at one for a cancel. Each case
 * runs many one-worker corun_mains, so that the revocation, the first
 * foreign claim of each run, lands at many points of the worker's
 * ping-pong.
 *  - foreign_cancel: two tasks ping-pong over two rendezvous channels
 *    until a thread that is not a worker cancels both, after a number of
 *    round trips that changes from run to run. Both must end with
 *    -ECANCELED. A cancel lost between the worker's plain store of PARKED
 *    and its look at `cancelled` (the handshake of corun_cancel, park.c)
 *    would leave a task parked for ever: the run would end in the deadlock
 *    report, -EDEADLK.
 *  - foreign_wake: a task receives on a rendezvous channel, which a thread
 *    that is not a worker feeds with non-blocking sends (each one a claim
 *    of the task's park from that thread), while two other tasks
 *    ping-pong on the worker. Every value must arrive once.
 * Where membarrier(2) is missing (Valgrind) nothing is biased and the same
 * is expected of the compare-and-swaps.
 * CORUN_TEST_SCALE=<factor> scales the runs (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "scale.h"
#include "t.h"

struct pair {
  corun_chan *ping, *pong;
  atomic_long rounds; /* round trips made by the pinger */
  int rc_pinger, rc_ponger;
};

/* One side of the ping-pong: the pinger sends on ping and receives on
 * pong, the ponger the other way round; each stops at its first error. */
static void play(struct pair *p, int ping) {
  for (int64_t v = 0;; v++) {
    int rc = ping ? corun_chan_send(p->ping, &v, -1)
                  : corun_chan_recv(p->ping, &v, -1);
    if (rc == 0)
      rc = ping ? corun_chan_recv(p->pong, &v, -1)
                : corun_chan_send(p->pong, &v, -1);
    if (rc < 0) {
      *(ping ? &p->rc_pinger : &p->rc_ponger) = rc;
      return;
    }
    if (ping)
      atomic_fetch_add_explicit(&p->rounds, 1, memory_order_relaxed);
  }
}

static void *pinger(void *arg) {
  play(arg, 1);
  return NULL;
}

static void *ponger(void *arg) {
  play(arg, 0);
  return NULL;
}

static void pair_make(struct pair *p) {
  T_OK(corun_chan_make(&p->ping, sizeof(int64_t), 0));
  T_OK(corun_chan_make(&p->pong, sizeof(int64_t), 0));
  atomic_init(&p->rounds, 0);
  p->rc_pinger = p->rc_ponger = 0;
}

static void pair_free(struct pair *p) {
  T_OK(corun_chan_free(p->ping));
  T_OK(corun_chan_free(p->pong));
}

/* ---- foreign_cancel ------------------------------------------------------ */

struct cancel_run {
  struct pair p;
  corun_task *a, *b;
  long after;      /* round trips before the cancels */
  atomic_int done; /* the canceller has made both */
};

static void *canceller(void *arg) {
  struct cancel_run *r = arg;
  while (atomic_load_explicit(&r->p.rounds, memory_order_relaxed) < r->after)
    sched_yield();
  T_OK(corun_cancel(r->a));
  T_OK(corun_cancel(r->b));
  atomic_store(&r->done, 1);
  return NULL;
}

/* Keeps the worker busy until both cancels are made. Between the first
 * cancel and the second, both tasks may be parked with nothing in the
 * scheduler to wake them: without this task the run could end in the
 * deadlock report (corun_main's -EDEADLK, which does not know of threads
 * outside the scheduler) before the second cancel came. */
static void *spinner(void *arg) {
  struct cancel_run *r = arg;
  while (!atomic_load(&r->done))
    corun_yield(NULL);
  return NULL;
}

static void *cancel_main(void *arg) {
  struct cancel_run *r = arg;
  corun_task *s;
  T_OK(corun_spawn(&r->a, pinger, &r->p, NULL));
  T_OK(corun_spawn(&r->b, ponger, &r->p, NULL));
  T_OK(corun_spawn(&s, spinner, r, NULL));
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, canceller, r), 0);
  T_OK(corun_join(s, NULL));
  T_OK(corun_join(r->a, NULL)); /* a lost cancel: -EDEADLK from corun_main */
  T_OK(corun_join(r->b, NULL));
  T_EQ(pthread_join(th, NULL), 0);
  return NULL;
}

static void foreign_cancel(void) {
  long runs = scaled(100);
  for (long i = 0; i < runs; i++) {
    struct cancel_run r = {.after = (i * 7919) % 3000, .done = 0};
    pair_make(&r.p);
    corun_config cfg = {.workers = 1};
    T_OK(corun_main(cancel_main, &r, &cfg));
    T_EQ(r.p.rc_pinger, -ECANCELED);
    T_EQ(r.p.rc_ponger, -ECANCELED);
    pair_free(&r.p);
  }
}

/* ---- foreign_wake -------------------------------------------------------- */

enum { WAKES = 200 };

struct wake_run {
  corun_chan *ch;
  struct pair p;
  int64_t got_sum;
  long got;
};

static void *feeder(void *arg) {
  struct wake_run *r = arg;
  for (int64_t v = 1; v <= WAKES; v++)
    while (corun_chan_send(r->ch, &v, 0) == -EAGAIN)
      sched_yield(); /* until the receiver is parked on ch */
  return NULL;
}

static void *receiver(void *arg) {
  struct wake_run *r = arg;
  for (int i = 0; i < WAKES; i++) {
    int64_t v;
    T_OK(corun_chan_recv(r->ch, &v, -1));
    r->got++;
    r->got_sum += v;
  }
  return NULL;
}

static void *wake_main(void *arg) {
  struct wake_run *r = arg;
  corun_task *rt, *a, *b;
  T_OK(corun_spawn(&a, pinger, &r->p, NULL));
  T_OK(corun_spawn(&b, ponger, &r->p, NULL));
  T_OK(corun_spawn(&rt, receiver, r, NULL));
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, feeder, r), 0);
  T_OK(corun_join(rt, NULL));
  T_EQ(pthread_join(th, NULL), 0);
  T_OK(corun_cancel(a)); /* the ping-pong only kept the worker busy */
  T_OK(corun_cancel(b));
  T_OK(corun_join(a, NULL));
  T_OK(corun_join(b, NULL));
  return NULL;
}

static void foreign_wake(void) {
  long runs = scaled(50);
  for (long i = 0; i < runs; i++) {
    struct wake_run r = {0};
    T_OK(corun_chan_make(&r.ch, sizeof(int64_t), 0));
    pair_make(&r.p);
    corun_config cfg = {.workers = 1};
    T_OK(corun_main(wake_main, &r, &cfg));
    T_EQ(r.got, WAKES);
    T_EQ(r.got_sum, (int64_t)WAKES * (WAKES + 1) / 2);
    pair_free(&r.p);
    T_OK(corun_chan_free(r.ch));
  }
}

int main(void) {
  foreign_cancel();
  foreign_wake();
  return 0;
}
