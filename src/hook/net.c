/* net.c: the hooked calls that make, connect, change and close fds:
 * socket, socketpair, accept, accept4, connect, close, shutdown, fcntl,
 * ioctl(FIONBIO), setsockopt(SO_RCVTIMEO/SO_SNDTIMEO), dup, dup2, dup3.
 * Layer: hook (hook.h says what every hook does).
 *
 * They keep the program's view of each file (fd.c) while corun keeps the
 * sockets it waits on non-blocking: fcntl(F_GETFL) answers with the
 * program's O_NONBLOCK; F_SETFL/FIONBIO change that view and reach the
 * kernel, but never clear an O_NONBLOCK corun set (hook.h). A task with
 * hooks off keeps the view too;
 * only corun's own calls leave it alone. close, dup2 and dup3 first wake
 * the tasks waiting on the fd that goes away (corun_fd_release), so none
 * of them waits on a number that is about to mean another file; a dup2
 * or dup3 that is bound to fail (a bad fd, bad flags) is libc's alone and
 * leaves the target fd as it was. */
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include "hook/hook.h"

#define SOCK_TYPE(t) ((t) & 0xf) /* without SOCK_NONBLOCK, SOCK_CLOEXEC */

CORUN_API int socket(int domain, int type, int protocol) {
  int fd = corun__real()->socket(domain, type, protocol);
  if (fd >= 0)
    corun__hookfd_new(fd, domain, SOCK_TYPE(type),
                      (type & SOCK_NONBLOCK) != 0);
  return fd;
}

CORUN_API int socketpair(int domain, int type, int protocol, int sv[2]) {
  int rc = corun__real()->socketpair(domain, type, protocol, sv);
  if (rc == 0) {
    for (int i = 0; i < 2; i++)
      corun__hookfd_new(sv[i], domain, SOCK_TYPE(type),
                        (type & SOCK_NONBLOCK) != 0);
  }
  return rc;
}

/* fd's file if a call on it should wait as a blocking socket's (the
 * program's view: blocking), else NULL: libc's call, once. */
static struct corun__hookfile *blocking_socket(int fd) {
  if (corun__hook_internal())
    return NULL; /* corun's own call: it wants EAGAIN */
  struct corun__hookfile *f = corun__hookfd(fd);
  return f && atomic_load(&f->type) > 0 && !atomic_load(&f->nonblock) ? f
                                                                       : NULL;
}

/* Whether fd is non-blocking underneath (then a libc call on it that says
 * EAGAIN or EINPROGRESS must be waited for). */
static int real_nonblock(int fd) {
  int fl = corun__real()->fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK);
}

CORUN_API int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags) {
  const struct corun__real *R = corun__real();
  struct corun__hookfile *f = blocking_socket(fd);
  int internal = !f && corun__hook_internal();
  int r;
  if (!f || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))) {
    r = R->accept4(fd, sa, len, flags); /* (bad flags: libc says EINVAL) */
  } else if (corun__hook_enter()) {
    int64_t deadline = corun__hook_deadline(atomic_load(&f->rcvtimeo));
    corun__hook_corun_nb(f, fd);
    r = corun_accept(fd, sa, len, deadline); /* non-blocking, cloexec */
    while (r == -EBUSY) { /* another task accepts on it too */
      int w = corun__hook_wait_private(fd, 0, deadline);
      if (w < 0) {
        r = w;
        break;
      }
      if ((r = corun_accept(fd, sa, len, 0)) == -EAGAIN)
        r = -EBUSY;
    }
    if (r >= 0 && !(flags & SOCK_CLOEXEC))
      R->fcntl(r, F_SETFD, 0);
    if (r >= 0 && !(flags & SOCK_NONBLOCK)) /* as the program asked */
      R->fcntl(r, F_SETFL, 0);
    corun__hook_leave();
    if (r == -ETIMEDOUT && deadline > 0)
      r = -EAGAIN; /* SO_RCVTIMEO expired */
    r = (int)corun__hook_ret(r);
  } else { /* outside a task, or hooks off: block as libc's would */
    int saved = errno;
    corun__hook_off_nonblock(fd);
    int64_t deadline = corun__hook_deadline(atomic_load(&f->rcvtimeo));
    while ((r = R->accept4(fd, sa, len, flags)) < 0 && errno == EAGAIN &&
           real_nonblock(fd)) {
      int w = corun__hook_wait_outside(fd, 0, deadline);
      if (w < 0) {
        errno = -w;
        break;
      }
    }
    if (r >= 0)
      errno = saved;
  }
  if (r >= 0 && !internal) {
    struct corun__hookfile *l = corun__hookfd(fd);
    corun__hookfd_new(r, l ? atomic_load(&l->domain) : 0,
                      l ? atomic_load(&l->type) : SOCK_STREAM,
                      (flags & SOCK_NONBLOCK) != 0);
    /* A listener with timeouts may have passed them on (TCP does) */
    if (!l || atomic_load(&l->rcvtimeo) || atomic_load(&l->sndtimeo))
      corun__hookfd_timeouts(r);
  }
  return r;
}

CORUN_API int accept(int fd, struct sockaddr *sa, socklen_t *len) {
  return accept4(fd, sa, len, 0);
}

/* A unix-domain connect to a listener whose queue is full says EAGAIN on
 * a non-blocking socket, and nothing tells when to try again (the kernel
 * wakes a blocking one when the listener accepts): try again after a
 * pause that grows to 16 ms. */
static int64_t backoff(int64_t *pause) {
  int64_t p = *pause;
  *pause = p < 16000000 ? p * 2 : p;
  return p;
}

/* connect(2) on a socket that is blocking in the program's view but may
 * be non-blocking underneath: ends as the kernel's blocking connect ends.
 * Once the handshake is over (the socket is writable) a second connect(2)
 * gives the kernel's verdict, 0 or the error (ECONNREFUSED), and leaves
 * the socket as a blocking connect would: "connected" (a third connect
 * says EISCONN) or unconnected again (a third connect tries anew). Its
 * SO_SNDTIMEO expiring ends it with EINPROGRESS, as Linux's does.
 * task: through corun (hooks entered). Returns 0 or -errno. */
static int connect_blocking(int fd, const struct sockaddr *sa, socklen_t len,
                            int64_t deadline, int task) {
  const struct corun__real *R = corun__real();
  int64_t pause = 1000000;
  if (task) { /* corun makes it non-blocking, so the worker never blocks */
    int w = corun_wait_fd(fd, CORUN_FD_OUT, 0);
    if (w < 0 && w != -EAGAIN)
      return w;
  }
  int r = R->connect(fd, sa, len);
  int e = r < 0 ? corun__hook_get_errno() : 0;
  /* AF_UNIX, the listener's queue full */
  while (e == EAGAIN && sa && sa->sa_family == AF_UNIX && deadline != 0 &&
         (deadline < 0 || corun_now() < deadline) &&
         (task || real_nonblock(fd))) {
    int64_t p = backoff(&pause);
    if (task) {
      int w = corun_sleep(p);
      if (w < 0)
        return w;
    } else {
      struct timespec ts = {p / 1000000000, p % 1000000000};
      R->nanosleep(&ts, NULL);
    }
    r = R->connect(fd, sa, len);
    e = r < 0 ? corun__hook_get_errno() : 0;
  }
  if (e != EINPROGRESS || (!task && !real_nonblock(fd)))
    return -e; /* done, or the kernel's own blocking connect has ended */
  for (;;) {
    int w = task ? corun__hook_wait_task(fd, 1, deadline)
                 : corun__hook_wait_outside(fd, 1, deadline);
    if (w == -EAGAIN || (w == -ETIMEDOUT && deadline > 0))
      return -EINPROGRESS; /* SO_SNDTIMEO expired */
    if (w < 0)
      return w;
    r = R->connect(fd, sa, len);
    e = r < 0 ? corun__hook_get_errno() : 0;
    if (e != EALREADY) /* (still in progress: woken early) */
      return -e;
  }
}

CORUN_API int connect(int fd, const struct sockaddr *sa, socklen_t len) {
  struct corun__hookfile *f = blocking_socket(fd);
  if (!f)
    return corun__real()->connect(fd, sa, len);
  int64_t deadline = corun__hook_deadline(atomic_load(&f->sndtimeo));
  if (corun__hook_enter()) {
    int saved = corun__hook_get_errno(); /* the task's, wherever it runs */
    corun__hook_corun_nb(f, fd);
    int r = connect_blocking(fd, sa, len, deadline, 1);
    corun__hook_leave();
    if (r == 0)
      corun__hook_set_errno(saved);
    return (int)corun__hook_ret(r);
  }
  /* outside a task, or hooks off: block as libc's would */
  int saved = errno;
  corun__hook_off_nonblock(fd);
  int r = connect_blocking(fd, sa, len, deadline, 0);
  if (r == 0)
    errno = saved;
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

/* F_SETFL on a socket: the kernel gets the program's flags, except that
 * an O_NONBLOCK corun set underneath stays (hook.h); the view records the
 * program's O_NONBLOCK. */
static int set_fl(int fd, long arg) {
  const struct corun__real *R = corun__real();
  struct corun__hookfile *f = corun__hookfd(fd);
  if (!f || atomic_load(&f->type) <= 0)
    return R->fcntl(fd, F_SETFL, arg);
  corun__hookfile_lock(f); /* against a task marking it (hook.h) */
  int r =
      R->fcntl(fd, F_SETFL, atomic_load(&f->corun_nb) ? arg | O_NONBLOCK : arg);
  if (r == 0)
    atomic_store(&f->nonblock, (arg & O_NONBLOCK) != 0);
  corun__hookfile_unlock(f);
  return r;
}

static int get_fl(int fd) {
  int fl = corun__real()->fcntl(fd, F_GETFL);
  struct corun__hookfile *f;
  if (fl >= 0 && (f = corun__hookfd(fd)) && atomic_load(&f->type) > 0 &&
      !atomic_load(&f->nonblock))
    fl &= ~O_NONBLOCK;
  return fl;
}

static int do_fcntl(int fd, int cmd, void *arg) {
  const struct corun__real *R = corun__real();
  if (corun__hook_internal())
    return R->fcntl(fd, cmd, arg);
  int r;
  switch (cmd) {
  case F_GETFL:
    return get_fl(fd);
  case F_SETFL:
    return set_fl(fd, (long)arg);
  case F_DUPFD:
  case F_DUPFD_CLOEXEC:
    if ((r = R->fcntl(fd, cmd, arg)) >= 0)
      corun__hookfd_dup(fd, r);
    return r;
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
  struct corun__hookfile *f;
  if (req != FIONBIO || !arg || corun__hook_internal() ||
      !(f = corun__hookfd(fd)) || atomic_load(&f->type) <= 0)
    return R->ioctl(fd, req, arg);
  int on = *(int *)arg != 0, r = 0;
  corun__hookfile_lock(f);              /* as set_fl */
  if (on || !atomic_load(&f->corun_nb)) /* (else corun's flag stays) */
    r = R->ioctl(fd, req, arg);
  if (r == 0)
    atomic_store(&f->nonblock, on);
  corun__hookfile_unlock(f);
  return r;
}

CORUN_API int setsockopt(int fd, int level, int name, const void *val,
                         socklen_t len) {
  int r = corun__real()->setsockopt(fd, level, name, val, len);
  struct corun__hookfile *f;
  int rcv = name == SO_RCVTIMEO, snd = name == SO_SNDTIMEO;
#ifdef SO_RCVTIMEO_NEW /* the 64-bit time_t names, the same layout here */
  rcv |= name == SO_RCVTIMEO_NEW && sizeof(time_t) == 8;
  snd |= name == SO_SNDTIMEO_NEW && sizeof(time_t) == 8;
#endif
  if (r == 0 && level == SOL_SOCKET && (rcv || snd) &&
      len >= (socklen_t)sizeof(struct timeval) && !corun__hook_internal() &&
      (f = corun__hookfd(fd)))
    atomic_store(rcv ? &f->rcvtimeo : &f->sndtimeo, corun__hook_timeo(val));
  return r;
}

CORUN_API int dup(int fd) {
  int r = corun__real()->dup(fd);
  if (r >= 0)
    corun__hookfd_dup(fd, r);
  return r;
}

/* Whether dup2/dup3(from, to) can only fail (then it is libc's alone). */
static int dup_fails(int from, int to) {
  return from == to || to < 0 || corun__real()->fcntl(from, F_GETFD) < 0;
}

CORUN_API int dup2(int from, int to) {
  const struct corun__real *R = corun__real();
  if (dup_fails(from, to))
    return R->dup2(from, to);
  corun_fd_release(to); /* `to` is about to name another file */
  int r = R->dup2(from, to);
  if (r >= 0)
    corun__hookfd_dup(from, to);
  return r;
}

CORUN_API int dup3(int from, int to, int flags) {
  const struct corun__real *R = corun__real();
  if ((flags & ~O_CLOEXEC) || dup_fails(from, to))
    return R->dup3(from, to, flags);
  corun_fd_release(to);
  int r = R->dup3(from, to, flags);
  if (r >= 0)
    corun__hookfd_dup(from, to);
  return r;
}
