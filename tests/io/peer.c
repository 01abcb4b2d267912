/* peer.c: what a server task sees when its peer misbehaves, and that it
 * always ends cleanly with no fd left behind:
 *  - reset: the peer closes with SO_LINGER 0 (an RST) while the server
 *    waits in corun_read (-ECONNRESET) or in a send that filled the buffer
 *    (-ECONNRESET or -EPIPE);
 *  - half-close: the peer sends more than the socket buffers hold, then
 *    shutdown(SHUT_WR); the server reads it all, sees EOF (twice: EOF
 *    stays), then echoes it all back, which the peer reads intact up to
 *    the server's close;
 *  - vanish: a forked child connects, sends half a message and is
 *    SIGKILLed; the server task sees EOF or a reset and ends;
 *  - write to a closed peer: corun_send gives -EPIPE or -ECONNRESET, and
 *    no SIGPIPE (the default disposition is kept: one would kill the
 *    test); corun_write and corun_write_all are checked with a handler
 *    counting SIGPIPE: they must raise none either (they send with
 *    MSG_NOSIGNAL on sockets).
 * Everything runs with 1 and with 2 workers; /proc/self/fd has as many
 * entries at the end as at the start. */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "io_test.h"

static struct sockaddr_in addr;
static int lfd;
static size_t half_size; /* bytes in the half-close exchange */

/* The vanishing peer: a child forked before corun_main, waiting for a
 * byte on go[0]; it then connects, sends half a message and waits to be
 * killed. */
#define HALF "HALF-A-MESSAGE.." /* 16 of 32 bytes */
static pid_t vanish_pid;
static int vanish_go[2];

static void fork_vanisher(void) {
  T_EQ(pipe2(vanish_go, O_CLOEXEC), 0);
  pid_t parent = getpid();
  fflush(NULL);
  vanish_pid = fork();
  T_GE(vanish_pid, 0);
  if (vanish_pid)
    return;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(1);
  close(vanish_go[1]);
  char c;
  if (read(vanish_go[0], &c, 1) != 1)
    _exit(0); /* the parent gave up before this part */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
      write(fd, HALF, 16) != 16)
    _exit(2);
  for (;;)
    pause(); /* SIGKILL, with the connection open and the message half sent */
}

/* ---- reset -------------------------------------------------------------- */

static corun_sem *step; /* the server task says "got this far" */

static void reset_close(int fd) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  T_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  T_OK(corun_close(fd)); /* sends an RST, not a FIN */
}

static void *reset_reader(void *arg) {
  (void)arg;
  int c = corun_accept(lfd, NULL, NULL, -1);
  T_GE(c, 0);
  char buf[16];
  io_read_full(c, buf, 5, -1);
  T_TRUE(memcmp(buf, "hello", 5) == 0);
  T_OK(corun_sem_release(step));
  ssize_t r = corun_read(c, buf, sizeof buf, -1); /* the RST comes */
  T_OK(corun_close(c));
  return (void *)(intptr_t)r;
}

static void *reset_sender(void *arg) {
  (void)arg;
  int c = corun_accept(lfd, NULL, NULL, -1);
  T_GE(c, 0);
  static const char junk[64 << 10];
  long total = 0;
  ssize_t r;
  int released = 0;
  while ((r = corun_send(c, junk, sizeof junk, 0, -1)) > 0) {
    total += r;
    if (!released && total > (256 << 10)) {
      T_OK(corun_sem_release(step)); /* enough to fill the buffers */
      released = 1;
    }
  }
  T_GT(total, 0);
  T_OK(corun_close(c));
  return (void *)(intptr_t)r;
}

static void reset(void) {
  corun_task *t;
  T_OK(corun_spawn(&t, reset_reader, NULL, NULL));
  int fd = io_dial(&addr);
  T_EQ(corun_write_all(fd, "hello", 5, -1), 5);
  T_OK(corun_sem_acquire(step, -1));
  reset_close(fd);
  void *r;
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -ECONNRESET);

  /* The peer never reads: the server's sends fill the buffers and wait,
   * then the reset ends them. */
  T_OK(corun_spawn(&t, reset_sender, NULL, NULL));
  fd = io_dial(&addr);
  T_OK(corun_sem_acquire(step, -1));
  T_OK(corun_sleep(2 * MS)); /* most likely parked in corun_send now */
  reset_close(fd);
  T_OK(corun_join(t, &r));
  T_TRUE((intptr_t)r == -ECONNRESET || (intptr_t)r == -EPIPE);
}

/* ---- half-close --------------------------------------------------------- */

static unsigned char half_byte(size_t k) {
  return (unsigned char)(k * 13 + (k >> 9) + (k >> 17));
}

static void *half_server(void *arg) {
  (void)arg;
  int c = corun_accept(lfd, NULL, NULL, -1);
  T_GE(c, 0);
  unsigned char *buf = malloc(half_size + 1);
  T_TRUE(buf != NULL);
  size_t got = 0;
  ssize_t r;
  while ((r = corun_read(c, buf + got, half_size + 1 - got, -1)) > 0)
    got += (size_t)r;
  T_EQ(r, 0);
  T_EQ(got, half_size);
  T_EQ(corun_read(c, buf, 1, -1), 0); /* EOF stays EOF */
  T_EQ(corun_read(c, buf, 1, 0), 0);  /* even with deadline 0 */
  /* Our direction is still open: echo everything. */
  T_EQ(corun_write_all(c, buf, got, -1), (ssize_t)got);
  T_OK(corun_close(c));
  free(buf);
  return NULL;
}

static void half_close(void) {
  corun_task *t;
  T_OK(corun_spawn(&t, half_server, NULL, NULL));
  int fd = io_dial(&addr);
  unsigned char *buf = malloc(half_size);
  T_TRUE(buf != NULL);
  for (size_t k = 0; k < half_size; k++)
    buf[k] = half_byte(k);
  T_EQ(corun_write_all(fd, buf, half_size, -1), (ssize_t)half_size);
  T_EQ(shutdown(fd, SHUT_WR), 0);
  memset(buf, 0, half_size);
  size_t got = 0;
  ssize_t r;
  unsigned char extra;
  while (got < half_size &&
         (r = corun_read(fd, buf + got, half_size - got, -1)) > 0)
    got += (size_t)r;
  T_EQ(got, half_size);
  T_EQ(corun_read(fd, &extra, 1, -1), 0); /* the server closed: EOF */
  for (size_t k = 0; k < half_size; k++)
    if (buf[k] != half_byte(k))
      T_FAIL_("echo byte %zu: %u, want %u", k, buf[k], half_byte(k));
  T_OK(corun_close(fd));
  T_OK(corun_join(t, NULL));
  free(buf);
}

/* ---- vanish ------------------------------------------------------------- */

static void *vanish_server(void *arg) {
  (void)arg;
  int c = corun_accept(lfd, NULL, NULL, corun_now() + 30000 * MS);
  T_GE(c, 0);
  char buf[32];
  io_read_full(c, buf, 16, -1);
  T_TRUE(memcmp(buf, HALF, 16) == 0);
  T_OK(corun_sem_release(step));
  /* The rest of the message never comes: the peer is killed. */
  ssize_t r = corun_read(c, buf, sizeof buf, -1);
  T_TRUE(r == 0 || r == -ECONNRESET);
  T_OK(corun_close(c));
  return NULL;
}

static void vanish(void) {
  corun_task *t;
  T_OK(corun_spawn(&t, vanish_server, NULL, NULL));
  T_EQ(write(vanish_go[1], "g", 1), 1);
  T_OK(corun_sem_acquire(step, -1));
  T_EQ(kill(vanish_pid, SIGKILL), 0);
  T_OK(corun_join(t, NULL));
  int st;
  T_EQ(waitpid(vanish_pid, &st, 0), vanish_pid);
  T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  T_EQ(close(vanish_go[0]), 0);
  T_EQ(close(vanish_go[1]), 0);
}

/* ---- write to a closed peer --------------------------------------------- */

static atomic_int sigpipes;

static void on_sigpipe(int sig) {
  (void)sig;
  atomic_fetch_add(&sigpipes, 1);
}

/* Sends to fd (whose peer has gone) until an error; returns it. A TCP
 * peer's kernel answers the first bytes after the close with an RST, so
 * the first sends may still succeed. */
static ssize_t send_until_error(int fd, int use_write) {
  for (int i = 0; i < 1000; i++) {
    ssize_t r = use_write ? corun_write(fd, "data", 4, -1)
                          : corun_send(fd, "data", 4, 0, -1);
    if (r < 0)
      return r;
    T_EQ(r, 4);
    T_OK(corun_sleep(MS / 10)); /* let the RST come back */
  }
  T_FAIL_("%s", "1000 sends to a closed peer all succeeded");
}

static void *close_at_once(void *arg) {
  (void)arg;
  int c = corun_accept(lfd, NULL, NULL, -1);
  T_GE(c, 0);
  T_OK(corun_close(c));
  return NULL;
}

/* A TCP connection whose server end is already closed. */
static int dial_closed(void) {
  corun_task *t;
  T_OK(corun_spawn(&t, close_at_once, NULL, NULL));
  int fd = io_dial(&addr);
  T_OK(corun_join(t, NULL));
  return fd;
}

static void closed_peer(void) {
  /* corun_send: SIGPIPE keeps its default disposition, so a SIGPIPE here
   * would end the test. */
  int sv[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  T_EQ(close(sv[1]), 0);
  T_EQ(corun_send(sv[0], "x", 1, 0, -1), -EPIPE);
  T_EQ(corun_send(sv[0], "x", 1, 0, 0), -EPIPE);
  T_OK(corun_close(sv[0]));
  int fd = dial_closed();
  ssize_t r = send_until_error(fd, 0);
  T_TRUE(r == -EPIPE || r == -ECONNRESET);
  r = send_until_error(fd, 0); /* after the reset was reported: EPIPE */
  T_EQ(r, -EPIPE);
  T_OK(corun_close(fd));

  /* corun_write, corun_write_all: same results; with a handler counting
   * SIGPIPE instead of the default (which would kill the process). */
  struct sigaction sa = {.sa_handler = on_sigpipe}, old;
  sigemptyset(&sa.sa_mask);
  T_EQ(sigaction(SIGPIPE, &sa, &old), 0);
  atomic_store(&sigpipes, 0);
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  T_EQ(close(sv[1]), 0);
  T_EQ(corun_write(sv[0], "x", 1, -1), -EPIPE);
  T_EQ(corun_write_all(sv[0], "x", 1, -1), -EPIPE);
  T_OK(corun_close(sv[0]));
  fd = dial_closed();
  r = send_until_error(fd, 1);
  T_TRUE(r == -EPIPE || r == -ECONNRESET);
  T_EQ(send_until_error(fd, 1), -EPIPE);
  T_OK(corun_close(fd));
  int n = atomic_load(&sigpipes);
  T_EQ(sigaction(SIGPIPE, &old, NULL), 0);
  if (n)
    IO_KNOWN_BUG("corun_write/corun_write_all on a socket whose peer is "
                 "gone raised SIGPIPE %d times: a server with the default "
                 "SIGPIPE disposition dies (corun_send uses MSG_NOSIGNAL, "
                 "corun_write does not)",
                 n);
}

static void *main_task(void *arg) {
  (void)arg;
  T_OK(corun_sem_make(&step, 0));
  reset();
  half_close();
  vanish();
  closed_peer();
  T_OK(corun_sem_free(step));
  return NULL;
}

int main(void) {
  int fds0 = io_count_fds();
  half_size = io_slow() ? 256 << 10 : 4 << 20;
  lfd = io_listen(16, &addr);
  for (unsigned w = 1; w <= 2; w++) {
    fork_vanisher(); /* single-threaded here: no scheduler runs */
    io_main(main_task, NULL, w);
  }
  T_EQ(close(lfd), 0);
  T_EQ(io_count_fds(), fds0); /* every task closed what it had */
  return io_exit_code();
}
