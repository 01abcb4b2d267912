/* epoll.c: the epoll backend (backend.h): readiness, edge-triggered.
 * Layer: poll (uses base, coro, sched).
 *
 * One epoll instance per scheduler, made when its first IO waits and
 * freed when corun_main ends (the poller's fini). An eventfd in it lets a
 * waker interrupt the worker blocked in epoll_pwait2 (idle.c). Each fd is
 * registered once, for input and output together, with its record's
 * generation in the event data: an event of a closed fd's registration
 * that is still in flight is recognised and dropped.
 *
 * Locking: a record's lock (poll.c) guards its counts and waiters;
 * `P.epfd` is written only under poll.c's start lock and at fini; the
 * count of waiters is an atomic. */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "poll/backend.h"

static struct {
  int epfd, evfd;      /* -1 when no scheduler uses them */
  atomic_long pending; /* tasks parked on IO */
} P = {-1, -1, 0};

#define EVFD_TAG UINT64_MAX

/* ---- the scheduler's side (sched.h: struct corun__poller) ------------- */

static void wake_one_dir(struct corun__fdrec *r, int dir, int code) {
  struct corun_task *t = r->waiter[dir];
  if (t && corun__claim(t)) {
    r->waiter[dir] = NULL;
    corun__unpark(t, code);
    atomic_fetch_sub(&P.pending, 1); /* after: see idle.c's corun__idle() */
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
      corun__wakefd_drain(P.evfd);
      continue;
    }
    int fd = (int)(uint32_t)tag;
    struct corun__fdrec *r = corun__fdrec_of(fd, 0);
    if (!r)
      continue;
    corun__lock_acquire(&r->lock);
    if (r->gen == (uint32_t)(tag >> 32)) { /* not a closed fd's leftover */
      uint32_t e = ev[i].events;
      if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI))
        r->ended = 1; /* see corun__fdrec.drained */
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
  corun__wakefd_kick(P.evfd);
}

static long ep_pending(void) {
  return atomic_load_explicit(&P.pending, memory_order_relaxed);
}

/* corun_main is ending: every task finished, nobody waits. */
static void ep_fini(void) {
  close(P.epfd);
  close(P.evfd);
  P.epfd = P.evfd = -1;
  corun__poll_ended();
}

static const struct corun__poller epoll_poller = {ep_poll, ep_wake, ep_pending,
                                                  ep_fini, NULL};

/* ---- the backend (backend.h) -------------------------------------------- */

static int ep_start(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event e = {.events = EPOLLIN, .data.u64 = EVFD_TAG};
  if (ep < 0 || ev < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0) {
    int rc = -errno;
    if (ep >= 0)
      close(ep);
    if (ev >= 0)
      close(ev);
    return rc;
  }
  P.epfd = ep;
  P.evfd = ev;
  corun__sched_set_poller(&epoll_poller);
  return 0;
}

static int ep_add(int fd, uint32_t gen) {
  /* EPOLLPRI: TCP urgent data, which ends a short read at its mark with
   * more data behind it (see corun__fdrec.ended). */
  struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI |
                                    EPOLLET,
                          .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd};
  if (epoll_ctl(P.epfd, EPOLL_CTL_ADD, fd, &e) == 0)
    return 0;
  return errno == EPERM ? 1 : -errno; /* EPERM: not pollable */
}

static int ep_wait(struct corun__fdrec *r, int fd, int dir, uint32_t seq,
                   int64_t deadline, struct corun_task *t) {
  (void)fd;
  if (r->seq[dir] != seq) { /* an event came after the IO's try */
    corun__lock_release(&r->lock);
    return 0;
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

static void ep_forget(struct corun__fdrec *r, int fd) {
  if (r->kind == CORUN__FD_FILE)
    return; /* never registered, never waited on */
  wake_one_dir(r, CORUN__POLL_IN, -EBADF);
  wake_one_dir(r, CORUN__POLL_OUT, -EBADF);
  epoll_ctl(P.epfd, EPOLL_CTL_DEL, fd, NULL);
}

const struct corun__backend corun__epoll_backend = {
    "epoll", ep_start, ep_add, ep_wait, NULL, ep_forget};
