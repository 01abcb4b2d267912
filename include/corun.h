/* corun.h: the one public header of corun, a coroutine runtime for C.
 *
 * This header compiles as C11 and as C++ (C++11 up to C++23) with
 * -Wall -Wextra -pedantic. It declares no name outside the corun_ / CORUN_
 * prefixes and none of the C++20 keywords co_await, co_yield, co_return.
 *
 * Conventions (see DESIGN.md):
 *  - Functions that can fail return an int: >= 0 on success, -errno on
 *    failure (-EINVAL, -ENOMEM, ...). They never read or write errno.
 *  - Constructors return the object through an out-parameter and leave it
 *    untouched on failure. A call that fails has no side effect.
 *  - Whoever creates an object destroys it.
 *
 * Layer coro: a coroutine is a function running on a stack of its own. It
 * works on any thread without a scheduler: corun_resume() runs it until it
 * calls corun_yield() or returns, passing one pointer each way, like a
 * Python generator's send() and yield. corun_transfer() hands control
 * directly from one coroutine to another (symmetric coroutines).
 *
 * Threads: each thread has its own chain of running coroutines, starting at
 * the thread's own stack (the "root context"). A suspended coroutine may be
 * resumed or destroyed from any thread, provided the caller makes sure no
 * other thread touches it at the same time (as for any object); the
 * coroutine then runs on the resuming thread. Each coroutine keeps its own
 * errno and its own floating-point control state (rounding mode, MXCSR
 * control bits, x87 control word) across switches, as each thread does.
 *
 * Thread-local storage: a coroutine that is resumed on another thread sees
 * that thread's thread-local variables. A compiler may keep the address of a
 * thread-local variable (including &errno) in a register across a call to
 * corun_yield(); code that resumes coroutines on several threads should not
 * keep TLS state across a switch. */
#ifndef CORUN_H
#define CORUN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CORUN_API
#elif defined(__GNUC__)
#define CORUN_API __attribute__((visibility("default")))
#else
#define CORUN_API
#endif

#define CORUN_VERSION_MAJOR 0
#define CORUN_VERSION_MINOR 1
#define CORUN_VERSION_PATCH 0

/* ---------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------- */

/* An opaque coroutine. Created by corun_create(), freed by corun_destroy(). */
typedef struct corun_coro corun_coro;

/* An opaque shared stack: one stack that many coroutines take turns on,
 * each one's live part copied out to its own buffer while another runs
 * (libco's shared stacks). See corun_attr.shared. */
typedef struct corun_shared_stack corun_shared_stack;

/* The body of a coroutine. It receives the `arg` given to corun_create()
 * and its return value becomes the `out` of the corun_resume() that sees it
 * finish. */
typedef void *corun_fn(void *arg);

/* Creation attributes. Zero-initialise and set what you need; a NULL
 * attribute pointer means all defaults. */
typedef struct corun_attr {
  /* Stack size in bytes; 0 means CORUN_STACK_DEFAULT. Rounded up to a
   * whole number of pages; must be at least CORUN_STACK_MIN. The top few
   * hundred bytes hold the coroutine's own bookkeeping (more with the
   * ucontext backend: a ucontext_t, 4.6 KiB on AArch64; a stack that would
   * leave the body less than 2 KiB is grown). Only the pages the coroutine
   * touches cost memory. A guard region below the stack catches overflow
   * (see "Stack overflow" below). */
  size_t stack_size;
  /* NULL: the coroutine gets a stack of its own (stack_size). Otherwise it
   * runs on this shared stack, which it takes turns on with the other
   * coroutines created on it: when another one needs the stack, the live
   * part of this one's stack (from its stack pointer to the top, usually a
   * few hundred bytes) is copied out to a buffer of its own, and copied
   * back before it runs again. A suspended coroutine then costs only its
   * object and that buffer. stack_size is ignored.
   * Pointers into a suspended coroutine's stack (the address of one of its
   * locals, handed to another coroutine) are INVALID while it is swapped
   * out: the memory they point to belongs to whichever coroutine runs on
   * the stack then. Keep data shared between coroutines on the heap, and
   * never give an asynchronous IO buffer that lives on a shared stack.
   * The shared stack must outlive every coroutine created on it, and its
   * coroutines must run on one thread at a time. Not available with the
   * ucontext backend (corun_create() returns -ENOTSUP there). */
  corun_shared_stack *shared;
  /* Optional name shown in diagnostics (stack overflow reports). Copied:
   * at most CORUN_NAME_MAX - 1 bytes are kept. */
  const char *name;
} corun_attr;

/* Creates a shared stack of `size` usable bytes (0: CORUN_STACK_DEFAULT;
 * rounded up to pages), with a guard region below it like every corun
 * stack. Coroutines created with corun_attr.shared = *ss run on it. On
 * success stores it in *ss and returns 0; the caller owns it and frees it
 * with corun_shared_stack_destroy() after the last of its coroutines.
 * Errors: -EINVAL ss is NULL, or size is non-zero and below CORUN_STACK_MIN;
 *         -ENOTSUP the ucontext backend is compiled in;
 *         -ENOMEM no memory. */
CORUN_API int corun_shared_stack_create(corun_shared_stack **ss, size_t size);

/* Frees a shared stack. Returns 0.
 * Errors: -EINVAL ss is NULL;
 *         -EBUSY  coroutines created on it are not all destroyed yet
 *                 (nothing is freed);
 *         -ENOMEM this is the thread's first corun call and its per-thread
 *                 state could not be allocated (nothing is freed). */
CORUN_API int corun_shared_stack_destroy(corun_shared_stack *ss);

/* A pool of shared stacks handed out round-robin (libco's shared-stack
 * array): the convenience for "put this coroutine on a shared stack". */
typedef struct corun_shared_pool corun_shared_pool;

/* Creates a pool of `count` shared stacks of `size` bytes each (see
 * corun_shared_stack_create()). On success stores it in *pool and returns 0;
 * the caller owns it and frees it with corun_shared_pool_destroy().
 * Errors: -EINVAL pool is NULL, count is 0, or size is non-zero and below
 *                 CORUN_STACK_MIN;
 *         -ENOTSUP the ucontext backend is compiled in;
 *         -ENOMEM no memory (nothing is left allocated). */
CORUN_API int corun_shared_pool_create(corun_shared_pool **pool, size_t count,
                                       size_t size);

/* Returns the pool's next shared stack, round-robin, for corun_attr.shared;
 * NULL if pool is NULL. The stack belongs to the pool. */
CORUN_API corun_shared_stack *corun_shared_pool_next(corun_shared_pool *pool);

/* Frees the pool and its stacks. Returns 0.
 * Errors: -EINVAL pool is NULL;
 *         -EBUSY  coroutines created on its stacks are not all destroyed
 *                 (nothing is freed);
 *         -ENOMEM as for corun_shared_stack_destroy(). */
CORUN_API int corun_shared_pool_destroy(corun_shared_pool *pool);

/* Default stack size (256 KiB) and the smallest accepted size. */
#define CORUN_STACK_DEFAULT ((size_t)256 * 1024)
#define CORUN_STACK_MIN ((size_t)4096)
/* Size of the buffer that keeps a coroutine's name, terminator included. */
#define CORUN_NAME_MAX 32

/* Statuses, named as Lua names them. */
enum corun_status {
  CORUN_SUSPENDED = 0, /* created and not started, or stopped in a yield */
  CORUN_RUNNING = 1,   /* the coroutine that called corun_status() */
  CORUN_NORMAL = 2,    /* active but not running: it resumed another one */
  CORUN_DEAD = 3       /* its body returned; only corun_destroy() is left */
};

/* ---------------------------------------------------------------------
 * The coroutine object
 * ------------------------------------------------------------------- */

/* Creates a coroutine that will run fn(arg) on a stack of its own. The body
 * does not start until the first corun_resume() (or corun_transfer()) to
 * it. It starts with errno 0 and with the floating-point control state
 * (rounding mode, MXCSR, x87 control word) of the thread calling
 * corun_create(), as a new thread inherits its creator's. On success stores
 * the new coroutine in *co and returns 0; the caller owns it and must free
 * it with corun_destroy().
 * Stacks come from a per-thread pool: in the steady state create and
 * destroy make no system call.
 * Errors: -EINVAL  co or fn is NULL, or attr->stack_size is non-zero and
 *                  below CORUN_STACK_MIN;
 *         -ENOTSUP attr->shared is set and the ucontext backend is compiled
 *                  in (shared stacks need an assembly backend);
 *         -ENOMEM  no memory for the stack (the process keeps working). */
CORUN_API int corun_create(corun_coro **co, corun_fn *fn, void *arg,
                           const corun_attr *attr);

/* Runs co until it yields or returns. The caller becomes CORUN_NORMAL
 * while co runs. `in` is delivered to co as the return value of the
 * corun_yield() (or corun_transfer()) it is suspended in; the first resume
 * of a new coroutine starts the body with its `arg` and `in` is ignored,
 * as Python's first next(). When control comes back, *out (if out is not
 * NULL) receives the value passed to corun_yield(), or the body's return
 * value.
 * Returns 1 if control came back by a yield (or a transfer), 0 if it came
 * back because a coroutine finished (it is now CORUN_DEAD).
 * With symmetric transfers the coroutine that hands control back may not be
 * co itself: whoever co transferred to inherits the duty to come back here
 * (Simula's rule); see corun_transfer().
 * Errors (nothing runs, *out is untouched):
 *         -EINVAL  co is NULL;
 *         -ESRCH   co is dead;
 *         -EBUSY   co is running or normal in the calling thread (it is the
 *                  caller, or one of the coroutines waiting on a resume);
 *         -EXDEV   co is running or normal on another thread;
 *         -ENOMEM  this is the thread's first corun call and its per-thread
 *                  state (a few hundred bytes) could not be allocated. */
CORUN_API int corun_resume(corun_coro *co, void *in, void **out);

/* Suspends the running coroutine and returns control to its resumer, whose
 * corun_resume() returns 1 with *out = out. Returns the `in` of the next
 * corun_resume() or corun_transfer() that continues this coroutine.
 * Outside any coroutine (on a thread's own stack) it does nothing and
 * returns NULL. */
CORUN_API void *corun_yield(void *out);

/* Symmetric hand-over: suspends the calling coroutine and runs `to`, which
 * receives `in` like a resume would give it. The caller's resumer becomes
 * `to`'s resumer: when `to` yields or finishes, control goes to the context
 * that resumed the caller (to the thread's root context when the chain was
 * started there), not back to the caller. Called from a thread's root
 * context, it behaves like corun_resume().
 * When the caller is continued later (by a resume or a transfer), *out (if
 * out is not NULL) receives the value passed in, and the call returns 1;
 * it returns 0 if control came back because a coroutine finished (only
 * possible when called from the root context), with its return value in
 * *out.
 * Errors: -EINVAL to is NULL; -ESRCH to is dead; -EBUSY to is the caller or
 *         normal in this thread; -EXDEV to is active on another thread;
 *         -ENOMEM as for corun_resume(). */
CORUN_API int corun_transfer(corun_coro *to, void *in, void **out);

/* Returns co's status (enum corun_status), or -EINVAL if co is NULL.
 * A coroutine running or normal on another thread is reported as
 * CORUN_NORMAL. */
CORUN_API int corun_status(const corun_coro *co);

/* Returns the coroutine running on the calling thread, or NULL when the
 * thread runs on its own stack. */
CORUN_API corun_coro *corun_current(void);

/* Destroys co and gives its stack back to the pool. A coroutine that was
 * started and is suspended in a yield is resumed once first with
 * corun_closing() returning true, so it can release what it holds and
 * return (Python's generator close()); its corun_yield() returns NULL.
 * A coroutine that was never started is freed without running.
 * Returns 0 on success.
 * Errors: -EINVAL    co is NULL;
 *         -EBUSY     co is running or normal (in this or another thread):
 *                    nothing is freed;
 *         -ECANCELED co was freed, but while closing it yielded (or
 *                    transferred away) instead of returning, so the rest of
 *                    its body never ran;
 *         -ENOMEM    this is the thread's first corun call and its
 *                    per-thread state could not be allocated: nothing was
 *                    done, co is still the caller's (retry later). */
CORUN_API int corun_destroy(corun_coro *co);

/* Returns 1 inside a coroutine that corun_destroy() is closing, 0 otherwise
 * (also outside any coroutine). */
CORUN_API int corun_closing(void);

/* Returns co's identifier: unique in the process, never 0, or 0 if co is
 * NULL. Stack overflow reports name a coroutine by this id when it has no
 * name. */
CORUN_API uint64_t corun_id(const corun_coro *co);

/* Returns co's name as given in corun_attr.name, "" if it has none, or NULL
 * if co is NULL. The string belongs to co and lives as long as it does. */
CORUN_API const char *corun_name(const corun_coro *co);

/* Returns a static English description of a corun error code (a negative
 * errno value as returned by corun functions), e.g. "resource busy" for
 * -EBUSY. Never NULL. */
CORUN_API const char *corun_strerror(int err);

/* Stack overflow.
 * Stack memory is mmap'd and committed lazily; a guard region below each
 * stack faults on overflow. corun installs a SIGSEGV handler (on an
 * alternate signal stack of each thread that uses corun, when the thread
 * has none) that recognises a guard hit, prints
 *   corun: stack overflow in coroutine <name or id> (stack <size> at
 *   <lo>-<hi>, fault at <addr>); raise corun_attr.stack_size
 * and aborts. Other faults go to the handler that was installed before.
 * Where guard regions are not available (the kernel lacks
 * MADV_GUARD_INSTALL and vm.max_map_count is exhausted), corun says so once
 * on stderr and checks a canary at the bottom of each stack at every
 * switch instead, reporting overflow the same way.
 * The environment variable CORUN_STACK_GUARD=madvise|mprotect|canary forces
 * one mechanism (for tests). */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CORUN_H */
