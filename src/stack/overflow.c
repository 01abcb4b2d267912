/* overflow.c: stack-overflow reports: the SIGSEGV handler, the per-thread
 * alternate signal stack it runs on, and the report itself.
 * Layer: stack (uses base).
 *
 * Why an alternate stack: a fault from an exhausted stack cannot run its
 * handler on that same stack (ClickHouse and helio saw exit 139 with no
 * report). Each thread that uses corun gets one unless it has one already
 * (ASan installs its own, and so may the application).
 *
 * Chaining: faults that are not guard hits go to the handler that was
 * installed before ours (or to the default action), so corun never
 * swallows another component's SIGSEGV.
 *
 * Locking: the handler takes no lock and calls only async-signal-safe
 * functions (write, sigaction, abort); `old` is written once, before the
 * handler is installed (pthread_once). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/panic.h"
#include "stack/stack.h"

#define ALTSTACK_BYTES ((size_t)64 * 1024)

static struct sigaction old;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void out_size(struct corun__out *o, size_t n) {
  if (n % (1024 * 1024) == 0) {
    corun__out_dec(o, n >> 20);
    corun__out_str(o, " MiB");
  } else if (n % 1024 == 0) {
    corun__out_dec(o, n >> 10);
    corun__out_str(o, " KiB");
  } else {
    corun__out_dec(o, n);
    corun__out_str(o, " bytes");
  }
}

void corun__stack_overflow(const struct corun__stack *s, const void *fault) {
  struct corun__out o = {.len = 0};
  corun__out_str(&o, "corun: stack overflow in coroutine ");
  if (s->owner_name[0])
    corun__out_str(&o, s->owner_name);
  else
    corun__out_dec(&o, s->owner_id);
  corun__out_str(&o, " (stack ");
  out_size(&o, (size_t)(s->hi - s->lo));
  corun__out_str(&o, " at ");
  corun__out_hex(&o, (uintptr_t)s->lo);
  corun__out_str(&o, "-");
  corun__out_hex(&o, (uintptr_t)s->hi);
  corun__out_str(&o, ", fault at ");
  corun__out_hex(&o, (uintptr_t)fault);
  corun__out_str(&o, "); raise corun_attr.stack_size\n");
  corun__out_flush(&o);
  /* abort() must not land in a user SIGABRT handler that could try to
   * continue on the broken stack. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGABRT, &dfl, NULL);
  abort();
}

static void on_segv(int sig, siginfo_t *si, void *uctx) {
  const struct corun__stack *s = corun__stack_guard_owner(si->si_addr);
  if (s)
    corun__stack_overflow(s, si->si_addr);
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction) {
      old.sa_sigaction(sig, si, uctx);
      return;
    }
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  /* Default action: restore it and return; the faulting instruction runs
   * again and the kernel kills the process as it would have without us. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, NULL);
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old);
}

void corun__stack_install_handler(void) {
  pthread_once(&once, install);
}

int corun__stack_thread_init(void **altstack) {
  stack_t cur;
  *altstack = NULL;
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
    return 0; /* the thread has one already (ASan, the application) */
  void *p = corun__map(ALTSTACK_BYTES);
  if (!p)
    return -ENOMEM;
  stack_t ss = {.ss_sp = p, .ss_flags = 0, .ss_size = ALTSTACK_BYTES};
  if (sigaltstack(&ss, NULL) != 0) {
    corun__unmap(p, ALTSTACK_BYTES);
    return -errno;
  }
  *altstack = p;
  return 0;
}

void corun__stack_thread_fini(void *altstack) {
  stack_t cur;
  if (!altstack)
    return;
  if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == altstack &&
      !(cur.ss_flags & SS_ONSTACK)) {
    stack_t off = {.ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0};
    sigaltstack(&off, NULL);
    corun__unmap(altstack, ALTSTACK_BYTES);
  }
  /* Otherwise someone replaced it: leave theirs alone, and ours mapped. */
}
