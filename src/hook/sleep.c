/* sleep.c: the hooked sleeps: sleep, usleep, nanosleep. In a task they
 * park the task on a timer; corun_cancel ends them as a signal would
 * (EINTR, and the time left, counted as libc counts it).
 * Layer: hook (hook.h says what every hook does). */
#include <corun.h>
#include <errno.h>

#include "hook/hook.h"

/* Sleeps ns in the calling task (hooks entered); stores the time left in
 * *left when cut short. Returns 0 or -ECANCELED. */
static int task_sleep(int64_t ns, int64_t *left) {
  int64_t now = corun_now();
  int64_t until = ns > INT64_MAX - now ? INT64_MAX : now + ns;
  int rc = corun_sleep_until(until);
  int64_t l = until - corun_now();
  *left = rc < 0 && l > 0 ? l : 0;
  return rc;
}

CORUN_API int nanosleep(const struct timespec *req, struct timespec *rem) {
  /* libc says what is wrong with a bad request */
  if (!req || req->tv_nsec < 0 || req->tv_nsec > 999999999 ||
      req->tv_sec < 0 || !corun__hook_enter())
    return corun__real()->nanosleep(req, rem);
  int64_t left;
  int rc = task_sleep(corun__hook_ns(req->tv_sec, req->tv_nsec, 1), &left);
  corun__hook_leave();
  if (rc == 0)
    return 0;
  if (rem) {
    rem->tv_sec = left / 1000000000;
    rem->tv_nsec = left % 1000000000;
  }
  corun__hook_set_errno(EINTR);
  return -1;
}

CORUN_API unsigned sleep(unsigned s) {
  if (!corun__hook_enter())
    return corun__real()->sleep(s);
  int64_t left;
  int rc = task_sleep((int64_t)s * 1000000000, &left);
  corun__hook_leave();
  if (rc == 0)
    return 0;
  corun__hook_set_errno(EINTR);
  return (unsigned)(left / 1000000000); /* glibc: whole seconds left */
}

CORUN_API int usleep(useconds_t us) {
  if (!corun__hook_enter())
    return corun__real()->usleep(us);
  int64_t left;
  int rc = task_sleep((int64_t)us * 1000, &left);
  corun__hook_leave();
  if (rc == 0)
    return 0;
  corun__hook_set_errno(EINTR);
  return -1;
}
