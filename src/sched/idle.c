/* idle.c: idle workers, waking them, and deadlock detection.
 * Layer: sched (uses base, coro).
 *
 * A worker that finds nothing to run (sched.c's loop) spins for a while,
 * then goes on the idle stack and sleeps on its futex word, or in the
 * poller while tasks wait for IO, with the timeout of its earliest
 * timer. Whoever publishes work wakes one idle worker (corun__wake_one)
 * or the one whose inbox got a task (corun__wake_this); worker.h says
 * why no wake-up is lost. When every worker is asleep with no timer
 * armed, no IO pending and nothing queued, the remaining tasks can never
 * wake: a deadlock, reported and ended here.
 *
 * Locking: the idle stack and the asleep count are under
 * corun__S.idle_lock. */
#include <time.h>

#include "base/clock.h"
#include "base/compiler.h"
#include "base/futex.h"
#include "coro/coro.h"
#include "sched/worker.h"

/* Wakes worker w, which the caller took off the idle stack. */
static void wake_worker(struct corun__worker *w) {
  atomic_store(&w->futex_word, 1);
  /* The caller itself: a worker that readies tasks from its own poll
   * (idle(), on the idle stack, in_poll set) takes itself off the stack
   * and is awake already. Its wake-up through the poller cost an eventfd
   * write and read per poll (two system calls per request of an HTTP
   * server with one connection). */
  if (w == corun__worker_self())
    return;
  /* A worker blocked in the poller checks futex_word after announcing
   * in_poll and before it blocks: one of the two sees the other. */
  if (atomic_load(&w->in_poll))
    atomic_load(&corun__S.poller)->wake();
  else
    corun__futex_wake(&w->futex_word, 1);
}

/* The idle workers' count, for a waker that has just published work.
 * A load after a full fence, which orders it after the publication of
 * the work, against the idle side's increment, a read-modify-write
 * (worker.h: no lost wake-ups). Not a read-modify-write of the count
 * itself, as it was: that took the count's line from the other workers'
 * caches at every wake-up, and with two workers its `lock xadd` had 8 %
 * of the samples of bench_sched's sleepers (100,000 spawns, each pushing
 * out the last one's task); a load shares the line. Sleepers with two
 * workers, three alternating pairs of 15-run medians: 501-506 -> 480-485
 * ns; ping-pong with two workers 57-59 -> 59-60 ns (mfence is slower
 * than `lock xadd` on a line in cache). Except on the worker that holds
 * the solo bias (sched.h):
 * every other worker is then quiet, inside its futex sleep, and counted
 * in nidle since before it went quiet (solo.c: the bias came to this
 * thread after that, through solo_lock or a release store, and the
 * acquire load here sees the count); and a quiet worker looks at the
 * queues only after its wake-up has revoked the bias, whose membarrier(2)
 * shows it this thread's stores first. So a load is enough there: with
 * one worker, no locked instruction for the task a poll readies. */
static unsigned idle_count(void) {
  struct corun__sched *S = &corun__S;
  uint64_t key = corun__tls_bias_key;
  if (atomic_load_explicit(&corun__solo.bias, memory_order_acquire) == key)
    return atomic_load_explicit(&S->nidle, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  return atomic_load(&S->nidle);
}

/* The lists of sleeping workers (worker.listed), each a stack linked
 * through idle_next with its count, under idle_lock: the idle stack,
 * which wake-ups for new work take from, and the stood-down list
 * (worker.h, "Standing down"), which they do not. */
enum { ON_IDLE = 1, ON_STOOD = 2 };

static struct corun__worker **list_head(int which) {
  return which == ON_IDLE ? &corun__S.idle_head : &corun__S.stood_head;
}

static atomic_uint *list_count(int which) {
  return which == ON_IDLE ? &corun__S.nidle : &corun__S.nstood;
}

/* Under idle_lock: puts w on list `which`. */
static void list_push(struct corun__worker *w, int which) {
  struct corun__worker **head = list_head(which);
  w->idle_next = *head;
  *head = w;
  w->listed = which;
  atomic_fetch_add(list_count(which), 1);
}

/* Under idle_lock: takes the worker at *p off its list; returns it. */
static struct corun__worker *list_unlink(struct corun__worker **p) {
  struct corun__worker *w = *p;
  *p = w->idle_next;
  atomic_fetch_sub(list_count(w->listed), 1);
  w->listed = 0;
  return w;
}

/* Stealable work was just published: make sure some worker will look. */
void corun__wake_one(void) {
  struct corun__sched *S = &corun__S;
  if (!idle_count() || atomic_load(&S->nspinning))
    return;
  corun__lock_acquire(&S->idle_lock);
  struct corun__worker *w = S->idle_head ? list_unlink(&S->idle_head) : NULL;
  corun__lock_release(&S->idle_lock);
  if (w)
    wake_worker(w);
}

/* Under idle_lock: takes w off the idle stack or the stood-down list if
 * it is on one; returns whether it was. */
static int leave_idle(struct corun__worker *w) {
  if (!w->listed)
    return 0;
  struct corun__worker **p = list_head(w->listed);
  while (*p != w)
    p = &(*p)->idle_next;
  list_unlink(p);
  return 1;
}

int corun__wake_stood(void) {
  struct corun__sched *S = &corun__S;
  if (!S->stood_head)
    return -1;
  wake_worker(list_unlink(&S->stood_head));
  return 0;
}

/* Wakes worker w in particular (its inbox got a task), if it is idle or
 * stood down. (Who stands down counts itself in nstood before its last
 * look at its inbox, as in nidle: worker.h.) */
void corun__wake_this(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  if (!idle_count() && !atomic_load(&S->nstood))
    return;
  corun__lock_acquire(&S->idle_lock);
  int found = leave_idle(w);
  corun__lock_release(&S->idle_lock);
  if (found)
    wake_worker(w);
}

/* Whether w's own queues hold work. */
static int own_queues_busy(struct corun__worker *w) {
  return atomic_load(&w->runnext) || w->yield_head ||
         atomic_load(&w->inbox.len) || corun__deque_busy(&w->dq);
}

/* Whether w's own queues, or the global one, hold work. */
static int own_work_visible(struct corun__worker *w) {
  return own_queues_busy(w) || atomic_load(&corun__S.global.len);
}

/* The index of the first worker other than w, from worker `from` on
 * (wrapping), whose deque holds work w could steal; -1 if none. */
static int busy_victim(struct corun__worker *w, unsigned from) {
  struct corun__sched *S = &corun__S;
  unsigned n = atomic_load(&S->n);
  for (unsigned i = 0; i < n; i++) {
    unsigned k = (from + i) % n;
    if (&S->w[k] != w && corun__deque_busy(&S->w[k].dq))
      return (int)k;
  }
  return -1;
}

/* Whether another worker's deque holds work w could steal. */
static int steal_visible(struct corun__worker *w) {
  return busy_victim(w, 0) >= 0;
}

/* Whether w, about to run one task it found (own_work_visible), leaves
 * work that another worker could take: two in the global queue, or one
 * there besides a non-empty deque of w's or w's own next (runnext, yield
 * line, inbox), or a task in another worker's deque (pushed there while
 * w spun: that push skipped its wake-up too, and w ends its spin before
 * the steal grace; a review's find). w's deque counts once however long
 * (corun__deque_busy): nothing is pushed there while w spins. */
static int surplus_visible(struct corun__worker *w) {
  size_t shared =
      atomic_load(&corun__S.global.len) + (size_t)corun__deque_busy(&w->dq);
  int own =
      atomic_load(&w->runnext) || w->yield_head || atomic_load(&w->inbox.len);
  return shared >= 2 || (shared == 1 && own) || steal_visible(w);
}

/* Whether some work that w could take is visible. Not another worker's
 * inbox: w cannot take those tasks, and counting them kept w spinning
 * through idle() for as long as their worker was busy (each hooked call
 * pins its task, so under load some inbox is seldom empty). */
static int work_visible(struct corun__worker *w) {
  return own_work_visible(w) || steal_visible(w);
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

void corun__finish_all(int deadlock) {
  struct corun__sched *S = &corun__S;
  corun__lock_acquire(&S->idle_lock);
  if (!atomic_load(&S->done)) {
    S->deadlock = deadlock;
    atomic_store(&S->done, 1);
  }
  while (S->idle_head)
    wake_worker(list_unlink(&S->idle_head));
  while (corun__wake_stood() == 0)
    ;
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

/* The time from `now` to `next` (0 if past), or -1 for next = -1. */
static int64_t timeout_from(int64_t next, int64_t now) {
  if (next < 0)
    return -1;
  return next > now ? next - now : 0;
}

/* Sleeps on w's futex until it is woken or until `next` (-1: no limit).
 * The solo bias (sched.h): once w has found no task for CORUN__QUIET_NS
 * it goes quiet for the sleep, and wakes before it returns; until then
 * it sleeps no later than that point and, if nobody woke it, sleeps on
 * quiet (without a look for work: a worker asleep without a timeout would
 * not have looked either). Not a worker asleep in the poller: the poller
 * readies tasks before it returns. The wait keeps revocations rare: each
 * costs a membarrier(2), which interrupts the biased worker, and a quiet
 * worker woken at once revokes. */
static void sleep_futex(struct corun__worker *w, int64_t next) {
  struct corun__sched *S = &corun__S;
  int solo = atomic_load(&S->n) > 1 && corun__tls_bias_key != CORUN__BIAS_NOKEY;
  for (;;) {
    int64_t now = corun__clock_ns(), until = next;
    int quiet = 0, cut = 0;
    if (solo) {
      unsigned long d =
          atomic_load_explicit(&w->dispatch, memory_order_relaxed);
      if (d != w->idle_mark || !w->idle_since) { /* a task ran since */
        w->idle_mark = d;
        w->idle_since = now;
      }
      int64_t at = w->idle_since + CORUN__QUIET_NS;
      if (now >= at || w->stood_down) /* (it runs nothing for now) */
        quiet = 1;
      else if (until < 0 || at < until)
        until = at, cut = 1;
    }
    struct timespec ts, *tp = NULL;
    int64_t d = timeout_from(until, now);
    if (d >= 0) {
      ts.tv_sec = d / 1000000000;
      ts.tv_nsec = d % 1000000000;
      tp = &ts;
    }
    if (quiet)
      corun__solo_quiet(w);
    corun__futex_wait(&w->futex_word, tp);
    if (quiet)
      corun__solo_wake(w);
    if (!cut || atomic_load(&w->futex_word) || atomic_load(&S->done))
      return;
  }
}

/* Called when w found nothing to run. Returns when there may be work, or
 * when the scheduler is done. */
void corun__idle(struct corun__worker *w) {
  struct corun__sched *S = &corun__S;
  if (CORUN__UNLIKELY(corun__forked))
    corun__forked_panic();
  const struct corun__poller *p = atomic_load(&S->poller);
  /* Before anything else: our tasks wait on these. */
  int unflushed = p && p->flush && p->flush() < 0;
  /* Spin a little first: a task readied a moment from now is then picked
   * up without a futex wake-up (and wakers skip the wake-up meanwhile).
   * IO that completes meanwhile counts too. At most half the busy
   * workers spin, as in Go's scheduler (proc.go, findrunnable), since
   * only the others make new work: so never the only worker, which
   * would burn its CPU where sleeping in the poller costs nothing (an
   * HTTP server with one worker spent 3 % of its CPU here). Not under
   * Valgrind, where the spinner would starve the threads with work
   * (base/valgrind.h). */
  unsigned busy = corun__workers_up() - atomic_load(&S->nidle);
  int64_t spin_ns = atomic_load_explicit(&S->spin_ns, memory_order_relaxed);
  if (w->stood_down || !spin_ns || 2 * (atomic_load(&S->nspinning) + 1) > busy)
    goto sleep;
  atomic_fetch_add(&S->nspinning, 1);
  int64_t until = corun__clock_ns() + spin_ns;
  int seen = 0;
  int victim = -1;          /* the busy deque being watched, or -1 */
  int64_t victim_since = 0; /* since when it has been busy */
  int steal = 0;
  for (unsigned i = 0; !atomic_load(&S->done); i++) {
    if (own_work_visible(w)) {
      seen = 1;
      break;
    }
    /* Another worker's queued task is left to it for STEAL_GRACE_NS, as
     * long as its deque does not go empty meanwhile: most such tasks
     * were just readied by the task that runs there (a channel's
     * receiver, put out of runnext by the next one readied), and it runs
     * them a few hundred nanoseconds later, where their data is in cache.
     * Stealing at once moved those tasks to this CPU and back, and every
     * channel operation between them crossed CPUs: select4 with 2 workers
     * took 102-107 ns an operation against 36 with 1; with the grace,
     * 38-40 (docs/design.md §5). A deque that stays busy holds a
     * backlog: pick() steals from it first (steal_from). */
    int v = busy_victim(w, victim >= 0 ? (unsigned)victim : 0);
    if (v < 0) {
      victim = -1;
    } else {
      int64_t now = corun__clock_ns();
      if (v != victim) {
        victim = v;
        victim_since = now;
      } else if (now - victim_since >= CORUN__STEAL_GRACE_NS) {
        w->steal_from = (unsigned)v + 1;
        seen = steal = 1;
        break;
      }
    }
    if (i % 64 == 63) {
      if (corun__clock_ns() > until)
        break;
      if (i % 256 == 255 && p)
        corun__poll_io(w, 0);
    }
    corun__cpu_relax();
  }
  atomic_fetch_sub(&S->nspinning, 1);
  /* Wakers skipped their wake-ups while this worker spun (corun__wake_one:
   * a spinner will look). If it leaves work behind, a backlog it steals
   * from or more than the one task it found, have another worker look,
   * as Go's spinning thread does when it finds work (resetspinning);
   * else that work waits for a later push to wake one, or for this
   * worker: for ever if the task it runs waits for it. (A review found
   * the backlog's case: 6 tasks each blocking 2 ms, 3 workers, the third
   * never ran in 12 of 20 runs. tests/sched/spin_wake has the other: two
   * tasks readied from outside the scheduler while one worker spun and
   * another slept, the first waiting for the second, which waited for
   * ever with the monitor off.) */
  if (steal || (seen && surplus_visible(w)))
    corun__wake_one();
  if (seen || atomic_load(&S->done))
    return;
sleep:

  atomic_store(&w->futex_word, 0);
  corun__lock_acquire(&S->idle_lock);
  /* One worker too many (w counts as free here): stand down, decided
   * under idle_lock, so that of two that find it so, one does (worker.h).
   * One that meant to but is not too many any more (another stood down
   * first, or a worker blocked) goes back to work: what it gave away is
   * in the global queue. */
  if (corun__workers_over()) {
    w->stood_down = 1;
    list_push(w, ON_STOOD);
  } else if (w->stood_down) {
    w->stood_down = 0;
    corun__lock_release(&S->idle_lock);
    return;
  } else {
    list_push(w, ON_IDLE);
  }
  corun__lock_release(&S->idle_lock);
  int64_t now = corun__clock_ns();
  int64_t next = corun__timers_run(w, now);
  if (w->stood_down) /* what they readied, if not pinned here */
    corun__give_away(w);
  /* The stacks of a burst of finished tasks go back to the kernel a
   * second or two later: wake up for that too (once, not periodically). */
  int64_t scavenge = corun__stack_scavenge(now);
  if (scavenge >= 0 && (next < 0 || scavenge < next))
    next = scavenge;
  if (unflushed) { /* the kernel took none yet: wake for the retry */
    int64_t at =
        atomic_load_explicit(&corun__flush_by.at, memory_order_relaxed);
    if (at && (next < 0 || at < next))
      next = at;
  }
  if (!(w->stood_down ? own_queues_busy(w) : work_visible(w)) &&
      !atomic_load(&S->done)) {
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
    int polled = 0;
    if (!all && p && p->pending() > 0) {
      /* Tasks wait for IO: sleep in the poller (one worker at a time),
       * with the same timeout, so IO wakes this worker too. Also one
       * that stood down: the last worker to go idle after a task parked
       * for IO may be the one that stands down, and the others may sleep
       * on their futex since before (a hooked read hung so). It hands
       * what the poll readies on (pinned to it: its inbox; else the
       * global queue, with a wake-up), and stands down again. */
      atomic_store(&w->in_poll, 1);
      if (atomic_load(&w->futex_word) == 0)
        polled = corun__poll_io(w, timeout_from(next, corun__clock_ns()));
      else
        polled = 1; /* woken meanwhile */
      atomic_store(&w->in_poll, 0);
    }
    if (!all && !polled)
      sleep_futex(w, next);
  }
  /* Leave the idle stack if no waker took us off it. */
  corun__lock_acquire(&S->idle_lock);
  if (w->asleep) {
    w->asleep = 0;
    S->nasleep--;
  }
  leave_idle(w);
  corun__lock_release(&S->idle_lock);
}
