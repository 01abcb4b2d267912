/* drained.c: IO on a TCP connection right after a short read or write.
 *
 * Why: under epoll, a blocking call that follows a short read (or write)
 * on a TCP socket skips its try and waits for the next readiness event at
 * once (io.c, run_io): the buffer was empty (or full) and only an event
 * can change that. If that reasoning missed a case,
 * the task would wait for an event that never comes. These are the cases,
 * each right after a short call in the same direction:
 *  - more data comes: it is read, byte for byte (a ping-pong of random
 *    sizes, the keep-alive server's pattern; read or recv);
 *  - data and the peer's FIN come together, or the FIN alone: the data,
 *    then 0, and 0 again;
 *  - the peer resets (SO_LINGER 0): -ECONNRESET, or 0 if the kernel had
 *    already taken the FIN-less close as EOF;
 *  - a write that filled the send buffer (short): the next write waits
 *    for room and the peer gets every byte; if the peer resets instead,
 *    the write returns an error;
 *  - the other side of the same fd: a short read does not hold up a write
 *    (each direction is separate);
 *  - deadlines: data that is there when the deadline has already passed
 *    is returned (not -ETIMEDOUT), and with no data the call times out
 *    (after a short read and after a short recv); a read of 0 bytes
 *    returns 0 at once;
 *  - TCP urgent data: a read stops short at its mark with the rest of
 *    the data already there, and the next read must still find it (epoll
 *    sees no event for it: it came before the short read); a MSG_OOB
 *    receive after a short one tries at once (no event may come either);
 *  - MSG_DONTWAIT: a receive with it returns the data that is there (under
 *    io_uring a request marked to wait for readiness first answered
 *    EAGAIN), and with no data -EAGAIN at once, whatever the deadline
 *    (epoll used to wait for it).
 * Every variant runs with 1 and 2 workers and with the peer's step made
 * at once, after a yield, or after a short sleep, to vary which comes
 * first: the event or the wait. A watchdog alarm reports the stage that
 * hangs.
 * The same assertions hold on io_uring, where nothing is skipped. */
#include <signal.h>
#include <string.h>

#include "io_test.h"

static struct sockaddr_in addr;
static int lfd;
static atomic_int stage; /* for the watchdog's message */
static const char *const stage_name[] = {"setup",
                                         "ping-pong",
                                         "data then FIN",
                                         "FIN alone",
                                         "reset",
                                         "short write",
                                         "short write then reset",
                                         "both directions",
                                         "deadlines",
                                         "MSG_DONTWAIT",
                                         "urgent data"};

static void on_alarm(int sig) {
  (void)sig;
  char msg[96];
  int n = snprintf(msg, sizeof msg, "drained: hangs at \"%s\"\n",
                   stage_name[atomic_load(&stage)]);
  ssize_t w = write(2, msg, (size_t)n);
  (void)w;
  abort();
}

/* The peer's step comes at once, after a yield, or after 100 us. */
static void pace(int how) {
  if (how == 1)
    corun_yield(NULL);
  else if (how == 2)
    T_OK(corun_sleep(100000));
}

/* A connected pair: *a dialled, *b accepted. */
static void pair(int *a, int *b) {
  *a = io_dial(&addr);
  *b = (int)corun_accept(lfd, NULL, NULL, corun_now() + 10000 * MS);
  T_GE(*b, 0);
}

/* Reads until n bytes are in buf, each read offering all of buf's cap
 * left (so that reads come out short, which is what is under test). */
static void read_short(int fd, unsigned char *buf, size_t cap, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = corun_read(fd, buf + got, cap - got, -1);
    T_GT(r, 0);
    got += (size_t)r;
  }
  T_EQ(got, n);
}

static unsigned char pattern(size_t k, unsigned seed) {
  return (unsigned char)(k * 131 + seed);
}

/* ---- ping-pong: each side reads what the other wrote, short reads ---- */

struct pp {
  int fd;
  int rounds;
  int pace;
  unsigned seed;
};

static void *pp_answer(void *arg) {
  struct pp *p = arg;
  char buf[4096];
  for (;;) {
    /* short: drained (recv marks it as read does; every other game) */
    ssize_t r = p->seed & 1 ? corun_recv(p->fd, buf, sizeof buf, 0, -1)
                            : corun_read(p->fd, buf, sizeof buf, -1);
    T_GE(r, 0);
    if (r == 0) {
      T_EQ(shutdown(p->fd, SHUT_WR), 0); /* EOF for EOF */
      return NULL;
    }
    pace(p->pace);
    T_EQ(corun_write_all(p->fd, buf, (size_t)r, -1), r); /* echo it */
  }
}

static void ping_pong(int how, unsigned seed) {
  atomic_store(&stage, 1);
  int a, b;
  pair(&a, &b);
  struct pp p = {.fd = b, .pace = how, .seed = seed};
  corun_task *t;
  T_OK(corun_spawn(&t, pp_answer, &p, NULL));
  unsigned rng = seed;
  for (int round = 0; round < 200; round++) {
    unsigned char out[1500], in[1500];
    rng = rng * 1103515245u + 12345u;
    size_t n = 1 + (rng >> 8) % sizeof out;
    for (size_t k = 0; k < n; k++)
      out[k] = pattern(k, rng);
    T_EQ(corun_write_all(a, out, n, -1), (ssize_t)n);
    read_short(a, in, sizeof in, n); /* the echo may come in pieces */
    T_EQ(memcmp(in, out, n), 0);
  }
  T_EQ(shutdown(a, SHUT_WR), 0);
  T_OK(corun_join(t, NULL));
  char c;
  T_EQ(corun_read(a, &c, 1, -1), 0); /* the answerer's own shutdown */
  T_OK(corun_close(a));
  T_OK(corun_close(b));
}

/* ---- the peer ends the connection after a short read ----------------- */

struct ender {
  int fd;
  int pace;
  int what; /* 0: data then FIN, 1: FIN alone, 2: reset */
};

static void *end_peer(void *arg) {
  struct ender *e = arg;
  pace(e->pace);
  if (e->what == 0)
    T_EQ(corun_write(e->fd, "tail", 4, -1), 4);
  if (e->what == 2) {
    struct linger l = {1, 0};
    T_EQ(setsockopt(e->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    T_OK(corun_close(e->fd));
  } else {
    T_EQ(shutdown(e->fd, SHUT_WR), 0);
  }
  return NULL;
}

static void peer_ends(int how, int what) {
  atomic_store(&stage, 2 + what);
  int a, b;
  pair(&a, &b);
  char buf[256];
  T_EQ(corun_write(b, "head", 4, -1), 4);
  T_EQ(corun_read(a, buf, sizeof buf, -1), 4); /* short: drained */
  struct ender e = {.fd = b, .pace = how, .what = what};
  corun_task *t;
  T_OK(corun_spawn(&t, end_peer, &e, NULL));
  if (what == 0) { /* "head" came short of 256: drained; now the rest */
    read_short(a, (unsigned char *)buf, sizeof buf, 4);
    T_EQ(memcmp(buf, "tail", 4), 0);
  }
  ssize_t r = corun_read(a, buf, sizeof buf, -1);
  if (what == 2)
    T_TRUE(r == -ECONNRESET || r == 0);
  else
    T_EQ(r, 0);
  if (what != 2)
    T_EQ(corun_read(a, buf, sizeof buf, -1), 0); /* EOF stays */
  T_OK(corun_join(t, NULL));
  T_OK(corun_close(a));
  if (what != 2)
    T_OK(corun_close(b));
}

/* ---- short writes ----------------------------------------------------- */

#define BULK (4 << 20) /* far more than the socket buffers hold */
#define SMALL_BUF 32768  /* SO_SNDBUF and SO_RCVBUF: writes come out short */

struct drain {
  int fd;
  int pace;
  int reset; /* reset after the first read instead of reading it all */
  unsigned char *buf;
};

static void *drain_peer(void *arg) {
  struct drain *d = arg;
  size_t got = 0;
  while (got < BULK) {
    pace(d->pace);
    size_t want = BULK - got < 65536 ? BULK - got : 65536;
    ssize_t r = corun_read(d->fd, d->buf + got, want, -1);
    T_GT(r, 0);
    got += (size_t)r;
    if (d->reset) {
      struct linger l = {1, 0};
      T_EQ(setsockopt(d->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
      T_OK(corun_close(d->fd));
      return NULL;
    }
  }
  return NULL;
}

static void short_writes(int how, int reset, unsigned char *out,
                         unsigned char *in) {
  atomic_store(&stage, 5 + reset);
  int a, b;
  pair(&a, &b);
  int small = SMALL_BUF;
  T_EQ(setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  T_EQ(setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  struct drain d = {.fd = b, .pace = how, .reset = reset, .buf = in};
  corun_task *t;
  T_OK(corun_spawn(&t, drain_peer, &d, NULL));
  size_t done = 0;
  int shorts = 0;
  ssize_t w = 0;
  while (done < BULK) {
    w = corun_write(a, out + done, BULK - done, -1);
    if (w < 0)
      break;
    shorts += (size_t)w < BULK - done;
    done += (size_t)w;
  }
  T_OK(corun_join(t, NULL));
  if (reset) {
    /* the reset reaches the writer as an error (the first write may have
     * been short and the next one failed, or a later one) */
    T_TRUE(w == -ECONNRESET || w == -EPIPE);
  } else {
    T_GT(shorts, 0); /* the case under test did happen */
    T_EQ(done, (size_t)BULK);
    T_EQ(memcmp(in, out, BULK), 0);
    T_OK(corun_close(b));
  }
  T_OK(corun_close(a));
}

/* ---- a short read does not hold up a write on the same fd ------------ */

static void *both_reader(void *arg) {
  int fd = *(int *)arg;
  char buf[64];
  T_EQ(corun_read(fd, buf, sizeof buf, -1), 1); /* short */
  T_EQ(corun_read(fd, buf, sizeof buf, -1), 0); /* waits for the FIN */
  return NULL;
}

static void both_directions(int how) {
  atomic_store(&stage, 7);
  int a, b;
  pair(&a, &b);
  T_EQ(corun_write(b, "x", 1, -1), 1);
  corun_task *t;
  T_OK(corun_spawn(&t, both_reader, &a, NULL));
  pace(how);
  T_EQ(corun_write(a, "y", 1, -1), 1); /* a's reader waits meanwhile */
  char c;
  T_EQ(corun_read(b, &c, 1, -1), 1);
  T_EQ(c, 'y');
  T_EQ(shutdown(b, SHUT_WR), 0);
  T_OK(corun_join(t, NULL));
  T_OK(corun_close(a));
  T_OK(corun_close(b));
}

/* ---- deadlines after a short read ------------------------------------- */

/* A connected pair (as pair) whose *a has just made a short read: the
 * state every case below starts from. */
static void pair_short(int *a, int *b) {
  char buf[64];
  pair(a, b);
  T_EQ(corun_write(*b, "1", 1, -1), 1);
  T_EQ(corun_read(*a, buf, sizeof buf, -1), 1); /* short */
}

/* Sends 3 bytes, one byte of TCP urgent data, 3 bytes: a read at the
 * other end stops at the urgent mark, with the rest already there. */
static void send_urgent(int b, const char *before, const char *oob,
                        const char *after) {
  T_EQ(corun_send(b, before, 3, 0, -1), 3);
  T_EQ(corun_send(b, oob, 1, MSG_OOB, -1), 1);
  T_EQ(corun_send(b, after, 3, 0, -1), 3);
}

static void deadlines(int how) {
  atomic_store(&stage, 8);
  int a, b;
  pair_short(&a, &b);
  char buf[64];
  /* nothing comes: the call times out */
  T_EQ(corun_read(a, buf, sizeof buf, corun_now() + 1000000), -ETIMEDOUT);
  /* data comes, but the deadline has passed: the data, not a time-out
   * (its event may not have been seen yet) */
  T_EQ(corun_write(b, "2", 1, -1), 1);
  pace(how);
  T_EQ(corun_read(a, buf, sizeof buf, corun_now() - 1), 1);
  T_EQ(buf[0], '2');
  T_EQ(corun_write(b, "3", 1, -1), 1);
  pace(how);
  T_EQ(corun_read(a, buf, sizeof buf, corun_now() + 1000 * MS), 1);
  T_EQ(buf[0], '3');
  /* the same after a short recv, which marks the socket drained too */
  T_EQ(corun_write(b, "4", 1, -1), 1);
  T_EQ(corun_recv(a, buf, sizeof buf, 0, -1), 1); /* short */
  T_EQ(corun_recv(a, buf, sizeof buf, 0, corun_now() + 1000000), -ETIMEDOUT);
  T_EQ(corun_write(b, "5", 1, -1), 1);
  pace(how);
  T_EQ(corun_recv(a, buf, sizeof buf, 0, corun_now() - 1), 1);
  T_EQ(buf[0], '5');
  /* a read of 0 bytes right after a short one returns 0 at once, as
   * read(2) does on a socket (it waited for data: under io_uring it timed
   * out; recv(2) of 0 bytes does wait for a byte, and corun_recv too) */
  T_EQ(corun_write(b, "6", 1, -1), 1);
  pace(how);
  T_EQ(corun_read(a, buf, sizeof buf, corun_now() + 1000 * MS), 1); /* short */
  T_EQ(corun_read(a, buf, 0, -1), 0); /* (waited for ever: the watchdog) */
  T_EQ(corun_readv(a, NULL, 0, -1), 0);
  T_OK(corun_close(a));
  T_OK(corun_close(b));
}

static void dontwait(int how) {
  atomic_store(&stage, 9);
  int a, b;
  pair_short(&a, &b);
  char buf[64];
  T_EQ(corun_write(b, "2", 1, -1), 1);
  pace(how);
  /* (the wait leaves the short read's mark in place: it is no IO call) */
  T_OK(corun_wait_fd(a, CORUN_FD_IN, corun_now() + 10000 * MS));
  T_EQ(corun_recv(a, buf, sizeof buf, MSG_DONTWAIT, -1), 1);
  T_EQ(buf[0], '2');
  T_EQ(corun_recv(a, buf, sizeof buf, MSG_DONTWAIT, corun_now() + 1000 * MS),
       -EAGAIN);
  T_EQ(corun_recv(a, buf, sizeof buf, MSG_DONTWAIT, -1), -EAGAIN);
  T_OK(corun_close(a));
  T_OK(corun_close(b));
}

static void *idle_reader(void *arg) {
  char c;
  T_EQ(corun_read(*(int *)arg, &c, 1, -1), 1);
  return NULL;
}

static void urgent(int how) {
  atomic_store(&stage, 10);
  int a, b;
  pair_short(&a, &b);
  char buf[64];
  send_urgent(b, "abc", "X", "def");
  pace(how);
  T_OK(corun_sleep(20 * MS)); /* (a poll sees the events before the reads) */
  T_EQ(corun_recv(a, buf, sizeof buf, 0, -1), 3); /* up to the mark */
  T_EQ(memcmp(buf, "abc", 3), 0);
  T_EQ(corun_read(a, buf, sizeof buf, -1), 3); /* the rest, no event to come */
  T_EQ(memcmp(buf, "def", 3), 0);
  T_EQ(corun_send(b, "Y", 1, MSG_OOB, -1), 1);
  T_OK(corun_sleep(20 * MS));
  T_EQ(corun_recv(a, buf, 1, MSG_OOB, -1), 1); /* after a short read */
  T_EQ(buf[0], 'Y');
  T_OK(corun_close(a));
  T_OK(corun_close(b));
  /* The urgent byte taken out of band before any poll has seen it (then
   * none sees EPOLLPRI): the read still stops at the mark. A task waits
   * on another connection meanwhile, so that the sleep below polls. */
  int c, d;
  pair(&c, &d);
  corun_task *idle;
  T_OK(corun_spawn(&idle, idle_reader, &c, NULL));
  pair_short(&a, &b);
  send_urgent(b, "ghi", "Z", "jkl");
  T_EQ(corun_recv(a, buf, 1, MSG_OOB, -1), 1); /* (no switch since) */
  T_EQ(buf[0], 'Z');
  T_OK(corun_sleep(20 * MS)); /* a poll sees the rest, without PRI */
  T_EQ(corun_recv(a, buf, sizeof buf, 0, -1), 3); /* up to the mark */
  T_EQ(memcmp(buf, "ghi", 3), 0);
  T_EQ(corun_read(a, buf, sizeof buf, -1), 3); /* no event to come */
  T_EQ(memcmp(buf, "jkl", 3), 0);
  /* no urgent data: an answer at once, never a wait */
  T_EQ(corun_recv(a, buf, 1, MSG_OOB, -1), -EINVAL);
  T_OK(corun_close(a));
  T_OK(corun_close(b));
  T_EQ(corun_write(d, "x", 1, -1), 1);
  T_OK(corun_join(idle, NULL));
  T_OK(corun_close(c));
  T_OK(corun_close(d));
}

static void *main_task(void *arg) {
  (void)arg;
  unsigned char *out = malloc(BULK), *in = malloc(BULK);
  T_TRUE(out && in);
  for (size_t k = 0; k < BULK; k++)
    out[k] = pattern(k, 7);
  long reps = io_scaled(20, 10, 4, 2);
  for (long rep = 0; rep < reps; rep++)
    for (int how = 0; how < 3; how++) {
      ping_pong(how, (unsigned)(rep * 3 + how));
      for (int what = 0; what < 3; what++)
        peer_ends(how, what);
      both_directions(how);
      deadlines(how);
      dontwait(how);
      urgent(how);
      if (rep < 2) { /* 4 MiB each: a few suffice */
        memset(in, 0, BULK);
        short_writes(how, 0, out, in);
        short_writes(how, 1, out, in);
      }
    }
  free(out);
  free(in);
  return NULL;
}

int main(void) {
  signal(SIGALRM, on_alarm);
  signal(SIGPIPE, SIG_IGN); /* (corun's writes never raise it anyway) */
  lfd = io_listen(64, &addr);
  int fds = io_count_fds();
  for (unsigned workers = 1; workers <= 2; workers++) {
    alarm(io_slow() ? 600 : 60);
    io_main(main_task, NULL, workers);
    alarm(0);
  }
  close(lfd);
  T_EQ(io_count_fds(), fds - 1);
  return 0;
}
