/* worker.h: the scheduler's workers and its global state, shared by the
 * sched layer's files (main.c: corun_main; sched.c: running tasks;
 * ready.c: queueing a runnable task;
 * park.c: park/unpark and timers). Internal to the layer.
 * Layer: sched (uses base, coro).
 *
 * Where a runnable task waits (checked in this order by its worker):
 *  - runnext: the task the worker woke last (a message's receiver runs
 *    right after its sender, on the same warm cache; a task that parks
 *    switches straight to it, sched.c's corun__park_next); the
 *    owner's, which the monitor takes from a worker that is blocked
 *    under the handshake of monitor.c, so the owner fills an empty one
 *    and takes it with plain loads and stores;
 *  - inbox: tasks pinned to this worker, pushed by anyone, locked;
 *  - deque: the worker's work-stealing deque (deque.h);
 *  - the yield line: tasks that called corun_yield(), FIFO (owner only,
 *    not stolen);
 *  - the global queue: overflow and wakes from non-worker threads (with
 *    several workers, a worker that takes from it takes its share into
 *    its deque: share.c, corun__global_take);
 *  - other workers' deques, stolen from a random victim onwards.
 * Every 61st pick polls IO and looks at the global queue, the inbox, the
 * deque and the yield line before runnext (Go's figure), so that neither
 * the global queue nor tasks queued here starve behind a busy local
 * queue or a chain of tasks that keep waking each other into runnext.
 *
 * Idle workers: a worker that finds nothing spins briefly (so that a task
 * readied a microsecond later does not cost a futex wake-up), then
 * announces itself idle and sleeps on its futex word, with the timeout of
 * its earliest timer. Whoever makes stealable work available wakes one
 * idle worker unless one is spinning. No wake-up is lost: the idle side
 * increments nidle before its last look at the queues, the waking side
 * publishes the work before reading nidle, with a full fence between
 * (idle.c, idle_count); both sequentially consistent. */
#ifndef CORUN_SCHED_WORKER_H
#define CORUN_SCHED_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/compiler.h"
#include "base/heap.h"
#include "base/lock.h"
#include "sched/deque.h"
#include "sched/sched.h"

/* A locked FIFO of tasks (linked through corun_task.qnext). */
struct corun__taskq {
  corun__lock lock;
  struct corun_task *head, *tail;
  atomic_size_t len; /* read without the lock as a hint */
  /* The head whose stack the last pop started loading (it stays the head
   * until the next pop: pushes add at the tail), or NULL: its own pop
   * need not load it again (sched.c, taskq_pop). Compared, never
   * dereferenced. Under lock. */
  struct corun_task *warm;
};

struct corun__worker {
  struct corun__deque dq; /* first: thieves hammer its top */
  unsigned index;
  pthread_t thread;
  struct corun_task *current; /* the task it runs now, or NULL */
  struct corun_task *_Atomic runnext;
  /* Dispatches: odd while a task runs, even in the scheduler (monitor.c
   * sees a worker stuck in one task), and whether the monitor found it
   * blocked (its queued work has been handed to others). */
  atomic_ulong dispatch;
  atomic_int blocked;
  atomic_int handing; /* the monitor is taking its queued work (monitor.c) */
  atomic_int tid;     /* its thread's kernel id (monitor.c looks it up) */
  struct corun__taskq inbox;
  uint64_t rng;
  /* Where pick() steals first: 1 + the index of the worker whose deque
   * idle() watched stay busy for the steal grace, or 0 (a random one).
   * Owner only. */
  unsigned steal_from;
  /* Picks since pick()'s last periodic turn (IO, then every queue before
   * runnext), which comes at every 61st (FAIR_TURN, sched.c); a direct
   * switch counts as a pick. Counted up and reset, not `% 61` of a running
   * count: 3 instructions fewer per direct yield (of 217, callgrind). */
  uint32_t tick;
  /* Which queue's oldest task comes first at the next periodic turn
   * (share.c, corun__fair_pop: they take turns); owner only. */
  uint32_t fair_next;
  struct corun_task *yield_head, *yield_tail; /* yield line (run()) */
  /* A task that switched straight to the next one from its park, whose
   * park the arriving side finishes (corun__park_arrive); owner only. */
  struct corun_task *parked;
  /* Timers: deadlines of this worker's parked tasks. */
  corun__lock timer_lock;
  struct corun__heap timers;
  /* Armed timers in the heap (under timer_lock): the heap also holds
   * nodes that waits which ended early left behind (park.c). */
  size_t timers_armed;
  /* timers_armed, for a lock-free "any?", and for the deadlock check
   * (the sum over workers is the number of armed timers; one count per
   * heap, not one for the scheduler, which every park with a deadline
   * would have bounced between the workers' caches). */
  atomic_size_t ntimers;
  /* The heap's smallest key (INT64_MAX when empty), so that a pick reads
   * only the clock and this word, not the lock and the top node (a cold
   * line in some task). Written under timer_lock. Never later than the
   * earliest armed deadline (a key is never later than its deadline, and
   * a node left behind only makes it earlier), at worst earlier, which
   * costs a needless look. Only the owner arms timers (lowering it);
   * other workers only take them out (raising it): so a value the owner
   * reads is never later than the real one either. */
  _Atomic int64_t timer_next;
  /* The clock as this worker last read it at a pick (owner only): never
   * later than the real time, so a deadline at or before it has passed
   * for sure (corun__park needs no clock read of its own for that); and
   * corun__ticks() right before that read (corun__timers_due). */
  int64_t clock_seen;
  uint64_t ticks_seen;
  unsigned clock_skips; /* looks without a clock read since (park.c) */
  /* Idle sleep. */
  atomic_uint futex_word;          /* 1: woken */
  /* Which list of sleeping workers it is on (idle.c: the idle stack or
   * the stood-down list; 0: none), and its link there (idle_lock). */
  int listed;
  struct corun__worker *idle_next;
  int asleep; /* past its last look for work, about to sleep (idle_lock) */
  /* Standing down (see corun__workers_over): owner only, from its
   * decision until it is back at work. */
  int stood_down;
  atomic_int in_poll; /* blocked in the poller rather than its futex */
  int in_poller;      /* inside the poller's poll() (owner only) */
  /* Task objects free for reuse (owner only): nfree of them, and an
   * outgoing batch of nfree_out that goes to the scheduler's stash when
   * full (task.c, "Free task objects"). And the tasks this worker
   * started minus those it finished (owner only; the sum over workers is
   * read only when all are asleep, under idle_lock). */
  struct corun_task *free_tasks, *free_out;
  unsigned nfree, nfree_out;
  long live;
  /* A revoker of a lock biased to this worker without membarrier(2)
   * (sched.h, monitor.c) counts fence_req up; the worker's pick() (now
   * and then) and its wait for a lock's revoker store the count they
   * read (acquire) in fence_ack (release): sched.c, fence_serve. */
  atomic_uint fence_req, fence_ack;
  /* The solo bias (solo.c): whether it counts as active (solo_lock); and
   * since when it has found no task (idle.c): the dispatch count then
   * and the time (owner only). */
  int solo_active;
  unsigned long idle_mark;
  int64_t idle_since;
} __attribute__((aligned(64)));

struct corun__sched {
  /* Workers running: the configured number, plus spares the monitor
   * started for blocked ones (monitor.c). Only grows, under idle_lock;
   * read without it where a stale value is harmless (every slot of `w`
   * up to `cap` is a valid, empty worker from the start). */
  atomic_uint n;
  unsigned target;            /* the configured number of workers */
  unsigned cap;               /* slots in w: target + spares allowed */
  unsigned ncpu;              /* CPUs corun_main's thread may run on */
  struct corun__worker *w;    /* cap of them */
  struct corun__taskq global; /* see above */
  corun__lock idle_lock;
  struct corun__worker *idle_head;
  atomic_uint nidle;     /* workers on the idle stack */
  /* Workers that stood down (corun__workers_over), chained through
   * idle_next, and how many (idle_lock; the count read without it too). */
  struct corun__worker *stood_head;
  atomic_uint nstood;
  atomic_uint nspinning; /* workers looking for work before sleeping */
  unsigned nasleep;      /* workers asleep (worker.asleep; idle_lock) */
  /* The event loop (sched.h), or NULL before the first IO call; and
   * whether a worker is inside its poll() (one at a time). */
  const struct corun__poller *_Atomic poller;
  atomic_int polling;
  atomic_long external;           /* waits on helper threads (sched.h) */
  corun__lock end_lock;           /* guards at_end */
  void (*at_end[4])(void);        /* corun__sched_at_end's */
  struct corun__task_slab *slabs; /* every task object (slab_lock) */
  corun__lock slab_lock;
  /* Batches of free task objects that workers gave up (task.c): the
   * first task of each, chained through qnext; free_nbatch of them in an
   * array of free_cap (free_lock; free_nbatch also read without it, as a
   * hint). */
  corun__lock free_lock;
  struct corun_task **free_batches;
  size_t free_cap;
  atomic_size_t free_nbatch;
  atomic_int done;    /* every task finished, or deadlock */
  int deadlock;       /* done because of a deadlock */
  unsigned long run;  /* which corun_main() call this is: 1, 2, ... */
  int shuffle;        /* corun_config.shuffle */
  /* The monitor is on but membarrier(2) is missing (before Linux 4.14, or
   * a seccomp policy denies it): the monitor then takes a blocked
   * worker's runnext without its handshake, and owners take it with an
   * exchange too (monitor.c). */
  int runnext_shared;
  /* idle's spin before sleeping (CORUN__SPIN_NS); 0 under Valgrind.
   * Atomic (relaxed) only so that a test may lengthen it while workers
   * run (tests/sched/spin_wake). */
  _Atomic int64_t spin_ns;
  /* The monitor (monitor.c). */
  pthread_t monitor;
  int monitor_started;
  atomic_uint monitor_word; /* futex: 1 wakes it */
  atomic_int monitor_asleep; /* no task was running: it waits for one */
  atomic_uint nblocked;      /* workers found blocked, not yet back */
};

/* When the poller's queued requests must be handed to the kernel
 * (corun__sched_flush_soon): 0 while none waits. On a cache line of its
 * own: every worker reads it between tasks, the submitting ones write
 * it once per batch. */
struct corun__flush_by {
  _Alignas(CORUN__CACHE_LINE) _Atomic int64_t at;
};
extern struct corun__flush_by corun__flush_by;

/* monitor.c: reads the monitor's threshold (block_ms as in corun_config)
 * and registers for membarrier(2), before the workers start (and decides
 * whether locks may be biased in this run: sched.h); then starts the
 * monitor thread (0, or -errno) and stops it. corun__monitor_end: after
 * the workers have been joined, no key is live any more. */
void corun__monitor_setup(int block_ms);
void corun__monitor_end(void);
/* monitor.c: the bias key (sched.h) of worker `index` in this run, or
 * CORUN__BIAS_NOKEY if nothing is biased in it. */
uint64_t corun__bias_key_of(unsigned index);
/* solo.c: the solo bias (sched.h) for a run, set up by the monitor's
 * setup before the workers start (enabled: membarrier(2) is there) and
 * ended with it; in a forked child, ended without solo_lock. A worker
 * that will sleep in the kernel after CORUN__QUIET_NS without a task
 * goes quiet (idle.c), and wakes before it looks at anything. */
void corun__solo_setup(int enabled);
void corun__solo_end(void);
void corun__solo_forked(void);
void corun__solo_quiet(struct corun__worker *w);
void corun__solo_wake(struct corun__worker *w);
#define CORUN__QUIET_NS 1000000
/* monitor.c: in a child of fork() made while corun_main ran: as
 * corun__monitor_end, without taking a lock a parent's thread held. */
void corun__monitor_forked(void);
int corun__monitor_start(void);
void corun__monitor_stop(void);
/* monitor.c: a worker starts a task while the monitor waits for one. */
void corun__monitor_wake(void);
/* monitor.c: worker w is back from a task the monitor found blocked. */
void corun__monitor_back(struct corun__worker *w);
/* main.c: starts a spare worker in slot S->n (idle_lock held); returns
 * 0 or -errno. */
int corun__worker_spawn_spare(void);
/* sched.c: a worker thread's body: runs worker w (a struct
 * corun__worker *) until the scheduler is done; returns NULL. */
void *corun__worker_thread(void *w);
/* idle.c: the scheduler is done (every task finished, or `deadlock`):
 * stops every worker. */
void corun__finish_all(int deadlock);
/* sched.c: the calling thread is no worker any more (the one thread of a
 * child forked while corun_main ran: main.c). */
void corun__worker_forget_thread(void);

/* How long an idle worker spins for work before it sleeps in the kernel. */
#define CORUN__SPIN_NS 50000
/* How long a spinning worker leaves another worker's queued tasks to it
 * before it steals them (idle.c). Go waits 3 us before it steals the
 * goroutine in a running P's runnext, which was just readied there
 * (runtime/proc.go, runqgrab); corun never steals runnext, and its deque
 * holds the tasks the next wake-up pushed out of runnext, as fresh. 5 us,
 * measured: 3 us gave select4 with 2 workers 39-44 ns, 6 us 34-37. */
#define CORUN__STEAL_GRACE_NS 5000
/* idle.c: wakes an idle worker if none is spinning (work was published). */
void corun__wake_one(void);
/* idle.c, under idle_lock: wakes a worker that stood down, for good;
 * returns 0, or -1 if none has. */
int corun__wake_stood(void);
/* idle.c: wakes worker w in particular (its inbox got a task), if idle
 * or stood down. */
void corun__wake_this(struct corun__worker *w);
/* idle.c: w found nothing to run; returns when there may be work, or
 * when the scheduler is done (declaring a deadlock if it is one). */
void corun__idle(struct corun__worker *w);
/* sched.c: runs the poller for up to timeout_ns if tasks wait for IO and
 * no other worker is in it; returns whether it ran. */
int corun__poll_io(struct corun__worker *w, int64_t timeout_ns);
/* sched.c: a task in a forked child went back to the scheduler. */
_Noreturn void corun__forked_panic(void);

/* The one scheduler (corun_main runs one at a time). */
extern struct corun__sched corun__S;

/* Standing down. A spare that the monitor started for a blocked worker
 * stays (monitor.c), and once that worker is back, more workers than
 * corun_main was asked for would take tasks: two of them slicing one
 * CPU, or a program told to use one worker using two, paying for locked
 * queues and missing the solo bias (sched.h) meanwhile. bench_sched's
 * sleepers with one worker pinned to one CPU, where the first round's
 * page faults kept its spawning task busy past the 100 ms after which
 * the spare starts: 871-899 ns a sleeper, 803-850 standing down, 780-822
 * with the monitor off (docs/design.md §7).
 * So a worker that finds more workers than configured neither blocked
 * nor stood down stands down: when it goes idle, or at its next periodic
 * turn (sched.c), where it first gives its queued tasks to the
 * global queue (corun__give_away), and it sleeps on a list of its own,
 * not the idle stack, so that a wake-up for new work (corun__wake_one)
 * never takes it. It wakes for its own timers and for tasks pinned to it
 * (corun__wake_this), which it runs before it stands down again, and for
 * good only when the monitor needs it in place of a blocked worker
 * (take_over), as it would start a spare. */

/* Workers that have not stood down: those with a CPU to use, free,
 * idle or blocked. */
static inline unsigned corun__workers_up(void) {
  return atomic_load(&corun__S.n) - atomic_load(&corun__S.nstood);
}

/* Whether more workers than configured are neither found blocked nor
 * stood down (idle ones count: a wake-up for new work may take them).
 * Read without idle_lock, as a hint, except by idle(), which decides
 * under it. Never without a spare (the count of workers is then the
 * configured one): one relaxed load. */
static inline int corun__workers_over(void) {
  struct corun__sched *S = &corun__S;
  unsigned n = atomic_load_explicit(&S->n, memory_order_relaxed);
  if (CORUN__LIKELY(n <= S->target))
    return 0;
  return (long)corun__workers_up() - (long)atomic_load(&S->nblocked) >
         (long)S->target;
}

/* The oldest task of w's yield line, or NULL. By w. */
static inline struct corun_task *
corun__yield_line_pop(struct corun__worker *w) {
  struct corun_task *t = w->yield_head;
  if (t)
    w->yield_head = t->qnext;
  return t;
}

/* Appends t to the chain *first..*last (linked through qnext). Empty
 * when *first is NULL: *last may then be stale (the yield line's pops
 * leave yield_tail as it was). */
static inline void corun__chain_add(struct corun_task **first,
                                    struct corun_task **last,
                                    struct corun_task *t) {
  t->qnext = NULL;
  if (*first)
    (*last)->qnext = t;
  else
    *first = t;
  *last = t;
}

/* share.c: where a worker looks beyond its own queues' usual order: the
 * periodic turn's oldest task of one queue (fairness), the global
 * queue's oldest task with the worker's share of those behind it, and
 * other workers' deques. Each returns a task, or NULL. By w. */
struct corun_task *corun__fair_pop(struct corun__worker *w);
struct corun_task *corun__global_take(struct corun__worker *w);
struct corun_task *corun__steal(struct corun__worker *w);

/* ready.c: w stands down: the tasks of its runnext, deque (oldest
 * first) and yield line go to the global queue, those pinned to w to its
 * inbox. By w, in its loop. */
void corun__give_away(struct corun__worker *w);

/* The calling thread's worker, or NULL, read straight: only in a
 * function that does not switch (corun__ready, corun__task_blocking) or
 * that runs on the worker's own stack (its loop). Everywhere else call
 * corun__worker_self(). */
extern __thread struct corun__worker *corun__tls_worker
    __attribute__((tls_model("initial-exec")));

/* The task running on the calling thread, if it runs as a task (not in
 * a coroutine of its own that it resumed), else NULL; the two thread
 * variables read straight. Only in a function that does not switch (see
 * corun__tls_worker): corun__task_blocking, a channel's wait_fast. */
static inline struct corun_task *corun__task_here(void) {
  struct corun__worker *w = corun__tls_worker;
  struct corun_task *t = w ? w->current : NULL;
  struct corun__thread *ct = corun__tls_thread;
  return t && ct && ct->current == t->co ? t : NULL;
}

/* The calling thread's worker, or NULL. Re-read after every switch (a
 * task may have moved): the accessor is not inlined and clobbers memory,
 * so the compiler cannot reuse a value from before (thread.c's
 * corun__thread_fresh() explains why). */
struct corun__worker *corun__worker_self(void);

/* ready.c: makes t runnable (it is not on any queue and not running). */
void corun__ready(struct corun_task *t);

/* ready.c: appends t to a locked task queue. */
void corun__taskq_push(struct corun__taskq *q, struct corun_task *t);

/* ready.c: queues t, which may run on worker `self`, first come first
 * served: on the global queue, where any worker takes it (and one is
 * woken), or in self's inbox if t is pinned (to self). */
void corun__push_fifo(struct corun__worker *self, struct corun_task *t);

/* ready.c: queues t, which may run on worker `self`, on self: in its
 * inbox if t is pinned (to self), where only self takes it; else
 * stealable. */
void corun__push_here(struct corun__worker *self, struct corun_task *t);

/* task.c: a new task on worker w (the caller's, or the first for
 * corun_main), not yet queued; returns 0 or -errno. */
int corun__task_new(struct corun__worker *w, struct corun_task **out,
                    corun_fn *fn, void *arg, const corun_attr *attr,
                    int detached);
/* task.c: t's body returned `result` on worker w: destroy its coroutine,
 * wake its joiner, free a detached one. */
void corun__task_exit(struct corun__worker *w, struct corun_task *t,
                      void *result);
/* task.c: the two halves of corun__task_exit for an exit that switches
 * straight to the joiner (sched.c, finish_next). On t's stack:
 * corun__task_exit_to_joiner hands `result` to t's joiner and returns it,
 * claimed, if that joiner is parked for good (not on its way into the
 * park), may run on w and has a dedicated stack; else NULL, having done
 * nothing. The caller then runs the joiner next, and once off t's stack
 * calls corun__task_retire, the rest of the exit. */
struct corun_task *corun__task_exit_to_joiner(struct corun__worker *w,
                                              struct corun_task *t,
                                              void *result);
void corun__task_retire(struct corun__worker *w, struct corun_task *t);
/* task.c: prints every unfinished task (deadlock; every worker asleep). */
void corun__tasks_dump(void);
/* task.c: frees every task object (corun_main's end). */
void corun__tasks_free(void);
/* task.c: how many slabs of task objects are mapped (tests, debugging). */
long corun__task_slabs(void);

/* park.c: the worker's side of a park, once task t is off its stack and
 * the unlock callback has run. */
void corun__park_done(struct corun_task *t);
/* park.c: the other side's whole part of t's park once t is off its
 * stack: the unlock callback, then corun__park_done. */
void corun__park_finish(struct corun_task *t);

/* sched.c: where parking task t (the caller, running on worker w, its
 * unlock and reason set) goes off its stack: straight to the next task of
 * w when that is w's runnext (*to, made w's current), else back to w's
 * loop (*to NULL). Returns CORUN__PARK_SWITCH (corun__park_begin's answer,
 * so that it can tail-call this). Its caller then switches
 * (corun__park_switch_to), and whoever t left finishes its park. */
int corun__park_next(struct corun__worker *w, struct corun_task *t,
                     struct corun_coro **to);
/* sched.c: the first thing a task does on arriving from a direct switch
 * (corun__park_next's, or a new task's first run): finishes the park of
 * the task it came from, if any. */
void corun__park_arrive(void);

/* park.c: fires w's timers that are due at `now` (corun__clock_ns(),
 * read by the caller); returns the earliest remaining deadline, or -1 if
 * none. */
int64_t corun__timers_run(struct corun__worker *w, int64_t now);
/* park.c: takes t's timer node out of the heap that may still hold it
 * (t has no timer armed): before t's object is reused. */
void corun__timer_forget(struct corun_task *t);

/* sched.c: the poller's flush (corun__flush_by is due). */
void corun__sched_flush(void);

/* Fires w's timers if the earliest is due, and has the poller hand its
 * queued requests to the kernel if they have waited long enough
 * (corun__flush_by); by w itself, between tasks. Reads the clock only
 * while a timer is armed or a request waits, and then at most once every
 * CORUN__CLOCK_SLACK_US of corun__ticks() (where that counter is trusted,
 * base/clock.h): a busy worker fires a timer up to that much later, and
 * does not wait, between each two tasks, for the cache misses of the
 * first (the clock's read is serialising; base/clock.h says why).
 * Returns 1 if it fired timers (which may have filled w's runnext), else
 * 0; or, when !may_flush and the flush is due, -1 without doing anything:
 * a caller that holds a lock must leave the flush to pick(), since the
 * poller's flush takes its own lock, which nests outside the locks a
 * park holds (uring.c: its lock, then a task's). */
#define CORUN__CLOCK_SLACK_US 5
#define CORUN__CLOCK_SKIPS_MAX 1024
int corun__timers_due_slow(struct corun__worker *w, int64_t flush_at,
                           size_t armed, int may_flush);
static inline int corun__timers_due(struct corun__worker *w, int may_flush) {
  int64_t flush_at =
      atomic_load_explicit(&corun__flush_by.at, memory_order_relaxed);
  size_t armed = atomic_load_explicit(&w->ntimers, memory_order_relaxed);
  if (CORUN__LIKELY(!armed && !flush_at))
    return 0;
  return corun__timers_due_slow(w, flush_at, armed, may_flush);
}

#endif
