/* Unit tests for lib/bus/failidx: the reporter's on-disk key index — values
 * by (task id, key), scans in strcmp order from a cursor, keys longer than
 * LMDB's limit, rewriting scans over more than one write batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/failidx.h"

static failidx_t *open_idx(void) {
  char eb[FERRY_ERRLEN];
  failidx_t *x = failidx_open(NULL, eb);
  assert_non_null(x);
  return x;
}

static void put_s(failidx_t *x, uint32_t tid, const char *k, const char *v) {
  assert_int_equal(failidx_put(x, tid, k, v, v ? strlen(v) : 0), 0);
}

static void expect_get(failidx_t *x, uint32_t tid, const char *k, const char *v) {
  fbuf_t b;
  fbuf_init(&b, 0);
  if (v) {
    assert_int_equal(failidx_get(x, tid, k, &b), 1);
    assert_int_equal(b.len, strlen(v));
    assert_memory_equal(b.p, v, b.len);
  } else {
    assert_int_equal(failidx_get(x, tid, k, &b), 0);
  }
  fbuf_release(&b);
}

/* Collects the keys a scan gives, "k=v;" each. */
typedef struct coll {
  fbuf_t out;
  size_t n, stop_at;
} coll_t;

static int coll_cb(void *arg, const char *key, const void *v, size_t n, fbuf_t *repl,
                   int *replace) {
  coll_t *c = arg;
  (void)repl;
  (void)replace;
  fbuf_adds(&c->out, key);
  fbuf_addc(&c->out, '=');
  fbuf_add(&c->out, v, n);
  fbuf_addc(&c->out, ';');
  return ++c->n == c->stop_at;
}

static char *scan_s(failidx_t *x, uint32_t tid, const char *after, size_t stop_at, int *ret) {
  coll_t c;
  memset(&c, 0, sizeof(c));
  fbuf_init(&c.out, 0);
  c.stop_at = stop_at;
  *ret = failidx_scan(x, tid, after, coll_cb, &c);
  return fbuf_steal(&c.out);
}

static void test_get_put_order(void **state) {
  failidx_t *x = open_idx();
  char *s;
  int r;
  (void)state;
  expect_get(x, 1, "a", NULL);
  put_s(x, 1, "b", "2");
  put_s(x, 1, "a", "1");
  put_s(x, 1, "c/d", "3");
  put_s(x, 2, "a", "other task");
  put_s(x, 0, "z", "task 0");
  expect_get(x, 1, "a", "1");
  expect_get(x, 2, "a", "other task");
  put_s(x, 1, "b", "22");                 /* replaced */
  expect_get(x, 1, "b", "22");
  s = scan_s(x, 1, NULL, 0, &r);
  assert_int_equal(r, 0);
  assert_string_equal(s, "a=1;b=22;c/d=3;");   /* only task 1, in key order */
  free(s);
  s = scan_s(x, 1, "a", 0, &r);                /* after a cursor */
  assert_string_equal(s, "b=22;c/d=3;");
  free(s);
  s = scan_s(x, 1, "bb", 0, &r);               /* a cursor that is no key */
  assert_string_equal(s, "c/d=3;");
  free(s);
  s = scan_s(x, 1, NULL, 2, &r);               /* stopped by the callback */
  assert_int_equal(r, 1);
  assert_string_equal(s, "a=1;b=22;");
  free(s);
  put_s(x, 1, "a", NULL);                      /* deleted */
  expect_get(x, 1, "a", NULL);
  put_s(x, 1, "nosuch", NULL);                 /* deleting an absent key is fine */
  s = scan_s(x, 1, NULL, 0, &r);
  assert_string_equal(s, "b=22;c/d=3;");
  free(s);
  s = scan_s(x, 3, NULL, 0, &r);               /* a task without keys */
  assert_string_equal(s, "");
  free(s);
  assert_true(failidx_bytes(x) > 0);
  failidx_close(x);
}

/* S3 keys reach 1024 bytes, past LMDB's 511-byte key limit: keys sharing
 * their first bytes share a bucket, and still come in strcmp order. */
static void test_long_keys(void **state) {
  failidx_t *x = open_idx();
  char base[1001], k[4][1100], *s, want[8000];
  int r, i;
  fbuf_t b;
  (void)state;
  memset(base, 'p', 1000);
  base[1000] = '\0';
  snprintf(k[0], sizeof(k[0]), "%.600s", base);            /* shorter, same start */
  snprintf(k[1], sizeof(k[1]), "%.1000sb", base);
  snprintf(k[2], sizeof(k[2]), "%.1000sa", base);
  snprintf(k[3], sizeof(k[3]), "%.1000s", base);
  for (i = 0; i < 4; i++) {
    char v[2] = {(char)('0' + i), 0};
    put_s(x, 7, k[i], v);
  }
  put_s(x, 7, "q", "x");
  for (i = 0; i < 4; i++) {
    char v[2] = {(char)('0' + i), 0};
    expect_get(x, 7, k[i], v);
  }
  /* order: k0 (prefix of the rest) < k3 < k2 (..a) < k1 (..b) < "q" */
  snprintf(want, sizeof(want), "%s=0;%s=3;%s=2;%s=1;q=x;", k[0], k[3], k[2], k[1]);
  s = scan_s(x, 7, NULL, 0, &r);
  assert_string_equal(s, want);
  free(s);
  /* a cursor inside the shared bucket */
  snprintf(want, sizeof(want), "%s=1;q=x;", k[1]);
  s = scan_s(x, 7, k[2], 0, &r);
  assert_string_equal(s, want);
  free(s);
  put_s(x, 7, k[2], NULL);
  fbuf_init(&b, 0);
  assert_int_equal(failidx_get(x, 7, k[2], &b), 0);
  assert_int_equal(failidx_get(x, 7, k[1], &b), 1);
  fbuf_release(&b);
  failidx_close(x);
}

/* A scan that rewrites: every other key deleted, the others replaced, over
 * more keys than one write batch holds (the scan commits on its way). */
static int rewrite_cb(void *arg, const char *key, const void *v, size_t n, fbuf_t *repl,
                      int *replace) {
  size_t *seen = arg;
  int i = atoi(key + 1);
  (void)v;
  (void)n;
  (*seen)++;
  *replace = 1;
  if (i % 2) fbuf_adds(repl, "odd");   /* even ones: empty = deleted */
  return 0;
}

static void test_rewrite_scan(void **state) {
  failidx_t *x = open_idx();
  char k[32];
  size_t seen = 0, i;
  int r;
  coll_t c;
  (void)state;
  for (i = 0; i < 9000; i++) {
    snprintf(k, sizeof(k), "k%05zu", i);
    put_s(x, 1, k, "v");
  }
  put_s(x, 2, "k00001", "kept");
  assert_int_equal(failidx_scan(x, 1, NULL, rewrite_cb, &seen), 0);
  assert_int_equal(seen, 9000);
  memset(&c, 0, sizeof(c));
  fbuf_init(&c.out, 0);
  r = failidx_scan(x, 1, NULL, coll_cb, &c);
  assert_int_equal(r, 0);
  assert_int_equal(c.n, 4500);
  assert_memory_equal(c.out.p, "k00001=odd;k00003=odd;", 22);
  fbuf_release(&c.out);
  expect_get(x, 1, "k08999", "odd");
  expect_get(x, 1, "k08998", NULL);
  expect_get(x, 2, "k00001", "kept");
  failidx_close(x);
}

static void test_dir(void **state) {
  char eb[FERRY_ERRLEN], *dir;
  struct stat st;
  failidx_t *x;
  (void)state;
  x = open_idx();
  dir = strdup(failidx_dir(x));
  assert_int_equal(stat(dir, &st), 0);
  failidx_close(x);
  assert_int_not_equal(stat(dir, &st), 0);     /* removed at close */
  free(dir);
  eb[0] = '\0';
  assert_null(failidx_open("/nonexistent/ferry-state", eb));
  assert_non_null(strstr(eb, "reporter.state_dir"));
  assert_non_null(strstr(eb, "/nonexistent/ferry-state"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_put_order),
      cmocka_unit_test(test_long_keys),
      cmocka_unit_test(test_rewrite_scan),
      cmocka_unit_test(test_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
