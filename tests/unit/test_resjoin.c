/*
 * Unit tests for lib/bus/resjoin.c: the reporter's joining of results split
 * over several messages: parts in any order, repeated
 * parts, two publications of one segment, parts that contradict each other,
 * keys listed twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bus/resjoin.h"

/* Part `part` of `parts` of segment "1-1" by worker w, with one outcome
 * per key in keys (comma-separated). */
static msg_result_t mk(const char *w, int64_t started, int part, int parts, const char *keys) {
  msg_result_t r;
  char *dup = fx_strdup(keys), *save = NULL, *k;
  memset(&r, 0, sizeof(r));
  r.task = fx_strdup("t");
  r.segment = fx_strdup("1-1");
  r.run = 1;
  r.worker = fx_strdup(w);
  r.n_objects = 10;
  r.n_failed = 6;
  r.started_ms = started;
  r.finished_ms = started + 5;
  r.part = part;
  r.parts = parts;
  for (k = strtok_r(dup, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
    msg_outcome_t *o;
    r.outcomes = fx_realloc(r.outcomes, (r.n_outcomes + 1) * sizeof(*r.outcomes));
    o = &r.outcomes[r.n_outcomes++];
    memset(o, 0, sizeof(*o));
    o->key = fx_strdup(k);
    o->status = ST_FAILED;
  }
  fx_free(dup);
  return r;
}

static void assert_keys(const msg_result_t *r, const char *want) {
  char got[256] = "";
  size_t i;
  for (i = 0; i < r->n_outcomes; i++) {
    if (i) strcat(got, ",");
    strcat(got, r->outcomes[i].key);
  }
  assert_string_equal(got, want);
}

/* add and expect rc; *whole released by the caller when rc is 1 */
static int add(resjoin_t *j, msg_result_t p, msg_result_t *whole) {
  char eb[FERRY_ERRLEN];
  int rc = resjoin_add(j, &p, whole, eb);
  msg_result_release(&p);
  return rc;
}

static void test_any_order(void **state) {
  resjoin_t *j = resjoin_new();
  msg_result_t w;
  (void)state;
  assert_int_equal(add(j, mk("w1", 100, 3, 3, "e,f"), &w), 0);
  assert_int_equal(add(j, mk("w1", 100, 1, 3, "a,b"), &w), 0);
  assert_int_equal(resjoin_pending(j), 1);
  assert_int_equal(add(j, mk("w1", 100, 2, 3, "c,d"), &w), 1);
  assert_keys(&w, "a,b,c,d,e,f");
  assert_int_equal(w.part, 0);
  assert_int_equal(w.parts, 0);
  assert_int_equal(w.n_failed, 6);
  assert_string_equal(w.segment, "1-1");
  assert_int_equal(resjoin_pending(j), 0);
  msg_result_release(&w);
  resjoin_destroy(j);
}

static void test_unsplit_passes(void **state) {
  resjoin_t *j = resjoin_new();
  msg_result_t w;
  (void)state;
  assert_int_equal(add(j, mk("w1", 100, 0, 0, "a"), &w), 1);
  assert_keys(&w, "a");
  msg_result_release(&w);
  assert_int_equal(resjoin_pending(j), 0);
  resjoin_destroy(j);
}

static void test_repeated_part_and_keys(void **state) {
  resjoin_t *j = resjoin_new();
  msg_result_t w;
  (void)state;
  assert_int_equal(add(j, mk("w1", 100, 1, 2, "a,b"), &w), 0);
  /* The same part again (even with other content): ignored. */
  assert_int_equal(add(j, mk("w1", 100, 1, 2, "zz"), &w), 0);
  /* A key listed in two parts is kept once, the first. */
  assert_int_equal(add(j, mk("w1", 100, 2, 2, "b,c,a"), &w), 1);
  assert_keys(&w, "a,b,c");
  msg_result_release(&w);
  resjoin_destroy(j);
}

static void test_two_publications(void **state) {
  resjoin_t *j = resjoin_new();
  msg_result_t w;
  (void)state;
  /* w1 stopped after part 1; the segment was redone by w2 (other split). */
  assert_int_equal(add(j, mk("w1", 100, 1, 2, "a,b,c"), &w), 0);
  assert_int_equal(add(j, mk("w2", 900, 1, 3, "a,b"), &w), 0);
  assert_int_equal(add(j, mk("w2", 900, 2, 3, "c,d"), &w), 0);
  assert_int_equal(resjoin_pending(j), 2);
  assert_int_equal(add(j, mk("w2", 900, 3, 3, "e,f"), &w), 1);
  assert_string_equal(w.worker, "w2");
  assert_keys(&w, "a,b,c,d,e,f");
  msg_result_release(&w);
  /* w1's half is dropped with it. */
  assert_int_equal(resjoin_pending(j), 0);
  resjoin_destroy(j);
}

static void test_contradiction(void **state) {
  resjoin_t *j = resjoin_new();
  msg_result_t w, p = mk("w1", 100, 2, 2, "c");
  char eb[FERRY_ERRLEN];
  (void)state;
  assert_int_equal(add(j, mk("w1", 100, 1, 2, "a"), &w), 0);
  p.n_failed = 5;
  assert_int_equal(resjoin_add(j, &p, &w, eb), -1);
  assert_non_null(strstr(eb, "counts differ"));
  msg_result_release(&p);
  assert_int_equal(resjoin_pending(j), 1);
  resjoin_destroy(j);   /* frees what it holds */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_any_order),
      cmocka_unit_test(test_unsplit_passes),
      cmocka_unit_test(test_repeated_part_and_keys),
      cmocka_unit_test(test_two_publications),
      cmocka_unit_test(test_contradiction),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
