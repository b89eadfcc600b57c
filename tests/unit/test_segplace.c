/* Unit tests for lib/bus/segplace: segments spread round-robin over the
 * partitions, so that a few large objects reach as many workers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bus/segplace.h"
#include "plan/segmenter.h"

static int32_t place(const char *key, int32_t n) {
  return segplace_partition(key, strlen(key), n);
}

/* Consecutive segments of a run go to consecutive partitions: k segments
 * over n >= k partitions use k distinct ones. */
static void test_round_robin(void **state) {
  int32_t n, first, p;
  char id[32];
  int i, seen[64];
  (void)state;
  for (n = 1; n <= 64; n *= 2) {
    memset(seen, 0, sizeof(seen));
    first = place("1-000001", n);
    for (i = 1; i <= 3 * n; i++) {
      snprintf(id, sizeof(id), "1-%06d", i);
      p = place(id, n);
      assert_true(p >= 0 && p < n);
      assert_int_equal(p, (first + i - 1) % n);
      seen[p]++;
    }
    for (i = 0; i < n; i++) assert_int_equal(seen[i], 3);
  }
  /* Wider sequence numbers continue the cycle. */
  assert_int_equal(place("2-1000000", 8), (place("2-999999", 8) + 1) % 8);
}

/* Each run and shard starts at an offset of its own, so many one-segment
 * runs do not all land on one partition; ids are stable across calls. */
static void test_offsets(void **state) {
  char id[32];
  int i, seen[16] = {0}, used = 0;
  (void)state;
  for (i = 1; i <= 64; i++) {
    snprintf(id, sizeof(id), "%d-000001", i);
    seen[place(id, 16)]++;
  }
  for (i = 0; i < 16; i++) used += seen[i] > 0;
  assert_true(used >= 8);
  assert_int_equal(place("s001/3-000007", 12), place("s001/3-000007", 12));
  assert_int_equal(place("s001/3-000008", 12), (place("s001/3-000007", 12) + 1) % 12);
}

/* Halves of a split segment go with it; odd keys and counts give a valid
 * partition without crashing. */
static void test_halves_and_odd_keys(void **state) {
  (void)state;
  assert_int_equal(place("1-000005.1", 8), place("1-000005", 8));
  assert_int_equal(place("1-000005.2.1", 8), place("1-000005", 8));
  assert_int_equal(segplace_partition(NULL, 0, 8), 0);
  assert_int_equal(segplace_partition("x", 1, 0), 0);
  assert_int_equal(place("", 8), 0);
  assert_true(place("seg-07", 8) >= 0 && place("seg-07", 8) < 8);
  assert_true(place("no dash", 8) >= 0 && place("no dash", 8) < 8);
  assert_true(place("1-", 8) >= 0 && place("1-", 8) < 8);
  assert_true(place("1-12x4", 8) >= 0 && place("1-12x4", 8) < 8);
  assert_true(place("1-99999999999999999999999", 8) < 8);
  assert_true(segplace_partition("1-000001", 8, 2147483647) >= 0);
}

/* The WAN bench's case: four 32 MiB objects at the default segment size
 * (32M) are four segments, and over 8 partitions shared by 4 workers with
 * the roundrobin assignor (partition p to worker p mod 4) every worker
 * gets one. With 1G segments they were one segment for one worker. */
static void test_four_large_objects_four_workers(void **state) {
  msg_loc_t src = {"oss", "b", ""}, dst = {"cos", "d", ""};
  seg_t *s = seg_new("large4", 1, &src, &dst, POLICY_SKIP_IF_SAME, 1000, 32u << 20, NULL, NULL);
  msg_segment_t *out, *segs[8];
  size_t nseg = 0, i;
  int worker[4] = {0};
  char key[16];
  (void)state;
  assert_non_null(s);
  for (i = 0; i < 4; i++) {
    store_object_t o;
    memset(&o, 0, sizeof(o));
    snprintf(key, sizeof(key), "large/%zu", i);
    o.key = key;
    o.size = 32u << 20;
    o.mtime = -1;
    assert_int_equal(seg_add(s, &o, &out, NULL), FERRY_OK);
    if (out) segs[nseg++] = out;
  }
  seg_flush(s, &out);
  if (out) segs[nseg++] = out;
  assert_int_equal(nseg, 4);
  for (i = 0; i < nseg; i++) {
    worker[place(segs[i]->id, 8) % 4]++;
    seg_segment_free(segs[i]);
  }
  for (i = 0; i < 4; i++) assert_int_equal(worker[i], 1);
  seg_destroy(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_robin),
      cmocka_unit_test(test_offsets),
      cmocka_unit_test(test_halves_and_odd_keys),
      cmocka_unit_test(test_four_large_objects_four_workers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
