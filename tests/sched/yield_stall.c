/* yield_stall.c: yields that go straight to the next task (sched.c,
 * yield_next) while the monitor takes stalled workers for blocked.
 *
 * Eight tasks on two workers yield in a loop for a while. A yielding task
 * may be queued only once its context is saved: queued earlier, a monitor
 * that finds its worker stalled right then hands it to another worker,
 * which runs it while it is still on its stack. To make such stalls
 * happen anywhere, a SIGALRM every 4 ms holds whichever thread it lands on
 * for 1.5 ms in its handler, and the monitor's threshold is 1 ms. (Less
 * than all the time: when the workers have ended, the one thread left
 * must still get out of the handler.)
 *
 * Checked, for each task: it never runs on two threads at once (a flag it
 * sets after each yield and clears before the next, with an exchange);
 * a value on its stack is intact after every yield; it got to yield.
 * corun_main returns 0. Not under Valgrind or qemu, where the
 * threads' timing is not the machine's (Valgrind runs one at a time). */
#include <corun.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "t.h"

#define TASKS 8
#define RUN_NS (800 * 1000000LL)
#define STALL_NS (1500 * 1000LL)

struct slot {
  atomic_int running;
  uint64_t seed;
  int64_t end;
  long yields;
};

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Holds the thread it interrupts (clock_gettime is async-signal-safe). */
static void stall(int sig) {
  (void)sig;
  int64_t until = mono_ns() + STALL_NS;
  while (mono_ns() < until)
    ;
}

static void *yielder(void *arg) {
  struct slot *s = arg;
  volatile uint64_t on_stack = s->seed;
  while (corun_now() < s->end) {
    T_EQ(atomic_exchange(&s->running, 1), 0);
    T_EQ_HEX(on_stack, s->seed);
    T_EQ(atomic_exchange(&s->running, 0), 1);
    corun_yield(NULL);
    s->yields++;
  }
  return NULL;
}

static void *main_task(void *arg) {
  struct slot *slots = arg;
  corun_task *t[TASKS];
  int64_t end = corun_now() + RUN_NS;
  for (int i = 0; i < TASKS; i++) {
    slots[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
    slots[i].end = end;
    T_OK(corun_spawn(&t[i], yielder, &slots[i], NULL));
  }
  for (int i = 0; i < TASKS; i++)
    T_OK(corun_join(t[i], NULL));
  return NULL;
}

int main(void) {
  if (t_under_valgrind() || t_emulated())
    T_SKIP("thread timing is not the machine's here");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = stall;
  sa.sa_flags = SA_RESTART;
  T_OK(sigaction(SIGALRM, &sa, NULL));
  struct itimerval it = {{0, 4000}, {0, 4000}};
  T_OK(setitimer(ITIMER_REAL, &it, NULL));
  static struct slot slots[TASKS];
  T_OK(corun_main(main_task, slots,
                  &(corun_config){.workers = 2, .block_ms = 1}));
  struct itimerval off = {{0, 0}, {0, 0}};
  T_OK(setitimer(ITIMER_REAL, &off, NULL));
  long total = 0;
  for (int i = 0; i < TASKS; i++) {
    T_GT(slots[i].yields, 0);
    total += slots[i].yields;
  }
  printf("yields: %ld\n", total);
  return 0;
}
