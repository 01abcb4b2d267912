/* raw_stack.h: a stack for the tests that drive src/arch/ctx.h directly
 * (corun__ctx_make and the switches, without the coroutine layer).
 * Mapped read-write and registered with Valgrind, which would otherwise
 * take a switch onto it for a stack overflow. It stays mapped when the
 * test is done with it: the frames on it never returned, and under ASan
 * their shadow still describes them; only the Valgrind registration is
 * undone. */
#ifndef CORUN_TESTS_CTX_RAW_STACK_H
#define CORUN_TESTS_CTX_RAW_STACK_H

#include <stddef.h>
#include <sys/mman.h>

#include "t.h"

#ifdef CORUN_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

struct raw_stack {
  char *lo, *hi;
  unsigned valgrind_id;
};

static inline void raw_stack_map(struct raw_stack *s, size_t size) {
  s->lo = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
               -1, 0);
  T_TRUE(s->lo != MAP_FAILED);
  s->hi = s->lo + size;
  s->valgrind_id = 0;
#ifdef CORUN_HAVE_VALGRIND
  s->valgrind_id = VALGRIND_STACK_REGISTER(s->lo, s->hi);
#endif
}

static inline void raw_stack_done(struct raw_stack *s) {
#ifdef CORUN_HAVE_VALGRIND
  VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
  (void)s; /* the macro is empty where valgrind has no port */
}

#endif
