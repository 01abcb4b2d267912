/* alloc.c: system memory with failure injection.
 * Layer: base.
 * Locking: `budget` is atomic (relaxed: it orders nothing else). The fast
 * path when injection is off is one relaxed load. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

/* < 0: injection off; otherwise the number of allocations still allowed. */
static _Atomic long budget = -1;

void corun__alloc_fail_after(long n) {
  atomic_store_explicit(&budget, n < 0 ? -1 : n, memory_order_relaxed);
}

/* Returns 1 when this allocation must fail. */
static int injected_failure(void) {
  long b = atomic_load_explicit(&budget, memory_order_relaxed);
  while (b >= 0) {
    if (b == 0)
      return 1;
    if (atomic_compare_exchange_weak_explicit(
            &budget, &b, b - 1, memory_order_relaxed, memory_order_relaxed))
      return 0;
  }
  return 0;
}

void *corun__malloc(size_t n) {
  if (injected_failure())
    return NULL;
  return malloc(n);
}

void *corun__malloc_aligned(size_t align, size_t n) {
  if (injected_failure())
    return NULL;
  /* C11's aligned_alloc wants a size that is a multiple of the alignment. */
  if (n > (size_t)-1 - align)
    return NULL;
  return aligned_alloc(align, (n + align - 1) & ~(align - 1));
}

void corun__free(void *p) {
  free(p);
}

void *corun__map(size_t n) {
  if (injected_failure())
    return NULL;
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void corun__unmap(void *p, size_t n) {
  if (p)
    munmap(p, n);
}
