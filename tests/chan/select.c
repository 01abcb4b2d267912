/* select.c: corun_select: errors, a ready case done at once, the random
 * choice among ready cases (no case starves), mixed send and receive,
 * disabled cases, the same channel twice, closed channels, deadlines, and
 * a select woken by a sender on another task. */
#include <corun.h>
#include <errno.h>

#include "t.h"

static void *late_sender(void *arg) {
  corun_chan *ch = arg;
  long v = 42;
  corun_sleep(2000000);
  T_EQ(corun_chan_send(ch, &v, -1), 0);
  return NULL;
}

static void *late_receiver(void *arg) {
  corun_chan *ch = arg;
  long v = 0;
  corun_sleep(2000000);
  T_EQ(corun_chan_recv(ch, &v, -1), 0);
  return (void *)v;
}

static void *main_task(void *arg) {
  (void)arg;
  corun_chan *a, *b, *c;
  T_EQ(corun_chan_make(&a, sizeof(long), 4), 0);
  T_EQ(corun_chan_make(&b, sizeof(long), 4), 0);
  T_EQ(corun_chan_make(&c, sizeof(long), 0), 0);
  long va = 0, vb = 0, vc = 0;

  /* Errors. */
  T_EQ(corun_select(NULL, 1, 0), -EINVAL);
  corun_case bad[1] = {{a, 7, &va, 0}};
  T_EQ(corun_select(bad, 1, 0), -EINVAL);
  corun_case noelem[1] = {{a, CORUN_RECV, NULL, 0}};
  T_EQ(corun_select(noelem, 1, 0), -EINVAL);
  T_EQ(corun_select(NULL, 0, 0), -EAGAIN);
  corun_case off[1] = {{NULL, CORUN_RECV, NULL, 0}};
  T_EQ(corun_select(off, 1, 0), -EAGAIN);
  T_EQ(corun_select(off, 1, corun_now() + 1000000), -ETIMEDOUT);

  /* Nothing ready: would block, or times out. */
  corun_case rr[2] = {{a, CORUN_RECV, &va, 1}, {b, CORUN_RECV, &vb, 1}};
  T_EQ(corun_select(rr, 2, 0), -EAGAIN);
  int64_t t0 = corun_now();
  T_EQ(corun_select(rr, 2, t0 + 10000000), -ETIMEDOUT);
  T_GE(corun_now() - t0, 10000000);

  /* Fairness: both always ready; each is picked about half the time.
   * With a fair coin, fewer than 40% of 20,000 is a 28-sigma event. */
  int picks[2] = {0, 0};
  for (int i = 0; i < 20000; i++) {
    long one = 1;
    if (corun_chan_len(a) == 0)
      T_EQ(corun_chan_send(a, &one, 0), 0);
    if (corun_chan_len(b) == 0)
      T_EQ(corun_chan_send(b, &one, 0), 0);
    int k = corun_select(rr, 2, -1);
    T_TRUE(k == 0 || k == 1);
    T_EQ(rr[k].result, 0);
    picks[k]++;
  }
  T_GT(picks[0], 8000);
  T_GT(picks[1], 8000);
  while (corun_chan_recv(a, &va, 0) == 0)
    ;
  while (corun_chan_recv(b, &vb, 0) == 0)
    ;

  /* Mixed: a send case is ready when the ring has room. */
  long out = 9;
  corun_case mix[2] = {{a, CORUN_SEND, &out, 1}, {b, CORUN_RECV, &vb, 1}};
  T_EQ(corun_select(mix, 2, 0), 0);
  T_EQ(mix[0].result, 0);
  T_EQ(corun_chan_recv(a, &va, 0), 0);
  T_EQ(va, 9);

  /* The same channel twice; a rendezvous woken by another task. */
  corun_task *t;
  T_EQ(corun_spawn(&t, late_sender, c, NULL), 0);
  corun_case twice[2] = {{c, CORUN_RECV, &vc, 1}, {c, CORUN_RECV, &vb, 1}};
  int k = corun_select(twice, 2, -1);
  T_TRUE(k == 0 || k == 1);
  T_EQ(twice[k].result, 0);
  T_EQ(k == 0 ? vc : vb, 42);
  T_EQ(corun_join(t, NULL), 0);

  /* A select send completed by a receiver task. */
  T_EQ(corun_spawn(&t, late_receiver, c, NULL), 0);
  long give = 77;
  corun_case snd[2] = {{NULL, CORUN_RECV, NULL, 1}, {c, CORUN_SEND, &give, 1}};
  T_EQ(corun_select(snd, 2, -1), 1);
  T_EQ(snd[1].result, 0);
  void *got;
  T_EQ(corun_join(t, &got), 0);
  T_EQ((long)(intptr_t)got, 77);

  /* Closed: a receive case is ready with -EPIPE; so is a send. */
  T_EQ(corun_chan_close(b), 0);
  corun_case cl[1] = {{b, CORUN_RECV, &vb, 1}};
  T_EQ(corun_select(cl, 1, -1), 0);
  T_EQ(cl[0].result, -EPIPE);
  corun_case cs[1] = {{b, CORUN_SEND, &give, 1}};
  T_EQ(corun_select(cs, 1, -1), 0);
  T_EQ(cs[0].result, -EPIPE);

  /* More cases than the on-stack arrays hold. */
  corun_chan *many[12];
  long vals[12];
  corun_case mc[12];
  for (int i = 0; i < 12; i++) {
    T_EQ(corun_chan_make(&many[i], sizeof(long), 1), 0);
    mc[i] = (corun_case){many[i], CORUN_RECV, &vals[i], 1};
  }
  long eleven = 11;
  T_EQ(corun_chan_send(many[11], &eleven, 0), 0);
  T_EQ(corun_select(mc, 12, -1), 11);
  T_EQ(vals[11], 11);
  T_EQ(corun_select(mc, 12, corun_now() + 1000000), -ETIMEDOUT);
  for (int i = 0; i < 12; i++)
    T_EQ(corun_chan_free(many[i]), 0);

  T_EQ(corun_chan_free(a), 0);
  T_EQ(corun_chan_free(b), 0);
  T_EQ(corun_chan_free(c), 0);
  return NULL;
}

int main(void) {
  /* A non-blocking select works outside a task; a blocking one says so. */
  corun_chan *ch;
  long v = 1;
  T_EQ(corun_chan_make(&ch, sizeof v, 1), 0);
  corun_case c1[1] = {{ch, CORUN_RECV, &v, 1}};
  T_EQ(corun_select(c1, 1, 0), -EAGAIN);
  T_EQ(corun_select(c1, 1, -1), -EPERM);
  T_EQ(corun_chan_free(ch), 0);
  for (unsigned w = 1; w <= 2; w++) {
    corun_config cfg = {.workers = w};
    T_EQ(corun_main(main_task, NULL, &cfg), 0);
  }
  return 0;
}
