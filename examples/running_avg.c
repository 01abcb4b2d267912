/* running_avg.c: a generator that is sent values (resume in, yield out) and
 * then closed.
 *
 * From seeds/000 (the compiler-course lecture, "协程的特点与使用场景"): the
 * Python generator
 *     def running_avg():
 *         ...
 *         while True:
 *             num = yield avg
 *             ...
 * driven by next(ra), ra.send(2), ..., ra.send(11) and ra.close(). Here
 * next() is the first corun_resume(), send(x) is corun_resume() with a
 * pointer to x, `yield avg` is corun_yield() with a pointer to the average,
 * and close() is corun_destroy(), which wakes the body one last time with
 * corun_closing() true (Python raises GeneratorExit at the yield). */
#include <stdio.h>
#include <stdlib.h>

#include "corun.h"

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "running_avg: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

/* The generator body. The value crossing a switch is a void *, so doubles
 * travel by pointer: `num` points into the caller's frame, the yielded
 * pointer into this coroutine's stack (valid while it is suspended). */
static void *running_avg(void *arg) {
  double total = 0.0, avg = 0.0;
  int count = 0;
  (void)arg;
  for (;;) {
    const double *num = corun_yield(&avg); /* num = yield avg */
    if (corun_closing()) {
      printf("running_avg: closed after %d values, cleaning up\n", count);
      return NULL;
    }
    total += *num;
    count += 1;
    avg = total / count;
  }
}

int main(void) {
  static const double values[] = {2, 3, 4, 7, 9, 11};
  corun_coro *ra;
  void *out;

  check(corun_create(&ra, running_avg, NULL, NULL), "create");
  /* next(ra): runs the body up to its first yield (which yields 0). */
  int rc = corun_resume(ra, NULL, &out);
  check(rc, "next");
  if (rc == 0) {
    fprintf(stderr, "running_avg: generator ended early\n");
    return 1;
  }
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    double v = values[i];
    rc = corun_resume(ra, &v, &out); /* ra.send(v) */
    check(rc, "send");
    if (rc == 0) {
      fprintf(stderr, "running_avg: generator ended early\n");
      return 1;
    }
    printf("send(%g) -> %.1f\n", v, *(const double *)out);
  }
  check(corun_destroy(ra), "close"); /* ra.close() */
  return 0;
}
