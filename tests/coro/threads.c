/* threads.c: proves coroutines on many threads at once work independently:
 * 4 threads each create 200 coroutines per round (6 stack sizes, more than
 * a thread's pool has classes, so pools evict, spill to and refill from the
 * shared pool concurrently), run them as generators and check every value;
 * half finish and are destroyed where they ran; the other half, suspended,
 * are handed to the next thread (after a barrier: no data race), which
 * resumes them (they migrate and still see their own state and themselves
 * as corun_current()) and destroys them (their close runs there). Ids stay
 * non-zero and unique across all threads. Meant to be TSan-clean. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "t.h"
#include "corun.h"

#define NTHREADS 4
#define ROUNDS_MAX 10
static int rounds = ROUNDS_MAX; /* 3 under valgrind: see main() */
#define PER 200

struct gen {
  corun_coro *co;
  intptr_t base;
  int finish; /* returns after its third value instead of waiting */
  int closed; /* its close ran */
};

static struct gen gens[NTHREADS][PER];
static uint64_t ids[NTHREADS][ROUNDS_MAX * PER];
static pthread_barrier_t barrier;
static const size_t sizes[] = {8192, 16384, 24576, 32768, 49152, 0};

static void *gen_body(void *arg) {
  struct gen *g = arg;
  for (intptr_t k = 0;; k++) {
    T_PTR_EQ(corun_current(), g->co);
    void *in = corun_yield((void *)(g->base + k));
    if (corun_closing()) {
      T_PTR_EQ(in, NULL);
      T_EQ(k, 3);
      g->closed++;
      return NULL;
    }
    T_EQ((intptr_t)in, g->base + k + 1);
    if (k == 2 && g->finish)
      return (void *)-g->base;
  }
}

static void *thread_main(void *arg) {
  intptr_t me = (intptr_t)arg;
  struct gen *mine = gens[me];
  struct gen *theirs = gens[(me + NTHREADS - 1) % NTHREADS];
  for (int round = 0; round < rounds; round++) {
    for (int i = 0; i < PER; i++) {
      struct gen *g = &mine[i];
      g->base = (me * rounds * PER + round * PER + i) * 16;
      g->finish = i % 2 == 0;
      g->closed = 0;
      corun_attr attr = {.stack_size = sizes[(i + round) % 6]};
      T_OK(corun_create(&g->co, gen_body, g, &attr));
      ids[me][round * PER + i] = corun_id(g->co);
    }
    void *out;
    for (intptr_t k = 0; k < 3; k++)
      for (int i = 0; i < PER; i++) {
        struct gen *g = &mine[i];
        T_EQ(corun_resume(g->co, (void *)(g->base + k), &out), 1);
        T_EQ((intptr_t)out, g->base + k);
      }
    for (int i = 0; i < PER; i += 2) {
      struct gen *g = &mine[i];
      T_EQ(corun_resume(g->co, (void *)(g->base + 3), &out), 0);
      T_EQ((intptr_t)out, -g->base);
      T_OK(corun_destroy(g->co));
    }
    T_PTR_EQ(corun_current(), NULL);
    pthread_barrier_wait(&barrier);
    /* Take over the previous thread's suspended half. */
    for (int i = 1; i < PER; i += 2) {
      struct gen *g = &theirs[i];
      T_EQ(corun_status(g->co), CORUN_SUSPENDED);
      T_EQ(corun_resume(g->co, (void *)(g->base + 3), &out), 1);
      T_EQ((intptr_t)out, g->base + 3);
      T_OK(corun_destroy(g->co));
      T_EQ(g->closed, 1);
    }
    pthread_barrier_wait(&barrier);
  }
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  if (t_under_valgrind()) /* serialised threads, slow new stacks */
    rounds = 3;
  T_OK(pthread_barrier_init(&barrier, NULL, NTHREADS));
  pthread_t th[NTHREADS];
  for (intptr_t i = 0; i < NTHREADS; i++)
    T_OK(pthread_create(&th[i], NULL, thread_main, (void *)i));
  for (int i = 0; i < NTHREADS; i++)
    T_OK(pthread_join(th[i], NULL));
  pthread_barrier_destroy(&barrier);

  /* Each thread filled the first rounds * PER ids of its row. */
  static uint64_t all[NTHREADS * ROUNDS_MAX * PER];
  size_t n = 0;
  for (int t = 0; t < NTHREADS; t++)
    for (int i = 0; i < rounds * PER; i++)
      all[n++] = ids[t][i];
  qsort(all, n, sizeof *all, cmp_u64);
  T_NE(all[0], 0);
  for (size_t i = 1; i < n; i++)
    if (all[i] == all[i - 1])
      T_FAIL_("id %" PRIu64 " given twice", all[i]);
  return 0;
}
