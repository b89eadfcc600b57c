/* Unit tests for lib/policy/policy: part sizing, same-name decision, metadata
 * mapping and destination limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy/policy.h"

#define MIB POLICY_MIB
#define GIB POLICY_GIB
#define TIB ((uint64_t)1 << 40)

/* ---- helpers ----------------------------------------------------------- */

static void head_init(store_head_t *h) {
  memset(h, 0, sizeof(*h));
  h->mtime = -1;
  kvlist_init(&h->meta);
  kvlist_init(&h->std);
}

/* The test's own release (store_head_release belongs to the client module). */
static void head_free(store_head_t *h) {
  fx_free(h->etag);
  fx_free(h->content_type);
  fx_free(h->storage_class);
  kvlist_release(&h->meta);
  kvlist_release(&h->std);
}

static char *repeat(char c, size_t n) {
  char *s = fx_malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* Asserts that every part size obeys the destination's limits and that the
 * ranges tile the object exactly. */
static void check_parts(store_type_t dst, uint64_t size, uint64_t pref) {
  const policy_limits_t *l = policy_limits(dst);
  uint64_t p = policy_part_size(dst, size, pref), off, len, next = 0;
  uint32_t n, i;
  assert_true(p > 0);
  assert_int_equal(p % MIB, 0);
  assert_true(p >= l->min_part);
  assert_true(p <= l->max_part);
  n = policy_part_count(size, p);
  assert_true(n >= 1 && n <= l->max_parts);
  for (i = 1; i <= n; i++) {
    assert_int_equal(policy_part_range(size, p, i, &off, &len), 0);
    assert_int_equal(off, next);
    if (i < n) assert_int_equal(len, p); /* only the last part may be short */
    assert_true(len <= p);
    next = off + len;
  }
  assert_int_equal(next, size);
  assert_int_equal(policy_part_range(size, p, n + 1, &off, &len), -1);
}

/* ---- limits and part sizing --------------------------------------------- */

static void test_limits(void **state) {
  (void)state;
  assert_int_equal(policy_limits(STORE_OSS)->min_part, 100 * 1024);
  assert_int_equal(policy_limits(STORE_COS)->min_part, MIB);
  assert_int_equal(policy_limits(STORE_S3)->min_part, 5 * MIB);
  assert_int_equal(policy_limits(STORE_COS)->max_part, 5 * GIB);
  assert_int_equal(policy_limits(STORE_COS)->max_parts, 10000);
  assert_int_equal(policy_limits(STORE_COS)->max_object, 50000 * GIB);
  assert_int_equal(policy_limits(STORE_COS)->meta_total, 4096);
  assert_int_equal(policy_limits(STORE_COS)->meta_each, 2048);
  assert_int_equal(policy_limits(STORE_OSS)->meta_total, 8192);
  assert_int_equal(policy_limits(STORE_S3)->meta_total, 2048);
  assert_string_equal(policy_limits(STORE_OSS)->meta_prefix, "x-oss-meta-");
  assert_string_equal(policy_limits(STORE_S3)->class_header, "x-amz-storage-class");
  /* An out-of-range type gets S3's limits rather than a crash. */
  assert_ptr_equal(policy_limits((store_type_t)99), policy_limits(STORE_S3));
}

static void test_part_size_small(void **state) {
  uint64_t off = 9, len = 9;
  (void)state;
  /* Empty object: one empty part. */
  assert_int_equal(policy_part_size(STORE_COS, 0, 0), POLICY_DEFAULT_PART_SIZE);
  assert_int_equal(policy_part_count(0, 8 * MIB), 1);
  assert_int_equal(policy_part_range(0, 8 * MIB, 1, &off, &len), 0);
  assert_int_equal(off, 0);
  assert_int_equal(len, 0);
  assert_int_equal(policy_part_range(0, 8 * MIB, 2, &off, &len), -1);
  /* One byte. */
  assert_int_equal(policy_part_size(STORE_OSS, 1, 0), 8 * MIB);
  assert_int_equal(policy_part_count(1, 8 * MIB), 1);
  assert_int_equal(policy_part_range(1, 8 * MIB, 1, &off, &len), 0);
  assert_int_equal(len, 1);
  check_parts(STORE_COS, 0, 0);
  check_parts(STORE_S3, 1, 1);
  /* Preferences below the destination minimum are raised, odd ones rounded
   * up to a whole MiB, oversized ones cut to 5 GiB. */
  assert_int_equal(policy_part_size(STORE_S3, 100 * MIB, MIB), 5 * MIB);
  assert_int_equal(policy_part_size(STORE_COS, 100 * MIB, 1), MIB);
  assert_int_equal(policy_part_size(STORE_OSS, 100 * MIB, 200 * 1024), MIB);
  assert_int_equal(policy_part_size(STORE_COS, 100 * MIB, MIB + MIB / 2), 2 * MIB);
  assert_int_equal(policy_part_size(STORE_COS, 100 * MIB, 16 * MIB), 16 * MIB);
  assert_int_equal(policy_part_size(STORE_COS, 100 * MIB, 6 * GIB), 5 * GIB);
  assert_int_equal(policy_part_size(STORE_COS, 100 * MIB, UINT64_MAX), 5 * GIB);
  /* Degenerate inputs of the helpers. */
  assert_int_equal(policy_part_count(10, 0), 0);
  assert_int_equal(policy_part_range(10, 0, 1, &off, &len), -1);
  assert_int_equal(policy_part_range(10, 4, 0, &off, &len), -1);
  assert_int_equal(policy_part_count(UINT64_MAX, 1), UINT32_MAX);
}

static void test_part_size_thresholds(void **state) {
  uint64_t s;
  (void)state;
  /* Exactly 10000 parts of the preferred size. */
  s = 10000 * 8 * MIB;
  assert_int_equal(policy_part_size(STORE_COS, s, 8 * MIB), 8 * MIB);
  assert_int_equal(policy_part_count(s, 8 * MIB), 10000);
  /* One byte more: the part grows (to a whole MiB) to keep <= 10000 parts. */
  assert_int_equal(policy_part_size(STORE_COS, s + 1, 8 * MIB), 9 * MIB);
  assert_int_equal(policy_part_count(s + 1, 9 * MIB), 8889);
  check_parts(STORE_COS, s, 8 * MIB);
  check_parts(STORE_COS, s + 1, 8 * MIB);
  check_parts(STORE_COS, s - 1, 8 * MIB);
  /* Exactly the maximum object: 10000 parts of 5 GiB. */
  s = 10000 * 5 * GIB;
  assert_int_equal(policy_part_size(STORE_COS, s, 0), 5 * GIB);
  assert_int_equal(policy_part_count(s, 5 * GIB), 10000);
  assert_int_equal(policy_check_size(STORE_COS, s, NULL), FERRY_OK);
  /* One byte above it: refused, with a message. */
  {
    char err[FERRY_ERRLEN];
    assert_int_equal(policy_part_size(STORE_COS, s + 1, 0), 0);
    assert_int_equal(policy_check_size(STORE_COS, s + 1, err), FERRY_ERR_INVALID);
    assert_non_null(strstr(err, "53687091200001"));
    assert_non_null(strstr(err, "COS"));
    assert_int_equal(policy_part_size(STORE_OSS, UINT64_MAX, 0), 0);
  }
}

static void test_part_size_48tb(void **state) {
  uint64_t tb48 = 48000000000000ULL, p;
  (void)state;
  /* 48 TB: ceil(48e12 / 10000) = 4.8e9 -> 4578 MiB. */
  p = policy_part_size(STORE_COS, tb48, 0);
  assert_int_equal(p, 4578 * MIB);
  assert_true(policy_part_count(tb48, p) <= 10000);
  check_parts(STORE_COS, tb48, 0);
  /* 48 TiB: 5034 MiB parts, 9999 of them. */
  p = policy_part_size(STORE_OSS, 48 * TIB, 64 * MIB);
  assert_int_equal(p, 5034 * MIB);
  assert_int_equal(policy_part_count(48 * TIB, p), 9999);
  check_parts(STORE_S3, 48 * TIB, 0);
}

static void test_part_size_sweep(void **state) {
  uint64_t x = 88172645463325252ULL;
  int i;
  store_type_t t;
  (void)state;
  for (i = 0; i < 60; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    for (t = STORE_S3; t <= STORE_COS; t++) {
      /* Sizes spread over 0 .. 2^46 (64 TiB: some above the maximum). */
      uint64_t size = x >> (18 + i % 40);
      uint64_t pref = (x & 0xff) * MIB / 3;
      if (size > policy_limits(t)->max_object) {
        assert_int_equal(policy_part_size(t, size, pref), 0);
        continue;
      }
      check_parts(t, size, pref);
    }
  }
}

static void test_use_multipart(void **state) {
  (void)state;
  /* "Objects of this size and above" (docs/config.md) */
  assert_false(policy_use_multipart(STORE_COS, 100 * MIB - 1, 100 * MIB));
  assert_true(policy_use_multipart(STORE_COS, 100 * MIB, 100 * MIB));
  assert_false(policy_use_multipart(STORE_COS, 5 * GIB, 0));
  assert_true(policy_use_multipart(STORE_COS, 5 * GIB + 1, 0));
  assert_true(policy_use_multipart(STORE_S3, 5 * GIB + 1, 10 * GIB));
  assert_false(policy_use_multipart(STORE_OSS, 0, 1));
}

/* ---- same-name decision -------------------------------------------------- */

static void test_etag_is_md5(void **state) {
  (void)state;
  assert_true(policy_etag_is_md5("d41d8cd98f00b204e9800998ecf8427e"));
  assert_true(policy_etag_is_md5("D41D8CD98F00B204E9800998ECF8427E"));
  assert_true(policy_etag_is_md5("\"d41d8cd98f00b204e9800998ecf8427e\""));
  assert_false(policy_etag_is_md5("d41d8cd98f00b204e9800998ecf8427e-3"));
  assert_false(policy_etag_is_md5("d41d8cd98f00b204e9800998ecf8427"));
  assert_false(policy_etag_is_md5("d41d8cd98f00b204e9800998ecf8427e0"));
  assert_false(policy_etag_is_md5("g41d8cd98f00b204e9800998ecf8427e"));
  assert_false(policy_etag_is_md5(""));
  assert_false(policy_etag_is_md5("\""));
  assert_false(policy_etag_is_md5(NULL));
}


/* A 32-hex ETag is the MD5 only where the response's headers say so: not
 * under SSE-KMS / SSE-C on S3, not for non-Normal or KMS objects on OSS, not
 * under any encryption or for another object type on COS, never for a web
 * server. */
static int trusted(store_type_t t, const char *etag, const char *h1, const char *v1,
                   const char *h2, const char *v2) {
  kvlist_t h;
  int r;
  kvlist_init(&h);
  if (h1) kvlist_add(&h, h1, v1);
  if (h2) kvlist_add(&h, h2, v2);
  r = policy_etag_md5_trusted(t, &h, etag);
  kvlist_release(&h);
  return r;
}

static void test_etag_md5_trusted(void **state) {
  const char *md5 = "\"d41d8cd98f00b204e9800998ecf8427e\"";
  (void)state;
  assert_true(trusted(STORE_S3, md5, NULL, NULL, NULL, NULL));
  assert_true(trusted(STORE_S3, md5, "x-amz-server-side-encryption", "AES256", NULL, NULL));
  assert_false(trusted(STORE_S3, md5, "x-amz-server-side-encryption", "aws:kms", NULL, NULL));
  assert_false(trusted(STORE_S3, md5, "X-Amz-Server-Side-Encryption", "aws:kms:dsse", NULL, NULL));
  assert_false(trusted(STORE_S3, md5, "x-amz-server-side-encryption-customer-algorithm",
                       "AES256", NULL, NULL));
  assert_false(trusted(STORE_S3, md5, "x-amz-server-side-encryption-customer-key-MD5", "x",
                       NULL, NULL));
  assert_false(trusted(STORE_S3, "d41d8cd98f00b204e9800998ecf8427e-2", NULL, NULL, NULL, NULL));
  assert_false(trusted(STORE_S3, NULL, NULL, NULL, NULL, NULL));
  assert_false(policy_etag_md5_trusted(STORE_S3, NULL, md5));

  assert_true(trusted(STORE_OSS, md5, "x-oss-object-type", "Normal", NULL, NULL));
  assert_true(trusted(STORE_OSS, md5, "x-oss-object-type", "Normal",
                      "x-oss-server-side-encryption", "AES256"));
  assert_false(trusted(STORE_OSS, md5, NULL, NULL, NULL, NULL)); /* type unknown */
  assert_false(trusted(STORE_OSS, md5, "x-oss-object-type", "Multipart", NULL, NULL));
  assert_false(trusted(STORE_OSS, md5, "x-oss-object-type", "Appendable", NULL, NULL));
  assert_false(trusted(STORE_OSS, md5, "x-oss-object-type", "Normal",
                       "x-oss-server-side-encryption", "KMS"));

  assert_true(trusted(STORE_COS, md5, NULL, NULL, NULL, NULL));
  assert_true(trusted(STORE_COS, md5, "x-cos-object-type", "normal", NULL, NULL));
  assert_false(trusted(STORE_COS, md5, "x-cos-object-type", "appendable", NULL, NULL));
  assert_false(trusted(STORE_COS, md5, "x-cos-server-side-encryption", "cos/kms", NULL, NULL));
  assert_false(trusted(STORE_COS, md5, "x-cos-server-side-encryption", "AES256", NULL, NULL));
  assert_false(trusted(STORE_COS, md5, "x-cos-server-side-encryption-customer-algorithm",
                       "AES256", NULL, NULL));

  assert_false(trusted(STORE_HTTP, md5, NULL, NULL, NULL, NULL));
}

static policy_dk_t dk(const char *sp, const char *dp, const char *key, uint64_t size,
                      const char *explicit_key, const char *want) {
  char *out = (char *)0x1;
  policy_dk_t r = policy_dst_key(sp, dp, key, size, explicit_key, &out);
  if (want) {
    assert_non_null(out);
    assert_string_equal(out, want);
  } else {
    assert_null(out);
  }
  fx_free(out);
  return r;
}

/* The destination key is never empty. */
static void test_dst_key(void **state) {
  (void)state;
  assert_int_equal(dk("dir/", "", "dir/a/b", 3, NULL, "a/b"), POLICY_DK_OK);
  assert_int_equal(dk("dir/", "new/", "dir/a", 3, NULL, "new/a"), POLICY_DK_OK);
  assert_int_equal(dk("", "", "a", 3, NULL, "a"), POLICY_DK_OK);
  assert_int_equal(dk(NULL, NULL, "a", 3, NULL, "a"), POLICY_DK_OK);
  /* a key outside the prefix (URL lists, replays) keeps its whole name */
  assert_int_equal(dk("dir/", "x/", "other", 3, NULL, "x/other"), POLICY_DK_OK);
  /* the folder marker of the prefix */
  assert_int_equal(dk("dir/", "", "dir/", 0, NULL, NULL), POLICY_DK_SKIP_MARKER);
  assert_int_equal(dk("a/dir/", NULL, "a/dir/", 0, NULL, NULL), POLICY_DK_SKIP_MARKER);
  /* ... under a destination prefix it is that prefix's marker */
  assert_int_equal(dk("dir/", "new/", "dir/", 0, NULL, "new/"), POLICY_DK_OK);
  /* a "marker" with content has no name of its own */
  assert_int_equal(dk("dir/", "", "dir/", 5, NULL, NULL), POLICY_DK_EMPTY);
  /* an object equal to the prefix goes under its own name */
  assert_int_equal(dk("logs", "", "logs", 10, NULL, "logs"), POLICY_DK_OK);
  assert_int_equal(dk("a/b/logs", "", "a/b/logs", 10, NULL, "logs"), POLICY_DK_OK);
  assert_int_equal(dk("a/b/logs", "", "a/b/logs", 0, NULL, "logs"), POLICY_DK_OK);
  assert_int_equal(dk("logs", "arch", "logs", 10, NULL, "arch"), POLICY_DK_OK);
  /* explicit keys (URL lists) */
  assert_int_equal(dk("", "", "http://h/x", 1, "p/x", "p/x"), POLICY_DK_OK);
  assert_int_equal(dk("", "", "http://h/x", 1, "", NULL), POLICY_DK_EMPTY);
  assert_int_equal(dk("", "", "", 0, NULL, NULL), POLICY_DK_EMPTY);
}

static void test_decide_overwrite_skip(void **state) {
  msg_obj_t o = {"k", 10, "d41d8cd98f00b204e9800998ecf8427e", 0, 1, 77, NULL};
  store_head_t h;
  const char *why = NULL;
  (void)state;
  head_init(&h);
  h.size = 10;
  h.has_crc64 = 1;
  h.crc64 = 77;
  /* overwrite: copy always, even an identical object. */
  assert_int_equal(policy_decide(POLICY_OVERWRITE, &o, &h, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "overwrite");
  assert_int_equal(policy_decide(POLICY_OVERWRITE, &o, NULL, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "absent");
  /* skip: any existing object, whatever its content. */
  h.size = 999;
  assert_int_equal(policy_decide(POLICY_SKIP, &o, &h, &why), POLICY_ACT_SKIP);
  assert_string_equal(why, "exists");
  assert_int_equal(policy_decide(POLICY_SKIP, &o, NULL, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "absent");
  /* reason may be NULL; unknown policies copy. */
  assert_int_equal(policy_decide(POLICY_SKIP, &o, &h, NULL), POLICY_ACT_SKIP);
  assert_int_equal(policy_decide((msg_policy_t)42, &o, &h, &why), POLICY_ACT_COPY);
  head_free(&h);
}

static void test_decide_skip_if_same(void **state) {
  msg_obj_t o = {"k", 10, "d41d8cd98f00b204e9800998ecf8427e", 0, 1, 77, NULL};
  store_head_t h;
  const char *why = NULL;
  (void)state;
  head_init(&h);
  h.size = 10;
  h.has_crc64 = 1;
  h.crc64 = 77;
  h.etag = fx_strdup("0123456789abcdef0123456789abcdef-2"); /* multipart at dst */
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, NULL, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "absent");
  /* CRC-64 on both sides decides, ETags notwithstanding. */
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_SKIP);
  assert_string_equal(why, "same-crc64");
  h.crc64 = 78;
  fx_free(h.etag);
  h.etag = fx_strdup(o.etag);
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "crc64-differs");
  /* Size first. */
  h.crc64 = 77;
  h.size = 11;
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "size-differs");
  h.size = 10;
  /* No CRC at the destination: single-part MD5 ETags, case-insensitive,
   * quotes tolerated. */
  h.has_crc64 = 0;
  fx_free(h.etag);
  h.etag = fx_strdup("\"D41D8CD98F00B204E9800998ECF8427E\"");
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_SKIP);
  assert_string_equal(why, "same-etag");
  /* No CRC at the source either. */
  o.has_crc64 = 0;
  h.has_crc64 = 1;
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_SKIP);
  assert_string_equal(why, "same-etag");
  /* Different MD5s. */
  fx_free(h.etag);
  h.etag = fx_strdup("ffffffffffffffffffffffffffffffff");
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "etag-differs");
  /* Equal multipart ETags prove nothing across stores: copy. */
  o.etag = "0123456789abcdef0123456789abcdef-2";
  fx_free(h.etag);
  h.etag = fx_strdup(o.etag);
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "unverifiable");
  /* Missing ETags on either side. */
  o.etag = NULL;
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "unverifiable");
  o.etag = "d41d8cd98f00b204e9800998ecf8427e";
  fx_free(h.etag);
  h.etag = NULL;
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "unverifiable");
  /* Not-quite-MD5 source ETag equal at both sides: still copy. */
  o.etag = "d41d8cd98f00b204e9800998ecf842";
  h.etag = fx_strdup(o.etag);
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_COPY);
  assert_string_equal(why, "unverifiable");
  /* Empty objects compare like any other. */
  o.size = 0;
  h.size = 0;
  o.has_crc64 = h.has_crc64 = 1;
  o.crc64 = h.crc64 = 0;
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, &o, &h, &why), POLICY_ACT_SKIP);
  assert_string_equal(why, "same-crc64");
  assert_int_equal(policy_decide(POLICY_SKIP_IF_SAME, NULL, &h, &why), POLICY_ACT_COPY);
  head_free(&h);
}

/* ---- storage classes ------------------------------------------------------ */

static void test_class_defaults(void **state) {
  static const char *const oss[] = {"Standard", "IA", "Archive", "ColdArchive",
                                    "DeepColdArchive"};
  static const char *const cos[] = {"STANDARD", "STANDARD_IA", "ARCHIVE", "DEEP_ARCHIVE",
                                    "DEEP_ARCHIVE"};
  size_t i;
  (void)state;
  for (i = 0; i < 5; i++)
    assert_string_equal(policy_class_map(oss[i], STORE_OSS, STORE_COS, NULL), cos[i]);
  /* Case-insensitive source names. */
  assert_string_equal(policy_class_map("standard", STORE_OSS, STORE_COS, NULL), "STANDARD");
  /* COS -> OSS, S3 -> COS, OSS -> S3. */
  assert_string_equal(policy_class_map("STANDARD_IA", STORE_COS, STORE_OSS, NULL), "IA");
  assert_string_equal(policy_class_map("MAZ_STANDARD", STORE_COS, STORE_OSS, NULL),
                      "Standard");
  assert_string_equal(policy_class_map("DEEP_ARCHIVE", STORE_COS, STORE_OSS, NULL),
                      "DeepColdArchive");
  assert_string_equal(policy_class_map("GLACIER", STORE_S3, STORE_COS, NULL), "ARCHIVE");
  assert_string_equal(policy_class_map("GLACIER_IR", STORE_S3, STORE_COS, NULL),
                      "STANDARD_IA");
  assert_string_equal(policy_class_map("ONEZONE_IA", STORE_S3, STORE_OSS, NULL), "IA");
  assert_string_equal(policy_class_map("REDUCED_REDUNDANCY", STORE_S3, STORE_COS, NULL),
                      "STANDARD");
  assert_string_equal(policy_class_map("Archive", STORE_OSS, STORE_S3, NULL), "GLACIER");
  assert_string_equal(policy_class_map("ColdArchive", STORE_OSS, STORE_S3, NULL),
                      "DEEP_ARCHIVE");
  /* Same type: kept as it is, even without a tier. */
  assert_string_equal(policy_class_map("INTELLIGENT_TIERING", STORE_COS, STORE_COS, NULL),
                      "INTELLIGENT_TIERING");
  assert_string_equal(policy_class_map("IA", STORE_OSS, STORE_OSS, NULL), "IA");
  /* Unmapped: omitted (destination default). */
  assert_null(policy_class_map("INTELLIGENT_TIERING", STORE_S3, STORE_COS, NULL));
  assert_null(policy_class_map("Weird", STORE_OSS, STORE_COS, NULL));
  assert_null(policy_class_map(NULL, STORE_OSS, STORE_COS, NULL));
  assert_null(policy_class_map("", STORE_OSS, STORE_COS, NULL));
}

static void test_class_map_table(void **state) {
  static const char *const pairs[] = {"Archive=STANDARD_IA", "IA=", "Standard=MAZ_STANDARD"};
  static const char *const star[] = {"*=", "IA=STANDARD_IA"};
  static const char *const bad1[] = {"Archive=ARCHIVE", "IA"};
  static const char *const bad2[] = {"Arch ive=ARCHIVE"};
  static const char *const bad3[] = {"Archive=ARC\r\nX"};
  static const char *const bad4[] = {"=ARCHIVE"};
  kvlist_t map;
  policy_meta_opts_t o = {NULL, 0};
  char err[FERRY_ERRLEN];
  (void)state;
  kvlist_init(&map);
  assert_int_equal(policy_class_map_parse(&map, pairs, 3, err), FERRY_OK);
  assert_int_equal(map.n, 3);
  o.class_map = &map;
  assert_string_equal(policy_class_map("Archive", STORE_OSS, STORE_COS, &o), "STANDARD_IA");
  assert_string_equal(policy_class_map("archive", STORE_OSS, STORE_COS, &o), "STANDARD_IA");
  assert_null(policy_class_map("IA", STORE_OSS, STORE_COS, &o));              /* omit */
  assert_string_equal(policy_class_map("Standard", STORE_OSS, STORE_COS, &o),
                      "MAZ_STANDARD");
  /* Not in the table: the defaults. */
  assert_string_equal(policy_class_map("ColdArchive", STORE_OSS, STORE_COS, &o),
                      "DEEP_ARCHIVE");
  kvlist_release(&map);
  /* "*" catches the rest. */
  assert_int_equal(policy_class_map_parse(&map, star, 2, err), FERRY_OK);
  assert_string_equal(policy_class_map("IA", STORE_OSS, STORE_COS, &o), "STANDARD_IA");
  assert_null(policy_class_map("Archive", STORE_OSS, STORE_COS, &o));
  kvlist_release(&map);
  /* Bad entries: an error naming the entry, and the map stays unchanged. */
  assert_int_equal(policy_class_map_parse(&map, bad1, 2, err), FERRY_ERR_CONFIG);
  assert_non_null(strstr(err, "entry 2 \"IA\""));
  assert_int_equal(map.n, 0);
  assert_int_equal(policy_class_map_parse(&map, bad2, 1, err), FERRY_ERR_CONFIG);
  assert_non_null(strstr(err, "Arch ive"));
  assert_int_equal(policy_class_map_parse(&map, bad3, 1, err), FERRY_ERR_CONFIG);
  assert_int_equal(policy_class_map_parse(&map, bad4, 1, err), FERRY_ERR_CONFIG);
  assert_int_equal(map.n, 0);
  assert_int_equal(policy_class_map_parse(&map, NULL, 0, err), FERRY_OK);
  kvlist_release(&map);
}

/* ---- metadata mapping ----------------------------------------------------- */

static void test_meta_oss_to_cos(void **state) {
  store_head_t h;
  kvlist_t out;
  policy_meta_opts_t o = {NULL, 1};
  char err[FERRY_ERRLEN];
  (void)state;
  head_init(&h);
  h.etag = fx_strdup("\"5EB63BBBE01EEED093CB22BB8F5ACDC3\"");
  h.content_type = fx_strdup("text/plain; charset=utf-8");
  h.storage_class = fx_strdup("IA");
  kvlist_add(&h.std, "Cache-Control", "max-age=60");
  kvlist_add(&h.std, "content-disposition", "attachment; filename=\"a b.txt\"");
  kvlist_add(&h.std, "Content-Encoding", "gzip");
  kvlist_add(&h.std, "Content-Language", "zh-CN");
  kvlist_add(&h.std, "Expires", "Thu, 01 Dec 2094 16:00:00 GMT");
  kvlist_add(&h.meta, "author", "\xe5\xbc\xa0\xe4\xb8\x89"); /* UTF-8 value */
  kvlist_add(&h.meta, "Project-ID", "42\tx");
  kvlist_init(&out);
  kvlist_add(&out, "Existing", "1");
  assert_int_equal(policy_meta_map(&h, STORE_OSS, STORE_COS, &o, &out, err), FERRY_OK);
  assert_int_equal(out.n, 11);
  assert_string_equal(out.v[0].name, "Existing");
  assert_string_equal(out.v[1].name, "Content-Type");
  assert_string_equal(out.v[1].value, "text/plain; charset=utf-8");
  assert_string_equal(out.v[2].name, "Content-Encoding");
  assert_string_equal(out.v[3].name, "Content-Disposition");
  assert_string_equal(out.v[3].value, "attachment; filename=\"a b.txt\"");
  assert_string_equal(out.v[4].name, "Content-Language");
  assert_string_equal(out.v[5].name, "Cache-Control");
  assert_string_equal(out.v[6].name, "Expires");
  assert_string_equal(out.v[7].name, "x-cos-meta-author");
  assert_string_equal(out.v[7].value, "\xe5\xbc\xa0\xe4\xb8\x89");
  assert_string_equal(out.v[8].name, "x-cos-meta-project-id");
  assert_string_equal(out.v[8].value, "42\tx");
  assert_string_equal(out.v[9].name, "x-cos-meta-ferry-src-etag");
  assert_string_equal(out.v[9].value, "5EB63BBBE01EEED093CB22BB8F5ACDC3");
  assert_string_equal(out.v[10].name, "x-cos-storage-class");
  assert_string_equal(out.v[10].value, "STANDARD_IA");
  kvlist_release(&out);
  /* To S3 and OSS: their prefixes and class headers; no ETag record asked. */
  o.record_src_etag = 0;
  assert_int_equal(policy_meta_map(&h, STORE_OSS, STORE_S3, &o, &out, err), FERRY_OK);
  assert_string_equal(kvlist_get(&out, "x-amz-meta-author"), "\xe5\xbc\xa0\xe4\xb8\x89");
  assert_string_equal(kvlist_get(&out, "x-amz-storage-class"), "STANDARD_IA");
  assert_null(kvlist_get(&out, "x-amz-meta-ferry-src-etag"));
  kvlist_release(&out);
  assert_int_equal(policy_meta_map(&h, STORE_OSS, STORE_OSS, NULL, &out, err), FERRY_OK);
  assert_string_equal(kvlist_get(&out, "x-oss-meta-project-id"), "42\tx");
  assert_string_equal(kvlist_get(&out, "x-oss-storage-class"), "IA");
  kvlist_release(&out);
  head_free(&h);
}

static void test_meta_minimal(void **state) {
  store_head_t h;
  kvlist_t out;
  policy_meta_opts_t o = {NULL, 1};
  (void)state;
  head_init(&h);
  kvlist_init(&out);
  /* Nothing to carry: nothing sent, not even an empty ETag record; the
   * unmapped class is left to the destination. */
  h.storage_class = fx_strdup("INTELLIGENT_TIERING");
  assert_int_equal(policy_meta_map(&h, STORE_S3, STORE_COS, &o, &out, NULL), FERRY_OK);
  assert_int_equal(out.n, 0);
  h.content_type = fx_strdup("");
  assert_int_equal(policy_meta_map(&h, STORE_S3, STORE_COS, &o, &out, NULL), FERRY_OK);
  assert_int_equal(out.n, 0);
  assert_int_equal(policy_meta_map(NULL, STORE_S3, STORE_COS, &o, &out, NULL),
                   FERRY_ERR_INVALID);
  head_free(&h);
}

static void test_meta_src_etag_replaced(void **state) {
  store_head_t h;
  kvlist_t out;
  policy_meta_opts_t o = {NULL, 1};
  (void)state;
  head_init(&h);
  kvlist_init(&out);
  h.etag = fx_strdup("abc-2");
  kvlist_add(&h.meta, "ferry-src-etag", "old");
  assert_int_equal(policy_meta_map(&h, STORE_OSS, STORE_COS, &o, &out, NULL), FERRY_OK);
  assert_int_equal(out.n, 1);
  assert_string_equal(out.v[0].value, "abc-2");
  kvlist_release(&out);
  o.record_src_etag = 0;
  assert_int_equal(policy_meta_map(&h, STORE_OSS, STORE_COS, &o, &out, NULL), FERRY_OK);
  assert_int_equal(out.n, 1);
  assert_string_equal(out.v[0].value, "old");
  kvlist_release(&out);
  head_free(&h);
}

/* Metadata of exactly `total` bytes (names + values) over n entries. */
static void fill_meta(store_head_t *h, size_t n, size_t total) {
  size_t i;
  for (i = 0; i < n; i++) {
    char name[24];
    size_t vlen = total / n - 2 + (i == n - 1 ? total % n : 0);
    char *v = repeat('v', vlen);
    snprintf(name, sizeof(name), "m%zu", i);
    kvlist_add(&h->meta, name, v);
    fx_free(v);
  }
}

static ferry_err_t map_to(store_head_t *h, store_type_t dst, int record, kvlist_t *out,
                          char *err) {
  policy_meta_opts_t o = {NULL, record};
  kvlist_release(out);
  return policy_meta_map(h, STORE_OSS, dst, &o, out, err);
}

static void test_meta_limits_cos(void **state) {
  store_head_t h;
  kvlist_t out;
  char err[FERRY_ERRLEN];
  char *v;
  (void)state;
  kvlist_init(&out);
  /* Per header: "x-cos-meta-a" (12) + value <= 2048. */
  head_init(&h);
  v = repeat('x', 2036);
  kvlist_add(&h.meta, "a", v);
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_OK);
  fx_free(v);
  kvlist_release(&h.meta);
  v = repeat('x', 2037);
  kvlist_add(&h.meta, "a", v);
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "metadata: x-cos-meta-a:"));
  assert_non_null(strstr(err, "2049 bytes"));
  assert_non_null(strstr(err, "per header"));
  assert_int_equal(out.n, 0);
  /* ... which OSS takes (8 KiB total, no per-header limit). */
  assert_int_equal(map_to(&h, STORE_OSS, 0, &out, err), FERRY_OK);
  fx_free(v);
  head_free(&h);
  /* S3: 2 KiB of name + value in total. */
  head_init(&h);
  v = repeat('x', 2047);
  kvlist_add(&h.meta, "a", v);
  assert_int_equal(map_to(&h, STORE_S3, 0, &out, err), FERRY_OK);
  fx_free(v);
  kvlist_release(&h.meta);
  v = repeat('x', 2048);
  kvlist_add(&h.meta, "a", v);
  assert_int_equal(map_to(&h, STORE_S3, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "x-amz-meta-a"));
  assert_non_null(strstr(err, "2049 bytes"));
  fx_free(v);
  head_free(&h);
  /* Total: 4096 bytes over three headers passes, 4097 fails and names the
   * header that crossed the line. */
  head_init(&h);
  fill_meta(&h, 3, 4096);
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_OK);
  assert_int_equal(out.n, 3);
  /* The ETag record counts too. */
  h.etag = fx_strdup("d41d8cd98f00b204e9800998ecf8427e");
  assert_int_equal(map_to(&h, STORE_COS, 1, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "x-cos-meta-ferry-src-etag"));
  assert_non_null(strstr(err, "4096-byte total"));
  assert_int_equal(out.n, 0);
  head_free(&h);
  head_init(&h);
  fill_meta(&h, 3, 4097);
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "x-cos-meta-m2"));
  assert_non_null(strstr(err, "4097 bytes"));
  assert_int_equal(map_to(&h, STORE_OSS, 0, &out, err), FERRY_OK);
  head_free(&h);
  kvlist_release(&out);
}

static void test_meta_limits_oss_s3(void **state) {
  store_head_t h;
  kvlist_t out;
  char err[FERRY_ERRLEN];
  (void)state;
  kvlist_init(&out);
  head_init(&h);
  fill_meta(&h, 5, 8192);
  assert_int_equal(map_to(&h, STORE_OSS, 0, &out, err), FERRY_OK);
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  head_free(&h);
  head_init(&h);
  fill_meta(&h, 5, 8193);
  assert_int_equal(map_to(&h, STORE_OSS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "x-oss-meta-m4"));
  assert_non_null(strstr(err, "OSS's 8192-byte total"));
  head_free(&h);
  head_init(&h);
  fill_meta(&h, 4, 2048);
  assert_int_equal(map_to(&h, STORE_S3, 0, &out, err), FERRY_OK);
  head_free(&h);
  head_init(&h);
  fill_meta(&h, 4, 2049);
  assert_int_equal(map_to(&h, STORE_S3, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "S3's 2048-byte total"));
  head_free(&h);
  kvlist_release(&out);
}

static void test_meta_bad_names_values(void **state) {
  store_head_t h;
  kvlist_t out;
  char err[FERRY_ERRLEN];
  (void)state;
  kvlist_init(&out);
  /* '_' is fine for S3, not for COS or OSS. */
  head_init(&h);
  kvlist_add(&h.meta, "my_key", "1");
  assert_int_equal(map_to(&h, STORE_S3, 0, &out, err), FERRY_OK);
  assert_string_equal(kvlist_get(&out, "x-amz-meta-my_key"), "1");
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "metadata: x-cos-meta-my_key: name has '_'"));
  assert_int_equal(map_to(&h, STORE_OSS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "x-oss-meta-my_key"));
  head_free(&h);
  /* A space, a colon, a non-ASCII byte, an empty name: nowhere. */
  head_init(&h);
  kvlist_add(&h.meta, "a b", "1");
  assert_int_equal(map_to(&h, STORE_S3, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "byte 0x20"));
  head_free(&h);
  head_init(&h);
  kvlist_add(&h.meta, "a:b", "1");
  assert_int_equal(map_to(&h, STORE_S3, 0, &out, err), FERRY_ERR_INVALID);
  head_free(&h);
  head_init(&h);
  kvlist_add(&h.meta, "caf\xc3\xa9", "1");
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "byte 0xc3"));
  head_free(&h);
  head_init(&h);
  kvlist_add(&h.meta, "", "1");
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "empty name"));
  head_free(&h);
  /* CR/LF in a value would inject headers. */
  head_init(&h);
  kvlist_add(&h.std, "Cache-Control", "no-cache\r\nX-Evil: 1");
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "metadata: Cache-Control: value has control character 0x0d"));
  assert_int_equal(out.n, 0);
  head_free(&h);
  head_init(&h);
  kvlist_add(&h.meta, "note", "a\nb");
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "x-cos-meta-note"));
  head_free(&h);
  head_init(&h);
  h.content_type = fx_strdup("text/plain\x7f");
  assert_int_equal(map_to(&h, STORE_COS, 0, &out, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "Content-Type"));
  head_free(&h);
  /* A class from a hand-built table that is not a class name. */
  head_init(&h);
  h.storage_class = fx_strdup("IA");
  {
    kvlist_t map;
    policy_meta_opts_t o;
    kvlist_init(&map);
    kvlist_add(&map, "IA", "STANDARD\r\nX: y");
    o.class_map = &map;
    o.record_src_etag = 0;
    assert_int_equal(policy_meta_map(&h, STORE_OSS, STORE_COS, &o, &out, err),
                     FERRY_ERR_INVALID);
    assert_non_null(strstr(err, "x-cos-storage-class"));
    kvlist_release(&map);
  }
  head_free(&h);
  kvlist_release(&out);
}

/* The upload a copy continues: the newest of exactly its key. */
static void test_resume_pick(void **state) {
  store_upload_t u[] = {
      {.key = "a/b.bin", .upload_id = "u1", .initiated = 100},
      {.key = "a/b.bin.tmp", .upload_id = "u2", .initiated = 900},  /* longer key */
      {.key = "a/b.bin", .upload_id = "u3", .initiated = 300},
      {.key = "a/b.bin", .upload_id = "u4", .initiated = 300},      /* tie: later listed */
      {.key = "a/b.bin", .upload_id = NULL, .initiated = 999},      /* no id: ignored */
      {.key = "c", .upload_id = "u5", .initiated = -1},
  };
  (void)state;
  assert_int_equal(policy_resume_pick(u, 6, "a/b.bin"), 3);
  assert_int_equal(policy_resume_pick(u, 3, "a/b.bin"), 2);
  assert_int_equal(policy_resume_pick(u, 1, "a/b.bin"), 0);
  assert_int_equal(policy_resume_pick(u, 6, "a/b"), -1);
  assert_int_equal(policy_resume_pick(u, 0, "a/b.bin"), -1);
  assert_int_equal(policy_resume_pick(u, 6, "c"), 5);
  assert_true(policy_upload_is_of(&u[0], "a/b.bin"));
  assert_false(policy_upload_is_of(&u[1], "a/b.bin"));
  assert_false(policy_upload_is_of(&u[4], "a/b.bin"));
  assert_false(policy_upload_is_of(&u[0], NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_part_size_small),
      cmocka_unit_test(test_part_size_thresholds),
      cmocka_unit_test(test_part_size_48tb),
      cmocka_unit_test(test_part_size_sweep),
      cmocka_unit_test(test_use_multipart),
      cmocka_unit_test(test_etag_is_md5),
      cmocka_unit_test(test_etag_md5_trusted),
      cmocka_unit_test(test_dst_key),
      cmocka_unit_test(test_decide_overwrite_skip),
      cmocka_unit_test(test_decide_skip_if_same),
      cmocka_unit_test(test_class_defaults),
      cmocka_unit_test(test_class_map_table),
      cmocka_unit_test(test_meta_oss_to_cos),
      cmocka_unit_test(test_meta_minimal),
      cmocka_unit_test(test_meta_src_etag_replaced),
      cmocka_unit_test(test_meta_limits_cos),
      cmocka_unit_test(test_meta_limits_oss_s3),
      cmocka_unit_test(test_meta_bad_names_values),
      cmocka_unit_test(test_resume_pick),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
