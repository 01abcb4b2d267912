/* io_test.h: what the io layer's reliability tests share.
 * Only the public API and plain system calls: these tests run unchanged on
 * every poller backend (CORUN_POLLER=epoll or uring), so nothing here may
 * know how a backend waits. */
#ifndef CORUN_TESTS_IO_IO_TEST_H
#define CORUN_TESTS_IO_IO_TEST_H

#include <arpa/inet.h>
#include <corun.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/compiler.h" /* CORUN__ASAN, CORUN__TSAN: compiler facts */
#include "t.h"

#define MS 1000000LL

/* 1 under Valgrind or qemu: the configurations that run 10 to 50 times
 * slower than a plain build. */
static inline int io_slow(void) {
  return t_under_valgrind() || t_emulated();
}

/* A count for this configuration: `plain` in a plain build, `asan` under
 * ASan, `tsan` under TSan (task switches cost it most), `slow` under
 * Valgrind or qemu; multiplied by CORUN_TEST_SCALE if set; at least 1. */
static inline long io_scaled(long plain, long asan, long tsan, long slow) {
  const char *e = getenv("CORUN_TEST_SCALE");
  double f = e && *e ? atof(e) : 1.0;
  long n = io_slow() ? slow : CORUN__TSAN ? tsan : CORUN__ASAN ? asan : plain;
  n = (long)((double)n * f);
  return n > 0 ? n : 1;
}

/* The number of fds the process has open (the entries of /proc/self/fd,
 * less the one opendir itself uses). */
static inline int io_count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  T_TRUE(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1;
}

/* A TCP socket listening on 127.0.0.1 (any free port) with `backlog`; its
 * address goes to *sa. Made with plain system calls (usable before
 * corun_main and in a forked child). */
static inline int io_listen(int backlog, struct sockaddr_in *sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_GE(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  T_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  T_EQ(listen(fd, backlog), 0);
  socklen_t len = sizeof a;
  T_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  if (sa)
    *sa = a;
  return fd;
}

/* In a task: a listener (io_listen) with backlog 0 and its queue filled
 * by up to `max` connections (stored in q, *n of them). Returns the next
 * connecting socket, whose SYN went unanswered (its corun_connect timed
 * out), or -1 if the kernel took all `max`. */
static inline int io_full_listener(int *lfd, struct sockaddr_in *sa, int *q,
                                   int *n, int max) {
  *lfd = io_listen(0, sa);
  for (*n = 0; *n < max; (*n)++) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_GE(s, 0);
    int64_t dl = corun_now() + 50 * MS;
    int rc = corun_connect(s, (struct sockaddr *)sa, sizeof *sa, dl);
    if (rc == -ETIMEDOUT) {
      T_GE(corun_now(), dl);
      return s;
    }
    T_OK(rc);
    q[*n] = s;
  }
  return -1;
}

/* A TCP connection to sa, made in a task with corun_connect. */
static inline int io_dial(const struct sockaddr_in *sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_GE(fd, 0);
  T_EQ(corun_connect(fd, (const struct sockaddr *)sa, sizeof *sa,
                     corun_now() + 10000 * MS),
       0);
  return fd;
}

/* Reads exactly n bytes (fails the test on EOF or error first). */
static inline void io_read_full(int fd, void *buf, size_t n, int64_t dl) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = corun_read(fd, (char *)buf + got, n - got, dl);
    T_GT(r, 0);
    got += (size_t)r;
  }
}

/* A bug found by a test: printed as "BUG: ..." when seen; the test goes
 * on checking everything else and then fails (io_exit_code), so one run
 * shows every broken behaviour. (These tests first found three bugs this
 * way: SIGPIPE from corun_write, corun_wait_fd ignoring readiness with
 * deadline 0, and a false deadlock while a polling worker readied a
 * task; all fixed.) */
static atomic_int io_known_bugs;
#define IO_KNOWN_BUG(...)                                                      \
  do {                                                                         \
    printf("BUG: " __VA_ARGS__);                                               \
    printf("\n");                                                              \
    fflush(stdout);                                                            \
    atomic_fetch_add(&io_known_bugs, 1);                                       \
  } while (0)
static inline int io_exit_code(void) {
  return atomic_load(&io_known_bugs) ? 1 : 0;
}

/* corun_main(fn, arg) with `workers` workers; these tests never leave a
 * task waiting for good, so any error (-EDEADLK included) fails. */
static inline void io_main(corun_fn *fn, void *arg, unsigned workers) {
  corun_config cfg = {.workers = workers};
  T_OK(corun_main(fn, arg, &cfg));
}

#endif
