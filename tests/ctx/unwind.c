/* unwind.c: proves that stack walks inside a coroutine end cleanly at the
 * coroutine's first frame instead of running into the resumer's stack or
 * into garbage: backtrace() (execinfo.h) called at depth returns a bounded
 * number of frames, with the body and every intermediate function in order
 * and, on the assembly backend, the last frame inside corun__ctx_trampoline
 * (whose CFI marks the return address undefined); _Unwind_Backtrace ends
 * with _URC_END_OF_STACK. Checked on the first run, after yields, and in a
 * coroutine resumed by another coroutine (the walk must not continue into
 * the resumer). On the ucontext backend the walk ends in glibc's context
 * start code instead: the generic checks run, then the test reports SKIP
 * (77) for the trampoline-specific part.
 * The executable is linked with -rdynamic (ENABLE_EXPORTS) so dladdr names
 * the test's own non-static functions. */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdint.h>
#include <string.h>
#include <unwind.h>

#include "arch/ctx.h"
#include "corun.h"
#include "t.h"

/* The trampoline's code: the first code of every new context on the
 * assembly backend. Hidden in the library, but linkable from the same
 * executable; weak because the ucontext backend has none (NULL there). */
extern char corun__ctx_trampoline[] __attribute__((weak));
/* It is under 32 bytes (x86_64_sysv_elf.S); its return address, the last
 * frame of every coroutine, lies within it. */
#define TRAMPOLINE_MAX 32

#define DEPTH 12
#define MAXF 128

static int is_asm;

struct walk {
  void *ip[MAXF];
  int n;
  _Unwind_Reason_Code end;
};

static _Unwind_Reason_Code collect(struct _Unwind_Context *ctx, void *arg) {
  struct walk *w = arg;
  if (w->n >= MAXF)
    return _URC_NORMAL_STOP;
  w->ip[w->n++] = (void *)_Unwind_GetIP(ctx);
  return _URC_NO_REASON;
}

static const char *name_of(void *ip) {
  Dl_info info;
  /* ip - 1: a return address may point past the end of its caller. */
  if (dladdr((char *)ip - 1, &info) && info.dli_sname)
    return info.dli_sname;
  return "?";
}

static int in_trampoline(void *ip) {
  return (char *)ip > corun__ctx_trampoline &&
         (char *)ip <= corun__ctx_trampoline + TRAMPOLINE_MAX;
}

static void dump(const char *what, void *const *ip, int n) {
  fprintf(stderr, "%s: %d frames\n", what, n);
  for (int i = 0; i < n; i++)
    fprintf(stderr, "  #%d %p %s%s\n", i, ip[i], name_of(ip[i]),
            in_trampoline(ip[i]) ? " (corun__ctx_trampoline)" : "");
}

/* Checks a walk taken in leaf() under `depth` levels of deeper() under
 * `body`: the frames appear in that order, and the walk ends right after
 * the body's caller (coro_entry) at the trampoline. */
static void check_frames(const char *what, void *const *ip, int n,
                         const char *body) {
  dump(what, ip, n);
  T_LT(n, MAXF); /* bounded: the walk stopped by itself */
  int i = 0;
  /* backtrace() may or may not list itself; skip to leaf. */
  while (i < n && strcmp(name_of(ip[i]), "leaf") != 0)
    i++;
  T_LT(i, n);
  i++;
  for (int d = 0; d < DEPTH; d++, i++) {
    T_LT(i, n);
    T_STR_EQ(name_of(ip[i]), "deeper");
  }
  T_LT(i, n);
  T_STR_EQ(name_of(ip[i]), body);
  /* Below the body: the library's entry (coro_entry, static, so maybe
   * unnamed), then the end of the coroutine. At most a few frames. */
  T_LE(n - i, 4);
  if (is_asm)
    T_TRUE(in_trampoline(ip[n - 1]));
}

T_NOIPA void leaf(const char *body) {
  void *ip[MAXF];
  int n = backtrace(ip, MAXF);
  check_frames("backtrace()", ip, n, body);

  struct walk w = {.n = 0};
  w.end = _Unwind_Backtrace(collect, &w);
  T_EQ(w.end, _URC_END_OF_STACK);
  /* libgcc reports the end of the stack at the trampoline (whose return
   * address is undefined) by calling back once more with IP 0; glibc's
   * backtrace() drops that entry the same way. glibc's context start code
   * (ucontext backend) ends the walk without it. */
  T_GE(w.n, 2);
  if (is_asm)
    T_EQ_HEX((uintptr_t)w.ip[w.n - 1], 0);
  if (w.ip[w.n - 1] == NULL)
    w.n--;
  check_frames("_Unwind_Backtrace", w.ip, w.n, body);
}

T_NOIPA void deeper(int d, const char *body) {
  if (d == 0)
    leaf(body);
  else
    deeper(d - 1, body);
  __asm__ volatile("" ::: "memory"); /* no tail call */
}

T_NOIPA void *unwind_body(void *arg) {
  (void)arg;
  for (int k = 0; k < 3; k++) {
    deeper(DEPTH - 1, "unwind_body");
    corun_yield(NULL); /* the next walk runs after a resume */
  }
  return NULL;
}

/* Resumes another coroutine from a coroutine: the inner walk must stop at
 * the inner trampoline, not continue into this one. */
T_NOIPA void *outer_body(void *arg) {
  (void)arg;
  corun_coro *inner;
  T_OK(corun_create(&inner, unwind_body, NULL, NULL));
  while (corun_resume(inner, NULL, NULL) == 1)
    deeper(DEPTH - 1, "outer_body");
  T_OK(corun_destroy(inner));
  return NULL;
}

int main(void) {
  is_asm = strcmp(corun__ctx_backend, "ucontext") != 0;
  T_EQ(is_asm, corun__ctx_trampoline != NULL);
  printf("backend: %s\n", corun__ctx_backend);
  corun_coro *co;
  T_OK(corun_create(&co, unwind_body, NULL, NULL));
  while (corun_resume(co, NULL, NULL) == 1) {
  }
  T_OK(corun_destroy(co));
  T_OK(corun_create(&co, outer_body, NULL, NULL));
  T_EQ(corun_resume(co, NULL, NULL), 0);
  T_OK(corun_destroy(co));
  if (!is_asm)
    T_SKIP("the walk ends in glibc's makecontext start code on the "
           "ucontext backend; the trampoline check is asm-only");
  return 0;
}
