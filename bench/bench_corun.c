/* bench_corun.c: corun's side of the comparison (see README.md).
 *
 *  corun_resume_yield    one corun_resume() into a coroutine that is
 *                        suspended in corun_yield(), and its corun_yield()
 *                        back: a full public-API round trip (two switches
 *                        plus the bookkeeping: status, resumer, errno,
 *                        value passing).
 *  corun_raw_switch      two corun__ctx_switch() calls between the main
 *                        stack and one context made by corun__ctx_make():
 *                        the bare assembly round trip, the counterpart of
 *                        Boost's jump_fcontext pair.
 *  corun_shared_switch   resume + yield round trip of two coroutines that
 *                        alternate on one shared stack (each resume copies
 *                        the other's live stack out and this one's in).
 *  corun_create_destroy  corun_create() + first corun_resume() (the body
 *                        returns at once) + corun_destroy(), with the
 *                        per-thread stack pool warm. The stack size is
 *                        BENCH_STACK_SIZE, the same as the Boost peer's.
 *
 *
 * Diagnostic rows (no target; they explain the gap between the two rows
 * above, see README.md "Where the time goes"):
 *  corun_raw_switch_fn   the raw round trip, but each side calls
 *                        corun__ctx_switch from a non-inlined function that
 *                        returns after the switch, as corun_resume and
 *                        corun_yield do: every `ret` after a switch then
 *                        returns to an address the other stack's calls
 *                        pushed on the return stack buffer, and mispredicts.
 *  corun_raw_switch_tail the same non-inlined functions, but they tail-call
 *                        corun__ctx_switch (jmp, no ret after the switch), so
 *                        the saved resume address is their caller's and no
 *                        ret is executed: the return stack buffer is never
 *                        consulted.
 *
 * Each value passed through a switch is fed back into a checksum, so the
 * loops do observable work. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "arch/ctx.h"
#include "corun.h"
#include "harness.h"

#ifndef BENCH_STACK_SIZE
#define BENCH_STACK_SIZE ((size_t)128 * 1024)
#endif

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "bench_corun: %s failed: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

/* ---- corun_resume_yield --------------------------------------------- */

/* Echoes every value it is resumed with until it gets NULL (which is also
 * what corun_yield returns while corun_destroy closes it). */
static void *echo_body(void *arg) {
  void *v = arg;
  while ((v = corun_yield(v)) != NULL) {
  }
  return NULL;
}

static uint64_t run_resume_yield(void *ctx, uint64_t n) {
  corun_coro *co = ctx;
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; i++) {
    void *out;
    int rc = corun_resume(co, (void *)(uintptr_t)(i | 1), &out);
    sum += (uintptr_t)out + (uint64_t)rc;
  }
  return sum;
}

/* ---- corun_shared_switch --------------------------------------------- */

/* Two coroutines that alternate on one shared stack, each with a small live
 * stack (a 96-byte local plus the frames: the "100-200 bytes"), so
 * every resume copies the other one out and this one in. */
static void *shared_body(void *arg) {
  volatile char local[96];
  local[0] = (char)(uintptr_t)arg;
  void *v = arg;
  while ((v = corun_yield(v)) != NULL)
    local[1] = local[0];
  return NULL;
}

struct shared_pair {
  corun_coro *a, *b;
};

/* One operation = one resume + yield round trip; the loop alternates the
 * two coroutines, so each one needs its stack copied back in. */
static uint64_t run_shared_switch(void *ctx, uint64_t n) {
  struct shared_pair *p = ctx;
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; i++) {
    void *out;
    corun_resume(i & 1 ? p->b : p->a, (void *)(uintptr_t)(i | 1), &out);
    sum += (uintptr_t)out;
  }
  return sum;
}

/* ---- corun_raw_switch ----------------------------------------------- */

/* Two contexts bouncing: the main stack and one made by corun__ctx_make.
 * Each side saves itself in its own slot and switches to the other's. */
struct raw {
  corun__ctx main; /* the benchmark loop, while the other side runs */
  corun__ctx co;   /* the bouncing context, while the loop runs */
  void *(*sw)(corun__ctx *, corun__ctx, void *); /* how each side switches */
};

/* Bounces every switch straight back; the first switch brings the struct. */
static void raw_entry(void *data, void *a, void *b) {
  (void)a, (void)b;
  struct raw *r = data;
  void *d = r;
  for (;;)
    d = r->sw(&r->co, r->main, d);
}

static uint64_t run_raw(struct raw *r, uint64_t n) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; i++)
    sum += (uintptr_t)r->sw(&r->main, r->co, (void *)(uintptr_t)i);
  return sum;
}

/* ---- corun_raw_switch_fn / corun_raw_switch_tail ------------------------ */

/* A switch followed by work in the same function: the function's `ret`
 * comes after the switch (the empty asm keeps gcc from making it a tail
 * call). */
static __attribute__((noinline)) void *
switch_then_ret(corun__ctx *save, corun__ctx to, void *data) {
  void *d = corun__ctx_switch(save, to, data);
  __asm__ volatile("" : "+r"(d));
  return d;
}

/* A switch in tail position: gcc emits `jmp corun__ctx_switch`. */
static __attribute__((noinline)) void *switch_tail(corun__ctx *save,
                                                   corun__ctx to, void *data) {
  return corun__ctx_switch(save, to, data);
}

/* The plain row calls the switch directly on both sides. */
static void raw_entry_direct(void *data, void *a, void *b) {
  (void)a, (void)b;
  struct raw *r = data;
  void *d = r;
  for (;;)
    d = corun__ctx_switch(&r->co, r->main, d);
}

static uint64_t run_raw_switch(void *ctx, uint64_t n) {
  struct raw *r = ctx;
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; i++)
    sum += (uintptr_t)corun__ctx_switch(&r->main, r->co, (void *)(uintptr_t)i);
  return sum;
}
static uint64_t run_raw_switch_fn(void *ctx, uint64_t n) {
  return run_raw(ctx, n);
}
static uint64_t run_raw_switch_tail(void *ctx, uint64_t n) {
  return run_raw(ctx, n);
}

/* ---- corun_create_destroy ------------------------------------------- */

static void *ret_body(void *arg) {
  return arg;
}

static uint64_t run_create_destroy(void *ctx, uint64_t n) {
  const corun_attr *attr = ctx;
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; i++) {
    corun_coro *co;
    void *out;
    check(corun_create(&co, ret_body, (void *)(uintptr_t)i, attr), "create");
    int rc = corun_resume(co, NULL, &out);
    sum += (uintptr_t)out + (uint64_t)rc;
    check(corun_destroy(co), "destroy");
  }
  return sum;
}

#define RAW_STACK ((size_t)64 * 1024)

/* The top of a fresh stack for the raw contexts. */
static char *raw_stack(void) {
  char *p = mmap(NULL, RAW_STACK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("bench_corun: mmap");
    exit(1);
  }
  return p + RAW_STACK;
}

int main(int argc, char **argv) {
  corun_coro *echo;
  corun_attr attr = {.stack_size = BENCH_STACK_SIZE};
  check(corun_create(&echo, echo_body, (void *)1, &attr), "create");
  check(corun_resume(echo, NULL, NULL), "first resume"); /* now in yield */

  struct raw raw = {
      NULL,
      corun__ctx_make(raw_stack(), RAW_STACK, raw_entry_direct, NULL, NULL),
      corun__ctx_switch};
  struct raw raw_fn = {
      NULL, corun__ctx_make(raw_stack(), RAW_STACK, raw_entry, NULL, NULL),
      switch_then_ret};
  struct raw raw_tail = {
      NULL, corun__ctx_make(raw_stack(), RAW_STACK, raw_entry, NULL, NULL),
      switch_tail};
  /* Start each bouncing context: it switches straight back. */
  raw.sw(&raw.main, raw.co, &raw);
  raw_fn.sw(&raw_fn.main, raw_fn.co, &raw_fn);
  raw_tail.sw(&raw_tail.main, raw_tail.co, &raw_tail);

  corun_shared_stack *ss;
  check(corun_shared_stack_create(&ss, 64 * 1024), "shared stack");
  corun_attr sattr = {.shared = ss};
  struct shared_pair pair;
  check(corun_create(&pair.a, shared_body, (void *)1, &sattr), "create");
  check(corun_create(&pair.b, shared_body, (void *)2, &sattr), "create");
  check(corun_resume(pair.a, NULL, NULL), "first resume");
  check(corun_resume(pair.b, NULL, NULL), "first resume");

  struct bench_case cases[] = {
      {"corun_resume_yield", run_resume_yield, echo, 0, {0}},
      {"corun_shared_switch", run_shared_switch, &pair, 0, {0}},
      {"corun_raw_switch", run_raw_switch, &raw, 0, {0}},
      {"corun_create_destroy", run_create_destroy, &attr, 0, {0}},
      {"corun_raw_switch_fn", run_raw_switch_fn, &raw_fn, 0, {0}},
      {"corun_raw_switch_tail", run_raw_switch_tail, &raw_tail, 0, {0}},
  };
  int rc = bench_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));

  check(corun_destroy(echo), "destroy"); /* closes it: yield returns NULL */
  check(corun_destroy(pair.a), "destroy");
  check(corun_destroy(pair.b), "destroy");
  check(corun_shared_stack_destroy(ss), "shared stack destroy");
  /* The raw contexts are abandoned suspended; their stacks go with
   * the process. */
  return rc;
}
