/* server.h: what the client tests share: a real server (redis-server,
 * postgres) that the test starts itself on a free loopback port in a
 * temporary directory, and stops at the end even when the test fails.
 *
 * How "even when the test fails" is kept: the test body runs in a forked
 * child (srv_supervise), so an assertion's abort(), a sanitizer report or
 * a crash ends only that child; the parent, which started the server,
 * always stops it, removes the directory and passes the child's status on
 * (shown with the server's log when it is a failure). If the parent itself
 * is killed (a ctest timeout), the server gets SIGKILL from the kernel
 * (PR_SET_PDEATHSIG, set after any privilege drop, which would clear it);
 * only then is the directory left behind.
 *
 * Also shared: srv_require_hook (the hook library must really be loaded)
 * and the time scaling of the slow configurations (srv_slowdown).
 *
 * The parent starts the server before any thread exists (fork is then
 * safe under every sanitizer); it runs no corun code itself. Everything
 * here uses plain libc calls outside any task, where libcorun_hook's
 * hooks are libc's own. */
#ifndef CORUN_TESTS_CLIENTS_SERVER_H
#define CORUN_TESTS_CLIENTS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <link.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SRV_ASAN 1
#else
#define SRV_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define SRV_TSAN 1
#else
#define SRV_TSAN 0
#endif

/* 1 in the configurations where everything runs several times slower:
 * sanitizers, Valgrind, qemu. Time bounds are scaled by srv_slowdown(). */
static inline int srv_slow(void) {
  return SRV_ASAN || SRV_TSAN || t_under_valgrind() || t_emulated();
}

/* How much longer a time bound may be here than in a plain build. */
static inline double srv_slowdown(void) {
  if (t_under_valgrind() || t_emulated())
    return 10;
  return SRV_TSAN ? 5 : SRV_ASAN ? 3 : 1;
}

/* Seconds of the monotonic clock (for the parent, which has no corun). */
static inline double srv_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct srv {
  char dir[64];  /* the temporary directory, removed by srv_end */
  char log[128]; /* the server's stdout and stderr */
  pid_t pid;     /* the server process, 0 when none runs */
  int port;      /* its TCP port on 127.0.0.1 */
  uid_t uid;     /* whom the server runs as (root drops to `postgres`) */
  gid_t gid;
};

/* Creates the temporary directory (in $TMPDIR or /tmp; short, since a
 * Unix socket path in it must fit in 108 bytes). */
static inline void srv_begin(struct srv *s, const char *tag) {
  memset(s, 0, sizeof *s);
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp || strlen(tmp) > 24)
    tmp = "/tmp";
  snprintf(s->dir, sizeof s->dir, "%s/corun-%s-XXXXXX", tmp, tag);
  T_TRUE(mkdtemp(s->dir) != NULL);
  snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
  s->uid = getuid();
  s->gid = getgid();
}

/* Runs the server as `user` (initdb and postgres refuse to run as root),
 * giving it the directory. Returns 0, or -1 if there is no such user. */
static inline int srv_run_as(struct srv *s, const char *user) {
  struct passwd *pw = getpwnam(user);
  if (!pw)
    return -1;
  s->uid = pw->pw_uid;
  s->gid = pw->pw_gid;
  T_OK(chown(s->dir, s->uid, s->gid));
  return 0;
}

/* A TCP port free on 127.0.0.1 right now (the kernel's pick). Another
 * program could take it before the server binds it: srv_start retries. */
static inline int srv_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_GE(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  T_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
  T_OK(getsockname(fd, (struct sockaddr *)&a, &len));
  T_OK(close(fd));
  return ntohs(a.sin_port);
}

/* The environment without LD_PRELOAD, for the servers: under TSan the
 * tests preload libcorun_hook.so (corun_test's HOOKS, in
 * tests/CMakeLists.txt), which needs libtsan, and an uninstrumented
 * server (postgres) crashes with it. */
static inline char **srv_server_env(void) {
  extern char **environ;
  size_t n = 0;
  while (environ[n])
    n++;
  char **env = calloc(n + 1, sizeof *env);
  if (!env)
    T_FAIL_("%s", "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
      env[k++] = environ[i];
  return env;
}

/* Forks and execs argv[0] as the server's user, stdout and stderr to
 * `log` (appended), in s->dir, without LD_PRELOAD. Returns the child's
 * pid. */
static inline pid_t srv_spawn(struct srv *s, char *const argv[],
                              const char *log) {
  pid_t parent = getpid();
  char **env = srv_server_env();
  fflush(NULL);
  pid_t pid = fork();
  T_GE(pid, 0);
  if (pid > 0) {
    free(env);
    return pid;
  }
  /* the child: only async-signal-safe calls until exec */
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
    _exit(126);
  if (fd > 2)
    close(fd);
  if (s->uid != getuid() || s->gid != getgid()) {
    if (setgroups(0, NULL) < 0 || setgid(s->gid) < 0 || setuid(s->uid) < 0)
      _exit(126);
  }
  /* after setuid, which clears it: the server dies with the test */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
    _exit(126);
  if (chdir(s->dir) < 0)
    _exit(126);
  execve(argv[0], argv, env);
  _exit(127);
}

/* Runs argv to the end (initdb); returns its exit status, -1 if killed. */
static inline int srv_run(struct srv *s, char *const argv[]) {
  pid_t pid = srv_spawn(s, argv, s->log);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    T_EQ(errno, EINTR);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Waits until 127.0.0.1:port accepts a connection. Returns 0, or -1 if
 * the server exited first (its port was taken, say) or `secs` passed. */
static inline int srv_wait_port(struct srv *s, double secs) {
  double end = srv_seconds() + secs;
  while (srv_seconds() < end) {
    int st;
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
      s->pid = 0;
      return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_GE(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    if (ok)
      return 0;
    usleep(10000);
  }
  return -1;
}

/* Starts a long-running server: make_argv(s, ctx) builds its command line
 * for port s->port. Tries a few ports (another program may take one
 * between srv_free_port and the server's bind). Returns 0 once the port
 * accepts connections, -1 if the server never came up (its log says
 * why: srv_end prints it). */
static inline int srv_start(struct srv *s, char **(*make_argv)(struct srv *,
                                                               void *),
                            void *ctx) {
  for (int attempt = 0; attempt < 5; attempt++) {
    s->port = srv_free_port();
    s->pid = srv_spawn(s, make_argv(s, ctx), s->log);
    if (srv_wait_port(s, 30) == 0)
      return 0;
    if (s->pid) { /* up but not listening after 30 s: give up */
      kill(s->pid, SIGKILL);
      waitpid(s->pid, NULL, 0);
      s->pid = 0;
      return -1;
    }
  }
  return -1;
}

/* Prints the last lines of the server's log on stderr. */
static inline void srv_print_log(struct srv *s) {
  FILE *f = fopen(s->log, "r");
  if (!f)
    return;
  static char lines[40][256];
  int n = 0;
  while (fgets(lines[n % 40], sizeof lines[0], f))
    n++;
  fclose(f);
  fprintf(stderr, "---- %s (last lines) ----\n", s->log);
  for (int i = n > 40 ? n - 40 : 0; i < n; i++)
    fputs(lines[i % 40], stderr);
  fprintf(stderr, "---- end of server log ----\n");
}

static inline int srv_rm_(const char *path, const struct stat *st, int flag,
                          struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Stops the server (`sig`, e.g. SIGTERM; SIGKILL after 10 s), prints its
 * log if `show_log`, and removes the directory. */
static inline void srv_end(struct srv *s, int sig, int show_log) {
  if (s->pid > 0) {
    kill(s->pid, sig);
    double end = srv_seconds() + 10;
    int st;
    while (waitpid(s->pid, &st, WNOHANG) == 0) {
      if (srv_seconds() > end) {
        fprintf(stderr, "server %d did not stop: SIGKILL\n", (int)s->pid);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
        break;
      }
      usleep(5000);
    }
    s->pid = 0;
  }
  if (show_log)
    srv_print_log(s);
  if (s->dir[0])
    nftw(s->dir, srv_rm_, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs body(arg) in a forked child and returns the exit status to report
 * (the child's code; 1 if a signal ended it). The child exits with
 * body's return value, through exit(), so leak checkers still run. */
static inline int srv_supervise(int (*body)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  T_GE(pid, 0);
  if (pid == 0)
    exit(body(arg));
  int st;
  while (waitpid(pid, &st, 0) < 0)
    T_EQ(errno, EINTR);
  if (WIFSIGNALED(st)) {
    fprintf(stderr, "test killed by signal %d (%s)\n", WTERMSIG(st),
            strsignal(WTERMSIG(st)));
    return 1;
  }
  return WEXITSTATUS(st);
}

static inline int srv_hook_found_(struct dl_phdr_info *info, size_t size,
                                  void *found) {
  (void)size;
  if (info->dlpi_name && strstr(info->dlpi_name, "libcorun_hook"))
    *(int *)found = 1;
  return 0;
}

/* Fails unless libcorun_hook.so is loaded: a test whose program calls no
 * hooked function itself loses it to the linker's --as-needed, and would
 * then only fail by being slow. */
static inline void srv_require_hook(void) {
  int found = 0;
  dl_iterate_phdr(srv_hook_found_, &found);
  if (!found)
    T_FAIL_("%s", "libcorun_hook.so is not loaded: was the program linked "
                  "with --as-needed? (link it with -Wl,--no-as-needed)");
}

/* Exits 77 (skipped) if `path` cannot be executed, saying why. */
static inline void srv_need(const char *path) {
  if (access(path, X_OK) != 0) {
    printf("SKIP: %s not found (Debian: sh scripts/deps.sh test)\n", path);
    exit(77);
  }
}

#endif
