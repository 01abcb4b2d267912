/* child.h: runs a test function in a forked child and collects what a
 * parent needs to judge it: how it ended (exit code or signal) and all it
 * wrote on stderr. For tests whose subject is a crash, or that need a fresh
 * process (corun chooses its guard mechanism once per process). Not a test
 * program: included by the tests of this directory. */
#ifndef CORUN_TESTS_STACK_CHILD_H
#define CORUN_TESTS_STACK_CHILD_H

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corun.h"
#include "t.h"

struct child {
  int status;      /* from waitpid */
  char err[65536]; /* the child's stderr, NUL-terminated (truncated) */
  size_t err_len;
};

/* Forks; the child runs fn(arg) with stderr going to a pipe and _exits
 * with its return value. The parent reads the pipe to the end, waits, and
 * fills *c. */
static inline void child_run(struct child *c, int (*fn)(void *), void *arg) {
  int p[2];
  T_OK(pipe(p));
  fflush(NULL);
  pid_t pid = fork();
  T_TRUE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    _exit(fn(arg));
  }
  close(p[1]);
  c->err_len = 0;
  for (;;) {
    ssize_t n = read(p[0], c->err + c->err_len, sizeof c->err - 1 - c->err_len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    c->err_len += (size_t)n;
    if (c->err_len == sizeof c->err - 1)
      break;
  }
  c->err[c->err_len] = '\0';
  close(p[0]);
  while (waitpid(pid, &c->status, 0) < 0)
    T_EQ(errno, EINTR);
}

/* Prints how the child ended and its stderr (for the test log). */
static inline void child_show(const char *what, const struct child *c) {
  if (WIFEXITED(c->status))
    printf("%s: exited with %d\n", what, WEXITSTATUS(c->status));
  else if (WIFSIGNALED(c->status))
    printf("%s: killed by signal %d (%s)\n", what, WTERMSIG(c->status),
           strsignal(WTERMSIG(c->status)));
  printf("--- stderr ---\n%s--------------\n", c->err);
  fflush(stdout);
}

static inline void child_expect_exit(const struct child *c, int code) {
  T_TRUE(WIFEXITED(c->status));
  T_EQ(WEXITSTATUS(c->status), code);
}

static inline void child_expect_signal(const struct child *c, int sig) {
  T_TRUE(WIFSIGNALED(c->status));
  T_EQ(WTERMSIG(c->status), sig);
}

/* Number of non-overlapping occurrences of `needle` in `hay`. */
static inline int count_substr(const char *hay, const char *needle) {
  int n = 0;
  size_t len = strlen(needle);
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += len)
    n++;
  return n;
}

/* 1 when the kernel has MADV_GUARD_INSTALL (Linux 6.13+), the default
 * guard mechanism; tried on a scratch mapping. */
/* Whether this kernel really enforces MADV_GUARD_INSTALL: the call must
 * succeed and reading the page from a system call must then fail with
 * EFAULT. Emulators (qemu-user 7.2) accept the advice and do nothing. */
static inline int have_madv_guard(void) {
  long ps = sysconf(_SC_PAGESIZE);
  void *p = mmap(NULL, (size_t)ps * 2, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  T_TRUE(p != MAP_FAILED);
  int ok = madvise(p, (size_t)ps, 102 /* MADV_GUARD_INSTALL */) == 0;
  if (ok) {
    int fds[2];
    T_OK(pipe(fds));
    ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
    close(fds[0]);
    close(fds[1]);
  }
  munmap(p, (size_t)ps * 2);
  return ok;
}

/* Stack-overflow helpers for the crash tests (tests/stack/overflow.c,
 * tests/shared/overflow.c), which use 16 KiB stacks. */

/* Recurses without bound: not inlined or cloned, and not a tail call (the
 * result is used after the call). */
static __attribute__((unused)) T_NOIPA unsigned long
t_recurse(unsigned long n) {
  static volatile unsigned long never = ~0UL;
  volatile char pad[200];
  pad[n % sizeof pad] = (char)n;
  if (n == never)
    return n;
  unsigned long r = t_recurse(n + 1);
  return r + (unsigned long)pad[n % sizeof pad];
}

/* One frame larger than a whole 16 KiB stack: reaches a little below it. */
static __attribute__((unused)) T_NOIPA void t_big_frame(void) {
  volatile char big[16 * 1024];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (char)i;
}

/* Checks the stack-overflow report in a crashed child's stderr `err`: it
 * parses; it names the coroutine (`name`, kept to CORUN_NAME_MAX - 1 bytes,
 * or `id` when name is NULL); the stack is `stack` bytes and contains
 * `local`, one of the body's locals; the fault lies in the guard of `guard`
 * bytes below the stack, or on the canary at its bottom when `canary`.
 * Writes the exact report line expected into want[want_size], for the
 * caller's checks of the whole output. */
static __attribute__((unused)) void
t_check_overflow_report(const char *err, const char *name, uint64_t id,
                        size_t stack, size_t guard, uintptr_t local, int canary,
                        char *want, size_t want_size) {
  const char *line = strstr(err, "corun: stack overflow in coroutine ");
  T_TRUE(line != NULL);
  char who[64];
  unsigned long kib, lo, hi, fault;
  T_EQ(sscanf(line,
              "corun: stack overflow in coroutine %63[^ ] (stack %lu KiB at "
              "0x%lx-0x%lx, fault at 0x%lx)",
              who, &kib, &lo, &hi, &fault),
       5);
  char want_who[64];
  if (name)
    snprintf(want_who, sizeof want_who, "%.*s", (int)(CORUN_NAME_MAX - 1),
             name);
  else
    snprintf(want_who, sizeof want_who, "%" PRIu64, id);
  T_STR_EQ(who, want_who);
  T_EQ(kib, stack / 1024);
  T_EQ(hi - lo, stack);
  T_TRUE(local >= lo && local < hi);
  if (canary)
    T_TRUE(fault >= lo && fault < lo + 32);
  else
    T_TRUE(fault >= lo - guard && fault < lo);
  snprintf(want, want_size,
           "corun: stack overflow in coroutine %s (stack %lu KiB at "
           "0x%lx-0x%lx, fault at 0x%lx); raise corun_attr.stack_size\n",
           want_who, kib, lo, hi, fault);
}

#endif
