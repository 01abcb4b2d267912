/* outptr.c: proves the `out` pointer of corun_resume() and
 * corun_transfer() may point to a local of the calling coroutine when that
 * coroutine runs on a shared stack -- the ordinary way to call them
 * (`void *out; corun_resume(b, NULL, &out)`). While the callee runs, the
 * caller's frames are swapped out; the value must still arrive in the
 * caller's local when the caller runs again, and must not be written into
 * whichever coroutine's frames occupy the stack at that moment.
 * A and B on one shared stack S:
 * (1) A resumes B, B yields 0x42: A's local out is 0x42, rc 1;
 * (2) A's local lies inside B's live region (both start at S's top, and
 *     B's 8 KiB array reaches below it: checked): B's yield must not write
 *     into B's own frames there, so B finds its array intact and returns
 *     normally when resumed again;
 * (3) B returns 0x43 to A: A's local out is 0x43, rc 0;
 * (4) A transfers to C (on S) with &local out; C transfers back to A with
 *     0x44: A's local out is 0x44, rc 1;
 * (5) control: A resumes D on a dedicated stack, which yields 0x45 (no
 *     copying: A stays the occupant of S). */
#include "corun.h"
#include "shared.h"
#include "t.h"

#define SENTINEL ((void *)(uintptr_t)0x5e5e5e5e)

static corun_coro *A, *B, *C, *D;
static uintptr_t a_out_addr, b_lo, b_hi;

static void *b_body(void *arg) {
  (void)arg;
  volatile unsigned char big[8192];
  b_lo = (uintptr_t)big;
  b_hi = (uintptr_t)big + sizeof big;
  shared_fill(big, sizeof big, 'B', 1);
  corun_yield((void *)0x42);
  SHARED_CHECK(big, sizeof big, 'B', 1);
  return (void *)0x43;
}

static void *c_body(void *arg) {
  (void)arg;
  volatile unsigned char big[4096];
  shared_fill(big, sizeof big, 'C', 1);
  corun_transfer(A, (void *)0x44, NULL);
  SHARED_CHECK(big, sizeof big, 'C', 1);
  return NULL;
}

static void *d_body(void *arg) {
  (void)arg;
  corun_yield((void *)0x45);
  return NULL;
}

static void *a_body(void *arg) {
  (void)arg;
  void *volatile out = SENTINEL;
  a_out_addr = (uintptr_t)&out;
  /* (1), checked after (2) so that both effects show. */
  int rc1 = corun_resume(B, NULL, (void **)&out);
  void *out1 = out;
  printf("(1) A's resume of B: rc %d, out %p (want 1, 0x42)\n", rc1, out1);
  /* (2) */
  int covered = a_out_addr >= b_lo;
  printf("A's out at %#lx, B's array %#lx-%#lx: %s B's live region\n",
         (unsigned long)a_out_addr, (unsigned long)b_lo, (unsigned long)b_hi,
         covered ? "inside" : "outside");
  /* (3) */
  out = SENTINEL;
  T_EQ(corun_resume(B, NULL, (void **)&out), 0); /* B checks its array */
  T_EQ(rc1, 1);
  T_PTR_EQ(out1, (void *)0x42);
  T_PTR_EQ(out, (void *)0x43);
  /* (4) */
  out = SENTINEL;
  T_EQ(corun_transfer(C, NULL, (void **)&out), 1);
  T_PTR_EQ(out, (void *)0x44);
  /* (5) */
  out = SENTINEL;
  T_EQ(corun_resume(D, NULL, (void **)&out), 1);
  T_PTR_EQ(out, (void *)0x45);
  return (void *)(intptr_t)covered;
}

int main(void) {
  shared_need_asm();
  corun_shared_stack *S;
  T_OK(corun_shared_stack_create(&S, 0));
  corun_attr sh = {.shared = S};
  T_OK(corun_create(&A, a_body, NULL, &sh));
  T_OK(corun_create(&B, b_body, NULL, &sh));
  T_OK(corun_create(&C, c_body, NULL, &sh));
  T_OK(corun_create(&D, d_body, NULL, NULL));
  void *out = NULL;
  T_EQ(corun_resume(A, NULL, &out), 0);
  T_PTR_EQ(out, (void *)1); /* the test really covered the overlap */
  T_OK(corun_destroy(A));
  T_OK(corun_destroy(B));
  T_OK(corun_destroy(C)); /* closed in its transfer */
  T_OK(corun_destroy(D));
  T_OK(corun_shared_stack_destroy(S));
  return 0;
}
