/*
 * Unit tests for lib/report/tally.c: de-duplication, state transitions, skip
 * and failure reasons, retries moving keys from failed to copied, fresh
 * re-runs, compacted task records, order independence, rates and ETA, the
 * failed export (CSV quoting, JSON lines), rendering, and memory bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "bus/msg.h"
#include "report/tally.h"

/* The export's CSV header row. */
#define CSV_HEAD                                                              \
  "key,size,status,reason,http_status,code,message,attempts,last_attempt,run,segment," \
  "etag\n"
#define OBJ_SIZE 100   /* size of every object not listed in outcomes */
#define T0 1700000000000LL
#define LATER (T0 + 86400000LL)   /* a clock long after everything: rates 0 */

/* ---------- builders ---------- */

static msg_loc_t loc(const char *store, const char *bucket, const char *prefix) {
  msg_loc_t l;
  l.store = (char *)store;
  l.bucket = (char *)bucket;
  l.prefix = (char *)prefix;
  return l;
}

static msg_outcome_t oc(const char *key, uint64_t size, msg_status_t st,
                        const char *reason) {
  msg_outcome_t o;
  memset(&o, 0, sizeof(o));
  o.key = (char *)key;
  o.size = size;
  o.status = st;
  o.reason = (char *)reason;
  o.bytes = st == ST_COPIED ? size : 0;
  o.attempts = st == ST_COPIED || st == ST_SKIPPED ? 1 : 3;
  o.http_status = st == ST_FAILED ? 403 : 0;
  o.code = st == ST_FAILED ? (char *)"AccessDenied" : NULL;
  o.message = st == ST_FAILED ? (char *)"Access Denied." : NULL;
  return o;
}

static msg_task_t mk_task(const char *task, int run, int retry_of, const char *state,
                          uint64_t objs, uint64_t bytes, uint64_t segs, int64_t ms) {
  msg_task_t t;
  memset(&t, 0, sizeof(t));
  t.task = (char *)task;
  t.run = run;
  t.retry_of = retry_of;
  t.src = loc("src", "bucket-a", "photos/");
  t.dst = loc("dst", "bucket-b", "");
  t.policy = POLICY_SKIP_IF_SAME;
  t.state = (char *)state;
  t.listed_objects = objs;
  t.listed_bytes = bytes;
  t.segments = segs;
  t.updated_ms = ms;
  return t;
}

/* A result: objects not in outcomes were copied, OBJ_SIZE bytes each. */
static msg_result_t mk_result(const char *task, const char *seg, int run,
                              uint64_t n_objects, int64_t started, int64_t finished,
                              msg_outcome_t *ocs, size_t n) {
  msg_result_t r;
  uint64_t copied_oc = 0, copied_bytes = 0;
  size_t i;
  memset(&r, 0, sizeof(r));
  r.task = (char *)task;
  r.segment = (char *)seg;
  r.run = run;
  r.worker = (char *)"w1";
  r.n_objects = n_objects;
  for (i = 0; i < n; i++) {
    if (ocs[i].status == ST_SKIPPED)
      r.n_skipped++;
    else if (ocs[i].status == ST_COPIED) {
      copied_oc++;
      copied_bytes += ocs[i].bytes;
    } else
      r.n_failed++;
  }
  r.n_copied = n_objects - r.n_skipped - r.n_failed;
  r.bytes = (r.n_copied - copied_oc) * OBJ_SIZE + copied_bytes;
  r.started_ms = started;
  r.finished_ms = finished;
  r.outcomes = ocs;
  r.n_outcomes = n;
  return r;
}

static msg_failed_t mk_failed(const char *task, const char *seg, int run,
                              msg_outcome_t o, int64_t at) {
  msg_failed_t f;
  memset(&f, 0, sizeof(f));
  f.task = (char *)task;
  f.segment = (char *)seg;
  f.run = run;
  f.src = loc("src", "bucket-a", "photos/");
  f.dst = loc("dst", "bucket-b", "");
  f.obj.key = o.key;
  f.obj.size = o.size;
  f.obj.etag = (char *)"0123456789abcdef";
  f.obj.mtime = -1;
  f.outcome = o;
  f.at_ms = at;
  return f;
}

static void add_task(tally_t *t, msg_task_t m) {
  char eb[FERRY_ERRLEN];
  assert_int_equal(tally_add_task(t, &m, eb), FERRY_OK);
}

static int add_result(tally_t *t, msg_result_t m) {
  char eb[FERRY_ERRLEN];
  int dup = -1;
  ferry_err_t e = tally_add_result(t, &m, &dup, eb);
  if (e) fprintf(stderr, "add_result: %s\n", eb);
  assert_int_equal(e, FERRY_OK);
  return dup;
}

static void add_failed(tally_t *t, msg_failed_t m) {
  char eb[FERRY_ERRLEN];
  assert_int_equal(tally_add_failed(t, &m, eb), FERRY_OK);
}

static tally_view_t view_at(tally_t *t, const char *task, int64_t now) {
  tally_view_t v;
  assert_int_equal(tally_view(t, task, now, &v), FERRY_OK);
  return v;
}

static uint64_t reason_n(const tally_reason_t *r, size_t n, const char *reason) {
  size_t i;
  for (i = 0; i < n; i++)
    if (strcmp(r[i].reason, reason) == 0) return r[i].n;
  return 0;
}

/* ---------- tests ---------- */

static void test_names(void **state) {
  msg_outcome_t o;
  (void)state;
  assert_string_equal(tally_state_str(TALLY_PENDING), "pending");
  assert_string_equal(tally_state_str(TALLY_LISTING), "listing");
  assert_string_equal(tally_state_str(TALLY_RUNNING), "running");
  assert_string_equal(tally_state_str(TALLY_COMPLETED), "completed");
  assert_string_equal(tally_state_str(TALLY_COMPLETED_FAILURES),
                      "completed-with-failures");
  assert_string_equal(tally_state_str(TALLY_LISTING_FAILED), "listing-failed");
  assert_string_equal(tally_state_str((tally_state_t)99), "unknown");
  assert_string_equal(tally_kind_str(TALLY_KIND_RETRY), "retry");
  o = oc("k", 1, ST_CHANGED, "etag-differs");
  assert_string_equal(tally_outcome_label(&o), "changed");
  o = oc("k", 1, ST_VANISHED, NULL);
  assert_string_equal(tally_outcome_label(&o), "vanished");
  o = oc("k", 1, ST_FAILED, "integrity");
  assert_string_equal(tally_outcome_label(&o), "integrity");
  o = oc("k", 1, ST_FAILED, NULL);
  assert_string_equal(tally_outcome_label(&o), "failed");
  o = oc("k", 1, ST_SKIPPED, NULL);
  assert_string_equal(tally_outcome_label(&o), "skipped");
  o = oc("k", 1, ST_SKIPPED, "same");
  assert_string_equal(tally_outcome_label(&o), "same");
}

static void test_dedup(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t o1[] = {oc("a", 10, ST_FAILED, "access-denied")};
  msg_outcome_t o2[] = {oc("a", 10, ST_SKIPPED, "same")};
  tally_view_t v;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listed", 20, 2000, 2, T0));
  assert_int_equal(add_result(t, mk_result("t", "1-1", 1, 10, T0, T0 + 10, o1, 1)), 0);
  /* Redelivery of the same segment (another worker, other outcome): the
   * first result counts, the second is ignored. */
  assert_int_equal(add_result(t, mk_result("t", "1-1", 1, 10, T0, T0 + 20, o2, 1)), 1);
  assert_int_equal(add_result(t, mk_result("t", "1-1", 1, 10, T0, T0 + 10, o1, 1)), 1);
  assert_int_equal(tally_duplicates(t), 2);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.segments_done, 1);
  assert_int_equal(v.f.done_objects, 10);
  assert_int_equal(v.f.copied, 9);
  assert_int_equal(v.f.failed, 1);
  assert_int_equal(v.f.skipped, 0);
  assert_int_equal(v.f.bytes_copied, 9 * OBJ_SIZE);
  assert_int_equal(v.f.state, TALLY_RUNNING);
  tally_view_release(&v);
  /* The same segment id in another run is another key. */
  assert_int_equal(add_result(t, mk_result("t", "1-1", 2, 1, T0, T0 + 10, NULL, 0)), 0);
  /* And in another task. */
  assert_int_equal(add_result(t, mk_result("u", "1-1", 1, 1, T0, T0 + 10, NULL, 0)), 0);
  assert_int_equal(tally_duplicates(t), 2);
  tally_destroy(t);
}

static void test_states(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t f1[] = {oc("x", 5, ST_VANISHED, NULL)};
  tally_view_t v;
  (void)state;
  /* An unknown task: pending, not found. */
  assert_int_equal(tally_view(t, "t", LATER, &v), FERRY_ERR_NOTFOUND);
  assert_int_equal(v.f.state, TALLY_PENDING);
  assert_int_equal(v.f.eta_s, -1);
  tally_view_release(&v);

  add_task(t, mk_task("t", 1, 0, "listing", 0, 0, 0, T0));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.state, TALLY_LISTING);
  assert_false(v.f.totals_known);
  assert_int_equal(v.f.eta_s, -1);
  tally_view_release(&v);

  add_task(t, mk_task("t", 1, 0, "listing", 10, 1000, 1, T0 + 1000));
  add_result(t, mk_result("t", "1-1", 1, 10, T0 + 1000, T0 + 2000, NULL, 0));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.state, TALLY_LISTING);   /* the listing is not over */
  assert_int_equal(v.f.listed_objects, 10);
  tally_view_release(&v);

  add_task(t, mk_task("t", 1, 0, "listed", 15, 1500, 2, T0 + 3000));
  /* A replayed older progress record does not undo the totals. */
  add_task(t, mk_task("t", 1, 0, "listing", 10, 1000, 1, T0 + 1000));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.state, TALLY_RUNNING);
  assert_true(v.f.totals_known);
  assert_int_equal(v.f.total_objects, 15);
  assert_int_equal(v.f.remaining_objects, 5);
  assert_int_equal(v.f.remaining_bytes, 500);
  tally_view_release(&v);

  add_result(t, mk_result("t", "1-2", 1, 5, T0 + 3000, T0 + 4000, f1, 1));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.state, TALLY_COMPLETED_FAILURES);
  assert_int_equal(v.f.remaining_objects, 0);
  assert_int_equal(v.f.eta_s, 0);
  assert_int_equal(v.n_runs, 1);
  assert_int_equal(v.runs[0].f.state, TALLY_COMPLETED_FAILURES);
  assert_int_equal(v.runs[0].kind, TALLY_KIND_FULL);
  tally_view_release(&v);

  /* Completed: every segment has a result, nothing failed. */
  add_task(t, mk_task("c", 1, 0, "listed", 3, 300, 1, T0));
  add_result(t, mk_result("c", "1-1", 1, 3, T0, T0 + 1, NULL, 0));
  v = view_at(t, "c", LATER);
  assert_int_equal(v.f.state, TALLY_COMPLETED);
  tally_view_release(&v);

  /* An empty listing is complete at once. */
  add_task(t, mk_task("e", 1, 0, "listed", 0, 0, 0, T0));
  v = view_at(t, "e", LATER);
  assert_int_equal(v.f.state, TALLY_COMPLETED);
  tally_view_release(&v);

  /* The lister gave up. */
  add_task(t, mk_task("f", 1, 0, "failed", 7, 700, 1, T0));
  v = view_at(t, "f", LATER);
  assert_int_equal(v.f.state, TALLY_LISTING_FAILED);
  tally_view_release(&v);

  /* Results before any task record: listing (the lister is at work). */
  add_result(t, mk_result("r", "1-1", 1, 3, T0, T0 + 1, NULL, 0));
  v = view_at(t, "r", LATER);
  assert_int_equal(v.f.state, TALLY_LISTING);
  assert_false(v.has_def);
  tally_view_release(&v);
  tally_destroy(t);
}

static void test_reasons(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t s1[] = {oc("a", 1, ST_SKIPPED, "exists"), oc("b", 2, ST_SKIPPED, "same"),
                        oc("c", 3, ST_SKIPPED, "same"), oc("d", 4, ST_FAILED, "integrity"),
                        oc("e", 5, ST_FAILED, "access-denied")};
  msg_outcome_t s2[] = {oc("f", 6, ST_CHANGED, NULL), oc("g", 7, ST_VANISHED, NULL),
                        oc("h", 8, ST_FAILED, "http-503"), oc("i", 9, ST_SKIPPED, NULL)};
  tally_view_t v;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listed", 20, 0, 2, T0));
  add_result(t, mk_result("t", "1-1", 1, 10, T0, T0 + 1, s1, 5));
  add_result(t, mk_result("t", "1-2", 1, 10, T0, T0 + 1, s2, 4));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.skipped, 4);
  assert_int_equal(v.f.failed, 5);
  assert_int_equal(v.f.copied, 11);
  assert_int_equal(v.f.n_skipped_by, 3);
  assert_string_equal(v.f.skipped_by[0].reason, "exists");   /* sorted */
  assert_int_equal(reason_n(v.f.skipped_by, v.f.n_skipped_by, "same"), 2);
  assert_int_equal(reason_n(v.f.skipped_by, v.f.n_skipped_by, "skipped"), 1);
  assert_int_equal(v.f.n_failed_by, 5);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "changed"), 1);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "vanished"), 1);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "integrity"), 1);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "access-denied"), 1);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "http-503"), 1);
  /* done bytes: copied bytes plus the sizes of what was not copied. */
  assert_int_equal(v.f.done_bytes, 11 * OBJ_SIZE + 45);
  assert_int_equal(v.f.state, TALLY_COMPLETED_FAILURES);
  tally_view_release(&v);
  tally_destroy(t);
}

/* Run 1: 10 objects, a/b/c fail. Retry 2 copies a, b vanishes again, c is
 * skipped. Retry 3 copies b. */
static void feed_retry_story(tally_t *t, int upto) {
  msg_outcome_t r1[] = {oc("a", 10, ST_FAILED, "access-denied"),
                        oc("b", 20, ST_VANISHED, NULL),
                        oc("c", 30, ST_FAILED, "integrity")};
  msg_outcome_t r2[] = {oc("a", 10, ST_COPIED, NULL), oc("b", 20, ST_VANISHED, NULL),
                        oc("c", 30, ST_SKIPPED, "same")};
  msg_outcome_t r3[] = {oc("b", 20, ST_COPIED, NULL)};
  add_task(t, mk_task("t", 1, 0, "listed", 10, 760, 2, T0));
  add_result(t, mk_result("t", "1-1", 1, 5, T0, T0 + 1000, r1, 3));
  add_result(t, mk_result("t", "1-2", 1, 5, T0, T0 + 1000, NULL, 0));
  if (upto < 2) return;
  add_task(t, mk_task("t", 2, 1, "listed", 3, 60, 1, T0 + 5000));
  add_result(t, mk_result("t", "2-1", 2, 3, T0 + 5000, T0 + 6000, r2, 3));
  if (upto < 3) return;
  add_task(t, mk_task("t", 3, 1, "listed", 1, 20, 1, T0 + 9000));
  add_result(t, mk_result("t", "3-1", 3, 1, T0 + 9000, T0 + 9500, r3, 1));
}

static void test_retry_moves_failed(void **state) {
  tally_t *t = tally_new(NULL);
  tally_view_t v;
  fbuf_t b;
  size_t rows;
  (void)state;
  feed_retry_story(t, 1);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.state, TALLY_COMPLETED_FAILURES);
  assert_int_equal(v.f.copied, 7);
  assert_int_equal(v.f.failed, 3);
  tally_view_release(&v);
  tally_destroy(t);

  t = tally_new(NULL);
  feed_retry_story(t, 2);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.base_run, 1);
  assert_int_equal(v.latest_run, 2);
  assert_int_equal(v.f.state, TALLY_COMPLETED_FAILURES);
  assert_int_equal(v.f.total_objects, 10);
  assert_int_equal(v.f.done_objects, 10);        /* a retry adds no objects */
  assert_int_equal(v.f.copied, 8);               /* a moved to copied */
  assert_int_equal(v.f.bytes_copied, 7 * OBJ_SIZE + 10);
  assert_int_equal(v.f.skipped, 1);              /* c moved to skipped */
  assert_int_equal(reason_n(v.f.skipped_by, v.f.n_skipped_by, "same"), 1);
  assert_int_equal(v.f.failed, 1);               /* b still vanished */
  assert_int_equal(v.f.n_failed_by, 1);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "vanished"), 1);
  assert_int_equal(v.f.copied + v.f.skipped + v.f.failed, v.f.total_objects);
  /* Per-run figures stay each run's own. */
  assert_int_equal(v.n_runs, 2);
  assert_int_equal(v.runs[0].f.failed, 3);
  assert_int_equal(v.runs[1].kind, TALLY_KIND_RETRY);
  assert_int_equal(v.runs[1].retry_of, 1);
  assert_int_equal(v.runs[1].f.copied, 1);
  assert_int_equal(v.runs[1].f.failed, 1);
  assert_int_equal(v.runs[1].f.skipped, 1);
  assert_int_equal(v.runs[1].f.state, TALLY_COMPLETED_FAILURES);
  tally_view_release(&v);
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &rows);
  assert_int_equal(rows, 1);
  assert_non_null(strstr(fbuf_str(&b), "\nb,20,vanished,,0,,,3,"));
  fbuf_release(&b);

  /* Retry 3 copies the last one: completed, nothing failed. */
  feed_retry_story(t, 3);   /* replays 1 and 2 too: all duplicates */
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.state, TALLY_COMPLETED);
  assert_int_equal(v.f.copied, 9);
  assert_int_equal(v.f.skipped, 1);
  assert_int_equal(v.f.failed, 0);
  assert_int_equal(v.f.n_failed_by, 0);
  assert_int_equal(v.f.bytes_copied, 7 * OBJ_SIZE + 30);
  tally_view_release(&v);
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &rows);
  assert_int_equal(rows, 0);
  assert_string_equal(fbuf_str(&b),
                      "key,size,status,reason,http_status,code,message,attempts,"
                      "last_attempt,run,segment,etag\n");
  fbuf_release(&b);
  tally_destroy(t);
}

/* The still-failed set is the latest outcome over every run
 * since the base, whatever replayed a key. Run 1 (full) leaves 5 failed; run
 * 2 (a --from-list retry of 1) copies 2 of them; run 3 (--retry-failed)
 * replays the 3 others: one copied, one failed again (transient), one
 * vanished. The view, the export and tally_still_failed agree at every step,
 * and upto_run leaves later runs out (a redone retry sees what it saw). */
static void test_still_failed_all_runs(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t r1[] = {oc("k1", 10, ST_FAILED, "http-503"), oc("k2", 10, ST_FAILED, "http-503"),
                        oc("k3", 10, ST_FAILED, "http-503"), oc("k4", 10, ST_FAILED, "access-denied"),
                        oc("k5", 10, ST_VANISHED, NULL)};
  msg_outcome_t r2[] = {oc("k1", 10, ST_COPIED, NULL), oc("k2", 10, ST_COPIED, NULL)};
  msg_outcome_t r3[] = {oc("k3", 10, ST_COPIED, NULL), oc("k4", 10, ST_FAILED, "access-denied"),
                        oc("k5", 10, ST_VANISHED, NULL)};
  tally_failed_row_t *rows;
  tally_view_t v;
  fbuf_t b;
  size_t n, xr;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listed", 20, 2000, 1, T0));
  add_result(t, mk_result("t", "1-1", 1, 20, T0, T0 + 1000, r1, 5));
  add_task(t, mk_task("t", 2, 1, "listed", 2, 20, 1, T0 + 2000));
  add_result(t, mk_result("t", "2-1", 2, 2, T0 + 2000, T0 + 3000, r2, 2));
  n = tally_still_failed(t, "t", 0, &rows);
  assert_int_equal(n, 3);   /* the old lister saw run 2's failures only: none */
  assert_string_equal(rows[0].key, "k3");
  assert_string_equal(rows[1].key, "k4");
  assert_string_equal(rows[2].key, "k5");
  assert_int_equal(rows[0].run, 1);
  assert_false(rows[0].permanent);
  assert_true(rows[1].permanent);
  assert_true(rows[2].permanent);
  assert_string_equal(rows[2].label, "vanished");
  tally_failed_rows_free(rows, n);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.failed, 3);
  tally_view_release(&v);
  /* Before run 2 (a redo of run 2 replays what run 2 was given). */
  n = tally_still_failed(t, "t", 2, &rows);
  assert_int_equal(n, 5);
  tally_failed_rows_free(rows, n);

  add_task(t, mk_task("t", 3, 1, "listed", 3, 30, 1, T0 + 4000));
  add_result(t, mk_result("t", "3-1", 3, 3, T0 + 4000, T0 + 5000, r3, 3));
  n = tally_still_failed(t, "t", 0, &rows);
  assert_int_equal(n, 2);
  assert_string_equal(rows[0].key, "k4");
  assert_int_equal(rows[0].run, 3);
  assert_string_equal(rows[1].key, "k5");
  assert_true(rows[0].permanent && rows[1].permanent);
  tally_failed_rows_free(rows, n);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.failed, 2);
  assert_int_equal(v.f.state, TALLY_COMPLETED_FAILURES);
  tally_view_release(&v);
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &xr);
  assert_int_equal(xr, 2);
  assert_non_null(strstr(fbuf_str(&b), "\nk4,10,failed,access-denied,"));
  fbuf_release(&b);
  /* A new full run starts afresh: nothing of runs 1-3 is still failed. */
  add_task(t, mk_task("t", 4, 0, "listed", 20, 2000, 1, T0 + 6000));
  add_result(t, mk_result("t", "4-1", 4, 20, T0 + 6000, T0 + 7000, NULL, 0));
  assert_int_equal(tally_still_failed(t, "t", 0, &rows), 0);
  assert_null(rows);
  assert_int_equal(tally_still_failed(t, "nosuch", 0, &rows), 0);
  tally_destroy(t);
}

/* Two listers that both took run 2 (before the lease existed). The
 * record kept says 7 objects in 1 segment; the results counted are those of
 * the other listing's 3 segments (30 objects), its 2-000001 shadowing this
 * listing's. Never "done 30/7 (428.6%)", and never completed: a segment of
 * the kept listing may still lack its result. */
static void test_collision_never_done(void **state) {
  tally_t *t = tally_new(NULL);
  tally_view_t v;
  fbuf_t b;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listed", 7, 700, 1, T0));
  add_result(t, mk_result("t", "1-000001", 1, 7, T0, T0 + 1000, NULL, 0));
  add_task(t, mk_task("t", 2, 0, "listed", 7, 700, 1, T0 + 2000));
  add_result(t, mk_result("t", "2-000001", 2, 10, T0 + 2000, T0 + 3000, NULL, 0));
  add_result(t, mk_result("t", "2-000002", 2, 10, T0 + 2000, T0 + 3000, NULL, 0));
  add_result(t, mk_result("t", "2-000003", 2, 10, T0 + 2000, T0 + 3000, NULL, 0));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.base_run, 2);
  assert_int_equal(v.f.total_objects, 7);
  assert_int_equal(v.f.done_objects, 7);
  assert_int_equal(v.f.overcount, 23);
  assert_int_equal(v.f.state, TALLY_RUNNING);
  assert_int_equal(v.runs[1].f.state, TALLY_RUNNING);
  fbuf_init(&b, 0);
  tally_view_line(&v, &b);
  assert_null(strstr(fbuf_str(&b), "428.6%"));
  assert_non_null(strstr(fbuf_str(&b), "7/7 objects (100.0%)"));
  assert_non_null(strstr(fbuf_str(&b), "23 objects more than listed"));
  fbuf_release(&b);
  tally_view_release(&v);
  tally_destroy(t);
}

static void test_label_permanent(void **state) {
  (void)state;
  assert_true(tally_label_permanent("vanished"));
  assert_true(tally_label_permanent("access-denied"));
  assert_true(tally_label_permanent("no-such-bucket"));
  assert_true(tally_label_permanent("http-403"));
  assert_false(tally_label_permanent("http-503"));
  assert_false(tally_label_permanent("changed"));
  assert_false(tally_label_permanent("integrity"));
  assert_false(tally_label_permanent("timeout"));
  assert_false(tally_label_permanent(NULL));
}

static void test_retry_in_progress(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t r1[] = {oc("a", 10, ST_FAILED, "access-denied"),
                        oc("b", 20, ST_FAILED, "access-denied")};
  msg_outcome_t r2[] = {oc("a", 10, ST_COPIED, NULL)};
  tally_view_t v;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listed", 4, 220, 1, T0));
  add_result(t, mk_result("t", "1-1", 1, 4, T0, T0 + 1000, r1, 2));
  /* Results of run 2 before its record: the run's kind is unknown, the
   * task is busy again, and the view does not fold it in yet. */
  add_result(t, mk_result("t", "2-1", 2, 1, T0 + 5000, T0 + 6000, r2, 1));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.state, TALLY_RUNNING);
  assert_int_equal(v.f.failed, 2);
  assert_int_equal(v.runs[1].kind, TALLY_KIND_UNKNOWN);
  assert_int_equal(v.runs[1].f.state, TALLY_LISTING);
  assert_int_equal(v.f.eta_s, -1);
  tally_view_release(&v);
  /* The record arrives: retry of run 1, 2 objects in 2 segments. */
  add_task(t, mk_task("t", 2, 1, "listed", 2, 30, 2, T0 + 5000));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.state, TALLY_RUNNING);
  assert_int_equal(v.f.failed, 1);
  assert_int_equal(v.f.copied, 3);
  assert_int_equal(v.f.remaining_objects, 1);   /* what the retry has left */
  assert_int_equal(v.f.remaining_bytes, 20);
  tally_view_release(&v);
  tally_destroy(t);
}

static void test_fresh_rerun(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t r1[] = {oc("a", 10, ST_FAILED, "access-denied")};
  /* A full re-run (the worker lists copies too for runs > 1). */
  msg_outcome_t r2[] = {oc("a", 10, ST_COPIED, NULL), oc("b", 10, ST_SKIPPED, "same"),
                        oc("z", 10, ST_FAILED, "integrity")};
  tally_view_t v;
  fbuf_t b;
  size_t rows;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listed", 5, 500, 1, T0));
  add_result(t, mk_result("t", "1-1", 1, 5, T0, T0 + 1000, r1, 1));
  add_task(t, mk_task("t", 2, 0, "listed", 3, 30, 1, T0 + 5000));
  add_result(t, mk_result("t", "2-1", 2, 3, T0 + 5000, T0 + 6000, r2, 3));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.base_run, 2);
  assert_int_equal(v.f.total_objects, 3);
  assert_int_equal(v.f.copied, 1);
  assert_int_equal(v.f.skipped, 1);
  assert_int_equal(v.f.failed, 1);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "integrity"), 1);
  assert_int_equal(v.f.state, TALLY_COMPLETED_FAILURES);
  assert_int_equal(v.runs[0].f.failed, 1);     /* run 1 keeps its figures */
  assert_int_equal(v.runs[1].kind, TALLY_KIND_FULL);
  tally_view_release(&v);
  /* Run 1's failure is no longer exported; run 2's is. */
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_JSONL, &b, &rows);
  assert_int_equal(rows, 1);
  assert_non_null(strstr(fbuf_str(&b), "\"key\":\"z\""));
  assert_null(strstr(fbuf_str(&b), "\"key\":\"a\""));
  fbuf_release(&b);
  /* Run 1's observations were dropped: only what run 2 needs is kept. */
  assert_true(tally_tracked_keys(t, "t") <= 2);
  tally_destroy(t);
}

/* Encoded records of the retry story plus redeliveries, for feeding in
 * any order. */
typedef struct rec {
  tally_src_t src;
  char *json;
} rec_t;

static size_t story_records(rec_t *out, int with_run1_record) {
  msg_outcome_t r1[] = {oc("a", 10, ST_FAILED, "access-denied"),
                        oc("b", 20, ST_VANISHED, NULL), oc("c", 30, ST_FAILED, "integrity")};
  msg_outcome_t r2[] = {oc("a", 10, ST_COPIED, NULL), oc("b", 20, ST_VANISHED, NULL),
                        oc("c", 30, ST_SKIPPED, "same")};
  msg_task_t t1a = mk_task("t", 1, 0, "listing", 5, 400, 1, T0);
  msg_task_t t1b = mk_task("t", 1, 0, "listed", 10, 760, 2, T0 + 100);
  msg_task_t t2 = mk_task("t", 2, 1, "listed", 3, 60, 1, T0 + 5000);
  msg_result_t a = mk_result("t", "1-1", 1, 5, T0, T0 + 1000, r1, 3);
  msg_result_t b = mk_result("t", "1-2", 1, 5, T0, T0 + 1000, NULL, 0);
  msg_result_t c = mk_result("t", "2-1", 2, 3, T0 + 5000, T0 + 6000, r2, 3);
  msg_failed_t fa = mk_failed("t", "1-1", 1, r1[0], T0 + 900);
  msg_failed_t fb = mk_failed("t", "1-1", 1, r1[1], T0 + 901);
  msg_failed_t fc = mk_failed("t", "1-1", 1, r1[2], T0 + 902);
  msg_failed_t fb2 = mk_failed("t", "2-1", 2, r2[1], T0 + 5900);
  size_t n = 0;
  if (with_run1_record) {
    out[n++] = (rec_t){TALLY_SRC_TASKS, msg_task_encode(&t1a)};
    out[n++] = (rec_t){TALLY_SRC_TASKS, msg_task_encode(&t1b)};
  }
  out[n++] = (rec_t){TALLY_SRC_TASKS, msg_task_encode(&t2)};
  out[n++] = (rec_t){TALLY_SRC_RESULTS, msg_result_encode(&a)};
  out[n++] = (rec_t){TALLY_SRC_RESULTS, msg_result_encode(&b)};
  out[n++] = (rec_t){TALLY_SRC_RESULTS, msg_result_encode(&c)};
  out[n++] = (rec_t){TALLY_SRC_RESULTS, msg_result_encode(&a)};   /* redelivered */
  out[n++] = (rec_t){TALLY_SRC_FAILED, msg_failed_encode(&fa)};
  out[n++] = (rec_t){TALLY_SRC_FAILED, msg_failed_encode(&fb)};
  out[n++] = (rec_t){TALLY_SRC_FAILED, msg_failed_encode(&fc)};
  out[n++] = (rec_t){TALLY_SRC_FAILED, msg_failed_encode(&fb2)};
  out[n++] = (rec_t){TALLY_SRC_FAILED, msg_failed_encode(&fb2)};  /* redelivered */
  return n;
}

/* The view (without the clock-dependent members) and the export. */
static char *fingerprint(tally_t *t) {
  tally_view_t v;
  json_t *j;
  char *s, *out;
  fbuf_t b;
  size_t rows;
  v = view_at(t, "t", LATER);
  j = tally_view_json(&v);
  tally_view_release(&v);
  s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  fbuf_init(&b, 0);
  fbuf_adds(&b, s);
  free(s);
  fbuf_adds(&b, "\n");
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &rows);
  out = fbuf_steal(&b);
  return out;
}

static void test_order_independent(void **state) {
  rec_t recs[16];
  size_t n = story_records(recs, 1), i, round;
  char *want = NULL;
  char eb[FERRY_ERRLEN];
  unsigned seed = 12345;
  (void)state;
  for (round = 0; round < 200; round++) {
    tally_t *t = tally_new(NULL);
    rec_t order[16];
    char *got;
    memcpy(order, recs, sizeof(recs[0]) * n);
    if (round == 1) {   /* reversed */
      for (i = 0; i < n; i++) order[i] = recs[n - 1 - i];
    } else if (round > 1) {   /* shuffled (Fisher-Yates, fixed seed) */
      for (i = n - 1; i > 0; i--) {
        size_t k;
        rec_t tmp;
        seed = seed * 1103515245u + 12345u;
        k = (seed >> 16) % (i + 1);
        tmp = order[i];
        order[i] = order[k];
        order[k] = tmp;
      }
    }
    /* Records come on three topics; each topic keeps its own order (one
     * partition per task), so restore each topic's relative order. */
    {
      rec_t by[3][16];
      size_t nb[3] = {0, 0, 0}, pos[3] = {0, 0, 0};
      for (i = 0; i < n; i++) by[recs[i].src][nb[recs[i].src]++] = recs[i];
      for (i = 0; i < n; i++) {
        tally_src_t s = order[i].src;
        order[i] = by[s][pos[s]++];
      }
    }
    for (i = 0; i < n; i++)
      assert_int_equal(tally_feed(t, order[i].src, order[i].json,
                                  strlen(order[i].json), NULL, eb),
                       FERRY_OK);
    got = fingerprint(t);
    if (!want)
      want = got;
    else {
      assert_string_equal(got, want);
      free(got);
    }
    tally_destroy(t);
  }
  /* And the figures are those of the story. */
  assert_non_null(strstr(want, "\"copied\":8"));
  assert_non_null(strstr(want, "\"failed\":1,"));
  assert_non_null(strstr(want, "\nb,20,vanished,,0,,,3,"));
  /* b's last attempt: the failed record of run 2. */
  assert_non_null(strstr(want, ",2023-11-14T22:13:25.900Z,2,2-1,0123456789abcdef\n"));
  free(want);
  for (i = 0; i < n; i++) free(recs[i].json);
}

static void test_compacted(void **state) {
  /* After compaction only run 2's record is left: run 1 is known to be the
   * full run (retry_of), its totals come from its results, and the task
   * view is the same as with the whole history. */
  rec_t recs[16];
  size_t n = story_records(recs, 0), i;
  tally_t *t = tally_new(NULL);
  tally_view_t v;
  char eb[FERRY_ERRLEN];
  (void)state;
  for (i = 0; i < n; i++) {
    assert_int_equal(tally_feed(t, recs[i].src, recs[i].json, strlen(recs[i].json),
                                NULL, eb), FERRY_OK);
    free(recs[i].json);
  }
  v = view_at(t, "t", LATER);
  assert_int_equal(v.base_run, 1);
  assert_int_equal(v.runs[0].kind, TALLY_KIND_FULL);
  assert_false(v.runs[0].has_record);
  assert_true(v.f.totals_inferred);
  assert_int_equal(v.f.total_objects, 10);
  assert_int_equal(v.f.total_bytes, 7 * OBJ_SIZE + 60);
  assert_int_equal(v.f.segments_total, 2);
  assert_int_equal(v.f.copied, 8);
  assert_int_equal(v.f.failed, 1);
  assert_int_equal(v.f.state, TALLY_COMPLETED_FAILURES);
  tally_view_release(&v);
  tally_destroy(t);
}

static void test_failed_records(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t f[] = {oc("k1", 10, ST_FAILED, "access-denied")};
  msg_outcome_t ghost = oc("k2", 20, ST_FAILED, "http-503");
  tally_view_t v;
  fbuf_t b;
  size_t rows;
  char eb[FERRY_ERRLEN];
  msg_failed_t bad;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listed", 4, 400, 1, T0));
  /* The failed record comes before its result (another topic). */
  add_failed(t, mk_failed("t", "1-1", 1, f[0], T0 + 777));
  /* A worker died after publishing k2's failed record; the segment was done
   * again and k2 copied: the counted result does not list k2. */
  add_failed(t, mk_failed("t", "1-1", 1, ghost, T0 + 555));
  add_result(t, mk_result("t", "1-1", 1, 4, T0, T0 + 1000, f, 1));
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.failed, 1);
  assert_int_equal(v.f.copied, 3);
  tally_view_release(&v);
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &rows);
  assert_int_equal(rows, 1);
  assert_string_equal(fbuf_str(&b),
                      "key,size,status,reason,http_status,code,message,attempts,"
                      "last_attempt,run,segment,etag\n"
                      "k1,10,failed,access-denied,403,AccessDenied,Access Denied.,3,"
                      "2023-11-14T22:13:20.777Z,1,1-1,0123456789abcdef\n");
  fbuf_release(&b);
  /* A failed record must hold a failure. */
  bad = mk_failed("t", "1-1", 1, oc("k3", 1, ST_COPIED, NULL), T0);
  assert_int_equal(tally_add_failed(t, &bad, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "not a failure"));
  tally_destroy(t);
}

static void test_rejects(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t o[] = {oc("a", 1, ST_FAILED, "x")};
  msg_result_t r;
  msg_task_t tk;
  tally_view_t v;
  char eb[FERRY_ERRLEN];
  int dup;
  (void)state;
  /* Outcomes that disagree with the counts: refused, and the segment is not
   * marked as seen, so the valid redelivery counts. */
  r = mk_result("t", "1-1", 1, 3, T0, T0 + 1, o, 1);
  r.n_failed = 0;
  r.n_copied = 3;
  assert_int_equal(tally_add_result(t, &r, &dup, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "result.outcomes"));
  assert_int_equal(add_result(t, mk_result("t", "1-1", 1, 3, T0, T0 + 1, o, 1)), 0);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.failed, 1);
  assert_int_equal(v.f.copied, 2);
  tally_view_release(&v);
  r = mk_result("t", "1-2", 1, 1, T0, T0 + 1, NULL, 0);
  r.n_copied = 2;
  assert_int_equal(tally_add_result(t, &r, &dup, eb), FERRY_ERR_INVALID);
  tk = mk_task("t", 1, 1, "listed", 1, 1, 1, T0);
  assert_int_equal(tally_add_task(t, &tk, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "retry_of"));

  /* Raw records: garbage, a wrong version, the wrong topic's record. */
  assert_int_equal(tally_feed(t, TALLY_SRC_RESULTS, "not json", 8, &dup, eb),
                   FERRY_ERR_PARSE);
  assert_int_equal(tally_feed(t, TALLY_SRC_RESULTS, "{\"v\":2}", 7, &dup, eb),
                   FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "version"));
  {
    char *j = msg_task_encode(&tk);
    assert_null(j);   /* retry_of >= run cannot even be encoded */
    tk.retry_of = 0;
    j = msg_task_encode(&tk);
    assert_int_equal(tally_feed(t, TALLY_SRC_FAILED, j, strlen(j), &dup, eb),
                     FERRY_ERR_PARSE);
    fx_free(j);
  }
  assert_int_equal(tally_feed(t, TALLY_SRC_TASKS, NULL, 0, &dup, eb), FERRY_OK);
  assert_int_equal(tally_rejected(t), 3);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.failed, 1);   /* unchanged */
  tally_view_release(&v);
  tally_destroy(t);
}

static void test_retry_of_codec(void **state) {
  msg_task_t t = mk_task("t", 3, 1, "listed", 2, 20, 1, T0), d;
  char eb[FERRY_ERRLEN];
  char *j;
  const char *bad =
      "{\"v\":1,\"task\":\"t\",\"run\":2,\"src\":{\"store\":\"s\",\"bucket\":\"b\"},"
      "\"dst\":{\"store\":\"d\",\"bucket\":\"b\"},\"policy\":\"skip\",\"state\":"
      "\"listed\",\"listed_objects\":0,\"listed_bytes\":0,\"segments\":0,"
      "\"updated_ms\":1,\"retry_of\":2}";
  (void)state;
  j = msg_task_encode(&t);
  assert_non_null(strstr(j, ",\"retry_of\":1}"));
  assert_int_equal(msg_task_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_int_equal(d.retry_of, 1);
  msg_task_release(&d);
  fx_free(j);
  t.retry_of = 0;   /* a full run: the member is left out */
  j = msg_task_encode(&t);
  assert_null(strstr(j, "retry_of"));
  assert_int_equal(msg_task_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_int_equal(d.retry_of, 0);
  msg_task_release(&d);
  fx_free(j);
  assert_int_equal(msg_task_decode(bad, strlen(bad), &d, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "task.retry_of"));
}

static void test_eta_math(void **state) {
  tally_opts_t o = {10000, NULL};
  tally_t *t;
  tally_view_t v;
  (void)state;
  assert_int_equal(tally_eta_s(0, 0, 0, 0), 0);
  assert_int_equal(tally_eta_s(100, 0, 10, 0), 10);
  assert_int_equal(tally_eta_s(100, 1000, 10, 10), 100);   /* bytes are slower */
  assert_int_equal(tally_eta_s(100, 1000, 1, 1000), 100);  /* objects are slower */
  assert_int_equal(tally_eta_s(101, 0, 10, 0), 11);         /* rounded up */
  assert_int_equal(tally_eta_s(100, 1000, 0, 0), -1);       /* no rate */
  assert_int_equal(tally_eta_s(100, 1000, 0, 50), 20);      /* one estimate */

  /* 100 objects of 100 B, 4 segments of 10 done at a steady 1 segment/s
   * (each takes 1 s) in a 10 s window: 10 objects/s, 1000 B/s. */
  t = tally_new(&o);
  add_task(t, mk_task("t", 1, 0, "listed", 100, 100 * OBJ_SIZE, 10, T0));
  add_result(t, mk_result("t", "1-1", 1, 10, T0, T0 + 1000, NULL, 0));
  add_result(t, mk_result("t", "1-2", 1, 10, T0 + 1000, T0 + 2000, NULL, 0));
  add_result(t, mk_result("t", "1-3", 1, 10, T0 + 2000, T0 + 3000, NULL, 0));
  add_result(t, mk_result("t", "1-4", 1, 10, T0 + 3000, T0 + 4000, NULL, 0));
  v = view_at(t, "t", T0 + 4000);
  /* The window starts when the run did (4 s ago), not 10 s ago. */
  assert_true(v.f.objects_per_s > 9.99 && v.f.objects_per_s < 10.01);
  assert_true(v.f.bytes_per_s > 999.9 && v.f.bytes_per_s < 1000.1);
  assert_int_equal(v.f.remaining_objects, 60);
  assert_int_equal(v.f.eta_s, 6);
  assert_int_equal(v.runs[0].f.eta_s, 6);
  tally_view_release(&v);
  /* Half a segment's time still inside the window counts half of it. */
  v = view_at(t, "t", T0 + 13500);
  /* window [3500, 13500]: half of segment 4 -> 5 objects over 10 s */
  assert_true(v.f.objects_per_s > 0.49 && v.f.objects_per_s < 0.51);
  assert_int_equal(v.f.eta_s, 120);
  tally_view_release(&v);
  /* Long after: no rate, so no ETA. */
  v = view_at(t, "t", LATER);
  assert_true(v.f.objects_per_s == 0);
  assert_int_equal(v.f.eta_s, -1);
  tally_view_release(&v);
  tally_destroy(t);
}

/* A trial where one worker copies a large object for 50 s while three
 * others finish in 2-5 s: the busy time is the four spans' sum (the
 * per-worker rate --rate-from-json takes), not four times the task's span;
 * a worker's overlapping and later results widen its own span only. */
static void test_worker_busy(void **state) {
  tally_opts_t o = {10000, NULL};
  tally_t *t = tally_new(&o);
  tally_view_t v;
  static const struct {
    const char *seg, *worker;
    uint64_t n;
    int64_t from, to;
    int dup;
  } rs[] = {
      {"1-1", "big", 1, 0, 50000, 0}, {"1-2", "a", 10, 100, 2100, 0},
      {"1-3", "b", 10, 200, 3200, 0},  {"1-4", "c", 10, 500, 4000, 0},
      {"1-5", "c", 9, 1000, 5000, 0},
      /* A duplicate delivery does not count again, nor widen a span. */
      {"1-2", "a", 10, 100, 60000, 1},
  };
  msg_result_t r;
  json_t *j;
  char *js;
  size_t i;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listing", 0, 0, 0, T0 - 3000));
  add_task(t, mk_task("t", 1, 0, "listed", 40, 40 * OBJ_SIZE, 5, T0 - 1000));
  for (i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
    r = mk_result("t", rs[i].seg, 1, rs[i].n, T0 + rs[i].from, T0 + rs[i].to, NULL, 0);
    r.worker = (char *)rs[i].worker;
    assert_int_equal(add_result(t, r), rs[i].dup);
  }
  v = view_at(t, "t", T0 + 60000);
  assert_int_equal(v.f.workers, 4);
  /* 50 + 2 + 3 + 4.5 s */
  assert_int_equal(v.f.busy_ms, 50000 + 2000 + 3000 + 4500);
  assert_int_equal(v.f.start_ms, T0 - 3000);
  assert_int_equal(v.runs[0].f.busy_ms, 59500);
  j = tally_view_json(&v);
  js = json_dumps(j, JSON_COMPACT);
  assert_non_null(strstr(js, "\"worker_busy_ms\":59500"));
  assert_non_null(strstr(js, "\"workers\":4"));
  free(js);
  json_decref(j);
  tally_view_release(&v);
  tally_destroy(t);
}

static void test_csv_quoting(void **state) {
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"plain/key.txt", "plain/key.txt"},
      {"a,b", "\"a,b\""},
      {"say \"hi\"", "\"say \"\"hi\"\"\""},
      {"line1\nline2", "\"line1\nline2\""},
      {"cr\rhere", "\"cr\rhere\""},
      {" lead", "\" lead\""},
      {"trail ", "\"trail \""},
      {"", ""},
      {"\xe6\x95\xb0\xe6\x8d\xae \xc3\xa9.txt", "\xe6\x95\xb0\xe6\x8d\xae \xc3\xa9.txt"},
      {"#%+=;'", "#%+=;'"},
      /* spreadsheet formulas (OWASP CSV injection) and the quote that marks
       * them: quoted, one quote before */
      {"=1+2", "\"'=1+2\""},
      {"+1", "\"'+1\""},
      {"-1", "\"'-1\""},
      {"@SUM(A1)", "\"'@SUM(A1)\""},
      {"\tx", "\"'\tx\""},
      {"\rx", "\"'\rx\""},
      {"'q", "\"''q\""},
      {"=a,\"b\"", "\"'=a,\"\"b\"\"\""},
      {"a=b", "a=b"},
  };
  size_t i;
  fbuf_t b;
  (void)state;
  fbuf_init(&b, 0);
  for (i = 0; i < FERRY_ARRAY_LEN(cases); i++) {
    fbuf_reset(&b);
    tally_csv_field(&b, cases[i].in);
    assert_string_equal(fbuf_str(&b), cases[i].out);
  }
  fbuf_reset(&b);
  tally_csv_field(&b, NULL);
  assert_string_equal(fbuf_str(&b), "");
  fbuf_release(&b);
}

static void test_export(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t f[] = {oc("z,comma", 1, ST_FAILED, "access-denied"),
                       oc("a \"quoted\"", 2, ST_CHANGED, NULL),
                       oc("m\nnewline", 3, ST_VANISHED, NULL),
                       oc("\xe6\x95\xb0/\xc3\xa9", 4, ST_FAILED, "integrity")};
  fbuf_t b;
  size_t rows, i;
  tally_export_fmt_t fmt;
  char *line, *save = NULL, *copy;
  (void)state;
  assert_int_equal(tally_export_fmt_parse("csv", &fmt), 0);
  assert_int_equal(fmt, TALLY_EXPORT_CSV);
  assert_int_equal(tally_export_fmt_parse("jsonl", &fmt), 0);
  assert_int_equal(fmt, TALLY_EXPORT_JSONL);
  assert_int_equal(tally_export_fmt_parse("xml", &fmt), -1);
  assert_int_equal(tally_export_fmt_parse(NULL, &fmt), -1);

  f[0].message = "Access \"Denied\", really";
  add_task(t, mk_task("t", 1, 0, "listed", 4, 10, 1, T0));
  add_result(t, mk_result("t", "1-1", 1, 4, T0, T0 + 1234, f, 4));
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &rows);
  assert_int_equal(rows, 4);
  assert_string_equal(
      fbuf_str(&b),
      "key,size,status,reason,http_status,code,message,attempts,last_attempt,run,"
      "segment,etag\n"
      "\"a \"\"quoted\"\"\",2,changed,,0,,,3,2023-11-14T22:13:21.234Z,1,1-1,\n"
      "\"m\nnewline\",3,vanished,,0,,,3,2023-11-14T22:13:21.234Z,1,1-1,\n"
      "\"z,comma\",1,failed,access-denied,403,AccessDenied,"
      "\"Access \"\"Denied\"\", really\",3,2023-11-14T22:13:21.234Z,1,1-1,\n"
      "\xe6\x95\xb0/\xc3\xa9,4,failed,integrity,403,AccessDenied,Access Denied.,3,"
      "2023-11-14T22:13:21.234Z,1,1-1,\n");

  /* JSON lines: every line decodes and keys survive. */
  fbuf_reset(&b);
  tally_export_failed(t, "t", TALLY_EXPORT_JSONL, &b, &rows);
  assert_int_equal(rows, 4);
  copy = fbuf_steal(&b);
  for (i = 0, line = strtok_r(copy, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save), i++) {
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "key")), f[i == 0 ? 1
                                                                       : i == 1 ? 2
                                                                       : i == 2 ? 0
                                                                                : 3].key);
    assert_int_equal(json_integer_value(json_object_get(j, "last_attempt_ms")),
                     T0 + 1234);
    assert_true(json_is_null(json_object_get(j, "etag")));
    json_decref(j);
  }
  assert_int_equal(i, 4);
  free(copy);

  /* An unknown task: the header only. */
  fbuf_init(&b, 0);
  tally_export_failed(t, "nope", TALLY_EXPORT_CSV, &b, &rows);
  assert_int_equal(rows, 0);
  assert_non_null(strstr(fbuf_str(&b), "key,size,"));
  fbuf_release(&b);
  tally_destroy(t);
}

/* The export in chunks (a cursor, bounded memory)
 * gives what the whole export gives, survives changes between chunks, and
 * marks cells a spreadsheet would run as formulas. */
static void test_export_chunks(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t f[300], g[2];
  char keys[300][16];
  fbuf_t whole, parts, chunk;
  tally_export_t *x;
  size_t i, rows, calls = 0, max_chunk = 0;
  (void)state;
  for (i = 0; i < 300; i++) {
    snprintf(keys[i], sizeof(keys[i]), "k%03zu", (i * 7) % 300);  /* unsorted */
    f[i] = oc(keys[i], i, ST_FAILED, "access-denied");
  }
  add_task(t, mk_task("t", 1, 0, "listed", 302, 1000, 2, T0));
  add_result(t, mk_result("t", "1-1", 1, 300, T0, T0 + 1, f, 300));
  fbuf_init(&whole, 0);
  fbuf_init(&parts, 0);
  fbuf_init(&chunk, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &whole, &rows);
  assert_int_equal(rows, 300);
  x = tally_export_new("t", TALLY_EXPORT_CSV);
  while (tally_export_next(x, t, 7, 200, &chunk)) {
    calls++;
    max_chunk = chunk.len > max_chunk ? chunk.len : max_chunk;
    fbuf_add(&parts, chunk.p, chunk.len);
    fbuf_reset(&chunk);
  }
  assert_int_equal(tally_export_rows(x), 300);
  assert_string_equal(fbuf_str(&parts), fbuf_str(&whole));
  /* 200 bytes hold fewer than 7 rows of ~100 bytes: the byte bound cut. */
  assert_true(calls > 300 / 7 + 1);
  assert_true(max_chunk < 200 + 200);
  tally_export_free(x);

  /* Keys that fail between chunks: after the cursor they are written, before
   * it not; none twice, in order. */
  fbuf_reset(&parts);
  x = tally_export_new("t", TALLY_EXPORT_JSONL);
  assert_int_equal(tally_export_next(x, t, 10, SIZE_MAX, &parts), 1);
  assert_int_equal(tally_export_rows(x), 10);
  g[0] = oc("a-early", 1, ST_FAILED, "access-denied");
  g[1] = oc("z-late", 1, ST_FAILED, "access-denied");
  add_result(t, mk_result("t", "1-2", 1, 2, T0, T0 + 1, g, 2));
  while (tally_export_next(x, t, 10, SIZE_MAX, &parts)) {
  }
  assert_int_equal(tally_export_rows(x), 301);
  assert_null(strstr(fbuf_str(&parts), "a-early"));
  assert_non_null(strstr(fbuf_str(&parts), "\"key\":\"z-late\""));
  assert_true(strstr(fbuf_str(&parts), "\"k299\"") < strstr(fbuf_str(&parts), "z-late"));
  tally_export_free(x);

  /* A task that goes away between chunks ends the export. */
  x = tally_export_new("nope", TALLY_EXPORT_CSV);
  fbuf_reset(&parts);
  assert_int_equal(tally_export_next(x, t, 10, SIZE_MAX, &parts), 1);
  assert_int_equal(tally_export_next(x, t, 10, SIZE_MAX, &parts), 0);
  assert_string_equal(fbuf_str(&parts),
                      CSV_HEAD);
  tally_export_free(x);
  fbuf_release(&whole);
  fbuf_release(&parts);
  fbuf_release(&chunk);
  tally_destroy(t);
}

static void test_export_formulas(void **state) {
  tally_t *t = tally_new(NULL);
  msg_outcome_t f[] = {oc("=HYPERLINK(\"http://x\")", 1, ST_FAILED, "-r"),
                       oc("@SUM(A1)", 2, ST_FAILED, "x")};
  fbuf_t b;
  size_t rows;
  char *line, *save = NULL, *copy;
  json_error_t je;
  json_t *j;
  (void)state;
  f[0].code = "+cmd|' /C calc'!A0";
  f[1].message = "\tinvisible";
  add_task(t, mk_task("t", 1, 0, "listed", 2, 10, 1, T0));
  add_result(t, mk_result("t", "1-1", 1, 2, T0, T0 + 1234, f, 2));
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &rows);
  assert_int_equal(rows, 2);
  assert_string_equal(fbuf_str(&b),
                      CSV_HEAD
                      "\"'=HYPERLINK(\"\"http://x\"\")\",1,failed,\"'-r\",403,"
                      "\"'+cmd|' /C calc'!A0\",Access Denied.,3,"
                      "2023-11-14T22:13:21.234Z,1,1-1,\n"
                      "\"'@SUM(A1)\",2,failed,x,403,AccessDenied,\"'\tinvisible\",3,"
                      "2023-11-14T22:13:21.234Z,1,1-1,\n");
  /* JSON lines stay exact. */
  fbuf_reset(&b);
  tally_export_failed(t, "t", TALLY_EXPORT_JSONL, &b, &rows);
  copy = fbuf_steal(&b);
  line = strtok_r(copy, "\n", &save);
  j = json_loads(line, 0, &je);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "key")), f[0].key);
  assert_string_equal(json_string_value(json_object_get(j, "code")), f[0].code);
  assert_string_equal(json_string_value(json_object_get(j, "reason")), "-r");
  json_decref(j);
  free(copy);
  tally_destroy(t);
}

static void test_render(void **state) {
  tally_t *t = tally_new(NULL);
  tally_view_t v[2];
  fbuf_t b;
  json_t *j;
  char when[40];
  (void)state;
  fbuf_init(&b, 0);
  tally_fmt_bytes(&b, 512);
  fbuf_adds(&b, "|");
  tally_fmt_bytes(&b, 1536);
  fbuf_adds(&b, "|");
  tally_fmt_bytes(&b, 3.5 * 1024 * 1024 * 1024);
  assert_string_equal(fbuf_str(&b), "512 B|1.5 KiB|3.5 GiB");
  fbuf_reset(&b);
  tally_fmt_duration(&b, -1);
  fbuf_adds(&b, "|");
  tally_fmt_duration(&b, 45);
  fbuf_adds(&b, "|");
  tally_fmt_duration(&b, 185);
  fbuf_adds(&b, "|");
  tally_fmt_duration(&b, 3 * 3600 + 2 * 60 + 1);
  fbuf_adds(&b, "|");
  tally_fmt_duration(&b, 2 * 86400 + 5 * 3600);
  assert_string_equal(fbuf_str(&b), "-|45s|3m5s|3h2m1s|2d5h");
  tally_fmt_time_ms(when, sizeof(when), 0);
  assert_string_equal(when, "");
  tally_fmt_time_ms(when, sizeof(when), 86400005);
  assert_string_equal(when, "1970-01-02T00:00:00.005Z");

  feed_retry_story(t, 2);
  v[0] = view_at(t, "t", LATER);
  assert_int_equal(tally_view(t, "other", LATER, &v[1]), FERRY_ERR_NOTFOUND);
  fbuf_reset(&b);
  tally_view_text(&v[0], &b);
  assert_non_null(strstr(fbuf_str(&b), "state     completed-with-failures"));
  assert_non_null(strstr(fbuf_str(&b), "failed    1 (vanished 1)"));
  assert_non_null(strstr(fbuf_str(&b), "route     src:bucket-a/photos/ -> dst:bucket-b"));
  fbuf_reset(&b);
  tally_table_text(v, 2, &b);
  assert_non_null(strstr(fbuf_str(&b), "TASK "));
  assert_non_null(strstr(fbuf_str(&b), "\nt "));
  assert_non_null(strstr(fbuf_str(&b), "\nother "));
  assert_non_null(strstr(fbuf_str(&b), "pending"));
  fbuf_reset(&b);
  tally_view_line(&v[0], &b);
  assert_non_null(strstr(fbuf_str(&b), "t: completed-with-failures, 10/10 objects (100.0%)"));
  j = tally_view_json(&v[0]);
  assert_string_equal(json_string_value(json_object_get(j, "state")),
                      "completed-with-failures");
  assert_int_equal(json_integer_value(json_object_get(j, "copied")), 8);
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(j, "failed_by_reason"), "vanished")), 1);
  assert_int_equal(json_array_size(json_object_get(j, "runs")), 2);
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(j, "runs"), 1), "kind")),
                      "retry");
  json_decref(j);
  j = tally_view_json(&v[1]);
  assert_string_equal(json_string_value(json_object_get(j, "state")), "pending");
  assert_true(json_is_null(json_object_get(j, "total_objects")));
  json_decref(j);
  tally_view_release(&v[0]);
  tally_view_release(&v[1]);
  fbuf_release(&b);
  tally_destroy(t);
}

static void test_names_sorted(void **state) {
  tally_t *t = tally_new(NULL);
  const char **names;
  size_t n;
  (void)state;
  add_task(t, mk_task("zeta", 1, 0, "listing", 0, 0, 0, T0));
  add_result(t, mk_result("alpha", "1-1", 1, 1, T0, T0, NULL, 0));
  add_task(t, mk_task("mid", 1, 0, "listing", 0, 0, 0, T0));
  n = tally_task_names(t, &names);
  assert_int_equal(n, 3);
  assert_string_equal(names[0], "alpha");
  assert_string_equal(names[1], "mid");
  assert_string_equal(names[2], "zeta");
  fx_free(names);
  tally_destroy(t);
}

/* Memory grows with failures, not with objects: a full run of 2000
 * segments x 100 objects, then a full re-run listing every copy (runs > 1
 * do), keeps only the failed keys. */
static void test_memory_bound(void **state) {
  tally_t *t = tally_new(NULL);
  static msg_outcome_t ocs[100];
  static char keys[100][32];
  size_t s, i;
  char seg[32];
  (void)state;
  add_task(t, mk_task("big", 1, 0, "listed", 200000, 0, 2000, T0));
  for (s = 0; s < 2000; s++) {
    size_t n = 0;
    snprintf(seg, sizeof(seg), "1-%06zu", s);
    if (s % 100 == 0) {   /* one failure every 100 segments */
      snprintf(keys[0], sizeof(keys[0]), "k%06zu-00", s);
      ocs[n++] = oc(keys[0], 1, ST_FAILED, "http-503");
    }
    add_result(t, mk_result("big", seg, 1, 100, T0, T0 + 1, ocs, n));
  }
  assert_int_equal(tally_tracked_keys(t, "big"), 20);
  /* Run 2 (kind not known yet): copies of keys never failed are not kept. */
  for (s = 0; s < 50; s++) {
    snprintf(seg, sizeof(seg), "2-%06zu", s);
    for (i = 0; i < 100; i++) {
      snprintf(keys[i], sizeof(keys[i]), "k%06zu-%02zu", s, i);
      ocs[i] = oc(keys[i], 1, ST_COPIED, NULL);
    }
    add_result(t, mk_result("big", seg, 2, 100, T0 + 10, T0 + 11, ocs, 100));
  }
  assert_int_equal(tally_tracked_keys(t, "big"), 20);
  tally_destroy(t);
}

/* Failed keys live in the on-disk index (failidx.h), not on the heap: 50 000
 * failures, then a retry copying half of them, grow the heap by far less
 * than the keys would take (about 10 MB held in memory before); the view,
 * the export and tally_still_failed stay exact. (mallinfo2 counts glibc's
 * heap; under ASan it reads 0 and the bound holds trivially.) */
static void test_failures_off_heap(void **state) {
  tally_t *t = tally_new(NULL);
  static msg_outcome_t ocs[100];
  static char keys[100][48];
  size_t s, i, before, grown, n;
  char seg[32];
  tally_view_t v;
  tally_failed_row_t *rows;
  fbuf_t b;
  (void)state;
  add_task(t, mk_task("t", 1, 0, "listed", 50000, 50000, 500, T0));
  before = mallinfo2().uordblks;
  for (s = 0; s < 500; s++) {
    snprintf(seg, sizeof(seg), "1-%06zu", s);
    for (i = 0; i < 100; i++) {
      snprintf(keys[i], sizeof(keys[i]), "photos/2024/k%06zu-%02zu.jpg", s, i);
      ocs[i] = oc(keys[i], 1, ST_FAILED, "http-503");
    }
    add_result(t, mk_result("t", seg, 1, 100, T0, T0 + 1, ocs, 100));
  }
  grown = mallinfo2().uordblks - before;
  assert_int_equal(tally_tracked_keys(t, "t"), 50000);
  assert_true(grown < 2 * 1024 * 1024);
  /* Run 2 retries run 1: the even keys copied, the odd ones fail again. */
  add_task(t, mk_task("t", 2, 1, "listed", 50000, 50000, 500, T0 + 10));
  for (s = 0; s < 500; s++) {
    snprintf(seg, sizeof(seg), "2-%06zu", s);
    for (i = 0; i < 100; i++) {
      snprintf(keys[i], sizeof(keys[i]), "photos/2024/k%06zu-%02zu.jpg", s, i);
      ocs[i] = oc(keys[i], 1, i % 2 ? ST_FAILED : ST_COPIED, i % 2 ? "http-500" : NULL);
    }
    add_result(t, mk_result("t", seg, 2, 100, T0 + 10, T0 + 11, ocs, 100));
  }
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.failed, 25000);
  assert_int_equal(v.f.copied, 25000);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "http-500"), 25000);
  assert_int_equal(reason_n(v.f.failed_by, v.f.n_failed_by, "http-503"), 0);
  tally_view_release(&v);
  n = tally_still_failed(t, "t", 0, &rows);
  assert_int_equal(n, 25000);
  assert_string_equal(rows[0].key, "photos/2024/k000000-01.jpg");
  for (i = 1; i < n; i++) assert_true(strcmp(rows[i - 1].key, rows[i].key) < 0);
  {
    /* In chunks (ferry-lister --retry-failed): the same rows, each once, in
     * order, the keys no longer failed between them skipped. */
    tally_failed_row_t *c;
    size_t got = 0, k;
    char *after = NULL;
    for (;;) {
      size_t m = tally_still_failed_from(t, "t", 0, after, 999, &c);
      if (!m) break;
      assert_true(m <= 999);
      for (k = 0; k < m; k++) assert_string_equal(c[k].key, rows[got + k].key);
      got += m;
      free(after);
      after = strdup(c[m - 1].key);
      tally_failed_rows_free(c, m);
    }
    free(after);
    assert_int_equal(got, n);
  }
  tally_failed_rows_free(rows, n);
  /* Before run 2: every key failed, as run 1 left them. */
  n = tally_still_failed(t, "t", 2, &rows);
  assert_int_equal(n, 50000);
  tally_failed_rows_free(rows, n);
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &n);
  assert_int_equal(n, 25000);
  fbuf_release(&b);
  /* A new full run drops the older runs' keys from the index. */
  add_task(t, mk_task("t", 3, 0, "listing", 0, 0, 0, T0 + 20));
  assert_int_equal(tally_tracked_keys(t, "t"), 0);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.failed, 0);
  tally_view_release(&v);
  tally_destroy(t);
}

/* Keys past LMDB's key limit (S3 allows 1024 bytes) sharing their first
 * 600 bytes: each counts, exports once, in key order, and a retry outcome
 * reaches the right one. */
static void test_long_keys(void **state) {
  tally_t *t = tally_new(NULL);
  static char k[3][1100];
  msg_outcome_t r1[3], r2[1];
  tally_failed_row_t *rows;
  tally_view_t v;
  size_t n;
  (void)state;
  memset(k[0], 'x', 1000);
  k[0][1000] = '\0';
  memcpy(k[1], k[0], 1001);
  memcpy(k[2], k[0], 1001);
  k[0][999] = 'c';
  k[1][999] = 'a';
  k[2][700] = '\0';
  r1[0] = oc(k[0], 1, ST_FAILED, "http-503");
  r1[1] = oc(k[1], 1, ST_FAILED, "http-503");
  r1[2] = oc(k[2], 1, ST_FAILED, "http-503");
  r2[0] = oc(k[0], 1, ST_COPIED, NULL);
  add_task(t, mk_task("t", 1, 0, "listed", 3, 3, 1, T0));
  add_result(t, mk_result("t", "1-1", 1, 3, T0, T0 + 1, r1, 3));
  add_task(t, mk_task("t", 2, 1, "listed", 1, 1, 1, T0 + 10));
  add_result(t, mk_result("t", "2-1", 2, 1, T0 + 10, T0 + 11, r2, 1));
  n = tally_still_failed(t, "t", 0, &rows);
  assert_int_equal(n, 2);
  assert_string_equal(rows[0].key, k[2]);   /* the shorter one first */
  assert_string_equal(rows[1].key, k[1]);
  tally_failed_rows_free(rows, n);
  v = view_at(t, "t", LATER);
  assert_int_equal(v.f.failed, 2);
  assert_int_equal(v.f.copied, 1);
  tally_view_release(&v);
  tally_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_dedup),
      cmocka_unit_test(test_states),
      cmocka_unit_test(test_reasons),
      cmocka_unit_test(test_retry_moves_failed),
      cmocka_unit_test(test_retry_in_progress),
      cmocka_unit_test(test_still_failed_all_runs),
      cmocka_unit_test(test_label_permanent),
      cmocka_unit_test(test_collision_never_done),
      cmocka_unit_test(test_fresh_rerun),
      cmocka_unit_test(test_order_independent),
      cmocka_unit_test(test_compacted),
      cmocka_unit_test(test_failed_records),
      cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_retry_of_codec),
      cmocka_unit_test(test_eta_math),
      cmocka_unit_test(test_worker_busy),
      cmocka_unit_test(test_csv_quoting),
      cmocka_unit_test(test_export),
      cmocka_unit_test(test_export_chunks),
      cmocka_unit_test(test_export_formulas),
      cmocka_unit_test(test_render),
      cmocka_unit_test(test_names_sorted),
      cmocka_unit_test(test_memory_bound),
      cmocka_unit_test(test_failures_off_heap),
      cmocka_unit_test(test_long_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
