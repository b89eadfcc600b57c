/* Unit tests for lib/store/store.c: configuration copy/release, dialect
 * defaults, type names, listed objects, and the store error's retry
 * classification and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "store/store.h"

static void test_conf_copy_release(void **state) {
  store_conf_t src, dst;
  (void)state;
  memset(&src, 0, sizeof(src));
  src.name = fx_strdup("oss-hz");
  src.type = STORE_OSS;
  src.endpoint = fx_strdup("https://oss-cn-hangzhou.aliyuncs.com");
  src.region = fx_strdup("cn-hangzhou");
  src.path_style = 0;
  src.connect_to = fx_strdup("127.0.0.1:9000");
  src.sign = SIGN_OSS_V1;
  src.access_key = fx_strdup("AK");
  src.secret_key.v = fx_strdup("SECRET");
  src.session_token.v = NULL;
  src.insecure = 1;
  src.ca_file = NULL;
  src.connect_timeout_ms = 1234;
  src.max_host_conns = 7;

  store_conf_copy(&dst, &src);
  assert_ptr_not_equal(dst.name, src.name);
  assert_string_equal(dst.name, "oss-hz");
  assert_string_equal(dst.endpoint, src.endpoint);
  assert_string_equal(dst.region, "cn-hangzhou");
  assert_string_equal(dst.connect_to, "127.0.0.1:9000");
  assert_string_equal(dst.access_key, "AK");
  assert_ptr_not_equal(dst.secret_key.v, src.secret_key.v);
  assert_string_equal(dst.secret_key.v, "SECRET");
  assert_null(dst.session_token.v);
  assert_null(dst.ca_file);
  assert_int_equal(dst.type, STORE_OSS);
  assert_int_equal(dst.sign, SIGN_OSS_V1);
  assert_int_equal(dst.insecure, 1);
  assert_int_equal(dst.connect_timeout_ms, 1234);
  assert_int_equal(dst.max_host_conns, 7);

  /* Releasing the source leaves the copy intact (deep copy). */
  store_conf_release(&src);
  assert_null(src.name);
  assert_null(src.secret_key.v);
  assert_string_equal(dst.secret_key.v, "SECRET");
  store_conf_release(&dst);
  store_conf_release(&dst); /* idempotent */
  store_conf_release(NULL);
}

static void test_conf_sign_default(void **state) {
  store_conf_t c;
  (void)state;
  memset(&c, 0, sizeof(c));
  c.type = STORE_S3;
  assert_int_equal(store_conf_sign(&c), SIGN_S3V4);
  c.type = STORE_OSS;
  assert_int_equal(store_conf_sign(&c), SIGN_OSS_V4);
  c.type = STORE_COS;
  assert_int_equal(store_conf_sign(&c), SIGN_COS);
  c.sign = SIGN_OSS_V1;
  assert_int_equal(store_conf_sign(&c), SIGN_OSS_V1);
  c.sign = SIGN_NONE;
  assert_int_equal(store_conf_sign(&c), SIGN_NONE);
}

static void test_type_names(void **state) {
  store_type_t t = STORE_S3;
  (void)state;
  assert_string_equal(store_type_str(STORE_S3), "s3");
  assert_string_equal(store_type_str(STORE_OSS), "oss");
  assert_string_equal(store_type_str(STORE_COS), "cos");
  assert_int_equal(store_type_parse("oss", &t), 0);
  assert_int_equal(t, STORE_OSS);
  assert_int_equal(store_type_parse("COS", &t), 0);
  assert_int_equal(t, STORE_COS);
  assert_int_equal(store_type_parse("s3", &t), 0);
  assert_int_equal(t, STORE_S3);
  t = STORE_COS;
  assert_int_equal(store_type_parse("gcs", &t), -1);
  assert_int_equal(t, STORE_COS); /* untouched on failure */
  assert_int_equal(store_type_parse("", &t), -1);
  assert_int_equal(store_type_parse(NULL, &t), -1);
}

static void test_object_release(void **state) {
  store_object_t o;
  (void)state;
  memset(&o, 0, sizeof(o));
  o.key = fx_strdup("a/b");
  o.etag = fx_strdup("d41d8cd98f00b204e9800998ecf8427e");
  o.storage_class = fx_strdup("Standard");
  o.size = 5;
  store_object_release(&o);
  assert_null(o.key);
  assert_null(o.etag);
  assert_null(o.storage_class);
  assert_int_equal(o.size, 0);
  store_object_release(&o);
  store_object_release(NULL);
}

/* One classification case: status, service code, CURLcode -> verdict. */
typedef struct cls_case {
  int status;
  const char *code;
  int curl;
  int retryable;
} cls_case_t;

static void test_error_classify(void **state) {
  static const cls_case_t cases[] = {
      /* retryable */
      {503, "SlowDown", 0, 1},
      {503, "", 0, 1},
      {503, "ServiceUnavailable", 0, 1},
      {503, "TotalQpsLimitExceeded", 0, 1},
      {500, "InternalError", 0, 1},
      {500, "", 0, 1},
      {502, "", 0, 1},
      {504, "", 0, 1},
      {408, "", 0, 1},
      {429, "", 0, 1},
      {400, "RequestTimeout", 0, 1},
      {403, "RequestTimeTooSkewed", 0, 1},
      {200, "InternalError", 0, 1}, /* COS Complete: error inside a 200 body */
      {0, "", CURLE_RECV_ERROR, 1},  /* connection reset */
      {0, "", CURLE_SEND_ERROR, 1},
      {0, "", CURLE_OPERATION_TIMEDOUT, 1},
      {0, "", CURLE_COULDNT_CONNECT, 1},
      {0, "", CURLE_GOT_NOTHING, 1},
      {0, "", CURLE_PARTIAL_FILE, 1},
      {200, "", CURLE_RECV_ERROR, 1}, /* body broke off after the status */
      /* not retryable */
      {403, "AccessDenied", 0, 0},
      {404, "NoSuchBucket", 0, 0},
      {404, "NoSuchKey", 0, 0},
      {404, "NoSuchUpload", 0, 0},
      {403, "SignatureDoesNotMatch", 0, 0},
      {403, "InvalidAccessKeyId", 0, 0},
      {400, "", 0, 0},
      {400, "InvalidArgument", 0, 0},
      {400, "EntityTooSmall", 0, 0},
      {412, "", 0, 0},
      {412, "PreconditionFailed", 0, 0},
      {416, "InvalidRange", 0, 0},
      {404, "", 0, 0},
      {403, "", 0, 0},
      {301, "PermanentRedirect", 0, 0},
      {501, "NotImplemented", 0, 0},
      {503, "AccessDenied", 0, 0}, /* a fatal code wins over the status */
      {0, "", CURLE_URL_MALFORMAT, 0},
      {0, "", CURLE_PEER_FAILED_VERIFICATION, 0},
      {0, "", CURLE_ABORTED_BY_CALLBACK, 0},
      {0, "", CURLE_WRITE_ERROR, 0},
      {0, "", 0, 0},
  };
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(cases); i++) {
    store_error_t e;
    store_error_clear(&e);
    e.http_status = cases[i].status;
    e.curl_code = cases[i].curl;
    snprintf(e.code, sizeof(e.code), "%s", cases[i].code);
    e.retryable = !cases[i].retryable; /* classify must overwrite */
    store_error_classify(&e);
    if (e.retryable != cases[i].retryable) {
      print_error("case %zu: status %d code '%s' curl %d: retryable %d, want %d\n", i,
                  cases[i].status, cases[i].code, cases[i].curl, e.retryable,
                  cases[i].retryable);
      fail();
    }
  }
  store_error_classify(NULL);
}

static void test_error_format(void **state) {
  store_error_t e;
  char out[512];
  (void)state;
  store_error_clear(&e);
  assert_int_equal(e.http_status, 0);
  assert_string_equal(e.code, "");
  e.http_status = 403;
  snprintf(e.code, sizeof(e.code), "AccessDenied");
  snprintf(e.message, sizeof(e.message), "Access Denied");
  snprintf(e.request_id, sizeof(e.request_id), "5F1A");
  store_error_format(&e, out, sizeof(out));
  assert_string_equal(out, "HTTP 403 AccessDenied: Access Denied (request-id=5F1A)");

  /* HEAD errors have no body: status only. */
  store_error_clear(&e);
  e.http_status = 404;
  store_error_format(&e, out, sizeof(out));
  assert_string_equal(out, "HTTP 404");

  store_error_clear(&e);
  e.curl_code = CURLE_OPERATION_TIMEDOUT;
  snprintf(e.message, sizeof(e.message), "Operation timed out after 10000 ms");
  store_error_format(&e, out, sizeof(out));
  assert_string_equal(out, "transport error (curl 28): Operation timed out after 10000 ms");

  store_error_clear(&e);
  e.curl_code = CURLE_COULDNT_CONNECT;
  store_error_format(&e, out, sizeof(out));
  assert_non_null(strstr(out, "curl 7"));

  /* Truncation is safe. */
  store_error_clear(&e);
  e.http_status = 500;
  memset(e.message, 'm', sizeof(e.message) - 1);
  store_error_format(&e, out, 16);
  assert_int_equal(strlen(out), 15);
  store_error_format(&e, out, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conf_copy_release), cmocka_unit_test(test_conf_sign_default),
      cmocka_unit_test(test_type_names),        cmocka_unit_test(test_object_release),
      cmocka_unit_test(test_error_classify),    cmocka_unit_test(test_error_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
