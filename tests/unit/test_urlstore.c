/* Unit tests for the plain-HTTP store of URL-list sources (STORE_HTTP in
 * lib/store): the request is the URL as written, unsigned, without bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "store/client.h"
#include "store/request.h"
#include "policy/policy.h"

static void test_conf(void **state) {
  store_conf_t c;
  store_type_t t;
  char err[FERRY_ERRLEN];
  store_t *s;
  (void)state;
  store_conf_urls(&c);
  assert_string_equal(c.name, STORE_URLS_NAME);
  assert_int_equal(c.type, STORE_HTTP);
  assert_int_equal(store_conf_sign(&c), SIGN_NONE);
  assert_null(c.endpoint);
  assert_string_equal(store_type_str(STORE_HTTP), "http");
  assert_int_equal(store_type_parse("HTTP", &t), 0);
  assert_int_equal(t, STORE_HTTP);
  assert_non_null(policy_limits(STORE_HTTP));
  /* No endpoint and no credentials are needed. */
  s = store_new(&c, err);
  assert_non_null(s);
  store_destroy(s);
  store_conf_release(&c);
}

static void test_request(void **state) {
  store_conf_t c;
  store_req_t r;
  char err[FERRY_ERRLEN];
  (void)state;
  store_conf_urls(&c);
  store_req_init(&r, &c, "get", "ignored-bucket", "http://127.0.0.1:8080/web/a%20b.jpg?x=1&y");
  assert_true(r.raw_url);
  assert_null(r.bucket);
  assert_string_equal(r.scheme, "http");
  assert_string_equal(r.host, "127.0.0.1:8080");
  assert_string_equal(kvlist_get(&r.headers, "Host"), "127.0.0.1:8080");
  kvlist_add(&r.headers, "Range", "bytes=0-9");
  assert_int_equal(store_req_sign(&r, &c, time(NULL), err), FERRY_OK);
  /* As written: no re-encoding, no signature. */
  assert_string_equal(r.url, "http://127.0.0.1:8080/web/a%20b.jpg?x=1&y");
  assert_null(kvlist_get(&r.headers, "Authorization"));
  assert_null(kvlist_get(&r.headers, "x-amz-date"));
  store_req_release(&r);
  /* Query parameters added later are appended. */
  store_req_init(&r, &c, "GET", NULL, "https://cdn.example.com/p");
  kvlist_add(&r.query, "a", "1 2");
  assert_int_equal(store_req_sign(&r, &c, time(NULL), err), FERRY_OK);
  assert_string_equal(r.url, "https://cdn.example.com/p?a=1%202");
  assert_string_equal(r.host, "cdn.example.com");
  store_req_release(&r);
  /* Long URLs are fine (keys are limited to 1023 bytes, URLs are not). */
  {
    char url[3000];
    memset(url, 'a', sizeof(url) - 1);
    url[sizeof(url) - 1] = '\0';
    memcpy(url, "http://h/", 9);
    store_req_init(&r, &c, "GET", NULL, url);
    assert_int_equal(store_req_sign(&r, &c, time(NULL), err), FERRY_OK);
    store_req_release(&r);
  }
  /* Not a URL, or user info in the authority: refused. */
  store_req_init(&r, &c, "GET", NULL, "ftp://h/x");
  assert_int_equal(store_req_sign(&r, &c, time(NULL), err), FERRY_ERR_INVALID);
  assert_non_null(strstr(err, "http"));
  store_req_release(&r);
  store_req_init(&r, &c, "GET", NULL, "http://u:p@h/x");
  assert_int_equal(store_req_sign(&r, &c, time(NULL), err), FERRY_ERR_INVALID);
  assert_null(strstr(err, "u:p"));
  store_req_release(&r);
  store_conf_release(&c);
}

/* The other store types are untouched by the new one. */
static void test_s3_unchanged(void **state) {
  store_conf_t c;
  store_req_t r;
  char err[FERRY_ERRLEN];
  (void)state;
  memset(&c, 0, sizeof(c));
  c.name = "s";
  c.type = STORE_S3;
  c.sign = SIGN_NONE;
  c.endpoint = "http://127.0.0.1:9000";
  c.path_style = 1;
  store_req_init(&r, &c, "GET", "b", "a b?.txt");
  assert_false(r.raw_url);
  assert_int_equal(store_req_sign(&r, &c, time(NULL), err), FERRY_OK);
  assert_string_equal(r.url, "http://127.0.0.1:9000/b/a%20b%3F.txt");
  store_req_release(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conf),
      cmocka_unit_test(test_request),
      cmocka_unit_test(test_s3_unchanged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
