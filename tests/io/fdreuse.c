/* fdreuse.c: corun_close while a task waits on the fd, and reuse of the fd
 * number (libdill#129, libmill#51: a stale registration or event reaching
 * the next fd with that number). Each iteration:
 *  - a task W waits in corun_read on one end of a socketpair; another task
 *    corun_close()s that end and W gets -EBADF. The close also makes the
 *    peer end readable (EOF): readiness for an fd that is closed next;
 *  - the peer end is closed and a new socketpair made, which gets both
 *    numbers back. Nothing of the old fds may show up on the new ones:
 *    corun_read with deadline 0 gives -EAGAIN on both ends, and every 8th
 *    time corun_wait_fd(CORUN_FD_IN) with a short deadline times out on
 *    one of them (a stale event would make it return 0). Then the new pair
 *    carries a byte, and the next iteration's W waits on it.
 * Two variants: 1 worker, and 2 workers with W parked on one and the
 * closer on the other in every iteration (two pinned tasks; the test says
 * so if the scheduler would not place them apart). /proc/self/fd has as
 * many entries at the end as at the start.
 *
 * The closer closes only once W is parked: a task inside read(2) on an fd
 * that another thread closes is a race in the program (TSan reports it,
 * and the read could hit a new fd with that number), not something a
 * runtime can make safe. Nothing public says "parked", so the test makes
 * sure of it this way: W is spawned by the pinned task X and starts on X's
 * worker; X yields until W has started there; X running again on that
 * worker means W gave it up, and all W does after starting is wait in
 * corun_read.
 *
 * Iterations per variant: 50,000 (100,000 in all) in a plain build,
 * 25,000 under ASan, 2,000 under TSan; under Valgrind or qemu 1,000 with
 * 1 worker and 100 with 2 (CORUN_TEST_SCALE multiplies); but each variant
 * stops after 3 s (a plain build needs about 1.5 s on an idle machine).
 * The count done is printed. */
#include <pthread.h>
#include <stdatomic.h>

#include "io_test.h"

#define TIME_CAP (3000 * MS) /* per variant */

struct stats {
  unsigned workers;
  long iters, done, reused, cross, elsewhere;
  int apart; /* X and Y run on different workers */
};

struct waiter {
  int fd;
  atomic_int started;
  pthread_t thread; /* where it started */
};

static void *wait_read(void *arg) {
  struct waiter *w = arg;
  w->thread = pthread_self();
  atomic_store(&w->started, 1);
  char c;
  return (void *)(intptr_t)corun_read(w->fd, &c, 1, -1);
}

/* X (waits) and Y (closes), both pinned. */
struct pair {
  struct stats *st;
  corun_task *y;
  corun_sem *y_up, *go, *done;
  pthread_t y_thread;
  int fd;   /* for Y to close */
  int quit; /* Y returns at the next go */
  atomic_int l_started;
};

static void *closer(void *arg) { /* Y */
  struct pair *p = arg;
  p->y_thread = pthread_self();
  T_OK(corun_sem_release(p->y_up));
  for (;;) {
    T_OK(corun_sem_acquire(p->go, -1));
    if (p->quit)
      return NULL;
    T_OK(corun_close(p->fd));
    T_OK(corun_sem_release(p->done));
  }
}

static void one_iteration(struct pair *p, int a[2], long i) {
  struct stats *st = p->st;
  struct waiter w = {.fd = a[0]};
  corun_task *t;
  T_OK(corun_spawn(&t, wait_read, &w, NULL));
  do
    corun_yield(NULL); /* W runs here until it parks */
  while (!atomic_load(&w.started));
  void *r;
  if (pthread_equal(w.thread, pthread_self())) {
    p->fd = a[0]; /* W is parked: Y may close */
    T_OK(corun_sem_release(p->go));
    T_OK(corun_join(t, &r));
    T_EQ((intptr_t)r, -EBADF);
    T_OK(corun_sem_acquire(p->done, -1));
    st->cross += !pthread_equal(p->y_thread, pthread_self());
  } else { /* W started elsewhere: not known to be parked; release it */
    st->elsewhere++;
    T_EQ(write(a[1], "w", 1), 1);
    T_OK(corun_join(t, &r));
    T_EQ((intptr_t)r, 1);
    T_OK(corun_close(a[0]));
  }
  T_OK(corun_close(a[1])); /* it had EOF pending: stale readiness */

  int b[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
  st->reused +=
      (b[0] == a[0] || b[0] == a[1]) && (b[1] == a[0] || b[1] == a[1]);
  char c;
  T_EQ(corun_read(b[0], &c, 1, 0), -EAGAIN);
  T_EQ(corun_read(b[1], &c, 1, 0), -EAGAIN); /* registers b[1] too */
  if (i % 8 == 0) {
    int64_t dl = corun_now() + MS / 50;
    T_EQ(corun_wait_fd(b[(i / 8) & 1], CORUN_FD_IN, dl), -ETIMEDOUT);
  }
  T_EQ(write(b[1], "n", 1), 1);
  T_EQ(corun_read(b[0], &c, 1, corun_now() + 10000 * MS), 1);
  T_EQ(c, 'n');
  a[0] = b[0];
  a[1] = b[1];
}

static void *waiter_side(void *arg) { /* X */
  struct pair *p = arg;
  T_OK(corun_sem_acquire(p->y_up, -1));
  p->st->apart = !pthread_equal(p->y_thread, pthread_self());
  if (p->st->workers > 1 && !p->st->apart)
    return NULL; /* placed on one worker: main tries again */
  int a[2];
  T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
  /* At most TIME_CAP: on a loaded machine each hand-over between the two
   * workers may wait for a time slice. */
  int64_t end = corun_now() + TIME_CAP;
  long i;
  for (i = 0; i < p->st->iters && (i % 256 || corun_now() < end); i++)
    one_iteration(p, a, i);
  p->st->done = i;
  T_OK(corun_close(a[0]));
  T_OK(corun_close(a[1]));
  return NULL;
}

static void *nothing(void *arg) {
  return arg;
}

/* Spawns Y, pinned to the worker this runs on. */
static void *launch_closer(void *arg) {
  struct pair *p = arg;
  atomic_store(&p->l_started, 1);
  corun_attr pin = {.pin = 1};
  T_OK(corun_spawn(&p->y, closer, p, &pin));
  return NULL;
}

static void *variant(void *arg) {
  struct stats *st = arg;
  corun_attr pin = {.pin = 1};
  for (int attempt = 0; attempt < 100; attempt++) {
    struct pair p = {.st = st};
    T_OK(corun_sem_make(&p.y_up, 0));
    T_OK(corun_sem_make(&p.go, 0));
    T_OK(corun_sem_make(&p.done, 0));
    /* A pinned task stays on the worker that spawned it. X is pinned
     * here; Y is spawned by L, which the next spawn makes stealable (it
     * takes L's place as this worker's next task): while this task keeps
     * its worker busy, another worker takes L. */
    corun_task *l, *d, *x;
    T_OK(corun_spawn(&l, launch_closer, &p, NULL));
    T_OK(corun_spawn(&d, nothing, NULL, NULL)); /* L: stealable now */
    if (st->workers > 1) /* keep this worker busy while another takes L */
      for (int64_t end = corun_now() + 10 * MS;
           !atomic_load(&p.l_started) && corun_now() < end;)
        ;
    T_OK(corun_spawn(&x, waiter_side, &p, &pin));
    T_OK(corun_join(x, NULL));
    T_OK(corun_join(d, NULL));
    T_OK(corun_join(l, NULL));
    p.quit = 1;
    T_OK(corun_sem_release(p.go));
    T_OK(corun_join(p.y, NULL));
    T_OK(corun_sem_free(p.y_up));
    T_OK(corun_sem_free(p.go));
    T_OK(corun_sem_free(p.done));
    if (st->workers == 1 || st->apart)
      return NULL;
  }
  printf("fdreuse: could not place the waiting and the closing task on two "
         "workers in 100 tries; the 2-worker variant did not run\n");
  return NULL;
}

int main(void) {
  int fds0 = io_count_fds();
  for (unsigned w = 1; w <= 2; w++) {
    /* Valgrind runs one thread at a time: each hand-over between workers
     * waits for the running one's time slice, so 2 workers get few. */
    struct stats st = {.workers = w,
                       .iters = w == 1 ? io_scaled(50000, 25000, 2000, 1000)
                                       : io_scaled(50000, 25000, 2000, 100)};
    int64_t t0 = corun_now();
    io_main(variant, &st, w);
    printf("fdreuse: %u worker(s): %ld iterations in %.2f s; both fd "
           "numbers reused %ld times; closed from another worker %ld "
           "times; waiter started elsewhere (not checked) %ld times\n",
           w, st.done, (double)(corun_now() - t0) / 1e9, st.reused, st.cross,
           st.elsewhere);
    if (w == 1 || st.apart)
      T_GT(st.reused, 0); /* meaningless if numbers never recurred */
    if (w == 1)
      T_EQ(st.elsewhere, 0);
  }
  T_EQ(io_count_fds(), fds0);
  return 0;
}
