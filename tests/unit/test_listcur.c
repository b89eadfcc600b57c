/* Unit tests for lib/store/listcur: where a listing goes next, and a store
 * that does not advance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "store/listcur.h"

/* A page of the given keys (NULL-terminated), truncated or not, with an
 * optional token and marker. Keys are borrowed: the page is never released. */
static store_list_page_t page(int truncated, const char *token, const char *marker, ...) {
  static store_object_t objs[8];
  store_list_page_t p;
  va_list ap;
  const char *k;
  memset(&p, 0, sizeof(p));
  memset(objs, 0, sizeof(objs));
  va_start(ap, marker);
  while ((k = va_arg(ap, const char *)) != NULL && p.n_objects < 8) objs[p.n_objects++].key = (char *)k;
  va_end(ap);
  p.objects = objs;
  p.truncated = truncated;
  p.next_token = (char *)token;
  p.next_marker = (char *)marker;
  return p;
}

static void test_v2_token_then_start_after(void **state) {
  store_listcur_t c;
  store_list_page_t p;
  char eb[FERRY_ERRLEN];
  (void)state;
  store_listcur_init(&c, STORE_LIST_AUTO, "resume/key", "s:b");
  assert_int_equal(c.api, STORE_LIST_V2);
  assert_string_equal(store_listcur_after(&c), "resume/key");
  assert_null(store_listcur_token(&c));
  p = page(1, "tok1", NULL, "a", "b", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  assert_string_equal(store_listcur_token(&c), "tok1");
  assert_null(store_listcur_after(&c)); /* a token goes alone */
  p = page(1, NULL, NULL, "c", "d", NULL); /* no token: after the last key */
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  assert_null(store_listcur_token(&c));
  assert_string_equal(store_listcur_after(&c), "d");
  p = page(0, NULL, NULL, "e", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  assert_true(c.done);
  assert_int_equal(c.pages, 3);
  store_listcur_release(&c);
}

/* Keys out of byte order (s3rver: "a-1" before "a") are no "stuck" page. */
static void test_out_of_order_is_not_stuck(void **state) {
  store_listcur_t c;
  store_list_page_t p;
  char eb[FERRY_ERRLEN];
  (void)state;
  store_listcur_init(&c, STORE_LIST_V2, NULL, "s:b");
  p = page(1, NULL, NULL, "size/5MiB-1", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  p = page(0, NULL, NULL, "size/5MiB", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  assert_true(c.done);
  store_listcur_release(&c);
}

/* v2 only: page one again is an error naming the store, never a loop. */
static void test_v2_stuck_is_an_error(void **state) {
  store_listcur_t c;
  store_list_page_t p;
  char eb[FERRY_ERRLEN];
  (void)state;
  store_listcur_init(&c, STORE_LIST_V2, NULL, "olds3:bkt/pre");
  p = page(1, NULL, NULL, "a", "b", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  p = page(1, NULL, NULL, "a", "b", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), -1);
  assert_non_null(strstr(eb, "olds3:bkt/pre"));
  assert_non_null(strstr(eb, "did not advance"));
  assert_non_null(strstr(eb, "list_api = \"v1\""));
  /* the key asked to start after, answered again */
  store_listcur_release(&c);
  store_listcur_init(&c, STORE_LIST_V2, NULL, "s:b");
  p = page(1, NULL, NULL, "a", "b", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  p = page(1, NULL, NULL, "b", "c", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), -1);
  store_listcur_release(&c);
}

/* auto: V2 stuck -> V1 from where the walk stood (the page is discarded);
 * V1 goes on with NextMarker, else the last key. */
static void test_auto_falls_back_to_v1(void **state) {
  store_listcur_t c;
  store_list_page_t p;
  char eb[FERRY_ERRLEN];
  (void)state;
  store_listcur_init(&c, STORE_LIST_AUTO, NULL, "s:b");
  p = page(1, "t1", NULL, "a", "b", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  p = page(1, NULL, NULL, "a", "b", NULL); /* the token was ignored */
  assert_int_equal(store_listcur_take(&c, &p, eb), 0);
  assert_int_equal(c.api, STORE_LIST_V1);
  assert_null(store_listcur_token(&c));
  assert_string_equal(store_listcur_after(&c), "b");
  assert_int_equal(c.pages, 1);
  p = page(1, NULL, "d", "c", "d", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  assert_string_equal(store_listcur_after(&c), "d");
  p = page(1, NULL, NULL, "e", "f", NULL); /* no NextMarker (no delimiter): last key */
  assert_int_equal(store_listcur_take(&c, &p, eb), 1);
  assert_string_equal(store_listcur_after(&c), "f");
  /* V1 stuck too: an error (no further fallback) */
  p = page(1, NULL, NULL, "e", "f", NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), -1);
  assert_non_null(strstr(eb, "marker"));
  store_listcur_release(&c);
}

static void test_truncated_without_keys(void **state) {
  store_listcur_t c;
  store_list_page_t p;
  char eb[FERRY_ERRLEN];
  (void)state;
  store_listcur_init(&c, STORE_LIST_V1, NULL, "s:b");
  assert_int_equal(c.api, STORE_LIST_V1);
  p = page(1, "ignored-in-v1", NULL, NULL);
  assert_int_equal(store_listcur_take(&c, &p, eb), -1);
  assert_non_null(strstr(eb, "s:b"));
  store_listcur_release(&c);
  store_listcur_release(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v2_token_then_start_after),
      cmocka_unit_test(test_out_of_order_is_not_stuck),
      cmocka_unit_test(test_v2_stuck_is_an_error),
      cmocka_unit_test(test_auto_falls_back_to_v1),
      cmocka_unit_test(test_truncated_without_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
