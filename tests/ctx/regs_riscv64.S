/* regs_riscv64.S: test helper for tests/ctx/regs.c (RISC-V 64, LP64D, ELF).
 *
 *   void regs_run(const uint64_t in[24], uint64_t out[26],
 *                 void (*cb)(void *), void *arg);
 *
 * Loads in[0..11] into the callee-saved registers s0..s11 and in[12..23]
 * into fs0..fs11 (as 64-bit patterns, moved bit for bit by fmv.d.x), calls
 * cb(arg) with those values in place, then stores what the 24 registers
 * hold after cb returns into out[0..23], the stack pointer seen just before
 * the call into out[24] and just after it into out[25], restores the
 * caller's registers and returns. cb is C code that switches to another
 * coroutine and back: if the switch preserves the callee-saved set,
 * out[0..23] equals in[0..23] and out[24] equals out[25].
 *
 * ABI: RISC-V ELF psABI, riscv-cc.adoc, "Integer Register Convention"
 * (s0-s11 and sp preserved across calls; this function preserves them for
 * its own caller), "Floating-Point Register Convention" (fs0-fs11
 * preserved, all 64 bits under LP64D) and "Integer Calling Convention" (sp
 * 16-byte aligned at entry and throughout: the frame is 0xd0 = 13 * 16
 * bytes, so sp is 16-byte aligned at our call). fmv.d.x / fmv.x.d move the
 * 64 bits between integer and FP registers unchanged (no NaN
 * canonicalization), so any pattern survives (Unprivileged ISA, "D"
 * extension, "Double-Precision Floating-Point Move Instructions").
 * The CFI describes where the caller's registers are saved, so unwinders
 * (backtrace(), gdb, the C++ unwinder) can walk through this frame while
 * the registers hold the test patterns.
 *
 * Frame (offsets from sp after the prologue; CFA = sp + 0xd0):
 *   0x00 out, kept across the call   0x08..0x60 caller's fs0..fs11
 *   0x68..0xb8 caller's s1..s11      0xc0 caller's s0   0xc8 ra */

        .text
        .globl  regs_run
        .type   regs_run, @function
        .p2align 2
regs_run:                               /* a0 in, a1 out, a2 cb, a3 arg */
        .cfi_startproc
        /* Save the caller's callee-saved registers and our return address. */
        addi    sp, sp, -0xd0           /* frame, a multiple of 16 */
        .cfi_def_cfa_offset 0xd0
        sd      ra, 0xc8(sp)            /* our return address */
        .cfi_offset ra, -0x08
        sd      s0, 0xc0(sp)            /* caller's s0 */
        .cfi_offset s0, -0x10
        sd      s1, 0x68(sp)            /* caller's s1 */
        .cfi_offset s1, -0x68
        sd      s2, 0x70(sp)            /* caller's s2 */
        .cfi_offset s2, -0x60
        sd      s3, 0x78(sp)            /* caller's s3 */
        .cfi_offset s3, -0x58
        sd      s4, 0x80(sp)            /* caller's s4 */
        .cfi_offset s4, -0x50
        sd      s5, 0x88(sp)            /* caller's s5 */
        .cfi_offset s5, -0x48
        sd      s6, 0x90(sp)            /* caller's s6 */
        .cfi_offset s6, -0x40
        sd      s7, 0x98(sp)            /* caller's s7 */
        .cfi_offset s7, -0x38
        sd      s8, 0xa0(sp)            /* caller's s8 */
        .cfi_offset s8, -0x30
        sd      s9, 0xa8(sp)            /* caller's s9 */
        .cfi_offset s9, -0x28
        sd      s10, 0xb0(sp)           /* caller's s10 */
        .cfi_offset s10, -0x20
        sd      s11, 0xb8(sp)           /* caller's s11 */
        .cfi_offset s11, -0x18
        fsd     fs0, 0x08(sp)           /* caller's fs0 */
        .cfi_offset fs0, -0xc8
        fsd     fs1, 0x10(sp)           /* caller's fs1 */
        .cfi_offset fs1, -0xc0
        fsd     fs2, 0x18(sp)           /* caller's fs2 */
        .cfi_offset fs2, -0xb8
        fsd     fs3, 0x20(sp)           /* caller's fs3 */
        .cfi_offset fs3, -0xb0
        fsd     fs4, 0x28(sp)           /* caller's fs4 */
        .cfi_offset fs4, -0xa8
        fsd     fs5, 0x30(sp)           /* caller's fs5 */
        .cfi_offset fs5, -0xa0
        fsd     fs6, 0x38(sp)           /* caller's fs6 */
        .cfi_offset fs6, -0x98
        fsd     fs7, 0x40(sp)           /* caller's fs7 */
        .cfi_offset fs7, -0x90
        fsd     fs8, 0x48(sp)           /* caller's fs8 */
        .cfi_offset fs8, -0x88
        fsd     fs9, 0x50(sp)           /* caller's fs9 */
        .cfi_offset fs9, -0x80
        fsd     fs10, 0x58(sp)          /* caller's fs10 */
        .cfi_offset fs10, -0x78
        fsd     fs11, 0x60(sp)          /* caller's fs11 */
        .cfi_offset fs11, -0x70
        sd      a1, 0x00(sp)            /* keep `out` across the call */

        sd      sp, 0xc0(a1)            /* out[24] = sp before the call */
        /* a2 (cb) and a3 (arg) stay untouched: the loads below use only
         * a0 and t0. */
        ld      s0, 0x00(a0)            /* load pattern in[0] into s0 */
        ld      s1, 0x08(a0)            /* in[1] into s1 */
        ld      s2, 0x10(a0)            /* in[2] into s2 */
        ld      s3, 0x18(a0)            /* in[3] into s3 */
        ld      s4, 0x20(a0)            /* in[4] into s4 */
        ld      s5, 0x28(a0)            /* in[5] into s5 */
        ld      s6, 0x30(a0)            /* in[6] into s6 */
        ld      s7, 0x38(a0)            /* in[7] into s7 */
        ld      s8, 0x40(a0)            /* in[8] into s8 */
        ld      s9, 0x48(a0)            /* in[9] into s9 */
        ld      s10, 0x50(a0)           /* in[10] into s10 */
        ld      s11, 0x58(a0)           /* in[11] into s11 */
        ld      t0, 0x60(a0)            /* in[12] ... */
        fmv.d.x fs0, t0                 /* ... into fs0, bits unchanged */
        ld      t0, 0x68(a0)            /* in[13] into fs1 */
        fmv.d.x fs1, t0
        ld      t0, 0x70(a0)            /* in[14] into fs2 */
        fmv.d.x fs2, t0
        ld      t0, 0x78(a0)            /* in[15] into fs3 */
        fmv.d.x fs3, t0
        ld      t0, 0x80(a0)            /* in[16] into fs4 */
        fmv.d.x fs4, t0
        ld      t0, 0x88(a0)            /* in[17] into fs5 */
        fmv.d.x fs5, t0
        ld      t0, 0x90(a0)            /* in[18] into fs6 */
        fmv.d.x fs6, t0
        ld      t0, 0x98(a0)            /* in[19] into fs7 */
        fmv.d.x fs7, t0
        ld      t0, 0xa0(a0)            /* in[20] into fs8 */
        fmv.d.x fs8, t0
        ld      t0, 0xa8(a0)            /* in[21] into fs9 */
        fmv.d.x fs9, t0
        ld      t0, 0xb0(a0)            /* in[22] into fs10 */
        fmv.d.x fs10, t0
        ld      t0, 0xb8(a0)            /* in[23] into fs11 */
        fmv.d.x fs11, t0
        mv      a0, a3                  /* first argument of cb: arg */
        jalr    a2                      /* cb(arg): switches away and back */

        ld      t0, 0x00(sp)            /* reload `out` from our frame */
        sd      sp, 0xc8(t0)            /* out[25] = sp after the call */
        sd      s0, 0x00(t0)            /* out[0] = s0 as cb left it */
        sd      s1, 0x08(t0)            /* out[1] = s1 */
        sd      s2, 0x10(t0)            /* out[2] = s2 */
        sd      s3, 0x18(t0)            /* out[3] = s3 */
        sd      s4, 0x20(t0)            /* out[4] = s4 */
        sd      s5, 0x28(t0)            /* out[5] = s5 */
        sd      s6, 0x30(t0)            /* out[6] = s6 */
        sd      s7, 0x38(t0)            /* out[7] = s7 */
        sd      s8, 0x40(t0)            /* out[8] = s8 */
        sd      s9, 0x48(t0)            /* out[9] = s9 */
        sd      s10, 0x50(t0)           /* out[10] = s10 */
        sd      s11, 0x58(t0)           /* out[11] = s11 */
        fmv.x.d t1, fs0                 /* fs0's bits ... */
        sd      t1, 0x60(t0)            /* ... into out[12] */
        fmv.x.d t1, fs1                 /* out[13] = fs1 */
        sd      t1, 0x68(t0)
        fmv.x.d t1, fs2                 /* out[14] = fs2 */
        sd      t1, 0x70(t0)
        fmv.x.d t1, fs3                 /* out[15] = fs3 */
        sd      t1, 0x78(t0)
        fmv.x.d t1, fs4                 /* out[16] = fs4 */
        sd      t1, 0x80(t0)
        fmv.x.d t1, fs5                 /* out[17] = fs5 */
        sd      t1, 0x88(t0)
        fmv.x.d t1, fs6                 /* out[18] = fs6 */
        sd      t1, 0x90(t0)
        fmv.x.d t1, fs7                 /* out[19] = fs7 */
        sd      t1, 0x98(t0)
        fmv.x.d t1, fs8                 /* out[20] = fs8 */
        sd      t1, 0xa0(t0)
        fmv.x.d t1, fs9                 /* out[21] = fs9 */
        sd      t1, 0xa8(t0)
        fmv.x.d t1, fs10                /* out[22] = fs10 */
        sd      t1, 0xb0(t0)
        fmv.x.d t1, fs11                /* out[23] = fs11 */
        sd      t1, 0xb8(t0)

        /* Restore the caller's registers. */
        ld      s0, 0xc0(sp)            /* s0 */
        .cfi_restore s0
        ld      s1, 0x68(sp)            /* s1 */
        .cfi_restore s1
        ld      s2, 0x70(sp)            /* s2 */
        .cfi_restore s2
        ld      s3, 0x78(sp)            /* s3 */
        .cfi_restore s3
        ld      s4, 0x80(sp)            /* s4 */
        .cfi_restore s4
        ld      s5, 0x88(sp)            /* s5 */
        .cfi_restore s5
        ld      s6, 0x90(sp)            /* s6 */
        .cfi_restore s6
        ld      s7, 0x98(sp)            /* s7 */
        .cfi_restore s7
        ld      s8, 0xa0(sp)            /* s8 */
        .cfi_restore s8
        ld      s9, 0xa8(sp)            /* s9 */
        .cfi_restore s9
        ld      s10, 0xb0(sp)           /* s10 */
        .cfi_restore s10
        ld      s11, 0xb8(sp)           /* s11 */
        .cfi_restore s11
        fld     fs0, 0x08(sp)           /* fs0 */
        .cfi_restore fs0
        fld     fs1, 0x10(sp)           /* fs1 */
        .cfi_restore fs1
        fld     fs2, 0x18(sp)           /* fs2 */
        .cfi_restore fs2
        fld     fs3, 0x20(sp)           /* fs3 */
        .cfi_restore fs3
        fld     fs4, 0x28(sp)           /* fs4 */
        .cfi_restore fs4
        fld     fs5, 0x30(sp)           /* fs5 */
        .cfi_restore fs5
        fld     fs6, 0x38(sp)           /* fs6 */
        .cfi_restore fs6
        fld     fs7, 0x40(sp)           /* fs7 */
        .cfi_restore fs7
        fld     fs8, 0x48(sp)           /* fs8 */
        .cfi_restore fs8
        fld     fs9, 0x50(sp)           /* fs9 */
        .cfi_restore fs9
        fld     fs10, 0x58(sp)          /* fs10 */
        .cfi_restore fs10
        fld     fs11, 0x60(sp)          /* fs11 */
        .cfi_restore fs11
        ld      ra, 0xc8(sp)            /* our return address */
        .cfi_restore ra
        addi    sp, sp, 0xd0            /* pop the frame */
        .cfi_def_cfa_offset 0
        ret
        .cfi_endproc
        .size   regs_run, .-regs_run

        .section .note.GNU-stack,"",@progbits
