/* Unit tests for lib/xfer/bufpool: reuse, the cache bound, live/peak counts,
 * trim and release. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/ferry.h"
#include "xfer/bufpool.h"

static void test_reuse(void **state) {
  bufpool_t bp;
  char *a, *b, *c;
  (void)state;
  bufpool_init(&bp, 4096, 2);
  a = bufpool_get(&bp);
  memset(a, 'x', 4096); /* the whole size is usable */
  assert_int_equal(bp.live, 1);
  assert_int_equal(bp.allocs, 1);
  bufpool_put(&bp, a);
  assert_int_equal(bp.live, 0);
  assert_int_equal(bp.n_cached, 1);
  b = bufpool_get(&bp); /* the kept one comes back, no new allocation */
  assert_ptr_equal(a, b);
  assert_int_equal(bp.allocs, 1);
  c = bufpool_get(&bp);
  assert_ptr_not_equal(b, c);
  assert_int_equal(bp.allocs, 2);
  assert_int_equal(bp.live, 2);
  assert_int_equal(bp.peak_live, 2);
  assert_int_equal(bufpool_bytes(&bp), 2 * 4096);
  bufpool_put(&bp, b);
  bufpool_put(&bp, c);
  assert_int_equal(bp.peak_live, 2);
  assert_int_equal(bufpool_bytes(&bp), 2 * 4096);
  bufpool_release(&bp);
}

/* No more than max_cached are kept: the rest is freed at once, so what the
 * pool holds is bounded by max(live, max_cached) buffers. */
static void test_cache_bound(void **state) {
  bufpool_t bp;
  char *v[5];
  int i;
  (void)state;
  bufpool_init(&bp, 100, 2);
  for (i = 0; i < 5; i++) v[i] = bufpool_get(&bp);
  assert_int_equal(bp.live, 5);
  assert_int_equal(bp.peak_live, 5);
  for (i = 0; i < 5; i++) bufpool_put(&bp, v[i]);
  assert_int_equal(bp.live, 0);
  assert_int_equal(bp.n_cached, 2);
  assert_int_equal(bufpool_bytes(&bp), 200);
  bufpool_put(&bp, NULL); /* ignored */
  assert_int_equal(bp.n_cached, 2);
  assert_int_equal(bp.live, 0);
  bufpool_release(&bp);
}

static void test_trim_and_zero_cache(void **state) {
  bufpool_t bp;
  char *a, *b;
  (void)state;
  bufpool_init(&bp, 64, 4);
  a = bufpool_get(&bp);
  b = bufpool_get(&bp);
  bufpool_put(&bp, a);
  bufpool_trim(&bp); /* kept ones freed, the handed-out one untouched */
  assert_int_equal(bp.n_cached, 0);
  assert_int_equal(bp.live, 1);
  memset(b, 1, 64);
  bufpool_put(&bp, b);
  assert_int_equal(bp.n_cached, 1);
  bufpool_release(&bp);
  bufpool_release(NULL);
  /* A pool that keeps nothing frees every buffer given back. */
  bufpool_init(&bp, 64, 0);
  a = bufpool_get(&bp);
  bufpool_put(&bp, a);
  assert_int_equal(bp.n_cached, 0);
  assert_int_equal(bufpool_bytes(&bp), 0);
  a = bufpool_get(&bp);
  assert_int_equal(bp.allocs, 2);
  bufpool_put(&bp, a);
  bufpool_release(&bp);
  /* Size 0 is taken as 1 (never a zero-byte malloc). */
  bufpool_init(&bp, 0, 1);
  assert_int_equal(bp.size, 1);
  a = bufpool_get(&bp);
  a[0] = 1;
  bufpool_put(&bp, a);
  bufpool_release(&bp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reuse),
      cmocka_unit_test(test_cache_bound),
      cmocka_unit_test(test_trim_and_zero_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
