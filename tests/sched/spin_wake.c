/* spin_wake.c: work that a spinning worker leaves behind wakes a sleeping
 * worker (sched/idle.c, after the spin).
 *
 * While a worker spins for work, wakers skip their wake-ups (a spinner
 * will look: corun__wake_one). So when two tasks are readied during one
 * spin, the spinner must wake another worker for the task it does not
 * take, as Go's spinning thread does (resetspinning).
 *
 * Three workers, the monitor off (it would rescue a stranded task after
 * its threshold and hide the fault). The main task keeps its worker (A)
 * busy and waits until of the other two one spins (the spin made 60 s
 * long, so it spins until work comes; back to the usual length once it
 * has started) and one sleeps (only half the busy
 * workers may spin). A thread outside the scheduler then holds the
 * spinner (B) in a signal handler, still counted as spinning, readies
 * two tasks parked on a channel by closing it (both go to the global
 * queue, and both wake-ups are skipped), and lets B go. B takes one; the
 * first task to run waits, without yielding, for the second to run,
 * which only the sleeping worker (C) can do: A and B are busy. Before
 * the fix, C was never woken and the wait ran out (STRAND_NS: a bound on
 * a wake-up that takes microseconds, not a timing measurement).
 *
 * Checked: both tasks ran and met; corun_main returns 0. Not under
 * Valgrind, where workers do not spin (base/valgrind.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* tgkill */
#endif
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sched/worker.h"
#include "t.h"
#include "task_wait.h"

#define SEC 1000000000LL
#define STRAND_NS (20 * SEC)

static atomic_int held, release, arrived, met;
static corun_chan *gate;
static atomic_int spinner_tid;

/* Holds the spinner until the readying thread lets it go. */
static void hold(int sig) {
  (void)sig;
  atomic_store(&held, 1);
  while (!atomic_load(&release))
    ;
}

/* Waits on the gate, then for the other task to run too. */
static void *meeter(void *arg) {
  (void)arg;
  char c;
  T_EQ(corun_chan_recv(gate, &c, -1), -EPIPE);
  atomic_fetch_add(&arrived, 1);
  int64_t until = corun_now() + STRAND_NS;
  while (atomic_load(&arrived) < 2 && corun_now() < until)
    ; /* no yield: the other task must run elsewhere */
  if (atomic_load(&arrived) == 2)
    atomic_fetch_add(&met, 1);
  return NULL;
}

static void *nothing(void *arg) {
  return arg;
}

/* Outside the scheduler: holds the spinner, readies both tasks while it
 * is held, lets it go. */
static void *readier(void *arg) {
  (void)arg;
  T_OK(syscall(SYS_tgkill, getpid(), atomic_load(&spinner_tid), SIGUSR1));
  while (!atomic_load(&held))
    ;
  T_OK(corun_chan_close(gate));
  atomic_store(&release, 1);
  return NULL;
}

/* The worker other than `self` that is awake, and the number asleep
 * (read under idle_lock, where they change). */
static struct corun__worker *awake_other(struct corun__worker *self,
                                         unsigned *asleep) {
  struct corun__sched *S = &corun__S;
  struct corun__worker *found = NULL;
  corun__lock_acquire(&S->idle_lock);
  *asleep = S->nasleep;
  for (unsigned i = 0; i < atomic_load(&S->n); i++)
    if (&S->w[i] != self && !S->w[i].asleep)
      found = &S->w[i];
  corun__lock_release(&S->idle_lock);
  return found;
}

static void *main_task(void *arg) {
  (void)arg;
  atomic_store(&corun__S.spin_ns, 60 * SEC); /* idle workers spin on */
  T_OK(corun_chan_make(&gate, 1, 0));
  corun_task *t[2];
  for (int i = 0; i < 2; i++)
    T_OK(corun_spawn(&t[i], meeter, NULL, NULL));
  for (int i = 0; i < 2; i++)
    wait_parked(t[i]);
  /* From here this task does not give its worker back. Wait for one
   * worker spinning and the other asleep. */
  struct corun__worker *self = corun__worker_self(), *b = NULL;
  unsigned asleep = 0;
  int64_t until = corun_now() + STRAND_NS, kick_at = 0;
  while (corun_now() < until) {
    b = awake_other(self, &asleep);
    if (asleep == 1 && b && atomic_load(&corun__S.nspinning) == 1)
      break;
    b = NULL;
    unsigned spinning = atomic_load(&corun__S.nspinning);
    if ((asleep == 2 || (asleep == 0 && spinning == 2)) &&
        corun_now() >= kick_at) {
      /* Both asleep: a spin that began before the lengthening ended (a
       * review's find: then this loop waited for good). Both spinning:
       * the two went idle at once and both passed the check that lets at
       * most half the busy workers spin (a load and then an add, a
       * heuristic, as in Go), and both spin the long spin (seen once in
       * a CI run, riscv64 under qemu: "asleep 0"). Two tasks: the second
       * pushes the first out of runnext into this worker's deque; that
       * push wakes a sleeper, which then spins the long spin, or the
       * spinners take the two and go idle again, one after the other. */
      T_OK(corun_go(nothing, NULL));
      T_OK(corun_go(nothing, NULL));
      kick_at = corun_now() + SEC / 100;
    }
  }
  if (!b)
    T_FAIL_("no worker spinning beside a sleeping one (asleep %u, "
            "spinning %u)",
            asleep, (unsigned)atomic_load(&corun__S.nspinning));
  /* Back to the usual spin for whoever idles from now on: B's spin ends
   * when it finds work, and corun_main ends when every worker sleeps. */
  atomic_store(&corun__S.spin_ns, (int64_t)CORUN__SPIN_NS);
  atomic_store(&spinner_tid, atomic_load(&b->tid));
  pthread_t th;
  T_OK(pthread_create(&th, NULL, readier, NULL));
  T_OK(pthread_join(th, NULL));
  until = corun_now() + 2 * STRAND_NS;
  while (atomic_load(&arrived) < 2 && corun_now() < until)
    ; /* still not giving the worker back */
  for (int i = 0; i < 2; i++)
    T_OK(corun_join(t[i], NULL));
  int both_ran = atomic_load(&arrived), both_met = atomic_load(&met);
  T_EQ(both_ran, 2);
  T_EQ(both_met, 2);
  T_OK(corun_chan_free(gate));
  return NULL;
}

int main(void) {
  if (t_under_valgrind())
    T_SKIP("workers do not spin under Valgrind");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = hold;
  T_OK(sigaction(SIGUSR1, &sa, NULL));
  T_OK(corun_main(main_task, NULL,
                  &(corun_config){.workers = 3, .block_ms = -1}));
  return 0;
}
