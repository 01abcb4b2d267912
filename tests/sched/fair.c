/* sched/fair: a chain of tasks that wake each other cannot starve the
 * tasks queued behind it on the same worker.
 *
 * Two tasks ping-pong over rendezvous channels: each wakes the other and
 * parks, so each pick (or, from a park, the direct switch) finds the
 * partner first. Other tasks wait in the worker's queues meanwhile. With
 * one worker nobody steals them; they run only because every 61st pick
 * serves the queues in turn, each from its oldest task (sched.c, pick()).
 * The last of them records how many round trips had gone by; the pair
 * stops as soon as it has, or after ROUNDS.
 *  - runnext: the pair wakes each other into the worker's runnext slot,
 *    which each pick takes first; one task waits in the deque.
 *  - inbox: the pair is pinned (corun_pin) and runs under the debug
 *    shuffle, which readies a pinned task into its worker's inbox: the
 *    inbox, which pick_local takes before the deque, is never empty at a
 *    pick. Of the tasks spawned before, about half wait in the deque, the
 *    others on the global queue (the shuffle's coin). A deque behind such
 *    an inbox waited for good (the periodic turn took the inbox first, as
 *    pick_local does): tests/sync/mutex hung on it under TSan, where two
 *    pinned tasks whose 20 us deadlines kept expiring filled the inbox,
 *    and the mutex's owner waited in the deque. */
#include <corun.h>
#include <stdatomic.h>
#include <stdint.h>

#include "t.h"

#define ROUNDS 1000000L

struct pair {
  corun_chan *ping, *pong;
  int pinned;         /* the pair pins itself */
  atomic_long rounds; /* round trips done */
  atomic_int left;    /* waiting tasks that have not run yet */
  atomic_long seen;   /* rounds when the last waiting task ran, or -1 */
};

static void *pinger(void *p) {
  struct pair *a = p;
  if (a->pinned)
    T_EQ(corun_pin(1), 0);
  for (long i = 0; i < ROUNDS && atomic_load(&a->seen) < 0; i++) {
    int64_t v = i;
    T_EQ(corun_chan_send(a->ping, &v, -1), 0);
    T_EQ(corun_chan_recv(a->pong, &v, -1), 0);
    T_EQ(v, i);
    atomic_fetch_add(&a->rounds, 1);
  }
  int64_t stop = -1;
  T_EQ(corun_chan_send(a->ping, &stop, -1), 0);
  return NULL;
}

static void *ponger(void *p) {
  struct pair *a = p;
  if (a->pinned)
    T_EQ(corun_pin(1), 0);
  for (;;) {
    int64_t v;
    T_EQ(corun_chan_recv(a->ping, &v, -1), 0);
    if (v < 0)
      return NULL;
    T_EQ(corun_chan_send(a->pong, &v, -1), 0);
  }
}

static void *waiting(void *p) {
  struct pair *a = p;
  if (atomic_fetch_sub(&a->left, 1) == 1)
    atomic_store(&a->seen, atomic_load(&a->rounds));
  return NULL;
}

enum { MAX_WAITING = 16 };

/* arg: the number of waiting tasks; pinned pair if it is above 1. */
static void *main_task(void *arg) {
  int nwait = (int)(intptr_t)arg;
  struct pair a;
  T_EQ(corun_chan_make(&a.ping, sizeof(int64_t), 0), 0);
  T_EQ(corun_chan_make(&a.pong, sizeof(int64_t), 0), 0);
  a.pinned = nwait > 1;
  atomic_init(&a.rounds, 0);
  atomic_init(&a.left, nwait);
  atomic_init(&a.seen, -1);
  /* Spawned in this order (runnext), a waiting task is pushed out of
   * runnext into the deque by the next spawn, the pinger by the ponger:
   * the ponger runs first (runnext), parks, and the pinger comes from
   * the deque's newest end; from then on the pair's wake-ups fill
   * runnext (or, pinned, the inbox). */
  corun_task *t[MAX_WAITING + 2];
  for (int i = 0; i < nwait; i++)
    T_EQ(corun_spawn(&t[i], waiting, &a, NULL), 0);
  T_EQ(corun_spawn(&t[nwait], pinger, &a, NULL), 0);
  T_EQ(corun_spawn(&t[nwait + 1], ponger, &a, NULL), 0);
  for (int i = 0; i < nwait + 2; i++)
    T_EQ(corun_join(t[i], NULL), 0);
  /* They ran while the pair was going, after a bounded number of round
   * trips (one pick in 61 serves a queue's oldest task, each queue in
   * turn; each round trip is two picks). */
  T_GE(atomic_load(&a.seen), 0);
  T_LT(atomic_load(&a.seen), 1000 * nwait);
  T_EQ(corun_chan_free(a.ping), 0);
  T_EQ(corun_chan_free(a.pong), 0);
  return NULL;
}

int main(void) {
  corun_config cfg = {.workers = 1};
  T_EQ(corun_main(main_task, (void *)(intptr_t)1, &cfg), 0);
  corun_config shuffled = {.workers = 1, .shuffle = 1};
  T_EQ(corun_main(main_task, (void *)(intptr_t)MAX_WAITING, &shuffled), 0);
  return 0;
}
