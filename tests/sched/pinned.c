/* pinned.c: pinned tasks (corun_attr.pin) stay on the worker that first
 * runs them, however often they block and yield, while other tasks move;
 * so does a task between corun_pin(1) and the matching corun_pin(0) (the
 * calls nest; an extra corun_pin(0) is harmless; a corun_pin pair inside
 * a task spawned pinned leaves it pinned; -EPERM outside a task);
 * and a pinned task waiting in a corun_yield() loop does not starve the
 * unpinned tasks queued on its worker (it once did: a pinned yielder went
 * back to the inbox, which the worker looked at before its deque).
 * shared_home: the tasks of one shared stack all run on one worker, also
 * when the task spawning them has moved to another worker between two
 * spawns (here the monitor moves it off a worker that a spinning task
 * holds). Each was pinned to its spawner's worker of the moment: two of
 * them ran on two threads at once on the stack, and overwrote each
 * other's frames (a helper review's find: a crash in 5 runs of 5). */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "t.h"

static atomic_int flag;

static void *setter(void *arg) {
  (void)arg;
  atomic_store(&flag, 1);
  return NULL;
}

static void *nothing(void *arg) {
  return arg;
}

static void *spinner(void *arg) {
  (void)arg;
  while (!atomic_load(&flag))
    corun_yield(NULL);
  return NULL;
}

/* pthread_self() through a non-inlined call: re-read after every switch. */
static T_NOIPA pthread_t self_thread(void) {
  return pthread_self();
}

static void *stays(void *arg) {
  (void)arg;
  pthread_t home = self_thread();
  for (int i = 0; i < 2000; i++) {
    if (i % 3)
      corun_yield(NULL);
    else
      T_EQ(corun_sleep(1000), 0);
    if (!pthread_equal(self_thread(), home))
      return (void *)1;
  }
  return NULL;
}

/* corun_pin from inside: pinned twice, then once, the checks of stays()
 * each time; then unpinned, one corun_pin(0) too many. */
static void *pins_itself(void *arg) {
  (void)arg;
  T_OK(corun_pin(1));
  T_OK(corun_pin(1));
  void *moved = stays(NULL);
  T_OK(corun_pin(0));
  if (!moved)
    moved = stays(NULL);
  T_OK(corun_pin(0));
  T_OK(corun_pin(0));
  return moved;
}

/* Spawned with attr.pin: a corun_pin pair leaves it pinned. */
static void *pinned_pins(void *arg) {
  (void)arg;
  T_OK(corun_pin(1));
  T_OK(corun_pin(0));
  return stays(NULL);
}

static void *busy(void *arg) {
  (void)arg;
  for (int i = 0; i < 2000; i++)
    corun_yield(NULL);
  return NULL;
}

static void *starve_main(void *arg) {
  (void)arg;
  corun_attr pin = {.pin = 1};
  corun_task *p, *s, *x;
  T_EQ(corun_spawn(&s, setter, NULL, NULL), 0);
  T_EQ(corun_spawn(&x, nothing, NULL, NULL), 0);
  T_EQ(corun_spawn(&p, spinner, NULL, &pin), 0);
  T_EQ(corun_join(p, NULL), 0);
  T_EQ(corun_join(s, NULL), 0);
  T_EQ(corun_join(x, NULL), 0);
  return NULL;
}

static void *home_main(void *arg) {
  (void)arg;
  corun_attr pin = {.pin = 1};
  corun_task *p[4], *b[4];
  for (int i = 0; i < 4; i++) {
    if (i == 2)
      T_EQ(corun_spawn(&p[i], pins_itself, NULL, NULL), 0);
    else if (i == 3)
      T_EQ(corun_spawn(&p[i], pinned_pins, NULL, &pin), 0);
    else
      T_EQ(corun_spawn(&p[i], stays, NULL, &pin), 0);
    T_EQ(corun_spawn(&b[i], busy, NULL, NULL), 0);
  }
  for (int i = 0; i < 4; i++) {
    void *r;
    T_EQ(corun_join(p[i], &r), 0);
    T_PTR_EQ(r, NULL);
    T_EQ(corun_join(b[i], NULL), 0);
  }
  return NULL;
}

static corun_shared_stack *shared;
static atomic_int main_moved;
static pthread_t first_thread;

/* On the shared stack: holds its worker (blocked in the kernel) until the
 * main task has moved to another one (or 5 s), then checks that its
 * locals keep their values while it yields to the second task of the
 * stack. Returns its thread. */
static void *shared_spinner(void *arg) {
  long id = (long)(intptr_t)arg;
  int64_t give_up = corun_now() + 5000000000;
  while (id == 1 && !atomic_load(&main_moved) && corun_now() < give_up)
    usleep(1000); /* (in the kernel: under Valgrind, the monitor runs) */
  pthread_t *me = malloc(sizeof *me);
  T_TRUE(me != NULL);
  *me = self_thread();
  volatile long local[32];
  for (int round = 0; round < 200; round++) {
    for (int i = 0; i < 32; i++)
      local[i] = id * 1000 + i;
    corun_yield(NULL);
    for (int i = 0; i < 32; i++)
      T_EQ(local[i], id * 1000 + i);
    T_TRUE(pthread_equal(*me, self_thread()));
  }
  return me;
}

static void *shared_home_main(void *arg) {
  (void)arg;
  corun_attr attr = {.shared = shared};
  corun_task *a, *b;
  first_thread = self_thread();
  T_EQ(corun_spawn(&a, shared_spinner, (void *)1, &attr), 0);
  /* a runs once this task waits, and holds the worker: the monitor hands
   * this task to a spare worker. */
  int64_t give_up = corun_now() + 5000000000;
  while (pthread_equal(self_thread(), first_thread) && corun_now() < give_up)
    T_EQ(corun_sleep(1000000), 0); /* the monitor fires it elsewhere */
  T_TRUE(!pthread_equal(self_thread(), first_thread)); /* the monitor's */
  T_EQ(corun_spawn(&b, shared_spinner, (void *)2, &attr), 0);
  atomic_store(&main_moved, 1);
  pthread_t *ta, *tb;
  T_EQ(corun_join(a, (void **)&ta), 0);
  T_EQ(corun_join(b, (void **)&tb), 0);
  T_TRUE(pthread_equal(*ta, *tb)); /* both on the stack's worker */
  free(ta);
  free(tb);
  return NULL;
}

int main(void) {
  T_EQ(corun_pin(1), -EPERM);
  int rc = corun_shared_stack_create(&shared, 0);
  if (rc != -ENOTSUP) { /* (the ucontext backend has no shared stacks) */
    T_EQ(rc, 0);
    corun_config monitored = {.workers = 1, .block_ms = 2};
    T_EQ(corun_main(shared_home_main, NULL, &monitored), 0);
    T_EQ(corun_shared_stack_destroy(shared), 0);
  }
  corun_config one = {.workers = 1};
  atomic_store(&flag, 0);
  T_EQ(corun_main(starve_main, NULL, &one), 0);
  for (unsigned w = 2; w <= 4; w += 2) {
    corun_config cfg = {.workers = w};
    T_EQ(corun_main(home_main, NULL, &cfg), 0);
  }
  return 0;
}
