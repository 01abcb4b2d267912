/* handoff.c: proves a shared stack and its coroutines can move between
 * threads, one thread at a time. Thread 1 creates a shared stack S, six
 * coroutines on S and two on dedicated stacks, and runs them all a round;
 * then threads 1 and 2 take turns (HOPS hand-overs under a mutex and a
 * condition variable, so never concurrently): the thread whose turn it is
 * resumes every coroutine once, in an order that changes every hop, and
 * passes the turn. Each coroutine checks after every resume that it runs
 * on the thread of that turn (pthread_self, read through a non-inlined
 * function: no TLS address kept across a switch), that corun_current() is
 * itself, and that its 3 KiB array, self pointers and 1-15 frame deep
 * stack are intact. At the end thread 2 destroys them all -- the
 * suspended ones are closed on thread 2 with their state intact -- and
 * then S (0; -EBUSY before the last coroutine). Label threads. */
#include <pthread.h>

#include "corun.h"
#include "frames.h"
#include "shared.h"
#include "t.h"

#define NCO 8
#define HOPS 101

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn = 1; /* under mu: 1 or 2 */
static pthread_t tid[3];
static corun_shared_stack *S;
static corun_coro *co[NCO];
static int who_runs; /* the thread whose turn it is (written under mu) */
static int closed[NCO];

static __attribute__((noinline)) pthread_t fresh_self(void) {
  __asm__ volatile("" ::: "memory");
  return pthread_self();
}

static void *body(void *arg) {
  int i = (int)(intptr_t)arg;
  volatile unsigned char big[3072];
  volatile unsigned char *volatile bigp = big;
  shared_fill(big, sizeof big, (uint64_t)i, 0);
  for (uint64_t k = 0;; k++) {
    T_TRUE(pthread_equal(fresh_self(), tid[who_runs]));
    T_PTR_EQ(corun_current(), co[i]);
    SHARED_CHECK(bigp, sizeof big, (uint64_t)i, k);
    shared_fill(bigp, sizeof big, (uint64_t)i, k + 1);
    struct act_yield y = {.out = (void *)(uintptr_t)k};
    hold((uint64_t)i + 20, k, 1 + (int)((k * 3 + (uint64_t)i) % 15), act_yield,
         &y);
    T_PTR_EQ((const void *)bigp, (const void *)big);
    if (corun_closing()) {
      T_TRUE(pthread_equal(fresh_self(), tid[2]));
      SHARED_CHECK(bigp, sizeof big, (uint64_t)i, k + 1);
      closed[i] = 1;
      return NULL;
    }
    T_PTR_EQ(y.in, (void *)(uintptr_t)(k + 1));
  }
}

static int rounds_done[NCO];

static void run_round(int hop) {
  for (int n = 0; n < NCO; n++) {
    int i = (n * 3 + hop) % NCO;
    void *out = NULL;
    T_EQ(corun_resume(co[i], (void *)(uintptr_t)rounds_done[i], &out), 1);
    T_PTR_EQ(out, (void *)(uintptr_t)rounds_done[i]);
    rounds_done[i]++;
  }
  T_PTR_EQ(corun_current(), NULL);
}

static void *thread_main(void *arg) {
  int me = (int)(intptr_t)arg;
  tid[me] = pthread_self();
  for (int hop = 0; hop < HOPS; hop++) {
    if (hop % 2 != me - 1)
      continue;
    pthread_mutex_lock(&mu);
    while (turn != me)
      pthread_cond_wait(&cv, &mu);
    who_runs = me;
    pthread_mutex_unlock(&mu);
    run_round(hop);
    pthread_mutex_lock(&mu);
    turn = 3 - me;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  if (me == 2) {
    /* Wait until thread 1 is done too, then destroy everything here. */
    pthread_mutex_lock(&mu);
    while (turn != 2)
      pthread_cond_wait(&cv, &mu);
    who_runs = 2;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < NCO; i++) {
      T_EQ(corun_shared_stack_destroy(S), -EBUSY);
      T_OK(corun_destroy(co[i]));
      T_EQ(closed[i], 1);
    }
    T_OK(corun_shared_stack_destroy(S));
  }
  return NULL;
}

int main(void) {
  shared_need_asm();
  T_OK(corun_shared_stack_create(&S, 0));
  corun_attr sh = {.shared = S}, ded = {.stack_size = 64 * 1024};
  for (int i = 0; i < NCO; i++)
    T_OK(corun_create(&co[i], body, (void *)(intptr_t)i,
                      i % 4 == 1 ? &ded : &sh));
  pthread_t t2;
  T_OK(pthread_create(&t2, NULL, thread_main, (void *)2));
  thread_main((void *)1); /* main is thread 1 */
  T_OK(pthread_join(t2, NULL));
  for (int i = 0; i < NCO; i++)
    T_EQ(rounds_done[i], HOPS);
  printf("%d hops between two threads, %d coroutines (%d on one shared "
         "stack): intact\n",
         HOPS, NCO, NCO - NCO / 4);
  return 0;
}
