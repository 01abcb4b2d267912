/* gdb_prog.c: the program tests/ctx/gdb_bt.sh debugs. gdb breaks in
 * gdb_leaf(), called at depth from a coroutine body: first on the body's
 * first run, then after a yield and resume, then from a coroutine resumed
 * by another coroutine. Run alone it just exits 0. */
#include "corun.h"

/* Real frames for gdb to show (gcc's noipa; clang lacks it). */
#if defined(__clang__)
#define T_NOIPA __attribute__((noinline))
#else
#define T_NOIPA __attribute__((noinline, noipa))
#endif

volatile int gdb_sink;

T_NOIPA void gdb_leaf(int k) { gdb_sink += k; }

T_NOIPA void gdb_middle(int k) {
  gdb_leaf(k);
  __asm__ volatile("" ::: "memory"); /* no tail call */
}

T_NOIPA void *gdb_body(void *arg) {
  gdb_middle(1);
  corun_yield(arg);
  gdb_middle(2);
  return arg;
}

T_NOIPA void *gdb_outer(void *arg) {
  corun_coro *inner;
  if (corun_create(&inner, gdb_body, arg, NULL) != 0)
    return NULL;
  while (corun_resume(inner, NULL, NULL) == 1) {
  }
  corun_destroy(inner);
  return arg;
}

int main(void) {
  corun_coro *co;
  if (corun_create(&co, gdb_body, NULL, NULL) != 0)
    return 1;
  while (corun_resume(co, NULL, NULL) == 1) {
  }
  corun_destroy(co);
  if (corun_create(&co, gdb_outer, NULL, NULL) != 0)
    return 1;
  corun_resume(co, NULL, NULL);
  corun_destroy(co);
  return gdb_sink == 6 ? 0 : 2;
}
