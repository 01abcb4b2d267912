/* alloc.h: the one entry point for memory from the system, with failure
 * injection so tests can sweep every allocation path (libuv's
 * test-loop-oom idea).
 * Layer: base.
 * Locking: the failure budget is a process-wide atomic counter; the
 * functions are safe on any thread. */
#ifndef CORUN_BASE_ALLOC_H
#define CORUN_BASE_ALLOC_H

#include <stddef.h>

/* malloc/free with injected failures. */
void *corun__malloc(size_t n);
void corun__free(void *p);

/* corun__malloc of n bytes at an address that is a multiple of `align`
 * (a power of two, at least sizeof(void *)), for objects laid out by
 * cache line; freed with corun__free. */
void *corun__malloc_aligned(size_t align, size_t n);

/* Anonymous private read-write mapping of n bytes, not reserved against
 * overcommit (MAP_NORESERVE), so only touched pages cost memory.
 * Returns NULL on failure (injected or real). */
void *corun__map(size_t n);
void corun__unmap(void *p, size_t n);

/* Tests only: the next `n` allocations (malloc or map) succeed and every one
 * after them fails, until called again with n < 0 (never fail). */
void corun__alloc_fail_after(long n);

#endif
