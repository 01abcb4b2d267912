/* ucontext.c: the portable context switch, on POSIX makecontext/swapcontext.
 * Layer: arch. Same contract as the assembly backends (arch/ctx.h); chosen
 * with cmake -DCORUN_CONTEXT=ucontext for CPUs without an assembly file and
 * to cross-check the assembly in tests.
 *
 * Cost: glibc's swapcontext saves and restores the signal mask with a
 * rt_sigprocmask system call on every switch, which is what makes it several
 * times slower than the assembly switch. It also saves the FP environment
 * (x86-64: fnstenv/stmxcsr, restored with fldenv/ldmxcsr), so each context
 * keeps its own rounding mode as arch/ctx.h requires.
 *
 * Limitation: glibc's swapcontext has no unwind information for its
 * instructions after the stack pointer changes, so an unwinder run by a
 * signal handler (a profiler's SIGPROF) that lands there can crash. The
 * assembly backends describe every instruction of their switch.
 *
 * Layout: a context is a `struct uctx`. For a new context it sits at the
 * top of the new stack; for a suspended one it lives in the frame of the
 * corun__ctx_switch call that suspended it, which stays alive until resumed.
 * *save is written before swapcontext fills it in: safe, because nobody may
 * resume the saved context before the switch is over (arch/ctx.h). */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "ctx.h"

const char corun__ctx_backend[] = "ucontext";

struct uctx {
  ucontext_t uc;
  void *data; /* written by the switch that resumes this context */
  corun__ctx_entry *entry;
  void *a, *b; /* the entry's other two arguments */
};

/* makecontext passes only int arguments: the struct's address comes in two
 * 32-bit halves. */
static void trampoline(unsigned hi, unsigned lo) {
  struct uctx *u = (struct uctx *)(((uintptr_t)hi << 16 << 16) | lo);
  u->entry(u->data, u->a, u->b);
  abort(); /* entry never returns (arch/ctx.h) */
}

corun__ctx corun__ctx_make(void *stack_top, size_t size,
                           corun__ctx_entry *entry, void *a, void *b) {
  uintptr_t top = (uintptr_t)stack_top;
  struct uctx *u =
      (struct uctx *)((top - sizeof(struct uctx)) & ~(uintptr_t)63);
  char *lo = (char *)stack_top - size;
  if (getcontext(&u->uc) != 0) /* also captures the FP environment */
    abort();
  u->uc.uc_stack.ss_sp = lo;
  u->uc.uc_stack.ss_size = (size_t)((char *)u - lo);
  u->uc.uc_link = NULL;
  u->entry = entry;
  u->a = a;
  u->b = b;
  uintptr_t addr = (uintptr_t)u;
  makecontext(&u->uc, (void (*)(void))trampoline, 2,
              (unsigned)(addr >> 16 >> 16), (unsigned)(addr & 0xffffffffu));
  return u;
}

void *corun__ctx_switch(corun__ctx *save, corun__ctx to, void *data) {
  struct uctx self; /* this context while suspended */
  struct uctx *target = to;
  *save = &self;
  target->data = data;
  if (swapcontext(&self.uc, &target->uc) != 0)
    abort();
  return self.data;
}

int corun__ctx_switch_int(corun__ctx *save, corun__ctx to, void *data) {
  return (int)(intptr_t)corun__ctx_switch(save, to, data);
}
