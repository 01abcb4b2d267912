/* io.c: blocking-style IO for tasks: each call tries the system call and,
 * when it would block, parks the task until the fd is ready (poll.h) or
 * the deadline passes. The worker thread never blocks.
 * Layer: io (uses base, sched, poll). Locking: none of its own.
 *
 * Every call here returns -errno and leaves errno alone (DESIGN.md): the
 * system call's errno is read right after it, in the same task, before
 * anything can switch. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/compiler.h"
#include "corun.h"
#include "io/io.h"
#include "poll/poll.h"
#include "sched/sched.h"

/* This thread's errno, found afresh: a task may wake on another worker
 * thread after a wait, and glibc declares __errno_location const, so the
 * compiler would otherwise reuse the address from before the wait and
 * write another thread's errno (TSan caught it; a task elsewhere then saw
 * its EAGAIN turn into 0). Not inlined, and a compiler barrier. */
CORUN__NOINLINE int *corun__errno_here(void) {
  __asm__ volatile("" ::: "memory");
  return &errno;
}

/* Runs `call` (an expression giving a ssize_t, -1 with errno on failure)
 * until it succeeds, fails with something other than EAGAIN, or the wait
 * for direction dir ends with an error. errno is read and restored around
 * the call, on the thread that made it. */
#define RETRY_IO(fd, dir, deadline, call)                                      \
  do {                                                                         \
    for (;;) {                                                                 \
      uint32_t seq_;                                                           \
      int prc_ = corun__poll_prepare(fd, dir, &seq_);                          \
      if (prc_ < 0) /* -EPERM outside a task: an error, not a hang */          \
        return prc_;                                                           \
      int *ep_ = corun__errno_here();                                          \
      int saved_ = *ep_;                                                       \
      ssize_t r_ = (call);                                                     \
      int e_ = *ep_;                                                           \
      *ep_ = saved_;                                                           \
      if (r_ >= 0)                                                             \
        return r_;                                                             \
      if (e_ == EINTR)                                                         \
        continue;                                                              \
      if (e_ != EAGAIN && e_ != EWOULDBLOCK)                                   \
        return -e_;                                                            \
      if (deadline == 0)                                                       \
        return -EAGAIN;                                                        \
      if (prc_ == 1) /* not pollable, yet EAGAIN: a non-blocking file */       \
        return -EAGAIN;                                                        \
      int w_ = corun__poll_wait(fd, dir, seq_, deadline);                      \
      if (w_ < 0)                                                              \
        return w_;                                                             \
    }                                                                          \
  } while (0)

ssize_t corun_read(int fd, void *buf, size_t n, int64_t deadline) {
  RETRY_IO(fd, CORUN__POLL_IN, deadline, read(fd, buf, n));
}

ssize_t corun_write(int fd, const void *buf, size_t n, int64_t deadline) {
  RETRY_IO(fd, CORUN__POLL_OUT, deadline, write(fd, buf, n));
}

ssize_t corun_recv(int fd, void *buf, size_t n, int flags, int64_t deadline) {
  RETRY_IO(fd, CORUN__POLL_IN, deadline, recv(fd, buf, n, flags));
}

ssize_t corun_send(int fd, const void *buf, size_t n, int flags,
                   int64_t deadline) {
  RETRY_IO(fd, CORUN__POLL_OUT, deadline,
           send(fd, buf, n, flags | MSG_NOSIGNAL));
}

int corun_accept(int fd, struct sockaddr *sa, socklen_t *len,
                 int64_t deadline) {
  RETRY_IO(fd, CORUN__POLL_IN, deadline,
           accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

ssize_t corun_write_all(int fd, const void *buf, size_t n, int64_t deadline) {
  const char *p = buf;
  size_t done = 0;
  while (done < n) {
    ssize_t w = corun_write(fd, p + done, n - done, deadline);
    if (w < 0)
      return done ? (ssize_t)done : w;
    done += (size_t)w;
  }
  return (ssize_t)done;
}

int corun_wait_fd(int fd, int events, int64_t deadline) {
  if (events != CORUN_FD_IN && events != CORUN_FD_OUT)
    return -EINVAL;
  int dir = events == CORUN_FD_IN ? CORUN__POLL_IN : CORUN__POLL_OUT;
  uint32_t seq;
  int rc = corun__poll_prepare(fd, dir, &seq);
  if (rc < 0)
    return rc;
  if (rc == 1)
    return 0; /* a regular file is always ready */
  if (deadline == 0)
    return -EAGAIN;
  /* Edge-triggered: the fd may be ready already with no event to come.
   * A zero-timeout poll(2) tells; only then wait for the next event. */
  return corun__poll_ready_now(fd, dir)
             ? 0
             : corun__poll_wait(fd, dir, seq, deadline);
}

int corun_connect(int fd, const struct sockaddr *sa, socklen_t len,
                  int64_t deadline) {
  uint32_t seq;
  int rc = corun__poll_prepare(fd, CORUN__POLL_OUT, &seq);
  if (rc < 0)
    return rc;
  int *ep = corun__errno_here();
  int saved = *ep;
  int ok = connect(fd, sa, len) == 0;
  int e = *ep;
  *ep = saved;
  if (ok)
    return 0;
  if (e != EINPROGRESS && e != EINTR)
    return -e;
  if (deadline == 0)
    return -EINPROGRESS;
  /* Writable once the handshake is over, either way: SO_ERROR says. */
  for (;;) {
    int err = 0;
    socklen_t el = sizeof err;
    ep = corun__errno_here(); /* after a wait: maybe another thread */
    saved = *ep;
    ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0;
    e = *ep;
    *ep = saved;
    if (!ok)
      return -e;
    if (err)
      return -err;
    if (corun__poll_ready_now(fd, CORUN__POLL_OUT))
      return 0;
    rc = corun__poll_wait(fd, CORUN__POLL_OUT, seq, deadline);
    if (rc < 0)
      return rc;
    corun__poll_prepare(fd, CORUN__POLL_OUT, &seq);
  }
}

int corun_close(int fd) {
  corun__poll_forget(fd);
  int *ep = corun__errno_here();
  int saved = *ep;
  int rc = close(fd) == 0 ? 0 : -*ep;
  *ep = saved;
  return rc;
}
