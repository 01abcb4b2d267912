/* sched/heap: the timers' binary heap (src/base/heap.c), against a model.
 * After every push, remove and fix, each node's index must name its slot,
 * no parent may have a larger key than its child, and the top must be the
 * smallest key of the model. Random operations on 2,000 nodes, with many
 * equal keys (deadlines often collide), then an allocation failure on
 * push that must leave the heap as it was. */
#include "base/heap.h"
#include "base/alloc.h"
#include "t.h"

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

/* Every slot: its node knows the slot, no parent is larger; the slots
 * hold exactly the model's nodes. */
static void check(const struct corun__heap *h) {
  size_t members = 0;
  int64_t least = INT64_MAX;
  for (int i = 0; i < NODES; i++) {
    if (!in_heap[i]) {
      T_EQ_HEX(node[i].index, CORUN__HEAP_NONE);
      continue;
    }
    members++;
    if (node[i].key < least)
      least = node[i].key;
    T_LT(node[i].index, h->n);
    T_PTR_EQ(h->v[node[i].index], &node[i]);
  }
  T_EQ(h->n, members);
  for (size_t i = 1; i < h->n; i++)
    T_LE(h->v[(i - 1) / 2]->key, h->v[i]->key);
  if (members) {
    T_EQ(corun__heap_top(h)->key, least);
  } else {
    T_PTR_EQ(corun__heap_top(h), NULL);
  }
}

int main(void) {
  struct corun__heap h = {NULL, 0, 0};
  for (int i = 0; i < NODES; i++)
    node[i].index = CORUN__HEAP_NONE;
  for (long op = 0; op < OPS; op++) {
    int i = (int)(next_rand() % NODES);
    int64_t key = (int64_t)(next_rand() % 500); /* collisions on purpose */
    if (!in_heap[i]) {
      node[i].key = key;
      T_OK(corun__heap_push(&h, &node[i]));
      in_heap[i] = 1;
    } else if (next_rand() & 1) {
      corun__heap_remove(&h, &node[i]);
      in_heap[i] = 0;
    } else {
      node[i].key = key; /* earlier or later: fix moves it either way */
      corun__heap_fix(&h, &node[i]);
    }
    if (op % 97 == 0)
      check(&h);
  }
  check(&h);

  /* Pop everything in order, as the timers do: keys never decrease. */
  int64_t last = INT64_MIN;
  while (h.n) {
    struct corun__heap_node *top = corun__heap_top(&h);
    T_GE(top->key, last);
    last = top->key;
    corun__heap_remove(&h, top);
    in_heap[top - node] = 0;
  }
  check(&h);
  corun__heap_free(&h);

  /* A push that needs the array to grow, with no memory: -ENOMEM, and
   * the heap is as it was. (A new heap: its first array has room for
   * far fewer than NODES.) */
  int n = 0;
  node[n].key = NODES;
  T_OK(corun__heap_push(&h, &node[n]));
  in_heap[n++] = 1;
  T_LT(h.cap, NODES);
  while (h.n < h.cap) {
    node[n].key = NODES - n;
    T_OK(corun__heap_push(&h, &node[n]));
    in_heap[n++] = 1;
  }
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
  corun__heap_free(&h);
  printf("sched/heap: %d operations checked\n", OPS);
  return 0;
}
