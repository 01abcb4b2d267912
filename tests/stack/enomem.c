/* enomem.c: proves that running out of address space is an error, never a
 * crash: in a forked child with RLIMIT_AS lowered to its current size +
 * 64 MiB, corun_create with default (256 KiB) stacks eventually returns
 * -ENOMEM (it must: the limit is far below what unbounded creation needs)
 * and leaves *co untouched; the process keeps working: after destroying a
 * few coroutines, creates succeed again (on the freed stacks), every
 * coroutine still alive can be resumed to its end, and all are destroyed;
 * the child exits 0. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "child.h"
#include "corun.h"
#include "t.h"

#define MAX_COROS 100000

static unsigned long vm_size_kib(void) {
  FILE *f = fopen("/proc/self/status", "re");
  T_TRUE(f != NULL);
  char line[256];
  unsigned long kib = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmSize: %lu kB", &kib) == 1)
      break;
  fclose(f);
  T_GT(kib, 0);
  return kib;
}

static void *body(void *arg) {
  volatile char touch[2048]; /* commit some of the stack */
  touch[0] = 1;
  void *in = corun_yield(arg);
  return (void *)((uintptr_t)arg + (uintptr_t)in + (uintptr_t)touch[0] - 1);
}

static corun_coro *co[MAX_COROS];

static int child(void *arg) {
  (void)arg;
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = (vm_size_kib() + 64 * 1024) * 1024;
  T_OK(setrlimit(RLIMIT_AS, &rl));

  size_t n = 0;
  int rc;
  for (;;) {
    T_LT(n, MAX_COROS); /* the limit must stop creation long before */
    corun_coro *sentinel = (corun_coro *)(uintptr_t)0x1234;
    corun_coro *c = sentinel;
    rc = corun_create(&c, body, (void *)(uintptr_t)n, NULL);
    if (rc != 0) {
      T_EQ(rc, -ENOMEM);
      T_EQ_HEX((uintptr_t)c, (uintptr_t)sentinel); /* untouched */
      break;
    }
    co[n] = c;
    T_EQ(corun_resume(c, NULL, NULL), 1);
    n++;
  }
  fprintf(stderr, "-ENOMEM after %zu coroutines\n", n);
  T_GT(n, 10);
  /* Fails again: nothing changed. */
  corun_coro *c;
  T_EQ(corun_create(&c, body, NULL, NULL), -ENOMEM);

  /* Free a few, create again: the freed stacks are reused. */
  for (size_t i = n - 5; i < n; i++)
    T_OK(corun_destroy(co[i]));
  for (size_t i = n - 5; i < n; i++) {
    T_OK(corun_create(&co[i], body, (void *)(uintptr_t)i, NULL));
    T_EQ(corun_resume(co[i], NULL, NULL), 1);
  }
  /* Every coroutine still works. */
  for (size_t i = 0; i < n; i++) {
    void *out = NULL;
    T_EQ(corun_resume(co[i], (void *)(uintptr_t)7, &out), 0);
    T_EQ((uintptr_t)out, i + 7);
    T_OK(corun_destroy(co[i]));
  }
  return 0;
}

int main(void) {
  /* qemu-user ignores a guest's RLIMIT_AS (it would limit the emulator). */
  if (t_emulated())
    T_SKIP("qemu-user does not apply RLIMIT_AS to the guest");
  static struct child c;
  child_run(&c, child, NULL);
  child_show("child", &c);
  child_expect_exit(&c, 0);
  T_TRUE(strstr(c.err, "-ENOMEM after") != NULL);
  return 0;
}
