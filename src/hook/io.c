/* io.c: the hooked reads and writes: read, readv, recv, recvfrom,
 * recvmsg, write, writev, send, sendto, sendmsg, pread, pwrite, sendfile
 * (and the _FORTIFY_SOURCE variants that compilers substitute for some of
 * them).
 * Layer: hook (hook.h says what every hook does).
 *
 * Only blocking sockets (in the program's view) are changed: inside a
 * task the call goes through corun (the task parks, never the worker);
 * outside a task, or with hooks off, it is libc's call, completed by
 * waiting in libc's poll when corun has made the socket non-blocking
 * underneath. Other fds (pipes, terminals) keep libc's behaviour, since
 * switching them to O_NONBLOCK would change them for every process
 * sharing them; regular files go through corun for pread and pwrite
 * (io_uring or the helper threads).
 *
 * Either way the kernel's rules for a blocking socket hold, although the
 * socket is non-blocking underneath: a write on a stream socket returns
 * once everything is written (or with what was, when an error or the
 * timeout comes after some), MSG_WAITALL waits for the whole buffer (up
 * to EOF, an error or the timeout), MSG_DONTWAIT never waits. A partial
 * transfer goes on with the rest as sendmsg/recvmsg on a copy of the
 * buffers' list.
 *
 * Timeouts: SO_RCVTIMEO and SO_SNDTIMEO become the call's deadline, and
 * their expiry is libc's EAGAIN (with what was transferred, if any).
 * Writes on a socket whose peer has gone raise SIGPIPE as libc's would
 * (corun itself never does), unless the call passed MSG_NOSIGNAL, and
 * only when nothing was written, as the kernel does.
 * errno is untouched on success, as with libc. */
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/sendfile.h>

#include "hook/hook.h"

#define IN 0
#define OUT 1

enum op { RD, RDV, RECV, RECVFROM, RECVMSG, WR, WRV, SEND, SENDTO, SENDMSG };

/* One hooked call's arguments. */
struct call {
  enum op op;
  int fd, flags;
  void *buf; /* RD, RECV, RECVFROM, WR, SEND, SENDTO */
  size_t len;
  const struct iovec *iov; /* RDV, WRV */
  int iovcnt;
  struct msghdr *msg;  /* RECVMSG, SENDMSG */
  struct sockaddr *sa; /* RECVFROM: the sender; SENDTO: the destination */
  socklen_t *salen;    /* RECVFROM */
  socklen_t tolen;     /* SENDTO */
};

static ssize_t libc_call(const struct call *c) {
  const struct corun__real *R = corun__real();
  switch (c->op) {
  case RD:
    return R->read(c->fd, c->buf, c->len);
  case RDV:
    return R->readv(c->fd, c->iov, c->iovcnt);
  case RECV:
    return R->recv(c->fd, c->buf, c->len, c->flags);
  case RECVFROM:
    return R->recvfrom(c->fd, c->buf, c->len, c->flags, c->sa, c->salen);
  case RECVMSG:
    return R->recvmsg(c->fd, c->msg, c->flags);
  case WR:
    return R->write(c->fd, c->buf, c->len);
  case WRV:
    return R->writev(c->fd, c->iov, c->iovcnt);
  case SEND:
    return R->send(c->fd, c->buf, c->len, c->flags);
  case SENDTO:
    return R->sendto(c->fd, c->buf, c->len, c->flags, c->sa, c->tolen);
  default:
    return R->sendmsg(c->fd, c->msg, c->flags);
  }
}

static ssize_t corun_call(const struct call *c, int64_t deadline) {
  switch (c->op) {
  case RD:
    return corun_read(c->fd, c->buf, c->len, deadline);
  case RDV:
    return corun_readv(c->fd, c->iov, c->iovcnt, deadline);
  case RECV:
    return corun_recv(c->fd, c->buf, c->len, c->flags, deadline);
  case RECVFROM:
    return corun_recvfrom(c->fd, c->buf, c->len, c->flags, c->sa, c->salen,
                          deadline);
  case RECVMSG:
    return corun_recvmsg(c->fd, c->msg, c->flags, deadline);
  case WR:
    return corun_write(c->fd, c->buf, c->len, deadline);
  case WRV:
    return corun_writev(c->fd, c->iov, c->iovcnt, deadline);
  case SEND:
    return corun_send(c->fd, c->buf, c->len, c->flags, deadline);
  case SENDTO:
    return corun_sendto(c->fd, c->buf, c->len, c->flags, c->sa, c->tolen,
                        deadline);
  default:
    return corun_sendmsg(c->fd, c->msg, c->flags, deadline);
  }
}

/* One step through corun, in a task with hooks entered. corun allows one
 * waiting task per fd and direction (-EBUSY for a second): others wait
 * on an epoll instance of their own and try again, as threads blocked in
 * the same read would each get their turn. The socket timeout's expiry
 * is libc's EAGAIN. */
static ssize_t task_step(const struct call *c, int dir, int64_t deadline) {
  ssize_t r = corun_call(c, deadline);
  while (r == -EBUSY) {
    int w = corun__hook_wait_private(c->fd, dir, deadline);
    if (w < 0) {
      r = w;
      break;
    }
    if ((r = corun_call(c, 0)) == -EAGAIN)
      r = -EBUSY; /* another caller took it: wait again */
  }
  if (r == -ETIMEDOUT && deadline > 0 && corun_now() >= deadline)
    r = -EAGAIN; /* the socket timeout's expiry, as libc says it */
  return r;
}

/* Whether fd's file is non-blocking underneath (corun's doing, since the
 * program's view says blocking): *nb caches it (-1: not asked yet). */
static int real_nonblock(int fd, int *nb) {
  if (*nb < 0) {
    int fl = corun__real()->fcntl(fd, F_GETFL);
    *nb = fl >= 0 && (fl & O_NONBLOCK);
  }
  return *nb;
}

/* One step of libc's call outside a task (or with hooks off): blocks as
 * libc's would. EAGAIN from a socket that is really blocking is the
 * kernel's own timeout: final. */
static ssize_t libc_step(const struct call *c, int dir, int64_t deadline,
                         int *nb) {
  for (;;) {
    ssize_t r = libc_call(c);
    if (r >= 0)
      return r;
    int e = errno;
    if (e != EAGAIN || !real_nonblock(c->fd, nb))
      return -e;
    int w = corun__hook_wait_outside(c->fd, dir, deadline);
    if (w < 0)
      return w;
  }
}

/* Whether the kernel's blocking call would transfer the whole buffer:
 * writes on a stream socket, and MSG_WAITALL reads on one (not peeks,
 * which would see the same bytes again: peek_all). A read with room for
 * ancillary data goes on as the kernel's does, until data that carried
 * some (descriptors): the kernel stops after those. */
static int wants_all(const struct call *c, int type) {
  if (type != SOCK_STREAM)
    return 0;
  if (c->op >= WR)
    return 1;
  return (c->op == RECV || c->op == RECVFROM || c->op == RECVMSG) &&
         (c->flags & MSG_WAITALL) && !(c->flags & MSG_PEEK);
}

/* The bytes n iovecs describe. */
static size_t iov_bytes(const struct iovec *v, size_t n) {
  size_t t = 0;
  for (size_t i = 0; i < n; i++)
    t += v[i].iov_len;
  return t;
}

/* MSG_PEEK|MSG_WAITALL on a stream socket other than a unix one (TCP):
 * the kernel waits until the whole buffer is queued, then peeks it (a
 * unix socket's peek returns what is there). No readiness says "more
 * bytes than now", so after a short peek look again after a pause that
 * grows to 16 ms, until the buffer is full, EOF, an error, or the
 * timeout (then what is there, as the kernel returns it). */
static int peeks_all(const struct call *c, struct corun__hookfile *f) {
  return (c->op == RECV || c->op == RECVFROM || c->op == RECVMSG) &&
         (c->flags & MSG_PEEK) && (c->flags & MSG_WAITALL) &&
         atomic_load(&f->type) == SOCK_STREAM &&
         atomic_load(&f->domain) != AF_UNIX;
}

static ssize_t peek_all(const struct call *c, int task, int64_t deadline,
                        int *nb) {
  size_t want = c->op == RECVMSG
                    ? iov_bytes(c->msg->msg_iov, c->msg->msg_iovlen)
                    : c->len;
  int64_t pause = 250000;
  for (;;) {
    ssize_t r =
        task ? task_step(c, IN, deadline) : libc_step(c, IN, deadline, nb);
    if (r <= 0 || (size_t)r >= want || (!task && !real_nonblock(c->fd, nb)))
      return r; /* (really blocking: the kernel has waited) */
    int64_t nap = pause;
    if (deadline >= 0) { /* the timeout: what is there */
      int64_t left = deadline - corun_now();
      if (left <= 0)
        return r;
      nap = nap < left ? nap : left;
    }
    if (task) {
      if (corun_sleep(nap) < 0)
        return r; /* cancelled: what is there */
    } else {
      struct timespec ts = {0, (long)nap};
      corun__real()->nanosleep(&ts, NULL);
    }
    pause = pause < 16000000 ? pause * 2 : pause;
  }
}

/* The rest of a call after a partial transfer: a sendmsg or recvmsg on a
 * copy of its buffers' list. */
struct rest {
  struct call c;
  struct msghdr m;
  struct iovec small[8];
  struct iovec *iov; /* small, or malloc'd */
};

/* ctl_len: the room for ancillary data the caller gave (recvmsg). */
static int rest_init(struct rest *r, const struct call *c, size_t ctl_len) {
  const struct iovec *v;
  size_t n;
  struct iovec one;
  switch (c->op) {
  case RDV:
  case WRV:
    v = c->iov;
    n = (size_t)c->iovcnt;
    break;
  case RECVMSG:
  case SENDMSG:
    v = c->msg->msg_iov;
    n = c->msg->msg_iovlen;
    break;
  default:
    one.iov_base = c->buf;
    one.iov_len = c->len;
    v = &one;
    n = 1;
  }
  r->iov = n <= sizeof r->small / sizeof r->small[0]
               ? r->small
               : malloc(n * sizeof *r->iov);
  if (!r->iov)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++)
    r->iov[i] = v[i];
  r->m = (struct msghdr){.msg_iov = r->iov, .msg_iovlen = n};
  if (c->op == RECVMSG && ctl_len) {
    r->m.msg_control = c->msg->msg_control;
    r->m.msg_controllen = ctl_len;
  }
  r->c = (struct call){.op = c->op >= WR ? SENDMSG : RECVMSG,
                       .fd = c->fd,
                       /* no second SIGPIPE: some bytes were written */
                       .flags = c->flags | (c->op >= WR ? MSG_NOSIGNAL : 0),
                       .msg = &r->m};
  return 0;
}

static void rest_advance(struct rest *r, size_t n) {
  while (n && r->m.msg_iovlen) {
    struct iovec *v = r->m.msg_iov;
    size_t k = n < v->iov_len ? n : v->iov_len;
    v->iov_base = (char *)v->iov_base + k;
    v->iov_len -= k;
    n -= k;
    if (!v->iov_len) {
      r->m.msg_iov++;
      r->m.msg_iovlen--;
    }
  }
}

static size_t total(const struct rest *r) {
  return iov_bytes(r->m.msg_iov, r->m.msg_iovlen);
}

/* A call on a blocking socket, through corun (task) or libc: its result,
 * or -errno. nb: whether the socket is non-blocking underneath (-1: ask
 * when it matters). */
static ssize_t transfer(const struct call *c, struct corun__hookfile *f,
                        int task, int nb) {
  int dir = c->op >= WR ? OUT : IN;
  int64_t deadline = corun__hook_deadline(
      atomic_load(dir == IN ? &f->rcvtimeo : &f->sndtimeo));
  int all = wants_all(c, atomic_load(&f->type));
  if (peeks_all(c, f))
    return peek_all(c, task, deadline, &nb);
  size_t ctl_len = c->op == RECVMSG && c->msg->msg_control
                       ? c->msg->msg_controllen
                       : 0;
  ssize_t r = task ? task_step(c, dir, deadline)
                   : libc_step(c, dir, deadline, &nb);
  if (!all || r <= 0 || (!task && !real_nonblock(c->fd, &nb)) ||
      (ctl_len && c->msg->msg_controllen))
    return r; /* (really blocking: the kernel has done the rest) */
  struct rest rest;
  if (rest_init(&rest, c, ctl_len) < 0)
    return r; /* what came: a short count, which callers must handle */
  rest_advance(&rest, (size_t)r);
  ssize_t done = r;
  while (total(&rest)) {
    r = task ? task_step(&rest.c, dir, deadline)
             : libc_step(&rest.c, dir, deadline, &nb);
    if (r <= 0) /* EOF, or an error after some bytes: those bytes */
      break;
    done += r;
    rest_advance(&rest, (size_t)r);
    if (ctl_len && rest.m.msg_controllen) { /* ancillary data: the end */
      c->msg->msg_controllen = rest.m.msg_controllen;
      c->msg->msg_flags |= rest.m.msg_flags & MSG_CTRUNC;
      break;
    }
  }
  if (rest.iov != rest.small)
    free(rest.iov);
  return done;
}

/* Arguments corun checks in its own way, where libc's call must say what
 * is wrong, as it says it: an iovec count out of range (corun's writev,
 * a sendmsg, would say EMSGSIZE, not EINVAL), a recvfrom address without
 * its length (corun refuses it up front; the kernel takes the bytes,
 * then says EFAULT). */
static int bad_args(const struct call *c) {
  return ((c->op == RDV || c->op == WRV) &&
          (c->iovcnt < 0 || c->iovcnt > IOV_MAX)) ||
         (c->op == RECVFROM && c->sa && !c->salen);
}

/* Receives that the kernel never blocks in, whatever the socket's mode:
 * from the error queue (recvmsg(2): EAGAIN when it is empty) and of
 * out-of-band data (tcp(7): EAGAIN or EINVAL when there is none yet).
 * Their EAGAIN is the answer, not "wait". */
static int never_waits(const struct call *c) {
  return c->op < WR && (c->flags & (MSG_ERRQUEUE | MSG_OOB));
}

/* A hooked read or write. */
static ssize_t hook_io(const struct call *c) {
  int s = corun_hooks_enabled();
  if (s == 2)
    return libc_call(c); /* corun's own call: it wants EAGAIN */
  struct corun__hookfile *f = corun__hookfd(c->fd);
  if (!f || atomic_load(&f->type) <= 0 || atomic_load(&f->nonblock) ||
      (c->flags & MSG_DONTWAIT) || never_waits(c) || bad_args(c))
    return libc_call(c); /* libc's, and nothing to wait for */
  if (corun__hook_enter()) {
    corun__hook_corun_nb(f, c->fd);
    ssize_t r = transfer(c, f, 1, 1);
    corun__hook_leave();
    if (r == -EPIPE && c->op >= WR && !(c->flags & MSG_NOSIGNAL))
      pthread_kill(pthread_self(), SIGPIPE); /* as the kernel's write */
    return corun__hook_ret(r);
  }
  int saved = errno; /* libc leaves it alone on success */
  ssize_t r = transfer(c, f, 0, corun__hook_off_nonblock(c->fd) ? 1 : -1);
  if (r >= 0)
    errno = saved;
  return corun__hook_ret(r);
}

CORUN_API ssize_t read(int fd, void *buf, size_t n) {
  return hook_io(&(struct call){.op = RD, .fd = fd, .buf = buf, .len = n});
}

CORUN_API ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  return hook_io(&(struct call){.op = RDV, .fd = fd, .iov = iov,
                                .iovcnt = cnt});
}

CORUN_API ssize_t recv(int fd, void *buf, size_t n, int flags) {
  return hook_io(&(struct call){
      .op = RECV, .fd = fd, .flags = flags, .buf = buf, .len = n});
}

CORUN_API ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
                           struct sockaddr *sa, socklen_t *len) {
  return hook_io(&(struct call){.op = RECVFROM,
                                .fd = fd,
                                .flags = flags,
                                .buf = buf,
                                .len = n,
                                .sa = sa,
                                .salen = len});
}

CORUN_API ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  return hook_io(&(struct call){
      .op = RECVMSG, .fd = fd, .flags = flags, .msg = msg});
}

CORUN_API ssize_t write(int fd, const void *buf, size_t n) {
  return hook_io(
      &(struct call){.op = WR, .fd = fd, .buf = (void *)buf, .len = n});
}

CORUN_API ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  return hook_io(&(struct call){.op = WRV, .fd = fd, .iov = iov,
                                .iovcnt = cnt});
}

CORUN_API ssize_t send(int fd, const void *buf, size_t n, int flags) {
  return hook_io(&(struct call){
      .op = SEND, .fd = fd, .flags = flags, .buf = (void *)buf, .len = n});
}

CORUN_API ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *sa, socklen_t len) {
  return hook_io(&(struct call){.op = SENDTO,
                                .fd = fd,
                                .flags = flags,
                                .buf = (void *)buf,
                                .len = n,
                                .sa = (struct sockaddr *)sa,
                                .tolen = len});
}

CORUN_API ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  return hook_io(&(struct call){
      .op = SENDMSG, .fd = fd, .flags = flags, .msg = (struct msghdr *)msg});
}

/* pread and pwrite: regular files only (io_uring or the helper threads);
 * on anything else they fail (ESPIPE) or do not block for long, and
 * corun must not make a pipe non-blocking under the program. */
static int file_through_corun(int fd) {
  if (corun_hooks_enabled() != 1)
    return 0;
  struct corun__hookfile *f = corun__hookfd(fd);
  return f && atomic_load(&f->type) == CORUN__HOOK_REGULAR &&
         !atomic_load(&f->nonblock) && corun__hook_enter();
}

CORUN_API ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  if (off < 0 || !file_through_corun(fd))
    return corun__real()->pread(fd, buf, n, off);
  ssize_t r = corun_pread(fd, buf, n, off, -1);
  corun__hook_leave();
  return corun__hook_ret(r);
}

CORUN_API ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  if (off < 0 || !file_through_corun(fd))
    return corun__real()->pwrite(fd, buf, n, off);
  ssize_t r = corun_pwrite(fd, buf, n, off, -1);
  corun__hook_leave();
  return corun__hook_ret(r);
}

/* Linux's MAX_RW_COUNT (INT_MAX rounded down to a page, include/linux/fs.h
 * in the kernel sources): the most one read, write or sendfile moves. */
#define SENDFILE_MAX ((size_t)0x7ffff000)

/* sendfile onto a socket that is blocking in the program's view: as the
 * kernel's blocking sendfile, it returns once `count` bytes are sent (on
 * a stream socket), the input ends, an error comes (what was sent, if
 * anything), or SO_SNDTIMEO expires (EAGAIN if nothing was sent); a task
 * parks while the socket is full, a thread outside tasks waits in poll.
 * Where corun never made the socket non-blocking underneath, outside a
 * task, the kernel's own call does all of it. */
static ssize_t sendfile_to(int out, int in, off_t *off, size_t count) {
  const struct corun__real *R = corun__real();
  struct corun__hookfile *f = corun__hookfd(out);
  if (corun__hook_internal() || !f || atomic_load(&f->type) <= 0 ||
      atomic_load(&f->nonblock))
    return R->sendfile(out, in, off, count);
  int task = corun__hook_enter();
  int nb = task ? 1 : corun__hook_off_nonblock(out) ? 1 : -1;
  if (task)
    corun__hook_corun_nb(f, out); /* (its first sendfile must not block) */
  else if (!real_nonblock(out, &nb))
    return R->sendfile(out, in, off, count); /* really blocking */
  int stream = atomic_load(&f->type) == SOCK_STREAM;
  if (count > SENDFILE_MAX && count <= SSIZE_MAX) /* (larger: its EINVAL) */
    count = SENDFILE_MAX; /* what the kernel moves at most in one call */
  int64_t deadline = corun__hook_deadline(atomic_load(&f->sndtimeo));
  int saved = corun__hook_get_errno();
  size_t done = 0;
  ssize_t err = 0;
  for (;;) {
    ssize_t r = R->sendfile(out, in, off, count - done);
    if (r > 0) {
      done += (size_t)r;
      if (done == count || !stream)
        break;
      continue;
    }
    if (r == 0)
      break; /* the input ended */
    int e = corun__hook_get_errno();
    if (e != EAGAIN) {
      err = -e;
      break;
    }
    int w = task ? corun__hook_wait_task(out, OUT, deadline)
                 : corun__hook_wait_outside(out, OUT, deadline);
    if (w < 0) {
      err = w == -ETIMEDOUT ? -EAGAIN : w; /* SO_SNDTIMEO: libc's EAGAIN */
      break;
    }
  }
  if (task)
    corun__hook_leave();
  if (done) {
    corun__hook_set_errno(saved);
    return (ssize_t)done;
  }
  if (!err)
    corun__hook_set_errno(saved);
  return corun__hook_ret(err);
}

CORUN_API ssize_t sendfile(int out, int in, off_t *off, size_t count) {
  return sendfile_to(out, in, off, count);
}

CORUN_API ssize_t sendfile64(int out, int in, off_t *off, size_t count) {
  return sendfile_to(out, in, off, count);
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
