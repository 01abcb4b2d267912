/* basic.c: blocking-style IO on pipes, socketpairs and TCP loopback:
 * bytes arrive intact between tasks on different workers, deadlines and
 * cancellation end waits, corun_close wakes a waiting task with -EBADF and
 * a reused fd number starts clean, a task waiting for IO is not a
 * deadlock (a thread outside the scheduler wakes it through the fd), many
 * tasks may send on one socket at once, and every call outside a task is
 * an error, not a hang. */
#include <arpa/inet.h>
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "t.h"
#include "task_wait.h"

#define MS 1000000LL

static int pfd[2];
static int slow; /* Valgrind or qemu: fewer rounds */

static void *pong(void *arg) {
  int *fds = arg; /* fds[0]: read from, fds[1]: write to */
  char buf[64];
  for (;;) {
    ssize_t n = corun_read(fds[0], buf, sizeof buf, -1);
    if (n == 0)
      return NULL;
    T_GT(n, 0);
    T_EQ(corun_write_all(fds[1], buf, (size_t)n, -1), n);
  }
}

static void pipes_pingpong(void) {
  int a[2], b[2];
  T_EQ(pipe(a), 0);
  T_EQ(pipe(b), 0);
  int fds[2] = {a[0], b[1]};
  corun_task *t;
  T_EQ(corun_spawn(&t, pong, fds, NULL), 0);
  for (int i = 0; i < (slow ? 200 : 5000); i++) {
    char msg[32], back[32];
    int len = snprintf(msg, sizeof msg, "message %d", i);
    T_EQ(corun_write_all(a[1], msg, (size_t)len, -1), len);
    ssize_t got = 0;
    while (got < len) {
      ssize_t n = corun_read(b[0], back + got, sizeof back - (size_t)got, -1);
      T_GT(n, 0);
      got += n;
    }
    T_EQ(got, len);
    T_TRUE(memcmp(msg, back, (size_t)len) == 0);
  }
  T_EQ(corun_close(a[1]), 0); /* pong reads 0 and returns */
  T_EQ(corun_join(t, NULL), 0);
  T_EQ(corun_close(a[0]), 0);
  T_EQ(corun_close(b[0]), 0);
  T_EQ(corun_close(b[1]), 0);
}

static void *reader(void *arg) {
  char c;
  return (void *)(intptr_t)corun_read(*(int *)arg, &c, 1, -1);
}

static void deadlines_close_cancel(void) {
  T_EQ(pipe(pfd), 0);
  char c;
  T_EQ(corun_read(pfd[0], &c, 1, 0), -EAGAIN);
  int64_t t0 = corun_now();
  T_EQ(corun_read(pfd[0], &c, 1, t0 + 20 * MS), -ETIMEDOUT);
  T_GE(corun_now() - t0, 20 * MS);
  T_EQ(corun_wait_fd(pfd[0], CORUN_FD_IN, corun_now() + MS), -ETIMEDOUT);
  T_EQ(corun_wait_fd(pfd[1], CORUN_FD_OUT, -1), 0); /* empty pipe */
  T_EQ(corun_wait_fd(pfd[0], 0, -1), -EINVAL);

  /* Closing an fd a task waits on wakes it with -EBADF; the number is
   * reused by the next pipe, which works from scratch. */
  for (int i = 0; i < (slow ? 20 : 200); i++) {
    int fd = pfd[0];
    corun_task *t;
    T_EQ(corun_spawn(&t, reader, &fd, NULL), 0);
    T_EQ(corun_sleep(100000), 0);
    T_EQ(corun_close(pfd[0]), 0);
    void *r;
    T_EQ(corun_join(t, &r), 0);
    T_TRUE((intptr_t)r == -EBADF || (intptr_t)r == -EBADF);
    T_EQ(corun_close(pfd[1]), 0);
    T_EQ(pipe(pfd), 0);
    T_EQ(corun_write(pfd[1], "x", 1, -1), 1);
    T_EQ(corun_read(pfd[0], &c, 1, -1), 1);
    T_EQ(c, 'x');
  }

  /* Cancel. */
  corun_task *t;
  T_EQ(corun_spawn(&t, reader, &pfd[0], NULL), 0);
  T_EQ(corun_sleep(MS), 0);
  T_EQ(corun_cancel(t), 0);
  void *r;
  T_EQ(corun_join(t, &r), 0);
  T_EQ((intptr_t)r, -ECANCELED);
  /* One waiter per direction: a second reader is refused. (Once the
   * first waits: after a sleep alone, a first reader held up past it
   * would find this one waiting with no deadline, and nobody would ever
   * write.) */
  T_EQ(corun_spawn(&t, reader, &pfd[0], NULL), 0);
  wait_parked(t);
  T_EQ(corun_read(pfd[0], &c, 1, -1), -EBUSY);
  T_EQ(corun_write(pfd[1], "y", 1, -1), 1);
  T_EQ(corun_join(t, &r), 0);
  T_EQ((intptr_t)r, 1);
  T_EQ(corun_close(pfd[0]), 0);
  T_EQ(corun_close(pfd[1]), 0);
}

static void *bulk_reader(void *arg) {
  int fd = *(int *)arg;
  static unsigned char buf[1 << 16];
  long total = 0;
  unsigned sum = 0;
  for (;;) {
    ssize_t n = corun_recv(fd, buf, sizeof buf, 0, -1);
    if (n <= 0)
      break;
    for (ssize_t i = 0; i < n; i++)
      sum = sum * 31 + buf[i];
    total += n;
  }
  T_EQ(total, slow ? 256 << 10 : 4 << 20);
  return (void *)(uintptr_t)sum;
}

static void socketpair_bulk(void) {
  int sv[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  corun_task *t;
  T_EQ(corun_spawn(&t, bulk_reader, &sv[1], NULL), 0);
  static unsigned char data[4 << 20];
  size_t size = slow ? 256 << 10 : sizeof data;
  unsigned sum = 0;
  for (size_t i = 0; i < size; i++) {
    data[i] = (unsigned char)(i * 7 + (i >> 11));
    sum = sum * 31 + data[i];
  }
  size_t off = 0;
  while (off < size) { /* partial sends, like send(2) */
    ssize_t n = corun_send(sv[0], data + off, size - off, 0, -1);
    T_GT(n, 0);
    off += (size_t)n;
  }
  T_EQ(shutdown(sv[0], SHUT_WR), 0);
  void *r;
  T_EQ(corun_join(t, &r), 0);
  T_EQ((uintptr_t)r, sum);
  T_EQ(corun_close(sv[0]), 0);
  T_EQ(corun_close(sv[1]), 0);
}

static void *echo_once(void *arg) {
  int lfd = *(int *)arg;
  int c = corun_accept(lfd, NULL, NULL, -1);
  T_GE(c, 0);
  char buf[128];
  ssize_t n;
  while ((n = corun_read(c, buf, sizeof buf, -1)) > 0)
    T_EQ(corun_write_all(c, buf, (size_t)n, -1), n);
  T_EQ(n, 0);
  T_EQ(corun_close(c), 0);
  return NULL;
}

static void tcp_loopback(void) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  T_GE(lfd, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  T_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  T_EQ(listen(lfd, 16), 0);
  socklen_t len = sizeof sa;
  T_EQ(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
  corun_task *t;
  T_EQ(corun_spawn(&t, echo_once, &lfd, NULL), 0);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  T_GE(c, 0);
  T_EQ(corun_connect(c, (struct sockaddr *)&sa, sizeof sa,
                     corun_now() + 5000 * MS),
       0);
  for (int i = 0; i < 100; i++) {
    char msg[64], back[64];
    int n = snprintf(msg, sizeof msg, "hello %d", i);
    T_EQ(corun_write_all(c, msg, (size_t)n, -1), n);
    int got = 0;
    while (got < n) {
      ssize_t r = corun_read(c, back + got, sizeof back - (size_t)got, -1);
      T_GT(r, 0);
      got += (int)r;
    }
    T_TRUE(memcmp(msg, back, (size_t)n) == 0);
  }
  T_EQ(corun_close(c), 0);
  T_EQ(corun_join(t, NULL), 0);
  /* Nobody listens on that port now: refused. */
  c = socket(AF_INET, SOCK_STREAM, 0);
  T_EQ(corun_close(lfd), 0);
  T_EQ(corun_connect(c, (struct sockaddr *)&sa, sizeof sa, -1), -ECONNREFUSED);
  T_EQ(corun_close(c), 0);
}

/* A thread outside the scheduler writes after a while: the task waiting
 * on the pipe is not a deadlock, and the worker blocked in the poller
 * wakes for it. */
static void *late_writer(void *arg) {
  (void)arg;
  struct timespec ts = {0, 30 * MS};
  nanosleep(&ts, NULL);
  ssize_t w = write(pfd[1], "z", 1);
  T_EQ(w, 1);
  return NULL;
}

static void woken_from_outside(void) {
  T_EQ(pipe(pfd), 0);
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, late_writer, NULL), 0);
  char c;
  T_EQ(corun_read(pfd[0], &c, 1, -1), 1);
  T_EQ(c, 'z');
  T_EQ(pthread_join(th, NULL), 0);
  T_EQ(corun_close(pfd[0]), 0);
  T_EQ(corun_close(pfd[1]), 0);
}

/* ---- many senders on one socket ----------------------------------------
 * Tasks that send on the same socket at once, each into room the socket
 * has: every send goes through. (One task at a time may wait on an fd in
 * a direction, -EBUSY for a second; a send under io_uring waits for its
 * batch's submission, and a second sender then got -EBUSY with the room
 * there. Now it makes its try as under epoll.) A stream socketpair and a
 * UDP socket, the shape of many handlers answering on one socket. */
#define SENDERS 16

struct sender {
  int fd;
  const struct sockaddr_in *to; /* UDP: the address, else NULL */
  char byte;
};

static void *send_one(void *arg) {
  struct sender *s = arg;
  ssize_t n =
      s->to ? corun_sendto(s->fd, &s->byte, 1, 0,
                           (const struct sockaddr *)s->to, sizeof *s->to, -1)
            : corun_write(s->fd, &s->byte, 1, -1);
  T_EQ(n, 1);
  return NULL;
}

static void senders_on(int fd, int rfd, const struct sockaddr_in *to) {
  struct sender s[SENDERS];
  corun_task *t[SENDERS];
  for (int i = 0; i < SENDERS; i++) {
    s[i] = (struct sender){fd, to, (char)('a' + i)};
    T_OK(corun_spawn(&t[i], send_one, &s[i], NULL));
  }
  for (int i = 0; i < SENDERS; i++)
    T_OK(corun_join(t[i], NULL));
  /* Each byte arrived once (in whatever order the tasks ran). */
  int seen[SENDERS] = {0};
  for (int i = 0; i < SENDERS; i++) {
    char c;
    T_EQ(corun_read(rfd, &c, 1, corun_now() + 10000 * MS), 1);
    T_TRUE(c >= 'a' && c < 'a' + SENDERS);
    T_EQ(seen[c - 'a']++, 0);
  }
}

static void many_senders(void) {
  int sv[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  senders_on(sv[0], sv[1], NULL);
  T_OK(corun_close(sv[0]));
  T_OK(corun_close(sv[1]));
  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int r = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  T_GE(u, 0);
  T_GE(r, 0);
  struct sockaddr_in at = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof at;
  T_OK(bind(r, (struct sockaddr *)&at, sizeof at));
  T_OK(getsockname(r, (struct sockaddr *)&at, &len));
  senders_on(u, r, &at);
  T_OK(corun_close(u));
  T_OK(corun_close(r));
}

static void *main_task(void *arg) {
  (void)arg;
  pipes_pingpong();
  deadlines_close_cancel();
  socketpair_bulk();
  tcp_loopback();
  woken_from_outside();
  many_senders();
  return NULL;
}

int main(void) {
  slow = t_under_valgrind() || t_emulated();
  int p[2];
  T_EQ(pipe(p), 0);
  char c;
  T_EQ(corun_read(p[0], &c, 1, -1), -EPERM); /* not a hang */
  T_EQ(corun_write(p[1], "a", 1, -1), -EPERM);
  T_EQ(corun_wait_fd(p[0], CORUN_FD_IN, -1), -EPERM);
  close(p[0]);
  close(p[1]);
  for (unsigned w = 1; w <= 2; w++) {
    corun_config cfg = {.workers = w};
    T_EQ(corun_main(main_task, NULL, &cfg), 0);
  }
  return 0;
}
