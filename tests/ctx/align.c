/* align.c: proves that code inside a coroutine runs on a correctly aligned
 * stack (psABI 3.2.2: rsp+8 is a multiple of 16 at every function entry),
 * on the first run and after yields, for several stack sizes and call
 * depths: a frame pointer and alignas(16)/alignas(32) locals land on their
 * boundaries, SSE stores to a 16-byte local do not fault, and libc's
 * printf/snprintf("%f", "%Lf", "%e") and sscanf("%lf"), whose SSE code
 * crashes on a misaligned stack (Boost.Context's test_snprintf and
 * test_sscanf), give the right results. */
#include <stdalign.h>
#include <stdint.h>

#include "corun.h"
#include "t.h"

static unsigned long n_checks;

/* The frame pointer of a function sits 16 bytes below its CFA, which is
 * rsp+8 at entry: misaligned entry shows as a frame address not 0 mod 16. */
static __attribute__((noinline)) void check_frame(void) {
  uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
  T_EQ(fp % 16, 0);
  alignas(16) volatile char a16[16];
  alignas(32) volatile char a32[32];
  T_EQ((uintptr_t)a16 % 16, 0);
  T_EQ((uintptr_t)a32 % 32, 0);
  a16[0] = a32[0] = 1;
  /* A 16-byte vector local: gcc stores it with an aligned vector store
   * (x86-64 movaps, AArch64 str q), which faults or misbehaves if the
   * local is not on a 16-byte boundary. */
  typedef float v4sf __attribute__((vector_size(16)));
  volatile v4sf v = {1.5f, 1.5f, 1.5f, 1.5f};
  v4sf w = v;
  T_TRUE(w[3] == 1.5f);
}

static __attribute__((noinline)) void check_libc(int tag) {
  char buf[128];
  /* printf to stdout: ctest keeps the output. */
  T_GT(printf("tag %d: %f %e\n", tag, 3.25, 1e-7), 0);
  snprintf(buf, sizeof buf, "%f", 3.14159265358979);
  T_STR_EQ(buf, "3.141593");
  snprintf(buf, sizeof buf, "%.3f|%e", -2.5 * tag, 12345.678);
  char want[128];
  /* The expected text for the tag-dependent value, built from integers. */
  snprintf(want, sizeof want, "-%d.%03d|1.234568e+04", (5 * tag) / 2,
           (5 * tag) % 2 ? 500 : 0);
  T_STR_EQ(buf, want);
  snprintf(buf, sizeof buf, "%Lf", 2.0L / 3.0L);
  T_STR_EQ(buf, "0.666667");
  snprintf(buf, sizeof buf, "%.10Le", 1.0L / 3.0L);
  T_STR_EQ(buf, "3.3333333333e-01");
  double d = 0;
  T_EQ(sscanf("2.5e-3", "%lf", &d), 1);
  T_TRUE(d == 2.5e-3);
  T_EQ(sscanf("  -1234.0625 rest", "%lf", &d), 1);
  T_TRUE(d == -1234.0625);
  long double ld = 0;
  T_EQ(sscanf("0.125", "%Lf", &ld), 1);
  T_TRUE(ld == 0.125L);
  n_checks++;
}

/* Recurses `depth` levels with frames of different shapes (an alloca of
 * `depth * 24 + 8` bytes, never a multiple of 16) before checking. */
static __attribute__((noinline)) void at_depth(int depth, int tag) {
  if (depth == 0) {
    check_frame();
    check_libc(tag);
    return;
  }
  volatile char *pad = __builtin_alloca((size_t)depth * 24 + 8);
  pad[0] = (char)depth;
  at_depth(depth - 1, tag);
  T_EQ(pad[0], (char)depth); /* keeps the frame alive, no tail call */
}

static void *body(void *arg) {
  int tag = (int)(intptr_t)arg;
  for (int depth = 0; depth < 8; depth++) {
    at_depth(depth, tag);
    corun_yield(NULL); /* the next depth runs after a resume */
  }
  return NULL;
}

static void *nest_body(void *arg) {
  corun_coro *inner;
  corun_attr attr = {.stack_size = 32 * 1024};
  T_OK(corun_create(&inner, body, arg, &attr));
  int r;
  while ((r = corun_resume(inner, NULL, NULL)) == 1)
    at_depth(1, (int)(intptr_t)arg); /* the outer stack between runs */
  T_EQ(r, 0);
  T_OK(corun_destroy(inner));
  at_depth(5, (int)(intptr_t)arg);
  return NULL;
}

int main(void) {
  /* Not below 32 KiB: glibc 2.36's sscanf("%Lf") alone needs about 17 KiB
   * of stack (its strtold works on big multi-precision buffers), so a
   * 16 KiB stack overflows in check_libc (and corun reports it). */
  static const size_t sizes[] = {32 * 1024, 40 * 1024 + 3, 64 * 1024,
                                 100 * 1024 + 3, 0 /* default */};
  at_depth(3, 1); /* the harness itself, on the thread's stack */
  int tag = 1;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    corun_attr attr = {.stack_size = sizes[i]};
    corun_coro *co;
    T_OK(corun_create(&co, body, (void *)(intptr_t)tag++, &attr));
    int r;
    while ((r = corun_resume(co, NULL, NULL)) == 1) {
    }
    T_EQ(r, 0);
    T_OK(corun_destroy(co));
  }
  /* A coroutine created and run from inside another one (its first frame
   * is entered from a coroutine stack). */
  corun_coro *outer;
  T_OK(corun_create(&outer, nest_body, (void *)(intptr_t)tag, NULL));
  T_EQ(corun_resume(outer, NULL, NULL), 0);
  T_OK(corun_destroy(outer));
  /* main 1, five sizes x 8 depths, inner 8, outer 8 between + 1 at end */
  T_EQ(n_checks, 1 + 5 * 8 + 8 + 8 + 1);
  return 0;
}
