/* Unit tests for lib/plan/syncdiff: the listing-only verdicts of --verify and
 * --incremental, and the key order of the merge-join. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "plan/syncdiff.h"

static store_object_t obj(uint64_t size, const char *etag, time_t mtime) {
  store_object_t o;
  memset(&o, 0, sizeof(o));
  o.key = "k";
  o.size = size;
  o.etag = (char *)etag;
  o.mtime = mtime;
  return o;
}

#define MD5A "9e107d9d372bb6826bd81d3542a419d6"
#define MD5B "e4d909c290d0fb1ca068ffaddf22cbd0"

static void test_compare(void **state) {
  store_object_t s = obj(10, MD5A, 100), d = obj(10, MD5A, 200);
  (void)state;
  assert_int_equal(sd_compare(&s, &d), SD_SAME);
  d.size = 11;
  assert_int_equal(sd_compare(&s, &d), SD_SIZE);
  d.size = 10;
  /* MD5 ETags compare case-insensitively (OSS writes upper case), quotes
   * tolerated. */
  d.etag = "9E107D9D372BB6826BD81D3542A419D6";
  assert_int_equal(sd_compare(&s, &d), SD_SAME);
  d.etag = "\"" MD5A "\"";
  assert_int_equal(sd_compare(&s, &d), SD_SAME);
  d.etag = MD5B;
  assert_int_equal(sd_compare(&s, &d), SD_ETAG);
  /* Equal checksums win over dates: re-uploaded with the same bytes. */
  s.mtime = 300;
  d.etag = MD5A;
  assert_int_equal(sd_compare(&s, &d), SD_SAME);
  /* A multipart ETag is not comparable: the dates decide. */
  s.etag = "a1b2c3d4e5f60718293a4b5c6d7e8f90-3";
  assert_int_equal(sd_compare(&s, &d), SD_NEWER);
  s.mtime = 200;
  assert_int_equal(sd_compare(&s, &d), SD_SAME);
  s.mtime = -1;
  assert_int_equal(sd_compare(&s, &d), SD_SAME);
  /* No ETag at all (a store that lists none). */
  s = obj(10, NULL, 500);
  d = obj(10, NULL, 400);
  assert_int_equal(sd_compare(&s, &d), SD_NEWER);
  /* CRC-64 on both sides decides before the ETags. */
  s = obj(10, MD5A, 100);
  d = obj(10, MD5B, 200);
  s.has_crc64 = d.has_crc64 = 1;
  s.crc64 = d.crc64 = 42;
  assert_int_equal(sd_compare(&s, &d), SD_SAME);
  d.crc64 = 43;
  d.etag = MD5A;
  assert_int_equal(sd_compare(&s, &d), SD_CRC64);
  /* CRC on one side only: ETags. */
  d.has_crc64 = 0;
  assert_int_equal(sd_compare(&s, &d), SD_SAME);
}

static void test_names_and_order(void **state) {
  (void)state;
  assert_string_equal(sd_kind_str(SD_MISSING), "missing");
  assert_string_equal(sd_kind_str(SD_EXTRA), "extra");
  assert_string_equal(sd_kind_str(SD_NEWER), "newer");
  assert_string_equal(sd_kind_str((sd_kind_t)99), "?");
  /* Byte order, as the stores list: '/' (0x2F) before '0', ASCII before
   * UTF-8, U+FFFD (EF BF BD) before U+1F600 (F0 9F 98 80) unlike UTF-16. */
  assert_true(sd_key_cmp("a/b", "a0") < 0);
  assert_true(sd_key_cmp("a-b", "a/b") < 0);
  assert_true(sd_key_cmp("z", "\xc3\xbc") < 0);
  assert_true(sd_key_cmp("\xef\xbf\xbd", "\xf0\x9f\x98\x80") < 0);
  assert_true(sd_key_cmp("abc", "abc") == 0);
  assert_true(sd_key_cmp("ab", "abc") < 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compare),
      cmocka_unit_test(test_names_and_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
