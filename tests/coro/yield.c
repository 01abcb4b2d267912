/* yield.c: proves resume/yield pass one pointer each way with Python
 * generator semantics: the first resume starts the body with its create
 * `arg` and its `in` is ignored; every later resume's `in` is what the
 * pending corun_yield() returns; a yield's value comes out of corun_resume()
 * with result 1 and the body's return value with result 0. Also proves the
 * status seen from inside and outside at each step (SUSPENDED before start
 * and in a yield, RUNNING inside, DEAD after return), corun_current() inside
 * and outside, that a NULL `out` is accepted, that a failed resume leaves
 * *out untouched, and that corun_yield() and corun_closing() outside any
 * coroutine do nothing (before and after the thread first used corun). */
#include <errno.h>

#include "t.h"
#include "corun.h"

#define IN_IGNORED ((void *)(intptr_t)0x1badc0de)
#define SENTINEL ((void *)(intptr_t)0x5e5e5e5e)

struct gen {
  corun_coro *self; /* set by main before the first resume */
  void *arg_seen;   /* the arg the body started with */
  void *ins[8];     /* what each corun_yield() returned */
  int nins;
  int status_inside;  /* corun_status(self) from inside */
  int closing_inside; /* corun_closing() from inside */
  corun_coro *current_inside;
};

/* Yields 10, 11, 12, ... recording what each yield returns; returns
 * 100 + the sum of the values it received when it receives NULL. */
static void *gen_body(void *arg) {
  struct gen *g = arg;
  g->arg_seen = arg;
  g->status_inside = corun_status(g->self);
  g->closing_inside = corun_closing();
  g->current_inside = corun_current();
  intptr_t sum = 0;
  for (intptr_t k = 10;; k++) {
    void *in = corun_yield((void *)k);
    /* After each switch back, we are running again. */
    T_EQ(corun_status(g->self), CORUN_RUNNING);
    T_PTR_EQ(corun_current(), g->self);
    g->ins[g->nins++] = in;
    if (!in)
      return (void *)(100 + sum);
    sum += (intptr_t)in;
  }
}

static void *ret_only(void *arg) {
  return arg;
}

static void *yield_null(void *arg) {
  (void)arg;
  void *in = corun_yield(NULL);
  T_PTR_EQ(in, NULL);
  return NULL;
}

int main(void) {
  /* Outside any coroutine, before the thread ever used corun. */
  T_PTR_EQ(corun_yield((void *)1), NULL);
  T_PTR_EQ(corun_current(), NULL);
  T_EQ(corun_closing(), 0);

  struct gen g = {0};
  corun_coro *co = NULL;
  T_OK(corun_create(&co, gen_body, &g, NULL));
  T_PTR_NE(co, NULL);
  g.self = co;
  T_EQ(corun_status(co), CORUN_SUSPENDED);
  T_PTR_EQ(g.arg_seen, NULL); /* not started by create */

  /* Outside, with the thread state present and a coroutine alive. */
  T_PTR_EQ(corun_yield((void *)1), NULL);
  T_PTR_EQ(corun_current(), NULL);
  T_EQ(corun_closing(), 0);
  T_EQ(corun_status(co), CORUN_SUSPENDED);
  T_PTR_EQ(g.arg_seen, NULL);

  /* First resume: in is ignored, the body gets arg. */
  void *out = SENTINEL;
  T_EQ(corun_resume(co, IN_IGNORED, &out), 1);
  T_PTR_EQ(out, (void *)10);
  T_PTR_EQ(g.arg_seen, &g);
  T_EQ(g.status_inside, CORUN_RUNNING);
  T_EQ(g.closing_inside, 0);
  T_PTR_EQ(g.current_inside, co);
  T_EQ(g.nins, 0); /* the first yield has not returned yet */
  T_EQ(corun_status(co), CORUN_SUSPENDED);
  T_PTR_EQ(corun_current(), NULL);

  /* Each later resume's in is what the pending yield returns. */
  T_EQ(corun_resume(co, (void *)5, &out), 1);
  T_PTR_EQ(out, (void *)11);
  T_EQ(g.nins, 1);
  T_PTR_EQ(g.ins[0], (void *)5);

  /* out == NULL is accepted: the value is simply dropped. */
  T_EQ(corun_resume(co, (void *)7, NULL), 1);
  T_EQ(g.nins, 2);
  T_PTR_EQ(g.ins[1], (void *)7);
  T_EQ(corun_status(co), CORUN_SUSPENDED);

  out = SENTINEL;
  T_EQ(corun_resume(co, (void *)30, &out), 1);
  T_PTR_EQ(out, (void *)13); /* 12 went to the NULL out */

  /* The return value comes out with result 0. */
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_PTR_EQ(out, (void *)(100 + 5 + 7 + 30));
  T_EQ(g.nins, 4);
  T_PTR_EQ(g.ins[3], NULL);
  T_EQ(corun_status(co), CORUN_DEAD);
  T_PTR_EQ(corun_current(), NULL);

  /* A dead coroutine: -ESRCH, nothing runs, *out untouched. */
  out = SENTINEL;
  T_EQ(corun_resume(co, (void *)1, &out), -ESRCH);
  T_PTR_EQ(out, SENTINEL);
  T_EQ(corun_resume(co, (void *)1, NULL), -ESRCH);
  T_EQ(g.nins, 4);
  T_EQ(corun_status(co), CORUN_DEAD);
  T_OK(corun_destroy(co));

  /* A body that returns at once: the first resume gives 0 and its value. */
  T_OK(corun_create(&co, ret_only, (void *)77, NULL));
  out = SENTINEL;
  T_EQ(corun_resume(co, IN_IGNORED, &out), 0);
  T_PTR_EQ(out, (void *)77);
  T_EQ(corun_status(co), CORUN_DEAD);
  T_OK(corun_destroy(co));

  /* NULL both ways is a value like any other: result 1 with NULL, then 0
   * with NULL. */
  T_OK(corun_create(&co, yield_null, NULL, NULL));
  out = SENTINEL;
  T_EQ(corun_resume(co, NULL, &out), 1);
  T_PTR_EQ(out, NULL);
  out = SENTINEL;
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_PTR_EQ(out, NULL);
  T_OK(corun_destroy(co));

  /* Two generators interleaved keep separate state. */
  struct gen a = {0}, b = {0};
  corun_coro *ca, *cb;
  T_OK(corun_create(&ca, gen_body, &a, NULL));
  T_OK(corun_create(&cb, gen_body, &b, NULL));
  a.self = ca;
  b.self = cb;
  T_EQ(corun_resume(ca, NULL, &out), 1);
  T_PTR_EQ(out, (void *)10);
  T_EQ(corun_resume(cb, NULL, &out), 1);
  T_PTR_EQ(out, (void *)10);
  T_EQ(corun_resume(ca, (void *)1, &out), 1);
  T_PTR_EQ(out, (void *)11);
  T_EQ(corun_resume(ca, (void *)2, &out), 1);
  T_PTR_EQ(out, (void *)12);
  T_EQ(corun_resume(cb, (void *)40, &out), 1);
  T_PTR_EQ(out, (void *)11);
  T_EQ(corun_resume(cb, NULL, &out), 0);
  T_PTR_EQ(out, (void *)140);
  T_EQ(corun_status(ca), CORUN_SUSPENDED);
  T_EQ(corun_resume(ca, NULL, &out), 0);
  T_PTR_EQ(out, (void *)103);
  T_OK(corun_destroy(ca));
  T_OK(corun_destroy(cb));
  return 0;
}
