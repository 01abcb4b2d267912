/* task.c: task objects, spawn, join, and a task's end.
 * Layer: sched (uses base, coro). Locking: a task's join fields are under
 * its join_lock; the slab list under corun__S.slab_lock; free lists and
 * live counts are their worker's own (worker.h), the stash of free
 * batches is under corun__S.free_lock. */
#include <errno.h>
#include <stdio.h>

#include "base/alloc.h"
#include "coro/coro.h"
#include "sched/worker.h"

/* Task objects come from slabs that live as long as the scheduler, so a
 * task costs no malloc in the steady state (each worker reuses freed ones,
 * owner only), and the deadlock dump finds every task by scanning them. */
#define SLAB_TASKS 256
struct corun__task_slab {
  struct corun__task_slab *next;
  struct corun_task task[SLAB_TASKS];
};

/* Prints every task that has not finished. Called when every worker is
 * asleep: nothing changes the tasks meanwhile (idle_lock orders their last
 * writes before this). */
void corun__tasks_dump(void) {
  struct corun__sched *S = &corun__S;
  fputs("corun: all coroutines are asleep - deadlock!\n", stderr);
  corun__lock_acquire(&S->slab_lock);
  for (struct corun__task_slab *sl = S->slabs; sl; sl = sl->next)
    for (unsigned i = 0; i < SLAB_TASKS; i++) {
      struct corun_task *t = &sl->task[i];
      if (!t->alive)
        continue;
      const char *name = corun_name(t->co);
      fprintf(stderr, "  task %llu%s%s%s: waiting for %s\n",
              (unsigned long long)corun_id(t->co), *name ? " (" : "", name,
              *name ? ")" : "", t->reason ? t->reason : "(running)");
    }
  corun__lock_release(&S->slab_lock);
  fflush(stderr);
}

long corun__task_slabs(void) {
  long n = 0;
  corun__lock_acquire(&corun__S.slab_lock);
  for (struct corun__task_slab *sl = corun__S.slabs; sl; sl = sl->next)
    n++;
  corun__lock_release(&corun__S.slab_lock);
  return n;
}

void corun__tasks_free(void) {
  while (corun__S.slabs) {
    struct corun__task_slab *sl = corun__S.slabs;
    corun__S.slabs = sl->next;
    corun__free(sl);
  }
  corun__free(corun__S.free_batches);
  corun__S.free_batches = NULL;
  corun__S.free_cap = 0;
  atomic_store(&corun__S.free_nbatch, 0);
}

/* ---- Free task objects ------------------------------------------------
 * Each worker reuses the task objects it frees, without a lock. But a
 * task may end on another worker than the one that spawned it (it was
 * stolen, or migrated), and a detached task is freed where it ends, a
 * joined one where its joiner runs: so one worker may free more than it
 * takes, and another take more than it frees. Kept where they were freed,
 * they piled up on the first while the second mapped a new slab for
 * every SLAB_TASKS spawns: memory grew with every task ever spawned (a
 * task pinned to one of 2 workers that spawns detached tasks: 78 MB more
 * per 500,000 of them, for good). So a worker keeps at most FREE_KEEP;
 * what it frees beyond that collects in an outgoing batch of SLAB_TASKS,
 * which goes to the scheduler's stash when full. A worker that runs out
 * takes its own outgoing batch back first, then a batch from the stash,
 * and maps a new slab only when both are empty. Tasks are then bounded by
 * the most ever alive at once, plus FREE_KEEP + SLAB_TASKS per worker. */
#define FREE_KEEP (2 * SLAB_TASKS)

/* Adds a full batch (its first task) to the stash. Returns 0, or -ENOMEM
 * when the stash's array could not grow. */
static int stash_push(struct corun_task *batch) {
  struct corun__sched *S = &corun__S;
  for (;;) {
    corun__lock_acquire(&S->free_lock);
    size_t n = atomic_load_explicit(&S->free_nbatch, memory_order_relaxed);
    size_t cap = S->free_cap;
    if (n < cap) {
      S->free_batches[n] = batch;
      atomic_store_explicit(&S->free_nbatch, n + 1, memory_order_relaxed);
      corun__lock_release(&S->free_lock);
      return 0;
    }
    corun__lock_release(&S->free_lock);
    /* Grown outside the lock (a spin lock: no malloc under it). */
    size_t ncap = cap ? 2 * cap : 16;
    struct corun_task **v = corun__malloc(ncap * sizeof *v);
    if (!v)
      return -ENOMEM;
    corun__lock_acquire(&S->free_lock);
    if (S->free_cap == cap) { /* nobody grew it meanwhile */
      n = atomic_load_explicit(&S->free_nbatch, memory_order_relaxed);
      for (size_t i = 0; i < n; i++)
        v[i] = S->free_batches[i];
      struct corun_task **old = S->free_batches;
      S->free_batches = v;
      S->free_cap = ncap;
      v = old;
    }
    corun__lock_release(&S->free_lock);
    corun__free(v); /* the old array, or ours if another grew it first */
  }
}

/* Takes a batch (its first task, SLAB_TASKS chained through qnext) from
 * the stash, or returns NULL. */
static struct corun_task *stash_pop(void) {
  struct corun__sched *S = &corun__S;
  if (!atomic_load_explicit(&S->free_nbatch, memory_order_relaxed))
    return NULL;
  struct corun_task *batch = NULL;
  corun__lock_acquire(&S->free_lock);
  size_t n = atomic_load_explicit(&S->free_nbatch, memory_order_relaxed);
  if (n) {
    batch = S->free_batches[n - 1];
    atomic_store_explicit(&S->free_nbatch, n - 1, memory_order_relaxed);
  }
  corun__lock_release(&S->free_lock);
  return batch;
}

/* task_free beyond FREE_KEEP: t joins w's outgoing batch. */
static CORUN__NOINLINE void task_free_out(struct corun__worker *w,
                                          struct corun_task *t) {
  t->qnext = w->free_out;
  w->free_out = t;
  /* Full: to the stash (without memory for its array, kept here). */
  if (++w->nfree_out >= SLAB_TASKS && stash_push(w->free_out) == 0) {
    w->free_out = NULL;
    w->nfree_out = 0;
  }
}

/* Gives task object t back to worker w (the calling one). */
static inline void task_free(struct corun__worker *w, struct corun_task *t) {
  if (CORUN__UNLIKELY(w->nfree >= FREE_KEEP)) {
    task_free_out(w, t);
    return;
  }
  t->qnext = w->free_tasks;
  w->free_tasks = t;
  w->nfree++;
}

/* Refills w's empty free list from its outgoing batch or the stash.
 * Returns whether it did. */
static int free_refill(struct corun__worker *w) {
  if (w->free_out) {
    w->free_tasks = w->free_out;
    w->nfree = w->nfree_out;
    w->free_out = NULL;
    w->nfree_out = 0;
    return 1;
  }
  struct corun_task *batch = stash_pop();
  if (!batch)
    return 0;
  w->free_tasks = batch;
  w->nfree = SLAB_TASKS;
  return 1;
}

/* A shared stack's tasks all run on one worker, or they would overwrite
 * each other's frames on two threads at once: its home, the worker of the
 * first spawn while it has no task, for as long as it has any. Any worker
 * may spawn onto it (the spawner may have moved since its last spawn: a
 * steal, the monitor). Returns the home of a task to be created on ss. */
static struct corun__worker *shared_home_take(corun_shared_stack *ss,
                                              struct corun__worker *w) {
  corun__lock_acquire(&ss->home_lock);
  if (ss->home_run != corun__S.run) { /* left by an earlier corun_main */
    ss->home_run = corun__S.run;
    ss->tasks = 0;
  }
  if (ss->tasks++ == 0)
    ss->home = w;
  struct corun__worker *home = ss->home;
  corun__lock_release(&ss->home_lock);
  return home;
}

/* A task of ss ended, or was not created after shared_home_take. */
static void shared_home_drop(corun_shared_stack *ss) {
  corun__lock_acquire(&ss->home_lock);
  if (ss->home_run == corun__S.run && --ss->tasks == 0)
    ss->home = NULL;
  corun__lock_release(&ss->home_lock);
}

void corun__task_retire(struct corun__worker *w, struct corun_task *t) {
  corun_destroy(t->co); /* dead: frees its stack to this worker's cache */
  t->co = NULL;
  if (t->shared) {
    shared_home_drop(t->shared);
    t->shared = NULL;
  }
  if (t->timer_w) /* a node left by a wait that ended early */
    corun__timer_forget(t);
  t->alive = 0;
  w->live--;
}

struct corun_task *corun__task_exit_to_joiner(struct corun__worker *w,
                                              struct corun_task *t,
                                              void *result) {
  if (t->detached || t->shared)
    return NULL;
  corun__lock_acquire(&t->join_lock);
  struct corun_task *j = t->joiner;
  /* PARKED: its worker is done with it, so the claim makes it ours to
   * run (as corun__unpark's corun__ready would). A failed claim (a
   * cancel won) leaves it to corun__task_exit, whose claim fails too. */
  if (!j || j->shared || (j->home && j->home != w) ||
      atomic_load_explicit(&j->wait, memory_order_relaxed) !=
          CORUN__WAIT_PARKED ||
      !corun__claim(j)) {
    corun__lock_release(&t->join_lock);
    return NULL;
  }
  t->result = result;
  t->done = 1;
  corun__lock_release(&t->join_lock);
  j->wake_code = 0; /* (corun__unpark's part) */
  return j;
}

/* t's body returned `result` on worker w. */
void corun__task_exit(struct corun__worker *w, struct corun_task *t,
                      void *result) {
  corun__task_retire(w, t);
  corun__lock_acquire(&t->join_lock);
  t->result = result;
  t->done = 1;
  int detached = t->detached;
  struct corun_task *j = t->joiner;
  if (j && !corun__claim(j))
    j = NULL; /* the joiner was cancelled meanwhile: it deregisters */
  corun__lock_release(&t->join_lock);
  if (detached)
    task_free(w, t);
  else if (j)
    corun__unpark(j, 0); /* t may be freed by the joiner from here on */
}

static void *task_body(void *arg) {
  struct corun_task *t = arg;
  corun__park_arrive(); /* a parking task may have switched straight here */
  return t->fn(t->arg);
}

int corun__task_new(struct corun__worker *w, struct corun_task **out,
                    corun_fn *fn, void *arg, const corun_attr *attr,
                    int detached) {
  if (!w->free_tasks && !free_refill(w)) {
    struct corun__task_slab *sl = corun__malloc(sizeof *sl);
    if (!sl)
      return -ENOMEM;
    for (unsigned i = 0; i < SLAB_TASKS; i++) {
      sl->task[i].alive = 0;
      task_free(w, &sl->task[i]);
    }
    corun__lock_acquire(&corun__S.slab_lock);
    sl->next = corun__S.slabs;
    corun__S.slabs = sl;
    corun__lock_release(&corun__S.slab_lock);
  }
  struct corun_task *t = w->free_tasks;
  corun_shared_stack *ss = attr ? attr->shared : NULL;
  struct corun__worker *home = ss ? shared_home_take(ss, w) : NULL;
  int rc = corun_create(&t->co, task_body, t, attr);
  if (rc < 0) {
    if (ss)
      shared_home_drop(ss);
    return rc; /* t stays free */
  }
  w->free_tasks = t->qnext;
  w->nfree--;
  /* Field by field, not memset: `rep stos` for these 200 bytes was 11 %
   * of a spawn + join here. */
  t->fn = fn;
  t->arg = arg;
  t->result = NULL;
  t->home = NULL;
  t->qnext = NULL;
  atomic_init(&t->wait, CORUN__WAIT_NONE);
  t->claimed_early = 0;
  t->wake_code = 0;
  t->parking = 0;
  t->reason = NULL;
  t->unlock = NULL;
  t->unlock_arg = NULL;
  t->timer.key = 0;
  t->timer.index = CORUN__HEAP_NONE; /* (corun__task_exit took it out) */
  t->timer_w = NULL;
  t->timer_when = -1;
  t->timer_armed = 0;
  atomic_init(&t->cancelled, 0);
  atomic_init(&t->nocancel, 0);
  t->hooks_off = 0;
  t->pin_depth = 0;
  corun__lock_init(&t->join_lock);
  t->done = 0;
  t->detached = detached;
  t->joiner = NULL;
  t->self_waiter.prev = t->self_waiter.next = NULL;
  t->self_waiter.queued = 0;
  if (home)
    t->home = home; /* a shared stack's tasks stay with its worker */
  else if (attr && attr->pin)
    t->home = w;
  t->shared = ss;
  t->alive = 1;
  w->live++;
  *out = t;
  return 0;
}

/* Queues a new task as the spawner's worker's next (Go's newproc does
 * the same): a spawn followed by a join or a wait runs the child on the
 * same warm worker. The task it displaces from runnext becomes stealable,
 * so a burst of spawns still spreads over idle workers. */
static void task_start(struct corun__worker *w, struct corun_task *t) {
  if (t->home == w)
    corun__taskq_push(&w->inbox, t);
  else
    corun__ready(t); /* (to its home's inbox, if that is another worker) */
}

/* corun_spawn and corun_go: a task on the caller's worker, started. */
static int spawn(corun_task **out, corun_fn *fn, void *arg,
                 const corun_attr *attr, int detached) {
  struct corun__worker *w = corun__worker_self();
  if (!w || !w->current)
    return -EPERM;
  struct corun_task *t;
  int rc = corun__task_new(w, &t, fn, arg, attr, detached);
  if (rc < 0)
    return rc;
  if (out)
    *out = t;
  task_start(w, t);
  return 0;
}

int corun_spawn(corun_task **out, corun_fn *fn, void *arg,
                const corun_attr *attr) {
  if (!out || !fn)
    return -EINVAL;
  return spawn(out, fn, arg, attr, 0);
}

int corun_go(corun_fn *fn, void *arg) {
  if (!fn)
    return -EINVAL;
  return spawn(NULL, fn, arg, NULL, 1);
}

int corun_join(corun_task *t, void **result) {
  int err;
  struct corun_task *self = corun__task_blocking(&err);
  if (!t || t == self)
    return -EINVAL;
  if (!self)
    return err;
  corun__lock_acquire(&t->join_lock);
  if (!t->done) {
    t->joiner = self;
    int rc = corun__park(self, "join", corun__unlock_cb, &t->join_lock, -1);
    if (rc < 0) {
      corun__lock_acquire(&t->join_lock);
      int done = t->done;
      if (!done) /* cancelled before t finished */
        t->joiner = NULL;
      corun__lock_release(&t->join_lock);
      if (!done)
        return rc;
      /* t finished just as we were cancelled: the join went through. */
    }
    /* Woken by task_exit: its stores to t happened before its unpark,
     * which this task's wake-up is ordered after (park/unpark). */
  } else {
    corun__lock_release(&t->join_lock);
  }
  if (result)
    *result = t->result;
  task_free(corun__worker_self(), t);
  return 0;
}
