/* basic.c: plain blocking libc code inside tasks, made coroutine-aware by
 * libcorun_hook:
 *   - an echo server and its clients written with socket, bind, listen,
 *     accept, connect, read, write, send, recv, close, all blocking calls,
 *     run as tasks on ONE worker: if any call blocked the worker, the
 *     program could not finish (the clients and server need each other);
 *   - usleep/nanosleep/sleep park the task: another task on the same
 *     worker runs while one sleeps;
 *   - poll and select over several fds wait in the task and report
 *     exactly the ready ones;
 *   - the program's O_NONBLOCK is honoured (EAGAIN) and F_GETFL shows the
 *     program's flag, not corun's; SO_RCVTIMEO expires as EAGAIN;
 *   - outside a task every call is libc's (a blocking read on a socket
 *     corun switched to non-blocking still blocks until data comes). */
#include <arpa/inet.h>
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

enum { CLIENTS = 50, ROUNDS = 50 };

static struct sockaddr_in addr;

static void *session(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    T_EQ(write(fd, buf, (size_t)n), n);
  T_EQ(n, 0);
  T_OK(close(fd));
  return NULL;
}

static void *server(void *arg) {
  int lfd = (int)(intptr_t)arg;
  corun_task *t[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    int fd = accept(lfd, NULL, NULL);
    T_GE(fd, 0);
    /* the program's view: a blocking socket, as accept made it */
    T_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    T_OK(corun_spawn(&t[i], session, (void *)(intptr_t)fd, NULL));
  }
  for (int i = 0; i < CLIENTS; i++)
    T_OK(corun_join(t[i], NULL));
  return NULL;
}

static void *client(void *arg) {
  int id = (int)(intptr_t)arg;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  T_GE(fd, 0);
  T_OK(connect(fd, (struct sockaddr *)&addr, sizeof addr));
  for (int r = 0; r < ROUNDS; r++) {
    char msg[64], back[64];
    int len = snprintf(msg, sizeof msg, "client %d round %d", id, r);
    T_EQ(send(fd, msg, (size_t)len, 0), len);
    int got = 0;
    while (got < len) {
      ssize_t n = recv(fd, back + got, sizeof back - (size_t)got, 0);
      T_GT(n, 0);
      got += (int)n;
    }
    T_TRUE(memcmp(msg, back, (size_t)len) == 0);
  }
  T_OK(close(fd));
  return NULL;
}

static void echo(void) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  T_GE(lfd, 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  T_OK(bind(lfd, (struct sockaddr *)&addr, sizeof addr));
  T_OK(listen(lfd, 128));
  T_OK(getsockname(lfd, (struct sockaddr *)&addr, &len));
  corun_task *s, *c[CLIENTS];
  T_OK(corun_spawn(&s, server, (void *)(intptr_t)lfd, NULL));
  for (int i = 0; i < CLIENTS; i++)
    T_OK(corun_spawn(&c[i], client, (void *)(intptr_t)i, NULL));
  for (int i = 0; i < CLIENTS; i++)
    T_OK(corun_join(c[i], NULL));
  T_OK(corun_join(s, NULL));
  T_OK(close(lfd));
}

static atomic_int ticks;

static void *ticker(void *arg) {
  (void)arg;
  for (int i = 0; i < 5; i++) {
    atomic_fetch_add(&ticks, 1);
    corun_yield(NULL);
  }
  return NULL;
}

static void sleeps(void) {
  corun_task *t;
  atomic_store(&ticks, 0);
  T_OK(corun_spawn(&t, ticker, NULL, NULL));
  T_OK(usleep(20000)); /* the ticker runs meanwhile, on this one worker */
  T_EQ(atomic_load(&ticks), 5);
  T_OK(corun_join(t, NULL));
  atomic_store(&ticks, 0);
  T_OK(corun_spawn(&t, ticker, NULL, NULL));
  struct timespec ts = {0, 20000000};
  T_OK(nanosleep(&ts, NULL));
  T_EQ(atomic_load(&ticks), 5);
  T_OK(corun_join(t, NULL));
}

static void *write_later(void *arg) {
  int fd = (int)(intptr_t)arg;
  T_OK(usleep(10000));
  T_EQ(write(fd, "!", 1), 1);
  return NULL;
}

static void waits(void) {
  int a[2], b[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, a));
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, b));
  corun_task *t;
  /* poll over two sockets: only the one written becomes ready */
  T_OK(corun_spawn(&t, write_later, (void *)(intptr_t)b[1], NULL));
  struct pollfd p[2] = {{a[0], POLLIN, 0}, {b[0], POLLIN, 0}};
  T_EQ(poll(p, 2, 5000), 1);
  T_EQ(p[0].revents, 0);
  T_EQ(p[1].revents, POLLIN);
  T_OK(corun_join(t, NULL));
  char c;
  T_EQ(read(b[0], &c, 1), 1);
  /* a timeout */
  T_EQ(poll(p, 2, 10), 0);
  /* select */
  T_OK(corun_spawn(&t, write_later, (void *)(intptr_t)a[1], NULL));
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(a[0], &rs);
  FD_SET(b[0], &rs);
  struct timeval tv = {5, 0};
  int nfds = (a[0] > b[0] ? a[0] : b[0]) + 1;
  T_EQ(select(nfds, &rs, NULL, NULL, &tv), 1);
  T_TRUE(FD_ISSET(a[0], &rs));
  T_TRUE(!FD_ISSET(b[0], &rs));
  T_OK(corun_join(t, NULL));
  T_EQ(read(a[0], &c, 1), 1);
  /* select with sets allocated only as large as nfds needs (the kernel
   * reads no more; ASan checks that the hook does not either) */
  T_TRUE(nfds <= (int)(8 * sizeof(fd_mask)));
  fd_mask *small = calloc(1, sizeof *small);
  T_TRUE(small != NULL);
  *small = (fd_mask)1 << b[0]; /* FD_SET's bit, without its fd_set type */
  T_OK(corun_spawn(&t, write_later, (void *)(intptr_t)b[1], NULL));
  tv = (struct timeval){5, 0};
  T_EQ(select(nfds, (fd_set *)small, NULL, NULL, &tv), 1);
  T_EQ(*small, (fd_mask)1 << b[0]);
  T_OK(corun_join(t, NULL));
  T_EQ(read(b[0], &c, 1), 1);
  free(small);
  /* the program's own O_NONBLOCK: EAGAIN, and F_GETFL shows it */
  int fl = fcntl(a[0], F_GETFL);
  T_EQ(fl & O_NONBLOCK, 0);
  T_OK(fcntl(a[0], F_SETFL, fl | O_NONBLOCK));
  T_EQ(fcntl(a[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  errno = 0;
  T_EQ(read(a[0], &c, 1), -1);
  T_EQ(errno, EAGAIN);
  T_OK(fcntl(a[0], F_SETFL, fl));
  T_EQ(fcntl(a[0], F_GETFL) & O_NONBLOCK, 0);
  /* SO_RCVTIMEO: the read gives up with EAGAIN */
  struct timeval rt = {0, 20000};
  T_OK(setsockopt(a[0], SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt));
  errno = 0;
  T_EQ(recv(a[0], &c, 1, 0), -1);
  T_EQ(errno, EAGAIN);
  for (int i = 0; i < 2; i++) {
    T_OK(close(a[i]));
    T_OK(close(b[i]));
  }
}

static int outside_fd;

static void *outside_writer(void *arg) {
  (void)arg;
  struct timespec ts = {0, 20000000};
  nanosleep(&ts, NULL); /* a plain thread: libc's nanosleep */
  T_EQ(write(outside_fd, "x", 1), 1);
  return NULL;
}

static void *main_task(void *arg) {
  int *sv = arg;
  echo();
  sleeps();
  waits();
  /* make sv[0] non-blocking underneath, as corun does for its waits */
  char c;
  T_EQ(corun_read(sv[0], &c, 1, 0), -EAGAIN);
  return NULL;
}

int main(void) {
  int sv[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  T_OK(corun_main(main_task, sv, &(corun_config){.workers = 1}));
  T_OK(corun_main(main_task, sv, &(corun_config){.workers = 2}));
  /* outside a task: libc's blocking read, although corun made the socket
   * non-blocking underneath */
  outside_fd = sv[1];
  pthread_t th;
  T_OK(pthread_create(&th, NULL, outside_writer, NULL));
  char c = 0;
  T_EQ(read(sv[0], &c, 1), 1);
  T_EQ(c, 'x');
  T_OK(pthread_join(th, NULL));
  T_EQ(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
  T_OK(close(sv[0]));
  T_OK(close(sv[1]));
  return 0;
}
