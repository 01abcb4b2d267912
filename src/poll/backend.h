/* backend.h: what poll.c shares with the two backends, epoll.c and
 * uring.c. Internal to the poll layer.
 * Layer: poll (uses base, sched).
 *
 * Records. One per fd number, in chunks allocated on demand and never
 * moved (a two-level table: lock-free lookups). A record holds the fd's
 * generation (0: not prepared; bumped at each preparation, so an event
 * tagged with an old generation is recognised as stale), whether it is a
 * regular file, the readiness counts (epoll) and at most one waiting task
 * per direction.
 *
 * Locking: a record's lock guards its fields. A backend's own lock, if
 * any, is taken inside it (record, then backend), never the other way. */
#ifndef CORUN_POLL_BACKEND_H
#define CORUN_POLL_BACKEND_H

#include <sys/types.h>

#include "base/lock.h"
#include "poll/poll.h"
#include "sched/sched.h"

struct corun__fdrec {
  corun__lock lock;
  uint32_t gen;    /* 0: not prepared (never seen, or corun_close()d) */
  int kind;        /* CORUN__FD_* (poll.h) */
  uint32_t seq[2]; /* epoll: readiness events seen, per direction */
  /* TCP sockets only: bit dir set when the last IO call in dir, which
   * started at readiness count drained_at[dir], moved less than it asked
   * for (corun__poll_ran_dry): the buffer was empty (or full) then, and
   * under epoll only a newer readiness event can change that. Unless
   * `ended` (epoll): the peer has shut down or the connection failed (an
   * event with EPOLLRDHUP, HUP or ERR was seen), and the next call
   * returns 0 or the error at once, with no event to come; or urgent
   * data came (EPOLLPRI), and a read stops short at its mark with the
   * data behind it already there. It stays set (a socket that has had
   * urgent data just loses the skip). */
  uint8_t tcp;
  _Atomic uint8_t drained; /* (read without the lock by corun__poll_ran_dry) */
  uint8_t ended;
  uint32_t drained_at[2];
  /* The task waiting in each direction (for readiness, or with a request
   * in flight), so that corun_close can wake it. */
  struct corun_task *waiter[2];
  /* Regular files: calls handed to a helper thread and not yet done
   * (their jobs name the fd by its number), and the tasks whose
   * corun_close waits for them (corun__poll_forget). */
  uint32_t file_calls;
  uint32_t closing; /* corun__poll_forget calls under way: none begins */
  struct corun__waitq closers;
};

/* The two-level table: CORUN__FDREC_CHUNKS pointers to chunks of
 * CORUN__FDREC_CHUNK records, each chunk allocated at its first use. */
#define CORUN__FDREC_CHUNK 1024u
#define CORUN__FDREC_CHUNKS (1u << 14) /* fds up to 16 Mi */
extern struct corun__fdrec *_Atomic corun__fdrec_chunk[CORUN__FDREC_CHUNKS];

/* fd's record, made if `make` (NULL: fd out of range, or no memory). */
struct corun__fdrec *corun__fdrec_make(int fd);
static inline struct corun__fdrec *corun__fdrec_of(int fd, int make) {
  /* Inline: each keep-alive request looks its fd up seven times, and as a
   * call, with a signed division and remainder by the chunk size, a
   * lookup cost 27 instructions (callgrind). */
  unsigned u = (unsigned)fd; /* a negative fd becomes out of range */
  if (u >= CORUN__FDREC_CHUNK * CORUN__FDREC_CHUNKS)
    return NULL;
  struct corun__fdrec *c = atomic_load_explicit(
      &corun__fdrec_chunk[u / CORUN__FDREC_CHUNK], memory_order_acquire);
  if (!c)
    return make ? corun__fdrec_make(fd) : NULL;
  return &c[u % CORUN__FDREC_CHUNK];
}

struct corun__backend {
  const char *name;
  /* Makes the backend's instance for the running scheduler and installs
   * its poller (sched.h). Returns 0 or -errno. */
  int (*start)(void);
  /* fd (non-blocking, not a regular file) is prepared with generation gen:
   * register it. Returns 0, 1 if it cannot be polled, or -errno. */
  int (*add)(int fd, uint32_t gen);
  /* With r locked (fd prepared, no waiter in dir): parks t until fd is
   * ready in dir (epoll: seq is out of date) or the deadline. Releases r's
   * lock. Returns as corun__poll_wait. */
  int (*wait)(struct corun__fdrec *r, int fd, int dir, uint32_t seq,
              int64_t deadline, struct corun_task *t);
  /* With r locked: submits io and parks t until it completes, as
   * corun__poll_submit. Releases r's lock. NULL: readiness only. */
  ssize_t (*submit)(struct corun__fdrec *r, const struct corun__io *io,
                    int dir, int64_t deadline, struct corun_task *t);
  /* With r locked, before fd is closed: ends the waits of r's waiters
   * (they return -EBADF) and unregisters fd. For a regular file: hands
   * the kernel any request that still names fd by number. */
  void (*forget)(struct corun__fdrec *r, int fd);
};

extern const struct corun__backend corun__epoll_backend;
#ifdef CORUN_HAVE_URING
extern const struct corun__backend corun__uring_backend;
/* io_uring without the setup flags of Linux 5.18 and later, as on older
 * kernels (CORUN_POLLER=uring-basic, for tests). */
extern const struct corun__backend corun__uring_basic_backend;
#endif

/* The wake-up eventfd both backends keep (poll.c): kick makes a poll()
 * under way return (a full counter is already a pending wake-up); drain
 * takes the wake-up once it has. */
void corun__wakefd_kick(int evfd);
void corun__wakefd_drain(int evfd);

/* Called by the backend's poller fini (the scheduler is ending, every task
 * has finished): forgets every record and the backend, so the next
 * scheduler starts afresh. */
void corun__poll_ended(void);

#endif
