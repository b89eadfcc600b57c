/* backoff.c: exponential backoff with full jitter, Retry-After, retry verdict. */
#include "xfer/backoff.h"

#include <limits.h>

void backoff_init(backoff_t *b) {
  b->base_ms = BACKOFF_BASE_MS;
  b->cap_ms = BACKOFF_CAP_MS;
  b->retry_after_max_ms = BACKOFF_RETRY_AFTER_MAX_MS;
}

void backoff_rng_seed(uint64_t *rng, uint64_t seed) {
  /* splitmix64 spreads nearby seeds (1, 2, 3...) over the whole state space;
   * xorshift's only forbidden state, 0, is replaced by a constant. */
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  *rng = z ? z : 0x2545F4914F6CDD1DULL;
}

uint64_t backoff_rng_next(uint64_t *rng) {
  uint64_t x = *rng ? *rng : 0x2545F4914F6CDD1DULL;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

uint64_t backoff_rng_upto(uint64_t *rng, uint64_t n) {
  uint64_t r = backoff_rng_next(rng);
  /* The modulo bias is below n / 2^64: irrelevant for millisecond delays. */
  return n == UINT64_MAX ? r : r % (n + 1);
}

long backoff_delay_ms(const backoff_t *b, int attempt, long retry_after_s,
                      uint64_t *rng) {
  long base = b && b->base_ms > 0 ? b->base_ms : BACKOFF_BASE_MS;
  long cap = b && b->cap_ms > 0 ? b->cap_ms : BACKOFF_CAP_MS;
  long ra_max = b && b->retry_after_max_ms > 0 ? b->retry_after_max_ms
                                               : BACKOFF_RETRY_AFTER_MAX_MS;
  long ceil_ms, d;
  if (cap < base) cap = base;
  if (attempt < 0) attempt = 0;
  /* base * 2^attempt, stopping at cap before it can overflow. */
  ceil_ms = base;
  while (attempt-- > 0 && ceil_ms < cap) ceil_ms = ceil_ms > cap / 2 ? cap : ceil_ms * 2;
  if (ceil_ms > cap) ceil_ms = cap;
  d = (long)backoff_rng_upto(rng, (uint64_t)ceil_ms);
  if (retry_after_s > 0) {
    long ra = retry_after_s > ra_max / 1000 ? ra_max : retry_after_s * 1000;
    if (ra > ra_max) ra = ra_max;
    if (d < ra) {
      long spread = (long)backoff_rng_upto(rng, (uint64_t)(ra / 8));
      d = ra > ra_max - spread ? ra_max : ra + spread;
    }
  }
  return d;
}

int backoff_should_retry(const store_error_t *err, int attempts, int max_attempts) {
  if (!err || !err->retryable) return 0;
  return attempts < max_attempts;
}
