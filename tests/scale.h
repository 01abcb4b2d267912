/* scale.h: sizing a test's loops for where it runs (tests may include
 * src/ headers; not the hook tests, which are built without them). */
#ifndef CORUN_TESTS_SCALE_H
#define CORUN_TESTS_SCALE_H

#include <stdlib.h>

#include "base/compiler.h"
#include "t.h"

/* n scaled by CORUN_TEST_SCALE, and by 1/10 under sanitizers, Valgrind
 * and qemu; at least 1. */
static inline long scaled(long n) {
  const char *e = getenv("CORUN_TEST_SCALE");
  double f = e && *e ? atof(e) : 1.0;
  if (CORUN__TSAN || CORUN__ASAN || t_under_valgrind() || t_emulated())
    f /= 10;
  long r = (long)((double)n * f);
  return r > 0 ? r : 1;
}

#endif
