/* Unit tests for lib/report/console.c: the reporter's fold of the control,
 * taskstate and workers topics, the commands it makes of the console's
 * requests, and the metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bus/control.h"
#include "report/console.h"

static void feed(console_t *c, const char *rec) {
  char eb[FERRY_ERRLEN];
  if (console_feed_control(c, rec, strlen(rec), eb)) fail_msg("%s: %s", rec, eb);
}

static char *dump(json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  return s;
}

static void test_actions(void **state) {
  console_t *c = console_new();
  char eb[FERRY_ERRLEN];
  json_t *a;
  char *s;
  (void)state;
  feed(c, "{\"v\":1,\"type\":\"command\",\"id\":\"00000000000000a1\",\"cmd\":\"create\","
          "\"task\":\"logs\",\"by\":\"operator:alice\",\"at_ms\":10,\"spec\":{\"name\":\"logs\"}}");
  feed(c, "{\"v\":1,\"type\":\"command\",\"id\":\"00000000000000a2\",\"cmd\":\"limits\","
          "\"task\":\"logs\",\"by\":\"cli:root@h\",\"at_ms\":20,"
          "\"limits\":{\"qps\":5,\"bandwidth\":100,\"schedule\":[\"08:00-19:00=10M\"]}}");
  feed(c, "{\"v\":1,\"type\":\"ack\",\"id\":\"00000000000000a1\",\"cmd\":\"create\","
          "\"task\":\"logs\",\"by\":\"master:h-1\",\"at_ms\":30,\"ok\":false,"
          "\"error\":\"tasks[logs].source: no store\"}");
  /* An ack whose command is not in the log stands alone. */
  feed(c, "{\"v\":1,\"type\":\"ack\",\"id\":\"00000000000000b1\",\"cmd\":\"pause\","
          "\"task\":\"logs\",\"by\":\"master:h-1\",\"at_ms\":40,\"ok\":true}");
  a = console_actions_json(c, "logs");
  assert_int_equal(json_array_size(a), 3);
  s = dump(json_incref(json_array_get(a, 0)));
  assert_string_equal(s, "{\"ack\":{\"at_ms\":30,\"by\":\"master:h-1\",\"error\":\"tasks[logs]."
                         "source: no store\",\"ok\":false},\"at_ms\":10,\"by\":\"operator:alice\","
                         "\"cmd\":\"create\",\"id\":\"00000000000000a1\"}");
  free(s);
  s = dump(json_incref(json_array_get(a, 1)));
  assert_string_equal(s, "{\"ack\":null,\"at_ms\":20,\"by\":\"cli:root@h\",\"cmd\":\"limits\","
                         "\"id\":\"00000000000000a2\",\"limits\":{\"bandwidth\":100,\"qps\":5,"
                         "\"schedule\":[\"08:00-19:00=10M\"]}}");
  free(s);
  assert_true(json_is_true(json_object_get(json_object_get(json_array_get(a, 2), "ack"), "ok")));
  json_decref(a);
  a = console_actions_json(c, "other");
  assert_int_equal(json_array_size(a), 0);
  json_decref(a);
  /* Bad records: counted, nothing else changes. */
  assert_int_not_equal(console_feed_control(c, "{\"v\":1}", 7, eb), FERRY_OK);
  assert_int_not_equal(console_feed_control(c, "nope", 4, eb), FERRY_OK);
  assert_int_equal(console_rejected(c), 2);
  console_free(c);
}

static void test_actions_bounded(void **state) {
  console_t *c = console_new();
  json_t *a;
  int i;
  char rec[300];
  (void)state;
  for (i = 0; i < CONSOLE_MAX_ACTIONS + 50; i++) {
    snprintf(rec, sizeof(rec),
             "{\"v\":1,\"type\":\"command\",\"id\":\"%016x\",\"cmd\":\"pause\",\"task\":\"t\","
             "\"by\":\"operator:a\",\"at_ms\":%d}", i + 1, i);
    feed(c, rec);
  }
  a = console_actions_json(c, "t");
  assert_int_equal(json_array_size(a), CONSOLE_MAX_ACTIONS);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "at_ms")), 50);
  json_decref(a);
  console_free(c);
}

#define TS(state, by)                                                                      \
  "{\"v\":1,\"task\":\"logs\",\"origin\":\"console\",\"state\":\"" state "\",\"run\":2,"   \
  "\"spec\":{\"name\":\"logs\"},\"limits\":{\"qps\":7,\"bandwidth\":0,\"schedule\":[]},"   \
  "\"updated_ms\":5,\"by\":\"" by "\",\"cmd\":\"9f86d081884c7d65\"}"

static void test_taskstate(void **state) {
  console_t *c = console_new();
  char eb[FERRY_ERRLEN];
  const char **names;
  json_t *j;
  fbuf_t b;
  (void)state;
  assert_null(console_state(c, "logs"));
  assert_null(console_task_json(c, "logs"));
  assert_int_equal(console_feed_taskstate(c, "logs", 4, TS("running", "operator:a"),
                                          strlen(TS("running", "operator:a")), eb), FERRY_OK);
  assert_int_equal(console_feed_taskstate(c, "logs", 4, TS("paused", "operator:b"),
                                          strlen(TS("paused", "operator:b")), eb), FERRY_OK);
  assert_string_equal(console_state(c, "logs"), "paused");
  j = console_task_json(c, "logs");
  assert_string_equal(json_string_value(json_object_get(j, "origin")), "console");
  assert_string_equal(json_string_value(json_object_get(j, "by")), "operator:b");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "limits"), "qps")), 7);
  json_decref(j);
  assert_int_equal(console_task_names(c, &names), 1);
  assert_string_equal(names[0], "logs");
  fx_free(names);
  fbuf_init(&b, 0);
  console_states_text(c, &b);
  assert_string_equal(fbuf_str(&b), "logs: paused (by operator:b)\n");
  fbuf_reset(&b);
  console_metrics(c, 0, &b);
  assert_non_null(strstr(fbuf_str(&b), "ferry_taskstate{task=\"logs\",state=\"paused\"} 1\n"));
  assert_non_null(strstr(fbuf_str(&b), "ferry_taskstate{task=\"logs\",state=\"running\"} 0\n"));
  assert_non_null(strstr(fbuf_str(&b), "ferry_taskstate{task=\"logs\",state=\"created\"} 0\n"));
  assert_non_null(strstr(fbuf_str(&b), "ferry_workers 0\n"));
  fbuf_release(&b);
  /* A tombstone forgets it. */
  assert_int_equal(console_feed_taskstate(c, "logs", 4, NULL, 0, eb), FERRY_OK);
  assert_null(console_state(c, "logs"));
  assert_int_equal(console_task_names(c, &names), 0);
  fx_free(names);
  assert_int_not_equal(console_feed_taskstate(c, "x", 1, "{}", 2, eb), FERRY_OK);
  console_free(c);
}

static void hb(console_t *c, const char *rec) {
  char eb[FERRY_ERRLEN];
  if (console_feed_heartbeat(c, rec, strlen(rec), eb)) fail_msg("%s: %s", rec, eb);
}

static void test_workers(void **state) {
  console_t *c = console_new();
  json_t *a, *w;
  fbuf_t b;
  (void)state;
  hb(c, "{\"v\":1,\"worker\":\"w2\",\"instance\":\"1-a\",\"at_ms\":1000,\"every_ms\":1000,"
        "\"tasks\":[]}");
  hb(c, "{\"v\":1,\"worker\":\"w1\",\"instance\":\"1-b\",\"at_ms\":2000,\"every_ms\":1000,"
        "\"tasks\":[{\"task\":\"logs\",\"objects\":3,\"held\":true}],\"host\":\"h1\","
        "\"parts\":[{\"topic\":\"ferry.segments.logs\",\"partitions\":[0,3]}],"
        "\"rate\":{\"objects_s\":1.5,\"bytes_s\":1024}}");
  /* An older heartbeat of w1 does not replace the newer. */
  hb(c, "{\"v\":1,\"worker\":\"w1\",\"instance\":\"0-z\",\"at_ms\":1500,\"every_ms\":1000,"
        "\"tasks\":[]}");
  a = console_workers_json(c, 4500);
  assert_int_equal(json_array_size(a), 2);
  w = json_array_get(a, 0);   /* sorted by id */
  assert_string_equal(json_string_value(json_object_get(w, "worker")), "w1");
  assert_string_equal(json_string_value(json_object_get(w, "host")), "h1");
  assert_int_equal(json_integer_value(json_object_get(w, "age_ms")), 2500);
  assert_false(json_is_true(json_object_get(w, "stale")));
  assert_int_equal(json_array_size(json_object_get(w, "tasks")), 1);
  assert_int_equal(json_integer_value(json_array_get(
                       json_object_get(json_array_get(json_object_get(w, "parts"), 0),
                                       "partitions"), 1)), 3);
  assert_true(json_real_value(json_object_get(json_object_get(w, "rate"), "objects_s")) == 1.5);
  w = json_array_get(a, 1);
  assert_true(json_is_null(json_object_get(w, "host")));
  assert_true(json_is_null(json_object_get(w, "rate")));
  assert_true(json_is_true(json_object_get(w, "stale")));   /* 3.5 s > 3 intervals */
  json_decref(a);
  fbuf_init(&b, 0);
  console_metrics(c, 4500, &b);
  assert_non_null(strstr(fbuf_str(&b), "ferry_workers 1\n"));
  assert_null(strstr(fbuf_str(&b), "ferry_taskstate"));
  fbuf_release(&b);
  /* Leaving, and forgotten after an hour. */
  hb(c, "{\"v\":1,\"worker\":\"w1\",\"instance\":\"1-b\",\"at_ms\":3000,\"every_ms\":1000,"
        "\"tasks\":[],\"leaving\":true}");
  a = console_workers_json(c, 4500);
  assert_int_equal(json_array_size(a), 1);
  json_decref(a);
  a = console_workers_json(c, 1000 + CONSOLE_WORKER_FORGET_MS + 1);
  assert_int_equal(json_array_size(a), 0);
  json_decref(a);
  console_free(c);
}

static void test_commands(void **state) {
  console_t *c = console_new();
  char eb[FERRY_ERRLEN];
  msg_control_t m;
  json_t *body;
  char *text;
  (void)state;
  body = json_loads("{\"name\":\"logs\",\"source\":\"oss-hz:b/p/\"}", 0, NULL);
  assert_int_equal(console_command(c, "logs", "create", body, "operator:alice", 77, &m, eb),
                   FERRY_OK);
  assert_int_equal(m.cmd, CTL_CREATE);
  assert_int_equal(strlen(m.id), 16);
  assert_string_equal(m.spec, "{\"name\":\"logs\",\"source\":\"oss-hz:b/p/\"}");
  assert_string_equal(m.by, "operator:alice");
  assert_int_equal(m.at_ms, 77);
  text = msg_control_encode(&m);
  assert_non_null(text);
  fx_free(text);
  msg_control_release(&m);
  json_decref(body);

  /* limits: members left out keep the taskstate's values. */
  assert_int_equal(console_feed_taskstate(c, "logs", 4, TS("running", "x"),
                                          strlen(TS("running", "x")), eb), FERRY_OK);
  body = json_loads("{\"bandwidth\":\"10M\",\"schedule\":[\"08:00-19:00=1M\"]}", 0, NULL);
  assert_int_equal(console_command(c, "logs", "limits", body, "operator:a", 1, &m, eb), FERRY_OK);
  assert_int_equal(m.limits.qps, 7);
  assert_int_equal(m.limits.bandwidth, 10 << 20);
  assert_int_equal(m.limits.n_schedule, 1);
  msg_control_release(&m);
  json_decref(body);
  body = json_loads("{\"limits\":{\"qps\":9}}", 0, NULL);
  assert_int_equal(console_command(c, "logs", "limits", body, "operator:a", 1, &m, eb), FERRY_OK);
  assert_int_equal(m.limits.qps, 9);
  msg_control_release(&m);
  json_decref(body);

  assert_int_equal(console_command(c, "logs", "pause", NULL, "operator:a", 1, &m, eb), FERRY_OK);
  assert_int_equal(m.cmd, CTL_PAUSE);
  assert_null(m.spec);
  assert_int_equal(m.has_limits, 0);
  msg_control_release(&m);

  {
    static const struct {
      const char *task, *verb, *body, *want;
    } bad[] = {
        {"logs", "create", NULL, "the task spec is missing"},
        {"logs", "create", "{\"name\":\"other\"}", "must be the task's name"},
        {"logs", "delete", NULL, "unknown action \"delete\""},
        {"", "pause", NULL, "the task name"},
        {"a\nb", "pause", NULL, "the task name"},
        {"logs", "pause", "[1]", "not a JSON object"},
        {"logs", "limits", "{\"qps\":-1}", "limits.qps"},
        {"logs", "limits", "{\"qps\":\"5\"}", "limits.qps"},
        {"logs", "limits", "{\"bandwidth\":\"lots\"}", "limits.bandwidth"},
        {"logs", "limits", "{\"schedule\":[\"08:00-19:00=1M\",\"x\"]}", "limits.schedule[1]"},
        {"logs", "limits", "{\"schedule\":[3]}", "limits.schedule[0]: not a string"},
        {"logs", "limits", "{\"limits\":5}", "limits: expected a JSON object"},
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      body = bad[i].body ? json_loads(bad[i].body, JSON_DECODE_ANY, NULL) : NULL;
      assert_int_equal(console_command(c, bad[i].task, bad[i].verb, body, "operator:a", 1, &m,
                                       eb), FERRY_ERR_INVALID);
      if (!strstr(eb, bad[i].want)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, eb, bad[i].want);
      json_decref(body);
    }
  }
  console_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_actions),   cmocka_unit_test(test_actions_bounded),
      cmocka_unit_test(test_taskstate), cmocka_unit_test(test_workers),
      cmocka_unit_test(test_commands),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
