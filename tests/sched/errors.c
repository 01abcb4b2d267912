/* errors.c: documented errors of the scheduler's calls that the other
 * sched tests do not reach: corun_main from inside a task (-EBUSY), a
 * spawn with an invalid attr (-EINVAL), corun_join from a coroutine that a
 * task resumed (-EPERM: only a task's own coroutine may block),
 * corun_sleep_until outside a task (-EPERM) and in a cancelled task
 * (-ECANCELED), and the channel calls of a cancelled task: a send with
 * nobody to take it and a select with nothing ready (-ECANCELED). */
#include <corun.h>
#include <errno.h>

#include "t.h"

static void *nothing(void *arg) {
  return arg;
}

/* The body of a plain coroutine the main task resumes. */
static void *try_join(void *t) {
  return (void *)(intptr_t)corun_join(t, NULL);
}

static void *sleeps_cancelled(void *arg) {
  (void)arg;
  T_OK(corun_cancel(corun_self()));
  return (void *)(intptr_t)corun_sleep_until(corun_now() + 3600000000000);
}

static void *sends_cancelled(void *ch) {
  long v = 1;
  T_OK(corun_cancel(corun_self()));
  return (void *)(intptr_t)corun_chan_send(ch, &v, -1);
}

static void *selects_cancelled(void *ch) {
  long v;
  corun_case c[1] = {{ch, CORUN_RECV, &v, 0}};
  T_OK(corun_cancel(corun_self()));
  return (void *)(intptr_t)corun_select(c, 1, -1);
}

/* Runs fn(arg) as a task and returns what it returned. */
static intptr_t run_task(corun_fn *fn, void *arg) {
  corun_task *t;
  void *r;
  T_OK(corun_spawn(&t, fn, arg, NULL));
  T_OK(corun_join(t, &r));
  return (intptr_t)r;
}

static void *main_task(void *arg) {
  (void)arg;
  T_EQ(corun_main(nothing, NULL, NULL), -EBUSY);

  corun_task *t;
  corun_attr bad = {.stack_size = 1};
  T_EQ(corun_spawn(&t, nothing, NULL, &bad), -EINVAL);

  T_OK(corun_spawn(&t, nothing, NULL, NULL));
  corun_coro *co;
  void *out = NULL;
  T_OK(corun_create(&co, try_join, t, NULL));
  T_EQ(corun_resume(co, NULL, &out), 0); /* it returned */
  T_EQ((intptr_t)out, -EPERM);
  T_OK(corun_destroy(co));
  T_OK(corun_join(t, NULL)); /* still joinable */

  T_EQ(run_task(sleeps_cancelled, NULL), -ECANCELED);
  corun_chan *ch;
  T_OK(corun_chan_make(&ch, sizeof(long), 0));
  T_EQ(run_task(sends_cancelled, ch), -ECANCELED);
  T_EQ(run_task(selects_cancelled, ch), -ECANCELED);
  T_OK(corun_chan_free(ch)); /* nobody was left waiting on it */
  return NULL;
}

int main(void) {
  T_EQ(corun_sleep_until(corun_now() + 1000), -EPERM);
  T_OK(corun_main(main_task, NULL, NULL));
  return 0;
}
