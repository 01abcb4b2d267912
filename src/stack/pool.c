/* pool.c: the pools of free dedicated stacks: each thread's cache and
 * the global classes, and the decay of unused stacks' pages.
 * Layer: stack (uses base; slabs come from stack.c through slab.h).
 *
 * Each thread keeps a LIFO of free stacks per size class
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
 * jemalloc's dirty-page decay and Go's scavenger do).
 *
 * Locking: P.lock protects the global classes; a refill maps a slab
 * (corun__slab_new, which takes the slabs' lock) with P.lock released.
 * A thread's cache is touched only by its thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "stack/slab.h"
#include "stack/stack.h"

#define CACHE_MAX CORUN__STACK_CACHE_MAX
#define REFILL_BATCH 32
#define DIRTY_CAP 256 /* free stacks per global class kept committed */
#define DECAY_NS ((int64_t)1000000000) /* see corun__stack_scavenge */
/* Stacks whose pages one call gives back, at most: a bound on the pause
 * of the thread that does it. Giving back the 52,416 stacks that 100,000
 * sleeping tasks had left took 36 ms in one go (28 ms in madvise, 7 ms
 * sorting), and the worker doing it, about to sleep, ran nothing
 * meanwhile: a 100 us sleep on it woke 35 ms late. 256 neighbours (about
 * 18 madvise calls: a slab of 256 KiB stacks holds 15) take under 0.3 ms,
 * apart from the odd call that the kernel holds up for about 4 ms, as
 * often with 1,024. */
#define RELEASE_CHUNK 256
/* How long a spill goes on giving back chunks (see spill). */
#define SPILL_RELEASE_NS ((int64_t)1000000)

/* Free stacks of a global class: an array taken from and added to at its
 * end (LIFO). */
struct svec {
  struct corun__stack **v;
  size_t n;
};

/* A global size class. Free stacks are in three lists, taken in this
 * order (LIFO within each): `young`, spilled since the last aging; `old`,
 * spilled before it; `clean`, pages given back or never touched. Aging
 * (age_class) dooms `old` and makes `young` old, so a stack's
 * pages go back DECAY_NS to 2 * DECAY_NS after its spill unless reused.
 * The doomed stacks are the first `doomed` of old, sorted by address
 * (aging sorts them; taking a chunk from their end or refilling from
 * old's end leaves the rest in order): they go back RELEASE_CHUNK
 * neighbours at a time, one chunk per scavenge, and stay usable (and
 * committed) until theirs. Each list has room for every stack of the
 * class (`room` >= `nstacks`, grown before a slab is mapped for it), so
 * adding to one never fails. */
struct gclass {
  struct gclass *next;
  size_t size;    /* usable stack size */
  size_t nstacks; /* stacks the class has (slabs mapped for it) */
  size_t room;    /* how many stacks each list can hold */
  struct svec young, old, clean;
  size_t doomed;   /* old.v[0 .. doomed): pages to give back */
  int64_t aged_at; /* corun__clock_ns() of the last aging */
};

static struct {
  pthread_mutex_t lock;
  struct gclass *classes; /* lock */
  /* When corun__stack_scavenge has work next (-1: none); set under lock,
   * read without it. */
  _Atomic int64_t due;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER, .due = -1};

/* Under P.lock. */
static struct gclass *gclass_get(size_t size) {
  for (struct gclass *k = P.classes; k; k = k->next)
    if (k->size == size)
      return k;
  struct gclass *k = corun__malloc(sizeof *k);
  if (!k)
    return NULL;
  k->size = size;
  k->nstacks = k->room = 0;
  k->young = k->old = k->clean = (struct svec){NULL, 0};
  k->doomed = 0;
  k->aged_at = corun__clock_ns();
  k->next = P.classes;
  P.classes = k;
  return k;
}

/* Orders stacks by their descriptors' addresses: a slab's descriptors lie
 * together, in the order of its stacks (slab.h), so this puts each slab's
 * stacks in address order, slab by slab, which is all release_pages needs
 * to find runs of neighbours; and the sort reads no descriptor (with ->lo
 * it read two cold ones per comparison). */
static int by_address(const void *a, const void *b) {
  const struct corun__stack *x = *(struct corun__stack *const *)a;
  const struct corun__stack *y = *(struct corun__stack *const *)b;
  return (uintptr_t)x < (uintptr_t)y ? -1 : (uintptr_t)x > (uintptr_t)y;
}

/* Appends the n stacks of v to list l (which has room: see gclass). */
static void svec_add(struct svec *l, struct corun__stack *const *v, size_t n) {
  memcpy(l->v + l->n, v, n * sizeof *v);
  l->n += n;
}

/* Under P.lock: makes room in each list of k for `more` stacks besides
 * the class's own, doubling it at least (a slab may hold a dozen stacks:
 * growing by one slab at a time reallocated the lists at every slab).
 * Returns 0 or -ENOMEM (k unchanged). */
static int grow_class(struct gclass *k, size_t more) {
  if (k->nstacks + more <= k->room)
    return 0;
  size_t cap =
      2 * k->room > k->nstacks + more ? 2 * k->room : k->nstacks + more;
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

/* Gives the pages of the n stacks in v (of class `size`, sorted by
 * address: sort_by_address) back to the kernel, one madvise per run of
 * neighbouring slots. Each madvise(MADV_DONTNEED) flushes the TLB of
 * every CPU running the process: with two workers, one call per stack
 * made 100,000 short-lived tasks spend half their time in those flushes
 * (inter-processor interrupts, costly in a VM). A run includes the guards
 * between its stacks; guards survive MADV_DONTNEED (both kinds: guard
 * markers and PROT_NONE pages). */
static void release_pages(size_t size, struct corun__stack *const *v,
                          size_t n) {
  size_t slot = CORUN__STACK_GUARD_BYTES + size;
  for (size_t a = 0, b; a < n; a = b) {
    for (b = a + 1; b < n && v[b]->lo == v[b - 1]->lo + slot; b++)
      ;
    (void)corun__stack_madvise(
        v[a]->lo, (size_t)(v[b - 1]->lo - v[a]->lo) + size, MADV_DONTNEED);
  }
}

/* Sorts the n stacks of v by address, as by_address does, with a radix
 * sort (8 bits a pass, over the bits in which the descriptors' addresses
 * differ) through a scratch array; with qsort, in place, if there is no
 * memory for it. For the doomed stacks of a class, so that each chunk
 * given back is a range of neighbours, a few madvise calls (taken in
 * spill order, a chunk of 1,024 needed 230-640 calls and up to 6 ms).
 * qsort took 4-7 ms for the 52,416 stacks 100,000 finished tasks leave,
 * here under P.lock; this takes 0.5 ms. */
static void sort_by_address(struct corun__stack **v, size_t n) {
  if (n < 2)
    return;
  struct corun__stack **tmp = corun__malloc(n * sizeof *tmp);
  if (!tmp) {
    qsort(v, n, sizeof *v, by_address);
    return;
  }
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (size_t i = 0; i < n; i++) {
    uintptr_t a = (uintptr_t)v[i];
    lo = a < lo ? a : lo;
    hi = a > hi ? a : hi;
  }
  struct corun__stack **from = v, **to = tmp;
  for (unsigned shift = 0; shift < 64 && ((hi - lo) >> shift) != 0;
       shift += 8) {
    size_t count[257] = {0};
    for (size_t i = 0; i < n; i++)
      count[(((uintptr_t)from[i] - lo) >> shift & 255) + 1]++;
    for (int d = 0; d < 256; d++)
      count[d + 1] += count[d];
    for (size_t i = 0; i < n; i++)
      to[count[((uintptr_t)from[i] - lo) >> shift & 255]++] = from[i];
    struct corun__stack **t = from;
    from = to;
    to = t;
  }
  if (from != v)
    memcpy(v, from, n * sizeof *v);
  corun__free(tmp);
}

/* Under P.lock, at time now: ages class k if DECAY_NS has passed since
 * its last aging: all but the DIRTY_CAP - nyoung most recent of old are
 * doomed (and sorted by address), and young becomes old. */
static void age_class(struct gclass *k, int64_t now) {
  if (now - k->aged_at < DECAY_NS)
    return;
  k->aged_at = now;
  size_t keep = k->young.n >= DIRTY_CAP ? 0 : DIRTY_CAP - k->young.n;
  if (keep > k->old.n)
    keep = k->old.n;
  k->doomed = k->old.n - keep;
  sort_by_address(k->old.v, k->doomed);
  /* young becomes old, taken before what is kept of old */
  svec_add(&k->old, k->young.v, k->young.n);
  k->young.n = 0;
}

/* Under P.lock: takes up to RELEASE_CHUNK of k's doomed stacks out of
 * old. Returns them, in an array of their own, for the caller to give
 * back outside the lock (release_class), with their number in *n; or
 * NULL. Without memory for that array, gives them back here (rare: a
 * process short of memory, which is when giving pages back matters). */
static struct corun__stack **take_doomed(struct gclass *k, size_t *n) {
  *n = 0;
  size_t take = k->doomed < RELEASE_CHUNK ? k->doomed : RELEASE_CHUNK;
  if (!take)
    return NULL;
  /* The doomed region's last `take`; into their place go the last of
   * old (the order within old only decides which committed stack a
   * refill hands out first). */
  size_t from = k->doomed - take, after = k->old.n - k->doomed;
  size_t moved = after < take ? after : take;
  struct corun__stack **release = corun__malloc(take * sizeof *release);
  if (release) {
    memcpy(release, k->old.v + from, take * sizeof *release);
    *n = take;
  } else {
    release_pages(k->size, k->old.v + from, take);
    svec_add(&k->clean, k->old.v + from, take);
  }
  memcpy(k->old.v + from, k->old.v + k->old.n - moved,
         moved * sizeof *k->old.v);
  k->old.n -= take;
  k->doomed -= take;
  return release;
}

/* Under P.lock: sets and returns P.due, when scavenging next has work:
 * now (0) while doomed stacks remain, else the next aging that can doom
 * something (a class with more than DIRTY_CAP committed free stacks), or
 * -1. */
static int64_t update_due(void) {
  int64_t due = -1;
  for (struct gclass *c = P.classes; c; c = c->next) {
    if (c->doomed) {
      due = 0;
      break;
    }
    if (c->young.n + c->old.n > DIRTY_CAP &&
        (due < 0 || c->aged_at + DECAY_NS < due))
      due = c->aged_at + DECAY_NS;
  }
  atomic_store_explicit(&P.due, due, memory_order_relaxed);
  return due;
}

/* Gives back the pages of `release` (n stacks of class k, an array
 * take_doomed made) and files them as clean. Takes P.lock itself; call
 * without it. */
static void release_class(struct gclass *k, struct corun__stack **release,
                          size_t n) {
  if (!release)
    return;
  release_pages(k->size, release, n);
  pthread_mutex_lock(&P.lock);
  svec_add(&k->clean, release, n);
  pthread_mutex_unlock(&P.lock);
  corun__free(release);
}

/* Gives the n stacks of v back to the global class `size`. */
static void spill(size_t size, struct corun__stack *const *v, size_t n) {
  if (!n)
    return;
  pthread_mutex_lock(&P.lock);
  struct gclass *k = gclass_get(size);
  if (!k) { /* no memory even for 48 bytes: the stacks stay mapped, unused */
    pthread_mutex_unlock(&P.lock);
    return;
  }
  svec_add(&k->young, v, n);
  int64_t now = corun__clock_ns();
  age_class(k, now);
  /* Chunks until SPILL_RELEASE_NS have passed: a thread that runs
   * coroutines without a scheduler ages its classes only here, and at a
   * chunk per spill a burst's pages went back slowly under a light load
   * (one spill a second: 256 stacks a second). */
  for (;;) {
    size_t nrelease;
    struct corun__stack **release = take_doomed(k, &nrelease);
    update_due();
    pthread_mutex_unlock(&P.lock);
    release_class(k, release, nrelease);
    if (!release || corun__clock_ns() - now >= SPILL_RELEASE_NS)
      return;
    pthread_mutex_lock(&P.lock);
  }
}

int64_t corun__stack_scavenge(int64_t now) {
  int64_t due = atomic_load_explicit(&P.due, memory_order_relaxed);
  if (due < 0 || now < due)
    return due;
  /* Ages every class that is due, and gives back one chunk (of the first
   * class with doomed stacks): the caller comes back for the rest. */
  struct gclass *k, *from = NULL;
  struct corun__stack **release = NULL;
  size_t nrelease = 0;
  pthread_mutex_lock(&P.lock);
  for (k = P.classes; k; k = k->next) {
    age_class(k, now);
    if (!release && k->doomed) {
      from = k;
      release = take_doomed(k, &nrelease);
    }
  }
  due = update_due();
  pthread_mutex_unlock(&P.lock);
  release_class(from, release, nrelease);
  return due;
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

/* Under P.lock: whether class k has no free stack. */
static int class_empty(const struct gclass *k) {
  return !k->young.n && !k->old.n && !k->clean.n;
}

/* Moves up to REFILL_BATCH stacks from the global class into cache slot i,
 * mapping a new slab if the class is empty. Returns 0 or -ENOMEM. */
static int refill(struct corun__stack_cache *c, int i) {
  size_t size = c->cls[i].size;
  int rc = 0;
  pthread_mutex_lock(&P.lock);
  struct gclass *k = gclass_get(size);
  if (!k) {
    rc = -ENOMEM;
    goto out;
  }
  if (class_empty(k)) {
    struct corun__slab *sl = NULL;
    size_t n = corun__slab_slots(size);
    if (grow_class(k, n) < 0) {
      rc = -ENOMEM;
      goto out;
    }
    /* The slab is mapped without P.lock: its mmap, one guard madvise per
     * slot and the descriptors' first page faults take about 12 us for
     * 15 stacks of 256 KiB, and meanwhile every other worker's spill and
     * refill slept on P.lock in the kernel. nstacks counts the slab's
     * stacks from here (their room is made), so a refill that grows
     * the lists meanwhile leaves room for them. Another refill may map a
     * slab too, after this one (the slabs' lock); the spare stacks wait
     * in `clean`. Measured:
     * bench_sched -only sleepers -workers 2, 4 alternating runs, 763-811
     * -> 489-551 ns (docs/design.md, "Pools"). */
    k->nstacks += n;
    pthread_mutex_unlock(&P.lock);
    sl = corun__slab_new(size);
    pthread_mutex_lock(&P.lock);
    if (!sl) {
      k->nstacks -= n; /* the room made stays: harmless */
      if (class_empty(k)) {
        rc = -ENOMEM;
        goto out;
      } /* else stacks came back meanwhile: take those */
    } else {
      /* The first slot on top: taken first, in address order. */
      for (size_t j = n; j-- > 0;)
        k->clean.v[k->clean.n++] = &sl->desc[j];
    }
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
  if (k->doomed > k->old.n) /* doomed stacks taken again: they stay */
    k->doomed = k->old.n;
out:
  pthread_mutex_unlock(&P.lock);
  return rc;
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
  /* Rounded here too: the inline path may have read the page mask as 0
   * (before the first allocation) or just before another thread's first
   * allocation set it. */
  size = corun__stack_round(size);
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
