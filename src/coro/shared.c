/* shared.c: shared stacks (libco's copy-on-switch stacks): the stack
 * object, the coroutines' save buffers, and the copying.
 * Layer: coro (uses base, stack). Invariants: struct corun_shared_stack in
 * coro.h. The switch side (when to copy, the copier context) is in coro.c.
 *
 * A coroutine on a shared stack keeps its live stack (from its saved stack
 * pointer to the stack's top: a few hundred bytes for a coroutine suspended
 * a couple of calls deep) in a buffer of its own while another coroutine
 * uses the stack. Small buffers live inline, at the end of the coroutine's
 * object, so such a coroutine is one allocation. Larger ones are on the
 * heap, grown geometrically and shrunk when four times too big.
 *
 * The copying runs on the thread's copier stack (coro.c), never on the
 * shared stack itself. So it may overwrite any part of the shared stack,
 * even when the coroutine being copied out is the one that asked for the
 * switch.
 *
 * Locking: none; a shared stack and its coroutines are used by one thread
 * at a time (corun.h). */
#include <errno.h>
#include <string.h>

#include "base/alloc.h"
#include "base/panic.h"
#include "coro/coro.h"

#if CORUN__ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef CORUN_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

/* Bytes of save buffer allocated with the coroutine object: enough for a
 * coroutine suspended after a small call (the live stack of
 * bench/memory.c's body, measured: 96 bytes on x86-64, 240 on AArch64).
 * Every coroutine pays for it, so it is no bigger: on x86-64, 104 makes
 * object + buffer + glibc's 8-byte chunk header exactly 176, a multiple
 * of its 16-byte granule. A coroutine whose live stack is larger keeps it
 * in a heap buffer instead (fit_buffer). */
#if defined(__x86_64__)
#define INLINE_SAVE 104
#else
#define INLINE_SAVE (CORUN__CTX_FRAME_BYTES + 64)
#endif

/* While co->save_heap, the inline area holds where the heap buffer is. */
struct heap_save {
  char *buf;
  size_t cap;
};
_Static_assert(sizeof(struct heap_save) <= INLINE_SAVE,
               "the inline area must hold a heap buffer's description");

static char *inline_buf(struct corun_coro *co) {
  return (char *)(co + 1);
}

static struct heap_save *heap_save(struct corun_coro *co) {
  return (struct heap_save *)(void *)inline_buf(co);
}

char *corun__shared_save_buf(struct corun_coro *co) {
  return co->save_heap ? heap_save(co)->buf : inline_buf(co);
}

static size_t save_cap(struct corun_coro *co) {
  return co->save_heap ? heap_save(co)->cap : INLINE_SAVE;
}

int corun_shared_stack_create(corun_shared_stack **out, size_t size) {
  if (!out || (size && size < CORUN_STACK_MIN))
    return -EINVAL;
#ifdef CORUN_CONTEXT_UCONTEXT
  return -ENOTSUP; /* ucontext frames hold absolute stack addresses */
#else
  if (!size)
    size = CORUN_STACK_DEFAULT;
  if (size > ((size_t)1 << 40))
    return -ENOMEM;
  struct corun__thread *t = corun__thread_get();
  if (!t)
    return -ENOMEM;
  struct corun_shared_stack *ss = corun__malloc(sizeof *ss);
  if (!ss)
    return -ENOMEM;
  ss->stack = corun__stack_alloc(&t->cache, size);
  if (!ss->stack) {
    corun__free(ss);
    return -ENOMEM;
  }
  corun__stack_set_owner(ss->stack, 0, "(shared stack, no coroutine yet)");
  ss->top = (char *)((uintptr_t)ss->stack->hi & ~(uintptr_t)15);
  ss->occupant = NULL;
  atomic_init(&ss->users, 0);
  corun__lock_init(&ss->home_lock);
  ss->home = NULL;
  ss->tasks = 0;
  ss->home_run = 0;
  *out = ss;
  return 0;
#endif
}

int corun_shared_stack_destroy(corun_shared_stack *ss) {
  if (!ss)
    return -EINVAL;
  if (atomic_load(&ss->users))
    return -EBUSY;
  struct corun__thread *t = corun__thread_get();
  if (!t)
    return -ENOMEM;
  corun__stack_free(&t->cache, ss->stack);
  corun__free(ss);
  return 0;
}

struct corun_coro *corun__shared_coro_alloc(struct corun_shared_stack *ss,
                                            const char **name) {
  size_t name_size = *name ? corun__name_size(*name) : 0;
  struct corun_coro *co = corun__malloc(sizeof *co + INLINE_SAVE + name_size);
  if (!co)
    return NULL;
  if (name_size)
    *name = corun__name_copy(inline_buf(co) + INLINE_SAVE, *name, name_size);
  co->mem.shared = ss;
  co->checks = CORUN__CHECK_SHARED;
  co->save_heap = 0;
  co->save_len = 0;
  atomic_fetch_add_explicit(&ss->users, 1, memory_order_relaxed);
  return co;
}

void corun__shared_coro_free(struct corun_coro *co) {
  struct corun_shared_stack *ss = co->mem.shared;
  if (ss->occupant == co)
    ss->occupant = NULL; /* its frames there are abandoned */
  if (co->save_heap)
    corun__free(heap_save(co)->buf);
  atomic_fetch_sub_explicit(&ss->users, 1, memory_order_relaxed);
  corun__free(co);
}

/* Copies stack bytes. Under ASan, a live stack holds redzones and reading
 * them here is how the frames are kept, not a bug: an uninstrumented loop
 * (memcpy is intercepted and checked). Otherwise memcpy. */
#if CORUN__ASAN
__attribute__((no_sanitize_address)) static void
copy_raw(char *dst, const char *src, size_t n) {
  for (size_t i = 0; i < n; i++)
    dst[i] = src[i];
}
#else
static void copy_raw(char *dst, const char *src, size_t n) {
  memcpy(dst, src, n);
}
#endif

/* Makes co's buffer hold `len` bytes: grow geometrically, shrink when it is
 * four times too big, and go back inline when that is enough. */
static void fit_buffer(struct corun_coro *co, size_t len) {
  size_t cap = save_cap(co);
  size_t want = cap;
  if (len > cap)
    want = cap * 2 > len ? cap * 2 : len;
  else if (co->save_heap && cap > 4 * len)
    want = len * 2 > INLINE_SAVE ? len * 2 : INLINE_SAVE;
  if (want == cap)
    return;
  char *old = co->save_heap ? heap_save(co)->buf : NULL;
  if (want <= INLINE_SAVE) {
    co->save_heap = 0;
  } else {
    char *buf = corun__malloc(want);
    if (!buf) /* a switch cannot fail and the frames must go somewhere */
      corun__panic("out of memory saving a coroutine's shared stack");
    heap_save(co)->buf = buf;
    heap_save(co)->cap = want;
    co->save_heap = 1;
  }
  corun__free(old); /* nothing in it is kept: it is refilled next */
}

/* The bottom bytes of a shared stack that the poisoning below leaves
 * alone: a canary stack keeps its canary there (stack.c). */
#define BOTTOM_KEEP 64

void corun__shared_swap_in(struct corun_coro *to) {
  struct corun_shared_stack *ss = to->mem.shared;
  struct corun_coro *occ = ss->occupant;
  if (occ && occ != to) { /* save the occupant's live region */
    size_t len = (size_t)(ss->top - (char *)occ->ctx);
    fit_buffer(occ, len);
    copy_raw(corun__shared_save_buf(occ), occ->ctx, len);
    occ->save_len = (uint32_t)len;
  }
  char *at = ss->top - to->save_len;
  char *keep = ss->stack->lo + BOTTOM_KEEP;
#if CORUN__ASAN
  /* The previous occupant's redzones are stale here: clear them; the
   * restored frames then go unchecked, never wrongly reported. */
  ASAN_UNPOISON_MEMORY_REGION(ss->stack->lo,
                              (size_t)(ss->top - (char *)ss->stack->lo));
#endif
#ifdef CORUN_HAVE_VALGRIND
  /* Memcheck counts the shared stack below the last stack pointer it saw
   * there as unaddressable: make the region being restored writable (the
   * copy then carries the saved bytes' definedness over). */
  int hooks = atomic_load_explicit(&corun__stack_hooks, memory_order_relaxed);
  if (hooks)
    VALGRIND_MAKE_MEM_UNDEFINED(at, to->save_len);
#endif
  copy_raw(at, corun__shared_save_buf(to), to->save_len);
#ifdef CORUN_DEBUG_POISON
  /* Below the new occupant's frames lie what is left of the swapped-out
   * coroutines' deeper frames: a stray pointer kept into them must not
   * read plausible data, so the region is filled with 0xdb. */
  memset(keep, 0xdb, (size_t)(at - keep));
#endif
#ifdef CORUN_HAVE_VALGRIND
  /* And for memcheck that region is unaddressable, in every build: a
   * stray pointer into it is reported. It becomes addressable again as
   * the occupant's stack grows into it (memcheck follows the stack
   * pointer, as on any stack). */
  if (hooks)
    VALGRIND_MAKE_MEM_NOACCESS(keep, (size_t)(at - keep));
#endif
  (void)keep;
  ss->occupant = to;
  corun__stack_set_owner(ss->stack, to->id, to->name);
}

#if CORUN__SHARED_POISON
/* ASan cannot be told about the region below a *running* occupant's
 * frames: ASan's function prologues poison only their redzones and take
 * the shadow of the rest of a new frame to be clean, so the occupant's own
 * next calls would be reported. So the region is poisoned only while no
 * coroutine runs on the stack, which is when a stray pointer held by
 * someone else (the resumer, a coroutine on another stack) gets used. */
void corun__shared_poison_idle(struct corun_shared_stack *ss) {
  char *keep = ss->stack->lo + BOTTOM_KEEP;
  char *end = ss->occupant ? (char *)ss->occupant->ctx : ss->top;
  ASAN_POISON_MEMORY_REGION(keep, (size_t)(end - keep));
}

void corun__shared_unpoison(struct corun_shared_stack *ss) {
  char *keep = ss->stack->lo + BOTTOM_KEEP;
  ASAN_UNPOISON_MEMORY_REGION(keep, (size_t)(ss->top - keep));
}
#endif

/* ---- pools: N shared stacks, handed out round-robin ------------------- */

struct corun_shared_pool {
  size_t count;                 /* stacks in `stacks` */
  size_t next;                  /* index corun_shared_pool_next returns */
  corun_shared_stack *stacks[]; /* count of them */
};

int corun_shared_pool_create(corun_shared_pool **out, size_t count,
                             size_t size) {
  if (!out || !count || (size && size < CORUN_STACK_MIN))
    return -EINVAL;
  if (count > ((size_t)1 << 20))
    return -ENOMEM;
  corun_shared_pool *p =
      corun__malloc(sizeof *p + count * sizeof(corun_shared_stack *));
  if (!p)
    return -ENOMEM;
  p->count = count;
  p->next = 0;
  for (size_t i = 0; i < count; i++) {
    int rc = corun_shared_stack_create(&p->stacks[i], size);
    if (rc < 0) {
      while (i--)
        corun_shared_stack_destroy(p->stacks[i]);
      corun__free(p);
      return rc;
    }
  }
  *out = p;
  return 0;
}

corun_shared_stack *corun_shared_pool_next(corun_shared_pool *p) {
  if (!p)
    return NULL;
  corun_shared_stack *ss = p->stacks[p->next];
  p->next = p->next + 1 == p->count ? 0 : p->next + 1;
  return ss;
}

int corun_shared_pool_destroy(corun_shared_pool *p) {
  if (!p)
    return -EINVAL;
  for (size_t i = 0; i < p->count; i++)
    if (p->stacks[i]->users)
      return -EBUSY;
  if (!corun__thread_get()) /* the stacks go to this thread's cache */
    return -ENOMEM;
  for (size_t i = 0; i < p->count; i++)
    corun_shared_stack_destroy(p->stacks[i]); /* cannot fail now */
  corun__free(p);
  return 0;
}
