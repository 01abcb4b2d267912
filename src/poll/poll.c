/* poll.c: the event loop's common part: the fd records, the choice of
 * backend and the entry points of poll.h, which lock an fd's record and
 * hand over to the backend (backend.h).
 * Layer: poll (uses base, sched).
 *
 * Choice. The first IO wait of a scheduler starts a backend: the one
 * CORUN_POLLER names ("epoll", "uring"; "uring-basic" is io_uring as on
 * kernels before 5.18, for tests), else io_uring if it starts, else
 * epoll; under Valgrind epoll unless named, since memcheck checks the
 * buffers of epoll's system calls and not those of io_uring requests
 * (base/valgrind.h). It stays until corun_main ends (the poller's fini calls
 * corun__poll_ended), and the next scheduler chooses again.
 *
 * Locking: `start_lock` guards the choice and chunk allocation; each
 * record's lock its fields. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/valgrind.h"
#include "poll/backend.h"

static corun__lock start_lock = CORUN__LOCK_INIT;
static const struct corun__backend *_Atomic active;
static uint32_t next_gen;
struct corun__fdrec *_Atomic corun__fdrec_chunk[CORUN__FDREC_CHUNKS];

/* corun__fdrec_of's slow path (backend.h): fd's chunk is not there yet;
 * fd is in range. */
struct corun__fdrec *corun__fdrec_make(int fd) {
  unsigned i = (unsigned)fd / CORUN__FDREC_CHUNK;
  corun__lock_acquire(&start_lock);
  struct corun__fdrec *c =
      atomic_load_explicit(&corun__fdrec_chunk[i], memory_order_relaxed);
  if (!c && (c = corun__malloc(CORUN__FDREC_CHUNK * sizeof *c)) != NULL) {
    memset(c, 0, CORUN__FDREC_CHUNK * sizeof *c);
    atomic_store_explicit(&corun__fdrec_chunk[i], c, memory_order_release);
  }
  corun__lock_release(&start_lock);
  return c ? &c[(unsigned)fd % CORUN__FDREC_CHUNK] : NULL;
}

/* Starts the backend for this scheduler if none runs; returns it, or NULL
 * with *err set. */
static const struct corun__backend *backend(int *err) {
  const struct corun__backend *b = atomic_load(&active);
  if (b)
    return b;
  corun__lock_acquire(&start_lock);
  if (!(b = atomic_load(&active))) {
    const char *env = getenv("CORUN_POLLER");
    if (env && !*env)
      env = NULL;
    int basic = env && !strcmp(env, "uring-basic");
    int want_uring =
        env && (basic || !strcmp(env, "uring") || !strcmp(env, "io_uring"));
    *err = -ENOSYS;
#ifdef CORUN_HAVE_URING
    const struct corun__backend *u =
        basic ? &corun__uring_basic_backend : &corun__uring_backend;
    int want_epoll = env ? !strcmp(env, "epoll") : corun__on_valgrind();
    if (!want_epoll && (*err = u->start()) == 0)
      b = u;
#endif
    if (!b && !want_uring && (*err = corun__epoll_backend.start()) == 0)
      b = &corun__epoll_backend;
    if (b)
      atomic_store(&active, b);
  }
  corun__lock_release(&start_lock);
  return b;
}

void corun__poll_ended(void) {
  corun__lock_acquire(&start_lock);
  for (unsigned i = 0; i < CORUN__FDREC_CHUNKS; i++) {
    struct corun__fdrec *c = atomic_load(&corun__fdrec_chunk[i]);
    if (c)
      for (unsigned j = 0; j < CORUN__FDREC_CHUNK; j++)
        c[j].gen = 0; /* the fds may live on: prepared again next time */
  }
  atomic_store(&active, NULL);
  corun__lock_release(&start_lock);
}

void corun__wakefd_kick(int evfd) {
  uint64_t one = 1;
  ssize_t wr = write(evfd, &one, sizeof one);
  (void)wr; /* a full counter (EAGAIN) is already a pending wake-up */
}

void corun__wakefd_drain(int evfd) {
  uint64_t v;
  ssize_t rd = read(evfd, &v, sizeof v);
  (void)rd; /* EAGAIN: drained by an earlier look */
}

const char *corun__poll_backend_name(void) {
  const struct corun__backend *b = atomic_load(&active);
  return b ? b->name : NULL;
}

int corun__poll_prepare(int fd, int dir, uint32_t *seq, int *drained) {
  int err;
  const struct corun__backend *b;
  if (!corun__task_blocking(&err) || !(b = backend(&err)))
    return err;
  struct corun__fdrec *r = corun__fdrec_of(fd, 1);
  if (!r)
    return fd < 0 ? -EBADF : -ENOMEM;
  corun__lock_acquire(&r->lock);
  if (!r->gen) {
    struct stat st;
    if (fstat(fd, &st) < 0)
      goto fail;
    /* Regular files and block devices are always "ready" and their flags
     * stay the user's (O_NONBLOCK would make io_uring's reads of
     * uncached data fail with EAGAIN). */
    int kind = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ||
                       S_ISDIR(st.st_mode)
                   ? CORUN__FD_FILE
               : S_ISSOCK(st.st_mode) ? CORUN__FD_SOCKET
                                      : CORUN__FD_POLLABLE;
    if (kind != CORUN__FD_FILE) {
      int fl = CORUN__LIBC(fcntl(fd, F_GETFL));
      if (fl < 0 || (!(fl & O_NONBLOCK) &&
                     CORUN__LIBC(fcntl(fd, F_SETFL, fl | O_NONBLOCK)) < 0))
        goto fail;
    }
    uint32_t gen = __atomic_add_fetch(&next_gen, 1, __ATOMIC_RELAXED);
    if (!gen) /* 0 means "not prepared" */
      gen = __atomic_add_fetch(&next_gen, 1, __ATOMIC_RELAXED);
    if (kind != CORUN__FD_FILE && (err = b->add(fd, gen)) != 0) {
      if (err < 0) {
        corun__lock_release(&r->lock);
        return err;
      }
      kind = CORUN__FD_FILE; /* not pollable (a character device, say) */
    }
    int proto = 0, saved = errno;
    socklen_t pl = sizeof proto;
    r->tcp = kind == CORUN__FD_SOCKET &&
             getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) == 0 &&
             proto == IPPROTO_TCP;
    errno = saved;
    atomic_store_explicit(&r->drained, 0, memory_order_relaxed);
    r->ended = 0;
    r->gen = gen;
    r->kind = kind;
  }
  *seq = r->seq[dir];
  if (drained)
    *drained = (atomic_load_explicit(&r->drained, memory_order_relaxed) >>
                    dir & 1) &&
               (b->submit || (r->drained_at[dir] == *seq && !r->ended));
  int rc = r->kind;
  corun__lock_release(&r->lock);
  return rc;
fail:
  err = -errno;
  corun__lock_release(&r->lock);
  return err;
}

void corun__poll_ran_dry(int fd, int dir, uint32_t seq, int dry) {
  struct corun__fdrec *r = corun__fdrec_of(fd, 0);
  unsigned bit = 1u << dir;
  /* Most calls change nothing (a full one with the bit clear): skip the
   * lock. The bit is only changed under it. */
  if (!r || (!dry && !(atomic_load_explicit(&r->drained,
                                            memory_order_relaxed) & bit)))
    return;
  corun__lock_acquire(&r->lock);
  if (r->tcp && r->gen) {
    unsigned d = atomic_load_explicit(&r->drained, memory_order_relaxed);
    atomic_store_explicit(&r->drained, (uint8_t)(dry ? d | bit : d & ~bit),
                          memory_order_relaxed);
    r->drained_at[dir] = seq;
  }
  corun__lock_release(&r->lock);
}

void corun__poll_urgent(int fd) {
  struct corun__fdrec *r = corun__fdrec_of(fd, 0);
  if (!r)
    return;
  corun__lock_acquire(&r->lock);
  if (r->gen)
    r->ended = 1;
  corun__lock_release(&r->lock);
}

/* Locks fd's record for a wait of t in dir, or returns an error: -EBADF
 * (not prepared: corun_close()d meanwhile), -EBUSY (a waiter already). */
static int lock_for_wait(int fd, int dir, struct corun__fdrec **out) {
  struct corun__fdrec *r = corun__fdrec_of(fd, 0);
  if (!r)
    return -EBADF;
  corun__lock_acquire(&r->lock);
  int rc = !r->gen ? -EBADF : r->waiter[dir] && r->kind != CORUN__FD_FILE ? -EBUSY : 0;
  if (rc < 0)
    corun__lock_release(&r->lock);
  *out = r;
  return rc;
}

int corun__poll_wait(int fd, int dir, uint32_t seq, int64_t deadline) {
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  const struct corun__backend *b = atomic_load(&active);
  if (!t)
    return err;
  struct corun__fdrec *r;
  if (!b || (err = lock_for_wait(fd, dir, &r)) < 0)
    return b ? err : -EBADF;
  return b->wait(r, fd, dir, seq, deadline, t);
}

int corun__poll_submits(void) {
  const struct corun__backend *b = atomic_load(&active);
  struct corun_task *t = corun__task_self();
  return b && b->submit && t && !t->shared;
}

ssize_t corun__poll_submit(const struct corun__io *io, int dir,
                           int64_t deadline) {
  int err;
  struct corun_task *t = corun__task_blocking(&err);
  const struct corun__backend *b = atomic_load(&active);
  if (!t)
    return err;
  if (!b || !b->submit)
    return -ENOSYS;
  struct corun__fdrec *r;
  if ((err = lock_for_wait(io->fd, dir, &r)) < 0)
    return err == -EBUSY && io->untried ? CORUN__POLL_UNTRIED : err;
  return b->submit(r, io, dir, deadline, t);
}

int corun__poll_ready_now(int fd, int dir) {
  struct pollfd p = {fd, dir == CORUN__POLL_IN ? POLLIN : POLLOUT, 0};
  int saved = errno;
  int n = CORUN__LIBC(poll(&p, 1, 0));
  errno = saved;
  return n > 0; /* readiness, or HUP/ERR/NVAL: the IO call will say */
}

/* With r locked, in corun__poll_forget (corun_close, corun_fd_release):
 * waits until no regular-file call handed
 * to a helper thread is under way (corun__poll_file_begin). Its job
 * carries the fd's number and would otherwise be made on whatever file
 * next had it (a read of another file's data, a write into it). Once
 * made, the call holds the file itself, as a read(2) in another thread
 * does. The jobs still in line have been withdrawn, and no call begins
 * while a close is under way (`closing`), so this waits for the IO under
 * way only. (Not a dup(2) per job: closing the duplicate would drop the
 * process's fcntl record locks on the file.) Outside a task (a thread of
 * the caller's own, a coroutine a task resumed) it sleeps in small steps:
 * helper threads need no worker to go on. */
static void wait_file_calls(struct corun__fdrec *r) {
  int err;
  struct corun_task *t = r->file_calls ? corun__task_blocking(&err) : NULL;
  while (r->file_calls) {
    if (!t) {
      corun__lock_release(&r->lock);
      struct timespec step = {0, 100000}; /* 100 us */
      int saved = errno;
      CORUN__LIBC(nanosleep(&step, NULL));
      errno = saved;
      corun__lock_acquire(&r->lock);
      continue;
    }
    struct corun__waiter *w = &t->self_waiter;
    w->task = t;
    w->index = 0;
    w->elem = NULL;
    w->result = 0;
    corun__waitq_push(&r->closers, w);
    corun__park_nocancel(t, "close: file io under way", corun__unlock_cb,
                         &r->lock);
    corun__lock_acquire(&r->lock);
    if (w->queued) /* a cancel raced with the park: still waiting */
      corun__waitq_remove(&r->closers, w);
  }
}

void corun__poll_forget(int fd, void (*withdraw)(int fd)) {
  if (corun__forked)
    return; /* the registration is the parent's (sched.h) */
  struct corun__fdrec *r = corun__fdrec_of(fd, 0);
  const struct corun__backend *b = atomic_load(&active);
  if (!r || !b)
    return;
  corun__lock_acquire(&r->lock);
  r->closing++; /* no file call begins from here on */
  if (r->gen) {
    b->forget(r, fd);
    r->gen = 0;
  }
  if (r->file_calls && withdraw) {
    /* those counted are in the helpers' line or on a helper */
    corun__lock_release(&r->lock);
    withdraw(fd);
    corun__lock_acquire(&r->lock);
  }
  wait_file_calls(r);
  /* A task that used the fd meanwhile prepared it again (the file is
   * still open): forget that too, or the record would outlive the close
   * and tell the next fd with the number what kind of fd it was. */
  if (r->gen) {
    b->forget(r, fd);
    r->gen = 0;
  }
  r->closing--;
  corun__lock_release(&r->lock);
}

int corun__poll_file_begin(int fd) {
  struct corun__fdrec *r = corun__fdrec_of(fd, 0);
  if (!r)
    return -EBADF;
  corun__lock_acquire(&r->lock);
  int rc = r->gen && r->kind == CORUN__FD_FILE && !r->closing ? 0 : -EBADF;
  if (rc == 0)
    r->file_calls++;
  corun__lock_release(&r->lock);
  return rc;
}

void corun__poll_file_end(int fd) {
  struct corun__fdrec *r = corun__fdrec_of(fd, 0);
  struct corun__waiter *closers = NULL;
  size_t unused = 0;
  corun__lock_acquire(&r->lock);
  if (--r->file_calls == 0)
    closers = corun__waitq_claim_all(&r->closers, &unused);
  corun__lock_release(&r->lock);
  corun__unpark_all(closers);
}
