/* stack.c: dedicated coroutine stacks: slabs, guards and canaries. The
 * free stacks are kept by pool.c.
 * Layer: stack (uses base).
 *
 * Design. vm.max_map_count (65530 by default) caps a process at ~32 K stacks
 * when each stack is its own mapping with an mprotect'ed guard (two VMAs
 * each; state-threads, brpc and rethinkdb all hit this wall). So:
 *  - stacks are carved from slabs: one mapping holds many slots, each
 *    [guard | stack]; the descriptors are elsewhere (packed in an arena of
 *    their own, see new_slab), so an overflow never tramples them and the
 *    signal handler can read them;
 *  - guards are installed with MADV_GUARD_INSTALL where the kernel has it
 *    (6.13+), which adds no VMA; otherwise with mprotect up to a budget of
 *    half of what is left under vm.max_map_count; past that, stacks get a
 *    canary checked at every switch, and corun says so once on stderr;
 *  - memory is committed lazily (MAP_NORESERVE, MADV_NOHUGEPAGE so THP does
 *    not turn a 4 KiB touch into 2 MiB).
 * Slabs are never unmapped: a descriptor stays valid for the process.
 *
 * Locking: g.lock protects slab creation and the guard mode; pool.c calls
 * corun__slab_new holding none of its own locks. The slab registry
 * (g.slabs) is a list published with release stores and read with acquire
 * loads by the SIGSEGV handler, which takes no lock. Stats are relaxed
 * atomics. */
#include "stack/stack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "base/panic.h"
#include "base/valgrind.h"
#include "stack/slab.h"

#if CORUN__ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef CORUN_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 uapi/asm-generic/mman-common.h */
#endif

#define SLAB_BYTES ((size_t)4 << 20) /* aim for 4 MiB per slab */
#define SLAB_MIN_SLOTS 8
#define SLAB_MAX_SLOTS 1024
#define CANARY_WORDS 4
#define CANARY_SEED 0x636f72756e21c0deULL

static struct {
  pthread_mutex_t lock;
  struct corun__slab *_Atomic slabs; /* registry; see header comment */
  int mode;             /* enum corun__guard for new guards; lock */
  int forced;           /* mode came from CORUN_STACK_GUARD */
  int madvise_verified; /* a madvise guard was seen to fault; lock */
  long mprotect_budget; /* guards mprotect may still make; lock */
  _Atomic uint64_t n_slabs, n_slots, n_madvise, n_mprotect;
  char *meta_next, *meta_end; /* the descriptors' arena (see new_slab) */
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

_Atomic size_t corun__stack_page_mask; /* see stack.h */
_Atomic int corun__stack_hooks;

static size_t page_size(void) {
  return atomic_load_explicit(&corun__stack_page_mask, memory_order_relaxed) +
         1;
}

#ifdef CORUN_HAVE_VALGRIND
static int hooks(void) {
  return atomic_load_explicit(&corun__stack_hooks, memory_order_relaxed);
}
#endif

/* Reads the facts the inline fast paths need; called by the first stack
 * allocation (page mask still 0). Racing first calls on two threads write
 * the same values. */
static void init_once(void) {
#ifdef CORUN_HAVE_VALGRIND
  /* The client requests cost a dozen instructions even outside Valgrind:
   * ask once whether to make them. */
  atomic_store_explicit(&corun__stack_hooks, corun__on_valgrind(),
                        memory_order_relaxed);
#endif
  atomic_store_explicit(&corun__stack_page_mask,
                        (size_t)sysconf(_SC_PAGESIZE) - 1,
                        memory_order_relaxed);
}

/* `to` is a power of two (page sizes are). */
static size_t round_up(size_t n, size_t to) {
  return (n + to - 1) & ~(to - 1);
}

static void count(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

size_t corun__stack_round(size_t size) {
  if (!atomic_load_explicit(&corun__stack_page_mask,
                            memory_order_relaxed)) /* first stack ever */
    init_once();
  return round_up(size, page_size());
}

int corun__stack_madvise(void *p, size_t len, int advice) {
  count(&g.n_madvise, 1);
  return madvise(p, len, advice);
}

long corun__stack_max_map_count(void) {
  long max = 65530; /* the kernel's default */
  FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
  if (f) {
    if (fscanf(f, "%ld", &max) != 1)
      max = 65530;
    fclose(f);
  }
  return max;
}

/* Under g.lock. Chooses the guard mechanism once. */
static void choose_mode(void) {
  if (g.mode)
    return;
  const char *env = getenv("CORUN_STACK_GUARD");
  g.forced = 1;
  if (env && !strcmp(env, "mprotect"))
    g.mode = CORUN__GUARD_MPROTECT;
  else if (env && !strcmp(env, "canary"))
    g.mode = CORUN__GUARD_CANARY;
  else {
    g.mode = CORUN__GUARD_MADVISE;
    g.forced = env && !strcmp(env, "madvise");
  }
  long max = corun__stack_max_map_count();
  /* Each mprotect guard splits a slab VMA in two more; leave a generous
   * margin for the rest of the process (malloc arenas, libraries). */
  g.mprotect_budget = max > 16384 ? (max - 16384) / 2 : 0;
}

/* Under g.lock. */
static void fall_back_to_canary(const char *why) {
  g.mode = CORUN__GUARD_CANARY;
  struct corun__out o = {.len = 0};
  corun__out_str(&o, "corun: guard pages unavailable (");
  corun__out_str(&o, why);
  corun__out_str(&o, "); new coroutine stacks are checked by a canary at "
                     "every switch instead\n");
  corun__out_flush(&o);
}

/* Under g.lock. Whether the guard that madvise reported installed at `guard`
 * really faults: write(2) from it must fail with EFAULT. Asked once per
 * process, because emulators accept advice they do not know and do
 * nothing (qemu-user 7.2 returns 0 for MADV_GUARD_INSTALL), which would
 * leave every stack unguarded. The raw system call keeps sanitizer
 * interceptors out of it. */
static int guard_faults(const char *guard) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return 1; /* cannot tell (no fds left): trust the kernel */
#ifdef CORUN_HAVE_VALGRIND
  if (hooks()) /* reading a NOACCESS page on purpose */
    VALGRIND_DISABLE_ERROR_REPORTING;
#endif
  long w = syscall(SYS_write, fds[1], guard, 1);
  int faulted = w < 0 && errno == EFAULT;
#ifdef CORUN_HAVE_VALGRIND
  if (hooks())
    VALGRIND_ENABLE_ERROR_REPORTING;
#endif
  close(fds[0]);
  close(fds[1]);
  return faulted;
}

/* Under g.lock. Protects the guard below stack `s` with the best mechanism
 * still available. */
static void install_guard(struct corun__stack *s) {
  char *guard = s->lo - CORUN__STACK_GUARD_BYTES;
#ifdef CORUN_HAVE_VALGRIND
  /* Memcheck does not know MADV_GUARD_INSTALL: without this its leak scan
   * at exit reads every guard page, taking a SIGSEGV on each (seconds per
   * thousand stacks). */
  if (hooks())
    VALGRIND_MAKE_MEM_NOACCESS(guard, CORUN__STACK_GUARD_BYTES);
#endif
  if (g.mode == CORUN__GUARD_MADVISE) {
    if (corun__stack_madvise(guard, CORUN__STACK_GUARD_BYTES,
                             MADV_GUARD_INSTALL) == 0 &&
        (g.madvise_verified || (g.madvise_verified = guard_faults(guard)))) {
      s->guard = CORUN__GUARD_MADVISE;
      return;
    }
    if (g.forced)
      corun__panic("CORUN_STACK_GUARD=madvise, but MADV_GUARD_INSTALL "
                   "failed or is not enforced (Linux 6.13+ needed)");
    g.mode = CORUN__GUARD_MPROTECT; /* older kernel (EINVAL), emulator */
  }
  if (g.mode == CORUN__GUARD_MPROTECT) {
    if (g.mprotect_budget > 0) {
      count(&g.n_madvise, 1);
      if (mprotect(guard, CORUN__STACK_GUARD_BYTES, PROT_NONE) == 0) {
        g.mprotect_budget--;
        count(&g.n_mprotect, 1);
        s->guard = CORUN__GUARD_MPROTECT;
        return;
      }
      fall_back_to_canary("mprotect failed: vm.max_map_count reached");
    } else {
      fall_back_to_canary("MADV_GUARD_INSTALL unsupported and guard pages "
                          "would exhaust vm.max_map_count");
    }
  }
  s->guard = CORUN__GUARD_CANARY;
}

size_t corun__slab_slots(size_t size) {
  size_t n = SLAB_BYTES / (CORUN__STACK_GUARD_BYTES + size);
  if (n < SLAB_MIN_SLOTS)
    n = SLAB_MIN_SLOTS;
  if (n > SLAB_MAX_SLOTS)
    n = SLAB_MAX_SLOTS;
  return n;
}

/* Room for a slab's header and descriptors, under g.lock: from an arena
 * of META_CHUNK mappings, where they lie side by side, never unmapped.
 * Each slab once had its own first page for them (15 descriptors of 56
 * bytes for 256 KiB stacks): 100,000 live stacks had their descriptors on
 * 6,700 pages, each a TLB miss whose page-table entry was a cache miss of
 * its own; packed, they take 1,400 pages of one 2 MiB chunk (a huge page
 * where the kernel gives one: MADV_HUGEPAGE, advisory), read at each
 * create and destroy. bench_sched sleepers, one worker, pinned, seven
 * alternating pairs of 15-run medians: 805-833 -> 789-819 ns, lower in
 * every pair (by 1 to 4 %). */
#define META_CHUNK ((size_t)2 << 20)
static struct corun__slab *meta_alloc(size_t bytes) {
  bytes = round_up(bytes, 64);
  if ((size_t)(g.meta_end - g.meta_next) < bytes) {
    size_t chunk =
        bytes > META_CHUNK ? round_up(bytes, page_size()) : META_CHUNK;
    char *p = corun__map(chunk);
    if (!p)
      return NULL;
    (void)madvise(p, chunk, MADV_HUGEPAGE); /* advisory; may be absent */
    g.meta_next = p;
    g.meta_end = p + chunk;
  }
  struct corun__slab *sl = (struct corun__slab *)(void *)g.meta_next;
  g.meta_next += bytes;
  return sl;
}

/* corun__slab_new, under g.lock. */
static struct corun__slab *new_slab(size_t size) {
  size_t slot = CORUN__STACK_GUARD_BYTES + size;
  size_t n = corun__slab_slots(size);
  size_t bytes = n * slot;
  char *p = corun__map(bytes);
  if (!p)
    return NULL;
  struct corun__slab *sl =
      meta_alloc(sizeof(struct corun__slab) + n * sizeof(struct corun__stack));
  if (!sl) {
    corun__unmap(p, bytes);
    return NULL;
  }
  count(&g.n_slabs, 1);
  /* advisory; may be absent */
  (void)corun__stack_madvise(p, bytes, MADV_NOHUGEPAGE);
  choose_mode();
  if (g.mode != CORUN__GUARD_CANARY)
    corun__stack_install_handler();
  sl->base = p;
  sl->slot_size = slot;
  sl->stack_size = size;
  sl->nslots = (unsigned)n;
  for (size_t i = 0; i < n; i++) {
    struct corun__stack *s = &sl->desc[i];
    s->lo = sl->base + i * slot + CORUN__STACK_GUARD_BYTES;
    s->hi = s->lo + size;
    s->slab = sl;
    s->owner_name = "";
    install_guard(s);
  }
  count(&g.n_slots, n);
  sl->next = atomic_load_explicit(&g.slabs, memory_order_relaxed);
  /* release: the handler must see the descriptors before the slab. */
  atomic_store_explicit(&g.slabs, sl, memory_order_release);
  return sl;
}

struct corun__slab *corun__slab_new(size_t size) {
  pthread_mutex_lock(&g.lock);
  struct corun__slab *sl = new_slab(size);
  pthread_mutex_unlock(&g.lock);
  return sl;
}

static void write_canary(struct corun__stack *s) {
  uint64_t *w = (uint64_t *)(void *)s->lo;
  for (unsigned i = 0; i < CANARY_WORDS; i++)
    w[i] = CANARY_SEED ^ ((uintptr_t)s->lo + i);
}

void corun__stack_check_canary(const struct corun__stack *s) {
  const uint64_t *w = (const uint64_t *)(const void *)s->lo;
#ifdef CORUN_HAVE_VALGRIND
  /* The canary lies far below the stack pointer, which Memcheck counts as
   * unaddressable: reading it on purpose is not an error. */
  if (hooks())
    VALGRIND_DISABLE_ERROR_REPORTING;
#endif
  unsigned bad = CANARY_WORDS;
  for (unsigned i = 0; i < CANARY_WORDS && bad == CANARY_WORDS; i++)
    if (w[i] != (CANARY_SEED ^ ((uintptr_t)s->lo + i)))
      bad = i;
#ifdef CORUN_HAVE_VALGRIND
  if (hooks())
    VALGRIND_ENABLE_ERROR_REPORTING;
#endif
  if (bad < CANARY_WORDS)
    corun__stack_overflow(s, &w[bad]);
}

void corun__stack_hooks_alloc(struct corun__stack *s) {
  if (s->guard == CORUN__GUARD_CANARY)
    write_canary(s);
#ifdef CORUN_HAVE_VALGRIND
  if (hooks())
    s->valgrind_id = VALGRIND_STACK_REGISTER(s->lo, s->hi);
#endif
}

void corun__stack_hooks_free(struct corun__stack *s) {
#ifdef CORUN_HAVE_VALGRIND
  if (hooks())
    VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
#if CORUN__ASAN
  /* Frames that never returned (a finished coroutine's entry, a body freed
   * while suspended) leave their redzones poisoned: clear them before the
   * next coroutine runs here. */
  ASAN_UNPOISON_MEMORY_REGION(s->lo, (size_t)(s->hi - s->lo));
#endif
  (void)s;
}

const struct corun__stack *corun__stack_guard_owner(const void *addr) {
  const char *a = addr;
  /* acquire: pairs with the release in new_slab. */
  for (struct corun__slab *sl =
           atomic_load_explicit(&g.slabs, memory_order_acquire);
       sl; sl = sl->next) {
    if (a < sl->base || a >= sl->base + (size_t)sl->nslots * sl->slot_size)
      continue;
    size_t off = (size_t)(a - sl->base);
    const struct corun__stack *s = &sl->desc[off / sl->slot_size];
    if (off % sl->slot_size < CORUN__STACK_GUARD_BYTES && s->in_use &&
        s->guard != CORUN__GUARD_CANARY)
      return s;
    return NULL;
  }
  return NULL;
}

void corun__stack_get_stats(struct corun__stack_stats *out) {
  out->slabs = atomic_load_explicit(&g.n_slabs, memory_order_relaxed);
  out->slots = atomic_load_explicit(&g.n_slots, memory_order_relaxed);
  out->madvise = atomic_load_explicit(&g.n_madvise, memory_order_relaxed);
  out->mprotect_guards =
      atomic_load_explicit(&g.n_mprotect, memory_order_relaxed);
  pthread_mutex_lock(&g.lock);
  out->guard = g.mode;
  pthread_mutex_unlock(&g.lock);
}
