/*
 * backoff.h: when to retry a failed store request, and after how long.
 *
 * Exponential backoff with full jitter: the n-th retry waits a uniformly
 * random time in [0, min(cap, base * 2^n)], which spreads a fleet of workers
 * that failed together instead of having them retry in lock step. A
 * Retry-After from the server is honoured (the delay is at least that long,
 * up to a configured ceiling).
 *
 * Pure: randomness comes from a caller-owned xorshift64* state, seeded once
 * (from the clock and pid in a service, from a constant in tests), so a test
 * sees the same delays every run. Thread-safe as long as each thread has its
 * own RNG state.
 */
#ifndef FERRY_XFER_BACKOFF_H
#define FERRY_XFER_BACKOFF_H

#include <stdint.h>

#include "store/store.h"

#define BACKOFF_BASE_MS 200L
#define BACKOFF_CAP_MS 20000L
#define BACKOFF_RETRY_AFTER_MAX_MS 300000L

typedef struct backoff {
  long base_ms;             /* first retry waits up to this; > 0 */
  long cap_ms;              /* ceiling of the exponential part; >= base_ms */
  long retry_after_max_ms;  /* ceiling of an honoured Retry-After */
} backoff_t;

/* base 200 ms, cap 20 s, Retry-After honoured up to 5 min. */
void backoff_init(backoff_t *b);

/* Seeds an RNG state. Any seed works (0 too): it is mixed (splitmix64) into a
 * non-zero xorshift state. */
void backoff_rng_seed(uint64_t *rng, uint64_t seed);
/* Next 64 random bits (xorshift64*); advances *rng. */
uint64_t backoff_rng_next(uint64_t *rng);
/* Uniform in [0, n] (inclusive). */
uint64_t backoff_rng_upto(uint64_t *rng, uint64_t n);

/* Delay in milliseconds before retry number `attempt` (0 for the first retry,
 * i.e. after the first failure; negative counts as 0):
 *   d = uniform[0, min(cap, base * 2^attempt)]   (saturating, any attempt)
 * When retry_after_s > 0 (the server's Retry-After, in seconds), with
 * ra = min(retry_after_s * 1000, retry_after_max_ms) and d < ra:
 *   d = min(ra + uniform[0, ra / 8], retry_after_max_ms)
 * so the delay is never shorter than the (capped) Retry-After, and workers
 * told the same Retry-After do not all come back in the same millisecond.
 * Out-of-range fields of b (<= 0, cap < base) are treated as the defaults /
 * as cap = base. Advances *rng. */
long backoff_delay_ms(const backoff_t *b, int attempt, long retry_after_s,
                      uint64_t *rng);

/* 1 when a request that failed with err should be tried again: the error is
 * retryable (store_error_classify's verdict) and fewer than max_attempts
 * attempts were made. attempts counts every attempt so far, the first one
 * included; max_attempts counts them likewise (1 = never retry). err NULL
 * gives 0. */
int backoff_should_retry(const store_error_t *err, int attempts, int max_attempts);

#endif
