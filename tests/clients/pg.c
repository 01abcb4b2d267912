/* pg.c: libpq's blocking API, unchanged, against a real PostgreSQL, from
 * 100 tasks at once on 2 workers.
 *
 * Why: PQconnectdb and PQexec block in libpq's own loop: getaddrinfo, a
 * non-blocking socket, connect returning EINPROGRESS, poll, recv and send.
 * libcorun_hook must turn every one of those into a park of the task. 100
 * tasks each run `SELECT pg_sleep(0.1)` on their own connection: if the
 * calls blocked the workers, that would take 100 x 0.1 s / 2 workers = 5 s;
 * the test needs them done in under 1 s (sequentially: 10 s).
 *
 * The server: Debian's PostgreSQL binaries (/usr/lib/postgresql/<v>/bin,
 * or $CORUN_TEST_PG_BINDIR), never its "main" cluster: the test makes a
 * cluster of its own with initdb (trust authentication, no fsync) in a
 * temporary directory, runs `postgres` on a free loopback port with its
 * Unix socket in that directory, and stops it (fast shutdown) at the end,
 * even on failure (server.h). initdb and postgres refuse to run as root:
 * as root, the test runs them as Debian's `postgres` user.
 *
 * The connections are made first, every task waiting at a barrier, then
 * all the queries start together: the query phase is what the 1 s bound
 * is about. Connecting (100 backends forked by the server) is timed and
 * bounded separately. Each query returns the task's own number too, so a
 * reply on the wrong connection would show. 50 clients under Valgrind. */
#include <corun.h>
#include <glob.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define MS 1000000LL
#define SLEEP_MS 100 /* pg_sleep's time: the latency the server adds */

static struct srv server;
static char bindir[200], datadir[128];
static int clients; /* 100; fewer under Valgrind */
static corun_wg *connected, *go;

static char **pg_argv(struct srv *s, void *unused) {
  (void)unused;
  static char prog[256], port[16], *argv[32];
  snprintf(prog, sizeof prog, "%s/postgres", bindir);
  snprintf(port, sizeof port, "%d", s->port);
  char *a[] = {prog, "-D", datadir, "-p", port, "-k", s->dir,
               "-c", "listen_addresses=127.0.0.1",
               "-c", "max_connections=150",
               /* a throw-away cluster: nothing needs to reach the disk */
               "-c", "fsync=off", "-c", "synchronous_commit=off",
               "-c", "full_page_writes=off", NULL};
  memcpy(argv, a, sizeof a);
  return argv;
}

/* The connection string: TCP to the test's server. SSL and GSSAPI
 * encryption are off: the server offers neither, and asking would only
 * add a round trip (and a Kerberos credential lookup) per connection. */
static void conninfo(char *buf, size_t size) {
  snprintf(buf, size,
           "host=127.0.0.1 port=%d user=postgres dbname=postgres "
           "sslmode=disable gssencmode=disable connect_timeout=30",
           server.port);
}

static void *client(void *arg) {
  int id = (int)(intptr_t)arg;
  char ci[256];
  conninfo(ci, sizeof ci);
  PGconn *c = PQconnectdb(ci);
  T_TRUE(c != NULL);
  if (PQstatus(c) != CONNECTION_OK)
    T_FAIL_("client %d: PQconnectdb: %s", id, PQerrorMessage(c));
  T_OK(corun_wg_done(connected));
  T_OK(corun_wg_wait(go, -1));
  char q[64];
  snprintf(q, sizeof q, "SELECT pg_sleep(%.3f), %d", SLEEP_MS / 1000.0, id);
  PGresult *r = PQexec(c, q);
  T_TRUE(r != NULL);
  if (PQresultStatus(r) != PGRES_TUPLES_OK)
    T_FAIL_("client %d: PQexec: %s", id, PQerrorMessage(c));
  T_EQ(PQntuples(r), 1);
  T_EQ(PQnfields(r), 2);
  T_EQ(atoi(PQgetvalue(r, 0, 1)), id);
  PQclear(r);
  PQfinish(c);
  return NULL;
}

static void *main_task(void *unused) {
  (void)unused;
  T_OK(corun_wg_make(&connected));
  T_OK(corun_wg_make(&go));
  T_OK(corun_wg_add(connected, clients));
  T_OK(corun_wg_add(go, 1));
  corun_task **t = calloc((size_t)clients, sizeof *t);
  T_TRUE(t != NULL);
  int64_t t0 = corun_now();
  for (int i = 0; i < clients; i++)
    T_OK(corun_spawn(&t[i], client, (void *)(intptr_t)i, NULL));
  T_OK(corun_wg_wait(connected, -1));
  int64_t t1 = corun_now();
  T_OK(corun_wg_done(go));
  for (int i = 0; i < clients; i++)
    T_OK(corun_join(t[i], NULL));
  int64_t t2 = corun_now();
  free(t);
  T_OK(corun_wg_free(connected));
  T_OK(corun_wg_free(go));
  printf("pg: %d connections in %.3f s, then %d x SELECT pg_sleep(%.1f) "
         "on 2 workers: %.3f s (sequential: %.1f s); total %.3f s\n",
         clients, (double)(t1 - t0) / 1e9, clients, SLEEP_MS / 1000.0,
         (double)(t2 - t1) / 1e9, (double)clients * SLEEP_MS / 1e3,
         (double)(t2 - t0) / 1e9);
  T_LT(t2 - t1, (int64_t)(1.0 * srv_slowdown() * 1e9));
  T_LT(t2 - t1, (int64_t)clients * SLEEP_MS * MS / 5); /* under 20 % */
  /* the server forks a backend per connection: a generous bound */
  T_LT(t1 - t0, (int64_t)(5.0 * srv_slowdown() * 1e9));
  return NULL;
}

static int body(void *unused) {
  (void)unused;
  T_OK(corun_main(main_task, NULL, &(corun_config){.workers = 2}));
  return 0;
}

/* Finds the PostgreSQL server binaries: $CORUN_TEST_PG_BINDIR, else the
 * newest /usr/lib/postgresql/<version>/bin (Debian's layout). */
static int find_bindir(void) {
  const char *e = getenv("CORUN_TEST_PG_BINDIR");
  if (e && *e) {
    snprintf(bindir, sizeof bindir, "%s", e);
    return 0;
  }
  glob_t g;
  if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) != 0)
    return -1;
  int best = -1;
  long bestv = -1;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
    if (v > bestv) {
      bestv = v;
      best = (int)i;
    }
  }
  snprintf(bindir, sizeof bindir, "%.*s", (int)(strlen(g.gl_pathv[best]) - 9),
           g.gl_pathv[best]); /* without "/postgres" */
  globfree(&g);
  return 0;
}

/* Waits until the server accepts queries (it listens before it has
 * finished starting up). Returns 0 or -1. */
static int wait_ready(double secs) {
  char ci[256];
  conninfo(ci, sizeof ci);
  double end = srv_seconds() + secs;
  while (srv_seconds() < end) {
    if (PQping(ci) == PQPING_OK)
      return 0;
    usleep(20000);
  }
  return -1;
}

int main(void) {
  srv_require_hook();
  if (find_bindir() != 0)
    T_SKIP("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin "
           "(Debian: sh scripts/deps.sh test)");
  char path[256];
  snprintf(path, sizeof path, "%s/initdb", bindir);
  srv_need(path);
  snprintf(path, sizeof path, "%s/postgres", bindir);
  srv_need(path);
  clients = t_under_valgrind() || t_emulated() ? 50 : 100;

  srv_begin(&server, "pg");
  if (geteuid() == 0 && srv_run_as(&server, "postgres") != 0) {
    srv_end(&server, SIGINT, 0);
    T_SKIP("running as root and there is no `postgres` user to run "
           "PostgreSQL as (Debian's postgresql package makes one)");
  }
  snprintf(datadir, sizeof datadir, "%s/data", server.dir);
  char initdb[256];
  snprintf(initdb, sizeof initdb, "%s/initdb", bindir);
  char *init_argv[] = {initdb, "-D", datadir, "--auth=trust", "-U",
                       "postgres", "--no-sync", "-E", "UTF8",
                       "--locale=C", NULL};
  double t0 = srv_seconds();
  if (srv_run(&server, init_argv) != 0) {
    srv_end(&server, SIGINT, 1);
    T_FAIL_("%s", "initdb failed");
  }
  if (srv_start(&server, pg_argv, NULL) != 0 || wait_ready(30) != 0) {
    srv_end(&server, SIGINT, 1);
    T_FAIL_("%s", "postgres did not start");
  }
  printf("pg: initdb and server start took %.2f s\n", srv_seconds() - t0);
  int rc = srv_supervise(body, NULL);
  srv_end(&server, SIGINT, rc != 0 && rc != 77);
  return rc;
}
