/* heap.h: a binary min-heap of deadlines, for timers.
 * Layer: base. Each node records its index in the heap, so a node can be
 * removed in O(log n), or moved after its key changed (corun__heap_fix).
 * (The scheduler's timers rarely remove a node when its wait ends early,
 * the common case for deadlines: they leave it and fix it up when it
 * reaches the top; sched/park.c.)
 * Locking: none here; the owner (a worker's timer heap) locks. */
#ifndef CORUN_BASE_HEAP_H
#define CORUN_BASE_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define CORUN__HEAP_NONE ((size_t)-1) /* index of a node not in a heap */

struct corun__heap_node {
  int64_t key;  /* the deadline */
  size_t index; /* position in the heap, or CORUN__HEAP_NONE */
};

struct corun__heap {
  struct corun__heap_node **v;
  size_t n, cap;
};

/* Inserts node; returns 0 or -ENOMEM (the heap is unchanged). */
int corun__heap_push(struct corun__heap *h, struct corun__heap_node *node);
/* Removes node, which must be in h. */
void corun__heap_remove(struct corun__heap *h, struct corun__heap_node *node);
/* Moves node, which must be in h, to its place after its key changed. */
void corun__heap_fix(struct corun__heap *h, struct corun__heap_node *node);
/* The node with the smallest key, or NULL. */
static inline struct corun__heap_node *
corun__heap_top(const struct corun__heap *h) {
  return h->n ? h->v[0] : NULL;
}
void corun__heap_free(struct corun__heap *h);

#endif
