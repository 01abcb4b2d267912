/* tasks.c: hooked calls among tasks on ONE worker (so a task that blocked
 * the worker would hang the test): fds that go away or change under
 * waiting tasks, calls that must not block the worker, per-task answers:
 *   - close() ends corun's waiter on the fd with EBADF at once; a second
 *     reader and a poll() over the fd, which wait on private epoll
 *     instances, end with EBADF and POLLNVAL when they look again (they
 *     waited for ever, on a file epoll had forgotten);
 *   - dup2() onto a waited fd the same, except that the waiters that look
 *     again go on with the new file the number names;
 *   - a task parked on a socket while another clears O_NONBLOCK (F_SETFL,
 *     FIONBIO) resumes on a socket still non-blocking underneath;
 *   - sendfile onto a socket corun has never used parks the task while
 *     the socket is full (a reader task on the same worker drains it);
 *   - fclose() of an fdopen'd socket lets the number go as close() does: a
 *     new socket that reuses it is waited on, not left with the old
 *     registration (a poll on it sees data written later), and errno is
 *     left alone for a stream without an fd;
 *   - gethostbyname() answers each task with its own result, although
 *     tasks look names up at once on helper threads that share libc's
 *     static buffer, and leaves errno and h_errno alone on success, as
 *     libc's does. */
#include <arpa/inet.h>
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
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

/* Two readers and a poller blocked on s[0], then s[0] closed (or, with
 * use_dup2, made to name o[1]'s socket). The first reader is corun's
 * waiter on the fd: it ends at once with EBADF. The second reader and the
 * poller wait on epoll instances of their own, which forget the closed
 * file; they look at the number again within 100 ms and find it closed
 * (EBADF, POLLNVAL) or naming the new socket (which the reader reads and
 * the poll watches), instead of waiting for ever. */
static void close_under_waiters(int use_dup2) {
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
    T_EQ(dup2(o[1], s[0]), s[0]); /* s[0] now names o[1]'s socket */
  else
    T_OK(close(s[0]));
  /* (Which reader is corun's waiter depends on the order they ran in.) */
  void *a, *b, *c;
  if (!use_dup2) {
    T_OK(corun_join(r1, &a));
    T_OK(corun_join(r2, &b));
    T_EQ((intptr_t)a, -EBADF);
    T_EQ((intptr_t)b, -EBADF);
    T_OK(corun_join(p, &c));
    T_EQ((intptr_t)c, 1);
    T_EQ(pf[1].revents, POLLNVAL);
    T_OK(close(s[1]));
  } else {
    /* The private waiters look at the number again and wait on the new
     * socket: data for o[0] (written through o[1], which s[0] names now)
     * ends the poll, data for o[1] the reader. */
    T_EQ(write(s[0], "w", 1), 1);
    T_OK(corun_join(p, &c));
    T_EQ((intptr_t)c, 1);
    T_EQ(pf[0].revents, POLLIN);
    T_EQ(write(o[0], "v", 1), 1);
    T_OK(corun_join(r1, &a));
    T_OK(corun_join(r2, &b));
    T_EQ((intptr_t)a + (intptr_t)b, 1 - EBADF); /* one each way */
    T_OK(close(s[0]));
    T_OK(close(s[1]));
  }
  T_OK(close(o[0]));
  T_OK(close(o[1]));
}

/* ---- flags changed under a waiter -------------------------------------- */

static void *fill_then_write(void *arg) {
  int fd = *(int *)arg;
  static char big[1 << 20];
  atomic_fetch_add(&parked, 1);
  ssize_t n = write(fd, big, sizeof big); /* parks: nobody reads yet */
  return (void *)(intptr_t)(n < 0 ? -errno_now() : n);
}

/* A writer parked in corun on a full socket while another task makes the
 * no-op F_SETFL (F_GETFL shows no O_NONBLOCK): the writer must not come
 * back to a socket that blocks in the kernel, which would block the one
 * worker, and the reader could never drain it. */
static void setfl_under_writer(void) {
  int s[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
  atomic_store(&parked, 0);
  corun_task *w;
  T_OK(corun_spawn(&w, fill_then_write, &s[0], NULL));
  while (atomic_load(&parked) < 1)
    corun_yield(NULL);
  corun_yield(NULL);
  T_OK(fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL)));
  int one = 0;
  T_OK(ioctl(s[0], FIONBIO, &one));
  static char buf[65536];
  size_t got = 0;
  while (got < (1 << 20)) {
    ssize_t n = read(s[1], buf, sizeof buf);
    T_GT(n, 0);
    got += (size_t)n;
  }
  void *r;
  T_OK(corun_join(w, &r));
  T_EQ((intptr_t)r, 1 << 20);
  T_OK(close(s[0]));
  T_OK(close(s[1]));
}

/* ---- sendfile ----------------------------------------------------------- */

static void *drain(void *arg) {
  int fd = *(int *)arg;
  T_OK(corun_sleep(5000000)); /* the sender fills the socket first */
  static char buf[65536];
  long got = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    got += n;
  T_EQ(n, 0);
  return (void *)(intptr_t)got;
}

static void sendfile_fresh(void) {
  char path[] = "/tmp/corun_hook_tasks_XXXXXX";
  int in = mkstemp(path);
  T_GE(in, 0);
  T_OK(unlink(path));
  static char block[1 << 20];
  memset(block, 'f', sizeof block);
  for (int i = 0; i < 4; i++)
    T_EQ(write(in, block, sizeof block), (long)sizeof block);
  int s[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s)); /* never seen by corun */
  corun_task *d;
  T_OK(corun_spawn(&d, drain, &s[1], NULL));
  off_t off = 0;
  T_EQ(sendfile(s[0], in, &off, 4 << 20), 4 << 20);
  T_OK(close(s[0]));
  void *got;
  T_OK(corun_join(d, &got));
  T_EQ((intptr_t)got, 4 << 20);
  T_OK(close(s[1]));
  T_OK(close(in));
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
  /* a stream without an fd: fileno would say EBADF; fclose must not */
  char mem[16];
  FILE *m = fmemopen(mem, sizeof mem, "w");
  T_TRUE(m != NULL);
  errno = 0;
  T_OK(fclose(m));
#ifndef __SANITIZE_THREAD__ /* (TSan's own fclose asks fileno itself) */
  T_EQ(errno_now(), 0);
#endif
}

/* ---- gethostbyname ----------------------------------------------------- */

static void *resolver(void *arg) {
  const char *name = arg;
  for (int i = 0; i < 300; i++) {
    errno = 1234;
    h_errno = 77;
    struct hostent *h = gethostbyname(name);
    T_TRUE(h != NULL);
    T_EQ(errno_now(), 1234); /* as libc's: left alone on success */
    T_EQ(h_errno, 77);
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
  close_under_waiters(0);
  close_under_waiters(1);
  setfl_under_writer();
  sendfile_fresh();
  fclose_then_reuse();
  own_answers();
  return NULL;
}

int main(void) {
  corun_config one = {.workers = 1, .block_ms = -1};
  T_OK(corun_main(main_task, NULL, &one));
  return 0;
}
