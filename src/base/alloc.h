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

/* Anonymous private read-write mapping of n bytes, not reserved against
 * overcommit (MAP_NORESERVE), so only touched pages cost memory.
 * Returns NULL on failure (injected or real). */
void *corun__map(size_t n);
void corun__unmap(void *p, size_t n);

/* Tests only: the next `n` allocations (malloc or map) succeed and every one
 * after them fails, until called again with n < 0 (never fail). */
void corun__alloc_fail_after(long n);

#endif
