/* Bad input at ferry's edges, beyond what the module tests and the fuzz
 * targets (tests/fuzz) already cover: absurd sizes in XML, JSON and
 * response headers (2^64, negative, huge Content-Length), keys of exactly
 * 1023 and 1024 bytes, keys with every character the services allow, a 200
 * response with an error body and other odd answers. Each gives a clear
 * error or the exact value; none crashes (the sanitizer build checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus/msg.h"
#include "core/enc.h"
#include "store/client.h"
#include "store/xml.h"

#define LIST_HEAD "<ListBucketResult><Name>b</Name>"
#define LIST_HEAD_URL LIST_HEAD "<EncodingType>url</EncodingType>"
#define LIST_TAIL "<IsTruncated>false</IsTruncated></ListBucketResult>"

/* Parses a list page with one object whose Key and Size are given. */
static ferry_err_t list_one(int url, const char *key, const char *size,
                            store_list_page_t *pg, char *eb) {
  fbuf_t b;
  ferry_err_t rc;
  fbuf_init(&b, 0);
  fbuf_addf(&b, "%s<Contents><Key>%s</Key><Size>%s</Size></Contents>" LIST_TAIL,
            url ? LIST_HEAD_URL : LIST_HEAD, key, size);
  rc = store_xml_parse_list(b.p, b.len, pg, eb);
  fbuf_release(&b);
  return rc;
}

/* ---- XML ---------------------------------------------------------------- */

static void test_xml_absurd_sizes(void **state) {
  static const char *bad[] = {
      "18446744073709551616",       /* 2^64 */
      "99999999999999999999999999", /* far beyond */
      "-1",
      "-0",
      "0x10",
      "1e3",
      "1.0",
      "\xe2\x88\x92"
      "1",        /* U+2212 minus */
      "\xd9\xa3", /* Arabic-Indic digit three */
      "1 2",
      "",
  };
  store_list_page_t pg;
  char eb[FERRY_ERRLEN];
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
    if (list_one(0, "k", bad[i], &pg, eb) != FERRY_ERR_PARSE)
      fail_msg("Size '%s' accepted", bad[i]);
    assert_non_null(strstr(eb, "ListBucketResult/Contents[1]/Size"));
    assert_null(pg.objects);
  }
  /* The largest size there is, and zero. */
  assert_int_equal(list_one(0, "k", "18446744073709551615", &pg, eb), FERRY_OK);
  assert_true(pg.objects[0].size == UINT64_MAX);
  store_list_page_release(&pg);
  assert_int_equal(list_one(0, "k", "0", &pg, eb), FERRY_OK);
  assert_true(pg.objects[0].size == 0);
  store_list_page_release(&pg);
}

static void test_xml_absurd_part_numbers_and_sizes(void **state) {
  static const struct {
    const char *body, *want;
  } bad[] = {
      {"<Part><PartNumber>1</PartNumber><ETag>e</ETag><Size>18446744073709551616</Size>"
       "</Part>",
       "Part[1]/Size: not a non-negative integer"},
      {"<Part><PartNumber>2147483648</PartNumber><ETag>e</ETag></Part>",
       "Part[1]/PartNumber: not a part number"},
      {"<Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part>",
       "Part[1]/PartNumber: not a part number"},
      {"<NextPartNumberMarker>18446744073709551616</NextPartNumberMarker>",
       "NextPartNumberMarker: not a part number"},
  };
  char doc[512], eb[FERRY_ERRLEN];
  store_parts_t p;
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
    int n =
        snprintf(doc, sizeof(doc),
                 "<ListPartsResult><IsTruncated>false</IsTruncated>%s</ListPartsResult>",
                 bad[i].body);
    assert_int_equal(store_xml_parse_list_parts(doc, (size_t)n, &p, eb), FERRY_ERR_PARSE);
    if (!strstr(eb, bad[i].want)) fail_msg("got '%s', want '%s'", eb, bad[i].want);
    assert_null(p.parts);
  }
  snprintf(doc, sizeof(doc),
           "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>2147483647"
           "</PartNumber><ETag>e</ETag><Size>18446744073709551615</Size></Part>"
           "</ListPartsResult>");
  assert_int_equal(store_xml_parse_list_parts(doc, strlen(doc), &p, eb), FERRY_OK);
  assert_int_equal(p.parts[0].number, 2147483647);
  assert_true(p.parts[0].size == UINT64_MAX);
  store_parts_release(&p);
}

/* Dates no store would send are "unknown", not fatal: a listing matters
 * more than one timestamp. */
static void test_xml_absurd_dates(void **state) {
  static const char *dates[] = {"9999-99-99T99:99:99.000Z", "0000-00-00T00:00:00Z",
                                "-2024-01-15T08:30:00Z", "", "2024-01-15"};
  char doc[512], eb[FERRY_ERRLEN];
  store_list_page_t pg;
  store_uploads_t u;
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(dates); i++) {
    int n = snprintf(doc, sizeof(doc),
                     LIST_HEAD
                     "<Contents><Key>k</Key><Size>1</Size><LastModified>%s"
                     "</LastModified></Contents>" LIST_TAIL,
                     dates[i]);
    assert_int_equal(store_xml_parse_list(doc, (size_t)n, &pg, eb), FERRY_OK);
    assert_int_equal(pg.objects[0].mtime, -1);
    store_list_page_release(&pg);
    n = snprintf(doc, sizeof(doc),
                 "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload>"
                 "<Key>k</Key><UploadId>u</UploadId><Initiated>%s</Initiated></Upload>"
                 "</ListMultipartUploadsResult>",
                 dates[i]);
    assert_int_equal(store_xml_parse_list_uploads(doc, (size_t)n, &u, eb), FERRY_OK);
    assert_int_equal(u.uploads[0].initiated, -1);
    store_uploads_release(&u);
  }
}

/* Keys with every character: each ASCII byte 0x01-0x7F URL-encoded (the
 * listing form OSS, COS and S3 use for keys XML cannot carry), every
 * printable one raw with XML escapes, and UTF-8 at every length boundary.
 * Each comes back exactly. */
static void test_xml_keys_every_character(void **state) {
  static const char *utf8[] = {"\xc2\x80",     "\xdf\xbf",         "\xe0\xa0\x80",
                               "\xef\xbf\xbd", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
  char want[256], enc[1024], eb[FERRY_ERRLEN];
  store_list_page_t pg;
  fbuf_t b;
  size_t i, n = 0;
  int c;
  (void)state;
  for (c = 1; c < 0x80; c++) {
    want[n++] = (char)c;
    snprintf(enc + 3 * (c - 1), 4, "%%%02X", c);
  }
  want[n] = '\0';
  assert_int_equal(list_one(1, enc, "1", &pg, eb), FERRY_OK);
  assert_memory_equal(pg.objects[0].key, want, n + 1);
  store_list_page_release(&pg);

  fbuf_init(&b, 0);
  n = 0;
  for (c = 0x20; c < 0x7f; c++) {
    want[n++] = (char)c;
    store_xml_escape(&b, (char[]){(char)c, 0});
  }
  want[n] = '\0';
  assert_int_equal(list_one(0, b.p, "1", &pg, eb), FERRY_OK);
  assert_string_equal(pg.objects[0].key, want);
  store_list_page_release(&pg);
  fbuf_release(&b);

  for (i = 0; i < FERRY_ARRAY_LEN(utf8); i++) {
    snprintf(want, sizeof(want), "a%sb", utf8[i]);
    assert_int_equal(list_one(0, want, "1", &pg, eb), FERRY_OK);
    assert_string_equal(pg.objects[0].key, want);
    store_list_page_release(&pg);
  }
  /* U+FFFF is no XML character either: raw it is refused, URL-encoded (as
   * stores list such keys) it passes. */
  assert_int_equal(list_one(0, "a\xef\xbf\xbf", "1", &pg, eb), FERRY_ERR_PARSE);
  assert_int_equal(list_one(1, "a%EF%BF%BF", "1", &pg, eb), FERRY_OK);
  assert_string_equal(pg.objects[0].key, "a\xef\xbf\xbf");
  store_list_page_release(&pg);
  /* Raw control bytes are not XML at all: a parse error naming the line. */
  assert_int_equal(list_one(0,
                            "a\x01"
                            "b",
                            "1", &pg, eb),
                   FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "XML at line 1"));
}

/* The 1024-byte limit (S3's; the largest of the dialects) counts bytes of the
 * decoded key, also when they are multi-byte characters: 341 x 3 bytes + 1
 * pass, 342 x 3 fail. */
static void test_xml_key_limit_multibyte(void **state) {
  char key[2048] = "", eb[FERRY_ERRLEN];
  store_list_page_t pg;
  int i;
  (void)state;
  for (i = 0; i < 341; i++) strcat(key, "\xe6\xb5\x8b");
  strcat(key, "k");
  assert_int_equal(list_one(0, key, "1", &pg, eb), FERRY_OK);
  assert_int_equal(strlen(pg.objects[0].key), 1024);
  store_list_page_release(&pg);
  key[1023] = '\0';
  strcat(key, "\xe6\xb5\x8b");
  assert_int_equal(list_one(0, key, "1", &pg, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "Contents[1]/Key: longer than 1024 bytes"));
}

/* ---- JSON messages ------------------------------------------------------ */

static char *segment_json(const char *key, const char *size) {
  fbuf_t b;
  fbuf_init(&b, 0);
  fbuf_addf(&b,
            "{\"v\":1,\"task\":\"t\",\"id\":\"1-1\",\"run\":1,"
            "\"src\":{\"store\":\"s\",\"bucket\":\"b\"},"
            "\"dst\":{\"store\":\"d\",\"bucket\":\"c\"},\"policy\":\"overwrite\","
            "\"objs\":[{\"key\":%s,\"size\":%s,\"mtime\":-1}]}",
            key, size);
  return fbuf_steal(&b);
}

static void test_json_absurd_sizes(void **state) {
  static const struct {
    const char *size, *want;
  } bad[] = {
      {"18446744073709551616", "invalid JSON"}, /* 2^64: beyond what JSON carries here */
      {"9223372036854775808", "invalid JSON"},  /* 2^63 */
      {"-1", "segment.objs[0].size: not a non-negative integer"},
      {"-9223372036854775808", "segment.objs[0].size: not a non-negative integer"},
      {"1e400", "invalid JSON"},
      {"1.5", "segment.objs[0].size: not a non-negative integer"},
      {"\"5\"", "segment.objs[0].size: not a non-negative integer"},
      {"null", "segment.objs[0].size: missing"},
      {"[]", "segment.objs[0].size: not a non-negative integer"},
  };
  msg_segment_t s;
  char eb[FERRY_ERRLEN];
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
    char *j = segment_json("\"k\"", bad[i].size);
    assert_int_equal(msg_segment_decode(j, strlen(j), &s, eb), FERRY_ERR_PARSE);
    if (!strstr(eb, bad[i].want)) fail_msg("size %s: got '%s'", bad[i].size, eb);
    fx_free(j);
  }
}

/* Round-trips a key through a segment; returns the decoded key's length. */
static size_t segment_key_roundtrip(const char *key) {
  msg_obj_t o;
  msg_segment_t s, d;
  char *j, eb[FERRY_ERRLEN];
  size_t n;
  memset(&o, 0, sizeof(o));
  o.key = (char *)key;
  o.size = 1;
  o.mtime = -1;
  memset(&s, 0, sizeof(s));
  s.task = "t";
  s.id = "1-1";
  s.run = 1;
  s.src.store = "s";
  s.src.bucket = "b";
  s.dst.store = "d";
  s.dst.bucket = "c";
  s.objs = &o;
  s.n_objs = 1;
  j = msg_segment_encode(&s);
  assert_non_null(j);
  if (msg_segment_decode(j, strlen(j), &d, eb) != FERRY_OK) fail_msg("%s", eb);
  assert_string_equal(d.objs[0].key, key);
  n = strlen(d.objs[0].key);
  msg_segment_release(&d);
  fx_free(j);
  return n;
}

/* Keys travel in segments exactly, whatever their bytes: every ASCII byte
 * but NUL, UTF-8 at every length boundary; 1023 and 1024 bytes both travel
 * (the 1023 limit is enforced where keys enter: listings, URL lists). */
static void test_json_keys_every_character(void **state) {
  char key[1100];
  msg_segment_t d;
  char eb[FERRY_ERRLEN];
  int c;
  size_t n = 0;
  (void)state;
  for (c = 1; c < 0x80; c++) key[n++] = (char)c;
  key[n] = '\0';
  assert_int_equal(segment_key_roundtrip(key), 127);
  strcpy(key, "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
  segment_key_roundtrip(key);
  memset(key, 'k', 1024);
  key[1023] = '\0';
  assert_int_equal(segment_key_roundtrip(key), 1023);
  key[1023] = 'K';
  key[1024] = '\0';
  assert_int_equal(segment_key_roundtrip(key), 1024);
  {
    /* Escapes in the JSON: a valid pair is U+10FFFF; a lone surrogate and
     * \u0000 are refused with a clear error. */
    char *j = segment_json("\"a\\udbff\\udfffb\"", "1");
    assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_OK);
    assert_string_equal(d.objs[0].key,
                        "a\xf4\x8f\xbf\xbf"
                        "b");
    msg_segment_release(&d);
    fx_free(j);
    j = segment_json("\"a\\ud800b\"", "1");
    assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_ERR_PARSE);
    assert_non_null(strstr(eb, "invalid JSON"));
    fx_free(j);
    j = segment_json("\"a\\u0000b\"", "1");
    assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_ERR_PARSE);
    assert_non_null(strstr(eb, "segment.objs[0].key: contains a NUL"));
    fx_free(j);
  }
}

/* ---- HTTP responses ------------------------------------------------------ */

static void head_with(const char *name, const char *value, store_head_t *h) {
  kvlist_t l;
  kvlist_init(&l);
  kvlist_add(&l, name, value);
  store_head_from_headers(h, STORE_OSS, &l);
  kvlist_release(&l);
}

/* Content-Length, Content-Range and CRC-64 headers: the exact value when
 * well-formed (up to 2^64-1), else nothing (size 0, no CRC) rather than a
 * wrapped or negative number. */
static void test_head_absurd_headers(void **state) {
  static const char *bad_len[] = {"-1",
                                  "18446744073709551616",
                                  "99999999999999999999999",
                                  "+5",
                                  " 5",
                                  "5x",
                                  "",
                                  "0x10",
                                  "1e3"};
  static const char *bad_range[] = {
      "bytes 0-99/18446744073709551616", "bytes 5-1/10", "bytes 0-9/9", "bytes -1-5/10",
      "bytes 0-18446744073709551616/*",  "items 0-1/2",  "bytes 0-1/"};
  store_head_t h;
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(bad_len); i++) {
    head_with("Content-Length", bad_len[i], &h);
    if (h.size != 0)
      fail_msg("Content-Length '%s' gave %llu", bad_len[i], (unsigned long long)h.size);
    store_head_release(&h);
    head_with("x-oss-hash-crc64ecma", bad_len[i], &h);
    assert_int_equal(h.has_crc64, 0);
    store_head_release(&h);
  }
  head_with("Content-Length", "18446744073709551615", &h);
  assert_true(h.size == UINT64_MAX);
  store_head_release(&h);
  head_with("x-oss-hash-crc64ecma", "18446744073709551615", &h);
  assert_int_equal(h.has_crc64, 1);
  assert_true(h.crc64 == UINT64_MAX);
  store_head_release(&h);
  for (i = 0; i < FERRY_ARRAY_LEN(bad_range); i++) {
    kvlist_t l;
    kvlist_init(&l);
    kvlist_add(&l, "Content-Range", bad_range[i]);
    kvlist_add(&l, "Content-Length", "10");
    store_head_from_headers(&h, STORE_COS, &l);
    /* An unusable range falls back to Content-Length. */
    if (h.size != 10)
      fail_msg("Content-Range '%s' gave %llu", bad_range[i], (unsigned long long)h.size);
    store_head_release(&h);
    kvlist_release(&l);
  }
}

/* store_head_parse refuses each of those (and a bad Content-Range) with an
 * error naming the header, its value (escaped: never a raw newline) and the
 * object, where store_head_from_headers reads size 0 / no CRC; absent
 * headers and good values pass. Regression: a negative or junk
 * Content-Length read as a 0-byte object. */
static void test_head_parse_refuses_bad_numbers(void **state) {
  static const char *hdrs[] = {"Content-Length", "x-oss-hash-crc64ecma",
                               "x-cos-hash-crc64ecma"};
  static const char *bad[] = {
      "-1", "-0", "18446744073709551616", "+5", " 5", "5x", "", "0x10", "1e3", "12\n34"};
  store_head_t h;
  kvlist_t l;
  char eb[FERRY_ERRLEN];
  size_t i, k;
  (void)state;
  for (k = 0; k < FERRY_ARRAY_LEN(hdrs); k++) {
    for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
      kvlist_init(&l);
      kvlist_add(&l, hdrs[k], bad[i]);
      eb[0] = '\0';
      assert_int_equal(store_head_parse(&h, STORE_OSS, &l, "oss:b/dir/a.bin", eb),
                       FERRY_ERR_STORE);
      if (!strstr(eb, hdrs[k]) || !strstr(eb, "oss:b/dir/a.bin") || strchr(eb, '\n'))
        fail_msg("%s '%s': %s", hdrs[k], bad[i], eb);
      store_head_release(&h);
      kvlist_release(&l);
    }
  }
  kvlist_init(&l);
  kvlist_add(&l, "Content-Length", "-5");
  assert_int_equal(store_head_parse(&h, STORE_COS, &l, "cos:b/k", eb), FERRY_ERR_STORE);
  assert_string_equal(
      eb,
      "bad Content-Length header \"-5\" (not an unsigned decimal size) in "
      "the response for cos:b/k");
  store_head_release(&h);
  kvlist_release(&l);

  kvlist_init(&l);
  kvlist_add(&l, "Content-Range", "bytes 0-9/x");
  kvlist_add(&l, "Content-Length", "10");
  assert_int_equal(store_head_parse(&h, STORE_COS, &l, NULL, eb), FERRY_ERR_STORE);
  assert_non_null(strstr(eb, "bad Content-Range header \"bytes 0-9/x\""));
  assert_non_null(strstr(eb, "the object"));
  store_head_release(&h);
  kvlist_release(&l);

  /* Good values and absent headers. */
  kvlist_init(&l);
  kvlist_add(&l, "Content-Length", "18446744073709551615");
  kvlist_add(&l, "x-cos-hash-crc64ecma", "0");
  assert_int_equal(store_head_parse(&h, STORE_COS, &l, "x", eb), FERRY_OK);
  assert_true(h.size == UINT64_MAX);
  assert_int_equal(h.has_crc64, 1);
  store_head_release(&h);
  kvlist_release(&l);
  kvlist_init(&l);
  assert_int_equal(store_head_parse(&h, STORE_COS, &l, "x", eb), FERRY_OK);
  assert_true(h.size == 0);
  assert_int_equal(h.has_crc64, 0);
  store_head_release(&h);
  kvlist_release(&l);
  assert_int_equal(store_head_parse(&h, STORE_COS, NULL, "x", eb), FERRY_OK);
  store_head_release(&h);
}

static void response(int status, const char *hdr, const char *val, const char *body,
                     store_error_t *e) {
  kvlist_t l;
  kvlist_init(&l);
  if (hdr) kvlist_add(&l, hdr, val);
  store_error_from_response(e, status, &l, body, body ? strlen(body) : 0, CURLE_OK, NULL);
  kvlist_release(&l);
}

/* A 200 whose body is an <Error> (COS and OSS answer a slow
 * CompleteMultipartUpload so) is an error with its code; bodies that are
 * not error documents are named as such; Retry-After never goes negative;
 * an oversized request id is cut, not overrun. */
static void test_error_responses(void **state) {
  static const char *retry_after[] = {
      "99999999999999999999", "-5", "1e3", "soon", "Mon, 01 Jan 1900 00:00:00 GMT", ""};
  store_error_t e;
  char line[512], big[4096];
  size_t i;
  (void)state;
  response(200, "x-cos-request-id", "NjA4",
           "<?xml version='1.0'?>\n<Error><Code>InternalError</Code>"
           "<Message>We encountered an internal error.</Message></Error>",
           &e);
  assert_string_equal(e.code, "InternalError");
  assert_string_equal(e.request_id, "NjA4");
  assert_int_equal(e.retryable, 1);
  response(200, NULL, NULL, "<html><body>proxy \x01 page</body></html>", &e);
  assert_string_equal(e.code, "");
  assert_non_null(strstr(e.message, "HTTP 200 with a non-error body: <html>"));
  /* A truncated error body: the status still names the problem. */
  response(503, NULL, NULL, "<Error><Code>SlowDown</Code><Mess", &e);
  assert_string_equal(e.code, "ServiceUnavailable");
  assert_non_null(strstr(e.message, "non-error body: <Error><Code>SlowDown"));
  assert_int_equal(e.retryable, 1);
  for (i = 0; i < FERRY_ARRAY_LEN(retry_after); i++) {
    response(503, "Retry-After", retry_after[i], NULL, &e);
    assert_true(e.retry_after_s == 0);
  }
  response(503, "Retry-After", "86400000", NULL, &e);
  assert_true(e.retry_after_s == 86400000); /* backoff_delay_ms caps what it honours */
  memset(big, 'r', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  response(403, "x-oss-request-id", big, big, &e);
  assert_int_equal(strlen(e.request_id), sizeof(e.request_id) - 1);
  assert_string_equal(e.code, "AccessDenied");
  store_error_format(&e, line, sizeof(line));
  assert_true(strlen(line) < sizeof(line));
  /* x-oss-err that is not base64, or base64 of garbage. */
  response(404, "x-oss-err", "!!!not base64!!!", NULL, &e);
  assert_string_equal(e.code, "NoSuchKey");
  response(404, "x-oss-err", "AAECAwQF", NULL, &e);
  assert_string_equal(e.code, "NoSuchKey");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xml_absurd_sizes),
      cmocka_unit_test(test_xml_absurd_part_numbers_and_sizes),
      cmocka_unit_test(test_xml_absurd_dates),
      cmocka_unit_test(test_xml_keys_every_character),
      cmocka_unit_test(test_xml_key_limit_multibyte),
      cmocka_unit_test(test_json_absurd_sizes),
      cmocka_unit_test(test_json_keys_every_character),
      cmocka_unit_test(test_head_absurd_headers),
      cmocka_unit_test(test_head_parse_refuses_bad_numbers),
      cmocka_unit_test(test_error_responses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
