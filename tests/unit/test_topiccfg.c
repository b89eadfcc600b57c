/*
 * Unit tests for lib/bus/topiccfg.c: the message
 * size limit in force for a topic, and the retention check every service
 * runs at start — refusing, with the topic and the setting named, settings
 * that let the broker delete records a migration still needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bus/topiccfg.h"

/* A described topic with the defaults of a plain Kafka broker. */
static topiccfg_t described(const char *ms, const char *bytes, const char *policy,
                            int inherited) {
  topiccfg_t c;
  memset(&c, 0, sizeof(c));
  c.state = TOPICCFG_KNOWN;
  topiccfg_set(&c, "retention.ms", ms, inherited);
  topiccfg_set(&c, "retention.bytes", bytes, inherited);
  topiccfg_set(&c, "cleanup.policy", policy, inherited);
  topiccfg_set(&c, "max.message.bytes", "1048588", 1);
  topiccfg_set(&c, "segment.bytes", "1073741824", 1);   /* ignored */
  return c;
}

static void test_limit(void **state) {
  topiccfg_t c = described("-1", "-1", "delete", 0);
  (void)state;
  /* Unknown topic: Kafka's default, and librdkafka's producer default. */
  assert_int_equal(topiccfg_limit(0, 0), 1000000);
  assert_int_equal(topiccfg_limit(0, 5000000), TOPICCFG_BROKER_DEFAULT_MAX);
  assert_int_equal(topiccfg_max_message(&c), 1048588);
  assert_int_equal(topiccfg_limit(topiccfg_max_message(&c), 0), 1000000);
  /* The smaller of the topic's and the producer's. */
  topiccfg_set(&c, "max.message.bytes", "200000", 0);
  assert_int_equal(topiccfg_limit(topiccfg_max_message(&c), 0), 200000);
  assert_int_equal(topiccfg_limit(topiccfg_max_message(&c), 50000), 50000);
  /* Not read (denied): the topic's value is not trusted. */
  c.state = TOPICCFG_DENIED;
  assert_int_equal(topiccfg_max_message(&c), 0);
  /* Junk from a broker is ignored. */
  c.state = TOPICCFG_KNOWN;
  topiccfg_set(&c, "max.message.bytes", "lots", 0);
  assert_int_equal(topiccfg_max_message(&c), 0);
}

static void expect_refused(const topiccfg_t *c, topiccfg_kind_t kind, const char *want1,
                           const char *want2) {
  char eb[FERRY_ERRLEN];
  assert_int_equal(topiccfg_check("ferry.results", kind, c, 0, eb), FERRY_ERR_CONFIG);
  if (!strstr(eb, "ferry.results") || !strstr(eb, want1) || (want2 && !strstr(eb, want2)))
    fail_msg("got \"%s\", wanted %s and %s", eb, want1, want2 ? want2 : "");
}

static void test_keep_topics(void **state) {
  char eb[FERRY_ERRLEN];
  topiccfg_t ok = described("-1", "-1", "delete", 0), c;
  (void)state;
  assert_int_equal(topiccfg_check("ferry.results", TOPICCFG_KEEP, &ok, 0, eb), FERRY_OK);
  /* Kafka's own default: 7 days, inherited from the broker. */
  c = described("604800000", "-1", "delete", 1);
  expect_refused(&c, TOPICCFG_KEEP, "retention.ms=604800000", "inherited from the broker");
  /* Set on the topic: no word about inheritance. */
  c = described("86400000", "-1", "delete", 0);
  expect_refused(&c, TOPICCFG_KEEP, "retention.ms=86400000", NULL);
  assert_int_equal(topiccfg_check("ferry.results", TOPICCFG_KEEP, &c, 0, eb), FERRY_ERR_CONFIG);
  assert_null(strstr(eb, "inherited"));
  c = described("-1", "1073741824", "delete", 0);
  expect_refused(&c, TOPICCFG_KEEP, "retention.bytes=1073741824", NULL);
  c = described("-1", "-1", "compact", 0);
  expect_refused(&c, TOPICCFG_KEEP, "cleanup.policy=compact", NULL);
  c = described("-1", "-1", "delete,compact", 0);
  expect_refused(&c, TOPICCFG_KEEP, "cleanup.policy=delete,compact", NULL);
  /* A time at least the one asked for passes. */
  c = described("2592000000", "-1", "delete", 0);
  assert_int_equal(topiccfg_check("ferry.results", TOPICCFG_KEEP, &c, 86400000, eb), FERRY_OK);
  assert_int_equal(topiccfg_check("ferry.results", TOPICCFG_KEEP, &c, 0, eb), FERRY_ERR_CONFIG);
}

static void test_tasks_topic(void **state) {
  char eb[FERRY_ERRLEN];
  topiccfg_t c = described("604800000", "-1", "compact", 1);
  (void)state;
  /* Compacted: retention.ms does not delete the latest record per key. */
  assert_int_equal(topiccfg_check("ferry.tasks", TOPICCFG_COMPACTED, &c, 0, eb), FERRY_OK);
  c = described("-1", "-1", "delete", 1);
  expect_refused(&c, TOPICCFG_COMPACTED, "cleanup.policy=delete", "compact");
  /* compact,delete: time and size apply again. */
  c = described("604800000", "-1", "compact,delete", 0);
  expect_refused(&c, TOPICCFG_COMPACTED, "retention.ms=604800000", NULL);
  c = described("-1", "-1", "compact,delete", 0);
  assert_int_equal(topiccfg_check("ferry.tasks", TOPICCFG_COMPACTED, &c, 0, eb), FERRY_OK);
}

static void test_unchecked(void **state) {
  char eb[FERRY_ERRLEN], w[512];
  topiccfg_t c;
  (void)state;
  memset(&c, 0, sizeof(c));
  c.state = TOPICCFG_DENIED;
  snprintf(c.detail, sizeof(c.detail), "Broker: Topic authorization failed");
  /* Not readable: not refused, but the warning names what to check. */
  assert_int_equal(topiccfg_check("ferry.failed", TOPICCFG_KEEP, &c, 0, eb), FERRY_OK);
  topiccfg_unchecked("ferry.failed", TOPICCFG_KEEP, &c, w, sizeof(w));
  assert_non_null(strstr(w, "ferry.failed"));
  assert_non_null(strstr(w, "authorization"));
  assert_non_null(strstr(w, "retention.ms=-1"));
  assert_non_null(strstr(w, "retention.bytes=-1"));
  assert_non_null(strstr(w, "cleanup.policy=delete"));
  assert_non_null(strstr(w, "max.message.bytes"));
  topiccfg_unchecked("ferry.tasks", TOPICCFG_COMPACTED, &c, w, sizeof(w));
  assert_non_null(strstr(w, "cleanup.policy=compact"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limit),
      cmocka_unit_test(test_keep_topics),
      cmocka_unit_test(test_tasks_topic),
      cmocka_unit_test(test_unchecked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
