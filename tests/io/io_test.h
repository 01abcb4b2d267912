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

/* Known bugs found by a test: each is printed as "KNOWN BUG: ..." when
 * seen; the test goes on checking everything else and then ends as
 * skipped (exit 77) instead of passing, so the bug stays visible in every
 * run until it is fixed (and the test passes again by itself). */
static atomic_int io_known_bugs;
#define IO_KNOWN_BUG(...)                                                      \
  do {                                                                         \
    printf("KNOWN BUG: " __VA_ARGS__);                                         \
    printf("\n");                                                              \
    fflush(stdout);                                                            \
    atomic_fetch_add(&io_known_bugs, 1);                                       \
  } while (0)
static inline int io_exit_code(void) {
  return atomic_load(&io_known_bugs) ? 77 : 0;
}

/* The false deadlock: with 2 or more workers, corun_main may return
 * -EDEADLK ("all coroutines are asleep") while a task is being woken by
 * IO: the worker that polled takes the task off the IO count and readies
 * it into its own next-task slot while it still counts as asleep, and
 * another worker going idle at that moment sees every worker asleep, no
 * task waiting for IO and no work it can see. These tests never leave a
 * task waiting for good, so -EDEADLK from them is that bug (the dump
 * corun prints shows which tasks were abandoned; a lost IO wake-up would
 * hang instead, since tasks parked on IO keep a deadlock from being
 * declared). The test cannot go on: corun_main abandoned its tasks. */
#define IO_FALSE_DEADLOCK                                                      \
  "corun_main returned -EDEADLK while tasks were being woken by IO (a "        \
  "worker readies the task into its own runnext while counted asleep, "        \
  "after lowering the poller's pending count; another worker going idle "      \
  "then declares a deadlock)"

/* corun_main(fn, arg) with `workers` workers; ends the test as skipped on
 * the false deadlock above, fails it on any other error. */
static inline void io_main(corun_fn *fn, void *arg, unsigned workers) {
  corun_config cfg = {.workers = workers};
  int rc = corun_main(fn, arg, &cfg);
  if (rc == -EDEADLK) {
    IO_KNOWN_BUG("%s", IO_FALSE_DEADLOCK);
    exit(77);
  }
  T_OK(rc);
}

#endif
