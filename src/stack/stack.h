/* stack.h: coroutine stack memory: dedicated stacks carved from slabs,
 * guard regions, a per-thread pool, and stack-overflow reporting.
 * Layer: stack (uses base only).
 *
 * A stack is a slot of a slab: [guard | usable stack], lowest address first,
 * stacks growing down towards the guard. Slabs are large anonymous mappings
 * that are never unmapped, so a descriptor (struct corun__stack) stays valid
 * for the life of the process and the SIGSEGV handler can read it without
 * locks.
 *
 * Guards, best first (chosen once per process, see stack.c):
 *  madvise  MADV_GUARD_INSTALL (Linux 6.13+): a guard costs no VMA;
 *  mprotect PROT_NONE guard pages: two VMAs per stack, so they are only used
 *           up to a budget well below vm.max_map_count;
 *  canary   a pattern at the bottom of the stack, checked at every switch
 *           away from the coroutine (corun__stack_check).
 *
 * Files: stack.c makes the slabs and guards, pool.c keeps the free stacks
 * (per-thread caches, global classes, page decay), overflow.c reports.
 *
 * Locking: the global free lists are behind the pool's mutex, slab
 * creation behind the slabs' (taken inside the pool's); a thread's cache
 * (struct corun__stack_cache) is touched only by its thread. A descriptor
 * is owned by whoever allocated it until it is freed. */
#ifndef CORUN_STACK_STACK_H
#define CORUN_STACK_STACK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

enum corun__guard {
  CORUN__GUARD_MADVISE = 1,
  CORUN__GUARD_MPROTECT = 2,
  CORUN__GUARD_CANARY = 3,
};

struct corun__slab;

/* One stack. Fields are written by the allocating thread; the signal handler
 * only reads them. */
struct corun__stack {
  char *lo;                 /* lowest usable address (just above the guard) */
  char *hi;                 /* one past the highest usable address */
  struct corun__slab *slab; /* the slab it belongs to */
  uint8_t guard;            /* enum corun__guard protecting it */
  uint8_t in_use;           /* 1 between alloc and free */
  uint64_t owner_id;        /* for reports: the coroutine using it */
  const char *owner_name;   /* for reports: its name, "" if none; lives at
                               the top of this stack, which an overflow
                               (growing down) does not reach */
  unsigned valgrind_id;     /* VALGRIND_STACK_REGISTER id while in use */
};

/* Per-thread pool of free stacks, a few size classes. Embedded in the
 * caller's per-thread state; zero-initialised means empty. Each class is
 * an array used as a LIFO (v[count - 1] is taken next), not a list
 * through the descriptors: moving stacks between it and the global pool
 * then touches no descriptor (pool.c). The arrays stay in
 * `store`; the slow paths move a class to cls[0], where the fast paths
 * look, by swapping the small headers only. */
#define CORUN__STACK_CACHE_CLASSES 4
#define CORUN__STACK_CACHE_MAX 64 /* per class; half is spilled beyond */
struct corun__stack_cache {
  struct {
    size_t size;             /* usable size of the class; 0 = unused */
    unsigned count;          /* free stacks in v */
    unsigned popped;         /* count after the last fast-path alloc */
    struct corun__stack **v; /* its array in store (NULL until first use) */
  } cls[CORUN__STACK_CACHE_CLASSES];
  struct corun__stack
      *store[CORUN__STACK_CACHE_CLASSES][CORUN__STACK_CACHE_MAX];
};

/* Counters for tests and benchmarks (process-wide, approximate under
 * concurrency: relaxed atomics). */
struct corun__stack_stats {
  uint64_t slabs;   /* slab mappings made */
  uint64_t slots;   /* stacks carved from them */
  uint64_t madvise; /* madvise/mprotect system calls for guards/reclaim */
  uint64_t mprotect_guards; /* guards made with mprotect (VMA cost) */
  int guard; /* enum corun__guard in force for new stacks, 0: none yet */
};

/* Fast paths (inline: create/destroy spend most of their time here) serve
 * the cache's first class, the size used last; everything else goes to the
 * out-of-line slow paths in pool.c. */
/* Written once by the first stack allocation of the process, read by every
 * fast path: relaxed atomics (plain loads on x86-64), since threads racing
 * on the first allocation store the same values. */
extern _Atomic size_t corun__stack_page_mask; /* page size - 1; 0 at first */
extern _Atomic int corun__stack_hooks;        /* 1: tell Valgrind */

struct corun__stack *corun__stack_alloc_slow(struct corun__stack_cache *c,
                                             size_t size);
void corun__stack_free_slow(struct corun__stack_cache *c,
                            struct corun__stack *s);
void corun__stack_hooks_alloc(struct corun__stack *s);
void corun__stack_hooks_free(struct corun__stack *s);

/* Page-rounds `size` and returns a stack with at least that many usable
 * bytes, or NULL if memory is exhausted (or injected failure).
 * Context: any thread, with that thread's cache. */
static inline struct corun__stack *
corun__stack_alloc(struct corun__stack_cache *c, size_t size) {
  size_t m =
      atomic_load_explicit(&corun__stack_page_mask, memory_order_relaxed);
  size = (size + m) & ~m;
  unsigned n = c->cls[0].count;
  if (CORUN__UNLIKELY(c->cls[0].size != size || !n))
    return corun__stack_alloc_slow(c, size);
  struct corun__stack *s = c->cls[0].v[--n];
  c->cls[0].count = n;
  /* A burst of creates (100,000 tasks spawned at once) takes stacks whose
   * descriptors and tops are cold: a cache and TLB miss at each one's
   * first write. Start loading what the next two allocations will touch:
   * the descriptor after the next, and the next stack's top lines (its
   * descriptor came with the last allocation's prefetch), where the
   * coroutine's struct and first frame go. The tops only in a burst (the
   * count fell by one since the last allocation): in a create-destroy
   * loop, which reuses one stack, those loads took a spawn + join from
   * 63.5 to 69.8 ns. bench_sched sleepers, one worker, 6 alternating
   * runs: 907 -> 858 ns (medians). */
  if (n >= 2)
    __builtin_prefetch(c->cls[0].v[n - 2], 1);
  if (n && n + 1 == c->cls[0].popped) {
    const char *top = c->cls[0].v[n - 1]->hi;
    __builtin_prefetch(top - 64, 1);
    __builtin_prefetch(top - 128, 1);
    __builtin_prefetch(top - 192, 1);
  }
  c->cls[0].popped = n;
  s->in_use = 1;
  if (CORUN__UNLIKELY(
          s->guard == CORUN__GUARD_CANARY ||
          atomic_load_explicit(&corun__stack_hooks, memory_order_relaxed)))
    corun__stack_hooks_alloc(s);
  return s;
}

/* Returns a stack to the calling thread's cache. The caller must no longer
 * run on it. */
static inline void corun__stack_free(struct corun__stack_cache *c,
                                     struct corun__stack *s) {
  s->in_use = 0;
#if CORUN__ASAN
  corun__stack_hooks_free(s);
#else
  if (CORUN__UNLIKELY(
          atomic_load_explicit(&corun__stack_hooks, memory_order_relaxed)))
    corun__stack_hooks_free(s);
#endif
  if (CORUN__UNLIKELY(c->cls[0].size != (size_t)(s->hi - s->lo) ||
                      c->cls[0].count >= CORUN__STACK_CACHE_MAX)) {
    corun__stack_free_slow(c, s);
    return;
  }
  c->cls[0].v[c->cls[0].count++] = s;
}

/* Records who uses the stack, for overflow reports. `name` (NULL: none)
 * must stay valid while the stack is in use (corun keeps a copy with the
 * coroutine). */
static inline void corun__stack_set_owner(struct corun__stack *s, uint64_t id,
                                          const char *name) {
  s->owner_id = id;
  s->owner_name = name ? name : "";
}

/* Gives every stack in the cache back to the global pool (thread exit). */
void corun__stack_cache_flush(struct corun__stack_cache *c);

/* Gives back to the kernel the pages of free stacks spilled to the global
 * pool and not reused for a while (1 to 2 s; pool.c); `now` is
 * corun__clock_ns(). At most RELEASE_CHUNK stacks' pages per call (a
 * fraction of a millisecond, pool.c): returns when it next has such work, in
 * the same clock (0 while more is due now), or -1 if it has none. An idle
 * worker bounds its sleep by it, so the memory of a burst of coroutines goes
 * back without a new one, a chunk at a time. Frees also happen in the
 * course of spilling, chunks for up to 1 ms per spill. Context: any
 * thread. */
int64_t corun__stack_scavenge(int64_t now);

/* Canary stacks only: aborts with the overflow report if the canary at the
 * bottom of `s` was overwritten. */
void corun__stack_check_canary(const struct corun__stack *s);

/* Makes sure the calling thread has an alternate signal stack, so the
 * overflow handler can run when a coroutine's stack is exhausted. Installs
 * one (remembered in *altstack) if the thread has none. Returns 0 or
 * -ENOMEM. */
int corun__stack_thread_init(void **altstack);

/* Removes and frees the alternate signal stack installed by
 * corun__stack_thread_init, if it is still the thread's. */
void corun__stack_thread_fini(void *altstack);

/* Prints the overflow report for `s` with the fault address and aborts.
 * Async-signal-safe. */
CORUN__NORETURN void corun__stack_overflow(const struct corun__stack *s,
                                           const void *fault);

void corun__stack_get_stats(struct corun__stack_stats *out);

/* The kernel's vm.max_map_count (65530 if it cannot be read): the VMA
 * budget the mprotect guards are sized against. */
long corun__stack_max_map_count(void);

/* overflow.c, called by stack.c: installs the SIGSEGV handler once. */
void corun__stack_install_handler(void);

/* The slab containing `addr` and whether addr is in one of its guards;
 * returns the stack whose guard it is, or NULL. Lock-free. */
const struct corun__stack *corun__stack_guard_owner(const void *addr);

#endif
