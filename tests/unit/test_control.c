/*
 * test_control.c: the console's control and taskstate codecs
 * (lib/bus/control.h), the heartbeat's fleet-view members, and the
 * bandwidth schedule (core/units.h). docs/messages.md's examples are checked
 * byte for byte against the encoders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/control.h"
#include "bus/msg.h"
#include "core/units.h"

static char *sched2[] = {"08:00-19:00=10M", "19:00-08:00=0"};

static msg_control_t ex_command(void) {
  msg_control_t c;
  memset(&c, 0, sizeof(c));
  c.id = "9f86d081884c7d65";
  c.cmd = CTL_CREATE;
  c.task = "logs";
  c.by = "operator:alice";
  c.at_ms = 1705307460123;
  c.spec = "{\"name\":\"logs\",\"source\":\"oss-hz:src-bucket/logs/\",\"destination\":"
           "\"cos-gz:dst-bucket-1250000000/logs/\",\"same_name\":\"skip-if-same\","
           "\"bandwidth_limit\":\"100M\",\"bandwidth_schedule\":[\"08:00-19:00=10M\"]}";
  return c;
}

static msg_control_t ex_limits(void) {
  msg_control_t c;
  memset(&c, 0, sizeof(c));
  c.id = "0a1b2c3d4e5f6789";
  c.cmd = CTL_LIMITS;
  c.task = "logs";
  c.by = "cli:root@ops-1";
  c.at_ms = 1705307470000;
  c.has_limits = 1;
  c.limits.qps = 500;
  c.limits.bandwidth = 104857600;
  c.limits.schedule = sched2;
  c.limits.n_schedule = 2;
  return c;
}

static msg_control_t ex_ack(void) {
  msg_control_t c;
  memset(&c, 0, sizeof(c));
  c.is_ack = 1;
  c.id = "9f86d081884c7d65";
  c.cmd = CTL_PAUSE;
  c.task = "logs";
  c.by = "master:ops-1-4242";
  c.at_ms = 1705307460300;
  c.ok = 0;
  c.error = "task \"logs\" is cancelled";
  return c;
}

static msg_taskstate_t ex_state(void) {
  msg_taskstate_t t;
  memset(&t, 0, sizeof(t));
  t.task = "logs";
  t.console = 1;
  t.state = CTLS_PAUSED;
  t.run = 2;
  t.spec = "{\"name\":\"logs\",\"source\":\"oss-hz:src-bucket/logs/\",\"destination\":"
           "\"cos-gz:dst-bucket-1250000000/logs/\"}";
  t.limits.bandwidth = 104857600;
  t.limits.schedule = sched2;
  t.limits.n_schedule = 2;
  t.updated_ms = 1705307460300;
  t.by = "operator:alice";
  t.cmd = "9f86d081884c7d65";
  return t;
}

static void roundtrip_control(const msg_control_t *c) {
  char eb[FERRY_ERRLEN], *j = msg_control_encode(c), *j2;
  msg_control_t d;
  assert_non_null(j);
  assert_int_equal(msg_control_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_int_equal(d.is_ack, c->is_ack);
  assert_int_equal(d.cmd, c->cmd);
  assert_string_equal(d.id, c->id);
  assert_string_equal(d.task, c->task);
  assert_string_equal(d.by, c->by);
  assert_int_equal(d.at_ms, c->at_ms);
  assert_int_equal(d.has_limits, c->has_limits);
  assert_int_equal(d.limits.qps, c->limits.qps);
  assert_int_equal(d.limits.n_schedule, c->limits.n_schedule);
  assert_int_equal(d.ok, c->ok);
  if (c->error) assert_string_equal(d.error, c->error);
  assert_int_equal(!!d.spec, !!c->spec);
  j2 = msg_control_encode(&d);
  assert_string_equal(j, j2);
  msg_control_release(&d);
  fx_free(j);
  fx_free(j2);
}

static void test_control_roundtrip(void **state) {
  msg_control_t a = ex_command(), b = ex_limits(), c = ex_ack(), d = ex_command();
  (void)state;
  roundtrip_control(&a);
  roundtrip_control(&b);
  roundtrip_control(&c);
  c.ok = 1;
  c.error = NULL;
  roundtrip_control(&c);
  d.cmd = CTL_RESUME;
  d.spec = NULL;
  roundtrip_control(&d);
}

static void test_taskstate_roundtrip(void **state) {
  msg_taskstate_t t = ex_state(), d;
  char eb[FERRY_ERRLEN], *j = msg_taskstate_encode(&t), *j2;
  (void)state;
  assert_non_null(j);
  assert_int_equal(msg_taskstate_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_string_equal(d.task, "logs");
  assert_int_equal(d.console, 1);
  assert_int_equal(d.state, CTLS_PAUSED);
  assert_int_equal(d.run, 2);
  assert_int_equal(d.limits.bandwidth, 104857600);
  assert_int_equal(d.limits.n_schedule, 2);
  assert_string_equal(d.limits.schedule[1], "19:00-08:00=0");
  j2 = msg_taskstate_encode(&d);
  assert_string_equal(j, j2);
  msg_taskstate_release(&d);
  fx_free(j);
  fx_free(j2);
}

/* What cannot be a valid message is not encoded. */
static void test_encode_refuses(void **state) {
  msg_control_t c = ex_command(), l = ex_limits(), a = ex_ack();
  msg_taskstate_t t = ex_state();
  (void)state;
  c.spec = NULL; /* a create without its spec */
  assert_null(msg_control_encode(&c));
  c = ex_command();
  c.spec = "[1,2]"; /* not an object */
  assert_null(msg_control_encode(&c));
  l.has_limits = 0; /* limits without limits */
  assert_null(msg_control_encode(&l));
  a.error = NULL; /* refused without a reason */
  assert_null(msg_control_encode(&a));
  t.spec = NULL;
  assert_null(msg_taskstate_encode(&t));
}

static void expect_error(int taskstate, const char *json, const char *want) {
  char eb[FERRY_ERRLEN];
  msg_control_t c;
  msg_taskstate_t t;
  ferry_err_t e = taskstate ? msg_taskstate_decode(json, strlen(json), &t, eb)
                            : msg_control_decode(json, strlen(json), &c, eb);
  assert_int_equal(e, FERRY_ERR_PARSE);
  if (!strstr(eb, want)) fail_msg("error \"%s\" lacks \"%s\"", eb, want);
}

static void test_bad_input(void **state) {
  (void)state;
  expect_error(0, "", "control: empty input");
  expect_error(0, "[]", "not a JSON object");
  expect_error(0, "{\"v\":2}", "control.v: unsupported version 2");
  expect_error(0, "{\"v\":1,\"type\":\"order\"}", "control.type: unknown value \"order\"");
  expect_error(0, "{\"v\":1,\"type\":\"command\",\"id\":\"XYZ\"}", "control.id: not 16");
  expect_error(0, "{\"v\":1,\"type\":\"command\",\"id\":\"0123456789abcdef\",\"cmd\":\"nuke\"}",
               "control.cmd: unknown value \"nuke\"");
  expect_error(0,
               "{\"v\":1,\"type\":\"command\",\"id\":\"0123456789abcdef\",\"cmd\":\"create\","
               "\"task\":\"t\",\"by\":\"x\",\"at_ms\":1}",
               "control.spec: missing");
  expect_error(0,
               "{\"v\":1,\"type\":\"command\",\"id\":\"0123456789abcdef\",\"cmd\":\"create\","
               "\"task\":\"t\",\"by\":\"x\",\"at_ms\":1,\"spec\":\"name=t\"}",
               "control.spec: not an object");
  expect_error(0,
               "{\"v\":1,\"type\":\"command\",\"id\":\"0123456789abcdef\",\"cmd\":\"limits\","
               "\"task\":\"t\",\"by\":\"x\",\"at_ms\":1,\"limits\":{\"qps\":1,\"bandwidth\":2,"
               "\"schedule\":[\"08:00-09:00=1M\",7]}}",
               "control.limits.schedule[1]: not a non-empty string");
  expect_error(0,
               "{\"v\":1,\"type\":\"ack\",\"id\":\"0123456789abcdef\",\"cmd\":\"pause\","
               "\"task\":\"t\",\"by\":\"x\",\"at_ms\":1,\"ok\":false}",
               "control.error: missing");
  expect_error(1, "{\"v\":1,\"task\":\"t\",\"origin\":\"cli\"}",
               "taskstate.origin: unknown value \"cli\"");
  expect_error(1,
               "{\"v\":1,\"task\":\"t\",\"origin\":\"console\",\"state\":\"done\"}",
               "taskstate.state: unknown value \"done\"");
  expect_error(1,
               "{\"v\":1,\"task\":\"t\",\"origin\":\"console\",\"state\":\"running\",\"run\":1,"
               "\"spec\":{},\"limits\":{\"qps\":-1}}",
               "taskstate.limits.qps: not a non-negative integer");
}

static void test_names_and_ids(void **state) {
  ctl_cmd_t c;
  ctl_state_t s;
  char a[17], b[17];
  (void)state;
  assert_int_equal(ctl_cmd_parse("retry-failed", &c), 0);
  assert_int_equal(c, CTL_RETRY);
  assert_string_equal(ctl_cmd_str(CTL_LIMITS), "limits");
  assert_int_equal(ctl_cmd_parse("retry", &c), -1);
  assert_int_equal(ctl_state_parse("cancelled", &s), 0);
  assert_int_equal(s, CTLS_CANCELLED);
  assert_string_equal(ctl_state_str((ctl_state_t)99), "?");
  ctl_new_id(a);
  ctl_new_id(b);
  assert_int_equal(strlen(a), 16);
  assert_int_equal(strspn(a, "0123456789abcdef"), 16);
  assert_string_not_equal(a, b);
}

static void test_heartbeat_fleet_members(void **state) {
  int32_t p[] = {0, 3};
  msg_hb_parts_t parts = {"ferry.segments.logs", p, 2};
  msg_hb_task_t task = {"logs", 12, 0};
  msg_heartbeat_t h, d;
  char eb[FERRY_ERRLEN], *j;
  const char *old = "{\"v\":1,\"worker\":\"w\",\"instance\":\"i\",\"at_ms\":1,\"every_ms\":1000,"
                    "\"tasks\":[]}";
  (void)state;
  memset(&h, 0, sizeof(h));
  h.worker = "worker-3";
  h.instance = "4242-5f1e";
  h.at_ms = 1705307460123;
  h.every_ms = 1000;
  h.tasks = &task;
  h.n_tasks = 1;
  h.host = "ops-7";
  h.parts = &parts;
  h.n_parts = 1;
  h.has_rate = 1;
  h.objects_s = 12.5;
  h.bytes_s = 1048576;
  assert_non_null(j = msg_heartbeat_encode(&h));
  assert_int_equal(msg_heartbeat_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_string_equal(d.host, "ops-7");
  assert_int_equal(d.n_parts, 1);
  assert_string_equal(d.parts[0].topic, "ferry.segments.logs");
  assert_int_equal(d.parts[0].n, 2);
  assert_int_equal(d.parts[0].partitions[1], 3);
  assert_int_equal(d.has_rate, 1);
  assert_true(d.objects_s == 12.5 && d.bytes_s == 1048576);
  msg_heartbeat_release(&d);
  fx_free(j);
  /* An older worker's heartbeat has none of them. */
  assert_int_equal(msg_heartbeat_decode(old, strlen(old), &d, eb), FERRY_OK);
  assert_null(d.host);
  assert_int_equal(d.n_parts, 0);
  assert_int_equal(d.has_rate, 0);
  msg_heartbeat_release(&d);
}

static void test_bwsched(void **state) {
  conf_window_t w;
  uint64_t bw;
  char eb[FERRY_ERRLEN];
  const char *s[] = {"08:00-19:00=10M", "19:00-08:00=0"};
  (void)state;
  assert_int_equal(conf_parse_bwsched("08:00-19:00=10M", &w, &bw, eb), FERRY_OK);
  assert_int_equal(w.start_min, 480);
  assert_int_equal(w.end_min, 1140);
  assert_int_equal(bw, 10485760);
  assert_int_not_equal(conf_parse_bwsched("08:00-19:00", &w, &bw, eb), FERRY_OK);
  assert_non_null(strstr(eb, "HH:MM-HH:MM=SIZE"));
  assert_int_not_equal(conf_parse_bwsched("25:00-19:00=1M", &w, &bw, eb), FERRY_OK);
  assert_int_not_equal(conf_parse_bwsched("08:00-19:00=lots", &w, &bw, eb), FERRY_OK);
  assert_non_null(strstr(eb, "08:00-19:00=lots"));
  assert_int_equal(conf_bwsched_at(s, 2, 9 * 60, 7), 10485760);
  assert_int_equal(conf_bwsched_at(s, 2, 23 * 60, 7), 0); /* wraps midnight */
  assert_int_equal(conf_bwsched_at(s, 1, 23 * 60, 7), 7);  /* outside: otherwise */
  assert_int_equal(conf_bwsched_at(NULL, 0, 0, 9), 9);
}

/* The example after marker in docs/messages.md equals want, byte for byte. */
static void check_doc(const char *marker, const char *want) {
  static const char fixtures[] = FIXTURES_DIR;
  char path[4096], *doc;
  const char *p, *s, *e;
  FILE *f;
  long n;
  if (getenv("FERRY_PRINT_EXAMPLES")) {
    printf("<!-- example: %s -->\n```json\n%s\n```\n", marker, want);
    return;
  }
  snprintf(path, sizeof(path), "%.*s/docs/messages.md",
           (int)(sizeof(fixtures) - 1 - strlen("/tests/fixtures")), fixtures);
  assert_non_null(f = fopen(path, "rb"));
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  doc = fx_malloc((size_t)n + 1);
  assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
  doc[n] = '\0';
  fclose(f);
  snprintf(path, sizeof(path), "<!-- example: %s -->", marker);
  assert_non_null(p = strstr(doc, path));
  assert_non_null(s = strstr(p, "```json\n"));
  s += 8;
  assert_non_null(e = strstr(s, "\n```"));
  if ((size_t)(e - s) != strlen(want) || memcmp(s, want, strlen(want)) != 0)
    fail_msg("docs/messages.md example %s differs from the encoder's:\n%s", marker, want);
  fx_free(doc);
}

static void test_docs_examples(void **state) {
  msg_control_t c = ex_command(), l = ex_limits(), a = ex_ack();
  msg_taskstate_t t = ex_state();
  char *j;
  (void)state;
  check_doc("control-create", j = msg_control_encode(&c));
  fx_free(j);
  check_doc("control-limits", j = msg_control_encode(&l));
  fx_free(j);
  check_doc("control-ack", j = msg_control_encode(&a));
  fx_free(j);
  check_doc("taskstate", j = msg_taskstate_encode(&t));
  fx_free(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_control_roundtrip),
      cmocka_unit_test(test_taskstate_roundtrip),
      cmocka_unit_test(test_encode_refuses),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_names_and_ids),
      cmocka_unit_test(test_heartbeat_fleet_members),
      cmocka_unit_test(test_bwsched),
      cmocka_unit_test(test_docs_examples),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
