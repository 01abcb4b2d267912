/* free_race.c: corun_chan_free() must refuse (-EBUSY) while a task is still
 * on its way out of a wait on the channel. Here a receiver's park is
 * claimed by corun_cancel; a send then drops its (stale) waiter off the
 * queue and buffers the element; the queues are empty, but the receiver
 * has yet to come back and take the channel's lock. One worker makes the
 * order deterministic; the task's internal wait state (sched.h) says when
 * the receiver has parked. Found by the sync layer's author: freed memory
 * was locked (ASan heap-use-after-free). */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>

#include "sched/sched.h"
#include "t.h"

static void *receiver(void *arg) {
  long v;
  return (void *)(intptr_t)corun_chan_recv(arg, &v, -1);
}

static void *main_task(void *arg) {
  (void)arg;
  corun_chan *ch;
  T_EQ(corun_chan_make(&ch, sizeof(long), 1), 0);
  corun_task *r;
  T_EQ(corun_spawn(&r, receiver, ch, NULL), 0);
  while (atomic_load(&r->wait) != CORUN__WAIT_PARKED)
    corun_yield(NULL);
  T_EQ(corun_cancel(r), 0); /* claims r's park: readied, not yet run */
  long v = 1;
  T_EQ(corun_chan_send(ch, &v, 0), 0); /* drops r's waiter, buffers v */
  T_EQ(corun_chan_free(ch), -EBUSY);   /* r still has to come back */
  void *rc;
  T_EQ(corun_join(r, &rc), 0);
  T_EQ((intptr_t)rc, -ECANCELED);
  T_EQ(corun_chan_len(ch), 1); /* the element is still there */
  T_EQ(corun_chan_free(ch), 0);
  return NULL;
}

int main(void) {
  corun_config cfg = {.workers = 1};
  T_EQ(corun_main(main_task, NULL, &cfg), 0);
  return 0;
}
