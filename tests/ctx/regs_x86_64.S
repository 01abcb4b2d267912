/* regs_x86_64.S: test helper for tests/ctx/regs.c (x86-64, System V, ELF).
 *
 *   void regs_run(const uint64_t in[6], uint64_t out[8],
 *                 void (*cb)(void *), void *arg);
 *
 * Loads in[0..5] into the callee-saved registers rbx, rbp, r12, r13, r14,
 * r15, calls cb(arg) with those values in place, then stores what the six
 * registers hold after cb returns into out[0..5], the stack pointer seen
 * just before the call into out[6] and just after it into out[7], restores
 * the caller's registers and returns. cb is C code that switches to another
 * coroutine and back: if the switch preserves the callee-saved set, out[0..5]
 * equals in[0..5] and out[6] equals out[7].
 *
 * ABI: psABI 3.2.1 (rbx, rbp, r12-r15 callee-saved; this function preserves
 * them for its own caller) and 3.2.2 (rsp+8 = 0 mod 16 at entry, so rsp is
 * 0 mod 16 at our `call` after seven 8-byte pushes).
 * The CFI describes where the caller's registers are saved, so unwinders
 * (backtrace(), gdb, valgrind, ASan) can walk through this frame while the
 * registers hold the test patterns. */

        .text
        .globl  regs_run
        .type   regs_run, @function
        .align  16
regs_run:
        .cfi_startproc
        /* Save the caller's callee-saved registers. */
        pushq   %rbp                    /* caller's rbp */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx                    /* caller's rbx */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r12                    /* caller's r12 */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        pushq   %r13                    /* caller's r13 */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r14                    /* caller's r14 */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r15                    /* caller's r15 */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0
        pushq   %rsi                    /* keep `out` across the call; this */
        .cfi_adjust_cfa_offset 8        /* 7th push makes rsp 0 mod 16 */

        movq    %rsp, 0x30(%rsi)        /* out[6] = rsp before the call */
        movq    %rdx, %rax              /* cb: rdx is free after this */
        movq    %rcx, %r8               /* arg, while rdi still holds `in` */
        movq    0x00(%rdi), %rbx        /* load pattern in[0] into rbx */
        movq    0x08(%rdi), %rbp        /* in[1] into rbp */
        movq    0x10(%rdi), %r12        /* in[2] into r12 */
        movq    0x18(%rdi), %r13        /* in[3] into r13 */
        movq    0x20(%rdi), %r14        /* in[4] into r14 */
        movq    0x28(%rdi), %r15        /* in[5] into r15 */
        movq    %r8, %rdi               /* first argument of cb: arg */
        call    *%rax                   /* cb(arg): switches away and back */

        movq    %rsp, %rax              /* rsp after the call (before any use) */
        movq    (%rsp), %rsi            /* reload `out` from our frame */
        movq    %rax, 0x38(%rsi)        /* out[7] = rsp after the call */
        movq    %rbx, 0x00(%rsi)        /* out[0] = rbx as cb left it */
        movq    %rbp, 0x08(%rsi)        /* out[1] = rbp */
        movq    %r12, 0x10(%rsi)        /* out[2] = r12 */
        movq    %r13, 0x18(%rsi)        /* out[3] = r13 */
        movq    %r14, 0x20(%rsi)        /* out[4] = r14 */
        movq    %r15, 0x28(%rsi)        /* out[5] = r15 */

        addq    $8, %rsp                /* drop the saved `out` */
        .cfi_adjust_cfa_offset -8
        popq    %r15                    /* restore the caller's r15 */
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r15
        popq    %r14                    /* r14 */
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r14
        popq    %r13                    /* r13 */
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r13
        popq    %r12                    /* r12 */
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r12
        popq    %rbx                    /* rbx */
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbx
        popq    %rbp                    /* rbp */
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        ret
        .cfi_endproc
        .size   regs_run, .-regs_run

        .section .note.GNU-stack,"",@progbits
