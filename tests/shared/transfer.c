/* transfer.c: proves corun_transfer() between coroutines on the same
 * shared stack, on different shared stacks, and between shared and
 * dedicated stacks. (1) A ring of coroutines passes a token by transfer
 * LIMIT times; each holds a 2 KiB array and a 1-9 frame deep stack at its
 * transfer, checked after every transfer returns; the one that reaches
 * LIMIT returns to the root (resume returns 0 with its value) and the
 * others, suspended in a transfer with their frames swapped out, are
 * closed by corun_destroy(): the transfer returns 1 with NULL,
 * corun_closing() is 1 and their state is intact. Rings: S S, S S S S,
 * S D, S D S D, S T D (S, T: two shared stacks; D: dedicated).
 * (2) The inherited resumer across stack kinds: P on S resumes A on S; A
 * transfers to B (dedicated); B's yield goes to P, whose frames on S are
 * back intact while A (suspended in its transfer) is swapped out; P
 * resumes A, which continues in its transfer with P's value, then
 * transfers to C on S, whose return goes to P (rc 0, C's value). (3) From
 * the root, transfer to a coroutine on S behaves like resume. */
#include <errno.h>

#include "corun.h"
#include "frames.h"
#include "shared.h"
#include "t.h"

/* ---- (1) rings ------------------------------------------------------- */

#define MAXRING 8
#define LIMIT 3001
static int K;
static corun_coro *ring[MAXRING];
static intptr_t ring_token;
static int visits[MAXRING], closed;

static void *ring_body(void *arg) {
  int i = (int)(intptr_t)arg;
  volatile unsigned char big[2048];
  uint64_t v = 0;
  shared_fill(big, sizeof big, (uint64_t)i, v);
  intptr_t token = ring_token;
  for (;;) {
    T_PTR_EQ(corun_current(), ring[i]);
    T_EQ(token % K, i);
    T_EQ(token, ring_token);
    visits[i]++;
    token++;
    ring_token = token;
    if (token == LIMIT)
      return (void *)token;
    struct act_transfer t = {.to = ring[(i + 1) % K], .in = (void *)token};
    hold((uint64_t)i + 10, v, 1 + (int)(token % 9), act_transfer, &t);
    T_EQ(t.rc, 1);
    SHARED_CHECK(big, sizeof big, (uint64_t)i, v);
    v++;
    shared_fill(big, sizeof big, (uint64_t)i, v);
    if (corun_closing()) {
      T_PTR_EQ(t.out, NULL);
      closed++;
      return NULL;
    }
    token = (intptr_t)t.out;
  }
}

static void ring_game(const char *kinds) {
  corun_shared_stack *ss[2];
  T_OK(corun_shared_stack_create(&ss[0], 0));
  T_OK(corun_shared_stack_create(&ss[1], 48 * 1024));
  K = (int)strlen(kinds);
  ring_token = 0;
  closed = 0;
  for (int i = 0; i < K; i++) {
    visits[i] = 0;
    corun_attr attr = {.shared = kinds[i] == 'S'   ? ss[0]
                                 : kinds[i] == 'T' ? ss[1]
                                                   : NULL};
    T_OK(corun_create(&ring[i], ring_body, (void *)(intptr_t)i, &attr));
  }
  void *out = NULL;
  T_EQ(corun_resume(ring[0], NULL, &out), 0);
  T_EQ((intptr_t)out, LIMIT);
  T_PTR_EQ(corun_current(), NULL);
  int last = (LIMIT - 1) % K;
  for (int i = 0; i < K; i++) {
    T_EQ(visits[i], LIMIT / K + (i < LIMIT % K));
    T_EQ(corun_status(ring[i]), i == last ? CORUN_DEAD : CORUN_SUSPENDED);
  }
  for (int i = 0; i < K; i++)
    T_OK(corun_destroy(ring[i]));
  T_EQ(closed, K - 1);
  T_OK(corun_shared_stack_destroy(ss[0]));
  T_OK(corun_shared_stack_destroy(ss[1]));
  printf("ring %s: %d transfers, intact\n", kinds, LIMIT - 1);
}

/* ---- (2) inherited resumer across stack kinds ------------------------ */

static corun_coro *P, *A, *B, *C;

static void *c_body(void *arg) {
  (void)arg;
  T_EQ(corun_status(P), CORUN_NORMAL);
  T_EQ(corun_status(A), CORUN_SUSPENDED);
  volatile unsigned char big[1500];
  shared_fill(big, sizeof big, 'C', 0);
  struct act_yield y = {.out = (void *)'c'};
  hold('C', 0, 6, act_yield, &y); /* to P */
  T_PTR_EQ(y.in, (void *)'C');
  SHARED_CHECK(big, sizeof big, 'C', 0);
  return (void *)0xc0;
}

static void *b_body(void *arg) {
  T_PTR_EQ(arg, (void *)'B');
  T_EQ(corun_status(P), CORUN_NORMAL);
  T_EQ(corun_status(A), CORUN_SUSPENDED);
  volatile unsigned char big[3000];
  shared_fill(big, sizeof big, 'B', 0);
  struct act_yield y = {.out = (void *)'b'};
  hold('B', 0, 12, act_yield, &y); /* to P, A's inheritor */
  T_TRUE(corun_closing());
  SHARED_CHECK(big, sizeof big, 'B', 0);
  return NULL;
}

static void *a_body(void *arg) {
  T_PTR_EQ(arg, (void *)'A');
  volatile unsigned char big[2500];
  shared_fill(big, sizeof big, 'A', 0);
  struct act_transfer t = {.to = B, .in = (void *)'x'};
  hold('A', 0, 8, act_transfer, &t);
  T_EQ(t.rc, 1);
  T_PTR_EQ(t.out, (void *)'z'); /* P's resume */
  SHARED_CHECK(big, sizeof big, 'A', 0);
  T_EQ(corun_status(P), CORUN_NORMAL);
  struct act_transfer t2 = {.to = C, .in = (void *)'y'};
  hold('A', 1, 5, act_transfer, &t2);
  T_TRUE(corun_closing());
  SHARED_CHECK(big, sizeof big, 'A', 0);
  return NULL;
}

static void p_resume(void *arg) {
  struct act_resume *r = arg;
  act_resume(r);
}

static void *p_body(void *arg) {
  (void)arg;
  volatile unsigned char big[4000];
  shared_fill(big, sizeof big, 'P', 0);
  /* P -> A -> (transfer) B; B yields to P. */
  struct act_resume r = {.co = A, .in = NULL};
  hold('P', 0, 10, p_resume, &r);
  T_EQ(r.rc, 1);
  T_PTR_EQ(r.out, (void *)'b');
  SHARED_CHECK(big, sizeof big, 'P', 0);
  T_EQ(corun_status(A), CORUN_SUSPENDED);
  T_EQ(corun_status(B), CORUN_SUSPENDED);
  /* P -> A (continues in its transfer) -> (transfer) C; C yields to P. */
  r = (struct act_resume){.co = A, .in = (void *)'z'};
  hold('P', 1, 3, p_resume, &r);
  T_EQ(r.rc, 1);
  T_PTR_EQ(r.out, (void *)'c');
  SHARED_CHECK(big, sizeof big, 'P', 0);
  /* P -> C, which returns to P. */
  r = (struct act_resume){.co = C, .in = (void *)'C'};
  hold('P', 2, 14, p_resume, &r);
  T_EQ(r.rc, 0);
  T_PTR_EQ(r.out, (void *)0xc0);
  T_EQ(corun_status(C), CORUN_DEAD);
  SHARED_CHECK(big, sizeof big, 'P', 0);
  return (void *)0x90;
}

static void inherited(void) {
  corun_shared_stack *S;
  T_OK(corun_shared_stack_create(&S, 0));
  corun_attr sh = {.shared = S}, ded = {.stack_size = 64 * 1024};
  T_OK(corun_create(&P, p_body, NULL, &sh));
  T_OK(corun_create(&A, a_body, (void *)'A', &sh));
  T_OK(corun_create(&B, b_body, (void *)'B', &ded));
  T_OK(corun_create(&C, c_body, NULL, &sh));
  void *out = NULL;
  T_EQ(corun_resume(P, NULL, &out), 0);
  T_PTR_EQ(out, (void *)0x90);
  T_OK(corun_destroy(P));
  T_OK(corun_destroy(C));
  T_EQ(corun_status(A), CORUN_SUSPENDED);
  T_EQ(corun_status(B), CORUN_SUSPENDED);
  T_OK(corun_destroy(B)); /* closed in its yield (dedicated) */
  T_OK(corun_destroy(A)); /* closed in its transfer (swapped out) */
  T_OK(corun_shared_stack_destroy(S));
  printf("inherited resumer across S/D: intact\n");
}

/* ---- (3) transfer from the root ------------------------------------- */

static void *root_body(void *arg) {
  T_PTR_EQ(arg, (void *)1);
  volatile unsigned char big[2048];
  shared_fill(big, sizeof big, 'R', 0);
  struct act_yield y = {.out = (void *)11};
  hold('R', 0, 7, act_yield, &y);
  T_PTR_EQ(y.in, (void *)12);
  SHARED_CHECK(big, sizeof big, 'R', 0);
  return (void *)13;
}

static void *other_body(void *arg) {
  (void)arg;
  volatile unsigned char big[6000];
  shared_fill(big, sizeof big, 'O', 0);
  corun_yield((void *)21);
  SHARED_CHECK(big, sizeof big, 'O', 0);
  return NULL;
}

static void from_root(void) {
  corun_shared_stack *S;
  T_OK(corun_shared_stack_create(&S, 0));
  corun_attr sh = {.shared = S};
  corun_coro *r, *o;
  T_OK(corun_create(&r, root_body, (void *)1, &sh));
  T_OK(corun_create(&o, other_body, NULL, &sh));
  void *out = NULL;
  T_EQ(corun_transfer(r, (void *)-1, &out), 1);
  T_PTR_EQ(out, (void *)11);
  T_EQ(corun_transfer(o, NULL, &out), 1); /* r swapped out */
  T_PTR_EQ(out, (void *)21);
  T_EQ(corun_transfer(r, (void *)12, &out), 0);
  T_PTR_EQ(out, (void *)13);
  T_EQ(corun_transfer(o, NULL, &out), 0);
  T_OK(corun_destroy(r));
  T_OK(corun_destroy(o));
  T_OK(corun_shared_stack_destroy(S));
}

int main(void) {
  shared_need_asm();
  ring_game("SS");
  ring_game("SSSS");
  ring_game("SD");
  ring_game("SDSD");
  ring_game("STD");
  ring_game("STSTDD");
  inherited();
  from_root();
  return 0;
}
