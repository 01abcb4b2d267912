/* deque.c: the worker's Chase-Lev deque (src/sched/deque.h), alone.
 *
 * The deque never dereferences its tasks, so the tasks here are numbers
 * cast to pointers.
 *  - model: single-threaded sequences checked against what a deque must
 *    hold, including a full deque's older half taken at once
 *    (corun__deque_take_oldest), and that take on a deque that thieves
 *    emptied, or left with fewer than asked, since the owner found it
 *    full: it must refuse and leave the deque whole. (It once moved `top`
 *    past `bottom` there and handed out the slots of stolen tasks; a
 *    review's find.)
 *  - stress: an owner thread pushes numbered tasks, pops some, and takes
 *    the older half whenever the deque is full, sometimes only after the
 *    two thief threads have stolen most of it meanwhile; every number
 *    must come out exactly once.
 * CORUN_TEST_SCALE=<factor> scales the stress (sanitizers, Valgrind and
 * qemu: a tenth of it). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scale.h"
#include "sched/deque.h"
#include "t.h"

#define CAP CORUN__DEQUE_CAP
#define HALF (CAP / 2)

static struct corun_task *task_n(uintptr_t n) {
  return (struct corun_task *)n;
}
static uintptr_t n_of(struct corun_task *t) {
  return (uintptr_t)t;
}

static void fill(struct corun__deque *d, uintptr_t from, size_t n) {
  for (size_t i = 0; i < n; i++)
    T_OK(corun__deque_push(d, task_n(from + i)));
}

static void model(void) {
  struct corun__deque d;
  memset(&d, 0, sizeof d);
  /* Full: the next push fails; the older half comes out in order; the
   * rest pops newest first and steals oldest first. */
  fill(&d, 1, CAP);
  T_EQ(corun__deque_push(&d, task_n(999)), -1);
  ptrdiff_t at = corun__deque_take_oldest(&d, HALF);
  T_GE(at, 0);
  for (size_t i = 0; i < HALF; i++)
    T_EQ(n_of(corun__deque_at(&d, (size_t)at + i)), 1 + i);
  T_OK(corun__deque_push(&d, task_n(999)));
  T_EQ(n_of(corun__deque_pop(&d)), 999);
  T_EQ(n_of(corun__deque_steal(&d)), 1 + HALF);
  T_EQ(n_of(corun__deque_pop(&d)), CAP);
  size_t left = CAP - HALF - 2;
  for (size_t i = 0; i < left; i++)
    T_TRUE(corun__deque_pop(&d) != NULL);
  T_PTR_EQ(corun__deque_pop(&d), NULL);
  T_PTR_EQ(corun__deque_steal(&d), NULL);
  T_EQ(corun__deque_busy(&d), 0);

  /* Found full, then emptied by thieves, or left with fewer than half:
   * the take refuses, and the deque still works (top never passes
   * bottom). */
  static const size_t stolen[] = {CAP, CAP - 1, CAP - HALF + 1};
  for (size_t k = 0; k < sizeof stolen / sizeof stolen[0]; k++) {
    memset(&d, 0, sizeof d);
    fill(&d, 1, CAP);
    T_EQ(corun__deque_push(&d, task_n(999)), -1);
    for (size_t i = 0; i < stolen[k]; i++)
      T_EQ(n_of(corun__deque_steal(&d)), 1 + i);
    T_EQ(corun__deque_take_oldest(&d, HALF), -1);
    T_LE(atomic_load(&d.top), atomic_load(&d.bottom));
    T_OK(corun__deque_push(&d, task_n(999)));
    for (size_t i = stolen[k]; i < CAP; i++)
      T_EQ(n_of(corun__deque_steal(&d)), 1 + i);
    T_EQ(n_of(corun__deque_pop(&d)), 999);
    T_PTR_EQ(corun__deque_pop(&d), NULL);
  }

  /* Found full, some stolen but at least half left: the take gets the
   * oldest that remain. */
  memset(&d, 0, sizeof d);
  fill(&d, 1, CAP);
  for (size_t i = 0; i < 100; i++)
    T_EQ(n_of(corun__deque_steal(&d)), 1 + i);
  at = corun__deque_take_oldest(&d, HALF);
  T_GE(at, 0);
  for (size_t i = 0; i < HALF; i++)
    T_EQ(n_of(corun__deque_at(&d, (size_t)at + i)), 101 + i);
  T_EQ(n_of(corun__deque_steal(&d)), 101 + HALF);
}

/* ---- stress ------------------------------------------------------------ */

static struct corun__deque sd;
static atomic_int *seen; /* times each number came out (an int: a byte
                          * needs libatomic on RISC-V) */
static atomic_int done;
static atomic_long stolen_count;

static void out(struct corun_task *t) {
  uintptr_t n = n_of(t);
  T_TRUE(n >= 1);
  int times_before = atomic_fetch_add(&seen[n], 1);
  T_EQ(times_before, 0); /* a task handed out twice */
}

static void *thief(void *arg) {
  (void)arg;
  for (;;) {
    struct corun_task *t = corun__deque_steal(&sd);
    if (t) {
      out(t);
      atomic_fetch_add(&stolen_count, 1);
    } else if (atomic_load(&done) && !corun__deque_busy(&sd)) {
      return NULL;
    }
  }
}

static void stress(long total) {
  seen = calloc((size_t)total + 1, sizeof *seen);
  T_TRUE(seen != NULL);
  memset(&sd, 0, sizeof sd);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    T_OK(pthread_create(&th[i], NULL, thief, NULL));
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  long takes = 0, late_takes = 0;
  for (uintptr_t n = 1; n <= (uintptr_t)total; n++) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    if (corun__deque_push(&sd, task_n(n)) == 0) {
      if (rng % 8 == 0) { /* the owner runs one of its own */
        struct corun_task *t = corun__deque_pop(&sd);
        if (t)
          out(t);
      }
      continue;
    }
    /* Full. Sometimes wait, as a preempted owner would, until the thieves
     * have taken most of it. */
    if (rng % 4 == 0) {
      long before = atomic_load(&stolen_count);
      while (atomic_load(&stolen_count) - before < CAP - 16 &&
             corun__deque_busy(&sd))
        ;
      late_takes++;
    }
    ptrdiff_t at = corun__deque_take_oldest(&sd, HALF);
    if (at >= 0) {
      takes++;
      for (size_t i = 0; i < HALF; i++)
        out(corun__deque_at(&sd, (size_t)at + i));
    }
    T_OK(corun__deque_push(&sd, task_n(n)));
  }
  atomic_store(&done, 1);
  struct corun_task *t;
  while ((t = corun__deque_pop(&sd)) != NULL)
    out(t);
  for (int i = 0; i < 2; i++)
    T_OK(pthread_join(th[i], NULL));
  for (long n = 1; n <= total; n++)
    T_EQ(atomic_load(&seen[n]), 1);
  printf("stress: %ld tasks, %ld halves taken (%ld after a wait), %ld stolen\n",
         total, takes, late_takes, (long)atomic_load(&stolen_count));
  free(seen);
}

int main(void) {
  model();
  long tasks = scaled(200000);
  stress(tasks > 1000 ? tasks : 1000);
  return 0;
}
