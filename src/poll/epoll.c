/* epoll.c: the event loop on Linux epoll, edge-triggered (poll.h).
 * Layer: poll (uses base, coro, sched).
 *
 * One epoll instance per scheduler, made at the first IO wait and freed
 * when corun_main ends (the scheduler's poller fini). An eventfd in it lets
 * a waker interrupt the worker blocked in epoll_pwait2 (sched.c).
 *
 * Records. One per fd number, in chunks allocated on demand and never
 * moved (a two-level table: lock-free lookups). A record holds the
 * registration's generation (bumped by corun_close), the readiness counts
 * and at most one parked waiter per direction.
 *
 * Locking: a record's lock guards its fields; `table_lock` guards chunk
 * allocation and the instance's creation; the counts of waiters are
 * atomics. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/lock.h"
#include "poll/poll.h"
#include "sched/sched.h"

#define CHUNK 1024
#define CHUNKS (1 << 14) /* fds up to 16 Mi */

struct fdrec {
  corun__lock lock;
  uint32_t gen;    /* registration generation; 0: not registered */
  uint32_t seq[2]; /* readiness events seen, per direction */
  struct corun_task *waiter[2];
};

static struct {
  corun__lock table_lock;
  int epfd, evfd; /* -1 when no scheduler uses them */
  uint32_t next_gen;
  atomic_long pending; /* tasks parked on IO */
  struct fdrec *_Atomic chunk[CHUNKS];
} P = {CORUN__LOCK_INIT, -1, -1, 1, 0, {0}};

#define EVFD_TAG UINT64_MAX

static struct fdrec *rec_of(int fd, int make) {
  if (fd < 0 || fd >= CHUNK * CHUNKS)
    return NULL;
  struct fdrec *c =
      atomic_load_explicit(&P.chunk[fd / CHUNK], memory_order_acquire);
  if (!c && make) {
    corun__lock_acquire(&P.table_lock);
    c = atomic_load_explicit(&P.chunk[fd / CHUNK], memory_order_relaxed);
    if (!c && (c = corun__malloc(CHUNK * sizeof *c)) != NULL) {
      memset(c, 0, CHUNK * sizeof *c);
      atomic_store_explicit(&P.chunk[fd / CHUNK], c, memory_order_release);
    }
    corun__lock_release(&P.table_lock);
  }
  return c ? &c[fd % CHUNK] : NULL;
}

/* ---- the scheduler's side (sched.h: struct corun__poller) ------------- */

static void wake_one_dir(struct fdrec *r, int dir, int code) {
  struct corun_task *t = r->waiter[dir];
  if (t && corun__claim(t)) {
    r->waiter[dir] = NULL;
    atomic_fetch_sub(&P.pending, 1);
    corun__unpark(t, code);
  }
}

static void ep_poll(int64_t timeout_ns) {
  struct epoll_event ev[128];
  struct timespec ts, *tp = NULL;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tp = &ts;
  }
  /* epoll_pwait2 (Linux 5.11) takes nanoseconds; without it (older
   * kernels, Valgrind 3.19) epoll_wait's milliseconds, rounded up so a
   * timer is never fired early. */
  static atomic_int no_pwait2;
  int n = -1;
  if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
    n = epoll_pwait2(P.epfd, ev, 128, tp, NULL);
    if (n < 0 && errno == ENOSYS)
      atomic_store_explicit(&no_pwait2, 1, memory_order_relaxed);
  }
  if (atomic_load_explicit(&no_pwait2, memory_order_relaxed))
    n = epoll_wait(P.epfd, ev, 128,
                   timeout_ns < 0 ? -1
                   : timeout_ns / 1000000 > 1000000000
                       ? 1000000000
                       : (int)((timeout_ns + 999999) / 1000000));
  for (int i = 0; i < n; i++) {
    uint64_t tag = ev[i].data.u64;
    if (tag == EVFD_TAG) {
      uint64_t v;
      ssize_t rd = read(P.evfd, &v, sizeof v); /* drain */
      (void)rd;
      continue;
    }
    int fd = (int)(uint32_t)tag;
    struct fdrec *r = rec_of(fd, 0);
    if (!r)
      continue;
    corun__lock_acquire(&r->lock);
    if (r->gen == (uint32_t)(tag >> 32)) { /* not a closed fd's leftover */
      uint32_t e = ev[i].events;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        r->seq[CORUN__POLL_IN]++;
        wake_one_dir(r, CORUN__POLL_IN, 0);
      }
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        r->seq[CORUN__POLL_OUT]++;
        wake_one_dir(r, CORUN__POLL_OUT, 0);
      }
    }
    corun__lock_release(&r->lock);
  }
}

static void ep_wake(void) {
  uint64_t one = 1;
  ssize_t wr = write(P.evfd, &one, sizeof one);
  (void)wr; /* a full counter (EAGAIN) is already a pending wake-up */
}

static long ep_pending(void) {
  return atomic_load_explicit(&P.pending, memory_order_relaxed);
}

/* corun_main is ending: every task finished, nobody waits. Registrations
 * are forgotten (their fds may live on: a later scheduler registers them
 * again with a new instance). */
static void ep_fini(void) {
  corun__lock_acquire(&P.table_lock);
  for (int i = 0; i < CHUNKS; i++) {
    struct fdrec *c = atomic_load(&P.chunk[i]);
    if (c)
      for (int j = 0; j < CHUNK; j++)
        c[j].gen = 0;
  }
  close(P.epfd);
  close(P.evfd);
  P.evfd = -1;
  __atomic_store_n(&P.epfd, -1, __ATOMIC_RELEASE);
  corun__lock_release(&P.table_lock);
}

static const struct corun__poller epoll_poller = {ep_poll, ep_wake, ep_pending,
                                                  ep_fini};

/* Makes the instance for this scheduler if there is none. */
static int ensure_instance(void) {
  int rc = 0;
  corun__lock_acquire(&P.table_lock);
  if (P.epfd < 0) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = EVFD_TAG};
    if (ep < 0 || ev < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0) {
      rc = -errno;
      if (ep >= 0)
        close(ep);
      if (ev >= 0)
        close(ev);
    } else {
      P.evfd = ev;
      __atomic_store_n(&P.epfd, ep, __ATOMIC_RELEASE);
      corun__sched_set_poller(&epoll_poller);
    }
  }
  corun__lock_release(&P.table_lock);
  return rc;
}

/* ---- the io layer's side (poll.h) ------------------------------------- */

int corun__poll_prepare(int fd, int dir, uint32_t *seq) {
  int err;
  if (!corun__task_blocking(&err))
    return err;
  if (__atomic_load_n(&P.epfd, __ATOMIC_ACQUIRE) < 0 &&
      (err = ensure_instance()) < 0)
    return err;
  struct fdrec *r = rec_of(fd, 1);
  if (!r)
    return fd < 0 ? -EBADF : -ENOMEM;
  corun__lock_acquire(&r->lock);
  if (!r->gen) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
      corun__lock_release(&r->lock);
      return -errno;
    }
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
      corun__lock_release(&r->lock);
      return -errno;
    }
    uint32_t gen = __atomic_add_fetch(&P.next_gen, 1, __ATOMIC_RELAXED);
    if (!gen) /* 0 means "not registered" */
      gen = __atomic_add_fetch(&P.next_gen, 1, __ATOMIC_RELAXED);
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                            .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd};
    if (epoll_ctl(P.epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
      int e2 = errno;
      corun__lock_release(&r->lock);
      return e2 == EPERM ? 1 : -e2; /* EPERM: a regular file */
    }
    r->gen = gen;
  }
  *seq = r->seq[dir];
  corun__lock_release(&r->lock);
  return 0;
}

int corun__poll_wait(int fd, int dir, uint32_t seq, int64_t deadline) {
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  if (!t)
    return err;
  struct fdrec *r = rec_of(fd, 0);
  if (!r)
    return -EBADF;
  corun__lock_acquire(&r->lock);
  if (!r->gen) {
    corun__lock_release(&r->lock);
    return -EBADF;
  }
  if (r->seq[dir] != seq) { /* an event came after the IO's try */
    corun__lock_release(&r->lock);
    return 0;
  }
  if (r->waiter[dir]) {
    corun__lock_release(&r->lock);
    return -EBUSY;
  }
  r->waiter[dir] = t;
  atomic_fetch_add(&P.pending, 1);
  int rc = corun__park(t, dir == CORUN__POLL_IN ? "fd readable" : "fd writable",
                       corun__unlock_cb, &r->lock, deadline);
  if (rc < 0) { /* a timer or a cancel: leave, unless an event won */
    corun__lock_acquire(&r->lock);
    if (r->waiter[dir] == t) {
      r->waiter[dir] = NULL;
      atomic_fetch_sub(&P.pending, 1);
    }
    corun__lock_release(&r->lock);
  }
  return rc;
}

int corun__poll_ready_now(int fd, int dir) {
  struct pollfd p = {fd, dir == CORUN__POLL_IN ? POLLIN : POLLOUT, 0};
  int saved = errno;
  int n = poll(&p, 1, 0);
  errno = saved;
  return n > 0; /* readiness, or HUP/ERR/NVAL: the IO call will say */
}

void corun__poll_forget(int fd) {
  struct fdrec *r = rec_of(fd, 0);
  if (!r)
    return;
  corun__lock_acquire(&r->lock);
  if (r->gen) {
    wake_one_dir(r, CORUN__POLL_IN, -EBADF);
    wake_one_dir(r, CORUN__POLL_OUT, -EBADF);
    int ep = __atomic_load_n(&P.epfd, __ATOMIC_ACQUIRE);
    if (ep >= 0)
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    r->gen = 0;
  }
  corun__lock_release(&r->lock);
}
