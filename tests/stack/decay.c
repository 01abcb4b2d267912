/* decay.c: proves the stack pool's page decay. After a burst of N
 * coroutines is destroyed, their stacks stay committed (a new burst reuses
 * them without page faults) until corun__stack_scavenge has aged them
 * twice, 1 s apart; then all but a bounded number (the thread's cache and
 * the DIRTY_CAP kept per class) have their pages given back, and
 * scavenging reports no further work (-1), so an idle worker stops waking
 * up for it. The stacks remain usable afterwards. Time is passed in, so
 * the test does not sleep: it calls scavenge with "now" and with now plus
 * 1.5 s and 3 s. Residency is read with mincore(2) on the top page of each
 * stack, where the coroutine's object lives. The same decay once more with
 * every allocation failing during the aging that releases. The release
 * goes a chunk of 256 stacks per call (a bounded pause), so it takes
 * several calls here: each but the last answers 0, more due now. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "corun.h"
#include "stack/stack.h"
#include "t.h"

#define NMAX 2000
#define KEPT_MAX (64 + 256) /* a thread cache's worth + DIRTY_CAP */

/* Stacks per burst: NMAX, or 600 under Valgrind or qemu, where a burst of
 * NMAX takes about a second. Within a second of real time the pool's own
 * aging (at each spill, on the real clock) cannot release anything. */
static int N;

static void *body(void *arg) {
  volatile uintptr_t mine = (uintptr_t)arg; /* on this stack's top page */
  corun_yield(NULL);
  return (void *)(mine + 1);
}

static uintptr_t page[NMAX]; /* each stack's top page */

static int resident_count(void) {
  long ps = sysconf(_SC_PAGESIZE);
  int n = 0;
  for (int i = 0; i < N; i++) {
    unsigned char v;
    T_OK(mincore((void *)page[i], (size_t)ps, &v));
    n += v & 1;
  }
  return n;
}

/* Creates N coroutines, runs each to its yield and then to its end, and
 * destroys them all (together: all N stacks are in use at once). */
static void burst(void) {
  static corun_coro *co[NMAX];
  corun_attr attr = {.stack_size = 16 * 1024};
  long ps = sysconf(_SC_PAGESIZE);
  for (int i = 0; i < N; i++) {
    T_OK(corun_create(&co[i], body, (void *)(uintptr_t)i, &attr));
    T_EQ(corun_resume(co[i], NULL, NULL), 1);
    page[i] = (uintptr_t)co[i] & ~(uintptr_t)(ps - 1);
  }
  for (int i = 0; i < N; i++) {
    void *out;
    T_EQ(corun_resume(co[i], NULL, &out), 0);
    T_EQ((uintptr_t)out, (uintptr_t)i + 1);
    T_OK(corun_destroy(co[i]));
  }
}

/* Calls corun__stack_scavenge(now) until it has nothing more due now;
 * returns its last answer. Each call gives back at most 256 stacks, so
 * with NMAX (2,000) the release takes seven calls. */
static int64_t scavenge_all(int64_t now) {
  int64_t due;
  int calls = 1;
  while ((due = corun__stack_scavenge(now)) >= 0 && due <= now)
    T_LT(++calls, NMAX);
  /* More than a chunk's worth (N less the DIRTY_CAP kept): not at once. */
  if (N - 256 > 256)
    T_GE(calls, (N - 256 + 255) / 256);
  return due;
}

int main(void) {
  N = t_under_valgrind() || t_emulated() ? 600 : NMAX;
  burst();
  int64_t now = corun__clock_ns();
  T_EQ(resident_count(), N); /* destroyed, but not given back */

  struct corun__stack_stats a, b;
  corun__stack_get_stats(&a);
  int64_t due = corun__stack_scavenge(now);
  T_GT(due, now); /* work is pending, not due yet */
  T_LE(due, now + 1000000000);
  corun__stack_get_stats(&b);
  T_EQ(b.madvise, a.madvise);
  T_EQ(resident_count(), N);

  /* A new burst reuses the committed stacks: nothing is mapped. */
  burst();
  corun__stack_get_stats(&a);
  T_EQ(a.slabs, b.slabs);
  T_EQ(a.madvise, b.madvise);

  /* First aging: what was spilled becomes old; nothing goes back yet
   * (old was empty, or held only stacks the second burst took again). */
  int64_t t1 = corun__clock_ns() + 1500000000;
  T_GT(corun__stack_scavenge(t1), t1);
  T_EQ(resident_count(), N);
  /* Second aging: old goes back, a chunk per call (each call returns 0,
   * "more now", until the last). */
  T_EQ(scavenge_all(t1 + 1500000000), -1);
  corun__stack_get_stats(&b);
  T_GT(b.madvise, a.madvise);
  int left = resident_count();
  printf("resident after decay: %d of %d stacks\n", left, N);
  T_LE(left, KEPT_MAX);

  /* Given-back stacks work like new ones. */
  burst();
  T_EQ(resident_count(), N);

  /* Pages go back also when memory is short: an aging that cannot
   * allocate its list of stacks to release gives them back on the spot. */
  int64_t t2 = t1 + 3000000000;
  T_GT(corun__stack_scavenge(t2), t2); /* the third burst's become old */
  corun__stack_get_stats(&a);
  corun__alloc_fail_after(0);
  int64_t due2 = scavenge_all(t2 + 1500000000);
  corun__alloc_fail_after(-1);
  T_EQ(due2, -1);
  corun__stack_get_stats(&b);
  T_GT(b.madvise, a.madvise);
  left = resident_count();
  printf("resident after decay without memory: %d of %d stacks\n", left, N);
  T_LE(left, KEPT_MAX);
  burst();
  return 0;
}
