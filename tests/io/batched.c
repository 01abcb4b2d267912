/* batched.c: sends that io_uring batches, while the tasks that make them
 * also park on channels, on two workers. Under io_uring a socket send
 * waits in the submission queue, and every worker between tasks hands
 * the queue over once its first request has waited 20 us
 * (corun__sched_flush_soon). A parking task that switches straight to
 * the next one still holds its park's lock there; a version that made
 * the flush in that switch took the ring's lock inside a task's lock,
 * the reverse of the submission's order, and the two workers deadlocked
 * within a second or two here (a review's reproducer, on which this test
 * is built).
 *
 * PAIRS socketpairs; per pair a writer that alternates a rendezvous
 * channel send (whose partner's wake-up fills runnext, so the writer's
 * next park switches straight to it) and a 64-byte corun_write; the
 * partner receives; a reader reads the socket and checks every byte.
 * Each writer makes ROUNDS rounds, then closes its end. A deadlock makes
 * the test hang and ctest's timeout fail it; "it finishes, every byte
 * right" is the property. With 2 workers, then 1. */
#include <string.h>
#include <sys/socket.h>

#include "io_test.h"

#define PAIRS 32
#define MSG 64

static long rounds;

struct pair {
  int sv[2];
  corun_chan *ch;
};

static void *writer(void *arg) {
  struct pair *p = arg;
  char b[MSG];
  for (long i = 0; i < rounds; i++) {
    int x = (int)i;
    T_OK(corun_chan_send(p->ch, &x, -1));
    memset(b, (int)(i & 0x7f), sizeof b);
    T_EQ(corun_write_all(p->sv[0], b, sizeof b, -1), (ssize_t)sizeof b);
  }
  T_OK(corun_chan_close(p->ch));
  T_OK(corun_close(p->sv[0]));
  return NULL;
}

static void *partner(void *arg) {
  struct pair *p = arg;
  int x, want = 0;
  while (corun_chan_recv(p->ch, &x, -1) == 0)
    T_EQ(x, want++);
  T_EQ(want, rounds);
  return NULL;
}

static void *reader(void *arg) {
  struct pair *p = arg;
  char b[MSG];
  for (long i = 0; i < rounds; i++) {
    io_read_full(p->sv[1], b, sizeof b, -1);
    for (int j = 0; j < MSG; j++)
      T_EQ(b[j], (char)(i & 0x7f));
  }
  T_EQ(corun_read(p->sv[1], b, 1, -1), 0); /* the writer's close */
  T_OK(corun_close(p->sv[1]));
  return NULL;
}

static void *main_task(void *arg) {
  (void)arg;
  static struct pair P[PAIRS];
  corun_task *t[3 * PAIRS];
  int k = 0;
  for (int i = 0; i < PAIRS; i++) {
    T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, P[i].sv));
    T_OK(corun_chan_make(&P[i].ch, sizeof(int), 0));
    T_OK(corun_spawn(&t[k++], writer, &P[i], NULL));
    T_OK(corun_spawn(&t[k++], partner, &P[i], NULL));
    T_OK(corun_spawn(&t[k++], reader, &P[i], NULL));
  }
  for (int i = 0; i < k; i++)
    T_OK(corun_join(t[i], NULL));
  for (int i = 0; i < PAIRS; i++)
    T_OK(corun_chan_free(P[i].ch));
  return NULL;
}

int main(void) {
  rounds = io_scaled(3000, 1000, 300, 100);
  io_main(main_task, NULL, 2);
  io_main(main_task, NULL, 1);
  return 0;
}
