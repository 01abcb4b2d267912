/* errors.c: the io layer's common errors (corun.h, "Layer io"), for every
 * call that can wait, each provoked without any timing assumption:
 *   -EAGAIN     deadline 0 on an fd that is not ready;
 *   -ETIMEDOUT  a deadline already past (1 ns after the clock's epoch);
 *   -ECANCELED  the task cancelled itself before the call;
 *   -EBADF      another task corun_close()s the fd while the call waits;
 *   -EBUSY      a second task waits on the fd in the same direction;
 *   -EPERM      the call made outside a task.
 * "Not ready" is an empty socketpair for reads, one whose send buffer has
 * been filled for writes, and a listener with no pending connection for
 * accept. Also: -EPIPE for sends whose peer has closed, corun_close of a
 * closed fd, corun_hooks_set outside a task, corun_tcp_listen on a port in
 * use and on a name that does not resolve, and corun_tcp_dial cut short
 * by its deadline and by a cancel while its name lookup waits (all of the
 * helper threads kept busy, so the lookup must wait). And a request the
 * kernel refuses before it starts (sendmsg with more than IOV_MAX
 * buffers, -EMSGSIZE as sendmsg(2) says) neither hangs nor holds up the
 * requests of other tasks queued after it; readv and writev with too
 * many buffers return -EINVAL, as readv(2) and writev(2) do, on sockets
 * too. */
#include <limits.h> /* IOV_MAX */
#include <pthread.h>
#include <string.h>
#include <sys/uio.h>

#include "io_test.h"

enum dir { IN, OUT_, ACCEPT };

/* One call that waits: `fd` is not ready for it. */
struct call {
  const char *name;
  enum dir dir;
  ssize_t (*run)(int fd, int64_t deadline);
};

static char buf[256];
static struct iovec iov = {buf, sizeof buf};

static ssize_t c_wait_in(int fd, int64_t d) {
  return corun_wait_fd(fd, CORUN_FD_IN, d);
}
static ssize_t c_wait_out(int fd, int64_t d) {
  return corun_wait_fd(fd, CORUN_FD_OUT, d);
}
static ssize_t c_read(int fd, int64_t d) {
  return corun_read(fd, buf, sizeof buf, d);
}
static ssize_t c_write(int fd, int64_t d) {
  return corun_write(fd, buf, sizeof buf, d);
}
static ssize_t c_write_all(int fd, int64_t d) {
  return corun_write_all(fd, buf, sizeof buf, d);
}
static ssize_t c_readv(int fd, int64_t d) {
  return corun_readv(fd, &iov, 1, d);
}
static ssize_t c_writev(int fd, int64_t d) {
  return corun_writev(fd, &iov, 1, d);
}
static ssize_t c_recv(int fd, int64_t d) {
  return corun_recv(fd, buf, sizeof buf, 0, d);
}
static ssize_t c_send(int fd, int64_t d) {
  return corun_send(fd, buf, sizeof buf, 0, d);
}
static ssize_t c_recvfrom(int fd, int64_t d) {
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  return corun_recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&sa, &len,
                        d);
}
static ssize_t c_sendto(int fd, int64_t d) {
  return corun_sendto(fd, buf, sizeof buf, 0, NULL, 0, d);
}
static ssize_t c_recvmsg(int fd, int64_t d) {
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  return corun_recvmsg(fd, &m, 0, d);
}
static ssize_t c_sendmsg(int fd, int64_t d) {
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  return corun_sendmsg(fd, &m, 0, d);
}
static ssize_t c_accept(int fd, int64_t d) {
  return corun_accept(fd, NULL, NULL, d);
}

static const struct call calls[] = {
    {"wait_fd(IN)", IN, c_wait_in},
    {"wait_fd(OUT)", OUT_, c_wait_out},
    {"read", IN, c_read},
    {"write", OUT_, c_write},
    {"write_all", OUT_, c_write_all},
    {"readv", IN, c_readv},
    {"writev", OUT_, c_writev},
    {"recv", IN, c_recv},
    {"send", OUT_, c_send},
    {"recvfrom", IN, c_recvfrom},
    {"sendto", OUT_, c_sendto},
    {"recvmsg", IN, c_recvmsg},
    {"sendmsg", OUT_, c_sendmsg},
    {"accept", ACCEPT, c_accept},
};
enum { NCALLS = sizeof calls / sizeof calls[0] };

/* An fd that `c` must wait on; *other gets what must be closed with it
 * (the socketpair's other end), or -1. */
static int not_ready(const struct call *c, int *other) {
  *other = -1;
  if (c->dir == ACCEPT)
    return io_listen(4, NULL);
  int s[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
  *other = s[1];
  if (c->dir == OUT_) { /* fill it: writes now wait */
    static char chunk[65536];
    while (corun_write(s[0], chunk, sizeof chunk, 0) > 0)
      ;
    T_EQ(corun_write(s[0], chunk, 1, 0), -EAGAIN);
  }
  return s[0];
}

struct waiter {
  const struct call *c;
  int fd;
  atomic_int parked; /* set just before the call */
};

static void *wait_in_call(void *arg) {
  struct waiter *w = arg;
  atomic_store(&w->parked, 1);
  return (void *)(intptr_t)w->c->run(w->fd, -1);
}

/* Spawns a task waiting in c on fd. With one worker it has run into its
 * park once this returns: spawned into this worker's next slot, it runs
 * as soon as this task yields, and it does not come back until woken. */
static corun_task *start_waiter(struct waiter *w) {
  corun_task *t;
  T_OK(corun_spawn(&t, wait_in_call, w, NULL));
  corun_yield(NULL);
  T_TRUE(atomic_load(&w->parked));
  return t;
}

static void *self_cancelled(void *arg) {
  struct waiter *w = arg;
  T_OK(corun_cancel(corun_self()));
  return (void *)(intptr_t)w->c->run(w->fd, -1);
}

static void one_call(const struct call *c) {
  int other, fd = not_ready(c, &other);
  fprintf(stderr, "  %s\n", c->name);
  T_EQ(c->run(fd, 0), -EAGAIN);
  T_EQ(c->run(fd, 1), -ETIMEDOUT);

  struct waiter w = {c, fd, 0};
  corun_task *t;
  void *r;
  T_OK(corun_spawn(&t, self_cancelled, &w, NULL));
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -ECANCELED);

  t = start_waiter(&w);
  T_EQ(c->run(fd, -1), -EBUSY); /* this task would be the second waiter */
  T_OK(corun_cancel(t));
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -ECANCELED);

  atomic_store(&w.parked, 0);
  t = start_waiter(&w);
  T_OK(corun_close(fd)); /* under the waiter */
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -EBADF);
  if (other >= 0)
    T_OK(corun_close(other));
}

static void *matrix(void *unused) {
  (void)unused;
  for (int i = 0; i < NCALLS; i++)
    one_call(&calls[i]);
  return NULL;
}

/* ---- the rest ------------------------------------------------------------ */

static void *peer_gone(void *unused) {
  (void)unused;
  int s[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
  T_OK(corun_close(s[1]));
  T_EQ(c_sendto(s[0], -1), -EPIPE);
  T_EQ(c_sendmsg(s[0], -1), -EPIPE);
  T_EQ(c_send(s[0], -1), -EPIPE);
  T_OK(corun_close(s[0]));
  T_EQ(corun_close(s[0]), -EBADF); /* close(2)'s error */
  return NULL;
}

/* Sends one byte on fd (deadline -1: under io_uring it goes to the ring
 * without a try, queued with what other tasks queue meanwhile). */
static void *send_one(void *arg) {
  return (void *)(intptr_t)corun_send((int)(intptr_t)arg, "x", 1, 0, -1);
}

static struct iovec many[IOV_MAX + 1];

/* sendmsg with IOV_MAX + 1 buffers, on fd. */
static void *send_too_many(void *arg) {
  struct msghdr m = {.msg_iov = many, .msg_iovlen = IOV_MAX + 1};
  return (void *)(intptr_t)corun_sendmsg((int)(intptr_t)arg, &m, 0, -1);
}

/* Fails the test if *done is still 0 after 5 s (cancelled before). */
static void *watchdog(void *done) {
  if (corun_sleep(5000 * MS) == 0 && !atomic_load((atomic_int *)done))
    T_FAIL_("%s", "a send stayed queued behind a request the kernel refused");
  return NULL;
}

/* One worker: the refused sendmsg runs first (the later spawn is the
 * worker's next), then the good send; neither tries, and both go to the
 * kernel in one batch when the worker runs out of tasks, the refused
 * one first. A kernel that stops a batch at a request it refuses kept
 * the send queued until some later request was submitted, and here none
 * is: it waited forever. */
static void *refused_request(void *unused) {
  (void)unused;
  for (int i = 0; i <= IOV_MAX; i++)
    many[i] = (struct iovec){buf, 1};
  int a[2], b[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a));
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b));
  corun_task *good, *bad, *dog;
  void *r;
  T_OK(corun_spawn(&good, send_one, (void *)(intptr_t)b[0], NULL));
  T_OK(corun_spawn(&bad, send_too_many, (void *)(intptr_t)a[0], NULL));
  T_OK(corun_join(bad, &r));
  T_EQ((intptr_t)r, -EMSGSIZE);
  atomic_int done = 0;
  T_OK(corun_spawn(&dog, watchdog, &done, NULL));
  T_OK(corun_join(good, &r));
  atomic_store(&done, 1);
  T_EQ((intptr_t)r, 1);
  T_OK(corun_cancel(dog));
  T_OK(corun_join(dog, NULL));
  char c;
  T_EQ(corun_recv(b[1], &c, 1, 0, -1), 1);
  /* readv/writev: -EINVAL, on a socket as on anything else */
  T_EQ(corun_writev(a[0], many, IOV_MAX + 1, -1), -EINVAL);
  T_EQ(corun_readv(a[1], many, IOV_MAX + 1, -1), -EINVAL);
  T_EQ(corun_writev(a[0], many, -1, -1), -EINVAL);
  for (int i = 0; i < 2; i++) {
    T_OK(corun_close(a[i]));
    T_OK(corun_close(b[i]));
  }
  return NULL;
}

static void *listen_errors(void *unused) {
  (void)unused;
  int fd, port;
  T_OK(corun_tcp_listen("127.0.0.1", 0, 4, &fd));
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  T_OK(getsockname(fd, (struct sockaddr *)&sa, &len));
  port = ntohs(sa.sin_port);
  int fd2 = -1;
  T_EQ(corun_tcp_listen("127.0.0.1", port, 4, &fd2), -EADDRINUSE);
  T_EQ(fd2, -1);
  T_OK(corun_close(fd));
  T_EQ(corun_tcp_listen("no-such-host.invalid", 0, 4, &fd2), -ENOENT);
  return NULL;
}

/* Every helper thread (64 at most: src/io/pool.c) held in an offloaded
 * call until `release` is set, so a name lookup has to wait in line. */
#define HELPERS 64
static atomic_int holding, release;

static void hold(void *unused) {
  (void)unused;
  atomic_fetch_add(&holding, 1);
  while (!atomic_load(&release)) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

static void *holder(void *unused) {
  (void)unused;
  T_OK(corun_offload(hold, NULL));
  return NULL;
}

static void *dial_cancelled(void *unused) {
  (void)unused;
  int fd;
  T_OK(corun_cancel(corun_self()));
  return (void *)(intptr_t)corun_tcp_dial("localhost", 9, -1, &fd);
}

static void *dial_errors(void *unused) {
  (void)unused;
  corun_task *h[HELPERS];
  for (int i = 0; i < HELPERS; i++)
    T_OK(corun_spawn(&h[i], holder, NULL, NULL));
  /* Fewer start when the pool cannot make all its threads (a limit on
   * processes): fail then, not wait for good. */
  int64_t give_up = corun_now() + 30000 * MS;
  while (atomic_load(&holding) < HELPERS) {
    if (corun_now() > give_up)
      T_FAIL_("only %d of %d offload helpers started", atomic_load(&holding),
              HELPERS);
    T_OK(corun_sleep(MS));
  }
  int fd = -1;
  T_EQ(corun_tcp_dial("localhost", 9, corun_now() + 2 * MS, &fd), -ETIMEDOUT);
  corun_task *t;
  void *r;
  T_OK(corun_spawn(&t, dial_cancelled, NULL, NULL));
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -ECANCELED);
  T_EQ(fd, -1);
  atomic_store(&release, 1);
  for (int i = 0; i < HELPERS; i++)
    T_OK(corun_join(h[i], NULL));
  return NULL;
}

int main(void) {
  /* Outside a task: -EPERM, before touching the fd. */
  for (int i = 0; i < NCALLS; i++)
    if (calls[i].run(0, -1) != -EPERM)
      T_FAIL_("%s outside a task did not return -EPERM", calls[i].name);
  T_EQ(corun_pwrite(1, buf, 1, 0, -1), -EPERM);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_EQ(corun_connect(s, (struct sockaddr *)&sa, sizeof sa, -1), -EPERM);
  close(s);
  T_EQ(corun_hooks_set(1), -EPERM);

  io_main(matrix, NULL, 1);
  io_main(peer_gone, NULL, 1);
  io_main(refused_request, NULL, 1);
  io_main(listen_errors, NULL, 2);
  io_main(dial_errors, NULL, 2);
  return 0;
}
