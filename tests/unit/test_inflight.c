/* Unit tests for lib/xfer/inflight: the adaptive in-flight limit grows while
 * completions/s rise (doubling at first, by a quarter after), halves on a congestion signal (once per window), steps
 * back after a growth that lowered the rate, and stays within its bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xfer/inflight.h"

#define W INFLIGHT_WINDOW_US

/* One window: `done` completions, the limit reached (full), nothing else
 * holding requests back unless held. Returns the limit after the tick. */
static int window(inflight_t *f, int64_t *now, uint64_t done, int full, int held) {
  uint64_t i;
  for (i = 0; i < done; i++) inflight_done(f);
  if (full) inflight_full(f);
  if (held) inflight_held(f);
  *now += W;
  inflight_tick(f, *now);
  return f->cur;
}

static void test_grows_while_rate_rises(void **state) {
  inflight_t f;
  int64_t now = 0;
  int last;
  (void)state;
  inflight_init(&f, 8, 2, 64, now);
  assert_int_equal(f.cur, 8);
  last = window(&f, &now, 100, 1, 0);
  assert_int_equal(last, 16);  /* slow start: doubles */
  /* The rate rises with the limit (latency-bound): it keeps growing. */
  while (f.cur < 64) {
    int before = f.cur;
    window(&f, &now, (uint64_t)before * 20, 1, 0);
    assert_true(f.cur > before);
  }
  assert_int_equal(f.cur, 64);
  /* Never beyond the ceiling. */
  window(&f, &now, 64 * 40, 1, 0);
  assert_int_equal(f.cur, 64);
}

static void test_no_growth_when_not_full_or_held(void **state) {
  inflight_t f;
  int64_t now = 0;
  (void)state;
  inflight_init(&f, 8, 2, 64, now);
  /* Fewer requests than the limit wanted: no reason to grow. */
  assert_int_equal(window(&f, &now, 100, 0, 0), 8);
  assert_int_equal(window(&f, &now, 200, 0, 0), 8);
  /* The QPS limit or the memory bound held requests back: no growth. */
  assert_int_equal(window(&f, &now, 400, 1, 1), 8);
  /* A window not over yet decides nothing. */
  inflight_full(&f);
  assert_int_equal(inflight_tick(&f, now + W / 2), 0);
}

static void test_flat_rate_stops_growth(void **state) {
  inflight_t f;
  int64_t now = 0;
  (void)state;
  inflight_init(&f, 8, 2, 256, now);
  window(&f, &now, 100, 1, 0);        /* 16 */
  window(&f, &now, 200, 1, 0);        /* rose: 32 */
  assert_int_equal(f.cur, 32);
  window(&f, &now, 202, 1, 0);        /* flat (< 5 %): holds, slow start over */
  assert_int_equal(f.cur, 32);
  window(&f, &now, 203, 1, 0);
  assert_int_equal(f.cur, 32);
  window(&f, &now, 300, 1, 0);        /* rising again: by a quarter now */
  assert_int_equal(f.cur, 40);
}

static void test_steps_back_when_growth_hurt(void **state) {
  inflight_t f;
  int64_t now = 0;
  (void)state;
  inflight_init(&f, 16, 2, 256, now);
  window(&f, &now, 100, 1, 0);   /* first measure: grows to 32 */
  assert_int_equal(f.cur, 32);
  window(&f, &now, 150, 1, 0);   /* rose: 64 */
  assert_int_equal(f.cur, 64);
  window(&f, &now, 120, 1, 0);   /* fell after the growth: back to 32 */
  assert_int_equal(f.cur, 32);
  window(&f, &now, 130, 1, 0);   /* a first measure again: grows, by a quarter */
  assert_int_equal(f.cur, 40);
}

static void test_halves_on_slowdown_once_per_window(void **state) {
  inflight_t f;
  int64_t now = 0;
  int i;
  (void)state;
  inflight_init(&f, 40, 2, 64, now);
  assert_int_equal(inflight_congested(&f), 1);
  assert_int_equal(f.cur, 20);
  /* A burst of 503s in the same window is one signal. */
  for (i = 0; i < 10; i++) assert_int_equal(inflight_congested(&f), 0);
  assert_int_equal(f.cur, 20);
  /* The window with the cut is no measure: no growth at its end. */
  window(&f, &now, 1000, 1, 0);
  assert_int_equal(f.cur, 20);
  /* Next window, next signal: halves again. */
  inflight_congested(&f);
  assert_int_equal(f.cur, 10);
  /* After a cut, growth is by a quarter, not doubling. */
  window(&f, &now, 100, 1, 0);
  window(&f, &now, 100, 1, 0);
  assert_int_equal(f.cur, 12);
}

static void test_never_below_floor(void **state) {
  inflight_t f;
  int64_t now = 0;
  int i;
  (void)state;
  inflight_init(&f, 32, 4, 64, now);
  for (i = 0; i < 20; i++) {
    inflight_congested(&f);
    now += W;
    inflight_tick(&f, now);
    assert_true(f.cur >= 4);
  }
  assert_int_equal(f.cur, 4);
  /* Start values outside the bounds are clamped. */
  inflight_init(&f, 1, 4, 64, now);
  assert_int_equal(f.cur, 4);
  inflight_init(&f, 500, 4, 64, now);
  assert_int_equal(f.cur, 64);
  inflight_init(&f, 8, 0, 0, now);  /* floor at least 1, ceiling at least floor */
  assert_int_equal(f.floor, 1);
  assert_int_equal(f.cur, 1);
}

static void test_memory_ceiling(void **state) {
  inflight_t f;
  int64_t now = 0;
  (void)state;
  inflight_init(&f, 48, 2, 256, now);
  /* A memory bound lower than the configured ceiling caps it at once. */
  inflight_set_ceiling(&f, 30);
  assert_int_equal(f.cur, 30);
  window(&f, &now, 1000, 1, 0);
  window(&f, &now, 5000, 1, 0);
  assert_int_equal(f.cur, 30);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grows_while_rate_rises),
      cmocka_unit_test(test_no_growth_when_not_full_or_held),
      cmocka_unit_test(test_flat_rate_stops_growth),
      cmocka_unit_test(test_steps_back_when_growth_hurt),
      cmocka_unit_test(test_halves_on_slowdown_once_per_window),
      cmocka_unit_test(test_never_below_floor),
      cmocka_unit_test(test_memory_ceiling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
