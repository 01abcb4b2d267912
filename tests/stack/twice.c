/* twice.c: a coroutine destroyed twice. Its stack would go back to the
 * pool twice and later run two coroutines at once; instead the second
 * corun_destroy aborts with a message that names the mistake. Checked in a
 * forked child: its exit must be SIGABRT with that message, and a child
 * that destroys each coroutine once must exit normally (so the abort
 * comes from the second destroy, not from the set-up). */
#include <string.h>

#include "corun.h"
#include "stack/child.h"
#include "t.h"

static void *body(void *arg) {
  return arg;
}

/* Creates a coroutine, runs it to its end and destroys it `times` times. */
static int run(void *arg) {
  int times = *(int *)arg;
  corun_coro *co;
  if (corun_create(&co, body, NULL, NULL) != 0 ||
      corun_resume(co, NULL, NULL) != 0)
    return 2;
  for (int i = 0; i < times; i++)
    if (corun_destroy(co) != 0)
      return 3;
  return 0;
}

int main(void) {
  struct child c;
  int once = 1, twice = 2;
  child_run(&c, run, &once);
  child_show("destroyed once", &c);
  child_expect_exit(&c, 0);

  child_run(&c, run, &twice);
  child_show("destroyed twice", &c);
  child_expect_signal(&c, SIGABRT);
  T_TRUE(strstr(c.err, "corun: a coroutine stack was freed twice") != NULL);
  return 0;
}
