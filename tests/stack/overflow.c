/* overflow.c: proves that a stack overflow in a coroutine is a
 * deterministic crash that names the culprit, never silent corruption, and
 * that corun's SIGSEGV handler leaves other faults alone.
 *
 * For each guard mechanism (CORUN_STACK_GUARD=madvise, mprotect, canary, set
 * in a forked child before its first corun call), a child runs a coroutine
 * with a 16 KiB stack that overflows, and the parent checks that the child
 * died by SIGABRT and that its stderr is exactly the documented report
 *   corun: stack overflow in coroutine <name> (stack <size> at <lo>-<hi>,
 *   fault at <addr>); raise corun_attr.stack_size
 * with attr.name as <name> (its first CORUN_NAME_MAX - 1 bytes), or the id
 * when there is no name, bounds that contain the coroutine's locals, and a
 * fault address in the guard below the stack (guard pages) or on the
 * canary at its bottom (canary: reported at the next switch). Overflows:
 * unbounded recursion (guard pages only: with a canary nothing stops it
 * before it runs off the slot), and one big local array that reaches a
 * little below the stack, followed by a yield.
 * Non-guard faults: a NULL write inside a coroutine goes to the SIGSEGV
 * handler installed before corun's (which _exits with a code), and with no
 * prior handler the child dies by SIGSEGV (the default action), not
 * SIGABRT. Under ASan, ASan's own handler is the prior one: the child ends
 * with ASan's SEGV report instead. Under valgrind, memcheck also reports
 * the deliberate invalid accesses (the NULL write; the canary check reading
 * the bottom of a stack the overflowing frame has left), which changes the
 * exit code, not the outcome. */
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "child.h"
#include "corun.h"
#include "stack/stack.h"
#include "t.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

#define STACK ((size_t)16 * 1024)
#define GUARD ((size_t)16 * 1024) /* stack.c GUARD_BYTES */

/* Written by the child before it crashes, read by the parent. */
struct shared {
  uint64_t id;     /* corun_id of the coroutine */
  uintptr_t local; /* address of a local of its body */
  int guard;       /* corun__stack_get_stats().guard after the create */
  int handler_ran; /* my_segv saw the fault at address 0 */
};
static struct shared *sh;

enum overflow { RECURSE, BIG_FRAME };

struct scenario {
  const char *mode; /* CORUN_STACK_GUARD */
  enum overflow how;
  const char *name; /* attr.name, NULL for none */
};

static void *overflow_body(void *arg) {
  const struct scenario *s = arg;
  volatile char here = 0;
  sh->local = (uintptr_t)&here;
  if (s->how == RECURSE)
    return (void *)t_recurse(0);
  t_big_frame();
  corun_yield(NULL); /* the canary is checked at this switch */
  return NULL;
}

static int overflow_child(void *arg) {
  const struct scenario *s = arg;
  setenv("CORUN_STACK_GUARD", s->mode, 1);
  corun_attr attr = {.stack_size = STACK, .name = s->name};
  corun_coro *co;
  if (corun_create(&co, overflow_body, arg, &attr) != 0)
    return 3;
  sh->id = corun_id(co);
  struct corun__stack_stats st;
  corun__stack_get_stats(&st);
  sh->guard = st.guard;
  corun_resume(co, NULL, NULL);
  return 4; /* not reached: the overflow aborts */
}

static void run_overflow(const struct scenario *s) {
  printf("== overflow: guard %s, %s, name %s\n", s->mode,
         s->how == RECURSE ? "unbounded recursion" : "big frame + yield",
         s->name ? s->name : "(none)");
  memset(sh, 0, sizeof *sh);
  static struct child c;
  child_run(&c, overflow_child, (void *)s);
  child_show("child", &c);
  child_expect_signal(&c, SIGABRT);
  /* The child really used the mechanism asked for. */
  T_EQ(sh->guard, !strcmp(s->mode, "madvise")    ? CORUN__GUARD_MADVISE
                  : !strcmp(s->mode, "mprotect") ? CORUN__GUARD_MPROTECT
                                                 : CORUN__GUARD_CANARY);

  /* The report: the name (kept to CORUN_NAME_MAX - 1 bytes) or the id,
   * the 16 KiB stack containing the body's local, the fault in the guard
   * below it or on the canary at its bottom. */
  T_TRUE(sh->id != 0);
  char want[512];
  t_check_overflow_report(c.err, s->name, sh->id, STACK, GUARD, sh->local,
                          !strcmp(s->mode, "canary"), want, sizeof want);
  /* The whole message, exactly (valgrind may add its own lines). */
  if (t_under_valgrind() || t_emulated()) {
    /* valgrind and qemu-user add lines of their own (qemu: "uncaught
     * target signal 6"): the report must still be there, exactly once. */
    T_EQ(count_substr(c.err, want), 1);
  } else {
    T_STR_EQ(c.err, want);
  }
}

/* ---- faults that are not guard hits ----------------------------------- */

static int volatile *volatile null_ptr = NULL;

/* UBSan would report the NULL store itself and exit before the signal. */
__attribute__((no_sanitize("undefined"))) static void *null_body(void *arg) {
  (void)arg;
  *null_ptr = 1; /* SIGSEGV at address 0, nowhere near a guard */
  /* Natively never reached. Valgrind reports the store, runs the handlers
   * and then resumes after it instead of faulting again: raise the signal
   * once more, as the re-executed store would, so the default action that
   * corun's handler chained to is what ends the child there too. */
  raise(SIGSEGV);
  return NULL;
}

static void my_segv(int sig, siginfo_t *si, void *uctx) {
  (void)uctx;
  /* Async-signal-safe: check and _exit with a code the parent expects. */
  if (sig == SIGSEGV && si->si_addr == NULL) {
    sh->handler_ran = 1;
    _exit(42);
  }
  _exit(43);
}

struct segv_case {
  const char *mode;
  int own_handler;
};

static int segv_child(void *arg) {
  const struct segv_case *s = arg;
  setenv("CORUN_STACK_GUARD", s->mode, 1);
  if (s->own_handler) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = my_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
      return 5;
  }
  corun_coro *co;
  if (corun_create(&co, null_body, NULL, NULL) != 0)
    return 3;
  if (s->own_handler && strcmp(s->mode, "canary") != 0) {
    /* corun put its handler in front of ours (and will chain to it). */
    struct sigaction cur;
    sigaction(SIGSEGV, NULL, &cur);
    if (cur.sa_sigaction == my_segv)
      return 6;
  }
  corun_resume(co, NULL, NULL);
  return 4; /* not reached */
}

static void run_segv(const struct segv_case *s) {
  printf("== NULL write: guard %s, %s\n", s->mode,
         s->own_handler ? "own handler installed first" : "no prior handler");
  static struct child c;
  sh->handler_ran = 0;
  child_run(&c, segv_child, (void *)s);
  child_show("child", &c);
  T_TRUE(strstr(c.err, "stack overflow") == NULL);
  if (s->own_handler) {
    T_EQ(sh->handler_ran, 1);
    /* Valgrind reports the NULL write as an error and turns the exit code
     * into its --error-exitcode (99). */
    if (t_under_valgrind() && WIFEXITED(c.status) &&
        WEXITSTATUS(c.status) == 99)
      return;
    child_expect_exit(&c, 42);
  } else if (UNDER_ASAN) {
    T_TRUE(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0);
    T_TRUE(strstr(c.err, "AddressSanitizer: SEGV") != NULL);
  } else {
    child_expect_signal(&c, SIGSEGV);
  }
}

int main(void) {
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  T_TRUE(sh != MAP_FAILED);
  static const char long_name[] =
      "a-coroutine-name-longer-than-thirty-one-bytes";
  static const struct scenario scenarios[] = {
      {"madvise", RECURSE, "deep_recursion"},
      {"madvise", RECURSE, NULL},
      {"madvise", BIG_FRAME, "big_frame"},
      {"madvise", RECURSE, long_name},
      {"mprotect", RECURSE, "deep_recursion"},
      {"mprotect", RECURSE, NULL},
      {"mprotect", BIG_FRAME, "big_frame"},
      {"canary", BIG_FRAME, "big_frame"},
      {"canary", BIG_FRAME, NULL},
  };
  int madv = have_madv_guard();
  if (!madv)
    printf("note: no MADV_GUARD_INSTALL here: madvise cases left out\n");
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
    if (madv || strcmp(scenarios[i].mode, "madvise") != 0)
      run_overflow(&scenarios[i]);

  static const struct segv_case segv_cases[] = {
      {"madvise", 1}, {"mprotect", 1}, {"canary", 1},
      {"madvise", 0}, {"canary", 0},
  };
  for (size_t i = 0; i < sizeof segv_cases / sizeof segv_cases[0]; i++)
    if (madv || strcmp(segv_cases[i].mode, "madvise") != 0)
      run_segv(&segv_cases[i]);
  return 0;
}
