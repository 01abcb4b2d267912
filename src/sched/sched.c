/* sched.c: the workers' loop, how it picks the next task from where
 * runnable tasks wait (worker.h), and direct switches between tasks.
 * What the pick takes beyond the worker's own queues (the periodic
 * turn's fairness, the global queue's share, stealing) is in share.c.
 * Where a readied task goes is in ready.c; corun_main, which starts and
 * ends the workers, in main.c; idle workers, wake-ups and deadlock detection
 * in idle.c; task objects, spawn and join in task.c; park/unpark and
 * timers in park.c.
 * Layer: sched (uses base, coro).
 *
 * A task is a coroutine that its worker resumes from the worker thread's
 * own stack. The task gives the worker back with corun_yield(): after a
 * corun__park (t->parking set) the worker finishes the park (park.c);
 * otherwise it was a plain yield (Go's Gosched) and the task goes to the
 * back of the worker's line (run()). A task that returns is finished on
 * its worker (corun__task_exit).
 * Direct switches: a task that parks while its worker's runnext holds a
 * task switches straight to it (corun__park_next), with
 * corun_transfer's rule (the task arriving takes over the worker's loop
 * as its resumer). That saves a switch, a pick and the coro layer's
 * resume/yield pair per wake-up. The arriving side then finishes the
 * park that the leaving one could not finish on its own stack
 * (corun__park_arrive); so a park switches only to tasks that arrive
 * through that function: those parked, and new ones (task_body). A
 * plain corun_yield() goes straight on too (yield_next, asked by the coro
 * layer), to any suspended task, with a switch that runs yield_arrived
 * on the arriving side: that queues the yielder once its context is
 * saved (queued before, the monitor could hand it to another worker
 * while it was still on its stack).
 * Measured (bench_sched -workers 1, callgrind): a channel ping-pong
 * round trip went from 1,134 to 1,043 instructions, and from 136 to
 * 123 ns. A task that ends hands its worker straight to its parked
 * joiner the same way (finish_next, the coro layer's finish hook): 11 %
 * fewer instructions per spawn and join, and 2 % less time when first
 * tried (86.6 against 88.2 ns); with the park's switch in its caller's
 * frame (sched.h, corun__park) it saves 3-5 ns of about 70.
 *
 * Locking: see worker.h for the queues. */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/panic.h"
#include "base/rand.h"
#include "coro/coro.h"
#include "sched/taskq.h"
#include "sched/worker.h"

struct corun__sched corun__S;

__thread struct corun__worker *corun__tls_worker
    __attribute__((tls_model("initial-exec"))); /* worker.h */

__thread uint64_t corun__tls_bias_key
    __attribute__((tls_model("initial-exec"))); /* sched.h */

/* A task in a forked child went back to the scheduler (it returned,
 * yielded or parked): the scheduler would go on to poll the parent's
 * epoll instance or ring, which the child shares. */
_Noreturn void corun__forked_panic(void) {
  corun__panic("a task went back to the scheduler in a child of fork(); "
               "a child of a threaded program may only exec or _exit "
               "(corun.h, fork)");
}

/* Not inlined (worker.h): a task may wake on another thread, and a
 * caller that had this inline could keep the thread variable's address
 * across the switch. */
CORUN__NOINLINE struct corun__worker *corun__worker_self(void) {
  __asm__ volatile("" ::: "memory");
  return corun__tls_worker;
}

struct corun_task *corun__task_self(void) {
  struct corun__worker *w = corun__worker_self();
  return w ? w->current : NULL;
}

CORUN__NOINLINE struct corun_task *corun__task_blocking(int *err) {
  /* The two thread variables read straight, not through the two calls
   * (corun__task_self, corun_current): this function does not switch,
   * and is not inlined (as corun__worker_self). Called up to three times
   * per IO call; 37 -> 15 instructions. */
  struct corun_task *t = corun__task_here();
  if (!t)
    *err = -EPERM;
  return t;
}

corun_task *corun_self(void) {
  return corun__task_self();
}

/* ---- queues --------------------------------------------------------- */

/* Takes w's runnext task, if any; by w, out of any task (in its loop, or
 * in a park past its dispatch count's update and its look at `blocked`).
 * The monitor takes runnext only before it knows w out of the task it
 * found blocked, and w, out of it, waits for the monitor to finish
 * (monitor.c, "The yield line"): so no exchange is needed here. */
static inline struct corun_task *take_runnext(struct corun__worker *w) {
  struct corun_task *t =
      atomic_load_explicit(&w->runnext, memory_order_relaxed);
  if (t) {
    if (CORUN__UNLIKELY(corun__S.runnext_shared))
      return atomic_exchange(&w->runnext, NULL); /* (see worker.h) */
    atomic_store_explicit(&w->runnext, NULL, memory_order_relaxed);
  }
  return t;
}

/* After a pop from w's deque: starts loading what the next pops will
 * need, as corun__taskq_pop does for a queue, in steps that each read only what
 * the previous pop loaded: the stack of the task that comes next (its
 * coroutine struct came at the last pop), the coroutine struct of the one
 * after it, and the task object of the third. A burst of timers that
 * fires at once readies its tasks here (runnext, then the deque), each
 * cold by its turn. Measured (bench_sched -only sleepers -workers 1,
 * pinned, 5 runs of each build alternating): 723-871 -> 655-725 ns per
 * sleeper; 2 workers 675-753 -> 490-623.
 * The slots are not ours: a thief may take any of them meanwhile, run it
 * to its end and retire it (task.c clears its `co`). The reads stay in
 * memory that lives until corun_main returns (task slabs, and stacks in
 * slabs, never unmapped; a deque holds no shared-stack task, whose
 * coroutine struct is on the heap: those have a home and go to the
 * inbox), and prefetches of whatever they find do not fault. Not under
 * ThreadSanitizer, which would report the read of `co` racing with the
 * retire's store: the hint is not worth it there. Out of line: inline, it
 * grew pick() and moved the hot code linked after it (a spawn and join
 * 61 -> 64 ns, 10 alternating runs). */
static CORUN__NOINLINE void deque_prefetch(struct corun__deque *d) {
  size_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  size_t top = atomic_load_explicit(&d->top, memory_order_relaxed);
  ptrdiff_t n = (ptrdiff_t)(b - top);
  if (n >= 3)
    __builtin_prefetch(corun__deque_at(d, b - 3));
#if !CORUN__TSAN
  if (n >= 2)
    __builtin_prefetch(corun__deque_at(d, b - 2)->co);
  if (n >= 1) {
    struct corun_coro *co = corun__deque_at(d, b - 1)->co;
    const char *span;
    if (co) {
      size_t nspan = corun__coro_resume_span(co, CORUN__PREFETCH_STACK, &span);
      corun__prefetch_span(span, nspan);
      corun__coro_prefetch_end(co);
    }
  }
#endif
}

/* The next task of w's own queues behind runnext, or NULL: its inbox,
 * its deque, then its yield line (what was queued before the yielders
 * has its turn first). */
static inline struct corun_task *pick_local(struct corun__worker *w) {
  struct corun_task *t;
  if ((t = corun__taskq_pop(&w->inbox)))
    return t;
  if ((t = corun__deque_pop(&w->dq))) {
    deque_prefetch(&w->dq);
    return t;
  }
  return corun__yield_line_pop(w);
}

/* Every FAIR_TURN-th pick of a worker serves IO, then its queues, each in
 * turn (share.c, corun__fair_pop). */
#define FAIR_TURN 61

/* A fence a revoker of a biased lock asked w for (corun__bias_fence),
 * made between two of w's looks at locks: the acquire orders w's later
 * looks after the revoker's store of "revoking" (which came before its
 * request), the release w's earlier stores before the revoker's read of
 * the answer. */
static inline void fence_serve(struct corun__worker *w) {
  unsigned req = atomic_load_explicit(&w->fence_req, memory_order_acquire);
  if (CORUN__UNLIKELY(
          req != atomic_load_explicit(&w->fence_ack, memory_order_relaxed)))
    atomic_store_explicit(&w->fence_ack, req, memory_order_release);
}

void corun__bias_serve(void) {
  struct corun__worker *w = corun__worker_self();
  if (w)
    fence_serve(w);
}

/* The next task for w to run, or NULL. */
static struct corun_task *pick(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  struct corun_task *t;
  corun__timers_due(w, 1);
  if (CORUN__UNLIKELY(S->shuffle) && (corun__rand(&w->rng) & 1) &&
      (t = corun__taskq_pop(&S->global)))
    return t;
  if (++w->tick == FAIR_TURN) {
    w->tick = 0;
    /* Now and then: IO, then every queue before runnext. Tasks that wake
     * each other (a ping-pong over channels) keep refilling runnext; they
     * would hold this worker for ever while the tasks queued behind them
     * waited (Go gives a runnext chain the time slice of its first task
     * and preempts it; these tasks cannot be preempted). */
    if (CORUN__UNLIKELY(corun__forked))
      corun__forked_panic();
    fence_serve(w);
    if (corun__workers_over()) {
      /* One worker too many: stand down (worker.h), after the tasks
       * pinned here, with a look again at each pick until then. */
      w->tick = FAIR_TURN - 1;
      if ((t = corun__taskq_pop(&w->inbox)))
        return t;
      corun__give_away(w);
      w->stood_down = 1;
      return NULL; /* to idle() */
    }
    const struct corun__poller *p =
        atomic_load_explicit(&S->poller, memory_order_relaxed);
    if (p) {
      if (p->flush)
        p->flush();
      corun__poll_io(w, 0);
    }
    if ((t = corun__fair_pop(w)) || (t = corun__taskq_pop(&S->global)) ||
        (t = pick_local(w)))
      return t;
  }
  if ((t = take_runnext(w)) || (t = pick_local(w)) ||
      (t = corun__global_take(w)))
    return t;
  return corun__steal(w);
}

/* ---- running tasks ---------------------------------------------------- */

/* Whether some worker is idle or looking for work. */
static inline int others_idle(void) {
  return atomic_load_explicit(&corun__S.nidle, memory_order_relaxed) ||
         atomic_load_explicit(&corun__S.nspinning, memory_order_relaxed);
}

/* t called corun_yield(): to the back of w's yield line, a FIFO that
 * pick() serves after the deque. So a yield loop, pinned or not, lets
 * every task queued here have a turn, and yielders take turns among
 * themselves. Owner only: no lock, no wake-up (this worker is busy with
 * them, as before the yield). Go puts a yielder on its locked global
 * queue instead, which two workers then fight over. */
static void yield_line_add(struct corun__worker *w, struct corun_task *t) {
  corun__chain_add(&w->yield_head, &w->yield_tail, t);
  /* More than one task takes turns here while another worker has
   * nothing to do: hand it the oldest, so yielding CPU-bound tasks spread
   * over the workers. On the global queue, which an idle worker takes at
   * once: this worker's deque, which a spinning one leaves alone for the
   * steal grace (idle.c), would hand it straight back here (pick_local
   * takes the deque before the line), and the grace would never run out
   * (a review's find: the second worker took a yielder after 6-15 ms
   * instead of 0.1). */
  if (w->yield_head != t && others_idle())
    corun__push_fifo(w, corun__yield_line_pop(w)); /* (pinned: stays here) */
}

/* A dispatch of worker w: the count goes odd while a task runs, even
 * between tasks, and the monitor watches for a count that stays odd too
 * long (a task blocking this worker). run() brackets each task with the
 * two; a direct switch (corun__park_next, yield_next) ends one dispatch
 * and begins the next around its work on w's queues (a yield's begins on
 * the arriving side, yield_arrived).
 * dispatch_end makes the count even and then looks at `blocked`, in this
 * order as the monitor sees it (monitor.c, "The yield line"): its
 * membarrier(2) makes the hardware keep the order, the signal fence
 * keeps the compiler from swapping them. After it, w's runnext and yield
 * line are its own again (the monitor may have emptied them meanwhile).
 * dispatch_begin makes the count odd again with a release store (free on
 * x86), which publishes what w did to them to a monitor that later finds
 * the next task blocked and takes them. Nothing still on its stack may be
 * put where the monitor can take it between the two (it could hand it to
 * another worker before the switch has saved it): a task that parks is
 * on no queue, its park is finished after the switch.
 * dispatch_end_count and dispatch_begin_count are their stores and looks
 * without the calls: each returns whether that call is due (the monitor
 * took w for blocked; the monitor is asleep), for a fast path that must
 * make no call (corun__park_next). */
static inline int dispatch_end_count(struct corun__worker *w) {
  unsigned long d = atomic_load_explicit(&w->dispatch, memory_order_relaxed);
  atomic_store_explicit(&w->dispatch, d + 1, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  return atomic_load_explicit(&w->blocked, memory_order_relaxed) != 0;
}

static inline int dispatch_begin_count(struct corun__worker *w) {
  unsigned long d = atomic_load_explicit(&w->dispatch, memory_order_relaxed);
  atomic_store_explicit(&w->dispatch, d + 1, memory_order_release);
  /* A monitor that saw every count even may have gone to sleep, and the
   * task about to run may block. */
  return atomic_load_explicit(&corun__S.monitor_asleep, memory_order_relaxed) !=
         0;
}

static inline void dispatch_end(struct corun__worker *w) {
  if (CORUN__UNLIKELY(dispatch_end_count(w)))
    corun__monitor_back(w);
}

static inline void dispatch_begin(struct corun__worker *w) {
  if (CORUN__UNLIKELY(dispatch_begin_count(w)))
    corun__monitor_wake();
}

static void run(struct corun__worker *w, struct corun_task *t) {
  w->current = t;
  void *out = NULL;
  dispatch_begin(w);
  int rc = corun_resume(t->co, NULL, &out);
  /* Back from t, or from the last of the tasks that parking ones switched
   * to straight from it (corun__park_next), each a dispatch of its own. */
  t = w->current;
  dispatch_end(w);
  w->current = NULL;
  if (CORUN__UNLIKELY(rc < 0))
    corun__panic("a task could not be resumed");
  if (rc == 0) {
    corun__task_exit(w, t, out);
  } else if (t->parking) { /* finish corun__park on this side */
    corun__park_finish(t);
  } else {
    yield_line_add(w, t);
  }
}

/* Whether a task on w may switch straight to another now, not through
 * w's loop: not when pick() wants its periodic turn (IO and fairness),
 * nor under the debug shuffle. */
static int direct_allowed(struct corun__worker *w) {
  return !CORUN__UNLIKELY(corun__S.shuffle) && w->tick + 1 != FAIR_TURN;
}

/* direct_next's end, after its dispatch_end: w's runnext, taken (NULL
 * if the monitor took it), as a pick. */
static inline struct corun_task *direct_take(struct corun__worker *w) {
  struct corun_task *n = take_runnext(w);
  dispatch_begin(w);
  w->tick++; /* a pick, as far as fairness goes */
  return n;
}

/* The task that parking task t on w may switch to straight, without the
 * round trip through w's loop (two switches and a pick): w's runnext,
 * taken, when pick() would return it now; NULL otherwise, and t goes back
 * to the loop, which does the rest. Not a task on a shared stack (a
 * switch to it may need the thread's copier made first, which can fail). */
static struct corun_task *direct_next(struct corun__worker *w) {
  struct corun_task *n =
      atomic_load_explicit(&w->runnext, memory_order_relaxed);
  /* Nothing in runnext: back to the loop, whose pick() runs the timers. */
  if (!direct_allowed(w) || !n)
    return NULL;
  /* As pick() does first (timers may fill runnext); t's park lock is
   * held here, so a due flush of the poller's queue sends t to the loop,
   * whose pick() makes it. */
  int due = corun__timers_due(w, 0);
  if (due < 0)
    return NULL;
  if (due)
    n = atomic_load_explicit(&w->runnext, memory_order_relaxed);
  if (!n || n->shared)
    return NULL;
  dispatch_end(w);
  return direct_take(w);
}

#if CORUN__YIELD_HOOK
/* The end of a coro-layer hook that sends w straight to task n: a pick,
 * as far as fairness goes; fn(arg) runs on n's stack once the switch has
 * left the task that ran. */
static struct corun_coro *go_straight(struct corun__worker *w,
                                      struct corun__thread *ct,
                                      struct corun_task *n, void (*fn)(void *),
                                      void *arg) {
  w->tick++;
  w->current = n;
  ct->yield_fn = fn;
  ct->yield_arg = arg;
  return n->co;
}

/* Runs on the joiner's stack once the exited task's context is left
 * (finish_next): the rest of its exit. */
static void exit_arrived(void *dead) {
  corun__task_retire(corun__tls_worker, dead);
}

/* The coro layer's finish hook on worker threads (corun__thread's
 * finish_hook): the running task's body returned `result`. Where its
 * joiner is parked and pick() would run it next (corun__unpark readies
 * it into runnext), hands it the result and returns it, and the worker
 * goes to it straight, as a park does: one switch instead of two, and no
 * round trip through the loop. NULL: the loop does the exit. */
static struct corun_coro *finish_next(struct corun__thread *ct, void *result) {
  struct corun__worker *w = corun__tls_worker;
  if (CORUN__UNLIKELY(!w) || !direct_allowed(w) ||
      corun__timers_due(w, 0)) /* (fired or flush due: the loop's turn) */
    return NULL;
  struct corun_task *t = w->current;
  struct corun_task *j = corun__task_exit_to_joiner(w, t, result);
  if (!j)
    return NULL;
  dispatch_end(w);
  /* As corun__ready(j) would: a task in runnext (one the child spawned or
   * woke) becomes stealable, and an idle worker is woken for it; left
   * there, it would wait until j gives the worker back (a review's find:
   * for ever with the monitor off). */
  struct corun_task *old = take_runnext(w);
  if (old)
    corun__push_here(w, old);
  dispatch_begin(w);
  return go_straight(w, ct, j, exit_arrived, t);
}
#endif

/* The end of corun__park_next: t goes to n, or (NULL) to w's loop. */
static inline int park_go(struct corun__worker *w, struct corun_task *t,
                          struct corun_task *n, struct corun_coro **to) {
  if (n) {
    /* t's park is the arriving side's to finish: n is suspended in a park
     * or has not started (task_body), the only two kinds of task in
     * runnext, and both call corun__park_arrive() first. */
    w->parked = t;
    w->current = n;
    *to = n->co;
  } else {
    t->parking = 1;
    *to = NULL;
  }
  return CORUN__PARK_SWITCH;
}

/* corun__park_next where its fast path does not apply: direct_next's
 * whole look, which may call out (timers, the poller's flush). */
static CORUN__NOINLINE int park_next_slow(struct corun__worker *w,
                                          struct corun_task *t,
                                          struct corun_coro **to) {
  return park_go(w, t, direct_next(w), to);
}

/* The fast path's rest, once its dispatch_end_count found w taken for
 * blocked: as direct_next from its dispatch_end on. */
static CORUN__NOINLINE int park_next_back(struct corun__worker *w,
                                          struct corun_task *t,
                                          struct corun_coro **to) {
  corun__monitor_back(w);
  return park_go(w, t, direct_take(w), to);
}

/* The fast path's rest, once its dispatch_begin_count found the monitor
 * asleep. */
static CORUN__NOINLINE int park_next_wake(struct corun__worker *w,
                                          struct corun_task *t,
                                          struct corun_task *n,
                                          struct corun_coro **to) {
  corun__monitor_wake();
  w->tick++;
  return park_go(w, t, n, to);
}

/* direct_next and park_go, with the common case (w's runnext holds a task
 * on its own stack, no timer armed, no flush waiting, the monitor awake
 * and not after w) in a function that calls nothing: every rarer case
 * leaves through a tail call. So it saves no register, and neither does
 * corun__park_begin, whose tail call this is: 20 of the 37 instructions
 * of the two were saves and restores (callgrind, bench_sched pingpong). */
int corun__park_next(struct corun__worker *w, struct corun_task *t,
                     struct corun_coro **to) {
  struct corun_task *n =
      atomic_load_explicit(&w->runnext, memory_order_relaxed);
  if (CORUN__UNLIKELY(
          !n || n->shared || !direct_allowed(w) || corun__S.runnext_shared ||
          atomic_load_explicit(&corun__flush_by.at, memory_order_relaxed) ||
          atomic_load_explicit(&w->ntimers, memory_order_relaxed)))
    return park_next_slow(w, t, to);
  if (CORUN__UNLIKELY(dispatch_end_count(w)))
    return park_next_back(w, t, to);
  /* (as take_runnext, runnext_shared being off) */
  n = atomic_load_explicit(&w->runnext, memory_order_relaxed);
  atomic_store_explicit(&w->runnext, NULL, memory_order_relaxed);
  if (CORUN__UNLIKELY(dispatch_begin_count(w)))
    return park_next_wake(w, t, n, to);
  w->tick++; /* a pick, as far as fairness goes */
  return park_go(w, t, n, to);
}

#if CORUN__YIELD_HOOK
/* Runs on the arriving task's stack once the yielder's context is saved
 * (yield_next): the yielder may be queued now. Between the yielder's
 * dispatch_end and this dispatch_begin the count is even, so the monitor
 * leaves the line alone while it changes. */
static void yield_arrived(void *yielder) {
  struct corun__worker *w = corun__tls_worker;
  yield_line_add(w, yielder);
  dispatch_begin(w);
}

/* The coro layer's yield hook on worker threads (corun__thread's
 * yield_hook): the running task t called corun_yield(). Where pick()
 * would now take the task in runnext, or the first of the yield line
 * with nothing queued before it, returns that one (taken), and the
 * worker goes to it straight, as a park does (corun__park_next): one
 * switch instead of two and a pick. t goes to the back of the line, but
 * only once its context is saved, by yield_arrived on the other side of
 * the switch: queued before, another worker could take it (the monitor
 * hands a stalled worker's line to others) and run it while it is still
 * on its stack. NULL: corun_yield goes back to the loop, which does the
 * same in two switches; also while another worker is idle, since the
 * loop's yield_line_add then hands it the oldest yielder (tasks that
 * took turns here straight would keep to this worker). */
static struct corun_coro *yield_next(struct corun__thread *ct) {
  struct corun__worker *w = corun__tls_worker;
  if (CORUN__UNLIKELY(!w)) /* a child of fork(): corun is off (main.c) */
    return NULL;
  /* A first look, before touching anything. The coro layer has seen
   * runnext or the line's head set (corun__thread.yield_if; atomic loads:
   * a monitor that took w for blocked may be clearing the line). A park's
   * own yield goes to the loop, which finishes the park. */
  int next = atomic_load_explicit(&w->runnext, memory_order_relaxed) != NULL;
  struct corun_task *t = w->current;
  if (t->parking || !direct_allowed(w) ||
      (!next && (atomic_load_explicit(&w->inbox.len, memory_order_relaxed) ||
                 corun__deque_busy(&w->dq) || others_idle())))
    return NULL;
  /* As pick() does first (it may fill runnext); a plain yield holds no
   * lock, so it may make the poller's flush too. */
  corun__timers_due(w, 1);
  dispatch_end(w); /* from here runnext and the line are w's own */
  struct corun_task *n =
      atomic_load_explicit(&w->runnext, memory_order_relaxed);
  if (n) {
    n = n->shared ? NULL : take_runnext(w); /* (see direct_next) */
  } else if ((n = w->yield_head) != NULL && !n->shared &&
             !atomic_load_explicit(&w->inbox.len, memory_order_relaxed) &&
             !corun__deque_busy(&w->dq)) {
    w->yield_head = n->qnext;
  } else {
    n = NULL;
  }
  if (!n) {
    dispatch_begin(w); /* a dispatch of its own, as in direct_next */
    return NULL;
  }
  return go_straight(w, ct, n, yield_arrived, t);
}
#endif

void corun__park_arrive(void) {
  struct corun__worker *w = corun__worker_self(); /* re-read: t moves */
  struct corun_task *p = w ? w->parked : NULL;
  if (p) {
    w->parked = NULL;
    corun__park_finish(p);
  }
}

static void worker_loop(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  corun__tls_worker = w;
  corun__tls_bias_key = corun__bias_key_of(w->index);
  corun__solo_wake(w); /* (a spare: revokes the bias of the one it helps) */
  atomic_store_explicit(&w->tid, (int)syscall(SYS_gettid),
                        memory_order_relaxed);
  /* Timers wake idle workers through the futex timeout, which the kernel
   * may delay by the thread's timer slack (50 us by default): ask for none,
   * so a 1 ms sleep ends within a few microseconds of its deadline. */
  long slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  /* The coroutine layer's per-thread state, made now: a resume that cannot
   * make it would fail, and a task must never be left half run. Out of
   * memory, the worker waits (and takes no task) until it gets it. */
  struct corun__thread *ct;
  while (!(ct = corun__thread_get()) &&
         !atomic_load_explicit(&S->done, memory_order_acquire)) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
#if CORUN__YIELD_HOOK
  if (ct) {
    ct->yield_if[0] = (void **)&w->runnext;
    ct->yield_if[1] = (void **)&w->yield_head;
    ct->yield_hook = yield_next;
    ct->finish_hook = finish_next;
  }
#endif
  while (!atomic_load_explicit(&S->done, memory_order_acquire)) {
    struct corun_task *t = pick(w);
    if (t)
      run(w, t);
    else
      corun__idle(w);
    if (CORUN__UNLIKELY(w->stood_down)) {
      /* Woken: needed again, or for a pinned task or its timers; the
       * next pick looks (its periodic turn). */
      w->stood_down = 0;
      w->tick = FAIR_TURN - 1;
    }
  }
  if (slack > 0) /* the thread calling corun_main gets its own back */
    prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
  if (ct) {
    ct->yield_hook = NULL;
    ct->finish_hook = NULL;
  }
  corun__tls_worker = NULL;
  corun__tls_bias_key = 0;
}

void *corun__worker_thread(void *w) {
  worker_loop(w);
  return NULL;
}

void corun__worker_forget_thread(void) {
  corun__tls_worker = NULL;
  corun__tls_bias_key = 0;
}
