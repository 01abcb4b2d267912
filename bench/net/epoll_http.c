/* epoll_http.c: a minimal hand-written epoll HTTP/1.1 keep-alive server,
 * the practical upper limit the network benchmark (bench/net/run.sh)
 * measures corun's HTTP server against. It does the least work a server
 * that answers wrk correctly can do, so that "corun / epoll_http" reads as
 * "how much of the machine's ceiling corun reaches".
 *
 * Usage: epoll_http PORT    serve on 127.0.0.1:PORT until killed.
 *
 * What it does, and why each choice is the fast one:
 * - One thread, one epoll instance, level-triggered. Level-triggered lets
 *   a connection be served with exactly one read() and one write() per
 *   wake-up: a read that returns less than the free space means the socket
 *   is drained, and if it did not, epoll_wait simply reports the socket
 *   again. Edge-triggered would need one more read() per wake-up, to see
 *   EAGAIN before it may go back to epoll_wait.
 * - Each connection has a fixed input buffer (BUF_SIZE). A request is
 *   counted at each "\r\n\r\n": the server does not parse, it only finds
 *   the ends of header blocks (GET requests have no body). Bytes after the
 *   last complete request stay in the buffer for the next read, so requests
 *   split across reads and pipelined requests both work. A header block
 *   larger than the buffer closes the connection.
 * - Every request gets the same fixed response (RESPONSE: 200, a 13-byte
 *   text/plain body "Hello, World!", Content-Length, no Date). All pending
 *   responses of a read go out in one write(). Because the output is the
 *   same response repeated, a connection's unsent output is fully described
 *   by how many bytes are still owed and where in the response the next
 *   byte is (owed, phase): it is sent from a static buffer holding REPEAT
 *   copies, and no connection needs an output buffer.
 * - When the socket's send buffer is full (write() short or EAGAIN), the
 *   connection stops reading (its interest becomes EPOLLOUT) until it has
 *   caught up: a client that pipelines without reading cannot make the
 *   server buffer without bound.
 * - TCP_NODELAY on every connection, as nginx and Go set it; listening
 *   backlog 4096 (wrk opens 1,000 connections at once). The listener and
 *   the loop are epoll_loop.h's, shared with epoll_echo.c.
 *
 * Not handled, on purpose: "Connection: close", HTTP/1.0, request bodies.
 * wrk sends none of these. On a read error or EOF the connection is closed.
 */
#define _GNU_SOURCE
#include <stddef.h>

#define BUF_SIZE 4096  /* per-connection input buffer */
#define REPEAT 256     /* copies of the response in the output buffer */

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 13\r\n"
                               "\r\n"
                               "Hello, World!";
#define RESP_LEN (sizeof RESPONSE - 1)

/* REPEAT copies of RESPONSE back to back: any run of up to
 * (REPEAT - 1) * RESP_LEN bytes of the endless repetition, starting at any
 * phase, is one contiguous slice of it. */
static char out_buf[REPEAT * RESP_LEN];

struct conn {
  int fd;
  size_t len;   /* bytes in buf */
  size_t owed;  /* response bytes not yet written */
  size_t phase; /* offset in RESPONSE of the next byte owed */
  char buf[BUF_SIZE];
};

#define SERVER_NAME "epoll_http"
#include "epoll_loop.h"

/* Writes what the connection owes. Returns 0 when all is written, 1 when
 * the socket is full (the rest waits for EPOLLOUT), -1 on error. */
static int flush(struct conn *c) {
  while (c->owed > 0) {
    size_t n = c->owed;
    size_t max = sizeof out_buf - c->phase;
    if (n > max)
      n = max;
    ssize_t w = write(c->fd, out_buf + c->phase, n);
    if (w < 0)
      return errno == EAGAIN ? 1 : -1;
    c->owed -= (size_t)w;
    c->phase = (c->phase + (size_t)w) % RESP_LEN;
    if ((size_t)w < n)
      return 1; /* short write: the send buffer is full */
  }
  return 0;
}

/* Counts the complete requests in c->buf, keeps the incomplete tail.
 * `from` is where the bytes not yet scanned start. */
static size_t take_requests(struct conn *c, size_t from) {
  size_t n = 0, done = 0;
  /* A terminator may straddle the old and the new bytes. */
  size_t pos = from >= 3 ? from - 3 : 0;
  for (;;) {
    char *p = memmem(c->buf + pos, c->len - pos, "\r\n\r\n", 4);
    if (!p)
      break;
    n++;
    pos = (size_t)(p - c->buf) + 4;
    done = pos;
  }
  if (done > 0) {
    c->len -= done;
    if (c->len > 0)
      memmove(c->buf, c->buf + done, c->len);
  }
  return n;
}

static void on_readable(struct conn *c) {
  size_t old = c->len;
  ssize_t r = read(c->fd, c->buf + old, sizeof c->buf - old);
  if (r <= 0) {
    if (r < 0 && errno == EAGAIN)
      return;
    conn_close(c);
    return;
  }
  c->len += (size_t)r;
  size_t n = take_requests(c, old);
  if (n == 0) {
    if (c->len == sizeof c->buf)
      conn_close(c); /* a header block larger than the buffer */
    return;
  }
  c->owed += n * RESP_LEN;
  send_queued(c);
}

static void conn_init(struct conn *c) {
  c->len = c->owed = c->phase = 0;
}

static int pending(const struct conn *c) {
  return c->owed > 0;
}

int main(int argc, char **argv) {
  for (size_t i = 0; i < REPEAT; i++)
    memcpy(out_buf + i * RESP_LEN, RESPONSE, RESP_LEN);
  return epoll_server_main(argc, argv);
}
