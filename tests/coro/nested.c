/* nested.c: proves resume chains. (1) A resumes B resumes C: inside C, A
 * and B are NORMAL and C is RUNNING; yields go one level up each; resuming
 * or transferring to any coroutine of one's own chain is -EBUSY with *out
 * untouched and nothing changed. (2) A chain 1,000 coroutines deep (200
 * under valgrind) passes a yield and a return value through every level,
 * and the deepest one sees all the others NORMAL. (3) 10,000 coroutines
 * alive at once (4,000 under TSan, which cannot track more fibers; 1,000
 * under valgrind, where each new stack is slow), resumed round robin, each
 * keep their own values; then half are destroyed suspended (their close
 * runs) and half after finishing. */
#include <errno.h>
#include <stdlib.h>

#include "base/compiler.h"
#include "t.h"
#include "corun.h"

#define SENTINEL ((void *)(intptr_t)0x5e5e5e5e)

/* ---- (1) A -> B -> C ------------------------------------------------ */

static corun_coro *A, *B, *C;
static int c_steps;

static void *c_body(void *arg) {
  (void)arg;
  T_PTR_EQ(corun_current(), C);
  T_EQ(corun_status(C), CORUN_RUNNING);
  T_EQ(corun_status(B), CORUN_NORMAL);
  T_EQ(corun_status(A), CORUN_NORMAL);
  /* Nothing in our own chain can be resumed or transferred to. */
  void *out = SENTINEL;
  T_EQ(corun_resume(C, NULL, &out), -EBUSY);
  T_EQ(corun_resume(B, NULL, &out), -EBUSY);
  T_EQ(corun_resume(A, NULL, &out), -EBUSY);
  T_EQ(corun_transfer(C, NULL, &out), -EBUSY);
  T_EQ(corun_transfer(B, NULL, &out), -EBUSY);
  T_EQ(corun_transfer(A, NULL, &out), -EBUSY);
  T_EQ(corun_destroy(A), -EBUSY);
  T_EQ(corun_destroy(C), -EBUSY);
  T_PTR_EQ(out, SENTINEL);
  T_PTR_EQ(corun_current(), C);
  T_EQ(corun_status(C), CORUN_RUNNING);
  T_EQ(corun_status(B), CORUN_NORMAL);
  T_EQ(corun_status(A), CORUN_NORMAL);
  c_steps++;
  void *in = corun_yield((void *)'c');
  /* B resumed us again with 'B'. */
  T_PTR_EQ(in, (void *)'B');
  T_EQ(corun_status(B), CORUN_NORMAL);
  T_EQ(corun_status(A), CORUN_NORMAL);
  c_steps++;
  return (void *)'C';
}

static void *b_body(void *arg) {
  (void)arg;
  T_EQ(corun_status(A), CORUN_NORMAL);
  T_EQ(corun_status(B), CORUN_RUNNING);
  void *out = NULL;
  T_EQ(corun_resume(C, NULL, &out), 1);
  T_PTR_EQ(out, (void *)'c');
  T_PTR_EQ(corun_current(), B);
  T_EQ(corun_status(C), CORUN_SUSPENDED);
  T_EQ(corun_status(B), CORUN_RUNNING);
  T_EQ(corun_status(A), CORUN_NORMAL);
  void *in = corun_yield((void *)'b');
  T_PTR_EQ(in, (void *)'A');
  T_EQ(corun_resume(C, (void *)'B', &out), 0);
  T_PTR_EQ(out, (void *)'C');
  T_EQ(corun_status(C), CORUN_DEAD);
  return (void *)'R';
}

static void *a_body(void *arg) {
  (void)arg;
  void *out = NULL;
  T_EQ(corun_resume(B, NULL, &out), 1);
  T_PTR_EQ(out, (void *)'b');
  T_EQ(corun_status(B), CORUN_SUSPENDED);
  T_EQ(corun_status(C), CORUN_SUSPENDED);
  T_PTR_EQ(corun_current(), A);
  void *in = corun_yield((void *)'a');
  T_PTR_EQ(in, (void *)'M');
  T_EQ(corun_resume(B, (void *)'A', &out), 0);
  T_PTR_EQ(out, (void *)'R');
  return (void *)'Z';
}

static void chain_of_three(void) {
  T_OK(corun_create(&A, a_body, NULL, NULL));
  T_OK(corun_create(&B, b_body, NULL, NULL));
  T_OK(corun_create(&C, c_body, NULL, NULL));
  void *out = NULL;
  T_EQ(corun_resume(A, NULL, &out), 1);
  T_PTR_EQ(out, (void *)'a');
  T_EQ(c_steps, 1);
  T_EQ(corun_status(A), CORUN_SUSPENDED);
  T_EQ(corun_status(B), CORUN_SUSPENDED);
  T_EQ(corun_status(C), CORUN_SUSPENDED);
  T_PTR_EQ(corun_current(), NULL);
  T_EQ(corun_resume(A, (void *)'M', &out), 0);
  T_PTR_EQ(out, (void *)'Z');
  T_EQ(c_steps, 2);
  T_EQ(corun_status(A), CORUN_DEAD);
  T_EQ(corun_status(B), CORUN_DEAD);
  T_EQ(corun_status(C), CORUN_DEAD);
  T_OK(corun_destroy(C));
  T_OK(corun_destroy(B));
  T_OK(corun_destroy(A));
}

/* ---- (2) a deep chain -------------------------------------------------- */

#define DEPTH_MAX 1000
static corun_coro *deep[DEPTH_MAX];
static int depth = DEPTH_MAX; /* 200 under valgrind: see main() */

/* Level i resumes level i + 1; the deepest yields 0 and then returns its
 * `in` + 1. Every level passes the yield up adding 1, then passes the next
 * `in` down and the return value up adding 1. */
static void *deep_body(void *arg) {
  intptr_t i = (intptr_t)arg;
  T_PTR_EQ(corun_current(), deep[i]);
  if (i == depth - 1) {
    for (int j = 0; j < depth - 1; j++)
      T_EQ(corun_status(deep[j]), CORUN_NORMAL);
    void *in = corun_yield((void *)0);
    for (int j = 0; j < depth - 1; j++)
      T_EQ(corun_status(deep[j]), CORUN_NORMAL);
    return (void *)((intptr_t)in + 1);
  }
  void *v = NULL;
  T_EQ(corun_resume(deep[i + 1], NULL, &v), 1);
  T_EQ(corun_status(deep[i + 1]), CORUN_SUSPENDED);
  void *in = corun_yield((void *)((intptr_t)v + 1));
  T_EQ(corun_resume(deep[i + 1], in, &v), 0);
  T_EQ(corun_status(deep[i + 1]), CORUN_DEAD);
  return (void *)((intptr_t)v + 1);
}

static void deep_chain(void) {
  corun_attr attr = {.stack_size = 16 * 1024};
  for (intptr_t i = 0; i < depth; i++)
    T_OK(corun_create(&deep[i], deep_body, (void *)i, &attr));
  void *out = NULL;
  T_EQ(corun_resume(deep[0], NULL, &out), 1);
  T_EQ((intptr_t)out, depth - 1);
  for (int j = 0; j < depth; j++)
    T_EQ(corun_status(deep[j]), CORUN_SUSPENDED);
  T_EQ(corun_resume(deep[0], (void *)1000000, &out), 0);
  T_EQ((intptr_t)out, 1000000 + depth);
  for (int j = 0; j < depth; j++) {
    T_EQ(corun_status(deep[j]), CORUN_DEAD);
    T_OK(corun_destroy(deep[j]));
  }
}

/* ---- (3) many alive at once ---------------------------------------- */

/* TSan counts each coroutine (a TSan fiber) as a thread and dies past
 * 8,128 of them: a limit of the tool, so fewer there. */
#if CORUN__TSAN
#define MANY_MAX 4000
#else
#define MANY_MAX 10000
#endif
static int many = MANY_MAX; /* 1,000 under valgrind: see main() */
#define ROUNDS 3
static int closed_count;

/* Yields arg*1000 + k for k = 0.. and expects to receive arg + k back. */
static void *many_body(void *arg) {
  intptr_t id = (intptr_t)arg;
  for (intptr_t k = 0;; k++) {
    void *in = corun_yield((void *)(id * 1000 + k));
    if (corun_closing()) {
      T_PTR_EQ(in, NULL);
      closed_count++;
      return NULL;
    }
    T_EQ((intptr_t)in, id + k);
    if (k == ROUNDS - 1)
      return (void *)-id;
  }
}

static void many_alive(void) {
  static corun_coro *co[MANY_MAX];
  corun_attr attr = {.stack_size = 16 * 1024};
  for (intptr_t i = 0; i < many; i++)
    T_OK(corun_create(&co[i], many_body, (void *)i, &attr));
  void *out;
  for (intptr_t i = 0; i < many; i++) {
    T_EQ(corun_resume(co[i], NULL, &out), 1);
    T_EQ((intptr_t)out, i * 1000);
  }
  /* Half of them run to the end, round robin. */
  for (intptr_t k = 0; k < ROUNDS; k++)
    for (intptr_t i = 0; i < many; i += 2) {
      int rc = corun_resume(co[i], (void *)(i + k), &out);
      if (k < ROUNDS - 1) {
        T_EQ(rc, 1);
        T_EQ((intptr_t)out, i * 1000 + k + 1);
      } else {
        T_EQ(rc, 0);
        T_EQ((intptr_t)out, -i);
      }
    }
  for (intptr_t i = 0; i < many; i++)
    T_EQ(corun_status(co[i]), i % 2 ? CORUN_SUSPENDED : CORUN_DEAD);
  for (intptr_t i = 0; i < many; i++)
    T_OK(corun_destroy(co[i]));
  T_EQ(closed_count, many / 2);
}

int main(void) {
  /* Valgrind spends milliseconds per new stack (its guard madvise): keep
   * the run to seconds there. */
  if (t_under_valgrind()) {
    depth = 200;
    many = 1000;
  }
  chain_of_three();
  deep_chain();
  many_alive();
  return 0;
}
