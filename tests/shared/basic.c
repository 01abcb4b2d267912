/* basic.c: proves that coroutines taking turns on one shared stack each
 * keep their whole stack state. NCO coroutines on one shared stack are
 * resumed to a yield STEPS times each, once in round-robin order and once
 * in a random order (fixed seed), thousands of switches in all. Each keeps:
 *  - a deep local array (2, 4, 6 or 8 KiB, by coroutine) filled with a
 *    pattern of its own, checked and refilled after every resume;
 *  - pointers to its own locals, kept in stack memory (volatile), which
 *    point to the same addresses and the same contents after every resume;
 *  - a recursion whose depth at the yield changes from one yield to the
 *    next (0, 1, 50, 3, 17, ...): every frame holds a pattern and a pointer
 *    to itself, checked on the way back up;
 *  - the values passed each way: resume's `in` reaches the yield, the
 *    yield's `out` and the final return value reach the resumer.
 * corun_current() and corun_status() are right at each step, and the
 * coroutines' locals all lie within one stack's size of each other (they
 * really share the stack: dedicated stacks are further apart). At the end
 * every coroutine is destroyed and the shared stack is freed (0). */
#include <stdint.h>
#include <stdlib.h>

#include "corun.h"
#include "shared.h"
#include "t.h"

#define NCO 12
#define STEPS 400
#define SS_SIZE ((size_t)128 * 1024)

struct co_state {
  corun_coro *co;
  uint64_t id;
  int steps;            /* yields done */
  uintptr_t big_addr;   /* address of the body's big array */
};
static struct co_state st[NCO];

static const int depths[] = {1, 50, 3, 0, 17, 2, 40, 1, 9, 33, 0, 5, 49, 4};
#define NDEPTHS ((int)(sizeof depths / sizeof depths[0]))

static uint64_t in_val(uint64_t id, uint64_t step) {
  return (id << 32) ^ (step * 7919) ^ 0x1111;
}
static uint64_t out_val(uint64_t id, uint64_t step) {
  return (id << 32) ^ (step * 104729) ^ 0x2222;
}
static uint64_t ret_val(uint64_t id) {
  return (id << 32) ^ 0x3333;
}

/* Recurses to `target`, yields there, and checks every frame on the way
 * back. Returns what the yield received. */
static T_NOIPA uint64_t descend(uint64_t id, uint64_t step, int depth,
                                int target) {
  volatile unsigned char frame[96];
  volatile unsigned char *volatile self = frame;
  uint64_t round = step * 1000 + (uint64_t)depth;
  shared_fill(frame, sizeof frame, id, round);
  uint64_t got;
  if (depth == target)
    got = (uint64_t)(uintptr_t)corun_yield((void *)(uintptr_t)out_val(id, step));
  else
    got = descend(id, step, depth + 1, target);
  T_PTR_EQ((const void *)self, (const void *)frame);
  SHARED_CHECK(self, sizeof frame, id, round);
  return got;
}

static void *body(void *arg) {
  struct co_state *s = arg;
  T_PTR_EQ(corun_current(), s->co);
  size_t big_n = 2048 * (1 + s->id % 4);
  volatile unsigned char big[big_n];
  volatile unsigned char *volatile bigp = big;
  volatile uint64_t scalar = s->id * 31;
  volatile uint64_t *volatile scalarp = &scalar;
  s->big_addr = (uintptr_t)big;
  shared_fill(big, big_n, s->id, 0);
  for (uint64_t step = 0;; step++) {
    int target = depths[(step + s->id) % NDEPTHS];
    uint64_t got;
    if (target == 0)
      got = (uint64_t)(uintptr_t)corun_yield(
          (void *)(uintptr_t)out_val(s->id, step));
    else
      got = descend(s->id, step, 1, target);
    /* Running again: everything is where it was. */
    T_PTR_EQ(corun_current(), s->co);
    T_EQ(corun_status(s->co), CORUN_RUNNING);
    T_EQ_HEX(got, in_val(s->id, step + 1));
    T_PTR_EQ((const void *)bigp, (const void *)big);
    T_PTR_EQ((const void *)scalarp, (const void *)&scalar);
    T_EQ(*scalarp, s->id * 31 + step);
    SHARED_CHECK(bigp, big_n, s->id, step);
    if (step + 1 == STEPS)
      return (void *)(uintptr_t)ret_val(s->id);
    shared_fill(bigp, big_n, s->id, step + 1);
    *scalarp = *scalarp + 1;
  }
}

/* Resumes coroutine i for its next step and checks what comes back. */
static void step(int i) {
  struct co_state *s = &st[i];
  void *out = NULL;
  int rc = corun_resume(s->co, (void *)(uintptr_t)in_val(s->id, (uint64_t)s->steps), &out);
  T_PTR_EQ(corun_current(), NULL);
  if (s->steps < STEPS) {
    T_EQ(rc, 1);
    T_EQ_HEX((uint64_t)(uintptr_t)out, out_val(s->id, (uint64_t)s->steps));
    T_EQ(corun_status(s->co), CORUN_SUSPENDED);
  } else {
    T_EQ(rc, 0);
    T_EQ_HEX((uint64_t)(uintptr_t)out, ret_val(s->id));
    T_EQ(corun_status(s->co), CORUN_DEAD);
  }
  s->steps++;
}

static void run(int random_order, size_t ss_size) {
  corun_shared_stack *ss = NULL;
  T_OK(corun_shared_stack_create(&ss, ss_size));
  T_TRUE(ss != NULL);
  corun_attr attr = {.shared = ss};
  for (int i = 0; i < NCO; i++) {
    st[i] = (struct co_state){.id = (uint64_t)i + 1};
    T_OK(corun_create(&st[i].co, body, &st[i], &attr));
    T_EQ(corun_status(st[i].co), CORUN_SUSPENDED);
  }
  long switches = 0;
  if (!random_order) {
    for (int r = 0; r <= STEPS; r++)
      for (int i = 0; i < NCO; i++, switches++)
        step(i);
  } else {
    uint64_t seed = 0x5eed5eed12345ULL;
    int live = NCO;
    while (live > 0) {
      int i = (int)(shared_rand(&seed) % NCO);
      if (st[i].steps > STEPS)
        continue;
      step(i);
      switches++;
      if (st[i].steps > STEPS)
        live--;
    }
  }
  T_EQ(switches, (long)NCO * (STEPS + 1));
  /* They really shared one stack: their locals are within one stack size
   * of each other. */
  size_t span = ss_size ? ss_size : CORUN_STACK_DEFAULT;
  for (int i = 0; i < NCO; i++) {
    uintptr_t a = st[i].big_addr, b = st[0].big_addr;
    T_LT(a > b ? a - b : b - a, span);
    T_OK(corun_destroy(st[i].co));
  }
  T_OK(corun_shared_stack_destroy(ss));
  printf("%s: %ld resumes, all states intact\n",
         random_order ? "random order" : "round robin", switches);
}

int main(void) {
  shared_need_asm();
  run(0, 0);
  run(1, SS_SIZE);
  run(0, SS_SIZE);
  return 0;
}
