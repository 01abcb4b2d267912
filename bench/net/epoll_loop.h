/* epoll_loop.h: what the two hand-written epoll servers (epoll_echo.c,
 * epoll_http.c) share: the listener, the accept loop and the event loop.
 * Their own part is what they do with a connection's bytes.
 *
 * Included once, after the server has defined
 *   SERVER_NAME   its name, for messages and its usage line;
 *   struct conn   its connection, with an `int fd` member;
 * and then the server defines
 *   conn_init(c)   a new connection's own fields (fd is set);
 *   on_readable(c) reads what came (EPOLLIN, or an error, which read()
 *                  tells) and, having queued answers, calls send_queued(c);
 *   flush(c)       writes what is queued: 0 all written, 1 the socket is
 *                  full (the rest waits for EPOLLOUT), -1 an error;
 *   pending(c)     whether output waits (then c waits for EPOLLOUT);
 * and main() calls epoll_server_main(argc, argv). While output waits, the
 * connection does not read: a client that sends without reading cannot
 * make the server buffer without bound.
 *
 * One thread, one epoll instance, level-triggered (epoll_http.c says
 * why). Every function is static and called from one place, so the
 * compiler inlines the callbacks: nothing here costs an indirect call.
 * TCP_NODELAY on every connection, as nginx and Go set it; listening
 * backlog 4096 (wrk opens 1,000 connections at once). */
#ifndef CORUN_BENCH_EPOLL_LOOP_H
#define CORUN_BENCH_EPOLL_LOOP_H

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

#define MAX_EVENTS 512 /* events per epoll_wait */

static int epfd;

static void conn_init(struct conn *c);
static void on_readable(struct conn *c);
static int flush(struct conn *c);
static int pending(const struct conn *c);

static void die(const char *what) {
  fprintf(stderr, SERVER_NAME ": %s: %s\n", what, strerror(errno));
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

/* Writes what on_readable queued; if the socket is full, stops reading
 * until it has taken the rest. */
static void send_queued(struct conn *c) {
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
    conn_init(c);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
      die("epoll_ctl");
  }
}

/* Serves 127.0.0.1:PORT (argv[1]) until killed; 2 on a bad command line. */
static int epoll_server_main(int argc, char **argv) {
  if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
    fprintf(stderr, "usage: " SERVER_NAME " PORT\n");
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
      else if (pending(c))
        on_writable(c); /* waiting to send the rest */
      else
        on_readable(c); /* EPOLLIN, or EPOLLERR/EPOLLHUP: read() tells */
    }
  }
}

#endif
