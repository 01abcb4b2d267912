/* tcp.c: corun_tcp_listen and corun_tcp_dial: a numeric address and a
 * name ("localhost", looked up on a helper thread while the task parks),
 * every local address, port 0, a refused dial, an unknown host, bad
 * arguments, and errno left as the task had it. */
#include <corun.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "t.h"

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

static T_NOIPA int get_errno(void) {
  return errno;
}
static T_NOIPA void set_errno(int v) {
  errno = v;
}

static void *main_task(void *arg) {
  (void)arg;
  set_errno(1234);
  round_trip("127.0.0.1", "127.0.0.1");
  round_trip("127.0.0.1", "localhost"); /* a lookup on a helper thread */
  round_trip(NULL, "127.0.0.1");        /* every local address */
  T_EQ(get_errno(), 1234);              /* the task's errno, untouched */
  int fd;
  T_EQ(corun_tcp_dial("no-such-host.invalid", 80, -1, &fd), -ENOENT);
  T_EQ(corun_tcp_dial(NULL, 80, -1, &fd), -EINVAL);
  T_EQ(corun_tcp_dial("127.0.0.1", 80, -1, NULL), -EINVAL);
  T_EQ(corun_tcp_listen("127.0.0.1", 70000, 1, &fd), -EINVAL);
  T_EQ(corun_tcp_listen("127.0.0.1", 0, 1, NULL), -EINVAL);
  T_EQ(get_errno(), 1234);
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
