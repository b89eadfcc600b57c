/*
 * fuzz_util.h: what the libFuzzer targets in tests/fuzz share. A target
 * checks the documented contract of its entry point on every input (the
 * sanitizers check memory and UB); a broken promise aborts with a message,
 * which libFuzzer reports as a crash and keeps as an artifact.
 */
#ifndef FERRY_FUZZ_UTIL_H
#define FERRY_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "fuzz: contract broken at %s:%d: %s\n", __FILE__, __LINE__, \
              #cond);                                                             \
      abort();                                                                    \
    }                                                                             \
  } while (0)

/* A deterministic stream of chunk sizes derived from the input itself, so a
 * crash reproduces from the saved input alone. */
typedef struct fuzz_rng {
  uint64_t s;
} fuzz_rng_t;

static inline void fuzz_rng_init(fuzz_rng_t *r, const uint8_t *data, size_t size) {
  size_t i;
  r->s = 0x9E3779B97F4A7C15ULL ^ size;
  for (i = 0; i < size && i < 64; i++) r->s = r->s * 1099511628211ULL ^ data[i];
  if (!r->s) r->s = 1;
}

static inline uint64_t fuzz_rng_next(fuzz_rng_t *r) {
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return r->s;
}

/* A chunk length in [0, left], biased to small ones (including empty feeds). */
static inline size_t fuzz_chunk(fuzz_rng_t *r, size_t left) {
  uint64_t x = fuzz_rng_next(r) % 100;
  size_t n = x < 60 ? (size_t)(x % 9) : x < 90 ? (size_t)(x * 5) : left;
  return n > left ? left : n;
}

#endif
