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

struct corun_coro {
  /* Hot: every switch touches these. */
  corun__ctx ctx;               /* saved context while not running */
  struct corun_coro *resumer;   /* where yield goes; NULL when suspended */
  void **out;                   /* pending resume/transfer's out, or NULL */
  int status;                   /* enum corun_status */
  int err;                      /* errno while not running */
  uint8_t canary;               /* stack guarded by a canary: check it */
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
  struct corun__stack *stack; /* NULL for a thread's root */
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

/* Per-thread state, allocated at the thread's first corun call. */
struct corun__thread {
  struct corun_coro root;          /* the thread's own stack */
  struct corun_coro *current;      /* the running coroutine */
  int *errno_ptr;                  /* this thread's &errno */
  struct corun__stack_cache cache; /* this thread's free stacks */
  void *altstack;                  /* sigaltstack we installed, or NULL */
  uint64_t next_id, id_end;        /* block of coroutine ids */
};

/* The calling thread's state, created if needed; NULL if out of memory. */
struct corun__thread *corun__thread_get(void);

#endif
