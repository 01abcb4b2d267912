/* thread.c: each thread's coroutine state (struct corun__thread, coro.h):
 * made at the thread's first corun call, found through an initial-exec
 * thread variable, freed by a pthread key's destructor when the thread
 * exits on its own stack.
 * Layer: coro (uses base, stack). Locking: none; the state is the
 * thread's own, and the key is made once (pthread_once). */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/panic.h"
#include "coro/coro.h"

/* Initial-exec: one %fs-relative load, no __tls_get_addr call, also in the
 * shared library (an 8-byte slot fits glibc's static TLS surplus). */
__thread struct corun__thread *corun__tls_thread
    __attribute__((tls_model("initial-exec")));

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static void thread_exit(void *p) {
  struct corun__thread *t = p;
  if (t->current != &t->root)
    return; /* the thread exits inside a coroutine: leave everything */
  if (t->copier.ctx) {
#if CORUN__TSAN
    __tsan_destroy_fiber(t->copier.tsan_fiber);
#endif
    corun__stack_free(&t->cache, t->copier.mem.stack);
  }
  corun__stack_cache_flush(&t->cache);
  corun__stack_thread_fini(t->altstack);
  corun__tls_thread = NULL;
  corun__free(t);
}

static void make_key(void) {
  if (pthread_key_create(&thread_key, thread_exit) != 0)
    corun__panic("pthread_key_create failed");
}

/* Allocates the calling thread's state. Leaves errno as it found it (the
 * native API never changes errno). */
static struct corun__thread *thread_init_inner(void);
static CORUN__NOINLINE struct corun__thread *thread_init(void) {
  int saved = errno;
  struct corun__thread *t = thread_init_inner();
  errno = saved;
  return t;
}

static struct corun__thread *thread_init_inner(void) {
  pthread_once(&thread_key_once, make_key);
  struct corun__thread *t = corun__malloc(sizeof *t);
  if (!t)
    return NULL;
  memset(t, 0, sizeof *t);
  if (corun__stack_thread_init(&t->altstack) < 0) {
    corun__free(t);
    return NULL;
  }
  t->root.status = CORUN_RUNNING;
  t->current = &t->root;
  t->errno_ptr = &errno;
#if CORUN__ASAN
  pthread_attr_t a;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    void *lo;
    size_t n;
    if (pthread_attr_getstack(&a, &lo, &n) == 0) {
      t->root.asan_bottom = lo;
      t->root.asan_size = n;
    }
    pthread_attr_destroy(&a);
  }
#endif
#if CORUN__TSAN
  t->root.tsan_fiber = __tsan_get_current_fiber();
#endif
  pthread_setspecific(thread_key, t);
  corun__tls_thread = t;
  return t;
}

struct corun__thread *corun__thread_get(void) {
  struct corun__thread *t = corun__tls_thread;
  return CORUN__LIKELY(t != NULL) ? t : thread_init();
}

/* The empty asm with a memory clobber keeps the compiler from treating
 * this as a pure function and reusing an earlier result (llvm#47179, the
 * errno-after-migration bug). */
CORUN__NOINLINE struct corun__thread *corun__thread_fresh(void) {
  __asm__ volatile("" ::: "memory");
  return corun__tls_thread;
}
