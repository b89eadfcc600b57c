/* Unit tests for lib/report/series.c: per-minute buckets of a task's
 * progress over 24 h, rebuilt from results records, and its SVG charts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "report/series.h"

#define MIN 60000LL
#define T0 (1705307460000LL - 1705307460000LL % MIN)   /* a whole minute */

static void test_buckets(void **state) {
  series_t *s = series_new();
  json_t *j, *p;
  (void)state;
  series_add(s, "t", T0 + 1000, 10, 1000, NULL, 0);
  series_add(s, "t", T0 + 59000, 5, 500, "integrity", 2);
  series_add(s, "t", T0 + 2 * MIN, 1, 100, "access-denied", 1);
  series_add(s, "t", T0 - 10, 0, 0, NULL, 0);   /* an empty add still makes a bucket */
  j = series_json(s, "t", T0 + 3 * MIN);
  p = json_object_get(j, "points");
  assert_int_equal(json_array_size(p), 3);
  assert_int_equal(json_integer_value(json_array_get(json_array_get(p, 1), 0)), T0);
  assert_int_equal(json_integer_value(json_array_get(json_array_get(p, 1), 1)), 15);
  assert_int_equal(json_integer_value(json_array_get(json_array_get(p, 1), 2)), 1500);
  assert_int_equal(json_integer_value(json_array_get(json_array_get(p, 1), 3)), 2);
  assert_int_equal(json_array_size(json_object_get(j, "reasons")), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "reasons"), 0)),
                      "integrity");
  /* failed_by_reason: [t, integrity, access-denied] */
  p = json_array_get(json_object_get(j, "failed_by_reason"), 2);
  assert_int_equal(json_integer_value(json_array_get(p, 1)), 0);
  assert_int_equal(json_integer_value(json_array_get(p, 2)), 1);
  json_decref(j);
  /* 24 h later the old minutes are out of the window, and their slots reused. */
  series_add(s, "t", T0 + 1440 * MIN + 1, 7, 70, NULL, 0);
  j = series_json(s, "t", T0 + 1440 * MIN + 1);
  p = json_object_get(j, "points");
  assert_int_equal(json_array_size(p), 2);   /* minute 2 and the new one */
  assert_int_equal(json_integer_value(json_array_get(json_array_get(p, 1), 1)), 7);
  json_decref(j);
  /* Older than the window: dropped. */
  series_add(s, "t", T0, 99, 0, NULL, 0);
  j = series_json(s, "t", T0 + 1440 * MIN + 1);
  assert_int_equal(json_array_size(json_object_get(j, "points")), 2);
  json_decref(j);
  j = series_json(s, "unknown", T0);
  assert_int_equal(json_array_size(json_object_get(j, "points")), 0);
  json_decref(j);
  series_free(s);
}

static void test_reasons_bounded(void **state) {
  series_t *s = series_new();
  json_t *j;
  char r[16];
  int i;
  (void)state;
  for (i = 0; i < SERIES_REASONS + 3; i++) {
    snprintf(r, sizeof(r), "r%d", i);
    series_add(s, "t", T0, 0, 0, r, 1);
  }
  j = series_json(s, "t", T0);
  assert_int_equal(json_array_size(json_object_get(j, "reasons")), SERIES_REASONS + 1);
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "reasons"),
                                                       SERIES_REASONS)), "other");
  assert_int_equal(json_integer_value(json_array_get(
                       json_array_get(json_object_get(j, "failed_by_reason"), 0),
                       SERIES_REASONS + 1)), 3);
  json_decref(j);
  series_free(s);
}

static void test_results(void **state) {
  series_t *s = series_new();
  char eb[FERRY_ERRLEN];
  json_t *j, *p;
  /* A split result: counts in each part, taken once; outcomes of both. */
  const char *p1 = "{\"v\":1,\"task\":\"t\",\"segment\":\"1-000001\",\"run\":1,\"worker\":\"w\","
                   "\"n_objects\":4,\"n_copied\":2,\"n_skipped\":0,\"n_failed\":2,\"bytes\":2000,"
                   "\"started_ms\":1,\"finished_ms\":2,\"part\":1,\"parts\":2,\"outcomes\":["
                   "{\"key\":\"a\",\"size\":1,\"status\":\"failed\",\"reason\":\"integrity\","
                   "\"bytes\":0,\"attempts\":1,\"duration_ms\":1,\"http_status\":0}]}";
  const char *p2 = "{\"v\":1,\"task\":\"t\",\"segment\":\"1-000001\",\"run\":1,\"worker\":\"w\","
                   "\"n_objects\":4,\"n_copied\":2,\"n_skipped\":0,\"n_failed\":2,\"bytes\":2000,"
                   "\"started_ms\":1,\"finished_ms\":2,\"part\":2,\"parts\":2,\"outcomes\":["
                   "{\"key\":\"b\",\"size\":1,\"status\":\"vanished\","
                   "\"bytes\":0,\"attempts\":1,\"duration_ms\":1,\"http_status\":0}]}";
  (void)state;
  assert_int_equal(series_add_result(s, p1, strlen(p1), T0 + 5, eb), FERRY_OK);
  assert_int_equal(series_add_result(s, p2, strlen(p2), T0 + 6, eb), FERRY_OK);
  assert_int_not_equal(series_add_result(s, "{}", 2, T0, eb), FERRY_OK);
  j = series_json(s, "t", T0);
  p = json_array_get(json_object_get(j, "points"), 0);
  assert_int_equal(json_integer_value(json_array_get(p, 1)), 4);
  assert_int_equal(json_integer_value(json_array_get(p, 2)), 2000);
  assert_int_equal(json_integer_value(json_array_get(p, 3)), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "reasons"), 1)),
                      "vanished");
  json_decref(j);
  series_free(s);
}

static void test_svg(void **state) {
  series_t *s = series_new();
  fbuf_t b;
  const char *o;
  (void)state;
  fbuf_init(&b, 0);
  series_svg(s, "t", T0, &b);
  assert_non_null(strstr(fbuf_str(&b), "id=\"charts-empty\""));
  fbuf_reset(&b);
  series_add(s, "t", T0, 60, 6000, "<script>x</script>", 1);
  series_add(s, "t", T0 + MIN, 120, 0, NULL, 0);
  series_svg(s, "t", T0 + MIN, &b);
  o = fbuf_str(&b);
  assert_non_null(strstr(o, "<svg id=\"chart-objects\""));
  assert_non_null(strstr(o, "<svg id=\"chart-bytes\""));
  assert_non_null(strstr(o, "<svg id=\"chart-failures\""));
  assert_non_null(strstr(o, "&lt;script&gt;x&lt;/script&gt;"));
  assert_null(strstr(o, "<script>"));
  /* The objects chart's maximum: 2 objects/s; its last point at the right edge. */
  assert_non_null(strstr(o, ">2</text>"));
  assert_non_null(strstr(o, " 720.0,14.0\""));
  fbuf_release(&b);
  series_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buckets), cmocka_unit_test(test_reasons_bounded),
      cmocka_unit_test(test_results), cmocka_unit_test(test_svg),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
