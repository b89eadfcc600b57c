/* Unit tests for lib/bus/offtrack: only finished prefixes are committed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "bus/offtrack.h"

#include <string.h>

#define T "ferry.segments.a"

static int64_t next_in(offtrack_t *t, const char *topic, int32_t part) {
  size_t i;
  for (i = 0; i < t->n; i++) {
    const char *tp;
    int32_t p;
    int64_t o;
    if (offtrack_next_commit(t, i, &tp, &p, &o) && p == part && strcmp(tp, topic) == 0)
      return o;
  }
  return -1;
}

static int64_t next(offtrack_t *t, int32_t part) { return next_in(t, T, part); }

static void test_out_of_order(void **state) {
  offtrack_t t;
  (void)state;
  offtrack_init(&t);
  offtrack_add(&t, T, 0, 10);
  offtrack_add(&t, T, 0, 11);
  offtrack_add(&t, T, 0, 12);
  offtrack_done(&t, T, 0, 12);
  assert_int_equal(next(&t, 0), -1);        /* 10 and 11 still running */
  offtrack_done(&t, T, 0, 10);
  assert_int_equal(next(&t, 0), 11);        /* commit = last finished prefix + 1 */
  offtrack_committed(&t, T, 0, 11);
  assert_int_equal(next(&t, 0), -1);
  offtrack_done(&t, T, 0, 11);
  assert_int_equal(next(&t, 0), 13);
  assert_int_equal(offtrack_inflight(&t), 0);
  offtrack_release(&t);
}

static void test_partitions_and_drop(void **state) {
  offtrack_t t;
  int i;
  (void)state;
  offtrack_init(&t);
  for (i = 0; i < 100; i++) {
    offtrack_add(&t, T, 1, i);
    offtrack_add(&t, T, 2, 1000 + i);
  }
  assert_int_equal(offtrack_inflight(&t), 200);
  for (i = 0; i < 50; i++) offtrack_done(&t, T, 1, i);
  assert_int_equal(next(&t, 1), 50);
  assert_int_equal(next(&t, 2), -1);
  offtrack_drop(&t, T, 1);                      /* revoked: never committed */
  assert_int_equal(next(&t, 1), -1);
  offtrack_done(&t, T, 1, 77);                  /* late finish of revoked work: ignored */
  assert_int_equal(offtrack_inflight(&t), 100);
  offtrack_release(&t);
}

static void test_rewind(void **state) {
  offtrack_t t;
  (void)state;
  offtrack_init(&t);
  offtrack_add(&t, T, 0, 5);
  offtrack_add(&t, T, 0, 6);
  offtrack_add(&t, T, 0, 5);                    /* redelivered from 5 */
  offtrack_done(&t, T, 0, 5);
  assert_int_equal(next(&t, 0), 6);
  assert_int_equal(offtrack_inflight(&t), 0);
  offtrack_release(&t);
}

/* A worker reads a segments topic per task: partition 0 of one topic is
 * not partition 0 of another (their commits must never mix). */
static void test_topics_apart(void **state) {
  offtrack_t t;
  (void)state;
  offtrack_init(&t);
  offtrack_add(&t, "ferry.segments.big", 0, 100);
  offtrack_add(&t, "ferry.segments.big", 0, 101);
  offtrack_add(&t, "ferry.segments.small", 0, 3);
  offtrack_done(&t, "ferry.segments.small", 0, 3);
  assert_int_equal(next_in(&t, "ferry.segments.small", 0), 4);
  assert_int_equal(next_in(&t, "ferry.segments.big", 0), -1);
  offtrack_done(&t, "ferry.segments.big", 0, 100);
  assert_int_equal(next_in(&t, "ferry.segments.big", 0), 101);
  offtrack_committed(&t, "ferry.segments.small", 0, 4);
  assert_int_equal(next_in(&t, "ferry.segments.small", 0), -1);
  assert_int_equal(next_in(&t, "ferry.segments.big", 0), 101);
  offtrack_drop(&t, "ferry.segments.big", 0);
  offtrack_done(&t, "ferry.segments.big", 0, 101);   /* revoked: ignored */
  assert_int_equal(offtrack_inflight(&t), 0);
  assert_int_equal(t.n, 1);
  offtrack_release(&t);
}

static void count_cb(const char *topic, int32_t partition, void *ctx) {
  (void)topic;
  (void)partition;
  (*(int *)ctx)++;
}

/* A rebalance that gives a partition straight back: its messages in flight
 * stay tracked and are committed here, its re-reads are passed over; one
 * not given back is dropped. */
static void test_park(void **state) {
  offtrack_t t;
  int dropped = 0;
  (void)state;
  offtrack_init(&t);
  offtrack_add(&t, T, 0, 10);
  offtrack_add(&t, T, 0, 11);
  offtrack_add(&t, T, 1, 5);
  offtrack_done(&t, T, 0, 10);
  assert_int_equal(next(&t, 0), 11);
  offtrack_committed(&t, T, 0, 11);
  offtrack_park(&t, T, 0);
  offtrack_park(&t, T, 1);
  offtrack_done(&t, T, 0, 11);                 /* finishes while parked */
  assert_int_equal(next(&t, 0), -1);           /* but no commit while parked */
  assert_int_equal(offtrack_taken(&t, T, 0, 11), 0);
  assert_int_equal(offtrack_unpark(&t, T, 0), 1);
  assert_int_equal(offtrack_unpark(&t, T, 0), 0);
  assert_int_equal(next(&t, 0), 12);
  assert_int_equal(offtrack_taken(&t, T, 0, 11), 1);   /* re-read after the rebalance */
  assert_int_equal(offtrack_taken(&t, T, 0, 12), 0);
  assert_int_equal(offtrack_drop_parked(&t, count_cb, &dropped), 1);   /* partition 1 */
  assert_int_equal(dropped, 1);
  assert_int_equal(offtrack_taken(&t, T, 1, 5), 0);
  assert_int_equal(t.n, 1);
  offtrack_release(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_out_of_order),
      cmocka_unit_test(test_partitions_and_drop),
      cmocka_unit_test(test_rewind),
      cmocka_unit_test(test_topics_apart),
      cmocka_unit_test(test_park),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
