/* fd.c: the hooks' per-file state (hook.h): the program's view of
 * O_NONBLOCK and the socket timeouts, for each open file, and which fd
 * names which file.
 * Layer: hook.
 *
 * A two-level table of fd slots, chunks allocated on demand and never
 * freed or moved (lock-free lookups). Each slot points to the state of
 * the file it names (struct corun__hookfile), shared by the fds dup'd
 * from it: setting O_NONBLOCK or SO_RCVTIMEO through one of them shows
 * through the others, as in the kernel. An fd the hooks did not see being
 * made (inherited, opened before the library was loaded, made by a call
 * that is not hooked) is looked up in the kernel at its first use.
 *
 * File states are counted by the fds naming them and go back to a free
 * list when the last is closed, never to malloc: a thread that read a
 * slot just before another closed the fd reads a state that stays valid
 * memory (see corun__hookfd in hook.h).
 *
 * Locking: `lock` guards chunk allocation and the free list; slots and
 * states are atomics. fork() takes `lock` around itself (pthread_atfork),
 * so that a child forked while another thread held it can still close
 * and open fds through the hooks. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "hook/hook.h"

#define CHUNK 1024
#define CHUNKS 16384 /* fds up to 16 Mi */

typedef struct corun__hookfile *_Atomic slot;

static slot *_Atomic chunks[CHUNKS];
static struct corun__hookfile *free_list;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void lock_take(void) {
  pthread_mutex_lock(&lock);
}

static void lock_give(void) {
  pthread_mutex_unlock(&lock);
}

/* In a forked child: the table's lock back, and every file's flags_lock
 * free (a thread that held one does not exist there). */
static void child_after_fork(void) {
  for (int i = 0; i < CHUNKS; i++) {
    slot *c = atomic_load_explicit(&chunks[i], memory_order_relaxed);
    for (int j = 0; c && j < CHUNK; j++) {
      struct corun__hookfile *f =
          atomic_load_explicit(&c[j], memory_order_relaxed);
      if (f)
        atomic_store_explicit(&f->flags_lock, 0, memory_order_relaxed);
    }
  }
  lock_give();
}

__attribute__((constructor)) static void lock_across_fork(void) {
  pthread_atfork(lock_take, lock_give, child_after_fork);
}

static slot *slot_of(int fd) {
  if (fd < 0 || fd >= CHUNK * CHUNKS)
    return NULL;
  slot *c = atomic_load_explicit(&chunks[fd / CHUNK], memory_order_acquire);
  if (!c) {
    pthread_mutex_lock(&lock);
    c = atomic_load_explicit(&chunks[fd / CHUNK], memory_order_relaxed);
    if (!c && (c = calloc(CHUNK, sizeof *c)) != NULL)
      atomic_store_explicit(&chunks[fd / CHUNK], c, memory_order_release);
    pthread_mutex_unlock(&lock);
  }
  return c ? &c[fd % CHUNK] : NULL;
}

static struct corun__hookfile *file_new(int domain, int type, int nonblock) {
  pthread_mutex_lock(&lock);
  struct corun__hookfile *f = free_list;
  if (f)
    free_list = f->next_free;
  pthread_mutex_unlock(&lock);
  if (!f && !(f = calloc(1, sizeof *f)))
    return NULL;
  atomic_store(&f->refs, 1);
  atomic_store(&f->domain, domain);
  atomic_store(&f->type, type);
  atomic_store(&f->nonblock, nonblock);
  atomic_store(&f->corun_nb, 0);
  atomic_store(&f->flags_lock, 0);
  atomic_store(&f->rcvtimeo, 0);
  atomic_store(&f->sndtimeo, 0);
  return f;
}

static void file_put(struct corun__hookfile *f) {
  if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
    pthread_mutex_lock(&lock);
    f->next_free = free_list;
    free_list = f;
    pthread_mutex_unlock(&lock);
  }
}

/* Points s at f (which carries a reference for it), dropping the old. */
static void slot_set(slot *s, struct corun__hookfile *f) {
  file_put(atomic_exchange(s, f));
}

int64_t corun__hook_timeo(const struct timeval *tv) {
  if (tv->tv_sec < 0)
    return -1; /* Linux: "do not wait" (and a warning in its log) */
  return corun__hook_ns(tv->tv_sec, tv->tv_usec, 1000);
}

static int64_t timeo_ns(int fd, int name) {
  struct timeval tv = {0, 0};
  socklen_t len = sizeof tv;
  if (getsockopt(fd, SOL_SOCKET, name, &tv, &len) < 0)
    return 0;
  /* (a timeout of "do not wait" reads back as none: it cannot be told) */
  return corun__hook_timeo(&tv);
}

struct corun__hookfile *corun__hookfd(int fd) {
  slot *s = slot_of(fd);
  struct corun__hookfile *f;
  if (!s || (f = atomic_load(s)) != NULL)
    return s ? f : NULL;
  int saved = errno;
  struct stat st;
  int fl = corun__real()->fcntl(fd, F_GETFL);
  if (fl < 0 || fstat(fd, &st) < 0) {
    errno = saved;
    return NULL; /* not open: the call itself will say EBADF */
  }
  int type = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ? CORUN__HOOK_REGULAR
                                                        : 0;
  int domain = 0;
  if (S_ISSOCK(st.st_mode)) {
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type <= 0)
      type = SOCK_RAW; /* a socket of some kind */
    len = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
      domain = 0;
  }
  f = file_new(domain, type, (fl & O_NONBLOCK) != 0);
  if (f && type > 0) {
    atomic_store(&f->rcvtimeo, timeo_ns(fd, SO_RCVTIMEO));
    atomic_store(&f->sndtimeo, timeo_ns(fd, SO_SNDTIMEO));
  }
  errno = saved;
  struct corun__hookfile *none = NULL;
  if (f && !atomic_compare_exchange_strong(s, &none, f)) {
    file_put(f); /* another thread looked it up first */
    f = none;
  }
  return f;
}

void corun__hookfd_new(int fd, int domain, int type, int nonblock) {
  slot *s = slot_of(fd);
  if (s)
    slot_set(s, file_new(domain, type, nonblock));
}

void corun__hookfd_timeouts(int fd) {
  struct corun__hookfile *f = corun__hookfd(fd);
  if (f && atomic_load(&f->type) > 0) {
    atomic_store(&f->rcvtimeo, timeo_ns(fd, SO_RCVTIMEO));
    atomic_store(&f->sndtimeo, timeo_ns(fd, SO_SNDTIMEO));
  }
}

void corun__hookfd_drop(int fd) {
  slot *s = slot_of(fd);
  if (s)
    slot_set(s, NULL);
}

void corun__hookfd_dup(int from, int to) {
  slot *s = slot_of(to);
  if (!s)
    return;
  struct corun__hookfile *f = corun__hookfd(from);
  if (f)
    atomic_fetch_add(&f->refs, 1);
  slot_set(s, f); /* NULL: looked up afresh at its first use */
}

void corun__hookfile_lock(struct corun__hookfile *f) {
  while (atomic_exchange_explicit(&f->flags_lock, 1, memory_order_acquire))
    sched_yield();
}

void corun__hookfile_unlock(struct corun__hookfile *f) {
  atomic_store_explicit(&f->flags_lock, 0, memory_order_release);
}

void corun__hook_corun_nb_slow(struct corun__hookfile *f, int fd) {
  const struct corun__real *R = corun__real();
  int saved = errno;
  corun__hookfile_lock(f);
  if (!atomic_load(&f->corun_nb)) {
    atomic_store(&f->corun_nb, 1);
    int fl = R->fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
      R->fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  }
  corun__hookfile_unlock(f);
  errno = saved;
}
