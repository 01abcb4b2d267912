/* timers.c: deadlines whose waits end early, and the timers after them.
 * A wait that ends before its deadline leaves its timer's node in the
 * worker's heap (park.c, "timers"); these cases check what that must not
 * change, each with 1 and 2 workers:
 *  - a later park with no deadline is not woken by the node left behind;
 *  - a later deadline, later than the one left, does not fire early;
 *  - an earlier one fires on time (it is not held back by the old node);
 *  - thousands of tasks that each leave a node and end, whose task
 *    objects are reused, leave the heap sound (sleeps of mixed lengths
 *    afterwards all end, none before its deadline), and nothing leaks
 *    (Valgrind and ASan builds);
 *  - sleepers wake while a task that yields in a loop keeps their worker
 *    from ever going idle (between tasks a worker reads the clock only
 *    every few microseconds: worker.h, corun__timers_due);
 *  - on such a worker, sleeps of 1 ns to 3 us, which take their start
 *    from the worker's last clock reading and the counter since (where
 *    the counter is trusted: x86-64 with clocksource tsc, AArch64;
 *    elsewhere from the clock, and the case checks that path), last at
 *    least what they asked, timed with corun_now() around each; and
 *    corun_deadline_in(ns), the same estimate, is never before
 *    corun_now() + ns (nor 1 ms after it); outside a task too.
 * The waits end early because a partner sends on the channel the task
 * receives from, 2 ms after it started waiting (so it has parked); their
 * deadlines are 100 ms (with 20 ms the wait timed out once in about 200
 * runs, on a machine loaded with other test runs: the partner's wake-up
 * came that late).
 * "Not before its deadline" is checked against corun_now(); how late a
 * timer fires is not asserted (sleep precision is bench's business). */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "t.h"

#define MS 1000000LL
#define HOUR (3600 * 1000 * MS)

struct pair {
  corun_chan *early; /* the partner sends here after 2 ms */
  corun_chan *late;  /* only the main task sends here, if anyone */
};

static void *partner(void *arg) {
  struct pair *p = arg;
  long v = 7;
  T_OK(corun_sleep(2 * MS));
  T_OK(corun_chan_send(p->early, &v, -1));
  return NULL;
}

/* Waits on p->early with a deadline `ahead` from now, which the partner
 * ends early. */
static void wait_ended_early(struct pair *p, int64_t ahead) {
  corun_task *t;
  long v = 0;
  T_OK(corun_spawn(&t, partner, p, NULL));
  T_OK(corun_chan_recv(p->early, &v, corun_now() + ahead));
  T_EQ(v, 7);
  T_OK(corun_join(t, NULL));
}

/* The node left behind is due at 100 ms; the task is then parked with no
 * deadline, and only the main task's send at 300 ms may wake it. */
static void *left_then_no_deadline(void *arg) {
  struct pair *p = arg;
  long v = 0;
  wait_ended_early(p, 100 * MS);
  T_OK(corun_chan_recv(p->late, &v, -1));
  T_EQ(v, 42);
  return NULL;
}

/* A deadline later than the node left behind: not a moment early. */
static void *left_then_later(void *arg) {
  struct pair *p = arg;
  long v;
  wait_ended_early(p, 100 * MS);
  int64_t d = corun_now() + 300 * MS;
  T_EQ(corun_chan_recv(p->late, &v, d), -ETIMEDOUT);
  T_GE(corun_now(), d);
  return NULL;
}

/* A deadline earlier than the node left behind (an hour): fires now,
 * not in an hour (the test would time out). */
static void *left_then_earlier(void *arg) {
  struct pair *p = arg;
  long v;
  wait_ended_early(p, HOUR);
  int64_t d = corun_now() + 20 * MS;
  T_EQ(corun_chan_recv(p->late, &v, d), -ETIMEDOUT);
  T_GE(corun_now(), d);
  /* And once more: the same node, moved up, is reused in place. */
  d = corun_now() + 10 * MS;
  T_EQ(corun_chan_recv(p->late, &v, d), -ETIMEDOUT);
  T_GE(corun_now(), d);
  return NULL;
}

static void run_case(corun_fn *fn, int send_late) {
  struct pair p;
  T_OK(corun_chan_make(&p.early, sizeof(long), 0));
  T_OK(corun_chan_make(&p.late, sizeof(long), 0));
  corun_task *t;
  T_OK(corun_spawn(&t, fn, &p, NULL));
  if (send_late) {
    long v = 42;
    T_OK(corun_sleep(300 * MS));
    T_OK(corun_chan_send(p.late, &v, -1));
  }
  T_OK(corun_join(t, NULL));
  T_OK(corun_chan_free(p.early));
  T_OK(corun_chan_free(p.late));
}

/* ---- many tasks that leave a node and end ------------------------------ */

#define WAVES 20
#define PER_WAVE 200
#define SLEEPERS 64

static corun_chan *feed;

static void *leaves_a_node(void *arg) {
  long v = 0;
  /* A far deadline: the main task's send ends the wait. */
  T_OK(corun_chan_recv(feed, &v, corun_now() + HOUR));
  T_EQ(v, (long)(intptr_t)arg);
  return NULL;
}

static void *sleeper(void *arg) {
  int64_t ns = (int64_t)(intptr_t)arg;
  int64_t start = corun_now();
  T_OK(corun_sleep(ns));
  T_GE(corun_now(), start + ns);
  return NULL;
}

static void many_tasks(void) {
  T_OK(corun_chan_make(&feed, sizeof(long), 0));
  corun_task *t[PER_WAVE];
  for (int wave = 0; wave < WAVES; wave++) {
    for (long i = 0; i < PER_WAVE; i++)
      T_OK(corun_spawn(&t[i], leaves_a_node, (void *)(intptr_t)wave, NULL));
    T_OK(corun_sleep(1 * MS)); /* most of them park meanwhile */
    for (long i = 0; i < PER_WAVE; i++) {
      long v = wave;
      T_OK(corun_chan_send(feed, &v, -1));
    }
    for (long i = 0; i < PER_WAVE; i++)
      T_OK(corun_join(t[i], NULL));
  }
  T_OK(corun_chan_free(feed));
  /* The heap after all that: sleeps of 1..16 ms, each not before its
   * time, and all of them end. */
  corun_task *s[SLEEPERS];
  for (long i = 0; i < SLEEPERS; i++)
    T_OK(corun_spawn(&s[i], sleeper, (void *)(intptr_t)((1 + i % 16) * MS),
                     NULL));
  for (long i = 0; i < SLEEPERS; i++)
    T_OK(corun_join(s[i], NULL));
}

/* ---- timers of a worker that never idles ------------------------------- */

static atomic_int woke;

static void *counted_sleeper(void *arg) {
  sleeper(arg);
  atomic_fetch_add(&woke, 1);
  return NULL;
}

/* Yields until every sleeper has woken: only timers fired between tasks
 * can end it (with one worker, that worker never goes idle meanwhile). */
static void *spinner(void *arg) {
  int all = (int)(intptr_t)arg;
  while (atomic_load(&woke) < all)
    corun_yield(NULL);
  return NULL;
}

static void busy_worker(void) {
  atomic_store(&woke, 0);
  corun_task *s[SLEEPERS], *spin;
  for (long i = 0; i < SLEEPERS; i++)
    T_OK(corun_spawn(&s[i], counted_sleeper,
                     (void *)(intptr_t)((1 + i % 4) * MS), NULL));
  T_OK(corun_spawn(&spin, spinner, (void *)(intptr_t)SLEEPERS, NULL));
  for (long i = 0; i < SLEEPERS; i++)
    T_OK(corun_join(s[i], NULL));
  T_OK(corun_join(spin, NULL));
  T_EQ(atomic_load(&woke), SLEEPERS);
}

/* ---- short sleeps on a busy worker: never shorter than asked ----------- */

#define SHORT_SLEEPS 3000

/* Sleeps of 1 ns to 3 us, each timed with corun_now() around it, while a
 * spinner keeps the worker busy (so corun_sleep takes its time from the
 * worker's last clock reading and the counter, park.c now_at_least,
 * where the counter is trusted). Each must last at least what it asked. */
static void *short_sleeper(void *arg) {
  (void)arg;
  for (int i = 0; i < SHORT_SLEEPS; i++) {
    int64_t ns = 1 + i % 3000;
    int64_t t0 = corun_now();
    T_OK(corun_sleep(ns));
    int64_t t1 = corun_now();
    T_GE(t1 - t0, ns);
    /* A deadline from the same estimate: not before now + ns, and not
     * far after it (1 ms: a loose bound, for a loaded machine). */
    t0 = corun_now();
    int64_t d = corun_deadline_in(ns);
    t1 = corun_now();
    T_GE(d, t0 + ns);
    T_LE(d, t1 + ns + MS);
  }
  atomic_fetch_add(&woke, 1);
  return NULL;
}

static void short_sleeps(void) {
  atomic_store(&woke, 0);
  corun_task *s, *spin;
  T_OK(corun_spawn(&s, short_sleeper, NULL, NULL));
  T_OK(corun_spawn(&spin, spinner, (void *)(intptr_t)1, NULL));
  T_OK(corun_join(s, NULL));
  T_OK(corun_join(spin, NULL));
}

static void *main_task(void *arg) {
  (void)arg;
  run_case(left_then_no_deadline, 1);
  run_case(left_then_later, 0);
  run_case(left_then_earlier, 0);
  many_tasks();
  busy_worker();
  short_sleeps();
  /* The single cases again, after the heap has seen all that. */
  run_case(left_then_later, 0);
  run_case(left_then_earlier, 0);
  return NULL;
}

int main(void) {
  /* corun_deadline_in outside a task: the clock; and its edges. */
  int64_t t0 = corun_now();
  int64_t d = corun_deadline_in(5 * MS);
  T_GE(d, t0 + 5 * MS);
  T_LE(d, corun_now() + 5 * MS);
  T_EQ(corun_deadline_in(-1), -1);
  T_EQ(corun_deadline_in(INT64_MIN), -1);
  T_EQ(corun_deadline_in(INT64_MAX), INT64_MAX);
  T_GE(corun_deadline_in(0), t0);
  for (unsigned workers = 1; workers <= 2; workers++) {
    corun_config cfg = {.workers = workers};
    T_OK(corun_main(main_task, NULL, &cfg));
  }
  return 0;
}
