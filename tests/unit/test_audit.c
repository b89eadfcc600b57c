/*
 * Unit tests for lib/bus/audit.c (the audit message's codec), the segment's
 * "audit" switch, and the rows of ferry-reporter --export-audit
 * (reporter/audit_export.c): round trips with awkward keys, the split into
 * parts under a limit, bad input refused with the field named, and the
 * example in docs/messages.md checked byte for byte against the encoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reporter/audit_export.h"
#include "bus/audit.h"
#include "bus/msg.h"

static msg_audit_rec_t ex_recs[] = {
    {.key = "photos/2024/IMG_0001.jpg", .dst_key = "photos/2024/IMG_0001.jpg",
     .size = 2481152, .has_crc64 = 1, .crc64 = 11051210869376104954ULL,
     .src_etag = "5B3C1A2E053D763E1B002CC607C5A0FE",
     .dst_etag = "5b3c1a2e053d763e1b002cc607c5a0fe", .overwrote = OVERWROTE_NO,
     .at_ms = 1705307419870},
    {.key = "photos/2024/IMG_0002.jpg", .dst_key = "photos/2024/IMG_0002.jpg",
     .size = 1048576, .has_crc64 = 1, .crc64 = 5981764153023615706ULL,
     .src_etag = "9E107D9D372BB6826BD81D3542A419D6",
     .dst_etag = "9e107d9d372bb6826bd81d3542a419d6", .overwrote = OVERWROTE_YES,
     .at_ms = 1705307419871},
    {.key = "videos/big.mp4", .dst_key = "videos/big.mp4", .size = 268435456,
     .has_crc64 = 1, .crc64 = 7310439658281425473ULL, .src_etag = "A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5-16",
     .dst_etag = "1f2e3d4c5b6a79880f1e2d3c4b5a6978-16", .overwrote = OVERWROTE_UNKNOWN,
     .at_ms = 1705307425002},
};

static msg_audit_t ex_audit(void) {
  msg_audit_t a;
  memset(&a, 0, sizeof(a));
  a.task = "oss-to-cos";
  a.segment = "1-000042";
  a.run = 1;
  a.worker = "worker-7f3a@host-12";
  a.dst.store = "cos-gz";
  a.dst.bucket = "dst-bucket-1250000000";
  a.dst.prefix = "";
  a.recs = ex_recs;
  a.n_recs = FERRY_ARRAY_LEN(ex_recs);
  return a;
}

static void assert_rec_equal(const msg_audit_rec_t *a, const msg_audit_rec_t *b) {
  assert_string_equal(a->key, b->key);
  assert_string_equal(a->dst_key, b->dst_key);
  assert_int_equal(a->size, b->size);
  assert_int_equal(a->has_crc64, b->has_crc64);
  if (a->has_crc64) assert_true(a->crc64 == b->crc64);
  if (a->src_etag || b->src_etag) assert_string_equal(a->src_etag, b->src_etag);
  if (a->dst_etag || b->dst_etag) assert_string_equal(a->dst_etag, b->dst_etag);
  assert_int_equal(a->overwrote, b->overwrote);
  assert_int_equal(a->at_ms, b->at_ms);
}

static void assert_audit_equal(const msg_audit_t *a, const msg_audit_t *b) {
  size_t i;
  assert_string_equal(a->task, b->task);
  assert_string_equal(a->segment, b->segment);
  assert_int_equal(a->run, b->run);
  assert_string_equal(a->worker, b->worker);
  assert_string_equal(a->dst.store, b->dst.store);
  assert_string_equal(a->dst.bucket, b->dst.bucket);
  assert_string_equal(a->dst.prefix, b->dst.prefix);
  assert_int_equal(a->n_recs, b->n_recs);
  for (i = 0; i < a->n_recs; i++) assert_rec_equal(&a->recs[i], &b->recs[i]);
}

static void test_roundtrip(void **state) {
  static const char *keys[] = {"\xe6\x95\xb0\xe6\x8d\xae/\xc3\xa9\xf0\x9f\x98\x80.txt",
                               "quote\"d \\ key", "ctl\x01\t\n\x7f end", "=1+2,\"x\""};
  msg_audit_t a = ex_audit(), d;
  msg_audit_rec_t r[FERRY_ARRAY_LEN(keys)];
  char eb[FERRY_ERRLEN], *j;
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(keys); i++) {
    r[i] = ex_recs[i % FERRY_ARRAY_LEN(ex_recs)];
    r[i].key = (char *)keys[i];
    r[i].dst_key = (char *)keys[i];
  }
  r[1].has_crc64 = 0;   /* optional members absent */
  r[1].src_etag = NULL;
  r[1].dst_etag = NULL;
  r[2].crc64 = UINT64_MAX;
  a.recs = r;
  a.n_recs = FERRY_ARRAY_LEN(keys);
  a.dst.prefix = "copy/";
  j = msg_audit_encode(&a);
  assert_non_null(j);
  assert_null(strchr(j, '\n'));
  assert_null(strstr(j, "\"part\""));
  assert_int_equal(msg_audit_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_audit_equal(&d, &a);
  assert_int_equal(d.part, 0);
  assert_int_equal(d.parts, 0);
  msg_audit_release(&d);
  fx_free(j);
  /* Not representable: a required string missing, invalid UTF-8. */
  r[0].dst_key = NULL;
  assert_null(msg_audit_encode(&a));
  r[0].dst_key = "\xff\xfe";
  assert_null(msg_audit_encode(&a));
}

static void test_overwrote_names(void **state) {
  msg_overwrote_t o;
  (void)state;
  assert_string_equal(msg_overwrote_str(OVERWROTE_UNKNOWN), "unknown");
  assert_string_equal(msg_overwrote_str(OVERWROTE_NO), "no");
  assert_string_equal(msg_overwrote_str(OVERWROTE_YES), "yes");
  assert_int_equal(msg_overwrote_parse("yes", &o), 0);
  assert_int_equal(o, OVERWROTE_YES);
  assert_int_equal(msg_overwrote_parse("maybe", &o), -1);
  assert_int_equal(msg_overwrote_parse(NULL, &o), -1);
}

/* n records with keys of klen bytes. */
static msg_audit_rec_t *many(size_t n, size_t klen) {
  msg_audit_rec_t *v = fx_calloc(n, sizeof(*v));
  size_t i;
  for (i = 0; i < n; i++) {
    char *k = fx_malloc(klen + 1);
    memset(k, 'k', klen);
    snprintf(k, klen + 1, "%06zu", i);
    k[6] = '/';
    k[klen] = '\0';
    v[i] = ex_recs[i % 3];
    v[i].key = k;
    v[i].dst_key = k;
  }
  return v;
}

static void free_many(msg_audit_rec_t *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) fx_free(v[i].key);
  fx_free(v);
}

static void test_parts(void **state) {
  msg_audit_t a = ex_audit();
  msg_audit_rec_t *v = many(1000, 800);
  char **parts, **again, eb[FERRY_ERRLEN];
  size_t n, n2, i, k, seen = 0, max = 100000;
  (void)state;
  a.recs = v;
  a.n_recs = 1000;
  assert_int_equal(msg_audit_encode_parts(&a, max, &parts, &n, eb), FERRY_OK);
  assert_true(n > 1);
  for (i = 0; i < n; i++) {
    msg_audit_t d;
    assert_true(strlen(parts[i]) <= max);
    assert_int_equal(msg_audit_decode(parts[i], strlen(parts[i]), &d, eb), FERRY_OK);
    assert_int_equal(d.part, (int)i + 1);
    assert_int_equal(d.parts, (int)n);
    assert_string_equal(d.segment, a.segment);
    for (k = 0; k < d.n_recs; k++) assert_rec_equal(&d.recs[k], &v[seen + k]);
    seen += d.n_recs;
    msg_audit_release(&d);
  }
  assert_int_equal(seen, 1000);   /* every record once, in order */
  /* Deterministic. */
  assert_int_equal(msg_audit_encode_parts(&a, max, &again, &n2, eb), FERRY_OK);
  assert_int_equal(n2, n);
  for (i = 0; i < n; i++) assert_string_equal(again[i], parts[i]);
  msg_parts_free(again, n2);
  msg_parts_free(parts, n);
  /* One record alone above the limit: refused, naming its key. */
  assert_int_equal(msg_audit_encode_parts(&a, 1000, &parts, &n, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "000000/"));
  assert_null(parts);
  /* A whole message that fits: one, without part numbers. */
  a.n_recs = 2;
  assert_int_equal(msg_audit_encode_parts(&a, max, &parts, &n, eb), FERRY_OK);
  assert_int_equal(n, 1);
  assert_null(strstr(parts[0], "\"parts\""));
  msg_parts_free(parts, n);
  /* Nothing written: nothing to send. */
  a.n_recs = 0;
  assert_int_equal(msg_audit_encode_parts(&a, max, &parts, &n, eb), FERRY_OK);
  assert_int_equal(n, 0);
  msg_parts_free(parts, n);
  free_many(v, 1000);
}

static void expect_reject(const char *json, const char *want) {
  msg_audit_t d;
  char eb[FERRY_ERRLEN];
  ferry_err_t e = msg_audit_decode(json, strlen(json), &d, eb);
  if (e == FERRY_OK) msg_audit_release(&d);
  assert_int_equal(e, FERRY_ERR_PARSE);
  if (!strstr(eb, want)) print_error("error \"%s\" lacks \"%s\"\n", eb, want);
  assert_non_null(strstr(eb, want));
}

#define HEAD "{\"v\":1,\"task\":\"t\",\"segment\":\"1-1\",\"run\":1,\"worker\":\"w\"," \
             "\"dst\":{\"store\":\"s\",\"bucket\":\"b\"},"
#define REC(extra) "{\"key\":\"k\",\"dst_key\":\"k\",\"size\":1,\"overwrote\":\"no\"," \
                   "\"at_ms\":1" extra "}"

static void test_bad_input(void **state) {
  msg_audit_t d;
  char eb[FERRY_ERRLEN];
  const char *ok = HEAD "\"records\":[" REC("") "]}";
  (void)state;
  assert_int_equal(msg_audit_decode(ok, strlen(ok), &d, eb), FERRY_OK);
  assert_string_equal(d.dst.prefix, "");
  assert_int_equal(d.recs[0].overwrote, OVERWROTE_NO);
  assert_false(d.recs[0].has_crc64);
  msg_audit_release(&d);
  expect_reject("", "audit: empty input");
  expect_reject("[1]", "audit: not a JSON object");
  expect_reject("{\"v\":1,", "audit: invalid JSON");
  expect_reject("{\"v\":2}", "audit.v: unsupported version 2");
  expect_reject("{\"task\":\"t\"}", "audit.v: missing");
  expect_reject("{\"v\":1,\"v\":1}", "invalid JSON");   /* duplicate member */
  expect_reject("{\"v\":1,\"task\":\"\"}", "audit.task: empty string");
  expect_reject("{\"v\":1,\"task\":\"t\",\"segment\":\"s\",\"run\":0}", "audit.run");
  expect_reject(HEAD "\"records\":{}}", "audit.records: not an array");
  expect_reject("{\"v\":1,\"task\":\"t\",\"segment\":\"1-1\",\"run\":1,\"worker\":\"w\"}",
                "audit.dst: missing");
  expect_reject(HEAD "\"records\":[1]}", "audit.records[0]: not an object");
  expect_reject(HEAD "\"records\":[{\"key\":\"k\"}]}", "audit.records[0].dst_key: missing");
  expect_reject(HEAD "\"records\":[" REC("") "," REC(",\"size\":-1") "]}", "invalid JSON");
  expect_reject(HEAD "\"records\":[{\"key\":\"k\",\"dst_key\":\"k\",\"size\":-1}]}",
                "audit.records[0].size");
  expect_reject(HEAD "\"records\":[{\"key\":\"k\",\"dst_key\":\"k\",\"size\":1.5}]}",
                "audit.records[0].size");
  expect_reject(HEAD "\"records\":[{\"key\":\"k\",\"dst_key\":\"k\",\"size\":1,"
                "\"overwrote\":\"maybe\",\"at_ms\":1}]}",
                "audit.records[0].overwrote: unknown value \"maybe\"");
  expect_reject(HEAD "\"records\":[{\"key\":\"k\",\"dst_key\":\"k\",\"size\":1,"
                "\"crc64\":\"12a\",\"overwrote\":\"no\",\"at_ms\":1}]}",
                "audit.records[0].crc64: not a decimal CRC-64");
  expect_reject(HEAD "\"records\":[{\"key\":\"k\",\"dst_key\":\"k\",\"size\":1,"
                "\"crc64\":\"18446744073709551616\",\"overwrote\":\"no\",\"at_ms\":1}]}",
                "audit.records[0].crc64");
  expect_reject(HEAD "\"records\":[{\"key\":\"a\\u0000b\"}]}",
                "audit.records[0].key: contains a NUL character");
  expect_reject(HEAD "\"records\":[{\"key\":\"k\",\"dst_key\":\"k\",\"size\":1,"
                "\"overwrote\":\"no\",\"at_ms\":-5}]}", "audit.records[0].at_ms");
  expect_reject(HEAD "\"records\":[],\"part\":3,\"parts\":2}", "audit.part");
  expect_reject(HEAD "\"records\":[],\"part\":1}", "audit.parts: missing");
}

/* The segment's switch: written only when on, read as a boolean. */
static void test_segment_switch(void **state) {
  static const char *seg =
      "{\"v\":1,\"task\":\"t\",\"id\":\"1-1\",\"run\":1,\"src\":{\"store\":\"a\",\"bucket\":\"b\"},"
      "\"dst\":{\"store\":\"a\",\"bucket\":\"c\"},\"policy\":\"skip\","
      "\"objs\":[{\"key\":\"k\",\"size\":1,\"mtime\":-1}]%s}";
  char buf[512], eb[FERRY_ERRLEN], *j;
  msg_segment_t s;
  (void)state;
  snprintf(buf, sizeof(buf), seg, "");
  assert_int_equal(msg_segment_decode(buf, strlen(buf), &s, eb), FERRY_OK);
  assert_false(s.audit);
  j = msg_segment_encode(&s);
  assert_null(strstr(j, "audit"));   /* off: not written, older readers see no change */
  fx_free(j);
  s.audit = 1;
  j = msg_segment_encode(&s);
  assert_non_null(strstr(j, "\"audit\":true"));
  msg_segment_release(&s);
  assert_int_equal(msg_segment_decode(j, strlen(j), &s, eb), FERRY_OK);
  assert_true(s.audit);
  msg_segment_release(&s);
  fx_free(j);
  snprintf(buf, sizeof(buf), seg, ",\"audit\":1");
  assert_int_equal(msg_segment_decode(buf, strlen(buf), &s, eb), FERRY_ERR_PARSE);
  assert_string_equal(eb, "segment.audit: not a boolean");
}

/* The rows of the export: CSV neutralised like the failed export's. */
static void test_rows(void **state) {
  msg_audit_t a = ex_audit();
  msg_audit_rec_t r[2];
  fbuf_t b;
  (void)state;
  r[0] = ex_recs[0];
  r[1] = ex_recs[1];
  r[1].key = "=HYPERLINK(\"x\")";
  r[1].dst_key = "a,b";
  r[1].src_etag = NULL;
  a.recs = r;
  a.n_recs = 2;
  fbuf_init(&b, 0);
  audit_rows(&a, TALLY_EXPORT_CSV, &b);
  assert_string_equal(
      fbuf_str(&b),
      "photos/2024/IMG_0001.jpg,cos-gz,dst-bucket-1250000000,photos/2024/IMG_0001.jpg,"
      "2481152,11051210869376104954,5B3C1A2E053D763E1B002CC607C5A0FE,"
      "5b3c1a2e053d763e1b002cc607c5a0fe,no,2024-01-15T08:30:19.870Z,1705307419870,"
      "worker-7f3a@host-12,1,1-000042\n"
      "\"'=HYPERLINK(\"\"x\"\")\",cos-gz,dst-bucket-1250000000,\"a,b\",1048576,"
      "5981764153023615706,,9e107d9d372bb6826bd81d3542a419d6,yes,"
      "2024-01-15T08:30:19.871Z,1705307419871,worker-7f3a@host-12,1,1-000042\n");
  fbuf_reset(&b);
  a.n_recs = 1;
  audit_rows(&a, TALLY_EXPORT_JSONL, &b);
  assert_string_equal(
      fbuf_str(&b),
      "{\"key\":\"photos/2024/IMG_0001.jpg\",\"dst_store\":\"cos-gz\","
      "\"dst_bucket\":\"dst-bucket-1250000000\",\"dst_key\":\"photos/2024/IMG_0001.jpg\","
      "\"size\":2481152,\"crc64\":\"11051210869376104954\","
      "\"src_etag\":\"5B3C1A2E053D763E1B002CC607C5A0FE\","
      "\"dst_etag\":\"5b3c1a2e053d763e1b002cc607c5a0fe\",\"overwrote\":\"no\","
      "\"written_at\":\"2024-01-15T08:30:19.870Z\",\"written_at_ms\":1705307419870,"
      "\"worker\":\"worker-7f3a@host-12\",\"run\":1,\"segment\":\"1-000042\"}\n");
  fbuf_release(&b);
  assert_non_null(strstr(audit_csv_header(), "key,dst_store,dst_bucket,dst_key,size,crc64"));
}

/* docs/messages.md's example is what the encoder writes, and decodes. */
static void test_docs_example(void **state) {
  static const char fixtures[] = FIXTURES_DIR;
  char path[4096], *doc, *want, eb[FERRY_ERRLEN];
  const char *p, *s, *e;
  msg_audit_t a = ex_audit(), d;
  FILE *f;
  long n;
  (void)state;
  snprintf(path, sizeof(path), "%.*s/docs/messages.md",
           (int)(sizeof(fixtures) - 1 - strlen("/tests/fixtures")), fixtures);
  want = msg_audit_encode(&a);
  if (getenv("FERRY_PRINT_EXAMPLES")) {
    printf("<!-- example: audit -->\n```json\n%s\n```\n", want);
    fx_free(want);
    return;
  }
  assert_non_null(f = fopen(path, "rb"));
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  doc = fx_malloc((size_t)n + 1);
  assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
  doc[n] = '\0';
  fclose(f);
  assert_non_null(p = strstr(doc, "<!-- example: audit -->"));
  assert_non_null(s = strstr(p, "```json\n"));
  s += 8;
  assert_non_null(e = strstr(s, "\n```"));
  assert_int_equal((size_t)(e - s), strlen(want));
  assert_memory_equal(s, want, strlen(want));
  assert_int_equal(msg_audit_decode(s, (size_t)(e - s), &d, eb), FERRY_OK);
  assert_audit_equal(&d, &a);
  msg_audit_release(&d);
  fx_free(want);
  fx_free(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_overwrote_names),
      cmocka_unit_test(test_parts),          cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_segment_switch), cmocka_unit_test(test_rows),
      cmocka_unit_test(test_docs_example),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
