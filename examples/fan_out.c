/* fan_out.c: fan-out/fan-in over a channel of jobs and a channel of
 * results, with CPU-bound tasks spread over worker threads.
 *
 * From seeds/000 (the lecture, on Go): a stackful coroutine can move from
 * one thread to another, and Go's scheduler spreads goroutines over
 * threads; but coroutine scheduling is cooperative, so "if a coroutine runs
 * for a long time, the others queued on that thread are deprived of the
 * chance to run" unless it gives the thread back now and then (Go's
 * compiler inserts such a check in function prologues; in C the program
 * calls corun_yield() itself).
 *
 * A feeder task sends ranges of integers on `jobs` and closes it; TASKS
 * counter tasks each take ranges until `jobs` is closed and send the number
 * of primes in each range on `results`; the main task adds up the results.
 * The same program runs under corun_main() with 1 and then 2 worker
 * threads: the tasks do not change, only how many threads run them. It
 * prints both wall times and the speedup (about 2 on two idle cores).
 *
 * Usage: fan_out [LIMIT]   counts the primes below LIMIT (default
 * 2,000,000). Exits 1 unless both runs find the count that a plain
 * sequential loop finds and every job was done once. */
#include <corun.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TASKS 4        /* counter tasks: more than workers, on purpose */
#define CHUNK 10000    /* integers per job */
#define YIELD_EVERY 64 /* integers tested between two corun_yield() calls */

struct job {
  long lo, hi; /* count the primes in [lo, hi) */
};
struct result {
  long primes; /* in the job's range */
  long job;    /* lo / CHUNK: which job it was */
};

struct run {
  long limit, njobs;
  corun_chan *jobs, *results;
  long total;          /* primes counted, set by main_task */
  long jobs_done;      /* results received */
  long done_by[TASKS]; /* jobs each counter did (returned by its join) */
  unsigned char *seen; /* per job: results received for it */
};

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "fan_out: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

static int is_prime(long x) {
  if (x < 2)
    return 0;
  for (long d = 2; d <= x / d; d++)
    if (x % d == 0)
      return 0;
  return 1;
}

/* The CPU-bound part, shared with the sequential check. `yield` is 1 in a
 * task: a job takes milliseconds, and without the yields a counter would
 * keep its worker for all that time while the feeder and main wait in the
 * run queue behind it. */
static long count_primes(long lo, long hi, int yield) {
  long n = 0;
  for (long x = lo; x < hi; x++) {
    n += is_prime(x);
    if (yield && x % YIELD_EVERY == 0)
      corun_yield(NULL); /* in a task: back to the scheduler, runs again */
  }
  return n;
}

static void *feeder(void *arg) {
  struct run *r = arg;
  for (long lo = 0; lo < r->limit; lo += CHUNK) {
    struct job j = {lo, lo + CHUNK < r->limit ? lo + CHUNK : r->limit};
    check(corun_chan_send(r->jobs, &j, -1), "feeder: send");
  }
  /* No more jobs: each counter's next receive fails with -EPIPE once the
   * buffered jobs are gone, which is how it knows to stop. */
  check(corun_chan_close(r->jobs), "feeder: close");
  return NULL;
}

static void *counter(void *arg) {
  struct run *r = arg;
  long done = 0;
  for (;;) {
    struct job j;
    int rc = corun_chan_recv(r->jobs, &j, -1);
    if (rc == -EPIPE) /* closed and drained */
      break;
    check(rc, "counter: recv");
    struct result res = {count_primes(j.lo, j.hi, 1), j.lo / CHUNK};
    check(corun_chan_send(r->results, &res, -1), "counter: send");
    done++;
  }
  return (void *)(intptr_t)done;
}

static void *main_task(void *arg) {
  struct run *r = arg;
  corun_task *feed, *counters[TASKS];
  check(corun_spawn(&feed, feeder, r, NULL), "spawn feeder");
  for (int i = 0; i < TASKS; i++)
    check(corun_spawn(&counters[i], counter, r, NULL), "spawn counter");
  /* Fan-in: exactly one result per job, whichever counter did it. */
  for (long k = 0; k < r->njobs; k++) {
    struct result res;
    check(corun_chan_recv(r->results, &res, -1), "main: recv");
    r->total += res.primes;
    r->jobs_done++;
    if (res.job >= 0 && res.job < r->njobs && r->seen[res.job] < 255)
      r->seen[res.job]++;
  }
  check(corun_join(feed, NULL), "join feeder");
  for (int i = 0; i < TASKS; i++) {
    void *done;
    check(corun_join(counters[i], &done), "join counter");
    r->done_by[i] = (long)(intptr_t)done;
  }
  return NULL;
}

/* One corun_main() with `workers` threads; returns its wall time in ns and
 * whether every job was done exactly once. */
static int64_t run_once(struct run *r, unsigned workers, int *jobs_ok) {
  corun_config cfg = {.workers = workers};
  r->total = r->jobs_done = 0;
  for (long k = 0; k < r->njobs; k++)
    r->seen[k] = 0;
  check(corun_chan_make(&r->jobs, sizeof(struct job), 16), "make jobs");
  check(corun_chan_make(&r->results, sizeof(struct result), TASKS),
        "make results");
  int64_t t0 = corun_now();
  check(corun_main(main_task, r, &cfg), "corun_main");
  int64_t elapsed = corun_now() - t0;
  check(corun_chan_free(r->jobs), "free jobs");
  check(corun_chan_free(r->results), "free results");
  long by_tasks = 0, once = 0;
  for (int i = 0; i < TASKS; i++)
    by_tasks += r->done_by[i];
  for (long k = 0; k < r->njobs; k++)
    once += r->seen[k] == 1;
  *jobs_ok =
      r->jobs_done == r->njobs && by_tasks == r->njobs && once == r->njobs;
  return elapsed;
}

int main(int argc, char **argv) {
  struct run r = {.limit = argc > 1 ? atol(argv[1]) : 2000000};
  if (r.limit < 2) {
    fprintf(stderr, "usage: fan_out [LIMIT >= 2]\n");
    return 2;
  }
  r.njobs = (r.limit + CHUNK - 1) / CHUNK;
  r.seen = malloc((size_t)r.njobs);
  if (!r.seen) {
    fprintf(stderr, "fan_out: out of memory\n");
    return 1;
  }

  int64_t t0 = corun_now();
  long want = count_primes(0, r.limit, 0);
  double seq_ms = (double)(corun_now() - t0) / 1e6;
  printf("fan_out: %ld primes below %ld; plain loop %.1f ms; %ld jobs, "
         "%d tasks\n",
         want, r.limit, seq_ms, r.njobs, TASKS);

  int ok = 1;
  double ms[2];
  for (unsigned w = 1; w <= 2; w++) {
    int jobs_ok;
    ms[w - 1] = (double)run_once(&r, w, &jobs_ok) / 1e6;
    int good = jobs_ok && r.total == want;
    ok &= good;
    printf("fan_out: workers=%u: %ld primes in %.1f ms, jobs per task", w,
           r.total, ms[w - 1]);
    for (int i = 0; i < TASKS; i++)
      printf(" %ld", r.done_by[i]);
    printf(": %s\n", good ? "ok" : "WRONG");
  }
  /* Not a check: the speedup depends on the machine having two idle CPUs. */
  printf("fan_out: speedup with 2 workers: %.2fx\n", ms[0] / ms[1]);
  free(r.seen);
  return ok ? 0 : 1;
}
