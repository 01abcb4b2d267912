/* frames.h: stack-resident state for the shared-stack tests (not a test
 * program): hold() builds `depth` frames, each with a pattern and a pointer
 * to itself kept in stack memory, runs an action at the bottom (a yield, a
 * resume, a transfer...) and checks every frame on the way back, so any
 * switch done at the bottom must preserve the whole live stack. */
#ifndef CORUN_TESTS_SHARED_FRAMES_H
#define CORUN_TESTS_SHARED_FRAMES_H

#include "corun.h"
#include "shared.h"
#include "t.h"

typedef void frames_action(void *);

static T_NOIPA void hold(uint64_t who, uint64_t round, int depth,
                         frames_action *fn, void *arg) {
  volatile unsigned char frame[112];
  volatile unsigned char *volatile self = frame;
  uint64_t tag = round * 1000 + (uint64_t)depth;
  shared_fill(frame, sizeof frame, who, tag);
  if (depth <= 1)
    fn(arg);
  else
    hold(who, round, depth - 1, fn, arg);
  T_PTR_EQ((const void *)self, (const void *)frame);
  SHARED_CHECK(self, sizeof frame, who, tag);
}

/* Actions. */
struct act_yield {
  void *out, *in;
};
static inline void act_yield(void *p) {
  struct act_yield *y = p;
  y->in = corun_yield(y->out);
}

struct act_resume {
  corun_coro *co;
  void *in, *out;
  int rc;
};
static inline void act_resume(void *p) {
  struct act_resume *r = p;
  r->out = NULL;
  r->rc = corun_resume(r->co, r->in, &r->out);
}

struct act_transfer {
  corun_coro *to;
  void *in, *out;
  int rc;
};
static inline void act_transfer(void *p) {
  struct act_transfer *t = p;
  t->out = NULL;
  t->rc = corun_transfer(t->to, t->in, &t->out);
}

#endif
