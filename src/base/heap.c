/* heap.c: the deadline queue of heap.h: a binary min-heap and a run of
 * deadlines that came in order. Layer: base. */
#include "base/heap.h"

#include <errno.h>
#include <string.h>

#include "base/alloc.h"

/* ---- the heap ------------------------------------------------------------ */

static void put(struct corun__heap *h, size_t i, struct corun__heap_node *x) {
  h->v[i] = x;
  x->index = i;
}

static void sift_up(struct corun__heap *h, size_t i) {
  struct corun__heap_node *x = h->v[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h->v[parent]->key <= x->key)
      break;
    put(h, i, h->v[parent]);
    i = parent;
  }
  put(h, i, x);
}

static void sift_down(struct corun__heap *h, size_t i) {
  struct corun__heap_node *x = h->v[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n)
      break;
    if (c + 1 < h->n && h->v[c + 1]->key < h->v[c]->key)
      c++;
    if (x->key <= h->v[c]->key)
      break;
    put(h, i, h->v[c]);
    i = c;
  }
  put(h, i, x);
}

/* Moves heap node x to its place after its key changed. */
static void heap_fix(struct corun__heap *h, struct corun__heap_node *x) {
  size_t i = x->index;
  if (i > 0 && h->v[(i - 1) / 2]->key > x->key)
    sift_up(h, i);
  else
    sift_down(h, i);
}

/* Makes the heap's array hold at least `need` nodes. 0 or -ENOMEM. */
static int heap_room(struct corun__heap *h, size_t need) {
  if (need <= h->cap)
    return 0;
  size_t cap = h->cap ? 2 * h->cap : 64;
  while (cap < need)
    cap *= 2;
  struct corun__heap_node **v = corun__malloc(cap * sizeof *v);
  if (!v)
    return -ENOMEM;
  if (h->n)
    memcpy(v, h->v, h->n * sizeof *v);
  corun__free(h->v);
  h->v = v;
  h->cap = cap;
  return 0;
}

/* Into the heap, which has room (heap_room). */
static void heap_insert(struct corun__heap *h, struct corun__heap_node *x) {
  put(h, h->n++, x);
  sift_up(h, h->n - 1);
}

static void heap_delete(struct corun__heap *h, struct corun__heap_node *x) {
  size_t i = x->index;
  struct corun__heap_node *last = h->v[--h->n];
  if (i == h->n)
    return;
  put(h, i, last);
  heap_fix(h, last);
}

/* ---- the run ------------------------------------------------------------- */

static struct corun__heap_slot *slot_at(const struct corun__heap *h,
                                        size_t pos) {
  return &h->run[pos & (h->run_cap - 1)];
}

/* Whether a node with `key` may go at the run's end. */
static int run_takes(const struct corun__heap *h, int64_t key) {
  return h->head == h->tail || key >= slot_at(h, h->tail - 1)->key;
}

static int run_full(const struct corun__heap *h) {
  return h->tail - h->head == h->run_cap;
}

/* Copies the run's nodes, without the slots emptied in its middle, into a
 * new array: twice as large if they fill more than half of it. Each node
 * learns its new slot. 0 or -ENOMEM (nothing changed). */
static int run_grow(struct corun__heap *h) {
  size_t cap = h->run_cap ? h->run_cap : 64;
  if (h->live * 2 > cap)
    cap *= 2;
  struct corun__heap_slot *run = corun__malloc(cap * sizeof *run);
  if (!run)
    return -ENOMEM;
  size_t k = 0;
  for (size_t pos = h->head; pos != h->tail; pos++) {
    struct corun__heap_slot *s = slot_at(h, pos);
    if (!s->node)
      continue;
    run[k] = *s;
    s->node->index = CORUN__HEAP_RUN | k;
    k++;
  }
  corun__free(h->run);
  h->run = run;
  h->run_cap = cap;
  h->head = 0;
  h->tail = k;
  return 0;
}

/* At the run's end, which has room and takes x's key. */
static void run_append(struct corun__heap *h, struct corun__heap_node *x) {
  size_t i = h->tail++ & (h->run_cap - 1);
  h->run[i].key = x->key;
  h->run[i].node = x;
  x->index = CORUN__HEAP_RUN | i;
  h->live++;
}

/* Out of the run; then neither end of it is an emptied slot. */
static void run_delete(struct corun__heap *h, struct corun__heap_node *x) {
  h->run[x->index & ~CORUN__HEAP_RUN].node = NULL;
  h->live--;
  while (h->head != h->tail && !slot_at(h, h->head)->node)
    h->head++;
  while (h->tail != h->head && !slot_at(h, h->tail - 1)->node)
    h->tail--;
}

/* ---- heap.h -------------------------------------------------------------- */

static int in_run(const struct corun__heap_node *x) {
  return x->index != CORUN__HEAP_NONE && (x->index & CORUN__HEAP_RUN);
}

int corun__heap_push(struct corun__heap *h, struct corun__heap_node *node) {
  if (heap_room(h, corun__heap_size(h) + 1) < 0)
    return -ENOMEM;
  if (run_takes(h, node->key) && (!run_full(h) || run_grow(h) == 0))
    run_append(h, node);
  else
    heap_insert(h, node);
  return 0;
}

void corun__heap_remove(struct corun__heap *h, struct corun__heap_node *node) {
  if (in_run(node))
    run_delete(h, node);
  else
    heap_delete(h, node);
  node->index = CORUN__HEAP_NONE;
}

void corun__heap_fix(struct corun__heap *h, struct corun__heap_node *node) {
  if (!in_run(node) && !run_takes(h, node->key)) {
    heap_fix(h, node);
    return;
  }
  corun__heap_remove(h, node);
  /* Never allocates: the heap's array has room for every node. */
  if (run_takes(h, node->key) && !run_full(h))
    run_append(h, node);
  else
    heap_insert(h, node);
}

void corun__heap_free(struct corun__heap *h) {
  corun__free(h->v);
  corun__free(h->run);
  memset(h, 0, sizeof *h);
}
