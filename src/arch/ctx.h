/* ctx.h: the context-switch primitive, the only contract between C and the
 * per-architecture assembly.
 * Layer: arch (includes nothing of corun; implemented by exactly one of
 * x86_64_sysv_elf.S or ucontext.c, chosen by CMake's CORUN_CONTEXT).
 *
 * A context is an opaque pointer; for the assembly backends it is the saved
 * stack pointer of a suspended stack (Boost.Context's fcontext idea), so no C
 * struct mirrors assembly offsets. There is no "current context" global:
 * each jump returns, on the side that is resumed, the context that was just
 * left (`from`) and one pointer of data.
 *
 * Invariants:
 *  - A context may be jumped to at most once: jumping consumes it. The side
 *    that was left is described by the `from` its resumer receives.
 *  - `entry` must never return (the trampoline aborts if it does); a
 *    finished coroutine jumps away for good instead.
 *  - The saved state is the callee-saved set of the ABI plus the
 *    floating-point control state (x86-64: MXCSR control bits and the x87
 *    control word); the signal mask is not touched by assembly backends. */
#ifndef CORUN_ARCH_CTX_H
#define CORUN_ARCH_CTX_H

#include <stddef.h>

typedef void *corun__ctx;

/* What a jump delivers to the side it resumes. Two pointers: returned in
 * rax:rdx on x86-64 and passed to `entry` in rdi:rsi (psABI 3.2.3, a
 * 16-byte struct of class INTEGER). */
struct corun__xfer {
  corun__ctx from; /* the context just left, to be jumped to later */
  void *data;      /* the `data` argument of that jump */
};

/* Prepares a context that starts entry(xfer) on the stack whose highest
 * address is stack_top and whose size is `size` bytes, and returns it. The
 * first jump to it calls entry with that jump's {from, data}. The new
 * context starts with the floating-point control state of the caller of
 * corun__ctx_make (as a new thread inherits its creator's). */
corun__ctx corun__ctx_make(void *stack_top, size_t size,
                           void (*entry)(struct corun__xfer));

/* Saves the running context, switches to `to` and delivers
 * {saved context, data} to it. Returns when some other jump resumes the
 * saved context, with that jump's {from, data}.
 * Under Intel IBT the return lands through an indirect jmp, so the
 * compiler must put an endbr64 after each call: returns_twice does that. */
#if defined(__CET__) && (__CET__ & 1)
__attribute__((returns_twice))
#endif
struct corun__xfer
corun__ctx_jump(corun__ctx to, void *data);

/* The name of the backend compiled in: "x86_64-sysv", "ucontext", ... */
extern const char corun__ctx_backend[];

#endif
