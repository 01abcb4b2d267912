/* rounding.c: proves each coroutine keeps its own floating-point rounding
 * mode, on every architecture (x86-64 MXCSR and x87 control word, AArch64
 * FPCR, RISC-V frm: fesetround sets whichever the CPU has). Coroutine A
 * sets FE_TOWARDZERO and yields; main still rounds to nearest, switches to
 * FE_UPWARD; A, resumed, still rounds toward zero; main, back, still rounds
 * upward. Each check both reads the mode back and computes 1/3, -1/3 and
 * 1/10, whose last bits tell the four modes apart (binary64 1/3 rounds
 * down to nearest, 1/10 rounds up). A new coroutine
 * starts with its creator's mode (corun.h), here FE_DOWNWARD. */
#include <fenv.h>

#include "corun.h"
#include "t.h"

/* 1/3 rounded by the current mode: below nearest for toward-zero and
 * downward, above for upward. volatile keeps the division at run time. */
static volatile double one = 1.0, three = 3.0, ten = 10.0;

static double third(void) {
  return one / three;
}

static double neg_third(void) {
  return -one / three;
}

static double tenth(void) {
  return one / ten;
}

/* The results rounding to nearest gives, taken once at start. */
static double near_third, near_neg_third, near_tenth;

static void expect_mode(int mode, const char *who) {
  if (fegetround() != mode)
    fprintf(stderr, "%s: rounding mode 0x%x, expected 0x%x\n", who,
            fegetround(), mode);
  T_EQ(fegetround(), mode);
  /* Valgrind's SSE arithmetic always rounds to nearest whatever MXCSR
   * says: there, only the mode itself (read back above) can be checked. */
  if (t_under_valgrind())
    return;
  double t = third(), n = neg_third(), x = tenth();
  switch (mode) {
  case FE_TONEAREST:
    T_TRUE(t == near_third && n == near_neg_third && x == near_tenth);
    break;
  case FE_TOWARDZERO: /* 1/10's nearest is above the exact value */
    T_TRUE(t == near_third && n == near_neg_third && x < near_tenth);
    break;
  case FE_UPWARD: /* 1/3's nearest is below the exact value */
    T_TRUE(t > near_third && n == near_neg_third && x == near_tenth);
    break;
  case FE_DOWNWARD:
    T_TRUE(t == near_third && n < near_neg_third && x < near_tenth);
    break;
  }
}

static void *toward_zero(void *arg) {
  (void)arg;
  expect_mode(FE_TONEAREST, "A at start (creator's mode)");
  T_OK(fesetround(FE_TOWARDZERO));
  for (int i = 0; i < 100; i++) {
    corun_yield(NULL);
    expect_mode(FE_TOWARDZERO, "A after resume");
  }
  return NULL;
}

static void *inherits(void *arg) {
  (void)arg;
  expect_mode(FE_DOWNWARD, "B at start (created under FE_DOWNWARD)");
  T_OK(fesetround(FE_TONEAREST));
  corun_yield(NULL);
  expect_mode(FE_TONEAREST, "B after resume");
  return NULL;
}

int main(void) {
  T_OK(fesetround(FE_TONEAREST));
  near_third = third();
  near_neg_third = neg_third();
  near_tenth = tenth();

  corun_coro *a;
  T_OK(corun_create(&a, toward_zero, NULL, NULL));
  T_EQ(corun_resume(a, NULL, NULL), 1);
  expect_mode(FE_TONEAREST, "main after A set toward-zero");
  T_OK(fesetround(FE_UPWARD));
  for (int i = 0; i < 100; i++) {
    T_EQ(corun_resume(a, NULL, NULL), i < 99 ? 1 : 0);
    expect_mode(FE_UPWARD, "main after resuming A");
  }
  T_OK(corun_destroy(a));

  T_OK(fesetround(FE_DOWNWARD));
  corun_coro *b;
  T_OK(corun_create(&b, inherits, NULL, NULL));
  T_EQ(corun_resume(b, NULL, NULL), 1);
  expect_mode(FE_DOWNWARD, "main after B set to-nearest");
  T_EQ(corun_resume(b, NULL, NULL), 0);
  expect_mode(FE_DOWNWARD, "main after B finished");
  T_OK(corun_destroy(b));
  T_OK(fesetround(FE_TONEAREST));
  return 0;
}
