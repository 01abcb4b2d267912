/* scale.c: proves shared stacks make suspended coroutines cheap.
 * N = 100,000 coroutines (10,000 under valgrind or an emulator, 4,000
 * under TSan, which cannot track more fibers) are spread
 * round robin over 4 shared stacks of 64 KiB. Each is resumed once: it
 * calls a small function (a few frames that come and go) and yields its
 * result from the top of its body, so little of its stack is live; all N
 * are then suspended at once. Then each is resumed again with a value and
 * returns a function of it, and all are destroyed, then the shared stacks.
 * Memory: heap in use (mallinfo2: uordblks + hblkhd) grows by well under
 * 1 KiB per suspended coroutine (object + saved stack), and so does the
 * resident set (which also sees memory that is not from malloc); after
 * everything is destroyed the heap is back within 1 MiB of where it
 * started. The memory checks are left out under sanitizers and valgrind
 * (their allocators do not report through mallinfo2, and add redzones) and
 * the resident-set one under emulation. Label slow. */
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include "corun.h"
#include "shared.h"
#include "t.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#define NSS 4
#define SS_SIZE ((size_t)64 * 1024)
#define PER_CO_MAX 1024 /* bytes per suspended coroutine, at most */

static size_t heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  struct mallinfo mi = mallinfo();
  return (size_t)(unsigned)mi.uordblks + (size_t)(unsigned)mi.hblkhd;
#endif
}

static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  T_TRUE(f != NULL);
  unsigned long size, res;
  T_EQ(fscanf(f, "%lu %lu", &size, &res), 2);
  fclose(f);
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static T_NOIPA uint64_t small_leaf(uint64_t x) {
  volatile uint64_t tmp[8];
  for (int i = 0; i < 8; i++)
    tmp[i] = x * (uint64_t)(i + 1);
  return tmp[3] ^ tmp[5];
}

static T_NOIPA uint64_t small_fn(uint64_t x) {
  volatile char pad[256];
  pad[x % 256] = (char)x;
  return small_leaf(x + (uint64_t)pad[x % 256]) + 1;
}

static uint64_t expect_first(uint64_t i) {
  return small_leaf(i + (uint64_t)(char)i) + 1;
}

static void *body(void *arg) {
  uint64_t i = (uint64_t)(uintptr_t)arg;
  uint64_t r = small_fn(i);
  void *in = corun_yield((void *)(uintptr_t)r);
  return (void *)((uintptr_t)in * 3 + 1);
}

int main(void) {
  shared_need_asm();
  int small = t_under_valgrind() || t_emulated();
  /* TSan makes each coroutine a fiber and dies past 8,128 of them. */
  size_t n = UNDER_TSAN ? 4000 : small ? 10000 : 100000;
  int check_heap = !UNDER_SANITIZER && !t_under_valgrind();
  int check_rss = check_heap && !t_emulated();

  corun_shared_stack *ss[NSS];
  for (int k = 0; k < NSS; k++)
    T_OK(corun_shared_stack_create(&ss[k], SS_SIZE));
  corun_coro **co = malloc(n * sizeof *co);
  T_TRUE(co != NULL);
  /* Warm up: the library's per-thread state, first allocations. */
  {
    corun_attr attr = {.shared = ss[0]};
    corun_coro *w;
    T_OK(corun_create(&w, body, (void *)1, &attr));
    T_EQ(corun_resume(w, NULL, NULL), 1);
    T_EQ(corun_resume(w, NULL, NULL), 0);
    T_OK(corun_destroy(w));
  }
  size_t heap0 = heap_in_use(), rss0 = rss_bytes();

  for (size_t i = 0; i < n; i++) {
    corun_attr attr = {.shared = ss[i % NSS]};
    T_OK(corun_create(&co[i], body, (void *)(uintptr_t)i, &attr));
  }
  for (size_t i = 0; i < n; i++) {
    void *out = NULL;
    T_EQ(corun_resume(co[i], NULL, &out), 1);
    T_EQ_HEX((uint64_t)(uintptr_t)out, expect_first(i));
  }
  /* All n suspended at once, each with its live stack saved. */
  size_t heap1 = heap_in_use(), rss1 = rss_bytes();
  double per_heap = ((double)heap1 - (double)heap0) / (double)n;
  double per_rss = ((double)rss1 - (double)rss0) / (double)n;
  printf("%zu suspended coroutines on %d shared stacks: heap +%.0f B, "
         "RSS +%.0f B per coroutine\n",
         n, NSS, per_heap, per_rss);
  if (check_heap)
    T_LT(per_heap, PER_CO_MAX);
  if (check_rss)
    T_LT(per_rss, PER_CO_MAX);

  for (int k = 0; k < NSS; k++)
    T_EQ(corun_shared_stack_destroy(ss[k]), -EBUSY);
  for (size_t j = 0; j < n; j++) {
    size_t i = (j * 7919) % n; /* another order than the first pass */
    void *out = NULL;
    T_EQ(corun_resume(co[i], (void *)(uintptr_t)i, &out), 0);
    T_EQ((uint64_t)(uintptr_t)out, (uint64_t)i * 3 + 1);
  }
  for (size_t i = 0; i < n; i++)
    T_OK(corun_destroy(co[i]));
  for (int k = 0; k < NSS; k++)
    T_OK(corun_shared_stack_destroy(ss[k]));
  free(co);
  size_t heap2 = heap_in_use();
  printf("heap after destroying all: %+.0f KiB from the start\n",
         ((double)heap2 - (double)heap0) / 1024.0);
  if (check_heap)
    T_LT((double)heap2 - (double)heap0, 1024.0 * 1024.0);
  return 0;
}
