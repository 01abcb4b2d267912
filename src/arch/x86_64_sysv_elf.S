/* x86_64_sysv_elf.S: the context switch for x86-64, System V ABI, ELF.
 * Layer: arch. The contract is arch/ctx.h:
 *
 *   corun__ctx corun__ctx_make(void *stack_top, size_t size,
 *                              corun__ctx_entry *entry, void *a, void *b);
 *   void *corun__ctx_switch(corun__ctx *save, corun__ctx to, void *data);
 *   int corun__ctx_switch_int(corun__ctx *save, corun__ctx to, void *data);
 *
 * corun__ctx_switch pushes the callee-saved state onto the stack it leaves,
 * stores that stack pointer (the context) in *save, makes `to` (a stack
 * pointer saved the same way) the stack pointer, restores the state found
 * there and jumps to the saved resume address with rax = data: the pending
 * switch of the resumed context returns data. corun__ctx_switch_int is the
 * same code under a second name whose C type returns int (the low 32 bits
 * of data, eax), so that int-returning callers can tail-call it.
 * corun__ctx_make writes such a frame on a fresh stack whose resume address
 * is the trampoline, which calls entry(data, a, b).
 *
 * Why a save slot instead of returning the old context to the other side
 * (Boost's jump_fcontext returns {from, data}): the coroutine layer can then
 * tail-call the switch from corun_resume and corun_yield, so the resume
 * address saved is the user's own call site and the switch jumps straight
 * back to it. No `ret` runs between two switches, so the return-stack
 * buffer, which every cross-stack switch leaves unbalanced, mispredicts
 * nothing. Measured here: resume+yield round trip 28 ns when the C
 * functions call the switch and return after it, 11 ns with tail calls.
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
 *  - 3.2.3 "Parameter Passing": arguments in rdi, rsi, rdx; a pointer or
 *    int result in rax/eax.
 *
 * Saved set, and why:
 *  - rbx, rbp, r12, r13, r14, r15: callee-saved general registers.
 *  - rsp: it *is* the context (the value stored in *save).
 *  - The resume address: the return address pushed by the caller's `call`.
 *  - MXCSR (control bits) and the x87 control word: callee-saved (above),
 *    so a coroutine that changes its rounding mode or FTZ/DAZ must not leak
 *    them into another. Both are stored at every switch and reloaded only
 *    when the incoming context's control bits differ from the outgoing
 *    ones: a read-back of each value just stored, a compare, and a branch
 *    almost never taken.
 *  - MXCSR's status flags (bits 0-5, the sticky exception flags) are
 *    caller-saved, so any value is correct after a switch; corun keeps the
 *    ones in effect, so all contexts of a thread share them, as a caller
 *    shares them with its callees (and as the AArch64 and RISC-V switches
 *    do). The slow path loads the incoming control bits with the current
 *    flags. Why not restore each context's own flags: on Intel Xeon (the
 *    VM of 24 Nov 2026), an ldmxcsr that changes MXCSR costs about 50 ns,
 *    and the flags differ between two contexts as soon as one of them
 *    does a floating-point operation with an inexact result. Measured
 *    with bench_corun (the harness's own arithmetic leaves PE set in main,
 *    while a context made before it has it clear), raw round trip, median
 *    of 11 repetitions, same machine:
 *       ldmxcsr always (per-context flags, Boost's way)   104 ns
 *       compare control bits only, ldmxcsr if they differ  4.5 ns
 *       Boost's jump_fcontext pair in the same conditions  104 ns
 *    A scratch program bouncing two contexts with PE set or clear in
 *    main: 7.4 ns (flags equal) and 103 ns (different) for the first
 *    line, 4.5 and 4.5 ns for the second: the cost is the change, not the
 *    instruction. On the AMD EPYC (Zen 5) VM of earlier sessions the
 *    read-back of the stmxcsr store did not forward and stalled: comparing
 *    both control values measured 13.9 ns a round trip against 9.9 for
 *    the unconditional ldmxcsr (flags equal; whether a changing ldmxcsr is
 *    slow there too was not measured). This file takes that risk of a few
 *    ns over a certain 100 ns on Intel. The read-back comes last before
 *    the switch, after six other stores, to give stmxcsr time to
 *    complete.
 *  Not saved, deliberately:
 *  - rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-15, ymm/zmm, k0-7, flags: caller-
 *    saved, so the C caller of corun__ctx_jump has already assumed them lost.
 *  - The x87 register stack: empty at every call boundary (3.2.1).
 *  - The signal mask: a system call per switch (what makes swapcontext slow),
 *    and per-thread in any case.
 *  - fs (the thread pointer): a coroutine runs on whatever thread resumes it.
 *  - The red zone: corun__ctx_jump is a leaf that uses none of it.
 *
 * Frame table. corun__ctx_switch builds this frame on the stack it leaves;
 * the saved context (the stack pointer) points at offset 0x00.
 * corun__ctx_make builds the same frame on a new stack.
 *
 *   offset  size  content
 *   0x00    4     MXCSR
 *   0x04    2     x87 control word
 *   0x06    2     unused
 *   0x08    8     r12        (new stack: the entry's argument a)
 *   0x10    8     r13        (new stack: the entry's argument b)
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
 * Publication: *save is written after the whole frame is stored, and after
 * that store the code never touches the old stack again (the outgoing x87
 * control word is read into a register first). So once a scheduler hands
 * the saved context to another thread, nothing here races with it.
 *
 * Cost (counted from the code below, common path: FP control unchanged):
 * corun__ctx_switch executes 29 instructions (19 for the save, switch and
 * restore, 10 for the FP control state: two stores, two read-backs, the
 * incoming MXCSR's load, xor, test and branch, the control word's compare
 * and branch), plus endbr64 under IBT. Measured figures are in README.md
 * (make bench).
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

        .text

/* void *corun__ctx_switch(corun__ctx *save [rdi], corun__ctx to [rsi],
 *                         void *data [rdx]) */
        .globl  corun__ctx_switch
        .hidden corun__ctx_switch
        .type   corun__ctx_switch, @function
        .globl  corun__ctx_switch_int
        .hidden corun__ctx_switch_int
        .type   corun__ctx_switch_int, @function
        /* A cache line's start: the common path below (125 bytes) then
         * takes two 64-byte fetch blocks, not three. Aligned to 16 only,
         * the switch moved with every change of the code linked before
         * it, and with it a yield round trip and a spawn, by up to 8 %
         * (bench_sched, 8-10 alternating runs: at offsets 32 and 48 in a
         * line against 0). */
        .p2align 6
corun__ctx_switch:
corun__ctx_switch_int:
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
        movzwl  0x4(%rsp), %r10d        /* outgoing x87 control word */
        movl    (%rsp), %eax            /* outgoing MXCSR, read back late
                                         * so the stmxcsr has completed */

        movq    %rsp, (%rdi)            /* *save = the frame just built */
        movq    %rsi, %rsp              /* the switch: now on `to`'s stack */
        /* The frame on the new stack has the same layout, so the CFI above
         * (CFA = rsp + 0x40, registers in their slots) stays true for it. */
        .cfi_remember_state

        movl    (%rsp), %esi            /* incoming MXCSR */
        xorl    %eax, %esi              /* the bits in which the two differ */
        testl   $-0x40, %esi            /* any control bit (6-15)? The status
                                         * flags (0-5) are the thread's */
        jnz     .Lload_mxcsr
.Lmxcsr_done:
        cmpw    0x4(%rsp), %r10w        /* incoming x87 control word same? */
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
        movq    %rdx, %rax              /* the resumed switch returns data */
        CORUN_NOTRACK jmp *%r8          /* resume */

        /* Out-of-line reloads, taken only when the incoming control state
         * differs. Their unwind state is the one right after the switch. */
        .cfi_restore_state
.Lload_mxcsr:
        xorl    %eax, %esi              /* the incoming MXCSR again */
        andl    $-0x40, %esi            /* its control bits */
        andl    $0x3f, %eax             /* the status flags in effect now */
        orl     %esi, %eax
        movl    %eax, (%rsp)            /* into the frame being consumed */
        ldmxcsr (%rsp)
        jmp     .Lmxcsr_done
.Lload_x87cw:
        fldcw   0x4(%rsp)               /* incoming x87 control word */
        jmp     .Lx87cw_done
        .cfi_endproc
        .size   corun__ctx_switch, .-corun__ctx_switch
        .size   corun__ctx_switch_int, .-corun__ctx_switch_int

/* void *corun__ctx_switch_ontop(corun__ctx *save [rdi], corun__ctx to [rsi],
 *                               void *data [rdx], void (*fn)(void *) [rcx],
 *                               void *arg [r8])
 * corun__ctx_switch, and then, on `to`'s stack and before `to` resumes,
 * fn(arg) (Boost.Context's ontop_fcontext has the same idea). The
 * scheduler uses it for what must happen after the old context is saved
 * but before anything else runs: a yielding task may be queued only then
 * (ctx.h).
 *
 * How: `to`'s frame is still ours (it is suspended, and the switch consumes
 * it), so its resume address slot (0x38) is swapped for .Lontop_shim and
 * the real address kept in r11; then the common code above runs, which
 * leaves rcx, r9 and r11 alone, and its final jmp lands in the shim with
 * rax = data and rsp = `to`'s stack pointer after its call (16-aligned, or
 * a new stack's top). The shim calls fn(arg) there and jumps to the real
 * resume address with rax = data. The extra cost against a plain switch:
 * 4 instructions here, 9 in the shim, fn's call and a second indirect
 * jump. */
        .globl  corun__ctx_switch_ontop
        .hidden corun__ctx_switch_ontop
        .type   corun__ctx_switch_ontop, @function
        .align  16
corun__ctx_switch_ontop:
        .cfi_startproc
        CORUN_ENDBR
        movq    0x38(%rsi), %r11        /* to's real resume address */
        leaq    .Lontop_shim(%rip), %r9
        movq    %r9, 0x38(%rsi)         /* to resumes in the shim first */
        movq    %rcx, %r9               /* fn (rcx keeps nothing else) */
        movq    %r8, %rcx               /* arg (r8 is the common code's) */
        jmp     corun__ctx_switch       /* same stack, same return address */
        .cfi_endproc
        .size   corun__ctx_switch_ontop, .-corun__ctx_switch_ontop

/* Reached by the common code's `jmp *%r8` (see corun__ctx_switch_ontop)
 * with r9 = fn, rcx = arg, r11 = the resume address, rax = data, rsp =
 * 0 mod 16, the callee-saved registers already `to`'s. Unwind info: at
 * entry the return address is in r11 and the CFA is rsp (the resumed
 * side's own stack pointer after its call returned); once r11 is pushed
 * this looks like an ordinary frame, so a backtrace taken inside fn
 * continues into the code that is about to resume. */
        .type   corun__ctx_ontop_shim, @function
        .align  16
corun__ctx_ontop_shim:
        .cfi_startproc
        .cfi_def_cfa %rsp, 0
        .cfi_register %rip, %r11
        nop                             /* see the trampoline: address - 1 */
.Lontop_shim:
        CORUN_ENDBR                     /* the switch's jmp lands here */
        pushq   %r11                    /* the resume address, as if called */
        .cfi_def_cfa_offset 8
        .cfi_offset %rip, -8
        pushq   %rax                    /* data; rsp is 16-aligned again */
        .cfi_def_cfa_offset 16
        movq    %rcx, %rdi              /* fn's argument */
        call    *%r9                    /* fn(arg): C, keeps rbx..r15 */
        popq    %rax                    /* the resumed switch returns data */
        .cfi_def_cfa_offset 8
        popq    %r11                    /* the resume address */
        .cfi_def_cfa_offset 0
        .cfi_register %rip, %r11
        CORUN_NOTRACK jmp *%r11         /* resume */
        .cfi_endproc
        .size   corun__ctx_ontop_shim, .-corun__ctx_ontop_shim

/* corun__ctx corun__ctx_make(void *stack_top [rdi], size_t size [rsi],
 *                            corun__ctx_entry *entry [rdx], void *a [rcx],
 *                            void *b [r8])
 * Writes the frame table above at the top of the new stack and returns its
 * address. `size` is not needed here: the frame uses 0x40 bytes at the top
 * (plus up to 15 to align stack_top). */
        .globl  corun__ctx_make
        .hidden corun__ctx_make
        .type   corun__ctx_make, @function
        .align  16
corun__ctx_make:
        .cfi_startproc
        CORUN_ENDBR
        movq    %rdi, %rax
        andq    $-16, %rax              /* 16-byte aligned top */
        /* Frame at top-0x40: after the switch pops it rsp is the top, a
         * multiple of 16, as the trampoline needs. Nothing is kept above
         * it: rbp = 0 and the trampoline's CFI already end every walk, and
         * each byte here is a byte of every suspended shared-stack
         * coroutine's save buffer. */
        leaq    -0x40(%rax), %rax
        stmxcsr (%rax)                  /* inherit the caller's MXCSR */
        fnstcw  0x4(%rax)               /* and x87 control word */
        movw    $0, 0x6(%rax)           /* unused slot, keep it defined */
        movq    %rcx, 0x08(%rax)        /* r12 = a, for the trampoline */
        movq    %r8, 0x10(%rax)         /* r13 = b, for the trampoline */
        xorl    %ecx, %ecx
        movq    %rcx, 0x18(%rax)        /* r14 = 0 */
        movq    %rcx, 0x20(%rax)        /* r15 = 0 */
        movq    %rdx, 0x28(%rax)        /* rbx = entry, for the trampoline */
        movq    %rcx, 0x30(%rax)        /* rbp = 0: end of frame chain */
        leaq    .Ltrampoline_run(%rip), %rdx
        movq    %rdx, 0x38(%rax)        /* resume address: the trampoline */
        ret
        .cfi_endproc
        .size   corun__ctx_make, .-corun__ctx_make

/* First code of every new context, reached at .Ltrampoline_run by the
 * `jmp *%r8` of corun__ctx_switch with rax = data, rbx = entry, r12 = a,
 * r13 = b, rbp = 0 and rsp = 0 mod 16 (the stack's top). Calls
 * entry(data, a, b); entry never returns. */
        .globl  corun__ctx_trampoline
        .hidden corun__ctx_trampoline
        .type   corun__ctx_trampoline, @function
        .align  16
corun__ctx_trampoline:
        .cfi_startproc
        /* Unwinders stop here: there is no caller frame to return to. */
        .cfi_undefined %rip
        /* Never executed. Unwinders look a return address up at address
         * - 1 (it normally follows a call); the resume address of a new
         * context is .Ltrampoline_run, so its address - 1 must still lie in
         * this function, whose CFI ends the walk, and not in the function
         * before it (a signal in the middle of the first switch into a
         * context would otherwise unwind into corun__ctx_make). */
        nop
.Ltrampoline_run:
        CORUN_ENDBR                     /* the switch's jmp lands here */
        movq    %rax, %rdi              /* data */
        movq    %r12, %rsi              /* a */
        movq    %r13, %rdx              /* b */
        call    *%rbx                   /* entry(data, a, b) */
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
