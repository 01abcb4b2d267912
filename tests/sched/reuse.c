/* sched/reuse: task objects freed on one worker are reused by another
 * (src/sched/task.c, "Free task objects").
 * With 2 workers, task M stays on one of them and spawns N tasks; task J,
 * on the other, joins each of them, and a join frees the task object on
 * the joiner's worker. So every task object is taken on M's worker and
 * given back on J's. Before the stash, J's worker kept them all and M's
 * mapped a new slab of 256 for every 256 spawns: N / 256 slabs at the
 * end (390 for N = 100,000). Now the objects go back to M's worker in
 * batches, and the slabs are bounded by how many tasks were ever alive at
 * once (under a hundred here: one slab) plus what each worker may keep
 * (3 slabs' worth): the test allows 12. Then the same with detached
 * tasks, which are freed where they end. N is 5,000 under sanitizers,
 * Valgrind and qemu (a TSan fiber costs 768 KiB of memset), still 19
 * slabs before the fix. */
#include <corun.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/compiler.h"
#include "sched/worker.h"
#include "t.h"

enum { MAX_SLABS = 12, QUEUE = 64 };
static long N = 100000;

static atomic_int joiner_up;
static pthread_t joiner_thread;

static void *child(void *arg) {
  return arg;
}

/* J: pinned to the worker that took it (not M's), joins what M sends. */
static void *joiner(void *arg) {
  corun_chan *ch = arg;
  T_OK(corun_pin(1));
  joiner_thread = pthread_self();
  atomic_store(&joiner_up, 1);
  corun_task *t;
  long joined = 0;
  while (corun_chan_recv(ch, &t, -1) == 0) {
    void *r = NULL;
    T_OK(corun_join(t, &r));
    T_PTR_EQ(r, (void *)child);
    joined++;
  }
  T_EQ(joined, N);
  return NULL;
}

static atomic_long detached_done;

static void *detached(void *arg) {
  (void)arg;
  atomic_fetch_add(&detached_done, 1);
  return NULL;
}

static void *main_task(void *arg) {
  (void)arg;
  T_OK(corun_pin(1)); /* M stays on this worker */
  corun_chan *ch;
  T_OK(corun_chan_make(&ch, sizeof(corun_task *), QUEUE));
  corun_task *j, *d;
  T_OK(corun_spawn(&j, joiner, ch, NULL));
  /* J goes from this worker's runnext (which no other worker takes) to
   * where the other may steal it; this worker stays busy until it has. */
  T_OK(corun_spawn(&d, child, NULL, NULL));
  while (!atomic_load(&joiner_up))
    ;
  T_OK(corun_join(d, NULL));
  T_TRUE(!pthread_equal(joiner_thread, pthread_self()));
  for (long i = 0; i < N; i++) {
    corun_task *t;
    T_OK(corun_spawn(&t, child, (void *)child, NULL));
    T_OK(corun_chan_send(ch, &t, -1));
  }
  T_OK(corun_chan_close(ch));
  T_OK(corun_join(j, NULL));
  T_OK(corun_chan_free(ch));
  long after_joined = corun__task_slabs();
  printf("sched/reuse: %ld joined tasks, %ld slabs\n", N, after_joined);
  T_LE(after_joined, MAX_SLABS);

  /* Detached tasks, freed on whichever worker ends them: with M busy
   * spawning, mostly the other one. Batches of QUEUE, waited for. */
  for (long i = 0; i < N; i += QUEUE) {
    for (long k = 0; k < QUEUE; k++)
      T_OK(corun_go(detached, NULL));
    while (atomic_load(&detached_done) < i + QUEUE)
      T_OK(corun_sleep(1000));
  }
  long after_detached = corun__task_slabs();
  printf("sched/reuse: and %ld detached tasks, %ld slabs\n", N, after_detached);
  T_LE(after_detached, MAX_SLABS);
  return NULL;
}

int main(void) {
  if (CORUN__TSAN || CORUN__ASAN || t_under_valgrind() || t_emulated())
    N = 5000;
  corun_config cfg = {.workers = 2};
  T_OK(corun_main(main_task, NULL, &cfg));
  return 0;
}
