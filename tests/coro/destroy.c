/* destroy.c: proves corun_destroy() in every state. Never started: the body
 * never runs, 0. Suspended in a yield: resumed once with corun_closing() == 1
 * and corun_yield() returning NULL, its cleanup runs, 0; the closing body
 * can itself resume and destroy other coroutines (they see closing == 0 and
 * then 1). Dead: 0, the body does not run again. A body that yields again
 * (or transfers away) while closing: -ECANCELED, the rest of its body never
 * runs, and it is freed (the stack goes back to the pool: rounds of 300
 * destroys of the three kinds make no new stack). A coroutine that is
 * RUNNING (itself) or NORMAL (its resumer): -EBUSY and nothing is freed (it
 * keeps working).
 * Destroying from inside another coroutine makes that one the resumer of
 * the close. corun_destroy(NULL) is -EINVAL. */
#include <errno.h>

#include "t.h"
#include "corun.h"
#include "stack/stack.h"

struct rec {
  int started;      /* the body began */
  int closing;      /* corun_closing() after the first yield */
  void *yielded_in; /* what the first yield returned */
  int cleaned;      /* the cleanup after the first yield ran */
  int after;        /* code that must never run */
};

#define SENTINEL ((void *)(intptr_t)0x5e5e5e5e)

static void *yield_once(void *arg) {
  struct rec *r = arg;
  r->started++;
  T_EQ(corun_closing(), 0);
  r->yielded_in = SENTINEL;
  r->yielded_in = corun_yield((void *)1);
  r->closing = corun_closing();
  r->cleaned++;
  return (void *)123; /* ignored by destroy */
}

/* Yields again while closing: the code after that yield never runs. */
static void *stubborn(void *arg) {
  struct rec *r = arg;
  r->started++;
  corun_yield(NULL);
  r->closing = corun_closing();
  r->cleaned++;
  corun_yield((void *)2);
  r->after++;
  return NULL;
}

static void never_started(void) {
  struct rec r = {0};
  corun_coro *co;
  T_OK(corun_create(&co, yield_once, &r, NULL));
  T_OK(corun_destroy(co));
  T_EQ(r.started, 0);
  T_EQ(r.cleaned, 0);
}

static void suspended(void) {
  struct rec r = {0};
  corun_coro *co;
  T_OK(corun_create(&co, yield_once, &r, NULL));
  void *out = NULL;
  T_EQ(corun_resume(co, NULL, &out), 1);
  T_EQ(r.started, 1);
  T_OK(corun_destroy(co));
  T_EQ(r.started, 1);
  T_EQ(r.cleaned, 1);
  T_EQ(r.closing, 1);
  T_PTR_EQ(r.yielded_in, NULL);
  T_EQ(corun_closing(), 0); /* back in main */
  T_PTR_EQ(corun_current(), NULL);
}

static void dead(void) {
  struct rec r = {0};
  corun_coro *co;
  T_OK(corun_create(&co, yield_once, &r, NULL));
  void *out;
  T_EQ(corun_resume(co, NULL, &out), 1);
  T_EQ(corun_resume(co, (void *)9, &out), 0);
  T_PTR_EQ(out, (void *)123);
  T_EQ(r.closing, 0);
  T_PTR_EQ(r.yielded_in, (void *)9);
  T_OK(corun_destroy(co));
  T_EQ(r.started, 1);
  T_EQ(r.cleaned, 1);
}

static void yields_while_closing(void) {
  struct rec r = {0};
  corun_coro *co;
  T_OK(corun_create(&co, stubborn, &r, NULL));
  T_EQ(corun_resume(co, NULL, NULL), 1);
  T_EQ(corun_destroy(co), -ECANCELED);
  T_EQ(r.closing, 1);
  T_EQ(r.cleaned, 1);
  T_EQ(r.after, 0);
  T_PTR_EQ(corun_current(), NULL);
  T_EQ(corun_closing(), 0);
}

/* Transfers away while closing: the coroutine it hands control to inherits
 * the destroyer as resumer; its yield ends the close. */
static corun_coro *away_to;
static int away_to_runs, away_after;

static void *away_target(void *arg) {
  (void)arg;
  away_to_runs++;
  T_EQ(corun_closing(), 0); /* it is not the one being closed */
  void *in = corun_yield((void *)'t');
  T_PTR_EQ(in, (void *)'m');
  away_to_runs++;
  return (void *)'T';
}

static void *goes_away(void *arg) {
  (void)arg;
  corun_yield(NULL);
  T_EQ(corun_closing(), 1);
  corun_transfer(away_to, NULL, NULL);
  away_after++;
  return NULL;
}

static void transfers_while_closing(void) {
  corun_coro *co;
  T_OK(corun_create(&co, goes_away, NULL, NULL));
  T_OK(corun_create(&away_to, away_target, NULL, NULL));
  T_EQ(corun_resume(co, NULL, NULL), 1);
  T_EQ(corun_destroy(co), -ECANCELED);
  T_EQ(away_after, 0);
  T_EQ(away_to_runs, 1);
  T_EQ(corun_status(away_to), CORUN_SUSPENDED);
  void *out = NULL;
  T_EQ(corun_resume(away_to, (void *)'m', &out), 0);
  T_PTR_EQ(out, (void *)'T');
  T_EQ(away_to_runs, 2);
  T_OK(corun_destroy(away_to));
}

/* -EBUSY: a coroutine cannot destroy itself or its (NORMAL) resumer. */
static corun_coro *busy_outer, *busy_inner;
static int busy_checked;

static void *busy_inner_body(void *arg) {
  (void)arg;
  T_EQ(corun_destroy(busy_inner), -EBUSY);
  T_EQ(corun_destroy(busy_outer), -EBUSY);
  /* Nothing was freed: both are intact. */
  T_EQ(corun_status(busy_inner), CORUN_RUNNING);
  T_EQ(corun_status(busy_outer), CORUN_NORMAL);
  T_PTR_EQ(corun_current(), busy_inner);
  void *in = corun_yield((void *)'i');
  T_PTR_EQ(in, (void *)'j');
  busy_checked++;
  return (void *)'I';
}

static void *busy_outer_body(void *arg) {
  (void)arg;
  T_EQ(corun_destroy(busy_outer), -EBUSY);
  void *out = NULL;
  T_EQ(corun_resume(busy_inner, NULL, &out), 1);
  T_PTR_EQ(out, (void *)'i');
  void *in = corun_yield((void *)'o');
  T_PTR_EQ(in, (void *)'p');
  T_EQ(corun_resume(busy_inner, (void *)'j', &out), 0);
  T_PTR_EQ(out, (void *)'I');
  return (void *)'O';
}

static void busy(void) {
  T_OK(corun_create(&busy_outer, busy_outer_body, NULL, NULL));
  T_OK(corun_create(&busy_inner, busy_inner_body, NULL, NULL));
  void *out = NULL;
  T_EQ(corun_resume(busy_outer, NULL, &out), 1);
  T_PTR_EQ(out, (void *)'o');
  T_EQ(corun_resume(busy_outer, (void *)'p', &out), 0);
  T_PTR_EQ(out, (void *)'O');
  T_EQ(busy_checked, 1);
  T_OK(corun_destroy(busy_inner));
  T_OK(corun_destroy(busy_outer));
  T_EQ(corun_destroy(NULL), -EINVAL);
}

/* A closing body that owns another coroutine resumes it and destroys it:
 * the owned one sees closing == 0 when resumed, 1 when destroyed. The whole
 * thing is destroyed from inside a third coroutine, which is NORMAL while
 * the close runs. */
static corun_coro *owner, *owned, *killer;
static int owned_closing_seen[2], owner_cleaned;

static void *owned_body(void *arg) {
  (void)arg;
  owned_closing_seen[0] = corun_closing();
  corun_yield((void *)'w');
  owned_closing_seen[1] = corun_closing();
  return NULL;
}

static void *owner_body(void *arg) {
  (void)arg;
  void *in = corun_yield(NULL);
  T_PTR_EQ(in, NULL);
  T_EQ(corun_closing(), 1);
  T_EQ(corun_status(killer), CORUN_NORMAL);
  void *out = NULL;
  T_EQ(corun_resume(owned, NULL, &out), 1);
  T_PTR_EQ(out, (void *)'w');
  T_EQ(corun_closing(), 1); /* still ours */
  T_OK(corun_destroy(owned));
  owner_cleaned = 1;
  return NULL;
}

static void *killer_body(void *arg) {
  (void)arg;
  T_OK(corun_destroy(owner));
  T_EQ(corun_closing(), 0);
  T_PTR_EQ(corun_current(), killer);
  return (void *)'k';
}

static void close_from_coroutine(void) {
  T_OK(corun_create(&owner, owner_body, NULL, NULL));
  T_OK(corun_create(&owned, owned_body, NULL, NULL));
  T_OK(corun_create(&killer, killer_body, NULL, NULL));
  T_EQ(corun_resume(owner, NULL, NULL), 1);
  void *out = NULL;
  T_EQ(corun_resume(killer, NULL, &out), 0);
  T_PTR_EQ(out, (void *)'k');
  T_EQ(owner_cleaned, 1);
  T_EQ(owned_closing_seen[0], 0);
  T_EQ(owned_closing_seen[1], 1);
  T_OK(corun_destroy(killer));
}

/* Every kind of destroy gives the stack back: with 300 coroutines alive at
 * a time (more than a thread's pool keeps, so stacks also go through the
 * shared pool), destroyed in the three ways, rounds after the first map no
 * new stack. */
#define LIVE 300
static void stacks_come_back(void) {
  static corun_coro *co[LIVE];
  struct corun__stack_stats before, after;
  struct rec r = {0};
  for (int round = 0; round < 4; round++) {
    corun__stack_get_stats(&before);
    for (int i = 0; i < LIVE; i++) {
      T_OK(corun_create(&co[i], i % 3 ? yield_once : stubborn, &r, NULL));
      if (i % 3 != 2)
        T_EQ(corun_resume(co[i], NULL, NULL), 1);
    }
    for (int i = 0; i < LIVE; i++)
      T_EQ(corun_destroy(co[i]), i % 3 ? 0 : -ECANCELED);
    corun__stack_get_stats(&after);
    if (round > 0) { /* the first round may grow the pool */
      T_EQ(after.slots, before.slots);
      T_EQ(after.slabs, before.slabs);
    }
  }
  T_EQ(r.after, 0);
  T_EQ(r.started, 4 * LIVE * 2 / 3);
  T_EQ(r.cleaned, 4 * LIVE * 2 / 3);
}

int main(void) {
  never_started();
  suspended();
  dead();
  yields_while_closing();
  transfers_while_closing();
  busy();
  close_from_coroutine();
  stacks_come_back();
  return 0;
}
