/* echo_server.c: a TCP echo server with one task per connection, written
 * as plain blocking code (the lecture's "synchronous style, asynchronous
 * effect"): accept, read, write back. corun_read and corun_write park the
 * task, never the worker thread, so a few workers serve many connections.
 *
 *   echo_server            self-test: serve on 127.0.0.1 (a free port) and
 *                          run C client tasks (default 100) that each send
 *                          M messages (default 1000) of 64 bytes and check
 *                          every echoed byte; prints messages per second
 *   echo_server C M        the same with C clients and M messages each
 *   echo_server serve PORT serve on 127.0.0.1:PORT until killed
 */
#include <arpa/inet.h>
#include <corun.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what, int rc) {
  fprintf(stderr, "echo_server: %s: %s\n", what, corun_strerror(rc));
  exit(1);
}

/* One connection: echo until the peer closes. */
static void *session(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[4096];
  ssize_t n;
  while ((n = corun_read(fd, buf, sizeof buf, -1)) > 0)
    if (corun_write_all(fd, buf, (size_t)n, -1) != n)
      break;
  corun_close(fd);
  return NULL;
}

static void *server(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int fd = corun_accept(lfd, NULL, NULL, -1);
    if (fd == -EBADF || fd == -ECANCELED || fd == -EINVAL)
      return NULL; /* the listening socket was closed: stop */
    if (fd < 0) {
      corun_sleep(1000000); /* EMFILE and friends: back off, do not spin */
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = corun_go(session, (void *)(intptr_t)fd);
    if (rc < 0)
      corun_close(fd);
  }
}

struct run {
  struct sockaddr_in addr;
  long clients, messages;
  long failures;
};

static void *client(void *arg) {
  struct run *r = arg;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return (void *)1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = corun_connect(fd, (struct sockaddr *)&r->addr, sizeof r->addr,
                         corun_deadline_in(5000000000LL));
  if (rc < 0) {
    corun_close(fd);
    return (void *)1;
  }
  char msg[64], back[64];
  for (long i = 0; i < r->messages; i++) {
    for (size_t k = 0; k < sizeof msg; k++)
      msg[k] = (char)(i * 13 + (long)k + fd);
    if (corun_write_all(fd, msg, sizeof msg, -1) != (ssize_t)sizeof msg)
      break;
    size_t got = 0;
    while (got < sizeof back) {
      ssize_t n = corun_read(fd, back + got, sizeof back - got, -1);
      if (n <= 0)
        break;
      got += (size_t)n;
    }
    if (got != sizeof back || memcmp(msg, back, sizeof msg) != 0) {
      corun_close(fd);
      return (void *)1;
    }
  }
  corun_close(fd);
  return NULL;
}

static void *self_test(void *arg) {
  struct run *r = arg;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0)
    die("socket", -errno);
  r->addr.sin_family = AF_INET;
  r->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof r->addr;
  if (bind(lfd, (struct sockaddr *)&r->addr, sizeof r->addr) < 0 ||
      listen(lfd, 1024) < 0 ||
      getsockname(lfd, (struct sockaddr *)&r->addr, &len) < 0)
    die("bind/listen", -errno);
  corun_task *srv;
  int rc = corun_spawn(&srv, server, (void *)(intptr_t)lfd, NULL);
  if (rc < 0)
    die("spawn", rc);
  corun_task **c = calloc((size_t)r->clients, sizeof *c);
  if (!c)
    die("calloc", -ENOMEM);
  int64_t t0 = corun_now();
  for (long i = 0; i < r->clients; i++)
    if ((rc = corun_spawn(&c[i], client, r, NULL)) < 0)
      die("spawn", rc);
  for (long i = 0; i < r->clients; i++) {
    void *res;
    corun_join(c[i], &res);
    r->failures += res != NULL;
  }
  int64_t t1 = corun_now();
  corun_close(lfd); /* the server's accept returns -EBADF */
  corun_join(srv, NULL);
  free(c);
  double secs = (double)(t1 - t0) / 1e9;
  printf("echo_server: %ld clients x %ld messages of 64 bytes: %s, %.3f s, "
         "%.0f messages/s\n",
         r->clients, r->messages, r->failures ? "FAILED" : "all echoed", secs,
         (double)(r->clients * r->messages) / secs);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "serve") == 0) {
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(argv[2]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, 1024) < 0)
      die("bind/listen", -errno);
    return corun_main(server, (void *)(intptr_t)lfd, NULL) < 0;
  }
  struct run r = {.clients = argc > 1 ? atol(argv[1]) : 100,
                  .messages = argc > 2 ? atol(argv[2]) : 1000};
  if (r.clients <= 0 || r.messages <= 0)
    return 2;
  int rc = corun_main(self_test, &r, NULL);
  if (rc < 0)
    die("corun_main", rc);
  return r.failures != 0;
}
