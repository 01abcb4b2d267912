/* basic.c: channels: errors, FIFO order, copies by value, non-blocking
 * and deadline behaviour, rendezvous, close semantics, free while busy,
 * and non-blocking use from a thread outside the scheduler. */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "t.h"

struct point {
  long x, y, z;
};

static void *receiver(void *arg) {
  corun_chan *ch = arg;
  long sum = 0, v;
  int rc;
  while ((rc = corun_chan_recv(ch, &v, -1)) == 0)
    sum += v;
  T_EQ(rc, -EPIPE);
  return (void *)sum;
}

static atomic_int sender_started;

static void *blocked_sender(void *arg) {
  corun_chan *ch = arg;
  long v = 7;
  atomic_store(&sender_started, 1);
  return (void *)(intptr_t)corun_chan_send(ch, &v, -1);
}

/* Elements of `size` bytes through a buffered channel of capacity 3, in
 * 600 sends and receives mixed pseudo-randomly, so that the ring is seen
 * with every head position and every length; each byte is checked, and
 * the byte after the element: the copies of 4, 8 and 16 bytes are
 * inline, the others memcpy. */
static void sizes_and_wrap(size_t size) {
  corun_chan *ch;
  T_EQ(corun_chan_make(&ch, size, 3), 0);
  unsigned char in[40], out[40];
  unsigned sent = 0, got = 0, rng = 12345;
  for (int step = 0; step < 600; step++) {
    rng = rng * 1103515245u + 12345u;
    int send = (rng >> 16) & 1;
    if (sent - got == 3)
      send = 0;
    if (sent == got)
      send = 1;
    if (send) {
      for (size_t b = 0; b < size; b++)
        in[b] = (unsigned char)(sent * 7 + b);
      T_EQ(corun_chan_send(ch, in, 0), 0);
      sent++;
    } else {
      memset(out, 0xee, sizeof out);
      T_EQ(corun_chan_recv(ch, out, 0), 0);
      for (size_t b = 0; b < size; b++)
        T_EQ(out[b], (unsigned char)(got * 7 + b));
      T_EQ(out[size], 0xee); /* nothing past the element */
      got++;
    }
    T_EQ(corun_chan_len(ch), sent - got);
  }
  T_EQ(corun_chan_free(ch), 0);
}

static void *main_task(void *arg) {
  unsigned workers = *(unsigned *)arg;
  static const size_t sizes[] = {1, 3, 4, 8, 12, 16, 17, 39};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    sizes_and_wrap(sizes[i]);
  corun_chan *ch;
  T_EQ(corun_chan_make(NULL, 8, 1), -EINVAL);
  T_EQ(corun_chan_make(&ch, 0, 1), -EINVAL);

  /* Buffered: FIFO, by value, len, would-block. */
  T_EQ(corun_chan_make(&ch, sizeof(struct point), 3), 0);
  for (long i = 0; i < 3; i++) {
    struct point p = {i, i * 2, i * 3};
    T_EQ(corun_chan_send(ch, &p, 0), 0);
    p.x = -1; /* the channel holds a copy */
  }
  T_EQ(corun_chan_len(ch), 3);
  struct point p = {0, 0, 0};
  T_EQ(corun_chan_send(ch, &p, 0), -EAGAIN);
  int64_t t0 = corun_now();
  T_EQ(corun_chan_send(ch, &p, corun_now() + 20000000), -ETIMEDOUT);
  T_GE(corun_now() - t0, 20000000);
  for (long i = 0; i < 3; i++) {
    T_EQ(corun_chan_recv(ch, &p, 0), 0);
    T_EQ(p.x, i);
    T_EQ(p.y, i * 2);
    T_EQ(p.z, i * 3);
  }
  T_EQ(corun_chan_recv(ch, &p, 0), -EAGAIN);
  T_EQ(corun_chan_recv(ch, &p, corun_now() + 1000000), -ETIMEDOUT);
  T_EQ(corun_chan_send(NULL, &p, 0), -EINVAL);
  T_EQ(corun_chan_send(ch, NULL, 0), -EINVAL);
  T_EQ(corun_chan_recv(ch, NULL, 0), -EINVAL);
  T_EQ(corun_chan_recv(NULL, &p, 0), -EINVAL);
  /* Close: buffered elements drain first, then -EPIPE; sends fail. */
  T_EQ(corun_chan_send(ch, &p, 0), 0);
  T_EQ(corun_chan_close(ch), 0);
  T_EQ(corun_chan_close(ch), -EPIPE);
  T_EQ(corun_chan_close(NULL), -EINVAL);
  T_EQ(corun_chan_send(ch, &p, -1), -EPIPE);
  T_EQ(corun_chan_recv(ch, &p, -1), 0);
  T_EQ(corun_chan_recv(ch, &p, -1), -EPIPE);
  T_EQ(corun_chan_recv(ch, &p, 0), -EPIPE);
  T_EQ(corun_chan_free(ch), 0);
  T_EQ(corun_chan_free(NULL), -EINVAL);

  /* Rendezvous: a receiver task sums what is sent until the close. */
  T_EQ(corun_chan_make(&ch, sizeof(long), 0), 0);
  corun_task *r;
  T_EQ(corun_spawn(&r, receiver, ch, NULL), 0);
  long want = 0;
  for (long i = 1; i <= 1000; i++) {
    T_EQ(corun_chan_send(ch, &i, -1), 0);
    want += i;
  }
  T_EQ(corun_chan_close(ch), 0);
  void *sum;
  T_EQ(corun_join(r, &sum), 0);
  T_EQ((long)(intptr_t)sum, want);
  T_EQ(corun_chan_free(ch), 0);

  /* A sender blocked on a rendezvous channel: free is refused; close
   * wakes it with -EPIPE (its element was not sent). With one worker the
   * sender has surely parked once this task runs again after it started
   * (this task got the worker back, and only the send's park gives it
   * back; a sleep alone proves nothing: on a loaded machine its deadline
   * may pass before it parks, and then it does not). With more workers
   * it may not have started yet, and then its send meets the closed
   * channel: -EPIPE all the same. */
  T_EQ(corun_chan_make(&ch, sizeof(long), 0), 0);
  corun_task *s;
  atomic_store(&sender_started, 0);
  T_EQ(corun_spawn(&s, blocked_sender, ch, NULL), 0);
  T_EQ(corun_sleep(2000000), 0);
  if (workers == 1) {
    while (!atomic_load(&sender_started))
      T_EQ(corun_sleep(1000000), 0);
    T_EQ(corun_chan_free(ch), -EBUSY);
  }
  T_EQ(corun_chan_close(ch), 0);
  void *src;
  T_EQ(corun_join(s, &src), 0);
  T_EQ((intptr_t)src, -EPIPE);
  T_EQ(corun_chan_free(ch), 0);
  return NULL;
}

int main(void) {
  /* Outside a task: non-blocking operations work, blocking ones say
   * -EPERM. */
  corun_chan *ch;
  long v = 5;
  T_EQ(corun_chan_make(&ch, sizeof v, 1), 0);
  T_EQ(corun_chan_recv(ch, &v, -1), -EPERM);
  T_EQ(corun_chan_send(ch, &v, -1), 0);
  T_EQ(corun_chan_send(ch, &v, -1), -EPERM);
  v = 0;
  T_EQ(corun_chan_recv(ch, &v, 0), 0);
  T_EQ(v, 5);
  T_EQ(corun_chan_free(ch), 0);
  for (unsigned w = 1; w <= 2; w++) {
    corun_config cfg = {.workers = w};
    T_EQ(corun_main(main_task, &w, &cfg), 0);
  }
  return 0;
}
