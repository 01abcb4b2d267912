/* million.c: proves that a process can hold 1,000,000 coroutines with
 * 16 KiB stacks alive at once on a default machine (vm.max_map_count =
 * 65530, which caps one-mapping-per-stack designs near 32 K): every create
 * succeeds, every coroutine is resumed once so its stack is really used,
 * the process's mapping count stays far below the limit (stacks share slab
 * mappings; guards cost no mapping), a sample of them still holds its own
 * state when resumed again, and all are destroyed.
 * Under qemu-user (the cross-built architectures) N is 100,000: emulated
 * page faults are slow, and the code paths are the same.
 * Under valgrind N is scaled down to 20,000 (the same code paths, fewer
 * of them): memcheck runs them at about 0.5 ms per coroutine (100,000 take
 * 53 s), so 1e6 would take about ten minutes of CI. */
#include <stdint.h>
#include <stdlib.h>

#include "child.h"
#include "corun.h"
#include "stack/stack.h"
#include "t.h"

#define STACK ((size_t)16 * 1024)

/* Yields its index (from its own stack), then returns it doubled. */
static void *body(void *arg) {
  volatile uintptr_t mine = (uintptr_t)arg; /* lives on this stack */
  void *in = corun_yield((void *)mine);
  if (corun_closing())
    return NULL;
  return (void *)(mine * 2 + (uintptr_t)in);
}

static long count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "re");
  T_TRUE(f != NULL);
  long n = 0;
  int ch;
  while ((ch = getc(f)) != EOF)
    n += ch == '\n';
  fclose(f);
  return n;
}

int main(void) {
  size_t n = t_under_valgrind() ? 20000 : t_emulated() ? 100000 : 1000000;
  corun_coro **co = calloc(n, sizeof *co);
  T_TRUE(co != NULL);
  corun_attr attr = {.stack_size = STACK};
  long maps_before = count_maps();

  for (size_t i = 0; i < n; i++) {
    int rc = corun_create(&co[i], body, (void *)(uintptr_t)i, &attr);
    if (rc != 0)
      fprintf(stderr, "create %zu failed: %s\n", i, corun_strerror(rc));
    T_EQ(rc, 0);
    void *out = NULL;
    T_EQ(corun_resume(co[i], NULL, &out), 1);
    T_EQ((uintptr_t)out, i);
  }

  long maps = count_maps();
  struct corun__stack_stats st;
  corun__stack_get_stats(&st);
  printf("%zu coroutines alive: %ld mappings (%ld before, limit %ld), "
         "%" PRIu64 " slabs, %" PRIu64 " slots, guard mode %d, %" PRIu64
         " mprotect guards\n",
         n, maps, maps_before, corun__stack_max_map_count(), st.slabs, st.slots,
         st.guard, st.mprotect_guards);
  T_GE(st.slots, n);
  if (have_madv_guard()) {
    /* Far from the limit: the stacks did not cost a mapping each. */
    T_LT(maps - maps_before, (long)(n / 16) + 64);
    T_LT(maps, corun__stack_max_map_count() / 2);
  } else {
    /* No MADV_GUARD_INSTALL (old kernel, emulator): mprotect guards up to
     * their budget, canaries after it, and the wall is never reached. */
    T_LT(maps, corun__stack_max_map_count());
  }

  /* All distinct and still suspended; a sample resumed again. */
  for (size_t i = 0; i < n; i++)
    T_EQ(corun_status(co[i]), CORUN_SUSPENDED);
  for (size_t i = 0; i < n; i += n / 97) {
    void *out = NULL;
    T_EQ(corun_resume(co[i], (void *)(uintptr_t)1, &out), 0);
    T_EQ((uintptr_t)out, 2 * i + 1);
    T_EQ(corun_status(co[i]), CORUN_DEAD);
  }
  for (size_t i = 0; i < n; i++)
    T_OK(corun_destroy(co[i]));
  free(co);
  return 0;
}
