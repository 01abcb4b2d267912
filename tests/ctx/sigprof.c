/* sigprof.c: proves a signal may arrive at any instruction of a switch and
 * its handler can still unwind the interrupted stack (USERS.md item 12;
 * gperftools#1163 is what happens otherwise). Two coroutines and the main
 * stack switch continuously (resume, yield, transfer, create/finish/destroy)
 * while ITIMER_PROF fires every 50 us of CPU time; the handler walks the
 * interrupted stack with _Unwind_Backtrace. Every walk must end cleanly,
 * at the end of the stack (the trampoline on a coroutine stack, or libc's
 * start code), within a bounded number of frames, without crashing.
 * The CFI of corun__ctx_switch is what makes that hold in the middle of
 * the switch, where the stack pointer is already the other stack's.
 * A second phase does the same with corun__ctx_switch_ontop between the
 * main stack and a raw context (where the backend has it): its shim, and
 * the function it runs on the arriving stack, must unwind as cleanly.
 * The ucontext backend is skipped: glibc's swapcontext has no CFI for its
 * instructions after the stack pointer changes, and libgcc's unwinder
 * crashes on a signal there (a limitation documented in ucontext.c). */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unwind.h>

#include "arch/ctx.h"
#include "corun.h"
#include "raw_stack.h"
#include "t.h"

#define MAX_FRAMES 64

static volatile sig_atomic_t samples, clean_ends, overlong, bad_ends;

struct walk {
  int frames;
};

static _Unwind_Reason_Code count_frame(struct _Unwind_Context *ctx, void *a) {
  struct walk *w = a;
  (void)ctx;
  if (++w->frames > MAX_FRAMES)
    return _URC_NORMAL_STOP; /* a runaway walk: counted as a failure */
  return _URC_NO_REASON;
}

static void on_prof(int sig) {
  (void)sig;
  struct walk w = {0};
  _Unwind_Reason_Code rc = _Unwind_Backtrace(count_frame, &w);
  samples++;
  if (w.frames > MAX_FRAMES)
    overlong++;
  else if (rc == _URC_END_OF_STACK)
    clean_ends++;
  else
    bad_ends++;
}

static corun_coro *peer;

static void *ping(void *arg) {
  (void)arg;
  for (;;) {
    if (corun_closing())
      return NULL;
    corun_transfer(peer, NULL, NULL); /* to pong and back */
    corun_yield(NULL);
  }
}

static void *pong(void *arg) {
  corun_coro *back = arg;
  for (;;) {
    if (corun_closing())
      return NULL;
    corun_transfer(back, NULL, NULL);
  }
}

static void *short_lived(void *arg) {
  return arg;
}

/* Whether a switching loop that started at t0 has run its 3 s; asks the
 * clock every 4096th iteration i only. */
static int out_of_time(unsigned long i, const struct timespec *t0) {
  struct timespec t;
  if (i % 4096 != 0)
    return 0;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec - t0->tv_sec >= 3;
}

/* ---- phase 2: corun__ctx_switch_ontop ---------------------------------- */
#if CORUN__CTX_HAVE_ONTOP
static corun__ctx ot_main, ot_side;
static volatile unsigned long ot_runs;

static void ot_count(void *arg) {
  ot_runs += (uintptr_t)arg;
}

static void ot_entry(void *data, void *a, void *b) {
  (void)a;
  (void)b;
  for (;;) /* sends back what it was sent */
    data =
        corun__ctx_switch_ontop(&ot_side, ot_main, data, ot_count, (void *)1);
}

/* Switches to and fro with the ontop switch until `until` samples in all,
 * or for at most 3 s. Returns the round trips made. */
static unsigned long ontop_phase(int until) {
  struct raw_stack st;
  raw_stack_map(&st, 64 * 1024);
  ot_side =
      corun__ctx_make(st.hi, (size_t)(st.hi - st.lo), ot_entry, NULL, NULL);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  unsigned long i;
  for (i = 0; samples < until && !out_of_time(i, &t0); i++) {
    void *back = corun__ctx_switch_ontop(&ot_main, ot_side, (void *)i, ot_count,
                                         (void *)1);
    T_EQ((uintptr_t)back, i);
  }
  /* Once on each side per round trip. */
  T_EQ(ot_runs, 2 * i);
  raw_stack_done(&st);
  return i;
}
#endif

int main(void) {
  if (strcmp(corun__ctx_backend, "ucontext") == 0)
    T_SKIP("glibc's swapcontext cannot be unwound at every instruction");
  /* Load the unwinder's library before the first signal needs it. */
  struct walk warm = {0};
  _Unwind_Backtrace(count_frame, &warm);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prof;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  T_OK(sigaction(SIGPROF, &sa, NULL));

  corun_coro *a;
  T_OK(corun_create(&a, ping, NULL, NULL));
  T_OK(corun_create(&peer, pong, a, NULL));

  struct itimerval it = {{0, 50}, {0, 50}};
  T_OK(setitimer(ITIMER_PROF, &it, NULL));
  /* Until 500 samples have interrupted the switching code, or for at most
   * 3 s: the profiling timer really fires every few milliseconds of CPU
   * time (the kernel's tick), about 650 times a second here. */
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; samples < 500 && !out_of_time((unsigned long)i, &t0); i++) {
    T_EQ(corun_resume(a, NULL, NULL), 1);
    if (i % 64 == 0) {
      corun_coro *s;
      void *out;
      T_OK(corun_create(&s, short_lived, (void *)i, NULL));
      T_EQ(corun_resume(s, NULL, &out), 0);
      T_EQ((intptr_t)out, i);
      T_OK(corun_destroy(s));
    }
  }
#if CORUN__CTX_HAVE_ONTOP
  int before_ontop = samples;
  unsigned long trips = ontop_phase(before_ontop + 500);
  int ontop_samples = samples - before_ontop;
  printf("sigprof: ontop phase: %lu round trips, %d samples\n", trips,
         ontop_samples);
  T_GE(ontop_samples, 25);
#endif
  struct itimerval off = {{0, 0}, {0, 0}};
  T_OK(setitimer(ITIMER_PROF, &off, NULL));

  T_OK(corun_destroy(a));
  T_OK(corun_destroy(peer));
  printf("sigprof: %d samples, %d clean, %d overlong, %d bad\n", (int)samples,
         (int)clean_ends, (int)overlong, (int)bad_ends);
  T_GE(samples, 50);
  T_EQ(overlong, 0);
  T_EQ(bad_ends, 0);
  T_EQ(clean_ends, samples);
  return 0;
}
