/*
 * Unit tests for lib/bus/msg.c: round trips of every message with awkward
 * keys, and every decoder refusing bad input with an error naming the field.
 * docs/messages.md is checked against the encoder byte for byte, so the
 * examples there stay true (run with FERRY_PRINT_EXAMPLES=1 to print them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "bus/msg.h"

/* ---------- fixtures ---------- */

static char long_key[1024];   /* 1023 bytes + NUL */

static const char *odd_keys[] = {
    "photos/2024/IMG_0001.jpg",
    "\xe6\x95\xb0\xe6\x8d\xae/\xe3\x83\x95\xe3\x82\xa1\xe3\x82\xa4\xe3\x83\xab "
    "\xc3\xa9\xf0\x9f\x98\x80.txt",          /* 数据/ファイル é😀.txt */
    "quote\"d \"key\"",
    "back\\slash\\\\",
    "ctl\x01\x02\t\n\r\x1f\x7f end",
    "  leading and trailing spaces  ",
    "a+b=c&d?e#f%20g",
    "/",
    long_key,
};

static void init_long_key(void) {
  size_t i;
  for (i = 0; i < sizeof(long_key) - 1; i++) long_key[i] = (char)('a' + i % 26);
  long_key[sizeof(long_key) - 1] = '\0';
}

static msg_loc_t loc(const char *store, const char *bucket, const char *prefix) {
  msg_loc_t l;
  l.store = (char *)store;
  l.bucket = (char *)bucket;
  l.prefix = (char *)prefix;
  return l;
}

/* Fixtures point at string literals: they are never released. */
static msg_obj_t ex_objs[3];

static msg_segment_t ex_segment(void) {
  msg_segment_t s;
  memset(&s, 0, sizeof(s));
  memset(ex_objs, 0, sizeof(ex_objs));
  ex_objs[0].key = "photos/2024/IMG_0001.jpg";
  ex_objs[0].size = 2481152;
  ex_objs[0].etag = "5B3C1A2E053D763E1B002CC607C5A0FE";
  ex_objs[0].mtime = 1705307400;
  ex_objs[0].has_crc64 = 1;
  ex_objs[0].crc64 = 11051210869376104954ULL;
  ex_objs[1].key = "photos/2024/\xe6\x97\x85\xe8\xa1\x8c \"A\".png";  /* 旅行 */
  ex_objs[1].size = 0;
  ex_objs[1].etag = NULL;
  ex_objs[1].mtime = -1;
  ex_objs[2].key = "photos/readme.txt";
  ex_objs[2].size = 11;
  ex_objs[2].etag = "5eb63bbbe01eeed093cb22bb8f5acdc3";
  ex_objs[2].mtime = 1705307401;
  ex_objs[2].dst_key = "archive/readme.txt";
  s.task = "oss-to-cos";
  s.id = "1-000042";
  s.run = 1;
  s.src = loc("oss-hz", "src-bucket", "photos/");
  s.dst = loc("cos-gz", "dst-bucket-1250000000", "");
  s.policy = POLICY_SKIP_IF_SAME;
  s.objs = ex_objs;
  s.n_objs = 3;
  s.has_limits = 1;
  s.qps_limit = 0;
  s.bandwidth_limit = 104857600;
  return s;
}

static msg_segment_t ex_segment_range(void) {
  msg_segment_t s = ex_segment();
  memset(ex_objs, 0, sizeof(ex_objs));
  ex_objs[0].key = "videos/big.mp4";
  ex_objs[0].size = 53687091200ULL;
  ex_objs[0].etag = "A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5-6400";
  ex_objs[0].mtime = 1705307400;
  s.id = "1-000043";
  s.n_objs = 1;
  s.range.present = 1;
  s.range.upload_id = "0004B9895DBBB6EC98E36";
  s.range.part_first = 101;
  s.range.part_last = 200;
  s.range.part_size = 8388608;
  s.range.parts_total = 6400;
  return s;
}

static msg_outcome_t ex_outcomes[2];

static msg_result_t ex_result(void) {
  msg_result_t r;
  memset(&r, 0, sizeof(r));
  memset(ex_outcomes, 0, sizeof(ex_outcomes));
  ex_outcomes[0].key = "photos/2024/IMG_0002.jpg";
  ex_outcomes[0].size = 1048576;
  ex_outcomes[0].status = ST_SKIPPED;
  ex_outcomes[0].reason = "same";
  ex_outcomes[0].attempts = 1;
  ex_outcomes[0].duration_ms = 12;
  ex_outcomes[0].etag = "9E107D9D372BB6826BD81D3542A419D6";
  ex_outcomes[1].key = "photos/2024/IMG_0003.jpg";
  ex_outcomes[1].size = 524288;
  ex_outcomes[1].status = ST_FAILED;
  ex_outcomes[1].reason = "access-denied";
  ex_outcomes[1].bytes = 0;
  ex_outcomes[1].attempts = 3;
  ex_outcomes[1].duration_ms = 2210;
  ex_outcomes[1].http_status = 403;
  ex_outcomes[1].code = "AccessDenied";
  ex_outcomes[1].request_id = "NjVhNGM1ZjBfMTJhZTM1MGJfNGU5Ml8xYTI=";
  ex_outcomes[1].message = "Access Denied.";
  ex_outcomes[1].etag = "E4D909C290D0FB1CA068FFADDF22CBD0";
  r.task = "oss-to-cos";
  r.segment = "1-000042";
  r.run = 1;
  r.worker = "worker-7f3a@host-12";
  r.n_objects = 250;
  r.n_copied = 248;
  r.n_skipped = 1;
  r.n_failed = 1;
  r.bytes = 731906048;
  r.started_ms = 1705307412345;
  r.finished_ms = 1705307419876;
  r.outcomes = ex_outcomes;
  r.n_outcomes = 2;
  return r;
}

/* The result of the part range above: its 100 parts uploaded, the object
 * not complete yet (another range finishes it). */
static msg_result_t ex_result_range(void) {
  msg_result_t r;
  memset(&r, 0, sizeof(r));
  r.task = "oss-to-cos";
  r.segment = "1-000043";
  r.run = 1;
  r.worker = "worker-7f3a@host-12";
  r.n_objects = 1;
  r.bytes = 838860800;
  r.started_ms = 1705307412345;
  r.finished_ms = 1705307431876;
  r.range.present = 1;
  r.range.key = "videos/big.mp4";
  r.range.size = 53687091200ULL;
  r.range.part_first = 101;
  r.range.part_last = 200;
  r.range.parts_total = 6400;
  return r;
}

static msg_failed_t ex_failed(void) {
  msg_failed_t f;
  memset(&f, 0, sizeof(f));
  f.task = "oss-to-cos";
  f.segment = "1-000042";
  f.run = 1;
  f.src = loc("oss-hz", "src-bucket", "photos/");
  f.dst = loc("cos-gz", "dst-bucket-1250000000", "");
  f.obj.key = "photos/2024/IMG_0003.jpg";
  f.obj.size = 524288;
  f.obj.etag = "E4D909C290D0FB1CA068FFADDF22CBD0";
  f.obj.mtime = 1705307300;
  f.obj.has_crc64 = 1;
  f.obj.crc64 = 5981764153023615706ULL;
  f.outcome.key = "photos/2024/IMG_0003.jpg";
  f.outcome.size = 524288;
  f.outcome.status = ST_FAILED;
  f.outcome.reason = "http-503";
  f.outcome.attempts = 5;
  f.outcome.duration_ms = 30512;
  f.outcome.http_status = 503;
  f.outcome.code = "SlowDown";
  f.outcome.message = "Please reduce your request rate.";
  f.outcome.etag = "E4D909C290D0FB1CA068FFADDF22CBD0";
  f.at_ms = 1705307419870;
  return f;
}

static msg_hb_task_t ex_hb_tasks[2];

static msg_heartbeat_t ex_heartbeat(void) {
  msg_heartbeat_t h;
  memset(&h, 0, sizeof(h));
  memset(ex_hb_tasks, 0, sizeof(ex_hb_tasks));
  h.worker = "worker-3";
  h.instance = "4242-5f1e2d3c4b5a";
  h.at_ms = 1705307460123;
  h.every_ms = 1000;
  ex_hb_tasks[0].task = "oss-to-cos";
  ex_hb_tasks[0].objects = 96;
  ex_hb_tasks[0].held = 1;
  ex_hb_tasks[1].task = "logs";
  ex_hb_tasks[1].objects = 12;
  h.tasks = ex_hb_tasks;
  h.n_tasks = 2;
  return h;
}

static msg_task_t ex_task(void) {
  msg_task_t t;
  memset(&t, 0, sizeof(t));
  t.task = "oss-to-cos";
  t.run = 1;
  t.src = loc("oss-hz", "src-bucket", "photos/");
  t.dst = loc("cos-gz", "dst-bucket-1250000000", "");
  t.policy = POLICY_SKIP_IF_SAME;
  t.state = "listing";
  t.listed_objects = 1250000;
  t.listed_bytes = 3661877248000ULL;
  t.segments = 5000;
  t.checkpoint = "photos/2023/12/31/IMG_9999.jpg";
  t.updated_ms = 1705307420000;
  return t;
}

static msg_outcome_t ex_outcome(void) {
  msg_outcome_t o;
  memset(&o, 0, sizeof(o));
  o.key = "photos/2024/IMG_0001.jpg";
  o.size = 2481152;
  o.status = ST_COPIED;
  o.bytes = 2481152;
  o.attempts = 1;
  o.duration_ms = 184;
  o.etag = "5B3C1A2E053D763E1B002CC607C5A0FE";
  return o;
}

/* ---------- comparisons ---------- */

static void assert_str_or_null(const char *a, const char *b) {
  if (!a || !b) {
    assert_ptr_equal(a, b);
    return;
  }
  assert_string_equal(a, b);
}

static void assert_loc_equal(const msg_loc_t *a, const msg_loc_t *b) {
  assert_string_equal(a->store, b->store);
  assert_string_equal(a->bucket, b->bucket);
  assert_string_equal(a->prefix, b->prefix ? b->prefix : "");
}

static void assert_obj_equal(const msg_obj_t *a, const msg_obj_t *b) {
  assert_string_equal(a->key, b->key);
  assert_true(a->size == b->size);
  assert_str_or_null(a->etag, b->etag);
  assert_true(a->mtime == b->mtime);
  assert_int_equal(a->has_crc64, b->has_crc64);
  if (a->has_crc64) assert_true(a->crc64 == b->crc64);
  assert_str_or_null(a->dst_key, b->dst_key);
}

static void assert_outcome_equal(const msg_outcome_t *a, const msg_outcome_t *b) {
  assert_string_equal(a->key, b->key);
  assert_true(a->size == b->size);
  assert_int_equal(a->status, b->status);
  assert_str_or_null(a->reason, b->reason);
  assert_true(a->bytes == b->bytes);
  assert_int_equal(a->attempts, b->attempts);
  assert_true(a->duration_ms == b->duration_ms);
  assert_int_equal(a->http_status, b->http_status);
  assert_str_or_null(a->code, b->code);
  assert_str_or_null(a->request_id, b->request_id);
  assert_str_or_null(a->message, b->message);
  assert_str_or_null(a->etag, b->etag);
}

static void assert_segment_equal(const msg_segment_t *a, const msg_segment_t *b) {
  size_t i;
  assert_string_equal(a->task, b->task);
  assert_string_equal(a->id, b->id);
  assert_int_equal(a->run, b->run);
  assert_loc_equal(&a->src, &b->src);
  assert_loc_equal(&a->dst, &b->dst);
  assert_int_equal(a->policy, b->policy);
  assert_int_equal(a->n_objs, b->n_objs);
  for (i = 0; i < a->n_objs; i++) assert_obj_equal(&a->objs[i], &b->objs[i]);
  assert_int_equal(a->has_limits, b->has_limits);
  assert_true(a->qps_limit == b->qps_limit);
  assert_true(a->bandwidth_limit == b->bandwidth_limit);
  assert_int_equal(a->range.present, b->range.present);
  if (a->range.present) {
    assert_string_equal(a->range.upload_id, b->range.upload_id);
    assert_int_equal(a->range.part_first, b->range.part_first);
    assert_int_equal(a->range.part_last, b->range.part_last);
    assert_true(a->range.part_size == b->range.part_size);
    assert_int_equal(a->range.parts_total, b->range.parts_total);
  }
}

static void assert_result_equal(const msg_result_t *a, const msg_result_t *b) {
  size_t i;
  assert_string_equal(a->task, b->task);
  assert_string_equal(a->segment, b->segment);
  assert_int_equal(a->run, b->run);
  assert_string_equal(a->worker, b->worker);
  assert_true(a->n_objects == b->n_objects);
  assert_true(a->n_copied == b->n_copied);
  assert_true(a->n_skipped == b->n_skipped);
  assert_true(a->n_failed == b->n_failed);
  assert_true(a->bytes == b->bytes);
  assert_true(a->started_ms == b->started_ms);
  assert_true(a->finished_ms == b->finished_ms);
  assert_int_equal(a->n_outcomes, b->n_outcomes);
  for (i = 0; i < a->n_outcomes; i++)
    assert_outcome_equal(&a->outcomes[i], &b->outcomes[i]);
  assert_int_equal(a->range.present, b->range.present);
  if (a->range.present) {
    assert_string_equal(a->range.key, b->range.key);
    assert_true(a->range.size == b->range.size);
    assert_int_equal(a->range.part_first, b->range.part_first);
    assert_int_equal(a->range.part_last, b->range.part_last);
    assert_int_equal(a->range.parts_total, b->range.parts_total);
  }
}

static void assert_failed_equal(const msg_failed_t *a, const msg_failed_t *b) {
  assert_string_equal(a->task, b->task);
  assert_string_equal(a->segment, b->segment);
  assert_int_equal(a->run, b->run);
  assert_loc_equal(&a->src, &b->src);
  assert_loc_equal(&a->dst, &b->dst);
  assert_obj_equal(&a->obj, &b->obj);
  assert_outcome_equal(&a->outcome, &b->outcome);
  assert_true(a->at_ms == b->at_ms);
}

static void assert_task_equal(const msg_task_t *a, const msg_task_t *b) {
  assert_string_equal(a->task, b->task);
  assert_int_equal(a->run, b->run);
  assert_loc_equal(&a->src, &b->src);
  assert_loc_equal(&a->dst, &b->dst);
  assert_int_equal(a->policy, b->policy);
  assert_string_equal(a->state, b->state);
  assert_true(a->listed_objects == b->listed_objects);
  assert_true(a->listed_bytes == b->listed_bytes);
  assert_true(a->segments == b->segments);
  assert_str_or_null(a->checkpoint, b->checkpoint);
  assert_true(a->updated_ms == b->updated_ms);
}

/* ---------- generic decode driver ---------- */

typedef enum { K_SEGMENT, K_RESULT, K_FAILED, K_TASK, K_OUTCOME, K_HEARTBEAT } kind_t;

/* Decodes as kind, releases on success; returns the error. */
static ferry_err_t decode_any(kind_t k, const char *buf, size_t len, char *eb) {
  ferry_err_t e = FERRY_ERR_INVALID;
  eb[0] = '\0';
  switch (k) {
  case K_SEGMENT: {
    msg_segment_t m;
    if ((e = msg_segment_decode(buf, len, &m, eb)) == FERRY_OK) msg_segment_release(&m);
    break;
  }
  case K_RESULT: {
    msg_result_t m;
    if ((e = msg_result_decode(buf, len, &m, eb)) == FERRY_OK) msg_result_release(&m);
    break;
  }
  case K_FAILED: {
    msg_failed_t m;
    if ((e = msg_failed_decode(buf, len, &m, eb)) == FERRY_OK) msg_failed_release(&m);
    break;
  }
  case K_TASK: {
    msg_task_t m;
    if ((e = msg_task_decode(buf, len, &m, eb)) == FERRY_OK) msg_task_release(&m);
    break;
  }
  case K_OUTCOME: {
    msg_outcome_t m;
    if ((e = msg_outcome_decode(buf, len, &m, eb)) == FERRY_OK) msg_outcome_release(&m);
    break;
  }
  case K_HEARTBEAT: {
    msg_heartbeat_t m;
    if ((e = msg_heartbeat_decode(buf, len, &m, eb)) == FERRY_OK) msg_heartbeat_release(&m);
    break;
  }
  }
  return e;
}

static const char *kind_name(kind_t k) {
  static const char *n[] = {"segment", "result", "failed", "task", "outcome", "heartbeat"};
  return n[k];
}

static char *encode_example(kind_t k) {
  switch (k) {
  case K_SEGMENT: { msg_segment_t m = ex_segment(); return msg_segment_encode(&m); }
  case K_RESULT: { msg_result_t m = ex_result(); return msg_result_encode(&m); }
  case K_FAILED: { msg_failed_t m = ex_failed(); return msg_failed_encode(&m); }
  case K_TASK: { msg_task_t m = ex_task(); return msg_task_encode(&m); }
  case K_OUTCOME: { msg_outcome_t m = ex_outcome(); return msg_outcome_encode(&m); }
  case K_HEARTBEAT: { msg_heartbeat_t m = ex_heartbeat(); return msg_heartbeat_encode(&m); }
  }
  return NULL;
}

static void expect_reject(kind_t k, const char *json, const char *want) {
  char eb[FERRY_ERRLEN];
  ferry_err_t e = decode_any(k, json, strlen(json), eb);
  if (e != FERRY_ERR_PARSE || !strstr(eb, want)) {
    print_error("%s: decoding %s\n  gave %d \"%s\", wanted PARSE with \"%s\"\n",
                kind_name(k), json, e, eb, want);
    fail();
  }
}

/* Walks a path "a.b[2].c" in doc; returns the parent container and the last
 * step (name, or index when *name is NULL). */
static json_t *walk(json_t *doc, const char *path, char *last, size_t lastlen,
                    size_t *idx) {
  char buf[128];
  char *p, *tok, *save = NULL;
  json_t *cur = doc, *parent = NULL;
  snprintf(buf, sizeof(buf), "%s", path);
  last[0] = '\0';
  for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
    assert_non_null(cur);   /* every step but the last must exist */
    p = strchr(tok, '[');
    if (p) *p = '\0';
    parent = cur;
    snprintf(last, lastlen, "%s", tok);
    cur = json_object_get(cur, tok);
    while (p) {
      size_t i = strtoul(p + 1, NULL, 10);
      parent = cur;
      last[0] = '\0';
      *idx = i;
      cur = json_array_get(cur, i);
      p = strchr(p + 1, '[');
    }
  }
  return parent;
}

/* Returns the example of kind k with path replaced by v (stolen), or
 * deleted when v is NULL; free with free(). */
static char *mutate(kind_t k, const char *path, json_t *v) {
  char *enc = encode_example(k), *out, last[64];
  json_error_t je;
  json_t *doc = json_loads(enc, 0, &je), *parent;
  size_t idx = 0;
  assert_non_null(doc);
  parent = walk(doc, path, last, sizeof(last), &idx);
  if (last[0]) {
    if (v) json_object_set_new(parent, last, v);
    else json_object_del(parent, last);
  } else {
    if (v) json_array_set_new(parent, idx, v);
    else json_array_remove(parent, idx);
  }
  out = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  free(enc);
  return out;
}

static void expect_mutation_rejected(kind_t k, const char *path, json_t *v,
                                     const char *want) {
  char *j = mutate(k, path, v);
  expect_reject(k, j, want);
  free(j);
}

/* ---------- round trips ---------- */

static void test_segment_roundtrip(void **state) {
  size_t i;
  msg_obj_t objs[FERRY_ARRAY_LEN(odd_keys)];
  msg_segment_t s = ex_segment(), d;
  char eb[FERRY_ERRLEN], *j;
  (void)state;
  memset(objs, 0, sizeof(objs));
  for (i = 0; i < FERRY_ARRAY_LEN(odd_keys); i++) {
    objs[i].key = (char *)odd_keys[i];
    objs[i].size = i == 0 ? (uint64_t)INT64_MAX : i * 1000;
    objs[i].etag = i % 2 ? NULL : (char *)odd_keys[(i + 1) % FERRY_ARRAY_LEN(odd_keys)];
    objs[i].mtime = i == 1 ? -1 : (int64_t)(1700000000 + i);
    objs[i].has_crc64 = i % 3 != 0;
    objs[i].crc64 = i == 1 ? UINT64_MAX : i * 7919;
    objs[i].dst_key = i == 4 ? (char *)odd_keys[1] : NULL;
  }
  s.objs = objs;
  s.n_objs = FERRY_ARRAY_LEN(odd_keys);
  s.src.prefix = "\xe7\x9b\xae\xe5\xbd\x95/";
  s.dst.prefix = NULL;   /* encodes as "" */
  j = msg_segment_encode(&s);
  assert_non_null(j);
  assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_segment_equal(&d, &s);
  assert_string_equal(d.dst.prefix, "");
  msg_segment_release(&d);
  fx_free(j);

  s = ex_segment_range();
  j = msg_segment_encode(&s);
  assert_non_null(j);
  assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_segment_equal(&d, &s);
  msg_segment_release(&d);
  msg_segment_release(NULL);
  fx_free(j);
}

static void test_result_roundtrip(void **state) {
  msg_result_t r = ex_result(), d;
  msg_outcome_t ocs[FERRY_ARRAY_LEN(odd_keys)];
  char eb[FERRY_ERRLEN], *j;
  size_t i;
  (void)state;
  memset(ocs, 0, sizeof(ocs));
  for (i = 0; i < FERRY_ARRAY_LEN(odd_keys); i++) {
    ocs[i].key = (char *)odd_keys[i];
    ocs[i].size = i;
    ocs[i].status = (msg_status_t)(i % 5);
    ocs[i].reason = i % 5 ? "exists" : NULL;
    ocs[i].message = i % 2 ? (char *)odd_keys[i] : NULL;
    ocs[i].request_id = i == 3 ? "id" : NULL;
    ocs[i].code = i == 3 ? "NoSuchKey" : NULL;
    ocs[i].http_status = i == 3 ? 404 : 0;
    ocs[i].attempts = (int)i;
  }
  r.outcomes = ocs;
  r.n_outcomes = FERRY_ARRAY_LEN(odd_keys);
  j = msg_result_encode(&r);
  assert_non_null(j);
  assert_int_equal(msg_result_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_result_equal(&d, &r);
  msg_result_release(&d);
  fx_free(j);

  /* No outcomes at all: "outcomes":[] and a NULL array back. */
  r.n_outcomes = 0;
  r.outcomes = NULL;
  j = msg_result_encode(&r);
  assert_non_null(strstr(j, "\"outcomes\":[]"));
  assert_int_equal(msg_result_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_result_equal(&d, &r);
  assert_null(d.outcomes);
  msg_result_release(&d);
  fx_free(j);

  /* A part range's result. */
  r = ex_result_range();
  j = msg_result_encode(&r);
  assert_non_null(j);
  assert_int_equal(msg_result_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_result_equal(&d, &r);
  msg_result_release(&d);
  fx_free(j);
}

static void test_failed_roundtrip(void **state) {
  msg_failed_t f = ex_failed(), d;
  char eb[FERRY_ERRLEN], *j;
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(odd_keys); i++) {
    f.obj.key = f.outcome.key = (char *)odd_keys[i];
    f.outcome.message = (char *)odd_keys[(i + 2) % FERRY_ARRAY_LEN(odd_keys)];
    j = msg_failed_encode(&f);
    assert_non_null(j);
    assert_int_equal(msg_failed_decode(j, strlen(j), &d, eb), FERRY_OK);
    assert_failed_equal(&d, &f);
    msg_failed_release(&d);
    fx_free(j);
  }
}

static void test_task_roundtrip(void **state) {
  msg_task_t t = ex_task(), d;
  char eb[FERRY_ERRLEN], *j;
  static char *states[] = {"listing", "listed", "failed"};
  size_t i;
  (void)state;
  for (i = 0; i < 3; i++) {
    t.state = states[i];
    t.checkpoint = i == 1 ? NULL : (char *)odd_keys[i + 3];
    t.policy = (msg_policy_t)i;
    j = msg_task_encode(&t);
    assert_non_null(j);
    assert_int_equal(msg_task_decode(j, strlen(j), &d, eb), FERRY_OK);
    assert_task_equal(&d, &t);
    msg_task_release(&d);
    fx_free(j);
  }
}

static void test_outcome_lines(void **state) {
  msg_outcome_t o = ex_outcome(), d;
  char eb[FERRY_ERRLEN], *j, line[4096];
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(odd_keys); i++) {
    o.key = (char *)odd_keys[i];
    o.status = (msg_status_t)(i % 5);
    o.reason = i % 5 ? "integrity" : NULL;
    j = msg_outcome_encode(&o);
    assert_non_null(j);
    /* One line: control characters in keys are escaped, never raw. */
    assert_null(strchr(j, '\n'));
    assert_null(strchr(j, '\r'));
    assert_int_equal(strncmp(j, "{\"v\":1,", 7), 0);
    /* As read back from a JSON-lines file, with its newline. */
    snprintf(line, sizeof(line), "%s\n", j);
    assert_int_equal(msg_outcome_decode(line, strlen(line), &d, eb), FERRY_OK);
    assert_outcome_equal(&d, &o);
    msg_outcome_release(&d);
    fx_free(j);
  }
}

static void test_heartbeat(void **state) {
  msg_heartbeat_t h = ex_heartbeat(), d;
  char eb[FERRY_ERRLEN], *j;
  size_t i;
  (void)state;
  j = msg_heartbeat_encode(&h);
  assert_non_null(j);
  assert_int_equal(msg_heartbeat_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_string_equal(d.worker, h.worker);
  assert_string_equal(d.instance, h.instance);
  assert_true(d.at_ms == h.at_ms);
  assert_true(d.every_ms == h.every_ms);
  assert_false(d.leaving);
  assert_int_equal(d.n_tasks, 2);
  for (i = 0; i < 2; i++) {
    assert_string_equal(d.tasks[i].task, h.tasks[i].task);
    assert_true(d.tasks[i].objects == h.tasks[i].objects);
    assert_int_equal(d.tasks[i].held, h.tasks[i].held);
  }
  msg_heartbeat_release(&d);
  msg_heartbeat_release(NULL);
  fx_free(j);
  /* Leaving, no tasks. */
  h.leaving = 1;
  h.n_tasks = 0;
  j = msg_heartbeat_encode(&h);
  assert_non_null(strstr(j, "\"leaving\":true"));
  assert_int_equal(msg_heartbeat_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_true(d.leaving);
  assert_int_equal(d.n_tasks, 0);
  msg_heartbeat_release(&d);
  fx_free(j);
  h.worker = NULL;
  assert_null(msg_heartbeat_encode(&h));
  expect_reject(K_HEARTBEAT, "{\"v\":1,\"instance\":\"i\",\"at_ms\":1,\"every_ms\":1000,\"tasks\":[]}",
                "heartbeat.worker: missing");
  expect_reject(K_HEARTBEAT, "{\"v\":1,\"worker\":\"w\",\"instance\":\"i\",\"at_ms\":1,\"every_ms\":0,\"tasks\":[]}",
                "heartbeat.every_ms: 0 out of range");
  expect_reject(K_HEARTBEAT, "{\"v\":1,\"worker\":\"w\",\"instance\":\"i\",\"at_ms\":1,\"every_ms\":1000,\"tasks\":{}}",
                "heartbeat.tasks: not an array");
  expect_reject(K_HEARTBEAT, "{\"v\":1,\"worker\":\"w\",\"instance\":\"i\",\"at_ms\":1,\"every_ms\":1000,\"tasks\":[{\"task\":\"t\",\"objects\":1}]}",
                "heartbeat.tasks[0].held: missing");
  expect_reject(K_HEARTBEAT, "{\"v\":1,\"worker\":\"w\",\"instance\":\"i\",\"at_ms\":1,\"every_ms\":1000,\"tasks\":[7]}",
                "heartbeat.tasks[0]: not an object");
  expect_reject(K_HEARTBEAT, "{\"v\":1,\"worker\":\"w\",\"instance\":\"i\",\"at_ms\":1,\"every_ms\":1000,\"leaving\":1,\"tasks\":[]}",
                "heartbeat.leaving: not a boolean");
}

/* A segment's limits: optional, both members when present. */
static void test_segment_limits(void **state) {
  msg_segment_t s = ex_segment(), d;
  char eb[FERRY_ERRLEN], *j;
  (void)state;
  s.has_limits = 0;
  j = msg_segment_encode(&s);
  assert_null(strstr(j, "limits"));
  assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_false(d.has_limits);
  msg_segment_release(&d);
  fx_free(j);
  s.has_limits = 1;
  s.qps_limit = 8;
  s.bandwidth_limit = 0;
  j = msg_segment_encode(&s);
  assert_non_null(strstr(j, "\"limits\":{\"qps\":8,\"bandwidth\":0}"));
  assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_segment_equal(&d, &s);
  msg_segment_release(&d);
  fx_free(j);
  expect_reject(K_SEGMENT,
                "{\"v\":1,\"task\":\"t\",\"id\":\"1-1\",\"run\":1,\"src\":{\"store\":\"a\",\"bucket\":\"b\"},"
                "\"dst\":{\"store\":\"a\",\"bucket\":\"c\"},\"policy\":\"skip\",\"objs\":[{\"key\":\"k\",\"size\":1,\"mtime\":-1}],"
                "\"limits\":{\"qps\":-1,\"bandwidth\":0}}",
                "segment.limits.qps: not a non-negative integer");
  expect_reject(K_SEGMENT,
                "{\"v\":1,\"task\":\"t\",\"id\":\"1-1\",\"run\":1,\"src\":{\"store\":\"a\",\"bucket\":\"b\"},"
                "\"dst\":{\"store\":\"a\",\"bucket\":\"c\"},\"policy\":\"skip\",\"objs\":[{\"key\":\"k\",\"size\":1,\"mtime\":-1}],"
                "\"limits\":{\"qps\":1}}",
                "segment.limits.bandwidth: missing");
  /* The task's bandwidth_schedule, carried as limits.schedule. */
  {
    char *sched[] = {"08:00-19:00=10M", "19:00-08:00=0"};
    s.schedule = sched;
    s.n_schedule = 2;
    j = msg_segment_encode(&s);
    assert_non_null(strstr(j, "\"limits\":{\"qps\":8,\"bandwidth\":0,\"schedule\":[\"08:00-19:00=10M\",\"19:00-08:00=0\"]}"));
    assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_OK);
    assert_int_equal(d.n_schedule, 2);
    assert_string_equal(d.schedule[1], "19:00-08:00=0");
    msg_segment_release(&d);
    fx_free(j);
    s.schedule = NULL;
    s.n_schedule = 0;
  }
  expect_reject(K_SEGMENT,
                "{\"v\":1,\"task\":\"t\",\"id\":\"1-1\",\"run\":1,\"src\":{\"store\":\"a\",\"bucket\":\"b\"},"
                "\"dst\":{\"store\":\"a\",\"bucket\":\"c\"},\"policy\":\"skip\",\"objs\":[{\"key\":\"k\",\"size\":1,\"mtime\":-1}],"
                "\"limits\":{\"qps\":1,\"bandwidth\":0,\"schedule\":[\"\"]}}",
                "segment.limits.schedule[0]: not a non-empty string");
}

/* A segment's copy settings: optional; class names checked (they become
 * a request header's value). */
static void test_segment_copy(void **state) {
  msg_segment_t s = ex_segment(), d;
  char eb[FERRY_ERRLEN], *j;
  const char *seg = "{\"v\":1,\"task\":\"t\",\"id\":\"1-1\",\"run\":1,\"src\":{\"store\":\"a\","
                    "\"bucket\":\"b\"},\"dst\":{\"store\":\"a\",\"bucket\":\"c\"},\"policy\":\"skip\","
                    "\"objs\":[{\"key\":\"k\",\"size\":1,\"mtime\":-1}],\"copy\":";
  char bad[1024];
  (void)state;
  j = msg_segment_encode(&s);
  assert_null(strstr(j, "copy"));
  fx_free(j);
  s.has_copy = 1;
  kvlist_init(&s.class_map);
  kvlist_add(&s.class_map, "*", "STANDARD_IA");
  kvlist_add(&s.class_map, "Archive", "");
  s.record_src_etag = 1;
  j = msg_segment_encode(&s);
  assert_non_null(strstr(j, "\"copy\":{\"class_map\":[\"*=STANDARD_IA\",\"Archive=\"],"
                            "\"record_source_etag\":true}"));
  assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_int_equal(d.has_copy, 1);
  assert_int_equal(d.record_src_etag, 1);
  assert_int_equal(d.class_map.n, 2);
  assert_string_equal(d.class_map.v[0].name, "*");
  assert_string_equal(d.class_map.v[0].value, "STANDARD_IA");
  assert_string_equal(d.class_map.v[1].name, "Archive");
  assert_string_equal(d.class_map.v[1].value, "");
  msg_segment_release(&d);
  fx_free(j);
  kvlist_release(&s.class_map);
  snprintf(bad, sizeof(bad), "%s{\"class_map\":[\"A=B\\r\\nX-Evil: 1\"],\"record_source_etag\":false}}", seg);
  expect_reject(K_SEGMENT, bad, "segment.copy.class_map[0]: not \"SRC=DST\"");
  snprintf(bad, sizeof(bad), "%s{\"class_map\":[\"=B\"],\"record_source_etag\":false}}", seg);
  expect_reject(K_SEGMENT, bad, "segment.copy.class_map[0]");
  snprintf(bad, sizeof(bad), "%s{\"class_map\":[]}}", seg);
  expect_reject(K_SEGMENT, bad, "segment.copy.record_source_etag: missing");
}

static void test_enum_names(void **state) {
  msg_policy_t p;
  msg_status_t s;
  (void)state;
  assert_string_equal(msg_policy_str(POLICY_SKIP_IF_SAME), "skip-if-same");
  assert_int_equal(msg_policy_parse("skip", &p), 0);
  assert_int_equal(p, POLICY_SKIP);
  assert_int_equal(msg_policy_parse("Skip", &p), -1);
  assert_int_equal(msg_policy_parse(NULL, &p), -1);
  assert_string_equal(msg_status_str(ST_VANISHED), "vanished");
  assert_int_equal(msg_status_parse("changed", &s), 0);
  assert_int_equal(s, ST_CHANGED);
  assert_int_equal(msg_status_parse("", &s), -1);
  assert_string_equal(msg_status_str((msg_status_t)99), "?");
}

/* Strings JSON cannot hold make the encoder return NULL, never bad JSON. */
static void test_encode_unrepresentable(void **state) {
  msg_segment_t s = ex_segment();
  msg_outcome_t o = ex_outcome();
  msg_task_t t = ex_task();
  (void)state;
  ex_objs[1].key = "bad\xff utf8";
  assert_null(msg_segment_encode(&s));
  s = ex_segment();
  ex_objs[0].size = (uint64_t)INT64_MAX + 1;
  assert_null(msg_segment_encode(&s));
  s = ex_segment();
  s.task = NULL;
  assert_null(msg_segment_encode(&s));
  o.key = NULL;
  assert_null(msg_outcome_encode(&o));
  o = ex_outcome();
  o.status = (msg_status_t)42;
  assert_null(msg_outcome_encode(&o));
  t.policy = (msg_policy_t)7;
  assert_null(msg_task_encode(&t));
}

/* ---------- rejections ---------- */

static const kind_t all_kinds[] = {K_SEGMENT, K_RESULT, K_FAILED, K_TASK, K_OUTCOME};

static void test_reject_envelope(void **state) {
  static const struct {
    const char *json, *want;
  } bad[] = {
      {"", "empty input"},
      {"   ", "invalid JSON"},
      {"[]", "not a JSON object"},
      {"[{\"v\":1}]", "not a JSON object"},
      {"1", "not a JSON object"},
      {"\"x\"", "not a JSON object"},
      {"null", "not a JSON object"},
      {"true", "not a JSON object"},
      {"{", "invalid JSON"},
      {"{\"v\":1", "invalid JSON"},
      {"{\"v\":1}}", "invalid JSON"},
      {"{\"v\":1} x", "invalid JSON"},
      {"{'v':1}", "invalid JSON"},
      {"{\"v\":1,\"v\":1}", "invalid JSON"},            /* duplicate key */
      {"{\"v\":\"1\"}", ".v: not an integer"},
      {"{\"v\":1.0}", ".v: not an integer"},
      {"{\"v\":2}", ".v: unsupported version 2"},
      {"{\"v\":0}", ".v: unsupported version 0"},
      {"{\"v\":-1}", ".v: unsupported version -1"},
      {"{}", ".v: missing"},
      {"{\"v\":null}", ".v: missing"},
      {"{\"v\":99999999999999999999}", "invalid JSON"},  /* beyond int64 */
      {"{\"v\":1,\"task\":\"\xff\"}", "invalid JSON"},   /* bad UTF-8 */
      {"{\"v\":1,\"task\":\"a\x01\"}", "invalid JSON"},  /* raw control */
  };
  size_t i, k;
  char eb[FERRY_ERRLEN];
  (void)state;
  for (k = 0; k < FERRY_ARRAY_LEN(all_kinds); k++) {
    for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) expect_reject(all_kinds[k], bad[i].json, bad[i].want);
    assert_int_equal(decode_any(all_kinds[k], NULL, 0, eb), FERRY_ERR_PARSE);
    assert_non_null(strstr(eb, "empty input"));
    /* Bytes after an embedded NUL must not be ignored. */
    assert_int_equal(decode_any(all_kinds[k], "{\"v\":1}\0junk", 12, eb), FERRY_ERR_PARSE);
  }
  expect_reject(K_SEGMENT, "{\"v\":2}", "segment.v: unsupported version 2 (expected 1)");
}

/* Every proper prefix of a valid message is refused, without a crash or a
 * leak, and the full message is accepted. */
static void test_reject_truncated(void **state) {
  size_t k, n;
  char eb[FERRY_ERRLEN];
  (void)state;
  for (k = 0; k < FERRY_ARRAY_LEN(all_kinds); k++) {
    char *j = encode_example(all_kinds[k]);
    size_t len = strlen(j);
    for (n = 0; n < len; n++)
      assert_int_equal(decode_any(all_kinds[k], j, n, eb), FERRY_ERR_PARSE);
    assert_int_equal(decode_any(all_kinds[k], j, len, eb), FERRY_OK);
    fx_free(j);
  }
}

/* Required fields, as paths into each example. */
static const char *const req_segment[] = {
    "v", "task", "id", "run", "src", "src.store", "src.bucket", "dst", "dst.store",
    "dst.bucket", "policy", "objs", "objs[1].key", "objs[2].size", "objs[0].mtime"};
static const char *const req_result[] = {
    "v", "task", "segment", "run", "worker", "n_objects", "n_copied", "n_skipped",
    "n_failed", "bytes", "started_ms", "finished_ms", "outcomes",
    "outcomes[1].key", "outcomes[1].size", "outcomes[0].status",
    "outcomes[1].bytes", "outcomes[1].attempts", "outcomes[1].duration_ms",
    "outcomes[1].http_status"};
static const char *const req_failed[] = {
    "v", "task", "segment", "run", "src", "src.store", "dst", "dst.bucket", "obj",
    "obj.key", "obj.size", "obj.mtime", "outcome", "outcome.key", "outcome.status",
    "outcome.attempts", "at_ms"};
static const char *const req_task[] = {
    "v", "task", "run", "src", "dst", "policy", "state", "listed_objects",
    "listed_bytes", "segments", "updated_ms", "src.bucket"};
static const char *const req_outcome[] = {
    "v", "key", "size", "status", "bytes", "attempts", "duration_ms", "http_status"};

static const struct {
  kind_t k;
  const char *const *paths;
  size_t n;
} required[] = {
    {K_SEGMENT, req_segment, FERRY_ARRAY_LEN(req_segment)},
    {K_RESULT, req_result, FERRY_ARRAY_LEN(req_result)},
    {K_FAILED, req_failed, FERRY_ARRAY_LEN(req_failed)},
    {K_TASK, req_task, FERRY_ARRAY_LEN(req_task)},
    {K_OUTCOME, req_outcome, FERRY_ARRAY_LEN(req_outcome)},
};

static void test_reject_missing(void **state) {
  size_t r, i;
  char want[160];
  (void)state;
  for (r = 0; r < FERRY_ARRAY_LEN(required); r++) {
    for (i = 0; i < required[r].n; i++) {
      const char *p = required[r].paths[i];
      snprintf(want, sizeof(want), "%s.%s: missing", kind_name(required[r].k), p);
      expect_mutation_rejected(required[r].k, p, NULL, want);
      /* JSON null is the same as absent. */
      expect_mutation_rejected(required[r].k, p, json_null(), want);
    }
  }
}

/* Optional fields can go. */
static void test_optional_absent(void **state) {
  static const struct {
    kind_t k;
    const char *path;
  } opt[] = {
      {K_SEGMENT, "objs[0].etag"}, {K_SEGMENT, "objs[0].crc64"},
      {K_SEGMENT, "objs[2].dst_key"}, {K_SEGMENT, "src.prefix"},
      {K_RESULT, "outcomes[1].reason"}, {K_RESULT, "outcomes[1].code"},
      {K_RESULT, "outcomes[1].request_id"}, {K_RESULT, "outcomes[1].message"},
      {K_RESULT, "outcomes[1].etag"}, {K_TASK, "checkpoint"},
      {K_FAILED, "obj.etag"}, {K_OUTCOME, "etag"},
  };
  size_t i;
  char eb[FERRY_ERRLEN];
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(opt); i++) {
    char *a = mutate(opt[i].k, opt[i].path, NULL);
    char *b = mutate(opt[i].k, opt[i].path, json_null());
    assert_int_equal(decode_any(opt[i].k, a, strlen(a), eb), FERRY_OK);
    assert_int_equal(decode_any(opt[i].k, b, strlen(b), eb), FERRY_OK);
    free(a);
    free(b);
  }
  /* Unknown members are ignored (forward compatibility within v1). */
  {
    char *a = mutate(K_SEGMENT, "future_field", json_pack("{s:i}", "x", 1));
    assert_int_equal(decode_any(K_SEGMENT, a, strlen(a), eb), FERRY_OK);
    free(a);
  }
}

static void test_reject_types(void **state) {
  static const struct {
    kind_t k;
    const char *path, *jval, *want;
  } bad[] = {
      {K_SEGMENT, "task", "5", "segment.task: not a string"},
      {K_SEGMENT, "task", "\"\"", "segment.task: empty string"},
      {K_SEGMENT, "id", "[]", "segment.id: not a string"},
      {K_SEGMENT, "run", "\"1\"", "segment.run: not an integer"},
      {K_SEGMENT, "run", "0", "segment.run: 0 out of range"},
      {K_SEGMENT, "run", "2147483648", "segment.run: 2147483648 out of range"},
      {K_SEGMENT, "run", "1.5", "segment.run: not an integer"},
      {K_SEGMENT, "src", "\"oss\"", "segment.src: not an object"},
      {K_SEGMENT, "src.store", "true", "segment.src.store: not a string"},
      {K_SEGMENT, "dst.bucket", "\"\"", "segment.dst.bucket: empty string"},
      {K_SEGMENT, "dst.prefix", "{}", "segment.dst.prefix: not a string"},
      {K_SEGMENT, "policy", "\"clobber\"", "segment.policy: unknown value \"clobber\""},
      {K_SEGMENT, "policy", "\"SKIP\"", "segment.policy: unknown value"},
      {K_SEGMENT, "policy", "1", "segment.policy: not a string"},
      {K_SEGMENT, "objs", "{}", "segment.objs: not an array"},
      {K_SEGMENT, "objs", "[]", "segment.objs: empty array"},
      {K_SEGMENT, "objs[1]", "\"k\"", "segment.objs[1]: not an object"},
      {K_SEGMENT, "objs[2].size", "-1", "segment.objs[2].size: not a non-negative integer"},
      {K_SEGMENT, "objs[2].size", "1e3", "segment.objs[2].size: not a non-negative integer"},
      {K_SEGMENT, "objs[2].size", "\"12\"", "segment.objs[2].size: not a non-negative integer"},
      {K_SEGMENT, "objs[0].mtime", "-2", "segment.objs[0].mtime: -2 out of range"},
      {K_SEGMENT, "objs[0].key", "\"\"", "segment.objs[0].key: empty string"},
      {K_SEGMENT, "objs[0].key", "7", "segment.objs[0].key: not a string"},
      {K_SEGMENT, "objs[0].key", "\"a\\u0000b\"", "segment.objs[0].key: contains a NUL"},
      {K_SEGMENT, "objs[0].etag", "\"\\u0000\"", "segment.objs[0].etag: contains a NUL"},
      {K_SEGMENT, "objs[0].etag", "1", "segment.objs[0].etag: not a string"},
      {K_SEGMENT, "objs[0].crc64", "123", "segment.objs[0].crc64: not a string"},
      {K_SEGMENT, "objs[0].crc64", "\"-1\"", "segment.objs[0].crc64: not a decimal"},
      {K_SEGMENT, "objs[0].crc64", "\"\"", "segment.objs[0].crc64: not a decimal"},
      {K_SEGMENT, "objs[0].crc64", "\"18446744073709551616\"", "segment.objs[0].crc64: not a decimal"},
      {K_SEGMENT, "objs[0].crc64", "\"0x12\"", "segment.objs[0].crc64: not a decimal"},
      {K_SEGMENT, "objs[2].dst_key", "\"\"", "segment.objs[2].dst_key: empty string"},
      {K_SEGMENT, "range", "[]", "segment.range: not an object"},
      {K_SEGMENT, "range", "{}", "segment.range.upload_id: missing"},
      {K_SEGMENT, "range",
       "{\"upload_id\":\"u\",\"part_first\":0,\"part_last\":1,\"part_size\":1}",
       "segment.range.part_first: 0 out of range"},
      {K_SEGMENT, "range",
       "{\"upload_id\":\"u\",\"part_first\":5,\"part_last\":4,\"part_size\":1}",
       "segment.range.part_last: 4 out of range [5, 10000]"},
      {K_SEGMENT, "range",
       "{\"upload_id\":\"u\",\"part_first\":1,\"part_last\":10001,\"part_size\":1}",
       "segment.range.part_last: 10001 out of range"},
      {K_SEGMENT, "range",
       "{\"upload_id\":\"u\",\"part_first\":1,\"part_last\":2,\"part_size\":0}",
       "segment.range.part_size: zero"},
      {K_SEGMENT, "range",
       "{\"upload_id\":\"u\",\"part_first\":1,\"part_last\":2,\"part_size\":-8}",
       "segment.range.part_size: not a non-negative integer"},
      {K_SEGMENT, "range",
       "{\"upload_id\":\"u\",\"part_first\":1,\"part_last\":2,\"part_size\":8}",
       "segment.range: a part range needs exactly one object, got 3"},
      {K_RESULT, "range", "[]", "result.range: not an object"},
      {K_RESULT, "range", "{}", "result.range.key: missing"},
      {K_RESULT, "range",
       "{\"key\":\"k\",\"size\":9,\"part_first\":1,\"part_last\":3,\"parts_total\":2}",
       "result.range.part_last: 3 out of range [1, 2]"},
      {K_RESULT, "range",
       "{\"key\":\"k\",\"size\":9,\"part_first\":1,\"part_last\":1,\"parts_total\":2}",
       "result.range: a part range is one object, n_objects is 250"},
      {K_RESULT, "worker", "\"\"", "result.worker: empty string"},
      {K_RESULT, "n_failed", "-3", "result.n_failed: not a non-negative integer"},
      {K_RESULT, "n_copied", "251", "result.n_objects: 250 is less than"},
      {K_RESULT, "bytes", "-1", "result.bytes: not a non-negative integer"},
      {K_RESULT, "started_ms", "-5", "result.started_ms: not a non-negative integer"},
      {K_RESULT, "finished_ms", "\"now\"", "result.finished_ms: not a non-negative integer"},
      {K_RESULT, "outcomes", "{}", "result.outcomes: not an array"},
      {K_RESULT, "outcomes[0]", "[]", "result.outcomes[0]: not an object"},
      {K_RESULT, "outcomes[1].status", "\"lost\"", "result.outcomes[1].status: unknown value \"lost\""},
      {K_RESULT, "outcomes[1].status", "\"copied\\u0000\"", "result.outcomes[1].status: unknown value"},
      {K_RESULT, "outcomes[1].size", "-1", "result.outcomes[1].size: not a non-negative integer"},
      {K_RESULT, "outcomes[1].bytes", "-1", "result.outcomes[1].bytes: not a non-negative integer"},
      {K_RESULT, "outcomes[1].attempts", "-1", "result.outcomes[1].attempts: -1 out of range"},
      {K_RESULT, "outcomes[1].http_status", "1000", "result.outcomes[1].http_status: 1000 out of range"},
      {K_RESULT, "outcomes[1].duration_ms", "-1", "result.outcomes[1].duration_ms: not a non-negative"},
      {K_RESULT, "outcomes[1].reason", "\"\"", "result.outcomes[1].reason: empty string"},
      {K_RESULT, "outcomes[1].code", "404", "result.outcomes[1].code: not a string"},
      {K_RESULT, "outcomes[1].request_id", "{}", "result.outcomes[1].request_id: not a string"},
      {K_RESULT, "outcomes[1].message", "[]", "result.outcomes[1].message: not a string"},
      {K_FAILED, "obj", "[]", "failed.obj: not an object"},
      {K_FAILED, "obj.size", "-1", "failed.obj.size: not a non-negative integer"},
      {K_FAILED, "outcome", "1", "failed.outcome: not an object"},
      {K_FAILED, "outcome.status", "\"ok\"", "failed.outcome.status: unknown value \"ok\""},
      {K_FAILED, "at_ms", "-1", "failed.at_ms: not a non-negative integer"},
      {K_FAILED, "src.store", "\"a\\u0000\"", "failed.src.store: contains a NUL"},
      {K_TASK, "state", "\"done\"", "task.state: unknown value \"done\""},
      {K_TASK, "state", "\"\"", "task.state: unknown value \"\""},
      {K_TASK, "policy", "\"skip-if-newer\"", "task.policy: unknown value"},
      {K_TASK, "listed_objects", "-1", "task.listed_objects: not a non-negative integer"},
      {K_TASK, "listed_bytes", "1.0", "task.listed_bytes: not a non-negative integer"},
      {K_TASK, "segments", "-9", "task.segments: not a non-negative integer"},
      {K_TASK, "checkpoint", "5", "task.checkpoint: not a string"},
      {K_TASK, "checkpoint", "\"a\\u0000\"", "task.checkpoint: contains a NUL"},
      {K_TASK, "updated_ms", "-1", "task.updated_ms: not a non-negative integer"},
      {K_TASK, "run", "-1", "task.run: -1 out of range"},
      {K_OUTCOME, "status", "\"COPIED\"", "outcome.status: unknown value"},
      {K_OUTCOME, "status",
       "\"\\u0001\\\"very long status value that goes on and on and on\"",
       "outcome.status: unknown value \"\\x01\\x22very long"},
      {K_OUTCOME, "size", "-9223372036854775808", "outcome.size: not a non-negative integer"},
      {K_OUTCOME, "key", "\"\\u0000\"", "outcome.key: contains a NUL"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
    json_error_t je;
    json_t *v = json_loads(bad[i].jval, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    assert_non_null(v);
    expect_mutation_rejected(bad[i].k, bad[i].path, v, bad[i].want);
  }
}

/* Sizes: the whole signed 64-bit range that JSON carries is accepted. */
static void test_size_limits(void **state) {
  char eb[FERRY_ERRLEN];
  msg_segment_t d;
  char *j = mutate(K_SEGMENT, "objs[0].size", json_integer(INT64_MAX));
  (void)state;
  assert_int_equal(msg_segment_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_true(d.objs[0].size == (uint64_t)INT64_MAX);
  msg_segment_release(&d);
  free(j);
  expect_reject(K_OUTCOME,
                "{\"v\":1,\"key\":\"k\",\"size\":9223372036854775808,\"status\":\"copied\","
                "\"bytes\":0,\"attempts\":0,\"duration_ms\":0,\"http_status\":0}",
                "invalid JSON");
}

/* A corpus of mangled messages: flip, drop or duplicate bytes of every
 * example. Only the absence of crashes and leaks is checked (ASan build). */
static void test_mangled_no_crash(void **state) {
  size_t k, i;
  char eb[FERRY_ERRLEN];
  unsigned seed = 12345;
  (void)state;
  for (k = 0; k < FERRY_ARRAY_LEN(all_kinds); k++) {
    char *j = encode_example(all_kinds[k]);
    size_t len = strlen(j);
    char *m = malloc(len + 1);
    for (i = 0; i < 2000; i++) {
      size_t pos;
      memcpy(m, j, len + 1);
      seed = seed * 1103515245u + 12345u;
      pos = (seed >> 8) % len;
      switch (i % 4) {
      case 0: m[pos] = (char)(seed >> 16); break;
      case 1: m[pos] = "{}[]\":,0-\\ntf"[(seed >> 16) % 13]; break;
      case 2: memmove(m + pos, m + pos + 1, len - pos); break;
      case 3: m[pos] = m[(pos * 7) % len]; break;
      }
      (void)decode_any(all_kinds[k], m, strlen(m), eb);
    }
    free(m);
    fx_free(j);
  }
}

/* ---------- docs/messages.md ---------- */

/* The text of the json block after "<!-- example: NAME -->", or NULL. */
static char *doc_example(const char *doc, const char *name) {
  char marker[64];
  const char *p, *s, *e;
  snprintf(marker, sizeof(marker), "<!-- example: %s -->", name);
  p = strstr(doc, marker);
  if (!p) return NULL;
  s = strstr(p, "```json\n");
  if (!s) return NULL;
  s += 8;
  e = strstr(s, "\n```");
  if (!e) return NULL;
  return fx_strndup(s, (size_t)(e - s));
}


/* ---------- results split in parts ---------- */

/* n failed outcomes with keys of klen bytes, in a result of n objects. */
static msg_result_t big_result(size_t n, size_t klen, msg_outcome_t **oc) {
  msg_result_t r = ex_result();
  size_t i;
  *oc = fx_calloc(n, sizeof(**oc));
  for (i = 0; i < n; i++) {
    char *k = fx_malloc(klen + 1);
    memset(k, 'k', klen);
    snprintf(k, klen + 1, "%06zu", i);
    k[6] = '/';
    k[klen] = '\0';
    (*oc)[i] = ex_outcomes[1];
    (*oc)[i].key = k;
  }
  r.outcomes = *oc;
  r.n_outcomes = n;
  r.n_objects = n;
  r.n_copied = r.n_skipped = 0;
  r.n_failed = n;
  return r;
}

static void free_outcomes(msg_outcome_t *oc, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) fx_free(oc[i].key);
  fx_free(oc);
}

static void test_result_parts_fit(void **state) {
  msg_result_t r = ex_result();
  char **v, eb[FERRY_ERRLEN], *whole = msg_result_encode(&r);
  size_t n;
  (void)state;
  assert_int_equal(msg_result_encode_parts(&r, strlen(whole), &v, &n, eb), FERRY_OK);
  assert_int_equal(n, 1);
  assert_string_equal(v[0], whole);
  assert_null(strstr(v[0], "\"part"));
  msg_parts_free(v, n);
  fx_free(whole);
}

static void test_result_parts_split(void **state) {
  msg_outcome_t *oc;
  msg_result_t r = big_result(1000, 810, &oc);
  char **v, **v2, eb[FERRY_ERRLEN];
  size_t n, n2, i, k = 0;
  const size_t limit = 100000;
  (void)state;
  assert_int_equal(msg_result_encode_parts(&r, limit, &v, &n, eb), FERRY_OK);
  assert_true(n >= 10);
  for (i = 0; i < n; i++) {
    msg_result_t d;
    size_t j;
    assert_true(strlen(v[i]) <= limit);
    assert_int_equal(msg_result_decode(v[i], strlen(v[i]), &d, eb), FERRY_OK);
    assert_int_equal(d.part, (int)i + 1);
    assert_int_equal(d.parts, (int)n);
    assert_int_equal(d.n_objects, 1000);
    assert_int_equal(d.n_failed, 1000);
    assert_int_equal(d.started_ms, r.started_ms);
    assert_true(d.n_outcomes > 0);
    /* Consecutive slices, in order. */
    for (j = 0; j < d.n_outcomes; j++) assert_string_equal(d.outcomes[j].key, oc[k++].key);
    msg_result_release(&d);
  }
  assert_int_equal(k, 1000);
  /* Deterministic: the same result splits the same way. */
  assert_int_equal(msg_result_encode_parts(&r, limit, &v2, &n2, eb), FERRY_OK);
  assert_int_equal(n2, n);
  for (i = 0; i < n; i++) assert_string_equal(v[i], v2[i]);
  msg_parts_free(v, n);
  msg_parts_free(v2, n2);
  free_outcomes(oc, 1000);
}

static void test_result_parts_too_small(void **state) {
  msg_outcome_t *oc;
  msg_result_t r = big_result(3, 900, &oc);
  char **v = NULL, eb[FERRY_ERRLEN];
  size_t n = 7;
  (void)state;
  assert_int_equal(msg_result_encode_parts(&r, 1000, &v, &n, eb), FERRY_ERR_INVALID);
  assert_null(v);
  assert_int_equal(n, 0);
  assert_non_null(strstr(eb, "000000/"));
  assert_non_null(strstr(eb, "limit of 1000"));
  /* A single outcome cannot be split at all. */
  r.n_outcomes = 1;
  assert_int_equal(msg_result_encode_parts(&r, 1000, &v, &n, eb), FERRY_ERR_INVALID);
  free_outcomes(oc, 3);
}

static void test_result_parts_decode_bad(void **state) {
  static const char *bad[][2] = {
      {"\"part\":3,\"parts\":2", "result.part: 3 out of range"},
      {"\"part\":1", "result.parts: missing"},
      {"\"parts\":2", "result.part: missing"},
      {"\"part\":0,\"parts\":2", "result.part: 0 out of range"},
      {"\"part\":1,\"parts\":300", "result.parts: 300 parts for 250 objects"},
  };
  msg_result_t r = ex_result();
  char *whole = msg_result_encode(&r), eb[FERRY_ERRLEN];
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
    msg_result_t d;
    char *j = fx_asprintf("%.*s,%s}", (int)strlen(whole) - 1, whole, bad[i][0]);
    assert_int_equal(msg_result_decode(j, strlen(j), &d, eb), FERRY_ERR_PARSE);
    if (!strstr(eb, bad[i][1])) fail_msg("%s: got \"%s\"", bad[i][0], eb);
    fx_free(j);
  }
  fx_free(whole);
}

/* The second part of the example result cut in two (docs/messages.md). */
static char *ex_result_part(void) {
  msg_result_t r = ex_result();
  char **v, *whole = msg_result_encode(&r), eb[FERRY_ERRLEN], *p;
  size_t n;
  assert_int_equal(msg_result_encode_parts(&r, strlen(whole) - 1, &v, &n, eb), FERRY_OK);
  assert_int_equal(n, 2);
  p = v[1];
  v[1] = NULL;
  msg_parts_free(v, n);
  fx_free(whole);
  return p;
}

static void test_docs_examples(void **state) {
  /* FIXTURES_DIR is <src>/tests/fixtures, which need not exist yet. */
  static const char fixtures[] = FIXTURES_DIR;
  char path[4096];
  FILE *f;
  static const struct {
    kind_t k;
    const char *name;
  } ex[] = {{K_SEGMENT, "segment"}, {K_SEGMENT, "segment-range"},
            {K_RESULT, "result"}, {K_FAILED, "failed"}, {K_TASK, "task"},
            {K_OUTCOME, "outcome"}, {K_RESULT, "result-range"},
            {K_HEARTBEAT, "heartbeat"}, {K_RESULT, "result-part"}};
  char *doc, eb[FERRY_ERRLEN];
  long n;
  size_t i;
  int print = getenv("FERRY_PRINT_EXAMPLES") != NULL;
  (void)state;
  assert_true(sizeof(fixtures) > 15);
  snprintf(path, sizeof(path), "%.*s/docs/messages.md",
           (int)(sizeof(fixtures) - 1 - strlen("/tests/fixtures")), fixtures);
  f = fopen(path, "rb");
  if (!f) print_error("cannot open %s\n", path);
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  doc = fx_malloc((size_t)n + 1);
  assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
  doc[n] = '\0';
  fclose(f);
  for (i = 0; i < FERRY_ARRAY_LEN(ex); i++) {
    char *want, *got;
    if (i == 1) {
      msg_segment_t s = ex_segment_range();
      want = msg_segment_encode(&s);
    } else if (i == 6) {
      msg_result_t r = ex_result_range();
      want = msg_result_encode(&r);
    } else if (i == 8) {
      want = ex_result_part();
    } else {
      want = encode_example(ex[i].k);
    }
    got = doc_example(doc, ex[i].name);
    if (print) {
      printf("<!-- example: %s -->\n```json\n%s\n```\n", ex[i].name, want);
      fx_free(got);
      fx_free(want);
      continue;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(decode_any(ex[i].k, got, strlen(got), eb), FERRY_OK);
    fx_free(got);
    fx_free(want);
  }
  fx_free(doc);
}

static int setup(void **state) {
  (void)state;
  init_long_key();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_segment_roundtrip),
      cmocka_unit_test(test_result_roundtrip),
      cmocka_unit_test(test_failed_roundtrip),
      cmocka_unit_test(test_task_roundtrip),
      cmocka_unit_test(test_outcome_lines),
      cmocka_unit_test(test_enum_names),
      cmocka_unit_test(test_encode_unrepresentable),
      cmocka_unit_test(test_reject_envelope),
      cmocka_unit_test(test_reject_truncated),
      cmocka_unit_test(test_reject_missing),
      cmocka_unit_test(test_optional_absent),
      cmocka_unit_test(test_reject_types),
      cmocka_unit_test(test_size_limits),
      cmocka_unit_test(test_mangled_no_crash),
      cmocka_unit_test(test_docs_examples),
      cmocka_unit_test(test_result_parts_fit),
      cmocka_unit_test(test_result_parts_split),
      cmocka_unit_test(test_result_parts_too_small),
      cmocka_unit_test(test_result_parts_decode_bad),
      cmocka_unit_test(test_heartbeat),
      cmocka_unit_test(test_segment_limits),
      cmocka_unit_test(test_segment_copy),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
