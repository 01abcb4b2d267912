/* c2c.c: how long a cache line takes to go from one CPU to another and
 * back, here and now. Not a benchmark of corun: a reading of the machine,
 * which run.sh and net/run.sh print beside every round.
 *
 * Why: on this shared VM the host moves the two vCPUs about. For minutes
 * at a time a line goes there and back in about 80 ns, as between cores
 * that share a cache; for minutes at others it takes about 370 ns, as
 * between cores that share none (measured 24 Nov; which cores the host
 * uses cannot be seen from inside). Everything that passes data between two workers (the
 * 2-worker scheduler rows: a contended mutex, select over channels that
 * senders on the other worker fill, stealing) and the loopback network
 * tests (server on CPU 0, load on CPU 1) slow down with it, corun's and
 * its peers' alike, and a round's ratio is only comparable with rounds
 * measured at the same distance.
 *
 * Usage: bench_c2c [CPU_A CPU_B] (default 0 1: the CPUs of bench_sched's
 * 2 workers and of net/run.sh's server and load). Prints one line,
 * "c2c_ns X": the median of 5 measurements of the round trip of a line
 * that two threads, pinned to CPU_A and CPU_B, hand each other. Exits 1
 * if the threads cannot be pinned there, before either spins (then it
 * prints nothing). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TRIPS 200000 /* per measurement: about 20-80 ms */
#define MEASUREMENTS 5

/* The line the two threads hand each other: odd values are the first
 * thread's turn done, even ones the second's. Alone on its line. */
static _Alignas(64) _Atomic uint64_t turn;
static int cpu_b;
static int pinned_b;     /* the second thread's pinning: 0 ok, else failed */
static _Atomic int b_up; /* set once pinned_b is */

static int pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The second thread: answers every odd value with the next even one. */
static void *answer(void *arg) {
  (void)arg;
  pinned_b = pin(cpu_b);
  atomic_store_explicit(&b_up, 1, memory_order_release);
  if (pinned_b != 0)
    return NULL; /* (not one spin: both threads could share a CPU) */
  for (uint64_t i = 0; i < (uint64_t)TRIPS * MEASUREMENTS; i++) {
    while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 1)
      ;
    atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
  }
  return NULL;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

int main(int argc, char **argv) {
  int cpu_a = 0;
  cpu_b = 1;
  if (argc == 3) {
    cpu_a = atoi(argv[1]);
    cpu_b = atoi(argv[2]);
  } else if (argc != 1) {
    fprintf(stderr, "usage: bench_c2c [CPU_A CPU_B]\n");
    return 2;
  }
  if (cpu_a == cpu_b) {
    fprintf(stderr, "bench_c2c: two different CPUs, please\n");
    return 2;
  }
  if (pin(cpu_a) != 0) {
    fprintf(stderr, "bench_c2c: cannot run on CPU %d\n", cpu_a);
    return 1;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, answer, NULL) != 0) {
    fprintf(stderr, "bench_c2c: pthread_create failed\n");
    return 1;
  }
  while (!atomic_load_explicit(&b_up, memory_order_acquire))
    sched_yield();
  if (pinned_b != 0) {
    pthread_join(t, NULL);
    fprintf(stderr, "bench_c2c: cannot run on CPU %d\n", cpu_b);
    return 1;
  }
  double ns[MEASUREMENTS];
  uint64_t i = 0;
  for (int m = 0; m < MEASUREMENTS; m++) {
    int64_t t0 = now_ns();
    for (int k = 0; k < TRIPS; k++, i++) {
      atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
      while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 2)
        ;
    }
    ns[m] = (double)(now_ns() - t0) / TRIPS;
  }
  pthread_join(t, NULL);
  qsort(ns, MEASUREMENTS, sizeof ns[0], cmp_double);
  printf("c2c_ns %.1f\n", ns[MEASUREMENTS / 2]);
  return 0;
}
