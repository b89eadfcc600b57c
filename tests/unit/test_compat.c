/*
 * Messages written by earlier releases are still read (docs/messages.md,
 * "Compatibility"): every line of tests/fixtures/messages/<release>/<topic>.jsonl,
 * captured from that release's services by capture.sh beside them, decodes
 * with today's decoders, and what a reader acts on still holds (counts add
 * up, failed records keep their reason). A codec change that breaks a
 * rolling upgrade fails here.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus/audit.h"
#include "bus/msg.h"

#define MSG_DIR FIXTURES_DIR "/messages"

typedef int (*check_fn)(const char *line, size_t len, char *eb);

static int check_task(const char *line, size_t len, char *eb) {
  msg_task_t t;
  if (msg_task_decode(line, len, &t, eb) != FERRY_OK) return -1;
  int ok = t.task && t.run >= 1 && t.state;
  msg_task_release(&t);
  return ok ? 0 : -1;
}

static int check_segment(const char *line, size_t len, char *eb) {
  msg_segment_t s;
  if (msg_segment_decode(line, len, &s, eb) != FERRY_OK) return -1;
  int ok = s.task && s.id && s.n_objs > 0 && s.objs[0].key;
  msg_segment_release(&s);
  return ok ? 0 : -1;
}

static int check_result(const char *line, size_t len, char *eb) {
  msg_result_t r;
  if (msg_result_decode(line, len, &r, eb) != FERRY_OK) return -1;
  /* The reporter's figures rest on these adding up. */
  int ok = r.task && r.segment &&
           r.n_objects == r.n_copied + r.n_skipped + r.n_failed &&
           r.n_outcomes == r.n_skipped + r.n_failed;
  msg_result_release(&r);
  return ok ? 0 : -1;
}

static int check_failed(const char *line, size_t len, char *eb) {
  msg_failed_t f;
  if (msg_failed_decode(line, len, &f, eb) != FERRY_OK) return -1;
  /* Retry replays src/obj; the export shows reason. */
  int ok = f.task && f.obj.key && f.src.bucket && f.outcome.status == ST_FAILED &&
           f.outcome.reason;
  msg_failed_release(&f);
  return ok ? 0 : -1;
}

static int check_audit(const char *line, size_t len, char *eb) {
  msg_audit_t a;
  if (msg_audit_decode(line, len, &a, eb) != FERRY_OK) return -1;
  /* A rollback is built from dst_key and overwrote. */
  int ok = a.task && a.dst.bucket && a.n_recs > 0 && a.recs[0].dst_key;
  msg_audit_release(&a);
  return ok ? 0 : -1;
}

/* optional: the audit topic is only in captures of releases that have it. */
static const struct {
  const char *topic;
  check_fn check;
  int optional;
} topics[] = {{"tasks", check_task, 0},
              {"segments", check_segment, 0},
              {"results", check_result, 0},
              {"failed", check_failed, 0},
              {"audit", check_audit, 1}};

/* Returns the number of lines checked in DIR/topic.jsonl. */
static size_t check_file(const char *dir, const char *topic, check_fn check, int optional) {
  char path[512], *line = NULL, eb[FERRY_ERRLEN];
  size_t cap = 0, n = 0;
  ssize_t len;
  snprintf(path, sizeof path, "%s/%s.jsonl", dir, topic);
  FILE *f = fopen(path, "r");
  if (!f && optional) return 1;   /* a release before the topic existed */
  if (!f) fail_msg("%s: missing", path);
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = '\0';
    if (len == 0) continue;
    eb[0] = '\0';
    if (check(line, (size_t)len, eb) != 0)
      fail_msg("%s line %zu no longer reads: %s", path, n + 1, eb[0] ? eb : "fields lost");
    n++;
  }
  free(line);
  fclose(f);
  return n;
}

static void test_every_release_reads(void **state) {
  (void)state;
  DIR *d = opendir(MSG_DIR);
  struct dirent *e;
  size_t releases = 0;
  assert_non_null(d);
  while ((e = readdir(d))) {
    char dir[400];
    if (e->d_name[0] != 'v') continue;
    snprintf(dir, sizeof dir, "%s/%s", MSG_DIR, e->d_name);
    for (size_t i = 0; i < FERRY_ARRAY_LEN(topics); i++)
      assert_true(check_file(dir, topics[i].topic, topics[i].check, topics[i].optional) > 0);
    releases++;
  }
  closedir(d);
  assert_true(releases >= 1);
}

/* The v0.1.0 capture in particular: a failed object keeps its reason and a
 * result of a refused destination counts every object failed. */
static void test_v010_semantics(void **state) {
  (void)state;
  char eb[FERRY_ERRLEN];
  const char *line =
      "{\"v\":1,\"task\":\"bad\",\"segment\":\"1-000001\",\"run\":1,\"worker\":\"w\","
      "\"n_objects\":1,\"n_copied\":0,\"n_skipped\":0,\"n_failed\":1,\"bytes\":0,"
      "\"started_ms\":1,\"finished_ms\":2,\"outcomes\":[{\"key\":\"k\",\"size\":10,"
      "\"status\":\"failed\",\"reason\":\"no-such-bucket\",\"bytes\":0,\"attempts\":2,"
      "\"duration_ms\":58,\"http_status\":404,\"code\":\"NoSuchBucket\"}]}";
  msg_result_t r;
  assert_int_equal(msg_result_decode(line, strlen(line), &r, eb), FERRY_OK);
  assert_int_equal(r.n_outcomes, 1);
  assert_string_equal(r.outcomes[0].reason, "no-such-bucket");
  assert_int_equal(r.outcomes[0].http_status, 404);
  msg_result_release(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_release_reads),
      cmocka_unit_test(test_v010_semantics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
