/* x86_64_sysv_elf.S: the context switch for x86-64, System V ABI, ELF.
 * Layer: arch. The contract is arch/ctx.h:
 *
 *   corun__ctx corun__ctx_make(void *stack_top, size_t size,
 *                              void (*entry)(struct corun__xfer));
 *   struct corun__xfer corun__ctx_jump(corun__ctx to, void *data);
 *
 * corun__ctx_jump pushes the callee-saved state onto the stack it leaves,
 * makes `to` (a stack pointer saved the same way) the stack pointer,
 * restores the state found there and jumps to the saved resume address,
 * returning {from = the stack pointer it saved, data} in rax:rdx on the new
 * stack. corun__ctx_make writes such a frame on a fresh stack whose resume
 * address is the trampoline, which calls entry(from, data).
 *
 * ABI reference: System V Application Binary Interface, AMD64 Architecture
 * Processor Supplement, version 1.0 (the x86-64 psABI):
 *  - 3.2.1, Figure 3.4 "Register Usage": rbx, rbp, r12-r15 are preserved
 *    across calls (callee-saved); rsp is the stack pointer. "The control
 *    bits of the MXCSR register are callee-saved (preserved across calls),
 *    while the status bits are caller-saved. The x87 status word register
 *    is caller-saved, whereas the x87 control word is callee-saved."
 *    DF must be clear on entry and return: it is clear here (no string
 *    instructions, and the caller's DF is clear by the same rule).
 *  - 3.2.2 "The Stack Frame": rsp+8 is a multiple of 16 at function entry;
 *    the 128-byte red zone below rsp belongs to leaf functions and is not
 *    touched by signal handlers.
 *  - 3.2.3 "Parameter Passing": a 16-byte struct of two INTEGER eightbytes
 *    (struct corun__xfer) is passed in rdi:rsi and returned in rax:rdx.
 *
 * Saved set, and why:
 *  - rbx, rbp, r12, r13, r14, r15: callee-saved general registers.
 *  - rsp: it *is* the context (the value returned as `from`).
 *  - The resume address: the return address pushed by the caller's `call`.
 *  - MXCSR (control bits) and the x87 control word: callee-saved (above),
 *    so a coroutine that changes its rounding mode or FTZ/DAZ must not leak
 *    them into another. They are stored at every switch and reloaded only
 *    when the incoming value differs from the outgoing one: ldmxcsr/fldcw
 *    are slow (they serialise parts of the FP pipeline), while a compare is
 *    one cycle. Each field is compared with a load of its own size (4 bytes,
 *    2 bytes) so that the loads forward from the stmxcsr/fnstcw stores; a
 *    single 8-byte load of both would stall store forwarding (DESIGN.md:
 *    5.2 ns per round trip with the conditional reload against ~60 ns when
 *    reloading always). Only MXCSR bits 6-15 (DAZ, exception masks, rounding
 *    control, FZ) are compared; bits 0-5 are the status flags, caller-saved.
 *  Not saved, deliberately:
 *  - rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-15, ymm/zmm, k0-7, flags: caller-
 *    saved, so the C caller of corun__ctx_jump has already assumed them lost.
 *  - The x87 register stack: empty at every call boundary (3.2.1).
 *  - The signal mask: a system call per switch (what makes swapcontext slow),
 *    and per-thread in any case.
 *  - fs (the thread pointer): a coroutine runs on whatever thread resumes it.
 *  - The red zone: corun__ctx_jump is a leaf that uses none of it.
 *
 * Frame table. corun__ctx_jump builds this frame on the stack it leaves; the
 * saved context (the stack pointer) points at offset 0x00. corun__ctx_make
 * builds the same frame on a new stack.
 *
 *   offset  size  content
 *   0x00    4     MXCSR
 *   0x04    2     x87 control word
 *   0x06    2     unused
 *   0x08    8     r12
 *   0x10    8     r13
 *   0x18    8     r14
 *   0x20    8     r15
 *   0x28    8     rbx        (new stack: the entry function)
 *   0x30    8     rbp        (new stack: 0, ends frame-pointer chains)
 *   0x38    8     resume address (new stack: corun__ctx_trampoline)
 *   0x40          the caller's rsp after its call returns (the CFA)
 *
 * Entry invariant: the trampoline starts with rsp a multiple of 16, so its
 * `call` gives entry rsp+8 = 0 mod 16 as 3.2.2 requires. The trampoline's
 * CFI marks the return address undefined, so gdb, backtrace() and the C++
 * unwinder stop at the coroutine's first frame instead of walking into
 * garbage (Boost.Context's make_fcontext does the same).
 *
 * Cost (counted from the code below, common path: FP control unchanged):
 * corun__ctx_jump executes 28 instructions (19 for the save, switch and
 * restore, 9 for the control-word save and compare), plus endbr64 under IBT. Measured figures are
 * in README.md (make bench).
 *
 * Hardening: endbr64 at every indirect-branch target when -fcf-protection
 * asks for IBT (__CET__ bit 0); the final jump is `notrack` in that case.
 * The resume address is reached by `jmp`, not `ret`, so this switch does not
 * support CET shadow stacks, and the file emits no GNU property note: the
 * linker then marks no binary containing it as shadow-stack capable. All
 * symbols are hidden. The stack is not executable (.note.GNU-stack).
 *
 * Why a jmp and not a ret: a `ret` into a different stack always misses the
 * return-stack-buffer prediction; `jmp *%r8` is predicted by the indirect
 * predictor (about 15 ns per round trip here, DESIGN.md). */

#if defined(__CET__) && (__CET__ & 1)
#define CORUN_ENDBR endbr64
#define CORUN_NOTRACK notrack
#else
#define CORUN_ENDBR
#define CORUN_NOTRACK
#endif

/* MXCSR bits that are callee-saved: DAZ(6), masks(7-12), RC(13-14), FZ(15). */
#define MXCSR_CONTROL_BITS 0xffc0

        .text

/* struct corun__xfer corun__ctx_jump(corun__ctx to [rdi], void *data [rsi]) */
        .globl  corun__ctx_jump
        .hidden corun__ctx_jump
        .type   corun__ctx_jump, @function
        .align  16
corun__ctx_jump:
        .cfi_startproc
        CORUN_ENDBR
        /* Room for the frame below the return address the call pushed:
         * 0x38 bytes, so the frame is 0x40 with it. lea leaves flags alone. */
        leaq    -0x38(%rsp), %rsp
        .cfi_def_cfa_offset 0x40
        stmxcsr (%rsp)                  /* save MXCSR */
        fnstcw  0x4(%rsp)               /* save x87 control word */
        movq    %r12, 0x08(%rsp)        /* save r12 */
        .cfi_offset %r12, -0x38
        movq    %r13, 0x10(%rsp)        /* save r13 */
        .cfi_offset %r13, -0x30
        movq    %r14, 0x18(%rsp)        /* save r14 */
        .cfi_offset %r14, -0x28
        movq    %r15, 0x20(%rsp)        /* save r15 */
        .cfi_offset %r15, -0x20
        movq    %rbx, 0x28(%rsp)        /* save rbx */
        .cfi_offset %rbx, -0x18
        movq    %rbp, 0x30(%rsp)        /* save rbp */
        .cfi_offset %rbp, -0x10

        movq    %rsp, %rax              /* xfer.from = the frame just built */
        movq    %rdi, %rsp              /* the switch: now on `to`'s stack */
        /* The frame on the new stack has the same layout, so the CFI above
         * (CFA = rsp + 0x40, registers in their slots) stays true for it. */
        .cfi_remember_state

        /* MXCSR: reload only if a control bit differs from the outgoing
         * value, which (%rax) still holds. 4-byte loads and compares. */
        movl    (%rsp), %r10d           /* incoming MXCSR */
        xorl    (%rax), %r10d           /* bits that differ */
        testl   $MXCSR_CONTROL_BITS, %r10d
        jnz     .Lload_mxcsr
.Lmxcsr_done:
        /* x87 control word: 2-byte load and compare. */
        movzwl  0x4(%rsp), %r10d        /* incoming control word */
        cmpw    0x4(%rax), %r10w        /* same as outgoing? */
        jne     .Lload_x87cw
.Lx87cw_done:
        movq    0x08(%rsp), %r12        /* restore r12 */
        .cfi_restore %r12
        movq    0x10(%rsp), %r13        /* restore r13 */
        .cfi_restore %r13
        movq    0x18(%rsp), %r14        /* restore r14 */
        .cfi_restore %r14
        movq    0x20(%rsp), %r15        /* restore r15 */
        .cfi_restore %r15
        movq    0x28(%rsp), %rbx        /* restore rbx */
        .cfi_restore %rbx
        movq    0x30(%rsp), %rbp        /* restore rbp */
        .cfi_restore %rbp
        movq    0x38(%rsp), %r8         /* resume address */
        .cfi_register %rip, %r8
        leaq    0x40(%rsp), %rsp        /* pop the frame and the address */
        .cfi_def_cfa_offset 0
        movq    %rsi, %rdx              /* xfer.data = data */
        CORUN_NOTRACK jmp *%r8          /* resume; rax:rdx = {from, data} */

        /* Out-of-line reloads, taken only when the control state differs.
         * Their unwind state is the one right after the switch. */
        .cfi_restore_state
.Lload_mxcsr:
        ldmxcsr (%rsp)                  /* incoming MXCSR */
        jmp     .Lmxcsr_done
.Lload_x87cw:
        fldcw   0x4(%rsp)               /* incoming x87 control word */
        jmp     .Lx87cw_done
        .cfi_endproc
        .size   corun__ctx_jump, .-corun__ctx_jump

/* corun__ctx corun__ctx_make(void *stack_top [rdi], size_t size [rsi],
 *                            void (*entry)(struct corun__xfer) [rdx])
 * Writes the frame table above at the top of the new stack and returns its
 * address. `size` is not needed here: the frame uses 0x50 bytes at the top. */
        .globl  corun__ctx_make
        .hidden corun__ctx_make
        .type   corun__ctx_make, @function
        .align  16
corun__ctx_make:
        .cfi_startproc
        CORUN_ENDBR
        movq    %rdi, %rax
        andq    $-16, %rax              /* 16-byte aligned top */
        /* Frame at top-0x50: after the switch pops it (0x40 bytes) rsp is
         * top-0x10, a multiple of 16, as the trampoline needs. The 16 bytes
         * above hold zeros: a null return address and frame pointer for
         * naive frame-pointer walkers. */
        leaq    -0x50(%rax), %rax
        stmxcsr (%rax)                  /* inherit the caller's MXCSR */
        fnstcw  0x4(%rax)               /* and x87 control word */
        movw    $0, 0x6(%rax)           /* unused slot, keep it defined */
        xorl    %ecx, %ecx
        movq    %rcx, 0x08(%rax)        /* r12 = 0 */
        movq    %rcx, 0x10(%rax)        /* r13 = 0 */
        movq    %rcx, 0x18(%rax)        /* r14 = 0 */
        movq    %rcx, 0x20(%rax)        /* r15 = 0 */
        movq    %rdx, 0x28(%rax)        /* rbx = entry, for the trampoline */
        movq    %rcx, 0x30(%rax)        /* rbp = 0: end of frame chain */
        leaq    corun__ctx_trampoline(%rip), %rdx
        movq    %rdx, 0x38(%rax)        /* resume address = trampoline */
        movq    %rcx, 0x40(%rax)        /* zero terminator above the frame */
        movq    %rcx, 0x48(%rax)
        ret
        .cfi_endproc
        .size   corun__ctx_make, .-corun__ctx_make

/* First code of every new context, reached by the `jmp *%r8` of
 * corun__ctx_jump with rax:rdx = {from, data}, rbx = entry, rbp = 0 and
 * rsp = 0 mod 16. Calls entry({from, data}); entry never returns. */
        .globl  corun__ctx_trampoline
        .hidden corun__ctx_trampoline
        .type   corun__ctx_trampoline, @function
        .align  16
corun__ctx_trampoline:
        .cfi_startproc
        /* Unwinders stop here: there is no caller frame to return to. */
        .cfi_undefined %rip
        CORUN_ENDBR
        movq    %rax, %rdi              /* xfer.from */
        movq    %rdx, %rsi              /* xfer.data */
        call    *%rbx                   /* entry(xfer) */
        /* entry returned: a broken invariant of the layer above. */
        call    abort@PLT
        ud2
        .cfi_endproc
        .size   corun__ctx_trampoline, .-corun__ctx_trampoline

        .section .rodata
        .globl  corun__ctx_backend
        .hidden corun__ctx_backend
        .type   corun__ctx_backend, @object
corun__ctx_backend:
        .asciz  "x86_64-sysv"
        .size   corun__ctx_backend, .-corun__ctx_backend

        .section .note.GNU-stack,"",@progbits
