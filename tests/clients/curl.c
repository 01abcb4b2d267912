/* curl.c: libcurl's easy API, unchanged, from 200 tasks at once on 2
 * workers, against an HTTP server that takes 100 ms over each response.
 *
 * Why: curl_easy_perform is the classic blocking call that hides a whole
 * event loop: a non-blocking socket, connect returning EINPROGRESS, and
 * poll over the socket and the multi handle's wake-up socketpair (two
 * fds: the hooked poll's multi-fd path), with recv/send in between. With
 * libcorun_hook each perform parks only its task. Without it, the
 * performs would hold both workers in poll and the server's own tasks,
 * on the same workers, could not answer: every request would time out.
 * The test needs all 200 done, each with its own body, in under 2 s
 * (sequentially: 20 s; 100 clients under Valgrind).
 *
 * The server runs in the same process, written with corun's own IO API
 * (not the hooks, so it does not depend on what is under test): a task
 * accepts and starts a task per connection, which reads the request,
 * sleeps 100 ms and answers "hello, client <n>" for the path /n/<n>. It
 * counts the requests it holds at once: that number shows from the
 * server's side that the clients really were concurrent. */
#include <corun.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define MS 1000000LL
#define DELAY_MS 100 /* the server's time over each response */

static int clients; /* 200; fewer under Valgrind */
static int port;
static atomic_int in_flight, max_in_flight, served;
static corun_wg *conns; /* the connection tasks still running */

/* ---- the server: corun's IO API, a task per connection ------------------ */

static void *connection(void *arg) {
  int fd = (int)(intptr_t)arg;
  char req[2048];
  size_t got = 0;
  while (got < sizeof req - 1) {
    ssize_t n = corun_read(fd, req + got, sizeof req - 1 - got, -1);
    T_GT(n, 0);
    got += (size_t)n;
    req[got] = 0;
    if (strstr(req, "\r\n\r\n"))
      break;
  }
  int id = -1;
  T_EQ(sscanf(req, "GET /n/%d HTTP/1.1\r\n", &id), 1);
  int now = atomic_fetch_add(&in_flight, 1) + 1;
  int max = atomic_load(&max_in_flight);
  while (now > max && !atomic_compare_exchange_weak(&max_in_flight, &max, now))
    ;
  T_OK(corun_sleep(DELAY_MS * MS));
  atomic_fetch_sub(&in_flight, 1);
  char body[64], resp[256];
  int blen = snprintf(body, sizeof body, "hello, client %d\n", id);
  int rlen = snprintf(resp, sizeof resp,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                      blen, body);
  T_EQ(corun_write_all(fd, resp, (size_t)rlen, -1), rlen);
  atomic_fetch_add(&served, 1);
  T_OK(corun_close(fd));
  T_OK(corun_wg_done(conns));
  return NULL;
}

static void *acceptor(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int fd = corun_accept(lfd, NULL, NULL, -1);
    if (fd == -ECANCELED)
      return NULL; /* main_task is done with us */
    T_GE(fd, 0);
    T_OK(corun_wg_add(conns, 1));
    T_OK(corun_go(connection, (void *)(intptr_t)fd));
  }
}

/* ---- the clients: plain libcurl ---------------------------------------- */

struct body {
  char buf[256];
  size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *arg) {
  struct body *b = arg;
  size_t len = size * n;
  T_LT(b->len + len, sizeof b->buf);
  memcpy(b->buf + b->len, data, len);
  b->len += len;
  b->buf[b->len] = 0;
  return len;
}

static void *client(void *arg) {
  int id = (int)(intptr_t)arg;
  char url[64], want[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/n/%d", port, id);
  snprintf(want, sizeof want, "hello, client %d\n", id);
  struct body b = {.len = 0};
  CURL *h = curl_easy_init();
  T_TRUE(h != NULL);
  T_OK(curl_easy_setopt(h, CURLOPT_URL, url));
  T_OK(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect));
  T_OK(curl_easy_setopt(h, CURLOPT_WRITEDATA, &b));
  /* what a threaded program sets: no SIGALRM around name lookups */
  T_OK(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  /* a bug shows as a failure, not as a hang */
  T_OK(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L));
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK)
    T_FAIL_("client %d: curl_easy_perform: %s", id, curl_easy_strerror(rc));
  long code = 0;
  T_OK(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code));
  T_EQ(code, 200);
  T_STR_EQ(b.buf, want);
  curl_easy_cleanup(h);
  return NULL;
}

static void *main_task(void *unused) {
  (void)unused;
  int lfd;
  T_OK(corun_tcp_listen("127.0.0.1", 0, 1024, &lfd));
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  T_OK(getsockname(lfd, (struct sockaddr *)&a, &len));
  port = ntohs(a.sin_port);
  T_OK(corun_wg_make(&conns));
  corun_task *acc;
  T_OK(corun_spawn(&acc, acceptor, (void *)(intptr_t)lfd, NULL));

  corun_task **t = calloc((size_t)clients, sizeof *t);
  T_TRUE(t != NULL);
  int64_t t0 = corun_now();
  for (int i = 0; i < clients; i++)
    T_OK(corun_spawn(&t[i], client, (void *)(intptr_t)i, NULL));
  for (int i = 0; i < clients; i++)
    T_OK(corun_join(t[i], NULL));
  int64_t took = corun_now() - t0;
  free(t);
  T_OK(corun_cancel(acc));
  T_OK(corun_join(acc, NULL));
  T_OK(corun_close(lfd));
  /* a client may have its whole response before its server task is done */
  T_OK(corun_wg_wait(conns, -1));
  T_OK(corun_wg_free(conns));

  int n_served = atomic_load(&served), most = atomic_load(&max_in_flight);
  T_EQ(n_served, clients);
  printf("curl: %d curl_easy_perform calls, %d ms each on the server, on 2 "
         "workers: %.3f s (sequential: %.1f s); up to %d requests held at "
         "once by the server\n",
         clients, DELAY_MS, (double)took / 1e9,
         (double)clients * DELAY_MS / 1e3, most);
  T_LT(took, (int64_t)(2.0 * srv_slowdown() * 1e9));
  T_LT(took, (int64_t)clients * DELAY_MS * MS / 5); /* under 20 % */
  /* most requests were in the server at the same time (many, where every
   * request costs several times more CPU) */
  T_GE(most, srv_slow() ? clients / 10 : clients / 2);
  return NULL;
}

int main(void) {
  srv_require_hook();
  clients = t_under_valgrind() || t_emulated() ? 100 : 200;
  /* libcurl's global state (OpenSSL's too) before any thread, as its
   * documentation asks */
  T_OK(curl_global_init(CURL_GLOBAL_DEFAULT));
  T_OK(corun_main(main_task, NULL, &(corun_config){.workers = 2}));
  curl_global_cleanup();
  return 0;
}
