/* Unit tests for lib/xfer/flow: when a pair's GET pauses and resumes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xfer/flow.h"

#define K 1024u

static void test_pause(void **state) {
  (void)state;
  /* 1 MiB ring, 64 KiB chunks: goes on while a whole chunk fits. */
  assert_false(flow_should_pause(1024 * K, 0, 16 * 1024 * K, 64 * K));
  assert_false(flow_should_pause(1024 * K, 960 * K, 16 * 1024 * K, 64 * K));
  assert_true(flow_should_pause(1024 * K, 960 * K + 1, 16 * 1024 * K, 64 * K));
  assert_true(flow_should_pause(1024 * K, 1024 * K, 16 * 1024 * K, 64 * K));
  /* Near the end only what is left must fit. */
  assert_false(flow_should_pause(1024 * K, 1000 * K, 24 * K, 64 * K));
  assert_true(flow_should_pause(1024 * K, 1000 * K, 24 * K + 1, 64 * K));
  /* Nothing left: never pause (the GET is about to end). */
  assert_false(flow_should_pause(1024 * K, 1024 * K, 0, 64 * K));
  /* A fill above the capacity (never happens) counts as full. */
  assert_true(flow_should_pause(100, 200, 50, 10));
}

static void test_resume(void **state) {
  (void)state;
  /* Resume at a quarter of the ring free, not at one chunk. */
  assert_false(flow_should_resume(1024 * K, 960 * K, 16 * 1024 * K, 64 * K));
  assert_false(flow_should_resume(1024 * K, 768 * K + 1, 16 * 1024 * K, 64 * K));
  assert_true(flow_should_resume(1024 * K, 768 * K, 16 * 1024 * K, 64 * K));
  assert_true(flow_should_resume(1024 * K, 0, 16 * 1024 * K, 64 * K));
  /* Small ring: a quarter is less than a chunk, so a chunk it is. */
  assert_false(flow_should_resume(128 * K, 64 * K + 1, 16 * 1024 * K, 64 * K));
  assert_true(flow_should_resume(128 * K, 64 * K, 16 * 1024 * K, 64 * K));
  /* Near the end, room for what is left is enough. */
  assert_true(flow_should_resume(1024 * K, 1000 * K, 24 * K, 64 * K));
  assert_true(flow_should_resume(1024 * K, 1024 * K, 0, 64 * K));
}

/* Whenever the GET would be paused it is not resumable in the same state,
 * and a resumable state never asks for a pause: no pause/resume flapping,
 * and a paused GET with an empty ring is always resumed (no deadlock). */
static void test_consistent(void **state) {
  size_t caps[] = {128 * K, 256 * K, 1024 * K, 3 * K + 7};
  uint64_t lefts[] = {0, 1, 10 * K, 64 * K, 100 * K, 1ull << 40};
  size_t c, l, fill;
  (void)state;
  for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++)
    for (l = 0; l < sizeof(lefts) / sizeof(lefts[0]); l++) {
      for (fill = 0; fill <= caps[c]; fill += 1 + caps[c] / 97) {
        int p = flow_should_pause(caps[c], fill, lefts[l], 64 * K);
        int r = flow_should_resume(caps[c], fill, lefts[l], 64 * K);
        assert_false(p && r);
      }
      assert_true(flow_should_resume(caps[c], 0, lefts[l], 64 * K) ||
                  caps[c] < 64 * K);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pause),
      cmocka_unit_test(test_resume),
      cmocka_unit_test(test_consistent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
