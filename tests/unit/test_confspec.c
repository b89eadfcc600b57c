/*
 * Unit tests for lib/conf/spec.c: console task specs are checked by the
 * config loader itself. Each bad spec must be refused with the very
 * message the loader gives the same entry in a config file (without its
 * FILE:LINE), a spec named as a config task is refused, and a good one
 * comes out as the task the file would give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/config.h"

#define STORES                                                                        \
  "worker = { storage_class_map = [ \"STANDARD=STANDARD_IA\" ]; };\n"                 \
  "stores = (\n"                                                                      \
  "  { name = \"src\"; type = \"s3\"; endpoint = \"http://127.0.0.1:9000\"; "         \
  "signature = \"none\"; },\n"                                                        \
  "  { name = \"dst\"; type = \"s3\"; endpoint = \"http://127.0.0.1:9001\"; "         \
  "signature = \"none\"; }\n"                                                         \
  ");\n"

static char dir[64];
static char base_path[128];
static ferry_conf_t *base;

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/confspec.XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(base_path, sizeof(base_path), "%s/base.conf", dir);
  write_file(base_path, STORES "tasks = ( { name = \"cfgtask\"; source = \"src:a\"; "
                               "destination = \"dst:a\"; } );\n");
  base = conf_load(base_path, NULL, NULL);
  return base ? 0 : -1;
}

static int teardown(void **state) {
  char p[160];
  (void)state;
  conf_destroy(base);
  snprintf(p, sizeof(p), "%s/entry.conf", dir);
  unlink(p);
  unlink(base_path);
  rmdir(dir);
  return 0;
}

/* The loader's lines for a file of STORES and tasks = ( entry ), each
 * without its "FILE:LINE: ". */
static void file_says(const char *entry, fbuf_t *out) {
  char path[160];
  fbuf_t text, errs;
  const char *p;
  ferry_conf_t *c;
  snprintf(path, sizeof(path), "%s/entry.conf", dir);
  fbuf_init(&text, 0);
  fbuf_addf(&text, STORES "tasks = (\n  %s\n);\n", entry);
  write_file(path, fbuf_str(&text));
  fbuf_release(&text);
  fbuf_init(&errs, 0);
  c = conf_load_ex(path, CONF_SKIP_CREDENTIALS, &errs, NULL);
  assert_null(c);
  for (p = fbuf_str(&errs); *p;) {
    const char *nl = strchr(p, '\n'), *m;
    assert_non_null(nl);
    m = strstr(p, ": "); /* after FILE:LINE */
    assert_true(m && m < nl);
    fbuf_add(out, m + 2, (size_t)(nl + 1 - (m + 2)));
    p = nl + 1;
  }
  fbuf_release(&errs);
}

static void spec_says(const char *spec, fbuf_t *out) {
  ferry_conf_t *c = conf_load_spec(base, spec, out);
  if (c) fprintf(stderr, "spec accepted: %s\n", spec);
  assert_null(c);
}

static void test_bad_specs_as_loader(void **state) {
  static const struct {
    const char *entry, *spec, *needle;
  } cases[] = {
      {"{ name = \"x\"; source = \"scr:b\"; destination = \"dst:b\"; }",
       "{\"name\":\"x\",\"source\":\"scr:b\",\"destination\":\"dst:b\"}",
       "tasks[0].source: unknown store \"scr\"; did you mean \"src\"?"},
      {"{ name = \"x\"; source = \"src:b\"; destination = \"urls:/tmp/l\"; }",
       "{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"urls:/tmp/l\"}",
       "tasks[0].destination: must be a store location"},
      {"{ name = \"x\"; source = \"src:b\"; destination = \"dst:b\"; same_name = \"skip_if_same\"; }",
       "{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"same_name\":\"skip_if_same\"}",
       "tasks[0].same_name: \"skip_if_same\" is not one of"},
      {"{ name = \"x\"; source = \"src:b\"; destination = \"dst:b\"; qps_limit = 5000000; }",
       "{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"qps_limit\":5000000}",
       "tasks[0].qps_limit:"},
      {"{ name = \"x\"; source = \"src:b\"; destination = \"dst:b\"; include = [ 1, 2 ]; }",
       "{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"include\":[1,2]}",
       "tasks[0].include[0]: expected a string, found an integer"},
      {"{ source = \"src:b\"; destination = \"dst:b\"; }",
       "{\"source\":\"src:b\",\"destination\":\"dst:b\"}",
       "tasks[0]: missing required key \"name\""},
      {"{ name = \"x\"; source = \"src:b\"; destination = \"dst:b\"; colour = \"red\"; }",
       "{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"colour\":\"red\"}",
       "unknown key \"colour\""},
      {"{ name = \"x\"; source = \"src:b\"; destination = \"dst:b\"; min_size = \"2M\"; max_size = \"1M\"; }",
       "{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"min_size\":\"2M\",\"max_size\":\"1M\"}",
       "tasks[0].min_size: is larger than max_size"},
      {"{ name = \"x\"; source = \"src:b\"; destination = \"dst:b\"; bandwidth_limit = \"10Q\"; }",
       "{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"bandwidth_limit\":\"10Q\"}",
       "tasks[0].bandwidth_limit:"},
      {"{ name = \"x\"; source = \"src:b\"; destination = \"dst:b\"; modified_after = \"yesterday\"; }",
       "{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"modified_after\":\"yesterday\"}",
       "tasks[0].modified_after:"},
      {"{ name = \"x\"; source = \"src:b/data/\"; destination = \"src:b/data/copy/\"; }",
       "{\"name\":\"x\",\"source\":\"src:b/data/\",\"destination\":\"src:b/data/copy/\"}",
       "tasks[0].destination: overlaps the source"},
      {"{ name = \"bad name\"; source = \"src:b\"; destination = \"dst:b\"; audit = \"yes\"; }",
       "{\"name\":\"bad name\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"audit\":\"yes\"}",
       "tasks[0].audit: expected true or false, found a string"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(cases); i++) {
    fbuf_t want, got;
    fbuf_init(&want, 0);
    fbuf_init(&got, 0);
    file_says(cases[i].entry, &want);
    spec_says(cases[i].spec, &got);
    if (strcmp(fbuf_str(&want), fbuf_str(&got)) != 0 ||
        !strstr(fbuf_str(&got), cases[i].needle)) {
      fprintf(stderr, "case %zu\nfile says:\n%sspec says:\n%s", i, fbuf_str(&want),
              fbuf_str(&got));
      fail();
    }
    fbuf_release(&want);
    fbuf_release(&got);
  }
}

static void test_refused_before_loader(void **state) {
  static const struct {
    const char *spec, *want;
  } cases[] = {
      {"{\"name\":\"cfgtask\",\"source\":\"src:b\",\"destination\":\"dst:b\"}",
       "task \"cfgtask\" is defined in the config file; the config wins\n"},
      {"{\"name\":", "spec: not JSON:"},
      {"[1,2]", "spec: must be a JSON object"},
      {"{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"include\":null}",
       "tasks[0].include: null is not a value: leave the key out\n"},
      {"{\"name\":\"x\",\"source\":\"src:b\",\"destination\":\"dst:b\",\"bad key\":1}",
       "tasks[0]: unknown key \"bad key\"\n"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(cases); i++) {
    fbuf_t got;
    fbuf_init(&got, 0);
    spec_says(cases[i].spec, &got);
    if (strncmp(fbuf_str(&got), cases[i].want, strlen(cases[i].want)) != 0) {
      fprintf(stderr, "case %zu: got:\n%s", i, fbuf_str(&got));
      fail();
    }
    fbuf_release(&got);
  }
}

static void test_good_spec(void **state) {
  fbuf_t errs;
  ferry_conf_t *c;
  const task_conf_t *t;
  (void)state;
  fbuf_init(&errs, 0);
  c = conf_load_spec(base,
                     "{\"name\":\"logs\",\"source\":\"src:b/in/\",\"destination\":\"dst:b/out/\","
                     "\"same_name\":\"overwrite\",\"qps_limit\":50,\"bandwidth_limit\":\"10M\","
                     "\"include\":[\"*.log\"],\"min_size\":1,\"max_size\":6000000000,"
                     "\"modified_after\":\"2024-01-01\",\"audit\":true}",
                     &errs);
  if (!c) fprintf(stderr, "%s", fbuf_str(&errs));
  assert_non_null(c);
  assert_int_equal(c->n_tasks, 1);
  t = &c->tasks[0];
  assert_string_equal(t->name, "logs");
  assert_string_equal(t->src.store, "src");
  assert_string_equal(t->src.prefix, "in/");
  assert_string_equal(t->dst.prefix, "out/");
  assert_int_equal(t->same_name, POLICY_OVERWRITE);
  assert_int_equal(t->qps_limit, 50);
  assert_int_equal(t->bandwidth_limit, 10 * 1024 * 1024);
  assert_int_equal(t->include.n, 1);
  assert_string_equal(t->include.v[0], "*.log");
  assert_int_equal(t->max_size, 6000000000ULL);
  assert_true(t->audit);
  /* Worker defaults filled in as for a file's entry. */
  assert_int_equal(t->storage_class_map.n, 1);
  assert_int_equal(errs.len, 0);
  conf_destroy(c);
  fbuf_release(&errs);
}

static void test_write_with_spec(void **state) {
  char path[160], eb[FERRY_ERRLEN];
  struct stat st;
  ferry_conf_t *c;
  fbuf_t errs;
  (void)state;
  snprintf(path, sizeof(path), "%s/child.conf", dir);
  assert_int_equal(conf_write_with_spec(base,
                                        "{\"name\":\"logs\",\"source\":\"src:b\","
                                        "\"destination\":\"dst:b\",\"max_size\":6000000000}",
                                        path, eb),
                   FERRY_OK);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  /* Exists: never overwritten. */
  assert_int_not_equal(conf_write_with_spec(base, "{\"name\":\"logs\"}", path, eb), FERRY_OK);
  fbuf_init(&errs, 0);
  c = conf_load(path, &errs, NULL);
  if (!c) fprintf(stderr, "%s", fbuf_str(&errs));
  assert_non_null(c);
  assert_int_equal(c->n_tasks, 2);
  assert_non_null(conf_task(c, "cfgtask"));
  assert_non_null(conf_task(c, "logs"));
  assert_int_equal(conf_task(c, "logs")->max_size, 6000000000ULL);
  conf_destroy(c);
  fbuf_release(&errs);
  unlink(path);
}

/* A config task's spec, renamed, is accepted and gives the same task. */
static void test_task_spec_round_trip(void **state) {
  char path[160], eb[FERRY_ERRLEN], *spec, **sched = NULL;
  ferry_conf_t *c, *r;
  fbuf_t errs;
  const char *p;
  (void)state;
  snprintf(path, sizeof(path), "%s/rt.conf", dir);
  write_file(path, STORES "tasks = ( { name = \"t1\"; source = \"src:b/in/\"; "
                          "destination = \"dst:c/out/\"; same_name = \"skip\"; "
                          "qps_limit = 7; exclude = [ \"*.tmp\" ]; max_size = 6000000000L; "
                          "modified_before = \"2025-03-01T10:00:00Z\"; audit = true; "
                          "bandwidth_schedule = [ \"08:00-19:00=10M\" ]; } );\n");
  c = conf_load(path, NULL, NULL);
  assert_non_null(c);
  spec = conf_task_spec(&c->tasks[0]);
  p = strstr(spec, "\"t1\"");
  assert_non_null(p);
  memcpy((char *)p + 1, "t2", 2);
  fbuf_init(&errs, 0);
  r = conf_load_spec(c, spec, &errs);
  if (!r) fprintf(stderr, "%s\n%s", spec, fbuf_str(&errs));
  assert_non_null(r);
  assert_string_equal(r->tasks[0].name, "t2");
  assert_string_equal(r->tasks[0].src.prefix, "in/");
  assert_string_equal(r->tasks[0].dst.bucket, "c");
  assert_int_equal(r->tasks[0].same_name, c->tasks[0].same_name);
  assert_int_equal(r->tasks[0].qps_limit, 7);
  assert_int_equal(r->tasks[0].max_size, 6000000000ULL);
  assert_int_equal(r->tasks[0].modified_before, c->tasks[0].modified_before);
  assert_string_equal(r->tasks[0].exclude.v[0], "*.tmp");
  assert_true(r->tasks[0].audit);
  /* A config task's schedule travels in its spec (the master's live limits). */
  assert_int_equal(r->tasks[0].bandwidth_schedule.n, 1);
  assert_int_equal(conf_spec_schedule(spec, &sched), 1);
  fx_free(sched[0]);
  fx_free(sched);
  assert_int_equal(conf_spec_schedule("{}", &sched), 0);
  assert_int_equal(conf_spec_schedule("{\"bandwidth_schedule\":[\"08:00-19:00=10M\"]}", &sched),
                   1);
  assert_string_equal(sched[0], "08:00-19:00=10M");
  fx_free(sched[0]);
  fx_free(sched);
  (void)eb;
  conf_destroy(r);
  conf_destroy(c);
  fx_free(spec);
  fbuf_release(&errs);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_specs_as_loader),
      cmocka_unit_test(test_refused_before_loader),
      cmocka_unit_test(test_good_spec),
      cmocka_unit_test(test_write_with_spec),
      cmocka_unit_test(test_task_spec_round_trip),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
