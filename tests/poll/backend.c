/* backend.c: what each event-loop backend must guarantee, run once per
 * backend (CORUN_POLLER=epoll and =uring, tests/CMakeLists.txt):
 *   - the backend asked for is the one in use;
 *   - no data is lost when a read's deadline or a cancel races with the
 *     data's arrival (with io_uring the request may complete anyway: its
 *     bytes must then be returned, not dropped);
 *   - a task cancelled while blocked in a read returns -ECANCELED and the
 *     fd stays usable;
 *   - corun_close wakes a blocked reader with -EBADF;
 *   - many tasks doing ping-pong over socketpairs on 2 workers never lose
 *     a wake-up;
 *   - a task on a shared stack does IO too (io_uring: by readiness, its
 *     buffer never handed to the kernel);
 *   - writing to a socket whose peer has gone gives -EPIPE, no SIGPIPE
 *     (which would kill this test). */
#include <corun.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/compiler.h"
#include "poll/poll.h"
#include "t.h"
#include "task_wait.h"

#define MS 1000000LL

static int slow; /* Valgrind, qemu, sanitizers: fewer rounds */

static void pair(int sv[2]) {
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
}

static void check_backend(void) {
  int sv[2];
  pair(sv);
  char c;
  T_EQ(corun_read(sv[0], &c, 1, 0), -EAGAIN); /* starts the backend */
  const char *want = getenv("CORUN_POLLER");
  const char *got = corun__poll_backend_name();
  T_TRUE(got != NULL);
  if (want && !strcmp(want, "epoll"))
    T_STR_EQ(got, "epoll");
  if (want && (!strcmp(want, "uring") || !strcmp(want, "uring-basic")))
    T_STR_EQ(got, "io_uring");
  T_OK(corun_close(sv[0]));
  T_OK(corun_close(sv[1]));
}

/* A writer sends numbered bytes with small random pauses; the reader reads
 * with deadlines that often expire about when a byte arrives. Every byte
 * sent must be read exactly once, in order. */
struct race {
  int fd;
  int n;
};

static void *race_writer(void *arg) {
  struct race *r = arg;
  for (int i = 0; i < r->n; i++) {
    unsigned char b = (unsigned char)i;
    T_EQ(corun_write(r->fd, &b, 1, -1), 1);
    corun_sleep((rand() % 3) * 20000); /* 0, 20 or 40 us */
  }
  return NULL;
}

static void deadline_race(void) {
  int sv[2];
  pair(sv);
  struct race r = {sv[1], slow ? 300 : 3000};
  corun_task *w;
  T_OK(corun_spawn(&w, race_writer, &r, NULL));
  int next = 0, timeouts = 0;
  while (next < r.n) {
    unsigned char buf[16];
    ssize_t n = corun_read(sv[0], buf, sizeof buf, corun_now() + 20000);
    if (n == -ETIMEDOUT) {
      timeouts++;
      continue;
    }
    T_GT(n, 0);
    for (ssize_t i = 0; i < n; i++, next++)
      T_EQ(buf[i], (unsigned char)next);
  }
  T_OK(corun_join(w, NULL));
  T_EQ(next, r.n);
  T_OK(corun_close(sv[0]));
  T_OK(corun_close(sv[1]));
}

static void *blocked_reader(void *arg) {
  int fd = *(int *)arg;
  char c;
  return (void *)(intptr_t)corun_read(fd, &c, 1, -1);
}

static void cancel_and_close(void) {
  int sv[2];
  pair(sv);
  corun_task *t;
  void *res;
  /* cancel: -ECANCELED, and the fd still works afterwards */
  T_OK(corun_spawn(&t, blocked_reader, &sv[0], NULL));
  wait_parked(t); /* its read is under way */
  T_OK(corun_cancel(t));
  T_OK(corun_join(t, &res));
  T_EQ((intptr_t)res, -ECANCELED);
  T_EQ(corun_write(sv[1], "x", 1, -1), 1);
  char c = 0;
  T_EQ(corun_read(sv[0], &c, 1, corun_now() + 5000 * MS), 1);
  T_EQ(c, 'x');
  /* close while another task waits: -EBADF */
  T_OK(corun_spawn(&t, blocked_reader, &sv[0], NULL));
  wait_parked(t); /* its read is under way */
  T_OK(corun_close(sv[0]));
  T_OK(corun_join(t, &res));
  T_EQ((intptr_t)res, -EBADF);
  /* the peer's end is gone: a write fails with -EPIPE, no SIGPIPE */
  T_EQ(corun_write(sv[1], "y", 1, -1), -EPIPE);
  struct iovec v = {"z", 1};
  T_EQ(corun_writev(sv[1], &v, 1, -1), -EPIPE);
  T_OK(corun_close(sv[1]));
}

/* Ping-pong on many socketpairs at once. */
struct pp {
  int fd;
  int rounds;
};

static void *ponger(void *arg) {
  struct pp *p = arg;
  for (int i = 0; i < p->rounds; i++) {
    int v;
    T_EQ(corun_read(p->fd, &v, sizeof v, -1), (ssize_t)sizeof v);
    T_EQ(v, i);
    v = -i;
    T_EQ(corun_write(p->fd, &v, sizeof v, -1), (ssize_t)sizeof v);
  }
  return NULL;
}

static void *pinger(void *arg) {
  struct pp *p = arg;
  for (int i = 0; i < p->rounds; i++) {
    int v = i;
    T_EQ(corun_write(p->fd, &v, sizeof v, -1), (ssize_t)sizeof v);
    T_EQ(corun_read(p->fd, &v, sizeof v, -1), (ssize_t)sizeof v);
    T_EQ(v, -i);
  }
  return NULL;
}

static void many_pairs(void) {
  enum { PAIRS = 200 };
  static struct pp a[PAIRS], b[PAIRS];
  corun_task *t[2 * PAIRS];
  int rounds = slow ? 20 : 300;
  for (int i = 0; i < PAIRS; i++) {
    int sv[2];
    pair(sv);
    a[i] = (struct pp){sv[0], rounds};
    b[i] = (struct pp){sv[1], rounds};
    T_OK(corun_spawn(&t[2 * i], ponger, &a[i], NULL));
    T_OK(corun_spawn(&t[2 * i + 1], pinger, &b[i], NULL));
  }
  for (int i = 0; i < 2 * PAIRS; i++)
    T_OK(corun_join(t[i], NULL));
  for (int i = 0; i < PAIRS; i++) {
    T_OK(corun_close(a[i].fd));
    T_OK(corun_close(b[i].fd));
  }
}

static void shared_stack_io(void) {
  corun_shared_stack *ss;
  int rc = corun_shared_stack_create(&ss, 64 * 1024);
  if (rc == -ENOTSUP)
    return; /* the ucontext backend has no shared stacks */
  T_OK(rc);
  corun_attr attr = {.shared = ss};
  struct pp a, b;
  int sv[2];
  pair(sv);
  a = (struct pp){sv[0], slow ? 20 : 500};
  b = (struct pp){sv[1], a.rounds};
  corun_task *t1, *t2;
  T_OK(corun_spawn(&t1, ponger, &a, &attr));
  T_OK(corun_spawn(&t2, pinger, &b, &attr));
  T_OK(corun_join(t1, NULL));
  T_OK(corun_join(t2, NULL));
  T_OK(corun_close(sv[0]));
  T_OK(corun_close(sv[1]));
  T_OK(corun_shared_stack_destroy(ss));
}

static void *main_task(void *arg) {
  (void)arg;
  check_backend();
  deadline_race();
  cancel_and_close();
  many_pairs();
  shared_stack_io();
  return NULL;
}

int main(void) {
  slow = t_under_valgrind() || t_emulated() || CORUN__TSAN || CORUN__ASAN;
  srand(1);
  corun_config cfg = {.workers = 2};
  T_OK(corun_main(main_task, NULL, &cfg));
  T_OK(corun_main(main_task, NULL, &(corun_config){.workers = 1}));
  return 0;
}
