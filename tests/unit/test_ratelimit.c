/* Unit tests for lib/xfer/ratelimit: token bucket over a simulated clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xfer/ratelimit.h"

#define S 1000000LL /* microseconds per second */

/* Deterministic pseudo-random steps for the simulations. */
static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return *s >> 33;
}

static void test_unlimited(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 0, 0, 0);
  assert_true(rl_unlimited(&rl));
  assert_int_equal(rl_take(&rl, 12345, 0), 12345);
  assert_int_equal(rl_take(&rl, UINT64_MAX, 0), UINT64_MAX);
  assert_int_equal(rl_wait_us(&rl, UINT64_MAX, 0), 0);
  assert_int_equal(rl_take(&rl, 7, -5), 7);
}

static void test_basic(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 100, 100, 1000);
  assert_false(rl_unlimited(&rl));
  /* Starts full. */
  assert_int_equal(rl_take(&rl, 100, 1000), 100);
  assert_int_equal(rl_take(&rl, 1, 1000), 0);
  /* One token per 10 ms. */
  assert_int_equal(rl_wait_us(&rl, 1, 1000), 10000);
  assert_int_equal(rl_wait_us(&rl, 1, 6000), 5000);
  assert_int_equal(rl_take(&rl, 1, 10999), 0);
  assert_int_equal(rl_take(&rl, 1, 11000), 1);
  assert_int_equal(rl_wait_us(&rl, 3, 11000), 30000);
  /* n = 0 is always available. */
  assert_int_equal(rl_wait_us(&rl, 0, 11000), 0);
  assert_int_equal(rl_take(&rl, 0, 11000), 0);
  /* A long idle time fills the bucket to burst, not beyond. */
  assert_int_equal(rl_take(&rl, 1000, 11000 + 3600 * S), 100);
}

static void test_partial_and_chunks(void **state) {
  ratelimit_t rl;
  int64_t now = 0;
  uint64_t want = 1000000, got = 0, g;
  int rounds = 0;
  (void)state;
  /* 1000 bytes/s, burst 100: a 1 MB "request" goes in chunks <= 100. */
  rl_init(&rl, 1000, 100, now);
  g = rl_take(&rl, 500, now);
  assert_int_equal(g, 100); /* partial grant */
  got = 0;
  want = 1000;
  /* The wait for more than burst is the time to a full bucket. */
  assert_int_equal(rl_wait_us(&rl, want, now), 100000);
  while (got < want) {
    int64_t w = rl_wait_us(&rl, want - got, now);
    now += w;
    g = rl_take(&rl, want - got, now);
    assert_true(g > 0);
    assert_true(g <= 100);
    got += g;
    rounds++;
    assert_true(rounds < 100);
  }
  assert_int_equal(got, want);
  /* 1000 tokens at 1000/s from an empty bucket: exactly one second. */
  assert_int_equal(now, 1 * S);
  assert_int_equal(rounds, 10);
}

static void test_clock_still_and_backwards(void **state) {
  ratelimit_t rl;
  int i;
  (void)state;
  rl_init(&rl, 10, 5, 5 * S);
  assert_int_equal(rl_take(&rl, 5, 5 * S), 5);
  for (i = 0; i < 1000; i++) assert_int_equal(rl_take(&rl, 1, 5 * S), 0);
  /* Backwards: earns nothing, and the wait counts from the last refill. */
  assert_int_equal(rl_take(&rl, 1, 4 * S), 0);
  assert_int_equal(rl_wait_us(&rl, 1, 4 * S), S + 100000);
  assert_int_equal(rl_take(&rl, 1, 5 * S + 99999), 0);
  assert_int_equal(rl_take(&rl, 1, 5 * S + 100000), 1);
}

static void test_tiny_rate_exact(void **state) {
  ratelimit_t rl;
  int64_t t;
  uint64_t got = 0;
  (void)state;
  /* 3 tokens/s, refilled every microsecond: the sub-token remainder must
   * add up, or nothing would ever be granted (and rounding would drift). */
  rl_init(&rl, 3, 2, 0);
  assert_int_equal(rl_take(&rl, 2, 0), 2);
  for (t = 1; t <= 2 * S; t++) got += rl_take(&rl, 1, t);
  assert_int_equal(got, 6);
  /* 1 token/s, asked every 7 us: one per second, exactly. */
  rl_init(&rl, 1, 2, 0);
  assert_int_equal(rl_take(&rl, 2, 0), 2);
  got = 0;
  for (t = 7; t <= 10 * S; t += 7) got += rl_take(&rl, 1, t);
  assert_int_equal(got, 9); /* 9999997 us is the last multiple of 7 */
  assert_int_equal(rl_take(&rl, 1, 10 * S), 1);
  /* A full bucket keeps no fraction beyond its burst (as a continuous
   * bucket would cap at burst): burst 1 at 3/s from t = 0. */
  rl_init(&rl, 3, 1, 0);
  assert_int_equal(rl_take(&rl, 5, 10 * S), 1);
  assert_int_equal(rl_wait_us(&rl, 1, 10 * S), 333334);
}

static void test_huge_values(void **state) {
  ratelimit_t rl;
  int64_t now = 0;
  (void)state;
  rl_init(&rl, UINT64_MAX, UINT64_MAX, now);
  assert_int_equal(rl.rate, RL_MAX);
  assert_int_equal(rl.burst, RL_MAX);
  assert_int_equal(rl_take(&rl, UINT64_MAX, now), RL_MAX);
  assert_int_equal(rl_take(&rl, 1, now), 0);
  assert_int_equal(rl_wait_us(&rl, UINT64_MAX, now), S);
  assert_int_equal(rl_wait_us(&rl, 1, now), 1);
  /* Years of idle time at the maximum rate: saturates at burst. */
  now = INT64_MAX / 2;
  assert_int_equal(rl_take(&rl, UINT64_MAX, now), RL_MAX);
  /* Half a second. */
  assert_int_equal(rl_take(&rl, UINT64_MAX, now + S / 2), RL_MAX / 2);
  /* Clock from the far past to the far future. */
  rl_init(&rl, 7, 0, INT64_MIN);
  assert_int_equal(rl_take(&rl, 100, INT64_MIN), 7);
  assert_int_equal(rl_take(&rl, 100, INT64_MAX), 7);
  /* Tiny rate, huge request: the wait is bounded by the burst. */
  rl_init(&rl, 1, 1, 0);
  rl_take(&rl, 1, 0);
  assert_int_equal(rl_wait_us(&rl, UINT64_MAX, 0), S);
}

static void test_auto_burst(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 250, 0, 0);
  assert_int_equal(rl.burst, 250);
  assert_int_equal(rl_take(&rl, 1000, 0), 250);
  rl_set_rate(&rl, 50, 0);
  assert_int_equal(rl.burst, 50);
  /* Explicit bursts stay. */
  rl_init(&rl, 250, 10, 0);
  rl_set_rate(&rl, 5000, 0);
  assert_int_equal(rl.burst, 10);
}

static void test_set_rate(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 100, 100, 0);
  assert_int_equal(rl_take(&rl, 100, 0), 100);
  /* 50 ms at 100/s earn 5 tokens; then the rate doubles. */
  rl_set_rate(&rl, 200, 50000);
  assert_int_equal(rl_take(&rl, 100, 50000), 5);
  assert_int_equal(rl_wait_us(&rl, 10, 50000), 50000);
  assert_int_equal(rl_take(&rl, 100, 100000), 10);
  /* Limited -> unlimited -> limited: starts with a full bucket. */
  rl_set_rate(&rl, 0, 100000);
  assert_true(rl_unlimited(&rl));
  assert_int_equal(rl_take(&rl, 1u << 30, 100000), 1u << 30);
  rl_set_rate(&rl, 10, 200000);
  assert_int_equal(rl_take(&rl, 1000, 200000), 100);
  assert_int_equal(rl_take(&rl, 1, 200000), 0);
  /* An automatic burst shrinks with the rate; the tokens are clamped to it. */
  rl_init(&rl, 1000, 0, 0);
  rl_set_rate(&rl, 10, 0);
  assert_int_equal(rl_take(&rl, 1000, 0), 10);
}

/* Under constant demand the bucket hands out exactly burst + rate * t,
 * whatever the step sizes and request sizes: no drift, no loss. */
static void test_fairness_exact(void **state) {
  ratelimit_t rl;
  uint64_t seed = 42, got = 0, rate = 1234567, burst = 65536;
  int64_t now = 0;
  int i;
  (void)state;
  rl_init(&rl, rate, burst, 0);
  /* Drain at once: a full bucket earns nothing while time passes. */
  got = rl_take(&rl, UINT64_MAX, 0);
  for (i = 0; i < 200000; i++) {
    now += (int64_t)(lcg(&seed) % 3000);
    got += rl_take(&rl, 1 + lcg(&seed) % 100000, now);
    /* Never more than the bucket allows. */
    assert_true(got <= burst + (uint64_t)now * rate / S);
  }
  /* Drain what is left at the end: the total is then exact. */
  got += rl_take(&rl, UINT64_MAX, now);
  assert_int_equal(got, burst + (uint64_t)now * rate / S);
}

/* Two workers with shares of one fleet rate, served by one simulated event
 * loop each: each gets its share within one burst, and together they stay
 * within the fleet rate. */
static void test_fairness_shares(void **state) {
  ratelimit_t a, b;
  uint64_t fleet = 10000000, ga = 0, gb = 0;
  uint64_t ra = rl_fleet_share(fleet, 48, 64), rb = rl_fleet_share(fleet, 16, 64);
  int64_t ta = 0, tb = 0, end = 30 * S;
  (void)state;
  assert_int_equal(ra, 7500000);
  assert_int_equal(rb, 2500000);
  rl_init(&a, ra, 0, 0);
  rl_init(&b, rb, 0, 0);
  while (ta < end) {
    uint64_t g = rl_take(&a, 1 << 20, ta);
    ga += g;
    if (g < (1 << 20)) ta += rl_wait_us(&a, 1 << 20, ta) + 1;
  }
  while (tb < end) {
    uint64_t g = rl_take(&b, 4096, tb);
    gb += g;
    if (g < 4096) tb += rl_wait_us(&b, 4096, tb);
  }
  assert_true(ga <= ra + (uint64_t)ta * ra / S);
  assert_true(ga + (1 << 20) >= (uint64_t)end * ra / S);
  assert_true(gb <= rb + (uint64_t)tb * rb / S);
  assert_true(gb + 4096 >= (uint64_t)end * rb / S);
  /* Combined: within the fleet rate plus the two initial bursts. */
  assert_true(ga + gb <= ra + rb + (uint64_t)end * fleet / S + (1 << 21));
}

/* Whenever rl_wait_us says w, taking at now + w succeeds in full (n <= burst)
 * and taking at now + w - 1 does not. */
static void test_wait_is_exact(void **state) {
  ratelimit_t rl;
  uint64_t seed = 7;
  int64_t now = 0;
  int i;
  (void)state;
  for (i = 0; i < 2000; i++) {
    uint64_t rate = 1 + lcg(&seed) % 5000000, burst = 1 + lcg(&seed) % 100000;
    uint64_t n;
    int64_t w;
    ratelimit_t probe;
    rl_init(&rl, rate, burst, now);
    rl_take(&rl, lcg(&seed) % (burst + 1), now);
    now += (int64_t)(lcg(&seed) % 5000);
    n = 1 + lcg(&seed) % burst;
    w = rl_wait_us(&rl, n, now);
    assert_true(w >= 0);
    if (w > 0) {
      probe = rl;
      assert_true(rl_take(&probe, n, now + w - 1) < n);
    }
    assert_int_equal(rl_take(&rl, n, now + w), n);
    now += w;
  }
}

static void test_fleet_share(void **state) {
  uint64_t sum = 0;
  int i;
  (void)state;
  assert_int_equal(rl_fleet_share(1000, 3, 64), 46);
  assert_int_equal(rl_fleet_share(1000, 64, 64), 1000);
  assert_int_equal(rl_fleet_share(1000, 100, 64), 1000); /* clamped */
  assert_int_equal(rl_fleet_share(0, 3, 64), 0);         /* unlimited stays so */
  assert_int_equal(rl_fleet_share(1000, 0, 64), 1);      /* never "unlimited" */
  assert_int_equal(rl_fleet_share(1000, -2, 64), 1);
  assert_int_equal(rl_fleet_share(10, 1, 64), 1);
  assert_int_equal(rl_fleet_share(1000, 5, 0), 1000);    /* unknown total */
  assert_int_equal(rl_fleet_share(1000, 5, -1), 1000);
  /* No overflow with the largest rates and partition counts. */
  assert_int_equal(rl_fleet_share(UINT64_MAX, 63, 64), UINT64_MAX / 64 * 63 + 63 * 63 / 64);
  assert_int_equal(rl_fleet_share(UINT64_MAX, 2147483646, 2147483647),
                   UINT64_MAX / 2147483647 * 2147483646 +
                       (UINT64_MAX % 2147483647) * 2147483646 / 2147483647);
  /* Shares of a partition split never add up to more than the fleet rate. */
  for (i = 0; i < 7; i++) sum += rl_fleet_share(1000003, i == 6 ? 4 : 10, 64);
  assert_true(sum <= 1000003);
  assert_true(sum >= 1000003 - 7);
}

static void test_min_rate(void **state) {
  (void)state;
  assert_int_equal(rl_min_rate(0, 0), 0);
  assert_int_equal(rl_min_rate(0, 5), 5);
  assert_int_equal(rl_min_rate(5, 0), 5);
  assert_int_equal(rl_min_rate(5, 3), 3);
  assert_int_equal(rl_min_rate(3, 5), 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unlimited),
      cmocka_unit_test(test_basic),
      cmocka_unit_test(test_partial_and_chunks),
      cmocka_unit_test(test_clock_still_and_backwards),
      cmocka_unit_test(test_tiny_rate_exact),
      cmocka_unit_test(test_huge_values),
      cmocka_unit_test(test_auto_burst),
      cmocka_unit_test(test_set_rate),
      cmocka_unit_test(test_fairness_exact),
      cmocka_unit_test(test_fairness_shares),
      cmocka_unit_test(test_wait_is_exact),
      cmocka_unit_test(test_fleet_share),
      cmocka_unit_test(test_min_rate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
