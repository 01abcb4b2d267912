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
 * does. The listener and the loop are epoll_loop.h's, shared with
 * epoll_http.c.
 */
#define _GNU_SOURCE
#include <stddef.h>

#define BUF_SIZE 4096  /* per-connection buffer */

struct conn {
  int fd;
  size_t off, len; /* unsent bytes are buf[off, len) */
  char buf[BUF_SIZE];
};

#define SERVER_NAME "epoll_echo"
#include "epoll_loop.h"

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
  send_queued(c);
}

static void conn_init(struct conn *c) {
  c->off = c->len = 0;
}

static int pending(const struct conn *c) {
  return c->len > 0;
}

int main(int argc, char **argv) {
  return epoll_server_main(argc, argv);
}
