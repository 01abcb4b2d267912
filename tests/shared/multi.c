/* multi.c: proves several shared stacks at once, mixed with dedicated
 * stacks. 40 coroutines: three of every four spread round robin over three
 * shared stacks (256, 64 and 32 KiB), every fourth on a dedicated stack.
 * Main resumes them in a random order (fixed seed) until each has yielded
 * STEPS times and returned; at a third of its steps (randomly) a coroutine
 * itself resumes another suspended one for a step before yielding -- on
 * the same shared stack, another shared stack, or a dedicated one -- so
 * occupants of every stack are swapped out while NORMAL too. Every
 * coroutine keeps its 1-4 KiB array, its self pointers, a 1-20 frame deep
 * stack at each yield, and the values passed both ways; the locals of
 * coroutines on the same shared stack lie within that stack's size of each
 * other. Everything is destroyed and every shared stack freed (0). */
#include <stdint.h>

#include "corun.h"
#include "frames.h"
#include "shared.h"
#include "t.h"

#define NCO 40
#define STEPS 60
#define NSS 3

static const size_t ss_size[NSS] = {0, 64 * 1024, 32 * 1024};

struct co_state {
  corun_coro *co;
  uint64_t id;
  int where; /* shared stack index, or -1 */
  int resumes;
  uintptr_t local;
};
static struct co_state st[NCO];
static uint64_t seed = 0x3141592653ULL;
static int nested_resumes, by_main;

static void *in_val(uint64_t id, uint64_t m) {
  return (void *)(uintptr_t)((id << 24) ^ (m * 131) ^ 0x77);
}
static void *out_val(uint64_t id, uint64_t m) {
  return (void *)(uintptr_t)((id << 24) ^ (m * 257) ^ 0x99);
}

static void step(int i);

static void *body(void *arg) {
  struct co_state *s = arg;
  size_t n = 1024 * (1 + s->id % 4);
  volatile unsigned char big[n];
  volatile unsigned char *volatile bigp = big;
  s->local = (uintptr_t)big;
  shared_fill(big, n, s->id, 0);
  for (uint64_t k = 0;; k++) {
    T_PTR_EQ(corun_current(), s->co);
    if (shared_rand(&seed) % 3 == 0) {
      /* Resume another suspended one (not one of our chain: only main's
       * direct children nest, and they are all suspended but us). */
      int j = (int)(shared_rand(&seed) % NCO);
      if (j != (int)(s - st) && corun_status(st[j].co) == CORUN_SUSPENDED &&
          corun_status(corun_current()) == CORUN_RUNNING) {
        int chain_depth = 0;
        for (int q = 0; q < NCO; q++)
          chain_depth += corun_status(st[q].co) == CORUN_NORMAL;
        if (chain_depth == 0) {
          step(j);
          nested_resumes++;
          T_PTR_EQ(corun_current(), s->co);
        }
      }
    }
    SHARED_CHECK(bigp, n, s->id, k);
    if (k == STEPS)
      return (void *)(uintptr_t)s->id;
    shared_fill(bigp, n, s->id, k + 1);
    struct act_yield y = {.out = out_val(s->id, k)};
    hold(s->id, k, 1 + (int)((k + s->id) % 20), act_yield, &y);
    T_PTR_EQ(y.in, in_val(s->id, k + 1));
    T_PTR_EQ((const void *)bigp, (const void *)big);
  }
}

static void step(int i) {
  struct co_state *s = &st[i];
  uint64_t m = (uint64_t)s->resumes++;
  void *out = NULL;
  int rc = corun_resume(s->co, in_val(s->id, m), &out);
  if (m < STEPS) {
    T_EQ(rc, 1);
    T_PTR_EQ(out, out_val(s->id, m));
    T_EQ(corun_status(s->co), CORUN_SUSPENDED);
  } else {
    T_EQ(rc, 0);
    T_PTR_EQ(out, (void *)(uintptr_t)s->id);
    T_EQ(corun_status(s->co), CORUN_DEAD);
  }
}

int main(void) {
  shared_need_asm();
  corun_shared_stack *ss[NSS];
  for (int k = 0; k < NSS; k++)
    T_OK(corun_shared_stack_create(&ss[k], ss_size[k]));
  for (int i = 0; i < NCO; i++) {
    st[i] = (struct co_state){.id = (uint64_t)i + 1,
                              .where = i % 4 == 3 ? -1 : (i - i / 4) % NSS};
    corun_attr attr = {.shared = st[i].where < 0 ? NULL : ss[st[i].where],
                       .stack_size = 64 * 1024};
    T_OK(corun_create(&st[i].co, body, &st[i], &attr));
  }
  int live = NCO;
  while (live > 0) {
    int i = (int)(shared_rand(&seed) % NCO);
    if (corun_status(st[i].co) == CORUN_DEAD)
      continue;
    step(i);
    by_main++;
    T_PTR_EQ(corun_current(), NULL);
    if (corun_status(st[i].co) == CORUN_DEAD)
      live--;
    /* A nested step may have finished another one. */
    int dead = 0;
    for (int q = 0; q < NCO; q++)
      dead += corun_status(st[q].co) == CORUN_DEAD;
    live = NCO - dead;
  }
  for (int i = 0; i < NCO; i++) {
    T_EQ(st[i].resumes, STEPS + 1);
    for (int j = 0; j < NCO; j++)
      if (st[i].where >= 0 && st[j].where == st[i].where) {
        size_t span = ss_size[st[i].where] ? ss_size[st[i].where]
                                           : CORUN_STACK_DEFAULT;
        uintptr_t a = st[i].local, b = st[j].local;
        T_LT(a > b ? a - b : b - a, span);
      }
  }
  for (int k = 0; k < NSS; k++)
    T_EQ(corun_shared_stack_destroy(ss[k]), -EBUSY);
  for (int i = 0; i < NCO; i++)
    T_OK(corun_destroy(st[i].co));
  for (int k = 0; k < NSS; k++)
    T_OK(corun_shared_stack_destroy(ss[k]));
  printf("%d resumes by main, %d nested\n", by_main, nested_resumes);
  T_GT(nested_resumes, 10);
  return 0;
}
