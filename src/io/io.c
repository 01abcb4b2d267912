/* io.c: blocking-style IO for tasks: each call tries the system call and,
 * when it would block, waits through the event loop (poll.h): for
 * readiness (epoll) and then tries again, or for the completion of the
 * whole request (io_uring; there a socket's send goes to the kernel
 * without a try, batched with other tasks' requests). Regular files,
 * which never say EAGAIN but may block on the disk, go to the helper pool
 * (pool.c), or under io_uring, for calls at an offset, to the ring
 * (file_io). The worker thread never blocks (except for a regular-file
 * call of a task on a shared stack: its buffer may be swapped out while
 * it waits, so the call is made on the worker).
 * Layer: io (uses base, sched, poll). Locking: none of its own.
 *
 * Every call here returns -errno and leaves errno alone (DESIGN.md): the
 * system call's errno is read right after it, on the thread that made it,
 * before anything can switch. */
#include <errno.h>
#include <limits.h> /* IOV_MAX */
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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

/* io's system call, as libc names it: the result, -1 with errno. */
static ssize_t libc_io(const struct corun__io *io) {
  ssize_t r;
  switch (io->op) {
  case CORUN__OP_READ:
    r = io->off < 0 ? read(io->fd, io->buf, io->len)
                    : pread(io->fd, io->buf, io->len, io->off);
    break;
  case CORUN__OP_WRITE:
    r = io->off < 0 ? write(io->fd, io->buf, io->len)
                    : pwrite(io->fd, io->buf, io->len, io->off);
    break;
  case CORUN__OP_READV:
    r = io->off < 0 ? readv(io->fd, io->iov, io->iovcnt)
                    : preadv(io->fd, io->iov, io->iovcnt, io->off);
    break;
  case CORUN__OP_WRITEV:
    r = io->off < 0 ? writev(io->fd, io->iov, io->iovcnt)
                    : pwritev(io->fd, io->iov, io->iovcnt, io->off);
    break;
  case CORUN__OP_RECV:
    r = recv(io->fd, io->buf, io->len, io->flags);
    break;
  case CORUN__OP_SEND:
    r = send(io->fd, io->buf, io->len, io->flags);
    break;
  case CORUN__OP_RECVMSG:
    r = recvmsg(io->fd, io->msg, io->flags);
    break;
  case CORUN__OP_SENDMSG:
    r = sendmsg(io->fd, io->msg, io->flags);
    break;
  default: /* CORUN__OP_ACCEPT */
    r = accept4(io->fd, io->sa, io->salen, io->flags);
    break;
  }
  return r;
}

/* glibc's read, send, recv, ... are cancellation points: each call
 * switches the thread to asynchronous cancellation and back, two
 * compare-and-swaps of its cancel state around the system call
 * (__pthread_enable_asynccancel and _disable: 0.9 % of the HTTP server's
 * CPU, perf). corun's workers are not cancelled that way (a task is,
 * with corun_cancel), so io's system call is made through syscall(2),
 * which is not a cancellation point; being no libc IO function, it is
 * not hooked either (hook/). Positional vector IO (its offset is split
 * in two registers on some ABIs) keeps libc's. Under ASan and TSan,
 * whose interceptors check the buffers and (TSan) order what one thread
 * hands another through a file descriptor, and on 32-bit ABIs, libc's
 * functions are called. */
#if CORUN__ASAN || CORUN__TSAN || !defined(__LP64__)
#define DIRECT_SYSCALLS 0
#else
#define DIRECT_SYSCALLS 1
#endif

#if DIRECT_SYSCALLS
/* io's system call, made directly: the result, -1 with errno. */
static ssize_t direct_io(const struct corun__io *io) {
  switch (io->op) {
  case CORUN__OP_READ:
    return io->off < 0
               ? syscall(SYS_read, io->fd, io->buf, io->len)
               : syscall(SYS_pread64, io->fd, io->buf, io->len, io->off);
  case CORUN__OP_WRITE:
    return io->off < 0
               ? syscall(SYS_write, io->fd, io->buf, io->len)
               : syscall(SYS_pwrite64, io->fd, io->buf, io->len, io->off);
  case CORUN__OP_READV:
    return io->off < 0 ? syscall(SYS_readv, io->fd, io->iov, io->iovcnt)
                       : CORUN__LIBC(libc_io(io));
  case CORUN__OP_WRITEV:
    return io->off < 0 ? syscall(SYS_writev, io->fd, io->iov, io->iovcnt)
                       : CORUN__LIBC(libc_io(io));
  case CORUN__OP_RECV:
    return syscall(SYS_recvfrom, io->fd, io->buf, io->len, io->flags, NULL,
                   NULL);
  case CORUN__OP_SEND:
    return syscall(SYS_sendto, io->fd, io->buf, io->len, io->flags, NULL, 0);
  case CORUN__OP_RECVMSG:
    return syscall(SYS_recvmsg, io->fd, io->msg, io->flags);
  case CORUN__OP_SENDMSG:
    return syscall(SYS_sendmsg, io->fd, io->msg, io->flags);
  default: /* CORUN__OP_ACCEPT */
    return syscall(SYS_accept4, io->fd, io->sa, io->salen, io->flags);
  }
}
#endif

/* Makes io's system call once (non-blocking for sockets and pipes):
 * returns its result, or -errno. errno is restored. */
static ssize_t sys_io(const struct corun__io *io) {
  int *ep = corun__errno_here();
  int saved = *ep;
#if DIRECT_SYSCALLS
  ssize_t r = direct_io(io);
#else
  ssize_t r = CORUN__LIBC(libc_io(io));
#endif
  if (r < 0)
    r = -*ep;
  *ep = saved;
  return r;
}

/* A regular-file call on a helper thread (pool.c). */
struct file_job {
  struct corun__job job; /* first: the pool hands back the job */
  const struct corun__io *io;
  ssize_t result;
};

static void file_job_run(struct corun__job *j) {
  struct file_job *f = (struct file_job *)j;
  f->result = sys_io(f->io);
  corun__poll_file_end(f->io->fd); /* a corun_close may go on */
}

/* The job joins the helpers' line: it counts as a call on its fd, which
 * a corun_close waits for (corun__poll_file_begin), unless the fd was
 * closed meanwhile (-EBADF). Under the pool's lock, so that a close's
 * withdraw finds every job counted before it. */
static int file_job_admit(struct corun__job *j) {
  return corun__poll_file_begin(((struct file_job *)j)->io->fd);
}

/* The job was still in line when its fd was closed: it fails as a call
 * made after the close does. */
static void file_job_withdrawn(struct corun__job *j) {
  struct file_job *f = (struct file_job *)j;
  f->result = -EBADF;
  corun__poll_file_end(f->io->fd);
}

static int file_job_of_fd(struct corun__job *j, void *fd) {
  return j->run == file_job_run &&
         ((struct file_job *)j)->io->fd == *(const int *)fd;
}

/* io on a regular file (it never says EAGAIN, but may block). At an
 * offset it may go to io_uring; at the file position (read, write,
 * readv, writev) it goes to a helper thread on every backend: io_uring
 * reads the position when it starts a request and stores it when the
 * request ends, without the lock read(2) takes, so tasks reading one fd
 * at once all read the same bytes (64 tasks reading 4 KiB each of an
 * uncached file: all got the first block, and the position ended at 4
 * KiB; tests/poll/calls). */
static ssize_t file_io(const struct corun__io *io, int dir, int64_t deadline) {
  if (io->off >= 0 && corun__poll_submits())
    return corun__poll_submit(io, dir, deadline);
  struct corun_task *t = corun__task_self();
  if (t && t->shared)
    return sys_io(io); /* its buffer may be swapped out while it waits */
  /* The helper writes the caller's buffer: the task waits for it to the
   * end (no release: no deadline, no cancel; the ring's requests are
   * cancelled at a deadline, and also return what they did). */
  struct file_job f = {.job = {.run = file_job_run,
                               .withdrawn = file_job_withdrawn,
                               .admit = file_job_admit},
                       .io = io};
  int rc = corun__pool_call(&f.job, "file io", -1);
  return rc < 0 ? rc : f.result;
}

/* write(2) on a socket raises SIGPIPE when the peer has gone, which kills
 * a server that did not ignore it; corun's writes to sockets are sends
 * with MSG_NOSIGNAL instead, and report -EPIPE. */
static struct corun__io as_send(const struct corun__io *io,
                                struct msghdr *m) {
  struct corun__io s = *io;
  if (io->op == CORUN__OP_WRITE) {
    s.op = CORUN__OP_SEND;
  } else {
    memset(m, 0, sizeof *m);
    m->msg_iov = (struct iovec *)io->iov;
    m->msg_iovlen = (size_t)io->iovcnt;
    s.op = CORUN__OP_SENDMSG;
    s.msg = m;
  }
  s.flags = MSG_NOSIGNAL;
  return s;
}

/* io, a request for a socket whose buffer is known empty (or full) in its
 * direction, as one that asks io_uring to wait for readiness before
 * trying: the try corun made just said EAGAIN, or it was skipped because
 * the last call ran dry (`drained`, which only a TCP socket can be: its
 * read is then sent as the recv it is, for which io_uring has the flag;
 * on a datagram socket the two differ with an empty datagram pending, so
 * other reads go as they are, unmarked). Without it the kernel made a
 * try that found nothing and then armed its poll: in a keep-alive
 * server, on every request. Measured (corun_http_server, wrk -c100 and
 * -c1000, 8 alternating rounds each): 2-3 % more requests per server CPU
 * second. */
static struct corun__io as_poll_first(const struct corun__io *io, int drained) {
  struct corun__io p = *io;
  if (drained && p.op == CORUN__OP_READ && p.off < 0) {
    p.op = CORUN__OP_RECV;
    p.flags = 0;
  }
  p.poll_first = 1; /* (the backend marks only sends and receives) */
  return p;
}

/* Whether io has no flags that make a call stop short with data left, or
 * read what a short call left behind (MSG_PEEK, MSG_OOB, ...): only such
 * calls tell whether a socket ran dry, and only they may skip their try
 * after it did. */
static int plain(const struct corun__io *io) {
  return !(io->flags & ~(MSG_NOSIGNAL | MSG_DONTWAIT));
}

static size_t iov_total(const struct iovec *v, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += v[i].iov_len;
  return total;
}

/* Whether io moves 0 bytes in a way that returns 0 at once on a socket:
 * read(2) and write(2) of 0 bytes, send(2) of 0 bytes, readv(2) and
 * writev(2) of no buffers. Such a call never skips its try (it waited for
 * readiness, and a read under io_uring became a recv, which waits for a
 * byte). recv(2) of 0 bytes does wait for a byte on TCP, and corun_recv
 * too. The buffers of a vector are not looked at: only the kernel reads
 * the caller's iovec (a bad one is -EFAULT, not a crash), so a readv,
 * writev or sendmsg whose buffers are all empty still skips its try. */
static int empty(const struct corun__io *io) {
  switch (io->op) {
  case CORUN__OP_READ:
  case CORUN__OP_WRITE:
  case CORUN__OP_SEND:
    return io->len == 0;
  case CORUN__OP_READV:
  case CORUN__OP_WRITEV:
    return io->iovcnt == 0;
  default:
    return 0;
  }
}

/* Whether io, about to be made on a socket in direction dir, is a send
 * that under io_uring goes to the ring without a try: one that may wait
 * (deadline not 0), with plain flags, of a task that may submit (not on
 * a shared stack) and is not cancelled (its park would fail at once and
 * the request need a cancel: it tries, as under epoll, and gets
 * -ECANCELED only if it must wait). The kernel makes the try when a
 * worker hands the queue over (ur_flush): before it sleeps, and between
 * tasks once the first request queued has waited CORUN__FLUSH_NS (20 us,
 * sched.c), in one io_uring_enter with the requests of the other tasks
 * that ran meanwhile, instead of one sendto each; the task parks until
 * then. A keep-alive server's answer is such a send. Measured
 * (corun_http_server, wrk -c100 and -c1000, the same binary with and
 * without, alternating, 4 s runs): 8-10 % more requests per server CPU
 * second, p99 latency unchanged; the 20 us bound kept all of it. The
 * cost: the send waits for the tasks that run before the flush, and one
 * that computes for long holds it up that long (or, blocking its worker,
 * until the monitor has another worker take over, which flushes). When
 * another task already waits to send on the fd, the try is made as
 * before (run_io: one waiter per direction, and its send is not
 * refused). Not under TSan: libc's send, intercepted, tells it what one
 * thread hands another through the socket. */
static int send_to_ring(const struct corun__io *io, int dir, int64_t deadline) {
  return !CORUN__TSAN && dir == CORUN__POLL_OUT && deadline != 0 &&
         corun__io_sendrecv(io->op) && plain(io) && corun__poll_submits() &&
         !corun_cancelled();
}

/* Whether io, which moved r > 0 bytes, moved fewer than it asked for in
 * a way that says the socket's buffer ran empty (reads) or full (writes):
 * stream IO at the socket's position, without flags that stop short
 * otherwise (MSG_PEEK, MSG_WAITALL's errors, ...) and, for sendmsg, no
 * ancillary data. See corun__poll_ran_dry. */
static int ran_dry(const struct corun__io *io, ssize_t r) {
  size_t want;
  if (io->off >= 0 || !plain(io))
    return 0;
  switch (io->op) {
  case CORUN__OP_READ:
  case CORUN__OP_WRITE:
  case CORUN__OP_RECV:
  case CORUN__OP_SEND:
    want = io->len;
    break;
  case CORUN__OP_READV:
  case CORUN__OP_WRITEV:
    want = iov_total(io->iov, (size_t)io->iovcnt);
    break;
  case CORUN__OP_SENDMSG: /* (also the form writev takes on sockets) */
    if (io->msg->msg_controllen)
      return 0;
    want = iov_total(io->msg->msg_iov, io->msg->msg_iovlen);
    break;
  default:
    return 0;
  }
  return (size_t)r < want;
}

/* Tells the poll layer whether io's result r ran a socket dry, and
 * returns r. */
static ssize_t noted(const struct corun__io *io, int kind, int dir,
                     uint32_t seq, ssize_t r) {
  if (kind == CORUN__FD_SOCKET) {
    corun__poll_ran_dry(io->fd, dir, seq, r > 0 && ran_dry(io, r));
    if (r > 0 && (io->flags & MSG_OOB) && dir == CORUN__POLL_IN)
      corun__poll_urgent(io->fd);
  }
  return r;
}

/* Makes io's call until it succeeds, fails with something other than
 * EAGAIN, or the wait for direction dir ends with an error.
 *
 * The try is skipped when it would most likely say EAGAIN: the fd is a
 * TCP socket whose previous call in this direction ran its buffer dry
 * (not for deadline 0, which asks for a try). A keep-alive server's read
 * after each response is such a call: one system call fewer per request.
 *   - epoll: only if no readiness event has come since, and the call
 *     waits for the next one. If the deadline passes in that wait, the
 *     try is made after all, so that data already there (its event not
 *     yet seen) is returned rather than a time-out.
 *   - io_uring: the request goes to the kernel at once, marked to wait
 *     for readiness before its first try (as_poll_first, as is every
 *     socket request after a try that said EAGAIN); a deadline that
 *     passes cancels it, returning what it did, as for any request.
 * Under io_uring a socket's send skips its try too, when it may wait
 * (send_to_ring): the kernel tries it in the next batch of submissions,
 * without waiting for readiness first unless the last send ran dry. */
static ssize_t run_io(const struct corun__io *io, int dir, int64_t deadline) {
  struct corun__io sock_io, poll_io;
  struct msghdr m;
  /* MSG_DONTWAIT asks this one call not to wait, whatever its deadline:
   * one try, as with deadline 0. (Otherwise epoll waited after the
   * try's EAGAIN, and io_uring, whose kernel then never waits, answered
   * EAGAIN even with data there when the request was marked poll-first.)
   * So do receives that the kernel never blocks in: out-of-band data
   * (EAGAIN or EINVAL while there is none; its arrival is EPOLLPRI, not
   * the readiness a wait would wait for) and the error queue. */
  int recv_op = io->op == CORUN__OP_RECV || io->op == CORUN__OP_RECVMSG;
  if (corun__io_sendrecv(io->op) &&
      ((io->flags & MSG_DONTWAIT) ||
       (recv_op && (io->flags & (MSG_OOB | MSG_ERRQUEUE)))))
    deadline = 0;
  /* (before the loop: as_send may change io's op) */
  int may_skip = deadline && plain(io) && !empty(io);
  int busy = 0;    /* another task waits to send: no send to the ring */
  int waited = 0;  /* after a wait, always try (never skip twice) */
  int expired = 0; /* a wait that skipped the try ended at the deadline */
  for (;;) {
    uint32_t seq;
    int drained = 0;
    int kind = corun__poll_prepare(io->fd, dir, &seq,
                                   may_skip && !waited ? &drained : NULL);
    if (kind < 0) /* -EPERM outside a task: an error, not a hang */
      return kind;
    if (kind == CORUN__FD_FILE && deadline != 0)
      return file_io(io, dir, deadline);
    if (kind == CORUN__FD_SOCKET && io->off < 0 &&
        (io->op == CORUN__OP_WRITE || io->op == CORUN__OP_WRITEV)) {
      sock_io = as_send(io, &m);
      io = &sock_io;
    }
    if (kind == CORUN__FD_SOCKET && !drained && !busy &&
        send_to_ring(io, dir, deadline)) {
      struct corun__io ring_io = *io;
      ring_io.untried = 1;
      ssize_t s = corun__poll_submit(&ring_io, dir, deadline);
      if (s != CORUN__POLL_UNTRIED)
        return noted(io, kind, dir, seq, s);
      busy = 1; /* another task waits to send on fd: try, as under epoll */
    }
    ssize_t r = drained ? -EAGAIN : sys_io(io); /* drained: no try */
    if (r == -EINTR)
      continue;
    if (r != -EAGAIN && r != -EWOULDBLOCK)
      return noted(io, kind, dir, seq, r);
    if (expired)
      return -ETIMEDOUT;
    if (deadline == 0 || kind == CORUN__FD_FILE) /* a non-blocking file */
      return -EAGAIN;
    if (corun__poll_submits()) {
      if (kind == CORUN__FD_SOCKET) { /* EAGAIN, or no try (drained: TCP) */
        poll_io = as_poll_first(io, drained);
        io = &poll_io;
      }
      return noted(io, kind, dir, seq, corun__poll_submit(io, dir, deadline));
    }
    int w = corun__poll_wait(io->fd, dir, seq, deadline);
    if (w == -ETIMEDOUT && drained)
      expired = 1; /* try after all */
    else if (w < 0)
      return w;
    waited = 1;
  }
}

ssize_t corun_read(int fd, void *buf, size_t n, int64_t deadline) {
  struct corun__io io = {
      .op = CORUN__OP_READ, .fd = fd, .buf = buf, .len = n, .off = -1};
  return run_io(&io, CORUN__POLL_IN, deadline);
}

ssize_t corun_write(int fd, const void *buf, size_t n, int64_t deadline) {
  struct corun__io io = {.op = CORUN__OP_WRITE,
                         .fd = fd,
                         .buf = (void *)buf,
                         .len = n,
                         .off = -1};
  return run_io(&io, CORUN__POLL_OUT, deadline);
}

ssize_t corun_pread(int fd, void *buf, size_t n, off_t off, int64_t deadline) {
  if (off < 0)
    return -EINVAL;
  struct corun__io io = {
      .op = CORUN__OP_READ, .fd = fd, .buf = buf, .len = n, .off = off};
  return run_io(&io, CORUN__POLL_IN, deadline);
}

ssize_t corun_pwrite(int fd, const void *buf, size_t n, off_t off,
                     int64_t deadline) {
  if (off < 0)
    return -EINVAL;
  struct corun__io io = {.op = CORUN__OP_WRITE,
                         .fd = fd,
                         .buf = (void *)buf,
                         .len = n,
                         .off = off};
  return run_io(&io, CORUN__POLL_OUT, deadline);
}

/* readv(2) and writev(2) refuse iovcnt outside 0..IOV_MAX with EINVAL;
 * on a socket corun makes a sendmsg of a writev, which says EMSGSIZE,
 * and io_uring refuses the request as sendmsg(2) does. Checked here, so
 * that both say what the manual page does, on every fd and backend. */
static int iovcnt_ok(int iovcnt) {
  return iovcnt >= 0 && iovcnt <= IOV_MAX;
}

ssize_t corun_readv(int fd, const struct iovec *iov, int iovcnt,
                    int64_t deadline) {
  if (!iovcnt_ok(iovcnt))
    return -EINVAL;
  struct corun__io io = {.op = CORUN__OP_READV,
                         .fd = fd,
                         .iov = iov,
                         .iovcnt = iovcnt,
                         .off = -1};
  return run_io(&io, CORUN__POLL_IN, deadline);
}

ssize_t corun_writev(int fd, const struct iovec *iov, int iovcnt,
                     int64_t deadline) {
  if (!iovcnt_ok(iovcnt))
    return -EINVAL;
  struct corun__io io = {.op = CORUN__OP_WRITEV,
                         .fd = fd,
                         .iov = iov,
                         .iovcnt = iovcnt,
                         .off = -1};
  return run_io(&io, CORUN__POLL_OUT, deadline);
}

/* recv and send move stream data at the socket's position (.off -1, as
 * read and write), so that a short one marks the socket drained too. */
ssize_t corun_recv(int fd, void *buf, size_t n, int flags, int64_t deadline) {
  struct corun__io io = {.op = CORUN__OP_RECV,
                         .fd = fd,
                         .flags = flags,
                         .buf = buf,
                         .len = n,
                         .off = -1};
  return run_io(&io, CORUN__POLL_IN, deadline);
}

ssize_t corun_send(int fd, const void *buf, size_t n, int flags,
                   int64_t deadline) {
  struct corun__io io = {.op = CORUN__OP_SEND,
                         .fd = fd,
                         .flags = flags | MSG_NOSIGNAL,
                         .buf = (void *)buf,
                         .len = n,
                         .off = -1};
  return run_io(&io, CORUN__POLL_OUT, deadline);
}

/* recvfrom and sendto are recvmsg and sendmsg with one buffer: io_uring
 * has no recvfrom. */
ssize_t corun_recvfrom(int fd, void *buf, size_t n, int flags,
                       struct sockaddr *sa, socklen_t *salen,
                       int64_t deadline) {
  if (sa && !salen)
    return -EFAULT;
  struct iovec v = {buf, n};
  struct msghdr m = {.msg_name = sa,
                     .msg_namelen = sa ? *salen : 0,
                     .msg_iov = &v,
                     .msg_iovlen = 1};
  struct corun__io io = {
      .op = CORUN__OP_RECVMSG, .fd = fd, .flags = flags, .msg = &m};
  ssize_t r = run_io(&io, CORUN__POLL_IN, deadline);
  if (r >= 0 && sa)
    *salen = m.msg_namelen;
  return r;
}

ssize_t corun_sendto(int fd, const void *buf, size_t n, int flags,
                     const struct sockaddr *sa, socklen_t salen,
                     int64_t deadline) {
  struct iovec v = {(void *)buf, n};
  struct msghdr m = {.msg_name = (void *)sa,
                     .msg_namelen = sa ? salen : 0,
                     .msg_iov = &v,
                     .msg_iovlen = 1};
  struct corun__io io = {.op = CORUN__OP_SENDMSG,
                         .fd = fd,
                         .flags = flags | MSG_NOSIGNAL,
                         .msg = &m};
  return run_io(&io, CORUN__POLL_OUT, deadline);
}

ssize_t corun_recvmsg(int fd, struct msghdr *msg, int flags,
                      int64_t deadline) {
  struct corun__io io = {
      .op = CORUN__OP_RECVMSG, .fd = fd, .flags = flags, .msg = msg};
  return run_io(&io, CORUN__POLL_IN, deadline);
}

ssize_t corun_sendmsg(int fd, const struct msghdr *msg, int flags,
                      int64_t deadline) {
  struct corun__io io = {.op = CORUN__OP_SENDMSG,
                         .fd = fd,
                         .flags = flags | MSG_NOSIGNAL,
                         .msg = (struct msghdr *)msg};
  return run_io(&io, CORUN__POLL_OUT, deadline);
}

int corun_accept(int fd, struct sockaddr *sa, socklen_t *len,
                 int64_t deadline) {
  struct corun__io io = {.op = CORUN__OP_ACCEPT,
                         .fd = fd,
                         .flags = SOCK_NONBLOCK | SOCK_CLOEXEC,
                         .sa = sa,
                         .salen = len};
  return (int)run_io(&io, CORUN__POLL_IN, deadline);
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
  int rc = corun__poll_prepare(fd, dir, &seq, NULL);
  if (rc < 0)
    return rc;
  if (rc == CORUN__FD_FILE)
    return 0; /* a regular file is always ready */
  /* Edge-triggered: the fd may be ready already with no event to come.
   * A zero-timeout poll(2) tells; only then wait for the next event. */
  if (corun__poll_ready_now(fd, dir))
    return 0;
  return deadline == 0 ? -EAGAIN : corun__poll_wait(fd, dir, seq, deadline);
}

/* corun__poll_forget's withdraw: fd's regular-file calls still waiting
 * in the helpers' line fail with -EBADF, so that a close does not wait
 * behind other jobs in line (a slow name lookup, say). */
static void withdraw_file_calls(int fd) {
  corun__pool_withdraw(file_job_of_fd, &fd);
}

void corun_fd_release(int fd) {
  corun__poll_forget(fd, withdraw_file_calls);
}

int corun_close(int fd) {
  corun__poll_forget(fd, withdraw_file_calls);
  int *ep = corun__errno_here();
  int saved = *ep;
  int rc = CORUN__LIBC(close(fd)) == 0 ? 0 : -*ep;
  *ep = saved;
  return rc;
}
