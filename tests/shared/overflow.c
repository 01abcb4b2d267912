/* overflow.c: proves a stack overflow on a shared stack is a deterministic
 * crash that names the culprit, like one on a dedicated stack. In a forked
 * child (each case its own process, the guard mechanism forced with
 * CORUN_STACK_GUARD), a coroutine on a 16 KiB shared stack overflows; the
 * parent checks that the child died by SIGABRT and that stderr holds, once,
 * the documented report
 *   corun: stack overflow in coroutine <name> (stack 16 KiB at <lo>-<hi>,
 *   fault at <addr>); raise corun_attr.stack_size
 * naming the overflowing coroutine (attr.name, or its id without one) and
 * not the other coroutines on the stack, with bounds 16 KiB apart that
 * contain the culprit's locals and a fault address in the guard below
 * (guard pages) or on the canary at the bottom (canary).
 * Cases: unbounded recursion alone on the stack; unbounded recursion after
 * another coroutine on the same stack was swapped out; unbounded recursion
 * in a coroutine resumed by another one on the same stack (which is NORMAL,
 * its frames swapped out); no name (reported by id); and one frame bigger
 * than the stack followed by a yield (for the canary mechanism). */
#include <limits.h>
#include <sys/mman.h>

#include "../stack/child.h"
#include "corun.h"
#include "shared.h"
#include "t.h"

#define STACK ((size_t)16 * 1024)
#define GUARD ((size_t)16 * 1024) /* stack.c GUARD_BYTES */

struct report {
  uint64_t id;
  uintptr_t local;
  int reached; /* the culprit started */
};
static struct report *rep;

enum how { ALONE, AFTER_OTHER, NESTED, BIG_FRAME };

struct scenario {
  const char *mode; /* CORUN_STACK_GUARD, NULL: the default */
  enum how how;
  const char *name;
};

static const struct scenario *cur;
static corun_coro *culprit;

static void *culprit_body(void *arg) {
  (void)arg;
  volatile char here = 0;
  rep->local = (uintptr_t)&here;
  rep->reached = 1;
  if (cur->how == BIG_FRAME) {
    t_big_frame();
    corun_yield(NULL); /* the canary is checked at this switch */
    return NULL;
  }
  return (void *)t_recurse(0);
}

static void *other_body(void *arg) {
  (void)arg;
  volatile char pad[1000];
  pad[0] = 1;
  if (cur->how == NESTED)
    corun_resume(culprit, NULL, NULL);
  corun_yield(NULL);
  return (void *)(intptr_t)pad[0];
}

static int child(void *arg) {
  cur = arg;
  if (cur->mode)
    setenv("CORUN_STACK_GUARD", cur->mode, 1);
  corun_shared_stack *S;
  if (corun_shared_stack_create(&S, STACK) != 0)
    return 3;
  corun_attr attr = {.shared = S, .name = "innocent"};
  corun_coro *other;
  if (corun_create(&other, other_body, NULL, &attr) != 0)
    return 3;
  attr.name = cur->name;
  if (corun_create(&culprit, culprit_body, NULL, &attr) != 0)
    return 3;
  rep->id = corun_id(culprit);
  if (cur->how == AFTER_OTHER || cur->how == NESTED)
    corun_resume(other, NULL, NULL);
  if (cur->how != NESTED)
    corun_resume(culprit, NULL, NULL);
  return 4; /* not reached */
}

static void run(const struct scenario *s) {
  static const char *hows[] = {"alone", "after another", "nested",
                               "big frame + yield"};
  printf("== guard %s, %s, name %s\n", s->mode ? s->mode : "(default)",
         hows[s->how], s->name ? s->name : "(none)");
  memset(rep, 0, sizeof *rep);
  static struct child c;
  child_run(&c, child, (void *)s);
  child_show("child", &c);
  T_EQ(rep->reached, 1);
  child_expect_signal(&c, SIGABRT);
  char want[512];
  t_check_overflow_report(c.err, s->name, rep->id, STACK, GUARD, rep->local,
                          s->mode && !strcmp(s->mode, "canary"), want,
                          sizeof want);
  T_EQ(count_substr(c.err, want), 1);
  T_EQ(count_substr(c.err, "stack overflow"), 1);
  T_TRUE(strstr(c.err, "innocent") == NULL);
}

int main(void) {
  shared_need_asm();
  rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  T_TRUE(rep != MAP_FAILED);
  static const struct scenario scenarios[] = {
      {NULL, ALONE, "shared_overflow"},
      {NULL, AFTER_OTHER, "shared_overflow"},
      {NULL, NESTED, "nested_overflow"},
      {NULL, ALONE, NULL},
      {"madvise", ALONE, "madv_overflow"},
      {"madvise", NESTED, "madv_nested"},
      {"mprotect", ALONE, "mprot_overflow"},
      {"mprotect", NESTED, "mprot_nested"},
      {"mprotect", BIG_FRAME, "mprot_big"},
      {"canary", BIG_FRAME, "canary_big"},
      {"canary", BIG_FRAME, NULL},
  };
  int madv = have_madv_guard();
  if (!madv)
    printf("note: no MADV_GUARD_INSTALL here: madvise cases left out\n");
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
    if (madv || !scenarios[i].mode || strcmp(scenarios[i].mode, "madvise"))
      run(&scenarios[i]);
  return 0;
}
