/* fd.c: the hooks' per-fd state (hook.h): the program's view of
 * O_NONBLOCK and the socket timeouts.
 * Layer: hook.
 *
 * A two-level table of entries, chunks allocated on demand and never
 * freed or moved (lock-free lookups). An fd the hooks did not see being
 * made (inherited, opened before the library was loaded, made by a call
 * that is not hooked) is looked up in the kernel at its first use.
 *
 * Locking: `chunk_lock` guards chunk allocation; entries are atomics. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "hook/hook.h"

#define CHUNK 1024
#define CHUNKS 16384 /* fds up to 16 Mi */

static struct corun__hookfd *_Atomic chunks[CHUNKS];
static pthread_mutex_t chunk_lock = PTHREAD_MUTEX_INITIALIZER;

static struct corun__hookfd *entry(int fd) {
  if (fd < 0 || fd >= CHUNK * CHUNKS)
    return NULL;
  struct corun__hookfd *c =
      atomic_load_explicit(&chunks[fd / CHUNK], memory_order_acquire);
  if (!c) {
    pthread_mutex_lock(&chunk_lock);
    c = atomic_load_explicit(&chunks[fd / CHUNK], memory_order_relaxed);
    if (!c && (c = calloc(CHUNK, sizeof *c)) != NULL)
      atomic_store_explicit(&chunks[fd / CHUNK], c, memory_order_release);
    pthread_mutex_unlock(&chunk_lock);
  }
  return c ? &c[fd % CHUNK] : NULL;
}

static int64_t timeo_ns(int fd, int name) {
  struct timeval tv = {0, 0};
  socklen_t len = sizeof tv;
  if (getsockopt(fd, SOL_SOCKET, name, &tv, &len) < 0)
    return 0;
  return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

struct corun__hookfd *corun__hookfd(int fd) {
  struct corun__hookfd *e = entry(fd);
  if (!e || atomic_load(&e->known))
    return e;
  int saved = errno;
  struct stat st;
  int fl = corun__real()->fcntl(fd, F_GETFL);
  if (fl < 0 || fstat(fd, &st) < 0) {
    errno = saved;
    return NULL; /* not open: the call itself will say EBADF */
  }
  int sock = S_ISSOCK(st.st_mode);
  atomic_store(&e->socket, sock);
  atomic_store(&e->nonblock, (fl & O_NONBLOCK) != 0);
  atomic_store(&e->rcvtimeo, sock ? timeo_ns(fd, SO_RCVTIMEO) : 0);
  atomic_store(&e->sndtimeo, sock ? timeo_ns(fd, SO_SNDTIMEO) : 0);
  atomic_store(&e->known, 1);
  errno = saved;
  return e;
}

void corun__hookfd_new(int fd, int socket, int nonblock) {
  struct corun__hookfd *e = entry(fd);
  if (!e)
    return;
  atomic_store(&e->socket, socket);
  atomic_store(&e->nonblock, nonblock);
  atomic_store(&e->rcvtimeo, 0);
  atomic_store(&e->sndtimeo, 0);
  atomic_store(&e->known, 1);
}

void corun__hookfd_drop(int fd) {
  struct corun__hookfd *e = entry(fd);
  if (e)
    atomic_store(&e->known, 0);
}
