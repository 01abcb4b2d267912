/* task.c: task objects, spawn, join, and a task's end.
 * Layer: sched (uses base, coro). Locking: a task's join fields are under
 * its join_lock; the slab list under corun__S.slab_lock; free lists and
 * live counts are their worker's own (worker.h). */
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

void corun__tasks_free(void) {
  while (corun__S.slabs) {
    struct corun__task_slab *sl = corun__S.slabs;
    corun__S.slabs = sl->next;
    corun__free(sl);
  }
}

/* Gives task object t back to the calling worker's free list. */
void corun__task_free(struct corun__worker *w, struct corun_task *t) {
  t->qnext = w->free_tasks;
  w->free_tasks = t;
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
    corun__task_free(w, t);
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
  if (!w->free_tasks) {
    struct corun__task_slab *sl = corun__malloc(sizeof *sl);
    if (!sl)
      return -ENOMEM;
    for (unsigned i = 0; i < SLAB_TASKS; i++) {
      sl->task[i].alive = 0;
      corun__task_free(w, &sl->task[i]);
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
  corun__task_free(corun__worker_self(), t);
  return 0;
}
