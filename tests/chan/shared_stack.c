/* shared_stack.c: tasks on shared stacks using channels and select with
 * elements that live on their own (shared, swapped-out) stacks. While a
 * task waits, another task on the same shared stack runs and overwrites
 * that memory, so corun must hand elements over through copies of its own
 * (chan.c: wait_elem). Checks every value, on 1 and 2 workers; the shared
 * stacks' tasks stay on the worker that spawned them. */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "t.h"

#define N 2000

struct big {
  long seq;
  char pad[200]; /* a deep local: most of it is overwritten when swapped */
  long check;
};

static corun_chan *ab, *ba, *sel[2];

static T_NOIPA pthread_t self_thread(void) {
  return pthread_self();
}

static void *pinger(void *arg) {
  (void)arg;
  pthread_t home = self_thread();
  for (long i = 0; i < N; i++) {
    struct big out, in;
    memset(&out, (int)(i & 0x7f), sizeof out);
    out.seq = i;
    out.check = i * 31;
    T_EQ(corun_chan_send(ab, &out, -1), 0);
    memset(&in, 0, sizeof in);
    T_EQ(corun_chan_recv(ba, &in, -1), 0);
    T_EQ(in.seq, i + 1);
    T_EQ(in.check, (i + 1) * 31);
    T_EQ(in.pad[199], (char)((i + 1) & 0x7f));
    T_TRUE(pthread_equal(self_thread(), home));
  }
  return NULL;
}

static void *ponger(void *arg) {
  (void)arg;
  for (long i = 0; i < N; i++) {
    struct big in, out;
    memset(&in, 0, sizeof in);
    T_EQ(corun_chan_recv(ab, &in, -1), 0);
    T_EQ(in.seq, i);
    T_EQ(in.check, i * 31);
    T_EQ(in.pad[0], (char)(i & 0x7f));
    memset(&out, (int)((i + 1) & 0x7f), sizeof out);
    out.seq = i + 1;
    out.check = (i + 1) * 31;
    T_EQ(corun_chan_send(ba, &out, -1), 0);
  }
  return NULL;
}

static void *selector(void *arg) {
  (void)arg;
  long got[2] = {0, 0};
  for (long i = 0; i < N; i++) {
    struct big a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    corun_case cs[2] = {{sel[0], CORUN_RECV, &a, 0},
                        {sel[1], CORUN_RECV, &b, 0}};
    int k = corun_select(cs, 2, -1);
    T_TRUE(k == 0 || k == 1);
    T_EQ(cs[k].result, 0);
    struct big *v = k == 0 ? &a : &b;
    T_EQ(v->seq, got[k]);
    T_EQ(v->check, got[k] * 7 + k);
    got[k]++;
  }
  return (void *)(got[0] + got[1]);
}

static void *feeder(void *arg) {
  int which = (int)(intptr_t)arg;
  for (long i = 0;; i++) {
    struct big v;
    memset(&v, 0x55, sizeof v);
    v.seq = i;
    v.check = i * 7 + which;
    int rc = corun_chan_send(sel[which], &v, -1);
    if (rc == -EPIPE)
      return NULL;
    T_EQ(rc, 0);
  }
}

static void *main_task(void *arg) {
  (void)arg;
  corun_shared_stack *ss;
  T_EQ(corun_shared_stack_create(&ss, 64 * 1024), 0);
  corun_attr on = {.shared = ss};
  T_EQ(corun_chan_make(&ab, sizeof(struct big), 0), 0);
  T_EQ(corun_chan_make(&ba, sizeof(struct big), 1), 0);
  T_EQ(corun_chan_make(&sel[0], sizeof(struct big), 0), 0);
  T_EQ(corun_chan_make(&sel[1], sizeof(struct big), 2), 0);
  corun_task *p, *q, *s, *f0, *f1;
  T_EQ(corun_spawn(&p, pinger, NULL, &on), 0);
  T_EQ(corun_spawn(&q, ponger, NULL, &on), 0);
  T_EQ(corun_spawn(&s, selector, NULL, &on), 0);
  T_EQ(corun_spawn(&f0, feeder, (void *)0, &on), 0);
  T_EQ(corun_spawn(&f1, feeder, (void *)1, NULL), 0); /* one not shared */
  T_EQ(corun_join(p, NULL), 0);
  T_EQ(corun_join(q, NULL), 0);
  void *n;
  T_EQ(corun_join(s, &n), 0);
  T_EQ((long)(intptr_t)n, N);
  T_EQ(corun_chan_close(sel[0]), 0);
  T_EQ(corun_chan_close(sel[1]), 0);
  T_EQ(corun_join(f0, NULL), 0);
  T_EQ(corun_join(f1, NULL), 0);
  T_EQ(corun_chan_free(ab), 0);
  T_EQ(corun_chan_free(ba), 0);
  T_EQ(corun_chan_free(sel[0]), 0);
  T_EQ(corun_chan_free(sel[1]), 0);
  T_EQ(corun_shared_stack_destroy(ss), 0);
  return NULL;
}

int main(void) {
  corun_shared_stack *probe;
  int rc = corun_shared_stack_create(&probe, 0);
  if (rc == -ENOTSUP)
    return 77; /* the ucontext backend has no shared stacks */
  T_EQ(rc, 0);
  T_EQ(corun_shared_stack_destroy(probe), 0);
  for (unsigned w = 1; w <= 2; w++) {
    corun_config cfg = {.workers = w};
    T_EQ(corun_main(main_task, NULL, &cfg), 0);
  }
  return 0;
}
