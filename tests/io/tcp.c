/* tcp.c: corun_tcp_listen and corun_tcp_dial: a numeric address and a
 * name ("localhost", looked up on a helper thread while the task parks),
 * every local address (IPv4 and IPv6 both: it listened on 0.0.0.0 alone,
 * and a dial to ::1 was refused), port 0, a refused dial, an unknown host,
 * bad arguments, a dial with deadline 0 (-EAGAIN: it said -EINPROGRESS
 * and threw the socket away, or -ETIMEDOUT for a name), and errno left as
 * the task had it. */
#include <corun.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_test.h"

static int port_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  T_EQ(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
  return ss.ss_family == AF_INET
             ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
             : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void *echo_one(void *arg) {
  int lfd = (int)(intptr_t)arg;
  int c = corun_accept(lfd, NULL, NULL, -1);
  T_GE(c, 0);
  char buf[64];
  ssize_t n = corun_read(c, buf, sizeof buf, -1);
  T_GT(n, 0);
  T_EQ(corun_write_all(c, buf, (size_t)n, -1), n);
  T_EQ(corun_close(c), 0);
  return NULL;
}

static void round_trip(const char *listen_host, const char *dial_host) {
  int lfd;
  T_EQ(corun_tcp_listen(listen_host, 0, 16, &lfd), 0);
  int port = port_of(lfd);
  T_GT(port, 0);
  corun_task *t;
  T_EQ(corun_spawn(&t, echo_one, (void *)(intptr_t)lfd, NULL), 0);
  int fd;
  T_EQ(corun_tcp_dial(dial_host, port, corun_now() + 5000000000LL, &fd), 0);
  T_EQ(corun_write_all(fd, "ping", 4, -1), 4);
  char back[8] = {0};
  size_t got = 0;
  while (got < 4) {
    ssize_t n = corun_read(fd, back + got, sizeof back - got, -1);
    T_GT(n, 0);
    got += (size_t)n;
  }
  T_TRUE(memcmp(back, "ping", 4) == 0);
  T_EQ(corun_close(fd), 0);
  T_EQ(corun_join(t, NULL), 0);
  T_EQ(corun_close(lfd), 0);
  /* Nobody listens there now. */
  T_EQ(corun_tcp_dial(dial_host, port, -1, &fd), -ECONNREFUSED);
}

/* Whether this host has IPv6 loopback (a sandbox may not). */
static int have_ipv6_loopback(void) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                           .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* A dial with deadline 0 cannot complete (a handshake is a wait): -EAGAIN,
 * with no fd left open, for an address and for a name. */
static void dial_no_wait(void) {
  int lfd;
  T_EQ(corun_tcp_listen("127.0.0.1", 0, 16, &lfd), 0);
  int port = port_of(lfd), before = io_count_fds(), fd = -1;
  T_EQ(corun_tcp_dial("127.0.0.1", port, 0, &fd), -EAGAIN);
  T_EQ(corun_tcp_dial("localhost", port, 0, &fd), -EAGAIN);
  T_EQ(fd, -1);
  T_EQ(io_count_fds(), before);
  T_EQ(corun_tcp_dial("127.0.0.1", 70000, 0, &fd), -EINVAL);
  T_EQ(corun_close(lfd), 0);
}

static void *main_task(void *arg) {
  (void)arg;
  t_set_errno(1234);
  round_trip("127.0.0.1", "127.0.0.1");
  round_trip("127.0.0.1", "localhost"); /* a lookup on a helper thread */
  round_trip(NULL, "127.0.0.1");        /* every local address */
  if (have_ipv6_loopback()) {
    round_trip(NULL, "::1"); /* every local address: IPv6 too */
    round_trip("", "::1");
  }
  dial_no_wait();
  T_EQ(t_get_errno(), 1234); /* the task's errno, untouched */
  int fd;
  T_EQ(corun_tcp_dial("no-such-host.invalid", 80, -1, &fd), -ENOENT);
  T_EQ(corun_tcp_dial(NULL, 80, -1, &fd), -EINVAL);
  T_EQ(corun_tcp_dial("127.0.0.1", 80, -1, NULL), -EINVAL);
  T_EQ(corun_tcp_listen("127.0.0.1", 70000, 1, &fd), -EINVAL);
  T_EQ(corun_tcp_listen("127.0.0.1", 0, 1, NULL), -EINVAL);
  T_EQ(t_get_errno(), 1234);
  return NULL;
}

int main(void) {
  int fd;
  T_EQ(corun_tcp_dial("localhost", 80, -1, &fd), -EPERM); /* not a hang */
  for (unsigned w = 1; w <= 2; w++) {
    corun_config cfg = {.workers = w};
    T_EQ(corun_main(main_task, NULL, &cfg), 0);
  }
  return 0;
}
