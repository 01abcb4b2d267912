/* hooked_redis.c: ordinary blocking hiredis code, unchanged, made
 * concurrent by linking libcorun_hook.
 *
 * visit() below is what any C program using hiredis's synchronous API
 * looks like: redisConnect, then redisCommand round trips that each wait
 * for the server's answer. It knows nothing of corun. Run from corun tasks
 * in a program linked with libcorun_hook (and the shared libcorun), every
 * call that would block (the connect, poll, read and write inside hiredis)
 * parks only its task: N visits run at once on two worker threads, and
 * take about as long as one.
 *
 * Each visit includes a slow command: BLPOP on an empty list with a 50 ms
 * timeout, the server-side stand-in for a slow query (the server waits,
 * for that client only, then answers nil).
 *
 * The program is self-contained: it starts its own redis-server
 * (/usr/bin/redis-server; Debian: redis-server) on a free loopback port,
 * with no persistence, in a temporary directory, and stops it at the end.
 *
 *   hooked_redis       200 visits at once
 *   hooked_redis N     N visits at once
 */
#include <arpa/inet.h>
#include <corun.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define REDIS_SERVER "/usr/bin/redis-server"

/* ---- the unchanged blocking code ---------------------------------------- */

/* Registers a visit of user `id`: stores a name, reads it back, counts the
 * visit, and runs one slow command. Returns 0, or -1 with a message. */
static int visit(const char *host, int port, int id) {
  redisContext *c = redisConnect(host, port);
  if (!c || c->err) {
    fprintf(stderr, "visit %d: %s\n", id, c ? c->errstr : "out of memory");
    redisFree(c);
    return -1;
  }
  char name[32];
  snprintf(name, sizeof name, "user-%d", id);
  int ok = 1;
  redisReply *r = redisCommand(c, "SET user:%d:name %s", id, name);
  ok &= r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
  freeReplyObject(r);
  r = redisCommand(c, "GET user:%d:name", id);
  ok &= r && r->type == REDIS_REPLY_STRING && strcmp(r->str, name) == 0;
  freeReplyObject(r);
  r = redisCommand(c, "INCR visits");
  ok &= r && r->type == REDIS_REPLY_INTEGER && r->integer >= 1;
  freeReplyObject(r);
  r = redisCommand(c, "BLPOP jobs:%d 0.05", id); /* the slow one: 50 ms */
  ok &= r && r->type == REDIS_REPLY_NIL;
  freeReplyObject(r);
  if (!ok)
    fprintf(stderr, "visit %d: unexpected reply (%s)\n", id,
            c->err ? c->errstr : "wrong value");
  redisFree(c);
  return ok ? 0 : -1;
}

/* ---- running it from many tasks ----------------------------------------- */

static int port, visits, failures;

static void *visitor(void *arg) {
  if (visit("127.0.0.1", port, (int)(intptr_t)arg) != 0)
    __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
  return NULL;
}

static void *main_task(void *unused) {
  (void)unused;
  /* a few visits one after the other: what each costs alone */
  enum { ALONE = 5 };
  int64_t t0 = corun_now();
  for (int i = 0; i < ALONE; i++)
    visitor((void *)(intptr_t)i);
  double one = (double)(corun_now() - t0) / 1e9 / ALONE;
  /* then all of them at once, one task each */
  corun_task **t = calloc((size_t)visits, sizeof *t);
  if (!t)
    abort();
  t0 = corun_now();
  for (int i = 0; i < visits; i++)
    if (corun_spawn(&t[i], visitor, (void *)(intptr_t)i, NULL) != 0)
      abort();
  for (int i = 0; i < visits; i++)
    corun_join(t[i], NULL);
  double all = (double)(corun_now() - t0) / 1e9;
  free(t);
  printf("%d visits at once on 2 workers: %.3f s; one at a time they would "
         "take %.2f s (%.1f ms each); %d failed\n",
         visits, all, one * visits, one * 1e3, failures);
  return NULL;
}

/* ---- a private redis-server -------------------------------------------- */

/* A port free on 127.0.0.1 now (the kernel's pick). */
static int free_port(void) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
           getsockname(fd, (struct sockaddr *)&a, &len) == 0;
  if (fd >= 0)
    close(fd);
  return ok ? ntohs(a.sin_port) : -1;
}

/* Starts redis-server in dir on `port`, logging to `log`; returns its pid
 * once it accepts connections, or -1. */
static pid_t start_redis(const char *dir, const char *log) {
  char ports[16];
  snprintf(ports, sizeof ports, "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* it goes when we go */
    /* --hz 100: BLPOP's timeout fires within 10 ms of its time */
    execl(REDIS_SERVER, REDIS_SERVER, "--port", ports, "--bind", "127.0.0.1",
          "--save", "", "--appendonly", "no", "--dir", dir, "--hz", "100",
          "--tcp-backlog", "1024", "--logfile", log, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; pid > 0 && i < 500; i++) { /* up to 5 s */
    redisContext *c = redisConnect("127.0.0.1", port);
    int up = c && !c->err;
    redisFree(c);
    if (up)
      return pid;
    if (waitpid(pid, NULL, WNOHANG) == pid)
      return -1;
    usleep(10000);
  }
  return -1;
}

int main(int argc, char **argv) {
  visits = argc > 1 ? atoi(argv[1]) : 200;
  if (visits < 1) {
    fprintf(stderr, "usage: hooked_redis [N]\n");
    return 2;
  }
  if (access(REDIS_SERVER, X_OK) != 0) {
    fprintf(stderr, "hooked_redis: needs %s (Debian: redis-server)\n",
            REDIS_SERVER);
    return 1;
  }
  char dir[] = "/tmp/hooked_redis-XXXXXX", log[64];
  if (!mkdtemp(dir) || (port = free_port()) < 0) {
    perror("hooked_redis");
    return 1;
  }
  snprintf(log, sizeof log, "%s/redis.log", dir);
  pid_t server = start_redis(dir, log);
  int rc = 1;
  if (server < 0)
    fprintf(stderr, "hooked_redis: redis-server did not start (see %s)\n",
            log);
  else if (corun_main(main_task, NULL, &(corun_config){.workers = 2}) == 0)
    rc = failures != 0;
  if (server > 0) {
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
  }
  if (rc == 0) { /* the log is all redis wrote: --save "" --appendonly no */
    unlink(log);
    rmdir(dir);
  }
  return rc;
}
