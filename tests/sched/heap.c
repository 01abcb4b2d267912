/* sched/heap: the timers' deadline queue (src/base/heap.c: a binary
 * heap, and a run of deadlines that came in order), against a model.
 * After every push, remove and fix, each node's index must name its slot
 * (in the heap, or in the run between its first and last slot), no heap
 * parent may have a larger key than its child, the run's keys must not
 * decrease and its ends must hold nodes, and the top must be the smallest
 * key of the model. Random operations on 2,000 nodes, with many equal
 * keys (deadlines often collide), and with keys that mostly rise (as
 * deadlines armed one after another do), so both parts fill and nodes
 * move between them; then popping all in order; then allocation
 * failures: a push whose heap array cannot grow fails and changes
 * nothing, and one whose run cannot grow goes into the heap. */
#include "base/heap.h"
#include "base/alloc.h"
#include "t.h"

#include <string.h>

#define NODES 2000
#define OPS 200000

static struct corun__heap_node node[NODES];
static int in_heap[NODES]; /* the model: which nodes are in the heap */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Every node of the model is where its index says, and nothing else is
 * in either part; both parts are in order; the top is the least key. */
static void check(const struct corun__heap *h) {
  size_t members = 0, in_run = 0;
  int64_t least = INT64_MAX;
  for (int i = 0; i < NODES; i++) {
    if (!in_heap[i]) {
      T_EQ_HEX(node[i].index, CORUN__HEAP_NONE);
      continue;
    }
    members++;
    if (node[i].key < least)
      least = node[i].key;
    if (node[i].index & CORUN__HEAP_RUN) {
      size_t slot = node[i].index & ~CORUN__HEAP_RUN;
      T_LT(slot, h->run_cap);
      T_LT((slot - h->head) & (h->run_cap - 1), h->tail - h->head);
      T_PTR_EQ(h->run[slot].node, &node[i]);
      T_EQ(h->run[slot].key, node[i].key);
      in_run++;
    } else {
      T_LT(node[i].index, h->n);
      T_PTR_EQ(h->v[node[i].index], &node[i]);
    }
  }
  T_EQ(h->live, in_run);
  T_EQ(h->n + h->live, members);
  T_EQ(corun__heap_size(h), members);
  T_LE(members, h->cap); /* room in the heap for every node */
  for (size_t i = 1; i < h->n; i++)
    T_LE(h->v[(i - 1) / 2]->key, h->v[i]->key);
  size_t live = 0;
  int64_t prev = INT64_MIN;
  for (size_t pos = h->head; pos != h->tail; pos++) {
    const struct corun__heap_slot *sl = &h->run[pos & (h->run_cap - 1)];
    T_GE(sl->key, prev);
    prev = sl->key;
    live += sl->node != NULL;
  }
  T_EQ(live, h->live);
  if (h->head != h->tail) {
    T_TRUE(h->run[h->head & (h->run_cap - 1)].node != NULL);
    T_TRUE(h->run[(h->tail - 1) & (h->run_cap - 1)].node != NULL);
  }
  if (members) {
    T_EQ(corun__heap_top(h)->key, least);
  } else {
    T_PTR_EQ(corun__heap_top(h), NULL);
  }
}

/* OPS random operations; keys from `key_of`. */
static void random_ops(struct corun__heap *h, int64_t (*key_of)(long op)) {
  for (long op = 0; op < OPS; op++) {
    int i = (int)(next_rand() % NODES);
    int64_t key = key_of(op);
    if (!in_heap[i]) {
      node[i].key = key;
      T_OK(corun__heap_push(h, &node[i]));
      in_heap[i] = 1;
    } else if (next_rand() & 1) {
      corun__heap_remove(h, &node[i]);
      in_heap[i] = 0;
    } else {
      node[i].key = key; /* earlier or later: fix moves it either way */
      corun__heap_fix(h, &node[i]);
    }
    if (op % 97 == 0)
      check(h);
  }
  check(h);
}

static int64_t random_key(long op) {
  (void)op;
  return (int64_t)(next_rand() % 500); /* collisions on purpose */
}

/* Rising with time, as deadlines armed now + a fixed wait; one in eight
 * a little earlier than the ones before it (a shorter wait). */
static int64_t rising_key(long op) {
  return op - (next_rand() % 8 == 0 ? (int64_t)(next_rand() % 50) : 0);
}

/* Pops everything in order, as the timers do: keys never decrease. */
static void drain(struct corun__heap *h) {
  int64_t last = INT64_MIN;
  while (corun__heap_size(h)) {
    struct corun__heap_node *top = corun__heap_top(h);
    T_GE(top->key, last);
    last = top->key;
    corun__heap_remove(h, top);
    in_heap[top - node] = 0;
  }
  check(h);
}

int main(void) {
  struct corun__heap h;
  memset(&h, 0, sizeof h);
  for (int i = 0; i < NODES; i++)
    node[i].index = CORUN__HEAP_NONE;
  random_ops(&h, random_key);
  drain(&h);
  random_ops(&h, rising_key);
  T_GT(h.live, 0); /* both parts were used */
  T_GT(h.n, 0);
  drain(&h);
  corun__heap_free(&h);

  /* A push that needs the heap's array to grow, with no memory: -ENOMEM,
   * and nothing changed. (A new queue: its first array has room for far
   * fewer than NODES.) Falling keys: all but the first go into the heap. */
  int n = 0;
  do {
    node[n].key = NODES - n;
    T_OK(corun__heap_push(&h, &node[n]));
    in_heap[n++] = 1;
  } while (corun__heap_size(&h) < h.cap);
  T_LT(h.cap, NODES);
  node[n].key = -1;
  corun__alloc_fail_after(0);
  int rc = corun__heap_push(&h, &node[n]);
  corun__alloc_fail_after(-1);
  T_LT(rc, 0);
  T_EQ_HEX(node[n].index, CORUN__HEAP_NONE);
  check(&h);
  T_OK(corun__heap_push(&h, &node[n])); /* and with memory it goes in */
  in_heap[n] = 1;
  check(&h);
  T_EQ(corun__heap_top(&h)->key, -1);
  drain(&h);
  corun__heap_free(&h);

  /* A push for the end of a full run whose run cannot grow (the heap's
   * array can): into the heap, in order all the same. */
  n = 0;
  do {
    node[n].key = n;
    T_OK(corun__heap_push(&h, &node[n]));
    in_heap[n++] = 1;
  } while (h.tail - h.head < h.run_cap);
  T_EQ(h.n, 0);
  check(&h);
  node[n].key = n;
  corun__alloc_fail_after(h.cap > corun__heap_size(&h) ? 0 : 1);
  T_OK(corun__heap_push(&h, &node[n]));
  corun__alloc_fail_after(-1);
  in_heap[n] = 1;
  T_EQ(h.n, 1);
  T_EQ_HEX(node[n].index & CORUN__HEAP_RUN, 0);
  check(&h);
  drain(&h);
  corun__heap_free(&h);
  printf("sched/heap: %d operations checked, twice\n", OPS);
  return 0;
}
