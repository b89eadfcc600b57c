/* Unit tests for lib/web/auth.c: the console's tokens, the decision on a
 * request (roles, same origin, CSRF), headers, form fields and sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "web/auth.h"

#define SECRET_A "aaaaaaaaaaaaaaaa-1"
#define SECRET_B "bbbbbbbb:bbbbbbbbb"

static void test_tokens_parse(void **state) {
  auth_tokens_t ts = {0};
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(auth_tokens_parse(&ts,
                                     "# the console's tokens\n"
                                     " alice:operator:" SECRET_A " ,\n\n"
                                     "bob@ops:viewer:" SECRET_B "\n",
                                     "test", eb),
                   FERRY_OK);
  assert_int_equal(ts.n, 2);
  assert_string_equal(ts.v[0].name, "alice");
  assert_int_equal(ts.v[0].role, AUTH_OPERATOR);
  assert_string_equal(ts.v[1].name, "bob@ops");
  assert_int_equal(ts.v[1].role, AUTH_VIEWER);
  /* A secret may hold ':'; the lookup is by the whole secret. */
  assert_ptr_equal(auth_tokens_find(&ts, SECRET_B), &ts.v[1]);
  assert_ptr_equal(auth_tokens_find(&ts, SECRET_A), &ts.v[0]);
  assert_null(auth_tokens_find(&ts, "aaaaaaaaaaaaaaaa-"));
  assert_null(auth_tokens_find(&ts, SECRET_A "x"));
  assert_null(auth_tokens_find(&ts, ""));
  assert_null(auth_tokens_find(&ts, NULL));
  auth_tokens_release(&ts);
  assert_int_equal(ts.n, 0);
}

/* Each bad entry: refused, the message names the entry (and the token's
 * name where known) and never holds the secret. */
static void test_tokens_bad(void **state) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"alice:operator", "entry 1: expected NAME:ROLE:SECRET"},
      {"alice", "expected NAME:ROLE:SECRET"},
      {":operator:" SECRET_A, "the name must be"},
      {"al ice:operator:" SECRET_A, "the name must be"},
      {"alice:admin:" SECRET_A, "token \"alice\"): the role must be viewer or operator"},
      {"alice:operator:short-secret", "at least 16"},
      {"alice:operator:aaaaaaaa aaaaaaaaaa", "without spaces"},
      {"alice:operator:" SECRET_A ",alice:viewer:" SECRET_B, "entry 2: token \"alice\" is given twice"},
      {"alice:operator:" SECRET_A ",bob:viewer:" SECRET_A, "entry 2 (token \"bob\"): the same secret"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    auth_tokens_t ts = {0};
    char eb[FERRY_ERRLEN];
    assert_int_equal(auth_tokens_parse(&ts, cases[i].text, "reporter.tokens_env (T)", eb),
                     FERRY_ERR_INVALID);
    if (!strstr(eb, cases[i].want)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, eb, cases[i].want);
    assert_non_null(strstr(eb, "reporter.tokens_env (T)"));
    assert_null(strstr(eb, "aaaaaaaa"));
    assert_null(strstr(eb, "bbbbbbbb"));
    assert_null(strstr(eb, "short-secret"));
    auth_tokens_release(&ts);
  }
}

static void test_headers(void **state) {
  char v[64];
  (void)state;
  assert_string_equal(auth_bearer("Bearer abc"), "abc");
  assert_string_equal(auth_bearer("bearer  abc"), "abc");
  assert_null(auth_bearer("Basic abc"));
  assert_null(auth_bearer(NULL));
  assert_int_equal(auth_cookie_get("a=1; ferry_session=xyz; b=2", "ferry_session", v, sizeof(v)), 1);
  assert_string_equal(v, "xyz");
  assert_int_equal(auth_cookie_get("xferry_session=1", "ferry_session", v, sizeof(v)), 0);
  assert_int_equal(auth_cookie_get(NULL, "ferry_session", v, sizeof(v)), 0);
  assert_int_equal(auth_cookie_get("s=0123456789", "s", v, 5), 0);   /* too long: absent */
  assert_int_equal(auth_form_get("a=1&token=x%2By+z&c=3", "token", v, sizeof(v)), 1);
  assert_string_equal(v, "x+y z");
  assert_int_equal(auth_form_get("token=%zz", "token", v, sizeof(v)), 0);
  assert_int_equal(auth_form_get("token=%00", "token", v, sizeof(v)), 0);
  assert_int_equal(auth_form_get("token=abc%4", "token", v, sizeof(v)), 0);
  assert_int_equal(auth_form_get("tokens=abc", "token", v, sizeof(v)), 0);
}

static void test_same_origin(void **state) {
  (void)state;
  assert_true(auth_same_origin("http://127.0.0.1:8080", 0, "http", "127.0.0.1:8080"));
  assert_true(auth_same_origin("https://Ferry.example", 0, "https", "ferry.example:443"));
  assert_true(auth_same_origin("https://ferry.example:443", 0, "https", "ferry.example"));
  assert_true(auth_same_origin("http://h:8080/task/x?y", 1, "http", "h:8080"));
  assert_false(auth_same_origin("http://h:8080/task/x", 0, "http", "h:8080"));   /* Origin: no path */
  assert_false(auth_same_origin("http://evil.example", 0, "http", "127.0.0.1:8080"));
  assert_false(auth_same_origin("http://127.0.0.1:8081", 0, "http", "127.0.0.1:8080"));
  assert_false(auth_same_origin("http://127.0.0.1:8080.evil", 0, "http", "127.0.0.1:8080"));
  assert_false(auth_same_origin("http://ferry.example", 0, "https", "ferry.example"));
  assert_false(auth_same_origin("null", 0, "http", "h"));
  assert_false(auth_same_origin("http://h@evil/", 1, "http", "h"));
  assert_false(auth_same_origin("http://h", 0, "http", NULL));
}

static void test_loopback(void **state) {
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  (void)state;
  memset(&a4, 0, sizeof(a4));
  a4.sin_family = AF_INET;
  inet_pton(AF_INET, "127.3.2.1", &a4.sin_addr);
  assert_true(auth_is_loopback((struct sockaddr *)&a4));
  inet_pton(AF_INET, "10.0.0.1", &a4.sin_addr);
  assert_false(auth_is_loopback((struct sockaddr *)&a4));
  memset(&a6, 0, sizeof(a6));
  a6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::1", &a6.sin6_addr);
  assert_true(auth_is_loopback((struct sockaddr *)&a6));
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
  assert_true(auth_is_loopback((struct sockaddr *)&a6));
  inet_pton(AF_INET6, "::", &a6.sin6_addr);
  assert_false(auth_is_loopback((struct sockaddr *)&a6));
  assert_false(auth_is_loopback(NULL));
}

/* The decision table of auth.h. */
static void test_decide(void **state) {
  auth_tokens_t ts = {0};
  char eb[FERRY_ERRLEN];
  auth_req_t r;
  auth_result_t o;
  const auth_token_t *op, *vw;
  (void)state;
  assert_int_equal(auth_tokens_parse(&ts, "alice:operator:" SECRET_A ",bob:viewer:" SECRET_B,
                                     "t", eb), FERRY_OK);
  op = &ts.v[0];
  vw = &ts.v[1];
  memset(&r, 0, sizeof(r));
  r.scheme = "http";
  r.host = "10.1.1.1:8080";

  /* Viewing: open without tokens or on loopback; else a token. */
  auth_decide(&r, &o);
  assert_int_equal(o.status, 0);
  r.have_tokens = 1;
  auth_decide(&r, &o);
  assert_int_equal(o.status, 401);
  r.loopback = 1;
  auth_decide(&r, &o);
  assert_int_equal(o.status, 0);
  assert_int_equal(o.role, AUTH_NONE);
  r.loopback = 0;
  r.bearer = SECRET_B;
  r.bearer_tok = vw;
  auth_decide(&r, &o);
  assert_int_equal(o.status, 0);
  assert_string_equal(o.name, "bob");
  /* A wrong token is refused even where none is needed. */
  r.bearer = "wrong-wrong-wrong-wrong";
  r.bearer_tok = NULL;
  r.loopback = 1;
  auth_decide(&r, &o);
  assert_int_equal(o.status, 401);
  assert_string_equal(o.msg, "unknown token");

  /* Actions. */
  memset(&r, 0, sizeof(r));
  r.scheme = "http";
  r.host = "127.0.0.1:8080";
  r.action = 1;
  r.loopback = 1;
  auth_decide(&r, &o);   /* no tokens configured: nobody may act */
  assert_int_equal(o.status, 401);
  assert_non_null(strstr(o.msg, "reporter.tokens_env"));
  r.have_tokens = 1;
  auth_decide(&r, &o);   /* loopback alone is not enough */
  assert_int_equal(o.status, 401);
  r.bearer = SECRET_B;
  r.bearer_tok = vw;
  auth_decide(&r, &o);
  assert_int_equal(o.status, 403);
  r.bearer = SECRET_A;
  r.bearer_tok = op;
  auth_decide(&r, &o);
  assert_int_equal(o.status, 0);
  assert_int_equal(o.role, AUTH_OPERATOR);
  assert_string_equal(o.name, "alice");
  r.origin = "http://evil.example";
  auth_decide(&r, &o);
  assert_int_equal(o.status, 403);
  assert_non_null(strstr(o.msg, "Origin"));
  r.origin = "http://127.0.0.1:8080";
  auth_decide(&r, &o);
  assert_int_equal(o.status, 0);
  r.origin = NULL;
  r.referer = "http://evil.example/page";
  auth_decide(&r, &o);
  assert_int_equal(o.status, 403);
  r.referer = "http://127.0.0.1:8080/task/x";
  auth_decide(&r, &o);
  assert_int_equal(o.status, 0);

  /* A session: the CSRF token too. */
  r.bearer = NULL;
  r.bearer_tok = NULL;
  r.referer = NULL;
  r.session_name = "alice";
  r.session_role = AUTH_OPERATOR;
  r.origin = "null";
  auth_decide(&r, &o);
  assert_int_equal(o.status, 403);
  assert_non_null(strstr(o.msg, "CSRF"));
  r.csrf_ok = 1;
  auth_decide(&r, &o);
  assert_int_equal(o.status, 0);
  r.origin = "http://evil.example";   /* even with the CSRF token */
  auth_decide(&r, &o);
  assert_int_equal(o.status, 403);
  r.origin = NULL;
  r.session_role = AUTH_VIEWER;
  auth_decide(&r, &o);
  assert_int_equal(o.status, 403);
  auth_tokens_release(&ts);
}

static void test_sessions(void **state) {
  auth_sessions_t *s = auth_sessions_new(2, 1000);
  auth_token_t a = {"alice", AUTH_OPERATOR, NULL}, b = {"bob", AUTH_VIEWER, NULL};
  char id1[AUTH_ID_LEN + 1], c1[AUTH_ID_LEN + 1], id2[AUTH_ID_LEN + 1], c2[AUTH_ID_LEN + 1];
  char id3[AUTH_ID_LEN + 1], c3[AUTH_ID_LEN + 1], name[AUTH_NAME_MAX], csrf[AUTH_ID_LEN + 1];
  auth_role_t role;
  (void)state;
  assert_int_equal(auth_session_new(s, &a, 0, id1, c1), FERRY_OK);
  assert_int_equal(strlen(id1), AUTH_ID_LEN);
  assert_string_not_equal(id1, c1);
  assert_int_equal(auth_session_new(s, &b, 10, id2, c2), FERRY_OK);
  assert_int_equal(auth_session_get(s, id1, 500, name, &role, csrf), 1);
  assert_string_equal(name, "alice");
  assert_int_equal(role, AUTH_OPERATOR);
  assert_string_equal(csrf, c1);
  assert_int_equal(auth_session_get(s, id1, 1000, name, &role, csrf), 0);   /* expired */
  assert_int_equal(auth_session_get(s, "nope", 0, NULL, NULL, NULL), 0);
  /* Full: the oldest goes. */
  assert_int_equal(auth_session_new(s, &a, 20, id3, c3), FERRY_OK);
  assert_int_equal(auth_session_get(s, id1, 30, NULL, NULL, NULL), 0);
  assert_int_equal(auth_session_get(s, id2, 30, NULL, &role, NULL), 1);
  assert_int_equal(role, AUTH_VIEWER);
  auth_session_end(s, id2);
  assert_int_equal(auth_session_get(s, id2, 30, NULL, NULL, NULL), 0);
  assert_int_equal(auth_session_get(s, id3, 30, NULL, NULL, NULL), 1);
  auth_sessions_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tokens_parse), cmocka_unit_test(test_tokens_bad),
      cmocka_unit_test(test_headers),      cmocka_unit_test(test_same_origin),
      cmocka_unit_test(test_loopback),     cmocka_unit_test(test_decide),
      cmocka_unit_test(test_sessions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
