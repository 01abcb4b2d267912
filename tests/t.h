/* t.h: the test harness: assertions that print both sides, skips.
 * Each test file is its own program (one ctest entry); main() returns 0 on
 * success. A failed assertion prints file:line, the expression and both
 * values, then aborts, so a test in a child process fails visibly too. */
#ifndef CORUN_TESTS_T_H
#define CORUN_TESTS_T_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define T_FAIL_(fmt, ...)                                                      \
  do {                                                                         \
    fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);      \
    fflush(stderr);                                                            \
    abort();                                                                   \
  } while (0)

#define T_CMP_(a, op, b, T, fmt)                                               \
  do {                                                                         \
    T t_a_ = (T)(a), t_b_ = (T)(b);                                            \
    if (!(t_a_ op t_b_))                                                       \
      T_FAIL_("assertion failed: %s %s %s (" fmt " vs " fmt ")", #a, #op, #b,  \
              t_a_, t_b_);                                                     \
  } while (0)

/* Integer comparisons (signed 64-bit). */
#define T_EQ(a, b) T_CMP_(a, ==, b, int64_t, "%" PRId64)
#define T_NE(a, b) T_CMP_(a, !=, b, int64_t, "%" PRId64)
#define T_LT(a, b) T_CMP_(a, <, b, int64_t, "%" PRId64)
#define T_LE(a, b) T_CMP_(a, <=, b, int64_t, "%" PRId64)
#define T_GT(a, b) T_CMP_(a, >, b, int64_t, "%" PRId64)
#define T_GE(a, b) T_CMP_(a, >=, b, int64_t, "%" PRId64)
/* Unsigned, printed in hex (registers, bit patterns). */
#define T_EQ_HEX(a, b) T_CMP_(a, ==, b, uint64_t, "0x%" PRIx64)
/* Pointers (through a typedef: `const void *a, b` would make b a void). */
typedef const void *t_cptr_;
#define T_PTR_EQ(a, b) T_CMP_(a, ==, b, t_cptr_, "%p")
#define T_PTR_NE(a, b) T_CMP_(a, !=, b, t_cptr_, "%p")
/* A call returning 0 on success (corun convention). */
#define T_OK(a) T_EQ(a, 0)
/* Strings. */
#define T_STR_EQ(a, b)                                                         \
  do {                                                                         \
    const char *t_a_ = (a), *t_b_ = (b);                                       \
    if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0)                             \
      T_FAIL_("assertion failed: %s == %s (\"%s\" vs \"%s\")", #a, #b,         \
              t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");                 \
  } while (0)
#define T_TRUE(c)                                                              \
  do {                                                                         \
    if (!(c))                                                                  \
      T_FAIL_("assertion failed: %s", #c);                                     \
  } while (0)

/* Keeps a function a real frame of its own: not inlined, not cloned or
 * merged (gcc's noipa; clang has no such attribute, noinline suffices). */
#if defined(__clang__)
#define T_NOIPA __attribute__((noinline))
#else
#define T_NOIPA __attribute__((noinline, noipa))
#endif

/* errno read and written through non-inlined functions, behind a
 * compiler barrier: glibc's __errno_location is declared const, so inline
 * code may keep the address of the errno of the thread a task ran on
 * before a switch (corun.h, "Thread-local storage"). */
static T_NOIPA __attribute__((unused)) int t_get_errno(void) {
  __asm__ volatile("" ::: "memory");
  return errno;
}
static T_NOIPA __attribute__((unused)) void t_set_errno(int v) {
  __asm__ volatile("" ::: "memory");
  errno = v;
}

/* Ends the test as skipped (ctest SKIP_RETURN_CODE 77), saying why. */
#define T_SKIP(why)                                                            \
  do {                                                                         \
    printf("SKIP: %s\n", why);                                                 \
    exit(77);                                                                  \
  } while (0)

/* 1 when the test runs under an emulator (qemu-user, for the cross-built
 * architectures): CMake sets CORUN_TEST_EMULATED for cross builds. */
static inline int t_emulated(void) {
  const char *e = getenv("CORUN_TEST_EMULATED");
  return e && *e == '1';
}

/* Sleeps ns in the kernel's nanosleep, called directly: a blocking call
 * that corun cannot see (no hook takes it), as an unhooked library
 * makes; the worker that runs the calling task is blocked for as long. */
static inline void t_block_raw(int64_t ns) {
  struct timespec ts = {ns / 1000000000, ns % 1000000000};
  while (syscall(SYS_nanosleep, &ts, &ts) != 0)
    ;
}

/* 1 when running under valgrind (without including its headers). */
static inline int t_under_valgrind(void) {
  const char *p = getenv("LD_PRELOAD");
  return p && strstr(p, "vgpreload") != NULL;
}

#endif
