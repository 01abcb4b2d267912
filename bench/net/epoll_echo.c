/* epoll_echo.c: a minimal hand-written epoll TCP echo server, the
 * practical upper limit the echo benchmark (bench/net/run.sh, with
 * echo_load as the client) measures corun's echo_server against. It does
 * the least work an echo server can do, so that "corun / epoll_echo" reads
 * as "how much of the machine's ceiling corun reaches".
 *
 * Usage: epoll_echo PORT    serve on 127.0.0.1:PORT until killed.
 *
 * One thread, one epoll instance, level-triggered (as epoll_http.c, and
 * for the same reason: one read() and one write() per wake-up, no extra
 * read() to see EAGAIN). Each connection has a fixed buffer: what a read()
 * brings is written straight back. If the socket cannot take all of it,
 * the rest stays in the buffer, the connection stops reading (interest
 * EPOLLOUT) until the rest is written, and then reads again: the server
 * never holds more than one buffer per connection, whatever the client
 * does. TCP_NODELAY on every connection; listening backlog 4096.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 4096  /* per-connection buffer */
#define MAX_EVENTS 512 /* events per epoll_wait */

struct conn {
  int fd;
  size_t off, len; /* unsent bytes are buf[off, len) */
  char buf[BUF_SIZE];
};

static int epfd;

static void die(const char *what) {
  fprintf(stderr, "epoll_echo: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void conn_close(struct conn *c) {
  close(c->fd); /* also removes it from the epoll set */
  free(c);
}

static void set_interest(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
    die("epoll_ctl");
}

/* Writes buf[off, len). Returns 0 when all is written, 1 when the socket
 * is full (the rest waits for EPOLLOUT), -1 on error. */
static int flush(struct conn *c) {
  while (c->off < c->len) {
    ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
    if (w < 0)
      return errno == EAGAIN ? 1 : -1;
    c->off += (size_t)w;
  }
  c->off = c->len = 0;
  return 0;
}

static void on_readable(struct conn *c) {
  ssize_t r = read(c->fd, c->buf, sizeof c->buf);
  if (r <= 0) {
    if (r < 0 && errno == EAGAIN)
      return;
    conn_close(c);
    return;
  }
  c->off = 0;
  c->len = (size_t)r;
  int rc = flush(c);
  if (rc < 0)
    conn_close(c);
  else if (rc > 0)
    set_interest(c, EPOLLOUT);
}

static void on_writable(struct conn *c) {
  int rc = flush(c);
  if (rc < 0)
    conn_close(c);
  else if (rc == 0)
    set_interest(c, EPOLLIN); /* caught up: read again */
}

static void on_accept(int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
        return;
      if (errno == EMFILE || errno == ENFILE)
        return; /* retried at the next readiness of the listener */
      die("accept4");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = malloc(sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    c->off = c->len = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
      die("epoll_ctl");
  }
}

int main(int argc, char **argv) {
  if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
    fprintf(stderr, "usage: epoll_echo PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a peer that closed: write() gets EPIPE */

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0)
    die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)atoi(argv[1])),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
    die("bind");
  if (listen(lfd, 4096) < 0)
    die("listen");

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0)
    die("epoll_create1");
  /* The listener is the one entry whose data.ptr is NULL. */
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
    die("epoll_ctl");

  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (!c)
        on_accept(lfd);
      else if (c->len > 0)
        on_writable(c); /* waiting to send the rest */
      else
        on_readable(c); /* EPOLLIN, or EPOLLERR/EPOLLHUP: read() tells */
    }
  }
}
