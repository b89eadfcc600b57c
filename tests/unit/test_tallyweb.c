/*
 * Unit tests for lib/report/tallyweb.c: HTML, URL and label escaping, %-decoding,
 * the URL routes (no traversal, encoded slashes stay in names), the metrics
 * (every line in the exposition grammar, one family each, values from the
 * views, hostile task names escaped), the page (escaped names and reasons,
 * bar colours by state, links with %-encoded names, one script only) and the
 * page's CSP.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "report/tally.h"
#include "report/tallyweb.h"

#define T0 1700000000000LL
#define EVIL "a\"b\\c\nd<script>alert(1)</script>&'"

/* ---------- builders: raw records, as Kafka carries them ---------- */

static void feed(tally_t *t, tally_src_t src, const char *json) {
  char eb[FERRY_ERRLEN];
  ferry_err_t e = tally_feed(t, src, json, strlen(json), NULL, eb);
  if (e) fail_msg("tally_feed: %s\n%s", eb, json);
}

/* name is JSON-encoded here, so any bytes go in. */
static void task_rec(tally_t *t, const char *name, const char *state, int objs,
                     int segs) {
  json_t *j = json_pack(
      "{s:i, s:s, s:i, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:i, s:i, s:i, "
      "s:I}",
      "v", 1, "task", name, "run", 1, "src", "store", "src", "bucket", "b<src>", "prefix",
      "", "dst", "store", "dst", "bucket", "b-dst", "prefix", "p/", "policy",
      "skip-if-same", "state", state, "listed_objects", objs, "listed_bytes", objs * 1000,
      "segments", segs, "updated_ms", (json_int_t)(T0 + 100));
  char *s = json_dumps(j, JSON_COMPACT);
  feed(t, TALLY_SRC_TASKS, s);
  free(s);
  json_decref(j);
}

/* A result of n objects, the first n_failed failed with reason. */
static void result_rec(tally_t *t, const char *name, const char *seg, int n, int n_failed,
                       const char *reason, int64_t started) {
  json_t *ocs = json_array(), *j;
  char *s;
  int i;
  for (i = 0; i < n_failed; i++) {
    char key[32];
    snprintf(key, sizeof(key), "%s-k%d", seg, i);
    json_array_append_new(
        ocs, json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:i}", "key", key, "size",
                       1000, "status", "failed", "reason", reason, "bytes", 0, "attempts",
                       3, "duration_ms", 10, "http_status", 403));
  }
  j = json_pack("{s:i, s:s, s:s, s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:o}",
                "v", 1,
                "task", name, "segment", seg, "run", 1, "worker", "w1", "n_objects", n,
                "n_copied", n - n_failed, "n_skipped", 0, "n_failed", n_failed, "bytes",
                (n - n_failed) * 1000, "started_ms", (json_int_t)started, "finished_ms",
                (json_int_t)(started + 1000), "outcomes", ocs);
  s = json_dumps(j, JSON_COMPACT);
  feed(t, TALLY_SRC_RESULTS, s);
  free(s);
  json_decref(j);
}

/* Three tasks: "clean" completed, "demo" completed with 3 failures (two
 * reasons), and EVIL still listing, with one failure. */
static tally_t *fixture(void) {
  tally_t *t = tally_new(NULL);
  task_rec(t, "clean", "listed", 4, 1);
  result_rec(t, "clean", "1-000001", 4, 0, NULL, T0 + 1000);
  task_rec(t, "demo", "listed", 10, 2);
  result_rec(t, "demo", "1-000001", 5, 1, "access-denied", T0 + 1000);
  result_rec(t, "demo", "1-000002", 5, 2, "integrity", T0 + 2000);
  task_rec(t, EVIL, "listing", 8, 1);
  result_rec(t, EVIL, "1-000001", 4, 1, "<img src=x onerror=alert(2)>", T0 + 1500);
  return t;
}

static size_t views_of(const tally_t *t, int64_t now, tally_view_t **out) {
  const char **names;
  size_t n = tally_task_names(t, &names), i;
  *out = calloc(n + 1, sizeof(**out));
  for (i = 0; i < n; i++) assert_int_equal(tally_view(t, names[i], now, &(*out)[i]), 0);
  fx_free(names);
  return n;
}

static void views_free(tally_view_t *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) tally_view_release(&v[i]);
  free(v);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  const char *p = hay;
  while ((p = strstr(p, needle)) != NULL) {
    n++;
    p += strlen(needle);
  }
  return n;
}

#define assert_has(hay, needle)                                                     \
  do {                                                                              \
    if (!strstr((hay), (needle))) fail_msg("missing \"%s\" in:\n%s", (needle), (hay)); \
  } while (0)
#define assert_lacks(hay, needle)                                                     \
  do {                                                                                \
    if (strstr((hay), (needle))) fail_msg("unexpected \"%s\" in:\n%s", (needle), (hay)); \
  } while (0)

/* ---------- escaping ---------- */

static void test_escapes(void **state) {
  fbuf_t b;
  char *d = NULL;
  (void)state;
  fbuf_init(&b, 0);
  tallyweb_html_escape(&b, "<a href=\"x\">'&'</a>");
  assert_string_equal(fbuf_str(&b),
                      "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  fbuf_reset(&b);
  tallyweb_url_escape(&b, "a b/c?d#e%f..~_-é");
  assert_string_equal(fbuf_str(&b), "a%20b%2Fc%3Fd%23e%25f..~_-%C3%A9");
  fbuf_reset(&b);
  tallyweb_label_escape(&b, "a\"b\\c\nd");
  assert_string_equal(fbuf_str(&b), "a\\\"b\\\\c\\nd");
  fbuf_release(&b);

  assert_int_equal(tallyweb_url_decode("a%2Fb%20c+%c3%a9", 16, &d), 0);
  assert_string_equal(d, "a/b c+\xc3\xa9");
  fx_free(d);
  assert_int_equal(tallyweb_url_decode("abc", 2, &d), 0);   /* only n bytes */
  assert_string_equal(d, "ab");
  fx_free(d);
  assert_int_equal(tallyweb_url_decode("a%zz", 4, &d), -1);
  assert_null(d);
  assert_int_equal(tallyweb_url_decode("a%2", 3, &d), -1);
  assert_int_equal(tallyweb_url_decode("a%", 2, &d), -1);
  assert_int_equal(tallyweb_url_decode("a%00b", 5, &d), -1);   /* no NUL in names */
}

/* ---------- routes ---------- */

static void test_routes(void **state) {
  static const struct {
    const char *path;
    tallyweb_route_t r;
    const char *task;
  } cases[] = {
      {"/", TALLYWEB_PAGE, NULL},
      {"/index.html", TALLYWEB_PAGE, NULL},
      {"/metrics", TALLYWEB_METRICS, NULL},
      {"/api/tasks", TALLYWEB_TASKS, NULL},
      {"/api/tasks/", TALLYWEB_TASKS, NULL},
      {"/api/reporter", TALLYWEB_REPORTER, NULL},
      {"/api/tasks/demo", TALLYWEB_TASK, "demo"},
      {"/api/tasks/a%2Fb%3Cx%3E", TALLYWEB_TASK, "a/b<x>"},
      {"/api/tasks/..", TALLYWEB_TASK, ".."},   /* a name, never a directory */
      {"/api/tasks/demo/failed.csv", TALLYWEB_FAILED_CSV, "demo"},
      {"/api/tasks/demo/failed.jsonl", TALLYWEB_FAILED_JSONL, "demo"},
      {"/api/tasks/x%2F..%2F..%2Fetc/failed.csv", TALLYWEB_FAILED_CSV, "x/../../etc"},
      {"/api/tasks/%zz", TALLYWEB_BAD_PATH, NULL},
      {"/api/tasks/a%00b/failed.csv", TALLYWEB_BAD_PATH, NULL},
      {"", TALLYWEB_NOT_FOUND, NULL},
      {"metrics", TALLYWEB_NOT_FOUND, NULL},
      {"//", TALLYWEB_NOT_FOUND, NULL},
      {"/metrics/", TALLYWEB_NOT_FOUND, NULL},
      {"/../etc/passwd", TALLYWEB_NOT_FOUND, NULL},
      {"/api", TALLYWEB_NOT_FOUND, NULL},
      {"/api/", TALLYWEB_NOT_FOUND, NULL},
      {"/api/task", TALLYWEB_NOT_FOUND, NULL},
      {"/api/tasks//failed.csv", TALLYWEB_NOT_FOUND, NULL},
      {"/api/tasks/demo/failed.txt", TALLYWEB_NOT_FOUND, NULL},
      {"/api/tasks/demo/failed.csv/", TALLYWEB_NOT_FOUND, NULL},
      {"/api/tasks/demo/../../../etc/passwd", TALLYWEB_NOT_FOUND, NULL},
      {"/index.htm", TALLYWEB_NOT_FOUND, NULL},
      {"/favicon.ico", TALLYWEB_NOT_FOUND, NULL},
      /* The console's routes. */
      {"/login", TALLYWEB_LOGIN, NULL},
      {"/logout", TALLYWEB_LOGOUT, NULL},
      {"/login/", TALLYWEB_NOT_FOUND, NULL},
      {"/api/session", TALLYWEB_SESSION, NULL},
      {"/api/stores", TALLYWEB_STORES, NULL},
      {"/api/workers", TALLYWEB_WORKERS, NULL},
      {"/fleet", TALLYWEB_FLEET, NULL},
      {"/task/a%2Fb", TALLYWEB_TASK_PAGE, "a/b"},
      {"/task/", TALLYWEB_NOT_FOUND, NULL},
      {"/task/%zz", TALLYWEB_BAD_PATH, NULL},
      {"/api/tasks/demo/actions", TALLYWEB_ACTIONS, "demo"},
      {"/api/tasks/demo/pause", TALLYWEB_ACTION, "demo"},
      {"/api/tasks/demo/retry-failed", TALLYWEB_ACTION, "demo"},
      {"/api/tasks/demo/limits", TALLYWEB_ACTION, "demo"},
      {"/api/tasks/demo/delete", TALLYWEB_NOT_FOUND, NULL},
      {"/api/tasks/demo/pause/x", TALLYWEB_NOT_FOUND, NULL},
      {"/api/tasks/%zz/pause", TALLYWEB_BAD_PATH, NULL},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *task = (char *)"unset";
    const char *verb = "unset";
    tallyweb_route_t r = tallyweb_route_verb(cases[i].path, &task, &verb);
    if (r != cases[i].r) fail_msg("%s: route %d, want %d", cases[i].path, r, cases[i].r);
    if (r == TALLYWEB_ACTION)
      assert_string_equal(verb, strrchr(cases[i].path, '/') + 1);
    else
      assert_null(verb);
    if (cases[i].task) {
      assert_non_null(task);
      assert_string_equal(task, cases[i].task);
    } else {
      assert_null(task);
    }
    fx_free(task);
  }
}

/* ---------- metrics ---------- */

static int metric_name(const char **p) {
  const char *s = *p;
  if (!(isalpha((unsigned char)*s) || *s == '_' || *s == ':')) return -1;
  while (isalnum((unsigned char)*s) || *s == '_' || *s == ':') s++;
  *p = s;
  return 0;
}

/* One sample line: name{l="v",...} value. -1 when it breaks the grammar. */
static int sample_line(const char *line, char *name, size_t name_n) {
  const char *p = line, *start = line;
  char *end;
  if (metric_name(&p)) return -1;
  snprintf(name, name_n, "%.*s", (int)(p - start), start);
  if (*p == '{') {
    p++;
    while (*p != '}') {
      if (!(isalpha((unsigned char)*p) || *p == '_')) return -1;
      while (isalnum((unsigned char)*p) || *p == '_') p++;
      if (*p++ != '=' || *p++ != '"') return -1;
      while (*p != '"') {
        if (!*p || *p == '\n') return -1;
        if (*p == '\\') {
          p++;
          if (*p != '\\' && *p != '"' && *p != 'n') return -1;
        }
        p++;
      }
      p++;
      if (*p == ',') p++;
      else if (*p != '}') return -1;
    }
    p++;
  }
  if (*p++ != ' ') return -1;
  if (strcmp(p, "NaN") == 0 || strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0) return 0;
  strtod(p, &end);
  return end != p && *end == '\0' ? 0 : -1;
}

/* Checks the whole text: HELP/TYPE then the family's samples, each family
 * once; returns the text's lines for further checks. */
static void check_exposition(const char *text) {
  char *copy = strdup(text), *line, *save = NULL;
  char families[64][80], cur[80] = "";
  size_t n_fam = 0, i;
  assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
  for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char name[200];
    if (strncmp(line, "# HELP ", 7) == 0) {
      const char *p = line + 7;
      if (metric_name(&p) || *p != ' ') fail_msg("bad HELP: %s", line);
      snprintf(cur, sizeof(cur), "%.*s", (int)(p - line - 7), line + 7);
      for (i = 0; i < n_fam; i++)
        if (strcmp(families[i], cur) == 0) fail_msg("family %s twice", cur);
      assert_true(n_fam < 64);
      snprintf(families[n_fam++], sizeof(families[0]), "%s", cur);
    } else if (strncmp(line, "# TYPE ", 7) == 0) {
      char want[120];
      snprintf(want, sizeof(want), "# TYPE %s ", cur);
      if (strncmp(line, want, strlen(want)) != 0) fail_msg("TYPE out of place: %s", line);
      if (strcmp(line + strlen(want), "gauge") && strcmp(line + strlen(want), "counter"))
        fail_msg("bad TYPE: %s", line);
    } else {
      if (sample_line(line, name, sizeof(name))) fail_msg("bad sample line: %s", line);
      if (strcmp(name, cur) != 0) fail_msg("sample %s under family %s", name, cur);
    }
  }
  free(copy);
}

static void test_metrics(void **state) {
  tally_t *t = fixture();
  tally_view_t *v;
  size_t n = views_of(t, T0 + 3000, &v);
  tallyweb_stats_t st = {.records = 9, .rejected = 1, .duplicates = 2, .lag = 5,
                         .caught_up = 1, .now_ms = T0 + 3000};
  fbuf_t b;
  const char *s;
  (void)state;
  fbuf_init(&b, 0);
  tallyweb_metrics(v, n, &st, &b);
  s = fbuf_str(&b);
  check_exposition(s);
  assert_has(s, "\nferry_reporter_records_total 9\n");
  assert_has(s, "\nferry_reporter_rejected_records_total 1\n");
  assert_has(s, "\nferry_reporter_duplicate_results_total 2\n");
  assert_has(s, "\nferry_reporter_lag_records 5\n");
  assert_has(s, "\nferry_reporter_caught_up 1\n");
  assert_has(s, "\nferry_reporter_tasks 3\n");
  assert_has(s, "\nferry_task_objects_total{task=\"demo\","
                "state=\"completed-with-failures\"} 10\n");
  assert_has(s, "\nferry_task_objects_total{task=\"clean\",state=\"completed\"} 4\n");
  assert_has(s,
             "\nferry_task_state{task=\"demo\",state=\"completed-with-failures\"} 1\n");
  assert_has(s, "\nferry_task_state{task=\"demo\",state=\"running\"} 0\n");
  assert_has(s, "\nferry_task_objects{task=\"demo\",status=\"copied\"} 7\n");
  assert_has(s, "\nferry_task_objects{task=\"demo\",status=\"skipped\"} 0\n");
  assert_has(s, "\nferry_task_objects{task=\"demo\",status=\"failed\"} 3\n");
  assert_has(s, "\nferry_task_failures{task=\"demo\",reason=\"access-denied\"} 1\n");
  assert_has(s, "\nferry_task_failures{task=\"demo\",reason=\"integrity\"} 2\n");
  assert_has(s, "\nferry_task_bytes_copied_total{task=\"demo\"} 7000\n");
  assert_has(s, "\nferry_task_bytes_done{task=\"demo\"} 10000\n");
  assert_has(s, "\nferry_task_segments_done{task=\"demo\"} 2\n");
  assert_has(s, "\nferry_task_totals_known{task=\"demo\"} 1\n");
  assert_has(s, "\nferry_task_eta_seconds{task=\"demo\"} 0\n");
  assert_has(s, "\nferry_task_updated_timestamp_seconds{task=\"demo\"} ");
  /* The hostile name, escaped for a label: \" \\ \n; still listing, so
   * its ETA is unknown and absent. */
  assert_has(s,
             "{task=\"a\\\"b\\\\c\\nd<script>alert(1)</script>&'\",state=\"listing\"} 8\n");
  assert_has(s, "ferry_task_failures{task=\"a\\\"b\\\\c\\nd<script>alert(1)</script>&'\","
                "reason=\"<img src=x onerror=alert(2)>\"} 1\n");
  assert_lacks(s, "ferry_task_eta_seconds{task=\"a\\\"");
  /* Rates are over the window (30 s) and match the JSON's rounding. */
  assert_has(s, "# TYPE ferry_task_rate_bytes_per_second gauge\n");
  assert_has(s, "# TYPE ferry_task_bytes_copied_total counter\n");
  fbuf_reset(&b);
  st.lag = -1;
  tallyweb_metrics(v, n, &st, &b);
  check_exposition(fbuf_str(&b));
  assert_lacks(fbuf_str(&b), "ferry_reporter_lag_records");
  /* No tasks: the reporter's families only, still valid. */
  fbuf_reset(&b);
  tallyweb_metrics(NULL, 0, &st, &b);
  check_exposition(fbuf_str(&b));
  assert_has(fbuf_str(&b), "\nferry_reporter_tasks 0\n");
  fbuf_release(&b);
  views_free(v, n);
  tally_destroy(t);
}

/* ---------- page ---------- */

/* The row of task (by its escaped data-task attribute), up to </tr>. */
static char *row_of(const char *page, const char *attr) {
  char needle[300];
  const char *p, *e;
  snprintf(needle, sizeof(needle), "<tr class=\"task\" data-task=\"%s\"", attr);
  p = strstr(page, needle);
  if (!p) fail_msg("no row for %s", attr);
  e = strstr(p, "</tr>");
  assert_non_null(e);
  return strndup(p, (size_t)(e - p));
}

static void test_page(void **state) {
  tally_t *t = fixture();
  tally_view_t *v;
  size_t n = views_of(t, T0 + 3000, &v);
  tallyweb_stats_t st = {.records = 9, .lag = 0, .caught_up = 0, .now_ms = T0 + 3000};
  fbuf_t b;
  const char *s;
  char *row;
  (void)state;
  fbuf_init(&b, 0);
  {
    size_t i;
    for (i = 0; i < n; i++)
      if (strcmp(v[i].task, "demo") == 0) v[i].ctl_state = "paused";   /* from taskstate */
  }
  tallyweb_page(v, n, &st, &b);
  s = fbuf_str(&b);
  assert_true(strncmp(s, "<!DOCTYPE html>", 15) == 0);
  /* The console's controls, by their stable ids. */
  assert_has(s, "<form id=\"login-form\" method=\"post\" action=\"login\">");
  assert_has(s, "id=\"new-source-store\"");
  assert_has(s, "id=\"new-submit\"");
  assert_has(s, "</html>\n");
  /* Record text is never markup: one script element, the page's own. */
  assert_int_equal(count(s, "<script"), 1);
  assert_lacks(s, "<img");
  assert_lacks(s, "alert(1)</script>");
  assert_has(s, "catching up · 9 records read · lag 0");
  /* No external assets. */
  assert_lacks(s, "http://");
  assert_lacks(s, "https://");
  assert_lacks(s, " src=\"");

  row = row_of(s, "clean");
  assert_has(row, "data-state=\"completed\"");
  assert_has(row, "class=\"fill green\" style=\"width: 100.0%;\"");
  assert_has(row, "4 / 4");
  /* The exports even when nothing failed (a header), the task's page, the
   * actions (shown to operators by the script). */
  assert_has(row, "data-action=\"export-csv\" data-task=\"clean\" "
                  "href=\"api/tasks/clean/failed.csv\"");
  assert_has(row, "data-action=\"details\" data-task=\"clean\" href=\"task/clean\"");
  assert_has(row, "<button type=\"button\" class=\"op\" data-action=\"pause\" "
                  "data-task=\"clean\">Pause</button>");
  assert_has(row, "<div class=\"action-msg\" data-task=\"clean\"");
  assert_lacks(row, "data-ctl-state");   /* no taskstate record */
  free(row);

  row = row_of(s, "demo");
  assert_has(row, "data-state=\"completed-with-failures\"");
  assert_has(row, "<div class=\"bar\" data-percent=\"100.0\"><div class=\"fill yellow\"");
  assert_has(row, "10 / 10");
  assert_has(row, "9.8 KiB / 9.8 KiB");
  assert_has(row, "access-denied 1, integrity 2");
  assert_has(row, "b&lt;src&gt;");   /* the route, escaped */
  assert_has(row, "href=\"api/tasks/demo/failed.csv\"");
  assert_has(row, "href=\"api/tasks/demo/failed.jsonl\"");
  assert_has(row, "data-state=\"completed-with-failures\" data-ctl-state=\"paused\"");
  assert_has(row, "<span class=\"ctl paused\" data-testid=\"ctl-state\">paused</span>");
  free(row);

  row = row_of(s, "a&quot;b\\c\nd&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;");
  assert_has(row, "data-state=\"listing\"");
  assert_has(row, "class=\"fill grey\" style=\"width: 50.0%;\"");   /* 4 of 8 listed */
  assert_has(row, "listing…");
  assert_has(row, "4 / ?");
  assert_has(row, "&lt;img src=x onerror=alert(2)&gt; 1");
  assert_has(row,
             "href=\"api/tasks/a%22b%5Cc%0Ad%3Cscript%3Ealert%281%29%3C%2Fscript%3E%26%27"
             "/failed.csv\"");
  /* The buttons carry the name HTML-escaped. */
  assert_has(row, "data-action=\"cancel\" "
                  "data-task=\"a&quot;b\\c\nd&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;\"");
  free(row);

  fbuf_reset(&b);
  tallyweb_page(NULL, 0, &st, &b);
  assert_has(fbuf_str(&b), "No tasks yet.");
  fbuf_release(&b);
  views_free(v, n);
  tally_destroy(t);
}

static void test_colors_and_csp(void **state) {
  const char *csp = tallyweb_page_csp(), *h;
  (void)state;
  assert_string_equal(tallyweb_state_color(TALLY_COMPLETED), "green");
  assert_string_equal(tallyweb_state_color(TALLY_COMPLETED_FAILURES), "yellow");
  assert_string_equal(tallyweb_state_color(TALLY_RUNNING), "blue");
  assert_string_equal(tallyweb_state_color(TALLY_LISTING), "grey");
  assert_string_equal(tallyweb_state_color(TALLY_PENDING), "grey");
  assert_string_equal(tallyweb_state_color(TALLY_LISTING_FAILED), "red");
  assert_true(strncmp(csp, "default-src 'none'; script-src 'sha256-", 39) == 0);
  h = csp + 39;
  assert_int_equal(strchr(h, '\'') - h, 44);   /* base64 of 32 bytes */
  assert_has(csp, "connect-src 'self'");
  assert_ptr_equal(tallyweb_page_csp(), csp);   /* computed once */
}

static void test_stats_json(void **state) {
  tallyweb_stats_t st = {.records = 3, .rejected = 1, .duplicates = 0, .lag = -1,
                         .caught_up = 1};
  json_t *j = tallyweb_stats_json(&st, 2);
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  (void)state;
  assert_string_equal(s, "{\"caught_up\":true,\"duplicates\":0,\"lag\":null,\"records\":3,"
                         "\"rejected\":1,\"tasks\":2}");
  free(s);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escapes),        cmocka_unit_test(test_routes),
      cmocka_unit_test(test_metrics),        cmocka_unit_test(test_page),
      cmocka_unit_test(test_colors_and_csp), cmocka_unit_test(test_stats_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
