/* http_conn.c: the HTTP/1.1 server side shared by http_server.c and
 * ab_service.c (see http_conn.h): the accept loop, the per-connection
 * parse-answer-write loop on libhttp-parser, and two IO helpers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* program_invocation_short_name */
#endif
#include "http_conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SEC 1000000000LL
/* A keep-alive connection idle this long is closed: a client that
 * vanished without a FIN would otherwise hold its task forever. */
#define IDLE_NS (60 * SEC)
/* A client that stops reading our answers this long is dropped. */
#define WRITE_NS (30 * SEC)
/* After our last answer, how long we read and discard what the client
 * still sends before closing (see linger_close). */
#define LINGER_NS (1 * SEC)

/* ---- parser callbacks --------------------------------------------------
 * They only record: the handler runs outside http_parser_execute, after
 * on_message_complete paused the parser, so that it may block (ab_service
 * calls another service) and answers come out in request order. */

static int on_message_begin(http_parser *p) {
  struct http_conn *c = p->data;
  c->req.url_len = 0;
  c->url_too_long = 0;
  return 0;
}

/* The target may come in pieces when the request is split over reads. */
static int on_url(http_parser *p, const char *at, size_t n) {
  struct http_conn *c = p->data;
  if (n > sizeof c->url - c->req.url_len) {
    c->url_too_long = 1;
    return 0;
  }
  memcpy(c->url + c->req.url_len, at, n);
  c->req.url_len += n;
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct http_conn *c = p->data;
  /* Flags are still the finished message's here (the parser resets them
   * at the next message's start). An upgrade (CONNECT, Upgrade:) is a
   * protocol we do not speak: answer and close. */
  if (!http_should_keep_alive(p) || p->upgrade)
    c->req.mode = HTTP_CONN_CLOSE;
  else
    c->req.mode = p->http_major == 1 && p->http_minor == 0 ? HTTP_CONN_KEEP10
                                                           : HTTP_CONN_KEEP;
  c->req.method = p->method;
  c->complete = 1;
  http_parser_pause(p, 1); /* execute returns right after this request */
  return 0;
}

/* Headers and bodies are left to the parser: it reads Content-Length,
 * chunked encoding and Connection itself, and skips bodies we ignore. */
static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_message_complete = on_message_complete,
};

/* ---- output ------------------------------------------------------------ */

int http_conn_send_all(int fd, const void *buf, size_t n, int64_t deadline) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = corun_send(fd, p, n, 0, deadline);
    if (w < 0)
      return (int)w;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

ssize_t http_conn_read_full(int fd, void *buf, size_t n, int64_t deadline) {
  char *p = buf;
  size_t got = 0;
  while (got < n) {
    ssize_t r = corun_read(fd, p + got, n - got, deadline);
    if (r < 0)
      return r;
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

_Noreturn void http_conn_die(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
          corun_strerror(rc));
  exit(1);
}

static int flush(struct http_conn *c) {
  if (c->out_len == 0)
    return 0;
  int rc = http_conn_send_all(c->fd, c->out, c->out_len,
                              corun_deadline_in(WRITE_NS));
  c->out_len = 0;
  return rc;
}

int http_conn_reply(struct http_conn *c, const void *bytes, size_t n) {
  if (n > sizeof c->out - c->out_len) {
    int rc = flush(c);
    if (rc < 0)
      return rc;
    if (n > sizeof c->out) /* bigger than the buffer: straight out */
      return http_conn_send_all(c->fd, bytes, n, corun_deadline_in(WRITE_NS));
  }
  memcpy(c->out + c->out_len, bytes, n);
  c->out_len += n;
  return 0;
}

int http_conn_respond(struct http_conn *c, const struct http_conn_request *req,
                      const char *status, const void *body, size_t n) {
  static const char *const conn_hdr[] = {
      [HTTP_CONN_KEEP] = HTTP_CONN_HDR_KEEP,
      [HTTP_CONN_KEEP10] = HTTP_CONN_HDR_KEEP10,
      [HTTP_CONN_CLOSE] = HTTP_CONN_HDR_CLOSE};
  char head[256];
  int h = snprintf(head, sizeof head,
                   "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\n%s\r\n",
                   status, n, conn_hdr[req->mode]);
  if (h < 0 || (size_t)h >= sizeof head)
    return -EINVAL; /* a status line too long for an example */
  int rc = http_conn_reply(c, head, (size_t)h);
  return rc < 0 ? rc : http_conn_reply(c, body, n);
}

/* ---- the connection loop ----------------------------------------------- */

/* Closes after our last answer without losing it: closing a socket with
 * unread input makes the kernel send a reset, which can destroy answers
 * the client has not read yet (pipelined requests after a
 * "Connection: close", the rest of a malformed request). So we shut our
 * side (the client sees the end of stream after the answers), read and
 * discard until the client closes too or LINGER_NS passes, and only then
 * close, as nginx's lingering_close does. */
static void linger_close(struct http_conn *c) {
  shutdown(c->fd, SHUT_WR);
  int64_t until = corun_deadline_in(LINGER_NS);
  while (corun_read(c->fd, c->in, sizeof c->in, until) > 0) {
  }
  corun_close(c->fd);
}

/* Parses what one read brought and answers every request completed in
 * it. Returns 1 to keep reading, 0 to close gracefully after the
 * answers, -1 to drop the connection (an IO error or the handler said
 * so). */
static int parse_and_answer(struct http_conn *c, size_t n,
                            http_conn_handler_fn *handler, void *ctx) {
  size_t off = 0;
  while (off < n) {
    off += http_parser_execute(&c->parser, &settings, c->in + off, n - off);
    if (c->complete) { /* paused at a request's end: answer it */
      c->complete = 0;
      http_parser_pause(&c->parser, 0);
      if (c->url_too_long)
        return http_conn_reply(c, HTTP_CONN_400, sizeof HTTP_CONN_400 - 1) < 0
                   ? -1
                   : 0;
      c->req.url = c->url;
      if (handler(c, &c->req, ctx) < 0)
        return -1;
      if (c->req.mode == HTTP_CONN_CLOSE)
        return 0; /* whatever follows is not read */
    } else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
      /* Malformed: answer 400 after the answers queued before it, in
       * order, and close (the next request's start cannot be found). */
      return http_conn_reply(c, HTTP_CONN_400, sizeof HTTP_CONN_400 - 1) < 0
                 ? -1
                 : 0;
    } else if (off < n) {
      return 0; /* the parser stopped short without an error: give up */
    }
  }
  return 1;
}

void http_conn_serve(int fd, http_conn_handler_fn *handler, void *ctx) {
  /* ~14 KiB on the task's stack: only the fields are set, the buffers
   * are left as they are (no memset per connection). */
  struct http_conn c;
  http_parser_init(&c.parser, HTTP_REQUEST);
  c.parser.data = &c;
  c.fd = fd;
  c.complete = 0;
  c.url_too_long = 0;
  c.out_len = 0;
  c.req.url_len = 0;
  for (;;) {
    ssize_t n = corun_read(fd, c.in, sizeof c.in, corun_deadline_in(IDLE_NS));
    if (n <= 0) { /* the peer closed (mid-request or not), an error, idle */
      corun_close(fd);
      return;
    }
    int more = parse_and_answer(&c, (size_t)n, handler, ctx);
    /* One write for every answer to this read's requests. */
    if (more < 0 || flush(&c) < 0) {
      corun_close(fd);
      return;
    }
    if (more == 0) {
      linger_close(&c);
      return;
    }
  }
}

/* ---- the accept loop ---------------------------------------------------- */

struct session_start {
  int fd;
  struct http_conn_listener *l;
};

/* A connection's task: runs the session and counts it out, so that
 * http_conn_listen_stop can wait for the last one. */
static void *session_task(void *arg) {
  struct session_start s = *(struct session_start *)arg;
  free(arg);
  s.l->session(s.fd, s.l->ctx);
  corun_wg_done(s.l->live);
  return NULL;
}

static void *accept_loop(void *arg) {
  struct http_conn_listener *l = arg;
  for (;;) {
    int fd = corun_accept(l->fd, NULL, NULL, -1);
    if (atomic_load(&l->stopping)) {
      if (fd >= 0)
        corun_close(fd);
      return NULL;
    }
    if (fd == -EBADF || fd == -ECANCELED || fd == -EINVAL)
      return NULL; /* the listening socket is closed or shut down */
    if (fd == -ECONNABORTED || fd == -EINTR)
      continue; /* that one client gave up: take the next */
    if (fd < 0) {
      /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the pending connection stays in
       * the backlog, so accepting again at once would spin. Back off and
       * let sessions finish and free descriptors. */
      corun_sleep(1000000);
      continue;
    }
    /* Answers are written whole, once per batch: Nagle's algorithm would
     * only hold the next one back waiting for an ACK. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct session_start *s = malloc(sizeof *s); /* per connection only */
    if (!s) {
      corun_close(fd);
      continue;
    }
    s->fd = fd;
    s->l = l;
    corun_wg_add(l->live, 1);
    if (corun_go(session_task, s) < 0) {
      corun_wg_done(l->live);
      free(s);
      corun_close(fd);
    }
  }
}

int http_conn_listen(struct http_conn_listener *l, int port,
                     http_conn_session_fn *session, void *ctx) {
  l->session = session;
  l->ctx = ctx;
  atomic_init(&l->stopping, 0);
  /* The backlog holds connections the accept loop has not taken yet: a
   * burst of a thousand clients must not overflow it (a full backlog
   * drops SYNs, and the client retries only after a second). */
  int rc = corun_tcp_listen("127.0.0.1", port, 4096, &l->fd);
  if (rc < 0)
    return rc;
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  if (getsockname(l->fd, (struct sockaddr *)&sa, &len) < 0) {
    rc = -errno;
    goto close_fd;
  }
  l->port = ntohs(sa.sin_port);
  if ((rc = corun_wg_make(&l->live)) < 0)
    goto close_fd;
  if ((rc = corun_spawn(&l->loop, accept_loop, l, NULL)) < 0)
    goto free_wg;
  return 0;
free_wg:
  corun_wg_free(l->live);
close_fd:
  corun_close(l->fd);
  return rc;
}

void http_conn_listen_stop(struct http_conn_listener *l) {
  atomic_store(&l->stopping, 1);
  /* shutdown, not close: it wakes the parked accept (which then fails
   * with EINVAL) while the descriptor stays ours, so its number cannot be
   * reused under the loop by a socket opened meanwhile. */
  shutdown(l->fd, SHUT_RDWR);
  corun_join(l->loop, NULL);
  corun_close(l->fd);
  corun_wg_wait(l->live, -1);
  corun_wg_free(l->live);
}
