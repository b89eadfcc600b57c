/*
 * Unit tests for lib/conf/config: loading, every kind of invalid input (each
 * reported as FILE:LINE: key.path: message), credentials from the environment,
 * the pure parsers, and the consistency of docs/config.md and conf/ferry.conf
 * with the key tables.
 *
 * FERRY_UPDATE_DOCS=1 ./test_config rewrites the generated reference in
 * docs/config.md instead of failing on a difference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/config.h"
#include "policy/policy.h"

#define FIX(name) FIXTURES_DIR "/config/" name
#define DOCS FIXTURES_DIR "/../../docs/config.md"
#define EXAMPLE FIXTURES_DIR "/../../conf/ferry.conf"
#define DEMO FIXTURES_DIR "/../../conf/demo.conf"

#define BEGIN_MARK "<!-- BEGIN GENERATED REFERENCE"
#define END_MARK "<!-- END GENERATED REFERENCE -->"

static fbuf_t errs, warns;

static int setup(void **state) {
  (void)state;
  fbuf_init(&errs, 0);
  fbuf_init(&warns, 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fbuf_release(&errs);
  fbuf_release(&warns);
  return 0;
}

/* Fails with the whole buffer shown when needle is missing. */
#define assert_has(buf, needle) assert_has_((buf), (needle), __FILE__, __LINE__)
static void assert_has_(const fbuf_t *b, const char *needle, const char *file, int line) {
  if (!strstr(fbuf_str(b), needle)) {
    fprintf(stderr, "missing \"%s\" in:\n%s\n", needle, fbuf_str(b));
    _fail(file, line);
  }
}
#define assert_lacks(buf, needle) assert_lacks_((buf), (needle), __FILE__, __LINE__)
static void assert_lacks_(const fbuf_t *b, const char *needle, const char *file,
                          int line) {
  if (strstr(fbuf_str(b), needle)) {
    fprintf(stderr, "unexpected \"%s\" in:\n%s\n", needle, fbuf_str(b));
    _fail(file, line);
  }
}

static size_t count_lines(const fbuf_t *b) {
  size_t n = 0;
  const char *p;
  for (p = fbuf_str(b); *p; p++) n += *p == '\n';
  return n;
}

static ferry_conf_t *load_str(const char *text) {
  fbuf_reset(&errs);
  fbuf_reset(&warns);
  return conf_load_string(text, "t.conf", 0, &errs, &warns);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  fbuf_t b;
  char chunk[4096];
  size_t n;
  if (!f) return NULL;
  fbuf_init(&b, 0);
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) fbuf_add(&b, chunk, n);
  fclose(f);
  return fbuf_steal(&b);
}

static void set_full_env(void) {
  setenv("FERRY_TEST_KAFKA_PW", "kafka-pw-SECRET", 1);
  setenv("FERRY_TEST_OSS_AK", "oss-ak", 1);
  setenv("FERRY_TEST_OSS_SK", "oss-sk-SECRET", 1);
  setenv("FERRY_TEST_OSS_TOKEN", "oss-token-SECRET", 1);
  setenv("FERRY_COS_GZ_ACCESS_KEY", "cos-ak", 1);
  setenv("FERRY_COS_GZ_SECRET_KEY", "cos-sk-SECRET", 1);
  unsetenv("FERRY_COS_GZ_SESSION_TOKEN");
}

/* ---- valid configurations ---------------------------------------------- */

static void test_full(void **state) {
  ferry_conf_t *c;
  const store_conf_t *s;
  const task_conf_t *t;
  (void)state;
  set_full_env();
  c = conf_load(FIX("full.conf"), &errs, &warns);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_string_equal(fbuf_str(&warns), "");
  assert_int_equal(c->log_level, FLOG_DEBUG);

  assert_string_equal(c->kafka.brokers, "127.0.0.1:9092,127.0.0.1:9093");
  assert_string_equal(c->kafka.bootstrap_file, "/tmp/ferry-devbroker.bootstrap");
  assert_string_equal(c->kafka.topic_prefix, "mig-");
  assert_int_equal(c->kafka.segments_partitions, 16);
  assert_int_equal(c->kafka.replication_factor, 2);
  assert_string_equal(kvlist_get(&c->kafka.properties, "client.id"), "ferry-test");
  assert_string_equal(kvlist_get(&c->kafka.properties, "sasl.password"),
                      "kafka-pw-SECRET");
  assert_string_equal(kvlist_get(&c->kafka.producer_properties, "linger.ms"), "5");
  assert_string_equal(kvlist_get(&c->kafka.consumer_properties, "session.timeout.ms"),
                      "30000");
  assert_string_equal(c->kafka.group_id, "wk");
  assert_int_equal(c->kafka.delivery_timeout_ms, 120000);

  assert_int_equal(c->n_stores, 3);
  s = conf_store(c, "oss-hz");
  assert_non_null(s);
  assert_int_equal(s->type, STORE_OSS);
  assert_string_equal(s->region, "cn-hangzhou"); /* from the -internal endpoint */
  assert_int_equal(s->sign, SIGN_OSS_V1);
  assert_string_equal(s->access_key, "oss-ak");
  assert_string_equal(s->secret_key.v, "oss-sk-SECRET");
  assert_string_equal(s->session_token.v, "oss-token-SECRET");
  assert_int_equal(s->connect_timeout_ms, 3000);
  assert_int_equal(s->max_host_conns, 16); /* worker.max_host_conns */
  assert_int_equal(s->path_style, 0);
  assert_null(s->connect_to);
  assert_null(s->ca_file);
  s = conf_store(c, "cos-gz");
  assert_non_null(s);
  assert_int_equal(s->type, STORE_COS);
  assert_string_equal(s->region, "ap-guangzhou");
  assert_int_equal(s->sign, SIGN_DEFAULT);
  assert_string_equal(s->access_key, "cos-ak"); /* default convention */
  assert_string_equal(s->secret_key.v, "cos-sk-SECRET");
  assert_null(s->session_token.v);
  assert_int_equal(s->max_host_conns, 7);
  assert_int_equal(s->connect_timeout_ms, 10000);
  s = conf_store(c, "local");
  assert_non_null(s);
  assert_int_equal(s->sign, SIGN_NONE);
  assert_int_equal(s->path_style, 1);
  assert_string_equal(s->connect_to, "127.0.0.1:9001");
  assert_string_equal(s->region, "us-east-1");
  assert_null(s->access_key);
  assert_null(conf_store(c, "nope"));

  assert_string_equal(c->worker.id, "w-1");
  assert_int_equal(c->worker.concurrency, 8);
  assert_int_equal(c->worker.max_host_conns, 16);
  assert_int_equal(c->worker.buffer_size, 2 << 20);
  assert_int_equal(c->worker.small_object_threshold, 65536);
  assert_true(c->worker.multipart_threshold == 5ULL << 30);
  assert_int_equal(c->worker.part_size, 32 << 20);
  assert_int_equal(c->worker.max_attempts, 3);
  assert_int_equal(c->worker.backoff_base_ms, 100);
  assert_int_equal(c->worker.backoff_max_ms, 10000);
  assert_int_equal(c->worker.stall_timeout_s, 120);
  assert_int_equal(c->worker.request_timeout_s, 15);
  assert_int_equal(c->worker.qps_limit, 500);
  assert_int_equal(c->worker.bandwidth_limit, 100 << 20);
  assert_int_equal(c->worker.segments_in_flight, 2);
  assert_int_equal(c->worker.shutdown_timeout_s, 0);
  assert_int_equal(c->worker.windows.n, 2);
  assert_int_equal(c->worker.windows.v[0].start_min, 22 * 60);
  assert_int_equal(c->worker.windows.v[0].end_min, 6 * 60);
  assert_int_equal(c->worker.windows.v[1].end_min, 13 * 60 + 30);
  assert_int_equal(c->worker.storage_class_map.n, 2);
  assert_int_equal(c->worker.record_source_etag, 1);

  assert_int_equal(c->lister.page_size, 500);
  assert_int_equal(c->lister.segment_max_objects, 200);
  assert_int_equal(c->lister.segment_max_bytes, 512 << 20);
  assert_int_equal(c->lister.checkpoint_pages, 3);
  assert_int_equal(c->lister.shards, 4);
  assert_int_equal(c->lister.fanout_threshold, 0);

  assert_string_equal(c->reporter.listen, "[::1]:18080");
  assert_int_equal(c->reporter.refresh_s, 60);

  assert_int_equal(c->n_tasks, 2);
  t = conf_task(c, "t1");
  assert_non_null(t);
  assert_int_equal(t->src.kind, CONF_LOC_STORE);
  assert_string_equal(t->src.store, "oss-hz");
  assert_string_equal(t->src.bucket, "photos");
  assert_string_equal(t->src.prefix, "2024/");
  assert_string_equal(t->dst.store, "cos-gz");
  assert_string_equal(t->dst.bucket, "photos-1250000000");
  assert_string_equal(t->dst.prefix, "from-oss/");
  assert_int_equal(t->same_name, POLICY_OVERWRITE);
  assert_int_equal(t->qps_limit, 1000);
  assert_int_equal(t->bandwidth_limit, 1 << 30);
  assert_int_equal(t->storage_class_map.n, 0); /* explicit [] beats the worker's */
  assert_int_equal(t->include.n, 1);
  assert_string_equal(t->include.v[0], "*.jpg");
  assert_int_equal(t->exclude.n, 1);
  assert_int_equal(t->min_size, 1024);
  assert_true(t->max_size == 10ULL << 30);
  assert_int_equal(t->modified_after, 1704067200);  /* 2024-01-01T00:00:00Z */
  assert_int_equal(t->modified_before, 1719720000); /* 2024-06-30T04:00:00Z */
  assert_int_equal(t->record_source_etag, 0);
  t = conf_task(c, "t2");
  assert_non_null(t);
  assert_int_equal(t->src.kind, CONF_LOC_URLS);
  assert_string_equal(t->src.path, "/var/lib/ferry/list.txt");
  assert_string_equal(t->dst.prefix, "");
  assert_int_equal(t->same_name, POLICY_SKIP_IF_SAME);
  assert_int_equal(t->storage_class_map.n, 2); /* inherited */
  assert_string_equal(kvlist_get(&t->storage_class_map, "IA"), "STANDARD_IA");
  assert_int_equal(t->record_source_etag, 1); /* inherited */
  assert_null(conf_task(c, "t3"));
  conf_destroy(c);
}

static void test_defaults_and_empty(void **state) {
  ferry_conf_t *c;
  (void)state;
  c = conf_load(FIX("empty.conf"), &errs, &warns);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_int_equal(c->n_stores, 0);
  assert_int_equal(c->n_tasks, 0);
  assert_int_equal(c->log_level, FLOG_INFO);
  assert_string_equal(c->kafka.brokers, "");
  assert_string_equal(c->kafka.topic_prefix, "ferry.");
  assert_int_equal(c->kafka.segments_partitions, 64);
  assert_int_equal(c->kafka.replication_factor, 1);
  assert_string_equal(c->kafka.group_id, "ferry-workers");
  assert_int_equal(c->kafka.delivery_timeout_ms, 300000);
  assert_int_equal(c->worker.concurrency, 32);
  assert_int_equal(c->worker.max_host_conns, 64);
  assert_int_equal(c->worker.buffer_size, 1 << 20);
  assert_int_equal(c->worker.small_object_threshold, 256 << 10);
  assert_int_equal(c->worker.multipart_threshold, 64 << 20);
  assert_int_equal(c->worker.part_size, 16 << 20);
  assert_int_equal(c->worker.max_attempts, 5);
  assert_int_equal(c->worker.qps_limit, 0);
  assert_int_equal(c->worker.windows.n, 0);
  assert_true(conf_windows_allow(&c->worker.windows, 700));
  assert_non_null(c->worker.id);
  assert_non_null(strchr(c->worker.id, '-')); /* hostname-pid */
  assert_int_equal(c->lister.page_size, 1000);
  assert_int_equal(c->lister.segment_max_objects, 1000);
  assert_int_equal(c->lister.segment_max_bytes, 32 << 20);
  assert_true(c->lister.fanout_threshold == 4ULL << 30);
  assert_string_equal(c->reporter.listen, "127.0.0.1:8080");
  assert_int_equal(c->reporter.refresh_s, 5);
  conf_destroy(c);

  /* A file with nothing at all is valid too; "" listen disables HTTP. */
  c = load_str("reporter = { listen = \"\"; };");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_null(c->reporter.listen);
  conf_destroy(c);

  /* The reporter may listen on any free port, and ":PORT" means loopback. */
  c = load_str("reporter = { listen = \":0\"; };");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_string_equal(c->reporter.listen, ":0");
  conf_destroy(c);
  c = load_str("reporter = { listen = \"[::1]:0\"; };");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  conf_destroy(c);
  assert_null(load_str("reporter = { listen = \"127.0.0.1:65536\"; };"));
  assert_non_null(strstr(fbuf_str(&errs), "port 0..65535"));
  assert_null(load_str("reporter = { listen = \"127.0.0.1\"; };"));
}

static void test_unicode_prefix(void **state) {
  ferry_conf_t *c;
  const task_conf_t *t;
  (void)state;
  c = conf_load(FIX("unicode.conf"), &errs, &warns);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  t = conf_task(c, "u");
  assert_string_equal(t->src.prefix, "照片/2024 年/");
  assert_string_equal(t->dst.prefix, "фото/");
  conf_destroy(c);
  c = load_str(
      "stores = ( { name = \"s\"; type = \"s3\"; endpoint = \"h:1\"; "
      "signature = \"none\"; } );\n"
      "tasks = ( { name = \"u\"; source = \"s:b/\xff\xfe\"; "
      "destination = \"s:c\"; } );\n");
  assert_null(c);
  assert_has(&errs, "t.conf:2: tasks[0].source: the prefix is not valid UTF-8");
}

static void test_env_credentials(void **state) {
  ferry_conf_t *c;
  const char *base =
      "stores = ( { name = \"my-s3.x\"; type = \"s3\"; endpoint = \"h:9000\"; %s } );";
  char text[512];
  (void)state;
  unsetenv("FERRY_MY_S3_X_ACCESS_KEY");
  unsetenv("FERRY_MY_S3_X_SECRET_KEY");
  unsetenv("FERRY_MY_S3_X_SESSION_TOKEN");

  /* Nothing anywhere: both missing, with the default variable named. */
  snprintf(text, sizeof(text), base, "");
  assert_null(load_str(text));
  assert_has(&errs,
             "t.conf:1: stores[0]: no access key: set access_key or "
             "access_key_env, or export FERRY_MY_S3_X_ACCESS_KEY");
  assert_has(&errs, "export FERRY_MY_S3_X_SECRET_KEY");

  /* The default convention. */
  setenv("FERRY_MY_S3_X_ACCESS_KEY", "AK1", 1);
  setenv("FERRY_MY_S3_X_SECRET_KEY", "SK-SECRET-1", 1);
  setenv("FERRY_MY_S3_X_SESSION_TOKEN", "TOK-SECRET-1", 1);
  c = load_str(text);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_string_equal(c->stores[0].access_key, "AK1");
  assert_string_equal(c->stores[0].secret_key.v, "SK-SECRET-1");
  assert_string_equal(c->stores[0].session_token.v, "TOK-SECRET-1");
  conf_destroy(c);

  /* Explicit variables win over the convention. */
  setenv("FERRY_TEST_SK2", "SK-SECRET-2", 1);
  snprintf(text, sizeof(text), base, "secret_key_env = \"FERRY_TEST_SK2\";");
  c = load_str(text);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_string_equal(c->stores[0].secret_key.v, "SK-SECRET-2");
  conf_destroy(c);

  /* Inline and _env together is an error; the values never appear. */
  snprintf(text, sizeof(text), base,
           "secret_key = \"INLINE-SECRET\"; secret_key_env = \"FERRY_TEST_SK2\";");
  assert_null(load_str(text));
  assert_has(&errs,
             "stores[0].secret_key: set either secret_key or secret_key_env, "
             "not both");
  assert_lacks(&errs, "INLINE-SECRET");
  assert_lacks(&errs, "SK-SECRET");

  /* A secret with a newline (e.g. from a file with $(cat ...)). */
  setenv("FERRY_MY_S3_X_SECRET_KEY", "SK-SECRET-3\n", 1);
  snprintf(text, sizeof(text), base, "");
  assert_null(load_str(text));
  assert_has(&errs,
             "stores[0].secret_key: the value (from FERRY_MY_S3_X_SECRET_KEY) "
             "contains whitespace");
  assert_lacks(&errs, "SK-SECRET");

  /* An empty variable named by _env. */
  setenv("FERRY_TEST_EMPTY", "", 1);
  snprintf(text, sizeof(text), base, "access_key_env = \"FERRY_TEST_EMPTY\";");
  assert_null(load_str(text));
  assert_has(&errs,
             "stores[0].access_key_env: environment variable FERRY_TEST_EMPTY is "
             "empty");

  /* A bad variable name. */
  snprintf(text, sizeof(text), base, "access_key_env = \"1-BAD\";");
  assert_null(load_str(text));
  assert_has(&errs, "stores[0].access_key_env: \"1-BAD\" is not an environment variable");

  /* CONF_SKIP_CREDENTIALS: nothing is read or required. */
  unsetenv("FERRY_MY_S3_X_ACCESS_KEY");
  unsetenv("FERRY_MY_S3_X_SECRET_KEY");
  unsetenv("FERRY_MY_S3_X_SESSION_TOKEN");
  snprintf(text, sizeof(text), base, "secret_key_env = \"FERRY_TEST_UNSET_X\";");
  fbuf_reset(&errs);
  c = conf_load_string(text, "t.conf", CONF_SKIP_CREDENTIALS, &errs, &warns);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_null(c->stores[0].secret_key.v);
  conf_destroy(c);
}

static void test_missing_env(void **state) {
  (void)state;
  unsetenv("FERRY_TEST_UNSET_AK");
  unsetenv("FERRY_TEST_UNSET_SK");
  assert_null(conf_load(FIX("env.conf"), &errs, &warns));
  assert_has(&errs, FIX("env.conf") ":7: stores[0].access_key_env: environment variable "
                    "FERRY_TEST_UNSET_AK is not set");
  assert_has(&errs, FIX("env.conf") ":8: stores[0].secret_key_env: environment variable "
                    "FERRY_TEST_UNSET_SK is not set");
  assert_int_equal(count_lines(&errs), 2);
}

/* ---- invalid configurations -------------------------------------------- */

static void test_syntax_error(void **state) {
  (void)state;
  assert_null(conf_load(FIX("syntax.conf"), &errs, &warns));
  assert_string_equal(fbuf_str(&errs), FIX("syntax.conf") ":5: syntax error\n");
  fbuf_reset(&errs);
  assert_null(conf_load(FIX("does-not-exist.conf"), &errs, &warns));
  assert_has(&errs, "does-not-exist.conf: cannot read the file: No such file");
  assert_null(load_str("a = 1;\na = 2;\n"));
  assert_has(&errs, "t.conf:2: duplicate setting name");
}

static void test_unknown_keys(void **state) {
  (void)state;
  assert_null(conf_load(FIX("unknown.conf"), &errs, &warns));
  assert_has(&errs, FIX("unknown.conf") ":2: concurrency: unknown key \"concurrency\" "
                    "here; it belongs in worker");
  assert_has(&errs, FIX("unknown.conf") ":3: tasls: unknown key \"tasls\"; did you mean "
                    "\"tasks\"?");
  assert_has(&errs, FIX("unknown.conf") ":5: worker.concurency: unknown key "
                    "\"concurency\"; did you mean \"concurrency\"?");
  assert_has(&errs, FIX("unknown.conf") ":6: worker.frobnicate: unknown key "
                    "\"frobnicate\"\n");
  assert_has(&errs, FIX("unknown.conf") ":14: stores[0].pathstyle: unknown key "
                    "\"pathstyle\"; did you mean \"path_style\"?");
  assert_int_equal(count_lines(&errs), 5);
}

static void test_include(void **state) {
  (void)state;
  assert_null(conf_load(FIX("include_main.conf"), &errs, &warns));
  assert_has(&errs, "include_part.conf:3: worker.concurrrency: unknown key");
}

/* CONF_NO_INCLUDE (the config fuzz target's sandbox): a directive in any
 * case or indentation is refused by name and line, and none can open a file,
 * not even one that exists (the include directory is /dev/null). */
static void test_no_include(void **state) {
  static const char *texts[] = {
      "@include \"include_part.conf\"\n",
      "log_level = \"info\";\n\n  \t@INCLUDE \"/etc/passwd\"\n",
      "# comment\nstores = ( );\n@Include \"../../../../../etc/passwd\"\n",
  };
  static const int lines[] = {1, 3, 3};
  char want[64], cwd[4096];
  ferry_conf_t *c;
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(texts); i++) {
    fbuf_reset(&errs);
    assert_null(conf_load_string(texts[i], "fuzz", CONF_NO_INCLUDE | CONF_SKIP_CREDENTIALS,
                                 &errs, &warns));
    snprintf(want, sizeof(want), "fuzz:%d: @include is not allowed here\n", lines[i]);
    assert_string_equal(fbuf_str(&errs), want);
  }
  /* Without the flag, the same string includes relative to the working
   * directory: the included file's error shows that it was read. */
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(FIX("")), 0);
  fbuf_reset(&errs);
  c = conf_load_string(texts[0], "s", CONF_SKIP_CREDENTIALS, &errs, &warns);
  assert_int_equal(chdir(cwd), 0);
  assert_null(c);
  assert_has(&errs, "include_part.conf:3: worker.concurrrency: unknown key");
  /* The second lock alone: a file that includes, loaded with the flag. */
  fbuf_reset(&errs);
  assert_null(conf_load_ex(FIX("include_main.conf"), CONF_NO_INCLUDE, &errs, &warns));
  assert_has(&errs, "include_main.conf:3: cannot open include file");
  assert_lacks(&errs, "concurrrency");
  /* A string that merely mentions @include later on a line is not a
   * directive. */
  fbuf_reset(&errs);
  c = conf_load_string("log_level = \"info\"; # @include \"x\"\n", "s",
                       CONF_NO_INCLUDE | CONF_SKIP_CREDENTIALS, &errs, &warns);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  conf_destroy(c);
}

static void test_wrong_types(void **state) {
  (void)state;
  assert_null(conf_load(FIX("types.conf"), &errs, &warns));
  assert_has(&errs, ":2: log_level: expected a string, found an integer");
  assert_has(&errs, ":3: kafka: expected a group: kafka = { ... };");
  assert_has(&errs, ":5: worker.concurrency: expected an integer, found a string");
  assert_has(&errs,
             ":6: worker.buffer_size: expected a size (an integer, or a string "
             "like \"64M\"), found a float");
  assert_has(&errs, ":7: worker.windows: expected a list of strings");
  assert_has(&errs,
             ":8: worker.record_source_etag: expected true or false, found an "
             "integer");
  assert_has(&errs,
             ":9: worker.storage_class_map[0]: expected a string, found an "
             "integer");
  assert_has(&errs, ":9: worker.storage_class_map[1]: expected a string");
  assert_has(&errs, ":11: stores: expected a list of groups");
  assert_int_equal(count_lines(&errs), 9);
}

static void test_out_of_range(void **state) {
  (void)state;
  assert_null(conf_load(FIX("ranges.conf"), &errs, &warns));
  assert_has(&errs, ":3: kafka.segments_partitions: 0 is out of range 1..10000\n");
  assert_has(&errs, ":7: worker.concurrency: 100000 is out of range 1..4096\n");
  assert_has(&errs, ":8: worker.buffer_size: 128M is out of range 64K..64M\n");
  assert_has(&errs, ":10: worker.part_size: \"1.5G\": write a whole number");
  assert_has(&errs,
             ":12: worker.backoff_max_ms: must be at least "
             "worker.backoff_base_ms (5000)\n");
  assert_has(&errs,
             ":13: worker.stall_timeout_s: \"1500ms\" is not a whole number of "
             "seconds\n");
  assert_has(&errs, ":14: worker.qps_limit: -1 is out of range 0 or 1..1000000\n");
  assert_has(&errs, ":17: lister.page_size: 5000 is out of range 1..1000\n");
  assert_has(&errs,
             ":18: lister.segment_max_bytes: the number does not fit in 32 "
             "bits and libconfig would cut it; write it with an L suffix "
             "(5000000000L) or as a string (\"5G\")\n");
  assert_has(&errs,
             ":19: lister.fanout_threshold: must be 0 or at least "
             "worker.multipart_threshold (64M)\n");
  /* buffer_size was rejected, so small_object_threshold is not compared with it
   * (no second message about one mistake). */
  assert_lacks(&errs, "small_object_threshold");
  assert_lacks(&errs, "delivery_timeout_ms"); /* "1h" = 3600000 is fine */
  assert_int_equal(count_lines(&errs), 10);

  /* Errors come out in file order. */
  assert_true(strstr(fbuf_str(&errs), ":3: ") < strstr(fbuf_str(&errs), ":19: "));

  /* The cross-key checks themselves. */
  assert_null(
      load_str("worker = { buffer_size = \"1M\"; small_object_threshold = "
               "\"2M\"; };"));
  assert_has(&errs,
             "t.conf:1: worker.small_object_threshold: must not exceed "
             "worker.buffer_size (1M)");
  /* part_size above multipart_threshold. */
  assert_null(load_str("worker = { part_size = \"128M\"; };"));
  assert_has(&errs,
             "t.conf:1: worker.multipart_threshold: must be at least "
             "worker.part_size (128M)");
  /* A large literal with L is fine. */
  {
    ferry_conf_t *c = load_str(
        "worker = { multipart_threshold = 5368709120L; };\n"
        "lister = { fanout_threshold = 0; };");
    if (!c) fail_msg("%s", fbuf_str(&errs));
    assert_true(c->worker.multipart_threshold == 5ULL << 30);
    conf_destroy(c);
  }
}

static void test_stores_and_tasks(void **state) {
  (void)state;
  assert_null(conf_load(FIX("stores_tasks.conf"), &errs, &warns));
  assert_has(&errs,
             ":5: stores[2].name: duplicate store name \"src\" (also stores[0], "
             "line 3)");
  assert_has(&errs, ":8: tasks[0].source: unknown store \"scr\"; did you mean \"src\"?");
  assert_has(&errs,
             ":9: tasks[1].source: unknown store \"nowhere\" (stores: src, "
             "dst)");
  assert_has(&errs,
             ":10: tasks[2].name: duplicate task name \"a\" (also tasks[0], "
             "line 8)");
  assert_has(&errs,
             ":11: tasks[3].source: \"srcbucket\": expected "
             "\"STORE:BUCKET/PREFIX\"");
  assert_has(&errs, ":11: tasks[3].destination: \"dst:\": missing bucket");
  assert_has(&errs, ":12: tasks[4].source: \"src:/prefix\": missing bucket");
  assert_has(&errs, ":12: tasks[4].destination: must be a store location");
  assert_has(&errs,
             ":13: tasks[5].source: \"src:bu cket\": bucket name has an invalid "
             "character ' '");
  assert_has(&errs,
             ":13: tasks[5].same_name: \"skip_if_same\" is not one of "
             "\"overwrite\", \"skip\", \"skip-if-same\"; did you mean "
             "\"skip-if-same\"?");
  assert_has(&errs, ":14: tasks[6].destination: overlaps the source");
  assert_has(&errs, ":15: tasks[7]: missing required key \"name\"");
  assert_int_equal(count_lines(&errs), 12);
}

static void test_every_error_formatted(void **state) {
  const char *p;
  (void)state;
  /* Every line of every invalid fixture reads FILE:LINE: [path: ]message. */
  static const char *files[] = {FIX("unknown.conf"), FIX("types.conf"),
                                FIX("ranges.conf"), FIX("stores_tasks.conf"),
                                FIX("syntax.conf")};
  size_t i;
  for (i = 0; i < FERRY_ARRAY_LEN(files); i++) {
    fbuf_reset(&errs);
    assert_null(conf_load(files[i], &errs, &warns));
    for (p = fbuf_str(&errs); *p;) {
      const char *nl = strchr(p, '\n');
      size_t fl = strlen(files[i]);
      assert_non_null(nl);
      assert_memory_equal(p, files[i], fl);
      assert_true(p[fl] == ':' && p[fl + 1] >= '1' && p[fl + 1] <= '9');
      p = nl + 1;
    }
  }
}

static void test_store_checks(void **state) {
  ferry_conf_t *c;
  (void)state;
  /* oss v4 needs a region; a custom endpoint does not name one. */
  assert_null(
      load_str("stores = ( { name = \"o\"; type = \"oss\"; endpoint = "
               "\"https://oss.example.com\"; access_key = \"a\"; "
               "secret_key = \"b\"; } );"));
  assert_has(&errs, "t.conf:1: stores[0].region: required for oss v4 signing");
  /* v1 is for oss; cos for cos. */
  assert_null(
      load_str("stores = ( { name = \"s\"; type = \"s3\"; endpoint = \"h:1\"; "
               "signature = \"v1\"; access_key = \"a\"; secret_key = \"b\"; } );"));
  assert_has(&errs, "stores[0].signature: \"v1\" is for oss stores only");
  /* Endpoint forms. */
  assert_null(
      load_str("stores = ( { name = \"s\"; type = \"s3\"; signature = \"none\"; "
               "endpoint = \"ftp://h\"; },\n"
               "{ name = \"t\"; type = \"s3\"; signature = \"none\"; "
               "endpoint = \"http://h/bucket\"; },\n"
               "{ name = \"u\"; type = \"s3\"; signature = \"none\"; "
               "endpoint = \"http://user:pw@h\"; },\n"
               "{ name = \"urls\"; type = \"gcs\"; endpoint = \"\"; "
               "connect_to = \"1.2.3.4\"; ca_file = \"/nonexistent/ca.pem\"; } );"));
  assert_has(&errs, "t.conf:1: stores[0].endpoint: \"ftp://h\": the scheme must be");
  assert_has(&errs,
             "t.conf:2: stores[1].endpoint: \"http://h/bucket\": an endpoint has "
             "no path");
  assert_has(&errs,
             "t.conf:3: stores[2].endpoint: \"http://user:pw@h\": an endpoint is "
             "scheme://host[:port] only");
  assert_has(&errs, "t.conf:4: stores[3].type: \"gcs\" is not one of");
  assert_has(&errs, "t.conf:4: stores[3].endpoint: must not be empty");
  assert_has(&errs, "t.conf:4: stores[3].connect_to: \"1.2.3.4\": expected ADDR:PORT");
  assert_has(&errs, "t.conf:4: stores[3].name: \"urls\" is reserved");
  assert_has(&errs, "t.conf:4: stores[3].ca_file: cannot read \"/nonexistent/ca.pem\"");
  /* insecure is a warning, and an explicit cos region with v4 is fine. */
  c = load_str(
      "stores = ( { name = \"c\"; type = \"cos\"; endpoint = \"cos.example\"; "
      "region = \"ap-beijing\"; signature = \"v4\"; insecure = true; "
      "access_key = \"a\"; secret_key = \"b\"; } );");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_int_equal(c->stores[0].sign, SIGN_S3V4);
  assert_has(&warns,
             "stores[0].insecure: warning: TLS certificates of store \"c\" are "
             "not verified");
  assert_lacks(&warns, "readable"); /* a string has no file mode */
  conf_destroy(c);
}

/* A config of two stores (a, b) and the given tasks; NULL when refused. */
static ferry_conf_t *load_pair(const char *store_a, const char *store_b, const char *tasks) {
  char text[2048];
  snprintf(text, sizeof(text),
           "stores = ( { name = \"a\"; access_key = \"k\"; secret_key = \"s\"; %s },\n"
           "{ name = \"b\"; access_key = \"k\"; secret_key = \"s\"; %s } );\n"
           "tasks = ( %s );",
           store_a, store_b, tasks);
  return load_str(text);
}

/* The overlap check compares what store names resolve to. */
static void test_overlap_resolved(void **state) {
  static const struct {
    const char *a, *b;
  } same[] = {
      /* the guide's separate read and write keys: one endpoint, two names */
      {"type = \"s3\"; endpoint = \"http://127.0.0.1:9000\"; path_style = true;",
       "type = \"s3\"; endpoint = \"http://127.0.0.1:9000\";"},
      {"type = \"s3\"; endpoint = \"https://minio.example\";",
       "type = \"s3\"; endpoint = \"minio.example:443\";"},
      {"type = \"oss\"; endpoint = \"https://oss-cn-hangzhou.aliyuncs.com\";",
       "type = \"oss\"; endpoint = \"oss-cn-hangzhou-internal.aliyuncs.com\";"},
      {"type = \"oss\"; endpoint = \"https://oss-cn-hangzhou.aliyuncs.com\";",
       "type = \"oss\"; endpoint = \"https://oss-accelerate.aliyuncs.com\"; region = "
       "\"cn-hangzhou\";"},
      {"type = \"oss\"; endpoint = \"https://oss-cn-hangzhou.aliyuncs.com\";",
       "type = \"oss\"; endpoint = \"https://oss-accelerate.aliyuncs.com\"; signature "
       "= \"v1\";"},
      {"type = \"oss\"; endpoint = \"https://oss-cn-hangzhou.aliyuncs.com\";",
       "type = \"oss\"; endpoint = \"https://buck.oss-cn-hangzhou.aliyuncs.com\"; "
       "region = \"cn-hangzhou\";"},
      {"type = \"cos\"; endpoint = \"cos.ap-guangzhou.myqcloud.com\";",
       "type = \"cos\"; endpoint = \"cos-internal.ap-guangzhou.tencentcos.cn\";"},
      {"type = \"cos\"; endpoint = \"cos.ap-guangzhou.myqcloud.com\";",
       "type = \"cos\"; endpoint = \"cos.accelerate.myqcloud.com\";"},
      {"type = \"cos\"; endpoint = \"cos.ap-guangzhou.myqcloud.com\";",
       "type = \"s3\"; endpoint = \"cos.ap-guangzhou.myqcloud.com\";"},
      {"type = \"s3\"; endpoint = \"s3.us-west-2.amazonaws.com\";",
       "type = \"s3\"; endpoint = \"s3-accelerate.amazonaws.com\";"},
  };
  static const struct {
    const char *a, *b;
  } differ[] = {
      {"type = \"s3\"; endpoint = \"http://127.0.0.1:9000\";",
       "type = \"s3\"; endpoint = \"http://127.0.0.1:9001\";"},
      {"type = \"oss\"; endpoint = \"https://oss-cn-hangzhou.aliyuncs.com\";",
       "type = \"oss\"; endpoint = \"https://oss-cn-beijing.aliyuncs.com\";"},
      {"type = \"cos\"; endpoint = \"cos.ap-guangzhou.myqcloud.com\";",
       "type = \"oss\"; endpoint = \"oss-cn-hangzhou.aliyuncs.com\";"},
  };
  ferry_conf_t *c;
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(same); i++) {
    c = load_pair(same[i].a, same[i].b,
                  "{ name = \"t\"; source = \"a:buck/s/\"; destination = "
                  "\"b:buck/s/copy/\"; }");
    if (c) fail_msg("case %zu: accepted", i);
    assert_has(&errs,
               "t.conf:3: tasks[0].destination: overlaps the source: stores \"a\" and "
               "\"b\" resolve to the same bucket \"buck\"");
    /* Disjoint prefixes in one bucket are fine; "s" lists "s2/" though. */
    c = load_pair(same[i].a, same[i].b,
                  "{ name = \"t\"; source = \"a:buck/s/\"; destination = \"b:buck/t/\"; }");
    if (!c) fail_msg("case %zu: %s", i, fbuf_str(&errs));
    conf_destroy(c);
    c = load_pair(same[i].a, same[i].b,
                  "{ name = \"t\"; source = \"a:buck/s\"; destination = \"b:buck/s2\"; }");
    if (c) fail_msg("case %zu: s -> s2 accepted", i);
    /* Another bucket of the same account is fine. */
    c = load_pair(same[i].a, same[i].b,
                  "{ name = \"t\"; source = \"a:buck/s/\"; destination = \"b:other/s/\"; }");
    if (!c) fail_msg("case %zu: %s", i, fbuf_str(&errs));
    conf_destroy(c);
  }
  for (i = 0; i < FERRY_ARRAY_LEN(differ); i++) {
    c = load_pair(differ[i].a, differ[i].b,
                  "{ name = \"t\"; source = \"a:buck/s/\"; destination = "
                  "\"b:buck/s/copy/\"; }");
    if (!c) fail_msg("case %zu: %s", i, fbuf_str(&errs));
    conf_destroy(c);
  }
}

/* Prefix pairs that glue keys badly, and two tasks writing one place. */
static void test_overlap_warnings(void **state) {
  const char *s3 = "type = \"s3\"; endpoint = \"http://127.0.0.1:9000\";";
  const char *s3b = "type = \"s3\"; endpoint = \"http://127.0.0.1:9001\";";
  ferry_conf_t *c;
  (void)state;
  c = load_pair(s3, s3b,
                "{ name = \"t\"; source = \"a:x/r\"; destination = \"b:y/backup/\"; },\n"
                "{ name = \"u\"; source = \"a:x/r/\"; destination = \"b:y/backup/\"; },\n"
                "{ name = \"v\"; source = \"a:x/\"; destination = \"a:z/all\"; },\n"
                "{ name = \"w\"; source = \"a:x/q/\"; destination = \"b:y/other/\"; }");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_has(&warns,
             "t.conf:3: tasks[0].destination: warning: exactly one of the prefixes \"r\" "
             "(source) and \"backup/\" (destination) ends in '/': a source key \"r/k1\" "
             "is written as \"backup//k1\"");
  assert_has(&warns,
             "t.conf:5: tasks[2].destination: warning: exactly one of the prefixes \"\" "
             "(source) and \"all\" (destination) ends in '/': a source key \"k1\" is "
             "written as \"allk1\"");
  assert_has(&warns,
             "t.conf:4: tasks[1].destination: warning: task \"t\" also writes there "
             "(b:y/backup/, line 3)");
  assert_lacks(&warns, "tasks[3]");
  assert_int_equal(count_lines(&warns), 3);
  conf_destroy(c);
}

static void test_kafka_checks(void **state) {
  ferry_conf_t *c;
  (void)state;
  unsetenv("FERRY_TEST_NO_PW");
  assert_null(
      load_str("kafka = { properties = [ \"no.such.property=1\", "
               "\"sasl.password=${FERRY_TEST_NO_PW}\", \"justtext\", "
               "\"linger.ms=notanumber\", \"client.id=a\", \"client.id=b\" ];\n"
               "topic_prefix = \"a b\"; brokers = \"h:1,,h:2\"; group_id = \"\"; "
               "};"));
  assert_has(&errs,
             "t.conf:1: kafka.properties[0]: \"no.such.property\" is not a "
             "librdkafka property");
  assert_has(&errs,
             "t.conf:1: kafka.properties[1]: sasl.password: environment variable "
             "FERRY_TEST_NO_PW is not set");
  assert_has(&errs, "t.conf:1: kafka.properties[2]: expected \"name=value\"\n");
  assert_has(&errs, "t.conf:1: kafka.properties[3]: ");
  assert_has(&errs, "t.conf:1: kafka.properties[5]: \"client.id\" is given twice");
  assert_has(&errs, "t.conf:2: kafka.topic_prefix: \"a b\"");
  assert_has(&errs, "t.conf:2: kafka.brokers: \"h:1,,h:2\": empty entry");
  assert_has(&errs, "t.conf:2: kafka.group_id: must not be empty");
  assert_lacks(&errs, "justtext");

  /* A bad value of a secret property is not echoed. */
  assert_null(
      load_str("kafka = { properties = [ \"ssl.key.password=\" ]; "
               "brokers = \"\"; bootstrap_file = \"\"; };"));
  assert_has(&errs, "kafka: set brokers, or bootstrap_file");

  setenv("FERRY_TEST_PW", "PW-SECRET", 1);
  c = load_str(
      "kafka = { brokers = \"h:1\"; properties = [ "
      "\"sasl.password=${FERRY_TEST_PW}\", \"bootstrap.servers=h:2\" ]; };");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_string_equal(kvlist_get(&c->kafka.properties, "sasl.password"), "PW-SECRET");
  assert_has(&warns, "bootstrap.servers overrides kafka.brokers");
  assert_lacks(&warns, "PW-SECRET");
  conf_destroy(c);
}

/* The config accepts exactly the storage class entries the worker's
 * policy_class_map_parse accepts, and both see the same pairs. */
static void test_class_map_agrees_with_policy(void **state) {
  static const char *entries[] = {"IA=STANDARD_IA",
                                  "*=STANDARD",
                                  "Archive=",
                                  "STANDARD=maz_standard",
                                  "=X",
                                  "A B=C",
                                  "A=B C",
                                  "A=B=C",
                                  "noequals",
                                  "*=",
                                  "Cold-1=DEEP_ARCHIVE",
                                  "A.B=C"};
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(entries); i++) {
    char text[256], eb[FERRY_ERRLEN];
    kvlist_t m;
    ferry_conf_t *c;
    ferry_err_t pe;
    kvlist_init(&m);
    pe = policy_class_map_parse(&m, &entries[i], 1, eb);
    snprintf(text, sizeof(text), "worker = { storage_class_map = [ \"%s\" ]; };",
             entries[i]);
    c = load_str(text);
    if ((c != NULL) != (pe == FERRY_OK))
      fail_msg("\"%s\": config %s, policy %s", entries[i], c ? "accepts" : "rejects",
               pe == FERRY_OK ? "accepts" : "rejects");
    if (c) {
      assert_int_equal(c->worker.storage_class_map.n, 1);
      assert_string_equal(c->worker.storage_class_map.v[0].name, m.v[0].name);
      assert_string_equal(c->worker.storage_class_map.v[0].value, m.v[0].value);
    }
    conf_destroy(c);
    kvlist_release(&m);
  }
  /* Names match case-insensitively, so these collide. */
  assert_null(load_str("worker = { storage_class_map = [ \"IA=A\", \"ia=B\" ]; };"));
  assert_has(&errs, "worker.storage_class_map[1]: \"ia\" is given twice");
}

/* ---- warnings about inline secrets ----------------------------------------- */

static void test_world_readable_warning(void **state) {
  char dir[] = "/tmp/ferry-test-config.XXXXXX";
  char path[256];
  FILE *f;
  ferry_conf_t *c;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/inline.conf", dir);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(
      "stores = (\n  { name = \"s\"; type = \"s3\"; endpoint = \"h:1\";\n"
      "    access_key = \"AK\";\n    secret_key = \"VERY-SECRET\"; }\n);\n",
      f);
  fclose(f);

  assert_int_equal(chmod(path, 0644), 0);
  c = conf_load(path, &errs, &warns);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_has(&warns, ":4: stores[0].secret_key: warning: a secret is inline and ");
  assert_has(&warns, "is readable by group or others (mode 0644)");
  assert_has(&warns, "chmod 600");
  assert_lacks(&warns, "VERY-SECRET");
  assert_string_equal(c->stores[0].secret_key.v, "VERY-SECRET");
  conf_destroy(c);

  fbuf_reset(&warns);
  assert_int_equal(chmod(path, 0600), 0);
  c = conf_load(path, &errs, &warns);
  assert_non_null(c);
  assert_string_equal(fbuf_str(&warns), "");
  conf_destroy(c);

  /* Errors never carry the secret either. */
  f = fopen(path, "a");
  fputs("worker = { concurrency = 0; };\n", f);
  fclose(f);
  fbuf_reset(&errs);
  assert_null(conf_load(path, &errs, &warns));
  assert_lacks(&errs, "VERY-SECRET");
  unlink(path);
  rmdir(dir);
}

/* ---- pure parsers -------------------------------------------------------- */

static void test_parse_size(void **state) {
  uint64_t v;
  char eb[FERRY_ERRLEN];
  (void)state;
  static const struct {
    const char *s;
    uint64_t v;
  } ok[] = {{"0", 0},
            {"1024", 1024},
            {"1K", 1024},
            {"1k", 1024},
            {"64M", 64ULL << 20},
            {"64MiB", 64ULL << 20},
            {"64 MB", 64ULL << 20},
            {"3G", 3ULL << 30},
            {"2T", 2ULL << 40},
            {"1P", 1ULL << 50},
            {"512B", 512},
            {" 7 ", 7}};
  static const char *bad[] = {
      "", "M", "-1", "1.5G", "12X", "1KK", "1 2", "99999999999999999999", "16385P"};
  size_t i;
  for (i = 0; i < FERRY_ARRAY_LEN(ok); i++) {
    assert_int_equal(conf_parse_size(ok[i].s, &v, eb), FERRY_OK);
    assert_true(v == ok[i].v);
  }
  for (i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
    if (conf_parse_size(bad[i], &v, eb) == FERRY_OK) fail_msg("accepted \"%s\"", bad[i]);
    assert_non_null(strstr(eb, bad[i]));
  }
}

static void test_parse_duration(void **state) {
  int64_t v;
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(conf_parse_duration("30", 1000, &v, eb), FERRY_OK);
  assert_int_equal(v, 30000);
  assert_int_equal(conf_parse_duration("30", 1, &v, eb), FERRY_OK);
  assert_int_equal(v, 30);
  assert_int_equal(conf_parse_duration("250ms", 1000, &v, eb), FERRY_OK);
  assert_int_equal(v, 250);
  assert_int_equal(conf_parse_duration("5m", 1, &v, eb), FERRY_OK);
  assert_int_equal(v, 300000);
  assert_int_equal(conf_parse_duration("2 h", 1, &v, eb), FERRY_OK);
  assert_int_equal(v, 7200000);
  assert_int_equal(conf_parse_duration("1d", 1, &v, eb), FERRY_OK);
  assert_int_equal(v, 86400000);
  assert_int_equal(conf_parse_duration("5 minutes", 1, &v, eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_duration("-5s", 1, &v, eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_duration("", 1, &v, eb), FERRY_ERR_INVALID);
}

static void test_parse_time(void **state) {
  int64_t v;
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(conf_parse_time("2024-01-15", &v, eb), FERRY_OK);
  assert_int_equal(v, 1705276800);
  assert_int_equal(conf_parse_time("2024-01-15T08:30:00Z", &v, eb), FERRY_OK);
  assert_int_equal(v, 1705307400);
  assert_int_equal(conf_parse_time("2024-01-15T08:30", &v, eb), FERRY_OK);
  assert_int_equal(v, 1705307400);
  assert_int_equal(conf_parse_time("2024-01-15T16:30:00+08:00", &v, eb), FERRY_OK);
  assert_int_equal(v, 1705307400);
  assert_int_equal(conf_parse_time("2024-01-15T03:30:00.123-0500", &v, eb), FERRY_OK);
  assert_int_equal(v, 1705307400);
  assert_int_equal(conf_parse_time("2024-02-29", &v, eb), FERRY_OK);
  assert_int_equal(conf_parse_time("2023-02-29", &v, eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_time("2024-13-01", &v, eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_time("2024-1-1", &v, eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_time("1970-01-01", &v, eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_time("yesterday", &v, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "YYYY-MM-DD"));
}

static void test_windows(void **state) {
  conf_window_t w[2];
  conf_windows_t ws = {w, 2};
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(conf_parse_window("22:00-06:00", &w[0], eb), FERRY_OK);
  assert_int_equal(conf_parse_window("12:00-13:30", &w[1], eb), FERRY_OK);
  assert_true(conf_windows_allow(&ws, 23 * 60));
  assert_true(conf_windows_allow(&ws, 0));
  assert_true(conf_windows_allow(&ws, 5 * 60 + 59));
  assert_false(conf_windows_allow(&ws, 6 * 60));
  assert_true(conf_windows_allow(&ws, 12 * 60 + 15));
  assert_false(conf_windows_allow(&ws, 13 * 60 + 30));
  assert_int_equal(conf_parse_window("00:00-24:00", &w[0], eb), FERRY_OK);
  ws.n = 1;
  assert_true(conf_windows_allow(&ws, 1439));
  assert_int_equal(conf_parse_window("10:00-10:00", &w[0], eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_window("24:00-01:00", &w[0], eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_window("9:00-10:00", &w[0], eb), FERRY_ERR_INVALID);
  assert_int_equal(conf_parse_window("09:60-10:00", &w[0], eb), FERRY_ERR_INVALID);
}

/* tasks[].bandwidth_schedule: each entry checked by conf_parse_bwsched,
 * the error naming the key and the entry. */
static void test_bandwidth_schedule(void **state) {
  ferry_conf_t *c;
  const char *ok =
      "stores = ( { name = \"s\"; type = \"s3\"; endpoint = \"http://127.0.0.1:1\"; } );\n"
      "tasks = ( { name = \"t\"; source = \"s:a\"; destination = \"s:b\"; "
      "bandwidth_schedule = [ \"08:00-19:00=10M\", \"19:00-08:00=0\" ]; } );\n";
  const char *bad =
      "stores = ( { name = \"s\"; type = \"s3\"; endpoint = \"http://127.0.0.1:1\"; } );\n"
      "tasks = ( { name = \"t\"; source = \"s:a\"; destination = \"s:b\"; "
      "bandwidth_schedule = [ \"08:00-19:00\" ]; } );\n";
  (void)state;
  setenv("FERRY_S_ACCESS_KEY", "ak", 1);
  setenv("FERRY_S_SECRET_KEY", "sk", 1);
  c = load_str(ok);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_int_equal(c->tasks[0].bandwidth_schedule.n, 2);
  assert_string_equal(c->tasks[0].bandwidth_schedule.v[0], "08:00-19:00=10M");
  conf_destroy(c);
  assert_null(load_str(bad));
  assert_has(&errs, "bandwidth_schedule");
}

static void test_parse_location(void **state) {
  conf_loc_t l;
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(conf_parse_location("oss-hz:bucket", &l, eb), FERRY_OK);
  assert_int_equal(l.kind, CONF_LOC_STORE);
  assert_string_equal(l.store, "oss-hz");
  assert_string_equal(l.bucket, "bucket");
  assert_string_equal(l.prefix, "");
  conf_loc_release(&l);
  assert_int_equal(conf_parse_location("s:b/a/b/c", &l, eb), FERRY_OK);
  assert_string_equal(l.prefix, "a/b/c");
  conf_loc_release(&l);
  assert_int_equal(conf_parse_location("s:b/", &l, eb), FERRY_OK);
  assert_string_equal(l.prefix, "");
  conf_loc_release(&l);
  assert_int_equal(conf_parse_location("urls:/tmp/x.txt", &l, eb), FERRY_OK);
  assert_int_equal(l.kind, CONF_LOC_URLS);
  assert_string_equal(l.path, "/tmp/x.txt");
  assert_null(l.store);
  conf_loc_release(&l);

  assert_int_equal(conf_parse_location("", &l, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "empty location"));
  assert_int_equal(conf_parse_location("urls:", &l, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "URL list"));
  assert_int_equal(conf_parse_location(":b/p", &l, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "store name must not be empty"));
  assert_int_equal(conf_parse_location("s t:b", &l, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "store name"));
  assert_int_equal(conf_parse_location("s:", &l, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "missing bucket"));
  assert_int_equal(conf_parse_location("s:b\tx/p", &l, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "invalid character"));
  assert_int_equal(conf_parse_location("s:b/line\nbreak", &l, eb), FERRY_ERR_INVALID);
  assert_non_null(strstr(eb, "control character"));
}

static void test_helpers(void **state) {
  char *s;
  task_conf_t t;
  char *inc[] = {"*.jpg", "docs/*"};
  char *exc[] = {"*/tmp/*"};
  (void)state;
  s = conf_env_name("oss-hz.2", "SECRET_KEY");
  assert_string_equal(s, "FERRY_OSS_HZ_2_SECRET_KEY");
  fx_free(s);

  memset(&t, 0, sizeof(t));
  assert_true(conf_task_filter(&t, "anything", 0, -1));
  t.include.v = inc;
  t.include.n = 2;
  t.exclude.v = exc;
  t.exclude.n = 1;
  t.min_size = 10;
  t.max_size = 100;
  t.modified_after = 1000;
  t.modified_before = 2000;
  assert_true(conf_task_filter(&t, "a/b/c.jpg", 50, 1500)); /* '*' crosses '/' */
  assert_true(conf_task_filter(&t, "docs/x.txt", 50, -1));  /* unknown mtime passes */
  assert_false(conf_task_filter(&t, "a/tmp/c.jpg", 50, 1500));
  assert_false(conf_task_filter(&t, "c.png", 50, 1500));
  assert_false(conf_task_filter(&t, "c.jpg", 9, 1500));
  assert_false(conf_task_filter(&t, "c.jpg", 101, 1500));
  assert_false(conf_task_filter(&t, "c.jpg", 50, 999));
  assert_true(conf_task_filter(&t, "c.jpg", 50, 1000));
  assert_false(conf_task_filter(&t, "c.jpg", 50, 2000));
}

static void test_kafka_brokers(void **state) {
  conf_kafka_t k;
  char *out = NULL;
  char eb[FERRY_ERRLEN];
  char path[] = "/tmp/ferry-test-bootstrap.XXXXXX";
  int fd;
  (void)state;
  memset(&k, 0, sizeof(k));
  k.brokers = "h:1";
  assert_int_equal(conf_kafka_brokers(&k, &out, eb), FERRY_OK);
  assert_string_equal(out, "h:1");
  fx_free(out);
  k.brokers = "";
  k.bootstrap_file = "/nonexistent/ferry.bootstrap";
  assert_int_equal(conf_kafka_brokers(&k, &out, eb), FERRY_ERR_IO);
  assert_non_null(strstr(eb, "ferry-devbroker"));
  fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "  127.0.0.1:39092 \n", 19), 19);
  close(fd);
  k.bootstrap_file = path;
  assert_int_equal(conf_kafka_brokers(&k, &out, eb), FERRY_OK);
  assert_string_equal(out, "127.0.0.1:39092");
  fx_free(out);
  unlink(path);
}

/* Runs conf_load_or_exit(path) in a child; returns its exit status and what it
 * wrote to stderr (a new string in *out). */
static int run_or_exit(const char *path, char **out) {
  int fds[2], st;
  pid_t pid;
  fbuf_t b;
  char chunk[1024];
  ssize_t n;
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    ferry_conf_t *c;
    dup2(fds[1], 2);
    close(fds[0]);
    c = conf_load_or_exit(path, 0);
    conf_destroy(c);
    _exit(0);
  }
  close(fds[1]);
  fbuf_init(&b, 0);
  while ((n = read(fds[0], chunk, sizeof(chunk))) > 0) fbuf_add(&b, chunk, (size_t)n);
  close(fds[0]);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  *out = fbuf_steal(&b);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_load_or_exit(void **state) {
  char *out;
  (void)state;
  assert_int_equal(run_or_exit(FIX("stores_tasks.conf"), &out), 2);
  assert_non_null(strstr(out, "stores_tasks.conf:8: tasks[0].source: unknown store"));
  assert_non_null(strstr(out, "ferry: 12 problems in "));
  fx_free(out);
  assert_int_equal(run_or_exit(FIX("empty.conf"), &out), 0);
  assert_string_equal(out, "");
  fx_free(out);
  /* No path: $FERRY_CONFIG, else a clear message. */
  setenv("FERRY_CONFIG", FIX("empty.conf"), 1);
  assert_int_equal(run_or_exit(NULL, &out), 0);
  fx_free(out);
  unsetenv("FERRY_CONFIG");
  assert_int_equal(run_or_exit(NULL, &out), 2);
  assert_non_null(strstr(out, "FERRY_CONFIG"));
  fx_free(out);
}

/* ---- docs and examples cannot drift from the tables ------------------------ */

static void test_docs_reference(void **state) {
  char *doc = slurp(DOCS);
  fbuf_t gen;
  char *b, *e, *after_begin;
  size_t i;
  char kp[128];
  (void)state;
  assert_non_null(doc);
  fbuf_init(&gen, 0);
  conf_doc_markdown(&gen);
  b = strstr(doc, BEGIN_MARK);
  assert_non_null(b);
  after_begin = strchr(b, '\n');
  assert_non_null(after_begin);
  after_begin++;
  e = strstr(after_begin, END_MARK);
  assert_non_null(e);
  if ((size_t)(e - after_begin) != gen.len || memcmp(after_begin, gen.p, gen.len) != 0) {
    if (getenv("FERRY_UPDATE_DOCS")) {
      FILE *f = fopen(DOCS, "w");
      assert_non_null(f);
      fwrite(doc, 1, (size_t)(after_begin - doc), f);
      fwrite(gen.p, 1, gen.len, f);
      fputs(e, f);
      fclose(f);
      print_message("rewrote the generated reference in %s\n", DOCS);
    } else {
      fail_msg(
          "docs/config.md's generated reference differs from the key tables; "
          "run FERRY_UPDATE_DOCS=1 build/test_config to regenerate it");
    }
  }
  /* Every key appears by its full path (belt and braces). */
  for (i = 0; conf_key_path(i, kp, sizeof(kp)) == 0; i++) {
    char needle[140];
    snprintf(needle, sizeof(needle), "`%s`", kp);
    if (!strstr(doc, needle) && !getenv("FERRY_UPDATE_DOCS"))
      fail_msg("docs/config.md does not mention %s", needle);
  }
  assert_int_equal(i, conf_key_count());
  assert_true(i > 60);
  fbuf_release(&gen);
  fx_free(doc);
}

#define ENV_EXAMPLE FIXTURES_DIR "/../../compose/ferry.env.example"

/* setenv() of every NAME=VALUE line of an env file (comments skipped). */
static void setenv_from_example(const char *path) {
  char *text = slurp(path), *line, *save = NULL;
  int n = 0;
  assert_non_null(text);
  for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(line, '=');
    if (line[0] == '#' || !eq) continue;
    *eq = '\0';
    setenv(line, eq + 1, 1);
    n++;
  }
  assert_true(n >= 4);
  fx_free(text);
}

/* The default of key path kp as the generated reference shows it, without
 * backticks ("32", "\"1M\"", "[]"); "" when it shows none (required, unset,
 * another key's value). */
static void doc_default(const char *gen, const char *kp, char *out, size_t n) {
  char needle[256];
  const char *p, *q;
  out[0] = '\0';
  snprintf(needle, sizeof needle, "| `%s` | ", kp);
  if (!(p = strstr(gen, needle))) return;
  p = strchr(p + strlen(needle), '|');          /* after the type column */
  if (!p || strncmp(p, "| `", 3) != 0) return;
  p += 3;
  if (!(q = strchr(p, '`')) || (size_t)(q - p) >= n) return;
  memcpy(out, p, (size_t)(q - p));
  out[q - p] = '\0';
}

static void squeeze(char *s) {   /* drops blanks: "[ ]" and "[]" are one value */
  char *w = s;
  for (; *s; s++)
    if (*s != ' ' && *s != '\t') *w++ = *s;
  *w = '\0';
}

/* conf/ferry.conf says "Any key left out takes the default shown here": a
 * value set there that is not the default must say the default in its
 * comment, or a reader copying the file takes an example for a default. */
static void test_example_shows_defaults(void **state) {
  fbuf_t gen;
  char *text = slurp(EXAMPLE), *line, *save = NULL, section[64] = "";
  int bad = 0;
  (void)state;
  fbuf_init(&gen, 0);
  conf_doc_markdown(&gen);
  assert_non_null(text);
  for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char name[64], value[256], kp[192], def[128];
    const char *hash = strchr(line, '#');
    int col = 0;
    if (sscanf(line, " %63[a-z_] = %n", name, &col) == 1 && col > 0 &&
        (line[col] == '{' || line[col] == '(')) {
      snprintf(section, sizeof section, "%s", name);   /* "worker = {" */
      continue;
    }
    if ((line[0] == '}' || line[0] == ')')) { section[0] = '\0'; continue; }
    if (sscanf(line, " %63[a-z_] = %255[^;#]", name, value) != 2) continue;
    squeeze(value);
    if (!strcmp(section, "stores") || !strcmp(section, "tasks"))
      snprintf(kp, sizeof kp, "%s[].%s", section, name);
    else if (section[0])
      snprintf(kp, sizeof kp, "%s.%s", section, name);
    else
      snprintf(kp, sizeof kp, "%s", name);
    doc_default(fbuf_str(&gen), kp, def, sizeof def);
    if (!def[0] || !strcmp(def, value)) continue;
    if (!hash || !strstr(hash, "default")) {
      print_error("conf/ferry.conf: %s = %s is not the default %s, and its comment "
                  "does not say so\n", kp, value, def);
      bad++;
    }
  }
  fbuf_release(&gen);
  fx_free(text);
  assert_int_equal(bad, 0);
}

/* conf/ferry.conf sets (or shows commented) every key, and loads cleanly. */
static void test_example_config(void **state) {
  char *text = slurp(EXAMPLE);
  size_t i;
  char kp[128];
  ferry_conf_t *c;
  (void)state;
  assert_non_null(text);
  for (i = 0; conf_key_path(i, kp, sizeof(kp)) == 0; i++) {
    const char *name = strrchr(kp, '.') ? strrchr(kp, '.') + 1 : kp;
    const char *p;
    int found = 0;
    for (p = strstr(text, name); p && !found; p = strstr(p + 1, name)) {
      const char *q = p + strlen(name), *ls = p;
      while (ls > text && ls[-1] != '\n') ls--;
      /* The line must be "[#] name =": the key itself, set or commented. */
      while (ls < p && (*ls == ' ' || *ls == '#')) ls++;
      while (*q == ' ') q++;
      found = ls == p && *q == '=';
    }
    if (!found) fail_msg("conf/ferry.conf does not show key %s", kp);
  }
  fx_free(text);

  /* With the credentials compose's env example names, and nothing else:
   * the example and the env file must agree on the variables. */
  setenv("FERRY_KAFKA_PASSWORD", "x", 1);
  setenv_from_example(ENV_EXAMPLE);
  c = conf_load(EXAMPLE, &errs, &warns);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_string_equal(fbuf_str(&warns), "");
  assert_int_equal(c->n_stores, 2);
  assert_int_equal(c->n_tasks, 2);
  conf_destroy(c);
}

static void test_demo_config(void **state) {
  ferry_conf_t *c;
  const store_conf_t *s;
  const task_conf_t *t;
  (void)state;
  setenv("FERRY_SRC_ACCESS_KEY", "S3RVER", 1);
  setenv("FERRY_SRC_SECRET_KEY", "S3RVER", 1);
  setenv("FERRY_DST_ACCESS_KEY", "S3RVER", 1);
  setenv("FERRY_DST_SECRET_KEY", "S3RVER", 1);
  c = conf_load(DEMO, &errs, &warns);
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_string_equal(fbuf_str(&warns), "");
  assert_string_equal(c->kafka.brokers, "");
  s = conf_store(c, "src");
  assert_non_null(s);
  assert_int_equal(s->type, STORE_S3);
  assert_true(s->path_style);
  assert_non_null(strstr(s->endpoint, "127.0.0.1"));
  s = conf_store(c, "dst");
  assert_non_null(s);
  assert_true(s->path_style);
  assert_int_equal(c->n_tasks, 1);
  t = conf_task(c, "demo");
  assert_non_null(t);
  assert_string_equal(t->src.store, "src");
  assert_string_equal(t->dst.store, "dst");
  conf_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_full, setup, teardown),
      cmocka_unit_test_setup_teardown(test_defaults_and_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unicode_prefix, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_credentials, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_env, setup, teardown),
      cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_include, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_include, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stores_and_tasks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_error_formatted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_checks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overlap_resolved, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overlap_warnings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kafka_checks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_class_map_agrees_with_policy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_world_readable_warning, setup, teardown),
      cmocka_unit_test(test_parse_size),
      cmocka_unit_test(test_parse_duration),
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test(test_windows),
      cmocka_unit_test_setup_teardown(test_bandwidth_schedule, setup, teardown),
      cmocka_unit_test(test_parse_location),
      cmocka_unit_test(test_helpers),
      cmocka_unit_test(test_kafka_brokers),
      cmocka_unit_test(test_load_or_exit),
      cmocka_unit_test(test_docs_reference),
      cmocka_unit_test_setup_teardown(test_example_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_example_shows_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_demo_config, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
