/* fallback.c: io_uring that cannot be set up (USERS.md, property 15). A
 * kernel without it says ENOSYS, seccomp or kernel.io_uring_disabled say
 * EPERM, a locked-memory limit says ENOMEM. For each, in a forked child
 * whose seccomp filter makes io_uring_setup fail with that errno:
 *   - by default corun falls back to epoll, and IO works (a ping-pong
 *     between two tasks over a socket pair, with deadlines);
 *   - forced to io_uring (CORUN_POLLER=uring), the IO call returns that
 *     error at once instead of hanging or crashing;
 *   - forced to epoll, nothing changes.
 * Not under Valgrind (the filter would apply to Valgrind itself, and
 * corun uses epoll there anyway) nor in cross builds (the filter would
 * apply to qemu's own system calls). */
#include <corun.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deny.h"
#include "poll/poll.h"
#include "t.h"

#define MS 1000000LL
#define ROUNDS 100

struct run {
  int expect_err;      /* 0: IO must work; else the error IO must return */
  const char *backend; /* the backend that must be in use, or NULL */
  int failed;
};

static void *echo(void *arg) {
  int fd = *(int *)arg;
  for (int i = 0; i < ROUNDS; i++) {
    char c;
    if (corun_read(fd, &c, 1, corun_now() + 10000 * MS) != 1 ||
        corun_write(fd, &c, 1, -1) != 1)
      return (void *)1;
  }
  return NULL;
}

static void *main_task(void *arg) {
  struct run *r = arg;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    r->failed = 1;
    return NULL;
  }
  char c = 0;
  if (r->expect_err) {
    /* the first IO call starts the backend: it must fail, and say why */
    r->failed =
        corun_read(sv[0], &c, 1, corun_now() + 100 * MS) != -r->expect_err;
  } else {
    corun_task *t;
    if (corun_spawn(&t, echo, &sv[1], NULL) != 0) {
      r->failed = 1;
      return NULL;
    }
    for (int i = 0; i < ROUNDS && !r->failed; i++) {
      char b = (char)i;
      r->failed = corun_write(sv[0], &b, 1, -1) != 1 ||
                  corun_read(sv[0], &c, 1, corun_now() + 10000 * MS) != 1 ||
                  c != b;
    }
    void *out;
    r->failed |= corun_join(t, &out) != 0 || out != NULL;
    const char *in_use = corun__poll_backend_name();
    r->failed |= !in_use || strcmp(in_use, r->backend) != 0;
  }
  corun_close(sv[0]);
  corun_close(sv[1]);
  return NULL;
}

/* In a child with io_uring_setup failing with err and CORUN_POLLER set to
 * `poller` (NULL: unset): 0 if corun behaved as `r` says. */
static int child_case(int err, const char *poller, struct run r) {
  pid_t pid = fork();
  T_GE(pid, 0);
  if (pid == 0) {
    if (t_deny_syscall(__NR_io_uring_setup, err) != 0)
      _exit(77); /* no seccomp here */
    if (poller)
      setenv("CORUN_POLLER", poller, 1);
    else
      unsetenv("CORUN_POLLER");
    /* the filter holds: the kernel's answer is err */
    if (syscall(__NR_io_uring_setup, 8, NULL) != -1 || errno != err)
      _exit(3);
    if (corun_main(main_task, &r, &(corun_config){.workers = 2}) != 0)
      _exit(2);
    _exit(r.failed ? 1 : 0);
  }
  int st;
  T_EQ(waitpid(pid, &st, 0), pid);
  T_TRUE(WIFEXITED(st));
  return WEXITSTATUS(st);
}

int main(void) {
  static const int errs[] = {ENOSYS, EPERM, ENOMEM};
  for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
    int e = errs[i];
    int rc = child_case(e, NULL, (struct run){0, "epoll", 0});
    if (rc == 77) {
      printf("SKIP: seccomp filters are not available here\n");
      return 77;
    }
    T_EQ(rc, 0); /* fell back to epoll */
    T_EQ(child_case(e, "uring", (struct run){e, NULL, 0}), 0);
    T_EQ(child_case(e, "epoll", (struct run){0, "epoll", 0}), 0);
  }
  return 0;
}
