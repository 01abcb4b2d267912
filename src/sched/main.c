/* main.c: corun_main, which starts a scheduler's workers, runs them to
 * the end and frees what they used; the number of workers and spares;
 * and what a fork made while it runs leaves of corun in the child.
 * Layer: sched (uses base, coro).
 *
 * fork. A child forked while corun_main runs shares the parent's epoll
 * instance and io_uring ring (kernel objects; the ring's memory is
 * mapped shared). A pthread_atfork child handler turns corun off there
 * (corun__forked, sched.h): the one thread left is no worker, so every
 * corun call sees "not a task", and the poll layer leaves the shared
 * registrations alone. The scheduler aborts if a task comes back to it
 * in the child (sched.c, idle.c).
 *
 * Locking: one corun_main at a time (sched_running); the rest is the
 * scheduler's, started and joined here. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/valgrind.h"
#include "coro/coro.h"
#include "sched/worker.h"

static atomic_int sched_running; /* a corun_main is under way */

int corun__forked;

/* pthread_atfork's child handler (registered by the first corun_main):
 * in a child forked while corun_main runs, corun is off (sched.h). */
static void forked_child(void) {
  if (atomic_load_explicit(&sched_running, memory_order_relaxed)) {
    corun__forked = 1;
    corun__worker_forget_thread(); /* the one thread left is no worker */
    corun__monitor_forked();       /* and the workers' threads are gone */
  }
}

static void register_fork_handler(void) {
  pthread_atfork(NULL, NULL, forked_child);
}

/* Spare workers the monitor may start for blocked ones (monitor.c). */
#define SPARES 32

int corun__worker_spawn_spare(void) {
  struct corun__sched *S = &corun__S;
  unsigned i = atomic_load(&S->n);
  if (i >= S->cap)
    return -EAGAIN;
  if (pthread_create(&S->w[i].thread, NULL, corun__worker_thread, &S->w[i]) !=
      0)
    return -EAGAIN;
  atomic_store(&S->n, i + 1); /* (idle_lock held: the deadlock count) */
  return 0;
}

/* The CPUs this thread may run on (its affinity), at least 1. */
static unsigned cpus_allowed(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return (unsigned)CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

/* The default number of workers: CORUN_WORKERS if set to a positive
 * number, else the CPUs this process may run on. */
static unsigned default_workers(void) {
  const char *env = getenv("CORUN_WORKERS");
  if (env && *env) {
    char *end;
    unsigned long v = strtoul(env, &end, 10);
    if (!*end && v > 0)
      return v > 1024 ? 1024 : (unsigned)v;
  }
  return cpus_allowed();
}

int corun_main(corun_fn *main_fn, void *arg, const corun_config *cfg) {
  if (!main_fn)
    return -EINVAL;
  int expect = 0;
  if (!atomic_compare_exchange_strong(&sched_running, &expect, 1))
    return -EBUSY; /* (also in a forked child: sched_running stays set) */
  static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
  pthread_once(&fork_once, register_fork_handler);
  struct corun__sched *S = &corun__S;
  unsigned n = cfg && cfg->workers ? cfg->workers : default_workers();
  if (n > 1024)
    n = 1024;
  static unsigned long runs; /* (corun_main calls: one at a time) */
  memset(S, 0, sizeof *S);
  S->run = ++runs;
  atomic_store(&corun__flush_by.at, 0);
  atomic_store(&S->n, n);
  S->target = n;
  S->cap = n + SPARES;
  S->ncpu = cpus_allowed();
  const char *env = getenv("CORUN_SHUFFLE");
  S->shuffle = (cfg && cfg->shuffle) || (env && *env && *env != '0');
  atomic_store_explicit(&S->spin_ns, corun__on_valgrind() ? 0 : CORUN__SPIN_NS,
                        memory_order_relaxed); /* base/valgrind.h */
  int rc = -ENOMEM;
  S->w = corun__malloc(S->cap * sizeof *S->w);
  if (!S->w)
    goto out;
  memset(S->w, 0, S->cap * sizeof *S->w);
  uint64_t seed = (uint64_t)corun__clock_ns() | 1;
  for (unsigned i = 0; i < S->cap; i++) {
    S->w[i].index = i;
    S->w[i].rng = seed + 0x9E3779B97F4A7C15ULL * (i + 1);
  }
  struct corun_task *main_task;
  if ((rc = corun__task_new(&S->w[0], &main_task, main_fn, arg, NULL, 1)) < 0)
    goto out_free;
  corun__taskq_push(&S->global, main_task);
  corun__monitor_setup(cfg ? cfg->block_ms : 0);
  unsigned started = 1;
  for (; started < n; started++)
    if (pthread_create(&S->w[started].thread, NULL, corun__worker_thread,
                       &S->w[started]) != 0)
      break;
  if (started < n) { /* stop those started; main_task never ran */
    corun__finish_all(0);
    for (unsigned i = 1; i < started; i++)
      pthread_join(S->w[i].thread, NULL);
    corun_destroy(main_task->co);
    rc = -EAGAIN;
    goto out_free;
  }
  /* (without it, for want of a thread: no spare workers, nothing else) */
  corun__monitor_start();
  corun__worker_thread(&S->w[0]); /* this thread is worker 0 */
  corun__monitor_stop();          /* no spare is started after this */
  for (unsigned i = 1; i < atomic_load(&S->n); i++)
    pthread_join(S->w[i].thread, NULL);
  rc = S->deadlock ? -EDEADLK : 0;
  const struct corun__poller *poller = atomic_load(&S->poller);
  if (poller)
    poller->fini();
  for (unsigned i = 0; i < sizeof S->at_end / sizeof S->at_end[0]; i++)
    if (S->at_end[i])
      S->at_end[i]();
  for (unsigned i = 0; i < atomic_load(&S->n); i++)
    corun__heap_free(&S->w[i].timers);
out_free:
  corun__monitor_end(); /* every worker joined: no bias key is live */
  corun__tasks_free(); /* every task finished (or abandoned: deadlock) */
  corun__free(S->w);
  S->w = NULL;
out:
  atomic_store(&sched_running, 0);
  return rc;
}
