/* redis.c: hiredis's synchronous API, unchanged, against a real
 * redis-server, from 1,000 tasks at once on 2 workers.
 *
 * Why: hiredis's blocking calls (getaddrinfo, socket, connect with a
 * non-blocking socket and poll, then read/write on a blocking one) are
 * exactly what libcorun_hook must make task-aware. If any of them blocked
 * its worker, the 1,000 clients would run at most two at a time and the
 * test would take minutes instead of a fraction of a second.
 *
 * The server: /usr/bin/redis-server, started by the test on a free
 * loopback port in a temporary directory, with no persistence, and
 * stopped at the end even on failure (server.h). --hz 100 makes its
 * blocked-command timeouts fire within 10 ms.
 *
 * The latency: every round trip includes `BLPOP idle:<id> 0.1` on a list
 * nobody pushes to. The server parks that one client for 100 ms (300 ms
 * under Valgrind) and answers nil, while it goes on serving all the
 * others: latency added per request without serialising the server
 * (DEBUG SLEEP would stall it for everyone). Sequentially, 1,000 clients
 * x ROUNDS would take 1,000 x ROUNDS x 100 ms; the test requires under
 * 10 % of that and prints the measured figures.
 *
 * Every reply is checked: SET says OK, BLPOP says nil, GET returns the
 * task's own value for that round (no reply reaches the wrong
 * connection), and the INCRs on one shared counter return every number
 * from 1 to CLIENTS x ROUNDS exactly once. 250 clients under Valgrind. */
#include <corun.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define MS 1000000LL
#define ROUNDS 2

static struct srv server;
static int clients; /* 1,000; fewer under Valgrind */
/* The BLPOP timeout: the server's added latency per round trip. Longer
 * under Valgrind, where each client's own work takes about 14 ms: at
 * 100 ms the 250 clients took 3.8 s of the 5 s bound when the machine
 * was idle, and 5.7 s next to a compiler (make test, 23 Nov). */
static int latency_ms;
static atomic_uchar *seen; /* seen[n]: INCR returned n */

/* The redis-server command line for server.port. */
static char **redis_argv(struct srv *s, void *unused) {
  (void)unused;
  static char port[16], *argv[32];
  snprintf(port, sizeof port, "%d", s->port);
  char *a[] = {"/usr/bin/redis-server", "--port", port,
               "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", s->dir,
               "--daemonize", "no", "--hz", "100",
               "--tcp-backlog", "2048", "--maxclients", "4000",
               "--databases", "1", "--logfile", "", NULL};
  memcpy(argv, a, sizeof a);
  return argv;
}

/* Frees the reply after checking its type (and for strings, its text). */
static void expect(redisReply *r, int type, const char *str) {
  T_TRUE(r != NULL);
  if (r->type != type)
    T_FAIL_("reply type %d, expected %d (%s)", r->type, type,
            r->type == REDIS_REPLY_ERROR ? r->str : "");
  if (str)
    T_STR_EQ(r->str, str);
  freeReplyObject(r);
}

/* One client: ordinary blocking hiredis code. */
static void *client(void *arg) {
  int id = (int)(intptr_t)arg;
  redisContext *c = redisConnect("127.0.0.1", server.port);
  T_TRUE(c != NULL);
  if (c->err)
    T_FAIL_("client %d: redisConnect: %s", id, c->errstr);
  for (int r = 0; r < ROUNDS; r++) {
    char value[64];
    snprintf(value, sizeof value, "value of %d in round %d", id, r);
    expect(redisCommand(c, "SET key:%d %s", id, value), REDIS_REPLY_STATUS,
           "OK");
    expect(redisCommand(c, "BLPOP idle:%d %.3f", id, latency_ms / 1000.0),
           REDIS_REPLY_NIL, NULL);
    expect(redisCommand(c, "GET key:%d", id), REDIS_REPLY_STRING, value);
    redisReply *n = redisCommand(c, "INCR counter");
    T_TRUE(n != NULL);
    T_EQ(n->type, REDIS_REPLY_INTEGER);
    T_GE(n->integer, 1);
    T_LE(n->integer, (long long)clients * ROUNDS);
    int before = atomic_exchange(&seen[n->integer], 1);
    T_EQ(before, 0); /* each number once */
    freeReplyObject(n);
  }
  redisFree(c);
  return NULL;
}

/* One client's round trip with the server's latency, alone: what each of
 * the sequential round trips would cost. */
static int64_t one_round_trip(void) {
  redisContext *c = redisConnect("127.0.0.1", server.port);
  T_TRUE(c != NULL && !c->err);
  int64_t t0 = corun_now();
  for (int i = 0; i < 3; i++)
    expect(redisCommand(c, "BLPOP idle:alone %.3f", latency_ms / 1000.0),
           REDIS_REPLY_NIL, NULL);
  int64_t t = (corun_now() - t0) / 3;
  redisFree(c);
  return t;
}

static void *main_task(void *unused) {
  (void)unused;
  int64_t rt = one_round_trip();
  T_GE(rt, latency_ms * MS); /* the server did add the latency */
  corun_task **t = calloc((size_t)clients, sizeof *t);
  T_TRUE(t != NULL);
  int64_t t0 = corun_now();
  for (int i = 0; i < clients; i++)
    T_OK(corun_spawn(&t[i], client, (void *)(intptr_t)i,
                     &(corun_attr){.stack_size = 64 * 1024}));
  for (int i = 0; i < clients; i++)
    T_OK(corun_join(t[i], NULL));
  int64_t took = corun_now() - t0;
  free(t);
  for (long n = 1; n <= (long)clients * ROUNDS; n++) {
    int once = atomic_load(&seen[n]);
    T_EQ(once, 1);
  }
  /* the server agrees */
  redisContext *c = redisConnect("127.0.0.1", server.port);
  T_TRUE(c != NULL && !c->err);
  redisReply *r = redisCommand(c, "GET counter");
  T_TRUE(r != NULL && r->type == REDIS_REPLY_STRING);
  T_EQ(atoll(r->str), (long long)clients * ROUNDS);
  freeReplyObject(r);
  redisFree(c);

  int64_t seq_nominal = (int64_t)clients * ROUNDS * latency_ms * MS;
  int64_t seq_measured = (int64_t)clients * ROUNDS * rt;
  printf("redis: %d clients x %d round trips with %d ms server latency on "
         "2 workers: %.3f s (sequential: %.1f s nominal, %.1f s at the "
         "measured %.1f ms per round trip; %.2f %%)\n",
         clients, ROUNDS, latency_ms, (double)took / 1e9,
         (double)seq_nominal / 1e9, (double)seq_measured / 1e9,
         (double)rt / 1e6, 100.0 * (double)took / (double)seq_measured);
  /* far below sequential: under 10 % of it (Valgrind: scaled down, so
   * the bound is relative to its own smaller count) */
  T_LT(took, seq_nominal / 10);
  /* and an absolute bound: about 1 s here is the CPU time of 1,000
   * connections and 8,000 commands on two cores shared with the server;
   * room for a loaded machine */
  T_LT(took, (int64_t)(5.0 * srv_slowdown() * 1e9));
  return NULL;
}

static int body(void *unused) {
  (void)unused;
  seen = calloc((size_t)clients * ROUNDS + 1, sizeof *seen);
  T_TRUE(seen != NULL);
  T_OK(corun_main(main_task, NULL, &(corun_config){.workers = 2}));
  free(seen);
  return 0;
}

int main(void) {
  srv_require_hook();
  srv_need("/usr/bin/redis-server");
  /* Valgrind runs every instruction of 1,000 clients about 30 times
   * slower: 100 clients still show the concurrency (10 s sequential). */
  clients = t_under_valgrind() || t_emulated() ? 250 : 1000;
  latency_ms = t_under_valgrind() || t_emulated() ? 300 : 100;
  srv_begin(&server, "redis");
  if (srv_start(&server, redis_argv, NULL) != 0) {
    srv_end(&server, SIGTERM, 1);
    T_FAIL_("%s", "redis-server did not start");
  }
  int rc = srv_supervise(body, NULL);
  srv_end(&server, SIGTERM, rc != 0 && rc != 77);
  return rc;
}
