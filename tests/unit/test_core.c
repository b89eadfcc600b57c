/* Unit tests for lib/core: buffers, name/value lists, encodings, digests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/kv.h"

static void test_buf_cap(void **state) {
  fbuf_t b;
  (void)state;
  fbuf_init(&b, 8);
  assert_int_equal(fbuf_adds(&b, "12345678"), FERRY_OK);
  assert_int_equal(fbuf_adds(&b, "9"), FERRY_ERR_INVALID);
  assert_string_equal(fbuf_str(&b), "12345678");
  fbuf_reset(&b);
  assert_int_equal(fbuf_addf(&b, "%d-%s", 42, "x"), FERRY_OK);
  assert_string_equal(fbuf_str(&b), "42-x");
  fbuf_release(&b);
}

static void test_kv(void **state) {
  kvlist_t l;
  (void)state;
  kvlist_init(&l);
  kvlist_add(&l, "Content-Type", "text/plain");
  kvlist_add(&l, "uploads", NULL);
  assert_string_equal(kvlist_get(&l, "content-type"), "text/plain");
  assert_string_equal(kvlist_get(&l, "uploads"), "");
  kvlist_set(&l, "CONTENT-TYPE", "a/b");
  assert_string_equal(kvlist_get(&l, "content-type"), "a/b");
  kvlist_del(&l, "content-type");
  assert_null(kvlist_get(&l, "content-type"));
  assert_int_equal(l.n, 1);
  kvlist_release(&l);
}

static void test_pct(void **state) {
  fbuf_t b;
  const char key[] = "dir/a b+c(\xe6\xb5\x8b).txt";
  (void)state;
  fbuf_init(&b, 0);
  enc_pct(&b, key, strlen(key), 1);
  assert_string_equal(fbuf_str(&b), "dir/a%20b%2Bc%28%E6%B5%8B%29.txt");
  fbuf_reset(&b);
  enc_pct(&b, key, strlen(key), 0);
  assert_string_equal(fbuf_str(&b), "dir%2Fa%20b%2Bc%28%E6%B5%8B%29.txt");
  fbuf_reset(&b);
  assert_int_equal(enc_pct_decode(&b, "a%20b%2Bc+d", 11, 0), FERRY_OK);
  assert_string_equal(fbuf_str(&b), "a b+c+d");
  fbuf_reset(&b);
  assert_int_equal(enc_pct_decode(&b, "bad%2", 5, 0), FERRY_ERR_PARSE);
  fbuf_reset(&b);
  assert_int_equal(enc_pct_decode(&b, "bad%zz", 6, 0), FERRY_ERR_PARSE);
  fbuf_release(&b);
}

static void test_b64_hex(void **state) {
  fbuf_t b;
  unsigned char md5[16], dec[32];
  (void)state;
  fbuf_init(&b, 0);
  enc_md5(md5, "hello world", 11);
  enc_b64(&b, md5, 16);
  assert_string_equal(fbuf_str(&b), "XrY7u+Ae7tCTyyK7j1rNww==");
  assert_int_equal(enc_b64_decode(dec, b.p, b.len), 16);
  assert_memory_equal(dec, md5, 16);
  fbuf_reset(&b);
  enc_hex(&b, md5, 16);
  assert_string_equal(fbuf_str(&b), "5eb63bbbe01eeed093cb22bb8f5acdc3");
  fbuf_release(&b);
}

static void test_time(void **state) {
  char iso[17], ymd[9], rfc[30];
  (void)state;
  enc_time_iso8601_basic(iso, 1369353600);
  enc_time_ymd(ymd, 1369353600);
  enc_time_rfc1123(rfc, 1369353600);
  assert_string_equal(iso, "20130524T000000Z");
  assert_string_equal(ymd, "20130524");
  assert_string_equal(rfc, "Fri, 24 May 2013 00:00:00 GMT");
  assert_int_equal(enc_time_parse("2013-05-24T00:00:00.000Z"), 1369353600);
  assert_int_equal(enc_time_parse("Fri, 24 May 2013 00:00:00 GMT"), 1369353600);
  assert_int_equal(enc_time_parse("garbage"), -1);
}

/* The clock helpers every service uses: the wall clock in ms agrees with
 * time(), the monotonic one in ms with the one in us, and never goes back. */
static void test_clocks(void **state) {
  int64_t w0 = (int64_t)time(NULL), wms = ferry_wall_ms(), w1 = (int64_t)time(NULL);
  int64_t m0 = ferry_now_us() / 1000, mms = ferry_mono_ms(), m1 = ferry_now_us() / 1000;
  (void)state;
  assert_true(wms / 1000 >= w0 && wms / 1000 <= w1);
  assert_true(ferry_wall_s() >= w0);
  assert_true(mms >= m0 && mms <= m1);
  assert_true(ferry_mono_ms() >= mms);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_cap), cmocka_unit_test(test_kv),
      cmocka_unit_test(test_pct),     cmocka_unit_test(test_b64_hex),
      cmocka_unit_test(test_time),    cmocka_unit_test(test_clocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
