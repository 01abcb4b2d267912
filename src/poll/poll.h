/* poll.h: the event loop's contract with the io layer.
 * Layer: poll (uses base, coro, sched).
 *
 * Two backends, one per scheduler, picked when its first IO waits
 * (poll.c): io_uring (uring.c) when the kernel allows it, else epoll
 * (epoll.c); the environment variable CORUN_POLLER=epoll or =uring forces
 * one (forcing io_uring where it cannot start makes IO calls fail with
 * -ENOSYS rather than quietly measure the other backend).
 *
 * Every IO call first tries its system call on the non-blocking fd; only
 * when that says EAGAIN does it wait:
 *   - epoll: readiness, edge-triggered. Each fd is registered once, at its
 *     first wait, for input and output together; its record counts the
 *     readiness events seen per direction (`seq`). An IO call reads that
 *     count before its try and waits for a newer one, so an event that
 *     arrives between the try and the wait is never lost.
 *   - io_uring: the whole request (read, recv, accept, ...) is submitted
 *     and the task parks until its completion; the kernel does the IO
 *     when the fd is ready. The request's buffer stays the kernel's until
 *     the completion arrives: a deadline or a cancel first cancels the
 *     request, then still waits for its completion (and a request that
 *     completed anyway returns its data, never drops it).
 * Tasks on shared stacks never hand their memory to the kernel (it may be
 * swapped out while they wait): under io_uring they wait for readiness
 * (a poll request) and then make the system call themselves.
 *
 * Regular files are never "not ready": their IO goes through the io
 * layer's helper threads, or under io_uring, for calls at an offset,
 * through the ring (io.c, file_io).
 *
 * Lifetime. An fd waited on must be closed with corun_close(), which
 * wakes its waiters with -EBADF and forgets the fd, so that a new fd
 * reusing the number starts clean: no readiness event or completion of
 * the old one ever reaches it.
 *
 * Locking: one corun__lock per fd record (poll.c); each backend has its
 * own below it. */
#ifndef CORUN_POLL_POLL_H
#define CORUN_POLL_POLL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#define CORUN__POLL_IN 0
#define CORUN__POLL_OUT 1

/* One IO request, as the io layer makes it and io_uring takes it. */
enum {
  CORUN__OP_READ,    /* buf, len, off (-1: the file position) */
  CORUN__OP_WRITE,   /* buf, len, off */
  CORUN__OP_READV,   /* iov, iovcnt, off */
  CORUN__OP_WRITEV,  /* iov, iovcnt, off */
  CORUN__OP_RECV,    /* buf, len, flags */
  CORUN__OP_SEND,    /* buf, len, flags */
  CORUN__OP_RECVMSG, /* msg, flags */
  CORUN__OP_SENDMSG, /* msg, flags */
  CORUN__OP_ACCEPT,  /* sa, salen, flags (accept4's) */
  CORUN__OP_POLL     /* flags: POLLIN or POLLOUT; result: revents */
};

struct corun__io {
  int op;
  int fd;
  int flags;
  int iovcnt;
  void *buf;
  size_t len;
  const struct iovec *iov;
  struct msghdr *msg;
  struct sockaddr *sa;
  socklen_t *salen;
  off_t off;
  /* io_uring, sends and receives on a socket: wait for readiness before
   * the kernel's first try (IORING_RECVSEND_POLL_FIRST). The io layer
   * sets it when its own try just said EAGAIN or the socket ran dry in
   * this direction last time: the kernel's first try would only say
   * EAGAIN too. */
  int poll_first;
  /* The io layer made no try of its own (a send under io_uring): if
   * another task already waits on the fd in this direction,
   * corun__poll_submit returns CORUN__POLL_UNTRIED, not -EBUSY, and the
   * caller makes its try instead, as it would have. */
  int untried;
};

/* corun__poll_submit's answer to an untried request that found another
 * waiter: nothing was submitted. Neither a count nor an -errno (errno
 * values stay below 4096). */
#define CORUN__POLL_UNTRIED ((ssize_t)-4097)

/* Whether op is a send or a receive, whose flags are MSG_* flags. */
static inline int corun__io_sendrecv(int op) {
  return op == CORUN__OP_RECV || op == CORUN__OP_SEND ||
         op == CORUN__OP_RECVMSG || op == CORUN__OP_SENDMSG;
}

/* What corun__poll_prepare found fd to be. */
#define CORUN__FD_POLLABLE 0 /* a pipe, a terminal, an eventfd, ... */
#define CORUN__FD_FILE 1     /* a regular file, or not pollable: IO on it
                                never says EAGAIN */
#define CORUN__FD_SOCKET 2   /* a socket (pollable) */

/* Prepares fd for IO in direction dir (the first time: starts the
 * backend, makes fd non-blocking, registers it) and stores its current
 * readiness count in *seq. If `drained` is not NULL, *drained says whether
 * fd's last call in dir ran dry (corun__poll_ran_dry), with (epoll) no
 * readiness event since: a try would say EAGAIN, so the caller may wait
 * (epoll) or submit its request (io_uring) at once.
 * Returns fd's kind (CORUN__FD_*) or -errno (-EPERM outside a task,
 * -ENOMEM, -EBADF, -ENOSYS: the backend forced by CORUN_POLLER cannot
 * start). */
int corun__poll_prepare(int fd, int dir, uint32_t *seq, int *drained);

/* Records whether an IO call in direction dir on fd, made after
 * corun__poll_prepare gave it seq, ran dry: moved some bytes, but fewer
 * than it asked for. On a TCP socket that means its receive buffer was
 * empty (or its send buffer full) at that moment. Under edge-triggered
 * epoll the arrival of data (or of room) is a new readiness event: until
 * one comes, the next call's try would only say EAGAIN. Under io_uring
 * the next call may submit its request at once. Does nothing on other
 * fds. Not for calls that may stop short with data left (recv with
 * MSG_PEEK, recvmsg with ancillary data). A peer's TCP urgent data also
 * cuts a read short at its mark, with the rest there: once the poller has
 * seen it (EPOLLPRI) or a receive has taken it out of band
 * (corun__poll_urgent), the fd's calls no longer skip their try. */
void corun__poll_ran_dry(int fd, int dir, uint32_t seq, int dry);

/* fd (a socket) had TCP urgent data, taken by a MSG_OOB receive: as
 * EPOLLPRI does, ends the skipping of tries on it for good (reads stop at
 * the urgent mark, and the poller may not see EPOLLPRI any more once the
 * byte is taken). */
void corun__poll_urgent(int fd);

/* Parks the calling task until fd is ready in direction dir (epoll: its
 * readiness count differs from seq), or the deadline. Returns 0 (try the
 * IO again), -ETIMEDOUT, -ECANCELED, -EBADF (corun_close()d meanwhile),
 * -EBUSY (another task already waits on fd in that direction). */
int corun__poll_wait(int fd, int dir, uint32_t seq, int64_t deadline);

/* Whether fd is ready in direction dir right now (poll(2), no wait): for
 * waits that did not start with a failed IO call, which an edge-triggered
 * registration would otherwise leave waiting for an edge that came
 * before. */
int corun__poll_ready_now(int fd, int dir);

/* Whether the calling task's IO goes to the backend as whole requests
 * (corun__poll_submit): io_uring, and the task is not on a shared stack. */
int corun__poll_submits(void);

/* Submits io (its fd prepared, direction dir) and parks until it
 * completes or the deadline passes. Returns the request's result (a
 * count, an fd, revents), or -errno: the request's error, -ETIMEDOUT or
 * -ECANCELED (the request was cancelled before it did anything), -EBADF
 * (corun_close()d meanwhile), -EBUSY (as corun__poll_wait; for an
 * `untried` request CORUN__POLL_UNTRIED instead). */
ssize_t corun__poll_submit(const struct corun__io *io, int dir,
                           int64_t deadline);

/* Wakes fd's waiters with -EBADF and forgets the fd (before the caller
 * closes it). A regular file's calls are not woken: they end as they
 * would after a close(2) in another thread. Its requests queued for
 * io_uring are handed to the kernel; its calls on helper threads
 * (corun__poll_file_begin) that are still in line are withdrawn, by
 * withdraw(fd) (the io layer's, called without locks held, after the fd
 * is forgotten), and this waits for the others to end. */
void corun__poll_forget(int fd, void (*withdraw)(int fd));

/* A regular-file call on fd (prepared) goes to a helper thread: until the
 * helper has made it, or it was withdrawn, and corun__poll_file_end is
 * called, corun__poll_forget of fd waits, so the fd is not closed, and
 * its number not given to another file, before the call has taken hold
 * of the file. Returns 0, or -EBADF (corun_close()d meanwhile). */
int corun__poll_file_begin(int fd);
void corun__poll_file_end(int fd);

/* The name of the backend the running scheduler uses ("epoll",
 * "io_uring"), or NULL when none has started yet. For tests and tools. */
const char *corun__poll_backend_name(void);

#endif
