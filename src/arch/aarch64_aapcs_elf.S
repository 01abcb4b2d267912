/* aarch64_aapcs_elf.S: the context switch for AArch64, AAPCS64, ELF (Linux).
 * Layer: arch. The contract is arch/ctx.h:
 *
 *   corun__ctx corun__ctx_make(void *stack_top, size_t size,
 *                              corun__ctx_entry *entry, void *a, void *b);
 *   void *corun__ctx_switch(corun__ctx *save, corun__ctx to, void *data);
 *   int corun__ctx_switch_int(corun__ctx *save, corun__ctx to, void *data);
 *   void *corun__ctx_switch_ontop(corun__ctx *save, corun__ctx to,
 *                                 void *data, void (*fn)(void *), void *arg);
 *
 * corun__ctx_switch stores the callee-saved state in a frame on the stack
 * it leaves, stores that stack pointer (the context) in *save, makes `to`
 * (a stack pointer saved the same way) the stack pointer, restores the
 * state found there and branches to the saved resume address with
 * x0 = data: the pending switch of the resumed context returns data.
 * corun__ctx_switch_int is the same code under a second name whose C type
 * returns int (the low 32 bits of data, w0), so that int-returning callers
 * can tail-call it. corun__ctx_make writes such a frame on a fresh stack
 * whose resume address is the trampoline, which calls entry(data, a, b).
 * corun__ctx_switch_ontop is the same switch with a detour: `to` first runs
 * fn(arg) on its own stack, through a shim whose address the switch finds
 * in `to`'s frame in place of the resume address (see its comment).
 *
 * Why a save slot instead of returning the old context to the other side:
 * as on x86-64 (x86_64_sysv_elf.S), the coroutine layer tail-calls the
 * switch from corun_resume, corun_yield and corun_transfer (`b`, not `bl`),
 * so lr at entry, the resume address saved here, is the user's own call
 * site, and the switch lands straight back there.
 *
 * ABI reference: Procedure Call Standard for the Arm 64-bit Architecture
 * (AAPCS64), ARM IHI 0055, 2023Q3 release:
 *  - "General-purpose Registers": x19-x28 are callee-saved; x29 is the
 *    frame pointer and x30 the link register; x18 is the platform register
 *    (on Linux a temporary); x0-x17 are caller-saved (x16/x17 are the
 *    intra-procedure-call scratch registers that veneers and PLTs use).
 *  - "SIMD and Floating-Point Registers": v8-v15 are callee-saved, but only
 *    their low 64 bits (d8-d15); the rest of v8-v15 and all of v0-v7 and
 *    v16-v31 are caller-saved. FPSR (the cumulative exception flags) need
 *    not be preserved. FPCR's rounding mode, flush-to-zero and trap-enable
 *    bits are process-wide modes that only functions documented to do so
 *    may change: for a caller they are preserved across a call.
 *  - "The Stack", "Universal stack constraints": sp is 16-byte aligned at
 *    every public interface and whenever it is used to address memory
 *    ("SP mod 16 = 0"), and no data lies below sp (there is no red zone).
 *  - "Parameter Passing", "Result Return": arguments in x0, x1, x2; a
 *    pointer result in x0, an int in w0.
 *
 * Saved set, and why:
 *  - x19-x28: callee-saved general registers.
 *  - x29 (fp): callee-saved; on a new stack 0, which ends frame chains.
 *  - x30 (lr): the resume address. At entry it holds the caller's return
 *    address (the C layer's tail call leaves the user's call site there).
 *  - sp: it *is* the context (the value stored in *save).
 *  - d8-d15: the callee-saved low halves of v8-v15.
 *  - FPCR: its modes are preserved across calls (above), so a coroutine
 *    that changes its rounding mode or flush-to-zero must not leak it into
 *    another. It is read (mrs) and stored at every switch, and written
 *    (msr) only when the incoming value differs from the outgoing one: on
 *    real cores `msr fpcr` is the expensive part (it can serialise the FP
 *    pipeline), while the compare of two values already in registers is
 *    one cycle and the branch is almost always predicted not taken.
 *  Not saved, deliberately:
 *  - x0-x18, v0-v7, v16-v31, the upper 64 bits of v8-v15, NZCV: caller-
 *    saved, so the C caller of corun__ctx_switch has already assumed them
 *    lost. x18 is not saved either, so ShadowCallStack (x18 as the shadow
 *    stack pointer, -ffixed-x18) is not supported.
 *  - FPSR: cumulative flags, not preserved by the AAPCS64; each context
 *    sees whatever flags are set, as after any call.
 *  - SVE z/p registers and FFR, SME ZA and PSTATE.SM: the switch is an
 *    ordinary non-streaming function without ZA state, so its callers
 *    have already saved what the AAPCS64 says they must.
 *  - TPIDR_EL0 (the thread pointer): a coroutine runs on whatever thread
 *    resumes it.
 *  - The signal mask: a system call per switch (what makes swapcontext
 *    slow), and per-thread in any case.
 *  Nothing lies below sp at any moment (the AAPCS64 has no red zone), so
 *  a signal handler may run at any instruction of the switch.
 *
 * Frame table. corun__ctx_switch builds this frame on the stack it leaves;
 * the saved context (the stack pointer) points at offset 0x00, and the
 * frame is 0xb0 bytes (a multiple of 16, so sp stays 16-byte aligned).
 * corun__ctx_make builds the same frame on a new stack.
 *
 *   offset  size  content
 *   0x00    8     d8
 *   0x08    8     d9
 *   0x10    16    d10, d11
 *   0x20    16    d12, d13
 *   0x30    16    d14, d15
 *   0x40    16    x19, x20   (new stack: the entry function, its a)
 *   0x50    16    x21, x22   (new stack: x21 = the entry's b)
 *   0x60    16    x23, x24
 *   0x70    16    x25, x26
 *   0x80    16    x27, x28
 *   0x90    8     FPCR       (new stack: the creator's)
 *   0x98    8     unused (0)
 *   0xa0    8     x29 (fp)   (new stack: 0, ends frame-pointer chains)
 *   0xa8    8     x30 (lr) = resume address (new stack: the trampoline)
 *   0xb0          the caller's sp after its call returns (the CFA)
 * x29 and x30 sit at CFA-16 and CFA-8, where an AArch64 frame record is.
 *
 * Entry invariant: the trampoline starts with sp = top - 16, a multiple
 * of 16, and above it a zero frame record (fp = 0, lr = 0); it calls entry
 * with `blr`, so entry starts with sp 16-byte aligned as the AAPCS64
 * requires, x0 = data, x29 = 0 and lr pointing into the trampoline. The
 * trampoline's CFI marks the return address register undefined
 * (.cfi_undefined x30), so gdb, backtrace() and the C++ unwinder stop at
 * the coroutine's first frame instead of walking into garbage; if entry
 * returns, the trampoline calls abort.
 *
 * Publication: *save is written after the whole frame is stored, and after
 * that store the code never touches the old stack again (the outgoing FPCR
 * was read into x9 before the stores). So once a scheduler hands the saved
 * context to another thread, nothing here races with it. The store is a
 * plain `str`, not a release: the other thread cannot see *save before
 * the switch (ctx.h), so it learns of it through a later store of the
 * scheduler, whose release orders all of this thread's earlier stores
 * (the frame and *save) before it.
 *
 * Cost (counted from the code below, common path: FPCR unchanged):
 * corun__ctx_switch executes 30 instructions (25 for the save, switch,
 * restore and return, 5 for FPCR: mrs, its store, the load, cmp, b.ne),
 * plus `bti c` under BTI. Most are pair loads and stores (stp/ldp).
 * corun__ctx_switch_ontop adds 4 before it and 8 in the shim, plus fn's
 * call (counted at its comment). No AArch64 hardware was available to
 * measure; qemu's timings mean nothing.
 *
 * Why `ret` and not `br` (unlike x86-64's `jmp`): the resume address is a
 * call-return site of arbitrary C code, the instruction after a `bl`.
 * Under BTI (Armv8.5 Branch Target Identification) a `br` may only land
 * on a `bti j`/`bti jc` landing pad on a guarded page, and compilers put
 * none after ordinary calls (GCC adds `bti j` only after returns_twice
 * calls such as setjmp, and ctx.h cannot make the public corun_resume/
 * corun_yield returns_twice for user code). A `br` therefore faults as
 * soon as the *caller's* code is BTI-guarded, even if this file is not
 * (BTYPE is set by the branch, whatever page it comes from). `ret` is
 * never checked by BTI, so it is correct with any mix of BTI and non-BTI
 * objects. The price is the return-stack predictor: a `ret` to another
 * stack's call site pops a prediction that is wrong, so a switch costs a
 * mispredicted return where a `br` would use the indirect predictor
 * (x86-64 measured that difference at about 9 ns per round trip,
 * docs/design.md). A correct program under BTI matters more. The tail
 * calls in the C layer still help: no `ret` runs between two switches, so
 * only the switch's own return is mispredicted, not a chain of them.
 *
 * Hardening:
 *  - BTI: when the compiler targets BTI (__ARM_FEATURE_BTI_DEFAULT, from
 *    -mbranch-protection=bti or =standard), corun__ctx_switch/_int,
 *    corun__ctx_switch_ontop and corun__ctx_make start with `bti c` (they
 *    are reached by `blr` and by PLT stubs' `br x16/x17`), and the
 *    trampoline and the ontop shim have `bti j` (they are reached by
 *    `ret`, which BTI does not check, so this is only a safeguard). The
 *    shim calls fn with `blr`, as C calls a function pointer, so fn lands
 *    on its own `bti c`. Every indirect branch in this file is then
 *    compatible, and only then does the file carry the GNU property note
 *    GNU_PROPERTY_AARCH64_FEATURE_1_AND with the BTI bit; without BTI it
 *    carries no note, so the linker never marks a binary BTI-capable
 *    because of it.
 *  - PAC (pac-ret, __ARM_FEATURE_PAC_DEFAULT): nothing here is signed. No
 *    function of this file has a prologue that spills its own lr and
 *    returns through it (the ontop shim keeps a resume address in its
 *    frame while fn runs and returns through it, but that address comes
 *    from a switch frame, where it lies unsigned anyway); the C callers
 *    sign and authenticate their own lr around their own frames as usual
 *    (a tail call authenticates before the `b`, so lr at entry is a plain
 *    address). The resume address in
 *    the frame is stored unsigned, as setjmp buffers store it; the file
 *    therefore does not set the PAC bit of the property note.
 *    Signing it too is possible further hardening, not done: paciasp
 *    before the store, autiasp after the load, .cfi_negate_ra_state, and
 *    pacia1716 with the CFA in corun__ctx_make.
 *  - All symbols are hidden, with .type/.size; the stack is not
 *    executable (.note.GNU-stack). */

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define CORUN_BTI_C bti c
#define CORUN_BTI_J bti j
#define CORUN_HAVE_BTI 1
#else
#define CORUN_BTI_C
#define CORUN_BTI_J
#define CORUN_HAVE_BTI 0
#endif

        .text

/* void *corun__ctx_switch(corun__ctx *save [x0], corun__ctx to [x1],
 *                         void *data [x2]) */
        .globl  corun__ctx_switch
        .hidden corun__ctx_switch
        .type   corun__ctx_switch, %function
        .globl  corun__ctx_switch_int
        .hidden corun__ctx_switch_int
        .type   corun__ctx_switch_int, %function
        .p2align 4
corun__ctx_switch:
corun__ctx_switch_int:
        .cfi_startproc
        CORUN_BTI_C
        /* Allocate the 0xb0-byte frame and store d8/d9 at its bottom in one
         * instruction: sp stays 16-byte aligned, and nothing is ever stored
         * below sp. */
        stp     d8, d9, [sp, #-0xb0]!
        .cfi_def_cfa_offset 0xb0
        .cfi_offset d8, -0xb0
        .cfi_offset d9, -0xa8
        mrs     x9, fpcr                /* outgoing FPCR, kept in x9 */
        stp     d10, d11, [sp, #0x10]
        .cfi_offset d10, -0xa0
        .cfi_offset d11, -0x98
        stp     d12, d13, [sp, #0x20]
        .cfi_offset d12, -0x90
        .cfi_offset d13, -0x88
        stp     d14, d15, [sp, #0x30]
        .cfi_offset d14, -0x80
        .cfi_offset d15, -0x78
        stp     x19, x20, [sp, #0x40]
        .cfi_offset x19, -0x70
        .cfi_offset x20, -0x68
        stp     x21, x22, [sp, #0x50]
        .cfi_offset x21, -0x60
        .cfi_offset x22, -0x58
        stp     x23, x24, [sp, #0x60]
        .cfi_offset x23, -0x50
        .cfi_offset x24, -0x48
        stp     x25, x26, [sp, #0x70]
        .cfi_offset x25, -0x40
        .cfi_offset x26, -0x38
        stp     x27, x28, [sp, #0x80]
        .cfi_offset x27, -0x30
        .cfi_offset x28, -0x28
        stp     x9, xzr, [sp, #0x90]    /* FPCR, and a defined unused slot */
        stp     x29, x30, [sp, #0xa0]   /* fp, and lr = the resume address */
        .cfi_offset x29, -0x10
        .cfi_offset x30, -0x08

        mov     x10, sp                 /* str cannot take sp as its source */
        str     x10, [x0]               /* *save = the frame: the last store
                                         * to the old stack (publication) */
        mov     sp, x1                  /* the switch: now on `to`'s stack */
        /* The frame on the new stack has the same layout, so the CFI above
         * (CFA = sp + 0xb0, registers in their slots) stays true for it. */
        .cfi_remember_state

        ldr     x10, [sp, #0x90]        /* incoming FPCR */
        cmp     x9, x10                 /* same as the outgoing one? */
        b.ne    .Lload_fpcr             /* rarely: a context changed modes */
.Lfpcr_done:
        ldp     x19, x20, [sp, #0x40]
        .cfi_restore x19
        .cfi_restore x20
        ldp     x21, x22, [sp, #0x50]
        .cfi_restore x21
        .cfi_restore x22
        ldp     x23, x24, [sp, #0x60]
        .cfi_restore x23
        .cfi_restore x24
        ldp     x25, x26, [sp, #0x70]
        .cfi_restore x25
        .cfi_restore x26
        ldp     x27, x28, [sp, #0x80]
        .cfi_restore x27
        .cfi_restore x28
        ldp     d10, d11, [sp, #0x10]
        .cfi_restore d10
        .cfi_restore d11
        ldp     d12, d13, [sp, #0x20]
        .cfi_restore d12
        .cfi_restore d13
        ldp     d14, d15, [sp, #0x30]
        .cfi_restore d14
        .cfi_restore d15
        ldp     x29, x30, [sp, #0xa0]   /* fp, and the resume address */
        .cfi_restore x29
        .cfi_restore x30
        /* Last load pops the frame: sp = the resumed caller's sp. */
        ldp     d8, d9, [sp], #0xb0
        .cfi_def_cfa_offset 0
        .cfi_restore d8
        .cfi_restore d9
        mov     x0, x2                  /* the resumed switch returns data */
        ret                             /* resume (why ret: see header) */

        /* Out-of-line FPCR write, taken only when the value differs. Its
         * unwind state is the one right after the switch. */
        .cfi_restore_state
.Lload_fpcr:
        msr     fpcr, x10               /* incoming FPCR */
        b       .Lfpcr_done
        .cfi_endproc
        .size   corun__ctx_switch, .-corun__ctx_switch
        .size   corun__ctx_switch_int, .-corun__ctx_switch_int

/* void *corun__ctx_switch_ontop(corun__ctx *save [x0], corun__ctx to [x1],
 *                               void *data [x2], void (*fn)(void *) [x3],
 *                               void *arg [x4])
 * corun__ctx_switch, and then, on `to`'s stack and before `to` resumes,
 * fn(arg) (Boost.Context's ontop_fcontext has the same idea; ctx.h has
 * the contract, x86_64_sysv_elf.S the same code for x86-64). The
 * scheduler uses it for what must happen after the old context is saved
 * but before anything else runs: a yielding task may be queued only then.
 *
 * How: `to`'s frame is still ours (it is suspended, and the switch
 * consumes it), so its resume address slot (0xa8, the saved x30) is
 * swapped for .Lontop_shim and the real address kept in x12; then the
 * common code above runs. That code uses x0-x2, x9, x10, x29, x30 and the
 * callee-saved registers, and leaves x3-x8 and x11-x18 alone: so fn and
 * arg stay where the caller put them (x3, x4) and x12 survives. Its final
 * `ret` lands in the shim with x0 = data, x30 = the shim's address, sp =
 * `to`'s sp after its call (16-aligned: a suspended switch's caller's sp,
 * or a new stack's top - 16), FPCR and the callee-saved registers
 * already `to`'s. The shim calls fn(arg) there and returns to the real
 * resume address with x0 = data. The extra cost against a plain switch:
 * 4 instructions here (5 with `bti c`), 8 in the shim (9 with `bti j`),
 * fn's call and a second `ret`, mispredicted as the first is.
 *
 * x30 is not touched here: at the `b`, it still holds our caller's return
 * address, which the common code saves as the resume address of the
 * context it leaves, exactly as if the caller had called
 * corun__ctx_switch itself (a tail call from the C layer keeps the user's
 * call site there). A leaf until the `b`: the default CFI (CFA = sp,
 * return address in x30) describes it. */
        .globl  corun__ctx_switch_ontop
        .hidden corun__ctx_switch_ontop
        .type   corun__ctx_switch_ontop, %function
        .p2align 4
corun__ctx_switch_ontop:
        .cfi_startproc
        CORUN_BTI_C
        ldr     x12, [x1, #0xa8]        /* to's real resume address */
        adr     x9, .Lontop_shim        /* (x9 is free: the common code
                                         * writes it before reading it) */
        str     x9, [x1, #0xa8]         /* to resumes in the shim first */
        b       corun__ctx_switch       /* same sp, same x30 */
        .cfi_endproc
        .size   corun__ctx_switch_ontop, .-corun__ctx_switch_ontop

/* Reached by the common code's `ret` (see corun__ctx_switch_ontop) with
 * x3 = fn, x4 = arg, x12 = the resume address, x0 = data, sp = 0 mod 16,
 * the callee-saved registers and FPCR already `to`'s. On a new context the
 * resume address is the trampoline's, which needs x0 = data and x19-x21
 * (entry, a, b): fn preserves x19-x28 (AAPCS64, callee-saved), and x0 is
 * put back below, so the trampoline starts as after a plain switch.
 *
 * The shim's frame, 32 bytes (a multiple of 16, "SP mod 16 = 0" at the
 * `blr` as the AAPCS64 requires of every public interface):
 *   sp+0x00  x29, `to`'s frame pointer  } a frame record: {fp, lr}
 *   sp+0x08  the resume address (as lr) }
 *   sp+0x10  data (x0), kept across the call (x0 is caller-saved)
 *   sp+0x18  unused (never read)
 *   sp+0x20  `to`'s sp, the CFA
 * x29 is pointed at the record during the call ("The Frame Pointer" in
 * the AAPCS64: x29 addresses the frame record, {previous x29, x30}), so a
 * frame-pointer walk from fn goes fn -> shim -> the resumed code; and x29
 * is restored from the record afterwards, to `to`'s value (on a new
 * context 0, which the trampoline sets again anyway). fn preserves sp and
 * x29 (callee-saved), so the loads after the call find the frame.
 *
 * The shim leaves as the common code does, by `ret` with x30 = the resume
 * address, not by `br`: under BTI a `br` to an ordinary call-return site
 * faults (see "Why `ret` and not `br`" above). The resumed code thus
 * starts with x0 = data, x29 = its own fp and x30 = its resume address,
 * the registers a plain switch would have left; x3, x4 and x12 hold other
 * values than after a plain switch, but they are caller-saved.
 *
 * Unwind info: at entry the return address is in x12 and the CFA is sp
 * (the resumed side's own sp after its call returned); once x12 is stored
 * in the record this looks like an ordinary frame, so a backtrace taken
 * inside fn continues into the code that is about to resume. While the
 * common code runs (after `mov sp, x1`), its CFI reads the return address
 * from the swapped slot, i.e. .Lontop_shim: an unwinder then looks it up
 * at address - 1 (see the trampoline), which the leading nop keeps inside
 * this FDE, whose entry rules (CFA = sp, return address in x12, which the
 * common code leaves as it is) lead on to the real resume address. */
        .type   corun__ctx_ontop_shim, %function
        .p2align 4
corun__ctx_ontop_shim:
        .cfi_startproc
        .cfi_def_cfa sp, 0
        .cfi_register x30, x12
        nop                             /* never executed: address - 1 */
.Lontop_shim:
        CORUN_BTI_J                     /* reached by ret: a safeguard only */
        stp     x29, x12, [sp, #-0x20]! /* frame record {fp, resume address};
                                         * sp stays 16-byte aligned */
        .cfi_def_cfa_offset 0x20
        .cfi_offset x29, -0x20
        .cfi_offset x30, -0x18
        mov     x29, sp                 /* fp -> the record */
        str     x0, [sp, #0x10]         /* data, across the call */
        mov     x0, x4                  /* fn's argument */
        blr     x3                      /* fn(arg): C, keeps x19-x29, sp */
        ldr     x0, [sp, #0x10]         /* the resumed switch returns data */
        ldp     x29, x30, [sp], #0x20   /* to's fp, and the resume address */
        .cfi_def_cfa_offset 0
        .cfi_restore x29
        .cfi_restore x30
        ret                             /* resume (why ret: see header) */
        .cfi_endproc
        .size   corun__ctx_ontop_shim, .-corun__ctx_ontop_shim

/* corun__ctx corun__ctx_make(void *stack_top [x0], size_t size [x1],
 *                            corun__ctx_entry *entry [x2], void *a [x3],
 *                            void *b [x4])
 * Writes the frame table above at the top of the new stack and returns its
 * address. `size` is not needed here. Stack use of the switching itself:
 * at most 0xcf bytes at the top (0xc0, plus up to 15 to align stack_top),
 * of which 16 (the zero record, plus the alignment) stay once the context
 * runs; a suspended switch keeps 0xb0 bytes below its caller's frame.
 * (So at most 0xcf = 207 bytes at any time: ctx.h's CORUN__CTX_TOP_BYTES
 * must be at least that for this backend.) A leaf: lr stays in x30. */
        .globl  corun__ctx_make
        .hidden corun__ctx_make
        .type   corun__ctx_make, %function
        .p2align 4
corun__ctx_make:
        .cfi_startproc
        CORUN_BTI_C
        and     x0, x0, #~15            /* 16-byte aligned top */
        /* Frame at top-0xc0: after the switch pops it (0xb0 bytes) sp is
         * top-0x10, a multiple of 16, as the trampoline needs. The 16 bytes
         * above hold a zero frame record (fp = 0, lr = 0) for naive
         * frame-pointer walkers. */
        sub     x0, x0, #0xc0
        mrs     x9, fpcr                /* inherit the caller's FPCR */
        stp     xzr, xzr, [x0, #0x00]   /* d8, d9 = 0 */
        stp     xzr, xzr, [x0, #0x10]   /* d10, d11 = 0 */
        stp     xzr, xzr, [x0, #0x20]   /* d12, d13 = 0 */
        stp     xzr, xzr, [x0, #0x30]   /* d14, d15 = 0 */
        stp     x2, x3, [x0, #0x40]     /* x19 = entry, x20 = a */
        stp     x4, xzr, [x0, #0x50]    /* x21 = b, x22 = 0 */
        stp     xzr, xzr, [x0, #0x60]   /* x23, x24 = 0 */
        stp     xzr, xzr, [x0, #0x70]   /* x25, x26 = 0 */
        stp     xzr, xzr, [x0, #0x80]   /* x27, x28 = 0 */
        stp     x9, xzr, [x0, #0x90]    /* FPCR, unused = 0 */
        /* The resume address is the instruction after the trampoline's
         * first one, never its first byte: see the trampoline. */
        adr     x10, .Ltrampoline_resume
        stp     xzr, x10, [x0, #0xa0]   /* x29 = 0, x30 = resume address */
        stp     xzr, xzr, [x0, #0xb0]   /* zero frame record above */
        ret
        .cfi_endproc
        .size   corun__ctx_make, .-corun__ctx_make

/* First code of every new context, reached by the `ret` of
 * corun__ctx_switch with x0 = data, x19 = entry, x20 = a, x21 = b, x29 = 0
 * and sp = top-16, a multiple of 16. Calls entry(data, a, b); entry never
 * returns.
 * The leading nop is never executed: the frame built by corun__ctx_make
 * resumes at the instruction after it. Unwinders look a return address
 * up as (address - 1), because a return address may lie just past the
 * end of its caller; for a context interrupted inside its first switch
 * (a profiling signal, for instance) the return address is that resume
 * address, so address - 1 must fall inside this FDE, whose CFI ends the
 * walk, and not into whatever code precedes the trampoline. */
        .globl  corun__ctx_trampoline
        .hidden corun__ctx_trampoline
        .type   corun__ctx_trampoline, %function
        .p2align 4
corun__ctx_trampoline:
        .cfi_startproc
        /* Unwinders stop here: there is no caller frame to return to. */
        .cfi_undefined x30
        nop                             /* never executed (see above) */
.Ltrampoline_resume:
        CORUN_BTI_J                     /* reached by ret: a safeguard only */
        mov     x29, xzr                /* end of the frame-pointer chain */
        mov     x30, xzr                /* no return address (as _start) */
        mov     x1, x20                 /* a */
        mov     x2, x21                 /* b */
        blr     x19                     /* entry(data, a, b), data in x0 */
        /* entry returned: a broken invariant of the layer above. */
        bl      abort
        brk     #0x3e8                  /* abort does not return */
        .cfi_endproc
        .size   corun__ctx_trampoline, .-corun__ctx_trampoline

        .section .rodata
        .globl  corun__ctx_backend
        .hidden corun__ctx_backend
        .type   corun__ctx_backend, %object
corun__ctx_backend:
        .asciz  "aarch64-aapcs"
        .size   corun__ctx_backend, .-corun__ctx_backend

#if CORUN_HAVE_BTI
/* ELF note telling the linker (and through it the loader, which maps
 * BTI-marked objects with PROT_BTI) that this object is BTI-compatible.
 * The linker ANDs the bits of all inputs, so the output is marked only if
 * every object is. Layout: "Linux Extensions to gABI", program property
 * (NT_GNU_PROPERTY_TYPE_0), and the AArch64 ELF ABI (ARM IHI 0056),
 * "Program Property": GNU_PROPERTY_AARCH64_FEATURE_1_AND = 0xc0000000,
 * bit 0 = BTI. */
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* n_namesz: "GNU\0" */
        .long   16                      /* n_descsz: one 8-byte-aligned property */
        .long   5                       /* n_type: NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000              /* pr_type: ..._AARCH64_FEATURE_1_AND */
        .long   4                       /* pr_datasz */
        .long   1                       /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
        .long   0                       /* padding to 8 bytes */
#endif

        .section .note.GNU-stack,"",%progbits
