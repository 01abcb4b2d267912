/* stress.c: many producers and consumers on a buffered and a rendezvous
 * channel, consumers selecting over both, across several workers with the
 * scheduling order randomised (CORUN_SHUFFLE's config twin). Checks:
 *  - every value sent is received exactly once (nothing lost, nothing
 *    duplicated), including across the final close;
 *  - no task runs on two workers at once: each task keeps a counter that
 *    it raises after every blocking call and lowers before the next one,
 *    so a second copy of it running would find the counter raised.
 * Scaled down under sanitizers, Valgrind and qemu (t.h). */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "t.h"

#define PRODUCERS 8
#define CONSUMERS 8

static long per_producer;
static corun_chan *buffered, *rendezvous;
static atomic_int
    *seen; /* int: RISC-V has no 1-byte atomics without libatomic */

struct me {
  atomic_int inside; /* raised while this task runs between blocking calls */
};

static void enter(struct me *m) {
  T_EQ(atomic_fetch_add(&m->inside, 1), 0);
}
static void leave(struct me *m) {
  atomic_fetch_sub(&m->inside, 1);
}

static void *producer(void *arg) {
  long id = (long)(intptr_t)arg;
  struct me m = {0};
  for (long i = 0; i < per_producer; i++) {
    long v = id * per_producer + i;
    enter(&m);
    corun_chan *ch = (i & 1) ? buffered : rendezvous;
    if (i % 97 == 0)
      corun_yield(NULL); /* a yield inside the section, too */
    leave(&m);
    T_EQ(corun_chan_send(ch, &v, -1), 0);
  }
  return NULL;
}

static void *consumer(void *arg) {
  (void)arg;
  struct me m = {0};
  long a, b, got = 0;
  corun_case cs[2] = {{buffered, CORUN_RECV, &a, 0},
                      {rendezvous, CORUN_RECV, &b, 0}};
  int open = 2;
  while (open) {
    int k = corun_select(cs, 2, -1);
    T_TRUE(k == 0 || k == 1);
    enter(&m);
    if (cs[k].result == -EPIPE) {
      cs[k].ch = NULL; /* closed and drained: stop watching it */
      open--;
    } else {
      T_EQ(cs[k].result, 0);
      long v = k == 0 ? a : b;
      T_TRUE(v >= 0 && v < PRODUCERS * per_producer);
      T_EQ(atomic_fetch_add(&seen[v], 1), 0);
      got++;
    }
    leave(&m);
  }
  return (void *)got;
}

static void *main_task(void *arg) {
  (void)arg;
  corun_task *p[PRODUCERS], *c[CONSUMERS];
  for (long i = 0; i < CONSUMERS; i++)
    T_EQ(corun_spawn(&c[i], consumer, NULL, NULL), 0);
  for (long i = 0; i < PRODUCERS; i++)
    T_EQ(corun_spawn(&p[i], producer, (void *)(intptr_t)i, NULL), 0);
  for (int i = 0; i < PRODUCERS; i++)
    T_EQ(corun_join(p[i], NULL), 0);
  T_EQ(corun_chan_close(buffered), 0);
  T_EQ(corun_chan_close(rendezvous), 0);
  long total = 0;
  for (int i = 0; i < CONSUMERS; i++) {
    void *got;
    T_EQ(corun_join(c[i], &got), 0);
    total += (long)(intptr_t)got;
  }
  T_EQ(total, PRODUCERS * per_producer);
  return NULL;
}

int main(void) {
  int slow = t_under_valgrind() || t_emulated();
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  slow = 1;
#endif
  per_producer = slow ? 5000 : 125000; /* 1,000,000 values natively */
  long n = PRODUCERS * per_producer;
  seen = calloc((size_t)n, sizeof *seen);
  T_TRUE(seen != NULL);
  for (unsigned w = 2; w <= 4; w += 2) {
    memset((void *)seen, 0, (size_t)n * sizeof *seen);
    T_EQ(corun_chan_make(&buffered, sizeof(long), 16), 0);
    T_EQ(corun_chan_make(&rendezvous, sizeof(long), 0), 0);
    corun_config cfg = {.workers = w, .shuffle = 1};
    T_EQ(corun_main(main_task, NULL, &cfg), 0);
    for (long v = 0; v < n; v++)
      T_EQ(seen[v], 1);
    T_EQ(corun_chan_free(buffered), 0);
    T_EQ(corun_chan_free(rendezvous), 0);
  }
  free((void *)seen);
  return 0;
}
