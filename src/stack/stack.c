/* stack.c: dedicated coroutine stacks: slabs, guards and pools.
 * Layer: stack (uses base).
 *
 * Design. vm.max_map_count (65530 by default) caps a process at ~32 K stacks
 * when each stack is its own mapping with an mprotect'ed guard (two VMAs
 * each; state-threads, brpc and rethinkdb all hit this wall). So:
 *  - stacks are carved from slabs: one mapping holds many slots, each
 *    [guard | stack]; the slab's first pages hold the descriptors, so an
 *    overflow never tramples them and the signal handler can read them;
 *  - guards are installed with MADV_GUARD_INSTALL where the kernel has it
 *    (6.13+), which adds no VMA; otherwise with mprotect up to a budget of
 *    half of what is left under vm.max_map_count; past that, stacks get a
 *    canary checked at every switch, and corun says so once on stderr;
 *  - memory is committed lazily (MAP_NORESERVE, MADV_NOHUGEPAGE so THP does
 *    not turn a 4 KiB touch into 2 MiB).
 * Pools: each thread keeps a LIFO of free stacks per size class
 * (struct corun__stack_cache), so create/destroy in the steady state is an
 * array push/pop with no system call and no lock. Caches refill from and
 * spill to a global pool in batches. The free lists, the threads' and the
 * global ones, are arrays of pointers, not lists linked through the
 * descriptors: with 100,000 sleeping tasks every descriptor is cold when
 * its stack comes back, and a linked list made each batch a chain of 32
 * dependent cache misses (walked once to spill it, once to refill from
 * it). Now only the allocation and the free of a stack read its
 * descriptor (measured: docs/design.md, "Pools"). The pages of a stack
 * nobody has wanted for DECAY_NS to 2 * DECAY_NS go back to the kernel
 * with MADV_DONTNEED (guards survive it), sorted so that neighbours go in
 * one call; DIRTY_CAP per class stay committed. So a burst of short-lived
 * coroutines is followed by another without a page fault per stack, and
 * the memory of a burst that does not come back is returned (as
 * jemalloc's dirty-page decay and Go's scavenger do). Slabs are never
 * unmapped.
 *
 * Locking: g.lock protects the global classes and slab creation. The slab
 * registry (g.slabs) is a list published with release stores and read with
 * acquire loads by the SIGSEGV handler, which takes no lock. Stats are
 * relaxed atomics. */
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
#include "base/clock.h"
#include "base/compiler.h"
#include "base/panic.h"
#include "base/valgrind.h"

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

#define GUARD_BYTES ((size_t)16 * 1024) /* 4 pages: frames up to 16 KiB */
#define SLAB_BYTES ((size_t)4 << 20)    /* aim for 4 MiB per slab */
#define SLAB_MIN_SLOTS 8
#define SLAB_MAX_SLOTS 1024
#define CACHE_MAX CORUN__STACK_CACHE_MAX
#define REFILL_BATCH 32
#define DIRTY_CAP 256 /* free stacks per global class kept committed */
#define DECAY_NS ((int64_t)1000000000) /* see corun__stack_scavenge */
#define CANARY_WORDS 4
#define CANARY_SEED 0x636f72756e21c0deULL

struct corun__slab {
  struct corun__slab *next; /* registry link, immutable once published */
  char *base;               /* first slot */
  size_t slot_size;         /* guard + stack */
  size_t stack_size;
  unsigned nslots;
  struct corun__stack desc[]; /* nslots descriptors */
};

/* Free stacks of a global class: an array taken from and added to at its
 * end (LIFO). */
struct svec {
  struct corun__stack **v;
  size_t n;
};

/* A global size class. Free stacks are in three lists, taken in this
 * order (LIFO within each): `young`, spilled since the last aging; `old`,
 * spilled before it; `clean`, pages given back or never touched. Aging
 * (scavenge_class) releases `old` and makes `young` old, so a stack's
 * pages go back DECAY_NS to 2 * DECAY_NS after its spill unless reused.
 * Each list has room for every stack of the class (`room` >= `nstacks`,
 * grown before a slab is mapped for it), so adding to one never fails. */
struct gclass {
  struct gclass *next;
  size_t size; /* usable stack size */
  size_t nstacks; /* stacks the class has (slabs mapped for it) */
  size_t room;    /* how many stacks each list can hold */
  struct svec young, old, clean;
  int64_t aged_at; /* corun__clock_ns() of the last aging */
};

static struct {
  pthread_mutex_t lock;
  struct gclass *classes;            /* lock */
  struct corun__slab *_Atomic slabs; /* registry; see header comment */
  int mode;             /* enum corun__guard for new guards; lock */
  int forced;           /* mode came from CORUN_STACK_GUARD */
  int madvise_verified; /* a madvise guard was seen to fault; lock */
  long mprotect_budget; /* guards mprotect may still make; lock */
  _Atomic uint64_t n_slabs, n_slots, n_madvise, n_mprotect;
  /* When corun__stack_scavenge has work next (-1: none); set under lock,
   * read without it. */
  _Atomic int64_t due;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .due = -1};

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
  char *guard = s->lo - GUARD_BYTES;
#ifdef CORUN_HAVE_VALGRIND
  /* Memcheck does not know MADV_GUARD_INSTALL: without this its leak scan
   * at exit reads every guard page, taking a SIGSEGV on each (seconds per
   * thousand stacks). */
  if (hooks())
    VALGRIND_MAKE_MEM_NOACCESS(guard, GUARD_BYTES);
#endif
  if (g.mode == CORUN__GUARD_MADVISE) {
    count(&g.n_madvise, 1);
    if (madvise(guard, GUARD_BYTES, MADV_GUARD_INSTALL) == 0 &&
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
      if (mprotect(guard, GUARD_BYTES, PROT_NONE) == 0) {
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

/* Maps a new slab for stacks of `size` usable bytes and publishes it.
 * Under g.lock (slab creation is rare: one per SLAB_BYTES of stacks). */
static size_t slab_slots(size_t size) {
  size_t n = SLAB_BYTES / (GUARD_BYTES + size);
  if (n < SLAB_MIN_SLOTS)
    n = SLAB_MIN_SLOTS;
  if (n > SLAB_MAX_SLOTS)
    n = SLAB_MAX_SLOTS;
  return n;
}

static struct corun__slab *new_slab(size_t size) {
  size_t slot = GUARD_BYTES + size;
  size_t n = slab_slots(size);
  size_t meta =
      round_up(sizeof(struct corun__slab) + n * sizeof(struct corun__stack),
               page_size());
  size_t bytes = meta + n * slot;
  char *p = corun__map(bytes);
  if (!p)
    return NULL;
  count(&g.n_slabs, 1);
  count(&g.n_madvise, 1);
  (void)madvise(p, bytes, MADV_NOHUGEPAGE); /* advisory; may be absent */
  choose_mode();
  if (g.mode != CORUN__GUARD_CANARY)
    corun__stack_install_handler();
  struct corun__slab *sl = (struct corun__slab *)p;
  sl->base = p + meta;
  sl->slot_size = slot;
  sl->stack_size = size;
  sl->nslots = (unsigned)n;
  for (size_t i = 0; i < n; i++) {
    struct corun__stack *s = &sl->desc[i];
    s->lo = sl->base + i * slot + GUARD_BYTES;
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

/* Under g.lock. */
static struct gclass *gclass_get(size_t size) {
  for (struct gclass *k = g.classes; k; k = k->next)
    if (k->size == size)
      return k;
  struct gclass *k = corun__malloc(sizeof *k);
  if (!k)
    return NULL;
  k->size = size;
  k->nstacks = k->room = 0;
  k->young = k->old = k->clean = (struct svec){NULL, 0};
  k->aged_at = corun__clock_ns();
  k->next = g.classes;
  g.classes = k;
  return k;
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

static int by_address(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)(*(struct corun__stack *const *)a)->lo;
  uintptr_t y = (uintptr_t)(*(struct corun__stack *const *)b)->lo;
  return x < y ? -1 : x > y;
}

/* Appends the n stacks of v to list l (which has room: see gclass). */
static void svec_add(struct svec *l, struct corun__stack *const *v, size_t n) {
  memcpy(l->v + l->n, v, n * sizeof *v);
  l->n += n;
}

/* Under g.lock: makes room in each list of k for `more` stacks besides
 * the class's own, doubling it at least (a slab may hold a dozen stacks:
 * growing by one slab at a time reallocated the lists at every slab).
 * Returns 0 or -ENOMEM (k unchanged). */
static int grow_class(struct gclass *k, size_t more) {
  if (k->nstacks + more <= k->room)
    return 0;
  size_t cap = 2 * k->room > k->nstacks + more ? 2 * k->room
                                               : k->nstacks + more;
  struct svec *l[3] = {&k->young, &k->old, &k->clean};
  struct corun__stack **v[3];
  for (int i = 0; i < 3; i++) {
    v[i] = corun__malloc(cap * sizeof *v[i]);
    if (!v[i]) {
      while (i-- > 0)
        corun__free(v[i]);
      return -ENOMEM;
    }
  }
  for (int i = 0; i < 3; i++) {
    if (l[i]->n)
      memcpy(v[i], l[i]->v, l[i]->n * sizeof *v[i]);
    corun__free(l[i]->v);
    l[i]->v = v[i];
  }
  k->room = cap;
  return 0;
}

/* Gives the pages of the n stacks in v (of class `size`) back to the
 * kernel, one madvise per run of neighbouring slots; sorts v by address
 * for that. Each madvise(MADV_DONTNEED) flushes the TLB of every CPU
 * running the process: with two workers, one call per stack made 100,000
 * short-lived tasks spend half their time in those flushes
 * (inter-processor interrupts, costly in a VM). A run includes the guards
 * between its stacks; guards survive MADV_DONTNEED (both kinds: guard
 * markers and PROT_NONE pages). */
static void release_pages(size_t size, struct corun__stack **v, size_t n) {
  qsort(v, n, sizeof *v, by_address);
  size_t slot = GUARD_BYTES + size;
  for (size_t a = 0, b; a < n; a = b) {
    for (b = a + 1; b < n && v[b]->lo == v[b - 1]->lo + slot; b++)
      ;
    count(&g.n_madvise, 1);
    (void)madvise(v[a]->lo, (size_t)(v[b - 1]->lo - v[a]->lo) + size,
                  MADV_DONTNEED);
  }
}

/* Under g.lock, at time now: ages class k if DECAY_NS has passed since its
 * last aging. Returns the stacks whose pages the caller must give back
 * (release_class, outside the lock), in an array of its own, and their
 * number in *n; NULL if none. At least DIRTY_CAP committed stacks stay. */
static struct corun__stack **scavenge_class(struct gclass *k, int64_t now,
                                            size_t *n) {
  *n = 0;
  if (now - k->aged_at < DECAY_NS)
    return NULL;
  k->aged_at = now;
  /* Keep the DIRTY_CAP - nyoung most recent of old (its end) committed;
   * give back the others (its start). */
  size_t keep = k->young.n >= DIRTY_CAP ? 0 : DIRTY_CAP - k->young.n;
  if (keep > k->old.n)
    keep = k->old.n;
  size_t nrelease = k->old.n - keep;
  struct corun__stack **release = NULL;
  if (nrelease) {
    release = corun__malloc(nrelease * sizeof *release);
    if (release) {
      memcpy(release, k->old.v, nrelease * sizeof *release);
    } else {
      /* No memory for a list to release outside the lock: give them back
       * here (rare: a process short of memory, which is when giving pages
       * back matters). */
      release_pages(k->size, k->old.v, nrelease);
      svec_add(&k->clean, k->old.v, nrelease);
    }
    memmove(k->old.v, k->old.v + nrelease, keep * sizeof *k->old.v);
    k->old.n = keep;
    if (!release)
      nrelease = 0;
  }
  /* young becomes old, taken before what is kept of old */
  svec_add(&k->old, k->young.v, k->young.n);
  k->young.n = 0;
  *n = nrelease;
  return release;
}

/* Under g.lock: sets and returns g.due, the time of the next aging that
 * can release something (a class with more than DIRTY_CAP committed free
 * stacks), or -1. */
static int64_t update_due(void) {
  int64_t due = -1;
  for (struct gclass *c = g.classes; c; c = c->next)
    if (c->young.n + c->old.n > DIRTY_CAP &&
        (due < 0 || c->aged_at + DECAY_NS < due))
      due = c->aged_at + DECAY_NS;
  atomic_store_explicit(&g.due, due, memory_order_relaxed);
  return due;
}

/* Gives back the pages of `release` (n stacks of class k, an array
 * scavenge_class made) and files them as clean. Takes g.lock itself; call
 * without it. */
static void release_class(struct gclass *k, struct corun__stack **release,
                          size_t n) {
  if (!release)
    return;
  release_pages(k->size, release, n);
  pthread_mutex_lock(&g.lock);
  svec_add(&k->clean, release, n);
  pthread_mutex_unlock(&g.lock);
  corun__free(release);
}

/* Gives the n stacks of v back to the global class `size`. */
static void spill(size_t size, struct corun__stack *const *v, size_t n) {
  if (!n)
    return;
  pthread_mutex_lock(&g.lock);
  struct gclass *k = gclass_get(size);
  if (!k) { /* no memory even for 48 bytes: the stacks stay mapped, unused */
    pthread_mutex_unlock(&g.lock);
    return;
  }
  svec_add(&k->young, v, n);
  size_t nrelease;
  struct corun__stack **release =
      scavenge_class(k, corun__clock_ns(), &nrelease);
  update_due();
  pthread_mutex_unlock(&g.lock);
  release_class(k, release, nrelease);
}

int64_t corun__stack_scavenge(int64_t now) {
  int64_t due = atomic_load_explicit(&g.due, memory_order_relaxed);
  if (due < 0 || now < due)
    return due;
  for (;;) { /* one class per pass: releasing drops the lock */
    struct gclass *k;
    struct corun__stack **release = NULL;
    size_t nrelease = 0;
    pthread_mutex_lock(&g.lock);
    for (k = g.classes; k; k = k->next)
      if ((release = scavenge_class(k, now, &nrelease)) != NULL)
        break;
    due = update_due();
    pthread_mutex_unlock(&g.lock);
    if (!release)
      return due;
    release_class(k, release, nrelease);
  }
}

/* Finds or makes the cache slot for `size`, evicting the fullest other
 * class if all slots are taken. */
static int cache_class(struct corun__stack_cache *c, size_t size) {
  int empty = -1, victim = 0;
  for (int i = 0; i < CORUN__STACK_CACHE_CLASSES; i++) {
    if (c->cls[i].size == size)
      return i;
    if (!c->cls[i].size && empty < 0)
      empty = i;
    if (c->cls[i].count > c->cls[victim].count)
      victim = i;
  }
  if (empty < 0) {
    empty = victim;
    spill(c->cls[victim].size, c->cls[victim].v, c->cls[victim].count);
  }
  c->cls[empty].size = size;
  c->cls[empty].count = 0;
  return empty;
}

/* Moves up to REFILL_BATCH stacks from the global class into cache slot i,
 * mapping a new slab if the class is empty. Returns 0 or -ENOMEM. */
static int refill(struct corun__stack_cache *c, int i) {
  size_t size = c->cls[i].size;
  int rc = 0;
  pthread_mutex_lock(&g.lock);
  struct gclass *k = gclass_get(size);
  if (!k) {
    rc = -ENOMEM;
    goto out;
  }
  if (!k->young.n && !k->old.n && !k->clean.n) {
    struct corun__slab *sl = NULL;
    size_t n = slab_slots(size);
    if (grow_class(k, n) < 0) {
      rc = -ENOMEM;
      goto out;
    }
    if (!(sl = new_slab(size))) {
      rc = -ENOMEM;
      goto out;
    }
    k->nstacks += n;
    /* The first slot on top: taken first, in address order. */
    for (size_t j = n; j-- > 0;)
      k->clean.v[k->clean.n++] = &sl->desc[j];
  }
  /* Committed stacks first (no page faults), the most recent first: the
   * cache takes from its end, so they go in last. */
  struct svec *from[3] = {&k->clean, &k->old, &k->young};
  size_t take[3], want = REFILL_BATCH;
  for (int l = 2; l >= 0; l--) {
    take[l] = from[l]->n < want ? from[l]->n : want;
    want -= take[l];
  }
  for (int l = 0; l < 3; l++) {
    from[l]->n -= take[l];
    memcpy(c->cls[i].v + c->cls[i].count, from[l]->v + from[l]->n,
           take[l] * sizeof(struct corun__stack *));
    c->cls[i].count += (unsigned)take[l];
  }
out:
  pthread_mutex_unlock(&g.lock);
  return rc;
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

/* Moves the cache class for `size` to slot 0, where the fast paths look
 * (and the slow paths then work). */
static void make_hot(struct corun__stack_cache *c, size_t size) {
  if (!c->cls[0].v) /* a new cache: each class gets an array for good */
    for (int k = 0; k < CORUN__STACK_CACHE_CLASSES; k++)
      c->cls[k].v = c->store[k];
  int i = 0;
  while (i < CORUN__STACK_CACHE_CLASSES && c->cls[i].size != size)
    i++;
  if (i == CORUN__STACK_CACHE_CLASSES)
    i = cache_class(c, size);
  if (i != 0) {
    __typeof__(c->cls[0]) tmp = c->cls[0];
    c->cls[0] = c->cls[i];
    c->cls[i] = tmp;
  }
}

/* The slow paths make system calls (mmap, madvise, mprotect, the guard
 * probe) that may set errno; the native API leaves errno alone
 * (DESIGN.md), so they put it back. */
static struct corun__stack *alloc_slow(struct corun__stack_cache *c,
                                       size_t size) {
  if (!atomic_load_explicit(&corun__stack_page_mask,
                            memory_order_relaxed)) /* first stack ever */
    init_once();
  /* Rounded here too: the inline path may have read the mask as 0 just
   * before another thread's first allocation set it. */
  size = round_up(size, page_size());
  make_hot(c, size);
  if (!c->cls[0].count && refill(c, 0) < 0)
    return NULL;
  struct corun__stack *s = c->cls[0].v[--c->cls[0].count];
  s->in_use = 1;
  corun__stack_hooks_alloc(s);
  return s;
}

struct corun__stack *corun__stack_alloc_slow(struct corun__stack_cache *c,
                                             size_t size) {
  int saved = errno;
  struct corun__stack *s = alloc_slow(c, size);
  errno = saved;
  return s;
}

void corun__stack_free_slow(struct corun__stack_cache *c,
                            struct corun__stack *s) {
  int saved = errno; /* spill() may madvise: see alloc_slow */
  size_t size = (size_t)(s->hi - s->lo);
  make_hot(c, size);
  struct corun__stack **v = c->cls[0].v;
  if (c->cls[0].count == CACHE_MAX) {
    /* Spill the older half (the start): keep the hot (recently used)
     * stacks here. */
    spill(size, v, CACHE_MAX / 2);
    memmove(v, v + CACHE_MAX / 2, (CACHE_MAX - CACHE_MAX / 2) * sizeof *v);
    c->cls[0].count = CACHE_MAX - CACHE_MAX / 2;
  }
  v[c->cls[0].count++] = s;
  errno = saved;
}

void corun__stack_cache_flush(struct corun__stack_cache *c) {
  for (int i = 0; i < CORUN__STACK_CACHE_CLASSES; i++) {
    if (c->cls[i].size)
      spill(c->cls[i].size, c->cls[i].v, c->cls[i].count);
    c->cls[i].size = 0;
    c->cls[i].count = 0;
  }
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
    if (off % sl->slot_size < GUARD_BYTES && s->in_use &&
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
