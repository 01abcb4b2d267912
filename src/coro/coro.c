/* coro.c: create, resume/yield, transfer, destroy: the coroutine object.
 * Layer: coro (uses base, arch, stack). Invariants and locking: coro.h.
 *
 * The switch protocol. Before switching, the running side does all the
 * bookkeeping for both sides on its own thread: statuses, t->current, the
 * value for the target, its own errno saved and the target's installed
 * (both through this thread's &errno, so no TLS address is used after the
 * switch), the canary check, the sanitizer announcement. Then it ends with
 * a tail call to the switch, which stores its context in its own `ctx` and
 * returns, on the target, the data handed over. So the saved resume address
 * is the user's call site and no `ret` runs between two switches (see the
 * assembly file's header for why that halves the cost of a round trip).
 *
 * What is handed over depends on what the target is suspended in
 * (wants_code): a corun_yield() (or a body not yet started) returns the
 * value itself; a corun_resume() or corun_transfer() takes the value
 * through its `out` pointer and returns a result code, 1 when control came
 * back by a yield or transfer, 0 when a body finished (route()).
 *
 * Migration: a resumer always wakes on the thread it slept on; a coroutine
 * suspended in yield or transfer may wake on another, so nothing after its
 * switch may use thread state read before it. The end of a body re-reads it
 * through corun__thread_fresh() (thread.c, which holds the thread state). */
#include "coro/coro.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "base/panic.h"

#if CORUN__ASAN
#include <sanitizer/common_interface_defs.h>
#endif

static _Atomic uint64_t next_id_block = 1;

#define ID_BLOCK 1024

/* ---- sanitizer handshake ------------------------------------------------ */

static inline void san_leave(struct corun_coro *from, struct corun_coro *to,
                             int finishing) {
#if CORUN__ASAN
  __sanitizer_start_switch_fiber(finishing ? NULL : &from->asan_fake,
                                 to->asan_bottom, to->asan_size);
#endif
#if CORUN__TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)from, (void)to, (void)finishing;
}

#if CORUN__SHARED_POISON
/* CORUN_DEBUG_POISON under ASan (shared.c): before a switch from `from` to
 * `hw` on thread t, unpoisons the shared stack of a resident occupant
 * about to run and notes a shared stack left idle, which the arriving
 * side poisons (the leaving side still runs on it). A switch through the
 * copier to another coroutine of from's own stack leaves nothing idle:
 * the copier unpoisons it whole. */
static void poison_plan(struct corun__thread *t, struct corun_coro *from,
                        struct corun_coro *hw) {
  struct corun_shared_stack *from_ss = corun__coro_shared(from);
  struct corun_shared_stack *to_ss =
      hw == &t->copier ? corun__coro_shared(t->copy_to)
                       : corun__coro_shared(hw);
  if (to_ss && hw != &t->copier)
    corun__shared_unpoison(to_ss);
  if (from_ss && from_ss != to_ss)
    t->vacated = from_ss;
}

/* The arriving side's half: poisons the stack poison_plan noted. */
static void poison_vacated(void) {
  struct corun__thread *t = corun__thread_fresh();
  if (t->vacated) {
    corun__shared_poison_idle(t->vacated);
    t->vacated = NULL;
  }
}
#else
#define poison_plan(t, from, hw) ((void)0)
#define poison_vacated() ((void)0)
#endif

#if CORUN__ASAN
static inline void san_arrive(struct corun_coro *me) {
  __sanitizer_finish_switch_fiber(me->asan_fake, NULL, NULL);
  poison_vacated();
}
#endif

/* ---- the switch ----------------------------------------------------- */

/* Prepares the hand-over of value v (and result code `code` for a pending
 * resume/transfer, see the file header) to `to`. Returns the coroutine
 * whose context the switch must jump to, with *data the switch data:
 *  - `to` itself, normally;
 *  - the thread's copier when to's shared stack holds another coroutine's
 *    frames (to is swapped out). The copier installs to's frames and hands
 *    it the data. Then to's `out` (a local of to's, on the shared stack) is
 *    written by the copier after the frames are back: written now, it
 *    would land in the frames of whoever occupies the stack. */
static inline struct corun_coro *route(struct corun__thread *t,
                                       struct corun_coro *to, void *v, int code,
                                       void **data) {
  struct corun_shared_stack *ss = corun__coro_shared(to);
  int swapped = ss != NULL && ss->occupant != to;
  void **out = NULL;
  if (!to->wants_code) {
    *data = v;
  } else {
    *data = (void *)(intptr_t)code;
    out = to->out;
  }
  if (CORUN__LIKELY(!swapped)) {
    if (out)
      *out = v;
    return to;
  }
  t->copy_to = to;
  t->copy_data = *data;
  t->copy_out = out;
  t->copy_value = v;
  *data = NULL;
  return &t->copier;
}

/* The checks of a coroutine leaving its stack (from->checks): a canary
 * stack's canary; on a shared stack, that its stack pointer is still above
 * the stack's bottom (the guard below catches most overflows as they
 * happen; this catches the rest at the next switch). */
static CORUN__NOINLINE void leave_checks(const struct corun_coro *from) {
  const struct corun__stack *s = corun__coro_stack(from);
  if (from->checks & CORUN__CHECK_CANARY)
    corun__stack_check_canary(s);
  if (from->checks & CORUN__CHECK_SHARED) {
    const char *sp = __builtin_frame_address(0);
    if (sp < s->lo + 256)
      corun__stack_overflow(s, sp);
  }
}

/* Bookkeeping common to every switch from `from` to `to` on thread t; hw is
 * what the switch really jumps to (route()). */
static inline void leave(struct corun__thread *t, struct corun_coro *from,
                         struct corun_coro *to, struct corun_coro *hw,
                         int finishing) {
  t->current = to;
  int *ep = t->errno_ptr;
  from->err = *ep;
  *ep = to->err;
  if (CORUN__UNLIKELY(from->checks))
    leave_checks(from);
  poison_plan(t, from, hw);
  san_leave(from, hw, finishing);
}

/* Switches from `from` to `to` with `data` and returns the data of the
 * switch that later resumes `from`. Without sanitizers this is a plain tail
 * call; with ASan the arrival must be announced after the switch. */
#if CORUN__ASAN
#define SWITCH(sw, from, hw, data)                                             \
  do {                                                                         \
    __typeof__(sw(NULL, NULL, NULL)) r_ = sw(&(from)->ctx, (hw)->ctx, data);   \
    san_arrive(from);                                                          \
    return r_;                                                                 \
  } while (0)
#else
#define SWITCH(sw, from, hw, data) return sw(&(from)->ctx, (hw)->ctx, data)
#endif

/* The end of a body: hands its return value to the resumer, for good. Runs
 * on whatever thread the body ended on. */
static CORUN__NOINLINE CORUN__NORETURN void finish(struct corun_coro *me,
                                                   void *ret) {
  struct corun__thread *t = corun__thread_fresh();
#if CORUN__YIELD_HOOK
  if (t->finish_hook && me->resumer == &t->root && !corun__coro_shared(me)) {
    struct corun_coro *next = t->finish_hook(t, ret);
    if (next) { /* it takes over the root's resume, as corun_transfer */
      next->resumer = me->resumer;
      next->status = CORUN_RUNNING;
      me->status = CORUN_DEAD;
      me->resumer = NULL;
      void *data;
      struct corun_coro *hw = route(t, next, NULL, 0, &data);
      leave(t, me, next, hw, 1);
      corun__ctx_switch_ontop(&me->ctx, hw->ctx, data, t->yield_fn,
                              t->yield_arg);
      corun__panic("a finished coroutine was resumed");
    }
  }
#endif
  struct corun_coro *to = me->resumer;
  me->status = CORUN_DEAD;
  me->resumer = NULL;
  struct corun_shared_stack *ss = corun__coro_shared(me);
  if (ss)
    ss->occupant = NULL; /* its frames there are garbage now */
  to->status = CORUN_RUNNING;
  void *data;
  struct corun_coro *hw = route(t, to, ret, 0, &data);
  leave(t, me, to, hw, 1);
  corun__ctx_switch(&me->ctx, hw->ctx, data);
  corun__panic("a finished coroutine was resumed");
}

/* First code on a new stack (the trampoline calls it with the body and
 * its argument, which corun_create put in the first frame). Its frame is
 * at the top of every coroutine's stack, so it is part of each shared-stack
 * coroutine's save buffer: the thread variable is read directly (nothing
 * has switched since this context arrived on this thread), so fn and arg
 * need no callee-saved registers across a call. With a call to
 * corun__thread_fresh here the frame took 16 bytes more, and bench/memory.c's
 * coroutine no longer fit shared.c's inline buffer: 400 bytes a coroutine
 * instead of 176. */
static void coro_entry(void *data, void *fn, void *arg) {
  (void)data; /* the first resume's value is ignored, as Python's next() */
#if CORUN__ASAN
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
  poison_vacated();
#endif
  corun__tls_thread->current->started = 1;
  void *ret = ((corun_fn *)fn)(arg);
  finish(corun__thread_fresh()->current, ret);
}

/* ---- the copier ------------------------------------------------------ */

#define COPIER_STACK ((size_t)16 * 1024)

/* The copier's body: installs t->copy_to's frames on its shared stack and
 * switches to it; resumed by the next switch that needs copying. It runs on
 * a stack of its own, so it may overwrite any part of the shared stack. It
 * never leaves its thread. */
static void copier_main(void *unused, void *a, void *b) {
  (void)unused, (void)a, (void)b;
  struct corun__thread *t = corun__thread_fresh();
#if CORUN__ASAN
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
  poison_vacated();
#endif
  for (;;) {
    struct corun_coro *to = t->copy_to;
    int saved = errno; /* a growing save buffer mallocs */
    corun__shared_swap_in(to);
    errno = saved;
    if (t->copy_out) { /* see route() */
      *t->copy_out = t->copy_value;
      t->copy_out = NULL;
    }
    san_leave(&t->copier, to, 0);
    corun__ctx_switch(&t->copier.ctx, to->ctx, t->copy_data);
#if CORUN__ASAN
    san_arrive(&t->copier);
#endif
  }
}

/* Gives thread t its copier; done before the first shared-stack coroutine
 * runs on t, so that switches (which cannot fail) always have it. */
static CORUN__NOINLINE int make_copier(struct corun__thread *t) {
  struct corun__stack *s = corun__stack_alloc(&t->cache, COPIER_STACK);
  if (!s)
    return -ENOMEM;
  corun__stack_set_owner(s, 0, "(corun copier)");
  struct corun_coro *c = &t->copier;
  c->mem.stack = s;
#if CORUN__ASAN
  c->asan_bottom = s->lo;
  c->asan_size = (size_t)(s->hi - s->lo);
#endif
#if CORUN__TSAN
  c->tsan_fiber = __tsan_create_fiber(0);
#endif
  c->ctx =
      corun__ctx_make(s->hi, (size_t)(s->hi - s->lo), copier_main, NULL, NULL);
  return 0;
}

/* Whether thread t can run co: a shared-stack coroutine needs t's copier,
 * made the first time (switches cannot fail, so it must exist before). */
static inline int can_run(struct corun__thread *t, struct corun_coro *co) {
  return CORUN__LIKELY(!(co->checks & CORUN__CHECK_SHARED)) ||
         t->copier.ctx != NULL || make_copier(t) == 0;
}

/* ---- public API ------------------------------------------------------ */

/* Why `co` (not suspended) cannot be resumed from thread t: dead, or
 * running or normal on t's chain (coro.h) or on another thread's. */
static CORUN__NOINLINE int not_suspended(const struct corun__thread *t,
                                         const struct corun_coro *co) {
  if (co->status == CORUN_DEAD)
    return -ESRCH;
  for (const struct corun_coro *c = t->current; c; c = c->resumer)
    if (c == co)
      return -EBUSY;
  return -EXDEV;
}

/* Fields every new coroutine starts with, on the stack s, whose body will
 * see `top` as the top of its stack. The caller sets mem and checks'
 * CORUN__CHECK_SHARED bit first, and ctx after. */
static inline void init_coro(struct corun__thread *t, struct corun_coro *co,
                             const char *name, struct corun__stack *s,
                             char *top) {
  if (t->next_id == t->id_end) {
    t->next_id = atomic_fetch_add_explicit(&next_id_block, ID_BLOCK,
                                           memory_order_relaxed);
    t->id_end = t->next_id + ID_BLOCK;
  }
  co->resumer = NULL;
  co->out = NULL;
  co->status = CORUN_SUSPENDED;
  co->err = 0;
  if (s->guard == CORUN__GUARD_CANARY)
    co->checks |= CORUN__CHECK_CANARY;
  co->closing = 0;
  co->started = 0;
  co->wants_code = 0;
  co->id = t->next_id++;
  co->name = name;
#if CORUN__ASAN
  co->asan_fake = NULL;
  co->asan_bottom = s->lo;
  co->asan_size = (size_t)(top - s->lo);
#endif
#if CORUN__TSAN
  co->tsan_fiber = __tsan_create_fiber(0);
#endif
  (void)top;
}

/* corun_create() for attr->shared: the object is on the heap with its save
 * buffer (and name), and the first frame is built aside (the stack may hold
 * another coroutine's frames) and kept in the buffer, to be copied in at
 * the first switch. The assembly frames hold no stack addresses, so they
 * move; both tops are 16-byte aligned. */
static CORUN__NOINLINE int create_shared(corun_coro **out, corun_fn *fn,
                                         void *arg, const char *name,
                                         struct corun_shared_stack *ss) {
#ifdef CORUN_CONTEXT_UCONTEXT
  (void)out, (void)fn, (void)arg, (void)name, (void)ss;
  return -ENOTSUP;
#else
  struct corun__thread *t = corun__thread_get();
  if (!t)
    return -ENOMEM;
  struct corun_coro *co = corun__shared_coro_alloc(ss, &name);
  if (!co)
    return -ENOMEM;
  init_coro(t, co, name, ss->stack, ss->top);
  _Alignas(16) char scratch[CORUN__CTX_FRAME_BYTES + 64];
  char *f = corun__ctx_make(scratch + sizeof scratch, sizeof scratch,
                            coro_entry, (void *)fn, arg);
  size_t len = (size_t)(scratch + sizeof scratch - f);
  memcpy(corun__shared_save_buf(co), f, len);
  co->save_len = (uint32_t)len;
  co->ctx = ss->top - len;
  *out = co;
  return 0;
#endif
}

int corun_create(corun_coro **out, corun_fn *fn, void *arg,
                 const corun_attr *attr) {
  size_t size = CORUN_STACK_DEFAULT;
  const char *name = NULL;
  if (!out || !fn)
    return -EINVAL;
  if (attr) {
    if (attr->shared)
      return create_shared(out, fn, arg, attr->name, attr->shared);
    if (attr->stack_size) {
      if (attr->stack_size < CORUN_STACK_MIN)
        return -EINVAL;
      if (attr->stack_size > ((size_t)1 << 40))
        return -ENOMEM; /* no mapping that large can succeed */
      size = attr->stack_size;
    }
    name = attr->name;
  }
  /* The context, this struct and the name live at the top of the stack:
   * leave the body at least 2 KiB even under the largest context
   * (ucontext on AArch64), growing a stack too small for that. */
  size_t least =
      CORUN__CTX_TOP_BYTES + sizeof(struct corun_coro) + CORUN_NAME_MAX + 2048;
  if (size < least)
    size = least;
  struct corun__thread *t = corun__thread_get();
  if (!t)
    return -ENOMEM;
  struct corun__stack *s = corun__stack_alloc(&t->cache, size);
  if (!s)
    return -ENOMEM;
  /* The struct sits at the top of the stack, cache-line aligned, its name
   * below it, and the first frame below that. */
  struct corun_coro *co =
      (struct corun_coro *)(((uintptr_t)s->hi - sizeof *co) & ~(uintptr_t)63);
  char *below = (char *)co;
  if (name) {
    size_t n = corun__name_size(name);
    below -= n;
    name = corun__name_copy(below, name, n);
  }
  co->mem.stack = s;
  co->checks = 0;
  init_coro(t, co, name, s, below);
  corun__stack_set_owner(s, co->id, name);
  co->ctx = corun__ctx_make(below, (size_t)(below - s->lo), coro_entry,
                            (void *)fn, arg);
  *out = co;
  return 0;
}

int corun_resume(corun_coro *co, void *in, void **out) {
  if (CORUN__UNLIKELY(!co))
    return -EINVAL;
  struct corun__thread *t = corun__thread_get();
  if (CORUN__UNLIKELY(!t))
    return -ENOMEM;
  if (CORUN__UNLIKELY(co->status != CORUN_SUSPENDED))
    return not_suspended(t, co);
  if (!can_run(t, co))
    return -ENOMEM;
  struct corun_coro *me = t->current;
  me->status = CORUN_NORMAL;
  me->wants_code = 1;
  me->out = out;
  co->status = CORUN_RUNNING;
  co->resumer = me;
  void *data;
  struct corun_coro *hw = route(t, co, in, 1, &data);
  leave(t, me, co, hw, 0);
  SWITCH(corun__ctx_switch_int, me, hw, data);
}

/* corun_yield's switch back to the resumer. */
static inline void *yield_to_resumer(struct corun__thread *t, void *out) {
  struct corun_coro *me = t->current;
  struct corun_coro *to = me->resumer;
  me->status = CORUN_SUSPENDED;
  me->resumer = NULL;
  me->wants_code = 0;
  to->status = CORUN_RUNNING;
  void *data;
  struct corun_coro *hw = route(t, to, out, 1, &data);
  leave(t, me, to, hw, 0);
  SWITCH(corun__ctx_switch, me, hw, data);
}

#if CORUN__YIELD_HOOK
/* corun_yield on a thread with a yield hook (corun__thread.yield_hook):
 * out of line, so that a coroutine's yield elsewhere stays a leaf. */
static CORUN__NOINLINE void *yield_hooked(struct corun__thread *t, void *out) {
  struct corun_coro *me = t->current;
  struct corun_coro *next = NULL;
  if (__atomic_load_n(t->yield_if[0], __ATOMIC_RELAXED) ||
      __atomic_load_n(t->yield_if[1], __ATOMIC_RELAXED))
    next = t->yield_hook(t);
  if (!next)
    return yield_to_resumer(t, out);
  next->resumer = me->resumer; /* as corun_transfer */
  next->status = CORUN_RUNNING;
  me->status = CORUN_SUSPENDED;
  me->resumer = NULL;
  me->wants_code = 0;
  void *data;
  struct corun_coro *hw = route(t, next, NULL, 0, &data);
  leave(t, me, next, hw, 0);
  return corun__ctx_switch_ontop(&me->ctx, hw->ctx, data, t->yield_fn,
                                 t->yield_arg);
}
#endif

void *corun_yield(void *out) {
  struct corun__thread *t = corun__tls_thread;
  if (CORUN__UNLIKELY(!t || t->current == &t->root))
    return NULL; /* not in a coroutine: no effect */
#if CORUN__YIELD_HOOK
  if (t->yield_hook && t->current->resumer == &t->root)
    return yield_hooked(t, out);
#endif
  return yield_to_resumer(t, out);
}

int corun_transfer(corun_coro *to, void *in, void **out) {
  if (CORUN__UNLIKELY(!to))
    return -EINVAL;
  struct corun__thread *t = corun__thread_get();
  if (CORUN__UNLIKELY(!t))
    return -ENOMEM;
  if (CORUN__UNLIKELY(to->status != CORUN_SUSPENDED))
    return not_suspended(t, to);
  struct corun_coro *me = t->current;
  if (me == &t->root)
    return corun_resume(to, in, out);
  if (!can_run(t, to))
    return -ENOMEM;
  /* Simula's resume: `to` takes over the duty to return to our resumer. */
  to->resumer = me->resumer;
  to->status = CORUN_RUNNING;
  me->resumer = NULL;
  me->status = CORUN_SUSPENDED;
  me->wants_code = 1;
  me->out = out;
  void *data;
  struct corun_coro *hw = route(t, to, in, 1, &data);
  leave(t, me, to, hw, 0);
  SWITCH(corun__ctx_switch_int, me, hw, data);
}

static CORUN__NOINLINE CORUN__NORETURN void pass_refused(void) {
  corun__panic("the scheduler switched to a coroutine that cannot run "
               "(not suspended, or from the thread's root)");
}

/* corun__coro_pass once its checks are made: `to` takes over the
 * caller's resumer, as in corun_transfer, and the switch is a tail call
 * (except under ASan, which announces the arrival after it). */
static inline __attribute__((always_inline)) void
pass_to(struct corun__thread *t, struct corun_coro *me, struct corun_coro *to) {
  to->resumer = me->resumer;
  to->status = CORUN_RUNNING;
  me->resumer = NULL;
  me->status = CORUN_SUSPENDED;
  me->wants_code = 0; /* resumed as from a yield: the data is ignored */
  void *data;
  struct corun_coro *hw = route(t, to, NULL, 0, &data);
  leave(t, me, to, hw, 0);
  corun__ctx_switch(&me->ctx, hw->ctx, data);
#if CORUN__ASAN
  san_arrive(me);
#endif
}

/* corun__coro_pass with checks to make on the way out (a canary, a
 * shared stack on either side). */
static CORUN__NOINLINE void coro_pass_checked(struct corun__thread *t,
                                              struct corun_coro *me,
                                              struct corun_coro *to) {
  /* What corun_transfer would refuse, which the scheduler rules out (it
   * never passes a coroutine on a shared stack, whose copier may not be
   * made yet): a panic rather than a corrupt chain if it ever did. */
  if (CORUN__UNLIKELY((to->checks & CORUN__CHECK_SHARED) && !t->copier.ctx))
    pass_refused();
  pass_to(t, me, to);
}

/* The common case, two coroutines on stacks of their own with guard
 * pages (no checks), apart: there route() is `to` itself and leave() has
 * no check to make, so the compiler leaves no call in it but the switch,
 * as a tail call, and it saves no register (coro_pass_checked saves
 * two): 35 -> 28 instructions a pass (callgrind, bench_sched pingpong). */
void corun__coro_pass(struct corun_coro *to) {
  struct corun__thread *t = corun__tls_thread;
  struct corun_coro *me = t->current;
  if (CORUN__UNLIKELY(to->status != CORUN_SUSPENDED || me == &t->root))
    pass_refused();
  if (CORUN__UNLIKELY(to->checks | me->checks))
    return coro_pass_checked(t, me, to);
  pass_to(t, me, to);
}

int corun_status(const corun_coro *co) {
  if (!co)
    return -EINVAL;
  if (co->status == CORUN_RUNNING && co != corun_current())
    return CORUN_NORMAL; /* running, but on another thread */
  return co->status;
}

corun_coro *corun_current(void) {
  struct corun__thread *t = corun__tls_thread;
  if (!t || t->current == &t->root)
    return NULL;
  return t->current;
}

int corun_closing(void) {
  struct corun__thread *t = corun__tls_thread;
  return t ? t->current->closing : 0;
}

/* A second corun_destroy of a coroutine whose memory is still intact
 * finds its stack free (descriptors outlive stacks, so the look is safe):
 * freed again, the stack would later run two coroutines at once. */
static CORUN__NOINLINE CORUN__NORETURN void destroyed_twice(void) {
  corun__panic("a coroutine stack was freed twice (corun_destroy called "
               "again on a destroyed coroutine?)");
}

int corun_destroy(corun_coro *co) {
  if (!co)
    return -EINVAL;
  if (co->status == CORUN_RUNNING || co->status == CORUN_NORMAL)
    return -EBUSY;
  struct corun__thread *t = corun__thread_get();
  if (!t)
    return -ENOMEM;
  int rc = 0;
  if (co->status == CORUN_SUSPENDED && co->started) {
    co->closing = 1;
    corun_resume(co, NULL, NULL); /* cannot fail: checked above */
    if (co->status != CORUN_DEAD)
      rc = -ECANCELED; /* it yielded instead of returning */
  }
#if CORUN__TSAN
  __tsan_destroy_fiber(co->tsan_fiber);
#endif
  if (co->checks & CORUN__CHECK_SHARED) {
    corun__shared_coro_free(co);
    return rc;
  }
  /* The struct is on the stack being freed: read what we need first. */
  struct corun__stack *s = co->mem.stack;
  if (CORUN__UNLIKELY(!s->in_use))
    destroyed_twice();
  corun__stack_free(&t->cache, s);
  return rc;
}

uint64_t corun_id(const corun_coro *co) {
  return co ? co->id : 0;
}

const char *corun_name(const corun_coro *co) {
  if (!co)
    return NULL;
  return co->name ? co->name : "";
}
