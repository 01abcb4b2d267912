/* monitor.c: the scheduler's monitor, which notices a worker that a task
 * keeps from its scheduler (a blocking call that is not hooked, a long
 * computation) and makes sure the rest of the program goes on, as Go's
 * sysmon hands a thread's work off when it blocks.
 * Layer: sched (uses base, coro).
 *
 * Detection. Each worker counts its dispatches: odd while a task runs
 * (sched.c's run()). A worker whose count stays the same odd value for
 * longer than the threshold (corun_config.block_ms, CORUN_BLOCK_MS,
 * default 10 ms; negative or 0 in the variable turns the monitor off) is
 * blocked. The monitor then (unless it puts the whole of this off, see
 * the end of the list)
 *   - marks it blocked: tasks that its running task readies go where
 *     other workers can take them, not to its runnext;
 *   - moves its runnext task and its yield line (tasks that called
 *     corun_yield()) to the global queue, see below; its deque is
 *     stealable already;
 *   - fires its due timers from then on (its heap would otherwise wait
 *     for it), every few milliseconds;
 *   - wakes an idle worker, or, if none is idle or spinning and fewer
 *     than the configured number of workers are free, wakes one that
 *     stood down or starts a spare worker (up to a fixed number), whose
 *     thread stays for the rest of corun_main; once the blocked worker
 *     is back, a worker too many stands down (worker.h). When the
 *     blocked worker's thread is on a CPU (state R: a long computation,
 *     or the kernel preempted it) and every CPU the program may use
 *     already has a worker, the spare is put off until the worker has
 *     been stuck for SPARE_LATER thresholds (100 ms by default): such a
 *     spare can only slice a CPU with the others (before workers stood
 *     down, it did so for good: an HTTP server pinned to one CPU went
 *     from a p99 of 1 ms to 5 ms after one burst of 1,000 connections
 *     had made its worker look blocked for a moment); a computation that goes
 * on that long still gets one, so that the rest of the program is not held up.
 * If no other worker could take anything either (it is the only one not
 *     blocked), the hand-off itself waits as long (hand_off()).
 * What stays with a blocked worker: tasks pinned to it (its inbox; tasks
 * on shared stacks are pinned, and libcorun_hook pins a task for each
 * hooked call); they run when it is back.
 *
 * The yield line and runnext. Only their worker touches them, without a
 * lock or (to take the task in runnext) an exchange, so that a yield or a
 * wake-up costs no atomic read-modify-write (each is about 5 ns here);
 * the monitor may take them only while
 * the worker is still inside the task it found blocked, and the worker,
 * back, must then wait until the monitor is done. That is Dekker's
 * handshake: the worker stores its even count (task done) and then looks
 * at `blocked`; the monitor stores `blocked` (and `handing`) and then
 * looks at the count. Either the monitor sees the worker back and leaves
 * both alone, or the worker sees `blocked` and waits for `handing`
 * to clear (corun__monitor_back). The same holds for a task the running
 * task readies into runnext meanwhile: corun__ready stores it and then
 * looks at `blocked` again, and takes it back out itself if set (ready.c,
 * runnext_reclaim). The store-then-load order needs a full
 * fence on both sides; the worker's fence would cost every dispatch, so
 * the monitor makes it for both with membarrier(2)
 * (MEMBARRIER_CMD_PRIVATE_EXPEDITED: every thread of the process runs a
 * full barrier before it returns), as asymmetric fences do in userspace
 * RCU. A task that parks and switches straight to the next one (sched.c,
 * corun__park_next) leaves its dispatch the same way. Where membarrier
 * is missing (before Linux 4.14, or denied by a seccomp policy), the
 * yield line stays with the blocked worker, and runnext is taken anyway
 * with every owner's take an exchange again (S->runnext_shared; the task
 * there could be the one that ends the block): a fence on the worker's
 * side would cost
 * every dispatch (a yield round trip measured 2.5 % more instructions
 * with a test of a flag alone). That is decided when the run starts
 * (corun__monitor_setup). A seccomp policy that denies membarrier only
 * later leaves both with the blocked worker (a review's find, not
 * mended: taking runnext would then race with the owner's plain take):
 * a task readied there waits for that worker's task to end.
 *
 * Cost. While any task runs, the monitor looks every threshold/2; when
 * none does, it sleeps on its futex until a worker starts one (run()
 * checks `monitor_asleep`), or 100 ms: an idle program wakes it ten
 * times a second, for a few microseconds each.
 *
 * Locking: the workers' counts and flags are atomics; a spare is started
 * under idle_lock (the deadlock check counts the workers under it). */
#include <errno.h>
#include <limits.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/futex.h"
#include "base/sysfile.h"
#include "sched/worker.h"

/* What the monitor saw of each worker last time. */
struct seen {
  unsigned long dispatch;
  int64_t since;   /* when it was first seen with this count */
  int spare_later; /* handed off, its spare put off (see top) */
};

/* A worker on a CPU gets its spare only after this many thresholds. */
#define SPARE_LATER 10

static struct seen *seen;
static int64_t threshold_ns; /* 0: the monitor is off */
static int have_membarrier;

void corun__monitor_wake(void) {
  struct corun__sched *S = &corun__S;
  if (atomic_exchange(&S->monitor_asleep, 0)) {
    atomic_store(&S->monitor_word, 1);
    corun__futex_wake(&S->monitor_word, 1);
  }
}

void corun__monitor_back(struct corun__worker *w) {
  /* (acquire: `handing` was set before `blocked`) */
  if (!atomic_load_explicit(&w->blocked, memory_order_acquire))
    return;
  while (atomic_load_explicit(&w->handing, memory_order_acquire))
    corun__cpu_relax(); /* the monitor is moving the yield line */
  if (atomic_exchange(&w->blocked, 0))
    atomic_fetch_sub(&corun__S.nblocked, 1);
}

/* The state of thread `tid` of this process in /proc: 'R' on a CPU or
 * waiting for one, 'S' or 'D' asleep in the kernel (a blocking call),
 * ...; 0 when it cannot be told. (Read with raw system calls: the
 * monitor's reads once hung a TSan run, base/sysfile.h.) */
static char thread_state(int tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  if (corun__sysfile_read(path, buf, sizeof buf) < 0)
    return 0;
  const char *p = strrchr(buf, ')'); /* after the name, which may hold ')' */
  return p && p[1] == ' ' ? p[2] : 0;
}

/* Whether thread `tid` is on a CPU or waiting for one; 0 when it cannot
 * be told. */
static int thread_on_cpu(int tid) {
  return thread_state(tid) == 'R';
}

/* Asks every thread of the process for a full memory barrier; 0 if done. */
static int membarrier_all(void) {
#ifdef SYS_membarrier
  if (have_membarrier &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
    return 0;
#endif
  return -1;
}

/* Queues t, taken from blocked worker w, where others can run it: the
 * global queue, or w's inbox if t is pinned to w. */
static void move_off(struct corun__worker *w, struct corun_task *t) {
  corun__taskq_push(t->home == w ? &w->inbox : &corun__S.global, t);
}

/* Moves w's yield line off w. Only while w is still in the task found
 * blocked (see top). */
static void take_yield_line(struct corun__worker *w) {
  struct corun_task *t = w->yield_head;
  /* (atomic: a yield in that task may look at it, sched.c yield_next) */
  __atomic_store_n(&w->yield_head, NULL, __ATOMIC_RELAXED);
  w->yield_tail = NULL;
  while (t) {
    struct corun_task *next = t->qnext;
    move_off(w, t);
    t = next;
  }
}

/* Someone must take a blocked worker's work over: an idle worker, else a
 * spare when fewer than the configured number of workers are free. With
 * `later` (the blocked worker is on a CPU and no CPU is left, see top),
 * no spare now: returns 1 if one would have started. */
static int take_over(int later) {
  struct corun__sched *S = &corun__S;
  corun__lock_acquire(&S->idle_lock);
  unsigned n = corun__workers_up();
  int need_spare = !atomic_load(&S->nidle) && !atomic_load(&S->nspinning) &&
                   n - atomic_load(&S->nblocked) < S->target;
  /* A worker that stood down (worker.h) before a new one. */
  if (need_spare && !later && corun__wake_stood() < 0)
    corun__worker_spawn_spare();
  corun__lock_release(&S->idle_lock);
  if (!need_spare || later)
    corun__wake_one();
  return need_spare && later;
}

/* hand_off's work, inside the monitor's section of the solo bias (sched.h):
 * it moves w's tasks and fires its timers. */
static int hand_off_biased(struct corun__worker *w, unsigned long d,
                           int later) {
  struct corun__sched *S = &corun__S;
  atomic_store(&w->handing, 1);
  atomic_fetch_add(&S->nblocked, 1); /* (before `blocked`: see _back) */
  atomic_store(&w->blocked, 1);
  /* Dekker's handshake (see top): the worker's fence by membarrier.
   * Without membarrier, runnext is taken anyway: the owner then takes it
   * with an exchange as well (S->runnext_shared), and a task stuck there
   * could be the one that would end the block. */
  int in_task = membarrier_all() == 0; /* if its count is still d too */
  if (atomic_load(&w->dispatch) != d) {
    /* The task ended meanwhile: w is not blocked. Undo, or `blocked`
     * would stay set until w's next dispatch_end, and a stall in w's next
     * task would then find it set and never be handed off. The worker
     * may have seen `blocked` and wait for `handing`; whichever side
     * clears `blocked` counts it off. */
    atomic_store_explicit(&w->handing, 0, memory_order_release);
    if (atomic_exchange(&w->blocked, 0))
      atomic_fetch_sub(&S->nblocked, 1);
    return 0;
  }
  if (in_task)
    take_yield_line(w);
  if (in_task || S->runnext_shared) {
    struct corun_task *t = atomic_exchange(&w->runnext, NULL);
    if (t)
      move_off(w, t);
  }
  atomic_store_explicit(&w->handing, 0, memory_order_release);
  corun__timers_run(w, corun__clock_ns());
  return take_over(later);
}

/* w has been in one task too long, the one of dispatch count d: hand off
 * what can move. Returns 1 if w's spare is put off (see take_over).
 * `overdue`: w has been in it for SPARE_LATER thresholds, and gets its
 * spare now in any case.
 * Nothing is handed off when the spare would be put off and every other
 * worker is blocked too (or there is none): the hand-off then only costs
 * w (its wake-ups go through its deque and wake nobody, a membarrier
 * interrupts it) and helps nobody. The look is made again at the next
 * check. A loop that spawned 100,000 tasks on one worker pinned to one
 * CPU ran 10 % slower once handed off (bench_sched's sleepers, 1 worker,
 * alternating runs: 1174-1236 ns a sleeper handed off, 1084-1165 not,
 * 1028-1052 with the monitor off). */
static int hand_off(struct corun__worker *w, unsigned long d, int overdue) {
  struct corun__sched *S = &corun__S;
  /* (asked before idle_lock, a spin lock, is taken: it reads a file;
   * workers that stood down have no CPU, and take nothing) */
  unsigned n = corun__workers_up();
  int later = !overdue && n >= S->ncpu && thread_on_cpu(atomic_load(&w->tid));
  if (later && n - atomic_load(&S->nblocked) <= 1)
    return 0;
  corun__solo_monitor_begin();
  int rc = hand_off_biased(w, d, later);
  corun__solo_monitor_end();
  return rc;
}

static void *monitor(void *unused) {
  (void)unused;
  struct corun__sched *S = &corun__S;
  while (!atomic_load(&S->done)) {
    int64_t now = corun__clock_ns();
    corun__ticks_recheck(now); /* the counter's source still the kernel's? */
    int running = 0;
    unsigned n = atomic_load(&S->n);
    for (unsigned i = 0; i < n; i++) {
      struct corun__worker *w = &S->w[i];
      unsigned long d =
          atomic_load_explicit(&w->dispatch, memory_order_relaxed);
      if (!(d & 1)) { /* in its scheduler */
        seen[i].dispatch = d;
        continue;
      }
      running = 1;
      if (d != seen[i].dispatch) {
        seen[i] = (struct seen){d, now, 0};
      } else if (atomic_load(&w->blocked)) {
        /* still blocked: its timers are ours */
        corun__solo_monitor_begin();
        corun__timers_run(w, corun__clock_ns());
        if (seen[i].spare_later &&
            now - seen[i].since >= SPARE_LATER * threshold_ns)
          seen[i].spare_later = take_over(0);
        corun__solo_monitor_end();
      } else if (now - seen[i].since >= threshold_ns) {
        seen[i].spare_later =
            hand_off(w, d, now - seen[i].since >= SPARE_LATER * threshold_ns);
      }
    }
    atomic_store(&S->monitor_word, 0);
    if (!running) {
      /* Nothing runs: sleep until a worker starts a task (run()). A task
       * that started between the look and now has seen monitor_asleep
       * clear, so look again after announcing. */
      atomic_store(&S->monitor_asleep, 1);
      int any = 0;
      for (unsigned i = 0; i < atomic_load(&S->n); i++)
        any |= (int)(atomic_load(&S->w[i].dispatch) & 1);
      /* (100 ms at most: run()'s look at monitor_asleep is a relaxed
       * load after a relaxed store, so in a rare race it may miss us;
       * the timeout bounds the delay that costs, at 10 wake-ups a
       * second while the program idles.) */
      struct timespec idle = {0, 100000000};
      if (!any && !atomic_load(&S->done))
        corun__futex_wait(&S->monitor_word, &idle);
      atomic_store(&S->monitor_asleep, 0);
    } else {
      int64_t half = threshold_ns / 2;
      struct timespec ts = {half / 1000000000, half % 1000000000};
      corun__futex_wait(&S->monitor_word, &ts);
    }
  }
  return NULL;
}

/* The run whose workers may hold biased locks now (sched.h), or 0. Read
 * by revokers on any thread, so not in corun__S (which corun_main clears
 * with memset). Cleared under bias_lock, which a revoker that looks at
 * the worker holds (corun_main frees the workers after). */
static atomic_ulong bias_run;
int corun__bias_objects;
/* membarrier(2) failed in this run, after it was registered (setup). */
static atomic_int fence_denied;

int corun__bias_fence_denied(void) {
  return atomic_load(&fence_denied);
}
static corun__lock bias_lock;

void corun__monitor_setup(int block_ms) {
  struct corun__sched *S = &corun__S;
  const char *env = getenv("CORUN_BLOCK_MS");
  long ms = block_ms ? block_ms : env && *env ? strtol(env, NULL, 10) : 10;
  threshold_ns = ms > 0 ? ms * 1000000 : 0; /* 0 or less: turned off */
  /* Asked at every corun_main, not once per process: a child of fork()
   * may run under a seccomp policy its parent did not have. (Registering
   * again is harmless.) The monitor and biased locks need it. */
  have_membarrier = 0;
#ifdef SYS_membarrier
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  have_membarrier =
      cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
              0) == 0;
#endif
  /* (with the monitor off, runnext is nobody else's business) */
  S->runnext_shared = threshold_ns && !have_membarrier;
  /* Keys whenever membarrier(2) is there; a mutex's own bias only with
   * one configured worker (sched.h, corun__bias_objects). */
  atomic_store(&bias_run, have_membarrier ? S->run : 0);
  atomic_store(&fence_denied, 0);
  corun__bias_objects = S->target == 1 && have_membarrier;
  /* A worker spinning on a lock that a revoker holds while it waits for
   * that worker's fence (membarrier(2) denied since it was registered)
   * makes the fence while it spins. */
  atomic_store(&corun__lock_spin_hook, corun__bias_serve);
  corun__solo_setup(have_membarrier);
}

uint64_t corun__bias_key_of(unsigned index) {
  unsigned long run = atomic_load(&bias_run);
  return run ? (uint64_t)run << 16 | (index + 1) : CORUN__BIAS_NOKEY;
}

void corun__monitor_end(void) {
  corun__lock_acquire(&bias_lock);
  atomic_store(&bias_run, 0);
  corun__lock_release(&bias_lock);
  corun__solo_end();
}

void corun__monitor_forked(void) {
  corun__lock_init(&bias_lock); /* (a revoker of the parent may hold it) */
  atomic_store(&bias_run, 0);
  corun__solo_forked();
}

/* ---- revoking a biased word (sched.h) -------------------------------- */

void corun__lock_acquire_serving(corun__lock *l) {
  for (unsigned spins = 0; !corun__lock_try(l); spins++) {
    corun__bias_serve();
    if (spins < 256)
      corun__cpu_relax();
    else
      sched_yield();
  }
}

void corun__bias_drop(_Atomic uint64_t *bias, atomic_int *busy) {
  uint64_t cur = CORUN__BIAS_UNSET;
  /* From a key (REVOKING is only seen outside the revokers' lock): */
  if (!atomic_compare_exchange_strong(bias, &cur, CORUN__BIAS_NONE) &&
      cur != CORUN__BIAS_NONE) {
    atomic_store(bias, CORUN__BIAS_REVOKING);
    /* (the biased thread itself: program order) */
    if (cur != corun__tls_bias_key && corun__bias_fence(cur)) {
      for (unsigned spins = 0; atomic_load_explicit(busy, memory_order_acquire);
           spins++) {
        if (spins < 1000)
          corun__cpu_relax();
        else
          sched_yield(); /* its thread was preempted inside its look */
      }
    }
    atomic_store_explicit(bias, CORUN__BIAS_NONE, memory_order_release);
  }
}

/* Whether worker `index` of the live run `run` has answered request `req`
 * (sched.c, fence_serve), or its run is over (1); 2 if its
 * thread is asleep in the kernel now; else 0. See below. */
static int bias_fenced(unsigned long run, unsigned index, unsigned req) {
  struct corun__sched *S = &corun__S;
  int done = 1;
  corun__lock_acquire(&bias_lock);
  if (atomic_load(&bias_run) == run) {
    struct corun__worker *w = &S->w[index];
    done = (int)(atomic_load_explicit(&w->fence_ack, memory_order_acquire) -
                 req) >= 0;
    if (!done) {
      char st = thread_state(atomic_load(&w->tid));
      done = st == 'S' || st == 'D' ? 2 : 0;
    }
  }
  corun__lock_release(&bias_lock);
  return done;
}

int corun__bias_fence(uint64_t key) {
  unsigned long run = (unsigned long)(key >> 16);
  if (run != atomic_load(&bias_run))
    return 0; /* its corun_main is over: the thread was joined */
#ifdef SYS_membarrier
  /* Registered for this run (setup). Not through membarrier_all: a
   * revoker on a thread of its own may call this while the next
   * corun_main's setup asks again. */
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
    return 1;
#endif
  atomic_store(&fence_denied, 1);
  /* Denied since (a seccomp policy installed while corun_main runs): the
   * worker answers a request between two of its looks at locks, at its
   * next pick() that takes its periodic turn (within 61 dispatches; a
   * task that keeps it longer, in a computation, delays the revoker as
   * long) or while it waits for the lock this revoker holds. No fence
   * is needed for a worker whose thread sleeps in the kernel (a task's
   * blocking call, an idle worker's sleep): its context switch was one,
   * and its wake-up makes another. Being on the idle stack is not
   * enough: an idle worker still fires timers and polls, which move
   * wait words (a review's find). The solo bias is not taken again in
   * the run once this happened (corun__bias_fence_denied): each
   * revocation could wait this long.
   * Left: a worker whose task keeps it in a loop, waiting for this
   * revoker's thread to get on, never answers (a review's find): with
   * membarrier denied, such a program hangs. A fence by signal would
   * answer for it, at the price of a signal taken from the program.
   * The request (a read-modify-write: a full barrier) comes after the
   * revoker's store of "revoking". */
  unsigned index = (unsigned)(key & 0xffff) - 1;
  corun__lock_acquire(&bias_lock);
  unsigned req = 0;
  if (atomic_load(&bias_run) == run)
    req = atomic_fetch_add(&corun__S.w[index].fence_req, 1) + 1;
  corun__lock_release(&bias_lock);
  /* Asleep at two looks 100 us apart: it went through the scheduler, a
   * full fence, after its last look at a lock (the kernel marks a thread
   * asleep a moment before it switches, and it may wake without ever
   * switching: one look could fall in that moment). */
  int asleep_before = 0;
  for (int f; (f = bias_fenced(run, index, req)) != 1; asleep_before = f) {
    if (f == 2 && asleep_before == 2)
      break;
    struct timespec ms = {0, 100000};
    nanosleep(&ms, NULL);
  }
  return 1;
}

int corun__monitor_start(void) {
  struct corun__sched *S = &corun__S;
  if (!threshold_ns)
    return 0; /* turned off */
  seen = corun__malloc(S->cap * sizeof *seen);
  if (!seen)
    return -ENOMEM;
  for (unsigned i = 0; i < S->cap; i++)
    seen[i] = (struct seen){0, 0, 0};
  if (pthread_create(&S->monitor, NULL, monitor, NULL) != 0) {
    corun__free(seen);
    seen = NULL;
    return -EAGAIN;
  }
  S->monitor_started = 1;
  return 0;
}

void corun__monitor_stop(void) {
  struct corun__sched *S = &corun__S;
  if (!S->monitor_started)
    return;
  /* S->done is set: wake it wherever it sleeps. */
  atomic_store(&S->monitor_word, 1);
  corun__futex_wake(&S->monitor_word, INT_MAX);
  pthread_join(S->monitor, NULL);
  S->monitor_started = 0;
  corun__free(seen);
  seen = NULL;
}
