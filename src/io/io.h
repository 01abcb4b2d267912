/* io.h: what the io layer's files share. Internal.
 * Layer: io. */
#ifndef CORUN_IO_IO_H
#define CORUN_IO_IO_H

#include <stdint.h>

#include "base/lock.h"

struct corun_task;

/* This thread's errno, found afresh (io.c explains why a plain errno is
 * wrong after a wait). */
int *corun__errno_here(void);

/* A call for the helper pool (pool.c). The caller fills `run` and
 * `release`; the rest belongs to the pool. */
struct corun__job {
  struct corun__job *next;
  /* Runs on a helper thread: makes the blocking call, stores its answer
   * in the structure that embeds the job. */
  void (*run)(struct corun__job *);
  /* NULL: the job writes the task's memory, so its task waits for it to
   * the end (no deadline, no cancel). Else the task may give up at its
   * deadline or a cancel, and the helper calls release(job) to free the
   * abandoned job once it has run. */
  void (*release)(struct corun__job *);
  /* NULL: the job cannot be withdrawn. Else corun__pool_withdraw may take
   * it out of the line before a helper starts it, and calls this instead
   * of run, on the withdrawing thread, to store the job's answer. */
  void (*withdrawn)(struct corun__job *);
  /* Optional: called under the pool's lock as the job joins the line, so
   * that a withdraw sees every job it admitted; -errno refuses the job
   * (corun__pool_call returns it). */
  int (*admit)(struct corun__job *);
  struct corun_task *task; /* parked, waiting for the answer */
  corun__lock lock;        /* the park's unlock; the helper's claim */
  int done;
  int abandoned;
};

/* Runs j on a helper thread while the calling task parks. Returns 0 once
 * j has run (or was withdrawn); -ETIMEDOUT or -ECANCELED when the task
 * gave up (only when j->release is set: the job is then the helper's to
 * release); -EPERM outside a task; -EAGAIN or -ENOMEM if no helper can
 * start; j->admit's error. */
int corun__pool_call(struct corun__job *j, const char *reason,
                     int64_t deadline);

/* Withdraws every job waiting in line (no helper has started it) that has
 * `withdrawn` set and for which match(job, arg) returns nonzero (called
 * under the pool's lock): each gets its withdrawn answer and its task
 * wakes, as if the job had run. Returns how many. */
int corun__pool_withdraw(int (*match)(struct corun__job *, void *), void *arg);

#endif
