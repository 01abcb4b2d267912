/* poison.c: proves what catches a stray pointer into a swapped-out
 * coroutine's shared stack. A coroutine takes the address of a local deep
 * in its calls and yields from there; another coroutine on the same shared
 * stack then runs (shallow) and yields, so the first one is swapped out
 * and its deep frames lie below the new occupant's. The main stack then
 * uses the kept pointer:
 *  - with CORUN_DEBUG_POISON under ASan (make test's asan build), ASan
 *    reports the read as use-after-poison (in a forked child);
 *  - with CORUN_DEBUG_POISON otherwise, it reads the 0xdb fill, not the
 *    local's value nor another coroutine's data;
 *  - under Valgrind, in every build, memcheck holds the address
 *    unaddressable (asked without reading, which would be an error).
 * In every case the pointer was valid while its coroutine was the
 * occupant, and the swapped-out coroutine's own copy is intact when it
 * runs again. Skipped when none of these applies (a plain build outside
 * Valgrind) or shared stacks are unavailable. */
#include <errno.h>
#include <stdint.h>

#include "../stack/child.h"
#include "corun.h"
#include "t.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ASAN 1
#else
#define ASAN 0
#endif
#ifdef CORUN_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

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

static corun_shared_stack *ss;
static corun_coro *a, *b;

/* Runs a to its deep yield (checking the pointer while a is the occupant)
 * and then b, which swaps a out. */
static void swap_deep_out(void) {
  corun_attr attr = {.shared = ss};
  T_OK(corun_create(&a, deep_body, NULL, &attr));
  T_OK(corun_create(&b, shallow_body, NULL, &attr));
  T_EQ(corun_resume(a, NULL, NULL), 1);
  T_EQ(*kept, 0x1122334455667788ULL);    /* a is the occupant: still valid */
  T_EQ(corun_resume(b, NULL, NULL), 1); /* a is swapped out now */
}

static void finish_both(void) {
  T_EQ(corun_resume(a, NULL, NULL), 0); /* a's own copy is intact */
  T_EQ(corun_resume(b, NULL, NULL), 0);
  T_OK(corun_destroy(a));
  T_OK(corun_destroy(b));
}

#if ASAN && defined(CORUN_DEBUG_POISON)
static int child_stray_read(void *unused) {
  (void)unused;
  swap_deep_out();
  fprintf(stderr, "read %#llx\n", (unsigned long long)*kept);
  return 0; /* not reached: ASan aborts at the read */
}
#endif

int main(void) {
  int valgrind = 0;
#ifdef CORUN_HAVE_VALGRIND
  valgrind = RUNNING_ON_VALGRIND != 0;
#endif
#ifndef CORUN_DEBUG_POISON
  if (!valgrind)
    T_SKIP("built without CORUN_DEBUG_POISON, not under Valgrind");
#endif
  int rc = corun_shared_stack_create(&ss, 64 * 1024);
  if (rc == -ENOTSUP)
    T_SKIP("shared stacks need an assembly backend");
  T_OK(rc);
#if ASAN && defined(CORUN_DEBUG_POISON)
  static struct child c;
  child_run(&c, child_stray_read, NULL);
  child_show("stray read", &c);
  T_TRUE(!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0);
  T_TRUE(strstr(c.err, "ERROR: AddressSanitizer: use-after-poison") != NULL);
  T_TRUE(strstr(c.err, "read 0x") == NULL);
  (void)valgrind; /* ASan and Valgrind do not run together */
  swap_deep_out(); /* the same in this process, without the read */
  T_TRUE(__asan_address_is_poisoned((const void *)kept));
  /* Running on the stack again clears the poison for its occupant's calls
   * (the whole suite runs with it under ASan without false reports). */
  finish_both();
#else
  swap_deep_out();
#ifdef CORUN_HAVE_VALGRIND
  if (valgrind) {
    uint8_t vbits[8];
    T_EQ(VALGRIND_GET_VBITS(kept, vbits, sizeof vbits), 3); /* unaddressable */
    (void)vbits; /* where valgrind.h has no client requests (riscv64) */
  }
#endif
#ifdef CORUN_DEBUG_POISON
  if (!valgrind)
    T_EQ_HEX(*kept, 0xdbdbdbdbdbdbdbdbULL);
#endif
  finish_both();
#endif
  T_OK(corun_shared_stack_destroy(ss));
  return 0;
}
