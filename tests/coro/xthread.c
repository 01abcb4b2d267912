/* xthread.c: proves the errors for a coroutine that is active on ANOTHER
 * thread. A worker thread runs X, which resumed Y; Y blocks inside its body
 * (on a condition variable, so everything the worker wrote is visible to
 * main: no data race). Meanwhile main sees: corun_resume() of X (NORMAL
 * there) and Y (RUNNING there) -> -EXDEV, corun_transfer() to them from the
 * root and from a coroutine of main's -> -EXDEV, corun_destroy() of them ->
 * -EBUSY, all with *out untouched and nothing run; corun_status() of both is
 * CORUN_NORMAL. After the worker's chain is suspended again and the worker
 * has exited, main resumes X and Y itself (they migrate) and destroys them. */
#include <errno.h>
#include <pthread.h>

#include "t.h"
#include "corun.h"

#define SENTINEL ((void *)(intptr_t)0x5e5e5e5e)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int in_y, go; /* under mu */

static corun_coro *X, *Y, *M;
static int y_runs, x_after;

static void *y_body(void *arg) {
  (void)arg;
  y_runs++;
  pthread_mutex_lock(&mu);
  in_y = 1;
  pthread_cond_broadcast(&cv);
  while (!go)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  void *in = corun_yield((void *)'y');
  T_PTR_EQ(in, (void *)'Y');
  return (void *)('y' + 1);
}

static void *x_body(void *arg) {
  (void)arg;
  void *out = NULL;
  T_EQ(corun_resume(Y, NULL, &out), 1);
  T_PTR_EQ(out, (void *)'y');
  void *in = corun_yield((void *)'x');
  T_PTR_EQ(in, (void *)'X');
  x_after++;
  return (void *)('x' + 1);
}

static void *worker(void *arg) {
  (void)arg;
  void *out = NULL;
  T_EQ(corun_resume(X, NULL, &out), 1);
  T_PTR_EQ(out, (void *)'x');
  T_PTR_EQ(corun_current(), NULL);
  return NULL;
}

/* The checks from main's side, run both on main's root and inside M. */
static void check_foreign(void) {
  void *out = SENTINEL;
  T_EQ(corun_resume(X, (void *)1, &out), -EXDEV);
  T_EQ(corun_resume(Y, (void *)1, &out), -EXDEV);
  T_EQ(corun_transfer(X, (void *)1, &out), -EXDEV);
  T_EQ(corun_transfer(Y, (void *)1, &out), -EXDEV);
  T_PTR_EQ(out, SENTINEL);
  T_EQ(corun_destroy(X), -EBUSY);
  T_EQ(corun_destroy(Y), -EBUSY);
  T_EQ(corun_status(X), CORUN_NORMAL);
  T_EQ(corun_status(Y), CORUN_NORMAL);
  T_EQ(y_runs, 1);
  T_EQ(x_after, 0);
}

static void *m_body(void *arg) {
  (void)arg;
  check_foreign();
  T_PTR_EQ(corun_current(), M);
  return (void *)'m';
}

int main(void) {
  T_OK(corun_create(&X, x_body, NULL, NULL));
  T_OK(corun_create(&Y, y_body, NULL, NULL));
  T_OK(corun_create(&M, m_body, NULL, NULL));
  pthread_t th;
  T_OK(pthread_create(&th, NULL, worker, NULL));

  pthread_mutex_lock(&mu);
  while (!in_y)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);

  check_foreign();
  void *out = NULL;
  T_EQ(corun_resume(M, NULL, &out), 0);
  T_PTR_EQ(out, (void *)'m');
  check_foreign(); /* still, after main ran a coroutine of its own */

  pthread_mutex_lock(&mu);
  go = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  T_OK(pthread_join(th, NULL));

  /* Suspended again: main may take them over. */
  T_EQ(corun_status(X), CORUN_SUSPENDED);
  T_EQ(corun_status(Y), CORUN_SUSPENDED);
  T_EQ(corun_resume(Y, (void *)'Y', &out), 0);
  T_PTR_EQ(out, (void *)('y' + 1));
  T_EQ(corun_resume(X, (void *)'X', &out), 0);
  T_PTR_EQ(out, (void *)('x' + 1));
  T_EQ(x_after, 1);
  T_OK(corun_destroy(X));
  T_OK(corun_destroy(Y));
  T_OK(corun_destroy(M));
  return 0;
}
