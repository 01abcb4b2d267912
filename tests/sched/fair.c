/* sched/fair: a chain of tasks that wake each other cannot starve the
 * tasks queued behind it on the same worker.
 *
 * Two tasks ping-pong over rendezvous channels: each wakes the other into
 * its worker's runnext slot and parks, so each pick (or, from a park, the
 * direct switch) finds the partner first. A third task waits in the
 * worker's deque meanwhile. With one worker nobody steals it; it runs
 * only because every 61st pick serves the queues behind runnext first
 * (sched.c, pick()). It records how many round trips had gone by; the
 * pair stops as soon as it has run, or after ROUNDS. */
#include <corun.h>
#include <stdatomic.h>
#include <stdint.h>

#include "t.h"

#define ROUNDS 1000000L

struct pair {
  corun_chan *ping, *pong;
  atomic_long rounds; /* round trips done */
  atomic_long seen;   /* rounds when the waiting task ran, or -1 */
};

static void *pinger(void *p) {
  struct pair *a = p;
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
  atomic_store(&a->seen, atomic_load(&a->rounds));
  return NULL;
}

static void *main_task(void *arg) {
  (void)arg;
  struct pair a;
  T_EQ(corun_chan_make(&a.ping, sizeof(int64_t), 0), 0);
  T_EQ(corun_chan_make(&a.pong, sizeof(int64_t), 0), 0);
  atomic_init(&a.rounds, 0);
  atomic_init(&a.seen, -1);
  /* Spawned in this order, the waiting task is pushed out of runnext
   * into the deque by the pinger, and the pinger by the ponger: the
   * ponger runs first (runnext), parks, and the pinger comes from the
   * deque's newest end; from then on the pair's wake-ups fill runnext. */
  corun_task *t[3];
  T_EQ(corun_spawn(&t[0], waiting, &a, NULL), 0);
  T_EQ(corun_spawn(&t[1], pinger, &a, NULL), 0);
  T_EQ(corun_spawn(&t[2], ponger, &a, NULL), 0);
  for (int i = 0; i < 3; i++)
    T_EQ(corun_join(t[i], NULL), 0);
  /* It ran while the pair was going, after a handful of round trips
   * (one pick in 61 serves the queues; each round trip is two picks). */
  T_GE(atomic_load(&a.seen), 0);
  T_LT(atomic_load(&a.seen), 1000);
  T_EQ(corun_chan_free(a.ping), 0);
  T_EQ(corun_chan_free(a.pong), 0);
  return NULL;
}

int main(void) {
  corun_config cfg = {.workers = 1};
  T_EQ(corun_main(main_task, NULL, &cfg), 0);
  return 0;
}
