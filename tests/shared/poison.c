/* poison.c: proves the debug option CORUN_DEBUG_POISON: a stray pointer
 * into a swapped-out coroutine's stack does not read plausible data. A
 * coroutine takes the address of a local deep in its calls and yields from
 * there; another coroutine on the same shared stack then runs (shallow) and
 * yields, so the first one is swapped out and its deep frames lie below the
 * new occupant's. Reading through the kept pointer then gives the 0xdb
 * fill, not the local's value (nor another coroutine's data), in every
 * build; and the swapped-out coroutine's own copy is intact when it runs
 * again. Skipped when the option is off or shared stacks are unavailable.
 * Under ASan the read is not reported: see shared.c for why the region is
 * filled rather than ASan-poisoned. */
#include <errno.h>
#include <stdint.h>

#include "corun.h"
#include "t.h"

static volatile uint64_t *kept; /* the stray pointer */

static T_NOIPA void deep(int depth) {
  volatile uint64_t local = 0x1122334455667788ULL;
  volatile char pad[512]; /* push the next frames well down the stack */
  pad[0] = (char)depth;
  if (depth) {
    deep(depth - 1);
  } else {
    kept = &local;
    corun_yield(NULL); /* suspended with `local` live, deep down */
  }
  (void)pad[0];
}

static void *deep_body(void *arg) {
  (void)arg;
  deep(8);
  return NULL;
}

static void *shallow_body(void *arg) {
  (void)arg;
  corun_yield(NULL);
  return NULL;
}

/* Swaps the deep coroutine out and reads through the kept pointer. */
static uint64_t stray_read(corun_shared_stack *ss, corun_coro **a,
                           corun_coro **b) {
  corun_attr attr = {.shared = ss};
  T_OK(corun_create(a, deep_body, NULL, &attr));
  T_OK(corun_create(b, shallow_body, NULL, &attr));
  T_EQ(corun_resume(*a, NULL, NULL), 1);
  T_EQ(*kept, 0x1122334455667788ULL);    /* a is the occupant: still valid */
  T_EQ(corun_resume(*b, NULL, NULL), 1); /* a is swapped out now */
  return *kept;
}

int main(void) {
#ifndef CORUN_DEBUG_POISON
  T_SKIP("built without CORUN_DEBUG_POISON");
#endif
  corun_shared_stack *ss;
  int rc = corun_shared_stack_create(&ss, 64 * 1024);
  if (rc == -ENOTSUP)
    T_SKIP("shared stacks need an assembly backend");
  T_OK(rc);
  corun_coro *a, *b;
  uint64_t v = stray_read(ss, &a, &b);
  T_EQ_HEX(v, 0xdbdbdbdbdbdbdbdbULL);
  T_EQ(corun_resume(a, NULL, NULL), 0); /* a's own copy is intact */
  T_EQ(corun_resume(b, NULL, NULL), 0);
  T_OK(corun_destroy(a));
  T_OK(corun_destroy(b));
  T_OK(corun_shared_stack_destroy(ss));
  return 0;
}
