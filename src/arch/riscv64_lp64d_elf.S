/* riscv64_lp64d_elf.S: the context switch for RISC-V 64, LP64D ABI, ELF
 * (Linux). Layer: arch. The contract is arch/ctx.h:
 *
 *   corun__ctx corun__ctx_make(void *stack_top, size_t size,
 *                              corun__ctx_entry *entry, void *a, void *b);
 *   void *corun__ctx_switch(corun__ctx *save, corun__ctx to, void *data);
 *   int corun__ctx_switch_int(corun__ctx *save, corun__ctx to, void *data);
 *   void *corun__ctx_switch_ontop(corun__ctx *save, corun__ctx to,
 *                                 void *data, void (*fn)(void *), void *arg);
 *
 * corun__ctx_switch stores the callee-saved state in a frame below the
 * stack pointer it leaves, stores that stack pointer (the context) in
 * *save, makes `to` (a stack pointer saved the same way) the stack pointer,
 * restores the state found there and jumps to the saved resume address
 * with a0 = data: the pending switch of the resumed context returns data.
 * corun__ctx_switch_int is the same switch under a second name whose C type
 * returns int, so that int-returning callers can tail-call it; it marks its
 * frame so that the switch which later resumes it sign-extends the low 32
 * bits of data, as the psABI wants of an int result (see "The int variant").
 * corun__ctx_make writes such a frame on a fresh stack whose resume address
 * is the trampoline, which calls entry(data, a, b).
 * corun__ctx_switch_ontop is corun__ctx_switch with a detour: `to` first
 * runs fn(arg) on its own stack, through a shim whose address the switch
 * finds in `to`'s frame in place of the resume address (see its comment).
 *
 * Why a save slot instead of returning the old context to the other side:
 * the coroutine layer tail-calls the switch from corun_resume, corun_yield
 * and corun_transfer, so the resume address saved is the user's own call
 * site and the switch jumps straight back to it, with no return between two
 * switches (x86_64_sysv_elf.S has the measurements).
 *
 * ABI reference: RISC-V ELF psABI (riscv-non-isa/riscv-elf-psabi-doc,
 * riscv-cc.adoc, "RISC-V Calling Conventions"):
 *  - "Integer Register Convention": s0-s11 (x8-x9, x18-x27) and sp are
 *    preserved across calls; ra, t0-t6, a0-a7 are not; gp and tp are
 *    unallocatable ("procedures should not modify" them).
 *  - "Frame Pointer Convention": if a frame pointer exists it is s0; a
 *    frame record is {previous fp at fp-16, return address at fp-8}, fp
 *    points at the CFA, and a zero link ends the chain.
 *  - "Floating-Point Register Convention": fs0-fs1 (f8-f9) and fs2-fs11
 *    (f18-f27) are preserved across calls for values no wider than ABI_FLEN
 *    (64 under LP64D, so all 64 bits of each); "fcsr must have thread
 *    storage duration in accordance with C11 section 7.6".
 *  - "Vector Register Convention" (standard calling convention): v0-v31,
 *    vl, vtype, vxrm, vxsat are not preserved across calls; vstart is zero
 *    at every call boundary.
 *  - "Integer Calling Convention": arguments in a0-a2, a pointer result in
 *    a0; an int result is "widened according to the sign of [its] type up
 *    to 32 bits, then sign-extended to XLEN bits"; sp is 16-byte aligned at
 *    procedure entry and stays aligned throughout; "procedures must not
 *    rely upon the persistence of stack-allocated data whose addresses lie
 *    below the stack pointer" (no red zone: a signal frame may be written
 *    right below sp at any instruction).
 * The RISC-V Instruction Set Manual, Volume I: Unprivileged ISA:
 *  - "F" extension, "Floating-Point Control and Status Register": fcsr =
 *    frm (dynamic rounding mode, bits 7:5) + fflags (accrued exception
 *    flags, bits 4:0); frrm/fsrm read/write frm alone.
 *  - RV32I "Control Transfer Instructions", "Unconditional Jumps", table
 *    "Return-address stack prediction hints encoded in the register
 *    operands of a JALR instruction": x1 (ra) and x5 (t0) are link
 *    registers; rd=link pushes, rs1=link with rd!=link pops, neither is no
 *    hint (see "Why jr t3 and not ret").
 *
 * Saved set, and why:
 *  - s0-s11: callee-saved general registers (s0 is also the frame pointer).
 *  - fs0-fs11: callee-saved FP registers, all 64 bits (LP64D: ABI_FLEN=64).
 *  - sp: it *is* the context (the value stored in *save).
 *  - The resume address: the ra the caller's call left (the user's call
 *    site, thanks to the tail call).
 *  - frm, the dynamic rounding mode: C11 7.6 makes the floating-point
 *    environment per thread, and a coroutine is a thread of control of its
 *    own here (arch/ctx.h), so one that calls fesetround must not change
 *    the mode of the others. frrm reads it at every switch; fsrm writes it
 *    only when the incoming value differs from the outgoing one (a CSR
 *    write orders the FP pipeline on many cores; a read does not), so the
 *    common path costs a read, a store, a load and a branch.
 *  Not saved, deliberately:
 *  - ra, t0-t6, a0-a7, ft0-ft11, fa0-fa7: not preserved across calls, so
 *    the C caller of the switch has already assumed them lost (a0 carries
 *    data, the result).
 *  - fflags, the accrued exception flags: they are sticky status, not
 *    control; any callee may raise them, so a caller cannot assume them
 *    unchanged across a call. All contexts of a thread share them, as a
 *    caller shares them with its callees.
 *  - The vector state: v0-v31, vl, vtype, vxrm, vxsat are not preserved
 *    across calls (above); vstart is zero at the call and stays zero.
 *  - gp: one value per process (the linker's global pointer), never
 *    changed by standard code. tp (the thread pointer): a coroutine runs on
 *    whatever thread resumes it, so it must keep that thread's tp.
 *  - The signal mask: a system call per switch (what makes swapcontext
 *    slow), and per-thread in any case.
 *
 * Frame table. corun__ctx_switch builds this frame below the stack pointer
 * it was called with; the saved context (the stack pointer) points at
 * offset 0x00. corun__ctx_make builds the same frame on a new stack. The
 * top two slots are a psABI frame record {s0, ra}, so a frame-pointer
 * walker that meets this frame reads the usual layout.
 *
 *   offset  size  content
 *   0x00    8     FP control word: frm in bits 2:0, INT_FLAG (bit 3) set
 *                 when the frame was left by corun__ctx_switch_int
 *   0x08    8     fs0
 *   ...           fs1 .. fs10, 8 bytes each
 *   0x60    8     fs11
 *   0x68    8     s1         (new stack: the entry function)
 *   0x70    8     s2         (new stack: the entry's argument a)
 *   0x78    8     s3         (new stack: the entry's argument b)
 *   ...           s4 .. s10, 8 bytes each
 *   0xb8    8     s11
 *   0xc0    8     s0         (new stack: 0, ends frame-pointer chains)
 *   0xc8    8     resume address (new stack: corun__ctx_trampoline plus
 *                 one instruction, see the trampoline)
 *   0xd0          the caller's sp (the CFA); 0xd0 = 208 = 13 * 16
 *
 * The int variant. The int result of corun__ctx_switch_int is produced by
 * whichever switch later resumes its frame, and that switch (a pointer or
 * an int one) does not know what its target waits for: a sext.w at the
 * entry of corun__ctx_switch_int would sign-extend the data it *sends*,
 * corrupting a pointer delivered to a side waiting in corun__ctx_switch.
 * So the waiting side marks its own frame: corun__ctx_switch_int stores
 * frm | INT_FLAG in the control word. The resuming switch compares that
 * word with the outgoing frm anyway; with the flag set the compare fails
 * and the out-of-line path sign-extends data (sext.w), clears the flag and
 * writes frm only if the mode really differs. The pointer path pays
 * nothing for this; the int variant pays 2 instructions when it leaves and
 * 6 when it is resumed. (The coroutine layer passes only
 * (void *)(intptr_t)0 or 1 through it, which are already sign-extended, so
 * this is for correctness of the contract, not for today's callers.)
 *
 * Entry invariant: corun__ctx_make places the frame so that after the
 * switch pops it sp is a multiple of 16, and the trampoline calls entry
 * without moving sp, so entry starts with sp 16-byte aligned as the psABI
 * requires. The 16 bytes above that sp are zero (a null frame record).
 * The trampoline starts with s0 = 0 (from the frame) and sets ra = 0, so
 * frame-pointer walkers and ra-based leaf heuristics end there; its CFI
 * marks ra undefined, so gdb, backtrace() and the C++ unwinder stop at the
 * coroutine's first frame instead of walking into garbage.
 *
 * Publication: *save is written after the whole frame is stored, and after
 * that store the code never touches the old stack again (the outgoing frm
 * is kept in t1). So once a scheduler hands the saved context to another
 * thread, nothing here races with it. The new stack is entered by one
 * `mv sp, a1`, so sp always points at a valid stack and a signal may
 * arrive at any instruction.
 *
 * CFI: after `mv sp, a1` the frame on the new stack has the layout just
 * built, so the same rules (CFA = sp + 0xd0, registers in their slots)
 * describe it; each restored register then returns to "same value", and
 * once the frame is popped the return address is described as living in
 * t3. An unwinder stopped at any instruction of the switch can walk out of
 * it (tests/ctx/sigprof.c checks this under a profiling timer).
 *
 * Cost (counted from the code below, common path: corun__ctx_switch into a
 * frame left by corun__ctx_switch, frm unchanged): corun__ctx_switch
 * executes 60 instructions: 48 stores and loads of s0-s11 and fs0-fs11,
 * 8 for the frame, the resume address, the publication, the stack switch
 * and the jump, and 4 for frm (frrm, store, load, compare-and-branch).
 * corun__ctx_switch_int adds 2 when it leaves (ori, j). Out of line:
 * resuming a frame it left adds 6 (andi, beqz, sext.w, xori, beq, j), 7
 * when frm differs too (fsrm); a differing frm in a pointer frame adds 4
 * (andi, beqz, fsrm, j). corun__ctx_switch_ontop adds 5 before the switch
 * and 12 in its shim, plus fn's call (counted at its comment). Measured
 * figures are in README.md (make bench).
 *
 * Why jr t3 and not ret: `ret` is `jalr x0, 0(ra)`, whose rs1 = x1 tells
 * the predictor to pop its return-address stack. The stack's top is the
 * return address of the last call on the *current* stack (the user's call
 * of corun_resume, say), never the resume address of another context, so a
 * `ret` here would mispredict at every switch. The ISA's hint table makes
 * x5 (t0) a link register too: `jr t0` is also a pop. t3 (x28) is not a
 * link register, so `jalr x0, 0(t3)` carries no hint and is predicted by
 * the indirect-branch predictor, which learns the few resume addresses of
 * a switch site. The C layer reaches the switch with `tail` (jalr x0 via
 * t1: no hint either), so no push is left unmatched by the switch itself.
 *
 * Hardening: all symbols are hidden, typed and sized; the stack is not
 * executable (.note.GNU-stack). There is no landing-pad or shadow-stack
 * extension to support yet (Zicfilp/Zicfiss are not in this toolchain's
 * default ISA; the resume by `jr` would need Zicfilp landing pads at every
 * resume site, and at the trampoline and the ontop shim, and is
 * incompatible with Zicfiss shadow stacks, as CET's on x86-64). The assembler may add a .riscv.attributes section naming the
 * ISA; it carries no executable-stack or property meaning. */

#if !defined(__riscv) || __riscv_xlen != 64 || \
    !defined(__riscv_float_abi_double)
#error "riscv64_lp64d_elf.S needs RV64 with the LP64D ABI (hard double float)"
#endif

/* Frame layout (see the table above). */
#define FRAME     0xd0          /* frame size, a multiple of 16 */
#define FPCW      0x00          /* frm | INT_FLAG */
#define FS(n)     (0x08 + 8 * (n))       /* fs0 .. fs11 */
#define S(n)      (0x68 + 8 * ((n) - 1)) /* s1 .. s11 */
#define S0        0xc0
#define RESUME    0xc8
#define INT_FLAG  8             /* above frm's 3 bits */

/* CFI offset of a slot, relative to the CFA (= sp + FRAME). */
#define CFA(off)  ((off) - FRAME)

        .text

/* void *corun__ctx_switch(corun__ctx *save [a0], corun__ctx to [a1],
 *                         void *data [a2]) */
        .globl  corun__ctx_switch
        .hidden corun__ctx_switch
        .type   corun__ctx_switch, @function
        .p2align 4
corun__ctx_switch:
        .cfi_startproc
        addi    sp, sp, -FRAME          /* room for the frame (16-aligned) */
        .cfi_def_cfa_offset FRAME
        frrm    t1                      /* outgoing frm, kept for the compare */
        sd      t1, FPCW(sp)            /* control word, INT_FLAG clear */
.Lsave:                                 /* corun__ctx_switch_int joins here */
        sd      ra, RESUME(sp)          /* resume address */
        .cfi_offset ra, CFA(RESUME)
        sd      s0, S0(sp)
        .cfi_offset s0, CFA(S0)
        sd      s1, S(1)(sp)
        .cfi_offset s1, CFA(S(1))
        sd      s2, S(2)(sp)
        .cfi_offset s2, CFA(S(2))
        sd      s3, S(3)(sp)
        .cfi_offset s3, CFA(S(3))
        sd      s4, S(4)(sp)
        .cfi_offset s4, CFA(S(4))
        sd      s5, S(5)(sp)
        .cfi_offset s5, CFA(S(5))
        sd      s6, S(6)(sp)
        .cfi_offset s6, CFA(S(6))
        sd      s7, S(7)(sp)
        .cfi_offset s7, CFA(S(7))
        sd      s8, S(8)(sp)
        .cfi_offset s8, CFA(S(8))
        sd      s9, S(9)(sp)
        .cfi_offset s9, CFA(S(9))
        sd      s10, S(10)(sp)
        .cfi_offset s10, CFA(S(10))
        sd      s11, S(11)(sp)
        .cfi_offset s11, CFA(S(11))
        fsd     fs0, FS(0)(sp)
        .cfi_offset fs0, CFA(FS(0))
        fsd     fs1, FS(1)(sp)
        .cfi_offset fs1, CFA(FS(1))
        fsd     fs2, FS(2)(sp)
        .cfi_offset fs2, CFA(FS(2))
        fsd     fs3, FS(3)(sp)
        .cfi_offset fs3, CFA(FS(3))
        fsd     fs4, FS(4)(sp)
        .cfi_offset fs4, CFA(FS(4))
        fsd     fs5, FS(5)(sp)
        .cfi_offset fs5, CFA(FS(5))
        fsd     fs6, FS(6)(sp)
        .cfi_offset fs6, CFA(FS(6))
        fsd     fs7, FS(7)(sp)
        .cfi_offset fs7, CFA(FS(7))
        fsd     fs8, FS(8)(sp)
        .cfi_offset fs8, CFA(FS(8))
        fsd     fs9, FS(9)(sp)
        .cfi_offset fs9, CFA(FS(9))
        fsd     fs10, FS(10)(sp)
        .cfi_offset fs10, CFA(FS(10))
        fsd     fs11, FS(11)(sp)
        .cfi_offset fs11, CFA(FS(11))

        sd      sp, 0(a0)               /* *save = the frame just built */
        mv      sp, a1                  /* the switch: now on `to`'s stack */
        /* The frame on the new stack has the same layout, so the CFI above
         * (CFA = sp + FRAME, registers in their slots) stays true for it. */

        ld      t2, FPCW(sp)            /* incoming control word (early: */
        ld      t3, RESUME(sp)          /* both loads have time to land) */
        ld      s0, S0(sp)
        .cfi_restore s0
        ld      s1, S(1)(sp)
        .cfi_restore s1
        ld      s2, S(2)(sp)
        .cfi_restore s2
        ld      s3, S(3)(sp)
        .cfi_restore s3
        ld      s4, S(4)(sp)
        .cfi_restore s4
        ld      s5, S(5)(sp)
        .cfi_restore s5
        ld      s6, S(6)(sp)
        .cfi_restore s6
        ld      s7, S(7)(sp)
        .cfi_restore s7
        ld      s8, S(8)(sp)
        .cfi_restore s8
        ld      s9, S(9)(sp)
        .cfi_restore s9
        ld      s10, S(10)(sp)
        .cfi_restore s10
        ld      s11, S(11)(sp)
        .cfi_restore s11
        fld     fs0, FS(0)(sp)
        .cfi_restore fs0
        fld     fs1, FS(1)(sp)
        .cfi_restore fs1
        fld     fs2, FS(2)(sp)
        .cfi_restore fs2
        fld     fs3, FS(3)(sp)
        .cfi_restore fs3
        fld     fs4, FS(4)(sp)
        .cfi_restore fs4
        fld     fs5, FS(5)(sp)
        .cfi_restore fs5
        fld     fs6, FS(6)(sp)
        .cfi_restore fs6
        fld     fs7, FS(7)(sp)
        .cfi_restore fs7
        fld     fs8, FS(8)(sp)
        .cfi_restore fs8
        fld     fs9, FS(9)(sp)
        .cfi_restore fs9
        fld     fs10, FS(10)(sp)
        .cfi_restore fs10
        fld     fs11, FS(11)(sp)
        .cfi_restore fs11
        .cfi_remember_state
        bne     t1, t2, .Lcw_differs    /* other frm, or an int frame? */
.Lcw_done:
        addi    sp, sp, FRAME           /* pop the frame */
        .cfi_def_cfa_offset 0
        .cfi_register ra, t3            /* its slot is below sp now */
        mv      a0, a2                  /* the resumed switch returns data */
        jr      t3                      /* resume: no RAS hint (see above) */

        /* Out-of-line, taken when the incoming control word is not the
         * outgoing frm: t1 = outgoing frm, t2 = incoming word. Its unwind
         * state is the one at the bne. */
        .cfi_restore_state
.Lcw_differs:
        andi    t4, t2, INT_FLAG        /* left by corun__ctx_switch_int? */
        beqz    t4, .Lset_frm           /* no: frm differs, t2 is frm */
        sext.w  a2, a2                  /* int result: sign-extend bit 31 */
        xori    t2, t2, INT_FLAG        /* t2 = the frm of that frame */
        beq     t1, t2, .Lcw_done       /* same mode: nothing to write */
.Lset_frm:
        fsrm    t2                      /* incoming rounding mode */
        j       .Lcw_done
        .cfi_endproc
        .size   corun__ctx_switch, .-corun__ctx_switch

/* int corun__ctx_switch_int(corun__ctx *save [a0], corun__ctx to [a1],
 *                           void *data [a2])
 * corun__ctx_switch with INT_FLAG in the control word it leaves, so that
 * the switch resuming it sign-extends data (see "The int variant"). */
        .globl  corun__ctx_switch_int
        .hidden corun__ctx_switch_int
        .type   corun__ctx_switch_int, @function
        .p2align 2
corun__ctx_switch_int:
        .cfi_startproc
        addi    sp, sp, -FRAME          /* as corun__ctx_switch */
        .cfi_def_cfa_offset FRAME
        frrm    t1                      /* outgoing frm, for the compare */
        ori     t2, t1, INT_FLAG
        sd      t2, FPCW(sp)            /* control word, INT_FLAG set */
        /* The rest is corun__ctx_switch's; at .Lsave its CFI state is this
         * one (CFA = sp + FRAME, nothing saved yet). */
        j       .Lsave
        .cfi_endproc
        .size   corun__ctx_switch_int, .-corun__ctx_switch_int

/* void *corun__ctx_switch_ontop(corun__ctx *save [a0], corun__ctx to [a1],
 *                               void *data [a2], void (*fn)(void *) [a3],
 *                               void *arg [a4])
 * corun__ctx_switch, and then, on `to`'s stack and before `to` resumes,
 * fn(arg) (Boost.Context's ontop_fcontext has the same idea; ctx.h has
 * the contract, x86_64_sysv_elf.S the same code for x86-64). The
 * scheduler uses it for what must happen after the old context is saved
 * but before anything else runs: a yielding task may be queued only then.
 *
 * How: `to`'s frame is still ours (it is suspended, and the switch
 * consumes it), so its resume address slot (RESUME) is swapped for
 * .Lontop_shim and the real address kept in t5; then corun__ctx_switch
 * runs. That code uses a0-a2, t1-t4, ra (stored, not changed), sp and the
 * callee-saved registers, and leaves a3-a7, t0, t5 and t6 alone: so fn and
 * arg stay where the caller put them (a3, a4) and t5 survives. Its final
 * `jr t3` lands in the shim with a0 = data (sign-extended there if `to`
 * was left by corun__ctx_switch_int), sp = `to`'s sp after its call
 * (16-aligned: a suspended switch's caller's sp, or a new stack's top -
 * 16), frm and the callee-saved registers already `to`'s. The shim calls
 * fn(arg) there and jumps to the real resume address with a0 = data. The
 * extra cost against a plain switch: 5 instructions here (lla is two), 12
 * in the shim, fn's call and return and a second `jr`.
 *
 * ra is not touched here: at the `j`, it still holds our caller's return
 * address, which corun__ctx_switch saves as the resume address of the
 * context it leaves, exactly as if the caller had called it directly (a
 * tail call from the C layer keeps the user's call site there). The frame
 * left is a pointer frame (INT_FLAG clear), as this function returns a
 * pointer. A leaf until the `j`: the default CFI (CFA = sp, return address
 * in ra) describes it. t6 carries the shim's address only to the store
 * (the switch neither reads nor needs it). */
        .globl  corun__ctx_switch_ontop
        .hidden corun__ctx_switch_ontop
        .type   corun__ctx_switch_ontop, @function
        .p2align 2
corun__ctx_switch_ontop:
        .cfi_startproc
        ld      t5, RESUME(a1)          /* to's real resume address */
        lla     t6, .Lontop_shim
        sd      t6, RESUME(a1)          /* to resumes in the shim first */
        j       corun__ctx_switch       /* same sp, same ra */
        .cfi_endproc
        .size   corun__ctx_switch_ontop, .-corun__ctx_switch_ontop

/* Reached by corun__ctx_switch's `jr t3` (see corun__ctx_switch_ontop) with
 * a3 = fn, a4 = arg, t5 = the resume address, a0 = data, sp = 0 mod 16,
 * the callee-saved registers and frm already `to`'s. On a new context the
 * resume address is the trampoline's, which needs a0 = data, s1-s3
 * (entry, a, b) and s0 = 0: fn preserves s1-s11 (psABI, "Integer Register
 * Convention"), and a0 and s0 are put back below, so the trampoline
 * starts as after a plain switch.
 *
 * The shim's frame, 32 bytes (a multiple of 16: the psABI's "Integer
 * Calling Convention" wants sp 16-byte aligned at the call of fn):
 *   sp+0x00  data (a0), kept across the call (a0 is not preserved)
 *   sp+0x08  unused (never read)
 *   sp+0x10  s0, `to`'s frame pointer   } a frame record {fp, ra} below
 *   sp+0x18  the resume address (as ra) } the CFA
 *   sp+0x20  `to`'s sp, the CFA
 * s0 is pointed at the CFA during the call (psABI "Frame Pointer
 * Convention": fp = the CFA, the record at fp-16 and fp-8), so a
 * frame-pointer walk from fn goes fn -> shim -> the resumed code; s0 is
 * restored from the record afterwards, to `to`'s value (0 on a new
 * context, as the trampoline needs). fn preserves sp and s0, so the loads
 * after the call find the frame.
 *
 * Return-address prediction (see "Why jr t3 and not ret"): fn is called
 * with `jalr ra, a3` (rd = ra: a push) and returns with `ret` (a pop), a
 * matched pair; the shim leaves by `jr t3`, no hint, like the switch.
 * The resumed code thus starts with a0 = data, s0 = its own fp and
 * t3 = its resume address, as after a plain switch; ra, a3, a4 and t5
 * hold other values than a plain switch leaves, but none of them is
 * preserved across a call, so the resumed side expects nothing of them.
 *
 * Unwind info: at entry the return address is in t5 and the CFA is sp
 * (the resumed side's own sp after its call returned); once t5 is stored
 * in the record this looks like an ordinary frame, so a backtrace taken
 * inside fn continues into the code that is about to resume, and at the
 * end the return address is described as living in t3, as at the
 * switch's own `jr t3`. While corun__ctx_switch runs on `to`'s stack, its
 * CFI reads the return address from the swapped slot, i.e. .Lontop_shim:
 * an unwinder then looks it up at address - 1 (see the trampoline), which
 * the leading nop keeps inside this FDE, whose entry rules (CFA = sp,
 * return address in t5, which the switch leaves as it is) lead on to the
 * real resume address. */
        .type   corun__ctx_ontop_shim, @function
        .p2align 2
corun__ctx_ontop_shim:
        .cfi_startproc
        .cfi_def_cfa sp, 0
        .cfi_register ra, t5
        nop                             /* never run: address - 1 */
.Lontop_shim:
        addi    sp, sp, -32             /* the frame (16-aligned) */
        .cfi_def_cfa_offset 32
        sd      t5, 24(sp)              /* resume address, as the record's ra */
        .cfi_offset ra, -8
        sd      s0, 16(sp)              /* to's fp, as the record's link */
        .cfi_offset s0, -16
        sd      a0, 0(sp)               /* data, across the call */
        addi    s0, sp, 32              /* fp = the CFA, above the record */
        mv      a0, a4                  /* fn's argument */
        jalr    a3                      /* fn(arg): C, keeps s0-s11, sp */
        ld      a0, 0(sp)               /* the resumed switch returns data */
        ld      s0, 16(sp)              /* to's fp again */
        .cfi_restore s0
        ld      t3, 24(sp)              /* the resume address */
        .cfi_register ra, t3
        addi    sp, sp, 32              /* pop the frame */
        .cfi_def_cfa_offset 0
        jr      t3                      /* resume: no RAS hint (see above) */
        .cfi_endproc
        .size   corun__ctx_ontop_shim, .-corun__ctx_ontop_shim

/* corun__ctx corun__ctx_make(void *stack_top [a0], size_t size [a1],
 *                            corun__ctx_entry *entry [a2], void *a [a3],
 *                            void *b [a4])
 * Writes the frame table above at the top of the new stack and returns its
 * address. `size` is not needed here: the frame and the null frame record
 * above it use FRAME + 16 = 224 bytes at the top. */
        .globl  corun__ctx_make
        .hidden corun__ctx_make
        .type   corun__ctx_make, @function
        .p2align 2
corun__ctx_make:
        .cfi_startproc
        andi    a0, a0, -16             /* 16-byte aligned top */
        /* Frame at top-FRAME-16: after the switch pops it sp is top-16, a
         * multiple of 16, as entry needs. The 16 bytes above hold zeros. */
        addi    a0, a0, -(FRAME + 16)
        frrm    t0                      /* inherit the caller's frm, */
        sd      t0, FPCW(a0)            /* INT_FLAG clear: data is a pointer */
        addi    t1, a0, 8               /* zero every other slot and the */
        addi    t2, a0, FRAME + 16      /* null record above the frame: */
.Lzero:                                 /* s0 = 0 ends frame-pointer chains */
        sd      zero, 0(t1)
        addi    t1, t1, 8
        bltu    t1, t2, .Lzero
        sd      a2, S(1)(a0)            /* s1 = entry, for the trampoline */
        sd      a3, S(2)(a0)            /* s2 = a */
        sd      a4, S(3)(a0)            /* s3 = b */
        lla     t0, .Ltrampoline_entry
        sd      t0, RESUME(a0)          /* resume address: see trampoline */
        ret
        .cfi_endproc
        .size   corun__ctx_make, .-corun__ctx_make

/* First code of every new context, reached by the `jr t3` of
 * corun__ctx_switch with a0 = data, s1 = entry, s0 = 0 and sp = 0 mod 16.
 * Calls entry(data, a, b) with a = s2 and b = s3; entry never returns.
 * The resume address stored by corun__ctx_make is .Ltrampoline_entry, one
 * instruction past the symbol, not the symbol itself: an unwinder that
 * stops in a switch resuming a new context reads that address from the
 * frame as a return address and looks its FDE up at address - 1 (the call
 * instruction, for a real return address). With the symbol, address - 1
 * would be the last byte of corun__ctx_make, whose CFI (ra in ra) makes
 * the walk report the trampoline forever; with the padding instruction it
 * is inside this FDE, whose ra is undefined, and the walk ends. */
        .globl  corun__ctx_trampoline
        .hidden corun__ctx_trampoline
        .type   corun__ctx_trampoline, @function
        .p2align 2
corun__ctx_trampoline:
        .cfi_startproc
        /* Unwinders stop here: there is no caller frame to return to. */
        .cfi_undefined ra
        nop                             /* never run: see above */
.Ltrampoline_entry:
        li      ra, 0                   /* no caller, for ra-based walkers */
        mv      a1, s2                  /* a */
        mv      a2, s3                  /* b */
        jalr    s1                      /* entry(data, a, b): ra = next insn */
        /* entry returned: a broken invariant of the layer above. */
        call    abort@plt
        unimp
        .cfi_endproc
        .size   corun__ctx_trampoline, .-corun__ctx_trampoline

        .section .rodata
        .globl  corun__ctx_backend
        .hidden corun__ctx_backend
        .type   corun__ctx_backend, @object
corun__ctx_backend:
        .asciz  "riscv64-lp64d"
        .size   corun__ctx_backend, .-corun__ctx_backend

        .section .note.GNU-stack,"",@progbits
