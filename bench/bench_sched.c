/* bench_sched.c: the C side of the side-by-side comparison of corun's M:N
 * scheduler with Go's runtime. The Go side is bench/go/sched.go; README.md
 * there defines one op of each benchmark, and this program measures the
 * same operations with the same definitions, the same default N, the same
 * warm-up and the same clock placement, so that the two outputs can be
 * divided line by line (bench/sched_table.sh).
 *
 * Usage: bench_sched [-n ITER] [-only NAME] [-workers W]
 * For workers = 1 and then 2 (corun_config.workers; -workers 1 or 2 runs
 * that count only, for a profiler), one corun_main() runs
 * every benchmark: a warm-up of a tenth of the work (at least 4 ops; all
 * of it for the sleepers, see bench_task), then RUNS timed runs. One line per
 * benchmark: corun<W> <name> <median> <min> <max>      (ns per op, 1 decimal)
 * like bench/go/run.sh's "go<W> <name> ...". Then, in a corun_main() of its
 * own, one line
 *     corun<W> idle_cpu <percent>
 * the CPU time (getrusage(RUSAGE_SELF): user + system, all threads) that
 * the process uses while its only task sleeps 500 ms, in percent of one
 * core: idle workers must sleep in the kernel, so this should be about 0.
 * Nothing else goes to stdout; errors go to stderr, with exit status 1 (a
 * failed call or a wrong count: the timing would be meaningless), 2 for a
 * usage error.
 *
 * Pinning: bench/go/run.sh pins GOMAXPROCS=1 to CPU 0 and GOMAXPROCS=2 to
 * CPUs 0,1 with taskset. So that one run of this program compares with it,
 * the thread calling corun_main() sets the same affinity first, and the
 * workers it starts inherit it. Where those CPUs are not allowed it runs
 * unpinned (as run.sh does); BENCH_CPU=none disables pinning.
 *
 * Ops (N = -n, default 1,000,000; the clock starts just before the first
 * task of a run is spawned and stops when the last one is joined, which is
 * Go's time.Now() ... wg.Wait(); corun_join() of every task is the
 * WaitGroup):
 *   spawn     corun_spawn() of a task whose body returns at once, then
 *             corun_join() of it, strictly one at a time, from the timing
 *             task (Go: wg.Add; go; wg.Wait from main). N ops.
 *   yield     two tasks, released together by closing a channel they both
 *             wait on (Go: close(start)), each call corun_yield() N times;
 *             the clock starts at the close. N ops.
 *   pingpong  two tasks, two capacity-0 channels of int64_t (Go's int is
 *             64-bit): send on ping, the other receives and sends it back
 *             on pong, the first receives it. N round trips.
 *   buffered  one sender, one receiver, a capacity-1024 channel, 10N ints;
 *             ns = elapsed / 10N.
 *   select4   four capacity-1024 channels, each fed N/4 ints by its own
 *             task; one receiver corun_select()s over four CORUN_RECV cases
 *             until it has 4*(N/4); one op is one element received.
 *   mutex     four tasks each do N/4 corun_mutex_lock/++counter/unlock on
 *             one mutex; the counter is checked; ns = elapsed / 4*(N/4).
 *   sleepers  100,000 tasks (fixed, -n does not apply) each
 *             corun_sleep(1 ms); ns = (first spawn .. last join) / 100,000.
 * The values that go through channels are summed and checked, which Go does
 * not do; it is one addition per op, next to a channel operation. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#endif
#include <corun.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define RUNS 3            /* timed runs per benchmark; the median is shown */
#define SLEEPERS 100000   /* fixed task count of the sleepers benchmark */
#define SLEEP_NS 1000000  /* each sleeper's sleep: 1 ms */
#define IDLE_NS 500000000 /* idle_cpu: the one task sleeps 500 ms */
#define CHAN_CAP 1024     /* buffered and select4 */

static void fail(const char *what, int rc) {
  fprintf(stderr, "bench_sched: %s: %s\n", what, corun_strerror(rc));
  exit(1);
}
#define CHECK(call, what)                                                      \
  do {                                                                         \
    int check_rc_ = (call);                                                    \
    if (check_rc_ < 0)                                                         \
      fail(what, check_rc_);                                                   \
  } while (0)

static void wrong(const char *bench, const char *what, long long got,
                  long long want) {
  fprintf(stderr, "bench_sched: %s: %s %lld, want %lld\n", bench, what, got,
          want);
  exit(1);
}

/* Sum of 0..n-1: what a receiver of 0, 1, ..., n-1 must add up to. */
static int64_t tri(int64_t n) {
  return n * (n - 1) / 2;
}

/* ---- spawn ---------------------------------------------------------- */

static void *nothing(void *arg) {
  return arg;
}

static long bench_spawn(long n, int64_t *elapsed) {
  int64_t t0 = corun_now();
  for (long i = 0; i < n; i++) {
    corun_task *t;
    CHECK(corun_spawn(&t, nothing, NULL, NULL), "spawn: corun_spawn");
    CHECK(corun_join(t, NULL), "spawn: corun_join");
  }
  *elapsed = corun_now() - t0;
  return n;
}

/* ---- yield ---------------------------------------------------------- */

struct yield_arg {
  corun_chan *start; /* closed to release both yielders at once */
  long n;
};

static void *yielder(void *p) {
  struct yield_arg *a = p;
  int64_t x;
  int rc = corun_chan_recv(a->start, &x, -1);
  if (rc == 0) /* nothing is ever sent: only the close ends the wait */
    wrong("yield", "elements received on the start channel", 1, 0);
  if (rc != -EPIPE)
    fail("yield: waiting for the start", rc);
  for (long i = 0; i < a->n; i++)
    corun_yield(NULL); /* Go's runtime.Gosched() */
  return NULL;
}

static long bench_yield(long n, int64_t *elapsed) {
  struct yield_arg a = {NULL, n};
  corun_task *t[2];
  CHECK(corun_chan_make(&a.start, sizeof(int64_t), 0), "yield: chan_make");
  for (int i = 0; i < 2; i++)
    CHECK(corun_spawn(&t[i], yielder, &a, NULL), "yield: spawn");
  int64_t t0 = corun_now();
  CHECK(corun_chan_close(a.start), "yield: chan_close");
  for (int i = 0; i < 2; i++)
    CHECK(corun_join(t[i], NULL), "yield: join");
  *elapsed = corun_now() - t0;
  CHECK(corun_chan_free(a.start), "yield: chan_free");
  return n;
}

/* ---- pingpong ------------------------------------------------------- */

struct pp_arg {
  corun_chan *ping, *pong;
  long n;
  int64_t sum; /* of what came back on pong, written by the pinger */
};

static void *pinger(void *p) {
  struct pp_arg *a = p;
  int64_t sum = 0;
  for (int64_t i = 0; i < a->n; i++) {
    int64_t v;
    CHECK(corun_chan_send(a->ping, &i, -1), "pingpong: send ping");
    CHECK(corun_chan_recv(a->pong, &v, -1), "pingpong: recv pong");
    sum += v;
  }
  a->sum = sum;
  return NULL;
}

static void *ponger(void *p) {
  struct pp_arg *a = p;
  for (long i = 0; i < a->n; i++) {
    int64_t v;
    CHECK(corun_chan_recv(a->ping, &v, -1), "pingpong: recv ping");
    CHECK(corun_chan_send(a->pong, &v, -1), "pingpong: send pong");
  }
  return NULL;
}

static long bench_pingpong(long n, int64_t *elapsed) {
  struct pp_arg a = {NULL, NULL, n, 0};
  corun_task *t[2];
  CHECK(corun_chan_make(&a.ping, sizeof(int64_t), 0), "pingpong: chan_make");
  CHECK(corun_chan_make(&a.pong, sizeof(int64_t), 0), "pingpong: chan_make");
  int64_t t0 = corun_now();
  CHECK(corun_spawn(&t[0], pinger, &a, NULL), "pingpong: spawn");
  CHECK(corun_spawn(&t[1], ponger, &a, NULL), "pingpong: spawn");
  for (int i = 0; i < 2; i++)
    CHECK(corun_join(t[i], NULL), "pingpong: join");
  *elapsed = corun_now() - t0;
  if (a.sum != tri(n))
    wrong("pingpong", "sum", a.sum, tri(n));
  CHECK(corun_chan_free(a.ping), "pingpong: chan_free");
  CHECK(corun_chan_free(a.pong), "pingpong: chan_free");
  return n;
}

/* ---- buffered ------------------------------------------------------- */

struct buf_arg {
  corun_chan *ch;
  long n;
  int64_t sum; /* written by the receiver */
};

static void *buf_sender(void *p) {
  struct buf_arg *a = p;
  for (int64_t i = 0; i < a->n; i++)
    CHECK(corun_chan_send(a->ch, &i, -1), "buffered: send");
  return NULL;
}

static void *buf_receiver(void *p) {
  struct buf_arg *a = p;
  int64_t sum = 0;
  for (long i = 0; i < a->n; i++) {
    int64_t v;
    CHECK(corun_chan_recv(a->ch, &v, -1), "buffered: recv");
    sum += v;
  }
  a->sum = sum;
  return NULL;
}

/* n is already 10 * ITER (see the table in main). */
static long bench_buffered(long n, int64_t *elapsed) {
  struct buf_arg a = {NULL, n, 0};
  corun_task *t[2];
  CHECK(corun_chan_make(&a.ch, sizeof(int64_t), CHAN_CAP),
        "buffered: chan_make");
  int64_t t0 = corun_now();
  CHECK(corun_spawn(&t[0], buf_sender, &a, NULL), "buffered: spawn");
  CHECK(corun_spawn(&t[1], buf_receiver, &a, NULL), "buffered: spawn");
  for (int i = 0; i < 2; i++)
    CHECK(corun_join(t[i], NULL), "buffered: join");
  *elapsed = corun_now() - t0;
  if (a.sum != tri(n))
    wrong("buffered", "sum", a.sum, tri(n));
  CHECK(corun_chan_free(a.ch), "buffered: chan_free");
  return n;
}

/* ---- select4 -------------------------------------------------------- */

struct sel_arg {
  corun_chan *ch[4];
  long per;    /* ints per sender */
  int64_t sum; /* written by the receiver */
};
struct sel_sender {
  struct sel_arg *a;
  corun_chan *ch;
};

static void *sel_sender(void *p) {
  struct sel_sender *s = p;
  for (int64_t j = 0; j < s->a->per; j++)
    CHECK(corun_chan_send(s->ch, &j, -1), "select4: send");
  return NULL;
}

/* Counts elements rather than waiting for closes, as the Go side does, so
 * the loop is the select alone. */
static void *sel_receiver(void *p) {
  struct sel_arg *a = p;
  int64_t v[4], sum = 0;
  corun_case cases[4];
  for (int i = 0; i < 4; i++)
    cases[i] = (corun_case){.ch = a->ch[i], .op = CORUN_RECV, .elem = &v[i]};
  for (long got = 0; got < 4 * a->per; got++) {
    int k = corun_select(cases, 4, -1);
    if (k < 0)
      fail("select4: corun_select", k);
    if (k >= 4)
      wrong("select4", "case index", k, 3);
    if (cases[k].result < 0) /* closed: nothing closes these channels */
      fail("select4: case result", cases[k].result);
    sum += v[k];
  }
  a->sum = sum;
  return NULL;
}

static long bench_select4(long n, int64_t *elapsed) {
  struct sel_arg a = {.per = n / 4};
  struct sel_sender s[4];
  corun_task *t[5];
  for (int i = 0; i < 4; i++) {
    CHECK(corun_chan_make(&a.ch[i], sizeof(int64_t), CHAN_CAP),
          "select4: chan_make");
    s[i] = (struct sel_sender){&a, a.ch[i]};
  }
  int64_t t0 = corun_now();
  for (int i = 0; i < 4; i++)
    CHECK(corun_spawn(&t[i], sel_sender, &s[i], NULL), "select4: spawn");
  CHECK(corun_spawn(&t[4], sel_receiver, &a, NULL), "select4: spawn");
  for (int i = 0; i < 5; i++)
    CHECK(corun_join(t[i], NULL), "select4: join");
  *elapsed = corun_now() - t0;
  if (a.sum != 4 * tri(a.per))
    wrong("select4", "sum", a.sum, 4 * tri(a.per));
  for (int i = 0; i < 4; i++)
    CHECK(corun_chan_free(a.ch[i]), "select4: chan_free");
  return 4 * a.per;
}

/* ---- mutex ---------------------------------------------------------- */

struct mutex_arg {
  corun_mutex *mu;
  long per;
  long counter; /* protected by mu */
};

static void *locker(void *p) {
  struct mutex_arg *a = p;
  for (long j = 0; j < a->per; j++) {
    CHECK(corun_mutex_lock(a->mu, -1), "mutex: lock");
    a->counter++;
    CHECK(corun_mutex_unlock(a->mu), "mutex: unlock");
  }
  return NULL;
}

static long bench_mutex(long n, int64_t *elapsed) {
  struct mutex_arg a = {NULL, n / 4, 0};
  corun_task *t[4];
  CHECK(corun_mutex_make(&a.mu), "mutex: mutex_make");
  int64_t t0 = corun_now();
  for (int i = 0; i < 4; i++)
    CHECK(corun_spawn(&t[i], locker, &a, NULL), "mutex: spawn");
  for (int i = 0; i < 4; i++)
    CHECK(corun_join(t[i], NULL), "mutex: join");
  *elapsed = corun_now() - t0;
  /* A wrong count means the lock is broken and the timing meaningless. */
  if (a.counter != 4 * a.per)
    wrong("mutex", "counter", a.counter, 4 * a.per);
  CHECK(corun_mutex_free(a.mu), "mutex: mutex_free");
  return 4 * a.per;
}

/* ---- sleepers ------------------------------------------------------- */

static void *sleeper(void *arg) {
  CHECK(corun_sleep(SLEEP_NS), "sleepers: corun_sleep");
  return arg;
}

/* n is the number of sleepers (SLEEPERS, or a tenth of it to warm up). */
static long bench_sleepers(long n, int64_t *elapsed) {
  corun_task **t = malloc((size_t)n * sizeof *t);
  if (!t)
    fail("sleepers: task array", -ENOMEM);
  int64_t t0 = corun_now();
  for (long i = 0; i < n; i++)
    CHECK(corun_spawn(&t[i], sleeper, NULL, NULL), "sleepers: spawn");
  for (long i = 0; i < n; i++)
    CHECK(corun_join(t[i], NULL), "sleepers: join");
  *elapsed = corun_now() - t0;
  free(t);
  return n;
}

/* ---- driver --------------------------------------------------------- */

struct bench {
  const char *name;
  long (*ops)(long iter); /* operations for a given -n, as in sched.go */
  /* Runs them; stores the elapsed ns; returns the operations done. */
  long (*run)(long n, int64_t *elapsed);
  int warm_full; /* warm up with all the work, not a tenth (see below) */
};

static long same(long iter) {
  return iter;
}
static long times10(long iter) {
  return 10 * iter;
}
static long fixed_sleepers(long iter) {
  (void)iter;
  return SLEEPERS;
}

static const struct bench benches[] = {
    {"spawn", same, bench_spawn, 0},
    {"yield", same, bench_yield, 0},
    {"pingpong", same, bench_pingpong, 0},
    {"buffered", times10, bench_buffered, 0},
    {"select4", same, bench_select4, 0},
    {"mutex", same, bench_mutex, 0},
    {"sleepers", fixed_sleepers, bench_sleepers, 1},
};
#define NBENCH (sizeof benches / sizeof benches[0])

struct opts {
  long iter;
  const char *only; /* NULL: all */
  unsigned workers; /* of the corun_main() running now */
};

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* The first task of each corun_main(): runs the selected benchmarks. */
static void *bench_task(void *arg) {
  const struct opts *o = arg;
  for (size_t b = 0; b < NBENCH; b++) {
    if (o->only && strcmp(o->only, benches[b].name) != 0)
      continue;
    long n = benches[b].ops(o->iter);
    /* Warm-up: a tenth of the work, so stacks, task objects and channel
     * buffers exist before the clock starts (sched.go does the same).
     * All of it for the sleepers, whose tasks are all alive at once: a
     * tenth left the first touch of 90,000 stacks to the timed runs, and
     * which of them paid it depended on how many tasks the first one had
     * alive at a time (with a spare worker helping during the first run's
     * page faults, the second run paid the rest, and the median of three
     * was that run's 1,390 ns against 750 in the third). */
    long warm = benches[b].warm_full ? n : n / 10 < 4 ? 4 : n / 10;
    int64_t elapsed;
    benches[b].run(warm, &elapsed);
    double ns[RUNS];
    for (int r = 0; r < RUNS; r++) {
      long ops = benches[b].run(n, &elapsed);
      ns[r] = (double)elapsed / (double)ops;
    }
    qsort(ns, RUNS, sizeof ns[0], cmp_double);
    printf("corun%u %s %.1f %.1f %.1f\n", o->workers, benches[b].name,
           ns[RUNS / 2], ns[0], ns[RUNS - 1]);
    fflush(stdout); /* one line at a time, even into a pipe */
  }
  return NULL;
}

static int64_t cpu_ns(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    fail("getrusage", -errno);
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* The only task of its corun_main(): sleeps IDLE_NS and measures the CPU
 * time that every thread of the process used meanwhile. The window opens
 * when the workers have just started, so a runtime that spins for a while
 * before its idle workers sleep pays for that spin here. */
static void *idle_task(void *arg) {
  double *percent = arg;
  int64_t c0 = cpu_ns(), t0 = corun_now();
  CHECK(corun_sleep(IDLE_NS), "idle_cpu: corun_sleep");
  int64_t t1 = corun_now(), c1 = cpu_ns();
  *percent = 100.0 * (double)(c1 - c0) / (double)(t1 - t0);
  return NULL;
}

/* Sleep precision: the only task sleeps 1 ms SLEEPS times on an otherwise
 * idle scheduler; how late each wake-up is, in microseconds (the issue asks
 * for within 0.2 ms on an idle machine). A measurement, not a test. */
#define SLEEPS 200
static void *precision_task(void *arg) {
  double *late = arg;
  for (int i = 0; i < SLEEPS; i++) {
    int64_t t0 = corun_now();
    CHECK(corun_sleep(1000000), "sleep_1ms: corun_sleep");
    late[i] = (double)(corun_now() - t0 - 1000000) / 1000.0;
  }
  qsort(late, SLEEPS, sizeof *late, cmp_double);
  return NULL;
}

/* Pins the calling thread (and so the workers corun_main() starts from
 * it) to CPUs 0..workers-1, as bench/go/run.sh does with taskset. Returns
 * 0, or -1 with *old untouched when pinning is off or not possible. */
static int pin(unsigned workers, cpu_set_t *old) {
  const char *env = getenv("BENCH_CPU");
  if (env && strcmp(env, "none") == 0)
    return -1;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned c = 0; c < workers; c++)
    CPU_SET(c, &set);
  if (sched_getaffinity(0, sizeof *old, old) != 0)
    return -1;
  for (unsigned c = 0; c < workers; c++) /* run.sh: skip if not allowed */
    if (!CPU_ISSET(c, old))
      return -1;
  return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_sched [-n ITER (>= 4)] [-only NAME] [-workers 1|2]\n");
  exit(2);
}

/* Go's flag package accepts -n 5, -n=5, --n 5 and --n=5; so does this. */
static const char *flag_value(int argc, char **argv, int *i, const char *name) {
  const char *a = argv[*i];
  if (a[0] != '-')
    return NULL;
  a += a[1] == '-' ? 2 : 1;
  size_t len = strlen(name);
  if (strncmp(a, name, len) != 0)
    return NULL;
  if (a[len] == '=')
    return a + len + 1;
  if (a[len] != '\0')
    return NULL;
  if (*i + 1 >= argc)
    usage();
  return argv[++*i];
}

int main(int argc, char **argv) {
  struct opts o = {.iter = 1000000};
  unsigned only_workers = 0; /* 0: both counts */
  for (int i = 1; i < argc; i++) {
    const char *v;
    char *end;
    if ((v = flag_value(argc, argv, &i, "n")) != NULL) {
      o.iter = strtol(v, &end, 10);
      if (*v == '\0' || *end != '\0')
        usage();
    } else if ((v = flag_value(argc, argv, &i, "only")) != NULL) {
      o.only = v;
    } else if ((v = flag_value(argc, argv, &i, "workers")) != NULL) {
      if (strcmp(v, "1") != 0 && strcmp(v, "2") != 0)
        usage();
      only_workers = (unsigned)(*v - '0');
    } else {
      usage();
    }
  }
  if (o.iter < 4)
    usage();
  /* idle_cpu runs with everything, or alone with -only idle_cpu. */
  int idle = !o.only || strcmp(o.only, "idle_cpu") == 0;
  int run_benches = !o.only;
  for (size_t b = 0; b < NBENCH; b++)
    run_benches |= o.only && strcmp(o.only, benches[b].name) == 0;
  if (!idle && !run_benches) {
    fprintf(stderr, "bench_sched: unknown benchmark \"%s\"\n", o.only);
    return 2;
  }

  /* Idle first, for both worker counts: after the benchmarks, the window
   * would also hold the deferred return of their stacks' pages (stack.c:
   * 1 to 2 s after a burst; for the 100,000 sleepers about 9 ms of CPU),
   * which is their cost, not an idle program's. */
  for (int pass = 0; pass < 2; pass++) {
    for (o.workers = 1; o.workers <= 2; o.workers++) {
      if (only_workers && o.workers != only_workers)
        continue;
      corun_config cfg = {.workers = o.workers};
      cpu_set_t old;
      int pinned = pin(o.workers, &old) == 0;
      if (pass == 1 && run_benches)
        CHECK(corun_main(bench_task, &o, &cfg), "corun_main");
      if (pass == 0 && idle) {
        double percent = 0;
        CHECK(corun_main(idle_task, &percent, &cfg), "corun_main (idle)");
        printf("corun%u idle_cpu %.2f\n", o.workers, percent);
        double late[SLEEPS];
        CHECK(corun_main(precision_task, late, &cfg), "corun_main (sleep)");
        printf("corun%u sleep_1ms_late_us median %.1f p90 %.1f max %.1f\n",
               o.workers, late[SLEEPS / 2], late[SLEEPS * 9 / 10],
               late[SLEEPS - 1]);
        fflush(stdout);
      }
      if (pinned && sched_setaffinity(0, sizeof old, &old) != 0)
        fail("restoring the CPU affinity", -errno);
    }
  }
  return 0;
}
