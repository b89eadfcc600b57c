/* Unit tests for lib/xfer/storedown: a store is down after SD_FAILURES
 * retryable failures in a row, probed one request at a time with a doubling
 * delay (1 s .. 30 s), up at its first answer; expiry after max_down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xfer/storedown.h"

#define S 1000000LL

static void test_classify(void **state) {
  (void)state;
  assert_int_equal(sd_classify(200, 0), SD_ANSWER);
  assert_int_equal(sd_classify(404, 0), SD_ANSWER);  /* the store is there */
  assert_int_equal(sd_classify(403, 0), SD_ANSWER);
  assert_int_equal(sd_classify(503, 0), SD_FAILURE);
  assert_int_equal(sd_classify(500, 0), SD_FAILURE);
  assert_int_equal(sd_classify(429, 0), SD_FAILURE);
  assert_int_equal(sd_classify(408, 0), SD_FAILURE);
  assert_int_equal(sd_classify(0, 1), SD_FAILURE);   /* refused, reset, timed out */
  assert_int_equal(sd_classify(0, 0), SD_NEUTRAL);   /* cut by the engine */
}

static void test_down_after_consecutive_failures(void **state) {
  storedown_t s;
  int i;
  int64_t wake = 0;
  (void)state;
  sd_init(&s);
  for (i = 1; i < SD_FAILURES; i++) assert_int_equal(sd_note(&s, SD_FAILURE, i), 0);
  assert_int_equal(sd_may_start(&s, 10, NULL), 1);
  assert_int_equal(sd_note(&s, SD_FAILURE, 100), 1);  /* down */
  assert_true(s.down);
  /* No request until the first probe, a second later. */
  assert_int_equal(sd_may_start(&s, 100, &wake), 0);
  assert_int_equal(wake, 100 + S);
  assert_int_equal(sd_may_start(&s, 100 + S, NULL), 2);
}

static void test_an_answer_resets_the_count(void **state) {
  storedown_t s;
  int i, round;
  (void)state;
  sd_init(&s);
  /* One object's failures between others' successes: never down. */
  for (round = 0; round < 10; round++) {
    for (i = 1; i < SD_FAILURES; i++) assert_int_equal(sd_note(&s, SD_FAILURE, 0), 0);
    assert_int_equal(sd_note(&s, SD_ANSWER, 0), 0);
    assert_int_equal(sd_note(&s, SD_NEUTRAL, 0), 0);
  }
  assert_false(s.down);
  /* Neutral outcomes neither count nor reset. */
  for (i = 1; i < SD_FAILURES; i++) sd_note(&s, SD_FAILURE, 0);
  sd_note(&s, SD_NEUTRAL, 0);
  assert_int_equal(sd_note(&s, SD_FAILURE, 0), 1);
}

static void test_probe_backoff_and_up(void **state) {
  storedown_t s;
  int i;
  int64_t now = 0, wake;
  int64_t expect[] = {1 * S, 2 * S, 4 * S, 8 * S, 16 * S, 30 * S, 30 * S};
  (void)state;
  sd_init(&s);
  for (i = 0; i < SD_FAILURES; i++) sd_note(&s, SD_FAILURE, now);
  assert_true(s.down);
  for (i = 0; i < (int)(sizeof(expect) / sizeof(expect[0])); i++) {
    wake = 0;
    assert_int_equal(sd_may_start(&s, now, &wake), 0);
    assert_int_equal(wake - now, expect[i]);
    now = wake;
    assert_int_equal(sd_may_start(&s, now, NULL), 2);
    sd_probe_started(&s, now);
    /* One probe at a time. */
    assert_int_equal(sd_may_start(&s, now + 1, NULL), 0);
    /* A request started before the store went down failing now is no
     * probe's answer... but the probe's own failure is: */
    assert_int_equal(sd_note(&s, SD_FAILURE, now), 0);
  }
  /* Requests from before, failing while no probe is out, change nothing. */
  wake = 0;
  sd_may_start(&s, now, &wake);
  sd_note(&s, SD_FAILURE, now);
  sd_note(&s, SD_FAILURE, now);
  {
    int64_t w2 = 0;
    sd_may_start(&s, now, &w2);
    assert_int_equal(w2, wake);
  }
  now = wake;
  assert_int_equal(sd_may_start(&s, now, NULL), 2);
  sd_probe_started(&s, now);
  assert_int_equal(sd_note(&s, SD_ANSWER, now), -1);  /* up */
  assert_int_equal(sd_may_start(&s, now, NULL), 1);
  /* Down again later: probing starts from a second again. */
  for (i = 0; i < SD_FAILURES; i++) sd_note(&s, SD_FAILURE, now);
  wake = 0;
  assert_int_equal(sd_may_start(&s, now, &wake), 0);
  assert_int_equal(wake - now, 1 * S);
}

static void test_lost_probe(void **state) {
  storedown_t s;
  int i;
  (void)state;
  sd_init(&s);
  for (i = 0; i < SD_FAILURES; i++) sd_note(&s, SD_FAILURE, 0);
  sd_probe_started(&s, S);
  /* The probe never reached the store: another may go after a while. */
  assert_int_equal(sd_may_start(&s, S + SD_PROBE_LOST_US - 1, NULL), 0);
  assert_int_equal(sd_may_start(&s, S + SD_PROBE_LOST_US, NULL), 2);
}

static void test_expiry(void **state) {
  storedown_t s;
  int i;
  (void)state;
  sd_init(&s);
  assert_false(sd_expired(&s, 1000 * S, 5 * S));  /* up: never */
  for (i = 0; i < SD_FAILURES; i++) sd_note(&s, SD_FAILURE, 10 * S);
  assert_false(sd_expired(&s, 14 * S, 5 * S));
  assert_true(sd_expired(&s, 15 * S, 5 * S));
  assert_false(sd_expired(&s, 100 * S, 0));       /* 0: no limit */
  sd_note(&s, SD_ANSWER, 16 * S);
  assert_false(sd_expired(&s, 100 * S, 5 * S));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classify),
      cmocka_unit_test(test_down_after_consecutive_failures),
      cmocka_unit_test(test_an_answer_resets_the_count),
      cmocka_unit_test(test_probe_backoff_and_up),
      cmocka_unit_test(test_lost_probe),
      cmocka_unit_test(test_expiry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
