/* asyncio_queue.c: producers and consumers as tasks around a channel, with
 * sleeps standing in for IO.
 *
 * From seeds/004 (the encyclopedia article, "Python"): the asyncio example
 *     async def produce(queue, n):
 *         for item in range(n):
 *             print(f'producing item {item} ->')
 *             await asyncio.sleep(random.random())
 *             await queue.put(item)
 *         await queue.put(None)
 *     async def consume(queue):
 *         while True:
 *             item = await queue.get()
 *             if item is None: break
 *             print(f'consuming item {item} <-')
 *             await asyncio.sleep(random.random())
 * Here `await` is an ordinary blocking call in a task (corun_sleep,
 * corun_chan_send, corun_chan_recv): the task parks, its worker runs
 * another one, and the code reads as sequential code ("synchronous style,
 * asynchronous effect"). The queue is a channel of pointers: an item is a
 * heap object whose ownership goes to the consumer that receives it, and
 * NULL is Python's None. The article has one producer and one consumer;
 * this runs PRODUCERS and CONSUMERS of them, so items really go to whichever
 * consumer is free, and main puts one None per consumer once every producer
 * is done (with several producers, none of them knows it is the last).
 * Sleeps are 0-2 ms instead of 0-1 s.
 *
 * Usage: asyncio_queue [N]   N items in all (default 10, as in the article)
 * Checks that every item produced is consumed exactly once, prints a
 * summary, and exits 1 if not. */
#include <corun.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PRODUCERS 2
#define CONSUMERS 3
#define MAX_SLEEP_NS 2000000 /* random.random() seconds, scaled to 2 ms */
#define PRINT_MAX 50         /* above this many items, print the summary only */

struct item {
  long id; /* 0..n-1, unique over all producers */
  int producer;
};

/* Shared by all tasks; set up before corun_main(), so no task sees it
 * half-made. */
static corun_chan *queue; /* of struct item *; NULL is None */
static long n_items;
static _Atomic int *times_consumed; /* per item id: must end at 1 */
static _Atomic long consumed_by[CONSUMERS];

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "asyncio_queue: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

/* A small per-task generator (xorshift64): rand() has one hidden state that
 * tasks on different worker threads would share. */
static int64_t random_sleep_ns(uint64_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return (int64_t)(*state % MAX_SLEEP_NS);
}

/* Producer p makes the items p, p + PRODUCERS, p + 2 * PRODUCERS, ... so the
 * ids of all producers together are 0..n-1, each once. */
static void *produce(void *arg) {
  int p = (int)(intptr_t)arg;
  uint64_t rng = 0x9e3779b97f4a7c15u * (uint64_t)(p + 1);
  long made = 0;
  for (long id = p; id < n_items; id += PRODUCERS) {
    if (n_items <= PRINT_MAX)
      printf("producer %d: producing item %ld ->\n", p, id);
    check(corun_sleep(random_sleep_ns(&rng)), "producer sleep"); /* "IO" */
    struct item *it = malloc(sizeof *it);
    if (!it) {
      fprintf(stderr, "asyncio_queue: out of memory\n");
      exit(1);
    }
    it->id = id;
    it->producer = p;
    /* The channel copies the pointer; from here the item is the queue's,
     * then the consumer's, which frees it. */
    check(corun_chan_send(queue, &it, -1), "put");
    made++;
  }
  return (void *)(intptr_t)made;
}

static void *consume(void *arg) {
  int c = (int)(intptr_t)arg;
  uint64_t rng = 0xd1b54a32d192ed03u * (uint64_t)(c + 1);
  for (;;) {
    struct item *it;
    check(corun_chan_recv(queue, &it, -1), "get");
    if (it == NULL) /* None: no more items for this consumer */
      break;
    if (n_items <= PRINT_MAX)
      printf("consumer %d: consuming item %ld <- (from producer %d)\n", c,
             it->id, it->producer);
    if (it->id < 0 || it->id >= n_items) {
      fprintf(stderr, "asyncio_queue: consumer %d got a bad item %ld\n", c,
              it->id);
      exit(1);
    }
    /* Atomic: a duplicated delivery could reach two consumers at once, on
     * two workers, and must still be counted twice. */
    atomic_fetch_add(&times_consumed[it->id], 1);
    atomic_fetch_add(&consumed_by[c], 1);
    free(it);
    check(corun_sleep(random_sleep_ns(&rng)), "consumer sleep");
  }
  return NULL;
}

/* asyncio.run(main()): create the tasks, await the producers, then tell
 * each consumer to stop and await them. */
static void *main_task(void *arg) {
  long *made = arg; /* main()'s, which waits in corun_main() */
  corun_task *producers[PRODUCERS], *consumers[CONSUMERS];
  for (int p = 0; p < PRODUCERS; p++)
    check(corun_spawn(&producers[p], produce, (void *)(intptr_t)p, NULL),
          "spawn producer");
  for (int c = 0; c < CONSUMERS; c++)
    check(corun_spawn(&consumers[c], consume, (void *)(intptr_t)c, NULL),
          "spawn consumer");
  for (int p = 0; p < PRODUCERS; p++) {
    void *res;
    check(corun_join(producers[p], &res), "join producer");
    *made += (long)(intptr_t)res;
  }
  /* Every item is in the queue before these Nones (the channel is FIFO and
   * the producers have returned), and a consumer stops at its first None,
   * so each consumer takes exactly one and no item is left behind. */
  for (int c = 0; c < CONSUMERS; c++) {
    struct item *none = NULL;
    check(corun_chan_send(queue, &none, -1), "put None");
  }
  for (int c = 0; c < CONSUMERS; c++)
    check(corun_join(consumers[c], NULL), "join consumer");
  return NULL;
}

int main(int argc, char **argv) {
  n_items = argc > 1 ? atol(argv[1]) : 10;
  if (n_items <= 0) {
    fprintf(stderr, "usage: asyncio_queue [N > 0]\n");
    return 2;
  }
  times_consumed = calloc((size_t)n_items, sizeof *times_consumed);
  if (!times_consumed) {
    fprintf(stderr, "asyncio_queue: out of memory\n");
    return 1;
  }
  /* asyncio.Queue() is unbounded, so put never waits; room for every item
   * and every None gives the same here. A smaller capacity would make fast
   * producers wait for the consumers (back-pressure). */
  check(corun_chan_make(&queue, sizeof(struct item *),
                        (size_t)n_items + CONSUMERS),
        "make queue");

  long made = 0;
  int64_t t0 = corun_now();
  check(corun_main(main_task, &made, NULL), "corun_main");
  int64_t elapsed = corun_now() - t0;

  /* Exactly once: every id consumed once (none lost, none twice), and the
   * counts add up on both sides. */
  long once = 0, lost = 0, dup = 0, consumed = 0;
  for (long id = 0; id < n_items; id++) {
    int k = atomic_load(&times_consumed[id]);
    once += k == 1;
    lost += k == 0;
    dup += k > 1;
  }
  for (int c = 0; c < CONSUMERS; c++)
    consumed += atomic_load(&consumed_by[c]);
  int ok = made == n_items && once == n_items && consumed == n_items &&
           corun_chan_len(queue) == 0;
  printf("asyncio_queue: %d producers made %ld items, %d consumers used %ld "
         "(per consumer:",
         PRODUCERS, made, CONSUMERS, consumed);
  for (int c = 0; c < CONSUMERS; c++)
    printf(" %ld", atomic_load(&consumed_by[c]));
  printf("), each exactly once: %s (lost %ld, duplicated %ld), %.1f ms\n",
         ok ? "yes" : "NO", lost, dup, (double)elapsed / 1e6);
  check(corun_chan_free(queue), "free queue");
  free(times_consumed);
  return ok ? 0 : 1;
}
