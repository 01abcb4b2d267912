/* nested.c: proves resume chains through shared stacks. A coroutine on a
 * shared stack S that resumes another one on S is NORMAL with live frames
 * on S; those are swapped out while the other runs and must be back intact
 * when control returns to it, by a yield or by the other's return.
 * Chains (S, S2: shared stacks; D: a dedicated stack), each run for ROUNDS
 * rounds: every link holds a 1-13 frame deep stack (patterns, pointers to
 * itself) and a 3 KiB array while it resumes the next link, the last one
 * yields from a varying depth, values travel down by resume and up by
 * yield, and in the last round every link returns into a NORMAL
 * predecessor (rc 0, its value). Inside link i, links < i are NORMAL and
 * links > i SUSPENDED.
 *   A->B (S S), A->B->C (S S S), 8 links on S, A->D->E (S D S),
 *   S D S D S, D S S, S S2 S S2 (two shared stacks interleaved).
 * Then a coroutine A on S, with live frames, creates F on S, runs it to a
 * yield, destroys it (its closing resume runs on S: F finds its own state
 * intact, and so does A afterwards) and destroys a never-started G; the
 * shared stack then reports -EBUSY until A is destroyed too. */
#include <errno.h>

#include "corun.h"
#include "frames.h"
#include "shared.h"
#include "t.h"

#define MAXLINKS 8
#define ROUNDS 150

static int nlinks;
static corun_coro *link_co[MAXLINKS];

static void *out_of(int i, int r) {
  return (void *)(uintptr_t)(0x10000 * (i + 1) + r);
}
static void *in_of(int i, int r) {
  return (void *)(uintptr_t)(0x1000000 * (i + 1) + r);
}
static void *ret_of(int i) {
  return (void *)(uintptr_t)(0xdead00 + i);
}

/* after_end: the links after i have returned (last round). */
static void check_chain_status(int i, int after_end) {
  for (int j = 0; j < nlinks; j++)
    T_EQ(corun_status(link_co[j]), j < i      ? CORUN_NORMAL
                                   : j == i   ? CORUN_RUNNING
                                   : after_end ? CORUN_DEAD
                                              : CORUN_SUSPENDED);
  T_PTR_EQ(corun_current(), link_co[i]);
}

static void *link_body(void *arg) {
  int i = (int)(intptr_t)arg;
  uint64_t who = 100 + (uint64_t)i;
  volatile unsigned char big[3072];
  shared_fill(big, sizeof big, who, 0);
  for (int r = 0; r <= ROUNDS; r++) {
    check_chain_status(i, 0);
    if (i + 1 < nlinks) {
      struct act_resume a = {.co = link_co[i + 1], .in = in_of(i + 1, r)};
      hold(who, (uint64_t)r, 1 + (r + i) % 13, act_resume, &a);
      check_chain_status(i, r == ROUNDS);
      if (r < ROUNDS) {
        T_EQ(a.rc, 1);
        T_PTR_EQ(a.out, out_of(i + 1, r));
        T_EQ(corun_status(link_co[i + 1]), CORUN_SUSPENDED);
      } else {
        T_EQ(a.rc, 0);
        T_PTR_EQ(a.out, ret_of(i + 1));
        T_EQ(corun_status(link_co[i + 1]), CORUN_DEAD);
      }
    }
    SHARED_CHECK(big, sizeof big, who, (uint64_t)r);
    shared_fill(big, sizeof big, who, (uint64_t)r + 1);
    if (r == ROUNDS)
      return ret_of(i);
    struct act_yield y = {.out = out_of(i, r)};
    hold(who + 50, (uint64_t)r, 1 + (r * 7 + i) % 11, act_yield, &y);
    T_PTR_EQ(y.in, in_of(i, r + 1));
  }
  return NULL;
}

/* kinds: one letter per link: 'S' on ss[0], 'T' on ss[1], 'D' dedicated. */
static void chain(const char *kinds) {
  corun_shared_stack *ss[2];
  T_OK(corun_shared_stack_create(&ss[0], 0));
  T_OK(corun_shared_stack_create(&ss[1], 64 * 1024));
  nlinks = (int)strlen(kinds);
  T_TRUE(nlinks <= MAXLINKS);
  for (int i = 0; i < nlinks; i++) {
    corun_attr attr = {.shared = kinds[i] == 'S'   ? ss[0]
                                 : kinds[i] == 'T' ? ss[1]
                                                   : NULL,
                       .stack_size = 64 * 1024};
    T_OK(corun_create(&link_co[i], link_body, (void *)(intptr_t)i, &attr));
  }
  for (int r = 0; r <= ROUNDS; r++) {
    void *out = NULL;
    int rc = corun_resume(link_co[0], in_of(0, r), &out);
    T_PTR_EQ(corun_current(), NULL);
    if (r < ROUNDS) {
      T_EQ(rc, 1);
      T_PTR_EQ(out, out_of(0, r));
    } else {
      T_EQ(rc, 0);
      T_PTR_EQ(out, ret_of(0));
    }
  }
  for (int i = 0; i < nlinks; i++) {
    T_EQ(corun_status(link_co[i]), CORUN_DEAD);
    T_OK(corun_destroy(link_co[i]));
  }
  T_OK(corun_shared_stack_destroy(ss[0]));
  T_OK(corun_shared_stack_destroy(ss[1]));
  printf("chain %s: %d rounds, intact\n", kinds, ROUNDS);
}

/* ---- create, run and destroy on S from a coroutine on S -------------- */

static corun_shared_stack *S;
static corun_coro *A, *F;
static int f_closed, g_ran;

static void *f_body(void *arg) {
  (void)arg;
  volatile unsigned char big[2048];
  shared_fill(big, sizeof big, 'F', 1);
  T_EQ(corun_status(A), CORUN_NORMAL);
  struct act_yield y = {.out = (void *)0xf1};
  hold('F', 1, 9, act_yield, &y);
  /* Closed by A's corun_destroy: own state intact, A waiting. */
  T_EQ(corun_closing(), 1);
  T_PTR_EQ(y.in, NULL);
  T_EQ(corun_status(A), CORUN_NORMAL);
  SHARED_CHECK(big, sizeof big, 'F', 1);
  f_closed = 1;
  return NULL;
}

static void *g_body(void *arg) {
  (void)arg;
  g_ran = 1;
  return NULL;
}

static void inside_a(void *arg) {
  (void)arg;
  corun_attr attr = {.shared = S};
  T_OK(corun_create(&F, f_body, NULL, &attr));
  corun_coro *G;
  T_OK(corun_create(&G, g_body, NULL, &attr));
  void *out = NULL;
  T_EQ(corun_resume(F, NULL, &out), 1);
  T_PTR_EQ(out, (void *)0xf1);
  T_EQ(corun_shared_stack_destroy(S), -EBUSY);
  T_OK(corun_destroy(F));
  T_EQ(f_closed, 1);
  T_OK(corun_destroy(G));
  T_EQ(g_ran, 0);
  T_EQ(corun_shared_stack_destroy(S), -EBUSY); /* A is still on it */
}

static void *a_body(void *arg) {
  (void)arg;
  volatile unsigned char big[5000];
  shared_fill(big, sizeof big, 'A', 7);
  hold('A', 7, 21, inside_a, NULL);
  SHARED_CHECK(big, sizeof big, 'A', 7);
  return (void *)0xa;
}

static void create_inside(void) {
  T_OK(corun_shared_stack_create(&S, 32 * 1024));
  corun_attr attr = {.shared = S};
  T_OK(corun_create(&A, a_body, NULL, &attr));
  void *out = NULL;
  T_EQ(corun_resume(A, NULL, &out), 0);
  T_PTR_EQ(out, (void *)0xa);
  T_EQ(corun_shared_stack_destroy(S), -EBUSY);
  T_OK(corun_destroy(A));
  T_OK(corun_shared_stack_destroy(S));
}

int main(void) {
  shared_need_asm();
  chain("SS");
  chain("SSS");
  chain("SSSSSSSS");
  chain("SDS");
  chain("SDSDS");
  chain("DSS");
  chain("STST");
  chain("STDTS");
  create_inside();
  return 0;
}
