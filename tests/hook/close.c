/* close.c: what the hooks do when an fd goes away under waiting tasks,
 * and per-task answers, all on ONE worker (so a task that blocked the
 * worker would hang the test):
 *   - close() wakes every task blocked on the fd with EBADF, not only the
 *     first (corun's own waiter): a second reader, and a poll() over the
 *     fd and another one, wait on private epoll instances, which forget a
 *     closed file without an event;
 *   - dup2() onto a waited fd does the same;
 *   - fclose() of an fdopen'd socket lets the number go as close() does: a
 *     new socket that reuses it is waited on, not left with the old
 *     registration (a poll on it sees data written later);
 *   - gethostbyname() answers each task with its own result, although
 *     tasks look names up at once on helper threads that share libc's
 *     static buffer. */
#include <arpa/inet.h>
#include <corun.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

static int errno_now(void) { /* re-read: a task may have moved */
  return errno;
}

static atomic_int parked;

static void *reader(void *arg) {
  int fd = *(int *)arg;
  char c;
  atomic_fetch_add(&parked, 1);
  ssize_t n = read(fd, &c, 1);
  return (void *)(intptr_t)(n < 0 ? -errno_now() : n);
}

static void *poller(void *arg) {
  struct pollfd *p = arg;
  atomic_fetch_add(&parked, 1);
  int n = poll(p, 2, 20000);
  return (void *)(intptr_t)(n < 0 ? -errno_now() : n);
}

/* Two readers and a poller blocked on s[0]; closing it ends all three. */
static void close_wakes_all(int use_dup2) {
  int s[2], o[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, o));
  atomic_store(&parked, 0);
  corun_task *r1, *r2, *p;
  struct pollfd pf[2] = {{o[0], POLLIN, 0}, {s[0], POLLIN, 0}};
  T_OK(corun_spawn(&r1, reader, &s[0], NULL));
  T_OK(corun_spawn(&r2, reader, &s[0], NULL));
  T_OK(corun_spawn(&p, poller, pf, NULL));
  while (atomic_load(&parked) < 3) /* one worker: each runs into its wait */
    corun_yield(NULL);
  corun_yield(NULL);
  if (use_dup2)
    T_EQ(dup2(o[1], s[0]), s[0]); /* s[0] now names another socket */
  else
    T_OK(close(s[0]));
  void *a, *b, *c;
  T_OK(corun_join(r1, &a));
  T_OK(corun_join(r2, &b));
  T_EQ((intptr_t)a, -EBADF);
  T_EQ((intptr_t)b, -EBADF);
  /* The poll looked again. After close: POLLNVAL for the closed fd. After
   * dup2 the number names o[1], with nothing to read, so the poll waits on
   * with the new file; data for o[0] then ends it. */
  if (use_dup2)
    T_EQ(write(o[1], "w", 1), 1);
  T_OK(corun_join(p, &c));
  T_EQ((intptr_t)c, 1);
  T_EQ(pf[1].revents, use_dup2 ? 0 : POLLNVAL);
  T_EQ(pf[0].revents, use_dup2 ? POLLIN : 0);
  if (use_dup2)
    T_OK(close(s[0]));
  T_OK(close(s[1]));
  T_OK(close(o[0]));
  T_OK(close(o[1]));
}

/* ---- fclose ---------------------------------------------------------- */

struct delayed {
  int fd;
};

static void *write_soon(void *arg) {
  struct delayed *d = arg;
  struct timespec ms = {0, 20000000};
  nanosleep(&ms, NULL);
  T_EQ(write(d->fd, "n", 1), 1);
  return NULL;
}

static void fclose_then_reuse(void) {
  int s[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
  /* corun waits on s[0] once (registered with its poller) */
  T_EQ(write(s[1], "o", 1), 1);
  char c;
  struct pollfd p = {s[0], POLLIN, 0};
  T_EQ(poll(&p, 1, 1000), 1);
  T_EQ(read(s[0], &c, 1), 1);
  struct delayed d0 = {s[1]};
  pthread_t th;
  T_OK(pthread_create(&th, NULL, write_soon, &d0));
  T_EQ(poll(&p, 1, 5000), 1); /* a real wait, through corun */
  T_OK(pthread_join(th, NULL));
  T_EQ(read(s[0], &c, 1), 1);

  int number = s[0];
  FILE *f = fdopen(s[0], "r+");
  T_TRUE(f != NULL);
  T_OK(fclose(f));
  T_OK(close(s[1]));
  int n[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, n));
  int fresh = n[0] == number ? n[0] : n[1] == number ? n[1] : -1;
  T_TRUE(fresh >= 0); /* the lowest free number: the one fclose freed */
  int peer = fresh == n[0] ? n[1] : n[0];
  struct delayed d = {peer};
  T_OK(pthread_create(&th, NULL, write_soon, &d));
  struct pollfd q = {fresh, POLLIN, 0};
  T_EQ(poll(&q, 1, 5000), 1); /* 0 after 5 s: its events never came */
  T_EQ(q.revents, POLLIN);
  T_OK(pthread_join(th, NULL));
  T_OK(close(n[0]));
  T_OK(close(n[1]));
}

/* ---- gethostbyname ----------------------------------------------------- */

static void *resolver(void *arg) {
  const char *name = arg;
  for (int i = 0; i < 300; i++) {
    struct hostent *h = gethostbyname(name);
    T_TRUE(h != NULL);
    if (strcmp(h->h_name, name) != 0)
      T_FAIL_("asked for %s, got %s", name, h->h_name);
    corun_yield(NULL);
  }
  return NULL;
}

static void own_answers(void) {
  static const char *const names[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};
  corun_task *t[3];
  for (int i = 0; i < 3; i++)
    T_OK(corun_spawn(&t[i], resolver, (void *)names[i], NULL));
  for (int i = 0; i < 3; i++)
    T_OK(corun_join(t[i], NULL));
}

static void *main_task(void *arg) {
  (void)arg;
  close_wakes_all(0);
  close_wakes_all(1);
  fclose_then_reuse();
  own_answers();
  return NULL;
}

int main(void) {
  corun_config one = {.workers = 1, .block_ms = -1};
  T_OK(corun_main(main_task, NULL, &one));
  return 0;
}
