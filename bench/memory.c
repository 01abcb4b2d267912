/* memory.c: memory and creation time per coroutine at scale (see README.md).
 *
 *   memory shared N      N coroutines on 16 shared stacks of 128 KiB, each
 *                        having called a small function and yielded
 *   memory dedicated N S N coroutines with dedicated S-byte stacks, each
 *                        resumed once to a yield (so its stack is touched)
 *
 * Prints one line: result name=... n=... bytes_per_coro=... create_ns=...
 * where bytes_per_coro is the growth of the resident set (/proc/self/statm)
 * from before the first create to when all N are suspended, divided by N,
 * and create_ns the time of the corun_create loop divided by N. The array
 * of N pointers is allocated and touched before the first measurement. */
#include <corun.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rss_bytes(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  if (f)
    fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static __attribute__((noinline)) long small_fn(long x) { return x * 3 + 1; }

static void *body(void *arg) {
  long v = small_fn((long)(intptr_t)arg);
  corun_yield((void *)(intptr_t)v);
  return NULL;
}

static void fail(int rc, const char *what) {
  fprintf(stderr, "memory: %s: %s\n", what, corun_strerror(rc));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 3)
    return 2;
  int shared = strcmp(argv[1], "shared") == 0;
  long n = atol(argv[2]);
  size_t stack = argc > 3 ? (size_t)atol(argv[3]) : 16384;
  corun_coro **co = malloc((size_t)n * sizeof *co);
  if (!co)
    return 1;
  /* Touch every page of the array so it is resident before the first
   * measurement. 0xff, not 0: gcc turns malloc + memset(0) into calloc,
   * whose fresh pages would then be touched inside the measurement. */
  memset(co, 0xff, (size_t)n * sizeof *co);
  corun_shared_pool *pool = NULL;
  int rc;
  if (shared && (rc = corun_shared_pool_create(&pool, 16, 128 * 1024)) < 0)
    fail(rc, "pool");

  long rss0 = rss_bytes();
  double t0 = now_ns();
  for (long i = 0; i < n; i++) {
    corun_attr attr = {.stack_size = stack};
    if (shared)
      attr.shared = corun_shared_pool_next(pool);
    if ((rc = corun_create(&co[i], body, (void *)(intptr_t)i, &attr)) < 0)
      fail(rc, "create");
  }
  double t1 = now_ns();
  for (long i = 0; i < n; i++)
    if ((rc = corun_resume(co[i], NULL, NULL)) != 1)
      fail(rc < 0 ? rc : -EINVAL, "resume");
  long rss1 = rss_bytes();
  for (long i = 0; i < n; i++)
    corun_destroy(co[i]);
  if (pool)
    corun_shared_pool_destroy(pool);
  free(co);
  printf("result name=%s n=%ld bytes_per_coro=%.0f create_ns=%.1f\n",
         shared ? "corun_shared_memory" : "corun_dedicated_memory", n,
         (double)(rss1 - rss0) / n, (t1 - t0) / n);
  return 0;
}
