/* sched.c: the workers' loop, idle workers and deadlock detection, and
 * where runnable tasks wait (worker.h). corun_main, which starts and
 * ends the workers, is in main.c; task objects, spawn and join in
 * task.c; park/unpark and timers in park.c.
 * Layer: sched (uses base, coro).
 *
 * A task is a coroutine that its worker resumes from the worker thread's
 * own stack. The task gives the worker back with corun_yield(): after a
 * corun__park (t->parking set) the worker finishes the park (park.c);
 * otherwise it was a plain yield (Go's Gosched) and the task goes to the
 * back of the worker's line (run()). A task that returns is finished on
 * its worker (corun__task_exit).
 * Direct switches: a task that parks while its worker's runnext holds a
 * task switches straight to it (corun__park_switch), with
 * corun_transfer's rule (the task arriving takes over the worker's loop
 * as its resumer). That saves a switch, a pick and the coro layer's
 * resume/yield pair per wake-up. The arriving side then finishes the
 * park that the leaving one could not finish on its own stack
 * (corun__park_arrive); so only tasks that arrive through that function
 * are switched to: those parked, and new ones (task_body). (A plain
 * corun_yield() going straight on too, through a hook in the coro layer,
 * took a yield round trip from 29.5 to 22.5 ns, but it published the
 * yielding task on the yield line before its context was saved, where
 * the monitor could hand it to another worker: left out until the
 * switch can run code on the arriving side.)
 * Measured (bench_sched -workers 1, callgrind): a channel ping-pong
 * round trip went from 1,134 to 1,043 instructions, and from 136 to
 * 123 ns. A task that ends could hand its worker straight to its parked
 * joiner the same way: 11 % fewer instructions per spawn and join, but
 * only 2 % less time (86.6 against 88.2 ns, three alternating runs), not
 * worth a second arrival path and a coro-layer entry point.
 *
 * Locking: see worker.h for the queues; the idle stack is under
 * corun__S.idle_lock. */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/futex.h"
#include "base/panic.h"
#include "base/rand.h"
#include "coro/coro.h"
#include "sched/worker.h"

struct corun__sched corun__S;

static __thread struct corun__worker *tls_worker
    __attribute__((tls_model("initial-exec")));

/* A task in a forked child went back to the scheduler (it returned,
 * yielded or parked): the scheduler would go on to poll the parent's
 * epoll instance or ring, which the child shares. */
static _Noreturn void forked_panic(void) {
  corun__panic("a task went back to the scheduler in a child of fork(); "
               "a child of a threaded program may only exec or _exit "
               "(corun.h, fork)");
}

struct corun__worker *corun__worker_self(void) {
  __asm__ volatile("" ::: "memory");
  return tls_worker;
}

struct corun_task *corun__task_self(void) {
  struct corun__worker *w = corun__worker_self();
  return w ? w->current : NULL;
}

struct corun_task *corun__task_blocking(int *err) {
  struct corun_task *t = corun__task_self();
  if (!t || corun_current() != t->co) {
    *err = -EPERM;
    return NULL;
  }
  return t;
}

corun_task *corun_self(void) {
  return corun__task_self();
}

/* ---- queues --------------------------------------------------------- */

void corun__taskq_push(struct corun__taskq *q, struct corun_task *t) {
  t->qnext = NULL;
  corun__lock_acquire(&q->lock);
  if (q->tail)
    q->tail->qnext = t;
  else
    q->head = t;
  q->tail = t;
  atomic_fetch_add(&q->len, 1);
  corun__lock_release(&q->lock);
}

static struct corun_task *taskq_pop(struct corun__taskq *q) {
  if (!atomic_load_explicit(&q->len, memory_order_relaxed))
    return NULL;
  corun__lock_acquire(&q->lock);
  struct corun_task *t = q->head;
  if (t) {
    q->head = t->qnext;
    if (!q->head)
      q->tail = NULL;
    atomic_fetch_sub(&q->len, 1);
  }
  corun__lock_release(&q->lock);
  return t;
}

/* Wakes worker w, which the caller took off the idle stack. */
static void wake_worker(struct corun__worker *w) {
  atomic_store(&w->futex_word, 1);
  /* The caller itself: a worker that readies tasks from its own poll
   * (idle(), on the idle stack, in_poll set) takes itself off the stack
   * and is awake already. Its wake-up through the poller cost an eventfd
   * write and read per poll (two system calls per request of an HTTP
   * server with one connection). */
  if (w == tls_worker)
    return;
  /* A worker blocked in the poller checks futex_word after announcing
   * in_poll and before it blocks: one of the two sees the other. */
  if (atomic_load(&w->in_poll))
    atomic_load(&corun__S.poller)->wake();
  else
    corun__futex_wake(&w->futex_word, 1);
}

void corun__external_begin(void) {
  atomic_fetch_add(&corun__S.external, 1);
}

void corun__external_end(void) {
  atomic_fetch_sub(&corun__S.external, 1);
}

int corun__sched_at_end(void (*fn)(void)) {
  struct corun__sched *S = &corun__S;
  int rc = -ENOMEM;
  corun__lock_acquire(&S->end_lock);
  for (unsigned i = 0; i < sizeof S->at_end / sizeof S->at_end[0]; i++)
    if (!S->at_end[i] || S->at_end[i] == fn) {
      S->at_end[i] = fn;
      rc = 0;
      break;
    }
  corun__lock_release(&S->end_lock);
  return rc;
}

int corun__sched_set_poller(const struct corun__poller *p) {
  const struct corun__poller *none = NULL;
  return atomic_compare_exchange_strong(&corun__S.poller, &none, p) ? 0
                                                                    : -EBUSY;
}

/* Runs the poller for up to timeout_ns if tasks wait for IO and no other
 * worker is in it. Returns whether it ran. */
static int poll_io(struct corun__worker *w, int64_t timeout_ns) {
  struct corun__sched *S = &corun__S;
  const struct corun__poller *p = atomic_load(&S->poller);
  if (!p || p->pending() == 0)
    return 0;
  int zero = 0;
  if (!atomic_compare_exchange_strong(&S->polling, &zero, 1))
    return 0;
  w->in_poller = 1; /* the tasks it readies queue FIFO: corun__ready */
  p->poll(timeout_ns);
  w->in_poller = 0;
  atomic_store(&S->polling, 0);
  return 1;
}

/* Stealable work was just published: make sure some worker will look. */
void corun__wake_one(void) {
  struct corun__sched *S = &corun__S;
  /* A read-modify-write, not a load: it is ordered after the publication
   * of the work and against the idle side's increment (worker.h: no lost
   * wake-ups). */
  if (!atomic_fetch_add(&S->nidle, 0) || atomic_load(&S->nspinning))
    return;
  corun__lock_acquire(&S->idle_lock);
  struct corun__worker *w = S->idle_head;
  if (w) {
    S->idle_head = w->idle_next;
    w->idle = 0;
    atomic_fetch_sub(&S->nidle, 1);
  }
  corun__lock_release(&S->idle_lock);
  if (w)
    wake_worker(w);
}

/* Under idle_lock: takes w off the idle stack if it is on it; returns
 * whether it was. */
static int leave_idle_stack(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  if (!w->idle)
    return 0;
  struct corun__worker **p = &S->idle_head;
  while (*p != w)
    p = &(*p)->idle_next;
  *p = w->idle_next;
  w->idle = 0;
  atomic_fetch_sub(&S->nidle, 1);
  return 1;
}

/* Wakes worker w in particular (its inbox got a task), if it is idle. */
static void wake_this(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  if (!atomic_fetch_add(&S->nidle, 0)) /* as in corun__wake_one() */
    return;
  corun__lock_acquire(&S->idle_lock);
  int found = leave_idle_stack(w);
  corun__lock_release(&S->idle_lock);
  if (found)
    wake_worker(w);
}

/* Puts t where worker `self` keeps stealable work. */
static void push_local(struct corun__worker *self, struct corun_task *t) {
  if (corun__deque_push(&self->dq, t) < 0)
    corun__taskq_push(&corun__S.global, t);
  corun__wake_one();
}

void corun__ready(struct corun_task *t) {
  struct corun__worker *self = corun__worker_self();
  /* Read once: t may run (and change its pin) as soon as it is queued. */
  struct corun__worker *home = t->home;
  if (home && home != self) {
    corun__taskq_push(&home->inbox, t);
    wake_this(home);
    return;
  }
  if (!self) { /* a thread that is not a worker */
    corun__taskq_push(&corun__S.global, t);
    corun__wake_one();
    return;
  }
  if (CORUN__UNLIKELY(corun__S.shuffle)) {
    if (home || corun__rand(&self->rng) & 1)
      corun__taskq_push(home ? &self->inbox : &corun__S.global, t);
    else
      push_local(self, t);
    corun__wake_one();
    return;
  }
  if (self->in_poller) {
    /* Readied by IO, maybe one of many in this poll: first come, first
     * served, on the global queue (runnext and the deque would serve the
     * last first, and under steady load the first might wait for long:
     * a p99 latency of 300 ms in an HTTP benchmark). Also visible to the
     * deadlock check before the poller drops its pending count. */
    if (home) { /* pinned here: it stays (a shared stack's task) */
      corun__taskq_push(&self->inbox, t);
      return;
    }
    corun__taskq_push(&corun__S.global, t);
    corun__wake_one();
    return;
  }
  if (CORUN__UNLIKELY(self->asleep ||
                      atomic_load_explicit(&self->blocked,
                                           memory_order_relaxed))) {
    /* Readied by IO this worker polled while counted asleep: where other
     * workers see it, or one going idle now could find every worker
     * asleep, no IO pending and no work, and declare a deadlock. Readied
     * by a task the monitor found blocking this worker: where others
     * can take it. */
    if (home)
      corun__taskq_push(&self->inbox, t);
    else
      push_local(self, t);
    return;
  }
  /* Plain loads and stores when runnext is empty (the common case): a
   * monitor that takes it meanwhile finds it empty or finds t, either is
   * fine. A task in it must be taken out with an exchange, which the
   * monitor may be making too (worker.h). (Release: a monitor that takes
   * t reads it.) */
  struct corun_task *old =
      atomic_load_explicit(&self->runnext, memory_order_relaxed);
  if (!old)
    atomic_store_explicit(&self->runnext, t, memory_order_release);
  else
    old = atomic_exchange(&self->runnext, t);
  if (old) { /* the older one becomes stealable (or waits in the inbox) */
    if (old->home)
      corun__taskq_push(&self->inbox, old);
    else
      push_local(self, old);
  }
}

/* Takes w's runnext task, if any; by w, out of any task (in its loop, or
 * in a park past its dispatch count's update and its look at `blocked`).
 * The monitor takes runnext only before it knows w out of the task it
 * found blocked, and w, out of it, waits for the monitor to finish
 * (monitor.c, "The yield line"): so no exchange is needed here. */
static struct corun_task *take_runnext(struct corun__worker *w) {
  struct corun_task *t =
      atomic_load_explicit(&w->runnext, memory_order_relaxed);
  if (t) {
    if (CORUN__UNLIKELY(corun__S.runnext_shared))
      return atomic_exchange(&w->runnext, NULL); /* (see worker.h) */
    atomic_store_explicit(&w->runnext, NULL, memory_order_relaxed);
  }
  return t;
}

/* The next task for w to run, or NULL. */
static struct corun_task *pick(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  struct corun_task *t;
  if (atomic_load_explicit(&w->ntimers, memory_order_relaxed))
    corun__timers_run(w); /* (the check inline: most picks have none) */
  if (CORUN__UNLIKELY(S->shuffle) && (corun__rand(&w->rng) & 1) &&
      (t = taskq_pop(&S->global)))
    return t;
  if (++w->tick % 61 == 0) {
    /* Now and then: IO, then every queue before runnext. Tasks that wake
     * each other (a ping-pong over channels) keep refilling runnext; they
     * would hold this worker for ever while the tasks queued behind them
     * waited (Go gives a runnext chain the time slice of its first task
     * and preempts it; these tasks cannot be preempted). */
    if (CORUN__UNLIKELY(corun__forked))
      forked_panic();
    const struct corun__poller *p =
        atomic_load_explicit(&S->poller, memory_order_relaxed);
    if (p) {
      if (p->flush)
        p->flush();
      poll_io(w, 0);
    }
    if ((t = taskq_pop(&S->global)) || (t = taskq_pop(&w->inbox)) ||
        (t = corun__deque_pop(&w->dq)))
      return t;
    if ((t = w->yield_head)) {
      w->yield_head = t->qnext;
      return t;
    }
  }
  if ((t = take_runnext(w)))
    return t;
  if ((t = taskq_pop(&w->inbox)) || (t = corun__deque_pop(&w->dq)))
    return t;
  if ((t = w->yield_head)) { /* what was queued before them had its turn */
    w->yield_head = t->qnext;
    return t;
  }
  if ((t = taskq_pop(&S->global)))
    return t;
  unsigned n = atomic_load_explicit(&S->n, memory_order_relaxed);
  if (n > 1) { /* steal, from a random victim onwards */
    unsigned start = corun__rand_below(&w->rng, n);
    for (unsigned i = 0; i < n; i++) {
      struct corun__worker *v = &S->w[(start + i) % n];
      if (v != w && (t = corun__deque_steal(&v->dq)))
        return t;
    }
  }
  return NULL;
}

/* Whether some work that w could take is visible. Not another worker's
 * inbox: w cannot take those tasks, and counting them kept w spinning
 * through idle() for as long as their worker was busy (each hooked call
 * pins its task, so under load some inbox is seldom empty). */
static int work_visible(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  if (atomic_load(&w->runnext) || w->yield_head ||
      atomic_load(&S->global.len) || atomic_load(&w->inbox.len))
    return 1;
  unsigned n = atomic_load(&S->n);
  for (unsigned i = 0; i < n; i++)
    if (corun__deque_busy(&S->w[i].dq))
      return 1;
  return 0;
}

/* Whether any task waits in a queue: work w could take, or a task in
 * another worker's inbox. That worker was woken for it but may still
 * count as asleep, so the deadlock check must not miss it. */
static int work_queued(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  if (work_visible(w))
    return 1;
  unsigned n = atomic_load(&S->n);
  for (unsigned i = 0; i < n; i++)
    if (atomic_load(&S->w[i].inbox.len))
      return 1;
  return 0;
}

/* ---- idle and deadlock ----------------------------------------------- */

void corun__finish_all(int deadlock) {
  struct corun__sched *S = &corun__S;
  corun__lock_acquire(&S->idle_lock);
  if (!atomic_load(&S->done)) {
    S->deadlock = deadlock;
    atomic_store(&S->done, 1);
  }
  struct corun__worker *w = S->idle_head;
  S->idle_head = NULL;
  while (w) {
    struct corun__worker *next = w->idle_next;
    w->idle = 0;
    atomic_fetch_sub(&S->nidle, 1);
    wake_worker(w);
    w = next;
  }
  corun__lock_release(&S->idle_lock);
}

/* Whether a timer is armed on any worker. For the deadlock check: each
 * worker stores its count under its timer lock, and before it sleeps
 * takes idle_lock, under which this is called. */
static int timers_armed(void) {
  struct corun__sched *S = &corun__S;
  unsigned n = atomic_load(&S->n);
  for (unsigned i = 0; i < n; i++)
    if (atomic_load(&S->w[i].ntimers))
      return 1;
  return 0;
}

/* Called when w found nothing to run. Returns when there may be work, or
 * when the scheduler is done. */
static void idle(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  if (CORUN__UNLIKELY(corun__forked))
    forked_panic();
  const struct corun__poller *p = atomic_load(&S->poller);
  if (p && p->flush) /* before anything else: our tasks wait on these */
    p->flush();
  /* Spin a little first: a task readied a moment from now is then picked
   * up without a futex wake-up (and wakers skip the wake-up meanwhile).
   * IO that completes meanwhile counts too. At most half the busy
   * workers spin, as in Go's scheduler (proc.go, findrunnable), since
   * only the others make new work: so never the only worker, which
   * would burn its CPU where sleeping in the poller costs nothing (an
   * HTTP server with one worker spent 3 % of its CPU here). Not under
   * Valgrind, where the spinner would starve the threads with work
   * (base/valgrind.h). */
  unsigned busy = atomic_load(&S->n) - atomic_load(&S->nidle);
  if (!S->spin_ns || 2 * (atomic_load(&S->nspinning) + 1) > busy)
    goto sleep;
  atomic_fetch_add(&S->nspinning, 1);
  int64_t until = corun__clock_ns() + S->spin_ns;
  int seen = 0;
  for (unsigned i = 0; !atomic_load(&S->done); i++) {
    if (work_visible(w)) {
      seen = 1;
      break;
    }
    if (i % 64 == 63) {
      if (corun__clock_ns() > until)
        break;
      if (i % 256 == 255 && p)
        poll_io(w, 0);
    }
    corun__cpu_relax();
  }
  atomic_fetch_sub(&S->nspinning, 1);
  if (seen || atomic_load(&S->done))
    return;
sleep:

  atomic_store(&w->futex_word, 0);
  corun__lock_acquire(&S->idle_lock);
  w->idle_next = S->idle_head;
  S->idle_head = w;
  w->idle = 1;
  atomic_fetch_add(&S->nidle, 1);
  corun__lock_release(&S->idle_lock);
  int64_t next = corun__timers_run(w);
  /* The stacks of a burst of finished tasks go back to the kernel a
   * second or two later: wake up for that too (once, not periodically). */
  int64_t scavenge = corun__stack_scavenge(corun__clock_ns());
  if (scavenge >= 0 && (next < 0 || scavenge < next))
    next = scavenge;
  if (!work_visible(w) && !atomic_load(&S->done)) {
    /* Asleep: this worker has fired its due timers and found its own
     * queues (runnext, yield line: only it fills them) empty. When every
     * worker is asleep, no timer is armed and no shared queue holds a
     * task, nothing can ever wake the remaining tasks: a deadlock. A
     * worker that is merely on the idle stack does not count, since it
     * may still be firing a timer into its runnext (the timer count has
     * dropped by then, but the task is not visible to others). */
    corun__lock_acquire(&S->idle_lock);
    w->asleep = 1;
    p = atomic_load(&S->poller); /* maybe installed meanwhile */
    /* IO first: a poller readies a task (where work_visible sees it)
     * before it drops its pending count. */
    int all = ++S->nasleep == atomic_load(&S->n) && !timers_armed() &&
              !(p && p->pending() > 0) && atomic_load(&S->external) == 0 &&
              !work_queued(w);
    long live = 0;
    if (all) /* every worker wrote its count before taking idle_lock */
      for (unsigned i = 0; i < atomic_load(&S->n); i++)
        live += S->w[i].live;
    corun__lock_release(&S->idle_lock);
    if (all) {
      /* Every task finished: done. Some did not: they never can. */
      if (live > 0)
        corun__tasks_dump();
      corun__finish_all(live > 0);
    }
    struct timespec ts, *tp = NULL;
    if (next >= 0) {
      int64_t d = next - corun__clock_ns();
      if (d < 0)
        d = 0;
      ts.tv_sec = d / 1000000000;
      ts.tv_nsec = d % 1000000000;
      tp = &ts;
    }
    int polled = 0;
    if (!all && p && p->pending() > 0) {
      /* Tasks wait for IO: sleep in the poller (one worker at a time),
       * with the same timeout, so IO wakes this worker too. */
      atomic_store(&w->in_poll, 1);
      if (atomic_load(&w->futex_word) == 0)
        polled = poll_io(
            w, next >= 0 ? (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec : -1);
      else
        polled = 1; /* woken meanwhile */
      atomic_store(&w->in_poll, 0);
    }
    if (!all && !polled)
      corun__futex_wait(&w->futex_word, tp);
  }
  /* Leave the idle stack if no waker took us off it. */
  corun__lock_acquire(&S->idle_lock);
  if (w->asleep) {
    w->asleep = 0;
    S->nasleep--;
  }
  leave_idle_stack(w);
  corun__lock_release(&S->idle_lock);
}

/* ---- running tasks ---------------------------------------------------- */

/* t called corun_yield(): to the back of w's yield line, a FIFO that
 * pick() serves after the deque. So a yield loop, pinned or not, lets
 * every task queued here have a turn, and yielders take turns among
 * themselves. Owner only: no lock, no wake-up (this worker is busy with
 * them, as before the yield). Go puts a yielder on its locked global
 * queue instead, which two workers then fight over. */
static void yield_line_add(struct corun__worker *w, struct corun_task *t) {
  t->qnext = NULL;
  if (w->yield_head)
    w->yield_tail->qnext = t;
  else
    w->yield_head = t;
  w->yield_tail = t;
  /* More than one task takes turns here while another worker has
   * nothing to do: hand it the oldest (the deque is stealable, the
   * line is not), so yielding CPU-bound tasks spread over the workers. */
  if (w->yield_head != t &&
      (atomic_load_explicit(&corun__S.nidle, memory_order_relaxed) ||
       atomic_load_explicit(&corun__S.nspinning, memory_order_relaxed))) {
    struct corun_task *oldest = w->yield_head;
    w->yield_head = oldest->qnext;
    if (oldest->home)
      corun__taskq_push(&w->inbox, oldest); /* pinned: it stays here */
    else
      push_local(w, oldest);
  }
}

static void run(struct corun__worker *w, struct corun_task *t) {
  w->current = t;
  void *out = NULL;
  /* Odd while the task runs: the monitor watches for a count that stays
   * odd too long (a task blocking this worker). A plain store: release
   * (free on x86) publishes this worker's yield line to a monitor that
   * takes it over while the task blocks (monitor.c). */
  unsigned long d = atomic_load_explicit(&w->dispatch, memory_order_relaxed);
  atomic_store_explicit(&w->dispatch, d + 1, memory_order_release);
  if (CORUN__UNLIKELY(
          atomic_load_explicit(&corun__S.monitor_asleep, memory_order_relaxed)))
    corun__monitor_wake();
  int rc = corun_resume(t->co, NULL, &out);
  /* Back from t, or from the last of the tasks that parking ones switched
   * to straight from it (corun__park_switch), each a dispatch of its own. */
  t = w->current;
  d = atomic_load_explicit(&w->dispatch, memory_order_relaxed);
  /* Store, then look at `blocked`, in this order as the monitor sees it
   * (monitor.c, "The yield line"): its membarrier(2) makes the hardware
   * keep the order, the signal fence keeps the compiler from swapping
   * them. */
  atomic_store_explicit(&w->dispatch, d + 1, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (CORUN__UNLIKELY(atomic_load_explicit(&w->blocked, memory_order_relaxed)))
    corun__monitor_back(w);
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
  return !CORUN__UNLIKELY(corun__S.shuffle) && (w->tick + 1) % 61 != 0;
}

/* The bookkeeping of a direct switch on w, in two halves around the work
 * on w's queues, as run() and the next run() do it: dispatch_end makes
 * the count even (out of the task) and looks at `blocked` (monitor.c's
 * handshake), after which w's runnext and yield line are its own again
 * (the monitor may have emptied them meanwhile); it also counts a pick,
 * for fairness. dispatch_begin makes the count odd again with a release
 * store, which publishes what w did to them to a monitor that later
 * finds the next task blocked and takes them. Nothing still on its stack
 * may be put where the monitor can take it between the two (it could
 * hand it to another worker before the switch has saved it): the task
 * leaving is on no queue, the arriving side finishes its park. */
static void dispatch_end(struct corun__worker *w) {
  unsigned long d = atomic_load_explicit(&w->dispatch, memory_order_relaxed);
  atomic_store_explicit(&w->dispatch, d + 1, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (CORUN__UNLIKELY(atomic_load_explicit(&w->blocked, memory_order_relaxed)))
    corun__monitor_back(w);
  w->tick++;
}

static void dispatch_begin(struct corun__worker *w) {
  unsigned long d = atomic_load_explicit(&w->dispatch, memory_order_relaxed);
  atomic_store_explicit(&w->dispatch, d + 1, memory_order_release);
  /* As run() does: a monitor that saw the count even may have gone to
   * sleep, and the task about to run may block. */
  if (CORUN__UNLIKELY(
          atomic_load_explicit(&corun__S.monitor_asleep, memory_order_relaxed)))
    corun__monitor_wake();
}

/* The task that parking task t on w may switch to straight, without the
 * round trip through w's loop (two switches and a pick): w's runnext,
 * taken, when pick() would return it now; NULL otherwise, and t goes back
 * to the loop, which does the rest. Not a task on a shared stack (a
 * switch to it may need the thread's copier made first, which can fail). */
static struct corun_task *direct_next(struct corun__worker *w) {
  if (!direct_allowed(w))
    return NULL;
  if (atomic_load_explicit(&w->ntimers, memory_order_relaxed))
    corun__timers_run(w); /* as pick() does first */
  struct corun_task *n =
      atomic_load_explicit(&w->runnext, memory_order_relaxed);
  if (!n || n->on_shared)
    return NULL;
  dispatch_end(w);
  n = take_runnext(w); /* (empty if the monitor took it) */
  dispatch_begin(w);
  return n;
}

void corun__park_switch(struct corun__worker *w, struct corun_task *t) {
  struct corun_task *n = direct_next(w);
  if (n) {
    /* t's park is the arriving side's to finish: n is suspended in this
     * function or has not started (task_body), the only two kinds of
     * task in runnext, and both call corun__park_arrive() first. */
    w->parked = t;
    w->current = n;
    if (CORUN__UNLIKELY(corun_transfer(n->co, NULL, NULL) < 0))
      corun__panic("a task could not be resumed");
  } else {
    t->parking = 1;
    corun_yield(NULL); /* to the worker: run() finishes the park */
  }
  corun__park_arrive();
}

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
  tls_worker = w;
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
  while (!corun__thread_get() &&
         !atomic_load_explicit(&S->done, memory_order_acquire)) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  while (!atomic_load_explicit(&S->done, memory_order_acquire)) {
    struct corun_task *t = pick(w);
    if (t)
      run(w, t);
    else
      idle(w);
  }
  if (slack > 0) /* the thread calling corun_main gets its own back */
    prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
  tls_worker = NULL;
}

void *corun__worker_thread(void *w) {
  worker_loop(w);
  return NULL;
}

void corun__worker_forget_thread(void) {
  tls_worker = NULL;
}
