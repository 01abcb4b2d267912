/* deadlock.c: when every task is blocked with nothing that can wake it,
 * corun_main prints Go's message and each task's name, id and wait reason,
 * and returns -EDEADLK (in a child process: the stuck tasks are
 * abandoned). A program with timers pending is not a deadlock; a timer
 * whose wait ended early is not pending. */
#include <corun.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stack/child.h"
#include "t.h"

static corun_chan *never, *ping;

static void *pinger(void *arg) {
  (void)arg;
  long v = 1;
  corun_sleep(2000000); /* 2 ms: the waiter has parked */
  corun_chan_send(ping, &v, -1);
  return NULL;
}

static void *stuck(void *arg) {
  (void)arg;
  long v;
  /* A wait with an hour's deadline that the pinger ends early leaves its
   * timer's node in the heap (sched/park.c); that is no pending timer,
   * and the deadlock below is reported at once, not in an hour. */
  corun_chan_recv(ping, &v, corun_now() + 3600 * 1000000000LL);
  corun_chan_recv(never, &v, -1);
  return NULL;
}

static void *stuck_main(void *arg) {
  (void)arg;
  corun_task *t;
  corun_attr attr = {.name = "waiter"};
  T_EQ(corun_go(pinger, NULL), 0);
  T_EQ(corun_spawn(&t, stuck, NULL, &attr), 0);
  corun_join(t, NULL); /* main waits for a task that waits forever */
  return NULL;
}

static int deadlock_child(void *arg) {
  (void)arg;
  if (corun_chan_make(&never, sizeof(long), 0) != 0 ||
      corun_chan_make(&ping, sizeof(long), 0) != 0)
    return 3;
  corun_config cfg = {.workers = 2};
  int rc = corun_main(stuck_main, NULL, &cfg);
  return rc == -EDEADLK ? 0 : 4;
}

static void *slow_main(void *arg) {
  (void)arg;
  /* Only a timer can wake it: not a deadlock. */
  T_EQ(corun_sleep(20000000), 0);
  return NULL;
}

int main(void) {
  static struct child c;
  child_run(&c, deadlock_child, NULL);
  child_show("deadlock child", &c);
  child_expect_exit(&c, 0);
  T_TRUE(strstr(c.err, "corun: all coroutines are asleep - deadlock!\n") ==
         c.err);
  T_TRUE(strstr(c.err, "(waiter): waiting for chan receive") != NULL);
  T_TRUE(strstr(c.err, ": waiting for join") != NULL);
  corun_config cfg = {.workers = 2};
  T_EQ(corun_main(slow_main, NULL, &cfg), 0);
  return 0;
}
