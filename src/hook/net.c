/* net.c: the hooked calls that make, connect, change and close fds:
 * socket, socketpair, accept, accept4, connect, close, shutdown, fcntl,
 * ioctl(FIONBIO), setsockopt(SO_RCVTIMEO/SO_SNDTIMEO), dup, dup2, dup3.
 * Layer: hook (hook.h says what every hook does).
 *
 * They keep the program's view of each fd (fd.c) while corun keeps the
 * sockets it waits on non-blocking: fcntl(F_GETFL) answers with the
 * program's O_NONBLOCK, and F_SETFL/FIONBIO change only that view once
 * corun owns the real flag. close, dup2 and dup3 first wake the tasks
 * waiting on the fd that goes away (corun_fd_release), so none of them
 * waits on a number that is about to mean another file. */
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "hook/hook.h"

/* A call made by corun itself (a task with hooks off: corun's IO layer
 * switching a socket to O_NONBLOCK, say) or by a task that turned its
 * hooks off: libc's, and the program's view of the fd stays as it was. */
static int unhooked(void) {
  int s = corun_hooks_enabled();
  return s == 0 || s == 2;
}

CORUN_API int socket(int domain, int type, int protocol) {
  int fd = corun__real()->socket(domain, type, protocol);
  if (fd >= 0)
    corun__hookfd_new(fd, 1, (type & SOCK_NONBLOCK) != 0);
  return fd;
}

CORUN_API int socketpair(int domain, int type, int protocol, int sv[2]) {
  int rc = corun__real()->socketpair(domain, type, protocol, sv);
  if (rc == 0) {
    corun__hookfd_new(sv[0], 1, (type & SOCK_NONBLOCK) != 0);
    corun__hookfd_new(sv[1], 1, (type & SOCK_NONBLOCK) != 0);
  }
  return rc;
}

CORUN_API int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags) {
  const struct corun__real *R = corun__real();
  struct corun__hookfd *e = corun__hookfd(fd);
  if (!e || !atomic_load(&e->socket) || atomic_load(&e->nonblock) ||
      !corun__hook_enter()) {
    int r;
    /* outside a task on a socket corun made non-blocking: still block */
    while ((r = R->accept4(fd, sa, len, flags)) < 0 && errno == EAGAIN && e &&
           !atomic_load(&e->nonblock) && corun__hook_emulate_blocking() &&
           (R->fcntl(fd, F_GETFL) & O_NONBLOCK)) {
      struct pollfd p = {fd, POLLIN, 0};
      int64_t t = atomic_load(&e->rcvtimeo);
      if (R->poll(&p, 1, t > 0 ? (int)((t + 999999) / 1000000) : -1) == 0) {
        errno = EAGAIN;
        return -1;
      }
    }
    if (r >= 0)
      corun__hookfd_new(r, 1, (flags & SOCK_NONBLOCK) != 0);
    return r;
  }
  int64_t deadline = corun__hook_deadline(atomic_load(&e->rcvtimeo));
  int r = corun_accept(fd, sa, len, deadline); /* non-blocking, cloexec */
  if (r >= 0 && !(flags & SOCK_CLOEXEC))
    R->fcntl(r, F_SETFD, 0);
  corun__hook_leave();
  if (r >= 0) {
    corun__hookfd_new(r, 1, (flags & SOCK_NONBLOCK) != 0);
    return r;
  }
  if (r == -ETIMEDOUT && deadline >= 0)
    r = -EAGAIN; /* SO_RCVTIMEO expired */
  return (int)corun__hook_ret(r);
}

CORUN_API int accept(int fd, struct sockaddr *sa, socklen_t *len) {
  return accept4(fd, sa, len, 0);
}

CORUN_API int connect(int fd, const struct sockaddr *sa, socklen_t len) {
  const struct corun__real *R = corun__real();
  struct corun__hookfd *e = corun__hookfd(fd);
  if (!e || !atomic_load(&e->socket) || atomic_load(&e->nonblock) ||
      !corun__hook_enter()) {
    int r = R->connect(fd, sa, len);
    if (r < 0 && errno == EINPROGRESS && e && atomic_load(&e->socket) &&
        !atomic_load(&e->nonblock) && corun__hook_emulate_blocking() &&
        (R->fcntl(fd, F_GETFL) & O_NONBLOCK)) {
      /* outside a task on a socket corun made non-blocking: wait */
      struct pollfd p = {fd, POLLOUT, 0};
      int64_t t = atomic_load(&e->sndtimeo);
      if (R->poll(&p, 1, t > 0 ? (int)((t + 999999) / 1000000) : -1) == 0) {
        errno = EINPROGRESS; /* SO_SNDTIMEO expired, as Linux says it */
        return -1;
      }
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
      errno = err;
      return err ? -1 : 0;
    }
    return r;
  }
  int64_t deadline = corun__hook_deadline(atomic_load(&e->sndtimeo));
  int r = corun_connect(fd, sa, len, deadline);
  corun__hook_leave();
  if (r == -ETIMEDOUT && deadline >= 0 && corun_now() >= deadline)
    r = -EINPROGRESS; /* SO_SNDTIMEO expired: Linux's connect says so */
  return (int)corun__hook_ret(r);
}

CORUN_API int close(int fd) {
  corun_fd_release(fd); /* wakes its waiters with EBADF */
  corun__hookfd_drop(fd);
  return corun__real()->close(fd);
}

CORUN_API int shutdown(int fd, int how) {
  return corun__real()->shutdown(fd, how); /* waiters wake by the kernel */
}

/* F_SETFL on a socket: records the program's flag; a real O_NONBLOCK is
 * never cleared (corun may have made the socket non-blocking and still
 * count on it; blocking calls outside tasks wait in poll instead). */
static int set_fl(int fd, long arg) {
  const struct corun__real *R = corun__real();
  struct corun__hookfd *e = corun__hookfd(fd);
  if (!e || !atomic_load(&e->socket))
    return R->fcntl(fd, F_SETFL, arg);
  int cur = R->fcntl(fd, F_GETFL);
  if (cur < 0)
    return -1;
  long real_arg = arg;
  if (cur & O_NONBLOCK)
    real_arg |= O_NONBLOCK;
  int r = R->fcntl(fd, F_SETFL, real_arg);
  if (r == 0)
    atomic_store(&e->nonblock, (arg & O_NONBLOCK) != 0);
  return r;
}

static int get_fl(int fd) {
  int fl = corun__real()->fcntl(fd, F_GETFL);
  struct corun__hookfd *e;
  if (fl >= 0 && (e = corun__hookfd(fd)) && atomic_load(&e->socket) &&
      !atomic_load(&e->nonblock))
    fl &= ~O_NONBLOCK;
  return fl;
}

/* dup and friends: the new fd shares the file, and so the view. */
static int dup_view(int from, int to) {
  struct corun__hookfd *e;
  if (to >= 0 && (e = corun__hookfd(from)) != NULL) {
    corun__hookfd_new(to, atomic_load(&e->socket), atomic_load(&e->nonblock));
    struct corun__hookfd *n = corun__hookfd(to);
    if (n) {
      atomic_store(&n->rcvtimeo, atomic_load(&e->rcvtimeo));
      atomic_store(&n->sndtimeo, atomic_load(&e->sndtimeo));
    }
  }
  return to;
}

static int do_fcntl(int fd, int cmd, void *arg) {
  const struct corun__real *R = corun__real();
  if (unhooked())
    return R->fcntl(fd, cmd, arg);
  switch (cmd) {
  case F_GETFL:
    return get_fl(fd);
  case F_SETFL:
    return set_fl(fd, (long)arg);
  case F_DUPFD:
  case F_DUPFD_CLOEXEC:
    return dup_view(fd, R->fcntl(fd, cmd, arg));
  default:
    return R->fcntl(fd, cmd, arg);
  }
}

/* fcntl's third argument is an int or a pointer: passed on as a pointer-
 * sized value, which both ABIs corun runs on use the same register for. */
CORUN_API int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return do_fcntl(fd, cmd, arg);
}

CORUN_API int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return do_fcntl(fd, cmd, arg);
}

CORUN_API int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  const struct corun__real *R = corun__real();
  struct corun__hookfd *e;
  if (req != FIONBIO || !arg || unhooked() || !(e = corun__hookfd(fd)) ||
      !atomic_load(&e->socket))
    return R->ioctl(fd, req, arg);
  int on = *(int *)arg != 0;
  int cur = R->fcntl(fd, F_GETFL);
  if (cur < 0)
    return -1;
  if (cur & O_NONBLOCK) { /* kept underneath, as in set_fl */
    atomic_store(&e->nonblock, on);
    return 0;
  }
  int r = R->ioctl(fd, req, arg);
  if (r == 0)
    atomic_store(&e->nonblock, on);
  return r;
}

CORUN_API int setsockopt(int fd, int level, int name, const void *val,
                         socklen_t len) {
  int r = corun__real()->setsockopt(fd, level, name, val, len);
  struct corun__hookfd *e;
  if (r == 0 && level == SOL_SOCKET && !unhooked() &&
      (name == SO_RCVTIMEO || name == SO_SNDTIMEO) &&
      len >= (socklen_t)sizeof(struct timeval) && (e = corun__hookfd(fd))) {
    const struct timeval *tv = val;
    int64_t ns = (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
    atomic_store(name == SO_RCVTIMEO ? &e->rcvtimeo : &e->sndtimeo, ns);
  }
  return r;
}

CORUN_API int dup(int fd) {
  return dup_view(fd, corun__real()->dup(fd));
}

CORUN_API int dup2(int from, int to) {
  if (from != to) {
    corun_fd_release(to); /* `to` is about to name another file */
    corun__hookfd_drop(to);
  }
  return dup_view(from, corun__real()->dup2(from, to));
}

CORUN_API int dup3(int from, int to, int flags) {
  if (from != to) {
    corun_fd_release(to);
    corun__hookfd_drop(to);
  }
  return dup_view(from, corun__real()->dup3(from, to, flags));
}
