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
 * The floating-point exception flags (fetestexcept) are the thread's, not
 * the coroutine's: a resume or yield may return with flags another
 * coroutine of the thread raised, or without the caller's own if another
 * cleared them. Test the flags between two switches, not across one.
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
#include <sys/socket.h> /* struct sockaddr, socklen_t (layer io) */
#include <sys/types.h>  /* ssize_t, off_t */
#include <sys/uio.h>    /* struct iovec (layer io) */

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
   * (see "Stack overflow" below). A task's stack also carries some of the
   * scheduler's own work: when it blocks or yields, the scheduler may
   * fire due timers and wake other tasks there before switching away, and
   * the task switched to finishes the blocking call's or the yield's
   * bookkeeping on its own: about 400 bytes below a blocking call's or
   * corun_yield()'s frames (gcc -O2, without sanitizers), which a task's
   * stack must have room for. */
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
   * To catch such pointers, build corun with -DCORUN_DEBUG_POISON=ON: the
   * part of the stack below the occupant's frames is then filled with 0xdb
   * at every copy and, under ASan, poisoned while no coroutine runs on the
   * stack, so using the pointer from outside is reported. Under Valgrind
   * memcheck reports it in every build.
   * The shared stack must outlive every coroutine created on it, and its
   * coroutines must run on one thread at a time. Not available with the
   * ucontext backend (corun_create() returns -ENOTSUP there). */
  corun_shared_stack *shared;
  /* Optional name shown in diagnostics (stack overflow reports, deadlock
   * dumps). Copied: at most CORUN_NAME_MAX - 1 bytes are kept. */
  const char *name;
  /* Tasks only (corun_spawn()): nonzero keeps the task on the worker
   * thread that first runs it, for code that keeps thread-local state
   * across blocking calls. The tasks of a shared stack are always pinned
   * to one worker: the spawner's, when the stack has no unfinished task;
   * else the one its unfinished tasks are pinned to (a task may spawn onto
   * the stack from any worker; the new task waits there for its turn). */
  int pin;
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
 *                    done, co is still the caller's (retry later).
 * co is gone afterwards. Destroying it again is a bug (its stack would
 * later run two coroutines); while its stack has not been reused, corun
 * notices and aborts with "corun: a coroutine stack was freed twice". */
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
 * -EBUSY; for the system calls' own errors that the io layer passes
 * through, the C library's (e.g. "Connection refused" for -ECONNREFUSED).
 * Never NULL; "unknown error" for codes nobody knows. */
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

/* ---------------------------------------------------------------------
 * Layer sched: tasks on an M:N scheduler
 *
 * corun_main() starts worker threads and runs tasks on them: coroutines
 * that the scheduler resumes, moves between workers when one is idle (work
 * stealing), and parks while they wait (for a channel, a mutex, a timer),
 * so a blocked task costs no thread. Each task keeps its own errno across
 * migration. Inside a task, corun_yield() gives the worker back to the
 * scheduler (Go's Gosched), which runs it again later.
 *
 * Time is int64_t nanoseconds of the monotonic clock (corun_now()). A
 * blocking call takes an absolute `deadline`: -1 (or any negative value)
 * waits without limit, 0 does not block (the call returns -EAGAIN if it
 * would have to), any other value is compared with corun_now(); once it
 * passes the call returns -ETIMEDOUT. A blocking call returns -ECANCELED once
 * its task has been cancelled, and -EPERM outside a task (or from a coroutine
 * that a task resumed: only a task's own coroutine can block). A call that can
 * complete without blocking does so even in a cancelled task.
 * corun_yield() in a task returns NULL after the other runnable tasks of
 * its worker had a turn; it cannot fail, and does not report cancellation
 * (corun_cancelled() does; corun_sleep(0) yields and reports it).
 * Tasks get CORUN_STACK_DEFAULT stacks unless attr says otherwise: only
 * the pages a task touches cost memory, usually one.
 * ------------------------------------------------------------------- */

/* A task, as returned by corun_spawn(): the handle to join and cancel it. */
typedef struct corun_task corun_task;

/* Scheduler configuration. Zero-initialise; NULL means all defaults. */
typedef struct corun_config {
  /* Worker threads; 0 means the environment variable CORUN_WORKERS if it
   * holds a positive number, else the number of CPUs the process may run
   * on. The thread calling corun_main() is one of them. While one worker
   * alone runs tasks (with one configured, or with several once the
   * others have found no work for a millisecond and sleep), task
   * wake-ups and channel operations use no atomic read-modify-write;
   * a worker that wakes again ends that with one membarrier(2) call,
   * which interrupts the running worker for about a microsecond.
   * A thread that is not a worker (a helper thread, a thread calling
   * corun_cancel() or a non-blocking channel call) ends it for the rest
   * of the run, with the same call. A mutex has a bias of its own, with
   * one configured worker only: see corun_mutex_lock(). */
  unsigned workers;
  /* Debug: nonzero picks the next task to run at random among the
   * runnable ones, to shake out assumptions about scheduling order.
   * The environment variable CORUN_SHUFFLE=1 sets it too. */
  int shuffle;
  /* The monitor: a worker kept in one task longer than this many
   * milliseconds (a blocking call that is not hooked, a long computation)
   * is found blocked; the tasks queued on it that can move go to other
   * workers, its timers are fired for it, and a spare worker starts if
   * fewer than `workers` are free (so more threads than `workers` may run
   * tasks while some are blocked); if the blocked worker's thread is on
   * a CPU (computing, or preempted) and every CPU the program may use
   * already has a worker, only once it has been stuck ten times this
   * long. A spare's thread stays until corun_main returns; once the
   * blocked worker is back, one worker too many stands down (it sleeps,
   * taking no new tasks, until a worker blocks again). 0 means
   * the environment variable CORUN_BLOCK_MS, else 10; negative turns the
   * monitor off. Tasks pinned to a blocked worker (and those on its
   * shared stacks, and those inside a libcorun_hook call) wait for it. */
  int block_ms;
} corun_config;

/* Runs main_fn(arg) as the first task on a new scheduler and returns when
 * every task (main_fn's and all those spawned since) has finished. Worker
 * threads are created at the start and joined at the end, and so are the
 * helper threads (name lookups, file IO, corun_offload): a call a task
 * gave up on at its deadline or a cancel (a name lookup waiting on a slow
 * DNS server) still holds corun_main until it ends. One scheduler
 * runs at a time in a process; corun_main may be called again once it has
 * returned (with another configuration). Channels and the sync objects
 * may be made before and freed after it; non-blocking calls on them
 * (deadline 0) work from any thread, and a thread outside the scheduler
 * may wake tasks through them. main_fn's return value is discarded: pass
 * results through `arg`.
 * fork: a child forked while corun_main runs (from a task or any thread)
 * has corun turned off, as POSIX allows the child of a threaded program
 * only async-signal-safe calls until it execs or _exits. In the child no
 * task is running any more: corun's blocking calls return -EPERM as
 * outside a task, libcorun_hook's hooks are libc's calls, and closing an
 * fd leaves the parent's event loop alone (the child shares the parent's
 * epoll instance and io_uring ring). A task that returns, yields or parks
 * in the child aborts it with a message. A child forked before or after
 * corun_main may run its own corun_main; one forked during it may not
 * (-EBUSY).
 * Returns 0.
 * Errors: -EINVAL  main_fn is NULL;
 *         -EBUSY   a scheduler is already running (a nested call);
 *         -EAGAIN  a worker thread could not be started;
 *         -ENOMEM  no memory;
 *         -EDEADLK every remaining task is blocked with nothing that could
 *                  wake it (no timer): corun_main() prints
 *                  "corun: all coroutines are asleep - deadlock!" and one
 *                  line per task (name, id and what it waits for) on
 *                  stderr, and returns; those tasks are abandoned (their
 *                  memory is not freed). */
CORUN_API int corun_main(corun_fn *main_fn, void *arg,
                         const corun_config *cfg);

/* Starts a task running fn(arg), joinable: the caller must corun_join() it
 * (which frees it). attr as for corun_create(), plus attr->pin. Must be
 * called from a task. On success stores the task in *t and returns 0.
 * Errors: -EINVAL t or fn is NULL, or attr is invalid (corun_create());
 *         -EPERM  not called from a task;
 *         -ENOMEM no memory. */
CORUN_API int corun_spawn(corun_task **t, corun_fn *fn, void *arg,
                          const corun_attr *attr);

/* Starts a detached task running fn(arg) (Go's `go` statement): nobody
 * joins it; it is freed when it returns. Errors as for corun_spawn(). */
CORUN_API int corun_go(corun_fn *fn, void *arg);

/* Waits until t has returned, stores its return value in *result (if
 * result is not NULL) and frees t; t must not be used after. A cancelled
 * task is joined the same way (it returns when its body does).
 * Errors: -EINVAL    t is NULL, or t is the calling task;
 *         -EPERM     not called from a task;
 *         -ECANCELED the calling task was cancelled while waiting: t is not
 *                    joined and stays valid (join it again later). */
CORUN_API int corun_join(corun_task *t, void **result);

/* Cancels t: its current blocking call (if any) and every later one return
 * -ECANCELED, until it returns. Cancelling twice is harmless. Callable from
 * any thread while t is not yet joined (the first call of a run from a
 * thread that is not a worker may cost one membarrier(2): see
 * corun_config.workers). Returns 0; -EINVAL if t is NULL. */
CORUN_API int corun_cancel(corun_task *t);

/* Returns 1 if the calling task has been cancelled, 0 otherwise (also
 * outside a task). */
CORUN_API int corun_cancelled(void);

/* Sleeps for `ns` nanoseconds (0 or less: gives the worker back, like
 * corun_yield(); INT64_MAX: until cancelled). Never wakes early. Late by
 * the time its worker takes to notice: an idle worker sleeps in the
 * kernel until the deadline (tens of microseconds late here), a busy one
 * looks between tasks and reads the clock at most every 5 us (a sleep
 * there counts from corun_deadline_in(): from about 1 us after the call,
 * never from before it); a task that computes without giving its worker back
 * holds the wake-up until it does, or until the monitor takes over
 * (corun_config.block_ms).
 * Every deadline of the API fires the same way.
 * Returns 0.
 * Errors: -EPERM not in a task; -ECANCELED the task was cancelled. */
CORUN_API int corun_sleep(int64_t ns);

/* Sleeps until corun_now() >= deadline. Returns 0.
 * Errors: as for corun_sleep(). */
CORUN_API int corun_sleep_until(int64_t deadline);

/* The monotonic clock (CLOCK_MONOTONIC) in nanoseconds; works anywhere. */
CORUN_API int64_t corun_now(void);

/* The deadline `ns` nanoseconds from now, for the calls that take one:
 * never earlier than corun_now() + ns. In a task on a busy worker it is
 * taken from the worker's last clock reading (at most 5 us old) and the
 * CPU's counter, without reading the clock, whose read waits for the
 * loads in flight; it may then be later than corun_now() + ns by about
 * 1 us (at most about 6 us). Elsewhere it is corun_now() + ns.
 * ns < 0: -1, no deadline. Saturates at INT64_MAX. Works anywhere. */
CORUN_API int64_t corun_deadline_in(int64_t ns);

/* Returns the calling task, or NULL outside a task. */
CORUN_API corun_task *corun_self(void);

/* ---------------------------------------------------------------------
 * Layer sync: channels and select
 *
 * A channel carries elements of a fixed size, copied by value. Capacity 0
 * is a rendezvous channel: a send completes when a receiver takes the
 * element. Channels work between tasks on any workers. A channel is
 * created and freed by whoever owns it; freeing one tasks still wait on is
 * refused.
 * ------------------------------------------------------------------- */

typedef struct corun_chan corun_chan;

/* Creates a channel of elements of elem_size bytes (1 or more) holding up
 * to `capacity` elements. Stores it in *ch and returns 0.
 * Errors: -EINVAL ch is NULL or elem_size is 0; -ENOMEM no memory. */
CORUN_API int corun_chan_make(corun_chan **ch, size_t elem_size,
                              size_t capacity);

/* Frees ch. A task whose wait on ch another task completed (a send, a
 * receive, a close) does not touch ch again, so ch may be freed as soon
 * as that call has returned. Errors: -EINVAL ch is NULL; -EBUSY a task
 * waits on it, or has just been woken otherwise (a timeout, a cancel, or
 * a select's other case) and has yet to leave it: try again after joining
 * that task. */
CORUN_API int corun_chan_free(corun_chan *ch);

/* Sends a copy of *elem (elem_size bytes). Returns 0 once the element is
 * in the buffer or taken by a receiver.
 * Cost, for every operation on ch (send, receive, select, close): while
 * one worker alone runs tasks (corun_config.workers says when), no
 * atomic instruction for ch's lock; else one. If a seccomp policy denies
 * membarrier(2) after corun_main started, the thread that ends that
 * state waits until the worker passes through its scheduler, as for
 * corun_mutex_lock(). corun_chan_len() takes no lock.
 * Errors: -EINVAL ch or elem is NULL; -EPIPE ch is closed (also if it is
 *         closed while the send waits: the element was not sent);
 *         -EAGAIN deadline 0 and it would block; -ETIMEDOUT; -ECANCELED;
 *         -EPERM it would block outside a task. */
CORUN_API int corun_chan_send(corun_chan *ch, const void *elem,
                              int64_t deadline);

/* Receives an element into *elem (elem_size bytes). Returns 0.
 * Errors: -EINVAL ch or elem is NULL; -EPIPE ch is closed and every
 *         element sent before the close has been received; -EAGAIN,
 *         -ETIMEDOUT, -ECANCELED, -EPERM as for corun_chan_send(). */
CORUN_API int corun_chan_recv(corun_chan *ch, void *elem, int64_t deadline);

/* Closes ch: waiting and later sends fail with -EPIPE; receives get what is
 * buffered, then -EPIPE. Returns 0.
 * Errors: -EINVAL ch is NULL; -EPIPE ch is already closed. */
CORUN_API int corun_chan_close(corun_chan *ch);

/* Elements buffered in ch (0 if ch is NULL): read without ch's lock, a
 * count ch had after one of its recent operations. A relaxed read: it does
 * not order the caller's later reads after that operation. */
CORUN_API size_t corun_chan_len(const corun_chan *ch);

/* One case of corun_select(). */
enum corun_op { CORUN_SEND = 1, CORUN_RECV = 2 };
typedef struct corun_case {
  corun_chan *ch; /* NULL: the case is never ready (disabled) */
  int op;         /* CORUN_SEND or CORUN_RECV */
  void *elem;     /* element to send, or where to receive */
  int result;     /* set for the case done: 0, or -EPIPE if ch is closed
                     (a send did not happen, a receive got nothing) */
} corun_case;

/* Waits until one of the n cases can proceed, does it and returns its
 * index. When several are ready it picks one uniformly at random (Go's
 * rule), so no case starves. A case on a closed channel is ready; its
 * `result` says -EPIPE.
 * Errors: -EINVAL cases is NULL with n > 0, or a case has a bad op or
 *         NULL elem; -EAGAIN deadline 0 and none is ready (also when n is
 *         0 or every case is disabled and the deadline is 0); -ETIMEDOUT;
 *         -ECANCELED; -EPERM it would block outside a task. */
CORUN_API int corun_select(corun_case *cases, size_t n, int64_t deadline);

/* ---------------------------------------------------------------------
 * Layer sync: mutex, condition variable, semaphore, wait group, once
 *
 * All of them park the waiting task, never its worker thread, and wake
 * waiters in FIFO order. They work only inside tasks when they block.
 * ------------------------------------------------------------------- */

typedef struct corun_mutex corun_mutex;
typedef struct corun_cond corun_cond;
typedef struct corun_sem corun_sem;
typedef struct corun_wg corun_wg;

/* Creates an unlocked mutex. Errors: -EINVAL m is NULL; -ENOMEM. */
CORUN_API int corun_mutex_make(corun_mutex **m);
/* Frees m. Errors: -EINVAL m is NULL; -EBUSY it is locked. */
CORUN_API int corun_mutex_free(corun_mutex *m);
/* Locks m, waiting until deadline. Unlocking hands m to the longest
 * waiter (FIFO), so no waiter starves. Not recursive. Returns 0.
 * Errors: -EINVAL m is NULL; -EAGAIN, -ETIMEDOUT, -ECANCELED, -EPERM.
 * Cost: with one worker (corun_config.workers = 1, or 0 with
 * CORUN_WORKERS=1 or a single CPU to run on), tasks lock and unlock m
 * without an atomic instruction until a task finds it locked (a wait, a
 * failed try-lock) or another thread (a spare worker, a thread that is
 * not a worker) uses it; from then on, for the life of m, each costs one
 * as usual, and that first use from another thread costs one
 * membarrier(2) system call. If a seccomp policy denies membarrier(2)
 * after corun_main started, that first use waits until the worker passes
 * through its scheduler: a task that keeps the worker in a loop waiting
 * for that other thread hangs the two. */
CORUN_API int corun_mutex_lock(corun_mutex *m, int64_t deadline);
/* Unlocks m. Any task (or thread) may unlock it; corun does not record
 * the owner. Errors: -EINVAL m is NULL; -EPERM m is not locked. */
CORUN_API int corun_mutex_unlock(corun_mutex *m);

/* Creates a condition variable. Errors: -EINVAL c is NULL; -ENOMEM. */
CORUN_API int corun_cond_make(corun_cond **c);
/* Frees c. Errors: -EINVAL c is NULL; -EBUSY a task waits on it. */
CORUN_API int corun_cond_free(corun_cond *c);
/* Unlocks m (which the caller holds), waits for a signal or the
 * deadline, and locks m again before returning 0. On -ETIMEDOUT and
 * -ECANCELED m is locked again too (re-locking ignores the cancellation
 * and waits its FIFO turn). A deadline of 0 returns -ETIMEDOUT at once
 * without unlocking m.
 * Errors: -EINVAL c or m is NULL; -ETIMEDOUT; -ECANCELED; -EPERM m is not
 *         locked, or not called from a task. */
CORUN_API int corun_cond_wait(corun_cond *c, corun_mutex *m,
                              int64_t deadline);
/* Wakes the longest waiter, if any. Errors: -EINVAL c is NULL. */
CORUN_API int corun_cond_signal(corun_cond *c);
/* Wakes every waiter. Errors: -EINVAL c is NULL. */
CORUN_API int corun_cond_broadcast(corun_cond *c);

/* Creates a counting semaphore with `value` permits.
 * Errors: -EINVAL s is NULL; -ENOMEM. */
CORUN_API int corun_sem_make(corun_sem **s, unsigned value);
/* Frees s. Errors: -EINVAL s is NULL; -EBUSY a task waits on it. */
CORUN_API int corun_sem_free(corun_sem *s);
/* Takes a permit, waiting until deadline. Returns 0.
 * Errors: -EINVAL s is NULL; -EAGAIN, -ETIMEDOUT, -ECANCELED, -EPERM. */
CORUN_API int corun_sem_acquire(corun_sem *s, int64_t deadline);
/* Gives a permit back (to the longest waiter, if any).
 * Errors: -EINVAL s is NULL; -EOVERFLOW too many permits. */
CORUN_API int corun_sem_release(corun_sem *s);

/* Creates a wait group with a count of 0. Errors: -EINVAL; -ENOMEM. */
CORUN_API int corun_wg_make(corun_wg **wg);
/* Frees wg. Errors: -EINVAL wg is NULL; -EBUSY a task waits on it. */
CORUN_API int corun_wg_free(corun_wg *wg);
/* Adds delta (may be negative) to the count; at 0 every waiter wakes.
 * Errors: -EINVAL wg is NULL; -ERANGE the count would go below 0 or above
 *         INT64_MAX (it is unchanged). */
CORUN_API int corun_wg_add(corun_wg *wg, int64_t delta);
/* corun_wg_add(wg, -1). */
CORUN_API int corun_wg_done(corun_wg *wg);
/* Waits until the count is 0. Returns 0.
 * Errors: -EINVAL wg is NULL; -EAGAIN, -ETIMEDOUT, -ECANCELED, -EPERM. */
CORUN_API int corun_wg_wait(corun_wg *wg, int64_t deadline);

/* Runs an initialisation exactly once, however many tasks race for it. */
typedef struct corun_once {
  int state;    /* private: 0 not run, 1 running, 2 done */
  void *waiter; /* private */
} corun_once;
#define CORUN_ONCE_INIT {0, 0}
/* Calls fn(arg) if no call on `once` has yet; other callers wait (parked)
 * until it has returned. Returns 0.
 * Errors: -EINVAL once or fn is NULL; -EPERM a caller would have to wait
 *         outside a task; -ECANCELED the waiting task was cancelled while
 *         fn still runs (fn's effects may not be visible yet). */
CORUN_API int corun_once_do(corun_once *once, void (*fn)(void *arg),
                            void *arg);

/* ---------------------------------------------------------------------
 * Layer io: blocking-style IO for tasks
 *
 * Each call behaves like the system call it is named after, except that
 * inside a task it never blocks the worker thread: when the call would
 * block, the task parks until the fd is ready or the deadline passes, and
 * other tasks run meanwhile. The fd is switched to O_NONBLOCK at its first
 * use. Results: the system call's (a count, or 0) on success, -errno on
 * failure; errno is left alone. Partial reads and writes behave as the
 * system calls do (corun_write_all loops).
 * Writes to sockets never raise SIGPIPE: a peer that has gone gives
 * -EPIPE (corun_write is send(2) with MSG_NOSIGNAL on a socket).
 * Regular files, which never say EAGAIN but may block on the disk, are
 * read and written through io_uring or a helper thread.
 * The calls that take socket flags (recv, send, recvfrom, sendto,
 * recvmsg, sendmsg) pass them to the kernel; MSG_DONTWAIT makes the call
 * one try that never waits, as deadline 0 does, whatever its deadline,
 * and so do MSG_OOB and MSG_ERRQUEUE on a receive (the kernel never
 * blocks in those).
 * Common errors: -ETIMEDOUT (deadline), -ECANCELED (task cancelled),
 * -EAGAIN (deadline 0 or one of those flags, and it would block), -EPERM
 * (not in a task: an error, never a hang), -EBADF (corun_close()d while
 * waiting), -EBUSY (another task already waits on this fd in the same
 * direction), and the system call's own.
 * An fd used with these calls must be closed with corun_close(), which
 * wakes tasks waiting on it; a new fd that reuses the number starts clean.
 * corun switches a socket or pipe to O_NONBLOCK once, at its first use: a
 * program that clears the flag again (fcntl F_SETFL) must set it again
 * before its next corun call on the fd, or that call blocks the worker
 * (libcorun_hook does this for the program's own F_SETFL).
 *
 * Behind it: io_uring where the kernel allows it (the whole request is
 * submitted and the task parks until it completes), else epoll,
 * edge-triggered; under Valgrind epoll, whose system calls memcheck can
 * check. CORUN_POLLER=epoll or CORUN_POLLER=uring in the
 * environment forces one (forcing io_uring where it cannot start makes IO
 * calls fail with -ENOSYS; CORUN_POLLER=uring-basic, for tests, sets
 * io_uring up as on kernels before 5.18). With io_uring, a buffer stays the
 * kernel's until the request completes: a call cut short by its deadline or a
 * cancel first cancels the request and waits for it, and if the request
 * completed anyway, returns its result (no data is lost).
 * With io_uring a send on a socket (corun_write, corun_send, ...) that
 * may wait goes to the kernel in a batch with other tasks' requests: the
 * task parks until then even when the socket has room, and other tasks
 * run meanwhile. The batch is handed over between tasks once its first
 * request has waited 20 us, and before a worker sleeps; a task that
 * computes for long without parking holds it up that long, unless
 * another worker goes from one task to the next meanwhile. Such a send
 * with another task already waiting to send on the fd is made at once
 * instead, and does not fail with -EBUSY when the socket has room.
 * ------------------------------------------------------------------- */

/* For corun_wait_fd. */
#define CORUN_FD_IN 1
#define CORUN_FD_OUT 2

/* Waits until fd is readable (CORUN_FD_IN) or writable (CORUN_FD_OUT).
 * Returns 0. Errors: -EINVAL bad events; the common ones above. */
CORUN_API int corun_wait_fd(int fd, int events, int64_t deadline);
/* read(2). */
CORUN_API ssize_t corun_read(int fd, void *buf, size_t n, int64_t deadline);
/* write(2) (on a socket: send(2) with MSG_NOSIGNAL). */
CORUN_API ssize_t corun_write(int fd, const void *buf, size_t n,
                              int64_t deadline);
/* Writes all n bytes unless an error comes first; returns n, or the bytes
 * written before the error if any were, else the error. */
CORUN_API ssize_t corun_write_all(int fd, const void *buf, size_t n,
                                  int64_t deadline);
/* pread(2): at offset off (-EINVAL if negative), the file position
 * unchanged. */
CORUN_API ssize_t corun_pread(int fd, void *buf, size_t n, off_t off,
                              int64_t deadline);
/* pwrite(2): at offset off (-EINVAL if negative). */
CORUN_API ssize_t corun_pwrite(int fd, const void *buf, size_t n, off_t off,
                               int64_t deadline);
/* readv(2): -EINVAL if iovcnt is negative or above IOV_MAX. */
CORUN_API ssize_t corun_readv(int fd, const struct iovec *iov, int iovcnt,
                              int64_t deadline);
/* writev(2) (on a socket: sendmsg(2) with MSG_NOSIGNAL): -EINVAL if
 * iovcnt is negative or above IOV_MAX, on a socket too. */
CORUN_API ssize_t corun_writev(int fd, const struct iovec *iov, int iovcnt,
                               int64_t deadline);
/* recv(2). */
CORUN_API ssize_t corun_recv(int fd, void *buf, size_t n, int flags,
                             int64_t deadline);
/* send(2), with MSG_NOSIGNAL (a closed peer gives -EPIPE, no SIGPIPE). */
CORUN_API ssize_t corun_send(int fd, const void *buf, size_t n, int flags,
                             int64_t deadline);
/* recvfrom(2): the sender's address in sa (*salen: its size, updated;
 * sa may be NULL). -EFAULT if sa is given without salen. */
CORUN_API ssize_t corun_recvfrom(int fd, void *buf, size_t n, int flags,
                                 struct sockaddr *sa, socklen_t *salen,
                                 int64_t deadline);
/* sendto(2), with MSG_NOSIGNAL. */
CORUN_API ssize_t corun_sendto(int fd, const void *buf, size_t n, int flags,
                               const struct sockaddr *sa, socklen_t salen,
                               int64_t deadline);
/* accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC: returns the new fd. */
CORUN_API int corun_accept(int fd, struct sockaddr *sa, socklen_t *len,
                           int64_t deadline);
/* connect(2) on a socket, waiting for the handshake. Returns 0.
 * A Unix-domain listener whose backlog is full makes connect(2) say
 * EAGAIN, and nothing signals when it has room: the connect is tried
 * again after pauses of 1 ms growing to 16 ms, until the deadline.
 * Errors: the common ones; -EINPROGRESS with deadline 0 (the handshake
 * goes on: corun_wait_fd(fd, CORUN_FD_OUT) then SO_ERROR); -EAGAIN with
 * deadline 0 on a Unix-domain socket whose listener's backlog is full;
 * -ECONNREFUSED and connect(2)'s others. */
CORUN_API int corun_connect(int fd, const struct sockaddr *sa, socklen_t len,
                            int64_t deadline);
/* recvmsg(2). */
CORUN_API ssize_t corun_recvmsg(int fd, struct msghdr *msg, int flags,
                                int64_t deadline);
/* sendmsg(2), with MSG_NOSIGNAL. */
CORUN_API ssize_t corun_sendmsg(int fd, const struct msghdr *msg, int flags,
                                int64_t deadline);
/* Wakes every task waiting on fd (their calls return -EBADF), forgets it,
 * and close(2)s it. Returns 0 or close(2)'s -errno.
 * Only tasks already waiting are woken: a task that is about to use fd
 * (not parked yet) may then use a new fd that reuses the number. Stop
 * such tasks first (corun_cancel, or shutdown(2) on a listening socket,
 * then join) when fds are closed under them. A regular file's calls
 * (also block devices, directories, character devices epoll refuses)
 * that other tasks began before corun_close are never made on a file
 * that gets the number next: one still waiting for a helper thread fails
 * with -EBADF, as a call made after the close; one the kernel has started
 * ends as after a close(2) in another thread, on the file it was made on
 * (corun_close waits for such calls on helper threads, parked and not
 * cancellable: on a slow disk, for their IO; on a device whose read never
 * returns, for ever). A file call that begins while corun_close runs
 * fails with -EBADF, except in the last instants before close(2): the
 * race above. */
CORUN_API int corun_close(int fd);
/* Wakes every task waiting on fd (their calls return -EBADF) and forgets
 * fd, without closing it: for code that closes or replaces fds by other
 * means (dup2 onto it, a library's own close). Waits for a regular file's
 * calls as corun_close does. */
CORUN_API void corun_fd_release(int fd);

/* Runs fn(arg) on one of corun's helper threads while the calling task
 * parks: for calls that block with no fd to wait on (a resolver, a
 * library's blocking call, heavy file work). A call that finds every
 * helper busy starts another, up to 64 running at once (more wait their
 * turn), so offloaded calls that wait for each other do not deadlock
 * below that; helpers stay until corun_main returns. It waits for fn to
 * return whatever happens, since fn may use the task's memory: a cancel
 * takes effect at the task's next blocking call. A task on a shared stack
 * runs fn itself, on its worker (its stack may be swapped out while it
 * waits).
 * Returns 0 once fn has run. Errors: -EINVAL fn is NULL; -EPERM not in a
 * task; -EAGAIN or -ENOMEM no helper thread could start. */
CORUN_API int corun_offload(void (*fn)(void *arg), void *arg);

/* ---------------------------------------------------------------------
 * Layer hook: libcorun_hook (optional)
 *
 * Linked (or LD_PRELOADed), libcorun_hook interposes libc's blocking
 * calls (socket IO, poll, select, sleeps, connect, accept, name lookups,
 * pread/pwrite): inside a task they park the task instead of blocking
 * the worker, honouring the program's O_NONBLOCK, SO_RCVTIMEO and
 * SO_SNDTIMEO and setting errno as libc would; outside a task they are
 * libc's. See README.md, "Hooks".
 * ------------------------------------------------------------------- */

/* Turns the calling task's hooks on (nonzero) or off (0): with them off,
 * every hooked call behaves exactly as libc's. Tasks start with hooks on.
 * Returns the previous setting (as corun_hooks_enabled), or -EPERM
 * outside a task.
 * Without libcorun_hook it has no other effect. */
CORUN_API int corun_hooks_set(int enabled);
/* Keeps the calling task on the worker thread it runs on now (on != 0)
 * until the matching corun_pin(0); calls nest. For code that keeps a
 * thread's state across a blocking call: libcorun_hook pins a task for
 * each hooked call, because compilers may compute errno's address once,
 * before the call (glibc declares it const), and a task that woke on
 * another thread would then read that thread's errno. Returns 0, or
 * -EPERM outside a task. */
CORUN_API int corun_pin(int on);
/* The calling task's setting: 1 on, 0 off, -EPERM outside a task; 2
 * while corun itself makes a system call for the task (libcorun_hook
 * passes such calls to the kernel untouched). */
CORUN_API int corun_hooks_enabled(void);

/* A listening TCP socket on host:port (host NULL or "": every local
 * address, IPv4 and IPv6 on one socket bound to :: with IPV6_V6ONLY off,
 * whose accepted IPv4 clients' addresses read as ::ffff:a.b.c.d
 * (AF_INET6: pass a struct sockaddr_storage to corun_accept); where ::
 * cannot be bound (no IPv6), 0.0.0.0; port 0: any free port, see
 * getsockname(2)), with SO_REUSEADDR and the given backlog (0 or less:
 * SOMAXCONN). Stores the fd in
 * *fd and returns 0. Names are looked up on a helper thread, never on a worker.
 * Errors: -EINVAL fd is NULL or port out of range; -ENOENT no such host;
 *         -EAGAIN temporary lookup failure; -EIO the lookup failed;
 *         -EPERM a host name (not an address) outside a task;
 *         bind(2)'s and listen(2)'s. */
CORUN_API int corun_tcp_listen(const char *host, int port, int backlog,
                               int *fd);

/* A TCP connection to host:port, trying each address the name resolves to
 * until one accepts; TCP_NODELAY is set. Stores the fd in *fd, returns 0.
 * Errors: -EINVAL; -ENOENT no such host; -ECONNREFUSED and connect(2)'s;
 *         -EAGAIN with deadline 0 (a handshake always has to be waited
 *         for: nothing is looked up or started); -ETIMEDOUT, -ECANCELED, -EPERM
 * (not in a task) as above. */
CORUN_API int corun_tcp_dial(const char *host, int port, int64_t deadline,
                             int *fd);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CORUN_H */
