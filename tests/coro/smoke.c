/* smoke.c: the shortest round trip through the coroutine API. */
#include <errno.h>

#include "corun.h"
#include "t.h"

static void *body(void *arg) {
  intptr_t x = (intptr_t)arg;
  for (;;) {
    intptr_t in = (intptr_t)corun_yield((void *)x);
    if (in < 0)
      return (void *)(intptr_t)-x;
    x += in;
  }
}

int main(void) {
  corun_coro *co;
  void *out = NULL;
  T_OK(corun_create(&co, body, (void *)(intptr_t)5, NULL));
  T_EQ(corun_status(co), CORUN_SUSPENDED);
  T_EQ(corun_resume(co, NULL, &out), 1);
  T_EQ((intptr_t)out, 5);
  T_EQ(corun_resume(co, (void *)(intptr_t)3, &out), 1);
  T_EQ((intptr_t)out, 8);
  T_EQ(corun_resume(co, (void *)(intptr_t)-1, &out), 0);
  T_EQ((intptr_t)out, -8);
  T_EQ(corun_status(co), CORUN_DEAD);
  T_EQ(corun_resume(co, NULL, &out), -ESRCH);
  T_OK(corun_destroy(co));
  return 0;
}
