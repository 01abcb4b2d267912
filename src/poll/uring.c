/* uring.c: the io_uring backend (backend.h): completion-based.
 * Layer: poll (uses base, coro, sched). Built when liburing is found.
 *
 * One ring per scheduler, made when its first IO waits and freed when
 * corun_main ends. A task that must wait submits its whole request (the
 * kernel does the IO once the fd is ready) and parks; the worker that
 * polls reaps completions and unparks their tasks. A request's state
 * lives in its task's self_waiter (off the task's stack, which may move
 * with a shared stack): `queued` while in flight, then `result` (the
 * completion's res); `index` is set when corun_close cancelled it.
 *
 * Hand-off. A completion is handed to its task under a small lock of the
 * task's own (one of `task_locks`, by address): the reaper stores the
 * result, clears `queued` and claims the task under it, and the task
 * looks at `queued` and parks under it. So the task never misses its
 * completion, and once it has seen `queued` clear the reaper is done with
 * it: no stale claim can hit a later park of the task (sched.h). The
 * submission queue's lock is not held across the task's switch.
 *
 * Ownership. Until its completion is reaped the kernel may write the
 * request's buffer, so a task never leaves a request behind: a deadline
 * or a cancel submits an ASYNC_CANCEL for it and then waits, uncancellably
 * (corun__park_nocancel), for the completion, which is either -ECANCELED
 * or the request's real result (then returned: no data is dropped).
 *
 * Waking. Another thread interrupts a worker blocked in io_uring_enter by
 * writing an eventfd that has a multishot poll request on the ring.
 *
 * Submissions are batched: a request is queued, and a worker hands the
 * queue to the kernel (ur_flush) before it sleeps, every few dispatches
 * while busy, and between tasks once the first request queued has waited
 * 20 us (corun__sched_flush_soon, sched.c), so one io_uring_enter
 * carries the requests of many tasks, a request never sits queued while
 * every worker sleeps, and not for long while they are busy. Cancels are
 * submitted at once. (Socket sends come here without a try: io.c,
 * send_to_ring.)
 *
 * Locking: `U.lock` guards the submission queue; it nests inside an fd
 * record's lock. The completion queue is reaped by the one worker that
 * polls (sched.c). A request's state is under its task's lock (see
 * "Hand-off"), taken alone. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/valgrind.h"
#include "poll/backend.h"

#ifdef CORUN_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

#define ENTRIES 256
#define TASK_LOCKS 64
#define WAKE_TAG 1 /* user_data of the eventfd's poll; 0: a cancel's own */

static struct {
  corun__lock lock;
  struct io_uring ring;
  int evfd;
  atomic_long pending; /* requests of tasks in flight */
  atomic_int unsubmitted; /* requests queued since the last submit */
  int poll_first_ok;      /* the kernel knows IORING_RECVSEND_POLL_FIRST */
} U = {.lock = CORUN__LOCK_INIT, .evfd = -1};

static corun__lock task_locks[TASK_LOCKS];

/* The lock of t's request state (see "Hand-off"). Tasks are 64-byte
 * aligned objects: the bits above those pick the lock. */
static corun__lock *task_lock(const struct corun_task *t) {
  return &task_locks[((uintptr_t)t >> 6) % TASK_LOCKS];
}

/* Hands the queued requests to the kernel, under U.lock. Returns 0, or
 * -1 if some stay queued: the kernel took none of them (-EAGAIN short of
 * memory, -EBUSY on kernels before 5.19 while completions overflowed the
 * ring); the next flush tries again, CORUN__FLUSH_NS later (sched/poller.c) or
 * before the worker sleeps, and a worker that sleeps meanwhile wakes for
 * it (idle.c). A call that takes only some of them is called again:
 * kernels older than IORING_SETUP_SUBMIT_ALL (see start()) stop a batch
 * at a request they refuse, and left the rest queued until some later
 * request was submitted, for ever if none was. */
static int submit(void) {
  while (io_uring_sq_ready(&U.ring)) {
    int rc = io_uring_submit(&U.ring);
    if (rc == -EINTR)
      continue;
    if (rc <= 0) { /* (queued by a request, a cancel or arm_wake) */
      atomic_store_explicit(&U.unsubmitted, 1, memory_order_relaxed);
      corun__sched_flushed();
      corun__sched_flush_soon();
      return -1;
    }
  }
  atomic_store_explicit(&U.unsubmitted, 0, memory_order_relaxed);
  corun__sched_flushed();
  return 0;
}

/* A free submission entry, under U.lock: when the queue is full, what is
 * in it is submitted first. NULL only if the kernel takes none. */
static struct io_uring_sqe *sqe_get(void) {
  struct io_uring_sqe *s = io_uring_get_sqe(&U.ring);
  if (!s) {
    submit();
    s = io_uring_get_sqe(&U.ring);
  }
  return s;
}

/* Arms (again) the eventfd's multishot poll, under U.lock. */
static void arm_wake(void) {
  struct io_uring_sqe *s = sqe_get();
  if (s) {
    io_uring_prep_poll_multishot(s, U.evfd, POLLIN);
    io_uring_sqe_set_data64(s, WAKE_TAG);
  }
}

/* ---- the scheduler's side (sched.h: struct corun__poller) ------------- */

/* Hands every completion to its task (the one polling worker). */
static void reap(void) {
  struct io_uring_cqe *cqe;
  unsigned head, n = 0;
  int rearm = 0;
  io_uring_for_each_cqe(&U.ring, head, cqe) {
    n++;
    uint64_t tag = cqe->user_data;
    if (tag == 0)
      continue; /* an ASYNC_CANCEL's own completion */
    if (tag == WAKE_TAG) {
      corun__wakefd_drain(U.evfd);
      rearm |= !(cqe->flags & IORING_CQE_F_MORE); /* the kernel ended it */
      continue;
    }
    struct corun_task *t = (struct corun_task *)(uintptr_t)tag;
    corun__lock *l = task_lock(t);
    corun__lock_acquire(l);
    t->self_waiter.result = cqe->res;
    t->self_waiter.queued = 0;
    if (corun__claim(t)) /* else: awake already (deadline, cancel) */
      corun__unpark(t, 0);
    corun__lock_release(l);
    atomic_fetch_sub(&U.pending, 1); /* after: see idle.c's corun__idle() */
  }
  io_uring_cq_advance(&U.ring, n);
  if (rearm) {
    corun__lock_acquire(&U.lock);
    arm_wake();
    submit();
    corun__lock_release(&U.lock);
  }
}

static void ur_poll(int64_t timeout_ns) {
  if (timeout_ns != 0 && !io_uring_cq_ready(&U.ring)) {
    struct __kernel_timespec ts;
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof arg);
    if (timeout_ns > 0) {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
      arg.ts = (uint64_t)(uintptr_t)&ts;
    }
    /* Waits for one completion; submits nothing (submissions are made
     * under U.lock by whoever queues them). */
    syscall(SYS_io_uring_enter, U.ring.ring_fd, 0, 1,
            IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
  }
  if (io_uring_cq_ready(&U.ring))
    reap();
}

static void ur_wake(void) {
  corun__wakefd_kick(U.evfd);
}

static long ur_pending(void) {
  return atomic_load_explicit(&U.pending, memory_order_relaxed);
}

/* corun_main is ending: every task finished, no request is in flight. */
static void ur_fini(void) {
  io_uring_queue_exit(&U.ring);
  close(U.evfd);
  U.evfd = -1;
  corun__poll_ended();
}

/* Submits what tasks have queued (sched.h: every worker calls it before
 * it sleeps, and now and then while busy). */
static int ur_flush(void) {
  if (!atomic_load_explicit(&U.unsubmitted, memory_order_relaxed))
    return 0; /* (the queue itself is read under the lock only) */
  corun__lock_acquire(&U.lock);
  int rc = submit();
  corun__lock_release(&U.lock);
  return rc;
}

static const struct corun__poller uring_poller = {ur_poll, ur_wake, ur_pending,
                                                  ur_fini, ur_flush};

/* ---- the backend (backend.h) -------------------------------------------- */

/* Sets the ring up with the setup flags in `flags` that the kernel knows,
 * then the eventfd; installs the poller. */
static int start(unsigned flags) {
  /* COOP_TASKRUN (Linux 5.19): a completion does not interrupt a worker
   * running tasks (an IPI, and the request's own work then ran inside
   * whatever system call came next, where it contended for the socket's
   * lock with the other CPU still delivering that socket's data: 5.9 % of
   * an HTTP server's CPU in a spin lock). It runs at the worker's next
   * entry to the kernel instead (its poll every 61 dispatches at the
   * latest), and a sleeping worker is still woken for it. 114k -> 158k
   * requests per second on the HTTP benchmark (bench/net, 100
   * connections). SUBMIT_ALL (Linux 5.18): a request the kernel refuses
   * before it starts (sendmsg with more than IOV_MAX buffers) completes
   * with its error and the rest of the batch goes on; without it the
   * batch stopped there (submit() then goes on itself). Older kernels
   * refuse flags they do not know: start without them. */
  int rc = io_uring_queue_init(ENTRIES, &U.ring, flags);
  if (rc == -EINVAL && (flags & IORING_SETUP_COOP_TASKRUN)) { /* 5.18 */
    flags &= ~(unsigned)IORING_SETUP_COOP_TASKRUN;
    rc = io_uring_queue_init(ENTRIES, &U.ring, flags);
  }
  if (rc == -EINVAL && flags) { /* before 5.18 */
    flags = 0;
    rc = io_uring_queue_init(ENTRIES, &U.ring, flags);
  }
  if (rc < 0)
    return rc; /* -ENOSYS, -EPERM (seccomp, io_uring_disabled), -ENOMEM */
  /* IORING_RECVSEND_POLL_FIRST came with COOP_TASKRUN: a kernel that
   * takes the flag takes that too (older ones fail such a request with
   * EINVAL). */
  U.poll_first_ok = (flags & IORING_SETUP_COOP_TASKRUN) != 0;
  if ((U.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
    rc = -errno;
  } else {
    corun__lock_acquire(&U.lock);
    arm_wake();
    rc = io_uring_submit(&U.ring);
    atomic_store_explicit(&U.unsubmitted, 0, memory_order_relaxed);
    corun__lock_release(&U.lock);
    if (rc >= 0 && (rc = corun__sched_set_poller(&uring_poller)) == 0)
      return 0;
    close(U.evfd);
    U.evfd = -1;
  }
  io_uring_queue_exit(&U.ring);
  return rc;
}

static int ur_add(int fd, uint32_t gen) {
  (void)fd, (void)gen; /* requests name their fd: nothing to register */
  return 0;
}

/* Fills s from io. */
static void prep(struct io_uring_sqe *s, const struct corun__io *io) {
  /* One request moves at most 1 GiB: a partial count, as read(2) may. */
  unsigned len = io->len > (1u << 30) ? 1u << 30 : (unsigned)io->len;
  __u64 off = (__u64)io->off; /* -1: the file position */
  switch (io->op) {
  case CORUN__OP_READ:
    io_uring_prep_read(s, io->fd, io->buf, len, off);
    break;
  case CORUN__OP_WRITE:
    io_uring_prep_write(s, io->fd, io->buf, len, off);
    break;
  case CORUN__OP_READV:
    io_uring_prep_readv(s, io->fd, io->iov, (unsigned)io->iovcnt, off);
    break;
  case CORUN__OP_WRITEV:
    io_uring_prep_writev(s, io->fd, io->iov, (unsigned)io->iovcnt, off);
    break;
  case CORUN__OP_RECV:
    io_uring_prep_recv(s, io->fd, io->buf, len, io->flags);
    break;
  case CORUN__OP_SEND:
    io_uring_prep_send(s, io->fd, io->buf, len, io->flags);
    break;
  case CORUN__OP_RECVMSG:
    io_uring_prep_recvmsg(s, io->fd, io->msg, (unsigned)io->flags);
    break;
  case CORUN__OP_SENDMSG:
    io_uring_prep_sendmsg(s, io->fd, io->msg, (unsigned)io->flags);
    break;
  case CORUN__OP_ACCEPT:
    io_uring_prep_accept(s, io->fd, io->sa, io->salen, io->flags);
    break;
  default: /* CORUN__OP_POLL */
    io_uring_prep_poll_add(s, io->fd, (unsigned)io->flags);
    break;
  }
  if (io->poll_first && U.poll_first_ok && corun__io_sendrecv(io->op))
    s->ioprio |= IORING_RECVSEND_POLL_FIRST;
}

/* Submits a cancel of t's request, under U.lock. */
static void cancel_request(struct corun_task *t) {
  struct io_uring_sqe *s = sqe_get();
  if (s) {
    io_uring_prep_cancel64(s, (uint64_t)(uintptr_t)t, 0);
    io_uring_sqe_set_data64(s, 0);
  }
  submit();
}

/* Valgrind cannot see the kernel write a buffer after the system call
 * that submitted the request has returned: tell memcheck what the
 * completed request wrote. */
static void tell_valgrind(const struct corun__io *io, ssize_t res) {
#ifdef CORUN_HAVE_VALGRIND
  if (!corun__on_valgrind() || res <= 0)
    return;
  const struct iovec *v = io->iov;
  size_t nv = (size_t)io->iovcnt;
  switch (io->op) {
  case CORUN__OP_READ:
  case CORUN__OP_RECV:
    VALGRIND_MAKE_MEM_DEFINED(io->buf, (size_t)res);
    return;
  case CORUN__OP_RECVMSG:
    v = io->msg->msg_iov;
    nv = io->msg->msg_iovlen;
    if (io->msg->msg_name)
      VALGRIND_MAKE_MEM_DEFINED(io->msg->msg_name, io->msg->msg_namelen);
    break;
  case CORUN__OP_READV:
    break;
  case CORUN__OP_ACCEPT:
    if (io->sa && io->salen)
      VALGRIND_MAKE_MEM_DEFINED(io->sa, *io->salen);
    return;
  default:
    return;
  }
  for (size_t i = 0; i < nv && res > 0; i++) {
    size_t n = v[i].iov_len < (size_t)res ? v[i].iov_len : (size_t)res;
    VALGRIND_MAKE_MEM_DEFINED(v[i].iov_base, n);
    res -= (ssize_t)n;
  }
#else
  (void)io, (void)res;
#endif
}

static ssize_t ur_submit(struct corun__fdrec *r, const struct corun__io *io,
                         int dir, int64_t deadline, struct corun_task *t) {
  struct corun__waiter *w = &t->self_waiter;
  int regular = r->kind == CORUN__FD_FILE;
  /* Prepared under r's lock: corun_close either finds the request in
   * flight (a socket's: it cancels it; a file's: it submits it while the
   * fd is still that file) or finds the fd gone before it is made. */
  corun__lock_acquire(&U.lock);
  struct io_uring_sqe *s = sqe_get();
  if (!s) {
    corun__lock_release(&U.lock);
    corun__lock_release(&r->lock);
    return -EAGAIN;
  }
  prep(s, io);
  io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)t);
  corun__lock *l = task_lock(t);
  corun__lock_acquire(l); /* (released by the park, after the switch) */
  w->result = 0;
  w->index = 0;
  w->queued = 1;
  atomic_fetch_add(&U.pending, 1);
  if (!regular) /* files complete by themselves: no corun_close cancel */
    r->waiter[dir] = t;
  corun__lock_release(&r->lock);
  if (!atomic_load_explicit(&U.unsubmitted, memory_order_relaxed)) {
    atomic_store_explicit(&U.unsubmitted, 1, memory_order_relaxed);
    corun__sched_flush_soon(); /* the first of a batch */
  }
  corun__lock_release(&U.lock); /* submitted in a batch: ur_flush */
  int rc = corun__park(t, dir == CORUN__POLL_IN ? "fd readable" : "fd writable",
                       corun__unlock_cb, l, deadline);
  corun__lock_acquire(l);
  if (w->queued) { /* a deadline or a cancel: the kernel still holds it */
    corun__lock_release(l);
    corun__lock_acquire(&U.lock);
    cancel_request(t);
    corun__lock_release(&U.lock);
    corun__lock_acquire(l);
    while (w->queued) {
      corun__park_nocancel(t, "io cancel", corun__unlock_cb, l);
      corun__lock_acquire(l);
    }
  }
  int res = w->result, closed = w->index;
  corun__lock_release(l);
  tell_valgrind(io, res);
  if (!regular) {
    corun__lock_acquire(&r->lock); /* after ur_forget, if it is under way */
    if (r->waiter[dir] == t)
      r->waiter[dir] = NULL;
    corun__lock_release(&r->lock);
  }
  if (res != -ECANCELED)
    return res; /* done (maybe after its deadline: the data counts) */
  return closed ? -EBADF : rc < 0 ? rc : -ECANCELED;
}

static int ur_wait(struct corun__fdrec *r, int fd, int dir, uint32_t seq,
                   int64_t deadline, struct corun_task *t) {
  (void)seq; /* a poll request looks at the fd's state when it starts */
  struct corun__io io = {.op = CORUN__OP_POLL,
                         .fd = fd,
                         .flags = dir == CORUN__POLL_IN ? POLLIN : POLLOUT};
  ssize_t rc = ur_submit(r, &io, dir, deadline, t);
  return rc < 0 ? (int)rc : 0;
}

/* Under U.lock, after a submit, before fd is closed: a request that
 * still names fd, because the kernel took none (see submit()), is made to
 * name no fd instead, so that it fails with EBADF, as a call made after
 * the close would, rather than reach the file that gets the number next.
 * The queue's entries from the kernel's head to liburing's tail are the
 * ones not taken; liburing maps entry i to sqes[i & mask] (its setup fills
 * the index array so, once; newer versions drop the array altogether,
 * IORING_SETUP_NO_SQARRAY, with the same mapping). */
static void disown(int fd) {
  struct io_uring_sq *sq = &U.ring.sq;
  unsigned head = io_uring_smp_load_acquire(sq->khead);
  for (unsigned i = head; i != sq->sqe_tail; i++) {
    struct io_uring_sqe *s = &sq->sqes[i & sq->ring_mask];
    if (s->fd == fd && s->user_data != 0 && s->user_data != WAKE_TAG)
      s->fd = -1;
  }
}

/* A waiter found here cannot leave ur_submit (it takes r's lock last)
 * and so cannot start another request before this cancel is submitted:
 * the cancel never hits a later request of the same task. */
static void ur_forget(struct corun__fdrec *r, int fd) {
  corun__lock_acquire(&U.lock);
  if (r->kind == CORUN__FD_FILE) {
    /* Its requests (no waiter is kept for them) name the fd by number
     * until the kernel takes them: hand over what is queued while the fd
     * is still this file, or another file given the number next would
     * get the read or the write. */
    if (atomic_load_explicit(&U.unsubmitted, memory_order_relaxed))
      submit();
    disown(fd); /* (nothing to look at unless that failed) */
    corun__lock_release(&U.lock);
    return;
  }
  int cancelled = 0;
  for (int dir = 0; dir < 2; dir++) {
    struct corun_task *t = r->waiter[dir];
    if (t) {
      corun__lock *l = task_lock(t);
      corun__lock_acquire(l);
      int in_flight = t->self_waiter.queued;
      if (in_flight)
        t->self_waiter.index = 1; /* its -ECANCELED then means -EBADF */
      corun__lock_release(l);
      if (in_flight)
        cancel_request(t);
      cancelled |= in_flight;
    }
    r->waiter[dir] = NULL; /* the number may be reused at once */
  }
  /* Every request of a socket has its waiter, and the cancel's submit
   * handed it over with the queue, unless that failed. (Without a cancel
   * the queue holds only other fds' requests: no need to look.) */
  if (cancelled)
    disown(fd);
  corun__lock_release(&U.lock);
}

static int ur_start(void) {
  return start(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL);
}

/* As on a kernel older than 5.18, for tests of what corun does there:
 * no setup flags, no IORING_RECVSEND_POLL_FIRST. */
static int ur_start_basic(void) {
  return start(0);
}

const struct corun__backend corun__uring_backend = {
    "io_uring", ur_start, ur_add, ur_wait, ur_submit, ur_forget};
const struct corun__backend corun__uring_basic_backend = {
    "io_uring", ur_start_basic, ur_add, ur_wait, ur_submit, ur_forget};
