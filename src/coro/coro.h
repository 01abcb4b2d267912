/* coro.h: the coroutine object and the per-thread chain of coroutines.
 * Layer: coro (uses base, arch, stack). Internal: included by coro.c, by
 * later layers (sched) and by tests; users see only include/corun.h.
 *
 * Invariants:
 *  - On each thread exactly one coroutine is CORUN_RUNNING: t->current
 *    (t->root when the thread runs on its own stack).
 *  - Following `resumer` from t->current reaches t->root through coroutines
 *    that are all CORUN_NORMAL. So the running and normal coroutines of
 *    thread t are exactly those on that chain.
 *  - A CORUN_SUSPENDED coroutine has resumer == NULL and a valid ctx (the
 *    stack pointer its last jump saved).
 *  - A dedicated coroutine's struct (and its name) lives at the top of its
 *    own stack, so create is one pool pop and no malloc. A shared-stack
 *    coroutine's is on the heap, its save buffer after it (shared.c).
 *
 * Locking: none. A coroutine is touched only by the thread whose chain it is
 * on; handing a suspended one to another thread is the caller's business.
 * TLS: the thread state is read once at the start of each operation, before
 * the switch. Code that runs after a switch on the suspended side (yield,
 * transfer, the end of a body) may be on another thread and re-reads it
 * through corun__thread_fresh() (thread.c), which the compiler cannot
 * cache. */
#ifndef CORUN_CORO_CORO_H
#define CORUN_CORO_CORO_H

#include <stdatomic.h>
#include <stdint.h>

#include "arch/ctx.h"
#include "base/compiler.h"
#include "base/lock.h"
#include "corun.h"
#include "stack/stack.h"

struct corun__thread;

/* The ASan half of the debug option CORUN_DEBUG_POISON (shared.c): while
 * nobody runs on a shared stack, the part below its occupant's frames is
 * ASan-poisoned. */
#if CORUN__ASAN && defined(CORUN_DEBUG_POISON)
#define CORUN__SHARED_POISON 1
#else
#define CORUN__SHARED_POISON 0
#endif

/* What switching away from a coroutine must check (corun_coro.checks). */
#define CORUN__CHECK_CANARY 1 /* its stack has a canary, not a guard */
#define CORUN__CHECK_SHARED                                                    \
  2 /* it runs on a shared stack (mem.shared):                                 \
       check its stack pointer */

/* The object is kept small because ten million suspended shared-stack
 * coroutines cost ten million of it: 64 bytes without sanitizers, one
 * cache line, every field of it touched by a switch or by create. What a
 * coroutine needs only once or rarely lives elsewhere: the body and its
 * argument travel in the first frame (corun__ctx_make's a and b); the
 * thread a running coroutine is on is found by walking that thread's chain
 * (only error paths ask); a name is a pointer to a copy. */
struct corun_coro {
  corun__ctx ctx;             /* saved context while not running */
  struct corun_coro *resumer; /* where yield goes; NULL when suspended */
  void **out;                 /* pending resume/transfer's out, or NULL */
  union {
    struct corun__stack *stack;        /* dedicated: its stack (NULL for a
                                          thread's root) */
    struct corun_shared_stack *shared; /* CORUN__CHECK_SHARED: see shared.c */
  } mem;
  int err;            /* errno while not running */
  uint8_t status;     /* enum corun_status */
  uint8_t checks;     /* CORUN__CHECK_*: what leaving it checks */
  uint8_t closing;    /* corun_destroy is closing it */
  uint8_t started;    /* the body has begun */
  uint8_t wants_code; /* pending call is a resume/transfer: it takes the
                         value in *out and a result code as switch data;
                         else (yield, not started) the value itself is the
                         switch data */
  uint8_t save_heap;  /* shared: the save buffer is on the heap (shared.c) */
  uint32_t save_len;  /* shared: bytes saved, from ctx to the stack's top */
  uint64_t id;
  const char *name; /* a copy of corun_attr.name, or NULL */
#if CORUN__ASAN
  void *asan_fake;         /* ASan fake stack while switched out */
  const void *asan_bottom; /* stack bounds for ASan */
  size_t asan_size;
#endif
#if CORUN__TSAN
  void *tsan_fiber;
#endif
};

/* The shared stack co runs on, or NULL for a dedicated one. */
static inline struct corun_shared_stack *
corun__coro_shared(const struct corun_coro *co) {
  return CORUN__UNLIKELY(co->checks & CORUN__CHECK_SHARED) ? co->mem.shared
                                                           : NULL;
}

/* A shared stack (shared.c). Invariant: `occupant`'s live region (from its
 * ctx to `top`) is what the stack holds; every other coroutine created on
 * it keeps its own in its save buffer. Touched only by the thread running
 * its coroutines (one at a time, as corun.h requires), except `users`,
 * which a coroutine's creation on another thread changes too (a task
 * spawned onto the stack from another worker), and the scheduler's part,
 * under its own lock. */
struct corun_shared_stack {
  struct corun__stack *stack;  /* the memory, guarded like any stack */
  char *top;                   /* 16-byte aligned top, where frames start */
  struct corun_coro *occupant; /* whose frames are on it, or NULL */
  atomic_size_t users;         /* coroutines created on it, not destroyed */
  /* The scheduler's (sched/task.c), opaque here: the worker that runs the
   * stack's tasks while it has any, their number, and the corun_main run
   * that set them (a later run starts afresh). */
  corun__lock home_lock;
  void *home;
  size_t tasks;
  unsigned long home_run;
};

/* The stack memory co runs on (a shared stack's for a shared coroutine). */
static inline struct corun__stack *
corun__coro_stack(const struct corun_coro *co) {
  struct corun_shared_stack *ss = corun__coro_shared(co);
  return ss ? ss->stack : co->mem.stack;
}

/* What a resume of co reads first on its stack: its saved context and
 * the frames above it, up to `bytes` of them. Returns their length and
 * stores their start in *at; 0 for a shared-stack coroutine, whose ctx
 * may not point at its frames. Reads co. After a switch the returns are
 * mispredicted (the return predictor holds the calls of the context
 * left) and each waits for its address from the stack: on a cold stack,
 * one cache miss after another, which corun__prefetch_span can start
 * early. */
static inline size_t corun__coro_resume_span(const struct corun_coro *co,
                                             size_t bytes, const char **at) {
  if (co->checks & CORUN__CHECK_SHARED)
    return 0;
  const char *p = (const char *)co->ctx;
  size_t n = (size_t)((const char *)co - p); /* frames are below co */
  *at = p;
  return n < bytes ? n : bytes;
}

/* Starts loading co's stack descriptor, which the stack's free at co's
 * end writes (corun_destroy): for the scheduler, when co is about to run.
 * A burst of tasks that wake and end (bench_sched sleepers) took a cache
 * miss there each; with the hint, one worker, five alternating runs:
 * 956 -> 880 ns (medians). Nothing for a shared-stack coroutine. */
static inline void corun__coro_prefetch_end(const struct corun_coro *co) {
  if (!(co->checks & CORUN__CHECK_SHARED))
    __builtin_prefetch(co->mem.stack, 1);
}

/* Starts loading the n bytes at p into the cache (a hint: prefetches do
 * not fault). Always inline: see CORUN__ALWAYS_INLINE. */
static CORUN__ALWAYS_INLINE void corun__prefetch_span(const char *p, size_t n) {
  for (size_t off = 0; off < n; off += 64)
    __builtin_prefetch(p + off);
}

/* Whether corun_yield asks the thread's yield_hook: with a switch that
 * can run code on the arriving side (ctx.h), and not under ASan, whose
 * fiber bookkeeping would see that code run on a stack it does not yet
 * know as current. */
#define CORUN__YIELD_HOOK (CORUN__CTX_HAVE_ONTOP && !CORUN__ASAN)

/* Per-thread state, allocated at the thread's first corun call. */
struct corun__thread {
  struct corun_coro root;          /* the thread's own stack */
  struct corun_coro *current;      /* the running coroutine */
  int *errno_ptr;                  /* this thread's &errno */
  void *altstack;                  /* sigaltstack we installed, or NULL */
  uint64_t next_id, id_end;        /* block of coroutine ids */
  /* The copier: a context on a small stack of its own through which a
   * switch to a shared-stack coroutine goes when another coroutine's
   * frames are on that stack (coro.c). copier.ctx is NULL until the thread
   * first runs a shared-stack coroutine. */
  struct corun_coro copier;
  struct corun_coro *copy_to; /* the coroutine the copier installs */
  void *copy_data;            /* and the switch data to hand it */
  void **copy_out;            /* where to store copy_value once its frames
                                 are back (its pending out), or NULL */
  void *copy_value;
  /* NULL, or asked at each corun_yield() of a coroutine that the root
   * resumed (where CORUN__YIELD_HOOK): a suspended
   * coroutine on a dedicated stack to go to instead of the root, which
   * takes over the root's resume as with corun_transfer, having set
   * yield_fn and yield_arg: a function that runs on its stack once the
   * yielder's context is saved; or NULL to go back to the root. The value
   * yielded then goes nowhere, and the coroutine gone to receives NULL
   * (or 0 from a resume or transfer). The scheduler's worker threads set
   * it (sched.c, yield_next), so that a task's yield goes straight to
   * the next task. (Not out-parameters: a local whose address is taken
   * keeps the compiler from tail-calling the switch.) */
  struct corun_coro *(*yield_hook)(struct corun__thread *t);
  /* Two words the hook's owner keeps (the worker's runnext and yield
   * line): the hook is asked only when one of them is set, so a yield
   * with nothing to go to costs two loads more than a plain one (asking
   * it every time took a lone yielder's round trip from 16 to 22 ns). */
  void **yield_if[2];
  void (*yield_fn)(void *);
  void *yield_arg;
  /* NULL, or asked when the body of a coroutine that the root resumed
   * returns `ret` (where CORUN__YIELD_HOOK): as yield_hook, a suspended
   * coroutine on a dedicated stack to go to instead of the root, having
   * set yield_fn and yield_arg (run on its stack once the finished
   * coroutine is left: it may destroy it); or NULL. The hook has taken
   * `ret`: the root's resume does not see this coroutine end. The
   * scheduler's worker threads set it (sched.c, finish_next): a task
   * that ends goes straight to its joiner. */
  struct corun_coro *(*finish_hook)(struct corun__thread *t, void *ret);
#if CORUN__SHARED_POISON
  /* A shared stack the last switch left with nobody running on it: the
   * side arriving poisons it (coro.c), NULL otherwise. */
  struct corun_shared_stack *vacated;
#endif
  /* This thread's free stacks (2 KiB of arrays: last, so that the fields
   * above share cache lines as they did when it was a few lists). */
  struct corun__stack_cache cache;
};

/* For the scheduler: switches from the running coroutine (not the root) to
 * `to`, suspended, which takes over its resumer, as corun_transfer does,
 * without the checks the scheduler knows true (a thread state, `to`
 * suspended, the caller not the root, the copier made if `to` is on a
 * shared stack; it panics if one is false). Returns when the caller is
 * resumed, by anything: the
 * switch's data is ignored, and the caller is left as a yield leaves it
 * (a later resume hands it data, not a code). 30 instructions where
 * corun_transfer took 50 (callgrind, bench_sched pingpong: 1,048 -> 1,003
 * a round trip). */
void corun__coro_pass(struct corun_coro *to);

/* The calling thread's state, created if needed; NULL if out of memory. */
struct corun__thread *corun__thread_get(void);

/* The calling thread's state, re-read: for code that may run on another
 * thread than the one its function started on (after a switch). Not
 * inlined, and the compiler may not reuse an earlier result. */
struct corun__thread *corun__thread_fresh(void);

/* TSan's fiber interface (coro.c and thread.c announce every switch). */
#if CORUN__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* The variable behind corun__thread_get: the thread's state, or NULL
 * before its first corun call. Read it only where nothing can switch
 * between the read and the use (a function that does not switch): a
 * compiler may keep a thread variable's address across calls
 * (llvm#47179), and a coroutine may wake on another thread. */
extern __thread struct corun__thread *corun__tls_thread
    __attribute__((tls_model("initial-exec")));

/* Bytes a copy of the name takes: at most CORUN_NAME_MAX - 1 characters
 * and the terminator. */
static inline size_t corun__name_size(const char *name) {
  size_t n = 0;
  while (name[n] && n < CORUN_NAME_MAX - 1)
    n++;
  return n + 1;
}

/* Copies `size - 1` characters of name to dst and terminates it; returns
 * dst. */
static inline const char *corun__name_copy(char *dst, const char *name,
                                           size_t size) {
  for (size_t i = 0; i + 1 < size; i++)
    dst[i] = name[i];
  dst[size - 1] = '\0';
  return dst;
}

/* shared.c: a shared-stack coroutine's object, with a small save buffer
 * inline and a copy of *name (replaced by the copy's address), mem.shared
 * and checks set. */
struct corun_coro *corun__shared_coro_alloc(struct corun_shared_stack *ss,
                                            const char **name);
/* Where co's saved stack bytes are (save_len of them). */
char *corun__shared_save_buf(struct corun_coro *co);
void corun__shared_coro_free(struct corun_coro *co);
/* Copies the occupant's live region out and `to`'s in, making `to` the
 * occupant. Runs on the copier's stack: nobody runs on the shared stack. */
void corun__shared_swap_in(struct corun_coro *to);
#if CORUN__SHARED_POISON
/* Poisons the part of ss nobody may touch while no coroutine runs on it:
 * all of it below the occupant's frames (all of it without an occupant). */
void corun__shared_poison_idle(struct corun_shared_stack *ss);
/* Undoes that before ss's resident occupant runs again. */
void corun__shared_unpoison(struct corun_shared_stack *ss);
#endif

#endif
