/* monitor.c: the scheduler's monitor (src/sched/monitor.c) keeps a
 * program going while a task blocks its worker with a call corun cannot
 * see (a raw system call here, as an unhooked library would make):
 *   - on ONE worker, a task queued behind the blocked one runs (on a
 *     spare worker) before the blocking call returns;
 *   - a task sleeping with a corun timer on the blocked worker wakes and
 *     finishes before the blocking call returns (its timer fired by the
 *     monitor);
 *   - a task that had called corun_yield() on the blocked worker (it
 *     waits in that worker's yield line) goes on yielding, elsewhere,
 *     during the blocking call;
 *   - afterwards the scheduler behaves as before: corun_main returns 0,
 *     and a real deadlock is still reported (spare workers counted);
 *   - with the monitor off (block_ms < 0) the queued task cannot run
 *     until the blocking call returns: the behaviour it adds;
 *   - without membarrier(2) (a seccomp filter says ENOSYS, as an old
 *     kernel or a container's policy would), in a child: the queued task
 *     still runs and the sleeper still wakes during the blocking call
 *     (the yield line stays with the blocked worker then: monitor.c);
 *   - a long computation instead of the blocking call: with a CPU to
 *     spare, the queued task runs during it (on a spare worker); with the
 *     program confined to one CPU, a spare starts only once the
 *     computation has lasted 10 thresholds (it could only share that CPU
 *     with the computing worker, and it stays): nothing else runs during
 *     a 50 ms one, the queued task runs during a 400 ms one.
 * The blocking call and the long computation last 400 ms against a
 * 10 ms threshold (40x: the check is "ran during the call", not how
 * fast); the short one 50 ms, half the 100 ms after which a spare would
 * start. */
#include <corun.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deny.h"
#include "t.h"

#define MS 1000000LL

static atomic_int queued_ran, sleeper_done, yielder_stop, blocking;
static atomic_long yields;

static int computing; /* the blocker computes instead of sleeping */
static int64_t compute_ns = 400 * MS;

/* A blocking call corun cannot see: the kernel's nanosleep, directly; or
 * a computation of as long, on the CPU. */
static void block_worker(void) {
  if (computing) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
      clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) <
           compute_ns);
    return;
  }
  t_block_raw(400 * MS);
}

static void *queued(void *arg) {
  (void)arg;
  atomic_store(&queued_ran, 1);
  return NULL;
}

static void *sleeper(void *arg) {
  (void)arg;
  T_OK(corun_sleep(20 * MS)); /* its timer is on the worker about to block */
  atomic_store(&sleeper_done, 1);
  return NULL;
}

/* Yields until told to stop, counting its turns; 1,000 at most once the
 * blocker blocks, so that it does not hog the one spare worker (under
 * Valgrind, whose threads take turns, it kept the monitor from firing the
 * sleeper's timer). Counted from then only: under TSan on a loaded
 * machine the monitor may take a slow stretch before the block for one
 * and start a spare, where the yielder, alone, can use up a cap counted
 * from its start before the block begins. (seen[2] was 0 once in CI and
 * in 1 of 30 runs next to a build; this is the likely cause, not seen
 * directly: 0 failures in 80 runs with a print of the counts.) */
static void *yielder(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000 && !atomic_load(&yielder_stop);) {
    atomic_fetch_add(&yields, 1);
    corun_yield(NULL);
    if (atomic_load(&blocking))
      i++;
  }
  return NULL;
}

struct run {
  int seen[3];
  int64_t took_ns; /* the blocker's block, from its start */
  corun_task *q;
};

static void *blocker(void *arg) {
  struct run *r = arg;
  int64_t start = corun_now();
  /* `queued` goes to this worker's runnext, behind this task */
  T_OK(corun_spawn(&r->q, queued, NULL, NULL));
  long before = atomic_load(&yields);
  atomic_store(&blocking, 1);
  block_worker();
  r->took_ns = corun_now() - start;
  r->seen[0] = atomic_load(&queued_ran);
  r->seen[1] = atomic_load(&sleeper_done);
  r->seen[2] = atomic_load(&yields) != before;
  atomic_store(&yielder_stop, 1);
  return NULL;
}

static void *main_task(void *arg) {
  struct run *r = arg;
  atomic_store(&queued_ran, 0);
  atomic_store(&sleeper_done, 0);
  atomic_store(&yielder_stop, 0);
  atomic_store(&blocking, 0);
  corun_task *s, *b, *y;
  T_OK(corun_spawn(&s, sleeper, NULL, NULL));
  T_OK(corun_spawn(&y, yielder, NULL, NULL));
  /* the sleeper parks, its timer on this worker; the yielder runs and
   * yields: it waits in this worker's yield line */
  corun_yield(NULL);
  T_OK(corun_spawn(&b, blocker, r, NULL));
  /* The blocker runs next and blocks its worker; `queued` waits behind
   * it, the yielder in the yield line, unless the monitor moves them. */
  T_OK(corun_join(b, NULL));
  T_OK(corun_join(r->q, NULL));
  T_OK(corun_join(s, NULL));
  T_OK(corun_join(y, NULL));
  return NULL;
}

static corun_chan *never_sent; /* the deadlock child's */

static void *deadlock_task(void *arg) {
  (void)arg;
  int v;
  corun_chan_recv(never_sent, &v, -1); /* nobody sends: a real deadlock */
  return NULL;
}

static void *block_then_deadlock(void *arg) {
  (void)arg;
  block_worker(); /* spares start */
  return deadlock_task(NULL);
}

int main(void) {
  struct run r;
  /* the monitor on, at its default threshold (10 ms; the test suite turns
   * it off through CORUN_BLOCK_MS for every other test) */
  T_OK(
      corun_main(main_task, &r, &(corun_config){.workers = 1, .block_ms = 10}));
  T_EQ(r.seen[0], 1); /* the queued task ran during the blocking call */
  T_EQ(r.seen[1], 1); /* the sleeper's timer fired during it */
  T_EQ(r.seen[2], 1); /* the yielder went on yielding during it */
  T_OK(
      corun_main(main_task, &r, &(corun_config){.workers = 2, .block_ms = 10}));
  T_EQ(r.seen[0], 1);
  T_EQ(r.seen[1], 1);
  T_EQ(r.seen[2], 1);
  /* without membarrier, in a child (not under Valgrind or qemu: deny.h) */
  if (!t_under_valgrind() && !t_emulated()) {
    pid_t pid = fork();
    T_GE(pid, 0);
    if (pid == 0) {
      if (t_deny_syscall(SYS_membarrier, ENOSYS) != 0)
        _exit(77);
      if (corun_main(main_task, &r,
                     &(corun_config){.workers = 1, .block_ms = 10}) != 0)
        _exit(2);
      _exit(r.seen[0] == 1 && r.seen[1] == 1 ? 0 : 1);
    }
    int st;
    T_EQ(waitpid(pid, &st, 0), pid);
    T_TRUE(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
      printf("note: no seccomp here, the case without membarrier skipped\n");
    else
      T_EQ(WEXITSTATUS(st), 0);
  }
  /* off: nothing else runs on the one blocked worker */
  T_OK(
      corun_main(main_task, &r, &(corun_config){.workers = 1, .block_ms = -1}));
  T_EQ(r.seen[0], 0);
  T_EQ(r.seen[1], 0);
  T_EQ(r.seen[2], 0);
  /* a computation: a spare when a CPU is free for it ... (not under
   * Valgrind, which runs one thread at a time: a thread computing without
   * system calls keeps the monitor and the spare from running, and the
   * states /proc shows are those of Valgrind's own lock) */
  computing = 1;
  cpu_set_t all, one;
  T_OK(sched_getaffinity(0, sizeof all, &all));
  if (CPU_COUNT(&all) > 1 && !t_under_valgrind()) {
    T_OK(corun_main(main_task, &r,
                    &(corun_config){.workers = 1, .block_ms = 10}));
    T_EQ(r.seen[0], 1);
  }
  /* ... and when the program has one CPU, none for a computation shorter
   * than 10 thresholds (50 ms against 100: the spare would only slice
   * that CPU), one for a longer one (400 ms). Not under qemu either,
   * whose threads' states in /proc are its own. */
  if (!t_emulated() && !t_under_valgrind()) {
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &all)) {
        CPU_SET(c, &one);
        break;
      }
    T_OK(sched_setaffinity(0, sizeof one, &one));
    compute_ns = 50 * MS;
    T_OK(corun_main(main_task, &r,
                    &(corun_config){.workers = 1, .block_ms = 10}));
    /* Unless the machine held the worker's thread off its CPU so long
     * that the 50 ms lasted 10 thresholds after all: a spare is due
     * then, and the case proves nothing (it failed so once in CI, under
     * TSan next to other test runs). */
    if (r.took_ns < 90 * MS) {
      T_EQ(r.seen[0], 0);
      T_EQ(r.seen[2], 0);
    } else {
      printf("note: the 50 ms computation took %lld ms: not checked\n",
             (long long)(r.took_ns / MS));
    }
    compute_ns = 400 * MS;
    T_OK(corun_main(main_task, &r,
                    &(corun_config){.workers = 1, .block_ms = 10}));
    T_EQ(r.seen[0], 1);
    T_OK(sched_setaffinity(0, sizeof all, &all));
  }
  computing = 0;
  /* a deadlock after spares were started is still one (in a child: the
   * abandoned task and its channel are never freed) */
  pid_t pid = fork();
  T_GE(pid, 0);
  if (pid == 0) {
    if (corun_chan_make(&never_sent, sizeof(int), 0) != 0)
      _exit(2);
    int rc = corun_main(block_then_deadlock, NULL,
                        &(corun_config){.workers = 1, .block_ms = 10});
    _exit(rc == -EDEADLK ? 0 : 1);
  }
  int st;
  T_EQ(waitpid(pid, &st, 0), pid);
  T_TRUE(WIFEXITED(st));
  T_EQ(WEXITSTATUS(st), 0);
  return 0;
}
