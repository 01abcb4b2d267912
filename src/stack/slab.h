/* slab.h: what the stack pool (pool.c) needs of the slabs (stack.c).
 * Layer: stack; internal to it (nothing outside src/stack includes it).
 *
 * A slab is one mapping carved into slots, each [guard | stack]; its
 * header and the descriptors of its stacks lie in an arena shared by all
 * slabs (stack.c, new_slab). Slabs and the arena are never unmapped, so a
 * descriptor stays valid for the process; the SIGSEGV handler walks them
 * (stack.c, corun__stack_guard_owner). */
#ifndef CORUN_STACK_SLAB_H
#define CORUN_STACK_SLAB_H

#include <stddef.h>

#include "stack/stack.h"

/* Bytes of guard below each stack: 4 pages, frames up to 16 KiB. */
#define CORUN__STACK_GUARD_BYTES ((size_t)16 * 1024)

struct corun__slab {
  struct corun__slab *next; /* registry link, immutable once published */
  char *base;               /* first slot */
  size_t slot_size;         /* guard + stack */
  size_t stack_size;
  unsigned nslots;
  struct corun__stack desc[]; /* nslots descriptors */
};

/* How many stacks of `size` usable bytes a new slab holds. */
size_t corun__slab_slots(size_t size);

/* Maps a slab of corun__slab_slots(size) stacks of `size` usable bytes
 * (page-rounded), installs their guards and publishes it; its stacks are
 * not in use. NULL if memory is exhausted. Takes the slabs' lock, which
 * nests inside the pool's. */
struct corun__slab *corun__slab_new(size_t size);

/* `size` rounded up to whole pages (the first call learns the page size
 * and the other facts corun__stack_alloc's inline path reads). */
size_t corun__stack_round(size_t size);

/* madvise(2), counted in corun__stack_stats.madvise. */
int corun__stack_madvise(void *p, size_t len, int advice);

#endif
