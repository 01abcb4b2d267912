/* valgrind.h: whether the process runs under Valgrind.
 * Layer: base (knows nothing of coroutines).
 *
 * Why the runtime asks: Valgrind runs one thread at a time under a big
 * lock that is not fair by default (--fair-sched=no). A worker spinning
 * for work (idle.c) yields with `pause` and takes the lock straight
 * back, so the threads that have real work, coming back from a system
 * call, wait behind it: a program measured 300 times slower than under
 * plain memcheck overhead (tests/clients/redis). And memcheck checks the
 * buffers of read(2) and send(2) but cannot see those of an io_uring
 * request. Under Valgrind the scheduler therefore sleeps at once instead
 * of spinning, and the event loop prefers epoll (poll.c).
 *
 * Outside Valgrind the client request is a few instructions that do
 * nothing; built without valgrind.h, the answer is always no. */
#ifndef CORUN_BASE_VALGRIND_H
#define CORUN_BASE_VALGRIND_H

#ifdef CORUN_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

static inline int corun__on_valgrind(void) {
#ifdef CORUN_HAVE_VALGRIND
  return RUNNING_ON_VALGRIND != 0;
#else
  return 0;
#endif
}

#endif
