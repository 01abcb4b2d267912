/* rounding.c: proves each coroutine on a shared stack keeps its own
 * floating-point rounding mode (x86-64 MXCSR and x87 control word, AArch64
 * FPCR, RISC-V frm), as on a dedicated stack. Three coroutines on one
 * shared stack S and one on a dedicated stack each set a different mode
 * and yield 100 times, interleaved with main (which uses a fifth setting in
 * turn); each finds its own mode after every resume, and main its own
 * after every switch back. A coroutine on S resuming another on S keeps
 * its mode across the nested one's. A new coroutine on S starts with the
 * mode of the thread creating it (here FE_DOWNWARD). Each check reads the
 * mode back and, except under valgrind (whose SSE arithmetic ignores
 * MXCSR), computes 1/3, -1/3 and 1/10, whose last bits tell the modes
 * apart. */
#include <fenv.h>

#include "corun.h"
#include "shared.h"
#include "t.h"

static volatile double one = 1.0, three = 3.0, ten = 10.0;
static double near_third, near_neg_third, near_tenth;

static void expect_mode(int mode) {
  T_EQ(fegetround(), mode);
  if (t_under_valgrind())
    return;
  double t = one / three, n = -one / three, x = one / ten;
  switch (mode) {
  case FE_TONEAREST:
    T_TRUE(t == near_third && n == near_neg_third && x == near_tenth);
    break;
  case FE_TOWARDZERO:
    T_TRUE(t == near_third && n == near_neg_third && x < near_tenth);
    break;
  case FE_UPWARD:
    T_TRUE(t > near_third && n == near_neg_third && x == near_tenth);
    break;
  case FE_DOWNWARD:
    T_TRUE(t == near_third && n < near_neg_third && x < near_tenth);
    break;
  }
}

static const int modes[] = {FE_TOWARDZERO, FE_UPWARD, FE_DOWNWARD,
                            FE_TONEAREST};

static void *setter(void *arg) {
  int mode = modes[(intptr_t)arg];
  T_OK(fesetround(mode));
  for (int i = 0; i < 100; i++) {
    volatile char pad[1024];
    pad[i % 1024] = (char)i;
    corun_yield(NULL);
    expect_mode(mode);
    T_EQ(pad[i % 1024], (char)i);
  }
  return NULL;
}

static corun_coro *inner;

static void *inner_body(void *arg) {
  (void)arg;
  expect_mode(FE_DOWNWARD); /* created by main under FE_DOWNWARD */
  T_OK(fesetround(FE_UPWARD));
  corun_yield(NULL);
  expect_mode(FE_UPWARD);
  return NULL;
}

static void *outer_body(void *arg) {
  (void)arg;
  T_OK(fesetround(FE_TOWARDZERO));
  T_EQ(corun_resume(inner, NULL, NULL), 1);
  expect_mode(FE_TOWARDZERO);
  T_EQ(corun_resume(inner, NULL, NULL), 0);
  expect_mode(FE_TOWARDZERO);
  return NULL;
}

int main(void) {
  shared_need_asm();
  T_OK(fesetround(FE_TONEAREST));
  near_third = one / three;
  near_neg_third = -one / three;
  near_tenth = one / ten;

  corun_shared_stack *S;
  T_OK(corun_shared_stack_create(&S, 0));
  corun_attr sh = {.shared = S};
  corun_coro *c[4];
  for (int i = 0; i < 4; i++)
    T_OK(corun_create(&c[i], setter, (void *)(intptr_t)i, i == 3 ? NULL : &sh));
  for (int r = 0; r <= 100; r++)
    for (int i = 0; i < 4; i++) {
      int main_mode = modes[(r + i) % 4];
      T_OK(fesetround(main_mode));
      T_EQ(corun_resume(c[(i + r) % 4], NULL, NULL), r < 100);
      expect_mode(main_mode);
    }
  for (int i = 0; i < 4; i++)
    T_OK(corun_destroy(c[i]));

  T_OK(fesetround(FE_DOWNWARD));
  corun_coro *outer;
  T_OK(corun_create(&inner, inner_body, NULL, &sh));
  T_OK(corun_create(&outer, outer_body, NULL, &sh));
  T_OK(fesetround(FE_TONEAREST));
  T_EQ(corun_resume(outer, NULL, NULL), 0);
  expect_mode(FE_TONEAREST);
  T_OK(corun_destroy(outer));
  T_OK(corun_destroy(inner));
  T_OK(corun_shared_stack_destroy(S));
  return 0;
}
