/* rand.h: a per-owner pseudo-random generator (xorshift64*, Vigna 2016,
 * "An experimental exploration of Marsaglia's xorshift generators"), for
 * steal victims and select's fair choice. Not for anything secret.
 * Layer: base. The state is owned by one thread: no locking. */
#ifndef CORUN_BASE_RAND_H
#define CORUN_BASE_RAND_H

#include <stdint.h>

static inline uint64_t corun__rand(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n) for n > 0 (Lemire's multiply-shift; the bias for the
 * small n used here is below 2^-32). */
static inline uint32_t corun__rand_below(uint64_t *state, uint32_t n) {
  return (uint32_t)(((corun__rand(state) >> 32) * (uint64_t)n) >> 32);
}

#endif
