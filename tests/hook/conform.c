/* conform.c: the hooks' conformance table. Every hooked libc call, in its
 * success path and its usual error and edge paths, must give exactly what
 * libc gives: the same return value, errno (also when libc leaves it
 * alone), revents, fd_sets, output bytes and flags.
 *
 * The file builds twice:
 *   - with CONFORM_PLAIN: a program with neither corun nor libcorun_hook,
 *     which runs the table once and prints it: the reference, libc's own
 *     answers ("plain");
 *   - linked with libcorun_hook (shared, or the static archives): it runs
 *     the plain program (its path is CONFORM_PLAIN_EXE), reads its table
 *     from a pipe, runs the same table itself in every mode below and
 *     compares each case's line with the plain one:
 *       outside      the main thread before corun_main: libc's behaviour;
 *       outside+nb   the same, with each socket switched to O_NONBLOCK
 *                    underneath as corun does once it has waited on one
 *                    (the program still believes it blocking);
 *       task/1       inside a task, one worker: calls park the task;
 *       task/2       inside a task, two workers (the task may migrate);
 *       off          a task that turned its hooks off (corun_hooks_set);
 *       off+nb       the same on sockets corun has registered (and made
 *                    non-blocking underneath) first.
 * A case is a small scenario over fresh fds; what it observes is written
 * as one line of text, so a difference reads as two lines side by side.
 * Waits come from plain threads ("later": a write, a connect, a close
 * after a few ms), so every mode sees the same events; a "rescue" thread
 * unblocks a call that libc would not block in, so a hook that wrongly
 * waits shows up as a difference instead of a hang, and a watchdog names
 * a case that hangs anyway. Concurrent callers ("peers") are threads
 * outside tasks and tasks inside them.
 *
 * The plain program checks that neither corun nor the hooks are loaded
 * (it runs without LD_PRELOAD, which TSan builds use to put the hooks in
 * front of TSan: src/hook/real.c). Under valgrind, calls with deliberately
 * wild pointers are left out, in both programs (CONFORM_NO_WILD). Run
 * with -v to print the table; CONFORM_TIMES=1 prints each case's time;
 * CONFORM_SKIP=a,b leaves out the cases named (in both programs).
 *
 * errno is read through non-inlined helpers: glibc declares
 * __errno_location const, so a compiler may keep &errno across a call
 * that parks a task and resumes it on another worker thread (corun.h,
 * "Thread-local storage"). */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CONFORM_PLAIN
#include <corun.h>
#endif

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer) ||     \
    defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define CONFORM_SANITIZER 1 /* its interceptors read some bad arguments */
#else
#define CONFORM_SANITIZER 0
#endif

#include "t.h"

/* ---- modes ---------------------------------------------------------- */

enum mode {
  M_PLAIN,
  M_OUTSIDE,
  M_OUTSIDE_NB,
  M_TASK1,
  M_TASK2,
  M_OFF,
  M_OFF_NB,
  NMODES
};
__attribute__((unused)) static const char *const mode_name[NMODES] = {
    "plain", "outside", "outside+nb", "task/1", "task/2", "off", "off+nb"};
static enum mode mode;

__attribute__((unused)) static int in_task_mode(void) {
  return mode == M_TASK1 || mode == M_TASK2 || mode == M_OFF ||
         mode == M_OFF_NB;
}

/* ---- errno and h_errno, read afresh (see the top) ------------------- */

#define SENTINEL 4242 /* errno before each call: "left alone" shows */

/* x, hidden from the compiler: bad arguments on purpose, which it would
 * otherwise refuse to compile (-Werror=nonnull and friends). */
#define OPAQUE(x)                                                              \
  __extension__({                                                              \
    __typeof__(x) o_ = (x);                                                    \
    __asm__("" : "+r"(o_));                                                    \
    o_;                                                                        \
  })
#define NULLP OPAQUE((void *)0)

/* Under valgrind, which checks every system call's memory, the calls with
 * deliberately wild pointers are left out (in the plain program too: the
 * hooked one tells it through CONFORM_NO_WILD). */
static int no_wild;

#define WILD(label, expr)                                                      \
  do {                                                                         \
    if (no_wild)                                                               \
      note("%s=skipped", label);                                               \
    else                                                                       \
      CALL(label, expr);                                                       \
  } while (0)

T_NOIPA static void set_h_errno(int v) {
  __asm__ volatile("" ::: "memory");
  h_errno = v;
}
T_NOIPA static int get_h_errno(void) {
  __asm__ volatile("" ::: "memory");
  return h_errno;
}

/* ---- the record: one line of text per case -------------------------- */

static char line[8192];
static size_t line_len;

static void note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (line_len + 2 < sizeof line) {
    if (line_len)
      line[line_len++] = ' ';
    int n = vsnprintf(line + line_len, sizeof line - line_len, fmt, ap);
    if (n > 0)
      line_len += (size_t)n < sizeof line - line_len
                      ? (size_t)n
                      : sizeof line - line_len - 1;
  }
  va_end(ap);
}

static const char *ename(int e, char *buf, size_t n) {
  const char *s = strerrorname_np(e);
  if (s)
    return s;
  snprintf(buf, n, "%d", e);
  return buf;
}

/* A call's outcome: its result and errno afterwards. */
struct res {
  long r;
  int e;
};

#define DO(expr)                                                               \
  __extension__({                                                              \
    t_set_errno(SENTINEL);                                                     \
    long r_ = (long)(expr);                                                    \
    (struct res){r_, t_get_errno()};                                           \
  })

/* Records "label=result[/ERRNO]": errno is shown whenever the call
 * changed it, success or not. fd: a non-negative result is an fd, whose
 * number differs from process to process: shown as "fd". */
static void rec(const char *label, struct res x, int fd) {
  char rb[32], eb[16];
  if (fd && x.r >= 0)
    snprintf(rb, sizeof rb, "fd");
  else
    snprintf(rb, sizeof rb, "%ld", x.r);
  if (x.e != SENTINEL)
    note("%s=%s/%s", label, rb, ename(x.e, eb, sizeof eb));
  else
    note("%s=%s", label, rb);
}

#define CALL(label, expr)                                                      \
  __extension__({                                                              \
    struct res x_ = DO(expr);                                                  \
    rec(label, x_, 0);                                                         \
    x_.r;                                                                      \
  })
#define CALLFD(label, expr)                                                    \
  __extension__({                                                              \
    struct res x_ = DO(expr);                                                  \
    rec(label, x_, 1);                                                         \
    (int)x_.r;                                                                 \
  })

static void note_revents(const char *label, const struct pollfd *p, int n) {
  static const struct {
    short bit;
    const char *name;
  } bits[] = {{POLLIN, "IN"},         {POLLPRI, "PRI"},
              {POLLOUT, "OUT"},       {POLLERR, "ERR"},
              {POLLHUP, "HUP"},       {POLLNVAL, "NVAL"},
              {POLLRDNORM, "RDNORM"}, {POLLRDBAND, "RDBAND"},
              {POLLWRNORM, "WRNORM"}, {POLLWRBAND, "WRBAND"},
              {POLLRDHUP, "RDHUP"}};
  char buf[512];
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s", i ? "," : "");
    short re = p[i].revents, any = 0;
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++)
      if (re & bits[b].bit) {
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
                                any ? "|" : "", bits[b].name);
        any = 1;
        re &= (short)~bits[b].bit;
      }
    if (re || !any)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%#x",
                              any ? "|" : "", (unsigned)(unsigned short)re);
  }
  note("%s{%s}", label, buf);
}

static void note_bytes(const char *label, const char *p, long n) {
  char buf[128];
  size_t len = 0;
  for (long i = 0; i < n && len + 5 < sizeof buf; i++) {
    unsigned char c = (unsigned char)p[i];
    len += (size_t)snprintf(buf + len, sizeof buf - len,
                            c > ' ' && c < 127 ? "%c" : "\\%02x", c);
  }
  buf[len] = 0;
  note("%s\"%s\"", label, buf);
}

/* The fds among fds[0..n) that set s holds, as "{i,j}" of their indexes. */
static void note_set(const char *label, const fd_set *s, const int *fds,
                     int n) {
  char buf[128];
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0 && fds[i] < FD_SETSIZE && FD_ISSET(fds[i], s))
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d",
                              len ? "," : "", i);
  note("%s{%s}", label, buf);
}

/* ---- fresh fds -------------------------------------------------------- */

/* An fd number no case opens: EBADF. Checked at the start. */
#define BADFD 1000

/* In the "+nb" modes: sockets switched to O_NONBLOCK underneath, as corun
 * does, without the hooks' view of the fd changing. */
static void nb(int fd) {
#ifndef CONFORM_PLAIN
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
    return;
  if (mode == M_OUTSIDE_NB) { /* the system call, past the hooks */
    long fl = syscall(SYS_fcntl, fd, F_GETFL);
    T_GE(fl, 0);
    T_OK(syscall(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK));
  } else if (mode == M_OFF_NB) { /* corun registers it */
    int rc = corun_wait_fd(fd, CORUN_FD_OUT, 0);
    T_TRUE(rc == 0 || rc == -EAGAIN);
  }
#else
  (void)fd;
#endif
}

static void pair(int sv[2]) {
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  nb(sv[0]);
  nb(sv[1]);
}

static void loopback(struct sockaddr_in *a, int port) {
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a->sin_port = htons((uint16_t)port);
}

/* A TCP listener on 127.0.0.1 (its address in *a). */
static int listener(struct sockaddr_in *a, int backlog, int type) {
  int fd = socket(AF_INET, SOCK_STREAM | type, 0);
  T_GE(fd, 0);
  loopback(a, 0);
  socklen_t len = sizeof *a;
  T_OK(bind(fd, (struct sockaddr *)a, sizeof *a));
  T_OK(listen(fd, backlog));
  T_OK(getsockname(fd, (struct sockaddr *)a, &len));
  nb(fd);
  return fd;
}

/* A loopback address nobody listens on (a port bound, then freed). */
static void closed_port(struct sockaddr_in *a) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  T_GE(fd, 0);
  loopback(a, 0);
  socklen_t len = sizeof *a;
  T_OK(bind(fd, (struct sockaddr *)a, sizeof *a));
  T_OK(getsockname(fd, (struct sockaddr *)a, &len));
  T_OK(close(fd));
}

/* A connected TCP pair: c (the client) and s (accepted); l listens. */
static void tcp(int *l, int *c, int *s) {
  struct sockaddr_in a;
  *l = listener(&a, 16, 0);
  *c = socket(AF_INET, SOCK_STREAM, 0);
  T_GE(*c, 0);
  nb(*c);
  T_OK(connect(*c, (struct sockaddr *)&a, sizeof a));
  *s = accept(*l, NULL, NULL);
  T_GE(*s, 0);
  nb(*s);
}

static int udp(struct sockaddr_in *a) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  T_GE(fd, 0);
  loopback(a, 0);
  socklen_t len = sizeof *a;
  T_OK(bind(fd, (struct sockaddr *)a, sizeof *a));
  T_OK(getsockname(fd, (struct sockaddr *)a, &len));
  nb(fd);
  return fd;
}

static int tmpfile_fd(void) {
  char path[] = "/tmp/corun_conform_XXXXXX";
  int fd = mkstemp(path);
  T_GE(fd, 0);
  T_OK(unlink(path));
  return fd;
}

static void closeall(int n, ...) {
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) {
    int fd = va_arg(ap, int);
    if (fd >= 0)
      T_OK(close(fd));
  }
  va_end(ap);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* How long the "later" events wait, and the socket and poll timeouts:
 * short, since the results do not depend on them (an event that comes
 * before the call is waiting gives the same answer), only whether the
 * waits are exercised, which a few ms is plenty for. */
#define LATER_MS 3
#define TIMEO_US 3000

static void ms_sleep(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* ---- helper threads: later events, rescues, concurrent callers -------- */

enum later_op {
  L_WRITE,
  L_OOB,
  L_CLOSE,
  L_SHUT_RD,
  L_SHUT_WR,
  L_CONNECT,
  L_ACCEPT,
  L_SENDFD,
  L_DRAIN
};

/* A plain thread that does one thing after `ms`: every mode sees the
 * same event from outside. */
struct later {
  pthread_t th;
  enum later_op op;
  int fd, ms;
  int fd2; /* L_SENDFD: the fd sent, with "fg" */
  const char *data;
  struct sockaddr_in addr;
  long result; /* L_CONNECT, L_ACCEPT: the new fd; L_DRAIN: bytes read */
};

static void *later_run(void *arg) {
  struct later *l = arg;
  ms_sleep(l->ms);
  switch (l->op) {
  case L_WRITE:
    T_EQ(write(l->fd, l->data, strlen(l->data)), (long)strlen(l->data));
    break;
  case L_OOB:
    T_EQ(send(l->fd, "!", 1, MSG_OOB), 1);
    break;
  case L_CLOSE:
    T_OK(close(l->fd));
    break;
  case L_SHUT_RD:
    T_OK(shutdown(l->fd, SHUT_RD));
    break;
  case L_SHUT_WR:
    T_OK(shutdown(l->fd, SHUT_WR));
    break;
  case L_CONNECT:
    l->result = socket(AF_INET, SOCK_STREAM, 0);
    T_GE(l->result, 0);
    T_OK(connect((int)l->result, (struct sockaddr *)&l->addr, sizeof l->addr));
    break;
  case L_ACCEPT:
    l->result = accept(l->fd, NULL, NULL);
    T_GE(l->result, 0);
    break;
  case L_SENDFD: {
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct iovec v = {"fg", 2};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &l->fd2, sizeof(int));
    T_EQ(sendmsg(l->fd, &m, 0), 2);
    break;
  }
  case L_DRAIN: {
    static char buf[65536];
    long n;
    l->result = 0;
    while ((n = read(l->fd, buf, sizeof buf)) > 0)
      l->result += n;
    T_EQ(n, 0);
    break;
  }
  }
  return NULL;
}

static void later(struct later *l, enum later_op op, int fd, int ms) {
  l->op = op;
  l->fd = fd;
  l->ms = ms;
  if (!l->data)
    l->data = "x";
  T_OK(pthread_create(&l->th, NULL, later_run, l));
}

static void later_join(struct later *l) {
  T_OK(pthread_join(l->th, NULL));
}

/* A rescue: unless disarmed within ms, writes a byte to fd (or `data`,
 * rescue_arm_data), so that a call which libc answers at once but a hook
 * would wait in comes back. */
struct rescue {
  pthread_t th;
  pthread_mutex_t m;
  pthread_cond_t c;
  int fd, ms, done, fired;
  const char *data;
};

static void *rescue_run(void *arg) {
  struct rescue *r = arg;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += (long)r->ms * 1000000;
  until.tv_sec += until.tv_nsec / 1000000000;
  until.tv_nsec %= 1000000000;
  pthread_mutex_lock(&r->m);
  while (!r->done &&
         pthread_cond_timedwait(&r->c, &r->m, &until) != ETIMEDOUT) {
  }
  if (!r->done) {
    r->fired = 1;
    const char *d = r->data ? r->data : "R";
    T_EQ(write(r->fd, d, strlen(d)), (long)strlen(d));
  }
  pthread_mutex_unlock(&r->m);
  return NULL;
}

static void rescue_arm_data(struct rescue *r, int fd, int ms,
                            const char *data) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->m, NULL);
  pthread_cond_init(&r->c, NULL);
  r->fd = fd;
  r->ms = ms;
  r->data = data;
  T_OK(pthread_create(&r->th, NULL, rescue_run, r));
}

static void rescue_arm(struct rescue *r, int fd, int ms) {
  rescue_arm_data(r, fd, ms, NULL);
}

static void rescue_disarm(struct rescue *r) {
  pthread_mutex_lock(&r->m);
  r->done = 1;
  pthread_cond_signal(&r->c);
  pthread_mutex_unlock(&r->m);
  T_OK(pthread_join(r->th, NULL));
  if (r->fired)
    note("RESCUED(the call waited where libc does not)");
  pthread_mutex_destroy(&r->m);
  pthread_cond_destroy(&r->c);
}

/* A concurrent caller: a thread in the modes outside tasks, a task (with
 * the mode's hook setting) inside them. */
struct peer {
  void *(*fn)(void *);
  void *arg;
  pthread_t th;
#ifndef CONFORM_PLAIN
  corun_task *t;
#endif
};

#ifndef CONFORM_PLAIN
static void *peer_task(void *arg) {
  struct peer *p = arg;
  if (mode == M_OFF || mode == M_OFF_NB)
    corun_hooks_set(0);
  return p->fn(p->arg);
}
#endif

static void peer_start(struct peer *p, void *(*fn)(void *), void *arg) {
  p->fn = fn;
  p->arg = arg;
#ifndef CONFORM_PLAIN
  if (in_task_mode()) {
    T_OK(corun_spawn(&p->t, peer_task, p, NULL));
    return;
  }
#endif
  T_OK(pthread_create(&p->th, NULL, fn, arg));
}

static void peer_join(struct peer *p) {
#ifndef CONFORM_PLAIN
  if (in_task_mode()) {
    T_OK(corun_join(p->t, NULL));
    return;
  }
#endif
  T_OK(pthread_join(p->th, NULL));
}

/* ---- the cases -------------------------------------------------------- */

static void c_socket(void) {
  int a = CALLFD("socket", socket(AF_INET, SOCK_STREAM, 0));
  CALL("getfl", fcntl(a, F_GETFL));
  CALL("getfd", fcntl(a, F_GETFD));
  int b = CALLFD("socket.nb.cloexec",
                 socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        0));
  CALL("getfl", fcntl(b, F_GETFL));
  CALL("getfd", fcntl(b, F_GETFD));
  CALLFD("socket.family", socket(12345, SOCK_STREAM, 0));
  CALLFD("socket.type", socket(AF_INET, 999, 0));
  CALLFD("socket.proto", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  int sv[2] = {-1, -1};
  CALL("socketpair.inet", socketpair(AF_INET, SOCK_STREAM, 0, sv));
  CALL("socketpair.nb", socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0,
                                   sv));
  CALL("getfl", fcntl(sv[0], F_GETFL));
  CALL("getfl", fcntl(sv[1], F_GETFL));
  WILD("socketpair.efault", socketpair(AF_UNIX, SOCK_STREAM, 0, NULL));
  closeall(4, a, b, sv[0], sv[1]);
}

static void c_rw(void) {
  int s[2];
  pair(s);
  char buf[32] = {0};
  CALL("write", write(s[1], "hello", 5));
  long n = CALL("read", read(s[0], buf, sizeof buf));
  note_bytes("got", buf, n);
  CALL("write0", write(s[1], "", 0));
  CALL("read0", read(s[0], buf, 0));
  struct iovec wv[2] = {{"ab", 2}, {"cde", 3}};
  CALL("writev", writev(s[1], wv, 2));
  char x[2], y[8];
  struct iovec rv[2] = {{x, 2}, {y, 8}};
  n = CALL("readv", readv(s[0], rv, 2));
  note_bytes("x", x, 2);
  note_bytes("y", y, n - 2);
  CALL("send", send(s[1], "fg", 2, 0));
  n = CALL("recv.peek", recv(s[0], buf, sizeof buf, MSG_PEEK));
  n = CALL("recv", recv(s[0], buf, sizeof buf, 0));
  note_bytes("got", buf, n);
  CALL("sendto", sendto(s[1], "hi", 2, 0, NULL, 0));
  struct sockaddr_un sa;
  socklen_t sl = sizeof sa;
  n = CALL("recvfrom", recvfrom(s[0], buf, sizeof buf, 0,
                                (struct sockaddr *)&sa, &sl));
  note("salen=%u", (unsigned)sl);
  struct iovec mv = {"msg", 3};
  struct msghdr m = {.msg_iov = &mv, .msg_iovlen = 1};
  CALL("sendmsg", sendmsg(s[1], &m, 0));
  char mb[8];
  struct iovec rmv = {mb, sizeof mb};
  struct msghdr rm = {.msg_iov = &rmv, .msg_iovlen = 1};
  n = CALL("recvmsg", recvmsg(s[0], &rm, 0));
  note_bytes("got", mb, n);
  note("flags=%#x", (unsigned)rm.msg_flags);
  CALL("ioctl.fionread", ioctl(s[0], FIONREAD, &(int){0}));
  closeall(2, s[0], s[1]);
}

static void c_eof(void) {
  int s[2];
  pair(s);
  char buf[8];
  T_EQ(write(s[1], "z", 1), 1);
  T_OK(close(s[1]));
  CALL("read", read(s[0], buf, sizeof buf));
  CALL("read.eof", read(s[0], buf, sizeof buf));
  struct iovec v = {buf, sizeof buf};
  CALL("readv.eof", readv(s[0], &v, 1));
  CALL("recv.eof", recv(s[0], buf, sizeof buf, 0));
  CALL("recvfrom.eof", recvfrom(s[0], buf, sizeof buf, 0, NULL, NULL));
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  CALL("recvmsg.eof", recvmsg(s[0], &m, 0));
  closeall(1, s[0]);
}

/* The program's own O_NONBLOCK: EAGAIN from every read, and the peer's
 * data once it is there. */
static void c_nonblock_own(void) {
  int s[2];
  pair(s);
  char buf[8];
  int fl = (int)CALL("getfl", fcntl(s[0], F_GETFL));
  CALL("setfl.nb", fcntl(s[0], F_SETFL, fl | O_NONBLOCK));
  CALL("getfl", fcntl(s[0], F_GETFL));
  CALL("read", read(s[0], buf, sizeof buf));
  struct iovec v = {buf, sizeof buf};
  CALL("readv", readv(s[0], &v, 1));
  CALL("recv", recv(s[0], buf, sizeof buf, 0));
  CALL("recvfrom", recvfrom(s[0], buf, sizeof buf, 0, NULL, NULL));
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  CALL("recvmsg", recvmsg(s[0], &m, 0));
  T_EQ(write(s[1], "q", 1), 1);
  long n = CALL("read.data", read(s[0], buf, sizeof buf));
  note_bytes("got", buf, n);
  CALL("setfl.block", fcntl(s[0], F_SETFL, fl));
  CALL("getfl", fcntl(s[0], F_GETFL));
  /* SOCK_NONBLOCK from the start, and writes on a full buffer */
  int t[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, t));
  nb(t[0]);
  nb(t[1]);
  CALL("read.socknb", read(t[0], buf, sizeof buf));
  static char big[65536];
  long w;
  int rounds = 0;
  while ((w = write(t[1], big, sizeof big)) > 0 && rounds < 10000)
    rounds++;
  note("fill_end=%ld/%s", w, w < 0 ? strerrorname_np(t_get_errno()) : "-");
  CALL("write.full", write(t[1], big, 1));
  CALL("send.full", send(t[1], big, 1, 0));
  struct iovec wv = {big, 1};
  CALL("writev.full", writev(t[1], &wv, 1));
  closeall(4, s[0], s[1], t[0], t[1]);
}

/* MSG_DONTWAIT on a blocking socket never waits. */
static void c_dontwait(void) {
  int s[2];
  pair(s);
  char buf[8];
  struct rescue r;
  rescue_arm(&r, s[1], 300);
  CALL("recv.dontwait", recv(s[0], buf, sizeof buf, MSG_DONTWAIT));
  rescue_disarm(&r);
  struct iovec v = {buf, sizeof buf};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  CALL("recvmsg.dontwait", recvmsg(s[0], &m, MSG_DONTWAIT));
  CALL("recvfrom.dontwait",
       recvfrom(s[0], buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
  static char big[65536];
  long w;
  int rounds = 0;
  while ((w = send(s[0], big, sizeof big, MSG_DONTWAIT)) > 0 && rounds < 10000)
    rounds++;
  note("fill_end=%ld", w);
  CALL("send.dontwait.full", send(s[0], big, 1, MSG_DONTWAIT));
  closeall(2, s[0], s[1]);
}

static void c_ebadf(void) {
  char buf[4] = {0};
  struct iovec v = {buf, sizeof buf};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  struct sockaddr_in a;
  loopback(&a, 9);
  CALL("read", read(BADFD, buf, 1));
  CALL("readv", readv(BADFD, &v, 1));
  CALL("recv", recv(BADFD, buf, 1, 0));
  CALL("recvfrom", recvfrom(BADFD, buf, 1, 0, NULL, NULL));
  CALL("recvmsg", recvmsg(BADFD, &m, 0));
  CALL("write", write(BADFD, buf, 1));
  CALL("writev", writev(BADFD, &v, 1));
  CALL("send", send(BADFD, buf, 1, 0));
  CALL("sendto", sendto(BADFD, buf, 1, 0, NULL, 0));
  CALL("sendmsg", sendmsg(BADFD, &m, 0));
  CALL("pread", pread(BADFD, buf, 1, 0));
  CALL("pwrite", pwrite(BADFD, buf, 1, 0));
  CALL("accept", accept(BADFD, NULL, NULL));
  CALL("accept4", accept4(BADFD, NULL, NULL, SOCK_CLOEXEC));
  CALL("connect", connect(BADFD, (struct sockaddr *)&a, sizeof a));
  CALL("shutdown", shutdown(BADFD, SHUT_RDWR));
  CALL("close", close(BADFD));
  CALL("close.neg", close(-1));
  CALL("fcntl.getfl", fcntl(BADFD, F_GETFL));
  CALL("fcntl.setfl", fcntl(BADFD, F_SETFL, O_NONBLOCK));
  CALL("ioctl.fionbio", ioctl(BADFD, FIONBIO, &(int){1}));
  struct timeval tv = {1, 0};
  CALL("setsockopt", setsockopt(BADFD, SOL_SOCKET, SO_RCVTIMEO, &tv,
                                sizeof tv));
  CALL("dup", dup(BADFD));
  CALL("read.neg", read(-5, buf, 1));
}

/* Bad arguments: libc's (the kernel's) EINVAL and EFAULT. */
static void c_einval(void) {
  int s[2];
  pair(s);
  char buf[8] = {0};
  struct iovec v = {buf, sizeof buf};
  CALL("readv.cnt", readv(s[0], &v, OPAQUE(-1)));
  WILD("writev.cnt", writev(s[1], &v, OPAQUE(5000)));
  CALL("shutdown.how", shutdown(s[0], 99));
  WILD("write.efault", write(s[1], NULLP, 5));
  WILD("send.efault", send(s[1], NULLP, 5, 0));
  T_EQ(write(s[1], "abc", 3), 3);
  WILD("read.efault", read(s[0], NULLP, 3));
  WILD("recv.efault", recv(s[0], NULLP, 3, 0));
  CALL("recv.badflags", recv(s[0], buf, 1, MSG_OOB));
  CALL("fcntl.cmd", fcntl(s[0], 12345));
  WILD("ioctl.fionbio.null", ioctl(s[0], FIONBIO, NULL));
  CALL("ioctl.badreq", ioctl(s[0], 0x12345678, &(int){0}));
  closeall(2, s[0], s[1]);
}

/* Socket calls on a pipe and a file. */
static void c_notsock(void) {
  int p[2];
  T_OK(pipe(p));
  int f = tmpfile_fd();
  char buf[4];
  struct sockaddr_in a;
  loopback(&a, 9);
  CALL("recv.pipe", recv(p[0], buf, 1, 0));
  CALL("send.pipe", send(p[1], "x", 1, 0));
  CALL("accept.pipe", accept(p[0], NULL, NULL));
  CALL("connect.pipe", connect(p[0], (struct sockaddr *)&a, sizeof a));
  CALL("shutdown.pipe", shutdown(p[0], SHUT_RD));
  CALL("recv.file", recv(f, buf, 1, 0));
  struct timeval tv = {0, 1000};
  CALL("setsockopt.file", setsockopt(f, SOL_SOCKET, SO_RCVTIMEO, &tv,
                                     sizeof tv));
  CALL("ioctl.fionbio.pipe", ioctl(p[0], FIONBIO, &(int){1}));
  CALL("getfl.pipe", fcntl(p[0], F_GETFL));
  CALL("read.pipe.nb", read(p[0], buf, 1));
  closeall(3, p[0], p[1], f);
}

/* Writes to a socket whose peer has gone: EPIPE (SIGPIPE is ignored). */
static void c_epipe(void) {
  int s[2];
  pair(s);
  T_OK(close(s[1]));
  struct iovec v = {"x", 1};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  CALL("write", write(s[0], "x", 1));
  CALL("writev", writev(s[0], &v, 1));
  CALL("send", send(s[0], "x", 1, 0));
  CALL("sendto", sendto(s[0], "x", 1, 0, NULL, 0));
  CALL("sendmsg", sendmsg(s[0], &m, 0));
  CALL("send.nosignal", send(s[0], "x", 1, MSG_NOSIGNAL));
  closeall(1, s[0]);
  /* and on TCP, after the peer's close */
  int l, c, sv;
  tcp(&l, &c, &sv);
  struct linger lg = {1, 0};
  T_OK(setsockopt(sv, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
  T_OK(close(sv)); /* a reset */
  struct pollfd p = {c, POLLIN, 0};
  CALL("poll.reset", poll(&p, 1, 1000));
  note_revents("rev", &p, 1);
  CALL("write.reset", write(c, "x", 1));
  CALL("write.after", write(c, "x", 1));
  closeall(2, l, c);
}

static volatile sig_atomic_t sigpipes;

static void count_sigpipe(int sig) {
  (void)sig;
  sigpipes++;
}

/* SIGPIPE is raised as libc's write raises it (not ignored here). */
static void c_sigpipe(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = count_sigpipe;
  sigemptyset(&sa.sa_mask);
  T_OK(sigaction(SIGPIPE, &sa, &old));
  sigpipes = 0;
  int s[2];
  pair(s);
  T_OK(close(s[1]));
  struct iovec v = {"x", 1};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  CALL("write", write(s[0], "x", 1));
  note("sigpipes=%d", (int)sigpipes);
  CALL("send.nosignal", send(s[0], "x", 1, MSG_NOSIGNAL));
  note("sigpipes=%d", (int)sigpipes);
  CALL("writev", writev(s[0], &v, 1));
  CALL("sendto", sendto(s[0], "x", 1, 0, NULL, 0));
  CALL("sendmsg", sendmsg(s[0], &m, 0));
  CALL("sendmsg.nosignal", sendmsg(s[0], &m, MSG_NOSIGNAL));
  note("sigpipes=%d", (int)sigpipes);
  closeall(1, s[0]);
  T_OK(sigaction(SIGPIPE, &old, NULL));
}

/* A blocking write on a stream socket writes everything before it
 * returns (the reader drains it meanwhile). */
static void c_big_write(void) {
  enum { BIG = 1 << 20 };
  static char big[BIG];
  int s[2];
  pair(s);
  struct later d = {0};
  later(&d, L_DRAIN, s[1], 0);
  CALL("write", write(s[0], big, BIG));
  struct iovec v[2] = {{big, BIG / 2}, {big + BIG / 2, BIG / 2}};
  CALL("writev", writev(s[0], v, 2));
  CALL("send", send(s[0], big, BIG, 0));
  struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
  CALL("sendmsg", sendmsg(s[0], &m, 0));
  T_OK(shutdown(s[0], SHUT_WR));
  later_join(&d);
  note("drained=%ld", d.result);
  closeall(2, s[0], s[1]);
}

/* MSG_WAITALL waits for the whole buffer. */
static void c_waitall(void) {
  int s[2];
  pair(s);
  char buf[8] = {0};
  T_EQ(write(s[1], "ab", 2), 2);
  struct later l = {.data = "cd"};
  later(&l, L_WRITE, s[1], LATER_MS);
  long n = CALL("recv.waitall", recv(s[0], buf, 4, MSG_WAITALL));
  note_bytes("got", buf, n);
  later_join(&l);
  T_EQ(write(s[1], "e", 1), 1);
  l.data = "fg";
  later(&l, L_WRITE, s[1], LATER_MS);
  struct iovec v = {buf, 3};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  n = CALL("recvmsg.waitall", recvmsg(s[0], &m, MSG_WAITALL));
  note_bytes("got", buf, n);
  later_join(&l);
  /* cut short by EOF: what came */
  T_EQ(write(s[1], "h", 1), 1);
  later(&l, L_SHUT_WR, s[1], LATER_MS);
  n = CALL("recv.waitall.eof", recv(s[0], buf, 4, MSG_WAITALL));
  note_bytes("got", buf, n);
  later_join(&l);
  closeall(2, s[0], s[1]);
}

/* Blocking reads that wait for a later write, accept, EOF. */
static void c_block_later(void) {
  int s[2];
  pair(s);
  char buf[8];
  struct later l = {.data = "late"};
  later(&l, L_WRITE, s[1], LATER_MS);
  long n = CALL("read", read(s[0], buf, sizeof buf));
  note_bytes("got", buf, n);
  later_join(&l);
  later(&l, L_WRITE, s[1], LATER_MS);
  struct iovec v = {buf, sizeof buf};
  n = CALL("readv", readv(s[0], &v, 1));
  later_join(&l);
  later(&l, L_WRITE, s[1], LATER_MS);
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  n = CALL("recvmsg", recvmsg(s[0], &m, 0));
  later_join(&l);
  later(&l, L_SHUT_RD, s[0], LATER_MS); /* wakes the reader with EOF */
  CALL("recv.shut", recv(s[0], buf, sizeof buf, 0));
  later_join(&l);
  later(&l, L_SHUT_WR, s[1], LATER_MS);
  CALL("recv.eof", recv(s[0], buf, sizeof buf, 0));
  later_join(&l);
  closeall(2, s[0], s[1]);
}

/* SO_RCVTIMEO: EAGAIN once it expires; data before it is returned. */
static void c_rcvtimeo(void) {
  int s[2];
  pair(s);
  char buf[8];
  struct timeval tv = {0, TIMEO_US};
  CALL("setsockopt", setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
                                sizeof tv));
  CALL("read", read(s[0], buf, sizeof buf));
  struct iovec v = {buf, sizeof buf};
  CALL("readv", readv(s[0], &v, 1));
  CALL("recv", recv(s[0], buf, sizeof buf, 0));
  CALL("recvfrom", recvfrom(s[0], buf, sizeof buf, 0, NULL, NULL));
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  CALL("recvmsg", recvmsg(s[0], &m, 0));
  tv.tv_sec = 5;
  tv.tv_usec = 0;
  T_OK(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  struct later l = {.data = "in"};
  later(&l, L_WRITE, s[1], LATER_MS);
  long n = CALL("recv.data", recv(s[0], buf, sizeof buf, 0));
  note_bytes("got", buf, n);
  later_join(&l);
  /* accept on a listener with a receive timeout */
  struct sockaddr_in a;
  int lf = listener(&a, 4, 0);
  tv = (struct timeval){0, TIMEO_US};
  T_OK(setsockopt(lf, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  CALL("accept", accept(lf, NULL, NULL));
  /* the timeout set on one fd holds for its dup too (one socket) */
  int d = dup(s[0]);
  T_GE(d, 0);
  T_OK(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  struct rescue r;
  rescue_arm(&r, s[1], 500);
  CALL("recv.dup", recv(d, buf, sizeof buf, 0));
  rescue_disarm(&r);
  closeall(4, s[0], s[1], lf, d);
}

/* Odd SO_RCVTIMEO values. */
static void c_rcvtimeo_odd(void) {
  int s[2];
  pair(s);
  char buf[8];
  struct timeval tv = {0, 1000000};
  CALL("setsockopt.edom", setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
                                     sizeof tv));
  CALL("setsockopt.short", setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 4));
  /* a negative timeout: Linux takes it as "do not wait" */
  tv = (struct timeval){-1, 0};
  CALL("setsockopt.neg", setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
                                    sizeof tv));
  struct rescue r;
  rescue_arm(&r, s[1], 300);
  CALL("recv.neg", recv(s[0], buf, sizeof buf, 0));
  rescue_disarm(&r);
  /* an enormous one: no timeout at all */
  tv = (struct timeval){INT64_MAX / 2, 0};
  CALL("setsockopt.huge", setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
                                     sizeof tv));
  struct later l = {.data = "h"};
  later(&l, L_WRITE, s[1], LATER_MS);
  long n = CALL("recv.huge", recv(s[0], buf, sizeof buf, 0));
  note_bytes("got", buf, n);
  later_join(&l);
  /* back to none */
  tv = (struct timeval){0, 0};
  CALL("setsockopt.zero", setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
                                     sizeof tv));
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("recv.zero", recv(s[0], buf, sizeof buf, 0));
  later_join(&l);
  closeall(2, s[0], s[1]);
}

/* A socket accepted from a listener with timeouts: TCP hands them on, so
 * a read on it ends with EAGAIN (a hook that ignored them would wait
 * until the rescue). */
static void c_accept_timeo(void) {
  struct sockaddr_in a;
  int lf = listener(&a, 4, 0);
  struct timeval tv = {0, TIMEO_US};
  T_OK(setsockopt(lf, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  /* connected before the accept (the handshake needs no accept), so the
   * accept itself never waits for its short timeout */
  int c = socket(AF_INET, SOCK_STREAM, 0);
  T_GE(c, 0);
  T_OK(connect(c, (struct sockaddr *)&a, sizeof a));
  int s = CALLFD("accept", accept(lf, NULL, NULL));
  long k = syscall(SYS_fcntl, s, F_GETFL); /* past the hooks */
  note("kernel.nb=%d", k >= 0 && (k & O_NONBLOCK) ? 1 : 0);
  nb(s);
  char buf[8];
  struct rescue r;
  rescue_arm(&r, c, 500);
  CALL("read", read(s, buf, sizeof buf));
  rescue_disarm(&r);
  closeall(3, s, lf, c);
}

/* Receives the kernel answers at once on any socket: from an empty error
 * queue (EAGAIN) and of urgent data that is not there (EINVAL). */
static void c_never_wait(void) {
  struct sockaddr_in a;
  int u = udp(&a);
  int on = 1;
  T_OK(setsockopt(u, IPPROTO_IP, IP_RECVERR, &on, sizeof on));
  char buf[64], ctl[256];
  struct iovec v = {buf, sizeof buf};
  struct msghdr m = {.msg_iov = &v,
                     .msg_iovlen = 1,
                     .msg_control = ctl,
                     .msg_controllen = sizeof ctl};
  /* (the rescue's datagram makes u readable but adds nothing to its
   * error queue: a hook that waits goes on waiting, and the watchdog
   * names the case) */
  int to_u = socket(AF_INET, SOCK_DGRAM, 0);
  T_GE(to_u, 0);
  T_OK(connect(to_u, (struct sockaddr *)&a, sizeof a));
  struct rescue r;
  rescue_arm(&r, to_u, 500);
  CALL("recvmsg.errqueue", recvmsg(u, &m, MSG_ERRQUEUE));
  rescue_disarm(&r);
  int l, c, t;
  tcp(&l, &c, &t);
  rescue_arm(&r, c, 500);
  CALL("recv.oob", recv(t, buf, sizeof buf, MSG_OOB));
  rescue_disarm(&r);
  closeall(5, u, to_u, l, c, t);
}

/* F_SETFL and FIONBIO reach the kernel: a socket the program made
 * non-blocking and then blocking again is blocking for anybody (an exec'd
 * program, an unhooked call), as with libc, also after a poll on it while
 * it was non-blocking (hiredis's connect); and a blocking read on it in a
 * task still waits for data without blocking the worker. An accepted
 * socket is as blocking as the program asked, in the kernel too. */
static void c_setfl_kernel(void) {
  int s[2];
  pair(s);
  char buf[8];
  int fl = fcntl(s[0], F_GETFL);
  T_GE(fl, 0);
  CALL("setfl.nb", fcntl(s[0], F_SETFL, fl | O_NONBLOCK));
  CALL("read.nb", read(s[0], buf, sizeof buf));
  struct pollfd p = {s[0], POLLIN, 0}; /* (a wait that times out) */
  CALL("poll.nb", poll(&p, 1, TIMEO_US / 1000));
  CALL("setfl.block", fcntl(s[0], F_SETFL, fl & ~O_NONBLOCK));
  long k = syscall(SYS_fcntl, s[0], F_GETFL); /* past the hooks */
  note("kernel.nb=%d", k >= 0 && (k & O_NONBLOCK) ? 1 : 0);
  struct later l = {.data = "k"};
  later(&l, L_WRITE, s[1], LATER_MS);
  long n = CALL("read.later", read(s[0], buf, sizeof buf));
  note_bytes("got", buf, n);
  later_join(&l);
  int one = 1, zero = 0;
  CALL("fionbio.on", ioctl(s[1], FIONBIO, &one));
  CALL("fionbio.off", ioctl(s[1], FIONBIO, &zero));
  k = syscall(SYS_fcntl, s[1], F_GETFL);
  note("kernel.nb=%d", k >= 0 && (k & O_NONBLOCK) ? 1 : 0);
  CALL("getfl", fcntl(s[1], F_GETFL) & O_NONBLOCK);
  closeall(2, s[0], s[1]);
}

/* sendfile onto a blocking socket sends everything, however full the
 * socket gets on the way (the reader drains it later); with SO_SNDTIMEO on
 * a full socket nobody reads, it gives up with EAGAIN. */
static void c_sendfile(void) {
  int s[2];
  pair(s);
  int fd = tmpfile_fd();
  static char block[1 << 20];
  memset(block, 's', sizeof block);
  T_EQ(write(fd, block, sizeof block), (long)sizeof block);
  struct later l;
  memset(&l, 0, sizeof l);
  later(&l, L_DRAIN, s[1], LATER_MS);
  off_t off = 0;
  CALL("sendfile", sendfile(s[0], fd, &off, sizeof block));
  note("off=%ld", (long)off);
  T_OK(shutdown(s[0], SHUT_WR));
  later_join(&l);
  note("drained=%ld", l.result);
  closeall(2, s[0], s[1]);
  pair(s);
  off = 0; /* a count past SSIZE_MAX: the kernel's EINVAL, nothing sent */
  CALL("sendfile.huge", sendfile(s[0], fd, &off, (size_t)-1));
  while (send(s[0], block, sizeof block, MSG_DONTWAIT) > 0)
    ;
  struct timeval tv = {0, TIMEO_US};
  T_OK(setsockopt(s[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
  off = 0;
  CALL("sendfile.timeo", sendfile(s[0], fd, &off, sizeof block));
  closeall(3, s[0], s[1], fd);
}

/* SO_SNDTIMEO on a full socket: EAGAIN once it expires. */
static void c_sndtimeo(void) {
  int s[2];
  pair(s);
  static char big[65536];
  long w;
  int rounds = 0;
  while ((w = send(s[0], big, sizeof big, MSG_DONTWAIT)) > 0 && rounds < 10000)
    rounds++;
  T_EQ(w, -1);
  struct timeval tv = {0, TIMEO_US};
  CALL("setsockopt", setsockopt(s[0], SOL_SOCKET, SO_SNDTIMEO, &tv,
                                sizeof tv));
  CALL("write", write(s[0], big, 1));
  CALL("send", send(s[0], big, 1, 0));
  struct iovec v = {big, 1};
  CALL("writev", writev(s[0], &v, 1));
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  CALL("sendmsg", sendmsg(s[0], &m, 0));
  closeall(2, s[0], s[1]);
}

static void c_tcp(void) {
  struct sockaddr_in a;
  int l = listener(&a, 16, 0);
  int c = CALLFD("socket", socket(AF_INET, SOCK_STREAM, 0));
  nb(c);
  CALL("connect", connect(c, (struct sockaddr *)&a, sizeof a));
  CALL("connect.again", connect(c, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  int s = CALLFD("accept", accept(l, (struct sockaddr *)&peer, &pl));
  note("family=%d len=%u", peer.sin_family, (unsigned)pl);
  nb(s);
  CALL("getfl", fcntl(s, F_GETFL));
  CALL("getfd", fcntl(s, F_GETFD));
  CALL("send", send(c, "ping", 4, 0));
  char buf[8];
  long n = CALL("recv", recv(s, buf, sizeof buf, 0));
  note_bytes("got", buf, n);
  int c2 = socket(AF_INET, SOCK_STREAM, 0);
  T_OK(connect(c2, (struct sockaddr *)&a, sizeof a));
  int s2 = CALLFD("accept4.nb.cloexec",
                  accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
  CALL("getfl", fcntl(s2, F_GETFL));
  CALL("getfd", fcntl(s2, F_GETFD));
  CALL("read.nb", read(s2, buf, sizeof buf));
  int c3 = socket(AF_INET, SOCK_STREAM, 0);
  T_OK(connect(c3, (struct sockaddr *)&a, sizeof a));
  CALL("accept4.badflags", accept4(l, NULL, NULL, 0x40000000));
  pl = 1;
  int s3 = CALLFD("accept.shortlen", accept(l, (struct sockaddr *)&peer, &pl));
  note("len=%u", (unsigned)pl);
  /* accept on a socket that does not listen */
  CALL("accept.notlisten", accept(c, NULL, NULL));
  /* shutdown: the peer reads EOF; writing after it: EPIPE */
  CALL("shutdown.wr", shutdown(c, SHUT_WR));
  CALL("recv.eof", recv(s, buf, sizeof buf, 0));
  CALL("write.aftershut", send(c, "x", 1, MSG_NOSIGNAL));
  int u = socket(AF_INET, SOCK_STREAM, 0);
  CALL("shutdown.notconn", shutdown(u, SHUT_RDWR));
  closeall(8, l, c, s, c2, s2, c3, u, s3);
}

static void c_connect_refused(void) {
  struct sockaddr_in a;
  closed_port(&a);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  nb(c);
  CALL("connect", connect(c, (struct sockaddr *)&a, sizeof a));
  CALL("connect.again", connect(c, (struct sockaddr *)&a, sizeof a));
  int err = -1;
  socklen_t el = sizeof err;
  T_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
  note("so_error=%d", err);
  int u = socket(AF_INET, SOCK_STREAM, 0);
  CALL("connect.badlen", connect(u, (struct sockaddr *)&a, 3));
  a.sin_family = AF_UNIX;
  CALL("connect.family", connect(u, (struct sockaddr *)&a, sizeof a));
  closeall(2, c, u);
}

/* Non-blocking connects: EINPROGRESS, then poll and SO_ERROR tell. */
static void c_connect_nonblock(void) {
  struct sockaddr_in a;
  int l = listener(&a, 16, 0);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  nb(c);
  CALL("connect", connect(c, (struct sockaddr *)&a, sizeof a));
  struct pollfd p = {c, POLLOUT, 0};
  CALL("poll", poll(&p, 1, 1000));
  note_revents("rev", &p, 1);
  int err = -1;
  socklen_t el = sizeof err;
  T_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
  note("so_error=%d", err);
  CALL("connect.done", connect(c, (struct sockaddr *)&a, sizeof a));
  CALL("connect.again", connect(c, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in z;
  closed_port(&z);
  int d = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  nb(d);
  CALL("connect.refused", connect(d, (struct sockaddr *)&z, sizeof z));
  p = (struct pollfd){d, POLLOUT, 0};
  CALL("poll.refused", poll(&p, 1, 1000));
  note_revents("rev", &p, 1);
  T_OK(getsockopt(d, SOL_SOCKET, SO_ERROR, &err, &el));
  note("so_error=%d", err);
  closeall(3, l, c, d);
}

/* A connect nobody answers (the listener's queue is full, SYNs are
 * dropped): SO_SNDTIMEO ends it with EINPROGRESS, as Linux does. */
static void c_connect_timeout(void) {
  struct sockaddr_in a;
  int l = listener(&a, 0, 0);
  int c1 = socket(AF_INET, SOCK_STREAM, 0);
  T_OK(connect(c1, (struct sockaddr *)&a, sizeof a)); /* fills the queue */
  int c2 = socket(AF_INET, SOCK_STREAM, 0);
  nb(c2);
  struct timeval tv = {0, TIMEO_US};
  CALL("setsockopt", setsockopt(c2, SOL_SOCKET, SO_SNDTIMEO, &tv,
                                sizeof tv));
  CALL("connect", connect(c2, (struct sockaddr *)&a, sizeof a));
  CALL("connect.again", connect(c2, (struct sockaddr *)&a, sizeof a));
  closeall(3, l, c1, c2);
}

static void c_accept_later(void) {
  struct sockaddr_in a;
  int l = listener(&a, 16, 0);
  struct later c = {.addr = a};
  later(&c, L_CONNECT, -1, LATER_MS);
  int s = CALLFD("accept", accept(l, NULL, NULL));
  later_join(&c);
  CALL("getfl", fcntl(s, F_GETFL));
  closeall(2, s, (int)c.result);
  /* the program's own O_NONBLOCK on the listener */
  int n = listener(&a, 16, SOCK_NONBLOCK);
  CALL("accept.nb", accept(n, NULL, NULL));
  CALL("accept4.nb", accept4(n, NULL, NULL, SOCK_CLOEXEC));
  closeall(2, l, n);
}

struct acceptor {
  int l;
  struct res x;
  int fd;
};

static void *acceptor(void *arg) {
  struct acceptor *a = arg;
  a->x = DO(a->fd = accept(a->l, NULL, NULL));
  return NULL;
}

/* Two callers accept on one listener, as pre-forked servers do. */
static void c_two_acceptors(void) {
  struct sockaddr_in a;
  int l = listener(&a, 16, 0);
  struct acceptor x = {l, {0, 0}, -1}, y = {l, {0, 0}, -1};
  struct peer px, py;
  peer_start(&px, acceptor, &x);
  peer_start(&py, acceptor, &y);
  struct later c1 = {.addr = a}, c2 = {.addr = a};
  later(&c1, L_CONNECT, -1, 10);
  later(&c2, L_CONNECT, -1, 15);
  peer_join(&px);
  peer_join(&py);
  later_join(&c1);
  later_join(&c2);
  rec("accept.x", x.x, 1);
  rec("accept.y", y.x, 1);
  closeall(6, l, x.fd, y.fd, (int)c1.result, (int)c2.result, -1);
}

struct reader {
  int fd;
  struct res x;
  char c;
};

static void *reader(void *arg) {
  struct reader *r = arg;
  r->x = DO(read(r->fd, &r->c, 1));
  return NULL;
}

static void *poller(void *arg) {
  struct reader *r = arg;
  struct pollfd p = {r->fd, POLLIN, 0};
  r->x = DO(poll(&p, 1, 2000));
  r->c = (char)p.revents;
  return NULL;
}

/* Two callers read (then poll) one socket at the same time. */
static void c_two_readers(void) {
  int s[2];
  pair(s);
  struct reader x = {s[0], {0, 0}, 0}, y = {s[0], {0, 0}, 0};
  struct peer px, py;
  peer_start(&px, reader, &x);
  peer_start(&py, reader, &y);
  struct later l = {.data = "ab"};
  later(&l, L_WRITE, s[1], 10);
  peer_join(&px);
  peer_join(&py);
  later_join(&l);
  rec("read.x", x.x, 0);
  rec("read.y", y.x, 0);
  note("bytes=%c%c", x.c < y.c ? x.c : y.c, x.c < y.c ? y.c : x.c);
  peer_start(&px, poller, &x);
  peer_start(&py, poller, &y);
  l.data = "c";
  later(&l, L_WRITE, s[1], 10);
  peer_join(&px);
  peer_join(&py);
  later_join(&l);
  rec("poll.x", x.x, 0);
  rec("poll.y", y.x, 0);
  note("revents=%d,%d", x.c, y.c);
  closeall(2, s[0], s[1]);
}

static void c_udp(void) {
  struct sockaddr_in aa, ba;
  int a = udp(&aa), b = udp(&ba);
  char buf[16];
  CALL("sendto", sendto(a, "dgram", 5, 0, (struct sockaddr *)&ba, sizeof ba));
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  long n = CALL("recvfrom", recvfrom(b, buf, sizeof buf, 0,
                                     (struct sockaddr *)&from, &fl));
  note_bytes("got", buf, n);
  note("fromlen=%u same=%d", (unsigned)fl,
       from.sin_port == aa.sin_port && from.sin_addr.s_addr ==
                                           aa.sin_addr.s_addr);
  CALL("sendto.trunc", sendto(a, "0123456789", 10, 0, (struct sockaddr *)&ba,
                              sizeof ba));
  n = CALL("recv.trunc", recv(b, buf, 4, MSG_TRUNC));
  CALL("send.noaddr", send(a, "x", 1, 0));
  /* recvmsg with a name and a truncated datagram */
  CALL("sendto", sendto(a, "abcdef", 6, 0, (struct sockaddr *)&ba, sizeof ba));
  struct iovec v = {buf, 3};
  struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from,
                     .msg_iov = &v, .msg_iovlen = 1};
  n = CALL("recvmsg", recvmsg(b, &m, 0));
  note("namelen=%u flags=%#x", (unsigned)m.msg_namelen,
       (unsigned)m.msg_flags);
  /* a blocking receive, woken by a later datagram */
  int c = socket(AF_INET, SOCK_DGRAM, 0);
  T_OK(connect(c, (struct sockaddr *)&ba, sizeof ba));
  struct later l = {.data = "late"};
  later(&l, L_WRITE, c, LATER_MS);
  n = CALL("recv.later", recv(b, buf, sizeof buf, 0));
  note_bytes("got", buf, n);
  later_join(&l);
  /* ICMP port unreachable: POLLERR, then ECONNREFUSED */
  struct sockaddr_in z;
  closed_port(&z);
  CALL("connect", connect(a, (struct sockaddr *)&z, sizeof z));
  CALL("send", send(a, "x", 1, 0));
  struct pollfd p = {a, POLLIN, 0};
  CALL("poll", poll(&p, 1, 1000));
  note_revents("rev", &p, 1);
  CALL("recv.refused", recv(a, buf, sizeof buf, 0));
  CALL("recv.after", recv(a, buf, sizeof buf, MSG_DONTWAIT));
  closeall(3, a, b, c);
}

/* poll's revents, fd by fd, and its special cases. */
static void c_poll(void) {
  int s[2], t[2];
  pair(s);
  pair(t);
  T_EQ(write(t[1], "d", 1), 1);
  struct pollfd p[6] = {{s[0], POLLIN, 0},   {s[1], POLLOUT, 0},
                        {-1, POLLIN, 0x7},   {BADFD, POLLIN, 0},
                        {t[0], POLLIN | POLLOUT, 0},
                        {s[0], POLLIN | POLLPRI | POLLRDHUP, 0}};
  CALL("poll0", poll(p, 6, 0));
  note_revents("rev", p, 6);
  for (int i = 0; i < 6; i++)
    p[i].revents = 0x7;
  CALL("poll", poll(p, 6, 1000));
  note_revents("rev", p, 6);
  struct pollfd q[2] = {{s[0], POLLIN, 0}, {-1, POLLIN, 0}};
  CALL("poll.timeout", poll(q, 2, LATER_MS));
  note_revents("rev", q, 2);
  CALL("poll.one.timeout", poll(q, 1, LATER_MS));
  CALL("poll.neg.timeout", poll(q + 1, 1, LATER_MS));
  CALL("poll.none", poll(NULL, 0, LATER_MS));
  WILD("poll.efault", poll((struct pollfd *)NULLP, 1, 10));
#if !CONFORM_SANITIZER /* ASan's and TSan's poll read every entry first */
  WILD("poll.einval", poll(q, OPAQUE((nfds_t)INT32_MAX), 10));
#else
  note("poll.einval=skipped");
#endif
  /* events 0: only the ones always reported */
  struct pollfd z = {s[0], 0, 0};
  CALL("poll.events0", poll(&z, 1, LATER_MS));
  closeall(4, s[0], s[1], t[0], t[1]);
}

/* Readiness that comes later. */
static void c_poll_later(void) {
  int s[2], t[2];
  pair(s);
  pair(t);
  struct pollfd p[2] = {{s[0], POLLIN, 0}, {t[0], POLLIN, 0}};
  struct later l = {.data = "w"};
  later(&l, L_WRITE, t[1], LATER_MS);
  CALL("poll", poll(p, 2, 2000));
  note_revents("rev", p, 2);
  later_join(&l);
  char c;
  T_EQ(read(t[0], &c, 1), 1);
  /* one fd twice, waiting for different events */
  struct pollfd d[2] = {{s[0], POLLPRI, 0}, {s[0], POLLIN, 0}};
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("poll.dup", poll(d, 2, 2000));
  note_revents("rev", d, 2);
  later_join(&l);
  T_EQ(read(s[0], &c, 1), 1);
  /* events poll(2) has and epoll spells the same */
  struct pollfd r = {s[0], POLLRDNORM, 0};
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("poll.rdnorm", poll(&r, 1, 2000));
  note_revents("rev", &r, 1);
  later_join(&l);
  T_EQ(read(s[0], &c, 1), 1);
  /* the peer goes */
  struct pollfd h = {s[0], POLLIN | POLLRDHUP, 0};
  later(&l, L_CLOSE, s[1], LATER_MS);
  CALL("poll.hup", poll(&h, 1, 2000));
  note_revents("rev", &h, 1);
  later_join(&l);
  /* on a pipe */
  int pp[2];
  T_OK(pipe(pp));
  struct pollfd pr = {pp[0], POLLIN, 0};
  later(&l, L_WRITE, pp[1], LATER_MS);
  CALL("poll.pipe", poll(&pr, 1, 2000));
  note_revents("rev", &pr, 1);
  later_join(&l);
  later(&l, L_CLOSE, pp[1], LATER_MS);
  T_EQ(read(pp[0], &c, 1), 1);
  CALL("poll.pipe.hup", poll(&pr, 1, 2000));
  note_revents("rev", &pr, 1);
  later_join(&l);
  closeall(4, s[0], t[0], t[1], pp[0]);
}

/* Hang-ups and errors reported without being asked for. */
static void c_poll_hup(void) {
  int s[2];
  pair(s);
  T_OK(shutdown(s[1], SHUT_WR));
  struct pollfd p[3] = {{s[0], POLLIN | POLLOUT | POLLRDHUP, 0},
                        {s[0], POLLOUT, 0},
                        {s[0], 0, 0}};
  CALL("poll.rdhup", poll(p, 3, 1000));
  note_revents("rev", p, 3);
  T_OK(close(s[1]));
  CALL("poll.closed", poll(p, 3, 1000));
  note_revents("rev", p, 3);
  struct pollfd one = {s[0], POLLOUT, 0};
  CALL("poll.one", poll(&one, 1, 1000));
  note_revents("rev", &one, 1);
  int pp[2];
  T_OK(pipe(pp));
  T_OK(close(pp[0]));
  struct pollfd w = {pp[1], POLLOUT, 0};
  CALL("poll.pipe.noreader", poll(&w, 1, 1000));
  note_revents("rev", &w, 1);
  int f = tmpfile_fd();
  struct pollfd fp[2] = {{f, POLLIN | POLLOUT, 0}, {f, POLLPRI, 0}};
  CALL("poll.file", poll(fp, 2, 1000));
  note_revents("rev", fp, 2);
  /* TCP urgent data: POLLPRI */
  int l, c, sv;
  tcp(&l, &c, &sv);
  CALL("send.oob", send(c, "!", 1, MSG_OOB));
  struct pollfd u = {sv, POLLPRI, 0};
  CALL("poll.pri", poll(&u, 1, 1000));
  note_revents("rev", &u, 1);
  closeall(6, s[0], pp[1], f, l, c, sv);
}

static void c_ppoll(void) {
  int s[2];
  pair(s);
  struct pollfd p = {s[0], POLLIN, 0};
  struct timespec ts = {0, TIMEO_US * 1000};
  CALL("ppoll.timeout", ppoll(&p, 1, &ts, NULL));
  note("ts_kept=%d", ts.tv_sec == 0 && ts.tv_nsec == TIMEO_US * 1000);
  struct rescue r;
  rescue_arm(&r, s[1], 300);
  ts = (struct timespec){-1, 0};
  CALL("ppoll.neg", ppoll(&p, 1, &ts, NULL));
  ts = (struct timespec){0, 1000000000};
  CALL("ppoll.nsec", ppoll(&p, 1, &ts, NULL));
  rescue_disarm(&r);
  struct pollfd q = {s[1], POLLOUT, 0};
  CALL("ppoll.ready", ppoll(&q, 1, NULL, NULL));
  note_revents("rev", &q, 1);
  sigset_t m;
  sigemptyset(&m);
  ts = (struct timespec){0, 1000000};
  CALL("ppoll.mask", ppoll(&p, 1, &ts, &m));
  struct later l = {.data = "p"};
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("ppoll.later", ppoll(&p, 1, NULL, NULL));
  note_revents("rev", &p, 1);
  later_join(&l);
  closeall(2, s[0], s[1]);
}

/* The remaining timeout select leaves in tv, by class: "full", "part",
 * "0" (the exact figure depends on the clock). */
static const char *tv_class(const struct timeval *tv, long orig_us) {
  long us = (long)tv->tv_sec * 1000000 + tv->tv_usec;
  return us == orig_us ? "full" : us == 0 ? "0" : us < orig_us ? "part"
                                                               : "more";
}

static void c_select(void) {
  int s[2], t[2];
  pair(s);
  pair(t);
  T_EQ(write(t[1], "d", 1), 1);
  int fds[4] = {s[0], s[1], t[0], t[1]};
  int nfds = 0;
  for (int i = 0; i < 4; i++)
    nfds = fds[i] >= nfds ? fds[i] + 1 : nfds;
  fd_set r, w, x;
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_ZERO(&x);
  FD_SET(s[0], &r);
  FD_SET(t[0], &r);
  FD_SET(s[1], &w);
  FD_SET(s[0], &x);
  struct timeval tv = {1, 0};
  CALL("select", select(nfds, &r, &w, &x, &tv));
  note_set("r", &r, fds, 4);
  note_set("w", &w, fds, 4);
  note_set("x", &x, fds, 4);
  note("tv=%s", tv_class(&tv, 1000000));
  FD_ZERO(&r);
  FD_SET(s[0], &r);
  tv = (struct timeval){0, TIMEO_US};
  CALL("select.timeout", select(nfds, &r, NULL, NULL, &tv));
  note_set("r", &r, fds, 4);
  note("tv=%s", tv_class(&tv, TIMEO_US));
  CALL("select.none", select(0, NULL, NULL, NULL, &tv));
  tv = (struct timeval){0, TIMEO_US};
  CALL("select.sleep", select(0, NULL, NULL, NULL, &tv));
  note("tv=%s", tv_class(&tv, TIMEO_US));
  /* a closed fd: EBADF, the sets left as they were (a number below the
   * others: select ignores fds past the end of the process's fd table) */
  int bad = dup(s[0]);
  T_OK(close(bad));
  FD_ZERO(&r);
  FD_SET(s[0], &r);
  FD_SET(bad, &r);
  tv = (struct timeval){1, 0};
  CALL("select.ebadf", select(bad >= nfds ? bad + 1 : nfds, &r, NULL, NULL,
                              &tv));
  note("bad=%d s0=%d", FD_ISSET(bad, &r), FD_ISSET(s[0], &r));
  note("tv=%s", tv_class(&tv, 1000000));
  CALL("select.nfds", select(-1, NULL, NULL, NULL, &tv));
  /* invalid and odd timeouts */
  struct rescue rs;
  rescue_arm(&rs, s[1], 300);
  FD_ZERO(&r);
  FD_SET(s[0], &r);
  tv = (struct timeval){-1, 0};
  CALL("select.negtv", select(nfds, &r, NULL, NULL, &tv));
  FD_ZERO(&r);
  FD_SET(s[0], &r);
  tv = (struct timeval){0, -1};
  CALL("select.negus", select(nfds, &r, NULL, NULL, &tv));
  rescue_disarm(&rs);
  FD_ZERO(&r);
  FD_SET(s[0], &r);
  tv = (struct timeval){0, 1010000}; /* normalised to 1.01 s */
  struct later l = {.data = "s"};
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("select.bigus", select(nfds, &r, NULL, NULL, &tv));
  note_set("r", &r, fds, 4);
  note("tv=%s", tv_class(&tv, 1010000));
  later_join(&l);
  char c;
  T_EQ(read(s[0], &c, 1), 1);
  /* no timeout, ready later */
  FD_ZERO(&r);
  FD_SET(s[0], &r);
  FD_SET(t[0], &r);
  later(&l, L_WRITE, s[1], LATER_MS);
  T_EQ(read(t[0], &c, 1), 1);
  CALL("select.later", select(nfds, &r, NULL, NULL, NULL));
  note_set("r", &r, fds, 4);
  later_join(&l);
  T_EQ(read(s[0], &c, 1), 1);
  /* the peer gone: readable; and one fd in every set */
  T_OK(close(s[1]));
  fds[1] = -1;
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_ZERO(&x);
  FD_SET(s[0], &r);
  FD_SET(s[0], &w);
  FD_SET(s[0], &x);
  tv = (struct timeval){1, 0};
  CALL("select.hup", select(nfds, &r, &w, &x, &tv));
  note_set("r", &r, fds, 4);
  note_set("w", &w, fds, 4);
  note_set("x", &x, fds, 4);
  closeall(3, s[0], t[0], t[1]);
}

static void c_select_more(void) {
  /* a pipe with no reader, a regular file, TCP urgent data */
  int pp[2];
  T_OK(pipe(pp));
  T_OK(close(pp[0]));
  int f = tmpfile_fd();
  int l, c, sv;
  tcp(&l, &c, &sv);
  T_EQ(send(c, "!", 1, MSG_OOB), 1);
  int fds[3] = {pp[1], f, sv};
  int nfds = 0;
  for (int i = 0; i < 3; i++)
    nfds = fds[i] >= nfds ? fds[i] + 1 : nfds;
  fd_set r, w, x;
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_ZERO(&x);
  FD_SET(pp[1], &w);
  FD_SET(f, &r);
  FD_SET(f, &w);
  FD_SET(sv, &x);
  struct timeval tv = {1, 0};
  CALL("select", select(nfds, &r, &w, &x, &tv));
  note_set("r", &r, fds, 3);
  note_set("w", &w, fds, 3);
  note_set("x", &x, fds, 3);
  /* urgent data arriving later */
  int l2, c2, s2;
  tcp(&l2, &c2, &s2);
  int fds2[1] = {s2};
  FD_ZERO(&r);
  FD_ZERO(&x);
  FD_SET(s2, &x);
  struct later lt = {0};
  later(&lt, L_OOB, c2, LATER_MS);
  CALL("select.oob.later", select(s2 + 1, &r, NULL, &x, NULL));
  note_set("x", &x, fds2, 1);
  later_join(&lt);
  closeall(3, l2, c2, s2);
  closeall(5, pp[1], f, l, c, sv);
}

static void c_fcntl(void) {
  int s[2];
  pair(s);
  int f = tmpfile_fd();
  int p[2];
  T_OK(pipe(p));
  CALL("getfl.sock", fcntl(s[0], F_GETFL));
  CALL("setfl.sock.nb", fcntl(s[0], F_SETFL, O_NONBLOCK));
  CALL("getfl.sock", fcntl(s[0], F_GETFL));
  CALL("setfl.sock.append", fcntl(s[0], F_SETFL, O_APPEND));
  CALL("getfl.sock", fcntl(s[0], F_GETFL));
  CALL("setfl.sock.0", fcntl(s[0], F_SETFL, 0));
  CALL("getfl.sock", fcntl(s[0], F_GETFL));
  CALL("getfl.file", fcntl(f, F_GETFL));
  CALL("setfl.file", fcntl(f, F_SETFL, O_APPEND | O_NONBLOCK));
  CALL("getfl.file", fcntl(f, F_GETFL));
  CALL("getfl.pipe", fcntl(p[0], F_GETFL));
  CALL("setfl.pipe", fcntl(p[0], F_SETFL, O_NONBLOCK));
  CALL("getfl.pipe", fcntl(p[0], F_GETFL));
  char c;
  CALL("read.pipe", read(p[0], &c, 1));
  CALL("getfd", fcntl(s[0], F_GETFD));
  CALL("setfd", fcntl(s[0], F_SETFD, FD_CLOEXEC));
  CALL("getfd", fcntl(s[0], F_GETFD));
  int d = CALLFD("dupfd", fcntl(s[0], F_DUPFD, 100));
  note("ge100=%d", d >= 100);
  CALL("getfd.dup", fcntl(d, F_GETFD));
  CALL("getfl.dup", fcntl(d, F_GETFL));
  int e = CALLFD("dupfd.cloexec", fcntl(s[0], F_DUPFD_CLOEXEC, 100));
  CALL("getfd.dup", fcntl(e, F_GETFD));
  CALL("dupfd.einval", fcntl(s[0], F_DUPFD, -1));
  CALL("setown", fcntl(s[0], F_SETOWN, -getpgrp()));
  long own = CALL("getown", fcntl(s[0], F_GETOWN)); /* -pgid: not an error */
  note("own_is_pgrp=%d", own == -getpgrp());
  WILD("getlk.efault", fcntl(f, F_GETLK, NULL));
  struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  CALL("getlk", fcntl(f, F_GETLK, &lk));
  note("l_type=%d", lk.l_type);
  /* the program's O_NONBLOCK round trip through ioctl */
  CALL("fionbio.on", ioctl(s[1], FIONBIO, &(int){1}));
  CALL("getfl", fcntl(s[1], F_GETFL));
  CALL("read.nb", read(s[1], &c, 1));
  CALL("fionbio.off", ioctl(s[1], FIONBIO, &(int){0}));
  CALL("getfl", fcntl(s[1], F_GETFL));
  struct later l = {.data = "f"};
  later(&l, L_WRITE, s[0], LATER_MS);
  CALL("read.block", read(s[1], &c, 1));
  later_join(&l);
  closeall(7, s[0], s[1], f, p[0], p[1], d, e);
}

/* dup'd fds share one open file: its O_NONBLOCK and its socket's
 * timeouts, whichever fd sets them. */
static void c_dup(void) {
  int s[2];
  pair(s);
  char c;
  int d = CALLFD("dup", dup(s[0]));
  CALL("getfl", fcntl(d, F_GETFL));
  CALL("getfd", fcntl(d, F_GETFD));
  CALL("setfl.orig.nb", fcntl(s[0], F_SETFL, O_RDWR | O_NONBLOCK));
  CALL("getfl.dup", fcntl(d, F_GETFL));
  struct rescue r;
  rescue_arm(&r, s[1], 300);
  CALL("read.dup", read(d, &c, 1));
  rescue_disarm(&r);
  CALL("setfl.dup.block", fcntl(d, F_SETFL, O_RDWR));
  CALL("getfl.orig", fcntl(s[0], F_GETFL));
  struct later l = {.data = "d"};
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("read.orig", read(s[0], &c, 1));
  later_join(&l);
  CALL("dup2.self", dup2(s[0], s[0]));
  CALL("dup2.bad.self", dup2(BADFD, BADFD));
  CALL("dup2.ebadf", dup2(BADFD, d));
  later(&l, L_WRITE, s[1], LATER_MS); /* d is as it was: blocking */
  CALL("read.after.ebadf", read(d, &c, 1));
  later_join(&l);
  CALL("dup2.neg", dup2(s[0], -1));
  int t[2];
  pair(t);
  CALL("dup2.over", dup2(s[0], t[0]) == t[0]); /* t[0] now names s[0]'s */
  CALL("write", write(s[1], "o", 1));
  CALL("read.over", read(t[0], &c, 1));
  note_bytes("got", &c, 1);
  CALL("dup2.free", dup2(s[0], BADFD) == BADFD);
  CALL("getfd", fcntl(BADFD, F_GETFD));
  CALL("close", close(BADFD));
  CALL("dup3.cloexec", dup3(s[0], d, O_CLOEXEC) == d);
  CALL("getfd", fcntl(d, F_GETFD));
  CALL("dup3.same", dup3(s[0], s[0], 0));
  CALL("dup3.flags", dup3(s[0], d, 0x1234));
  CALL("dup3.ebadf", dup3(BADFD, d, 0));
  /* a dup2 over an fd made non-blocking by the program */
  int u[2];
  pair(u);
  T_OK(fcntl(u[0], F_SETFL, O_RDWR | O_NONBLOCK));
  CALL("dup2.over.nb", dup2(s[0], u[0]) == u[0]);
  CALL("getfl", fcntl(u[0], F_GETFL));
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("read.over.nb", read(u[0], &c, 1));
  later_join(&l);
  closeall(7, s[0], s[1], d, t[0], t[1], u[0], u[1]);
}

static void c_sleep(void) {
  CALL("sleep0", sleep(0));
  CALL("usleep0", usleep(0));
  CALL("usleep", usleep(1000));
  struct timespec rem = {77, 77};
  CALL("nanosleep", nanosleep(&(struct timespec){0, 1000000}, &rem));
  note("rem=%ld.%ld", (long)rem.tv_sec, rem.tv_nsec);
  CALL("nanosleep0", nanosleep(&(struct timespec){0, 0}, &rem));
  CALL("nanosleep.nsec", nanosleep(&(struct timespec){0, 1000000000}, &rem));
  CALL("nanosleep.negnsec", nanosleep(&(struct timespec){0, -1}, &rem));
  CALL("nanosleep.negsec", nanosleep(&(struct timespec){-1, 0}, &rem));
  note("rem=%ld.%ld", (long)rem.tv_sec, rem.tv_nsec);
  CALL("nanosleep.norem", nanosleep(&(struct timespec){0, 1000}, NULL));
}

static void c_close(void) {
  int s[2];
  pair(s);
  CALL("close", close(s[0]));
  CALL("close.again", close(s[0]));
  char c;
  CALL("read.closed", read(s[0], &c, 1));
  CALL("write.peer", write(s[1], "x", 1));
  CALL("close.peer", close(s[1]));
  int f = tmpfile_fd();
  CALL("close.file", close(f));
}

static void c_pread(void) {
  int f = tmpfile_fd();
  char buf[16] = {0};
  CALL("pwrite", pwrite(f, "hello", 5, 10));
  long n = CALL("pread", pread(f, buf, 5, 10));
  note_bytes("got", buf, n);
  n = CALL("pread.hole", pread(f, buf, 4, 0));
  note_bytes("got", buf, n);
  CALL("pread.eof", pread(f, buf, 4, 100));
  CALL("pread.negoff", pread(f, buf, 4, -1));
  CALL("pwrite.negoff", pwrite(f, "x", 1, -1));
  CALL("lseek", lseek(f, 0, SEEK_CUR));
  WILD("pread.efault", pread(f, NULLP, 4, 10));
  int s[2];
  pair(s);
  CALL("pread.sock", pread(s[0], buf, 1, 0));
  CALL("pwrite.sock", pwrite(s[0], "x", 1, 0));
  int p[2];
  T_OK(pipe(p));
  CALL("pread.pipe", pread(p[0], buf, 1, 0));
  CALL("pwrite.pipe", pwrite(p[1], "x", 1, 0));
  struct later l = {.data = "p"}; /* the pipe still blocks */
  later(&l, L_WRITE, p[1], LATER_MS);
  CALL("read.pipe", read(p[0], buf, 1));
  later_join(&l);
  int ro = open("/proc/self/exe", O_RDONLY);
  T_GE(ro, 0);
  CALL("pwrite.rdonly", pwrite(ro, "x", 1, 0));
  int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
  T_GE(dir, 0);
  CALL("pread.dir", pread(dir, buf, 1, 0));
  /* O_APPEND: Linux appends whatever the offset */
  T_OK(fcntl(f, F_SETFL, O_APPEND));
  CALL("pwrite.append", pwrite(f, "Z", 1, 0));
  n = CALL("pread", pread(f, buf, 16, 10));
  note_bytes("got", buf, n);
  closeall(7, f, s[0], s[1], p[0], p[1], ro, dir);
}

static void note_ai(const char *label, int rc, struct addrinfo *ai) {
  char buf[512];
  size_t len = 0;
  buf[0] = 0;
  for (; rc == 0 && ai; ai = ai->ai_next) {
    char a[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ai->ai_family == AF_INET) {
      struct sockaddr_in *s = (struct sockaddr_in *)ai->ai_addr;
      inet_ntop(AF_INET, &s->sin_addr, a, sizeof a);
      port = ntohs(s->sin_port);
    } else if (ai->ai_family == AF_INET6) {
      struct sockaddr_in6 *s = (struct sockaddr_in6 *)ai->ai_addr;
      inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof a);
      port = ntohs(s->sin6_port);
    }
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d/%d/%d/%s/%d",
                            len ? "," : "", ai->ai_family, ai->ai_socktype,
                            ai->ai_protocol, a, port);
    if (len >= sizeof buf)
      break;
  }
  note("%s[%s]", label, buf);
}

/* getaddrinfo's result is its return value, and errno as libc's resolver
 * leaves it (it changes it on success too). */
#define GAI(label, node, service, hints)                                       \
  do {                                                                         \
    struct addrinfo *ai_ = NULL;                                               \
    struct res x_ = DO(getaddrinfo(node, service, hints, &ai_));               \
    rec(label, x_, 0);                                                         \
    note_ai("ai", (int)x_.r, ai_);                                             \
    if (x_.r == 0)                                                             \
      freeaddrinfo(ai_);                                                       \
  } while (0)

static void c_getaddrinfo(void) {
  struct addrinfo h4 = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
  GAI("localhost", "localhost", "80", &h4);
  struct addrinfo hs = {.ai_socktype = SOCK_DGRAM};
  GAI("localhost.any", "localhost", "53", &hs);
  GAI("numeric", "127.0.0.1", NULL, NULL);
  GAI("noname", "no-such-host.invalid", NULL, &h4);
  struct addrinfo hn = {.ai_flags = AI_NUMERICHOST};
  GAI("numerichost", "localhost", NULL, &hn);
  GAI("service", "localhost", "no-such-service", &h4);
  struct addrinfo hb = {.ai_flags = 0x7fff0000};
  GAI("badflags", "localhost", NULL, &hb);
  struct addrinfo hf = {.ai_family = 12345};
  GAI("family", "localhost", NULL, &hf);
  GAI("null", NULL, NULL, NULL);
  struct addrinfo hp = {.ai_flags = AI_PASSIVE, .ai_family = AF_INET,
                        .ai_socktype = SOCK_STREAM};
  GAI("passive", NULL, "8080", &hp);
}

static void note_hostent(const char *label, const struct hostent *h) {
  if (!h) {
    note("%s=NULL", label);
    return;
  }
  char a[INET6_ADDRSTRLEN] = "?";
  int naddr = 0;
  for (char **p = h->h_addr_list; *p; p++)
    naddr++;
  if (naddr)
    inet_ntop(h->h_addrtype, h->h_addr_list[0], a, sizeof a);
  note("%s={%s,%d,%d,%s,n=%d}", label, h->h_name, h->h_addrtype, h->h_length,
       a, naddr);
}

static void c_gethostbyname(void) {
  set_h_errno(SENTINEL);
  struct res x = DO((long)(intptr_t)gethostbyname("localhost"));
  note_hostent("localhost", (struct hostent *)(intptr_t)x.r);
  rec("errno", (struct res){0, x.e}, 0);
  note("h_errno=%d", get_h_errno());
  set_h_errno(SENTINEL);
  x = DO((long)(intptr_t)gethostbyname("no-such-host.invalid"));
  note_hostent("noname", (struct hostent *)(intptr_t)x.r);
  rec("errno", (struct res){0, x.e}, 0);
  note("h_errno=%d", get_h_errno());
  struct hostent he, *res = (struct hostent *)1;
  char buf[1024];
  int herr = SENTINEL;
  set_h_errno(SENTINEL);
  CALL("r.localhost",
       gethostbyname_r("localhost", &he, buf, sizeof buf, &res, &herr));
  note_hostent("res", res);
  note("herr=%d h_errno=%d", herr, get_h_errno());
  herr = SENTINEL;
  res = (struct hostent *)1;
  CALL("r.small", gethostbyname_r("localhost", &he, buf, 8, &res, &herr));
  note("res=%s herr=%d", res ? "set" : "NULL", herr);
  herr = SENTINEL;
  res = (struct hostent *)1;
  CALL("r.noname", gethostbyname_r("no-such-host.invalid", &he, buf,
                                   sizeof buf, &res, &herr));
  note("res=%s herr=%d", res ? "set" : "NULL", herr);
}

/* Odd reads and writes: empty ones, and arguments corun checks itself. */
static void c_io_odd(void) {
  int s[2];
  pair(s);
  char buf[8];
  struct iovec v = {buf, sizeof buf};
  CALL("readv.cnt0", readv(s[0], &v, 0));
  CALL("writev.cnt0", writev(s[1], &v, 0));
  /* recv of 0 bytes on a stream socket waits for data (read does not) */
  struct later l = {.data = "z"};
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("recv.len0", recv(s[0], buf, 0, 0));
  later_join(&l);
  CALL("read.len0", read(s[0], buf, 0));
  /* an address without its length: the kernel's EFAULT, after it took
   * the bytes */
  struct sockaddr_un sa;
  WILD("recvfrom.nolen", recvfrom(s[0], buf, sizeof buf, 0,
                                  (struct sockaddr *)&sa, NULL));
  CALL("recv.after", recv(s[0], buf, sizeof buf, MSG_DONTWAIT));
  struct sockaddr_un to = {.sun_family = AF_UNIX};
  CALL("sendto.isconn", sendto(s[1], "x", 1, 0, (struct sockaddr *)&to,
                               sizeof to));
  /* a pipe: libc's calls in every mode */
  int p[2];
  T_OK(pipe(p));
  CALL("write.pipe", write(p[1], "pipe", 4));
  struct iovec pv[2] = {{buf, 2}, {buf + 2, 6}};
  long n = CALL("readv.pipe", readv(p[0], pv, 2));
  note_bytes("got", buf, n);
  later(&l, L_WRITE, p[1], LATER_MS);
  CALL("read.pipe.later", read(p[0], buf, sizeof buf));
  later_join(&l);
  T_OK(close(p[0]));
  CALL("write.pipe.noreader", write(p[1], "x", 1));
  closeall(3, s[0], s[1], p[1]);
}

/* Descriptors passed over a unix socket (ancillary data). */
static void c_scm(void) {
  int s[2];
  pair(s);
  int p[2];
  T_OK(pipe(p));
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  memset(&u, 0, sizeof u);
  struct iovec v = {"fd", 2};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = u.buf,
                     .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[1], sizeof(int));
  CALL("sendmsg.scm", sendmsg(s[0], &m, 0));
  char buf[8];
  struct iovec rv = {buf, sizeof buf};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ru;
  struct msghdr rm = {.msg_iov = &rv, .msg_iovlen = 1, .msg_control = ru.buf,
                      .msg_controllen = sizeof ru.buf};
  long n = CALL("recvmsg.scm", recvmsg(s[1], &rm, MSG_WAITALL));
  note_bytes("got", buf, n);
  struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
  int fd = -1;
  if (rc && rc->cmsg_type == SCM_RIGHTS)
    memcpy(&fd, CMSG_DATA(rc), sizeof fd);
  note("controllen=%zu got_fd=%d", (size_t)rm.msg_controllen, fd >= 0);
  if (fd >= 0) {
    CALL("write.passed", write(fd, "!", 1));
    CALL("read.pipe", read(p[0], buf, 1));
    T_OK(close(fd));
  }
  /* MSG_WAITALL with room for ancillary data: the kernel waits for the
   * rest of plain data, and stops after data that carried descriptors */
  T_EQ(write(s[0], "ab", 2), 2);
  struct later l = {.data = "cd"};
  later(&l, L_WRITE, s[0], LATER_MS);
  rv = (struct iovec){buf, 4};
  rm = (struct msghdr){.msg_iov = &rv, .msg_iovlen = 1,
                       .msg_control = ru.buf, .msg_controllen = sizeof ru.buf};
  n = CALL("recvmsg.ctl.waitall", recvmsg(s[1], &rm, MSG_WAITALL));
  note_bytes("got", buf, n);
  note("controllen=%zu flags=%#x", (size_t)rm.msg_controllen,
       (unsigned)rm.msg_flags);
  later_join(&l);
  T_EQ(write(s[0], "e", 1), 1);
  l = (struct later){.fd2 = p[1]}; /* "fg" and p[1] */
  later(&l, L_SENDFD, s[0], LATER_MS);
  rv = (struct iovec){buf, 8};
  rm = (struct msghdr){.msg_iov = &rv, .msg_iovlen = 1,
                       .msg_control = ru.buf, .msg_controllen = sizeof ru.buf};
  n = CALL("recvmsg.ctl.fd", recvmsg(s[1], &rm, MSG_WAITALL));
  note_bytes("got", buf, n);
  rc = CMSG_FIRSTHDR(&rm);
  fd = -1;
  if (rc && rc->cmsg_type == SCM_RIGHTS)
    memcpy(&fd, CMSG_DATA(rc), sizeof fd);
  note("controllen=%zu got_fd=%d", (size_t)rm.msg_controllen, fd >= 0);
  if (fd >= 0)
    T_OK(close(fd));
  later_join(&l);
  T_EQ(write(s[0], "h", 1), 1);
  n = CALL("recv.rest", recv(s[1], buf, 8, MSG_DONTWAIT));
  note_bytes("got", buf, n);
  closeall(4, s[0], s[1], p[0], p[1]);
}

/* Timeouts that expire after part of the transfer: what was done. */
static void c_timeo_partial(void) {
  int s[2];
  pair(s);
  char buf[8];
  struct timeval tv = {0, TIMEO_US};
  T_OK(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  T_EQ(write(s[1], "ab", 2), 2);
  long n = CALL("recv.waitall", recv(s[0], buf, 4, MSG_WAITALL));
  note_bytes("got", buf, n);
  /* a write larger than the socket holds, nobody reading */
  enum { BIG = 1 << 22 };
  static char big[BIG];
  T_OK(setsockopt(s[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
  long w = CALL("write.big", write(s[1], big, BIG) > 0);
  (void)w;
  closeall(2, s[0], s[1]);
}

/* A unix-domain connect to a listener whose queue is full waits until the
 * listener accepts. */
static void c_unix_backlog(void) {
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  T_GE(l, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  /* an abstract name, unique to this process and mode */
  snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "corun_conform_%d_%d",
           (int)getpid(), (int)mode);
  socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                             strlen(a.sun_path + 1));
  T_OK(bind(l, (struct sockaddr *)&a, al));
  T_OK(listen(l, 0));
  nb(l);
  int c1 = socket(AF_UNIX, SOCK_STREAM, 0), c3 = socket(AF_UNIX, SOCK_STREAM, 0);
  nb(c1);
  nb(c3);
  CALL("connect.1", connect(c1, (struct sockaddr *)&a, al));
  /* the queue is full now (a backlog of 0 holds one): the next connect
   * waits for an accept, or its SO_SNDTIMEO (then EAGAIN) */
  struct later w = {0};
  struct timeval tv = {0, TIMEO_US};
  T_OK(setsockopt(c3, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
  CALL("connect.full.timeo", connect(c3, (struct sockaddr *)&a, al));
  tv.tv_usec = 0;
  T_OK(setsockopt(c3, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
  later(&w, L_ACCEPT, l, LATER_MS);
  CALL("connect.full", connect(c3, (struct sockaddr *)&a, al));
  later_join(&w);
  closeall(4, l, c1, c3, (int)w.result);
}

/* fds made behind the hooks' back (another library's system call): the
 * hooks learn them from the kernel at their first use. */
static void c_foreign_fd(void) {
  int s[2];
  T_OK((int)syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, s));
  char buf[8];
  CALL("getfl", fcntl(s[0], F_GETFL));
  struct later l = {.data = "f"};
  later(&l, L_WRITE, s[1], LATER_MS);
  CALL("read.later", read(s[0], buf, sizeof buf));
  later_join(&l);
  CALL("fionbio", ioctl(s[0], FIONBIO, &(int){1}));
  CALL("read.nb", read(s[0], buf, sizeof buf));
  CALL("getfl", fcntl(s[0], F_GETFL));
  int t[2];
  T_OK((int)syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
                    t));
  CALL("read.socknb", read(t[0], buf, sizeof buf));
  CALL("getfl", fcntl(t[0], F_GETFL));
  closeall(4, s[0], s[1], t[0], t[1]);
}

/* Writability that comes later: a full socket drained by its reader. */
static void c_out_later(void) {
  int s[2];
  pair(s);
  static char big[65536];
  long w;
  int rounds = 0;
  while ((w = send(s[0], big, sizeof big, MSG_DONTWAIT)) > 0 && rounds < 10000)
    rounds++;
  T_EQ(w, -1);
  struct pollfd p = {s[0], POLLOUT, 0};
  CALL("poll.full", poll(&p, 1, 0));
  struct later d = {0};
  later(&d, L_DRAIN, s[1], LATER_MS);
  CALL("poll.out", poll(&p, 1, 2000));
  note_revents("rev", &p, 1);
  fd_set ws;
  FD_ZERO(&ws);
  FD_SET(s[0], &ws);
  CALL("select.out", select(s[0] + 1, NULL, &ws, NULL, NULL));
  CALL("send", send(s[0], "x", 1, 0));
  T_OK(shutdown(s[0], SHUT_WR));
  later_join(&d);
  note("drained=%d", d.result > 0);
  closeall(2, s[0], s[1]);
}

/* MSG_PEEK|MSG_WAITALL: TCP waits until the whole buffer is queued, a
 * unix socket peeks what is there. The rest of the unix socket's data
 * comes from a rescue, not a later write: a call that a loaded machine
 * delays past a later's few ms would peek it too (task/2 got "abcd" once
 * under TSan in a parallel ctest). */
static void c_peek_waitall(void) {
  int l, c, sv;
  tcp(&l, &c, &sv);
  char buf[8] = {0};
  T_EQ(write(c, "ab", 2), 2);
  struct later w = {.data = "cd"};
  later(&w, L_WRITE, c, LATER_MS);
  long n = CALL("tcp", recv(sv, buf, 4, MSG_PEEK | MSG_WAITALL));
  note_bytes("got", buf, n);
  later_join(&w);
  n = CALL("tcp.read", recv(sv, buf, 4, MSG_WAITALL));
  note_bytes("got", buf, n);
  struct timeval tv = {0, TIMEO_US};
  T_OK(setsockopt(sv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  T_EQ(write(c, "e", 1), 1);
  n = CALL("tcp.timeo", recv(sv, buf, 4, MSG_PEEK | MSG_WAITALL));
  note_bytes("got", buf, n);
  int s[2];
  pair(s);
  T_EQ(write(s[1], "ab", 2), 2);
  struct rescue r;
  rescue_arm_data(&r, s[1], 300, "cd");
  n = CALL("unix", recv(s[0], buf, 4, MSG_PEEK | MSG_WAITALL));
  note_bytes("got", buf, n);
  rescue_disarm(&r);
  closeall(5, l, c, sv, s[0], s[1]);
}

/* Signals during a blocking socket call on a plain thread (outside any
 * task in every mode: in the "+nb" modes through the hooks' emulation of
 * blocking). The kernel ends it with EINTR when the handler has no
 * SA_RESTART, or when the socket has a timeout; else it goes on. */
static _Atomic int usr1s; /* (lock-free: async-signal-safe) */

static void count_usr1(int sig) {
  (void)sig;
  atomic_fetch_add(&usr1s, 1);
}

struct blocked {
  pthread_t th;
  int fd;
  _Atomic pid_t tid;
  struct res x;
};

static void *blocked_recv(void *arg) {
  struct blocked *b = arg;
  char buf[8];
  atomic_store(&b->tid, (pid_t)syscall(SYS_gettid));
  b->x = DO(recv(b->fd, buf, sizeof buf, 0));
  return NULL;
}

/* Whether thread tid sleeps in a system call now. */
static int asleep(pid_t tid) {
  char path[64], buf[64] = {0};
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  int ok = fgets(buf, sizeof buf, f) && strncmp(buf, "running", 7) != 0;
  fclose(f);
  return ok;
}

/* A recv blocked on s[0] in a plain thread gets a SIGUSR1 (its handler
 * with or without SA_RESTART); then a byte comes, which a recv that went
 * on returns. */
static void one_signal(const char *label, int s[2], int restart) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = count_usr1;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigemptyset(&sa.sa_mask);
  T_OK(sigaction(SIGUSR1, &sa, &old));
  atomic_store(&usr1s, 0);
  struct blocked b = {.fd = s[0]};
  T_OK(pthread_create(&b.th, NULL, blocked_recv, &b));
  while (!atomic_load(&b.tid) || !asleep(atomic_load(&b.tid)))
    ms_sleep(1);
  ms_sleep(2); /* (well inside the call) */
  T_OK(pthread_kill(b.th, SIGUSR1));
  while (!atomic_load(&usr1s))
    ms_sleep(1);
  ms_sleep(LATER_MS);
  T_EQ(write(s[1], "d", 1), 1);
  T_OK(pthread_join(b.th, NULL));
  rec(label, b.x, 0);
  char c;
  CALL("left", recv(s[0], &c, 1, MSG_DONTWAIT));
  T_OK(sigaction(SIGUSR1, &old, NULL));
}

static void c_signal(void) {
  /* Not under qemu-user (its /proc shows its own system calls), valgrind
   * (it has handlers of its own, without SA_RESTART) or the sanitizers
   * (they defer handlers, and see the counter as a race) */
  if (t_emulated() || no_wild || CONFORM_SANITIZER) {
    note("skipped");
    return;
  }
  int s[2];
  pair(s);
  one_signal("norestart", s, 0);
  one_signal("restart", s, 1);
  struct timeval tv = {5, 0}; /* a timeout: EINTR even with SA_RESTART */
  T_OK(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  one_signal("restart.timeo", s, 1);
  closeall(2, s[0], s[1]);
}

/* ---- the table ---------------------------------------------------------- */

static const struct {
  const char *name;
  void (*fn)(void);
} cases[] = {
    {"socket", c_socket},
    {"rw", c_rw},
    {"eof", c_eof},
    {"nonblock_own", c_nonblock_own},
    {"dontwait", c_dontwait},
    {"ebadf", c_ebadf},
    {"einval", c_einval},
    {"notsock", c_notsock},
    {"epipe", c_epipe},
    {"sigpipe", c_sigpipe},
    {"big_write", c_big_write},
    {"waitall", c_waitall},
    {"block_later", c_block_later},
    {"rcvtimeo", c_rcvtimeo},
    {"rcvtimeo_odd", c_rcvtimeo_odd},
    {"sndtimeo", c_sndtimeo},
    {"tcp", c_tcp},
    {"connect_refused", c_connect_refused},
    {"connect_nonblock", c_connect_nonblock},
    {"connect_timeout", c_connect_timeout},
    {"accept_later", c_accept_later},
    {"two_acceptors", c_two_acceptors},
    {"two_readers", c_two_readers},
    {"udp", c_udp},
    {"poll", c_poll},
    {"poll_later", c_poll_later},
    {"poll_hup", c_poll_hup},
    {"ppoll", c_ppoll},
    {"select", c_select},
    {"select_more", c_select_more},
    {"fcntl", c_fcntl},
    {"dup", c_dup},
    {"sleep", c_sleep},
    {"close", c_close},
    {"pread", c_pread},
    {"getaddrinfo", c_getaddrinfo},
    {"gethostbyname", c_gethostbyname},
    {"io_odd", c_io_odd},
    {"scm", c_scm},
    {"timeo_partial", c_timeo_partial},
    {"unix_backlog", c_unix_backlog},
    {"foreign_fd", c_foreign_fd},
    {"out_later", c_out_later},
    {"peek_waitall", c_peek_waitall},
    {"signal", c_signal},
    {"accept_timeo", c_accept_timeo},
    {"never_wait", c_never_wait},
    {"setfl_kernel", c_setfl_kernel},
    {"sendfile", c_sendfile},
};
#define NCASES (sizeof cases / sizeof cases[0])

static char *table[NMODES][NCASES];

/* The watchdog: a call that hangs ends the test, naming the case. */
static _Atomic int64_t case_deadline;
static _Atomic int case_now, case_mode, watchdog_stop;
static pthread_t watchdog_thread;

static void *watchdog(void *arg) {
  (void)arg;
  while (!atomic_load(&watchdog_stop)) {
    ms_sleep(20);
    int64_t d = atomic_load(&case_deadline);
    if (d && now_ns() > d) {
      fprintf(stderr, "HANG: case %s in mode %s\n",
              cases[atomic_load(&case_now)].name,
              mode_name[atomic_load(&case_mode)]);
      _exit(2);
    }
  }
  return NULL;
}
static int64_t mode_ns[NMODES];


/* Runs every case in the current mode, keeping each one's line. */
static void run_table(void) {
  int64_t t0 = now_ns();
  const char *times = getenv("CONFORM_TIMES"); /* per case, on stderr */
  const char *skip = getenv("CONFORM_SKIP");   /* "a,b": debugging */
  for (size_t i = 0; i < NCASES; i++) {
    line_len = 0;
    line[0] = 0;
    if (skip && strstr(skip, cases[i].name)) {
      table[mode][i] = strdup("skipped");
      continue;
    }
    int64_t c0 = now_ns();
    atomic_store(&case_now, (int)i);
    atomic_store(&case_mode, (int)mode);
    atomic_store(&case_deadline, c0 + (int64_t)10 * 1000000000);
    cases[i].fn();
    atomic_store(&case_deadline, 0);
    if (times)
      fprintf(stderr, "%-10s %-16s %7.3f s\n", mode_name[mode], cases[i].name,
              (double)(now_ns() - c0) / 1e9);
    table[mode][i] = strdup(line);
    T_TRUE(table[mode][i] != NULL);
    /* every case closes what it opens: the next starts from the same fds */
    T_TRUE(fcntl(BADFD, F_GETFD) < 0);
  }
  mode_ns[mode] = now_ns() - t0;
}

static void stop(void) {
  atomic_store(&watchdog_stop, 1);
  T_OK(pthread_join(watchdog_thread, NULL));
}

static void start(void) {
  signal(SIGPIPE, SIG_IGN); /* EPIPE alone, except in c_sigpipe */
  T_OK(pthread_create(&watchdog_thread, NULL, watchdog, NULL));
  T_TRUE(fcntl(BADFD, F_GETFD) < 0);
}

#ifdef CONFORM_PLAIN

/* The reference must be libc alone: neither corun nor the hooks loaded
 * (LD_PRELOAD, say), and each hooked name resolving outside them. */
static void check_plain(void) {
  T_TRUE(dlsym(RTLD_DEFAULT, "corun_main") == NULL);
  static const char *const names[] = {"read", "recv", "poll", "connect",
                                      "getaddrinfo", "nanosleep"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    Dl_info di;
    void *f = dlsym(RTLD_DEFAULT, names[i]);
    T_TRUE(f && dladdr(f, &di) && di.dli_fname);
    if (strstr(di.dli_fname, "corun")) {
      fprintf(stderr, "plain: %s comes from %s\n", names[i], di.dli_fname);
      abort();
    }
  }
}

int main(void) {
  mode = M_PLAIN;
  no_wild = getenv("CONFORM_NO_WILD") != NULL;
  check_plain();
  start();
  run_table();
  stop();
  for (size_t i = 0; i < NCASES; i++) {
    printf("%s: %s\n", cases[i].name, table[M_PLAIN][i]);
    free(table[M_PLAIN][i]);
  }
  return 0;
}

#else

/* Reads the plain program's table (libc without corun). */
static void load_plain(void) {
  unsetenv("LD_PRELOAD"); /* (the hooks, under TSan): libc alone there */
  FILE *f = popen(CONFORM_PLAIN_EXE, "r");
  T_TRUE(f != NULL);
  static char buf[sizeof line + 64];
  size_t i = 0;
  while (fgets(buf, sizeof buf, f)) {
    buf[strcspn(buf, "\n")] = 0;
    T_TRUE(i < NCASES);
    size_t nl = strlen(cases[i].name);
    T_TRUE(strncmp(buf, cases[i].name, nl) == 0 && buf[nl] == ':');
    table[M_PLAIN][i] = strdup(buf + nl + 2);
    i++;
  }
  int st = pclose(f);
  T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  T_EQ(i, NCASES);
}

static void *main_task(void *arg) {
  (void)arg;
  if (mode == M_OFF || mode == M_OFF_NB)
    T_EQ(corun_hooks_set(0), 1);
  run_table();
  return NULL;
}

static void run_tasks(enum mode m, unsigned workers) {
  mode = m;
  T_OK(corun_main(main_task, NULL, &(corun_config){.workers = workers}));
}

int main(int argc, char **argv) {
  int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
  no_wild = t_under_valgrind();
  if (no_wild)
    setenv("CONFORM_NO_WILD", "1", 1);
  start();
  int64_t t0 = now_ns();
  load_plain();
  mode_ns[M_PLAIN] = now_ns() - t0;
  mode = M_OUTSIDE;
  run_table();
  mode = M_OUTSIDE_NB;
  run_table();
  run_tasks(M_TASK1, 1);
  run_tasks(M_TASK2, 2);
  run_tasks(M_OFF, 2);
  run_tasks(M_OFF_NB, 2);
  stop();
  int bad = 0;
  for (size_t i = 0; i < NCASES; i++) {
    if (verbose)
      printf("%-16s %s\n", cases[i].name, table[M_PLAIN][i]);
    for (int m = 1; m < NMODES; m++)
      if (strcmp(table[m][i], table[M_PLAIN][i]) != 0) {
        printf("DIFF %s [%s]\n  %-10s %s\n  %-10s %s\n", cases[i].name,
               mode_name[m], "plain", table[M_PLAIN][i], mode_name[m],
               table[m][i]);
        bad++;
      }
  }
  for (int m = 0; m < NMODES; m++)
    printf("%-10s %6.3f s\n", mode_name[m], (double)mode_ns[m] / 1e9);
  printf("%zu cases x %d modes: %d differences\n", NCASES, NMODES - 1, bad);
  for (int m = 0; m < NMODES; m++)
    for (size_t i = 0; i < NCASES; i++)
      free(table[m][i]);
  return bad ? 1 : 0;
}

#endif
