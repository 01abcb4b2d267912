/* ten_million.c: the lecture's libco story (seeds/000): a server holding ten
 * million mostly idle conversations on one machine, each a coroutine. With
 * a dedicated stack each would cost at least a page; on shared stacks a
 * suspended coroutine costs its object plus the few hundred bytes of stack
 * it had live when it yielded.
 *
 * Creates N coroutines (argv[1], else $N, else 100,000; N=10000000 for the
 * full story) on a pool of shared stacks. Each calls a small function
 * and yields. Then it resumes them all to the end and destroys them. Prints
 * the memory one suspended coroutine costs (resident set growth / N) and
 * the time per coroutine of each phase. */
#include <corun.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rss_bytes(void) { /* resident set, from /proc/self/statm */
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

static __attribute__((noinline)) long greet(long who) { return who * 7 + 1; }

static void *conversation(void *arg) {
  long said = greet((long)(intptr_t)arg); /* a small function, then wait */
  long heard = (long)(intptr_t)corun_yield((void *)(intptr_t)said);
  return (void *)(intptr_t)(said + heard);
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "ten_million: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

int main(int argc, char **argv) {
  const char *env = argc > 1 ? argv[1] : getenv("N");
  long n = env ? atol(env) : 100000;
  if (n <= 0)
    n = 100000;
  corun_coro **co = malloc((size_t)n * sizeof *co);
  if (!co)
    return 1;
  /* Make the array resident before measuring, so it is not counted. Not
   * with zeros: the compiler may fold a malloc and a zeroing into a calloc
   * whose pages stay untouched. */
  memset(co, 0xff, (size_t)n * sizeof *co);
  corun_shared_pool *pool;
  int rc = corun_shared_pool_create(&pool, 16, 128 * 1024);
  if (rc == -ENOTSUP) {
    fprintf(stderr, "ten_million: shared stacks need the assembly context "
                    "switch; this corun was built with the ucontext one\n");
    return 1;
  }
  check(rc, "pool");

  long rss0 = rss_bytes();
  double t0 = now_ns();
  for (long i = 0; i < n; i++) {
    corun_attr attr = {.shared = corun_shared_pool_next(pool)};
    check(corun_create(&co[i], conversation, (void *)(intptr_t)i, &attr),
          "create");
  }
  double t1 = now_ns();
  void *out;
  for (long i = 0; i < n; i++) {
    check(corun_resume(co[i], NULL, &out), "first resume");
    if ((long)(intptr_t)out != greet(i))
      return 1;
  }
  double t2 = now_ns();
  long rss1 = rss_bytes();
  for (long i = 0; i < n; i++) {
    check(corun_resume(co[i], (void *)(intptr_t)1, &out), "resume");
    if ((long)(intptr_t)out != greet(i) + 1)
      return 1;
    check(corun_destroy(co[i]), "destroy");
  }
  double t3 = now_ns();
  check(corun_shared_pool_destroy(pool), "pool destroy");
  free(co);

  printf("%ld coroutines suspended on 16 shared stacks: %.1f MiB resident, "
         "%.0f bytes each\n",
         n, (rss1 - rss0) / 1048576.0, (double)(rss1 - rss0) / n);
  printf("per coroutine: create %.0f ns, first resume (call + yield) %.0f "
         "ns, resume to end + destroy %.0f ns\n",
         (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n);
  return 0;
}
