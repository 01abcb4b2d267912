/* sched/solo: the solo bias with two workers (src/sched/sched.h,
 * src/sched/solo.c). Once a worker has slept for CORUN__QUIET_NS, the
 * tasks' wait words and the channels' locks are biased to the other one,
 * whose thread then moves them with plain loads and stores; the sleeper,
 * when it wakes, revokes that bias (membarrier(2)) before it touches any.
 *  - handover: ROUNDS rounds. In each, the main task sleeps in steps of
 *    2 ms until the bias is its worker's (checked where membarrier(2) is
 *    there: corun__solo.bias holds that worker's key; at most 2 s), then
 *    starts PAIRS pairs of tasks that ping-pong over rendezvous channels
 *    and SENDERS tasks that send into one buffered channel that a
 *    collector drains. The spawns wake the other worker, which steals
 *    tasks and revokes the bias while the first one's tasks move words
 *    with plain stores. Every value must arrive once (counts and sums),
 *    and every round must end: a wake-up lost to a plain store that the
 *    revoker missed would leave a task parked (the deadlock report,
 *    -EDEADLK, or a hang).
 *  - foreign: the bias is a worker's; a thread that is not a worker sends
 *    into a channel that a task of that worker receives from. Every value
 *    arrives, and the bias is nobody's for the rest of the run, however
 *    long the other worker sleeps (such a thread cannot say when it is
 *    done with the words).
 * Where membarrier(2) is missing (Valgrind) nothing is biased: the same
 * is expected of the atomics, and the checks of `bias` are skipped.
 * CORUN_TEST_SCALE=<factor> scales the rounds (sanitizers: /10). */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "scale.h"
#include "sched/worker.h"
#include "t.h"

#define MS 1000000
#define PAIRS 3
#define SENDERS 3
#define TRIPS 2000 /* per pair */
#define SENDS 3000 /* per sender */

/* Whether this run biases at all (membarrier(2) registered). */
static int biasing(void) {
  return corun__bias_key_of(0) != CORUN__BIAS_NOKEY;
}

/* Sleeps until the bias is the calling task's worker's; 1 if it got
 * there (within 2 s), 0 where nothing is biased. */
static int wait_for_bias(void) {
  if (!biasing())
    return 0;
  for (int i = 0; i < 1000; i++) {
    T_OK(corun_sleep(2 * MS));
    struct corun__worker *w = corun__worker_self();
    if (atomic_load(&corun__solo.bias) == corun__bias_key_of(w->index))
      return 1;
  }
  T_FAIL_("%s", "the bias never came to the worker that runs alone");
  return 0;
}

struct pair {
  corun_chan *ping, *pong;
  int64_t sum; /* what the pinger got back */
};

static void *pinger(void *arg) {
  struct pair *p = arg;
  for (int64_t v = 1; v <= TRIPS; v++) {
    int64_t back;
    T_OK(corun_chan_send(p->ping, &v, -1));
    T_OK(corun_chan_recv(p->pong, &back, -1));
    T_EQ(back, v + 1);
    p->sum += back;
  }
  return NULL;
}

static void *ponger(void *arg) {
  struct pair *p = arg;
  for (int i = 0; i < TRIPS; i++) {
    int64_t v;
    T_OK(corun_chan_recv(p->ping, &v, -1));
    v++;
    T_OK(corun_chan_send(p->pong, &v, -1));
  }
  return NULL;
}

struct funnel {
  corun_chan *ch;
  int64_t got, sum;
};

static void *sender(void *arg) {
  struct funnel *f = arg;
  for (int64_t v = 1; v <= SENDS; v++)
    T_OK(corun_chan_send(f->ch, &v, -1));
  return NULL;
}

static void *collector(void *arg) {
  struct funnel *f = arg;
  for (int i = 0; i < SENDERS * SENDS; i++) {
    int64_t v;
    T_OK(corun_chan_recv(f->ch, &v, -1));
    f->got++;
    f->sum += v;
  }
  return NULL;
}

static void one_round(void) {
  struct pair p[PAIRS];
  struct funnel f = {NULL, 0, 0};
  corun_task *t[2 * PAIRS + SENDERS + 1];
  size_t n = 0;
  T_OK(corun_chan_make(&f.ch, sizeof(int64_t), 8));
  for (int i = 0; i < PAIRS; i++) {
    p[i].sum = 0;
    T_OK(corun_chan_make(&p[i].ping, sizeof(int64_t), 0));
    T_OK(corun_chan_make(&p[i].pong, sizeof(int64_t), 0));
  }
  wait_for_bias();
  /* Now this worker moves every word with plain stores, until the spawns
   * below wake the other one. */
  for (int i = 0; i < PAIRS; i++) {
    T_OK(corun_spawn(&t[n++], pinger, &p[i], NULL));
    T_OK(corun_spawn(&t[n++], ponger, &p[i], NULL));
  }
  T_OK(corun_spawn(&t[n++], collector, &f, NULL));
  for (int i = 0; i < SENDERS; i++)
    T_OK(corun_spawn(&t[n++], sender, &f, NULL));
  for (size_t i = 0; i < n; i++)
    T_OK(corun_join(t[i], NULL));
  const int64_t trips = TRIPS, sends = SENDS;
  for (int i = 0; i < PAIRS; i++) {
    T_EQ(p[i].sum, trips * (trips + 1) / 2 + trips);
    T_OK(corun_chan_free(p[i].ping));
    T_OK(corun_chan_free(p[i].pong));
  }
  T_EQ(f.got, SENDERS * sends);
  T_EQ(f.sum, SENDERS * (sends * (sends + 1) / 2));
  T_OK(corun_chan_free(f.ch));
}

static void *handover_main(void *arg) {
  int rounds = *(int *)arg;
  for (int r = 0; r < rounds; r++)
    one_round();
  return NULL;
}

static void handover(void) {
  int rounds = (int)scaled(30);
  corun_config cfg = {.workers = 2};
  T_OK(corun_main(handover_main, &rounds, &cfg));
}

static void *foreign_sender(void *arg) {
  corun_chan *ch = arg;
  for (int64_t v = 1; v <= SENDS; v++)
    while (corun_chan_send(ch, &v, 0) == -EAGAIN)
      sched_yield();
  return NULL;
}

static void *foreign_main(void *arg) {
  (void)arg;
  corun_chan *ch;
  T_OK(corun_chan_make(&ch, sizeof(int64_t), 4));
  int had_bias = wait_for_bias();
  pthread_t th;
  T_OK(pthread_create(&th, NULL, foreign_sender, ch));
  int64_t sum = 0;
  for (int i = 0; i < SENDS; i++) {
    int64_t v;
    int rc;
    /* (a deadline: the deadlock check cannot see the thread) */
    while ((rc = corun_chan_recv(ch, &v, corun_now() + 10 * MS)) == -ETIMEDOUT)
      ;
    T_OK(rc);
    sum += v;
  }
  T_OK(pthread_join(th, NULL));
  const int64_t sends = SENDS;
  T_EQ(sum, sends * (sends + 1) / 2);
  if (had_bias) {
    /* Both workers have slept long enough to hand the bias over since. */
    T_OK(corun_sleep(20 * MS));
    T_EQ(atomic_load(&corun__solo.bias), CORUN__BIAS_NONE);
  }
  T_OK(corun_chan_free(ch));
  return NULL;
}

static void foreign(void) {
  corun_config cfg = {.workers = 2};
  T_OK(corun_main(foreign_main, NULL, &cfg));
}

int main(void) {
  handover();
  foreign();
  return 0;
}
