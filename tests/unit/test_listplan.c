/* Unit tests for lib/plan/listplan: which run a lister starts, from where;
 * and the task record's optional "kind" through the codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bus/msg.h"
#include "plan/listplan.h"

static msg_task_t def(void) {
  msg_task_t t;
  memset(&t, 0, sizeof(t));
  t.task = "t";
  t.src.store = "src";
  t.src.bucket = "b";
  t.src.prefix = "p/";
  t.dst.store = "dst";
  t.dst.bucket = "d";
  t.dst.prefix = "";
  t.policy = POLICY_SKIP_IF_SAME;
  return t;
}

static msg_task_t rec(int run, const char *state, const char *kind, const char *cp,
                      uint64_t segments) {
  msg_task_t t = def();
  t.run = run;
  t.state = (char *)state;
  t.kind = (char *)kind;
  t.checkpoint = (char *)cp;
  t.segments = segments;
  t.listed_objects = segments * 10;
  t.listed_bytes = segments * 1000;
  return t;
}

static void test_no_record(void **state) {
  msg_task_t d = def();
  listplan_t p;
  char err[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(listplan_decide(LISTPLAN_LIST, NULL, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 1);
  assert_int_equal(p.resume, 0);
  assert_null(p.start_after);
  assert_int_equal(listplan_decide(LISTPLAN_FROM_LIST, NULL, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 1);
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, NULL, &d, &p, err), FERRY_ERR_NOTFOUND);
  assert_non_null(strstr(err, "nothing to retry"));
}

static void test_finished(void **state) {
  msg_task_t d = def(), r = rec(3, "listed", NULL, "p/z", 40);
  listplan_t p;
  char err[FERRY_ERRLEN];
  (void)state;
  /* A plain re-run of a finished task is a fresh pass. */
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 4);
  assert_int_equal(p.resume, 0);
  assert_null(p.start_after);
  assert_int_equal(p.segments, 0);
  assert_string_equal(p.note, "");
  assert_int_equal(p.retry_of, 0);
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 4);
  assert_int_equal(p.base_run, 3);
  assert_int_equal(p.retry_of, 3);     /* run 3 was full */
  /* After a retry (of full run 2), a retry or a replay still belongs to run 2. */
  r.kind = "retry";
  r.retry_of = 2;
  assert_int_equal(listplan_decide(LISTPLAN_FROM_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 4);
  assert_int_equal(p.retry_of, 2);
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.base_run, 3);
  assert_int_equal(p.retry_of, 2);
  /* ... and a plain re-run is a new full run. */
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.retry_of, 0);
  r.retry_of = 0;
  /* A changed definition is noted, not refused. */
  r.src.prefix = "other/";
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 4);
  assert_non_null(strstr(p.note, "changed"));
}

static void test_resume_listing(void **state) {
  msg_task_t d = def(), r = rec(2, "listing", NULL, "p/k-0042", 7);
  listplan_t p;
  char err[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 2);
  assert_int_equal(p.resume, 1);
  assert_string_equal(p.start_after, "p/k-0042");
  assert_int_equal(p.segments, 7);
  assert_int_equal(p.objects, 70);
  assert_int_equal(p.bytes, 7000);
  /* A run that gave up ("failed") resumes the same way. */
  r.state = "failed";
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 2);
  assert_int_equal(p.resume, 1);
  /* No checkpoint yet: the same run from the start. */
  r = rec(2, "listing", NULL, NULL, 0);
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 2);
  assert_int_equal(p.resume, 1);
  assert_null(p.start_after);
  assert_int_equal(p.segments, 0);
  /* A checkpoint with zero segments is inconsistent: start over, skip nothing. */
  r = rec(2, "listing", NULL, "p/x", 0);
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_OK);
  assert_null(p.start_after);
  /* Definition changed: not resumed, a new run. */
  r = rec(2, "listing", NULL, "p/x", 3);
  r.policy = POLICY_OVERWRITE;
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 3);
  assert_int_equal(p.resume, 0);
  assert_null(p.start_after);
  assert_non_null(strstr(p.note, "run 2 was not finished"));
}

static void test_unfinished_other_kind(void **state) {
  msg_task_t d = def(), r = rec(5, "listing", NULL, "p/x", 3);
  listplan_t p;
  char err[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, &r, &d, &p, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "run 5 (list) is unfinished"));
  assert_non_null(strstr(err, "plain re-run"));
  assert_int_equal(listplan_decide(LISTPLAN_FROM_LIST, &r, &d, &p, err), FERRY_ERR_INVALID);
  r = rec(5, "listing", "retry", NULL, 1);
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "--retry-failed"));
  r = rec(5, "failed", "from-list", NULL, 1);
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, &r, &d, &p, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "--from-list"));
  r = rec(5, "listing", "shards", NULL, 1);
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "kind \"shards\""));
  assert_int_equal(listplan_record_kind(&r), -1);
}

static void test_redo_replays(void **state) {
  msg_task_t d = def(), r = rec(4, "listing", "retry", NULL, 2);
  listplan_t p;
  char err[FERRY_ERRLEN];
  (void)state;
  /* An interrupted retry run is redone whole, same run number. */
  r.retry_of = 2;
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 4);
  assert_int_equal(p.base_run, 3);
  assert_int_equal(p.retry_of, 2);
  /* A record with retry_of and no kind (another writer) is a retry. */
  r.kind = NULL;
  assert_int_equal(listplan_record_kind(&r), LISTPLAN_RETRY);
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_ERR_INVALID);
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, &r, &d, &p, err), FERRY_OK);
  r.kind = "retry";
  r.retry_of = 0;
  assert_int_equal(p.resume, 0);
  assert_null(p.start_after);
  r.run = 1;
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, &r, &d, &p, err), FERRY_ERR_NOTFOUND);
  r = rec(6, "failed", "from-list", NULL, 2);
  assert_int_equal(listplan_decide(LISTPLAN_FROM_LIST, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 6);
  assert_int_equal(p.resume, 0);
}

static void test_kind_codec(void **state) {
  msg_task_t r = rec(2, "listed", "retry", NULL, 1), d;
  char err[FERRY_ERRLEN], *j;
  (void)state;
  r.updated_ms = 1;
  r.retry_of = 1;
  j = msg_task_encode(&r);
  assert_non_null(j);
  assert_non_null(strstr(j, "\"retry_of\":1,\"kind\":\"retry\""));
  assert_int_equal(msg_task_decode(j, strlen(j), &d, err), FERRY_OK);
  assert_string_equal(d.kind, "retry");
  assert_int_equal(d.retry_of, 1);
  assert_int_equal(listplan_record_kind(&d), LISTPLAN_RETRY);
  msg_task_release(&d);
  fx_free(j);
  /* Absent kind: omitted, decodes as NULL = list. */
  r.kind = NULL;
  r.retry_of = 0;
  j = msg_task_encode(&r);
  assert_null(strstr(j, "kind"));
  assert_int_equal(msg_task_decode(j, strlen(j), &d, err), FERRY_OK);
  assert_null(d.kind);
  assert_int_equal(listplan_record_kind(&d), LISTPLAN_LIST);
  msg_task_release(&d);
  fx_free(j);
  /* An empty kind is refused. */
  {
    const char *bad = "{\"v\":1,\"task\":\"t\",\"run\":1,\"src\":{\"store\":\"s\",\"bucket\":\"b\"},"
                      "\"dst\":{\"store\":\"d\",\"bucket\":\"c\"},\"policy\":\"skip\",\"state\":"
                      "\"listed\",\"listed_objects\":0,\"listed_bytes\":0,\"segments\":0,"
                      "\"updated_ms\":0,\"kind\":\"\"}";
    assert_int_equal(msg_task_decode(bad, strlen(bad), &d, err), FERRY_ERR_PARSE);
    assert_non_null(strstr(err, "task.kind"));
  }
}

/* --incremental: a full run (no retry_of), never resumed nor redone. */
static void test_incremental(void **state) {
  msg_task_t d = def(), r = rec(3, "listed", NULL, "p/z", 40);
  listplan_t p;
  char err[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(listplan_decide(LISTPLAN_INCREMENTAL, NULL, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 1);
  assert_int_equal(p.retry_of, 0);
  assert_int_equal(listplan_decide(LISTPLAN_INCREMENTAL, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 4);
  assert_int_equal(p.retry_of, 0);
  assert_int_equal(p.resume, 0);
  /* After a retry of run 2, an incremental run is still a full run. */
  r.kind = "retry";
  r.retry_of = 2;
  assert_int_equal(listplan_decide(LISTPLAN_INCREMENTAL, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.retry_of, 0);
  /* Unfinished incremental: the next one is run + 1, computed afresh. */
  r = rec(5, "listing", "incremental", "p/k", 3);
  assert_int_equal(listplan_record_kind(&r), LISTPLAN_INCREMENTAL);
  assert_int_equal(listplan_decide(LISTPLAN_INCREMENTAL, &r, &d, &p, err), FERRY_OK);
  assert_int_equal(p.run, 6);
  assert_int_equal(p.resume, 0);
  assert_null(p.start_after);
  assert_non_null(strstr(p.note, "incremental run 5 was not finished"));
  /* ... and other commands are told to finish it with --incremental. */
  assert_int_equal(listplan_decide(LISTPLAN_LIST, &r, &d, &p, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "--incremental"));
  assert_int_equal(listplan_decide(LISTPLAN_RETRY, &r, &d, &p, err), FERRY_ERR_INVALID);
  /* An unfinished plain listing is not taken over by --incremental. */
  r = rec(5, "listing", NULL, "p/k", 3);
  assert_int_equal(listplan_decide(LISTPLAN_INCREMENTAL, &r, &d, &p, err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "plain re-run"));
  assert_string_equal(listplan_kind_str(LISTPLAN_INCREMENTAL), "incremental");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_incremental),
      cmocka_unit_test(test_no_record),
      cmocka_unit_test(test_finished),
      cmocka_unit_test(test_resume_listing),
      cmocka_unit_test(test_unfinished_other_kind),
      cmocka_unit_test(test_redo_replays),
      cmocka_unit_test(test_kind_codec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
