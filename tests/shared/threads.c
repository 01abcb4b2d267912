/* threads.c: proves independent shared stacks on several threads at once.
 * NTHREADS threads run concurrently; each creates two shared stacks of its
 * own (256 and 32 KiB) and 9 coroutines (four on each shared stack, one on
 * a dedicated stack), and resumes them round robin ROUNDS times. Every
 * coroutine checks after each resume that it runs on its thread, that
 * corun_current() is itself, and that its 2 KiB array, self pointers and
 * 1-12 frame deep stack are intact; values pass both ways. Each thread
 * then destroys half its coroutines while suspended (closed, state intact)
 * and half after they finish, and frees its shared stacks (0). Nothing is
 * shared between the threads but the library. Label threads. */
#include <pthread.h>

#include "corun.h"
#include "frames.h"
#include "shared.h"
#include "t.h"

#define NTHREADS 4
#define NCO 9
#define ROUNDS 300

struct tstate {
  int t;
  pthread_t self;
  corun_coro *co[NCO];
  int closed[NCO];
};

struct arg {
  struct tstate *ts;
  int i;
};

static __attribute__((noinline)) pthread_t fresh_self(void) {
  __asm__ volatile("" ::: "memory");
  return pthread_self();
}

static void *body(void *p) {
  struct arg *a = p;
  struct tstate *ts = a->ts;
  int i = a->i;
  uint64_t who = (uint64_t)(ts->t * 100 + i);
  volatile unsigned char big[2048];
  volatile unsigned char *volatile bigp = big;
  shared_fill(big, sizeof big, who, 0);
  for (uint64_t k = 0;; k++) {
    T_TRUE(pthread_equal(fresh_self(), ts->self));
    T_PTR_EQ(corun_current(), ts->co[i]);
    SHARED_CHECK(bigp, sizeof big, who, k);
    if (k == ROUNDS)
      return (void *)(uintptr_t)who;
    shared_fill(bigp, sizeof big, who, k + 1);
    struct act_yield y = {.out = (void *)(uintptr_t)(who * 1000 + k)};
    hold(who, k, 1 + (int)((k + who) % 12), act_yield, &y);
    T_PTR_EQ((const void *)bigp, (const void *)big);
    if (corun_closing()) {
      SHARED_CHECK(bigp, sizeof big, who, k + 1);
      ts->closed[i] = 1;
      return NULL;
    }
    T_PTR_EQ(y.in, (void *)(uintptr_t)(who * 2000 + k));
  }
}

static void *thread_main(void *p) {
  struct tstate *ts = p;
  ts->self = pthread_self();
  corun_shared_stack *ss[2];
  T_OK(corun_shared_stack_create(&ss[0], 0));
  T_OK(corun_shared_stack_create(&ss[1], 32 * 1024));
  struct arg args[NCO];
  for (int i = 0; i < NCO; i++) {
    args[i] = (struct arg){ts, i};
    corun_attr attr = {.shared = i == NCO - 1 ? NULL : ss[i % 2],
                       .stack_size = 64 * 1024};
    T_OK(corun_create(&ts->co[i], body, &args[i], &attr));
  }
  for (int r = 0; r <= ROUNDS; r++)
    for (int i = 0; i < NCO; i++) {
      uint64_t who = (uint64_t)(ts->t * 100 + i);
      if (i % 2 == 1 && r == ROUNDS)
        continue; /* left suspended: closed by destroy */
      void *out = NULL;
      int rc = corun_resume(ts->co[i], (void *)(uintptr_t)(who * 2000 + (uint64_t)r - 1), &out);
      if (r < ROUNDS) {
        T_EQ(rc, 1);
        T_PTR_EQ(out, (void *)(uintptr_t)(who * 1000 + (uint64_t)r));
      } else {
        T_EQ(rc, 0);
        T_PTR_EQ(out, (void *)(uintptr_t)who);
      }
    }
  for (int i = 0; i < NCO; i++) {
    T_EQ(corun_status(ts->co[i]), i % 2 ? CORUN_SUSPENDED : CORUN_DEAD);
    T_OK(corun_destroy(ts->co[i]));
    T_EQ(ts->closed[i], i % 2);
  }
  T_OK(corun_shared_stack_destroy(ss[0]));
  T_OK(corun_shared_stack_destroy(ss[1]));
  return NULL;
}

int main(void) {
  shared_need_asm();
  static struct tstate ts[NTHREADS];
  pthread_t th[NTHREADS];
  for (int t = 0; t < NTHREADS; t++) {
    ts[t].t = t + 1;
    T_OK(pthread_create(&th[t], NULL, thread_main, &ts[t]));
  }
  for (int t = 0; t < NTHREADS; t++)
    T_OK(pthread_join(th[t], NULL));
  printf("%d threads x %d coroutines x %d rounds: intact\n", NTHREADS, NCO,
         ROUNDS);
  return 0;
}
