/* fpu.c: proves that each coroutine keeps its own floating-point control
 * state (psABI 3.2.1: the MXCSR control bits and the x87 control word are
 * callee-saved), and that a new coroutine starts with the control state its
 * creator had when it called corun_create (arch/ctx.h: "The new context
 * starts with the floating-point control state of the caller of
 * corun__ctx_make").
 *
 * Coroutine A sets round-toward-zero (fesetround: x87 and SSE), MXCSR FTZ
 * and DAZ and x87 precision control = double, and yields; main checks its
 * own defaults are untouched, switches to round-upward, and resumes A; A
 * checks its settings, main checks its own. Each check also computes with
 * the mode (1/3*3 below, equal to or above 1; a subnormal flushed or not;
 * 1 + 2^-63 in long double kept or rounded away) to show it is in effect.
 *
 * Part 4 checks the MXCSR status flags (bits 0-5) on the assembly backend:
 * they are caller-saved, and corun keeps them per thread (a switch neither
 * restores nor clears them, as on AArch64 and RISC-V), while the control
 * bits still follow each context when the flags differ. The ucontext
 * backend restores each context's flags (glibc's swapcontext), so part 4 is
 * skipped there.
 *
 * Under valgrind only the rounding-mode bits are checked (read back with
 * fegetround, stmxcsr and fnstcw): valgrind does not model FTZ, DAZ or x87
 * precision control (they read back as defaults), and its SSE arithmetic
 * rounds to nearest whatever MXCSR says, so the computations are skipped. */
#include <fenv.h>
#include <float.h>
#include <fpu_control.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xmmintrin.h>

#include "arch/ctx.h"
#include "corun.h"
#include "t.h"

#define MXCSR_FLAGS 0x003fu /* IE DE ZE OE UE PE */
#define MXCSR_ZE 0x0004u
#define MXCSR_OE 0x0008u
#define MXCSR_DAZ 0x0040u
#define MXCSR_FTZ 0x8000u
#define MXCSR_RC 0x6000u
#define MXCSR_RC_NEAREST 0x0000u
#define MXCSR_RC_UP 0x4000u
#define MXCSR_RC_ZERO 0x6000u
#define X87_RC 0x0c00u
#define X87_RC_NEAREST 0x0000u
#define X87_RC_UP 0x0800u
#define X87_RC_ZERO 0x0c00u

static int full_model; /* 0 under valgrind: see the top comment */

/* Arithmetic kept out of line and fed through volatiles, so the compiler
 * neither folds it at build time nor moves it across fesetround. */
static __attribute__((noinline)) double third_times_three(void) {
  volatile double one = 1.0, three = 3.0;
  double q = one / three;
  volatile double r = q * three;
  return r;
}

/* Returns 1 when a subnormal result is flushed to zero (FTZ). */
static __attribute__((noinline)) int flushes_results(void) {
  volatile double m = DBL_MIN, half = 0.5;
  volatile double r = m * half;
  return r == 0.0;
}

/* Returns 1 when a subnormal input is read as zero (DAZ). */
static __attribute__((noinline)) int zeroes_inputs(void) {
  uint64_t bits = 1; /* the smallest positive subnormal */
  double d;
  memcpy(&d, &bits, sizeof d);
  volatile double v = d, one = 1.0;
  volatile double r = v * one;
  return r == 0.0;
}

/* Returns 1 when 1 + 2^-63 survives in long double (64-bit precision). */
static __attribute__((noinline)) int extended_precision(void) {
  volatile long double one = 1.0L, tiny = 0x1p-63L;
  volatile long double r = one + tiny;
  return r != one;
}

static unsigned x87_cw(void) {
  fpu_control_t cw;
  _FPU_GETCW(cw);
  return cw;
}

/* The state a thread starts with: round to nearest, no FTZ/DAZ, 64-bit
 * x87 precision. */
static void check_defaults(const char *who) {
  fprintf(stderr, "%s: checking defaults\n", who);
  T_EQ(fegetround(), FE_TONEAREST);
  T_EQ_HEX(_mm_getcsr() & MXCSR_RC, MXCSR_RC_NEAREST);
  T_EQ_HEX(x87_cw() & X87_RC, X87_RC_NEAREST);
  if (full_model)
    T_TRUE(third_times_three() == 1.0);
  if (full_model) {
    T_EQ_HEX(_mm_getcsr() & (MXCSR_FTZ | MXCSR_DAZ), 0);
    T_EQ_HEX(x87_cw() & _FPU_EXTENDED, _FPU_EXTENDED);
    T_EQ(flushes_results(), 0);
    T_EQ(zeroes_inputs(), 0);
    T_EQ(extended_precision(), 1);
  }
}

/* A's state: toward zero, FTZ + DAZ, double precision. */
static void set_a_state(void) {
  T_OK(fesetround(FE_TOWARDZERO));
  _mm_setcsr(_mm_getcsr() | MXCSR_FTZ | MXCSR_DAZ);
  fpu_control_t cw = x87_cw();
  cw = (cw & ~(fpu_control_t)_FPU_EXTENDED) | _FPU_DOUBLE;
  _FPU_SETCW(cw);
}

static void check_a_state(const char *who) {
  fprintf(stderr, "%s: checking toward-zero/FTZ/DAZ/double state\n", who);
  T_EQ(fegetround(), FE_TOWARDZERO);
  T_EQ_HEX(_mm_getcsr() & MXCSR_RC, MXCSR_RC_ZERO);
  T_EQ_HEX(x87_cw() & X87_RC, X87_RC_ZERO);
  if (full_model)
    T_TRUE(third_times_three() < 1.0);
  if (full_model) {
    T_EQ_HEX(_mm_getcsr() & (MXCSR_FTZ | MXCSR_DAZ), MXCSR_FTZ | MXCSR_DAZ);
    T_EQ_HEX(x87_cw() & _FPU_EXTENDED, _FPU_DOUBLE);
    T_EQ(flushes_results(), 1);
    T_EQ(zeroes_inputs(), 1);
    T_EQ(extended_precision(), 0);
  }
}

/* Main's second state: upward, otherwise defaults. */
static void check_up_state(const char *who) {
  fprintf(stderr, "%s: checking upward state\n", who);
  T_EQ(fegetround(), FE_UPWARD);
  T_EQ_HEX(_mm_getcsr() & MXCSR_RC, MXCSR_RC_UP);
  T_EQ_HEX(x87_cw() & X87_RC, X87_RC_UP);
  if (full_model)
    T_TRUE(third_times_three() > 1.0);
  if (full_model) {
    T_EQ_HEX(_mm_getcsr() & (MXCSR_FTZ | MXCSR_DAZ), 0);
    T_EQ_HEX(x87_cw() & _FPU_EXTENDED, _FPU_EXTENDED);
    T_EQ(flushes_results(), 0);
    T_EQ(extended_precision(), 1);
  }
}

static void *inherit_body(void *arg) {
  void (*check)(const char *) = (void (*)(const char *))arg;
  check("new coroutine (first run)");
  corun_yield(NULL);
  check("new coroutine (after a yield)");
  return NULL;
}

static void *a_body(void *arg) {
  (void)arg;
  set_a_state();
  check_a_state("A after setting");
  for (int i = 0; i < 3; i++) {
    corun_yield(NULL);
    check_a_state("A after resume");
  }
  /* A coroutine created by A inherits A's state, whatever its resumer's. */
  corun_coro *child;
  T_OK(corun_create(&child, inherit_body, (void *)check_a_state, NULL));
  corun_yield(child);
  check_a_state("A after its child ran");
  return NULL;
}

/* Part 4's coroutine: finds the flags its resumer left, replaces them and
 * sets its own rounding mode; after its yield it finds the flags its
 * resumer left this time, with its own rounding mode still in effect. */
static void *flags_body(void *arg) {
  (void)arg;
  T_EQ_HEX(_mm_getcsr() & MXCSR_FLAGS, MXCSR_ZE); /* main's, not cleared */
  _mm_setcsr((_mm_getcsr() & ~(MXCSR_FLAGS | MXCSR_RC)) | MXCSR_OE |
             MXCSR_RC_ZERO);
  corun_yield(NULL);
  T_EQ_HEX(_mm_getcsr() & MXCSR_FLAGS, 0); /* main cleared them */
  T_EQ_HEX(_mm_getcsr() & MXCSR_RC, MXCSR_RC_ZERO);
  return NULL;
}

/* 4. The status flags are the thread's; the control bits the context's. */
static void check_status_flags(void) {
  if (strcmp(corun__ctx_backend, "ucontext") == 0 || !full_model) {
    fprintf(stderr, "part 4 skipped: %s\n",
            full_model ? "the ucontext backend restores flags"
                       : "valgrind does not model MXCSR status flags");
    return;
  }
  _mm_setcsr(_mm_getcsr() & ~MXCSR_FLAGS);
  corun_coro *f;
  T_OK(corun_create(&f, flags_body, NULL, NULL)); /* its frame: no flags */
  _mm_setcsr(_mm_getcsr() | MXCSR_ZE);
  T_EQ(corun_resume(f, NULL, NULL), 1);
  T_EQ_HEX(_mm_getcsr() & MXCSR_FLAGS, MXCSR_OE); /* f's, not restored */
  T_EQ_HEX(_mm_getcsr() & MXCSR_RC, MXCSR_RC_NEAREST);
  _mm_setcsr(_mm_getcsr() & ~MXCSR_FLAGS);
  T_EQ(corun_resume(f, NULL, NULL), 0);
  T_EQ_HEX(_mm_getcsr() & MXCSR_RC, MXCSR_RC_NEAREST);
  T_OK(corun_destroy(f));
}

int main(void) {
  full_model = !t_under_valgrind();
  check_defaults("main at start");

  /* 1. Per-coroutine state across switches. */
  corun_coro *a;
  T_OK(corun_create(&a, a_body, NULL, NULL));
  T_EQ(corun_resume(a, NULL, NULL), 1);
  check_defaults("main after A's first yield");
  T_OK(fesetround(FE_UPWARD));
  check_up_state("main after setting upward");
  for (int i = 0; i < 2; i++) {
    T_EQ(corun_resume(a, NULL, NULL), 1);
    check_up_state("main after resuming A");
  }

  /* 2. A new coroutine inherits its creator's state at corun_create: main
   * is upward now; the coroutine is resumed after main went back to the
   * defaults and still runs upward. */
  corun_coro *b;
  T_OK(corun_create(&b, inherit_body, (void *)check_up_state, NULL));
  T_OK(fesetround(FE_TONEAREST));
  check_defaults("main back at defaults");
  T_EQ(corun_resume(b, NULL, NULL), 1);
  check_defaults("main after B's first run");
  T_EQ(corun_resume(b, NULL, NULL), 0);
  check_defaults("main after B finished");
  T_OK(corun_destroy(b));

  /* 3. A's child, created inside A (toward zero), run from main
   * (nearest). */
  void *out = NULL;
  T_EQ(corun_resume(a, NULL, &out), 1);
  corun_coro *child = out;
  T_TRUE(child != NULL);
  check_defaults("main after A created its child");
  T_EQ(corun_resume(child, NULL, NULL), 1);
  check_defaults("main after A's child ran");
  T_EQ(corun_resume(child, NULL, NULL), 0);
  T_OK(corun_destroy(child));
  T_EQ(corun_resume(a, NULL, NULL), 0);
  check_defaults("main after A finished");
  T_OK(corun_destroy(a));

  check_status_flags();
  check_defaults("main at the end");
  return 0;
}
