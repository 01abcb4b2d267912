/* msg.c: corun_sendmsg/corun_recvmsg and corun_fd_release.
 *  - sendmsg gathers three buffers, recvmsg scatters them, on a stream
 *    socketpair between tasks on two workers; recvmsg waits for data that
 *    comes later;
 *  - an fd travels as SCM_RIGHTS ancillary data, and the received one
 *    names the same pipe (what is written to the sent end is read from
 *    the received one);
 *  - on a datagram socket, recvmsg reports the sender's address and
 *    MSG_TRUNC for a datagram larger than the buffer;
 *  - a sendmsg into a full socket waits until the peer reads (all of a
 *    large gather arrives, in order);
 *  - deadlines: -EAGAIN with 0, -ETIMEDOUT after one; -ECANCELED;
 *    -EBADF for a waiter when the fd is corun_close()d; -EPERM outside a
 *    task;
 *  - corun_fd_release wakes a waiter with -EBADF and leaves the fd open;
 *    after dup2 puts another file under the number, reads see the new file
 *    only (no readiness of the old one reaches them). */
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>

#include "io_test.h"

/* ---- gather and scatter ---------------------------------------------- */

static void *gather_sender(void *arg) {
  int fd = *(int *)arg;
  T_OK(corun_sleep(2 * MS)); /* the receiver waits first */
  char a[] = "head:", b[] = "body-of-the-message:", c[] = "tail";
  struct iovec iov[3] = {{a, 5}, {b, 20}, {c, 4}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
  T_EQ(corun_sendmsg(fd, &m, 0, -1), 29);
  return NULL;
}

static void gather_scatter(int s[2]) {
  corun_task *t;
  T_OK(corun_spawn(&t, gather_sender, &s[0], NULL));
  char x[10], y[19];
  struct iovec iov[2] = {{x, sizeof x}, {y, sizeof y}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
  ssize_t got = 0;
  while (got < 29) { /* a stream may deliver it in parts */
    struct iovec rest[2];
    struct msghdr r = m;
    size_t skip = (size_t)got, k = 0;
    for (int i = 0; i < 2; i++) {
      if (skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        continue;
      }
      rest[k].iov_base = (char *)iov[i].iov_base + skip;
      rest[k++].iov_len = iov[i].iov_len - skip;
      skip = 0;
    }
    r.msg_iov = rest;
    r.msg_iovlen = k;
    ssize_t n = corun_recvmsg(s[1], &r, 0, corun_now() + 10000 * MS);
    T_GT(n, 0);
    got += n;
  }
  T_EQ(got, 29);
  T_TRUE(memcmp(x, "head:body-", 10) == 0);
  T_TRUE(memcmp(y, "of-the-message:tail", 19) == 0);
  T_OK(corun_join(t, NULL));
}

/* ---- an fd as ancillary data ------------------------------------------ */

static void pass_fd(int s[2]) {
  int p[2];
  T_OK(pipe(p));
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  char one = 'F';
  struct iovec iov = {&one, 1};
  struct msghdr m = {.msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = ctl.buf,
                     .msg_controllen = sizeof ctl.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[0], sizeof(int));
  T_EQ(corun_sendmsg(s[0], &m, 0, -1), 1);

  char got = 0;
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } rctl;
  struct iovec riov = {&got, 1};
  struct msghdr r = {.msg_iov = &riov,
                     .msg_iovlen = 1,
                     .msg_control = rctl.buf,
                     .msg_controllen = sizeof rctl.buf};
  T_EQ(corun_recvmsg(s[1], &r, MSG_CMSG_CLOEXEC, -1), 1);
  T_EQ(got, 'F');
  struct cmsghdr *rc = CMSG_FIRSTHDR(&r);
  T_TRUE(rc != NULL);
  T_EQ(rc->cmsg_type, SCM_RIGHTS);
  int fd;
  memcpy(&fd, CMSG_DATA(rc), sizeof fd);
  T_NE(fd, p[0]);
  T_EQ(write(p[1], "xyz", 3), 3);
  char buf[3];
  T_EQ(corun_read(fd, buf, 3, -1), 3);
  T_TRUE(memcmp(buf, "xyz", 3) == 0);
  T_OK(corun_close(fd));
  T_OK(corun_close(p[0]));
  T_OK(corun_close(p[1]));
}

/* ---- datagrams: the sender's address, MSG_TRUNC ------------------------ */

static void datagrams(void) {
  int a = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int b = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  T_GE(a, 0);
  T_GE(b, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET}, sb = sa;
  sa.sin_addr.s_addr = sb.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  T_OK(bind(a, (struct sockaddr *)&sa, len));
  T_OK(getsockname(a, (struct sockaddr *)&sa, &len));
  T_OK(bind(b, (struct sockaddr *)&sb, len));
  T_OK(getsockname(b, (struct sockaddr *)&sb, &len));

  char big[100];
  memset(big, 'd', sizeof big);
  struct iovec iov = {big, sizeof big};
  struct msghdr m = {.msg_name = &sa,
                     .msg_namelen = sizeof sa,
                     .msg_iov = &iov,
                     .msg_iovlen = 1};
  T_EQ(corun_sendmsg(b, &m, 0, -1), 100);

  char small[10];
  struct sockaddr_in from;
  struct iovec riov = {small, sizeof small};
  struct msghdr r = {.msg_name = &from,
                     .msg_namelen = sizeof from,
                     .msg_iov = &riov,
                     .msg_iovlen = 1};
  T_EQ(corun_recvmsg(a, &r, 0, corun_now() + 10000 * MS), 10);
  T_TRUE(r.msg_flags & MSG_TRUNC);
  T_EQ(r.msg_namelen, sizeof from);
  T_EQ(from.sin_port, sb.sin_port);
  T_OK(corun_close(a));
  T_OK(corun_close(b));
}

/* ---- a gather larger than the socket buffer ----------------------------- */

#define BULK (4 << 20)

static void *bulk_drain(void *arg) {
  int fd = *(int *)arg;
  unsigned char *buf = malloc(65536);
  T_TRUE(buf != NULL);
  size_t got = 0;
  while (got < BULK) {
    ssize_t n = corun_read(fd, buf, 65536, corun_now() + 20000 * MS);
    T_GT(n, 0);
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] != (unsigned char)((got + (size_t)i) * 7))
        T_FAIL_("byte %zu is wrong", got + (size_t)i);
    got += (size_t)n;
  }
  free(buf);
  return NULL;
}

static void bulk_gather(int s[2]) {
  unsigned char *data = malloc(BULK);
  T_TRUE(data != NULL);
  for (size_t i = 0; i < BULK; i++)
    data[i] = (unsigned char)(i * 7);
  corun_task *t;
  T_OK(corun_spawn(&t, bulk_drain, &s[1], NULL));
  size_t sent = 0;
  while (sent < BULK) { /* like sendmsg(2), a call may send a part */
    size_t left = BULK - sent, half = left / 2;
    struct iovec iov[2] = {{data + sent, half},
                           {data + sent + half, left - half}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t n = corun_sendmsg(s[0], &m, 0, corun_now() + 20000 * MS);
    T_GT(n, 0);
    sent += (size_t)n;
  }
  T_OK(corun_join(t, NULL));
  free(data);
}

/* ---- errors ------------------------------------------------------------ */

static void *waits_msg(void *arg) {
  int fd = *(int *)arg;
  char c;
  struct iovec iov = {&c, 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  return (void *)(intptr_t)corun_recvmsg(fd, &m, 0, -1);
}

static void errors(void) {
  int s[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
  char c;
  struct iovec iov = {&c, 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  T_EQ(corun_recvmsg(s[0], &m, 0, 0), -EAGAIN);
  T_EQ(corun_recvmsg(s[0], &m, 0, corun_now() + 2 * MS), -ETIMEDOUT);

  corun_task *t;
  T_OK(corun_spawn(&t, waits_msg, &s[0], NULL));
  T_OK(corun_sleep(2 * MS));
  T_OK(corun_cancel(t));
  void *r;
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -ECANCELED);

  T_OK(corun_spawn(&t, waits_msg, &s[0], NULL));
  T_OK(corun_sleep(2 * MS));
  T_OK(corun_close(s[0]));
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -EBADF);
  T_OK(corun_close(s[1]));
}

/* ---- corun_fd_release ---------------------------------------------------- */

static void *waits_read(void *arg) {
  int fd = *(int *)arg;
  char c;
  return (void *)(intptr_t)corun_read(fd, &c, 1, corun_now() + 20000 * MS);
}

static void release(void) {
  int old[2], fresh[2];
  T_OK(pipe(old));
  T_OK(pipe(fresh));
  corun_task *t;
  T_OK(corun_spawn(&t, waits_read, &old[0], NULL));
  T_OK(corun_sleep(2 * MS));
  corun_fd_release(old[0]);
  void *r;
  T_OK(corun_join(t, &r));
  T_EQ((intptr_t)r, -EBADF);
  T_GE(fcntl(old[0], F_GETFD), 0); /* released, not closed */

  /* Another file under the number: data written to the old pipe must not
   * wake a read of the new one, which sees the new pipe's bytes only. The
   * old pipe keeps a reader (keep), so it stays open and writable, and an
   * epoll registration of it would outlive the number (epoll forgets a
   * file only when its last descriptor closes). */
  int keep = dup(old[0]);
  T_GE(keep, 0);
  T_EQ(dup2(fresh[0], old[0]), old[0]);
  T_EQ(write(old[1], "o", 1), 1);
  char c = 0;
  T_EQ(corun_read(old[0], &c, 1, corun_now() + 2 * MS), -ETIMEDOUT);
  T_EQ(write(fresh[1], "n", 1), 1);
  T_EQ(corun_read(old[0], &c, 1, corun_now() + 10000 * MS), 1);
  T_EQ(c, 'n');
  corun_fd_release(12345); /* never used: nothing to do */
  T_OK(corun_close(old[0]));
  T_OK(corun_close(old[1]));
  T_OK(corun_close(fresh[0]));
  T_OK(corun_close(fresh[1]));
  T_OK(close(keep));
}

static void *main_task(void *arg) {
  (void)arg;
  int s[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
  gather_scatter(s);
  pass_fd(s);
  bulk_gather(s);
  T_OK(corun_close(s[0]));
  T_OK(corun_close(s[1]));
  datagrams();
  errors();
  release();
  return NULL;
}

int main(void) {
  struct msghdr m = {0};
  T_EQ(corun_recvmsg(0, &m, 0, -1), -EPERM);
  T_EQ(corun_sendmsg(1, &m, 0, -1), -EPERM);
  io_main(main_task, NULL, 2);
  return 0;
}
