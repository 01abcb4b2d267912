/* connect.c: corun_connect's two waits.
 *
 * failed_handshake: a TCP handshake that fails while corun_connect waits
 * must fail the call (-ECONNREFUSED). corun_connect read SO_ERROR first
 * and then asked poll(2) whether the socket was writable: a handshake
 * that failed between the two (the worker preempted there) made the
 * socket "ready" (POLLERR|POLLHUP), and the call returned 0 for a dead
 * socket. This program forces that order: it wraps getsockopt(2) (the
 * library's calls resolve to this definition) so that a SO_ERROR read
 * that says "no error" while the handshake is under way waits until the
 * handshake has failed. The handshake fails for real: the listener's
 * backlog is full, so the SYN is dropped, and the listener is closed
 * meanwhile, so the retransmitted SYN (about 1 s later) gets a reset.
 * Found by a helper's review; failed 10 times in 10 on both backends.
 *
 * unix_backlog: a Unix-domain connect to a listener whose backlog is full
 * says EAGAIN on a non-blocking socket, and no event says when there is
 * room. corun_connect returned -EAGAIN at once, whatever the deadline;
 * now it tries again until the deadline: it succeeds once the listener
 * accepts, and ends with -ETIMEDOUT if it never does (-EAGAIN stays the
 * answer for deadline 0). */
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <sys/un.h>

#include "io_test.h"

static _Atomic int watched = -1; /* the fd whose SO_ERROR read is held */

int getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
  static int (*real)(int, int, int, void *, socklen_t *);
  if (!real)
    real = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT,
                                                              "getsockopt");
  int rc = real(fd, level, name, val, len);
  if (rc == 0 && level == SOL_SOCKET && name == SO_ERROR && *(int *)val == 0 &&
      fd == atomic_load(&watched)) {
    /* "No error": hold the caller until the socket says otherwise (the
     * handshake has failed) or 5 s have passed. */
    for (int i = 0; i < 500; i++) {
      struct pollfd p = {fd, POLLOUT, 0};
      if (poll(&p, 1, 10) > 0 && (p.revents & (POLLERR | POLLHUP)))
        break;
    }
  }
  return rc;
}

static int listener;

static void *close_listener(void *arg) {
  (void)arg;
  usleep(50000);
  close(listener);
  return NULL;
}

static void failed_handshake(void) {
  struct sockaddr_in sa;
  /* The backlog full: connections until one cannot complete. */
  int fill[8], n;
  int unanswered = io_full_listener(&listener, &sa, fill, &n, 8);
  T_GE(unanswered, 0);
  T_EQ(corun_close(unanswered), 0);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_GE(fd, 0);
  atomic_store(&watched, fd);
  pthread_t closer;
  T_EQ(pthread_create(&closer, NULL, close_listener, NULL), 0);
  int rc = corun_connect(fd, (struct sockaddr *)&sa, sizeof sa,
                         corun_now() + 10000 * MS);
  atomic_store(&watched, -1);
  T_EQ(pthread_join(closer, NULL), 0);
  T_EQ(rc, -ECONNREFUSED);
  T_EQ(corun_close(fd), 0);
  while (n > 0)
    T_EQ(corun_close(fill[--n]), 0);
}

struct unix_listener {
  int fd;
  int64_t accept_after; /* ns from the start; -1: never */
};

static void *accept_later(void *arg) {
  struct unix_listener *l = arg;
  T_EQ(corun_sleep(l->accept_after), 0);
  int c = corun_accept(l->fd, NULL, NULL, -1);
  T_GE(c, 0);
  return (void *)(intptr_t)c;
}

static void unix_backlog(void) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  /* An abstract name: nothing on the file system to clean up. */
  snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "corun-connect-%d",
           (int)getpid());
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                              strlen(sa.sun_path + 1));
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  T_GE(lfd, 0);
  T_EQ(bind(lfd, (struct sockaddr *)&sa, len), 0);
  T_EQ(listen(lfd, 0), 0);
  /* Fill the backlog: connections until one says EAGAIN. */
  int fill[8], n = 0, fd;
  for (;;) {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_GE(fd, 0);
    int rc = corun_connect(fd, (struct sockaddr *)&sa, len, 0);
    if (rc == -EAGAIN)
      break;
    T_EQ(rc, 0);
    T_LT(n, 8);
    fill[n++] = fd;
  }
  /* fd said EAGAIN: with a deadline and nobody accepting, -ETIMEDOUT. */
  int64_t t0 = corun_now();
  T_EQ(corun_connect(fd, (struct sockaddr *)&sa, len, t0 + 30 * MS),
       -ETIMEDOUT);
  T_GE(corun_now() - t0, 30 * MS);
  /* Without a deadline: done once the listener takes one from its queue. */
  struct unix_listener l = {lfd, 50 * MS};
  corun_task *acceptor;
  T_EQ(corun_spawn(&acceptor, accept_later, &l, NULL), 0);
  t0 = corun_now();
  T_EQ(corun_connect(fd, (struct sockaddr *)&sa, len, -1), 0);
  T_GE(corun_now() - t0, 40 * MS); /* (it did wait for the accept) */
  void *c;
  T_EQ(corun_join(acceptor, &c), 0);
  T_EQ(corun_close((int)(intptr_t)c), 0);
  T_EQ(corun_close(fd), 0);
  while (n > 0)
    T_EQ(corun_close(fill[--n]), 0);
  T_EQ(corun_close(lfd), 0);
}

static void *main_task(void *arg) {
  (void)arg;
  failed_handshake();
  unix_backlog();
  return NULL;
}

int main(void) {
  corun_config cfg = {.workers = 1};
  T_EQ(corun_main(main_task, NULL, &cfg), 0);
  return 0;
}
