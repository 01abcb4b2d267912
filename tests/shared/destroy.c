/* destroy.c: proves destroying coroutines on a shared stack, and the
 * shared stack's own create/destroy contract.
 * (1) corun_destroy() of a coroutine on S that is: never started (its body
 * never runs); suspended and swapped out (another one ran on S since);
 * suspended and still the occupant of S (the last to run); dead. The
 * closing resume of a started one runs its cleanup with corun_closing() 1,
 * its yield returning NULL, and its whole state intact (a 4 KiB array, a
 * 1-30 frame deep stack with patterns and self pointers) -- also when it
 * was swapped out; the closing does not disturb the others, whose states
 * are intact when they run afterwards. A coroutine that yields while
 * being closed is freed with -ECANCELED, and S keeps working.
 * (2) 60 coroutines in mixed states destroyed in a random order (fixed
 * seed), each close checking its own state.
 * (3) corun_shared_stack_destroy() returns -EBUSY while any coroutine
 * created on S is not destroyed (never started, suspended, dead alike) and
 * frees nothing (S stays usable), 0 once the last is destroyed.
 * (4) Arguments: corun_shared_stack_create(NULL, ...) and
 * corun_shared_stack_destroy(NULL) are -EINVAL; a size of 1 or
 * CORUN_STACK_MIN - 1 is -EINVAL with *ss untouched; 0, CORUN_STACK_MIN
 * and CORUN_STACK_MIN + 1 (rounded up) work and run a coroutine. */
#include <errno.h>

#include "corun.h"
#include "frames.h"
#include "shared.h"
#include "t.h"

#define MAXCO 64

struct co_state {
  corun_coro *co;
  uint64_t id;
  int yields_wanted; /* how many times it yields before returning */
  int resumes; /* by main */
  int yields, ran, closed, cleanup_ok, after_close_yield;
  int yield_in_close; /* yields again when closed (-ECANCELED) */
};
static struct co_state st[MAXCO];

static void *body(void *arg) {
  struct co_state *s = arg;
  s->ran = 1;
  volatile unsigned char big[4096];
  volatile unsigned char *volatile bigp = big;
  shared_fill(big, sizeof big, s->id, 0);
  for (int k = 0; k < s->yields_wanted; k++) {
    struct act_yield y = {.out = (void *)(uintptr_t)(s->id * 100 + (uint64_t)k)};
    hold(s->id, (uint64_t)k, 1 + (int)((s->id * 7 + (uint64_t)k) % 30),
         act_yield, &y);
    T_PTR_EQ((const void *)bigp, (const void *)big);
    SHARED_CHECK(bigp, sizeof big, s->id, (uint64_t)k);
    shared_fill(big, sizeof big, s->id, (uint64_t)k + 1);
    if (corun_closing()) {
      T_PTR_EQ(y.in, NULL);
      s->closed = 1;
      s->cleanup_ok = 1; /* reached only if every check above passed */
      if (s->yield_in_close) {
        corun_yield((void *)1);
        s->after_close_yield = 1; /* never: it is freed instead */
      }
      return NULL;
    }
    T_PTR_EQ(y.in, (void *)(uintptr_t)(s->id * 1000 + (uint64_t)k));
    s->yields++;
  }
  return (void *)(uintptr_t)s->id;
}

static void make(corun_shared_stack *S, int i, int yields_wanted) {
  st[i] = (struct co_state){.id = (uint64_t)i + 1,
                            .yields_wanted = yields_wanted};
  corun_attr attr = {.shared = S};
  T_OK(corun_create(&st[i].co, body, &st[i], &attr));
}

/* Runs coroutine i one more step: resume number m continues its yield
 * m - 1 and ends in its yield m, or in its return once m == yields_wanted. */
static void step(int i) {
  struct co_state *s = &st[i];
  uint64_t m = (uint64_t)s->resumes++;
  void *out = NULL;
  int rc = corun_resume(s->co, (void *)(uintptr_t)(s->id * 1000 + m - 1), &out);
  if (m < (uint64_t)s->yields_wanted) {
    T_EQ(rc, 1);
    T_PTR_EQ(out, (void *)(uintptr_t)(s->id * 100 + m));
  } else {
    T_EQ(rc, 0);
    T_PTR_EQ(out, (void *)(uintptr_t)s->id);
  }
}

static void four_states(void) {
  corun_shared_stack *S;
  T_OK(corun_shared_stack_create(&S, 0));
  make(S, 0, 5); /* never started */
  make(S, 1, 5); /* suspended, swapped out */
  make(S, 2, 5); /* suspended, occupant */
  make(S, 3, 0); /* dead */
  make(S, 4, 5); /* yields again when closed */
  make(S, 5, 5); /* keeps running afterwards */
  st[4].yield_in_close = 1;
  step(1);
  step(4);
  step(5);
  step(3);
  T_EQ(corun_status(st[3].co), CORUN_DEAD);
  step(1);
  step(2); /* the occupant now */

  /* Never started. */
  T_OK(corun_destroy(st[0].co));
  T_EQ(st[0].ran, 0);
  T_EQ(corun_shared_stack_destroy(S), -EBUSY);
  /* Suspended, swapped out: closed with its state brought back. */
  T_OK(corun_destroy(st[1].co));
  T_EQ(st[1].closed, 1);
  T_EQ(st[1].cleanup_ok, 1);
  /* Suspended occupant (after the close above, st[1] was the last to run:
   * make st[2] the occupant again first). */
  step(2);
  T_OK(corun_destroy(st[2].co));
  T_EQ(st[2].cleanup_ok, 1);
  /* Dead. */
  T_OK(corun_destroy(st[3].co));
  /* Yields while closing: freed anyway, -ECANCELED. */
  T_EQ(corun_destroy(st[4].co), -ECANCELED);
  T_EQ(st[4].cleanup_ok, 1);
  T_EQ(st[4].after_close_yield, 0);
  T_EQ(corun_shared_stack_destroy(S), -EBUSY);
  /* The survivor's state went through all of that intact. */
  while (corun_status(st[5].co) != CORUN_DEAD)
    step(5);
  T_EQ(st[5].yields, 5);
  T_EQ(corun_shared_stack_destroy(S), -EBUSY); /* dead, not destroyed */
  T_OK(corun_destroy(st[5].co));
  T_OK(corun_shared_stack_destroy(S));
}

static void random_destroy(void) {
  corun_shared_stack *S;
  T_OK(corun_shared_stack_create(&S, 96 * 1024));
  uint64_t seed = 0xdec0de;
  int n = 60;
  for (int i = 0; i < n; i++)
    make(S, i, 1 + (int)(shared_rand(&seed) % 6));
  /* Mixed states: some never started, some dead, most suspended. */
  for (int r = 0; r < 400; r++) {
    int i = (int)(shared_rand(&seed) % (uint64_t)n);
    if (i % 10 == 0 || corun_status(st[i].co) == CORUN_DEAD)
      continue;
    step(i);
  }
  int order[MAXCO];
  for (int i = 0; i < n; i++)
    order[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(shared_rand(&seed) % (uint64_t)(i + 1));
    int t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  int dead = 0, never = 0, closed = 0;
  for (int k = 0; k < n; k++) {
    struct co_state *s = &st[order[k]];
    int status = corun_status(s->co);
    int started = s->ran;
    T_EQ(corun_shared_stack_destroy(S), -EBUSY);
    T_OK(corun_destroy(s->co));
    if (status == CORUN_DEAD) {
      dead++;
    } else if (!started) {
      T_EQ(s->ran, 0);
      never++;
    } else {
      T_EQ(s->cleanup_ok, 1);
      closed++;
    }
  }
  T_OK(corun_shared_stack_destroy(S));
  printf("random destroy: %d dead, %d never started, %d closed\n", dead,
         never, closed);
  T_GT(dead, 0);
  T_GT(never, 0);
  T_GT(closed, 0);
}

static void *tiny(void *arg) {
  volatile char buf[512];
  buf[0] = (char)(intptr_t)arg;
  corun_yield(NULL);
  return (void *)(intptr_t)buf[0];
}

static void args(void) {
  T_EQ(corun_shared_stack_create(NULL, 0), -EINVAL);
  T_EQ(corun_shared_stack_destroy(NULL), -EINVAL);
  corun_shared_stack *S = (corun_shared_stack *)(uintptr_t)0x5e5e;
  T_EQ(corun_shared_stack_create(&S, 1), -EINVAL);
  T_PTR_EQ(S, (void *)(uintptr_t)0x5e5e);
  T_EQ(corun_shared_stack_create(&S, CORUN_STACK_MIN - 1), -EINVAL);
  T_PTR_EQ(S, (void *)(uintptr_t)0x5e5e);
  size_t ok_sizes[] = {0, CORUN_STACK_MIN, CORUN_STACK_MIN + 1, 100000};
  for (size_t k = 0; k < sizeof ok_sizes / sizeof ok_sizes[0]; k++) {
    S = NULL;
    T_OK(corun_shared_stack_create(&S, ok_sizes[k]));
    T_TRUE(S != NULL);
    corun_attr attr = {.shared = S};
    corun_coro *a, *b;
    T_OK(corun_create(&a, tiny, (void *)7, &attr));
    T_OK(corun_create(&b, tiny, (void *)9, &attr));
    T_EQ(corun_resume(a, NULL, NULL), 1);
    T_EQ(corun_resume(b, NULL, NULL), 1);
    void *out = NULL;
    T_EQ(corun_resume(a, NULL, &out), 0);
    T_PTR_EQ(out, (void *)7);
    T_EQ(corun_resume(b, NULL, &out), 0);
    T_PTR_EQ(out, (void *)9);
    T_EQ(corun_shared_stack_destroy(S), -EBUSY);
    T_OK(corun_destroy(a));
    T_EQ(corun_shared_stack_destroy(S), -EBUSY);
    T_OK(corun_destroy(b));
    T_OK(corun_shared_stack_destroy(S));
  }
  /* Never-run coroutines keep it busy too. */
  T_OK(corun_shared_stack_create(&S, 0));
  corun_attr attr = {.shared = S};
  corun_coro *c;
  T_OK(corun_create(&c, tiny, NULL, &attr));
  T_EQ(corun_shared_stack_destroy(S), -EBUSY);
  T_EQ(corun_shared_stack_destroy(S), -EBUSY);
  T_OK(corun_destroy(c));
  T_OK(corun_shared_stack_destroy(S));
}

int main(void) {
  shared_need_asm();
  args();
  four_states();
  random_destroy();
  return 0;
}
