/* http_server.c: an HTTP/1.1 keep-alive "Hello, World!" server, one task
 * per connection, written as blocking code (http_conn.c parses with
 * libhttp-parser and batches the answers to pipelined requests into one
 * write). Every request, whatever its method or target, gets
 * "HTTP/1.1 200 OK" with the 13-byte text/plain body "Hello, World!",
 * copied from a static buffer: nothing is allocated or formatted per
 * request, since this is the server benchmarked against nginx and a
 * hand-written epoll server.
 *
 *   http_server             self-test: serve on 127.0.0.1 (a free port),
 *                           run C client connections (default 50) of R
 *                           keep-alive requests each (default 100), some
 *                           pipelined, some HTTP/1.0, the last asking to
 *                           close; check every answer byte for byte and
 *                           print requests per second
 *   http_server C R         the same with C connections of R requests
 *   http_server serve PORT  serve on 127.0.0.1:PORT until killed
 *
 * Worker threads: the environment variable CORUN_WORKERS (default: one
 * per CPU). */
#include "http_server.h"

#include <corun.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_conn.h"

/* The three answers, one per connection mode (http_conn.h), whole. */
#define HELLO_HEAD                                                             \
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
#define HELLO_BODY "Hello, World!"
static const char hello_keep[] = HELLO_HEAD HTTP_CONN_HDR_KEEP "\r\n" HELLO_BODY;
static const char hello_keep10[] =
    HELLO_HEAD HTTP_CONN_HDR_KEEP10 "\r\n" HELLO_BODY;
static const char hello_close[] =
    HELLO_HEAD HTTP_CONN_HDR_CLOSE "\r\n" HELLO_BODY;

static const struct {
  const char *bytes;
  size_t len;
} hello[] = {
    [HTTP_CONN_KEEP] = {hello_keep, sizeof hello_keep - 1},
    [HTTP_CONN_KEEP10] = {hello_keep10, sizeof hello_keep10 - 1},
    [HTTP_CONN_CLOSE] = {hello_close, sizeof hello_close - 1},
};

/* The whole per-request work: one memcpy into the connection's output. */
static int answer_hello(struct http_conn *c, const struct http_conn_request *req,
                        void *ctx) {
  (void)ctx;
  return http_conn_reply(c, hello[req->mode].bytes, hello[req->mode].len);
}

void http_server_session(int fd, void *ctx) {
  http_conn_serve(fd, answer_hello, ctx);
}

#ifndef CORUN_EXAMPLE_NO_MAIN
#include <errno.h>

#define SEC 1000000000LL

/* ---- serve PORT --------------------------------------------------------- */

static void *serve_hello(void *arg) {
  int port = *(int *)arg;
  struct http_conn_listener l;
  int rc = http_conn_listen(&l, port, http_server_session, NULL);
  if (rc < 0)
    http_conn_die("listen", rc);
  printf("http_server: serving on http://127.0.0.1:%d/\n", l.port);
  fflush(stdout);
  corun_join(l.loop, NULL); /* the accept loop runs until we are killed */
  return NULL;
}

/* ---- the self-test -------------------------------------------------------
 * Client connections come in three kinds (by index): HTTP/1.1 sending ten
 * requests per write (pipelined), HTTP/1.1 one at a time, and HTTP/1.0
 * with keep-alive one at a time. Each one's last request asks to close,
 * and the client then expects the end of stream. */

static const char req11[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
static const char req11_close[] =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
static const char req10_keep[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
static const char req10[] = "GET / HTTP/1.0\r\n\r\n";

#define DEPTH 10 /* pipelined requests per write */

struct run {
  int port;
  long conns, requests;
  atomic_long failures;
};

struct client {
  struct run *r;
  long id;
};

/* One connection; returns 0 if every answer was exactly right. */
static int client_conn(struct run *r, long id) {
  int http10 = id % 3 == 2;
  int depth = id % 3 == 0 ? DEPTH : 1;
  int64_t deadline = corun_deadline_in(30 * SEC);
  int fd;
  if (corun_tcp_dial("127.0.0.1", r->port, deadline, &fd) < 0)
    return -1;
  char q[DEPTH * sizeof req11_close], want[DEPTH * sizeof hello_close],
      got[sizeof want];
  int ok = 1;
  for (long sent = 0; ok && sent < r->requests;) {
    size_t qn = 0, wn = 0;
    for (int j = 0; j < depth && sent < r->requests; j++, sent++) {
      int last = sent == r->requests - 1;
      const char *s = http10 ? (last ? req10 : req10_keep)
                             : (last ? req11_close : req11);
      enum http_conn_mode m = last     ? HTTP_CONN_CLOSE
                              : http10 ? HTTP_CONN_KEEP10
                                       : HTTP_CONN_KEEP;
      size_t sl = strlen(s);
      memcpy(q + qn, s, sl);
      qn += sl;
      memcpy(want + wn, hello[m].bytes, hello[m].len);
      wn += hello[m].len;
    }
    ok = http_conn_send_all(fd, q, qn, deadline) == 0 &&
         http_conn_read_full(fd, got, wn, deadline) == (ssize_t)wn &&
         memcmp(got, want, wn) == 0;
  }
  /* After the answer to the last request the server closes. */
  ok = ok && corun_read(fd, got, 1, deadline) == 0;
  corun_close(fd);
  return ok ? 0 : -1;
}

static void *client_task(void *arg) {
  struct client *c = arg;
  if (client_conn(c->r, c->id) < 0)
    atomic_fetch_add(&c->r->failures, 1);
  return NULL;
}

static void *self_test(void *arg) {
  struct run *r = arg;
  struct http_conn_listener l;
  int rc = http_conn_listen(&l, 0, http_server_session, NULL);
  if (rc < 0)
    http_conn_die("listen", rc);
  r->port = l.port;
  corun_task **t = calloc((size_t)r->conns, sizeof *t);
  struct client *c = calloc((size_t)r->conns, sizeof *c);
  if (!t || !c)
    http_conn_die("calloc", -ENOMEM);
  int64_t t0 = corun_now();
  for (long i = 0; i < r->conns; i++) {
    c[i] = (struct client){r, i};
    if ((rc = corun_spawn(&t[i], client_task, &c[i], NULL)) < 0)
      http_conn_die("spawn", rc);
  }
  for (long i = 0; i < r->conns; i++)
    corun_join(t[i], NULL);
  double secs = (double)(corun_now() - t0) / 1e9;
  http_conn_listen_stop(&l);
  free(t);
  free(c);
  long failures = atomic_load(&r->failures);
  printf("http_server: %ld connections x %ld requests (some pipelined, some "
         "HTTP/1.0): %s, %.3f s, %.0f requests/s\n",
         r->conns, r->requests,
         failures ? "FAILED" : "every answer exact", secs,
         (double)(r->conns * r->requests) / secs);
  if (failures)
    fprintf(stderr, "http_server: %ld connections got a wrong answer\n",
            failures);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "serve") == 0) {
    int port = atoi(argv[2]);
    if (port <= 0 || port > 65535)
      return 2;
    int rc = corun_main(serve_hello, &port, NULL);
    if (rc < 0)
      http_conn_die("corun_main", rc);
    return 0;
  }
  struct run r = {.conns = argc > 1 ? atol(argv[1]) : 50,
                  .requests = argc > 2 ? atol(argv[2]) : 100};
  if (argc > 3 || r.conns <= 0 || r.requests <= 0) {
    fprintf(stderr, "usage: http_server [CONNS [REQUESTS]] | serve PORT\n");
    return 2;
  }
  atomic_init(&r.failures, 0);
  int rc = corun_main(self_test, &r, NULL);
  if (rc < 0)
    http_conn_die("corun_main", rc);
  return atomic_load(&r.failures) != 0;
}
#endif
