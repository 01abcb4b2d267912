/* poll.c: the hooked waits: poll, ppoll, select.
 * Layer: hook (hook.h says what every hook does).
 *
 * Inside a task a wait that would block parks the task instead: a first
 * libc poll with timeout 0 answers at once if anything is ready; else the
 * task waits on one socket directly (corun_wait_fd), or, for several fds
 * or ones corun cannot switch to O_NONBLOCK, on a private epoll instance
 * holding them all (level-triggered; the fds' own flags are untouched).
 * When it wakes, a second zero-timeout poll fills in revents exactly as
 * libc's poll would. select is poll over the same fds. */
#include <corun.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hook/hook.h"

/* Waits, in the calling task, until one of fds may be ready or the
 * deadline. Returns 0 or -errno (-ETIMEDOUT, -ECANCELED, ...). */
static int wait_any(struct pollfd *fds, nfds_t n, int64_t deadline) {
  if (n == 1 && fds[0].fd >= 0) {
    struct corun__hookfd *e = corun__hookfd(fds[0].fd);
    short ev = fds[0].events & (POLLIN | POLLOUT);
    if (e && atomic_load(&e->socket) && (ev == POLLIN || ev == POLLOUT))
      return corun_wait_fd(fds[0].fd, ev == POLLIN ? CORUN_FD_IN : CORUN_FD_OUT,
                           deadline);
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    return -errno;
  for (nfds_t i = 0; i < n; i++) {
    if (fds[i].fd < 0)
      continue;
    struct epoll_event e = {.events = 0, .data.u32 = (uint32_t)i};
    if (fds[i].events & POLLIN)
      e.events |= EPOLLIN;
    if (fds[i].events & POLLOUT)
      e.events |= EPOLLOUT;
    if (fds[i].events & POLLPRI)
      e.events |= EPOLLPRI;
    if (fds[i].events & POLLRDHUP)
      e.events |= EPOLLRDHUP;
    /* EEXIST: the same fd twice; EPERM: a regular file (always ready,
     * which the first zero-timeout poll saw) */
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i].fd, &e);
  }
  int rc = corun_wait_fd(ep, CORUN_FD_IN, deadline);
  corun_close(ep);
  return rc;
}

/* poll(2) in a task with hooks on (entered). timeout_ns: -1 forever. */
static int task_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns) {
  const struct corun__real *R = corun__real();
  int r = R->poll(fds, n, 0);
  if (r != 0 || timeout_ns == 0)
    return r;
  int64_t deadline = timeout_ns < 0 ? -1 : corun_now() + timeout_ns;
  for (;;) {
    int w = n ? wait_any(fds, n, deadline) : corun_sleep_until(deadline);
    if (n == 0 && w == 0)
      return 0;
    if (w == -ETIMEDOUT)
      return R->poll(fds, n, 0); /* one last look: 0 unless just ready */
    if (w < 0) {
      errno = w == -ECANCELED ? EINTR : -w; /* cancel: as a signal would */
      return -1;
    }
    if ((r = R->poll(fds, n, 0)) != 0)
      return r;
    /* woken, yet nothing ready (another reader took it): wait again */
  }
}

CORUN_API int poll(struct pollfd *fds, nfds_t n, int timeout) {
  if (timeout == 0 || !corun__hook_enter())
    return corun__real()->poll(fds, n, timeout);
  int r = task_poll(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000);
  int e = errno;
  corun__hook_leave();
  errno = e;
  return r;
}

CORUN_API int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                    const sigset_t *mask) {
  /* A signal mask cannot be applied to a parked task: libc's, then. */
  if (mask || (ts && ts->tv_sec == 0 && ts->tv_nsec == 0) ||
      !corun__hook_enter())
    return corun__real()->ppoll(fds, n, ts, mask);
  int r = task_poll(fds, n,
                    ts ? (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec : -1);
  int e = errno;
  corun__hook_leave();
  errno = e;
  return r;
}

CORUN_API int __poll_chk(struct pollfd *fds, nfds_t n, int timeout,
                         size_t size) {
  if (n > size / sizeof *fds)
    abort(); /* as libc's fortified poll */
  return poll(fds, n, timeout);
}

CORUN_API int select(int nfds, fd_set *r, fd_set *w, fd_set *x,
                     struct timeval *tv) {
  if ((tv && tv->tv_sec == 0 && tv->tv_usec == 0) || nfds < 0 ||
      nfds > FD_SETSIZE || !corun__hook_enter())
    return corun__real()->select(nfds, r, w, x, tv);
  struct pollfd small[64], *p = small;
  nfds_t n = 0;
  for (int fd = 0; fd < nfds; fd++)
    n += (r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) ||
         (x && FD_ISSET(fd, x));
  if (n > sizeof small / sizeof small[0] &&
      !(p = malloc(n * sizeof *p))) {
    corun__hook_leave();
    errno = ENOMEM;
    return -1;
  }
  n = 0;
  for (int fd = 0; fd < nfds; fd++) {
    short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) |
                       (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
                       (x && FD_ISSET(fd, x) ? POLLPRI : 0));
    if (ev)
      p[n++] = (struct pollfd){fd, ev, 0};
  }
  int64_t t = tv ? (int64_t)tv->tv_sec * 1000000000 + tv->tv_usec * 1000 : -1;
  int64_t start = corun_now();
  int rc = task_poll(p, n, t);
  int e = errno;
  if (rc >= 0) {
    int bad = 0;
    for (nfds_t i = 0; i < n; i++)
      bad |= p[i].revents & POLLNVAL;
    if (bad) { /* select reports a closed fd as EBADF, sets untouched */
      rc = -1;
      e = EBADF;
    } else {
      if (r)
        FD_ZERO(r);
      if (w)
        FD_ZERO(w);
      if (x)
        FD_ZERO(x);
      rc = 0;
      for (nfds_t i = 0; i < n; i++) {
        short re = p[i].revents;
        if (r && re & (POLLIN | POLLHUP | POLLERR) && p[i].events & POLLIN) {
          FD_SET(p[i].fd, r);
          rc++;
        }
        if (w && re & (POLLOUT | POLLERR) && p[i].events & POLLOUT) {
          FD_SET(p[i].fd, w);
          rc++;
        }
        if (x && re & POLLPRI) {
          FD_SET(p[i].fd, x);
          rc++;
        }
      }
    }
    if (tv) { /* Linux leaves the time not slept in *tv */
      int64_t left = t - (corun_now() - start);
      if (left < 0)
        left = 0;
      tv->tv_sec = left / 1000000000;
      tv->tv_usec = (left % 1000000000) / 1000;
    }
  }
  if (p != small)
    free(p);
  corun__hook_leave();
  errno = e;
  return rc;
}
