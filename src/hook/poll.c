/* poll.c: the hooked waits: poll, ppoll, select; and the waits the other
 * hooks share (on a private epoll instance in a task, in libc's poll
 * outside one).
 * Layer: hook (hook.h says what every hook does).
 *
 * Inside a task a wait that would block parks the task instead. The
 * answer always comes from libc's own call with a zero timeout: one
 * before waiting (anything ready, or an error such as EBADF, ends the
 * call at once) and one after each wake-up, so revents, fd_sets, counts
 * and errors are exactly libc's; only the waiting in between is corun's.
 * The task waits on one socket directly (corun_wait_fd), or, for several
 * fds or ones corun cannot switch to O_NONBLOCK, on a private epoll
 * instance holding them all (level-triggered; the fds' own flags are
 * untouched). A wait corun cannot make (no fd left for the epoll
 * instance, say) falls back to libc's blocking call, which is slower for
 * the other tasks but still correct. A cancelled task's wait ends as a
 * signal would end it: EINTR. */
#include <corun.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hook/hook.h"

/* poll(2)'s events as epoll's: the bits are the same on Linux. */
#define EPOLL_BITS                                                             \
  (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM |   \
   EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP)

/* How long a private wait lasts before its caller looks again. epoll
 * forgets a file that is closed without an event, so a wait whose fd
 * another task closes would otherwise last for ever; looking again every
 * so often finds the fd closed (EBADF, POLLNVAL) or naming a new file. */
#define PRIVATE_LOOK_NS 100000000

/* Waits, in the calling task, until one of fds may be ready, the
 * deadline, or PRIVATE_LOOK_NS, on a private epoll instance; without an
 * fd for the instance (EMFILE), sleeps a few ms instead. Either way the
 * caller then looks again (a zero-timeout poll, a non-blocking try).
 * Returns 0, or -ETIMEDOUT once the deadline has passed, or -ECANCELED. */
static int wait_epoll(const struct pollfd *fds, nfds_t n, int64_t deadline) {
  int saved = errno;
  int64_t now = corun_now(), look = now + PRIVATE_LOOK_NS;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) { /* no fd (or memory) for it: not this call's error */
    errno = saved;
    look = now + 4000000;
    int rc =
        corun_sleep_until(deadline >= 0 && deadline < look ? deadline : look);
    if (rc < 0 || deadline < 0 || deadline > look)
      return rc;
    /* The deadline: one last look, which needs no fd (data that came in
     * the last sleep is the call's, as libc's blocking call returns it) */
    rc = -ETIMEDOUT;
    for (nfds_t i = 0; i < n && rc < 0; i += 8) { /* (8 at a time: no heap) */
      struct pollfd last[8];
      nfds_t k = n - i < 8 ? n - i : 8;
      memcpy(last, fds + i, k * sizeof *last);
      if (corun__real()->poll(last, k, 0) > 0)
        rc = 0;
    }
    errno = saved;
    return rc;
  }
  int closed = 0;
  for (nfds_t i = 0; i < n; i++) {
    if (fds[i].fd < 0)
      continue;
    struct epoll_event e = {
        .events = (uint32_t)(uint16_t)fds[i].events & EPOLL_BITS,
        .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i].fd, &e) == 0)
      continue;
    if (errno == EEXIST) {
      /* the same fd again: wait for what every entry for it asks */
      for (nfds_t j = 0; j < i; j++)
        if (fds[j].fd == fds[i].fd)
          e.events |= (uint32_t)(uint16_t)fds[j].events & EPOLL_BITS;
      epoll_ctl(ep, EPOLL_CTL_MOD, fds[i].fd, &e);
    }
    /* (EBADF: closed meanwhile, the caller's look says so at once; EPERM:
     * a regular file, always ready, which the first zero-timeout poll
     * saw) */
    closed |= errno == EBADF;
  }
  errno = saved;
  int last = deadline >= 0 && deadline <= look;
  int rc = closed ? 0 : corun_wait_fd(ep, CORUN_FD_IN, last ? deadline : look);
  if (rc == -ETIMEDOUT && !last)
    rc = 0; /* time to look again, not the deadline */
  corun_close(ep);
  errno = saved;
  return rc;
}

int corun__hook_wait_private(int fd, int dir, int64_t deadline) {
  struct pollfd p = {fd, dir == 0 ? POLLIN : POLLOUT, 0};
  return wait_epoll(&p, 1, deadline);
}

int corun__hook_wait_task(int fd, int dir, int64_t deadline) {
  int w = corun_wait_fd(fd, dir == 0 ? CORUN_FD_IN : CORUN_FD_OUT, deadline);
  return w == -EBUSY ? corun__hook_wait_private(fd, dir, deadline) : w;
}

/* Whether every signal handler the program installed has SA_RESTART:
 * then the kernel would have restarted a blocking socket call that one
 * of them interrupted (when the socket has no timeout). Asked only after
 * a handler has run, so the cost (a sigaction per signal) is rare. The
 * handlers of faults (corun's stack overflow report, a sanitizer's) do
 * not count: a fault does not interrupt a system call. */
static int handlers_restart(void) {
  int saved = errno, all = 1;
  for (int sig = 1; sig < NSIG && all; sig++) {
    struct sigaction sa;
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS ||
        sig == SIGILL || sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS ||
        sigaction(sig, NULL, &sa) < 0)
      continue;
    if (!(sa.sa_flags & SA_SIGINFO) &&
        (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN))
      continue;
    all = (sa.sa_flags & SA_RESTART) != 0;
  }
  errno = saved; /* (a signal reserved by valgrind says EINVAL) */
  return all;
}

int corun__hook_wait_outside(int fd, int dir, int64_t deadline) {
  int saved = errno;
  for (;;) {
    int ms = -1;
    if (deadline >= 0) {
      int64_t left = deadline - corun_now();
      if (left <= 0)
        return -EAGAIN;
      ms = left / 1000000 >= 0x7fffffff ? 0x7fffffff
                                         : (int)((left + 999999) / 1000000);
    }
    struct pollfd p = {fd, dir == 0 ? POLLIN : POLLOUT, 0};
    int n = corun__real()->poll(&p, 1, ms);
    if (n > 0) {
      errno = saved;
      return 0;
    }
    /* poll says EINTR only when a signal handler ran (the kernel
     * restarts it for anything else, io_uring's task_work included) */
    int e = errno;
    if (n < 0 && (e != EINTR || deadline >= 0 || !handlers_restart()))
      return -e;
  }
}

/* Waits until one of fds may be ready or the deadline. */
static int wait_any(const struct pollfd *fds, nfds_t n, int64_t deadline) {
  if (n == 1 && fds[0].fd >= 0) {
    struct corun__hookfile *f = corun__hookfd(fds[0].fd);
    short ev = fds[0].events & (POLLIN | POLLOUT);
    if (f && atomic_load(&f->type) > 0 && (ev == POLLIN || ev == POLLOUT) &&
        !(fds[0].events & ~(POLLIN | POLLOUT | POLLRDHUP))) {
      /* corun_wait_fd makes the socket non-blocking if it is not: a
       * blocking one (the program's view) is corun's from now on; one the
       * program made non-blocking stays the program's */
      if (!atomic_load(&f->nonblock))
        corun__hook_corun_nb(f, fds[0].fd);
      int rc = corun_wait_fd(fds[0].fd,
                             ev == POLLIN ? CORUN_FD_IN : CORUN_FD_OUT,
                             deadline);
      if (rc != -EBUSY) /* (another task waits on it through corun) */
        return rc;
    }
  }
  return wait_epoll(fds, n, deadline);
}

/* The ms left until deadline (-1: none), for libc's own waits. */
static int ms_left(int64_t deadline) {
  if (deadline < 0)
    return -1;
  int64_t left = deadline - corun_now();
  if (left <= 0)
    return 0;
  return left / 1000000 >= 0x7fffffff ? 0x7fffffff
                                       : (int)((left + 999999) / 1000000);
}

/* poll(2) in a task with hooks on (entered), after a zero-timeout poll
 * found nothing: waits until something is or the deadline (-1: none). */
static int task_poll(struct pollfd *fds, nfds_t n, int64_t deadline) {
  const struct corun__real *R = corun__real();
  for (;;) {
    int w = n ? wait_any(fds, n, deadline) : corun_sleep_until(deadline);
    if (n == 0 && w == 0)
      return 0;
    if (w == -ECANCELED) { /* as a signal would */
      corun__hook_set_errno(EINTR);
      return -1;
    }
    /* corun cannot wait: libc can. Not after -EBADF, an fd closed under
     * the wait (corun_fd_release): the poll below says POLLNVAL, or, if
     * the number names a new file already, the wait goes on with it. */
    if (w < 0 && w != -ETIMEDOUT && w != -EBADF)
      return R->poll(fds, n, ms_left(deadline));
    int r = R->poll(fds, n, 0);
    if (r != 0 || w == -ETIMEDOUT)
      return r;
    /* woken, yet nothing ready (another reader took it): wait again */
  }
}

/* A poll's deadline from a timeout of `ns` (-1: none). */
static int64_t deadline_of(int64_t ns) {
  if (ns < 0)
    return -1;
  int64_t now = corun_now();
  return ns > INT64_MAX - now ? -1 : now + ns;
}

/* poll and ppoll once the hooks are entered: libc's answer if anything is
 * ready now, else the task waits until the deadline; then leaves the
 * hooks with the call's errno kept. */
static int entered_poll(struct pollfd *fds, nfds_t n, int64_t deadline) {
  int r = corun__real()->poll(fds, n, 0);
  if (r == 0)
    r = task_poll(fds, n, deadline);
  int e = corun__hook_get_errno();
  corun__hook_leave();
  corun__hook_set_errno(e);
  return r;
}

CORUN_API int poll(struct pollfd *fds, nfds_t n, int timeout) {
  const struct corun__real *R = corun__real();
  if (timeout == 0 || !corun__hook_enter())
    return R->poll(fds, n, timeout);
  return entered_poll(
      fds, n, deadline_of(timeout < 0 ? -1 : (int64_t)timeout * 1000000));
}

CORUN_API int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                    const sigset_t *mask) {
  const struct corun__real *R = corun__real();
  /* A signal mask cannot be applied to a parked task: libc's, then; and
   * libc says what is wrong with a bad timeout. */
  if (mask ||
      (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec > 999999999 ||
              (ts->tv_sec == 0 && ts->tv_nsec == 0))) ||
      !corun__hook_enter())
    return R->ppoll(fds, n, ts, mask);
  return entered_poll(
      fds, n, deadline_of(ts ? corun__hook_ns(ts->tv_sec, ts->tv_nsec, 1) : -1));
}

CORUN_API int __poll_chk(struct pollfd *fds, nfds_t n, int timeout,
                         size_t size) {
  if (n > size / sizeof *fds)
    abort(); /* as libc's fortified poll */
  return poll(fds, n, timeout);
}

/* Copies the first `bytes` of each of three fd_sets (from the b's to the
 * a's), skipping those either side does not have. */
static void sets_copy(fd_set *r, const fd_set *rb, fd_set *w, const fd_set *wb,
                      fd_set *x, const fd_set *xb, size_t bytes) {
  if (r && rb)
    memcpy(r, rb, bytes);
  if (w && wb)
    memcpy(w, wb, bytes);
  if (x && xb)
    memcpy(x, xb, bytes);
}

/* select in a task (hooks entered): libc's select with a zero timeout
 * says what is ready (or what is wrong), the task waits on the fds as
 * poll does in between. */
static int task_select(int nfds, fd_set *r, fd_set *w, fd_set *x,
                       int64_t deadline) {
  const struct corun__real *R = corun__real();
  /* What the caller asked for: the sets' first nfds bits, in whole
   * words, as the kernel reads them (a caller may have allocated no
   * more than that). */
  fd_set r0, w0, x0;
  size_t bytes = (size_t)(nfds + NFDBITS - 1) / NFDBITS * sizeof(fd_mask);
  FD_ZERO(&r0);
  FD_ZERO(&w0);
  FD_ZERO(&x0);
  sets_copy(&r0, r, &w0, w, &x0, x, bytes);
  struct pollfd small[64], *p = NULL;
  nfds_t n = 0;
  int rc;
  for (;;) {
    struct timeval zero = {0, 0};
    rc = R->select(nfds, r, w, x, &zero);
    if (rc != 0 || (deadline >= 0 && corun_now() >= deadline))
      break;
    if (!p) { /* the fds to wait on, once */
      nfds_t k = 0;
      for (int fd = 0; fd < nfds; fd++)
        k += (r && FD_ISSET(fd, &r0)) || (w && FD_ISSET(fd, &w0)) ||
             (x && FD_ISSET(fd, &x0));
      p = k <= sizeof small / sizeof small[0] ? small : malloc(k * sizeof *p);
      if (!p) {
        rc = -2; /* no memory: libc's own wait */
        break;
      }
      for (int fd = 0; fd < nfds; fd++) {
        short ev = (short)((r && FD_ISSET(fd, &r0) ? POLLIN : 0) |
                           (w && FD_ISSET(fd, &w0) ? POLLOUT : 0) |
                           (x && FD_ISSET(fd, &x0) ? POLLPRI : 0));
        if (ev)
          p[n++] = (struct pollfd){fd, ev, 0};
      }
    }
    sets_copy(r, &r0, w, &w0, x, &x0, bytes);
    int wr = n ? wait_any(p, n, deadline) : corun_sleep_until(deadline);
    if (wr == -ECANCELED) {
      corun__hook_set_errno(EINTR);
      rc = -1;
      break;
    }
    if (wr < 0 && wr != -ETIMEDOUT && wr != -EBADF) { /* (as task_poll) */
      rc = -2;
      break;
    }
  }
  if (p && p != small)
    free(p);
  if (rc == -2) { /* corun cannot wait: libc can */
    int ms = ms_left(deadline);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    sets_copy(r, &r0, w, &w0, x, &x0, bytes);
    rc = R->select(nfds, r, w, x, ms < 0 ? NULL : &tv);
  } else if (rc < 0) { /* the kernel leaves the sets alone on an error */
    sets_copy(r, &r0, w, &w0, x, &x0, bytes);
  }
  return rc;
}

CORUN_API int select(int nfds, fd_set *r, fd_set *w, fd_set *x,
                     struct timeval *tv) {
  /* libc's for bad arguments (it says what is wrong with them) and for
   * fd_sets larger than FD_SETSIZE (not copied here) */
  if ((tv && (tv->tv_sec < 0 || tv->tv_usec < 0 ||
              (tv->tv_sec == 0 && tv->tv_usec == 0))) ||
      nfds < 0 || nfds > FD_SETSIZE || !corun__hook_enter())
    return corun__real()->select(nfds, r, w, x, tv);
  int64_t t = -1;
  if (tv) /* tv_usec past a second counts, as libc normalises it */
    t = corun__hook_ns(tv->tv_sec + tv->tv_usec / 1000000,
                       tv->tv_usec % 1000000, 1000);
  int64_t start = corun_now();
  int rc = task_select(nfds, r, w, x, deadline_of(t));
  int e = corun__hook_get_errno();
  if (tv) { /* Linux leaves the time not slept in *tv, error or not */
    int64_t left = t - (corun_now() - start);
    if (left < 0)
      left = 0;
    tv->tv_sec = left / 1000000000;
    tv->tv_usec = (left % 1000000000) / 1000;
  }
  corun__hook_leave();
  corun__hook_set_errno(e);
  return rc;
}
