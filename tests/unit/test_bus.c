/*
 * Unit tests for lib/bus/bus.c parts that need no broker: configuration
 * checks, topic names and partition counts, and property errors (creating a
 * librdkafka client does not connect until it has work).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus/bus.h"
#include "conf/busconf.h"
#include "conf/config.h"
#include "core/log.h"

static void base_conf(bus_conf_t *c) {
  bus_conf_init(c);
  /* Nothing listens there; these tests never need an answer. */
  c->brokers = fx_strdup("127.0.0.1:1");
  c->group_id = fx_strdup("g");
}

static void test_names(void **state) {
  bus_conf_t c;
  char *n;
  (void)state;
  bus_conf_init(&c);
  assert_string_equal(c.topic_prefix, "ferry.");
  assert_int_equal(c.segments_partitions, 64);
  assert_int_equal(c.replication_factor, -1);
  n = bus_topic_name(&c, BUS_SEGMENTS);
  assert_string_equal(n, "ferry.segments");
  fx_free(n);
  fx_free(c.topic_prefix);
  c.topic_prefix = fx_strdup("run-7_");
  n = bus_topic_name(&c, BUS_TASKS);
  assert_string_equal(n, "run-7_tasks");
  fx_free(n);
  assert_string_equal(bus_topic_suffix(BUS_RESULTS), "results");
  assert_string_equal(bus_topic_suffix(BUS_FAILED), "failed");
  assert_string_equal(bus_topic_suffix(BUS_DLQ), "dlq");
  assert_string_equal(bus_topic_suffix(BUS_WORKERS), "workers");
  assert_string_equal(bus_topic_suffix(BUS_TOPIC__COUNT), "?");
  c.segments_partitions = 12;
  assert_int_equal(bus_topic_partitions(&c, BUS_SEGMENTS), 12);
  assert_int_equal(bus_topic_partitions(&c, BUS_TASKS), 1);
  bus_conf_release(&c);
  bus_conf_release(NULL);
}

/* A task's segments topic, and the regex the workers subscribe with. */
static void test_task_topics(void **state) {
  bus_conf_t c;
  char *n;
  char long_name[70];
  (void)state;
  bus_conf_init(&c);
  n = bus_segments_topic(&c, "logs-2024_v1.2");
  assert_string_equal(n, "ferry.segments.logs-2024_v1.2");
  assert_string_equal(bus_segments_topic_task(c.topic_prefix, n), "logs-2024_v1.2");
  fx_free(n);
  assert_null(bus_segments_topic_task("ferry.", "ferry.segments"));
  assert_null(bus_segments_topic_task("ferry.", "ferry.segments."));
  assert_null(bus_segments_topic_task("ferry.", "other.segments.x"));
  assert_null(bus_segments_topic(&c, "a/b"));
  assert_null(bus_segments_topic(&c, ""));
  assert_null(bus_segments_topic(&c, NULL));
  memset(long_name, 'a', 65);
  long_name[65] = 0;
  assert_null(bus_segments_topic(&c, long_name));
  long_name[64] = 0;
  assert_int_equal(bus_task_name_ok(long_name), 1);
  n = bus_segments_regex(&c);
  assert_string_equal(n, "^ferry\\.segments\\..+$");
  fx_free(n);
  fx_free(c.topic_prefix);
  c.topic_prefix = fx_strdup("a.b-c_");
  n = bus_segments_regex(&c);
  assert_string_equal(n, "^a\\.b-c_segments\\..+$");
  fx_free(n);
  bus_conf_release(&c);
}

static void test_conf_check(void **state) {
  bus_conf_t c;
  char eb[FERRY_ERRLEN];
  (void)state;
  bus_conf_init(&c);
  assert_int_equal(bus_conf_check(&c, eb), FERRY_ERR_CONFIG);
  assert_non_null(strstr(eb, "bus.brokers: missing"));
  c.brokers = fx_strdup("localhost:9092");
  assert_int_equal(bus_conf_check(&c, eb), FERRY_OK);
  fx_free(c.topic_prefix);
  c.topic_prefix = fx_strdup("bad prefix/");
  assert_int_equal(bus_conf_check(&c, eb), FERRY_ERR_CONFIG);
  assert_non_null(strstr(eb, "bus.topic_prefix: character 0x20"));
  fx_free(c.topic_prefix);
  c.topic_prefix = fx_strdup("");
  assert_int_equal(bus_conf_check(&c, eb), FERRY_OK);
  c.segments_partitions = 0;
  assert_int_equal(bus_conf_check(&c, eb), FERRY_ERR_CONFIG);
  assert_non_null(strstr(eb, "bus.segments_partitions"));
  c.segments_partitions = 8;
  c.replication_factor = 0;
  assert_int_equal(bus_conf_check(&c, eb), FERRY_ERR_CONFIG);
  assert_non_null(strstr(eb, "bus.replication_factor"));
  c.replication_factor = 3;
  c.delivery_timeout_ms = -1;
  assert_int_equal(bus_conf_check(&c, eb), FERRY_ERR_CONFIG);
  assert_non_null(strstr(eb, "bus.delivery_timeout_ms"));
  bus_conf_release(&c);
}

static void test_bad_properties(void **state) {
  bus_conf_t c;
  char eb[FERRY_ERRLEN];
  bus_topic_t t = BUS_SEGMENTS;
  (void)state;

  base_conf(&c);
  kvlist_add(&c.properties, "no.such.property", "1");
  assert_null(bus_producer_new(&c, NULL, NULL, eb));
  assert_non_null(strstr(eb, "\"no.such.property\": unknown property"));
  assert_null(bus_consumer_new(&c, &t, 1, NULL, NULL, eb));
  assert_non_null(strstr(eb, "no.such.property"));
  bus_conf_release(&c);

  base_conf(&c);
  kvlist_add(&c.producer, "linger.ms", "not-a-number");
  assert_null(bus_producer_new(&c, NULL, NULL, eb));
  assert_non_null(strstr(eb, "kafka producer property \"linger.ms\""));
  bus_conf_release(&c);

  /* A secret's value never appears in the error. */
  base_conf(&c);
  kvlist_add(&c.properties, "ssl.endpoint.identification.algorithm", "HUNTER2-SECRET");
  assert_null(bus_producer_new(&c, NULL, NULL, eb));
  assert_non_null(strstr(eb, "\"ssl.endpoint.identification.algorithm\": invalid value"));
  assert_null(strstr(eb, "HUNTER2"));
  bus_conf_release(&c);

  /* Delivery guarantees are not configurable. */
  base_conf(&c);
  kvlist_add(&c.producer, "enable.idempotence", "false");
  assert_null(bus_producer_new(&c, NULL, NULL, eb));
  assert_non_null(strstr(eb, "\"enable.idempotence\": set by ferry"));
  bus_conf_release(&c);
  base_conf(&c);
  kvlist_add(&c.consumer, "enable.auto.commit", "true");
  assert_null(bus_consumer_new(&c, &t, 1, NULL, NULL, eb));
  assert_non_null(strstr(eb, "\"enable.auto.commit\": set by ferry"));
  bus_conf_release(&c);
  base_conf(&c);
  kvlist_add(&c.properties, "group.id", "x");
  assert_null(bus_consumer_new(&c, &t, 1, NULL, NULL, eb));
  assert_non_null(strstr(eb, "group id setting"));
  bus_conf_release(&c);

  /* A consumer needs a group. */
  base_conf(&c);
  fx_free(c.group_id);
  c.group_id = NULL;
  assert_null(bus_consumer_new(&c, &t, 1, NULL, NULL, eb));
  assert_non_null(strstr(eb, "bus.group_id: missing"));
  bus_conf_release(&c);
}

/* Good properties pass through; nothing connects, destroy is clean. */
static void test_good_properties(void **state) {
  bus_conf_t c;
  char eb[FERRY_ERRLEN] = "";
  bus_producer_t *p;
  bus_consumer_t *k;
  bus_topic_t t[] = {BUS_RESULTS, BUS_TASKS};
  (void)state;
  base_conf(&c);
  kvlist_add(&c.properties, "socket.keepalive.enable", "true");
  kvlist_add(&c.properties, "log_level", "0");
  kvlist_add(&c.producer, "linger.ms", "20");
  kvlist_add(&c.producer, "compression.type", "lz4");
  kvlist_add(&c.consumer, "auto.offset.reset", "latest");
  kvlist_add(&c.consumer, "partition.assignment.strategy", "range");
  c.delivery_timeout_ms = 5000;
  p = bus_producer_new(&c, NULL, NULL, eb);
  if (!p) print_error("%s\n", eb);
  assert_non_null(p);
  assert_int_equal(bus_producer_outstanding(p), 0);
  assert_int_equal(bus_producer_flush(p, 0, eb), FERRY_OK);
  bus_producer_destroy(p);
  bus_producer_destroy(NULL);
  k = bus_consumer_new(&c, t, 2, NULL, NULL, eb);
  if (!k) print_error("%s\n", eb);
  assert_non_null(k);
  bus_consumer_destroy(k);
  bus_consumer_destroy(NULL);
  bus_conf_release(&c);
}

/* From the config file's kafka section, brokers through the bootstrap file
 * that ferry-devbroker writes. */
static void test_from_kafka_section(void **state) {
  conf_kafka_t k;
  bus_conf_t c;
  char eb[FERRY_ERRLEN], path[] = "/tmp/ferry-test-bus-XXXXXX";
  int fd;
  (void)state;
  memset(&k, 0, sizeof(k));
  fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "127.0.0.1:4242\n", 15), 15);
  close(fd);
  k.brokers = "";
  k.bootstrap_file = path;
  k.topic_prefix = "x.";
  k.segments_partitions = 16;
  k.replication_factor = 3;
  k.group_id = "ferry-workers";
  k.delivery_timeout_ms = 60000;
  kvlist_init(&k.properties);
  kvlist_init(&k.producer_properties);
  kvlist_init(&k.consumer_properties);
  kvlist_add(&k.properties, "socket.keepalive.enable", "true");
  kvlist_add(&k.consumer_properties, "session.timeout.ms", "6000");
  assert_int_equal(bus_conf_from_kafka(&c, &k, eb), FERRY_OK);
  assert_string_equal(c.brokers, "127.0.0.1:4242");
  assert_string_equal(c.topic_prefix, "x.");
  assert_string_equal(c.group_id, "ferry-workers");
  assert_int_equal(c.segments_partitions, 16);
  assert_int_equal(c.replication_factor, 3);
  assert_int_equal(c.delivery_timeout_ms, 60000);
  assert_string_equal(kvlist_get(&c.properties, "socket.keepalive.enable"), "true");
  assert_string_equal(kvlist_get(&c.consumer, "session.timeout.ms"), "6000");
  assert_int_equal(bus_conf_check(&c, eb), FERRY_OK);
  bus_conf_release(&c);
  unlink(path);
  /* No file yet: an error, nothing to release. */
  assert_int_not_equal(bus_conf_from_kafka(&c, &k, eb), FERRY_OK);
  kvlist_release(&k.properties);
  kvlist_release(&k.consumer_properties);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_task_topics),
      cmocka_unit_test(test_conf_check),
      cmocka_unit_test(test_bad_properties),
      cmocka_unit_test(test_good_properties),
      cmocka_unit_test(test_from_kafka_section),
  };
  flog_set_level(FLOG_ERROR);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
