/* connect.c: corun_connect, the handshake's wait.
 * Layer: io (uses base, sched, poll). Locking: none of its own.
 *
 * A TCP connect(2) on a non-blocking socket says EINPROGRESS; the socket
 * turns writable (or in error) when the handshake is over, and SO_ERROR
 * then says how it ended. A Unix-domain connect to a listener whose
 * backlog is full says EAGAIN instead, and nothing signals when there is
 * room: it is tried again after pauses. Like every call of the layer it
 * returns -errno and leaves the task's errno alone (io.c). */
#include <errno.h>
#include <sys/socket.h>

#include "corun.h"
#include "io/io.h"
#include "poll/poll.h"
#include "sched/sched.h"

/* fd's pending error (SO_ERROR, which reading clears): 0, or -errno. */
static int socket_error(int fd) {
  int err = 0;
  socklen_t el = sizeof err;
  int *ep = corun__errno_here(); /* after a wait: maybe another thread */
  int saved = *ep;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
    err = *ep;
  *ep = saved;
  return -err;
}

/* One connect(2), leaving the task's errno alone: 0 or its errno. */
static int connect_once(int fd, const struct sockaddr *sa, socklen_t len) {
  int *ep = corun__errno_here();
  int saved = *ep;
  int e = CORUN__LIBC(connect(fd, sa, len)) == 0 ? 0 : *ep;
  *ep = saved;
  return e;
}

/* A connect(2) that said EAGAIN: on a Unix-domain socket, the listener's
 * backlog is full. No event tells when it has room again (the kernel wakes
 * only a blocking connect), so the connect is tried again after a sleep
 * that doubles from 1 ms up to 16 ms (as the hooked connect does,
 * hook/net.c), until the deadline. */
static int connect_again(int fd, const struct sockaddr *sa, socklen_t len,
                         int64_t deadline) {
  int64_t pause = 1000000;
  for (;;) {
    int64_t now = corun_now();
    if (deadline >= 0 && now >= deadline)
      return -ETIMEDOUT;
    int64_t until =
        deadline >= 0 && deadline - now < pause ? deadline : now + pause;
    int rc = corun_sleep_until(until);
    if (rc < 0)
      return rc;
    if (pause < 16000000)
      pause *= 2;
    int e = connect_once(fd, sa, len);
    if (e != EAGAIN)
      return -e; /* EINPROGRESS included: a Unix socket never says it */
  }
}

int corun_connect(int fd, const struct sockaddr *sa, socklen_t len,
                  int64_t deadline) {
  uint32_t seq;
  int rc = corun__poll_prepare(fd, CORUN__POLL_OUT, &seq, NULL);
  if (rc < 0)
    return rc;
  int e = connect_once(fd, sa, len);
  if (!e)
    return 0;
  if (e == EAGAIN && deadline != 0 && sa && sa->sa_family == AF_UNIX)
    return connect_again(fd, sa, len, deadline);
  if (e != EINPROGRESS && e != EINTR)
    return -e;
  if (deadline == 0)
    return -EINPROGRESS;
  /* Writable (or in error) once the handshake is over, either way; then
   * SO_ERROR says which. In this order: an SO_ERROR read first could say
   * 0 for a handshake that fails just before the look that follows. */
  for (;;) {
    if (corun__poll_ready_now(fd, CORUN__POLL_OUT))
      return socket_error(fd);
    rc = corun__poll_wait(fd, CORUN__POLL_OUT, seq, deadline);
    if (rc < 0)
      return rc;
    corun__poll_prepare(fd, CORUN__POLL_OUT, &seq, NULL);
  }
}
