/* cancel.c: corun_cancel: a task blocked in a channel receive, a sleep or
 * a join returns -ECANCELED, and so does every later blocking call; the
 * canceller's join returns normally with the task's result; cancelling
 * before the task blocks; cancel racing with the task's own wake-up and
 * exit (many rounds across workers); a cancelled channel wait leaves no
 * waiter behind. */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>

#include "t.h"

static void *blocked_recv(void *arg) {
  corun_chan *ch = arg;
  long v;
  int rc = corun_chan_recv(ch, &v, -1);
  T_EQ(rc, -ECANCELED);
  T_EQ(corun_cancelled(), 1);
  /* Every later blocking call fails the same way, at once. */
  T_EQ(corun_sleep(1000000000), -ECANCELED);
  T_EQ(corun_chan_recv(ch, &v, -1), -ECANCELED);
  return (void *)123;
}

static void *sleeper(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corun_sleep(10 * 1000000000LL);
}

/* A sleep "for ever": now + INT64_MAX must not wrap into the past and
 * return at once. */
static void *sleeper_forever(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corun_sleep(INT64_MAX);
}

static void *racer(void *arg) {
  corun_chan *ch = arg;
  long v;
  int rc = corun_chan_recv(ch, &v, -1);
  T_TRUE(rc == 0 || rc == -ECANCELED);
  return (void *)(intptr_t)(rc == 0 ? v : -1);
}

/* Waits on p->ch: a receive, or a send of 1 (p->send). */
struct parked_on {
  corun_chan *ch;
  int send;
};

static void *chan_waiter(void *arg) {
  struct parked_on *p = arg;
  long v = 1;
  int rc =
      p->send ? corun_chan_send(p->ch, &v, -1) : corun_chan_recv(p->ch, &v, -1);
  return (void *)(intptr_t)rc;
}

/* A cancelled wait on a channel takes its waiter off the channel's queue:
 * a waiter left there would still be found by the next partner, and the
 * task that owned it (its memory reused by the next tasks, here parked on
 * another channel) be claimed in its place. Nobody waits on ch after the
 * cancels, so a try must say -EAGAIN. */
static void cancelled_waiters_leave(void) {
  corun_chan *ch, *other;
  T_EQ(corun_chan_make(&ch, sizeof(long), 0), 0);
  T_EQ(corun_chan_make(&other, sizeof(long), 0), 0);
  for (int send = 0; send <= 1; send++) {
    struct parked_on on_ch = {ch, send}, on_other = {other, 0};
    corun_task *t[8], *later[8];
    for (int i = 0; i < 8; i++)
      T_EQ(corun_spawn(&t[i], chan_waiter, &on_ch, NULL), 0);
    T_EQ(corun_sleep(2000000), 0); /* all parked on ch */
    for (int i = 0; i < 8; i++) {
      void *r;
      T_EQ(corun_cancel(t[i]), 0);
      T_EQ(corun_join(t[i], &r), 0);
      T_EQ((intptr_t)r, -ECANCELED);
    }
    for (int i = 0; i < 8; i++)
      T_EQ(corun_spawn(&later[i], chan_waiter, &on_other, NULL), 0);
    T_EQ(corun_sleep(2000000), 0); /* all parked on other */
    long v = 7;
    T_EQ(send ? corun_chan_recv(ch, &v, 0) : corun_chan_send(ch, &v, 0),
         -EAGAIN);
    for (int i = 0; i < 8; i++)
      T_EQ(corun_chan_send(other, &v, -1), 0);
    for (int i = 0; i < 8; i++) {
      void *r;
      T_EQ(corun_join(later[i], &r), 0);
      T_EQ((intptr_t)r, 0);
    }
  }
  T_EQ(corun_chan_free(other), 0);
  T_EQ(corun_chan_free(ch), 0);
}

static void *joiner(void *arg) {
  corun_task *t = arg;
  return (void *)(intptr_t)corun_join(t, NULL);
}

static void *main_task(void *arg) {
  (void)arg;
  corun_chan *ch;
  T_EQ(corun_chan_make(&ch, sizeof(long), 0), 0);
  T_EQ(corun_cancel(NULL), -EINVAL);
  T_EQ(corun_cancelled(), 0);

  corun_task *t;
  T_EQ(corun_spawn(&t, blocked_recv, ch, NULL), 0);
  T_EQ(corun_sleep(2000000), 0);
  T_EQ(corun_cancel(t), 0);
  T_EQ(corun_cancel(t), 0); /* twice: harmless */
  void *r;
  T_EQ(corun_join(t, &r), 0);
  T_EQ((intptr_t)r, 123);

  /* A long sleep ends at once. */
  corun_fn *long_sleeps[] = {sleeper, sleeper_forever};
  for (int i = 0; i < 2; i++) {
    int64_t t0 = corun_now();
    T_EQ(corun_spawn(&t, long_sleeps[i], NULL, NULL), 0);
    T_EQ(corun_sleep(1000000), 0);
    T_EQ(corun_cancel(t), 0);
    T_EQ(corun_join(t, &r), 0);
    T_EQ((intptr_t)r, -ECANCELED);
    T_LT(corun_now() - t0, 5 * 1000000000LL);
  }

  /* Cancelled before it ever runs. */
  T_EQ(corun_spawn(&t, blocked_recv, ch, NULL), 0);
  T_EQ(corun_cancel(t), 0);
  T_EQ(corun_join(t, &r), 0);
  T_EQ((intptr_t)r, 123);

  /* A joiner cancelled while it waits: its join says so, and the task it
   * waited for can still be joined. */
  corun_task *target, *j;
  T_EQ(corun_spawn(&target, sleeper, NULL, NULL), 0);
  T_EQ(corun_spawn(&j, joiner, target, NULL), 0);
  T_EQ(corun_sleep(2000000), 0);
  T_EQ(corun_cancel(j), 0);
  T_EQ(corun_join(j, &r), 0);
  T_EQ((intptr_t)r, -ECANCELED);
  T_EQ(corun_cancel(target), 0);
  T_EQ(corun_join(target, &r), 0);
  T_EQ((intptr_t)r, -ECANCELED);

  /* Races: a send and a cancel aimed at the same parked receiver. Exactly
   * one wins: the value arrives, or the send is still pending. */
  int delivered = 0, cancelled = 0;
  for (int i = 0; i < 2000; i++) {
    T_EQ(corun_spawn(&t, racer, ch, NULL), 0);
    if (i % 2)
      corun_yield(NULL);
    long v = i;
    int sent = corun_chan_send(ch, &v, 0) == 0; /* only if it waits now */
    T_EQ(corun_cancel(t), 0);
    T_EQ(corun_join(t, &r), 0);
    if (sent) {
      T_EQ((intptr_t)r, i);
      delivered++;
    } else {
      T_EQ((intptr_t)r, -1);
      cancelled++;
    }
  }
  T_EQ(delivered + cancelled, 2000);
  T_EQ(corun_chan_free(ch), 0);

  cancelled_waiters_leave();
  return NULL;
}

int main(void) {
  for (unsigned w = 1; w <= 4; w *= 2) {
    corun_config cfg = {.workers = w};
    T_EQ(corun_main(main_task, NULL, &cfg), 0);
  }
  return 0;
}
