/* Unit tests for lib/core/crc64: CRC-64/XZ check values (the OSS/COS CRC64),
 * incremental updates, combine, and strict parsing of header values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/crc64.h"

/* An independent bit-at-a-time CRC-64/XZ, straight from the Rocksoft
 * parameters, to check ISA-L against on random data. */
static uint64_t ref_crc64(const unsigned char *p, size_t n) {
  uint64_t r = ~0ULL;
  size_t i;
  int b;
  for (i = 0; i < n; i++) {
    r ^= p[i];
    for (b = 0; b < 8; b++) r = (r & 1) ? (r >> 1) ^ 0xC96C5795D7870F42ULL : r >> 1;
  }
  return ~r;
}

static uint64_t crc_str(const char *s) {
  return crc64_update(0, s, strlen(s));
}

/* Deterministic xorshift so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_vectors(void **state) {
  (void)state;
  assert_true(crc_str("") == 0);
  assert_true(crc_str("a") == 3675645893302102789ULL);
  assert_true(crc_str("a") == 0x330284772E652B05ULL);
  assert_true(crc_str("123456789") == 11051210869376104954ULL);
  assert_true(crc_str("123456789") == 0x995DC9BBDF1939FAULL);
  assert_true(crc_str("This is a test of the emergency broadcast system.") ==
              2871916124362751090ULL);
  assert_true(crc_str("hello world") == 5981764153023615706ULL);
  assert_true(crc_str("Welcome to Amazon S3.") == 18315049191869180458ULL);
}

static void test_residue(void **state) {
  /* The raw register after the message followed by its CRC (little endian)
   * is the model's residue; our finished value is its complement. */
  unsigned char m[17];
  uint64_t c = crc_str("123456789");
  int i;
  (void)state;
  memcpy(m, "123456789", 9);
  for (i = 0; i < 8; i++) m[9 + i] = (unsigned char)(c >> (8 * i));
  assert_true(~crc64_update(0, m, sizeof(m)) == 0x49958C9ABD7D353FULL);
}

static void test_one_mib_zeros(void **state) {
  size_t n = 1 << 20;
  unsigned char *z = calloc(1, n);
  uint64_t c = 0;
  size_t off;
  (void)state;
  assert_non_null(z);
  assert_true(crc64_update(0, z, n) == 6947770692288575170ULL);
  /* Same value fed in odd-sized pieces. */
  for (off = 0; off < n; off += 4093)
    c = crc64_update(c, z + off, n - off < 4093 ? n - off : 4093);
  assert_true(c == 6947770692288575170ULL);
  /* And combined from two halves without the data. */
  assert_true(crc64_combine(crc64_update(0, z, n / 2), crc64_update(0, z, n / 2),
                            n / 2) == 6947770692288575170ULL);
  free(z);
}

static void test_incremental(void **state) {
  uint64_t c;
  (void)state;
  c = crc64_update(0, "AAAAA", 5);
  c = crc64_update(c, "BBBBBBB", 7);
  assert_true(c == 2563372379080506545ULL);
  assert_true(crc_str("AAAAABBBBBBB") == 2563372379080506545ULL);
  /* An empty update changes nothing. */
  assert_true(crc64_update(c, "", 0) == c);
  assert_true(crc64_update(c, NULL, 0) == c);
}

static void test_fold_parts(void **state) {
  uint64_t a = crc_str("AAAAA"), b = crc_str("BBBBBBB"), cc = crc_str("CCC");
  uint64_t acc = 0;
  (void)state;
  assert_true(a == 7179701017049234051ULL);
  assert_true(b == 17984762683674359463ULL);
  assert_true(cc == 9610467555020431939ULL);
  acc = crc64_combine(acc, a, 5);
  acc = crc64_combine(acc, b, 7);
  acc = crc64_combine(acc, cc, 3);
  assert_true(acc == 9651564001788512080ULL);
  assert_true(crc_str("AAAAABBBBBBBCCC") == 9651564001788512080ULL);
  assert_true(crc64_combine(a, b, 7) == 2563372379080506545ULL);
}

static void test_combine_zero_len(void **state) {
  uint64_t c = crc_str("123456789");
  (void)state;
  assert_true(crc64_combine(c, 0, 0) == c);
  assert_true(crc64_combine(c, 12345, 0) == c);
  assert_true(crc64_combine(0, c, 9) == c);
  assert_true(crc64_combine(0, 0, 0) == 0);
}

static void test_three_part_large(void **state) {
  size_t n = (3u << 20) + 12345;
  size_t cut1 = 1u << 20, cut2 = (2u << 20) + 777;
  unsigned char *buf = malloc(n);
  uint64_t direct, acc;
  size_t i;
  (void)state;
  assert_non_null(buf);
  for (i = 0; i < n; i++) buf[i] = (unsigned char)rng();
  direct = crc64_update(0, buf, n);
  acc = crc64_combine(0, crc64_update(0, buf, cut1), cut1);
  acc = crc64_combine(acc, crc64_update(0, buf + cut1, cut2 - cut1), cut2 - cut1);
  acc = crc64_combine(acc, crc64_update(0, buf + cut2, n - cut2), n - cut2);
  assert_true(acc == direct);
  /* The bitwise reference agrees with ISA-L on the whole buffer. */
  assert_true(ref_crc64(buf, n) == direct);
  free(buf);
}

static void test_random_splits(void **state) {
  unsigned char buf[5000];
  int round;
  (void)state;
  for (round = 0; round < 300; round++) {
    size_t n = (size_t)(rng() % sizeof(buf)) + 1;
    size_t cut = (size_t)(rng() % (n + 1));
    size_t i;
    uint64_t direct, a, b;
    for (i = 0; i < n; i++) buf[i] = (unsigned char)rng();
    direct = crc64_update(0, buf, n);
    assert_true(direct == ref_crc64(buf, n));
    a = crc64_update(0, buf, cut);
    b = crc64_update(0, buf + cut, n - cut);
    assert_true(crc64_combine(a, b, n - cut) == direct);
    assert_true(crc64_update(a, buf + cut, n - cut) == direct);
  }
}

static void test_combine_huge_len(void **state) {
  /* Lengths past 4 GiB use the high matrices; check against composition:
   * Z(2^33) applied as one step equals two steps of Z(2^32). With crc2 = 0
   * combine(c, 0, n) is Z(n)(c). */
  uint64_t c = crc_str("hello world");
  uint64_t once = crc64_combine(c, 0, 1ULL << 33);
  uint64_t twice = crc64_combine(crc64_combine(c, 0, 1ULL << 32), 0, 1ULL << 32);
  uint64_t mixed = crc64_combine(crc64_combine(c, 0, 5000000000ULL), 0, 3589934592ULL);
  (void)state;
  assert_true(once == twice);
  assert_true(mixed == once);
  assert_true(crc64_combine(c, 0, UINT64_MAX) != c);
}

static void test_parse(void **state) {
  uint64_t v = 42;
  (void)state;
  assert_int_equal(crc64_parse("0", &v), 0);
  assert_true(v == 0);
  assert_int_equal(crc64_parse("11051210869376104954", &v), 0);
  assert_true(v == 11051210869376104954ULL);
  assert_int_equal(crc64_parse("18446744073709551615", &v), 0);
  assert_true(v == UINT64_MAX);
  assert_int_equal(crc64_parse("007", &v), 0);
  assert_true(v == 7);
  v = 42;
  assert_int_equal(crc64_parse("18446744073709551616", &v), -1);
  assert_int_equal(crc64_parse("99999999999999999999", &v), -1);
  assert_int_equal(crc64_parse("184467440737095516150", &v), -1);
  assert_int_equal(crc64_parse("", &v), -1);
  assert_int_equal(crc64_parse(NULL, &v), -1);
  assert_int_equal(crc64_parse("-1", &v), -1);
  assert_int_equal(crc64_parse("+1", &v), -1);
  assert_int_equal(crc64_parse(" 1", &v), -1);
  assert_int_equal(crc64_parse("1 ", &v), -1);
  assert_int_equal(crc64_parse("12a", &v), -1);
  assert_int_equal(crc64_parse("0x10", &v), -1);
  assert_int_equal(crc64_parse("1.0", &v), -1);
  assert_true(v == 42); /* untouched on failure */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),          cmocka_unit_test(test_residue),
      cmocka_unit_test(test_one_mib_zeros),    cmocka_unit_test(test_incremental),
      cmocka_unit_test(test_fold_parts),       cmocka_unit_test(test_combine_zero_len),
      cmocka_unit_test(test_three_part_large), cmocka_unit_test(test_random_splits),
      cmocka_unit_test(test_combine_huge_len), cmocka_unit_test(test_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
