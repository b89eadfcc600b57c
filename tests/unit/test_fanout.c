/*
 * Unit tests of the fan-out of huge objects (docs/fanout.md): the planning
 * (part size as the engine picks it, ranges spread evenly, every part in
 * exactly one range), the part-range segments and their ids from the
 * segmenter, and the reporter's counting of part-range results (one object
 * per run, by its verdict; redeliveries; aborted uploads; retries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus/msg.h"
#include "report/tally.h"
#include "plan/fanplan.h"
#include "policy/policy.h"
#include "plan/segmenter.h"

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)
#define T0 1700000000000LL
#define LATER (T0 + 86400000LL)

/* ---------- planning ---------- */

static void check_cover(const fanout_plan_t *p) {
  uint32_t i;
  int next = 1, first, last;
  uint64_t bytes = 0;
  for (i = 0; i < p->n_ranges; i++) {
    fanout_range(p, i, &first, &last);
    assert_int_equal(first, next);
    assert_true(last >= first);
    bytes += fanout_range_bytes(p, first, last);
    next = last + 1;
  }
  assert_int_equal(next - 1, (int)p->parts_total);
  assert_true(bytes == p->size);
}

static void test_plan(void **state) {
  fanout_plan_t p;
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_false(fanout_wanted(0, 100 * GiB));
  assert_false(fanout_wanted(8 * GiB, 8 * GiB - 1));
  assert_true(fanout_wanted(8 * GiB, 8 * GiB));

  /* 100 MiB, 5 MiB parts (COS minimum 1 MiB), ranges of 20 MiB: 20 parts, 5 ranges of 4. */
  assert_int_equal(fanout_plan(STORE_COS, 100 * MiB, 5 * MiB, 20 * MiB, &p, eb), FERRY_OK);
  assert_true(p.part_size == 5 * MiB);
  assert_int_equal(p.parts_total, 20);
  assert_int_equal(p.n_ranges, 5);
  check_cover(&p);
  {
    int f, l;
    fanout_range(&p, 1, &f, &l);
    assert_int_equal(f, 5);
    assert_int_equal(l, 8);
  }

  /* The part size is the engine's: raised so that no object needs more
   * than 10000 parts. 1 TiB with 16 MiB preferred -> >= 105 MiB parts. */
  assert_int_equal(fanout_plan(STORE_S3, 1024 * GiB, 16 * MiB, 1 * GiB, &p, eb), FERRY_OK);
  assert_true(p.part_size == policy_part_size(STORE_S3, 1024 * GiB, 16 * MiB));
  assert_true(p.parts_total <= 10000);
  assert_int_equal(p.n_ranges, 1024);
  check_cover(&p);

  /* An uneven cut: 100 MiB + 1 byte, ranges of 30 MiB -> 4 ranges, the
   * last part 1 byte. */
  assert_int_equal(fanout_plan(STORE_OSS, 100 * MiB + 1, 5 * MiB, 30 * MiB, &p, eb), FERRY_OK);
  assert_int_equal(p.parts_total, 21);
  assert_int_equal(p.n_ranges, 4);
  check_cover(&p);
  assert_true(fanout_range_bytes(&p, 21, 21) == 1);

  /* Never more ranges than parts; a range size of 0 = one range. */
  assert_int_equal(fanout_plan(STORE_COS, 10 * MiB, 5 * MiB, 1 * MiB, &p, eb), FERRY_OK);
  assert_int_equal(p.n_ranges, 2);
  check_cover(&p);
  assert_int_equal(fanout_plan(STORE_COS, 10 * MiB, 5 * MiB, 0, &p, eb), FERRY_OK);
  assert_int_equal(p.n_ranges, 1);
  check_cover(&p);

  /* Too large for the destination. */
  assert_int_equal(fanout_plan(STORE_S3, 60000 * GiB, 0, GiB, &p, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "maximum object size"));
}

/* ---------- segments and ids ---------- */

static void test_segments(void **state) {
  msg_loc_t src = {"oss", "b", "p/"}, dst = {"cos", "d", ""};
  msg_obj_t o;
  fanout_plan_t p;
  char eb[FERRY_ERRLEN], *id, *json;
  seg_t *sg;
  msg_segment_t *s, d;
  store_object_t small;
  msg_segment_t *ready = NULL;
  (void)state;
  memset(&o, 0, sizeof(o));
  o.key = "p/huge.bin";
  o.size = 100 * MiB;
  o.etag = "e-20";
  o.mtime = 5;
  o.has_crc64 = 1;
  o.crc64 = 18446744073709551615ull;
  assert_int_equal(fanout_plan(STORE_COS, o.size, 5 * MiB, 20 * MiB, &p, eb), FERRY_OK);

  sg = seg_new("t", 2, &src, &dst, POLICY_SKIP, 10, 0, NULL, eb);
  assert_non_null(sg);
  memset(&small, 0, sizeof(small));
  small.key = "p/a";
  small.size = 1;
  assert_int_equal(seg_add(sg, &small, &ready, eb), FERRY_OK);
  assert_null(ready);
  /* The lister flushes what is pending before the ranges take ids. */
  seg_flush(sg, &ready);
  assert_non_null(ready);
  assert_string_equal(ready->id, "2-000001");
  seg_segment_free(ready);
  id = seg_next_id(sg);
  assert_string_equal(id, "2-000002");
  s = fanout_segment(id, "t", 2, &src, &dst, POLICY_OVERWRITE, &o, "UP-1", &p, 4);
  fx_free(id);
  assert_int_equal(seg_count(sg), 2);
  assert_int_equal(s->range.part_first, 17);
  assert_int_equal(s->range.part_last, 20);
  assert_int_equal(s->range.parts_total, 20);
  json = msg_segment_encode(s);
  assert_non_null(json);
  assert_non_null(strstr(json, "\"range\":{\"upload_id\":\"UP-1\",\"part_first\":17,"
                               "\"part_last\":20,\"part_size\":5242880,\"parts_total\":20}"));
  assert_int_equal(msg_segment_decode(json, strlen(json), &d, eb), FERRY_OK);
  assert_int_equal(d.range.parts_total, 20);
  assert_true(d.objs[0].crc64 == o.crc64);
  msg_segment_release(&d);
  fx_free(json);
  /* A parts_total that does not match the object is refused. */
  s->range.parts_total = 21;
  json = msg_segment_encode(s);
  assert_int_equal(msg_segment_decode(json, strlen(json), &d, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "segment.range.parts_total: 21 does not match"));
  fx_free(json);
  seg_segment_free(s);
  seg_destroy(sg);
}

/* ---------- the reporter's counting ---------- */

static msg_task_t mk_task(int run, int retry_of, uint64_t objs, uint64_t bytes,
                          uint64_t segs) {
  msg_task_t t;
  memset(&t, 0, sizeof(t));
  t.task = "t";
  t.run = run;
  t.retry_of = retry_of;
  t.src.store = "oss", t.src.bucket = "b", t.src.prefix = "";
  t.dst.store = "cos", t.dst.bucket = "d", t.dst.prefix = "";
  t.state = "listed";
  t.listed_objects = objs;
  t.listed_bytes = bytes;
  t.segments = segs;
  t.updated_ms = T0 + run;
  return t;
}

static msg_outcome_t fail_oc;

/* The result of range [first, last] of "huge" (4 parts of 25 bytes, 100
 * bytes): verdict 'c' complete, 'p' parts only, 'f' failed (reason). */
static void range_result(tally_t *t, int run, const char *seg, int first, int last,
                         char verdict, const char *reason, uint64_t bytes, int want_dup) {
  msg_result_t r;
  char eb[FERRY_ERRLEN];
  int dup = -1;
  memset(&r, 0, sizeof(r));
  r.task = "t";
  r.segment = (char *)seg;
  r.run = run;
  r.worker = "w";
  r.n_objects = 1;
  r.bytes = bytes;
  r.started_ms = T0 + 10;
  r.finished_ms = T0 + 20;
  r.range.present = 1;
  r.range.key = "huge";
  r.range.size = 100;
  r.range.part_first = first;
  r.range.part_last = last;
  r.range.parts_total = 4;
  if (verdict == 'c') r.n_copied = 1;
  if (verdict == 'f') {
    memset(&fail_oc, 0, sizeof(fail_oc));
    fail_oc.key = "huge";
    fail_oc.size = 100;
    fail_oc.status = strcmp(reason, "changed") ? ST_FAILED : ST_CHANGED;
    fail_oc.reason = (char *)reason;
    r.n_failed = 1;
    r.outcomes = &fail_oc;
    r.n_outcomes = 1;
  }
  assert_int_equal(tally_add_result(t, &r, &dup, eb), FERRY_OK);
  assert_int_equal(dup, want_dup);
}

static tally_view_t view(tally_t *t) {
  tally_view_t v;
  assert_int_equal(tally_view(t, "t", LATER, &v), FERRY_OK);
  return v;
}

/* The task's object figures: its state, copied, failed and done objects,
 * and (reason non-NULL) its one failure reason. */
static void expect_objects(tally_t *t, tally_state_t state, uint64_t copied, uint64_t failed,
                           uint64_t done, const char *reason) {
  tally_view_t v = view(t);
  assert_int_equal(v.f.state, state);
  assert_int_equal(v.f.copied, copied);
  assert_int_equal(v.f.failed, failed);
  assert_int_equal(v.f.done_objects, done);
  if (reason) {
    assert_int_equal(v.f.n_failed_by, 1);
    assert_string_equal(v.f.failed_by[0].reason, reason);
  }
  tally_view_release(&v);
}

static void test_tally_copied_once(void **state) {
  tally_t *t = tally_new(NULL);
  tally_view_t v;
  char eb[FERRY_ERRLEN];
  (void)state;
  /* One fanned-out object in 2 ranges, plus one ordinary segment of 1 object. */
  {
    msg_task_t m = mk_task(1, 0, 2, 110, 3);
    assert_int_equal(tally_add_task(t, &m, eb), FERRY_OK);
  }
  {
    msg_result_t r;
    memset(&r, 0, sizeof(r));
    r.task = "t", r.segment = "1-000001", r.run = 1, r.worker = "w";
    r.n_objects = 1, r.n_copied = 1, r.bytes = 10;
    assert_int_equal(tally_add_result(t, &r, NULL, eb), FERRY_OK);
  }
  range_result(t, 1, "1-000002", 1, 2, 'p', NULL, 50, 0);
  v = view(t);
  /* Both segments of ranges are not in, and the object is undecided. */
  assert_int_equal(v.f.state, TALLY_RUNNING);
  assert_int_equal(v.f.copied, 1);
  assert_int_equal(v.f.done_objects, 1);
  assert_int_equal(v.f.done_bytes, 60);
  tally_view_release(&v);
  /* The last range completes the object. */
  range_result(t, 1, "1-000003", 3, 4, 'c', NULL, 50, 0);
  v = view(t);
  assert_int_equal(v.f.state, TALLY_COMPLETED);
  assert_int_equal(v.f.copied, 2);
  assert_int_equal(v.f.done_objects, 2);
  assert_int_equal(v.f.done_bytes, 110);
  assert_int_equal(v.f.bytes_copied, 110);
  assert_int_equal(v.f.segments_done, 3);
  tally_view_release(&v);
  /* Redeliveries and a second completer (another range saw it complete):
   * nothing counts twice. */
  range_result(t, 1, "1-000003", 3, 4, 'c', NULL, 50, 1);
  range_result(t, 1, "1-000002", 1, 2, 'c', NULL, 0, 1);
  v = view(t);
  assert_int_equal(v.f.copied, 2);
  assert_int_equal(v.f.done_objects, 2);
  assert_int_equal(v.f.bytes_copied, 110);
  assert_int_equal(v.f.failed, 0);
  tally_view_release(&v);
  tally_destroy(t);
}

static void test_tally_redelivery_decides(void **state) {
  tally_t *t = tally_new(NULL);
  tally_view_t v;
  char eb[FERRY_ERRLEN];
  (void)state;
  {
    msg_task_t m = mk_task(1, 0, 1, 100, 2);
    assert_int_equal(tally_add_task(t, &m, eb), FERRY_OK);
  }
  /* Both ranges first report parts only (one worker died after its result
   * but before its commit); the redelivered range then completes. */
  range_result(t, 1, "1-000001", 1, 2, 'p', NULL, 50, 0);
  range_result(t, 1, "1-000002", 3, 4, 'p', NULL, 50, 0);
  v = view(t);
  assert_int_equal(v.f.state, TALLY_RUNNING);  /* every segment in, the object not */
  assert_int_equal(v.f.done_objects, 0);
  tally_view_release(&v);
  range_result(t, 1, "1-000001", 1, 2, 'c', NULL, 50, 1);
  v = view(t);
  assert_int_equal(v.f.state, TALLY_COMPLETED);
  assert_int_equal(v.f.copied, 1);
  assert_int_equal(v.f.done_objects, 1);
  assert_int_equal(v.f.done_bytes, 100);
  assert_int_equal(v.f.bytes_copied, 100);
  tally_view_release(&v);
  tally_destroy(t);
}

/* A range that found one of its parts stored damaged ("integrity") decides
 * the object whatever its siblings said: another range may have completed
 * the upload with the damaged part (docs/fanout.md, "Failures"). */
static void test_tally_damaged_part_outranks_copied(void **state) {
  int order;
  (void)state;
  for (order = 0; order < 2; order++) {
    tally_t *t = tally_new(NULL);
    char eb[FERRY_ERRLEN];
    msg_task_t m = mk_task(1, 0, 1, 100, 2);
    assert_int_equal(tally_add_task(t, &m, eb), FERRY_OK);
    if (order == 0) {
      range_result(t, 1, "1-000002", 3, 4, 'c', NULL, 50, 0);
      range_result(t, 1, "1-000001", 1, 2, 'f', "integrity", 0, 0);
    } else {
      range_result(t, 1, "1-000001", 1, 2, 'f', "integrity", 0, 0);
      range_result(t, 1, "1-000002", 3, 4, 'c', NULL, 50, 0);
    }
    expect_objects(t, TALLY_COMPLETED_FAILURES, 0, 1, 1, "integrity");
    tally_destroy(t);
  }
}

static void test_tally_failed_then_retry(void **state) {
  tally_t *t = tally_new(NULL);
  tally_view_t v;
  char eb[FERRY_ERRLEN];
  (void)state;
  {
    msg_task_t m = mk_task(1, 0, 1, 100, 3);
    assert_int_equal(tally_add_task(t, &m, eb), FERRY_OK);
  }
  /* The source changed: one range fails (and aborts the upload); the
   * others meet NoSuchUpload. Whatever the order, the object counts once,
   * as changed. */
  range_result(t, 1, "1-000002", 2, 3, 'f', "upload-aborted", 0, 0);
  v = view(t);
  assert_int_equal(v.f.failed, 1);
  assert_int_equal(v.f.n_failed_by, 1);
  assert_string_equal(v.f.failed_by[0].reason, "upload-aborted");
  tally_view_release(&v);
  range_result(t, 1, "1-000001", 1, 1, 'f', "changed", 0, 0);
  range_result(t, 1, "1-000003", 4, 4, 'f', "upload-aborted", 25, 0);
  v = view(t);
  assert_int_equal(v.f.state, TALLY_COMPLETED_FAILURES);
  assert_int_equal(v.f.failed, 1);
  assert_int_equal(v.f.done_objects, 1);
  assert_int_equal(v.f.done_bytes, 100);
  assert_int_equal(v.f.n_failed_by, 1);
  assert_string_equal(v.f.failed_by[0].reason, "changed");
  tally_view_release(&v);
  {
    fbuf_t out;
    size_t n = 0;
    fbuf_init(&out, 0);
    tally_export_failed(t, "t", TALLY_EXPORT_JSONL, &out, &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(fbuf_str(&out), "\"key\":\"huge\""));
    assert_non_null(strstr(fbuf_str(&out), "\"status\":\"changed\""));
    fbuf_release(&out);
  }
  /* --retry-failed replays the whole object, fanned out again in run 2. */
  {
    msg_task_t m = mk_task(2, 1, 1, 100, 2);
    assert_int_equal(tally_add_task(t, &m, eb), FERRY_OK);
  }
  range_result(t, 2, "2-000001", 1, 2, 'p', NULL, 50, 0);
  range_result(t, 2, "2-000002", 3, 4, 'c', NULL, 50, 0);
  v = view(t);
  assert_int_equal(v.f.state, TALLY_COMPLETED);
  assert_int_equal(v.f.copied, 1);
  assert_int_equal(v.f.failed, 0);
  assert_int_equal(v.f.total_objects, 1);
  tally_view_release(&v);
  tally_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan),
      cmocka_unit_test(test_segments),
      cmocka_unit_test(test_tally_copied_once),
      cmocka_unit_test(test_tally_redelivery_decides),
      cmocka_unit_test(test_tally_damaged_part_outranks_copied),
      cmocka_unit_test(test_tally_failed_then_retry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
