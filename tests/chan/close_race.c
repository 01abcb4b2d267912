/* close_race.c: closing a channel while senders, receivers and selects on
 * other workers are in flight. Every send returns 0 or -EPIPE, every
 * receive a value or -EPIPE, and the values received are exactly the ones
 * whose send returned 0 (none lost, none invented), for buffered and
 * rendezvous channels, over many rounds. Also: join/cancel races, a task
 * cancelled at a random moment of its life is always joined normally. */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>

#include "t.h"

#define SENDERS 4
#define RECEIVERS 4
#define PER_SENDER 200

struct round {
  corun_chan *ch;
  atomic_long sent_sum, sent_n, recv_sum, recv_n;
};

static void *sender(void *arg) {
  struct round *r = arg;
  for (long i = 1; i <= PER_SENDER; i++) {
    int rc = corun_chan_send(r->ch, &i, -1);
    if (rc == -EPIPE)
      break;
    T_EQ(rc, 0);
    atomic_fetch_add(&r->sent_sum, i);
    atomic_fetch_add(&r->sent_n, 1);
  }
  return NULL;
}

static void *receiver(void *arg) {
  struct round *r = arg;
  long v;
  int rc;
  while ((rc = corun_chan_recv(r->ch, &v, -1)) == 0) {
    atomic_fetch_add(&r->recv_sum, v);
    atomic_fetch_add(&r->recv_n, 1);
  }
  T_EQ(rc, -EPIPE);
  return NULL;
}

static void *selector(void *arg) {
  struct round *r = arg;
  long v;
  corun_case c[1] = {{r->ch, CORUN_RECV, &v, 0}};
  for (;;) {
    T_EQ(corun_select(c, 1, -1), 0);
    if (c[0].result == -EPIPE)
      return NULL;
    T_EQ(c[0].result, 0);
    atomic_fetch_add(&r->recv_sum, v);
    atomic_fetch_add(&r->recv_n, 1);
  }
}

static void *closer(void *arg) {
  struct round *r = arg;
  corun_sleep(((uintptr_t)r->ch >> 4) % 200 * 1000); /* 0-200 us in */
  T_EQ(corun_chan_close(r->ch), 0);
  return NULL;
}

static void *short_life(void *arg) {
  (void)arg;
  corun_sleep(((uintptr_t)&arg >> 4) % 50 * 1000);
  corun_yield(NULL);
  return (void *)7;
}

static void *main_task(void *arg) {
  long rounds = *(long *)arg;
  for (long k = 0; k < rounds; k++) {
    struct round r = {0};
    T_EQ(corun_chan_make(&r.ch, sizeof(long), k % 2 ? 0 : 8), 0);
    corun_task *t[SENDERS + RECEIVERS + 1];
    int n = 0;
    for (int i = 0; i < RECEIVERS; i++)
      T_EQ(corun_spawn(&t[n++], i % 2 ? selector : receiver, &r, NULL), 0);
    for (int i = 0; i < SENDERS; i++)
      T_EQ(corun_spawn(&t[n++], sender, &r, NULL), 0);
    T_EQ(corun_spawn(&t[n++], closer, &r, NULL), 0);
    for (int i = 0; i < n; i++)
      T_EQ(corun_join(t[i], NULL), 0);
    T_EQ(atomic_load(&r.recv_n), atomic_load(&r.sent_n));
    T_EQ(atomic_load(&r.recv_sum), atomic_load(&r.sent_sum));
    T_EQ(corun_chan_free(r.ch), 0);

    /* join/cancel race: the cancel lands before, during or after. */
    corun_task *s;
    T_EQ(corun_spawn(&s, short_life, NULL, NULL), 0);
    if (k % 3)
      corun_sleep((k % 7) * 10000);
    T_EQ(corun_cancel(s), 0);
    void *res;
    T_EQ(corun_join(s, &res), 0);
    T_EQ((intptr_t)res, 7);
  }
  return NULL;
}

int main(void) {
  long rounds = t_under_valgrind() || t_emulated() ? 20 : 300;
  for (unsigned w = 2; w <= 4; w += 2) {
    corun_config cfg = {.workers = w, .shuffle = w == 4};
    T_EQ(corun_main(main_task, &rounds, &cfg), 0);
  }
  return 0;
}
