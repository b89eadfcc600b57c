/* Unit tests for lib/xfer/backoff: jittered exponential delays, Retry-After,
 * retry verdicts; deterministic through a seeded RNG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>
#include <cmocka.h>

#include "xfer/backoff.h"

static void test_rng_deterministic(void **state) {
  uint64_t a, b, c, z;
  uint64_t seq[8];
  int i, same = 0;
  (void)state;
  backoff_rng_seed(&a, 12345);
  backoff_rng_seed(&b, 12345);
  backoff_rng_seed(&c, 12346);
  for (i = 0; i < 8; i++) {
    seq[i] = backoff_rng_next(&a);
    assert_int_equal(seq[i], backoff_rng_next(&b));
    if (seq[i] == backoff_rng_next(&c)) same++;
  }
  assert_int_equal(same, 0);
  /* Seed 0 still gives a working (non-zero, changing) state. */
  backoff_rng_seed(&z, 0);
  assert_int_not_equal(z, 0);
  assert_int_not_equal(backoff_rng_next(&z), backoff_rng_next(&z));
  /* A zero state (never seeded) does not get stuck either. */
  z = 0;
  assert_int_not_equal(backoff_rng_next(&z), 0);
  assert_int_not_equal(z, 0);
}

static void test_rng_upto(void **state) {
  uint64_t rng;
  int seen[4] = {0, 0, 0, 0};
  int i;
  (void)state;
  backoff_rng_seed(&rng, 1);
  for (i = 0; i < 1000; i++) {
    uint64_t v = backoff_rng_upto(&rng, 3);
    assert_true(v <= 3);
    seen[v]++;
  }
  /* Inclusive bounds, roughly uniform. */
  for (i = 0; i < 4; i++) assert_in_range(seen[i], 180, 320);
  for (i = 0; i < 100; i++) assert_int_equal(backoff_rng_upto(&rng, 0), 0);
  (void)backoff_rng_upto(&rng, UINT64_MAX);
}

/* Every delay of attempt a is within [0, min(cap, base * 2^a)], with a mean
 * near half of that and values reaching close to both ends. */
static void test_delay_bounds_distribution(void **state) {
  backoff_t b;
  uint64_t rng;
  int a, i;
  (void)state;
  backoff_init(&b);
  assert_int_equal(b.base_ms, 200);
  assert_int_equal(b.cap_ms, 20000);
  backoff_rng_seed(&rng, 99);
  for (a = 0; a < 12; a++) {
    long ceil_ms = 200L << a;
    long lo = LONG_MAX, hi = 0;
    double sum = 0;
    if (ceil_ms > 20000) ceil_ms = 20000;
    for (i = 0; i < 4000; i++) {
      long d = backoff_delay_ms(&b, a, 0, &rng);
      assert_in_range(d, 0, ceil_ms);
      if (d < lo) lo = d;
      if (d > hi) hi = d;
      sum += (double)d;
    }
    assert_true(lo <= ceil_ms / 50);
    assert_true(hi >= ceil_ms - ceil_ms / 50);
    assert_true(sum / 4000 > ceil_ms * 0.45 && sum / 4000 < ceil_ms * 0.55);
  }
}

static void test_delay_extremes(void **state) {
  backoff_t b;
  uint64_t rng;
  int i;
  (void)state;
  backoff_init(&b);
  backoff_rng_seed(&rng, 5);
  for (i = 0; i < 200; i++) {
    assert_in_range(backoff_delay_ms(&b, 63, 0, &rng), 0, 20000);
    assert_in_range(backoff_delay_ms(&b, 64, 0, &rng), 0, 20000);
    assert_in_range(backoff_delay_ms(&b, 1000, 0, &rng), 0, 20000);
    assert_in_range(backoff_delay_ms(&b, INT_MAX, 0, &rng), 0, 20000);
    assert_in_range(backoff_delay_ms(&b, -1, 0, &rng), 0, 200);
    assert_in_range(backoff_delay_ms(&b, INT_MIN, 0, &rng), 0, 200);
  }
  /* A huge cap: base * 2^attempt saturates without overflowing. */
  b.base_ms = LONG_MAX / 3;
  b.cap_ms = LONG_MAX;
  for (i = 0; i < 50; i++) {
    long d = backoff_delay_ms(&b, 40, 0, &rng);
    assert_true(d >= 0);
  }
  /* Broken settings fall back to sane ones. */
  b.base_ms = 0;
  b.cap_ms = -5;
  b.retry_after_max_ms = 0;
  for (i = 0; i < 50; i++)
    assert_in_range(backoff_delay_ms(&b, 30, 0, &rng), 0, BACKOFF_CAP_MS);
  b.base_ms = 1000;
  b.cap_ms = 10; /* cap below base counts as cap = base */
  for (i = 0; i < 50; i++) assert_in_range(backoff_delay_ms(&b, 5, 0, &rng), 0, 1000);
  for (i = 0; i < 50; i++)
    assert_in_range(backoff_delay_ms(NULL, 0, 0, &rng), 0, BACKOFF_BASE_MS);
}

static void test_retry_after(void **state) {
  backoff_t b;
  uint64_t rng;
  int i, above = 0;
  (void)state;
  backoff_init(&b);
  backoff_rng_seed(&rng, 17);
  /* Retry-After 3 s on the first retry (ceiling 200 ms): at least 3 s, and
   * spread over [3000, 3375] so a fleet does not come back in step. */
  {
    long lo = LONG_MAX, hi = 0;
    for (i = 0; i < 2000; i++) {
      long d = backoff_delay_ms(&b, 0, 3, &rng);
      assert_in_range(d, 3000, 3375);
      if (d < lo) lo = d;
      if (d > hi) hi = d;
    }
    assert_true(lo < 3020);
    assert_true(hi > 3350);
  }
  /* A short Retry-After under a long exponential delay: the delay is at
   * least the Retry-After, and often the (longer) jittered one. */
  for (i = 0; i < 2000; i++) {
    long d = backoff_delay_ms(&b, 10, 1, &rng);
    assert_in_range(d, 1000, 20000);
    if (d > 1125) above++;
  }
  assert_true(above > 1500);
  /* Capped by retry_after_max_ms, however large (no overflow). */
  for (i = 0; i < 100; i++) {
    assert_int_equal(backoff_delay_ms(&b, 0, 100000, &rng), BACKOFF_RETRY_AFTER_MAX_MS);
    assert_int_equal(backoff_delay_ms(&b, 0, LONG_MAX, &rng), BACKOFF_RETRY_AFTER_MAX_MS);
    assert_int_equal(backoff_delay_ms(&b, 3, 300, &rng), BACKOFF_RETRY_AFTER_MAX_MS);
    assert_in_range(backoff_delay_ms(&b, 0, 299, &rng), 299000, BACKOFF_RETRY_AFTER_MAX_MS);
  }
  b.retry_after_max_ms = 1500;
  for (i = 0; i < 100; i++) {
    assert_in_range(backoff_delay_ms(&b, 0, 1, &rng), 1000, 1125);
    assert_int_equal(backoff_delay_ms(&b, 0, 2, &rng), 1500);
  }
  /* Absent or nonsense Retry-After: plain backoff. */
  for (i = 0; i < 100; i++) {
    assert_in_range(backoff_delay_ms(&b, 0, 0, &rng), 0, 200);
    assert_in_range(backoff_delay_ms(&b, 0, -7, &rng), 0, 200);
  }
}

static void test_deterministic_delays(void **state) {
  backoff_t b;
  uint64_t r1, r2;
  int i;
  (void)state;
  backoff_init(&b);
  backoff_rng_seed(&r1, 2024);
  backoff_rng_seed(&r2, 2024);
  for (i = 0; i < 100; i++)
    assert_int_equal(backoff_delay_ms(&b, i % 10, i % 3, &r1),
                     backoff_delay_ms(&b, i % 10, i % 3, &r2));
}

static void test_should_retry(void **state) {
  store_error_t e;
  (void)state;
  memset(&e, 0, sizeof(e));
  assert_false(backoff_should_retry(NULL, 1, 5));
  e.http_status = 403;
  e.retryable = 0;
  assert_false(backoff_should_retry(&e, 1, 5));
  e.http_status = 503;
  e.retryable = 1;
  assert_true(backoff_should_retry(&e, 1, 5));
  assert_true(backoff_should_retry(&e, 4, 5));
  assert_false(backoff_should_retry(&e, 5, 5));
  assert_false(backoff_should_retry(&e, 6, 5));
  assert_false(backoff_should_retry(&e, 1, 1));
  assert_false(backoff_should_retry(&e, 1, 0));
  assert_false(backoff_should_retry(&e, 0, -1));
}

/* With the store client's own classification: what the vendors' error
 * documentation says to retry is retried, the rest is not. */
static void test_should_retry_classified(void **state) {
  static const struct {
    int status;
    const char *code;
    int retry;
  } cases[] = {
      {503, "SlowDown", 1},       {500, "InternalError", 1}, {429, "", 1},
      {408, "", 1},               {400, "RequestTimeout", 1}, {403, "AccessDenied", 0},
      {404, "NoSuchKey", 0},      {403, "SignatureDoesNotMatch", 0},
      {400, "EntityTooSmall", 0}, {412, "", 0},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    store_error_t e;
    memset(&e, 0, sizeof(e));
    e.http_status = cases[i].status;
    strcpy(e.code, cases[i].code);
    store_error_classify(&e);
    assert_int_equal(backoff_should_retry(&e, 1, 3), cases[i].retry);
    assert_false(backoff_should_retry(&e, 3, 3));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rng_deterministic),
      cmocka_unit_test(test_rng_upto),
      cmocka_unit_test(test_delay_bounds_distribution),
      cmocka_unit_test(test_delay_extremes),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test(test_deterministic_delays),
      cmocka_unit_test(test_should_retry),
      cmocka_unit_test(test_should_retry_classified),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
