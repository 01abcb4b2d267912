/* enter.c: entering corun from a hook, and libc's way of returning.
 * Layer: hook. Locking: none (the state is the calling task's). */
#include <corun.h>
#include <errno.h>

#include "hook/hook.h"

int corun__hook_enter(void) {
  /* (0: off, 2: corun's own call, -EPERM: not a task: all left as they are) */
  return corun_hooks_enabled() == 1 && corun_hooks_set(0) == 1;
}

void corun__hook_leave(void) {
  corun_hooks_set(1);
}

int corun__hook_emulate_blocking(void) {
  int s = corun_hooks_enabled();
  return s == 0 || s == -EPERM;
}

int64_t corun__hook_deadline(int64_t ns) {
  return ns > 0 ? corun_now() + ns : -1;
}

long corun__hook_ret(long r) {
  if (r >= 0)
    return r;
  errno = (int)-r;
  return -1;
}
