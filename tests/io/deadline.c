/* deadline.c: deadlines and cancellation of IO waits, and that neither
 * loses data:
 *  - connect: a listener with backlog 0 whose queue is full (connections
 *    made earlier and never accepted) drops further SYNs on Linux, so
 *    corun_connect with a 50 ms deadline gives -ETIMEDOUT (skipped, with a
 *    message, if the kernel takes the connection anyway);
 *  - read: no data gives -ETIMEDOUT, not before the deadline, and bytes
 *    written afterwards are all read; then a writer racing reads whose
 *    deadlines fall around its writes: every byte arrives once, in order;
 *  - write: a peer that does not read: corun_write returns partial counts
 *    and then -ETIMEDOUT, corun_write_all a partial count or -ETIMEDOUT;
 *    exactly the bytes reported written arrive;
 *  - deadline 0 never blocks: -EAGAIN when the call would have to wait
 *    (-EINPROGRESS for connect), the result when it would not; a deadline
 *    in the past likewise, with -ETIMEDOUT;
 *  - corun_cancel of a task blocked in read, write, accept, connect or
 *    wait_fd gives -ECANCELED (also from a thread outside the scheduler);
 *    a cancelled task still completes a call that need not block (a read
 *    and a write), and the data a cancelled read was waiting for is there
 *    for the next read.
 * With 1 and with 2 workers. The only time bounds are "not before the
 * deadline" (the contract) and generous deadlines that stand for "does not
 * hang". */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "io_test.h"

static int slow;

static void check_timed_out(int64_t rc, int64_t deadline) {
  T_EQ(rc, -ETIMEDOUT);
  T_GE(corun_now(), deadline); /* never early */
}

/* ---- connect ------------------------------------------------------------ */

#define QUEUE_MAX 16

static void connect_deadline(void) {
  int lfd, q[QUEUE_MAX], n;
  struct sockaddr_in sa;
  int s = io_full_listener(&lfd, &sa, q, &n, QUEUE_MAX);
  if (s < 0) {
    printf("deadline: SKIP connect case: the kernel queued %d connections "
           "on a backlog-0 listener\n",
           n);
  } else {
    T_OK(corun_close(s));
    /* Again, with a fresh socket: the same (the queue is still full). */
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int64_t dl = corun_now() + 20 * MS;
    check_timed_out(corun_connect(s, (struct sockaddr *)&sa, sizeof sa, dl),
                    dl);
    T_OK(corun_close(s));
    /* A past deadline: the handshake cannot be over, -ETIMEDOUT. */
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_EQ(corun_connect(s, (struct sockaddr *)&sa, sizeof sa, 1), -ETIMEDOUT);
    T_OK(corun_close(s));
  }
  for (int i = 0; i < n; i++)
    T_OK(corun_close(q[i]));
  T_OK(corun_close(lfd));
}

/* ---- read --------------------------------------------------------------- */

struct racer {
  int fd, rounds;
};

static void *race_writer(void *arg) {
  struct racer *r = arg;
  for (int i = 0; i < r->rounds; i++) {
    T_OK(corun_sleep((i * 37 % 16) * MS / 10)); /* 0 .. 1.5 ms */
    uint32_t v = (uint32_t)i;
    T_EQ(corun_write_all(r->fd, &v, sizeof v, -1), (ssize_t)sizeof v);
  }
  return NULL;
}

static void read_deadline(void) {
  int sv[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  char buf[8];
  int64_t dl = corun_now() + 20 * MS;
  check_timed_out(corun_read(sv[0], buf, sizeof buf, dl), dl);
  dl = corun_now() + 5 * MS;
  check_timed_out(corun_recv(sv[0], buf, sizeof buf, 0, dl), dl);
  dl = corun_now() + 5 * MS;
  check_timed_out(corun_wait_fd(sv[0], CORUN_FD_IN, dl), dl);
  T_EQ(write(sv[1], "abc", 3), 3); /* after the timeouts: nothing lost */
  T_EQ(corun_read(sv[0], buf, sizeof buf, corun_now() + 10000 * MS), 3);
  T_TRUE(memcmp(buf, "abc", 3) == 0);

  /* Reads timing out around the writer's writes. */
  struct racer r = {sv[1], slow ? 40 : 300};
  corun_task *t;
  T_OK(corun_spawn(&t, race_writer, &r, NULL));
  unsigned char in[300 * 4];
  size_t want = (size_t)r.rounds * 4, got = 0;
  int timeouts = 0;
  while (got < want) {
    ssize_t n = corun_read(sv[0], in + got, want - got, corun_now() + MS);
    if (n == -ETIMEDOUT) {
      timeouts++;
      continue;
    }
    T_GT(n, 0);
    got += (size_t)n;
  }
  T_OK(corun_join(t, NULL));
  for (int i = 0; i < r.rounds; i++) {
    uint32_t v;
    memcpy(&v, in + 4 * i, 4);
    T_EQ(v, i);
  }
  T_EQ(corun_read(sv[0], buf, 1, 0), -EAGAIN); /* and nothing more */
  T_OK(corun_close(sv[0]));
  T_OK(corun_close(sv[1]));
}

/* ---- write -------------------------------------------------------------- */

static unsigned char stream_byte(size_t k) {
  return (unsigned char)(k * 7 + (k >> 10) + (k >> 20));
}

static size_t fill(unsigned char *b, size_t off, size_t n) {
  for (size_t j = 0; j < n; j++)
    b[j] = stream_byte(off + j);
  return n;
}

static void *accept_one(void *arg) {
  return (void *)(intptr_t)corun_accept(*(int *)arg, NULL, NULL, -1);
}

/* A TCP connection: *c the client end, returns the server end. */
static int tcp_pair(int *c) {
  struct sockaddr_in sa;
  int lfd = io_listen(4, &sa);
  corun_task *t;
  T_OK(corun_spawn(&t, accept_one, &lfd, NULL));
  *c = io_dial(&sa);
  void *r;
  T_OK(corun_join(t, &r));
  T_GE((intptr_t)r, 0);
  T_OK(corun_close(lfd));
  return (int)(intptr_t)r;
}

static void write_deadline(void) {
  int rd, wr = tcp_pair(&rd); /* rd does not read, for now */
  size_t chunk = 256 << 10, total = 0;
  unsigned char *b = malloc(chunk);
  T_TRUE(b != NULL);
  for (;;) {
    fill(b, total, chunk);
    int64_t dl = corun_now() + 50 * MS;
    ssize_t n = corun_write(wr, b, chunk, dl);
    if (n < 0) {
      check_timed_out(n, dl);
      break;
    }
    T_GT(n, 0);
    total += (size_t)n;
    T_LT(total, (size_t)1 << 30); /* some buffer must fill */
  }
  T_GT(total, 0);
  /* corun_write_all: the bytes it could write, or the error if none.
   * (TCP takes a write into a buffer that poll(2) does not call writable
   * yet, so some may fit: the buffer drains into the peer's meanwhile.) */
  fill(b, total, chunk);
  int64_t dl = corun_now() + 20 * MS;
  ssize_t n = corun_write_all(wr, b, chunk, dl);
  if (n < 0) {
    check_timed_out(n, dl);
  } else {
    T_GT(n, 0);
    total += (size_t)n;
  }
  /* The reader takes some; corun_write_all then writes what fits and
   * reports that count, or times out if the window has not opened. */
  unsigned char *in = malloc(chunk);
  T_TRUE(in != NULL);
  size_t seen = 0;
  for (size_t k = 0; k < 4 * chunk && seen < total;) {
    ssize_t n = corun_read(rd, in, chunk, corun_now() + 10000 * MS);
    T_GT(n, 0);
    for (ssize_t j = 0; j < n; j++)
      T_EQ(in[j], stream_byte(seen + (size_t)j));
    seen += (size_t)n;
    k += (size_t)n;
  }
  fill(b, total, chunk);
  dl = corun_now() + 50 * MS;
  n = corun_write_all(wr, b, chunk, dl);
  if (n < 0)
    check_timed_out(n, dl);
  else
    total += (size_t)n;
  /* Everything reported written arrives, and nothing else. */
  T_EQ(shutdown(wr, SHUT_WR), 0);
  ssize_t r;
  while ((r = corun_read(rd, in, chunk, corun_now() + 10000 * MS)) > 0) {
    for (ssize_t j = 0; j < r; j++)
      if (in[j] != stream_byte(seen + (size_t)j))
        T_FAIL_("byte %zu: %u, want %u", seen + (size_t)j, in[j],
                stream_byte(seen + (size_t)j));
    seen += (size_t)r;
  }
  T_EQ(r, 0);
  T_EQ(seen, total);
  free(in);
  free(b);
  T_OK(corun_close(rd));
  T_OK(corun_close(wr));
}

/* ---- deadline 0 and deadlines in the past --------------------------------
 * `dl` is 0 (expect -EAGAIN when the call would wait) or a past time
 * (expect -ETIMEDOUT). */
static void no_wait(int64_t dl) {
  int64_t would_wait = dl == 0 ? -EAGAIN : -ETIMEDOUT;
  char buf[8];
  int sv[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  /* Not ready. Nothing could ever make these ready (no other task, no
   * timer): a call that waited would hang. */
  T_EQ(corun_read(sv[0], buf, 1, dl), would_wait);
  T_EQ(corun_recv(sv[0], buf, 1, 0, dl), would_wait);
  T_EQ(corun_wait_fd(sv[0], CORUN_FD_IN, dl), would_wait);
  struct sockaddr_in sa;
  int lfd = io_listen(4, &sa);
  T_EQ(corun_accept(lfd, NULL, NULL, dl), would_wait);
  /* Ready: the call completes. */
  T_EQ(write(sv[1], "q", 1), 1);
  if (corun_wait_fd(sv[0], CORUN_FD_IN, dl) != 0)
    IO_KNOWN_BUG("corun_wait_fd(readable fd, CORUN_FD_IN, deadline %lld) "
                 "returned %d, not 0",
                 (long long)dl, corun_wait_fd(sv[0], CORUN_FD_IN, dl));
  if (corun_wait_fd(sv[0], CORUN_FD_OUT, dl) != 0)
    IO_KNOWN_BUG("corun_wait_fd(writable fd, CORUN_FD_OUT, deadline %lld) "
                 "returned %d, not 0",
                 (long long)dl, corun_wait_fd(sv[0], CORUN_FD_OUT, dl));
  T_EQ(corun_read(sv[0], buf, sizeof buf, dl), 1);
  T_EQ(buf[0], 'q');
  T_EQ(corun_send(sv[1], "r", 1, 0, dl), 1);
  T_EQ(corun_recv(sv[0], buf, sizeof buf, 0, dl), 1);
  T_EQ(buf[0], 'r');
  /* A full buffer: writes would wait. */
  static const char junk[64 << 10];
  while (corun_write(sv[1], junk, sizeof junk, 0) > 0)
    ;
  T_EQ(corun_write(sv[1], junk, sizeof junk, dl), would_wait);
  T_EQ(corun_send(sv[1], junk, sizeof junk, 0, dl), would_wait);
  T_EQ(corun_write_all(sv[1], junk, sizeof junk, dl), would_wait);
  T_EQ(corun_wait_fd(sv[1], CORUN_FD_OUT, dl), would_wait);
  /* connect: with deadline 0 the handshake goes on (documented). */
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = corun_connect(c, (struct sockaddr *)&sa, sizeof sa, dl);
  if (dl == 0) {
    T_EQ(rc, -EINPROGRESS);
    T_OK(corun_wait_fd(c, CORUN_FD_OUT, corun_now() + 10000 * MS));
    int err = -1;
    socklen_t el = sizeof err;
    T_EQ(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    T_EQ(err, 0);
  } else {
    T_TRUE(rc == 0 || rc == -ETIMEDOUT); /* loopback may be that fast */
  }
  /* A connection waits: accept takes it without waiting. */
  int a = corun_accept(lfd, NULL, NULL, corun_now() + 10000 * MS);
  T_GE(a, 0);
  T_OK(corun_close(a));
  T_OK(corun_close(c));
  T_OK(corun_close(lfd));
  T_OK(corun_close(sv[0]));
  T_OK(corun_close(sv[1]));
}

/* ---- cancel ------------------------------------------------------------- */

enum op { OP_READ, OP_WRITE, OP_ACCEPT, OP_CONNECT, OP_WAIT_IN, OP_WAIT_OUT };

struct blocked {
  enum op op;
  int fd;
  struct sockaddr_in sa;
};

static void *block_in(void *arg) {
  struct blocked *b = arg;
  static const char junk[64 << 10];
  char buf[8];
  switch (b->op) {
  case OP_READ:
    return (void *)(intptr_t)corun_read(b->fd, buf, sizeof buf, -1);
  case OP_WRITE:
    return (void *)(intptr_t)corun_write_all(b->fd, junk, sizeof junk, -1);
  case OP_ACCEPT:
    return (void *)(intptr_t)corun_accept(b->fd, NULL, NULL, -1);
  case OP_CONNECT:
    return (void *)(intptr_t)corun_connect(b->fd, (struct sockaddr *)&b->sa,
                                           sizeof b->sa, -1);
  case OP_WAIT_IN:
    return (void *)(intptr_t)corun_wait_fd(b->fd, CORUN_FD_IN, -1);
  case OP_WAIT_OUT:
    return (void *)(intptr_t)corun_wait_fd(b->fd, CORUN_FD_OUT, -1);
  }
  return NULL;
}

static void *cancel_thread(void *arg) {
  T_OK(corun_cancel(arg));
  return NULL;
}

/* Starts a task blocking in b's call, cancels it (from this task, or from
 * a plain thread), and checks it ends with -ECANCELED. */
static void cancel_one(struct blocked *b, int from_thread) {
  corun_task *t;
  T_OK(corun_spawn(&t, block_in, b, NULL));
  T_OK(corun_sleep(MS)); /* most likely parked by now; either way works */
  if (from_thread) {
    pthread_t th;
    T_EQ(pthread_create(&th, NULL, cancel_thread, t), 0);
    T_EQ(pthread_join(th, NULL), 0);
  } else {
    T_OK(corun_cancel(t));
  }
  void *r;
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -ECANCELED);
}

static void *cancelled_reader(void *arg) {
  int fd = *(int *)arg;
  char buf[8];
  while (!corun_cancelled())
    corun_yield(NULL);
  T_EQ(corun_read(fd, buf, 1, -1), 1); /* completes without waiting */
  T_EQ(buf[0], 'k');
  T_EQ(corun_read(fd, buf, 1, -1), -ECANCELED); /* would wait */
  /* A write with room goes out (under io_uring too, where a socket's
   * send that may wait skips its try: not a cancelled task's). */
  T_EQ(corun_write(fd, "w", 1, -1), 1);
  return NULL;
}

static void cancel(void) {
  int sv[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  struct blocked b = {.op = OP_READ, .fd = sv[0]};
  cancel_one(&b, 0);
  cancel_one(&b, 1);
  b.op = OP_WAIT_IN;
  cancel_one(&b, 0);
  /* The cancelled reads consumed nothing. */
  T_EQ(write(sv[1], "xyz", 3), 3);
  char buf[8];
  T_EQ(corun_read(sv[0], buf, sizeof buf, corun_now() + 10000 * MS), 3);
  T_TRUE(memcmp(buf, "xyz", 3) == 0);
  /* A cancelled task completes what need not wait. */
  corun_task *t;
  T_EQ(write(sv[1], "k", 1), 1);
  T_OK(corun_spawn(&t, cancelled_reader, &sv[0], NULL));
  T_OK(corun_cancel(t));
  T_OK(corun_join(t, NULL));
  T_EQ(read(sv[1], buf, sizeof buf), 1);
  T_EQ(buf[0], 'w');
  /* Writes into a full buffer. */
  static const char junk[64 << 10];
  while (corun_write(sv[0], junk, sizeof junk, 0) > 0)
    ;
  b.op = OP_WRITE;
  b.fd = sv[0];
  cancel_one(&b, 0);
  b.op = OP_WAIT_OUT;
  cancel_one(&b, 1);
  T_OK(corun_close(sv[0]));
  T_OK(corun_close(sv[1]));
  /* accept with nobody connecting. */
  b.op = OP_ACCEPT;
  b.fd = io_listen(4, &b.sa);
  cancel_one(&b, 0);
  T_OK(corun_close(b.fd));
  /* connect whose SYN is dropped (as in connect_deadline). */
  int lfd, q[QUEUE_MAX], n;
  int s = io_full_listener(&lfd, &b.sa, q, &n, QUEUE_MAX);
  if (s >= 0) {
    T_OK(corun_close(s));
    b.op = OP_CONNECT;
    b.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cancel_one(&b, 1);
    T_OK(corun_close(b.fd));
  }
  for (int i = 0; i < n; i++)
    T_OK(corun_close(q[i]));
  T_OK(corun_close(lfd));
}

static void *main_task(void *arg) {
  (void)arg;
  connect_deadline();
  read_deadline();
  write_deadline();
  no_wait(0);
  no_wait(1);
  no_wait(corun_now() - MS);
  cancel();
  return NULL;
}

int main(void) {
  slow = io_slow();
  int fds0 = io_count_fds();
  for (unsigned w = 1; w <= 2; w++) {
    io_main(main_task, NULL, w);
  }
  T_EQ(io_count_fds(), fds0);
  return io_exit_code();
}
