/* regs_aarch64.S: test helper for tests/ctx/regs.c (AArch64, AAPCS64, ELF).
 *
 *   void regs_run(const uint64_t in[19], uint64_t out[21],
 *                 void (*cb)(void *), void *arg);
 *
 * Loads in[0..10] into the callee-saved general registers x19-x29 and the
 * bit patterns in[11..18] into d8-d15, calls cb(arg) with those values in
 * place, then stores what the nineteen registers hold after cb returns
 * into out[0..18], the stack pointer seen just before the call into
 * out[19] and just after it into out[20], restores the caller's registers
 * and returns. cb is C code that switches to another coroutine and back:
 * if the switch preserves the callee-saved set, out[0..18] equals
 * in[0..18] and out[19] equals out[20].
 *
 * ABI: AAPCS64 (ARM IHI 0055), "General-purpose Registers" (x19-x29
 * callee-saved; this function preserves them, and x30, for its own
 * caller), "SIMD and Floating-Point Registers" (the low 64 bits of v8-v15,
 * d8-d15, callee-saved) and "The Stack" (sp 16-byte aligned whenever it
 * addresses memory: the frame below is 0xb0 bytes, so sp is aligned at
 * our `blr`).
 * The d registers are loaded and read through general registers with
 * fmov, which copies the 64 bits unchanged (no FP conversion, so NaN
 * patterns survive as they are).
 * x29 holds a test pattern during the call, so this function keeps no
 * frame-pointer chain; its CFI (CFA = sp + 0xb0) describes where the
 * caller's registers are saved, so unwinders (backtrace(), gdb, valgrind,
 * ASan's slow unwinder) can walk through this frame while the registers
 * hold the test patterns.
 *
 * Frame (offsets from sp after the first store):
 *   0x00 x29, x30   0x10 x19, x20   0x20 x21, x22   0x30 x23, x24
 *   0x40 x25, x26   0x50 x27, x28   0x60 d8, d9     0x70 d10, d11
 *   0x80 d12, d13   0x90 d14, d15   0xa0 `out`, unused */

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define REGS_BTI_C bti c
#else
#define REGS_BTI_C
#endif

        .text
        .globl  regs_run
        .type   regs_run, %function
        .p2align 4
regs_run:
        .cfi_startproc
        REGS_BTI_C                      /* may be reached by blr/PLT */
        /* Save the caller's callee-saved registers. */
        stp     x29, x30, [sp, #-0xb0]! /* frame, caller's fp and lr */
        .cfi_def_cfa_offset 0xb0
        .cfi_offset x29, -0xb0
        .cfi_offset x30, -0xa8
        stp     x19, x20, [sp, #0x10]   /* caller's x19, x20 */
        .cfi_offset x19, -0xa0
        .cfi_offset x20, -0x98
        stp     x21, x22, [sp, #0x20]   /* caller's x21, x22 */
        .cfi_offset x21, -0x90
        .cfi_offset x22, -0x88
        stp     x23, x24, [sp, #0x30]   /* caller's x23, x24 */
        .cfi_offset x23, -0x80
        .cfi_offset x24, -0x78
        stp     x25, x26, [sp, #0x40]   /* caller's x25, x26 */
        .cfi_offset x25, -0x70
        .cfi_offset x26, -0x68
        stp     x27, x28, [sp, #0x50]   /* caller's x27, x28 */
        .cfi_offset x27, -0x60
        .cfi_offset x28, -0x58
        stp     d8, d9, [sp, #0x60]     /* caller's d8, d9 */
        .cfi_offset d8, -0x50
        .cfi_offset d9, -0x48
        stp     d10, d11, [sp, #0x70]   /* caller's d10, d11 */
        .cfi_offset d10, -0x40
        .cfi_offset d11, -0x38
        stp     d12, d13, [sp, #0x80]   /* caller's d12, d13 */
        .cfi_offset d12, -0x30
        .cfi_offset d13, -0x28
        stp     d14, d15, [sp, #0x90]   /* caller's d14, d15 */
        .cfi_offset d14, -0x20
        .cfi_offset d15, -0x18
        str     x1, [sp, #0xa0]         /* keep `out` across the call */

        mov     x9, sp                  /* str cannot store sp itself */
        str     x9, [x1, #19 * 8]       /* out[19] = sp before the call */
        /* x2 (cb) and x3 (arg) stay untouched while x0 walks `in`. */
        ldp     x19, x20, [x0, #0 * 8]  /* load patterns in[0], in[1] */
        ldp     x21, x22, [x0, #2 * 8]  /* in[2], in[3] */
        ldp     x23, x24, [x0, #4 * 8]  /* in[4], in[5] */
        ldp     x25, x26, [x0, #6 * 8]  /* in[6], in[7] */
        ldp     x27, x28, [x0, #8 * 8]  /* in[8], in[9] */
        ldr     x29, [x0, #10 * 8]      /* in[10] into x29 (fp) */
        ldp     x9, x10, [x0, #11 * 8]  /* in[11], in[12] */
        fmov    d8, x9                  /* bit pattern into d8 */
        fmov    d9, x10                 /* into d9 */
        ldp     x9, x10, [x0, #13 * 8]  /* in[13], in[14] */
        fmov    d10, x9
        fmov    d11, x10
        ldp     x9, x10, [x0, #15 * 8]  /* in[15], in[16] */
        fmov    d12, x9
        fmov    d13, x10
        ldp     x9, x10, [x0, #17 * 8]  /* in[17], in[18] */
        fmov    d14, x9
        fmov    d15, x10
        mov     x0, x3                  /* first argument of cb: arg */
        blr     x2                      /* cb(arg): switches away and back */

        mov     x9, sp                  /* sp after the call (before any use) */
        ldr     x1, [sp, #0xa0]         /* reload `out` from our frame */
        str     x9, [x1, #20 * 8]       /* out[20] = sp after the call */
        stp     x19, x20, [x1, #0 * 8]  /* out[0], out[1] = x19, x20 as cb
                                         * left them */
        stp     x21, x22, [x1, #2 * 8]  /* out[2], out[3] */
        stp     x23, x24, [x1, #4 * 8]  /* out[4], out[5] */
        stp     x25, x26, [x1, #6 * 8]  /* out[6], out[7] */
        stp     x27, x28, [x1, #8 * 8]  /* out[8], out[9] */
        str     x29, [x1, #10 * 8]      /* out[10] = x29 */
        fmov    x9, d8                  /* d8's 64 bits */
        fmov    x10, d9                 /* d9's */
        stp     x9, x10, [x1, #11 * 8]  /* out[11], out[12] */
        fmov    x9, d10
        fmov    x10, d11
        stp     x9, x10, [x1, #13 * 8]  /* out[13], out[14] */
        fmov    x9, d12
        fmov    x10, d13
        stp     x9, x10, [x1, #15 * 8]  /* out[15], out[16] */
        fmov    x9, d14
        fmov    x10, d15
        stp     x9, x10, [x1, #17 * 8]  /* out[17], out[18] */

        /* Restore the caller's registers. */
        ldp     d14, d15, [sp, #0x90]   /* caller's d14, d15 */
        .cfi_restore d14
        .cfi_restore d15
        ldp     d12, d13, [sp, #0x80]   /* d12, d13 */
        .cfi_restore d12
        .cfi_restore d13
        ldp     d10, d11, [sp, #0x70]   /* d10, d11 */
        .cfi_restore d10
        .cfi_restore d11
        ldp     d8, d9, [sp, #0x60]     /* d8, d9 */
        .cfi_restore d8
        .cfi_restore d9
        ldp     x27, x28, [sp, #0x50]   /* x27, x28 */
        .cfi_restore x27
        .cfi_restore x28
        ldp     x25, x26, [sp, #0x40]   /* x25, x26 */
        .cfi_restore x25
        .cfi_restore x26
        ldp     x23, x24, [sp, #0x30]   /* x23, x24 */
        .cfi_restore x23
        .cfi_restore x24
        ldp     x21, x22, [sp, #0x20]   /* x21, x22 */
        .cfi_restore x21
        .cfi_restore x22
        ldp     x19, x20, [sp, #0x10]   /* x19, x20 */
        .cfi_restore x19
        .cfi_restore x20
        ldp     x29, x30, [sp], #0xb0   /* fp, lr; pop the frame */
        .cfi_def_cfa_offset 0
        .cfi_restore x29
        .cfi_restore x30
        ret
        .cfi_endproc
        .size   regs_run, .-regs_run

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
/* BTI-compatible (every indirect-branch target has a landing pad), so the
 * test binary stays BTI-marked when everything else is: see the same note
 * in src/arch/aarch64_aapcs_elf.S. */
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* n_namesz: "GNU\0" */
        .long   16                      /* n_descsz */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4                       /* pr_datasz */
        .long   1                       /* BTI */
        .long   0                       /* padding */
#endif

        .section .note.GNU-stack,"",%progbits
