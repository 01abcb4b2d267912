/* bench_ucontext.c: the glibc ucontext peers (see README.md).
 *
 *  ucontext_swap_pair  two swapcontext() calls between the main context and
 *                      a second one: a round trip. Each swapcontext saves
 *                      and restores the signal mask with rt_sigprocmask, a
 *                      system call, which is what makes it slow.
 *  ucontext_make_run   getcontext() + makecontext() on a reused stack (the
 *                      ucontext way of a pooled stack) + swapcontext() into
 *                      it; the function returns at once and uc_link brings
 *                      control back: create + run + finish. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "harness.h"

#define STACK_SIZE ((size_t)64 * 1024)

static void fail(const char *what) {
  perror(what);
  exit(1);
}

/* ---- ucontext_swap_pair --------------------------------------------- */

static ucontext_t pair_main, pair_co;
static uint64_t pair_count;

static void pair_entry(void) {
  for (;;) {
    pair_count++;
    if (swapcontext(&pair_co, &pair_main) < 0)
      fail("swapcontext");
  }
}

static uint64_t run_swap_pair(void *ctx, uint64_t n) {
  (void)ctx;
  for (uint64_t i = 0; i < n; i++)
    if (swapcontext(&pair_main, &pair_co) < 0)
      fail("swapcontext");
  return pair_count;
}

/* ---- ucontext_make_run ---------------------------------------------- */

static ucontext_t run_main, run_co;
static uint64_t run_count;

static void run_entry(void) { run_count++; }

/* getcontext returns twice as far as the compiler knows: keep it out of the
 * loop's frame so that no loop variable lives across it. */
static __attribute__((noinline)) void make_run(char *stack) {
  if (getcontext(&run_co) < 0)
    fail("getcontext");
  run_co.uc_stack.ss_sp = stack;
  run_co.uc_stack.ss_size = STACK_SIZE;
  run_co.uc_link = &run_main;
  makecontext(&run_co, run_entry, 0);
  if (swapcontext(&run_main, &run_co) < 0)
    fail("swapcontext");
}

static uint64_t run_make_run(void *ctx, uint64_t n) {
  for (uint64_t i = 0; i < n; i++)
    make_run(ctx);
  return run_count;
}

static char *new_stack(void) {
  char *s = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED)
    fail("mmap");
  return s;
}

int main(int argc, char **argv) {
  if (getcontext(&pair_co) < 0)
    fail("getcontext");
  pair_co.uc_stack.ss_sp = new_stack();
  pair_co.uc_stack.ss_size = STACK_SIZE;
  pair_co.uc_link = NULL; /* pair_entry never returns */
  makecontext(&pair_co, pair_entry, 0);

  struct bench_case cases[] = {
      {"ucontext_swap_pair", run_swap_pair, NULL, 0, {0}},
      {"ucontext_make_run", run_make_run, new_stack(), 0, {0}},
  };
  return bench_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));
}
