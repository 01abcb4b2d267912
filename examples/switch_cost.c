/* switch_cost.c: what one corun_resume() + corun_yield() round trip costs.
 *
 * From seeds/004 (the article, "实现" / C: a few instructions that swap only
 * the stack pointer and program counter are "明显的要更快" than ucontext) and
 * seeds/000 (the lecture: coroutines cost so little that a laptop runs
 * hundreds of thousands). Runs RUNS batches of ROUND_TRIPS round trips and
 * prints the median time per round trip, on one line. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "corun.h"

#define RUNS 10
#define ROUND_TRIPS 2000000L

#ifndef CORUN_BACKEND_NAME /* CMake passes CORUN_CONTEXT: asm or ucontext */
#define CORUN_BACKEND_NAME "unknown"
#endif

static void *ping(void *arg) {
  (void)arg;
  while (!corun_closing())
    corun_yield(NULL);
  return NULL;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "switch_cost: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

int main(void) {
  corun_coro *co;
  double ns[RUNS];
  int rc = 1; /* what each resume returns while ping is yielding */
  check(corun_create(&co, ping, NULL, NULL), "create");
  for (long i = 0; rc == 1 && i < ROUND_TRIPS / 10; i++) /* warm up */
    rc = corun_resume(co, NULL, NULL);
  for (int run = 0; rc == 1 && run < RUNS; run++) {
    double t0 = now_ns();
    for (long i = 0; rc == 1 && i < ROUND_TRIPS; i++)
      rc = corun_resume(co, NULL, NULL);
    ns[run] = (now_ns() - t0) / ROUND_TRIPS;
  }
  check(rc, "resume");
  check(corun_destroy(co), "destroy");
  qsort(ns, RUNS, sizeof ns[0], cmp_double);
  printf("corun: resume+yield round trip %.1f ns (median of %d runs, %s "
         "backend)\n",
         (ns[RUNS / 2 - 1] + ns[RUNS / 2]) / 2, RUNS, CORUN_BACKEND_NAME);
  return 0;
}
