/* regs.c: proves that every switch preserves the callee-saved registers
 * and the stack pointer of both sides: x86-64 rbx, rbp, r12-r15; AArch64
 * x19-x29 and d8-d15; RISC-V 64 s0-s11 and fs0-fs11.
 *
 * regs_<arch>.S loads known 64-bit patterns into those registers, calls a
 * C callback that switches to the other side and back, and reports what the
 * registers and rsp hold afterwards. The other side runs the same helper
 * with different patterns in between, so a switch that forgot a register
 * would hand one side the other side's values. Covered transitions: raw
 * corun__ctx_switch (new context and suspended context), the same with
 * corun__ctx_switch_ontop (where the backend has it), resume/yield,
 * symmetric transfer between two coroutines, a coroutine that starts and
 * finishes inside one callback, and corun_destroy closing a suspended one.
 * Runs on both backends (asm and ucontext). */
#include <stdint.h>

#include "arch/ctx.h"
#include "corun.h"
#include "raw_stack.h"
#include "t.h"

/* The per-architecture helper: loads in[0..REGS_N-1] into the saved
 * registers, calls cb(arg), stores what they hold afterwards into
 * out[0..REGS_N-1], the stack pointer just before the call into
 * out[REGS_N] and just after it into out[REGS_N+1]. */
#if defined(__x86_64__)
#define REGS_N 6
static const char *const reg_names[REGS_N] = {"rbx", "rbp", "r12",
                                              "r13", "r14", "r15"};
#elif defined(__aarch64__)
#define REGS_N 19
static const char *const reg_names[REGS_N] = {
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
    "x29", "d8",  "d9",  "d10", "d11", "d12", "d13", "d14", "d15"};
#elif defined(__riscv) && __riscv_xlen == 64
#define REGS_N 24
static const char *const reg_names[REGS_N] = {
    "s0",  "s1",  "s2",  "s3",  "s4",  "s5",  "s6",   "s7",
    "s8",  "s9",  "s10", "s11", "fs0", "fs1", "fs2",  "fs3",
    "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11"};
#else
#error "no regs helper for this architecture"
#endif

void regs_run(const uint64_t in[REGS_N], uint64_t out[REGS_N + 2],
              void (*cb)(void *), void *arg);

/* A distinct, non-trivial pattern for (side, round, register). */
static uint64_t pattern(unsigned side, unsigned round, unsigned reg) {
  uint64_t z = ((uint64_t)side << 40) ^ ((uint64_t)round << 8) ^ reg;
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void fill(uint64_t in[REGS_N], unsigned side, unsigned round) {
  for (unsigned r = 0; r < REGS_N; r++)
    in[r] = pattern(side, round, r);
}

/* Compares the helper's report with what was loaded. */
static void check(const char *what, unsigned round, const uint64_t in[REGS_N],
                  const uint64_t out[REGS_N + 2]) {
  for (unsigned r = 0; r < REGS_N; r++) {
    if (in[r] != out[r])
      fprintf(stderr, "%s round %u: %s changed\n", what, round, reg_names[r]);
    T_EQ_HEX(out[r], in[r]);
  }
  /* The stack pointer after the switch == before it, 16-byte aligned at
   * the call (all three ABIs require it). */
  T_EQ_HEX(out[REGS_N + 1], out[REGS_N]);
  T_EQ(out[REGS_N] % 16, 0);
}

static void run_and_check(const char *what, unsigned side, unsigned round,
                          void (*cb)(void *), void *arg) {
  uint64_t in[REGS_N], out[REGS_N + 2];
  fill(in, side, round);
  regs_run(in, out, cb, arg);
  check(what, round, in, out);
}

static void noop_cb(void *arg) {
  (void)arg;
}

enum { ROUNDS = 200 };

/* ---- 1. the raw arch layer: corun__ctx_make / corun__ctx_switch ------- */

struct raw {
  corun__ctx *save; /* where this side's context is saved */
  corun__ctx *to;   /* the other side's saved context */
  void *seen;       /* data delivered by the last switch into this side */
};

static corun__ctx main_ctx, side_ctx;
static struct raw raw_main = {&main_ctx, &side_ctx, NULL};
static struct raw raw_side = {&side_ctx, &main_ctx, NULL};

static void raw_cb(void *arg) {
  struct raw *me = arg;
  me->seen = corun__ctx_switch(me->save, *me->to, me);
}

#define RAW_A ((uintptr_t)0xa1a2a3a4a5a6a7a8u)
#define RAW_B ((uintptr_t)0xb1b2b3b4b5b6b7b8u)

static void raw_entry(void *data, void *a, void *b) {
  /* The first switch's data reaches entry, and so do corun__ctx_make's
   * two words, whole. */
  T_EQ_HEX((uintptr_t)data, (uintptr_t)&raw_main);
  T_EQ_HEX((uintptr_t)a, RAW_A);
  T_EQ_HEX((uintptr_t)b, RAW_B);
  for (unsigned k = 0; k < ROUNDS; k++) {
    run_and_check("raw side", 2, k, raw_cb, &raw_side);
    T_EQ_HEX((uintptr_t)raw_side.seen, (uintptr_t)&raw_main);
  }
  /* Never return: hand control back for good. */
  corun__ctx_switch(&side_ctx, main_ctx, NULL);
  T_TRUE(!"a finished raw context was resumed");
}

static void test_raw(void) {
  struct raw_stack st;
  raw_stack_map(&st, 64 * 1024);
  side_ctx = corun__ctx_make(st.hi, (size_t)(st.hi - st.lo), raw_entry,
                             (void *)RAW_A, (void *)RAW_B);
  T_TRUE(side_ctx != NULL);
  for (unsigned k = 0; k < ROUNDS; k++) {
    run_and_check("raw main", 1, k, raw_cb, &raw_main);
    T_EQ_HEX((uintptr_t)raw_main.seen, (uintptr_t)&raw_side);
  }
  /* One more switch lets raw_entry leave its loop and switch back with
   * NULL. */
  run_and_check("raw main (last)", 1, ROUNDS, raw_cb, &raw_main);
  T_EQ_HEX((uintptr_t)raw_main.seen, 0);
  raw_stack_done(&st);
}

/* ---- 1b. the raw arch layer: corun__ctx_switch_ontop ------------------
 * The same ping-pong with the switch that first runs a function on the
 * arriving side (the scheduler's direct yield uses it). Checked: both
 * sides' registers and stack pointer survive it, as above; the function
 * runs once per switch, on the stack of the side that is about to resume
 * and before that side resumes, also for the first switch into a new
 * context; it may use every callee-saved register itself (it runs the
 * helper with its own patterns); and data still comes through. */
#if CORUN__CTX_HAVE_ONTOP

struct ontop {
  corun__ctx *save, *to;
  struct ontop *other;
  void *seen;        /* data delivered by the last switch into this side */
  unsigned arrivals; /* the function's runs for this side */
  int on_side_stack; /* this side runs on the mmap()ed stack */
};

static corun__ctx ot_main_ctx, ot_side_ctx;
static struct ontop ot_main, ot_side;
static char *ot_lo, *ot_hi; /* the side's stack */

/* The function run on arrival: `arg` is the side about to resume. */
static void on_arrival(void *arg) {
  struct ontop *dest = arg;
  char here; /* on the stack it runs on */
  int on_side = &here >= ot_lo && &here < ot_hi;
  T_EQ(on_side, dest->on_side_stack);
  dest->arrivals++;
  run_and_check("ontop function", 12, dest->arrivals, noop_cb, NULL);
}

static void ontop_cb(void *arg) {
  struct ontop *me = arg;
  unsigned before = me->arrivals;
  me->seen =
      corun__ctx_switch_ontop(me->save, *me->to, me, on_arrival, me->other);
  T_EQ(me->arrivals, before + 1); /* it ran for us before we went on */
}

static void ontop_entry(void *data, void *a, void *b) {
  T_EQ_HEX((uintptr_t)data, (uintptr_t)&ot_main);
  T_EQ_HEX((uintptr_t)a, RAW_A);
  T_EQ_HEX((uintptr_t)b, RAW_B);
  T_EQ(ot_side.arrivals, 1); /* ran before the entry, on this stack */
  for (unsigned k = 0; k < ROUNDS; k++) {
    run_and_check("ontop side", 13, k, ontop_cb, &ot_side);
    T_EQ_HEX((uintptr_t)ot_side.seen, (uintptr_t)&ot_main);
  }
  corun__ctx_switch_ontop(&ot_side_ctx, ot_main_ctx, NULL, on_arrival,
                          &ot_main);
  T_TRUE(!"a finished raw context was resumed");
}

static void test_raw_ontop(void) {
  struct raw_stack st;
  raw_stack_map(&st, 64 * 1024);
  ot_lo = st.lo;
  ot_hi = st.hi;
  ot_main = (struct ontop){&ot_main_ctx, &ot_side_ctx, &ot_side, NULL, 0, 0};
  ot_side = (struct ontop){&ot_side_ctx, &ot_main_ctx, &ot_main, NULL, 0, 1};
  ot_side_ctx = corun__ctx_make(st.hi, (size_t)(st.hi - st.lo), ontop_entry,
                                (void *)RAW_A, (void *)RAW_B);
  T_TRUE(ot_side_ctx != NULL);
  for (unsigned k = 0; k < ROUNDS; k++) {
    run_and_check("ontop main", 14, k, ontop_cb, &ot_main);
    T_EQ_HEX((uintptr_t)ot_main.seen, (uintptr_t)&ot_side);
  }
  /* The last switch lets ontop_entry leave its loop and come back with
   * NULL, through the function too. */
  run_and_check("ontop main (last)", 14, ROUNDS, ontop_cb, &ot_main);
  T_EQ_HEX((uintptr_t)ot_main.seen, 0);
  T_EQ(ot_main.arrivals, ROUNDS + 1);
  T_EQ(ot_side.arrivals, ROUNDS + 1);
  raw_stack_done(&st);
}

#else
static void test_raw_ontop(void) {
  printf("no corun__ctx_switch_ontop in the %s backend\n", corun__ctx_backend);
}
#endif

/* ---- 2. resume / yield ------------------------------------------------- */

static void yield_cb(void *arg) {
  (void)arg;
  corun_yield(NULL);
}

static void resume_cb(void *arg) {
  T_EQ(corun_resume(arg, NULL, NULL), 1);
}

/* Resumes a coroutine that finishes before control comes back. */
static void resume_to_end_cb(void *arg) {
  T_EQ(corun_resume(arg, NULL, NULL), 0);
}

static void *yield_body(void *arg) {
  (void)arg;
  for (unsigned k = 0; k < ROUNDS; k++)
    run_and_check("coroutine (yield)", 3, k, yield_cb, NULL);
  return NULL;
}

static void test_resume_yield(void) {
  corun_coro *co;
  T_OK(corun_create(&co, yield_body, NULL, NULL));
  for (unsigned k = 0; k < ROUNDS; k++)
    run_and_check("main (resume)", 4, k, resume_cb, co);
  /* The last resume lets the body finish: the finish path restores main. */
  run_and_check("main (resume to the end)", 4, ROUNDS, resume_to_end_cb, co);
  T_OK(corun_destroy(co));
}

/* ---- 3. symmetric transfer between two coroutines ---------------------- */

static corun_coro *tr_a, *tr_b;

static void transfer_cb(void *to) {
  T_EQ(corun_transfer(to, NULL, NULL), 1);
}

static void *transfer_body(void *arg) {
  unsigned side = (unsigned)(uintptr_t)arg;
  corun_coro *other = side == 5 ? tr_b : tr_a;
  for (unsigned k = 0; k < ROUNDS; k++)
    run_and_check(side == 5 ? "coroutine A (transfer)"
                            : "coroutine B (transfer)",
                  side, k, transfer_cb, other);
  return NULL;
}

static void test_transfer(void) {
  T_OK(corun_create(&tr_a, transfer_body, (void *)(uintptr_t)5, NULL));
  T_OK(corun_create(&tr_b, transfer_body, (void *)(uintptr_t)6, NULL));
  /* A starts and hands over to B, which starts and hands back, ...; after
   * ROUNDS hand-overs each, A finishes (its last transfer was answered by
   * B's) and control returns here. */
  uint64_t in[REGS_N], out[REGS_N + 2];
  fill(in, 7, 0);
  regs_run(in, out, resume_to_end_cb, tr_a);
  check("main (transfer chain)", 0, in, out);
  /* B is suspended in its last transfer; destroying it closes it. */
  T_EQ(corun_status(tr_a), CORUN_DEAD);
  T_EQ(corun_status(tr_b), CORUN_SUSPENDED);
  T_OK(corun_destroy(tr_a));
  T_OK(corun_destroy(tr_b));
}

/* ---- 4. a coroutine that starts and finishes inside one callback ------- */

static void *garbage_body(void *arg) {
  unsigned k = (unsigned)(uintptr_t)arg;
  run_and_check("short-lived coroutine", 8, k, noop_cb, NULL);
  return (void *)(uintptr_t)(k + 1);
}

static void start_finish_cb(void *arg) {
  unsigned k = (unsigned)(uintptr_t)arg;
  corun_coro *co;
  void *out = NULL;
  T_OK(corun_create(&co, garbage_body, (void *)(uintptr_t)k, NULL));
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_EQ((uintptr_t)out, k + 1);
  T_OK(corun_destroy(co));
}

static void test_start_finish(void) {
  for (unsigned k = 0; k < ROUNDS; k++)
    run_and_check("main (start+finish)", 9, k, start_finish_cb,
                  (void *)(uintptr_t)k);
}

/* ---- 5. corun_destroy closing a suspended coroutine -------------------- */

static void *closing_body(void *arg) {
  (void)arg;
  corun_yield(NULL);
  T_EQ(corun_closing(), 1);
  run_and_check("closing coroutine", 10, 0, noop_cb, NULL);
  return NULL;
}

static void destroy_cb(void *co) {
  T_OK(corun_destroy(co));
}

static void test_destroy(void) {
  for (unsigned k = 0; k < ROUNDS; k++) {
    corun_coro *co;
    T_OK(corun_create(&co, closing_body, NULL, NULL));
    T_EQ(corun_resume(co, NULL, NULL), 1);
    run_and_check("main (destroy)", 11, k, destroy_cb, co);
  }
}

int main(void) {
  printf("backend: %s\n", corun__ctx_backend);
  test_raw();
  test_raw_ontop();
  test_resume_yield();
  test_transfer();
  test_start_finish();
  test_destroy();
  return 0;
}
