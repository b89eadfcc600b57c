/* Unit tests for lib/store/xml: store responses of OSS, COS, S3 and s3rver
 * (fixtures under tests/fixtures/xml/), fed whole, in random chunks and byte
 * by byte; malformed, truncated, hostile and oversized input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/xml.h"

/* ---- helpers -------------------------------------------------------- */

typedef struct blob {
  char *p;
  size_t n;
} blob_t;

static blob_t load(const char *name) {
  char path[512];
  blob_t b = {NULL, 0};
  FILE *f;
  long n;
  snprintf(path, sizeof(path), "%s/xml/%s", FIXTURES_DIR, name);
  f = fopen(path, "rb");
  if (!f) fail_msg("cannot open fixture %s", path);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b.p = malloc((size_t)n + 1);
  assert_non_null(b.p);
  assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
  b.p[n] = '\0';
  b.n = (size_t)n;
  fclose(f);
  return b;
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* How a body is fed. */
enum { FEED_WHOLE, FEED_BYTES, FEED_RANDOM, FEED_ENTRY, FEED__COUNT };
static const char *MODE_NAME[] = {"whole", "byte-by-byte", "random chunks",
                                  "entry point"};

/* Parses buf as kind with the given feeding mode. out/err as in xml.h. */
static ferry_err_t parse_mode(xml_kind_t kind, const char *buf, size_t len, int mode,
                              void *out, store_error_t *err, char *errbuf) {
  xml_parser_t *p;
  ferry_err_t rc = FERRY_OK;
  size_t off = 0;
  errbuf[0] = '\0';
  if (mode == FEED_ENTRY) {
    switch (kind) {
      case XML_LIST:
        return store_xml_parse_list(buf, len, out, errbuf);
      case XML_ERROR:
        return store_xml_parse_error(buf, len, out, errbuf);
      case XML_INITIATE:
        return store_xml_parse_initiate(buf, len, out, errbuf);
      case XML_COMPLETE:
        return store_xml_parse_complete(buf, len, out, err, errbuf);
      case XML_LIST_PARTS:
        return store_xml_parse_list_parts(buf, len, out, errbuf);
      case XML_LIST_UPLOADS:
        return store_xml_parse_list_uploads(buf, len, out, errbuf);
    }
  }
  p = xml_parser_new(kind, 0);
  assert_non_null(p);
  while (off < len && rc == FERRY_OK) {
    size_t n = len - off;
    if (mode == FEED_BYTES) n = 1;
    if (mode == FEED_RANDOM) {
      size_t r = (size_t)(rng() % 100);
      n = r < 70 ? r % 17 : r < 95 ? r * 3 : 4096; /* includes empty feeds */
      if (n > len - off) n = len - off;
    }
    rc = xml_parser_feed(p, buf + off, n, errbuf);
    off += n;
  }
  if (rc == FERRY_OK) {
    rc = xml_parser_finish(p, out, err, errbuf);
  } else {
    char eb2[FERRY_ERRLEN];
    /* finish after a failed feed repeats the failure and empties out. */
    assert_int_equal(xml_parser_finish(p, out, err, eb2), rc);
    assert_string_equal(eb2, errbuf);
  }
  xml_parser_destroy(p);
  return rc;
}

static ferry_err_t parse_list_str(const char *s, store_list_page_t *page, char *errbuf) {
  return store_xml_parse_list(s, strlen(s), page, errbuf);
}

#define LIST_HEAD \
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>b</Name>"
#define LIST_HEAD_URL LIST_HEAD "<EncodingType>url</EncodingType>"
#define LIST_TAIL "<IsTruncated>false</IsTruncated></ListBucketResult>"
#define OBJ(key, size) \
  "<Contents><Key>" key "</Key><ETag>\"e\"</ETag><Size>" size "</Size></Contents>"

/* Expects kind to reject s with FERRY_ERR_PARSE and a message containing
 * want, in every feeding mode. */
static void expect_parse_error(xml_kind_t kind, const char *s, size_t len,
                               const char *want) {
  int mode;
  for (mode = 0; mode < FEED__COUNT; mode++) {
    char eb[FERRY_ERRLEN];
    union {
      store_list_page_t list;
      store_error_t err;
      char *str;
      store_parts_t parts;
      store_uploads_t uploads;
    } out;
    store_error_t serr;
    ferry_err_t rc;
    memset(&out, 0, sizeof(out));
    memset(&serr, 0, sizeof(serr));
    rc = parse_mode(kind, s, len, mode, &out, &serr, eb);
    if (rc != FERRY_ERR_PARSE)
      fail_msg("mode %s: expected FERRY_ERR_PARSE, got %d (%s)", MODE_NAME[mode], rc, eb);
    if (want && !strstr(eb, want))
      fail_msg("mode %s: message '%s' lacks '%s'", MODE_NAME[mode], eb, want);
    /* Outputs are empty after a failure (an error body aside). */
    switch (kind) {
      case XML_LIST:
        assert_int_equal(out.list.n_objects, 0);
        assert_null(out.list.objects);
        assert_null(out.list.next_token);
        break;
      case XML_INITIATE:
      case XML_COMPLETE:
        assert_null(out.str);
        break;
      case XML_LIST_PARTS:
        assert_null(out.parts.parts);
        break;
      case XML_LIST_UPLOADS:
        assert_null(out.uploads.uploads);
        break;
      case XML_ERROR:
        break;
    }
  }
}

static void expect_list_error(const char *s, const char *want) {
  expect_parse_error(XML_LIST, s, strlen(s), want);
}

/* ---- ListObjects ---------------------------------------------------- */

static void check_oss_page1(const store_list_page_t *pg) {
  const store_object_t *o = pg->objects;
  assert_int_equal(pg->n_objects, 6);
  assert_true(pg->truncated);
  /* Tokens decode %XX only. */
  assert_string_equal(pg->next_token, "Cg+x/Yz==");
  assert_null(pg->next_marker);

  assert_string_equal(o[0].key, "a b+c%d.txt");
  assert_true(o[0].size == 344606);
  assert_string_equal(o[0].etag, "5B3C1A2E053D763E1B002CC607C5A0FE");
  assert_int_equal(o[0].mtime, 1705307400);
  assert_string_equal(o[0].storage_class, "Standard");
  assert_int_equal(o[0].has_crc64, 0);

  assert_string_equal(o[1].key,
                      "\xe6\xb5\x8b\xe8\xaf\x95/\xe6\x96\x87\xe4\xbb\xb6 1.txt");
  assert_true(o[1].size == 0);
  assert_string_equal(o[1].etag, "6E2BF3B7C9A4F6D9B0A2E3C4D5F6A7B8-3");
  assert_string_equal(o[1].storage_class, "IA");

  assert_string_equal(o[2].key,
                      "ctl\x01"
                      "char\x7f");
  assert_true(o[2].size == UINT64_MAX);
  assert_string_equal(o[2].storage_class, "Archive");

  assert_string_equal(o[3].key, "amp&lt<gt>quot\"apos'.txt");
  /* An XML entity and a character reference, then URL-decoding. */
  assert_string_equal(o[4].key, "raw&entity<AB");
  assert_string_equal(o[4].etag, "0CC175B9C0F1B6A831C399E269772661");
  assert_string_equal(o[5].key, "100%++");
  assert_int_equal(o[5].mtime, 1705307405);

  assert_int_equal(pg->n_prefixes, 2);
  assert_string_equal(pg->prefixes[0], "dir/sub dir/");
  assert_string_equal(pg->prefixes[1], "\xe7\x9b\xae\xe5\xbd\x95/");
}

static void check_oss_last(const store_list_page_t *pg) {
  assert_int_equal(pg->n_objects, 1);
  assert_false(pg->truncated);
  assert_null(pg->next_token);
  assert_string_equal(pg->objects[0].key, "logs/2024-01-15.log");
  assert_true(pg->objects[0].size == 43);
  assert_int_equal(pg->n_prefixes, 0);
  assert_null(pg->prefixes);
}

static void check_oss_empty(const store_list_page_t *pg) {
  assert_int_equal(pg->n_objects, 0);
  assert_null(pg->objects);
  assert_false(pg->truncated);
}

static void check_cos_page1(const store_list_page_t *pg) {
  assert_int_equal(pg->n_objects, 2);
  assert_true(pg->truncated);
  assert_null(pg->next_token);
  assert_string_equal(pg->next_marker, "photos/2024 \xe6\x98\xa5+b.jpg");
  assert_string_equal(pg->objects[0].key, "photos/a b.jpg");
  assert_true(pg->objects[0].size == 1048576);
  assert_string_equal(pg->objects[0].etag, "ee8de918d05640145b18f70f4c3aa602");
  assert_int_equal(pg->objects[0].mtime, 1709258584);
  assert_string_equal(pg->objects[1].key, "photos/2024 \xe6\x98\xa5+b.jpg");
  assert_string_equal(pg->objects[1].etag, "ee8de918d05640145b18f70f4c3aa602-2");
  assert_string_equal(pg->objects[1].storage_class, "STANDARD_IA");
  assert_int_equal(pg->n_prefixes, 1);
  assert_string_equal(pg->prefixes[0], "photos/raw/");
}

static void check_s3_page1(const store_list_page_t *pg) {
  /* EncodingType comes last here, after the keys it applies to; a space
   * may be '+'; the raw base64 token keeps its '+' and '/'. */
  assert_int_equal(pg->n_objects, 3);
  assert_true(pg->truncated);
  assert_string_equal(pg->next_token,
                      "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM+Bf/a==");
  assert_string_equal(pg->objects[0].key, "run books/x+y%z.md");
  assert_int_equal(pg->objects[0].mtime, 1695056462);
  assert_string_equal(pg->objects[0].etag, "fba9dede5f27731c9771645a39863328");
  assert_string_equal(pg->objects[1].key, "run books/\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
  assert_true(pg->objects[1].size == 104857600);
  assert_string_equal(pg->objects[2].key, "run books/new\nline\ttab");
  assert_string_equal(pg->objects[2].storage_class, "GLACIER");
  assert_int_equal(pg->n_prefixes, 1);
  assert_string_equal(pg->prefixes[0], "run books/sub dir/");
}

static void check_s3_v1(const store_list_page_t *pg) {
  assert_int_equal(pg->n_objects, 1);
  assert_true(pg->truncated);
  assert_null(pg->next_token);
  assert_string_equal(pg->next_marker, "photos/2006/February/");
  assert_string_equal(pg->objects[0].key, "photos/2006/a.jpg");
  assert_string_equal(pg->prefixes[0], "photos/2006/February/");
}

static void check_s3rver_page1(const store_list_page_t *pg) {
  /* s3rver ignores encoding-type: raw keys, nothing decoded. */
  assert_int_equal(pg->n_objects, 3);
  assert_true(pg->truncated);
  assert_string_equal(pg->next_token,
                      "1Zyeo6LIXtpE/MCpD1oHKbsW+0/Hx0V9WMr+Bcr7ZNxhDCNQKy+uug==");
  assert_string_equal(pg->objects[0].key, "caf\xc3\xa9");
  assert_string_equal(pg->objects[1].key, "dir/a b+c%d.txt");
  assert_string_equal(pg->objects[1].etag, "672c8f4dfa25c665c6a2c14f17521d63");
  assert_true(pg->objects[1].size == 23);
  assert_string_equal(pg->objects[2].key, "dir/sub/deep.bin");
  assert_string_equal(pg->objects[2].storage_class, "STANDARD");
}

static void check_s3rver_page2(const store_list_page_t *pg) {
  assert_int_equal(pg->n_objects, 3);
  assert_false(pg->truncated);
  assert_null(pg->next_token);
  assert_string_equal(pg->objects[0].key,
                      "dir/\xe6\xb5\x8b\xe8\xaf\x95 \xe6\x96\x87\xe4\xbb\xb6.txt");
  assert_string_equal(pg->objects[1].key, "plain.txt");
  assert_string_equal(pg->objects[2].key, "x&y<z>'\"q");
}

static void check_s3rver_delim(const store_list_page_t *pg) {
  assert_int_equal(pg->n_objects, 2);
  assert_int_equal(pg->n_prefixes, 1);
  assert_string_equal(pg->prefixes[0], "dir/sub/");
}

static void run_list_fixture(const char *name, void (*check)(const store_list_page_t *)) {
  blob_t b = load(name);
  int mode;
  for (mode = 0; mode < FEED__COUNT; mode++) {
    store_list_page_t pg;
    char eb[FERRY_ERRLEN];
    ferry_err_t rc = parse_mode(XML_LIST, b.p, b.n, mode, &pg, NULL, eb);
    if (rc != FERRY_OK) fail_msg("%s (%s): %s", name, MODE_NAME[mode], eb);
    check(&pg);
    store_list_page_release(&pg);
    store_list_page_release(&pg); /* released pages are empty and reusable */
  }
  free(b.p);
}

static void test_list_oss(void **state) {
  (void)state;
  run_list_fixture("oss_list_v2_page1.xml", check_oss_page1);
  run_list_fixture("oss_list_v2_last.xml", check_oss_last);
  run_list_fixture("oss_list_v2_empty.xml", check_oss_empty);
}

static void test_list_cos(void **state) {
  (void)state;
  run_list_fixture("cos_list_page1.xml", check_cos_page1);
}

static void test_list_s3(void **state) {
  (void)state;
  run_list_fixture("s3_list_v2_page1.xml", check_s3_page1);
  run_list_fixture("s3_list_v1.xml", check_s3_v1);
}

static void test_list_s3rver(void **state) {
  (void)state;
  run_list_fixture("s3rver_list_page1.xml", check_s3rver_page1);
  run_list_fixture("s3rver_list_page2.xml", check_s3rver_page2);
  run_list_fixture("s3rver_list_delim.xml", check_s3rver_delim);
}

static void test_list_namespace_prefix(void **state) {
  const char *doc =
      "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<s3:IsTruncated>true</s3:IsTruncated><s3:Contents><s3:Key>k</s3:Key>"
      "<s3:Size>5</s3:Size></s3:Contents></s3:ListBucketResult>";
  store_list_page_t pg;
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(parse_list_str(doc, &pg, eb), FERRY_OK);
  assert_int_equal(pg.n_objects, 1);
  assert_string_equal(pg.objects[0].key, "k");
  assert_null(pg.objects[0].etag);
  assert_int_equal(pg.objects[0].mtime, -1);
  assert_true(pg.truncated);
  store_list_page_release(&pg);
}

static void test_list_text_forms(void **state) {
  /* CDATA, numeric references (decimal and hex, beyond the BMP), and
   * whitespace around numbers and booleans. */
  const char *doc = LIST_HEAD
      "<Contents><Key><![CDATA[a<&>b]]>&#x6D4B;&#35797;&#x1F600;</Key>"
      "<Size>\n  12 \n</Size><LastModified>not a date</LastModified></Contents>"
      "<IsTruncated> TRUE </IsTruncated></ListBucketResult>";
  store_list_page_t pg;
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(parse_list_str(doc, &pg, eb), FERRY_OK);
  assert_string_equal(pg.objects[0].key, "a<&>b\xe6\xb5\x8b\xe8\xaf\x95\xf0\x9f\x98\x80");
  assert_true(pg.objects[0].size == 12);
  assert_int_equal(pg.objects[0].mtime, -1);
  assert_true(pg.truncated);
  store_list_page_release(&pg);
}

static void test_list_plus_rules(void **state) {
  /* With url encoding: '+' is a space in keys, prefixes and markers, and
   * stays '+' in tokens. Without it nothing is decoded. */
  const char *enc = LIST_HEAD_URL OBJ("a+b%2Bc", "1")
      "<NextContinuationToken>t+k%2B</NextContinuationToken>"
      "<NextMarker>m+n%2B</NextMarker>" LIST_TAIL;
  const char *raw = LIST_HEAD OBJ(
      "a+b%2Bc", "1") "<NextContinuationToken>t+k%2B</NextContinuationToken>" LIST_TAIL;
  store_list_page_t pg;
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(parse_list_str(enc, &pg, eb), FERRY_OK);
  assert_string_equal(pg.objects[0].key, "a b+c");
  assert_string_equal(pg.next_token, "t+k+");
  assert_string_equal(pg.next_marker, "m n+");
  store_list_page_release(&pg);
  assert_int_equal(parse_list_str(raw, &pg, eb), FERRY_OK);
  assert_string_equal(pg.objects[0].key, "a+b%2Bc");
  assert_string_equal(pg.next_token, "t+k%2B");
  store_list_page_release(&pg);
}

static void test_list_key_length(void **state) {
  char *doc = malloc(8192);
  char *key = malloc(4096);
  store_list_page_t pg;
  char eb[FERRY_ERRLEN];
  size_t i;
  (void)state;
  /* 1024 raw bytes (S3's limit, the largest) pass, 1025 fail. */
  memset(key, 'k', 1024);
  key[1024] = '\0';
  snprintf(doc, 8192,
           LIST_HEAD "<Contents><Key>%s</Key><Size>1</Size></Contents>" LIST_TAIL, key);
  assert_int_equal(parse_list_str(doc, &pg, eb), FERRY_OK);
  assert_int_equal(strlen(pg.objects[0].key), 1024);
  store_list_page_release(&pg);
  snprintf(doc, 8192,
           LIST_HEAD OBJ(
               "ok", "1") "<Contents><Key>%sK</Key><Size>1</Size></Contents>" LIST_TAIL,
           key);
  expect_list_error(doc, "ListBucketResult/Contents[2]/Key: longer than 1024 bytes");
  /* The limit applies to the decoded key: 1024 x "%41" is fine. */
  for (i = 0; i < 1024; i++) memcpy(key + 3 * i, "%41", 3);
  key[3 * 1024] = '\0';
  snprintf(doc, 8192,
           LIST_HEAD_URL "<Contents><Key>%s</Key><Size>1</Size></Contents>" LIST_TAIL,
           key);
  assert_int_equal(parse_list_str(doc, &pg, eb), FERRY_OK);
  assert_int_equal(strlen(pg.objects[0].key), 1024);
  assert_int_equal(pg.objects[0].key[1023], 'A');
  store_list_page_release(&pg);
  snprintf(doc, 8192,
           LIST_HEAD_URL "<Contents><Key>%s%%41</Key><Size>1</Size></Contents>" LIST_TAIL,
           key);
  expect_list_error(doc, "Contents[1]/Key: longer than 1024 bytes");
  free(doc);
  free(key);
}

static void test_list_bad_objects(void **state) {
  (void)state;
  expect_list_error(
      LIST_HEAD OBJ("a", "1") "<Contents><Size>1</Size></Contents>" LIST_TAIL,
      "ListBucketResult/Contents[2]: missing Key");
  expect_list_error(LIST_HEAD "<Contents><Key>a</Key></Contents>" LIST_TAIL,
                    "Contents[1]: missing Size");
  expect_list_error(LIST_HEAD OBJ("", "1") LIST_TAIL, "Contents[1]/Key: empty");
  expect_list_error(
      LIST_HEAD OBJ("a", "-5") LIST_TAIL,
      "ListBucketResult/Contents[1]/Size: not a non-negative integer: '-5'");
  expect_list_error(LIST_HEAD OBJ("a", "12a") LIST_TAIL, "Contents[1]/Size");
  expect_list_error(LIST_HEAD OBJ("a", "") LIST_TAIL, "Contents[1]/Size");
  expect_list_error(LIST_HEAD OBJ("a", "1.5") LIST_TAIL, "Contents[1]/Size");
  expect_list_error(LIST_HEAD OBJ("a", "+1") LIST_TAIL, "Contents[1]/Size");
  expect_list_error(LIST_HEAD OBJ("a", "18446744073709551616") LIST_TAIL,
                    "Contents[1]/Size");
  expect_list_error(
      LIST_HEAD "<Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents>" LIST_TAIL,
      "Contents[1]/Key: element repeated");
  expect_list_error(LIST_HEAD
                    "<Contents><Key>a<b/>c</Key><Size>1</Size></Contents>" LIST_TAIL,
                    "Contents[1]/Key: unexpected child element <b>");
  expect_list_error(LIST_HEAD
                    "<CommonPrefixes><Prefix></Prefix></CommonPrefixes>" LIST_TAIL,
                    "CommonPrefixes[1]/Prefix: empty");
}

static void test_list_bad_encoding(void **state) {
  store_list_page_t pg;
  char eb[FERRY_ERRLEN];
  (void)state;
  expect_list_error(LIST_HEAD_URL OBJ("a%zz", "1") LIST_TAIL,
                    "Contents[1]/Key: bad URL encoding: 'a%zz'");
  expect_list_error(LIST_HEAD_URL OBJ("a%4", "1") LIST_TAIL, "bad URL encoding");
  expect_list_error(LIST_HEAD_URL OBJ("a%00b", "1") LIST_TAIL, "decodes to a NUL byte");
  expect_list_error(
      LIST_HEAD_URL OBJ(
          "ok", "1") "<NextContinuationToken>%g</NextContinuationToken>" LIST_TAIL,
      "ListBucketResult/NextContinuationToken: bad URL encoding");
  expect_list_error(LIST_HEAD "<EncodingType>base64</EncodingType>" OBJ("a", "1")
                        LIST_TAIL,
                    "EncodingType: unsupported encoding 'base64'");
  /* Without url encoding a '%' is just a byte; an empty EncodingType is
   * no encoding; "URL" is accepted in any case. */
  assert_int_equal(parse_list_str(LIST_HEAD OBJ("a%zz", "1") LIST_TAIL, &pg, eb),
                   FERRY_OK);
  assert_string_equal(pg.objects[0].key, "a%zz");
  store_list_page_release(&pg);
  assert_int_equal(
      parse_list_str(LIST_HEAD "<EncodingType/>" OBJ("a%20", "1") LIST_TAIL, &pg, eb),
      FERRY_OK);
  assert_string_equal(pg.objects[0].key, "a%20");
  store_list_page_release(&pg);
  assert_int_equal(parse_list_str(LIST_HEAD "<EncodingType>URL</EncodingType>" OBJ(
                                      "a%20", "1") LIST_TAIL,
                                  &pg, eb),
                   FERRY_OK);
  assert_string_equal(pg.objects[0].key, "a ");
  store_list_page_release(&pg);
}

static void test_list_truncated_flag(void **state) {
  (void)state;
  expect_list_error(LIST_HEAD OBJ("a", "1") "</ListBucketResult>",
                    "ListBucketResult: missing IsTruncated");
  expect_list_error(LIST_HEAD "<IsTruncated>maybe</IsTruncated></ListBucketResult>",
                    "ListBucketResult/IsTruncated: not a boolean: 'maybe'");
  expect_list_error(LIST_HEAD "<IsTruncated>true</IsTruncated>" LIST_TAIL,
                    "IsTruncated: element repeated");
}

/* ---- errors --------------------------------------------------------- */

typedef struct err_case {
  const char *file;
  ferry_err_t rc;
  const char *code, *message, *request_id;
} err_case_t;

static const err_case_t ERR_CASES[] = {
    {"oss_error_nosuchkey.xml", FERRY_OK, "NoSuchKey",
     "The specified key does not exist.", "5C3D9175B6FC201293AD4890"},
    {"oss_error_signature.xml", FERRY_OK, "SignatureDoesNotMatch",
     "The request signature we calculated does not match the signature you provided. "
     "Check your "
     "key and signing method.",
     "65A4F2D1E3B7C2393834F1A2"},
    {"oss_error_qps.xml", FERRY_OK, "TotalQpsLimitExceeded",
     "Please reduce your request rate.", "65A4F2D1E3B7C2393834F1B3"},
    {"cos_error_nosuchkey.xml", FERRY_OK, "NoSuchKey",
     "The specified key does not exist.", "NjA4YjI1ZTFfOWIyNzJhMDlfMWRhZl8xYjg2****"},
    {"cos_error_slowdown.xml", FERRY_OK, "SlowDown", "Please reduce your request rate.",
     "NjA4YjI1ZTFfOWIyNzJhMDlfMWRhZl8xYjg3****"},
    {"cos_complete_200_error.xml", FERRY_OK, "InternalError",
     "We encountered an internal error. Please try again.",
     "NjA4YjI1ZTFfOWIyNzJhMDlfMWRhZl8xYjg4****"},
    {"s3_error_accessdenied.xml", FERRY_OK, "AccessDenied", "Access Denied",
     "656c76696e6727732072657175657374"},
    {"s3_error_slowdown.xml", FERRY_OK, "SlowDown", "Please reduce your request rate.",
     "4442587FB7D0A2F9"},
    {"s3rver_error_nosuchbucket.xml", FERRY_OK, "NoSuchBucket",
     "The specified bucket does not exist", ""},
    {"s3rver_error_listparts_405.xml", FERRY_OK, "MethodNotAllowed",
     "The specified method is not allowed against this resource.", ""},
    {"s3rver_error_listuploads_501.xml", FERRY_OK, "NotImplemented",
     "A parameter you provided implies functionality that is not implemented", ""},
    {"s3rver_error_complete_again.xml", FERRY_OK, "InternalError",
     "We encountered an internal error. Please try again.", ""},
    /* s3rver writes HTML entities (&eacute;) into error details, which XML
     * does not define: a parse error, but the fields before it are kept. */
    {"s3rver_error_nosuchkey.xml", FERRY_ERR_PARSE, "NoSuchKey",
     "The specified key does not exist.", ""},
};

static void test_error_bodies(void **state) {
  size_t i;
  int mode;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(ERR_CASES); i++) {
    const err_case_t *c = &ERR_CASES[i];
    blob_t b = load(c->file);
    for (mode = 0; mode < FEED__COUNT; mode++) {
      store_error_t e;
      char eb[FERRY_ERRLEN];
      ferry_err_t rc;
      memset(&e, 0, sizeof(e));
      e.http_status = 404;
      strcpy(e.code, "stale");
      rc = parse_mode(XML_ERROR, b.p, b.n, mode, &e, NULL, eb);
      if (rc != c->rc) fail_msg("%s (%s): rc %d: %s", c->file, MODE_NAME[mode], rc, eb);
      assert_string_equal(e.code, c->code);
      assert_string_equal(e.message, c->message);
      assert_string_equal(e.request_id, c->request_id);
      assert_int_equal(e.http_status, 404); /* untouched */
    }
    free(b.p);
  }
}

static void test_error_body_odd(void **state) {
  store_error_t e;
  char eb[FERRY_ERRLEN];
  char big[2048];
  (void)state;
  /* Not an error document. */
  assert_int_equal(
      store_xml_parse_error("<html><body>502 Bad Gateway</body></html>", 41, &e, eb),
      FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "expected <Error> document, got <html>"));
  assert_string_equal(e.code, "");
  assert_int_equal(store_xml_parse_error("", 0, &e, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "empty body"));
  /* A long message is cut to fit, not an error. */
  memset(big, 'm', sizeof(big));
  memcpy(big, "<Error><Code>C</Code><Message>", 30);
  memcpy(big + sizeof(big) - 30, "</Message></Error>", 18);
  assert_int_equal(store_xml_parse_error(big, sizeof(big) - 12, &e, eb), FERRY_OK);
  assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
  assert_string_equal(e.code, "C");
  assert_string_equal(e.request_id, "");
}

static void test_error_root_elsewhere(void **state) {
  /* An <Error> document given to another kind: FERRY_ERR_STORE. */
  blob_t b = load("s3rver_error_complete_again.xml");
  store_list_page_t pg;
  store_parts_t parts;
  char *id = (char *)"x";
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(store_xml_parse_list(b.p, b.n, &pg, eb), FERRY_ERR_STORE);
  assert_non_null(strstr(eb, "InternalError: We encountered"));
  assert_null(pg.objects);
  assert_int_equal(store_xml_parse_list_parts(b.p, b.n, &parts, eb), FERRY_ERR_STORE);
  assert_int_equal(store_xml_parse_initiate(b.p, b.n, &id, eb), FERRY_ERR_STORE);
  assert_null(id);
  free(b.p);
}

/* ---- multipart ------------------------------------------------------ */

static void test_initiate(void **state) {
  static const struct {
    const char *file, *id;
  } cases[] = {
      {"cos_initiate.xml",
       "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361"},
      {"s3_initiate.xml", "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"},
      {"s3rver_initiate.xml", "20115e6bbaad9f5aae885e4f09a1b9da"},
  };
  size_t i;
  int mode;
  char eb[FERRY_ERRLEN];
  const char *noid =
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
      "</InitiateMultipartUploadResult>";
  const char *emptyid =
      "<InitiateMultipartUploadResult><UploadId></UploadId>"
      "</InitiateMultipartUploadResult>";
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(cases); i++) {
    blob_t b = load(cases[i].file);
    for (mode = 0; mode < FEED__COUNT; mode++) {
      char *id = NULL;
      if (parse_mode(XML_INITIATE, b.p, b.n, mode, &id, NULL, eb) != FERRY_OK)
        fail_msg("%s (%s): %s", cases[i].file, MODE_NAME[mode], eb);
      assert_string_equal(id, cases[i].id);
      free(id);
    }
    free(b.p);
  }
  expect_parse_error(XML_INITIATE, noid, strlen(noid),
                     "InitiateMultipartUploadResult: missing UploadId");
  expect_parse_error(XML_INITIATE, emptyid, strlen(emptyid), "missing UploadId");
}

static void test_complete(void **state) {
  static const struct {
    const char *file, *etag;
  } ok[] = {
      {"cos_complete.xml", "aa259a62513358f69e98e72e59856d88-3"},
      {"cos_complete_keepalive.xml", "aa259a62513358f69e98e72e59856d88-3"},
      {"s3_complete.xml", "3858f62230ac3c915f300c664312c11f-9"},
      {"s3rver_complete.xml", "de62c6fb008eedfe4783dfc28cfe54b6"},
  };
  static const struct {
    const char *file, *code, *message;
  } bad[] = {
      {"cos_complete_200_error.xml", "InternalError",
       "We encountered an internal error. Please try again."},
      {"cos_complete_200_error_after_decl.xml", "InvalidPart",
       "One or more of the specified parts could not be found."},
      {"s3rver_error_complete_again.xml", "InternalError",
       "We encountered an internal error. Please try again."},
  };
  const char *noetag =
      "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket>"
      "<Key>k</Key></CompleteMultipartUploadResult>";
  const char *emptyetag =
      "<CompleteMultipartUploadResult><ETag>\"\"</ETag>"
      "</CompleteMultipartUploadResult>";
  size_t i;
  int mode;
  char eb[FERRY_ERRLEN];
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(ok); i++) {
    blob_t b = load(ok[i].file);
    for (mode = 0; mode < FEED__COUNT; mode++) {
      char *etag = NULL;
      store_error_t e;
      memset(&e, 0, sizeof(e));
      if (parse_mode(XML_COMPLETE, b.p, b.n, mode, &etag, &e, eb) != FERRY_OK)
        fail_msg("%s (%s): %s", ok[i].file, MODE_NAME[mode], eb);
      assert_string_equal(etag, ok[i].etag);
      assert_string_equal(e.code, "");
      free(etag);
    }
    free(b.p);
  }
  for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
    blob_t b = load(bad[i].file);
    for (mode = 0; mode < FEED__COUNT; mode++) {
      char *etag = (char *)"stale";
      store_error_t e;
      memset(&e, 0, sizeof(e));
      e.http_status = 200;
      if (parse_mode(XML_COMPLETE, b.p, b.n, mode, &etag, &e, eb) != FERRY_ERR_STORE)
        fail_msg("%s (%s): expected FERRY_ERR_STORE: %s", bad[i].file, MODE_NAME[mode],
                 eb);
      assert_null(etag);
      assert_string_equal(e.code, bad[i].code);
      assert_string_equal(e.message, bad[i].message);
      assert_int_equal(e.http_status, 200);
      assert_non_null(strstr(eb, bad[i].code));
    }
    /* err may be NULL: still FERRY_ERR_STORE. */
    {
      char *etag = NULL;
      assert_int_equal(store_xml_parse_complete(b.p, b.n, &etag, NULL, eb),
                       FERRY_ERR_STORE);
    }
    free(b.p);
  }
  expect_parse_error(XML_COMPLETE, noetag, strlen(noetag),
                     "CompleteMultipartUploadResult: missing ETag");
  expect_parse_error(XML_COMPLETE, emptyetag, strlen(emptyetag), "missing ETag");
  /* Keep-alives and then nothing: the connection dropped mid-merge. */
  expect_parse_error(XML_COMPLETE, "\n \n \n", 5, "empty body");
  {
    const char *decl_only = "\n \n<?xml version='1.0'?>\n \n";
    expect_parse_error(XML_COMPLETE, decl_only, strlen(decl_only), NULL);
  }
}

static void test_list_parts(void **state) {
  int mode;
  char eb[FERRY_ERRLEN];
  blob_t cos = load("cos_list_parts.xml"), s3 = load("s3_list_parts.xml");
  (void)state;
  for (mode = 0; mode < FEED__COUNT; mode++) {
    store_parts_t p;
    if (parse_mode(XML_LIST_PARTS, cos.p, cos.n, mode, &p, NULL, eb) != FERRY_OK)
      fail_msg("cos (%s): %s", MODE_NAME[mode], eb);
    assert_int_equal(p.n, 2);
    assert_true(p.truncated);
    assert_int_equal(p.next_marker, 2);
    assert_int_equal(p.parts[0].number, 1);
    assert_string_equal(p.parts[0].etag, "e1e5b4965bc7d30880ed6d226f78a5390f1c09fc");
    assert_true(p.parts[0].size == 1048576);
    assert_int_equal(p.parts[1].number, 2);
    assert_string_equal(p.parts[1].etag, "c4ca4238a0b923820dcc509a6f75849b");
    store_parts_release(&p);

    if (parse_mode(XML_LIST_PARTS, s3.p, s3.n, mode, &p, NULL, eb) != FERRY_OK)
      fail_msg("s3 (%s): %s", MODE_NAME[mode], eb);
    assert_int_equal(p.n, 2);
    assert_true(p.truncated);
    assert_int_equal(p.next_marker, 3);
    assert_int_equal(p.parts[0].number, 2);
    assert_string_equal(p.parts[1].etag, "aaaa18db4cc2f85cedef654fccc4a4x8");
    assert_true(p.parts[1].size == 5368709120ULL);
    store_parts_release(&p);
  }
  free(cos.p);
  free(s3.p);
  {
    const char *a =
        "<ListPartsResult><IsTruncated>false</IsTruncated><Part><ETag>e</ETag>"
        "<Size>1</Size></Part></ListPartsResult>";
    const char *b =
        "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>0"
        "</PartNumber><ETag>e</ETag></Part></ListPartsResult>";
    const char *c =
        "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1"
        "</PartNumber></Part></ListPartsResult>";
    const char *d =
        "<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"
        "</ListPartsResult>";
    const char *e =
        "<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>-1"
        "</NextPartNumberMarker></ListPartsResult>";
    const char *f =
        "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1"
        "</PartNumber><ETag>e</ETag><Size>-1</Size></Part></ListPartsResult>";
    expect_parse_error(XML_LIST_PARTS, a, strlen(a),
                       "ListPartsResult/Part[1]: missing PartNumber");
    expect_parse_error(XML_LIST_PARTS, b, strlen(b),
                       "Part[1]/PartNumber: not a part number: '0'");
    expect_parse_error(XML_LIST_PARTS, c, strlen(c), "Part[1]: missing ETag");
    expect_parse_error(XML_LIST_PARTS, d, strlen(d),
                       "ListPartsResult: missing IsTruncated");
    expect_parse_error(XML_LIST_PARTS, e, strlen(e),
                       "NextPartNumberMarker: not a part number");
    expect_parse_error(XML_LIST_PARTS, f, strlen(f),
                       "Part[1]/Size: not a non-negative integer");
  }
}

static void test_list_uploads(void **state) {
  int mode;
  char eb[FERRY_ERRLEN];
  blob_t cos = load("cos_list_uploads.xml"), s3 = load("s3_list_uploads.xml");
  (void)state;
  for (mode = 0; mode < FEED__COUNT; mode++) {
    store_uploads_t u;
    if (parse_mode(XML_LIST_UPLOADS, cos.p, cos.n, mode, &u, NULL, eb) != FERRY_OK)
      fail_msg("cos (%s): %s", MODE_NAME[mode], eb);
    assert_int_equal(u.n, 2);
    assert_true(u.truncated);
    assert_string_equal(u.uploads[0].key, "dir/a \xe6\x96\x87.bin");
    assert_string_equal(
        u.uploads[0].upload_id,
        "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6360");
    assert_int_equal(u.uploads[0].initiated, 1709258584);
    assert_string_equal(u.uploads[1].key, "dir/b+c d");
    assert_string_equal(u.next_key_marker, "dir/b+c d");
    assert_string_equal(
        u.next_upload_id_marker,
        "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361");
    store_uploads_release(&u);

    if (parse_mode(XML_LIST_UPLOADS, s3.p, s3.n, mode, &u, NULL, eb) != FERRY_OK)
      fail_msg("s3 (%s): %s", MODE_NAME[mode], eb);
    assert_int_equal(u.n, 2);
    assert_false(u.truncated);
    assert_string_equal(u.uploads[0].key, "my-divisor");
    assert_int_equal(u.uploads[0].initiated, 1289422113);
    /* No EncodingType: '+' is a plus. */
    assert_string_equal(u.uploads[1].key, "my+movie.m2ts");
    assert_string_equal(u.uploads[1].upload_id,
                        "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    assert_string_equal(u.next_key_marker, "my-movie.m2ts");
    assert_string_equal(u.next_upload_id_marker,
                        "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
    store_uploads_release(&u);
  }
  free(cos.p);
  free(s3.p);
  {
    const char *a =
        "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload>"
        "<UploadId>u</UploadId></Upload></ListMultipartUploadsResult>";
    const char *b =
        "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload>"
        "<Key>k</Key></Upload></ListMultipartUploadsResult>";
    const char *c =
        "<ListMultipartUploadsResult><EncodingType>url</EncodingType><IsTruncated>"
        "false</IsTruncated><Upload><Key>%zz</Key><UploadId>u</UploadId></Upload>"
        "</ListMultipartUploadsResult>";
    expect_parse_error(XML_LIST_UPLOADS, a, strlen(a), "Upload[1]: missing Key");
    expect_parse_error(XML_LIST_UPLOADS, b, strlen(b), "Upload[1]: missing UploadId");
    expect_parse_error(XML_LIST_UPLOADS, c, strlen(c),
                       "ListMultipartUploadsResult/Upload[1]/Key: bad URL encoding");
  }
}

/* ---- malformed input ------------------------------------------------ */

/* Every strict prefix of a document, cut before its root closes, fails
 * cleanly (never FERRY_OK, never a crash). */
static void cut_everywhere(xml_kind_t kind, const char *file) {
  blob_t b = load(file);
  size_t end = b.n, cut;
  while (end > 0 && b.p[end - 1] != '>') end--;
  for (cut = 0; cut < end; cut++) {
    union {
      store_list_page_t list;
      store_error_t err;
      char *str;
      store_parts_t parts;
      store_uploads_t uploads;
    } out;
    store_error_t e;
    char eb[FERRY_ERRLEN];
    ferry_err_t rc =
        parse_mode(kind, b.p, cut, cut % 2 ? FEED_RANDOM : FEED_WHOLE, &out, &e, eb);
    if (rc != FERRY_ERR_PARSE) fail_msg("%s cut at %zu: rc %d (%s)", file, cut, rc, eb);
  }
  free(b.p);
}

static void test_truncated(void **state) {
  (void)state;
  cut_everywhere(XML_LIST, "oss_list_v2_page1.xml");
  cut_everywhere(XML_LIST, "s3rver_list_page2.xml");
  cut_everywhere(XML_LIST, "s3_list_v2_page1.xml");
  cut_everywhere(XML_ERROR, "cos_error_nosuchkey.xml");
  cut_everywhere(XML_COMPLETE, "cos_complete_200_error.xml");
  cut_everywhere(XML_COMPLETE, "cos_complete_keepalive.xml");
  cut_everywhere(XML_INITIATE, "s3rver_initiate.xml");
  cut_everywhere(XML_LIST_PARTS, "cos_list_parts.xml");
  cut_everywhere(XML_LIST_UPLOADS, "cos_list_uploads.xml");
}

static void test_garbage(void **state) {
  static const char *docs[] = {
      "not xml at all",
      "{\"Contents\": []}",
      "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
      "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult><extra/>",
      "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>trailing",
      "<ListBucketResult><IsTruncated>false</ListBucketResult>",
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&bogus;</Key>"
      "<Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a\x01</Key><Size>1</Size></Contents></"
      "ListBucketResult>",
      "<ListBucketResult><Contents><Key>&#1;</Key></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>\xff\xfe</Key></Contents></ListBucketResult>",
      "<x:ListBucketResult><IsTruncated>false</IsTruncated></x:ListBucketResult>",
      "<?xml version=\"1.0\"?>",
      "<",
      "\xef\xbb\xbf",
  };
  size_t i;
  int round;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(docs); i++) expect_list_error(docs[i], NULL);
  expect_list_error("<html><body>x</body></html>",
                    "expected <ListBucketResult> document, got <html>");
  /* A NUL byte in the middle. */
  expect_parse_error(XML_LIST, "<ListBucketResult>\0</ListBucketResult>", 38, NULL);
  /* Random bytes, and random bytes after a valid start. */
  for (round = 0; round < 200; round++) {
    char buf[300];
    size_t n = (size_t)(rng() % sizeof(buf)), j, off = 0;
    store_list_page_t pg;
    char eb[FERRY_ERRLEN];
    if (round % 2) {
      off = strlen(LIST_HEAD);
      memcpy(buf, LIST_HEAD, off);
      if (n < off) n = off;
    }
    for (j = off; j < n; j++) buf[j] = (char)rng();
    assert_int_equal(
        parse_mode(XML_LIST, buf, n, (int)(rng() % FEED__COUNT), &pg, NULL, eb),
        FERRY_ERR_PARSE);
  }
}

/* Mutated fixtures: flipped, inserted, deleted bytes and cuts. Any verdict
 * is fine as long as it is one of the documented ones, the outputs are
 * consistent and nothing leaks or crashes (the sanitizer build checks). */
static void test_mutations(void **state) {
  static const struct {
    xml_kind_t kind;
    const char *file;
  } cases[] = {
      {XML_LIST, "oss_list_v2_page1.xml"},
      {XML_LIST, "s3_list_v2_page1.xml"},
      {XML_LIST, "cos_list_page1.xml"},
      {XML_ERROR, "oss_error_signature.xml"},
      {XML_COMPLETE, "cos_complete_200_error.xml"},
      {XML_INITIATE, "cos_initiate.xml"},
      {XML_LIST_PARTS, "s3_list_parts.xml"},
      {XML_LIST_UPLOADS, "cos_list_uploads.xml"},
  };
  static const char alphabet[] =
      "<>/&;%#x\"' \n\x01\xff\xc3\xa9?!-[]CDATAKeySize0123456789+";
  size_t i;
  int round;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(cases); i++) {
    blob_t b = load(cases[i].file);
    char *m = malloc(b.n + 64);
    for (round = 0; round < 150; round++) {
      size_t n = b.n, k, edits = 1 + (size_t)(rng() % 4);
      union {
        store_list_page_t list;
        store_error_t err;
        char *str;
        store_parts_t parts;
        store_uploads_t uploads;
      } out;
      store_error_t e;
      char eb[FERRY_ERRLEN];
      ferry_err_t rc;
      memcpy(m, b.p, b.n);
      for (k = 0; k < edits && n > 1; k++) {
        size_t at = (size_t)(rng() % n);
        char c = alphabet[rng() % (sizeof(alphabet) - 1)];
        switch (rng() % 4) {
          case 0:
            m[at] = c;
            break;
          case 1:
            if (n < b.n + 60) {
              memmove(m + at + 1, m + at, n - at);
              m[at] = c;
              n++;
            }
            break;
          case 2:
            memmove(m + at, m + at + 1, n - at - 1);
            n--;
            break;
          default:
            n = at;
            break;
        }
      }
      rc = parse_mode(cases[i].kind, m, n, (int)(rng() % FEED__COUNT), &out, &e, eb);
      assert_true(rc == FERRY_OK || rc == FERRY_ERR_PARSE || rc == FERRY_ERR_STORE);
      if (rc != FERRY_OK) assert_true(eb[0] != '\0');
      switch (cases[i].kind) {
        case XML_LIST:
          store_list_page_release(&out.list);
          break;
        case XML_INITIATE:
        case XML_COMPLETE:
          if (rc != FERRY_OK) assert_null(out.str);
          free(out.str);
          break;
        case XML_LIST_PARTS:
          store_parts_release(&out.parts);
          break;
        case XML_LIST_UPLOADS:
          store_uploads_release(&out.uploads);
          break;
        case XML_ERROR:
          break;
      }
    }
    free(m);
    free(b.p);
  }
}

static void test_wrong_kind(void **state) {
  blob_t init = load("cos_initiate.xml"), list = load("oss_list_v2_page1.xml");
  char eb[FERRY_ERRLEN];
  store_list_page_t pg;
  store_uploads_t u;
  char *etag = NULL;
  store_error_t e;
  (void)state;
  assert_int_equal(store_xml_parse_list(init.p, init.n, &pg, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(
      eb, "expected <ListBucketResult> document, got <InitiateMultipartUploadResult>"));
  assert_int_equal(store_xml_parse_complete(list.p, list.n, &etag, &e, eb),
                   FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "got <ListBucketResult>"));
  assert_null(etag);
  assert_int_equal(store_xml_parse_list_uploads(list.p, list.n, &u, eb), FERRY_ERR_PARSE);
  assert_int_equal(store_xml_parse_error(list.p, list.n, &e, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "expected <Error> document"));
  free(init.p);
  free(list.p);
}

static void test_deep_nesting(void **state) {
  size_t depth = 5000, i;
  fbuf_t b;
  (void)state;
  fbuf_init(&b, 0);
  fbuf_adds(&b, "<ListBucketResult>");
  for (i = 0; i < depth; i++) fbuf_adds(&b, "<a>");
  for (i = 0; i < depth; i++) fbuf_adds(&b, "</a>");
  fbuf_adds(&b, "<IsTruncated>false</IsTruncated></ListBucketResult>");
  expect_parse_error(XML_LIST, b.p, b.len, "nested deeper than 32");
  fbuf_reset(&b);
  /* Unclosed nesting. */
  fbuf_adds(&b, "<ListBucketResult>");
  for (i = 0; i < depth; i++) fbuf_adds(&b, "<Contents>");
  expect_parse_error(XML_LIST, b.p, b.len, NULL);
  fbuf_release(&b);
}

static void test_huge_text(void **state) {
  fbuf_t b;
  size_t i;
  xml_parser_t *p;
  char eb[FERRY_ERRLEN];
  store_list_page_t pg;
  (void)state;
  fbuf_init(&b, 0);
  /* A collected element with more than 16 KiB of text. */
  fbuf_adds(&b, LIST_HEAD "<Contents><Key>");
  for (i = 0; i < 20000; i++) fbuf_addc(&b, 'x');
  fbuf_adds(&b, "</Key><Size>1</Size></Contents>" LIST_TAIL);
  expect_parse_error(XML_LIST, b.p, b.len,
                     "Contents[1]/Key: text longer than 16384 bytes");
  /* An ignored element may be big: its text is not kept. */
  fbuf_reset(&b);
  fbuf_adds(&b, LIST_HEAD "<Junk>");
  for (i = 0; i < (2u << 20); i++) fbuf_addc(&b, 'j');
  fbuf_adds(&b, "</Junk>" OBJ("k", "1") LIST_TAIL);
  assert_int_equal(store_xml_parse_list(b.p, b.len, &pg, eb), FERRY_OK);
  assert_int_equal(pg.n_objects, 1);
  store_list_page_release(&pg);
  /* But not past the byte cap, however it is fed. */
  p = xml_parser_new(XML_LIST, 1000);
  assert_int_equal(xml_parser_feed(p, b.p, 999, eb), FERRY_OK);
  assert_int_equal(xml_parser_feed(p, b.p + 999, 2, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "larger than 1000 bytes"));
  assert_int_equal(xml_parser_feed(p, "x", 1, eb), FERRY_ERR_PARSE); /* sticky */
  assert_int_equal(xml_parser_finish(p, &pg, NULL, eb), FERRY_ERR_PARSE);
  assert_null(pg.objects);
  xml_parser_destroy(p);
  fbuf_release(&b);
}

static void test_doctype_refused(void **state) {
  const char *laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
      "<ListBucketResult><Contents><Key>&lol3;</Key><Size>1</Size></Contents>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>";
  const char *external =
      "<?xml version=\"1.0\"?><!DOCTYPE x SYSTEM \"file:///etc/passwd\">"
      "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
  (void)state;
  expect_list_error(laughs, "DOCTYPE declarations are not accepted");
  expect_list_error(external, "DOCTYPE declarations are not accepted");
}

static void test_api_misuse(void **state) {
  xml_parser_t *p;
  char eb[FERRY_ERRLEN];
  store_list_page_t pg;
  const char *doc = LIST_HEAD OBJ("a", "1") LIST_TAIL;
  (void)state;
  xml_parser_destroy(NULL);
  assert_null(xml_parser_new((xml_kind_t)0, 0));
  assert_null(xml_parser_new((xml_kind_t)99, 0));
  /* Finish twice, feed after finish. */
  p = xml_parser_new(XML_LIST, 0);
  assert_int_equal(xml_parser_feed(p, doc, strlen(doc), eb), FERRY_OK);
  assert_int_equal(xml_parser_finish(p, &pg, NULL, eb), FERRY_OK);
  assert_int_equal(xml_parser_finish(p, &pg, NULL, eb), FERRY_ERR_INVALID);
  assert_int_equal(xml_parser_feed(p, "x", 1, eb), FERRY_ERR_INVALID);
  assert_int_equal(pg.n_objects, 1); /* the first result is untouched */
  store_list_page_release(&pg);
  xml_parser_destroy(p);
  /* Destroy without finishing frees what was built. */
  p = xml_parser_new(XML_LIST, 0);
  assert_int_equal(xml_parser_feed(p, doc, strlen(doc) - 20, eb), FERRY_OK);
  xml_parser_destroy(p);
  /* Nothing fed, and only whitespace fed. */
  p = xml_parser_new(XML_LIST, 0);
  assert_int_equal(xml_parser_finish(p, &pg, NULL, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "empty body"));
  xml_parser_destroy(p);
  expect_list_error(" \r\n\t ", "empty body");
  /* Empty feeds are fine; NULL with a length is not. */
  p = xml_parser_new(XML_LIST, 0);
  assert_int_equal(xml_parser_feed(p, NULL, 0, eb), FERRY_OK);
  assert_int_equal(xml_parser_feed(p, NULL, 3, eb), FERRY_ERR_INVALID);
  xml_parser_destroy(p);
  /* errbuf may be NULL. */
  assert_int_equal(store_xml_parse_list("<x/>", 4, &pg, NULL), FERRY_ERR_PARSE);
  /* Releasing zeroed results is safe. */
  {
    store_parts_t parts;
    store_uploads_t ups;
    memset(&pg, 0, sizeof(pg));
    memset(&parts, 0, sizeof(parts));
    memset(&ups, 0, sizeof(ups));
    store_list_page_release(&pg);
    store_parts_release(&parts);
    store_uploads_release(&ups);
    store_list_page_release(NULL);
    store_parts_release(NULL);
    store_uploads_release(NULL);
  }
}

/* ---- escaping ------------------------------------------------------- */

static void test_escape(void **state) {
  fbuf_t b;
  char *etag = NULL;
  char eb[FERRY_ERRLEN];
  const char *nasty = "\"ab&<c>'d\t\xe6\xb5\x8b\"";
  (void)state;
  fbuf_init(&b, 0);
  store_xml_escape(&b, "a&b<c>\"d'e\tf\ng\rh\x01i\x7f\xe6\xb5\x8b");
  assert_string_equal(
      fbuf_str(&b),
      "a&amp;b&lt;c&gt;&quot;d&apos;e&#9;f&#10;g&#13;h\xef\xbf\xbdi\x7f\xe6\xb5\x8b");
  fbuf_reset(&b);
  store_xml_escape(&b, NULL);
  store_xml_escape(&b, "");
  assert_string_equal(fbuf_str(&b), "");
  /* Round trip through the parser. */
  fbuf_adds(&b, "<CompleteMultipartUploadResult><ETag>");
  store_xml_escape(&b, nasty);
  fbuf_adds(&b, "</ETag></CompleteMultipartUploadResult>");
  assert_int_equal(store_xml_parse_complete(b.p, b.len, &etag, NULL, eb), FERRY_OK);
  assert_string_equal(etag, "ab&<c>'d\t\xe6\xb5\x8b");
  free(etag);
  fbuf_release(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_oss),
      cmocka_unit_test(test_list_cos),
      cmocka_unit_test(test_list_s3),
      cmocka_unit_test(test_list_s3rver),
      cmocka_unit_test(test_list_namespace_prefix),
      cmocka_unit_test(test_list_text_forms),
      cmocka_unit_test(test_list_plus_rules),
      cmocka_unit_test(test_list_key_length),
      cmocka_unit_test(test_list_bad_objects),
      cmocka_unit_test(test_list_bad_encoding),
      cmocka_unit_test(test_list_truncated_flag),
      cmocka_unit_test(test_error_bodies),
      cmocka_unit_test(test_error_body_odd),
      cmocka_unit_test(test_error_root_elsewhere),
      cmocka_unit_test(test_initiate),
      cmocka_unit_test(test_complete),
      cmocka_unit_test(test_list_parts),
      cmocka_unit_test(test_list_uploads),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_mutations),
      cmocka_unit_test(test_wrong_kind),
      cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_huge_text),
      cmocka_unit_test(test_doctype_refused),
      cmocka_unit_test(test_api_misuse),
      cmocka_unit_test(test_escape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
