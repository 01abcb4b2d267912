/* starve.c: a busy worker does not starve IO or timers. The issue asks
 * that "a busy worker still polls IO every few dispatches so that IO and
 * timers are never starved by runnable tasks" (USERS.md, property 9; Go's
 * netpoll starvation, golang/go#51651). Here every worker is kept busy by
 * tasks that compute and yield in a loop, so its run queue is never empty
 * and it never goes idle, the place where it would otherwise poll. Meanwhile
 *  - a task accepts a TCP connection from a thread outside corun and echoes
 *    its messages back; the thread checks every byte;
 *  - a task dials (corun_tcp_dial) a listener that thread serves, and reads
 *    the byte it sends;
 *  - a task sleeps 1 ms, many times over.
 * The spinners stop only when all of that is done, so IO or timers that
 * starve make the test hang, and ctest's timeout fails it. The spinners
 * must also have gone on meanwhile: the test must not pass by starving
 * them instead. With 1 worker (4 spinners) and 2 workers (8). No time
 * bounds: "it finishes" is the property. And a send is not held up behind
 * the tasks that compute after it (send_not_held_up, below). */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "io_test.h"

#define MSG 64

static atomic_int stop;
static atomic_long spins;
static long nmsgs, nsleeps;
static int valgrind;

/* Computes a little, yields, until told to stop. Under Valgrind it also
 * makes a system call: Valgrind runs one thread at a time, and its lock
 * is not fair, so a thread that never enters the kernel keeps the others
 * (the outside thread here) waiting for seconds; the worker is as busy
 * for corun either way. */
static void *spinner(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    volatile unsigned x = 0;
    for (unsigned i = 0; i < 2000; i++)
      x += i;
    atomic_fetch_add(&spins, 1);
    if (valgrind)
      sched_yield();
    corun_yield(NULL);
  }
  return NULL;
}

/* Accepts one connection on *arg and echoes it until the peer closes. */
static void *echo_server(void *arg) {
  int lfd = *(int *)arg;
  int fd = corun_accept(lfd, NULL, NULL, -1);
  T_GE(fd, 0);
  char buf[MSG];
  ssize_t n;
  while ((n = corun_read(fd, buf, sizeof buf, -1)) > 0)
    T_EQ(corun_write_all(fd, buf, (size_t)n, -1), n);
  T_EQ(n, 0);
  T_OK(corun_close(fd));
  return NULL;
}

/* Dials 127.0.0.1:*arg and reads the one byte the thread sends. */
static void *dialer(void *arg) {
  int port = *(int *)arg, fd;
  T_OK(corun_tcp_dial("127.0.0.1", port, -1, &fd));
  char c = 0;
  T_EQ(corun_read(fd, &c, 1, -1), 1);
  T_EQ(c, 'x');
  T_OK(corun_close(fd));
  return NULL;
}

static void *send_byte(void *arg) {
  T_EQ(corun_write(*(int *)arg, "s", 1, -1), 1);
  return NULL;
}

static void *sleeper(void *arg) {
  (void)arg;
  for (long i = 0; i < nsleeps; i++)
    T_OK(corun_sleep(MS));
  return NULL;
}

/* The thread outside corun: a blocking client of the echo server, and a
 * blocking server of the dialer. */
struct outside {
  struct sockaddr_in echo_at;
  int lfd; /* the dialer's listener */
};

static void read_full(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    T_GT(r, 0);
    p += r;
    n -= (size_t)r;
  }
}

static void *outside_thread(void *arg) {
  struct outside *o = arg;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_GE(fd, 0);
  T_OK(connect(fd, (struct sockaddr *)&o->echo_at, sizeof o->echo_at));
  char out[MSG], in[MSG];
  for (long i = 0; i < nmsgs; i++) {
    for (int j = 0; j < MSG; j++)
      out[j] = (char)(i * 31 + j);
    T_EQ(write(fd, out, sizeof out), (ssize_t)sizeof out);
    read_full(fd, in, sizeof in);
    T_EQ(memcmp(in, out, sizeof out), 0);
  }
  T_OK(close(fd));
  int c = accept4(o->lfd, NULL, NULL, SOCK_CLOEXEC);
  T_GE(c, 0);
  T_EQ(write(c, "x", 1), 1);
  T_OK(close(c));
  return NULL;
}

static void *main_task(void *arg) {
  int nspin = *(int *)arg;
  atomic_store(&stop, 0);
  corun_task *spin[8];
  for (int i = 0; i < nspin; i++)
    T_OK(corun_spawn(&spin[i], spinner, NULL, NULL));
  corun_yield(NULL); /* the spinners are running */
  long before = atomic_load(&spins);

  struct outside o;
  int echo_lfd = io_listen(16, &o.echo_at);
  struct sockaddr_in dial_at;
  o.lfd = io_listen(16, &dial_at);
  int dial_port = ntohs(dial_at.sin_port);
  corun_task *srv, *dial, *sl;
  T_OK(corun_spawn(&srv, echo_server, &echo_lfd, NULL));
  T_OK(corun_spawn(&dial, dialer, &dial_port, NULL));
  T_OK(corun_spawn(&sl, sleeper, NULL, NULL));
  pthread_t th;
  T_OK(pthread_create(&th, NULL, outside_thread, &o));
  T_OK(corun_join(srv, NULL));
  T_OK(corun_join(dial, NULL));
  T_OK(corun_join(sl, NULL));
  T_GT(atomic_load(&spins), before); /* the spinners went on meanwhile */

  atomic_store(&stop, 1);
  for (int i = 0; i < nspin; i++)
    T_OK(corun_join(spin[i], NULL));
  T_OK(pthread_join(th, NULL));
  T_OK(close(echo_lfd));
  T_OK(close(o.lfd));
  return NULL;
}

/* ---- a send is not held up by the tasks after it -------------------------
 * A task sends a byte to a thread outside corun; then, on the same worker,
 * HOGS tasks each compute without yielding until that byte has arrived,
 * or for HOG_NS at most. Under io_uring a send waits in the submission
 * queue for its batch; a hog holds the worker, and nothing else submits
 * (one worker, the monitor off), so the first hog is always held up. But
 * between tasks the worker hands the queue over once the send has waited
 * 20 us: the next hog sees the byte arrive. (Before, the queue went only
 * before the worker slept or every 61 tasks: every hog ran out its time.)
 * Under epoll the send is made at once and no hog waits. HOG_NS bounds
 * the wait for a byte the kernel has had for a second, not a speed. */
#define HOGS 3
#define HOG_NS (1000 * MS)

static atomic_int arrived;
static atomic_int held; /* hogs that ran out their time */

static void *hog(void *arg) {
  (void)arg;
  int64_t until = corun_now() + HOG_NS;
  while (!atomic_load(&arrived)) {
    if (corun_now() > until) {
      atomic_fetch_add(&held, 1);
      break;
    }
    if (valgrind)
      sched_yield(); /* let the reader's thread run (see spinner) */
  }
  return NULL;
}

static void *byte_reader(void *arg) {
  char c = 0;
  T_EQ(read(*(int *)arg, &c, 1), 1);
  T_EQ(c, 's');
  atomic_store(&arrived, 1);
  return NULL;
}

static void *send_then_hogs(void *arg) {
  int *sv = arg;
  corun_task *t[HOGS + 1];
  T_OK(corun_spawn(&t[0], send_byte, &sv[0], NULL));
  corun_yield(NULL); /* the sender runs first: its send is under way */
  for (int i = 1; i <= HOGS; i++)
    T_OK(corun_spawn(&t[i], hog, NULL, NULL));
  for (int i = 0; i <= HOGS; i++)
    T_OK(corun_join(t[i], NULL));
  return NULL;
}

static void send_not_held_up(void) {
  int sv[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  atomic_store(&arrived, 0);
  atomic_store(&held, 0);
  pthread_t th;
  T_OK(pthread_create(&th, NULL, byte_reader, &sv[1]));
  corun_config cfg = {.workers = 1, .block_ms = -1};
  T_OK(corun_main(send_then_hogs, sv, &cfg));
  T_OK(pthread_join(th, NULL));
  int hogs_held = atomic_load(&held);
  T_LE(hogs_held, 1);
  T_OK(close(sv[0]));
  T_OK(close(sv[1]));
}

int main(void) {
  valgrind = t_under_valgrind();
  send_not_held_up();
  nmsgs = io_scaled(2000, 1000, 300, 100);
  nsleeps = io_scaled(100, 100, 50, 20);
  for (unsigned workers = 1; workers <= 2; workers++) {
    int nspin = 4 * (int)workers;
    io_main(main_task, &nspin, workers);
  }
  return 0;
}
