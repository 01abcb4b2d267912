/* errno.c: proves each coroutine keeps its own errno on one thread. A
 * coroutine sets errno = 1234 and yields; main, which had set 77 before,
 * still sees 77, sets 55; the coroutine, resumed, sees 1234 again. Two
 * coroutines and main interleaved each keep their own; a nested resume
 * (A resumes B) keeps A's errno across B's changes; when a body returns,
 * its resumer gets its own errno back; destroy's close does not leak the
 * closing body's errno into the destroyer. A new coroutine starts with
 * errno 0, whatever its resumer's is. */
#include <errno.h>

#include "t.h"
#include "corun.h"

static void *simple(void *arg) {
  (void)arg;
  T_EQ(errno, 0); /* a new coroutine starts with errno 0 (corun.h) */
  errno = 1234;
  corun_yield(NULL);
  T_EQ(errno, 1234);
  errno = 4321;
  corun_yield(NULL);
  T_EQ(errno, 4321);
  errno = 999; /* then returns: main must not see it */
  return NULL;
}

static void *keeper(void *arg) {
  intptr_t mine = (intptr_t)arg;
  for (int i = 0; i < 100; i++) {
    errno = (int)(mine + i);
    corun_yield(NULL);
    T_EQ(errno, mine + i);
  }
  return NULL;
}

static corun_coro *inner;

static void *inner_body(void *arg) {
  (void)arg;
  T_EQ(errno, 0); /* its own, fresh: not A's 11 */
  errno = 22;
  corun_yield(NULL);
  T_EQ(errno, 22);
  errno = 23;
  return NULL;
}

static void *outer_body(void *arg) {
  (void)arg;
  errno = 11;
  T_EQ(corun_resume(inner, NULL, NULL), 1);
  T_EQ(errno, 11);
  corun_yield(NULL);
  T_EQ(errno, 11);
  T_EQ(corun_resume(inner, NULL, NULL), 0);
  T_EQ(errno, 11);
  return NULL;
}

static void *closer(void *arg) {
  (void)arg;
  errno = 31;
  corun_yield(NULL);
  T_EQ(errno, 31);
  T_EQ(corun_closing(), 1);
  errno = 32;
  return NULL;
}

int main(void) {
  corun_coro *co;
  errno = 77;
  T_OK(corun_create(&co, simple, NULL, NULL));
  T_EQ(errno, 77); /* corun functions do not touch errno */
  T_EQ(corun_resume(co, NULL, NULL), 1);
  T_EQ(errno, 77);
  errno = 55;
  T_EQ(corun_resume(co, NULL, NULL), 1);
  T_EQ(errno, 55);
  errno = 56;
  T_EQ(corun_resume(co, NULL, NULL), 0);
  T_EQ(errno, 56);
  T_OK(corun_destroy(co));
  T_EQ(errno, 56);

  /* Two coroutines and main, interleaved. */
  corun_coro *a, *b;
  T_OK(corun_create(&a, keeper, (void *)1000, NULL));
  T_OK(corun_create(&b, keeper, (void *)2000, NULL));
  for (int i = 0; i <= 100; i++) {
    errno = 3000 + i;
    T_EQ(corun_resume(a, NULL, NULL), i < 100);
    T_EQ(errno, 3000 + i);
    T_EQ(corun_resume(b, NULL, NULL), i < 100);
    T_EQ(errno, 3000 + i);
  }
  T_OK(corun_destroy(a));
  T_OK(corun_destroy(b));

  /* Nested. */
  T_OK(corun_create(&inner, inner_body, NULL, NULL));
  T_OK(corun_create(&co, outer_body, NULL, NULL));
  errno = 10;
  T_EQ(corun_resume(co, NULL, NULL), 1);
  T_EQ(errno, 10);
  T_EQ(corun_resume(co, NULL, NULL), 0);
  T_EQ(errno, 10);
  T_OK(corun_destroy(co));
  T_OK(corun_destroy(inner));

  /* Destroy's close. */
  T_OK(corun_create(&co, closer, NULL, NULL));
  T_EQ(corun_resume(co, NULL, NULL), 1);
  errno = 30;
  T_OK(corun_destroy(co));
  T_EQ(errno, 30);
  return 0;
}
