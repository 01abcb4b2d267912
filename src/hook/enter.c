/* enter.c: entering corun from a hook, time arithmetic, and libc's way of
 * returning (errno).
 * Layer: hook. Locking: none (the state is the calling task's). */
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hook/hook.h"

/* Pinned for the call: the caller's compiled code may have computed
 * errno's address before the call (glibc's __errno_location is const),
 * so the call must return on the same thread it started on. */
int corun__hook_enter(void) {
  /* (0: off, 2: corun's own call, -EPERM: not a task: all left as they are) */
  if (corun_hooks_enabled() != 1 || corun_hooks_set(0) != 1)
    return 0;
  corun_pin(1);
  return 1;
}

void corun__hook_leave(void) {
  corun_pin(0);
  corun_hooks_set(1);
}

int corun__hook_emulate_blocking(void) {
  int s = corun_hooks_enabled();
  return s == 0 || s == -EPERM;
}

int corun__hook_internal(void) {
  return corun_hooks_enabled() == 2;
}

int corun__hook_off_nonblock(int fd) {
  if (corun_hooks_enabled() != 0)
    return 0;
  const struct corun__real *R = corun__real();
  struct corun__hookfile *f = corun__hookfd(fd);
  if (f)
    corun__hook_corun_nb(f, fd); /* the program's F_SETFL must leave it */
  int saved = errno;
  int fl = R->fcntl(fd, F_GETFL);
  int ok = fl >= 0 &&
           ((fl & O_NONBLOCK) || R->fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
  errno = saved;
  return ok;
}

int64_t corun__hook_ns(int64_t sec, int64_t sub, int64_t unit) {
  /* Linux takes timeouts past what it can count as none at all; ~292
   * years is as good as forever here too */
  if (sec > INT64_MAX / 1000000000 - 1)
    return INT64_MAX;
  return sec * 1000000000 + sub * unit;
}

int64_t corun__hook_deadline(int64_t ns) {
  if (ns < 0)
    return 0; /* do not wait */
  if (ns == 0 || ns == INT64_MAX)
    return -1;
  int64_t now = corun_now();
  return ns > INT64_MAX - now ? -1 : now + ns;
}

/* Not inlined, so that &errno is found afresh on the current thread. */
__attribute__((noinline)) void corun__hook_set_errno(int e) {
  __asm__ volatile("" ::: "memory");
  errno = e;
}

__attribute__((noinline)) int corun__hook_get_errno(void) {
  __asm__ volatile("" ::: "memory");
  return errno;
}

long corun__hook_ret(long r) {
  if (r >= 0)
    return r;
  corun__hook_set_errno((int)-r);
  return -1;
}
