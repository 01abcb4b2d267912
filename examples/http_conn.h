/* http_conn.h: the HTTP/1.1 server side shared by the examples
 * http_server.c and ab_service.c (and the tests in tests/http/): an accept
 * loop that runs one task per connection, and a connection loop that
 * parses requests with libhttp-parser and lets a handler answer each one.
 *
 * Everything is written as blocking code on corun's IO calls: a task that
 * waits for bytes parks, its worker thread runs other connections.
 *
 * Connection loop (http_conn_serve): read what the peer sent, parse every
 * complete request in it (pipelined requests arrive together; a request
 * split over several reads is carried by the parser's own state), append
 * each answer to one output buffer, and write that buffer once per read.
 * Nothing is allocated per request. A request that must not keep the
 * connection (HTTP/1.0 without keep-alive, "Connection: close"), a parse
 * error (answered with 400) or the peer's end of stream closes it. */
#ifndef CORUN_EXAMPLES_HTTP_CONN_H
#define CORUN_EXAMPLES_HTTP_CONN_H

#include <corun.h>
#include <http_parser.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_CONN_IN_SIZE 4096  /* one read: a few dozen pipelined requests */
#define HTTP_CONN_OUT_SIZE 8192 /* answers batched into one write */
#define HTTP_CONN_URL_MAX 2048  /* longer request targets get a 400 */

/* How an answer must treat the connection, from the request's version and
 * Connection header (http_should_keep_alive). It also picks the header
 * that tells the client: HTTP/1.1 keeps the connection by default, an
 * HTTP/1.0 client that asked for keep-alive must see it confirmed. */
enum http_conn_mode {
  HTTP_CONN_KEEP = 0,   /* HTTP/1.1 keep-alive: no Connection header */
  HTTP_CONN_KEEP10 = 1, /* HTTP/1.0 keep-alive: "Connection: keep-alive" */
  HTTP_CONN_CLOSE = 2   /* answer, then close: "Connection: close" */
};

/* The Connection header line of each mode, for answers built at compile
 * time (http_server.c) and at run time (http_conn_respond). */
#define HTTP_CONN_HDR_KEEP ""
#define HTTP_CONN_HDR_KEEP10 "Connection: keep-alive\r\n"
#define HTTP_CONN_HDR_CLOSE "Connection: close\r\n"

/* The 400 answer to a request the parser rejects; the connection closes
 * after it (the parser cannot find the next request's start). */
#define HTTP_CONN_400                                                          \
  "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n" HTTP_CONN_HDR_CLOSE "\r\n"

/* One complete request, as the handler sees it. Valid during the handler
 * call only (url points into the connection's buffer). */
struct http_conn_request {
  enum http_conn_mode mode;
  unsigned method; /* enum http_method */
  const char *url; /* the request target, e.g. "/index.html?x=1" */
  size_t url_len;
};

/* One connection's state. It lives on the connection task's stack. */
struct http_conn {
  http_parser parser; /* parser.data points back here */
  int fd;
  int complete;      /* on_message_complete saw a request end */
  int url_too_long;  /* the target overflowed url[]: answered with 400 */
  size_t out_len;    /* bytes waiting in out[] */
  struct http_conn_request req;
  char url[HTTP_CONN_URL_MAX];
  char out[HTTP_CONN_OUT_SIZE];
  char in[HTTP_CONN_IN_SIZE];
};

/* Answers one request: appends the whole answer with http_conn_reply()
 * or http_conn_respond() (it may block, e.g. on another service), returns
 * 0, or < 0 to drop the connection without answering. */
typedef int http_conn_handler_fn(struct http_conn *c,
                                 const struct http_conn_request *req,
                                 void *ctx);

/* Serves HTTP on the connected socket fd until the peer closes it, a
 * request asks to close, a parse error or an IO error; then closes fd
 * (corun_close). Context: a task. */
void http_conn_serve(int fd, http_conn_handler_fn *handler, void *ctx);

/* Appends n bytes to the connection's output, writing out what is queued
 * first if they do not fit. Returns 0 or -errno of the write. */
int http_conn_reply(struct http_conn *c, const void *bytes, size_t n);

/* Appends an answer "HTTP/1.1 <status>" with a text/plain body of n bytes
 * and the Connection header req->mode asks for. Returns as
 * http_conn_reply(). */
int http_conn_respond(struct http_conn *c, const struct http_conn_request *req,
                      const char *status, const void *body, size_t n);

/* ---- the accept side ---------------------------------------------------
 * A listener runs an accept loop task on 127.0.0.1:port that starts one
 * detached task per connection, running session(fd, ctx). The session owns
 * fd and must corun_close() it. */
typedef void http_conn_session_fn(int fd, void *ctx);

struct http_conn_listener {
  int fd;   /* the listening socket */
  int port; /* the port it listens on (the one chosen when asked for 0) */
  http_conn_session_fn *session;
  void *ctx;
  corun_wg *live;     /* sessions started and not yet finished */
  corun_task *loop;   /* the accept loop */
  atomic_int stopping; /* set by http_conn_listen_stop */
};

/* Listens on 127.0.0.1:port (0: a free port, stored in l->port) with a
 * backlog of 4096 (the kernel caps it at net.core.somaxconn) and starts
 * the accept loop. Returns 0 or -errno (nothing is left running).
 * Context: a task. */
int http_conn_listen(struct http_conn_listener *l, int port,
                     http_conn_session_fn *session, void *ctx);

/* Stops accepting, waits until every session has finished, and frees what
 * http_conn_listen made. The sessions must be able to finish (their peers
 * close): this does not cut live connections. Context: a task. */
void http_conn_listen_stop(struct http_conn_listener *l);

/* ---- helpers for either end of a connection ------------------------- */

/* Sends all n bytes (send with MSG_NOSIGNAL: a peer that went away is an
 * -EPIPE, not a SIGPIPE). Returns 0 or -errno. */
int http_conn_send_all(int fd, const void *buf, size_t n, int64_t deadline);

/* Reads until n bytes have come or the peer closed; returns the count
 * read (< n only at end of stream), or -errno if an error came first. */
ssize_t http_conn_read_full(int fd, void *buf, size_t n, int64_t deadline);

/* Prints "<program>: <what>: <error text of rc>" on stderr and exits with
 * status 1: the examples' way out of a failure they cannot work around. */
_Noreturn void http_conn_die(const char *what, int rc);

#endif
