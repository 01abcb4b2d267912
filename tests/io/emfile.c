/* emfile.c: corun_accept when the process is out of fds (libuv's emfile
 * test). The soft RLIMIT_NOFILE is lowered to just above the fds in use
 * and the rest filled with /dev/null, so accept4 fails with EMFILE while
 * a connection waits in the listen queue (the client sockets are made
 * before, and the kernel completes their handshake without an fd). Then:
 *  - corun_accept returns -EMFILE, and again on the next call: it neither
 *    waits for an edge that will not come (it would give -ETIMEDOUT at the
 *    generous deadline, or hang) nor retries on its own;
 *  - a task already parked in corun_accept when the connection comes is
 *    woken and gets -EMFILE the same way;
 *  - once an fd is freed, the next corun_accept takes the waiting
 *    connection (nothing was lost), and bytes pass over it.
 * Then the limit is restored. With 1 and with 2 workers. */
#include <fcntl.h>
#include <sys/resource.h>

#include "io_test.h"

#define FILLERS_MAX 4096

static struct sockaddr_in addr;
static int lfd;
static int fillers[FILLERS_MAX], nfill;
static struct rlimit saved;

/* The highest fd in use below `limit` (Valgrind keeps fds of its own
 * above the limit it shows the program). */
static int highest_fd(rlim_t limit) {
  DIR *d = opendir("/proc/self/fd");
  T_TRUE(d != NULL);
  int hi = -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd > hi && (rlim_t)fd < limit)
      hi = fd;
  }
  closedir(d);
  return hi;
}

/* Lowers the soft limit to a few fds above the highest in use and opens
 * /dev/null until the process is at the limit. */
static void exhaust_fds(void) {
  T_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = (rlim_t)highest_fd(saved.rlim_cur) + 1 + 8;
  T_LT(low.rlim_cur, FILLERS_MAX);
  T_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  nfill = 0;
  for (;;) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      T_EQ(errno, EMFILE);
      break;
    }
    T_LT(nfill, FILLERS_MAX);
    fillers[nfill++] = fd;
  }
  T_GT(nfill, 0);
}

static void free_one_fd(void) {
  T_GT(nfill, 0);
  T_EQ(close(fillers[--nfill]), 0);
}

static void restore_fds(void) {
  while (nfill > 0)
    free_one_fd();
  T_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

/* The accepted connection c and the client end fd carry bytes both ways. */
static void check_pair(int c, int fd) {
  char b[4];
  T_EQ(corun_write_all(fd, "ping", 4, -1), 4);
  io_read_full(c, b, 4, corun_now() + 10000 * MS);
  T_TRUE(memcmp(b, "ping", 4) == 0);
  T_EQ(corun_write_all(c, "pong", 4, -1), 4);
  io_read_full(fd, b, 4, corun_now() + 10000 * MS);
  T_TRUE(memcmp(b, "pong", 4) == 0);
}

static void *parked_acceptor(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corun_accept(lfd, NULL, NULL,
                                        corun_now() + 10000 * MS);
}

static void *main_task(void *arg) {
  (void)arg;
  lfd = io_listen(16, &addr);
  T_EQ(corun_accept(lfd, NULL, NULL, 0), -EAGAIN); /* nobody yet */
  int c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_GE(c1, 0);
  T_GE(c2, 0);
  exhaust_fds();

  /* A connection waits; accept4 has no fd to give it. */
  T_EQ(corun_connect(c1, (struct sockaddr *)&addr, sizeof addr,
                     corun_now() + 10000 * MS),
       0);
  int64_t deadline = corun_now() + 10000 * MS; /* "does not hang" only */
  T_EQ(corun_accept(lfd, NULL, NULL, deadline), -EMFILE);
  T_EQ(corun_accept(lfd, NULL, NULL, deadline), -EMFILE);
  T_EQ(corun_accept(lfd, NULL, NULL, 0), -EMFILE);
  free_one_fd();
  int a1 = corun_accept(lfd, NULL, NULL, deadline);
  T_GE(a1, 0); /* the connection that waited */
  check_pair(a1, c1);

  /* At the limit again (a1 took the freed fd). A task parked in accept
   * before the connection comes is woken and told EMFILE. */
  corun_task *t;
  T_OK(corun_spawn(&t, parked_acceptor, NULL, NULL));
  corun_yield(NULL); /* with 1 worker: it runs until it parks */
  T_EQ(corun_connect(c2, (struct sockaddr *)&addr, sizeof addr,
                     corun_now() + 10000 * MS),
       0);
  void *r;
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -EMFILE);
  free_one_fd();
  int a2 = corun_accept(lfd, NULL, NULL, corun_now() + 10000 * MS);
  T_GE(a2, 0);
  check_pair(a2, c2);

  restore_fds();
  T_OK(corun_close(a1));
  T_OK(corun_close(a2));
  T_OK(corun_close(c1));
  T_OK(corun_close(c2));
  T_OK(corun_close(lfd));
  return NULL;
}

int main(void) {
  int fds0 = io_count_fds();
  for (unsigned w = 1; w <= 2; w++) {
    io_main(main_task, NULL, w);
  }
  T_EQ(io_count_fds(), fds0);
  return 0;
}
