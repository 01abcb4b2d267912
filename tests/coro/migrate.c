/* migrate.c: proves a suspended coroutine can move between threads and keeps
 * its own errno while each thread keeps its own. (1) Thread 0 creates a
 * coroutine and runs it first; then threads 0 and 1 take turns resuming it
 * (1,001 hops, handed over under a mutex/condvar, so no data race). At each
 * hop the body checks that it runs on the expected thread (pthread_self and
 * &errno are that thread's), that corun_current() is itself, that errno is
 * the value it set before its last yield (on the other thread), then sets a
 * new one. Each thread sets its own errno right before each resume and finds
 * it unchanged right after, with corun_current() NULL. The last hop returns;
 * thread 1 destroys the coroutine thread 0 created. (2) A coroutine created
 * and started on a thread that then exits (its corun state is freed) is
 * resumed and destroyed on a new thread.
 * The body reads errno, &errno and pthread_self() through non-inlined
 * functions with a compiler barrier, as the header asks: the compiler may
 * otherwise keep a thread-local address across corun_yield(). */
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "t.h"
#include "corun.h"

#define NOINLINE __attribute__((noinline))
#define BARRIER() __asm__ volatile("" ::: "memory")

static NOINLINE int fresh_errno(void) {
  BARRIER();
  return errno;
}
static NOINLINE void fresh_set_errno(int v) {
  BARRIER();
  errno = v;
}
static NOINLINE int *fresh_errno_addr(void) {
  BARRIER();
  return &errno;
}
static NOINLINE pthread_t fresh_self(void) {
  BARRIER();
  return pthread_self();
}
/* The kernel's thread id: unlike pthread_t, not reused by the next thread
 * right after the previous one exits. */
static NOINLINE long fresh_tid(void) {
  BARRIER();
  return syscall(SYS_gettid);
}

/* ---- (1) ping-pong between two threads --------------------------------- */

#define HOPS 1001

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn; /* under mu: which thread resumes next; -1 when done */
static corun_coro *co;
static pthread_t tid[2];
static int *errno_at[2]; /* each thread's &errno */
static int ready;        /* under mu: threads that recorded the above */
static int hops_done;

static void *pingpong_body(void *arg) {
  (void)arg;
  int mine = 0;
  intptr_t who = 0; /* thread 0 runs the first hop */
  for (int hop = 0;; hop++) {
    T_TRUE(pthread_equal(fresh_self(), tid[who]));
    T_PTR_EQ(fresh_errno_addr(), errno_at[who]);
    T_PTR_EQ(corun_current(), co);
    T_EQ(corun_status(co), CORUN_RUNNING);
    if (hop > 0)
      T_EQ(fresh_errno(), mine);
    hops_done = hop + 1;
    if (hop == HOPS)
      return (void *)(intptr_t)hop;
    mine = 1234 + hop;
    fresh_set_errno(mine);
    who = (intptr_t)corun_yield((void *)(intptr_t)hop);
  }
}

static void *pingpong_thread(void *arg) {
  intptr_t me = (intptr_t)arg;
  pthread_mutex_lock(&mu);
  tid[me] = pthread_self();
  errno_at[me] = &errno;
  ready++;
  pthread_cond_broadcast(&cv);
  while (ready < 2)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  if (me == 0)
    T_OK(corun_create(&co, pingpong_body, NULL, NULL));
  for (;;) {
    pthread_mutex_lock(&mu);
    while (turn != me && turn >= 0)
      pthread_cond_wait(&cv, &mu);
    int now = turn;
    pthread_mutex_unlock(&mu);
    if (now < 0)
      return NULL;
    int hop = hops_done;
    void *out = NULL;
    int mine = 100 + (int)me * 10 + hop % 7;
    errno = mine;
    int rc = corun_resume(co, (void *)me, &out);
    T_EQ(errno, mine);
    T_PTR_EQ(corun_current(), NULL);
    T_EQ((intptr_t)out, hop);
    T_EQ(hops_done, hop + 1);
    if (rc == 0) {
      T_EQ(hop, HOPS);
      T_EQ(me, HOPS % 2);
      T_EQ(corun_status(co), CORUN_DEAD);
      T_OK(corun_destroy(co)); /* created on the other thread */
    } else {
      T_EQ(rc, 1);
      T_EQ(corun_status(co), CORUN_SUSPENDED);
    }
    pthread_mutex_lock(&mu);
    turn = rc == 0 ? -1 : 1 - (int)me;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
}

static void pingpong(void) {
  pthread_t th[2];
  for (intptr_t i = 0; i < 2; i++)
    T_OK(pthread_create(&th[i], NULL, pingpong_thread, (void *)i));
  for (int i = 0; i < 2; i++)
    T_OK(pthread_join(th[i], NULL));
  T_EQ(hops_done, HOPS + 1);
}

/* ---- (2) the first thread is gone ---------------------------------------- */

static corun_coro *orphan;
static long first_tid;

static void *orphan_body(void *arg) {
  (void)arg;
  T_EQ(fresh_tid(), first_tid);
  fresh_set_errno(4242);
  void *in = corun_yield((void *)1);
  T_PTR_EQ(in, (void *)2);
  T_PTR_EQ(corun_current(), orphan);
  T_NE(fresh_tid(), first_tid);
  T_EQ(fresh_errno(), 4242);
  fresh_set_errno(4343);
  in = corun_yield((void *)3);
  T_TRUE(corun_closing());
  T_EQ(fresh_errno(), 4343);
  return NULL;
}

static void *first_thread(void *arg) {
  (void)arg;
  first_tid = syscall(SYS_gettid);
  T_OK(corun_create(&orphan, orphan_body, NULL, NULL));
  void *out = NULL;
  errno = 7;
  T_EQ(corun_resume(orphan, NULL, &out), 1);
  T_EQ(errno, 7);
  T_PTR_EQ(out, (void *)1);
  return NULL;
}

static void *second_thread(void *arg) {
  (void)arg;
  void *out = NULL;
  errno = 8;
  T_EQ(corun_resume(orphan, (void *)2, &out), 1);
  T_EQ(errno, 8);
  T_PTR_EQ(out, (void *)3);
  T_PTR_EQ(corun_current(), NULL);
  T_OK(corun_destroy(orphan));
  T_EQ(errno, 8);
  return NULL;
}

static void first_thread_gone(void) {
  pthread_t th;
  T_OK(pthread_create(&th, NULL, first_thread, NULL));
  T_OK(pthread_join(th, NULL));
  T_OK(pthread_create(&th, NULL, second_thread, NULL));
  T_OK(pthread_join(th, NULL));
}

int main(void) {
  pingpong();
  first_thread_gone();
  return 0;
}
