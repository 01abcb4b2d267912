/* ab.c: the A->B test, on examples/ab_service.c's own self-test:
 * 1,000 concurrent requests against an A whose every request calls a B
 * that waits 100 ms finish in well under 1 s (sequentially they would
 * take 100 s), every reply checked byte for byte, in code that reads like
 * blocking calls.
 *
 * Slow configurations get a larger bound, always far below the
 * sequential time: ASan 3 s; TSan, Valgrind and qemu 10 s (still a tenth
 * of it; TSan takes 2.5 to 3.5 s on a busy machine, mostly creating its
 * per-fiber state for 3,000 tasks). CORUN_TEST_SCALE scales the number of clients; the bound
 * then must stay under a tenth of clients x delay, or the test would
 * prove nothing, which is checked too. */
#include <corun.h>
#include <stdlib.h>

#include "ab_service.h"
#include "base/compiler.h"
#include "t.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define DELAY_MS 100

int main(void) {
  const char *e = getenv("CORUN_TEST_SCALE");
  double scale = e && *e ? atof(e) : 1.0;
  long clients = (long)(1000 * scale);
  if (clients < 1)
    clients = 1;
  int64_t bound = 1 * SEC;
  if (t_under_valgrind() || t_emulated() || CORUN__TSAN)
    bound = 10 * SEC;
  else if (CORUN__ASAN)
    bound = 3 * SEC;
  int64_t sequential = clients * DELAY_MS * MS;
  if (bound > sequential / 10)
    T_SKIP("too few clients for this configuration's time bound to show "
           "that the requests overlap");

  struct ab_run r = {.clients = clients, .delay_ms = DELAY_MS};
  corun_config cfg = {.workers = 2};
  T_OK(corun_main(ab_self_test, &r, &cfg));
  printf("http/ab: %ld clients, B delay %d ms: %ld replies right, %.3f s "
         "(bound %.0f s, sequential %.0f s)\n",
         r.clients, r.delay_ms, r.ok, (double)r.elapsed_ns / 1e9,
         (double)bound / 1e9, (double)sequential / 1e9);
  T_OK(r.error);
  T_EQ(r.ok, clients);
  /* Never faster than one delay: B really waited. */
  T_GE(r.elapsed_ns, DELAY_MS * MS);
  T_LT(r.elapsed_ns, bound);
  return 0;
}
