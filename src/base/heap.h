/* heap.h: the deadline queue of a worker's timers: a binary min-heap, and
 * beside it a run of deadlines that arrived in order.
 * Layer: base. Each node records where it is, so a node can be removed,
 * or moved after its key changed (corun__heap_fix). (The scheduler's
 * timers rarely remove a node when its wait ends early, the common case
 * for deadlines: they leave it and fix it up when it reaches the top;
 * sched/park.c.)
 *
 * Why the run. Deadlines mostly come in order: every task that sleeps or
 * waits for the same time (a sleep of 1 ms, a server's idle timeout) arms
 * a deadline later than the one before it. A push that is not earlier
 * than the run's last key is appended to the run, an array in key order,
 * with each key copied beside its node: taking the earliest out of it
 * reads that array alone. Taking the top out of a heap of 100,000 timers
 * moves the last node down 17 levels, each a read of two nodes' keys and
 * a write of one node's index, in the task objects the nodes live in,
 * which are cold; the run reads no other node (docs/design.md §5). A deadline earlier than
 * the run's last goes into the heap, whose top is compared with the run's
 * first key.
 *
 * Room. The heap's array has room for every node of both parts, so a node
 * can always go into the heap: a fix never allocates (it moves a node
 * from the run to the heap when the run has no room at its end).
 * Locking: none here; the owner (a worker's timer heap) locks. */
#ifndef CORUN_BASE_HEAP_H
#define CORUN_BASE_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define CORUN__HEAP_NONE ((size_t)-1) /* index of a node not in a heap */

struct corun__heap_node {
  int64_t key;  /* the deadline */
  size_t index; /* its heap slot, or CORUN__HEAP_RUN | its run slot, or
                   CORUN__HEAP_NONE */
};

/* Marks an index as a slot of the run (the run's slots stay below it). */
#define CORUN__HEAP_RUN ((size_t)1 << (sizeof(size_t) * 8 - 1))

/* A slot of the run: the node's key, copied, and the node (NULL: taken out
 * of the middle of the run; the run's first and last slots are never
 * NULL). */
struct corun__heap_slot {
  int64_t key;
  struct corun__heap_node *node;
};

struct corun__heap {
  struct corun__heap_node **v; /* the heap */
  size_t n, cap;
  /* The run: slots [head, tail) of run, positions taken modulo run_cap
   * (a power of two), keys not decreasing; live counts the slots that
   * hold a node. */
  struct corun__heap_slot *run;
  size_t run_cap, head, tail, live;
};

/* Inserts node (its key set); returns 0 or -ENOMEM (nothing changed). */
int corun__heap_push(struct corun__heap *h, struct corun__heap_node *node);
/* Removes node, which must be in h. */
void corun__heap_remove(struct corun__heap *h, struct corun__heap_node *node);
/* Moves node, which must be in h, to its place after its key changed. */
void corun__heap_fix(struct corun__heap *h, struct corun__heap_node *node);
/* The node with the smallest key, or NULL. */
static inline struct corun__heap_node *
corun__heap_top(const struct corun__heap *h) {
  struct corun__heap_node *a = h->n ? h->v[0] : NULL;
  if (h->head == h->tail)
    return a;
  const struct corun__heap_slot *s = &h->run[h->head & (h->run_cap - 1)];
  return a && a->key <= s->key ? a : s->node;
}
/* How many nodes h holds. */
static inline size_t corun__heap_size(const struct corun__heap *h) {
  return h->n + h->live;
}
void corun__heap_free(struct corun__heap *h);

#endif
