/* harness.h: the timing loop shared by the benchmark programs (C and C++).
 *
 * Each program describes its cases as an array of struct bench_case and
 * calls bench_main(). A case is a function that performs `n` operations and
 * returns a checksum; the harness
 *  1. calibrates: doubles n until one call takes at least 2 ms, then scales
 *     n so that one call takes about the per-repetition target (-t, 20 ms);
 *  2. warms up: one full call with that n, discarded;
 *  3. measures R repetitions (-r, 11), interleaving the cases (repetition 1
 *     of every case, then repetition 2, ...) so that a noisy phase of the
 *     machine hits all cases alike;
 *  4. prints one line per case:
 *       result name=<case> iters=<n> reps=<R> median_ns=.. min_ns=..
 *              max_ns=.. samples=<ns/op of each repetition, comma-separated>
 * Times come from clock_gettime(CLOCK_MONOTONIC); ns/op = call time / n.
 * Checksums go to a volatile sink, so no loop can be optimised away.
 *
 * Options: -r R        repetitions (1..64, default 11)
 *          -t MS       target milliseconds per repetition (default 20)
 *          -n N        fixed iteration count: no calibration
 *          -w 0|1      warm-up call before measuring (default 1)
 *          -f NAME     run only this case (may be repeated)
 *          -l          list the cases and exit
 * `-n N -r 1 -w 0 -f NAME` runs exactly N operations once: run.sh uses it
 * under callgrind. */
#ifndef CORUN_BENCH_HARNESS_H
#define CORUN_BENCH_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_REPS 64
#define BENCH_MAX_FILTERS 16

struct bench_case {
  const char *name;
  /* Performs n operations; returns a checksum of their results. */
  uint64_t (*fn)(void *ctx, uint64_t n);
  void *ctx;
  /* Filled by the harness. */
  uint64_t n;
  double samples[BENCH_MAX_REPS];
};

static volatile uint64_t bench_sink;

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds taken by one call of c->fn with n operations. */
static inline double bench_time(struct bench_case *c, uint64_t n) {
  uint64_t t0 = bench_now_ns();
  uint64_t sum = c->fn(c->ctx, n);
  uint64_t t1 = bench_now_ns();
  bench_sink = bench_sink + sum;
  return (double)(t1 - t0);
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static inline void bench_usage(const char *prog) {
  fprintf(stderr,
          "usage: %s [-r reps] [-t ms_per_rep] [-n iters] [-w 0|1] "
          "[-f case]... [-l]\n",
          prog);
  exit(2);
}

static inline int bench_main(int argc, char **argv, struct bench_case *cases,
                             int ncases) {
  int reps = 11, warm = 1, nfilter = 0;
  double target_ms = 20;
  uint64_t fixed_n = 0;
  const char *filter[BENCH_MAX_FILTERS];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-l")) {
      for (int k = 0; k < ncases; k++)
        printf("%s\n", cases[k].name);
      return 0;
    }
    if (i + 1 >= argc || a[0] != '-' || a[1] == '\0' || a[2] != '\0')
      bench_usage(argv[0]);
    const char *v = argv[++i];
    switch (a[1]) {
    case 'r':
      reps = atoi(v);
      if (reps < 1 || reps > BENCH_MAX_REPS)
        bench_usage(argv[0]);
      break;
    case 't':
      target_ms = atof(v);
      if (!(target_ms > 0))
        bench_usage(argv[0]);
      break;
    case 'n':
      fixed_n = strtoull(v, NULL, 10);
      if (!fixed_n)
        bench_usage(argv[0]);
      break;
    case 'w':
      warm = atoi(v);
      break;
    case 'f':
      if (nfilter == BENCH_MAX_FILTERS)
        bench_usage(argv[0]);
      filter[nfilter++] = v;
      break;
    default:
      bench_usage(argv[0]);
    }
  }

  /* Select the cases; drop the others from the array. */
  int m = 0;
  for (int k = 0; k < ncases; k++) {
    int keep = nfilter == 0;
    for (int f = 0; f < nfilter; f++)
      keep |= !strcmp(filter[f], cases[k].name);
    if (keep)
      cases[m++] = cases[k];
  }
  if (m == 0) {
    fprintf(stderr, "%s: no such case\n", argv[0]);
    return 2;
  }

  /* Calibrate and warm up. */
  for (int k = 0; k < m; k++) {
    struct bench_case *c = &cases[k];
    if (fixed_n) {
      c->n = fixed_n;
    } else {
      uint64_t n = 16;
      double t;
      for (;;) {
        t = bench_time(c, n);
        if (t >= 2e6 || n >= ((uint64_t)1 << 40))
          break;
        n *= 2;
      }
      double scaled = (double)n * (target_ms * 1e6) / (t > 1 ? t : 1);
      c->n = scaled < 1 ? 1 : (uint64_t)scaled;
    }
    if (warm)
      (void)bench_time(c, c->n);
  }

  /* Measure, interleaved. */
  for (int r = 0; r < reps; r++)
    for (int k = 0; k < m; k++)
      cases[k].samples[r] = bench_time(&cases[k], cases[k].n) /
                            (double)cases[k].n;

  for (int k = 0; k < m; k++) {
    struct bench_case *c = &cases[k];
    double sorted[BENCH_MAX_REPS];
    memcpy(sorted, c->samples, sizeof(double) * (size_t)reps);
    qsort(sorted, (size_t)reps, sizeof(double), bench_cmp_double);
    double med = reps % 2 ? sorted[reps / 2]
                          : (sorted[reps / 2 - 1] + sorted[reps / 2]) / 2;
    printf("result name=%s iters=%llu reps=%d median_ns=%.3f min_ns=%.3f "
           "max_ns=%.3f samples=",
           c->name, (unsigned long long)c->n, reps, med, sorted[0],
           sorted[reps - 1]);
    for (int r = 0; r < reps; r++)
      printf("%s%.3f", r ? "," : "", c->samples[r]);
    printf("\n");
  }
  fflush(stdout);
  return 0;
}

#endif
