/* parse.c: http_server's connection handler (examples/http_server.c over
 * examples/http_conn.c) driven through a socketpair, answers checked byte
 * for byte: pipelined requests in one write (more than one read and one
 * output buffer hold), a request split byte by byte over many writes,
 * bodies (Content-Length and chunked), HTTP/1.0 with and without
 * keep-alive, "Connection: close" with a request after it, malformed
 * requests and an overlong target (400, then close), and peers that
 * close mid-request or without reading the answer: the connection task
 * ends and closes its descriptor. Last, one request over TCP through the
 * accept loop, and the listener's stop. Run on 1 worker, then 2. */
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_conn.h"
#include "http_server.h"
#include "t.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* The answers, spelled out here rather than taken from the example. */
#define HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
#define KEEP HEAD "\r\nHello, World!"
#define KEEP10 HEAD "Connection: keep-alive\r\n\r\nHello, World!"
#define CLOSE HEAD "Connection: close\r\n\r\nHello, World!"
#define BAD                                                                    \
  "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static const char GET[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

struct conn {
  corun_task *task; /* runs http_server_session on srv */
  int srv, cli;
};

static void *server_task(void *arg) {
  http_server_session((int)(intptr_t)arg, NULL);
  return NULL;
}

static struct conn open_conn(void) {
  int sv[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
  struct conn c = {NULL, sv[0], sv[1]};
  T_OK(corun_spawn(&c.task, server_task, (void *)(intptr_t)c.srv, NULL));
  return c;
}

/* The connection task ended and closed its end. (Nothing else in this
 * test opens descriptors meanwhile, so the number cannot be reused.) */
static void server_gone(struct conn *c) {
  T_OK(corun_join(c->task, NULL));
  errno = 0;
  T_EQ(fcntl(c->srv, F_GETFD), -1);
  T_EQ(errno, EBADF);
}

/* Closes the client's end and checks that the server's goes too. */
static void close_conn(struct conn *c) {
  T_OK(corun_close(c->cli));
  server_gone(c);
}

static void send_str(int fd, const char *s) {
  T_OK(http_conn_send_all(fd, s, strlen(s), corun_now() + 5 * SEC));
}

/* Reads exactly the bytes of `want` (n of them, or strlen) and compares. */
static void expect_n(int fd, const char *want, size_t n) {
  static char got[64 * 1024];
  T_LE(n, sizeof got - 1);
  ssize_t r = http_conn_read_full(fd, got, n, corun_now() + 5 * SEC);
  T_EQ(r, (ssize_t)n);
  if (memcmp(got, want, n) != 0) {
    got[n] = 0;
    T_STR_EQ(got, want);
  }
}
static void expect(int fd, const char *want) {
  expect_n(fd, want, strlen(want));
}

static void expect_eof(int fd) {
  char b;
  T_EQ(corun_read(fd, &b, 1, corun_now() + 5 * SEC), 0);
}

/* Nothing more comes (within a short while): no stray answer. */
static void expect_quiet(int fd) {
  char b;
  T_EQ(corun_read(fd, &b, 1, corun_now() + 20 * MS), -ETIMEDOUT);
}

static void pipelined(void) {
  struct conn c = open_conn();
  send_str(c.cli, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                  "HEAD /b?c=d HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  expect(c.cli, KEEP KEEP KEEP);
  expect_quiet(c.cli);
  send_str(c.cli, GET); /* still open */
  expect(c.cli, KEEP);
  close_conn(&c);
}

/* 300 requests in one write: several reads' worth (4 KiB each) and more
 * answers than the output buffer (8 KiB) holds, so it is written out
 * mid-batch, in order. */
static void many_pipelined(void) {
  enum { N = 300 };
  static char q[N * sizeof GET], want[N * sizeof KEEP];
  size_t qn = 0, wn = 0;
  for (int i = 0; i < N; i++) {
    memcpy(q + qn, GET, sizeof GET - 1);
    qn += sizeof GET - 1;
    memcpy(want + wn, KEEP, sizeof KEEP - 1);
    wn += sizeof KEEP - 1;
  }
  struct conn c = open_conn();
  T_OK(http_conn_send_all(c.cli, q, qn, corun_now() + 5 * SEC));
  expect_n(c.cli, want, wn);
  expect_quiet(c.cli);
  close_conn(&c);
}

/* Every byte its own write, and its own read: the writer waits until the
 * server has taken the byte out of its socket before sending the next. */
static void byte_by_byte(void) {
  static const char q[] = "POST /form HTTP/1.1\r\nHost: x\r\n"
                          "Content-Length: 5\r\n\r\nhello"
                          "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  struct conn c = open_conn();
  for (size_t i = 0; i < sizeof q - 1; i++) {
    T_OK(http_conn_send_all(c.cli, q + i, 1, corun_now() + 5 * SEC));
    int64_t until = corun_now() + 5 * SEC;
    for (;;) {
      int queued;
      T_OK(ioctl(c.srv, FIONREAD, &queued));
      if (queued == 0)
        break;
      T_LT(corun_now(), until);
      corun_sleep(20000); /* long enough for the worker to poll */
    }
  }
  expect(c.cli, KEEP KEEP);
  expect_quiet(c.cli);
  close_conn(&c);
}

static void chunked_body(void) {
  struct conn c = open_conn();
  send_str(c.cli, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                  "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  expect(c.cli, KEEP KEEP);
  close_conn(&c);
}

static void http10(void) {
  /* Without keep-alive: one answer, then the server closes. */
  struct conn c = open_conn();
  send_str(c.cli, "GET / HTTP/1.0\r\n\r\n");
  expect(c.cli, CLOSE);
  expect_eof(c.cli);
  close_conn(&c);
  /* With it: confirmed in the answer, and the connection stays. */
  c = open_conn();
  send_str(c.cli, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  expect(c.cli, KEEP10);
  expect_quiet(c.cli);
  send_str(c.cli, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  expect(c.cli, KEEP10);
  send_str(c.cli, "GET / HTTP/1.0\r\n\r\n");
  expect(c.cli, CLOSE);
  expect_eof(c.cli);
  close_conn(&c);
}

static void connection_close(void) {
  /* The request after the one asking to close is not answered. */
  struct conn c = open_conn();
  send_str(c.cli, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  expect(c.cli, KEEP CLOSE);
  expect_eof(c.cli);
  close_conn(&c);
  /* Sent on its own, the server closes even if the client keeps its end
   * open: the task ends by itself (after lingering a second for more
   * input, see linger_close in http_conn.c). */
  c = open_conn();
  send_str(c.cli, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  expect(c.cli, CLOSE);
  expect_eof(c.cli);
  server_gone(&c);
  T_OK(corun_close(c.cli));
}

static void malformed(void) {
  /* The good request before the bad one is answered first. */
  struct conn c = open_conn();
  send_str(c.cli, "GET / HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n");
  expect(c.cli, KEEP BAD);
  expect_eof(c.cli);
  close_conn(&c);
  /* Garbage from the first byte. */
  c = open_conn();
  send_str(c.cli, "\x01\x02\x03 garbage\r\n\r\n");
  expect(c.cli, BAD);
  expect_eof(c.cli);
  close_conn(&c);
  /* A bad header line. */
  c = open_conn();
  send_str(c.cli, "GET / HTTP/1.1\r\nHost x y\r\n\r\n");
  expect(c.cli, BAD);
  expect_eof(c.cli);
  close_conn(&c);
  /* A target longer than the handler keeps. */
  static char q[HTTP_CONN_URL_MAX + 64];
  memcpy(q, "GET /", 5);
  memset(q + 5, 'a', HTTP_CONN_URL_MAX);
  strcpy(q + 5 + HTTP_CONN_URL_MAX, " HTTP/1.1\r\n\r\n");
  c = open_conn();
  send_str(c.cli, q);
  expect(c.cli, BAD);
  expect_eof(c.cli);
  close_conn(&c);
}

static void peer_goes_away(void) {
  /* Closes mid-request: no answer due, the task ends. */
  struct conn c = open_conn();
  send_str(c.cli, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HT");
  expect(c.cli, KEEP);
  close_conn(&c);
  /* Closes before reading the answers: the write fails (EPIPE, no
   * SIGPIPE) and the task ends. */
  c = open_conn();
  send_str(c.cli, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  close_conn(&c);
  /* Closes at once. */
  c = open_conn();
  close_conn(&c);
}

static void over_tcp(void) {
  struct http_conn_listener l;
  T_OK(http_conn_listen(&l, 0, http_server_session, NULL));
  T_GT(l.port, 0);
  int fd;
  T_OK(corun_tcp_dial("127.0.0.1", l.port, corun_now() + 5 * SEC, &fd));
  send_str(fd, GET);
  expect(fd, KEEP);
  send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  expect(fd, CLOSE);
  expect_eof(fd);
  T_OK(corun_close(fd));
  http_conn_listen_stop(&l); /* returns: the session has ended */
}

static void *main_task(void *arg) {
  (void)arg;
  pipelined();
  many_pipelined();
  byte_by_byte();
  chunked_body();
  http10();
  connection_close();
  malformed();
  peer_goes_away();
  over_tcp();
  return NULL;
}

int main(void) {
  for (unsigned w = 1; w <= 2; w++) {
    corun_config cfg = {.workers = w};
    T_OK(corun_main(main_task, NULL, &cfg));
  }
  printf("http/parse: ok\n");
  return 0;
}
