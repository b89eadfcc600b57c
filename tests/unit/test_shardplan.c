/* Unit tests for lib/plan/shardplan: the shard plan of a sharded listing
 * (degenerate namespaces included), the partition it gives, and the task
 * record's "shards" member through the codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus/msg.h"
#include "plan/shardplan.h"

/* ---- a fake bucket: sorted keys, delimited listings with paging ---- */

typedef struct fake {
  char **keys;
  size_t n;
  size_t page;           /* entries per page */
  int no_root_delim;     /* answer nothing for a delimited root listing (s3rver) */
  int fail_at;           /* fail the fail_at-th call (1-based), 0 = never */
  int ignore_token;      /* answer page one whatever the token (and still give one) */
  int calls;
} fake_t;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fake_init(fake_t *f, char **keys, size_t n, size_t page) {
  memset(f, 0, sizeof(*f));
  f->keys = keys;
  f->n = n;
  f->page = page;
  qsort(keys, n, sizeof(*keys), cmp_str);
}

static void push_obj(store_list_page_t *p, const char *k) {
  p->objects = realloc(p->objects, (p->n_objects + 1) * sizeof(*p->objects));
  memset(&p->objects[p->n_objects], 0, sizeof(*p->objects));
  p->objects[p->n_objects].key = fx_strdup(k);
  p->objects[p->n_objects].mtime = -1;
  p->n_objects++;
}

static void push_prefix(store_list_page_t *p, const char *s, size_t n) {
  char *c = fx_malloc(n + 1);
  memcpy(c, s, n);
  c[n] = '\0';
  p->prefixes = realloc(p->prefixes, (p->n_prefixes + 1) * sizeof(char *));
  p->prefixes[p->n_prefixes++] = c;
}

/* The token is the index of the next key to look at. The page's arrays are
 * given to store_list_page_release, which frees with fx_free (= free). */
static ferry_err_t fake_list(void *ctx, const char *prefix, const char *token,
                             store_list_page_t *page, char *errbuf) {
  fake_t *f = ctx;
  size_t i = token && !f->ignore_token ? (size_t)strtoul(token, NULL, 10) : 0;
  size_t plen = strlen(prefix), count = 0;
  char last_cp[512] = "";
  f->calls++;
  if (f->fail_at && f->calls == f->fail_at)
    return ferry_seterr(errbuf, FERRY_ERR_STORE, "listing failed: HTTP 500 InternalError");
  if (f->no_root_delim && !*prefix) return FERRY_OK;
  for (; i < f->n; i++) {
    const char *k = f->keys[i], *d;
    if (strncmp(k, prefix, plen) != 0) continue;
    d = strchr(k + plen, '/');
    if (d) {
      size_t n = (size_t)(d - k) + 1;
      if (strlen(last_cp) == n && strncmp(last_cp, k, n) == 0) continue;
      if (count == f->page) break;
      push_prefix(page, k, n);
      memcpy(last_cp, k, n);
      last_cp[n] = '\0';
    } else {
      if (count == f->page) break;
      push_obj(page, k);
    }
    count++;
  }
  /* Skip to the next entry so that "truncated" means more entries. */
  while (i < f->n && (strncmp(f->keys[i], prefix, plen) != 0 ||
                      (*last_cp && strncmp(f->keys[i], last_cp, strlen(last_cp)) == 0)))
    i++;
  if (i < f->n) {
    char t[32];
    snprintf(t, sizeof(t), "%zu", i);
    page->truncated = 1;
    page->next_token = fx_strdup(t);
  }
  return FERRY_OK;
}

static char **mkkeys(size_t n, const char *fmt_a, size_t split, const char *fmt_b) {
  char **k = calloc(n, sizeof(*k));
  size_t i;
  for (i = 0; i < n; i++) k[i] = fx_asprintf(i < split ? fmt_a : fmt_b, i);
  return k;
}

static void freekeys(char **k, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) fx_free(k[i]);
  free(k);
}

/* Every key under prefix is in exactly one shard, and listing the shards one
 * after another gives the whole listing in order. Returns the largest shard. */
static size_t check_partition(const shardplan_t *p, char **keys, size_t n) {
  size_t i, s, biggest = 0, next = 0;
  for (s = 0; s < p->n; s++) {
    size_t in = 0;
    if (s) assert_string_equal(p->shards[s].lo, p->shards[s - 1].hi);
    if (p->shards[s].lo && p->shards[s].hi)
      assert_true(strcmp(p->shards[s].lo, p->shards[s].hi) < 0);
    for (i = 0; i < n; i++) {
      if (shardplan_where(keys[i], p->shards[s].lo, p->shards[s].hi) == 0) {
        assert_int_equal(i, next); /* contiguous, in order */
        next++;
        in++;
      }
    }
    if (in > biggest) biggest = in;
  }
  assert_null(p->shards[0].lo);
  assert_null(p->shards[p->n - 1].hi);
  assert_int_equal(next, n);
  return biggest;
}

/* ---- tests ---- */

static void test_where(void **st) {
  (void)st;
  assert_int_equal(shardplan_where("a", NULL, NULL), 0);
  assert_int_equal(shardplan_where("a", "a", NULL), -1);
  assert_int_equal(shardplan_where("b", "a", "b"), 0);
  assert_int_equal(shardplan_where("b/", "a", "b"), 1);
  assert_int_equal(shardplan_where("a/", "a/", "b/"), -1); /* a marker goes before */
  assert_int_equal(shardplan_where("a/x", "a/", "b/"), 0);
  /* Byte order: UTF-8 above ASCII. */
  assert_int_equal(shardplan_where("\xc3\xa9", "z", NULL), 0);
}

static void test_split(void **st) {
  const char *e[] = {"a/", "b/", "c", "d/", "e/", "f", "g/", "h/"};
  shardplan_t p;
  (void)st;
  shardplan_split(e, 8, 4, &p);
  assert_int_equal(p.n, 4);
  assert_null(p.shards[0].lo);
  assert_string_equal(p.shards[0].hi, "c");
  assert_string_equal(p.shards[1].lo, "c");
  assert_string_equal(p.shards[1].hi, "e/");
  assert_string_equal(p.shards[3].lo, "g/");
  assert_null(p.shards[3].hi);
  shardplan_release(&p);
  /* Fewer entries than shards: one shard per entry. */
  shardplan_split(e, 3, 16, &p);
  assert_int_equal(p.n, 3);
  shardplan_release(&p);
  /* 0 or 1 entry: one shard, unbounded. */
  shardplan_split(e, 1, 8, &p);
  assert_int_equal(p.n, 1);
  assert_null(p.shards[0].lo);
  assert_null(p.shards[0].hi);
  shardplan_release(&p);
  shardplan_split(NULL, 0, 8, &p);
  assert_int_equal(p.n, 1);
  shardplan_release(&p);
  /* shards < 1 is 1; too many is capped. */
  shardplan_split(e, 8, 0, &p);
  assert_int_equal(p.n, 1);
  shardplan_release(&p);
  shardplan_release(NULL);
}

static void test_split_cap(void **st) {
  char **k = mkkeys(1000, "k%04zu", 1000, "");
  shardplan_t p;
  size_t i;
  (void)st;
  shardplan_split((const char *const *)k, 1000, 100000, &p);
  assert_int_equal(p.n, SHARDPLAN_MAX_SHARDS);
  for (i = 2; i < p.n; i++) assert_true(strcmp(p.shards[i - 1].lo, p.shards[i].lo) < 0);
  shardplan_release(&p);
  freekeys(k, 1000);
}

/* Prefixes under the task prefix: balanced by prefix count. */
static void test_discover_prefixes(void **st) {
  char **k = calloc(400, sizeof(*k));
  fake_t f;
  shardplan_t p;
  size_t i;
  char err[FERRY_ERRLEN];
  (void)st;
  for (i = 0; i < 400; i++) k[i] = fx_asprintf("data/p%02zu/obj%04zu", i % 20, i);
  fake_init(&f, k, 400, 7);
  assert_int_equal(shardplan_discover(fake_list, &f, "data/", 4, 0, &p, err), FERRY_OK);
  assert_int_equal(p.n, 4);
  assert_int_equal(p.entries, 20);
  assert_int_equal(p.cut, 0);
  assert_true(p.pages >= 3);
  assert_string_equal(p.shards[1].lo, "data/p05/");
  assert_true(check_partition(&p, k, 400) <= 100);
  shardplan_release(&p);
  freekeys(k, 400);
}

/* No prefixes: a flat namespace is split by keys. */
static void test_discover_flat(void **st) {
  char **k = mkkeys(100, "flat/key%03zu", 100, "");
  fake_t f;
  shardplan_t p;
  char err[FERRY_ERRLEN];
  (void)st;
  fake_init(&f, k, 100, 10);
  assert_int_equal(shardplan_discover(fake_list, &f, "flat/", 4, 0, &p, err), FERRY_OK);
  assert_int_equal(p.n, 4);
  assert_int_equal(p.entries, 100);
  assert_string_equal(p.shards[0].hi, "flat/key025");
  assert_true(check_partition(&p, k, 100) <= 26);
  shardplan_release(&p);
  /* Cut at max_entries: the last shard takes the tail. */
  fake_init(&f, k, 100, 10);
  assert_int_equal(shardplan_discover(fake_list, &f, "flat/", 4, 20, &p, err), FERRY_OK);
  assert_int_equal(p.cut, 1);
  assert_int_equal(p.entries, 20);
  assert_int_equal(p.n, 4);
  assert_int_equal(check_partition(&p, k, 100), 84); /* keys 016..099 */
  shardplan_release(&p);
  freekeys(k, 100);
}

/* One prefix holding everything: discovery goes one level down. */
static void test_discover_one_prefix(void **st) {
  char **k = mkkeys(60, "only/sub/x%03zu", 60, "");
  fake_t f;
  shardplan_t p;
  char err[FERRY_ERRLEN];
  (void)st;
  fake_init(&f, k, 60, 1000);
  assert_int_equal(shardplan_discover(fake_list, &f, "", 3, 0, &p, err), FERRY_OK);
  /* "" -> only/ -> only/sub/ -> 60 keys (depth 3). */
  assert_int_equal(p.entries, 60);
  assert_int_equal(p.n, 3);
  assert_true(check_partition(&p, k, 60) <= 21);
  shardplan_release(&p);
  freekeys(k, 60);
}

/* Keys directly under the prefix next to prefixes, a marker key, odd bytes. */
static void test_discover_mixed(void **st) {
  const char *src[] = {"m/a", "m/b/1", "m/b/2", "m/b/", "m/b-c", "m/c", "m/d/x/y", "m/e",
                       "m/\xc3\xa9t\xc3\xa9/1", "m/z/1", "m/z/2", "other/1", "l/1"};
  size_t n = sizeof(src) / sizeof(*src), i;
  char **k = calloc(n, sizeof(*k));
  char **under;
  size_t nu = 0;
  fake_t f;
  shardplan_t p;
  char err[FERRY_ERRLEN];
  (void)st;
  for (i = 0; i < n; i++) k[i] = fx_strdup(src[i]);
  fake_init(&f, k, n, 2);
  assert_int_equal(shardplan_discover(fake_list, &f, "m/", 3, 0, &p, err), FERRY_OK);
  assert_true(p.n >= 2 && p.n <= 3);
  under = calloc(n, sizeof(*under));
  for (i = 0; i < n; i++)
    if (strncmp(k[i], "m/", 2) == 0) under[nu++] = k[i];
  check_partition(&p, under, nu);
  shardplan_release(&p);
  free(under);
  freekeys(k, n);
}

/* s3rver answers a delimited root listing with nothing; an empty prefix. */
static void test_discover_degenerate(void **st) {
  char **k = mkkeys(50, "r/x%03zu", 50, "");
  fake_t f;
  shardplan_t p;
  char err[FERRY_ERRLEN];
  (void)st;
  fake_init(&f, k, 50, 10);
  f.no_root_delim = 1;
  assert_int_equal(shardplan_discover(fake_list, &f, "", 4, 0, &p, err), FERRY_OK);
  assert_int_equal(p.n, 1);
  assert_int_equal(p.entries, 0);
  check_partition(&p, k, 50);
  shardplan_release(&p);
  /* Nothing under the prefix. */
  fake_init(&f, k, 50, 10);
  assert_int_equal(shardplan_discover(fake_list, &f, "none/", 4, 0, &p, err), FERRY_OK);
  assert_int_equal(p.n, 1);
  shardplan_release(&p);
  /* One key only. */
  fake_init(&f, k, 1, 10);
  assert_int_equal(shardplan_discover(fake_list, &f, "r/", 4, 0, &p, err), FERRY_OK);
  assert_int_equal(p.n, 1);
  shardplan_release(&p);
  /* shards = 1 lists nothing. */
  fake_init(&f, k, 50, 10);
  assert_int_equal(shardplan_discover(fake_list, &f, "r/", 1, 0, &p, err), FERRY_OK);
  assert_int_equal(f.calls, 0);
  assert_int_equal(p.n, 1);
  shardplan_release(&p);
  freekeys(k, 50);
}

static void test_discover_error(void **st) {
  char **k = mkkeys(30, "e/p%02zu/x", 30, "");
  fake_t f;
  shardplan_t p;
  char err[FERRY_ERRLEN];
  (void)st;
  fake_init(&f, k, 30, 5);
  f.fail_at = 3;
  assert_int_equal(shardplan_discover(fake_list, &f, "e/", 4, 0, &p, err), FERRY_ERR_STORE);
  assert_non_null(strstr(err, "InternalError"));
  /* An error during the expansion too. */
  fake_init(&f, k, 30, 100);
  f.fail_at = 2;
  assert_int_equal(shardplan_discover(fake_list, &f, "e/", 16, 0, &p, err), FERRY_ERR_STORE);
  freekeys(k, 30);
}

/* A store that ignores the continuation token (and gives one) answered the
 * same page for ever: the plan stops at the first page that adds nothing. */
static void test_discover_token_ignored(void **st) {
  char **k = mkkeys(60, "t/p%02zu/x", 60, "");
  fake_t f;
  shardplan_t p;
  char err[FERRY_ERRLEN];
  (void)st;
  fake_init(&f, k, 60, 5);
  f.ignore_token = 1;
  assert_int_equal(shardplan_discover(fake_list, &f, "t/", 4, 0, &p, err), FERRY_OK);
  assert_true(f.calls < 20);
  assert_int_equal(p.cut, 1);
  check_partition(&p, k, 60);
  shardplan_release(&p);
  freekeys(k, 60);
}

/* The partition holds for a random namespace whatever the plan. */
static void test_partition_random(void **st) {
  size_t n = 2000, i, round;
  char **k = calloc(n, sizeof(*k));
  (void)st;
  srand(7);
  for (i = 0; i < n; i++)
    k[i] = fx_asprintf("%c/%c%c/%d", 'a' + rand() % 5, 'a' + rand() % 3,
                       rand() % 2 ? '/' : '_', rand() % 100000);
  qsort(k, n, sizeof(*k), cmp_str);
  /* Drop duplicates. */
  {
    size_t w = 1;
    for (i = 1; i < n; i++) {
      if (strcmp(k[i], k[w - 1]) == 0) fx_free(k[i]);
      else k[w++] = k[i];
    }
    n = w;
  }
  for (round = 1; round <= 9; round += 4) {
    fake_t f;
    shardplan_t p;
    char err[FERRY_ERRLEN];
    fake_init(&f, k, n, 3 * round);
    assert_int_equal(shardplan_discover(fake_list, &f, "", round * 3, 50, &p, err), FERRY_OK);
    check_partition(&p, k, n);
    shardplan_release(&p);
  }
  freekeys(k, n);
}

/* The task record carries the shards. */
static void test_task_record_shards(void **st) {
  msg_task_t t, d;
  msg_shard_t sh[3];
  char *js, err[FERRY_ERRLEN];
  (void)st;
  memset(&t, 0, sizeof(t));
  memset(sh, 0, sizeof(sh));
  t.task = "t";
  t.run = 2;
  t.src = (msg_loc_t){"s", "b", "p/"};
  t.dst = (msg_loc_t){"d", "c", ""};
  t.state = "listing";
  t.segments = 7;
  t.updated_ms = 1;
  sh[0].hi = "p/m/";
  sh[0].checkpoint = "p/a/1";
  sh[0].segments = 3;
  sh[0].objects = 30;
  sh[0].bytes = 300;
  sh[1].lo = "p/m/";
  sh[1].hi = "p/t/";
  sh[1].done = 1;
  sh[2].lo = "p/t/";
  t.shards = sh;
  t.n_shards = 3;
  js = msg_task_encode(&t);
  assert_non_null(js);
  assert_int_equal(msg_task_decode(js, strlen(js), &d, err), FERRY_OK);
  assert_int_equal(d.n_shards, 3);
  assert_null(d.shards[0].lo);
  assert_string_equal(d.shards[0].hi, "p/m/");
  assert_string_equal(d.shards[0].checkpoint, "p/a/1");
  assert_int_equal(d.shards[0].segments, 3);
  assert_int_equal(d.shards[0].objects, 30);
  assert_int_equal(d.shards[0].bytes, 300);
  assert_int_equal(d.shards[1].done, 1);
  assert_int_equal(d.shards[2].done, 0);
  assert_null(d.shards[2].hi);
  assert_null(d.checkpoint);
  msg_task_release(&d);
  fx_free(js);
  /* Without shards the member is absent. */
  t.shards = NULL;
  t.n_shards = 0;
  js = msg_task_encode(&t);
  assert_null(strstr(js, "shards"));
  assert_int_equal(msg_task_decode(js, strlen(js), &d, err), FERRY_OK);
  assert_int_equal(d.n_shards, 0);
  msg_task_release(&d);
  fx_free(js);
  /* Bad shards are refused, naming the field. */
  {
    const char *bad[] = {
        "\"shards\":[]",
        "\"shards\":[{\"segments\":0,\"objects\":0,\"bytes\":0}]",
        "\"shards\":[{\"segments\":0,\"objects\":0,\"bytes\":0,\"done\":1}]",
        "\"shards\":[{\"lo\":\"b\",\"hi\":\"a\",\"segments\":0,\"objects\":0,\"bytes\":0,\"done\":false}]",
        "\"shards\":[{\"lo\":\"\",\"segments\":0,\"objects\":0,\"bytes\":0,\"done\":false}]",
        "\"shards\":{}",
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
      char *doc = fx_asprintf("{\"v\":1,\"task\":\"t\",\"run\":1,\"src\":{\"store\":\"s\","
                              "\"bucket\":\"b\"},\"dst\":{\"store\":\"d\",\"bucket\":\"c\"},"
                              "\"policy\":\"skip\",\"state\":\"listing\",\"listed_objects\":0,"
                              "\"listed_bytes\":0,\"segments\":0,\"updated_ms\":1,%s}", bad[i]);
      assert_int_not_equal(msg_task_decode(doc, strlen(doc), &d, err), FERRY_OK);
      assert_non_null(strstr(err, "task.shards"));
      fx_free(doc);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_where),
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_split_cap),
      cmocka_unit_test(test_discover_prefixes),
      cmocka_unit_test(test_discover_flat),
      cmocka_unit_test(test_discover_one_prefix),
      cmocka_unit_test(test_discover_mixed),
      cmocka_unit_test(test_discover_degenerate),
      cmocka_unit_test(test_discover_error),
      cmocka_unit_test(test_discover_token_ignored),
      cmocka_unit_test(test_partition_random),
      cmocka_unit_test(test_task_record_shards),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
