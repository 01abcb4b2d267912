/* pool.c: proves the per-thread stack pool works as promised ("in the
 * steady state create and destroy make no system call"): after a warm-up,
 * 100,000 create/resume/destroy cycles (and 10,000 rounds with 8 coroutines
 * alive at once) map no new slab, carve no new slot and make no madvise or
 * mprotect call (corun__stack_get_stats counters unchanged), and the same
 * stacks come back (LIFO reuse: the same coroutine addresses, which sit at
 * the top of their stacks); with more stack sizes than the cache has
 * classes, stacks stay distinct and nothing new is mapped. Also proves that a
 * stack of size S is really usable: a coroutine with a 64 KiB stack touches S -
 * 1 KiB of locals (alloca, every byte written) without faulting, all inside its
 * stack (S - 2 KiB on the ucontext backend, which keeps its ucontext_t on the
 * stack). */

#include <stdint.h>
#include <string.h>

#include "arch/ctx.h"
#include "coro/coro.h"
#include "corun.h"
#include "stack/stack.h"
#include "t.h"

static void *yield_once(void *arg) {
  volatile char touch[512]; /* use a little of the stack */
  touch[0] = 1;
  corun_yield(arg);
  return (void *)(uintptr_t)touch[0];
}

static void cycle(corun_coro **out) {
  corun_coro *co;
  T_OK(corun_create(&co, yield_once, NULL, NULL));
  T_EQ(corun_resume(co, NULL, NULL), 1);
  *out = co;
}

static void check_same_stats(const struct corun__stack_stats *a,
                             const struct corun__stack_stats *b) {
  T_EQ(b->slabs, a->slabs);
  T_EQ(b->slots, a->slots);
  T_EQ(b->madvise, a->madvise);
  T_EQ(b->mprotect_guards, a->mprotect_guards);
  T_EQ(b->guard, a->guard);
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

#define K 8

/* ---- nearly all of S is usable ----------------------------------------- */

#define BIG_STACK ((size_t)64 * 1024)

/* What the coroutine may use of a BIG_STACK stack. The top of the stack
 * holds the coroutine object and the first frames; the ucontext backend
 * also keeps its ucontext_t there (about 1 KiB with the FP state), so it
 * leaves the body less. */
static size_t usable(void) {
  size_t reserve = strcmp(corun__ctx_backend, "ucontext") ? 1024 : 2048;
#if defined(__SANITIZE_ADDRESS__)
  reserve += 3072; /* ASan's larger frames and the alloca's redzones */
#endif
  return BIG_STACK - reserve;
}

static void *use_stack(void *arg) {
  corun_coro *self = corun_current();
  size_t n = usable();
  /* Written byte by byte with no call: below the alloca there is only
   * 1 KiB left, and a first call through the PLT runs the dynamic linker's
   * resolver, whose XSAVE area alone can take more than that. */
  volatile char *p = __builtin_alloca(n);
  for (size_t i = 0; i < n; i++)
    p[i] = (char)0xa5;
  T_EQ((unsigned char)p[0], 0xa5);
  T_EQ((unsigned char)p[n - 1], 0xa5);
  /* All of it inside this coroutine's stack. */
  T_TRUE((char *)p >= corun__coro_stack(self)->lo &&
         (char *)p + n <= corun__coro_stack(self)->hi);
  return arg;
}

int main(void) {
  corun_coro *co[K];
  /* Warm-up: fills the thread's cache. */
  for (int i = 0; i < 1000; i++) {
    for (int j = 0; j < K; j++)
      cycle(&co[j]);
    for (int j = 0; j < K; j++)
      T_OK(corun_destroy(co[j]));
  }

  struct corun__stack_stats s0, s1;
  corun__stack_get_stats(&s0);
  T_GT(s0.slabs, 0);

  /* One coroutine at a time: always the same stack. */
  corun_coro *first;
  cycle(&first);
  T_OK(corun_destroy(first));
  for (int i = 0; i < 100000; i++) {
    corun_coro *c;
    cycle(&c);
    if (c != first)
      fprintf(stderr, "cycle %d: %p, first %p\n", i, (void *)c, (void *)first);
    T_EQ_HEX((uintptr_t)c, (uintptr_t)first);
    T_OK(corun_destroy(c));
  }
  corun__stack_get_stats(&s1);
  check_same_stats(&s0, &s1);

  /* K at a time: always the same K stacks. */
  uintptr_t set0[K], set[K];
  for (int j = 0; j < K; j++)
    cycle(&co[j]);
  for (int j = 0; j < K; j++) {
    set0[j] = (uintptr_t)co[j];
    T_OK(corun_destroy(co[j]));
  }
  qsort(set0, K, sizeof set0[0], cmp_ptr);
  for (int i = 0; i < 10000; i++) {
    for (int j = 0; j < K; j++)
      cycle(&co[j]);
    for (int j = 0; j < K; j++) {
      set[j] = (uintptr_t)co[j];
      T_OK(corun_destroy(co[j]));
    }
    qsort(set, K, sizeof set[0], cmp_ptr);
    for (int j = 0; j < K; j++)
      T_EQ_HEX(set[j], set0[j]);
  }
  corun__stack_get_stats(&s1);
  check_same_stats(&s0, &s1);

  /* More sizes than a thread's cache has classes: every round evicts
   * classes to the global pool and refills them. The stacks held at once
   * stay distinct and of their size, and once each size has its slab
   * nothing new is mapped. */
  enum { NSIZES = CORUN__STACK_CACHE_CLASSES + 2 };
  corun_coro *held[NSIZES];
  for (int i = 0; i < 2000; i++) {
    if (i == 10)
      corun__stack_get_stats(&s0);
    for (int j = 0; j < NSIZES; j++) {
      corun_attr attr = {.stack_size = (size_t)(16 + 4 * j) * 1024};
      T_OK(corun_create(&held[j], yield_once, NULL, &attr));
      const struct corun__stack *st = corun__coro_stack(held[j]);
      T_GE(st->hi - st->lo, (int64_t)attr.stack_size);
      for (int k = 0; k < j; k++)
        T_PTR_NE(corun__coro_stack(held[k]), st);
    }
    for (int j = 0; j < NSIZES; j++)
      T_OK(corun_destroy(held[j]));
  }
  corun__stack_get_stats(&s1);
  T_EQ(s1.slabs, s0.slabs);
  T_EQ(s1.slots, s0.slots);

  /* Nearly all of a 64 KiB stack, several times (also on reused stacks). */
  for (int i = 0; i < 4; i++) {
    corun_attr attr = {.stack_size = BIG_STACK, .name = "use_stack"};
    corun_coro *c;
    void *out = NULL;
    T_OK(corun_create(&c, use_stack, (void *)(uintptr_t)(i + 1), &attr));
    T_EQ(corun_resume(c, NULL, &out), 0);
    T_EQ((uintptr_t)out, i + 1);
    T_OK(corun_destroy(c));
  }
  return 0;
}
