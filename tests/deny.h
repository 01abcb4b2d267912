/* deny.h: makes one system call fail with a chosen errno in the calling
 * process from then on (a seccomp filter), as a kernel without it or a
 * container's policy would. For tests that run it in a forked child; not
 * under Valgrind or qemu, where the filter would apply to the tool's own
 * system calls. */
#ifndef CORUN_TESTS_DENY_H
#define CORUN_TESTS_DENY_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "t.h"

/* Installs the filter that fails system call nr with err, for the
 * calling thread, or for all of the process with TSYNC; 0 or -1. */
static inline int t_deny_filter(long nr, int err, int all) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K,
               SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return -1;
  if (!all)
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : -1;
#ifdef SECCOMP_FILTER_FLAG_TSYNC
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                 SECCOMP_FILTER_FLAG_TSYNC, &prog) == 0
             ? 0
             : -1;
#else
  return -1;
#endif
}

/* 0, or -1 if seccomp filters are not available here. */
static inline int t_deny_syscall(long nr, int err) {
  return t_deny_filter(nr, err, 0);
}

/* t_deny_syscall for every thread of the process (TSYNC), as a policy
 * installed while it runs; 0, or -1 if it cannot be done here (no
 * seccomp, or under qemu, whose own system calls are the host's). */
static inline int t_deny_syscall_all(long nr, int err) {
  return t_emulated() ? -1 : t_deny_filter(nr, err, 1);
}

#endif
