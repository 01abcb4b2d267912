/* guard.c: proves how the guard mechanism is chosen and degrades.
 * With CORUN_STACK_GUARD=mprotect (set in the ctest environment), creating
 * more coroutines than the mprotect budget (half of what is left under
 * vm.max_map_count: 24,573 guards at 65530) still succeeds for every one:
 * corun switches new stacks to canaries, the stats say so
 * (CORUN__GUARD_CANARY, mprotect_guards == the budget), stacks made before
 * the switch keep their guard pages and later ones get a canary, and the
 * one-time stderr message naming vm.max_map_count appears exactly once.
 * Without the variable (the default), on a kernel with MADV_GUARD_INSTALL
 * (Linux 6.13+, e.g. this 6.18) the mode is CORUN__GUARD_MADVISE and no
 * guard costs a mapping (mprotect_guards == 0); forcing madvise gives the
 * same. Each case runs in a forked child (the mode is chosen once per
 * process) with stderr captured. Under valgrind the first case cannot run
 * (see main): the others run, then the test reports SKIP. */
#include <stdint.h>
#include <stdlib.h>

#include "child.h"
#include "coro/coro.h"
#include "corun.h"
#include "stack/stack.h"
#include "t.h"

#define STACK ((size_t)16 * 1024)

/* stack.c's budget for mprotect guards. */
static long mprotect_budget(void) {
  long max = corun__stack_max_map_count();
  return max > 16384 ? (max - 16384) / 2 : 0;
}

static void *yield_once(void *arg) {
  corun_yield(arg);
  return arg;
}

/* Child: creates n coroutines (each resumed once), checks the stats and
 * each stack's guard, destroys them. Exit codes name the failed check;
 * the T_ asserts abort. */
struct workload {
  const char *env; /* CORUN_STACK_GUARD, or NULL to unset it */
  size_t n;
  int want_mode;
};

static int workload(void *arg) {
  const struct workload *w = arg;
  if (w->env)
    setenv("CORUN_STACK_GUARD", w->env, 1);
  else
    unsetenv("CORUN_STACK_GUARD");
  corun_coro **co = calloc(w->n, sizeof *co);
  T_TRUE(co != NULL);
  corun_attr attr = {.stack_size = STACK};
  for (size_t i = 0; i < w->n; i++) {
    T_OK(corun_create(&co[i], yield_once, NULL, &attr));
    T_EQ(corun_resume(co[i], NULL, NULL), 1);
  }
  struct corun__stack_stats st;
  corun__stack_get_stats(&st);
  fprintf(stderr,
          "stats: guard %d, mprotect_guards %" PRIu64 ", slots %" PRIu64 "\n",
          st.guard, st.mprotect_guards, st.slots);
  T_EQ(st.guard, w->want_mode);
  size_t per_mode[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < w->n; i++) {
    int g = corun__coro_stack(co[i])->guard;
    T_TRUE(g >= CORUN__GUARD_MADVISE && g <= CORUN__GUARD_CANARY);
    per_mode[g]++;
  }
  if (w->want_mode == CORUN__GUARD_CANARY) {
    T_EQ(st.mprotect_guards, mprotect_budget());
    /* The first stacks got guard pages, the rest canaries, in order. */
    T_EQ(corun__coro_stack(co[0])->guard, CORUN__GUARD_MPROTECT);
    T_EQ(corun__coro_stack(co[w->n - 1])->guard, CORUN__GUARD_CANARY);
    T_LE(per_mode[CORUN__GUARD_MPROTECT], mprotect_budget());
    T_GT(per_mode[CORUN__GUARD_CANARY], 0);
  } else {
    /* madvise guards cost no mprotect; without them (old kernel, emulator)
     * every slot carved so far got an mprotect guard. */
    T_EQ(st.mprotect_guards,
         w->want_mode == CORUN__GUARD_MPROTECT ? st.slots : 0);
    T_EQ(per_mode[w->want_mode], w->n);
  }
  for (size_t i = 0; i < w->n; i++)
    T_OK(corun_destroy(co[i]));
  free(co);
  return 0;
}

int main(void) {
  static struct child c;
  const char *env = getenv("CORUN_STACK_GUARD");
  if (!env || strcmp(env, "mprotect") != 0)
    printf("note: CORUN_STACK_GUARD=mprotect is not in the environment "
           "(run outside ctest?): the child sets it\n");

  /* 1. mprotect beyond its budget. Impossible under valgrind: its address
   * space manager has a fixed table of segments (VG_N_SEGMENTS) far
   * smaller than the ~50,000 mappings the budget allows, and it exits with
   * "VG_N_SEGMENTS is too low". Part 2 still runs there; the test then
   * reports SKIP. */
  int vg = t_under_valgrind();
  long budget = mprotect_budget();
  if (budget > 400000)
    T_SKIP("vm.max_map_count is so high that the mprotect budget cannot "
           "be exceeded in reasonable time");
  struct workload w = {"mprotect", (size_t)budget + 15000, CORUN__GUARD_CANARY};
  if (!vg) {
    printf("== mprotect: %zu coroutines, budget %ld\n", w.n, budget);
    child_run(&c, workload, &w);
    child_show("child", &c);
    child_expect_exit(&c, 0);
    const char *msg = "corun: guard pages unavailable (MADV_GUARD_INSTALL "
                      "unsupported and guard pages would exhaust "
                      "vm.max_map_count); new coroutine stacks are checked "
                      "by a canary at every switch instead\n";
    T_EQ(count_substr(c.err, msg), 1);
    T_EQ(count_substr(c.err, "corun:"), 1);
  }

  /* 2. The default, and madvise forced. */
  int madv = have_madv_guard();
  struct workload d = {NULL, 1000,
                       madv ? CORUN__GUARD_MADVISE : CORUN__GUARD_MPROTECT};
  printf("== default: %zu coroutines\n", d.n);
  child_run(&c, workload, &d);
  child_show("child", &c);
  child_expect_exit(&c, 0);
  T_EQ(count_substr(c.err, "corun:"), 0);
  if (madv) {
    struct workload m = {"madvise", 1000, CORUN__GUARD_MADVISE};
    printf("== madvise forced: %zu coroutines\n", m.n);
    child_run(&c, workload, &m);
    child_show("child", &c);
    child_expect_exit(&c, 0);
    T_EQ(count_substr(c.err, "corun:"), 0);
  } else {
    printf("note: no MADV_GUARD_INSTALL on this kernel: the default is "
           "mprotect\n");
  }
  if (vg)
    T_SKIP("the mprotect-budget case cannot run under valgrind "
           "(VG_N_SEGMENTS); the default and madvise cases passed");
  return 0;
}
