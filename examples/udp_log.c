/* udp_log.c: a UDP log collector that shuts down on SIGTERM, in blocking
 * style: datagrams, a regular file, a signal and a blocking library call,
 * all from tasks.
 *
 * Clients send log lines as datagrams and wait for an acknowledgement,
 * sending again when none comes in time (UDP may drop; the collector
 * drops duplicates). The collector appends each new line to a file and
 * acknowledges every datagram it gets. A watcher task waits for SIGTERM
 * on a signalfd and then closes the collector's socket, which wakes the
 * collector's pending receive with -EBADF: its signal to stop. What each
 * call shows:
 *  - corun_recvfrom / corun_sendto / corun_recv: datagrams, with a deadline
 *    on the wait for an acknowledgement;
 *  - corun_writev: a line's header and text written in one call to a
 *    regular file (io_uring or a helper thread: a disk never says EAGAIN);
 *  - corun_wait_fd and corun_read on a signalfd: a signal as an event
 *    (SIGTERM is blocked in every thread, so it waits there);
 *  - corun_close while another task waits on the fd;
 *  - corun_offload: fsync(2), which blocks with no fd to wait on, runs on a
 *    helper thread while the task waits;
 *  - corun_pread: the file read back at offsets, to check it.
 * Once the clients are done, main sends SIGTERM to its own process, as an
 * operator's `kill` would.
 *
 * Usage: udp_log [LINES]   per client (default 50). Exits 1 unless the
 * file holds every line exactly once and the collector stopped on -EBADF. */
#include <arpa/inet.h>
#include <corun.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CLIENTS 20
#define ACK_WAIT_NS 50000000 /* before sending a line again */
#define MAX_TRIES 40
#define LINE_MAX 128

static long lines_each;
static int collector_fd; /* the collector's socket, closed by the watcher */
static struct sockaddr_in collector_addr;
static int log_fd;
static unsigned char *logged; /* [client * lines_each + seq]: 0 or 1 */
static long logged_lines, log_bytes, duplicates; /* the collector's */
static _Atomic long resent; /* by all clients, on two workers */

static void check(long rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "udp_log: %s: %s\n", what, corun_strerror((int)rc));
    exit(1);
  }
}

/* Returns the result of the receive that ended it: -EBADF when the
 * watcher closed the socket. */
static void *collector(void *unused) {
  (void)unused;
  char buf[LINE_MAX];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    ssize_t n = corun_recvfrom(collector_fd, buf, sizeof buf - 1, 0,
                               (struct sockaddr *)&from, &fromlen, -1);
    if (n < 0)
      return (void *)(intptr_t)n;
    buf[n] = '\0';
    int client, seq, textpos = 0;
    if (sscanf(buf, "%d %d %n", &client, &seq, &textpos) != 2 || !textpos ||
        client < 0 || client >= CLIENTS || seq < 0 || seq >= lines_each)
      continue; /* not ours */
    unsigned char *seen = &logged[(long)client * lines_each + seq];
    if (*seen) {
      duplicates++; /* its acknowledgement was lost or late: ack again */
    } else {
      char head[32];
      int hn = snprintf(head, sizeof head, "[client %d #%d] ", client, seq);
      buf[n] = '\n';
      struct iovec iov[2] = {{head, (size_t)hn},
                             {buf + textpos, (size_t)(n - textpos) + 1}};
      ssize_t w = corun_writev(log_fd, iov, 2, -1);
      check(w, "write the log");
      if (w != (ssize_t)(iov[0].iov_len + iov[1].iov_len)) {
        fprintf(stderr, "udp_log: short write to the log\n");
        exit(1);
      }
      *seen = 1;
      logged_lines++;
      log_bytes += w;
    }
    char ack[32];
    int an = snprintf(ack, sizeof ack, "ack %d %d", client, seq);
    /* A lost acknowledgement is the client's to handle: it sends again. */
    corun_sendto(collector_fd, ack, (size_t)an, 0, (struct sockaddr *)&from,
                 fromlen, corun_deadline_in(ACK_WAIT_NS));
  }
}

static void *client(void *arg) {
  int id = (int)(intptr_t)arg;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  check(fd < 0 ? -errno : 0, "client socket");
  for (long seq = 0; seq < lines_each; seq++) {
    char line[LINE_MAX], want[32], got[32];
    int ln = snprintf(line, sizeof line, "%d %ld sensor %d reads %ld.%ld C", id,
                      seq, id, 15 + (id * 7 + seq) % 20, seq % 10);
    snprintf(want, sizeof want, "ack %d %ld", id, seq);
    int acked = 0;
    for (int tries = 0; !acked && tries < MAX_TRIES; tries++) {
      if (tries)
        atomic_fetch_add(&resent, 1);
      check(corun_sendto(fd, line, (size_t)ln, 0,
                         (struct sockaddr *)&collector_addr,
                         sizeof collector_addr, -1),
            "send a line");
      int64_t deadline = corun_deadline_in(ACK_WAIT_NS);
      for (;;) { /* acks of earlier sends of older lines are skipped */
        ssize_t n = corun_recv(fd, got, sizeof got - 1, 0, deadline);
        if (n == -ETIMEDOUT)
          break; /* send it again */
        check(n, "receive an ack");
        got[n] = '\0';
        if (strcmp(got, want) == 0) {
          acked = 1;
          break;
        }
      }
    }
    if (!acked) {
      fprintf(stderr, "udp_log: client %d: line %ld never acknowledged\n", id,
              seq);
      exit(1);
    }
  }
  check(corun_close(fd), "close client socket");
  return NULL;
}

/* Waits (up to 10 s) for SIGTERM, then stops the collector. */
static void *watcher(void *arg) {
  int sfd = (int)(intptr_t)arg;
  int rc = corun_wait_fd(sfd, CORUN_FD_IN, corun_deadline_in(10000000000));
  check(rc, "wait for SIGTERM");
  struct signalfd_siginfo si;
  check(corun_read(sfd, &si, sizeof si, 0), "read the signal");
  printf("udp_log: got signal %u (SIGTERM is %d): closing the collector\n",
         si.ssi_signo, SIGTERM);
  check(corun_close(collector_fd), "close collector socket");
  return NULL;
}

struct sync_arg {
  int fd, rc;
};

static void do_fsync(void *p) { /* on a helper thread */
  struct sync_arg *a = p;
  a->rc = fsync(a->fd) < 0 ? -errno : 0;
}

/* Reads the log back and checks that it holds each line exactly once.
 * Returns 1 if it does. */
static int check_log(void) {
  char *text = malloc((size_t)log_bytes + 1);
  if (!text)
    return 0;
  off_t off = 0;
  while (off < log_bytes) {
    ssize_t n =
        corun_pread(log_fd, text + off, (size_t)(log_bytes - off), off, -1);
    check(n, "read the log back");
    if (n == 0)
      break; /* shorter than written */
    off += n;
  }
  text[off] = '\0';
  unsigned char *count = calloc((size_t)(CLIENTS * lines_each), 1);
  long lines = 0;
  int ok = count && off == log_bytes;
  for (char *p = text, *nl; ok && (nl = strchr(p, '\n')); p = nl + 1) {
    int c, s;
    if (sscanf(p, "[client %d #%d]", &c, &s) != 2 || c < 0 || c >= CLIENTS ||
        s < 0 || s >= lines_each || count[(long)c * lines_each + s]++)
      ok = 0;
    lines++;
  }
  free(count);
  free(text);
  return ok && lines == CLIENTS * lines_each;
}

struct run {
  int signal_fd;
  int collector_rc; /* what its last receive returned */
  int log_ok;
};

static void *main_task(void *arg) {
  struct run *out = arg;
  int sfd = out->signal_fd;
  corun_task *col, *wat, *cl[CLIENTS];
  check(corun_spawn(&col, collector, NULL, NULL), "spawn collector");
  check(corun_spawn(&wat, watcher, (void *)(intptr_t)sfd, NULL),
        "spawn watcher");
  for (int i = 0; i < CLIENTS; i++)
    check(corun_spawn(&cl[i], client, (void *)(intptr_t)i, NULL),
          "spawn client");
  for (int i = 0; i < CLIENTS; i++)
    check(corun_join(cl[i], NULL), "join client");
  check(kill(getpid(), SIGTERM) < 0 ? -errno : 0, "kill"); /* "operator" */
  void *rc;
  check(corun_join(wat, NULL), "join watcher");
  check(corun_join(col, &rc), "join collector");
  out->collector_rc = (int)(intptr_t)rc;
  struct sync_arg sa = {log_fd, 0};
  check(corun_offload(do_fsync, &sa), "offload");
  check(sa.rc, "fsync");
  out->log_ok = check_log();
  return NULL;
}

int main(int argc, char **argv) {
  lines_each = argc > 1 ? atol(argv[1]) : 50;
  if (lines_each <= 0 || lines_each > 100000) {
    fprintf(stderr, "usage: udp_log [LINES in 1..100000]\n");
    return 2;
  }
  logged = calloc((size_t)(CLIENTS * lines_each), 1);
  /* SIGTERM blocked before corun_main starts its threads, which inherit
   * the mask: so the signal waits for the signalfd in every thread. */
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  check(-pthread_sigmask(SIG_BLOCK, &term, NULL), "block SIGTERM");
  int sfd = signalfd(-1, &term, SFD_CLOEXEC);
  check(sfd < 0 ? -errno : 0, "signalfd");

  collector_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  check(collector_fd < 0 ? -errno : 0, "socket");
  collector_addr.sin_family = AF_INET;
  collector_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof collector_addr;
  check(bind(collector_fd, (struct sockaddr *)&collector_addr, alen) < 0 ||
                getsockname(collector_fd, (struct sockaddr *)&collector_addr,
                            &alen) < 0
            ? -errno
            : 0,
        "bind");

  char path[] = "/tmp/udp_log.XXXXXX";
  log_fd = mkstemp(path);
  check(log_fd < 0 ? -errno : 0, "mkstemp");
  unlink(path); /* gone when closed */

  struct run out = {.signal_fd = sfd};
  int64_t t0 = corun_now();
  check(corun_main(main_task, &out, NULL), "corun_main");
  double ms = (double)(corun_now() - t0) / 1e6;
  check(corun_close(sfd), "close signalfd");
  check(corun_close(log_fd), "close log");
  free(logged);

  int ok = out.log_ok && out.collector_rc == -EBADF &&
           logged_lines == CLIENTS * lines_each;
  printf("udp_log: %d clients x %ld lines: %ld logged, %ld bytes, %ld sent "
         "again, %ld duplicates dropped, in %.1f ms\n",
         CLIENTS, lines_each, logged_lines, log_bytes, atomic_load(&resent),
         duplicates, ms);
  printf("udp_log: collector stopped by %s; the log read back holds every "
         "line once: %s\n",
         corun_strerror(out.collector_rc), ok ? "yes" : "NO");
  return ok ? 0 : 1;
}
