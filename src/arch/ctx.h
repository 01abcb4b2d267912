/* ctx.h: the context-switch primitive, the only contract between C and the
 * per-architecture assembly.
 * Layer: arch (includes nothing of corun; implemented by exactly one of
 * the assembly files (x86_64_sysv_elf.S, aarch64_aapcs_elf.S,
 * riscv64_lp64d_elf.S, by target) or ucontext.c, chosen by CMake's
 * CORUN_CONTEXT).
 *
 * A context is an opaque pointer; for the assembly backends it is the saved
 * stack pointer of a suspended stack (Boost.Context's fcontext idea), so no C
 * struct mirrors assembly offsets. There is no "current context" global:
 * each switch stores the context it leaves through a pointer its caller
 * gives, and delivers one pointer of data to the context it resumes.
 *
 * Invariants:
 *  - A context may be switched to at most once: switching consumes it. The
 *    side that was left is described by the context stored in *save.
 *  - *save is written only after everything the switch keeps on the old
 *    stack is stored, and the switch does not touch the old stack after
 *    that store; another thread may resume the saved context as soon as it
 *    can see it (the scheduler makes sure it cannot before the switch).
 *  - `entry` must never return (the trampoline aborts if it does); a
 *    finished coroutine switches away for good instead.
 *  - The saved state is the callee-saved set of the ABI plus the
 *    floating-point control state (x86-64: MXCSR's control bits and the
 *    x87 control word); the exception flags are the thread's, not the
 *    context's, on the assembly backends (the ucontext backend restores
 *    them); the signal mask is not touched by assembly backends. */
#ifndef CORUN_ARCH_CTX_H
#define CORUN_ARCH_CTX_H

#include <stddef.h>

typedef void *corun__ctx;

/* The first function of a new context: `data` is that of the first switch
 * to it, `a` and `b` the words given to corun__ctx_make. */
typedef void corun__ctx_entry(void *data, void *a, void *b);

/* Prepares a context that starts entry(data, a, b) on the stack whose
 * highest address is stack_top and whose size is `size` bytes, and returns
 * it. `a` and `b` travel in callee-saved register slots of the first frame,
 * so they cost no memory beyond that frame (the coroutine layer passes the
 * body and its argument this way instead of keeping them in its object).
 * The new context starts with the floating-point control state of the
 * caller of corun__ctx_make (as a new thread inherits its creator's). */
corun__ctx corun__ctx_make(void *stack_top, size_t size,
                           corun__ctx_entry *entry, void *a, void *b);

/* Saves the running context in *save, switches to `to` and makes the switch
 * that `to` is suspended in return `data` (or starts `to`'s entry with it).
 * Returns, when some later switch resumes the saved context, that switch's
 * `data`.
 * Under Intel IBT the return lands through an indirect jmp, so the compiler
 * must put an endbr64 after each call: returns_twice does that. */
#if defined(__CET__) && (__CET__ & 1)
#define CORUN__CTX_RETURNS_TWICE __attribute__((returns_twice))
#else
#define CORUN__CTX_RETURNS_TWICE
#endif
CORUN__CTX_RETURNS_TWICE void *corun__ctx_switch(corun__ctx *save,
                                                 corun__ctx to, void *data);

/* The same switch, typed to return the low 32 bits of `data` as an int, so
 * that a function returning int can end with a tail call to it (the saved
 * resume address is then that function's caller: see the backend's header
 * for why that matters). */
CORUN__CTX_RETURNS_TWICE int corun__ctx_switch_int(corun__ctx *save,
                                                   corun__ctx to, void *data);

/* corun__ctx_switch, after which, on `to`'s stack and before `to` resumes,
 * fn(arg) runs: for work that may only be done once the context left is
 * saved (another thread may resume it from then on) and before anything
 * else runs on this thread. fn runs with `to`'s callee-saved registers in
 * place and must return. The assembly backends have it (x86-64, AArch64,
 * RISC-V 64: CORUN__CTX_HAVE_ONTOP), the ucontext backend does not; its
 * callers have a way without it. */
#if (defined(__x86_64__) || defined(__aarch64__) ||                            \
     (defined(__riscv) && __riscv_xlen == 64)) &&                              \
    !defined(CORUN_CONTEXT_UCONTEXT)
#define CORUN__CTX_HAVE_ONTOP 1
CORUN__CTX_RETURNS_TWICE void *
corun__ctx_switch_ontop(corun__ctx *save, corun__ctx to, void *data,
                        void (*fn)(void *), void *arg);
#else
#define CORUN__CTX_HAVE_ONTOP 0
#endif

/* An upper bound of the stack bytes the switching itself takes from a
 * coroutine's stack: the frame corun__ctx_make writes at the top, plus
 * what a suspended switch keeps in its frame. The assembly backends need a
 * few dozen bytes; ucontext needs a whole ucontext_t at the top and another
 * in every suspended corun__ctx_switch frame (4.6 KiB each on AArch64,
 * whose mcontext carries the SIMD state). */
#ifdef CORUN_CONTEXT_UCONTEXT
#include <ucontext.h>
#define CORUN__CTX_TOP_BYTES (2 * sizeof(ucontext_t) + 256)
#else
#define CORUN__CTX_TOP_BYTES ((size_t)256)
#endif

/* Bytes of the frame a suspended switch keeps at its saved stack pointer
 * (the frame tables of the assembly files), for sizing buffers that hold a
 * suspended context's live stack. */
#if defined(__x86_64__)
#define CORUN__CTX_FRAME_BYTES 64
#elif defined(__aarch64__)
#define CORUN__CTX_FRAME_BYTES 176
#elif defined(__riscv)
#define CORUN__CTX_FRAME_BYTES 208
#else
#define CORUN__CTX_FRAME_BYTES 256
#endif

/* The name of the backend compiled in: "x86_64-sysv", "ucontext", ... */
extern const char corun__ctx_backend[];

#endif
