/* shared.h: helpers for the shared-stack tests (not a test program):
 * the ucontext skip, a seeded PRNG, and per-coroutine byte patterns that
 * stack-resident state is filled with and checked against. */
#ifndef CORUN_TESTS_SHARED_SHARED_H
#define CORUN_TESTS_SHARED_SHARED_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arch/ctx.h"
#include "corun.h"
#include "t.h"

/* Shared stacks need an assembly backend. With the ucontext backend,
 * corun_shared_stack_create() must fail with -ENOTSUP and leave *ss
 * untouched: checked here, and then the test is skipped. */
static inline void shared_need_asm(void) {
  if (strcmp(corun__ctx_backend, "ucontext") != 0)
    return;
  corun_shared_stack *ss = (corun_shared_stack *)(uintptr_t)0x5e5e;
  T_EQ(corun_shared_stack_create(&ss, 0), -ENOTSUP);
  T_PTR_EQ(ss, (void *)(uintptr_t)0x5e5e);
  T_EQ(corun_shared_stack_create(&ss, 64 * 1024), -ENOTSUP);
  T_PTR_EQ(ss, (void *)(uintptr_t)0x5e5e);
  T_SKIP("ucontext backend: shared stacks are not available (-ENOTSUP "
         "checked)");
}

/* xorshift64*: deterministic pseudo-random numbers from a fixed seed. */
static inline uint64_t shared_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* The byte at position i of the pattern of (who, round). */
static inline unsigned char shared_byte(uint64_t who, uint64_t round,
                                        size_t i) {
  uint64_t v = (who + 1) * 0x9E3779B97F4A7C15ULL ^ (round * 0xC2B2AE3D27D4EB4FULL) ^ (uint64_t)i * 0x165667B19E3779F9ULL;
  return (unsigned char)(v >> 29);
}

static inline void shared_fill(volatile unsigned char *p, size_t n,
                               uint64_t who, uint64_t round) {
  for (size_t i = 0; i < n; i++)
    p[i] = shared_byte(who, round, i);
}

/* Aborts, naming the first differing byte, if p does not hold the pattern. */
#define SHARED_CHECK(p, n, who, round)                                         \
  do {                                                                         \
    for (size_t sh_i_ = 0; sh_i_ < (size_t)(n); sh_i_++)                       \
      if ((p)[sh_i_] != shared_byte((who), (round), sh_i_)) {                  \
        fprintf(stderr, "pattern of %llu round %llu broken at byte %zu\n",     \
                (unsigned long long)(who), (unsigned long long)(round),        \
                sh_i_);                                                        \
        T_EQ((p)[sh_i_], shared_byte((who), (round), sh_i_));                  \
      }                                                                        \
  } while (0)

#endif
