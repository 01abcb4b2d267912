/* threads.c: proves the global stack pool stays right while threads map
 * slabs for one size class at the same time (pool.c maps a slab with the
 * pool's lock released, counting its stacks first) and spill to it
 * meanwhile. 4 threads, each with its pool made beforehand, take 6 fresh
 * stack sizes in turn; for each, 4 rounds that start together (a
 * barrier) create 40, 80, 120, 160 coroutines per thread, so several
 * threads find the class empty at once and map slabs side by side, while
 * the ones ahead destroy theirs and spill. Each coroutine writes its own
 * stamp into a buffer on its stack and yields; once its thread has
 * created the whole round, every coroutine is resumed and finds its stamp
 * intact (two coroutines given one stack would write over each other's),
 * and the coroutines (at the tops of their stacks) have distinct
 * addresses. At the end a round as large as the largest on one thread
 * maps nothing new: the stacks all came back. With the slab's stacks
 * counted only after the mapping, ASan reported a list of the class
 * written past its room in 28 of 30 runs. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "corun.h"
#include "stack/stack.h"
#include "t.h"

#define NTHREADS 4
#define ROUNDS 4
#define STEP 40 /* coroutines per thread in round r: STEP * (r + 1) */
#define MAXPER (STEP * ROUNDS)
#define CLASSES 6 /* stack sizes, each a class of its own, taken in turn */
#define STACK(c) ((size_t)(200 + 4 * (c)) * 1024)
#define STAMP_WORDS 32

static pthread_barrier_t
    together; /* each round starts on all threads at once */

struct co_state {
  corun_coro *co;
  uint64_t stamp;
};

static void *stamper(void *arg) {
  struct co_state *s = arg;
  volatile uint64_t buf[STAMP_WORDS];
  for (int i = 0; i < STAMP_WORDS; i++)
    buf[i] = s->stamp + (uint64_t)i;
  corun_yield(NULL);
  for (int i = 0; i < STAMP_WORDS; i++)
    T_EQ_HEX(buf[i], s->stamp + (uint64_t)i);
  return (void *)(uintptr_t)s->stamp;
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

/* One round of n coroutines on this thread; its stamps carry `tag`. */
static void round_of(struct co_state *cs, uintptr_t *addr, int n, size_t stack,
                     uint64_t tag) {
  corun_attr attr = {.stack_size = stack};
  for (int i = 0; i < n; i++) {
    cs[i].stamp = tag << 32 | (uint64_t)i << 8;
    T_OK(corun_create(&cs[i].co, stamper, &cs[i], &attr));
    T_EQ(corun_resume(cs[i].co, NULL, NULL), 1); /* yielded */
    addr[i] = (uintptr_t)cs[i].co;
  }
  qsort(addr, (size_t)n, sizeof *addr, cmp_ptr);
  for (int i = 1; i < n; i++)
    T_NE(addr[i], addr[i - 1]);
  for (int i = 0; i < n; i++) {
    void *ret = NULL;
    T_OK(corun_resume(cs[i].co, NULL, &ret)); /* returned */
    T_EQ_HEX((uintptr_t)ret, cs[i].stamp);
    T_OK(corun_destroy(cs[i].co));
  }
}

static void *thread_main(void *arg) {
  uint64_t me = (uint64_t)(uintptr_t)arg;
  static _Thread_local struct co_state cs[MAXPER];
  static _Thread_local uintptr_t addr[MAXPER];
  round_of(cs, addr, 1, 64 * 1024, me << 16); /* this thread's pool made */
  for (int c = 0; c < CLASSES; c++)
    for (int r = 0; r < ROUNDS; r++) {
      pthread_barrier_wait(&together);
      round_of(cs, addr, STEP * (r + 1), STACK(c),
               me << 16 | (uint64_t)c << 8 | (uint64_t)r);
    }
  return NULL;
}

int main(void) {
  T_OK(pthread_barrier_init(&together, NULL, NTHREADS));
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++)
    T_OK(pthread_create(&th[i], NULL, thread_main, (void *)(uintptr_t)(i + 1)));
  for (int i = 0; i < NTHREADS; i++)
    T_OK(pthread_join(th[i], NULL));
  struct corun__stack_stats st;
  corun__stack_get_stats(&st);
  T_GE(st.slots, MAXPER);
  /* Everything is free again: a largest round on one thread takes stacks
   * from the pool and maps nothing. */
  struct co_state *cs = calloc(MAXPER, sizeof *cs);
  uintptr_t *addr = calloc(MAXPER, sizeof *addr);
  T_TRUE(cs && addr);
  round_of(cs, addr, MAXPER, STACK(0), 99);
  struct corun__stack_stats after;
  corun__stack_get_stats(&after);
  T_EQ(after.slabs, st.slabs);
  T_EQ(after.slots, st.slots);
  free(cs);
  free(addr);
  T_OK(pthread_barrier_destroy(&together));
  return 0;
}
