/* io.c: the hooked reads and writes: read, readv, recv, recvfrom,
 * recvmsg, write, writev, send, sendto, sendmsg, pread, pwrite (and the
 * _FORTIFY_SOURCE variants that compilers substitute for some of them).
 * Layer: hook (hook.h says what every hook does).
 *
 * Sockets go through corun (the task parks, never the worker); other fds
 * (pipes, terminals) keep libc's behaviour, since switching them to
 * O_NONBLOCK would change them for every process sharing them; regular
 * files go through corun for pread and pwrite (io_uring or the helper
 * threads).
 *
 * Timeouts: SO_RCVTIMEO and SO_SNDTIMEO become the call's deadline, and
 * their expiry is libc's EAGAIN. Writes on a socket whose peer has gone
 * raise SIGPIPE as libc's would (corun itself never does), unless the
 * call passed MSG_NOSIGNAL. */
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "hook/hook.h"

#define IN 0
#define OUT 1

/* The socket fd's hook state if a call on it should go through corun
 * (inside a task with hooks on, on a blocking socket): then the task's
 * hooks are off until corun__hook_leave. NULL: make libc's call. */
static struct corun__hookfd *through_corun(int fd, int flags) {
  struct corun__hookfd *e = corun__hookfd(fd);
  if (!e || !atomic_load(&e->socket) || atomic_load(&e->nonblock) ||
      (flags & MSG_DONTWAIT))
    return NULL;
  return corun__hook_enter() ? e : NULL;
}

/* A corun result as libc returns it: the socket timeout's expiry (the
 * deadline passed, not an error of the kernel's) is EAGAIN. */
static ssize_t ret(ssize_t r, int64_t deadline) {
  if (r == -ETIMEDOUT && deadline >= 0 && corun_now() >= deadline)
    r = -EAGAIN;
  return corun__hook_ret(r);
}

/* After a write's result r: SIGPIPE as the kernel would have sent it. */
static ssize_t sigpipe(ssize_t r, int flags) {
  if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
    pthread_kill(pthread_self(), SIGPIPE);
  return r;
}

/* Outside a task, a blocking call on an fd that corun has switched to
 * O_NONBLOCK must still block: after libc's call said EAGAIN, waits in
 * libc's poll (up to the socket's timeout) and says whether to try again
 * (else errno is EAGAIN or poll's). */
static int wait_outside(int fd, int dir) {
  if (errno != EAGAIN || !corun__hook_emulate_blocking())
    return 0;
  struct corun__hookfd *e = corun__hookfd(fd);
  if (!e || !atomic_load(&e->socket) || atomic_load(&e->nonblock))
    return 0;
  const struct corun__real *R = corun__real();
  int saved = errno;
  int fl = R->fcntl(fd, F_GETFL);
  if (fl < 0 || !(fl & O_NONBLOCK)) { /* really blocking: a timeout */
    errno = saved;
    return 0;
  }
  int64_t t = atomic_load(dir == IN ? &e->rcvtimeo : &e->sndtimeo);
  int ms = t > 0 ? (int)((t + 999999) / 1000000) : -1;
  struct pollfd p = {fd, dir == IN ? POLLIN : POLLOUT, 0};
  int n = R->poll(&p, 1, ms);
  if (n == 0)
    errno = EAGAIN;
  return n > 0;
}

/* The body of a hooked call: through corun, or libc's (retried while it
 * must block). */
#define HOOK_IO(fd, dir, flags, corun_call, libc_call)                         \
  do {                                                                         \
    struct corun__hookfd *e_ = through_corun(fd, flags);                       \
    if (e_) {                                                                  \
      int64_t deadline = corun__hook_deadline(                                 \
          atomic_load(dir == IN ? &e_->rcvtimeo : &e_->sndtimeo));             \
      ssize_t r_ = (corun_call);                                               \
      corun__hook_leave();                                                     \
      return ret(dir == OUT ? sigpipe(r_, flags) : r_, deadline);              \
    }                                                                          \
    for (;;) {                                                                 \
      ssize_t r_ = (libc_call);                                                \
      if (r_ >= 0 || !wait_outside(fd, dir))                                   \
        return r_;                                                             \
    }                                                                          \
  } while (0)

CORUN_API ssize_t read(int fd, void *buf, size_t n) {
  HOOK_IO(fd, IN, 0, corun_read(fd, buf, n, deadline),
          corun__real()->read(fd, buf, n));
}

CORUN_API ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  HOOK_IO(fd, IN, 0, corun_readv(fd, iov, cnt, deadline),
          corun__real()->readv(fd, iov, cnt));
}

CORUN_API ssize_t recv(int fd, void *buf, size_t n, int flags) {
  HOOK_IO(fd, IN, flags, corun_recv(fd, buf, n, flags, deadline),
          corun__real()->recv(fd, buf, n, flags));
}

CORUN_API ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
                           struct sockaddr *sa, socklen_t *len) {
  HOOK_IO(fd, IN, flags, corun_recvfrom(fd, buf, n, flags, sa, len, deadline),
          corun__real()->recvfrom(fd, buf, n, flags, sa, len));
}

CORUN_API ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  HOOK_IO(fd, IN, flags, corun_recvmsg(fd, msg, flags, deadline),
          corun__real()->recvmsg(fd, msg, flags));
}

CORUN_API ssize_t write(int fd, const void *buf, size_t n) {
  HOOK_IO(fd, OUT, 0, corun_write(fd, buf, n, deadline),
          corun__real()->write(fd, buf, n));
}

CORUN_API ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  HOOK_IO(fd, OUT, 0, corun_writev(fd, iov, cnt, deadline),
          corun__real()->writev(fd, iov, cnt));
}

CORUN_API ssize_t send(int fd, const void *buf, size_t n, int flags) {
  HOOK_IO(fd, OUT, flags, corun_send(fd, buf, n, flags, deadline),
          corun__real()->send(fd, buf, n, flags));
}

CORUN_API ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *sa, socklen_t len) {
  HOOK_IO(fd, OUT, flags, corun_sendto(fd, buf, n, flags, sa, len, deadline),
          corun__real()->sendto(fd, buf, n, flags, sa, len));
}

CORUN_API ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  HOOK_IO(fd, OUT, flags, corun_sendmsg(fd, msg, flags, deadline),
          corun__real()->sendmsg(fd, msg, flags));
}

/* pread and pwrite: regular files too (io_uring or the helper threads). */
static int file_through_corun(int fd) {
  struct corun__hookfd *e = corun__hookfd(fd);
  return e && !atomic_load(&e->nonblock) && corun__hook_enter();
}

CORUN_API ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  if (!file_through_corun(fd))
    return corun__real()->pread(fd, buf, n, off);
  ssize_t r = corun_pread(fd, buf, n, off, -1);
  corun__hook_leave();
  return corun__hook_ret(r);
}

CORUN_API ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  if (!file_through_corun(fd))
    return corun__real()->pwrite(fd, buf, n, off);
  ssize_t r = corun_pwrite(fd, buf, n, off, -1);
  corun__hook_leave();
  return corun__hook_ret(sigpipe(r, 0));
}

/* _FORTIFY_SOURCE: the compiler calls these when it knows the buffer's
 * size; libc aborts on an overflow, so do we. */
static void check(size_t n, size_t size) {
  if (n > size) {
    static const char msg[] = "*** buffer overflow detected ***: terminated\n";
    corun__real()->write(2, msg, sizeof msg - 1);
    abort();
  }
}

CORUN_API ssize_t __read_chk(int fd, void *buf, size_t n, size_t size) {
  check(n, size);
  return read(fd, buf, n);
}

CORUN_API ssize_t __recv_chk(int fd, void *buf, size_t n, size_t size,
                             int flags) {
  check(n, size);
  return recv(fd, buf, n, flags);
}

CORUN_API ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t size,
                                 int flags, struct sockaddr *sa,
                                 socklen_t *len) {
  check(n, size);
  return recvfrom(fd, buf, n, flags, sa, len);
}

CORUN_API ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off,
                              size_t size) {
  check(n, size);
  return pread(fd, buf, n, off);
}

/* With _FILE_OFFSET_BITS=64 the headers name these instead. */
CORUN_API ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
  return pread(fd, buf, n, off);
}

CORUN_API ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  return pwrite(fd, buf, n, off);
}
