/* ab_service.h: the self-test of ab_service.c, callable from a test
 * (tests/http/ab.c compiles ab_service.c with -DCORUN_EXAMPLE_NO_MAIN,
 * which leaves its main() out). */
#ifndef CORUN_EXAMPLES_AB_SERVICE_H
#define CORUN_EXAMPLES_AB_SERVICE_H

#include <stdint.h>

struct ab_run {
  long clients; /* in: concurrent client tasks, one request each */
  int delay_ms; /* in: how long B waits before each answer */
  long ok;      /* out: clients whose reply was exactly right */
  int64_t elapsed_ns; /* out: from the first client's start to the last
                         reply */
  int error;    /* out: 0, or the -errno that kept the test from running */
};

/* Task body (pass a struct ab_run *): starts B and A on free ports of
 * 127.0.0.1, runs r->clients client tasks at once, each sending one HTTP
 * request to A and checking the reply byte for byte, then stops both
 * services and waits for every connection to end. Prints nothing. */
void *ab_self_test(void *run);

#endif
