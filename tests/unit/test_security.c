/*
 * Security checks that need no server: certificate verification is on by
 * default, TLS failures are classified and name their store, Kafka SASL/SSL
 * properties reach librdkafka (and bad ones are reported by name), and
 * config errors never echo a secret -- including the regression where a
 * credential key of the wrong type crashed the loader.
 * (tests/integration/tls.sh and secrets.sh do the same end to end.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "bus/bus.h"
#include "conf/busconf.h"
#include "core/buf.h"
#include "conf/config.h"
#include "core/log.h"
#include "store/client.h"
#include "store/store.h"

#define SECRET "SECRETsecret-unit-7f3a"

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

static ferry_conf_t *load_str(const char *text) {
  fbuf_reset(&errs);
  fbuf_reset(&warns);
  return conf_load_string(text, "t.conf", 0, &errs, &warns);
}

#define assert_has(b, s) assert_has_at((b), (s), __FILE__, __LINE__)
static void assert_has_at(const fbuf_t *b, const char *needle, const char *file, int line) {
  if (!strstr(fbuf_str(b), needle)) {
    fprintf(stderr, "missing \"%s\" in:\n%s\n", needle, fbuf_str(b));
    _fail(file, line);
  }
}

static void assert_no_secret(void) {
  assert_null(strstr(fbuf_str(&errs), "SECRETsecret"));
  assert_null(strstr(fbuf_str(&warns), "SECRETsecret"));
}

/* ---- TLS defaults and errors ------------------------------------------- */

/* No option set: verify (insecure off, the system CA bundle). */
static void test_tls_verification_on_by_default(void **state) {
  ferry_conf_t *c;
  const store_conf_t *s;
  (void)state;
  c = load_str("stores = ( { name = \"o\"; type = \"oss\"; endpoint = "
               "\"oss-cn-hangzhou.aliyuncs.com\"; access_key = \"AK\"; secret_key = \"" SECRET
               "\"; } );");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  s = conf_store(c, "o");
  assert_non_null(s);
  assert_int_equal(s->insecure, 0);
  assert_null(s->ca_file);
  assert_null(strstr(fbuf_str(&warns), "not verified"));
  conf_destroy(c);

  /* insecure only when written, and then warned about, naming the store. */
  c = load_str("stores = ( { name = \"o\"; type = \"oss\"; endpoint = "
               "\"oss-cn-hangzhou.aliyuncs.com\"; access_key = \"AK\"; secret_key = \"" SECRET
               "\"; insecure = true; } );");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_int_equal(conf_store(c, "o")->insecure, 1);
  assert_has(&warns, "t.conf:1: stores[0].insecure: warning: TLS certificates of store \"o\" "
                     "are not verified");
  assert_no_secret();
  conf_destroy(c);

  /* An unreadable ca_file is an error, not a silent fallback. */
  assert_null(load_str("stores = ( { name = \"o\"; type = \"s3\"; endpoint = \"h:1\"; "
                       "access_key = \"AK\"; secret_key = \"" SECRET "\"; "
                       "ca_file = \"/nonexistent/ferry-ca.pem\"; } );"));
  assert_has(&errs, "stores[0].ca_file: cannot read \"/nonexistent/ferry-ca.pem\"");
  assert_no_secret();
}

static void test_tls_error_classified(void **state) {
  store_error_t e;
  static const int tls[] = {CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
                            CURLE_SSL_CERTPROBLEM, CURLE_SSL_ISSUER_ERROR,
                            CURLE_SSL_PINNEDPUBKEYNOTMATCH};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(tls) / sizeof(tls[0]); i++) {
    store_error_clear(&e);
    e.curl_code = tls[i];
    store_error_classify(&e);
    assert_true(store_error_is_tls(&e));
    assert_int_equal(e.retryable, 0); /* never retried: it cannot get better */
  }
  store_error_clear(&e);
  e.curl_code = CURLE_COULDNT_CONNECT;
  store_error_classify(&e);
  assert_false(store_error_is_tls(&e));
  assert_int_equal(e.retryable, 1);
  /* A handshake that broke off is a network problem, retried. */
  e.curl_code = CURLE_SSL_CONNECT_ERROR;
  store_error_classify(&e);
  assert_false(store_error_is_tls(&e));
  assert_int_equal(e.retryable, 1);
  store_error_clear(&e);
  e.http_status = 403;
  e.curl_code = CURLE_PEER_FAILED_VERIFICATION;
  assert_false(store_error_is_tls(&e));
  assert_false(store_error_is_tls(NULL));
}

static void test_tls_error_names_store(void **state) {
  store_conf_t sc;
  store_t *s;
  store_error_t e;
  char eb[FERRY_ERRLEN];
  (void)state;
  memset(&sc, 0, sizeof(sc));
  sc.name = "cos-gz";
  sc.type = STORE_COS;
  sc.endpoint = "https://cos.ap-guangzhou.myqcloud.com";
  sc.region = "ap-guangzhou";
  sc.access_key = "AKID";
  sc.secret_key.v = SECRET;
  s = store_new(&sc, eb);
  if (!s) fail_msg("%s", eb);

  store_error_clear(&e);
  store_error_from_response(&e, 0, NULL, NULL, 0, CURLE_PEER_FAILED_VERIFICATION,
                            "SSL certificate problem: unable to get local issuer certificate");
  store_error_name_store(&e, s);
  assert_string_equal(e.message,
                      "store cos-gz: SSL certificate problem: unable to get local issuer "
                      "certificate (TLS certificate not accepted; a private CA goes in "
                      "ca_file)");
  store_error_name_store(&e, s); /* idempotent */
  assert_non_null(strstr(e.message, "store cos-gz: SSL"));
  assert_null(strstr(e.message + 1, "store cos-gz"));
  assert_int_equal(e.retryable, 0);

  /* Other transport errors: named, no TLS hint; curl's text when none. */
  store_error_clear(&e);
  store_error_from_response(&e, 0, NULL, NULL, 0, CURLE_COULDNT_CONNECT, NULL);
  store_error_name_store(&e, s);
  assert_int_equal(strncmp(e.message, "store cos-gz: ", 14), 0);
  assert_null(strstr(e.message, "ca_file"));

  /* Answers from the service are left as they are. */
  store_error_clear(&e);
  e.http_status = 403;
  snprintf(e.code, sizeof(e.code), "AccessDenied");
  snprintf(e.message, sizeof(e.message), "Access Denied.");
  store_error_name_store(&e, s);
  assert_string_equal(e.message, "Access Denied.");
  assert_null(strstr(e.message, SECRET));
  store_destroy(s);
}

/* ---- Kafka security properties ----------------------------------------- */

static void base_conf(bus_conf_t *c) {
  bus_conf_init(c);
  /* Nothing listens there; creating a client does not wait for it. */
  c->brokers = fx_strdup("127.0.0.1:1");
  c->group_id = fx_strdup("g");
}

/* Runs a producer and a consumer creation with stderr captured, so
 * librdkafka's configuration dump (debug=conf, routed into ferry's log) can
 * be read back: it shows which properties librdkafka holds. Returns the
 * captured text (fx_free) and whether both clients were created. */
static char *create_captured(const bus_conf_t *c, int *created, char *eb) {
  FILE *tmp = tmpfile();
  int saved = dup(2);
  bus_producer_t *p;
  bus_consumer_t *k;
  bus_topic_t t = BUS_RESULTS;
  fbuf_t out;
  char chunk[4096];
  size_t n;
  assert_non_null(tmp);
  assert_true(saved >= 0);
  fflush(stderr);
  assert_true(dup2(fileno(tmp), 2) >= 0);
  flog_set_level(FLOG_DEBUG);
  p = bus_producer_new(c, NULL, NULL, eb);
  k = p ? bus_consumer_new(c, &t, 1, NULL, NULL, eb) : NULL;
  *created = p && k;
  bus_consumer_destroy(k);
  bus_producer_destroy(p);
  flog_set_level(FLOG_ERROR);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  fbuf_init(&out, 0);
  rewind(tmp);
  while ((n = fread(chunk, 1, sizeof(chunk), tmp)) > 0) fbuf_add(&out, chunk, n);
  fclose(tmp);
  return fbuf_steal(&out);
}

/* SASL_SSL with SCRAM: every property is set in librdkafka (its own dump
 * lists them, secrets redacted), and no secret is printed. */
static void test_kafka_sasl_ssl_properties_set(void **state) {
  bus_conf_t c;
  char eb[FERRY_ERRLEN] = "";
  char *log;
  int created;
  const char *ca = access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0
                       ? "/etc/ssl/certs/ca-certificates.crt"
                       : NULL;
  (void)state;
  base_conf(&c);
  kvlist_add(&c.properties, "security.protocol", "SASL_SSL");
  kvlist_add(&c.properties, "sasl.mechanism", "SCRAM-SHA-512");
  kvlist_add(&c.properties, "sasl.username", "ferry-user");
  kvlist_add(&c.properties, "sasl.password", SECRET);
  kvlist_add(&c.properties, "ssl.key.password", SECRET "-key");
  if (ca) kvlist_add(&c.properties, "ssl.ca.location", ca);
  kvlist_add(&c.properties, "ssl.endpoint.identification.algorithm", "https");
  kvlist_add(&c.properties, "debug", "conf");
  kvlist_add(&c.consumer, "session.timeout.ms", "6000");
  log = create_captured(&c, &created, eb);
  if (!created) fail_msg("%s\n%s", eb, log);
  assert_non_null(strstr(log, "security.protocol = sasl_ssl"));
  assert_non_null(strstr(log, "sasl.mechanisms = SCRAM-SHA-512"));
  assert_non_null(strstr(log, "sasl.password = [redacted]"));
  assert_non_null(strstr(log, "ssl.key.password = [redacted]"));
  assert_non_null(strstr(log, "ssl.endpoint.identification.algorithm = https"));
  if (ca) assert_non_null(strstr(log, "ssl.ca.location = /etc/ssl/certs/ca-certificates.crt"));
  assert_null(strstr(log, "SECRETsecret"));
  fx_free(log);
  bus_conf_release(&c);
}

/* Bad SASL/SSL settings fail client creation with an error that says which
 * setting, never with the secret. */
static void test_kafka_security_errors_named(void **state) {
  bus_conf_t c;
  char eb[FERRY_ERRLEN];
  bus_topic_t t = BUS_SEGMENTS;
  (void)state;

  /* The CA file is read when the client is made. */
  base_conf(&c);
  kvlist_add(&c.properties, "security.protocol", "SSL");
  kvlist_add(&c.properties, "ssl.ca.location", "/nonexistent/ferry-kafka-ca.pem");
  kvlist_add(&c.properties, "ssl.key.password", SECRET);
  assert_null(bus_producer_new(&c, NULL, NULL, eb));
  assert_non_null(strstr(eb, "ssl.ca.location"));
  assert_null(strstr(eb, "SECRETsecret"));
  assert_null(bus_consumer_new(&c, &t, 1, NULL, NULL, eb));
  assert_non_null(strstr(eb, "ssl.ca.location"));
  bus_conf_release(&c);

  /* PLAIN needs a user and a password. */
  base_conf(&c);
  kvlist_add(&c.producer, "security.protocol", "SASL_PLAINTEXT");
  kvlist_add(&c.producer, "sasl.mechanism", "PLAIN");
  assert_null(bus_producer_new(&c, NULL, NULL, eb));
  assert_non_null(strstr(eb, "sasl.username and sasl.password must be set"));
  bus_conf_release(&c);

  /* An unknown mechanism. */
  base_conf(&c);
  kvlist_add(&c.consumer, "security.protocol", "SASL_SSL");
  kvlist_add(&c.consumer, "sasl.mechanism", "NOSUCHMECH");
  assert_null(bus_consumer_new(&c, &t, 1, NULL, NULL, eb));
  assert_non_null(strstr(eb, "NOSUCHMECH"));
  bus_conf_release(&c);

  /* A bad value of a secret-ish property: named, value not shown. */
  base_conf(&c);
  kvlist_add(&c.properties, "sasl.kerberos.min.time.before.relogin", SECRET);
  assert_null(bus_producer_new(&c, NULL, NULL, eb));
  assert_non_null(strstr(eb, "\"sasl.kerberos.min.time.before.relogin\": invalid value"));
  assert_null(strstr(eb, "SECRETsecret"));
  bus_conf_release(&c);
}

/* The config loader checks the same properties by name when it loads. */
static void test_kafka_security_config(void **state) {
  ferry_conf_t *c;
  bus_conf_t bc;
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_null(load_str("kafka = { brokers = \"h:1\"; properties = [ "
                       "\"security.protocol=SASL_BOGUS\", \"sasl.password=" SECRET "\", "
                       "\"ssl.key.password=\", \"sasl.passwd=" SECRET "\", "
                       "\"sasl.password" SECRET "\" ]; };"));
  assert_has(&errs, "kafka.properties[0]: Invalid value \"SASL_BOGUS\" for configuration "
                    "property \"security.protocol\"");
  assert_has(&errs, "kafka.properties[3]: \"sasl.passwd\" is not a librdkafka property");
  assert_has(&errs, "kafka.properties[4]: expected \"name=value\"");
  assert_no_secret();

  setenv("FERRY_TEST_SEC_PW", SECRET "-env", 1);
  c = load_str("kafka = { brokers = \"h:1\"; properties = [ \"security.protocol=SASL_SSL\", "
               "\"sasl.mechanism=SCRAM-SHA-256\", \"sasl.username=u\", "
               "\"sasl.password=${FERRY_TEST_SEC_PW}\", \"ssl.ca.location=/etc/ssl/certs\" ]; "
               "};");
  if (!c) fail_msg("%s", fbuf_str(&errs));
  assert_no_secret();
  assert_int_equal(bus_conf_from_kafka(&bc, &c->kafka, eb), FERRY_OK);
  assert_string_equal(kvlist_get(&bc.properties, "security.protocol"), "SASL_SSL");
  assert_string_equal(kvlist_get(&bc.properties, "sasl.mechanism"), "SCRAM-SHA-256");
  assert_string_equal(kvlist_get(&bc.properties, "sasl.password"), SECRET "-env");
  assert_string_equal(kvlist_get(&bc.properties, "ssl.ca.location"), "/etc/ssl/certs");
  bus_conf_release(&bc);
  conf_destroy(c);
  unsetenv("FERRY_TEST_SEC_PW");
}

/* ---- config errors next to secrets ------------------------------------- */

/* Regression: a credential key present with the wrong type crashed the
 * loader (a NULL value checked for whitespace). */
static void test_config_credential_wrong_type(void **state) {
  (void)state;
  assert_null(load_str("stores = ( { name = \"a\"; type = \"s3\"; endpoint = \"h:1\"; "
                       "access_key = 7; secret_key = [\"" SECRET "\"]; session_token = 5; } );"));
  assert_has(&errs, "t.conf:1: stores[0].access_key: expected a string, found an integer");
  assert_has(&errs, "t.conf:1: stores[0].secret_key: expected a string, found an array");
  assert_has(&errs, "t.conf:1: stores[0].session_token: expected a string, found an integer");
  assert_no_secret();
  assert_null(load_str("stores = ( { name = \"a\"; type = \"s3\"; endpoint = \"h:1\"; "
                       "access_key = \"AK\"; secret_key = \"\"; } );"));
  assert_has(&errs, "stores[0].secret_key: is empty");
}

static void test_config_errors_never_echo_secrets(void **state) {
  static const char *bad[] = {
      /* a misspelt key next to an inline secret */
      "stores = ( { name = \"a\"; type = \"s3\"; endpoint = \"h:1\"; access_key = \"AK\"; "
      "secret_key = \"" SECRET "\"; secret_kye = \"" SECRET "\"; } );",
      /* whitespace inside secrets */
      "stores = ( { name = \"a\"; type = \"s3\"; endpoint = \"h:1\"; access_key = \"AK\"; "
      "secret_key = \"" SECRET " \"; session_token = \"\t" SECRET "\"; } );",
      /* both forms */
      "stores = ( { name = \"a\"; type = \"s3\"; endpoint = \"h:1\"; access_key = \"AK\"; "
      "secret_key = \"" SECRET "\"; secret_key_env = \"HOME\"; } );",
      /* syntax errors on the secret's line */
      "stores = ( { name = \"a\"; secret_key \"" SECRET "\"; } );",
      "stores = ( { name = \"a\"; secret_key = \"" SECRET "; } );",
      "stores = ( { name = \"a\"; secret_key = " SECRET "; } );",
      /* a secret where a group belongs */
      "kafka = \"sasl.password=" SECRET "\";",
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ferry_conf_t *c = load_str(bad[i]);
    if (c) fail_msg("case %zu loaded", i);
    if (strstr(fbuf_str(&errs), "SECRETsecret") || strstr(fbuf_str(&warns), "SECRETsecret"))
      fail_msg("case %zu leaked:\n%s%s", i, fbuf_str(&errs), fbuf_str(&warns));
    assert_true(errs.len > 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tls_verification_on_by_default, setup, teardown),
      cmocka_unit_test(test_tls_error_classified),
      cmocka_unit_test(test_tls_error_names_store),
      cmocka_unit_test(test_kafka_sasl_ssl_properties_set),
      cmocka_unit_test(test_kafka_security_errors_named),
      cmocka_unit_test_setup_teardown(test_kafka_security_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_credential_wrong_type, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_errors_never_echo_secrets, setup, teardown),
  };
  flog_set_level(FLOG_ERROR);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
