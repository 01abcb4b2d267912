/* free_race.c: corun_chan_free() must refuse (-EBUSY) while a task is still
 * on its way out of a wait on the channel. Here a receiver's park is
 * claimed by corun_cancel; a send then drops its (stale) waiter off the
 * queue and buffers the element; the queues are empty, but the receiver
 * has yet to come back and take the channel's lock. One worker makes the
 * order deterministic; the task's internal wait state (sched.h) says when
 * the receiver has parked. Found by the sync layer's author: freed memory
 * was locked (ASan heap-use-after-free).
 * The other way round (free_after_completion): a task whose wait a partner
 * completed (a send, or a close) is not counted any more, so the partner
 * may free the channel the moment its call returns. The woken task must
 * not touch it again: select re-locked every channel of its cases to
 * deregister the others, and both read the element size from it (a helper
 * review's find: ASan heap-use-after-free in every variant; the plain
 * build hung on the garbage "lock" of the reused memory or crashed in a
 * memcpy of a garbage size). */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "t.h"
#include "task_wait.h"

static void *receiver(void *arg) {
  long v;
  return (void *)(intptr_t)corun_chan_recv(arg, &v, -1);
}

/* How the woken task waits, and how its partner ends the wait. */
enum { SELECT_SEND, SELECT_CLOSE, RECV_SEND, NMODES };

struct completion {
  int mode;
  corun_chan *ch, *other; /* the one completed, and select's second */
  int got;
};

static void *completed_waiter(void *arg) {
  struct completion *c = arg;
  if (c->mode == RECV_SEND)
    return (void *)(intptr_t)corun_chan_recv(c->ch, &c->got, -1);
  int other;
  corun_case cs[2] = {{c->ch, CORUN_RECV, &c->got, 0},
                      {c->other, CORUN_RECV, &other, 0}};
  int k = corun_select(cs, 2, -1);
  return (void *)(intptr_t)(k == 0 ? cs[0].result : -1000 - k);
}

/* Fills freed memory's likely next owner with 0xff: a late access to the
 * channel then finds a held lock and a huge element size (plain build;
 * ASan reports the access itself). */
static void reuse_memory(void) {
  void *junk[8];
  for (int j = 0; j < 8; j++) {
    junk[j] = malloc(256);
    if (junk[j])
      memset(junk[j], 0xff, 256);
  }
  for (int j = 0; j < 8; j++)
    free(junk[j]);
}

static void free_after_completion(corun_shared_stack *ss) {
  for (int mode = 0; mode < NMODES; mode++)
    for (int round = 0; round < 50; round++) {
      struct completion c = {.mode = mode};
      T_EQ(corun_chan_make(&c.ch, sizeof(int), 0), 0);
      T_EQ(corun_chan_make(&c.other, sizeof(int), 0), 0);
      corun_attr attr = {.shared = round % 2 ? ss : NULL};
      corun_task *w;
      T_EQ(corun_spawn(&w, completed_waiter, &c, &attr), 0);
      wait_parked(w);
      int v = 42;
      if (mode == SELECT_CLOSE)
        T_EQ(corun_chan_close(c.ch), 0);
      else
        T_EQ(corun_chan_send(c.ch, &v, -1), 0);
      T_EQ(corun_chan_free(c.ch), 0); /* nobody waits on it any more */
      reuse_memory();
      void *rc;
      T_EQ(corun_join(w, &rc), 0);
      T_EQ((intptr_t)rc, mode == SELECT_CLOSE ? -EPIPE : 0);
      if (mode != SELECT_CLOSE)
        T_EQ(c.got, 42);
      T_EQ(corun_chan_free(c.other), 0); /* select left it */
    }
}

static void *main_task(void *arg) {
  (void)arg;
  corun_shared_stack *ss = NULL;
  int made = corun_shared_stack_create(&ss, 0);
  if (made == -ENOTSUP) /* the ucontext backend: own stacks only */
    ss = NULL;
  else
    T_EQ(made, 0);
  free_after_completion(ss);
  corun_chan *ch;
  T_EQ(corun_chan_make(&ch, sizeof(long), 1), 0);
  corun_task *r;
  T_EQ(corun_spawn(&r, receiver, ch, NULL), 0);
  wait_parked(r);
  T_EQ(corun_cancel(r), 0); /* claims r's park: readied, not yet run */
  long v = 1;
  T_EQ(corun_chan_send(ch, &v, 0), 0); /* drops r's waiter, buffers v */
  T_EQ(corun_chan_free(ch), -EBUSY);   /* r still has to come back */
  void *rc;
  T_EQ(corun_join(r, &rc), 0);
  T_EQ((intptr_t)rc, -ECANCELED);
  T_EQ(corun_chan_len(ch), 1); /* the element is still there */
  T_EQ(corun_chan_free(ch), 0);
  if (ss)
    T_EQ(corun_shared_stack_destroy(ss), 0);
  return NULL;
}

int main(void) {
  corun_config cfg = {.workers = 1};
  T_EQ(corun_main(main_task, NULL, &cfg), 0);
  return 0;
}
