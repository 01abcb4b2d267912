/* errno.c: proves each coroutine on a shared stack keeps its own errno,
 * like one on a dedicated stack. A new coroutine on S starts with errno 0;
 * four coroutines on S plus one on a dedicated stack and main, interleaved
 * 200 times, each find the errno they set before their last switch, also
 * when they set it deep in a recursion and yield from there; a nested
 * resume on the same S (A resumes B, both on S) keeps A's errno across B's
 * changes and B's return; destroy's closing of a swapped-out coroutine
 * sees its own errno and does not leak it to the destroyer. */
#include <errno.h>

#include "corun.h"
#include "frames.h"
#include "shared.h"
#include "t.h"

#define NK 5
#define ROUNDS 200

static void yield_deep(void *arg) {
  struct act_yield *y = arg;
  act_yield(y);
}

static void *keeper(void *arg) {
  intptr_t mine = (intptr_t)arg;
  T_EQ(errno, 0);
  for (int i = 0; i < ROUNDS; i++) {
    errno = (int)(mine + i);
    struct act_yield y = {0};
    hold((uint64_t)mine, (uint64_t)i, 1 + i % 17, yield_deep, &y);
    T_EQ(errno, mine + i);
  }
  return NULL;
}

static corun_coro *A, *B;

static void *b_body(void *arg) {
  (void)arg;
  T_EQ(errno, 0); /* fresh: not A's */
  errno = 22;
  corun_yield(NULL);
  T_EQ(errno, 22);
  errno = 23;
  return NULL;
}

static void *a_body(void *arg) {
  (void)arg;
  errno = 11;
  T_EQ(corun_resume(B, NULL, NULL), 1);
  T_EQ(errno, 11);
  corun_yield(NULL);
  T_EQ(errno, 11);
  T_EQ(corun_resume(B, NULL, NULL), 0);
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

static void *other(void *arg) {
  (void)arg;
  errno = 41;
  corun_yield(NULL);
  T_EQ(errno, 41);
  return NULL;
}

int main(void) {
  shared_need_asm();
  corun_shared_stack *S;
  T_OK(corun_shared_stack_create(&S, 0));
  corun_attr sh = {.shared = S};

  /* Interleaved keepers: four on S, one dedicated. */
  corun_coro *k[NK];
  errno = 5;
  for (int i = 0; i < NK; i++)
    T_OK(corun_create(&k[i], keeper, (void *)(intptr_t)(1000 * (i + 1)),
                      i == NK - 1 ? NULL : &sh));
  T_EQ(errno, 5);
  for (int r = 0; r <= ROUNDS; r++)
    for (int i = 0; i < NK; i++) {
      errno = 7000 + r * 10 + i;
      T_EQ(corun_resume(k[(i * 3 + r) % NK], NULL, NULL), r < ROUNDS);
      T_EQ(errno, 7000 + r * 10 + i);
    }
  for (int i = 0; i < NK; i++)
    T_OK(corun_destroy(k[i]));

  /* Nested on the same S. */
  T_OK(corun_create(&B, b_body, NULL, &sh));
  T_OK(corun_create(&A, a_body, NULL, &sh));
  errno = 10;
  T_EQ(corun_resume(A, NULL, NULL), 1);
  T_EQ(errno, 10);
  T_EQ(corun_resume(A, NULL, NULL), 0);
  T_EQ(errno, 10);
  T_OK(corun_destroy(A));
  T_OK(corun_destroy(B));

  /* Closing a swapped-out coroutine. */
  corun_coro *c, *o;
  T_OK(corun_create(&c, closer, NULL, &sh));
  T_OK(corun_create(&o, other, NULL, &sh));
  T_EQ(corun_resume(c, NULL, NULL), 1);
  T_EQ(corun_resume(o, NULL, NULL), 1); /* c swapped out */
  errno = 30;
  T_OK(corun_destroy(c));
  T_EQ(errno, 30);
  T_EQ(corun_resume(o, NULL, NULL), 0);
  T_EQ(errno, 30);
  T_OK(corun_destroy(o));
  T_OK(corun_shared_stack_destroy(S));
  return 0;
}
