/* pinned.c: pinned tasks (corun_attr.pin) stay on the worker that first
 * runs them, however often they block and yield, while other tasks move;
 * so does a task between corun_pin(1) and the matching corun_pin(0) (the
 * calls nest; an extra corun_pin(0) is harmless; a corun_pin pair inside
 * a task spawned pinned leaves it pinned; -EPERM outside a task);
 * and a pinned task waiting in a corun_yield() loop does not starve the
 * unpinned tasks queued on its worker (it once did: a pinned yielder went
 * back to the inbox, which the worker looked at before its deque). */
#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

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

int main(void) {
  T_EQ(corun_pin(1), -EPERM);
  corun_config one = {.workers = 1};
  atomic_store(&flag, 0);
  T_EQ(corun_main(starve_main, NULL, &one), 0);
  for (unsigned w = 2; w <= 4; w += 2) {
    corun_config cfg = {.workers = w};
    T_EQ(corun_main(home_main, NULL, &cfg), 0);
  }
  return 0;
}
