/* echo_load.c: the closed-loop load generator of the TCP echo benchmark
 * (bench/net/run.sh). wrk only speaks HTTP, so the echo servers (corun's
 * examples/echo_server.c, epoll_echo.c, bench/go/echo.go) get this client:
 * it must cost little CPU per message, because it shares the machine with
 * the server (run.sh pins it to CPU 1 and the server to CPU 0), and it must
 * check every byte, so that a fast but wrong server cannot win.
 *
 * Usage: echo_load [-c CONNS] [-d SECONDS] [-s BYTES] PORT
 *   -c CONNS    connections (default 100)
 *   -d SECONDS  measured duration (default 10; fractions allowed)
 *   -s BYTES    message size (default 64, at most MAX_MSG)
 * Connects CONNS sockets to 127.0.0.1:PORT (before the clock starts), then
 * each connection, in a closed loop: send one message, wait until all its
 * bytes have come back, compare them with what was sent, repeat. A
 * message counts when its echo is complete before the end of the run.
 *
 * One thread, one level-triggered epoll instance, one read() and at most
 * one write() per wake-up of a connection. Every message has different
 * contents (a function of the connection and the sequence number), so an
 * echo of a stale or another connection's message is caught.
 *
 * Round-trip time: from the clock read taken just after the epoll_wait()
 * that led to the send to the clock read just after the epoll_wait() that
 * returned the last byte of the echo; one clock read per epoll_wait() keeps
 * the client cheap. Latencies go into a log-linear histogram (64 buckets per
 * power of two: within 1.6 %); p50 and p99 are read from it.
 *
 * Output, one line on stdout (run.sh parses it; the keys are stable):
 *   echo_load: conns=100 size=64 secs=10.000 msgs=3012345
 *   msgs_per_s=301234 p50_us=310.2 p99_us=520.9 errors=0
 * (all on one line). Exit status 0 when every echo was right and no
 * connection failed, 1 otherwise (the figures are printed still), 2 on a
 * usage error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A message fits an empty socket buffer: a write() is never short. */
#define MAX_MSG 4096
#define MAX_EVENTS 512 /* events per epoll_wait */

struct lconn {
  int fd;              /* -1 once failed and closed */
  uint32_t id;         /* connection number, part of every message */
  uint32_t seq;        /* sequence number of the message in flight */
  size_t got;          /* bytes of its echo received so far */
  int64_t sent_ns;     /* when it was sent */
  unsigned char *msg;  /* what was sent */
  unsigned char *back; /* what came back */
};

/* ---- latency histogram ---------------------------------------------------
 * Values below 128 ns have a bucket each; above, a power of two [2^e,
 * 2^(e+1)) is split into 64 equal buckets. 64-bit values need at most
 * 128 + 57 * 64 buckets. */
#define SUB 64
#define NBUCKETS (2 * SUB + 57 * SUB)
static uint64_t hist[NBUCKETS];
static uint64_t hist_n;

static unsigned bucket_of(uint64_t v) {
  if (v < 2 * SUB)
    return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* e >= 7 */
  return 2 * SUB + (e - 7) * SUB + (unsigned)((v >> (e - 6)) & (SUB - 1));
}

/* The middle of bucket b, in ns. */
static double bucket_mid(unsigned b) {
  if (b < 2 * SUB)
    return b;
  unsigned e = (b - 2 * SUB) / SUB + 7, sub = (b - 2 * SUB) % SUB;
  double lo = (double)((uint64_t)(SUB + sub) << (e - 6));
  return lo + (double)(1ull << (e - 6)) / 2;
}

/* The q-quantile (0 < q < 1) in microseconds; 0 without samples. */
static double quantile_us(double q) {
  if (hist_n == 0)
    return 0;
  uint64_t rank = (uint64_t)(q * (double)hist_n);
  if (rank >= hist_n)
    rank = hist_n - 1;
  uint64_t seen = 0;
  for (unsigned b = 0; b < NBUCKETS; b++) {
    seen += hist[b];
    if (seen > rank)
      return bucket_mid(b) / 1000.0;
  }
  return 0;
}

/* ---- the client --------------------------------------------------------- */

static size_t msg_size = 64;
static long errors;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(void) {
  fprintf(stderr, "usage: echo_load [-c CONNS] [-d SECONDS] [-s BYTES] PORT\n");
  exit(2);
}

static void fail(struct lconn *c, const char *why) {
  fprintf(stderr, "echo_load: connection %u: %s\n", c->id, why);
  errors++;
  close(c->fd); /* also removes it from the epoll set */
  c->fd = -1;
}

/* Fills c->msg with message c->seq of connection c->id and sends it. */
static void send_msg(struct lconn *c, int64_t now) {
  for (size_t k = 0; k < msg_size; k++)
    c->msg[k] = (unsigned char)(c->id * 131u + c->seq * 7u + k);
  c->got = 0;
  c->sent_ns = now;
  ssize_t w = write(c->fd, c->msg, msg_size);
  if (w != (ssize_t)msg_size)
    fail(c, w < 0 ? strerror(errno) : "short write");
}

int main(int argc, char **argv) {
  long conns = 100;
  double secs = 10;
  int opt;
  while ((opt = getopt(argc, argv, "c:d:s:")) != -1) {
    switch (opt) {
    case 'c':
      conns = atol(optarg);
      break;
    case 'd':
      secs = atof(optarg);
      break;
    case 's':
      msg_size = (size_t)atol(optarg);
      break;
    default:
      usage();
    }
  }
  if (optind != argc - 1 || conns <= 0 || secs <= 0 || msg_size == 0 ||
      msg_size > MAX_MSG)
    usage();
  int port = atoi(argv[optind]);
  if (port <= 0 || port > 65535)
    usage();
  signal(SIGPIPE, SIG_IGN); /* a server that closed: write() gets EPIPE */

  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct lconn *cs = calloc((size_t)conns, sizeof *cs);
  unsigned char *bufs = malloc((size_t)conns * 2 * msg_size);
  if (epfd < 0 || !cs || !bufs) {
    perror("echo_load: setup");
    return 1;
  }
  /* Connect them all first (blocking connect, then non-blocking I/O), so
   * connection set-up is not part of the measured time. */
  for (long i = 0; i < conns; i++) {
    struct lconn *c = &cs[i];
    c->id = (uint32_t)i;
    c->msg = bufs + (size_t)i * 2 * msg_size;
    c->back = c->msg + msg_size;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
      fprintf(stderr, "echo_load: connect to 127.0.0.1:%d: %s\n", port,
              strerror(errno));
      return 1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
      perror("echo_load: epoll_ctl");
      return 1;
    }
  }

  int64_t start = now_ns();
  int64_t end = start + (int64_t)(secs * 1e9);
  uint64_t msgs = 0;
  for (long i = 0; i < conns; i++)
    send_msg(&cs[i], start);

  struct epoll_event evs[MAX_EVENTS];
  int64_t now = start;
  while (now < end) {
    int ms = (int)((end - now + 999999) / 1000000);
    int n = epoll_wait(epfd, evs, MAX_EVENTS, ms);
    if (n < 0 && errno != EINTR) {
      perror("echo_load: epoll_wait");
      return 1;
    }
    now = now_ns();
    if (now >= end)
      break; /* echoes that arrive after the end do not count */
    for (int i = 0; i < n; i++) {
      struct lconn *c = evs[i].data.ptr;
      if (c->fd < 0)
        continue;
      ssize_t r = read(c->fd, c->back + c->got, msg_size - c->got);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN)
          continue;
        fail(c, r == 0 ? "closed by the server" : strerror(errno));
        continue;
      }
      c->got += (size_t)r;
      if (c->got < msg_size)
        continue;
      if (memcmp(c->msg, c->back, msg_size) != 0) {
        fail(c, "echo differs from the message sent");
        continue;
      }
      msgs++;
      hist[bucket_of((uint64_t)(now - c->sent_ns))]++;
      hist_n++;
      c->seq++;
      send_msg(c, now);
    }
  }
  double elapsed = (double)(now - start) / 1e9;
  for (long i = 0; i < conns; i++)
    if (cs[i].fd >= 0)
      close(cs[i].fd);

  printf("echo_load: conns=%ld size=%zu secs=%.3f msgs=%llu msgs_per_s=%.0f "
         "p50_us=%.1f p99_us=%.1f errors=%ld\n",
         conns, msg_size, elapsed, (unsigned long long)msgs,
         (double)msgs / elapsed, quantile_us(0.50), quantile_us(0.99), errors);
  free(bufs);
  free(cs);
  return errors ? 1 : 0;
}
