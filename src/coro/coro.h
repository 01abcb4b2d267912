/* coro.h: the coroutine object and the per-thread chain of coroutines.
 * Layer: coro (uses base, arch, stack). Internal: included by coro.c, by
 * later layers (sched) and by tests; users see only include/corun.h.
 *
 * Invariants:
 *  - On each thread exactly one coroutine is CORUN_RUNNING: t->current
 *    (t->root when the thread runs on its own stack).
 *  - Following `resumer` from t->current reaches t->root through coroutines
 *    that are all CORUN_NORMAL; their `thread` is t.
 *  - A CORUN_SUSPENDED coroutine has resumer == NULL, thread == NULL, and a
 *    valid ctx (the stack pointer its last jump saved).
 *  - A coroutine's struct lives at the top of its own stack, so create is
 *    one pool pop and no malloc.
 *
 * Locking: none. A coroutine is touched only by the thread whose chain it is
 * on; handing a suspended one to another thread is the caller's business.
 * TLS: the thread state is read once at the start of each operation, before
 * the switch. Code that runs after a switch on the suspended side (yield,
 * transfer, the end of a body) may be on another thread and re-reads it
 * through thread_fresh() (coro.c), which the compiler cannot cache. */
#ifndef CORUN_CORO_CORO_H
#define CORUN_CORO_CORO_H

#include <stdint.h>

#include "arch/ctx.h"
#include "base/compiler.h"
#include "corun.h"
#include "stack/stack.h"

struct corun__thread;

/* What switching away from a coroutine must check (corun_coro.checks). */
#define CORUN__CHECK_CANARY 1    /* its stack has a canary, not a guard */
#define CORUN__CHECK_SHARED_SP 2 /* it runs on a shared stack: check sp */

struct corun_coro {
  /* Hot: every switch touches these; the first 64 bytes, one cache line
   * (a dedicated coroutine's struct is 64-byte aligned). */
  corun__ctx ctx;             /* saved context while not running */
  struct corun_coro *resumer; /* where yield goes; NULL when suspended */
  void **out;                 /* pending resume/transfer's out, or NULL */
  struct corun_shared_stack *shared; /* NULL: a dedicated stack; otherwise
                                        see shared.c */
  int status;                        /* enum corun_status */
  int err;                           /* errno while not running */
  uint8_t checks;               /* CORUN__CHECK_*: what leaving it checks */
  uint8_t closing;              /* corun_destroy is closing it */
  uint8_t started;              /* the body has begun */
  uint8_t wants_code;           /* pending call is a resume/transfer: it
                                   takes the value in *out and a result code
                                   as switch data; else (yield, not started)
                                   the value itself is the switch data */
  struct corun__thread *thread; /* chain it is on while running/normal */
  /* Cold. */
  corun_fn *fn;
  void *arg;
  struct corun__stack *stack; /* NULL for a thread's root; the shared
                                 stack's memory for a shared coroutine */
  /* Shared-stack coroutines only (shared != NULL); see shared.c. */
  char *save_buf;    /* its live stack while swapped out */
  uint32_t save_len; /* bytes in save_buf: from ctx to the stack's top */
  uint32_t save_cap; /* capacity of save_buf */
  uint64_t id;
  char name[CORUN_NAME_MAX];
#if CORUN__ASAN
  void *asan_fake;         /* ASan fake stack while switched out */
  const void *asan_bottom; /* stack bounds for ASan */
  size_t asan_size;
#endif
#if CORUN__TSAN
  void *tsan_fiber;
#endif
};

/* A shared stack (shared.c). Invariant: `occupant`'s live region (from its
 * ctx to `top`) is what the stack holds; every other coroutine created on
 * it keeps its own in its save buffer. Touched only by the thread running
 * its coroutines (one at a time, as corun.h requires). */
struct corun_shared_stack {
  struct corun__stack *stack;  /* the memory, guarded like any stack */
  char *top;                   /* 16-byte aligned top, where frames start */
  struct corun_coro *occupant; /* whose frames are on it, or NULL */
  size_t users;                /* coroutines created on it, not destroyed */
};

/* Per-thread state, allocated at the thread's first corun call. */
struct corun__thread {
  struct corun_coro root;          /* the thread's own stack */
  struct corun_coro *current;      /* the running coroutine */
  int *errno_ptr;                  /* this thread's &errno */
  struct corun__stack_cache cache; /* this thread's free stacks */
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
};

/* The calling thread's state, created if needed; NULL if out of memory. */
struct corun__thread *corun__thread_get(void);

/* shared.c: a shared-stack coroutine's object (with a small save buffer
 * inline) and its buffers. */
struct corun_coro *corun__shared_coro_alloc(struct corun_shared_stack *ss);
void corun__shared_coro_free(struct corun_coro *co);
/* Copies the occupant's live region out and `to`'s in, making `to` the
 * occupant. Runs on the copier's stack: nobody runs on the shared stack. */
void corun__shared_swap_in(struct corun_coro *to);

#endif
