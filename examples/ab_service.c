/* ab_service.c: the lecture's A->B service, in plain blocking-style code.
 * A serves HTTP; for each request it calls service B over TCP, and B
 * answers after a delay (a database, another microservice). A then sends
 * B's answer back to its client as the body. Each connection is a task
 * and each call just blocks: while one request waits for B, its worker
 * runs the others, so a thousand requests waiting 100 ms each take about
 * 100 ms together, not 100 s.
 *
 *   ab_service                  self-test: B (100 ms delay) and A in this
 *                               process on free ports, then 1,000 client
 *                               tasks at once each send A one request and
 *                               check the reply; prints the wall time
 *   ab_service C DELAY_MS       the same with C clients and B's delay
 *   ab_service b PORT DELAY_MS  run B alone on 127.0.0.1:PORT
 *   ab_service a PORT B_PORT    run A alone on 127.0.0.1:PORT, calling the
 *                               B at 127.0.0.1:B_PORT
 *
 * The A->B protocol is one line each way: A sends the request target
 * ("/req/7\n"; the HTTP parser never lets a CR or LF into it), B answers
 * "B answered /req/7 after 100 ms\n". A sends one request at a time on a
 * connection and waits for its answer, so the answer is the line ending
 * at the last byte read; B still reads a stream of lines, whatever the
 * reads cut.
 *
 * A keeps its connections to B in a pool (a channel of idle descriptors):
 * a request takes an idle one or dials a new one, and puts it back after
 * the answer. Under load the pool grows to the number of requests waiting
 * on B at once and then stops dialling; one connection per request would
 * instead cost a handshake per request and leave a TIME_WAIT socket each
 * time, which runs out of local ports under a benchmark. A pooled
 * connection may have died meanwhile (B restarted): the call then retries
 * once on a fresh one, which is safe because B's answers have no side
 * effect. */
#include "ab_service.h"

#include <corun.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_conn.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define B_LINE_MAX 4096 /* longest request line B takes */
#define B_REPLY_FMT "B answered %.*s after %d ms\n"
#define POOL_MAX 4096   /* idle A->B connections kept */
#define B_CALL_NS (60 * SEC) /* A gives up on B after this long */

/* ---- B ----------------------------------------------------------------- */

struct b_service {
  int delay_ms;
};

/* One connection from A: for each line, wait, answer. */
static void b_session(int fd, void *ctx) {
  const struct b_service *b = ctx;
  char in[B_LINE_MAX], out[B_LINE_MAX + 64];
  size_t have = 0;
  for (;;) {
    char *nl;
    while ((nl = memchr(in, '\n', have)) == NULL) {
      if (have == sizeof in)
        goto done; /* a line too long: not our protocol */
      ssize_t n = corun_read(fd, in + have, sizeof in - have, -1);
      if (n <= 0)
        goto done; /* A closed the connection (or it broke) */
      have += (size_t)n;
    }
    int len = (int)(nl - in);
    if (corun_sleep(b->delay_ms * MS) < 0) /* the "work" */
      goto done;
    int m = snprintf(out, sizeof out, B_REPLY_FMT, len, in, b->delay_ms);
    if (http_conn_send_all(fd, out, (size_t)m, corun_deadline_in(B_CALL_NS)) <
        0)
      goto done;
    have -= (size_t)len + 1;
    memmove(in, nl + 1, have);
  }
done:
  corun_close(fd);
}

/* ---- A ----------------------------------------------------------------- */

struct a_service {
  int b_port;
  corun_chan *idle; /* of int: connections to B nobody uses now */
};

static int a_init(struct a_service *a, int b_port) {
  a->b_port = b_port;
  return corun_chan_make(&a->idle, sizeof(int), POOL_MAX);
}

/* Closes the idle connections (B's sessions see them end) and frees the
 * pool. Call once no A session runs any more. */
static void a_fini(struct a_service *a) {
  int fd;
  while (corun_chan_recv(a->idle, &fd, 0) == 0)
    corun_close(fd);
  corun_chan_free(a->idle);
}

/* One request to B on connection fd: the target as a line out, B's line
 * back into reply. Returns the reply's length or -errno. */
static ssize_t b_exchange(int fd, const char *target, size_t n, char *reply,
                          size_t cap, int64_t deadline) {
  char line[HTTP_CONN_URL_MAX + 1];
  memcpy(line, target, n);
  line[n] = '\n';
  int rc = http_conn_send_all(fd, line, n + 1, deadline);
  if (rc < 0)
    return rc;
  size_t got = 0;
  for (;;) {
    ssize_t r = corun_read(fd, reply + got, cap - got, deadline);
    if (r < 0)
      return r;
    if (r == 0)
      return -ECONNRESET; /* B closed before answering */
    got += (size_t)r;
    if (reply[got - 1] == '\n')
      return (ssize_t)got;
    if (got == cap)
      return -EMSGSIZE;
  }
}

/* Calls B: what reads like one blocking call. */
static ssize_t call_b(struct a_service *a, const char *target, size_t n,
                      char *reply, size_t cap) {
  int64_t deadline = corun_deadline_in(B_CALL_NS);
  for (;;) {
    int fd;
    int reused = corun_chan_recv(a->idle, &fd, 0) == 0;
    if (!reused) {
      int rc = corun_tcp_dial("127.0.0.1", a->b_port, deadline, &fd);
      if (rc < 0)
        return rc;
    }
    ssize_t len = b_exchange(fd, target, n, reply, cap, deadline);
    if (len >= 0) {
      if (corun_chan_send(a->idle, &fd, 0) < 0)
        corun_close(fd); /* the pool is full: keep no more */
      return len;
    }
    corun_close(fd);
    if (!reused || len == -ETIMEDOUT || len == -ECANCELED)
      return len; /* a fresh connection failed: B itself is the problem */
  }
}

/* A's HTTP handler: B's answer becomes the body. */
static int a_answer(struct http_conn *c, const struct http_conn_request *req,
                    void *ctx) {
  char body[B_LINE_MAX + 64];
  ssize_t n = call_b(ctx, req->url, req->url_len, body, sizeof body);
  if (n < 0) {
    static const char msg[] = "B did not answer\n";
    return http_conn_respond(c, req, "502 Bad Gateway", msg, sizeof msg - 1);
  }
  return http_conn_respond(c, req, "200 OK", body, (size_t)n);
}

static void a_session(int fd, void *ctx) {
  http_conn_serve(fd, a_answer, ctx);
}

/* ---- the self-test ------------------------------------------------------ */

struct client {
  const struct ab_run *r;
  int port; /* A's */
  long i;
  int ok; /* out */
};

/* Sends A "GET /req/<i>" and checks the whole reply. */
static void *ab_client(void *arg) {
  struct client *c = arg;
  char req[128], body[128], want[512], got[sizeof want];
  int rn = snprintf(req, sizeof req,
                    "GET /req/%ld HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Connection: close\r\n\r\n",
                    c->i);
  char target[32];
  int tn = snprintf(target, sizeof target, "/req/%ld", c->i);
  int bn = snprintf(body, sizeof body, B_REPLY_FMT, tn, target,
                    c->r->delay_ms);
  int wn = snprintf(want, sizeof want,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    "Content-Length: %d\r\n" HTTP_CONN_HDR_CLOSE "\r\n%s",
                    bn, body);
  int64_t deadline = corun_deadline_in(30 * SEC);
  int fd;
  if (corun_tcp_dial("127.0.0.1", c->port, deadline, &fd) < 0)
    return NULL;
  ssize_t n = -1;
  if (http_conn_send_all(fd, req, (size_t)rn, deadline) == 0)
    n = http_conn_read_full(fd, got, sizeof got, deadline); /* to the end */
  c->ok = n == wn && memcmp(got, want, (size_t)wn) == 0;
  corun_close(fd);
  return NULL;
}

void *ab_self_test(void *arg) {
  struct ab_run *r = arg;
  struct b_service b = {.delay_ms = r->delay_ms};
  struct a_service a;
  struct http_conn_listener lb, la;
  corun_task **t = calloc((size_t)r->clients, sizeof *t);
  struct client *c = calloc((size_t)r->clients, sizeof *c);
  int rc = -ENOMEM;
  r->ok = 0;
  r->elapsed_ns = 0;
  if (!t || !c)
    goto out;
  if ((rc = http_conn_listen(&lb, 0, b_session, &b)) < 0)
    goto out;
  if ((rc = a_init(&a, lb.port)) < 0)
    goto stop_b;
  if ((rc = http_conn_listen(&la, 0, a_session, &a)) < 0)
    goto fini_a;
  int64_t t0 = corun_now();
  long started = 0;
  for (; started < r->clients; started++) {
    c[started] = (struct client){.r = r, .port = la.port, .i = started};
    if ((rc = corun_spawn(&t[started], ab_client, &c[started], NULL)) < 0)
      break;
  }
  for (long i = 0; i < started; i++) {
    corun_join(t[i], NULL);
    r->ok += c[i].ok;
  }
  r->elapsed_ns = corun_now() - t0;
  /* Shut down in dependency order: A's sessions end (their clients have
   * closed), then A's idle connections to B, then B's sessions. */
  http_conn_listen_stop(&la);
fini_a:
  a_fini(&a);
stop_b:
  http_conn_listen_stop(&lb);
out:
  free(t);
  free(c);
  r->error = rc < 0 ? rc : 0;
  return NULL;
}

#ifndef CORUN_EXAMPLE_NO_MAIN
/* ---- b PORT DELAY_MS / a PORT B_PORT ------------------------------------ */

struct serve_args {
  char role; /* 'a' or 'b' */
  int port;
  int arg; /* B's delay, or A's B port */
};

static void *serve_role(void *arg) {
  struct serve_args *s = arg;
  struct b_service b = {.delay_ms = s->arg};
  struct a_service a;
  struct http_conn_listener l;
  int rc;
  if (s->role == 'b') {
    rc = http_conn_listen(&l, s->port, b_session, &b);
  } else {
    if ((rc = a_init(&a, s->arg)) < 0)
      http_conn_die("channel", rc);
    rc = http_conn_listen(&l, s->port, a_session, &a);
  }
  if (rc < 0)
    http_conn_die("listen", rc);
  if (s->role == 'b')
    printf("ab_service: B on 127.0.0.1:%d answers after %d ms\n", l.port,
           s->arg);
  else
    printf("ab_service: A on http://127.0.0.1:%d/ calls B at 127.0.0.1:%d\n",
           l.port, s->arg);
  fflush(stdout);
  corun_join(l.loop, NULL); /* until we are killed */
  return NULL;
}

int main(int argc, char **argv) {
  if (argc == 4 && (strcmp(argv[1], "a") == 0 || strcmp(argv[1], "b") == 0)) {
    struct serve_args s = {argv[1][0], atoi(argv[2]), atoi(argv[3])};
    if (s.port <= 0 || s.port > 65535 || s.arg < 0)
      return 2;
    int rc = corun_main(serve_role, &s, NULL);
    if (rc < 0)
      http_conn_die("corun_main", rc);
    return 0;
  }
  struct ab_run r = {.clients = argc > 1 ? atol(argv[1]) : 1000,
                     .delay_ms = argc > 2 ? atoi(argv[2]) : 100};
  if (argc > 3 || r.clients <= 0 || r.delay_ms < 0) {
    fprintf(stderr, "usage: ab_service [CLIENTS [DELAY_MS]] | "
                    "b PORT DELAY_MS | a PORT B_PORT\n");
    return 2;
  }
  int rc = corun_main(ab_self_test, &r, NULL);
  if (rc < 0)
    http_conn_die("corun_main", rc);
  if (r.error < 0)
    http_conn_die("self-test", r.error);
  printf("ab_service: %ld clients at once, each one request to A, which "
         "calls B (%d ms delay): %ld/%ld replies right, %.3f s "
         "(one after another: %.1f s)\n",
         r.clients, r.delay_ms, r.ok, r.clients, (double)r.elapsed_ns / 1e9,
         (double)r.clients * r.delay_ms / 1e3);
  return r.ok != r.clients;
}
#endif
