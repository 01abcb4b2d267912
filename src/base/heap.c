/* heap.c: the binary min-heap of heap.h. Layer: base. */
#include "base/heap.h"

#include <errno.h>

#include "base/alloc.h"

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

int corun__heap_push(struct corun__heap *h, struct corun__heap_node *node) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? 2 * h->cap : 64;
    struct corun__heap_node **v = corun__malloc(cap * sizeof *v);
    if (!v)
      return -ENOMEM;
    for (size_t i = 0; i < h->n; i++)
      v[i] = h->v[i];
    corun__free(h->v);
    h->v = v;
    h->cap = cap;
  }
  put(h, h->n++, node);
  sift_up(h, h->n - 1);
  return 0;
}

void corun__heap_remove(struct corun__heap *h, struct corun__heap_node *node) {
  size_t i = node->index;
  node->index = CORUN__HEAP_NONE;
  struct corun__heap_node *last = h->v[--h->n];
  if (i == h->n)
    return;
  put(h, i, last);
  corun__heap_fix(h, last);
}

void corun__heap_fix(struct corun__heap *h, struct corun__heap_node *node) {
  size_t i = node->index;
  if (i > 0 && h->v[(i - 1) / 2]->key > node->key)
    sift_up(h, i);
  else
    sift_down(h, i);
}

void corun__heap_free(struct corun__heap *h) {
  corun__free(h->v);
  h->v = NULL;
  h->n = h->cap = 0;
}
