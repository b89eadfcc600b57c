/* Unit tests for lib/plan/segmenter: boundaries, ids, determinism, resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bus/msg.h"
#include "plan/segmenter.h"

static msg_loc_t SRC = {"oss-hz", "src-bucket", "photos/"};
static msg_loc_t DST = {"cos-gz", "dst-bucket-1250000000", NULL};

static seg_t *mk(size_t max_objects, uint64_t max_bytes) {
  char err[FERRY_ERRLEN];
  seg_t *s = seg_new("t1", 1, &SRC, &DST, POLICY_SKIP_IF_SAME, max_objects, max_bytes,
                     NULL, err);
  assert_non_null(s);
  return s;
}

static store_object_t obj(const char *key, uint64_t size) {
  store_object_t o;
  memset(&o, 0, sizeof(o));
  o.key = (char *)key;
  o.size = size;
  o.mtime = -1;
  return o;
}

/* Adds an object that must not close a segment. */
static void add_quiet(seg_t *s, const char *key, uint64_t size) {
  store_object_t o = obj(key, size);
  msg_segment_t *out = (msg_segment_t *)1;
  assert_int_equal(seg_add(s, &o, &out, NULL), FERRY_OK);
  assert_null(out);
}

/* Adds an object that must close a segment; returns it. */
static msg_segment_t *add_cut(seg_t *s, const char *key, uint64_t size) {
  store_object_t o = obj(key, size);
  msg_segment_t *out = NULL;
  assert_int_equal(seg_add(s, &o, &out, NULL), FERRY_OK);
  assert_non_null(out);
  return out;
}

static void test_new_invalid(void **state) {
  char err[FERRY_ERRLEN];
  msg_loc_t nob = {"oss-hz", NULL, NULL};
  msg_loc_t nos = {"", "b", NULL};
  (void)state;
  assert_null(seg_new(NULL, 1, &SRC, &DST, POLICY_SKIP, 10, 0, NULL, err));
  assert_non_null(strstr(err, "task"));
  assert_null(seg_new("", 1, &SRC, &DST, POLICY_SKIP, 10, 0, NULL, err));
  assert_null(seg_new("t", 0, &SRC, &DST, POLICY_SKIP, 10, 0, NULL, err));
  assert_non_null(strstr(err, "run 0"));
  assert_null(seg_new("t", 1, NULL, &DST, POLICY_SKIP, 10, 0, NULL, err));
  assert_non_null(strstr(err, "src"));
  assert_null(seg_new("t", 1, &SRC, &nob, POLICY_SKIP, 10, 0, NULL, err));
  assert_non_null(strstr(err, "dst.bucket"));
  assert_null(seg_new("t", 1, &nos, &DST, POLICY_SKIP, 10, 0, NULL, NULL));
  seg_destroy(NULL);
  seg_segment_free(NULL);
}

static void test_object_count(void **state) {
  seg_t *s = mk(3, 0);
  msg_segment_t *g;
  store_object_t o;
  (void)state;
  o = obj("photos/a", 5);
  o.etag = "5eb63bbbe01eeed093cb22bb8f5acdc3";
  o.mtime = 1705307400;
  o.has_crc64 = 1;
  o.crc64 = 11051210869376104954ULL;
  o.storage_class = "IA";
  assert_int_equal(seg_add(s, &o, &g, NULL), FERRY_OK);
  assert_null(g);
  add_quiet(s, "photos/b", 0);
  add_quiet(s, "photos/c", 7);
  assert_int_equal(seg_pending_objects(s), 3);
  assert_int_equal(seg_pending_bytes(s), 12);
  g = add_cut(s, "photos/d", 1);
  assert_int_equal(seg_pending_objects(s), 1);
  assert_int_equal(seg_count(s), 1);
  /* Header fields. */
  assert_string_equal(g->task, "t1");
  assert_string_equal(g->id, "1-000001");
  assert_int_equal(g->run, 1);
  assert_string_equal(g->src.store, "oss-hz");
  assert_string_equal(g->src.bucket, "src-bucket");
  assert_string_equal(g->src.prefix, "photos/");
  assert_string_equal(g->dst.prefix, "");
  assert_int_equal(g->policy, POLICY_SKIP_IF_SAME);
  assert_false(g->range.present);
  /* Objects, in order, with what was listed. */
  assert_int_equal(g->n_objs, 3);
  assert_string_equal(g->objs[0].key, "photos/a");
  assert_int_equal(g->objs[0].size, 5);
  assert_string_equal(g->objs[0].etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  assert_int_equal(g->objs[0].mtime, 1705307400);
  assert_true(g->objs[0].has_crc64);
  assert_int_equal(g->objs[0].crc64, 11051210869376104954ULL);
  assert_null(g->objs[0].dst_key);
  assert_string_equal(g->objs[1].key, "photos/b");
  assert_null(g->objs[1].etag);
  assert_int_equal(g->objs[1].mtime, -1);
  assert_false(g->objs[1].has_crc64);
  assert_string_equal(g->objs[2].key, "photos/c");
  seg_segment_free(g);
  add_quiet(s, "photos/e", 1);
  add_quiet(s, "photos/f", 1);
  g = add_cut(s, "photos/g", 1);
  assert_string_equal(g->id, "1-000002");
  assert_string_equal(g->objs[0].key, "photos/d");
  assert_string_equal(g->objs[2].key, "photos/f");
  seg_segment_free(g);
  seg_flush(s, &g);
  assert_non_null(g);
  assert_string_equal(g->id, "1-000003");
  assert_int_equal(g->n_objs, 1);
  assert_string_equal(g->objs[0].key, "photos/g");
  seg_segment_free(g);
  /* Nothing left: flush gives nothing, and again. */
  seg_flush(s, &g);
  assert_null(g);
  seg_flush(s, &g);
  assert_null(g);
  assert_int_equal(seg_count(s), 3);
  seg_destroy(s);
}

static void test_one_object_per_segment(void **state) {
  seg_t *s = mk(1, 0);
  msg_segment_t *g;
  (void)state;
  add_quiet(s, "a", 1);
  g = add_cut(s, "b", 1);
  assert_int_equal(g->n_objs, 1);
  assert_string_equal(g->objs[0].key, "a");
  seg_segment_free(g);
  seg_flush(s, &g);
  assert_string_equal(g->objs[0].key, "b");
  seg_segment_free(g);
  seg_destroy(s);
}

static void test_bytes(void **state) {
  seg_t *s = mk(1000, 100);
  msg_segment_t *g;
  (void)state;
  /* Exactly at the limit fits; one byte more does not. */
  add_quiet(s, "a", 40);
  add_quiet(s, "b", 60);
  g = add_cut(s, "c", 1);
  assert_int_equal(g->n_objs, 2);
  seg_segment_free(g);
  add_quiet(s, "d", 97); /* with c: 98 */
  add_quiet(s, "e", 0);
  add_quiet(s, "f", 2);
  add_quiet(s, "g", 0); /* an empty object still fits a byte-full segment */
  g = add_cut(s, "h", 1);
  assert_int_equal(g->n_objs, 5);
  assert_string_equal(g->objs[0].key, "c");
  assert_string_equal(g->objs[4].key, "g");
  seg_segment_free(g);
  seg_flush(s, &g);
  assert_int_equal(g->n_objs, 1);
  assert_string_equal(g->objs[0].key, "h");
  seg_segment_free(g);
  seg_destroy(s);
}

static void test_large_object_alone(void **state) {
  seg_t *s = mk(1000, 100);
  msg_segment_t *g;
  (void)state;
  add_quiet(s, "small1", 10);
  g = add_cut(s, "huge", 500);
  assert_int_equal(g->n_objs, 1);
  assert_string_equal(g->objs[0].key, "small1");
  seg_segment_free(g);
  g = add_cut(s, "small2", 10);
  assert_int_equal(g->n_objs, 1);
  assert_string_equal(g->objs[0].key, "huge");
  seg_segment_free(g);
  /* Two huge ones in a row, then an empty object after one. */
  g = add_cut(s, "huge2", 101);
  assert_string_equal(g->objs[0].key, "small2");
  seg_segment_free(g);
  g = add_cut(s, "huge3", UINT64_MAX);
  assert_string_equal(g->objs[0].key, "huge2");
  seg_segment_free(g);
  assert_int_equal(seg_pending_bytes(s), UINT64_MAX);
  g = add_cut(s, "empty", 0);
  assert_int_equal(g->n_objs, 1);
  assert_int_equal(g->objs[0].size, UINT64_MAX);
  seg_segment_free(g);
  g = add_cut(s, "x", UINT64_MAX); /* no overflow in the sum */
  assert_string_equal(g->objs[0].key, "empty");
  seg_segment_free(g);
  seg_flush(s, &g);
  assert_string_equal(g->objs[0].key, "x");
  assert_int_equal(seg_count(s), 7);
  seg_segment_free(g);
  seg_destroy(s);
}

static void test_invalid_objects(void **state) {
  seg_t *s = mk(2, 0);
  msg_segment_t *g = (msg_segment_t *)1;
  store_object_t o = obj(NULL, 1);
  char err[FERRY_ERRLEN];
  (void)state;
  add_quiet(s, "a", 1);
  add_quiet(s, "b", 1);
  /* Refused objects neither count nor close the full segment. */
  assert_int_equal(seg_add(s, &o, &g, err), FERRY_ERR_INVALID);
  assert_null(g);
  assert_non_null(strstr(err, "key"));
  o.key = "";
  g = (msg_segment_t *)1;
  assert_int_equal(seg_add(s, &o, &g, err), FERRY_ERR_INVALID);
  assert_null(g);
  g = (msg_segment_t *)1;
  assert_int_equal(seg_add(s, NULL, &g, err), FERRY_ERR_INVALID);
  assert_null(g);
  assert_int_equal(seg_add_obj(s, NULL, &g, NULL), FERRY_ERR_INVALID);
  o.key = "c";
  assert_int_equal(seg_add(s, &o, NULL, err), FERRY_ERR_INVALID);
  assert_int_equal(seg_pending_objects(s), 2);
  assert_int_equal(seg_count(s), 0);
  /* Destroy with objects pending frees them (checked by ASan). */
  seg_destroy(s);
}

static void test_add_obj_and_ids(void **state) {
  char err[FERRY_ERRLEN];
  seg_t *s = seg_new("t2", 3, &SRC, &DST, POLICY_OVERWRITE, 0, 0, "p7/", err);
  msg_obj_t m = {"list/a.txt", 11, "abc-2", 1705307401, 1, 42, "archive/a.txt"};
  msg_segment_t *g;
  (void)state;
  assert_non_null(s);
  seg_resume(s, 999999);
  assert_int_equal(seg_add_obj(s, &m, &g, err), FERRY_OK);
  assert_null(g);
  seg_flush(s, &g);
  assert_string_equal(g->id, "p7/3-1000000");
  assert_int_equal(g->run, 3);
  assert_int_equal(g->policy, POLICY_OVERWRITE);
  assert_string_equal(g->objs[0].dst_key, "archive/a.txt");
  assert_string_equal(g->objs[0].etag, "abc-2");
  assert_int_equal(g->objs[0].crc64, 42);
  assert_int_equal(g->objs[0].mtime, 1705307401);
  assert_int_equal(seg_count(s), 1000000);
  seg_segment_free(g);
  seg_destroy(s);
  /* The default object limit. */
  s = mk(0, 0);
  {
    int i;
    char key[32];
    for (i = 0; i < SEG_DEFAULT_MAX_OBJECTS; i++) {
      snprintf(key, sizeof(key), "k%05d", i);
      add_quiet(s, key, 1);
    }
    g = add_cut(s, "last", 1);
    assert_int_equal(g->n_objs, SEG_DEFAULT_MAX_OBJECTS);
    seg_segment_free(g);
  }
  seg_destroy(s);
}

/* A pseudo-random listing: object i of a given seed is always the same. */
static store_object_t listing_obj(uint64_t i, char *key, size_t keylen) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL;
  store_object_t o;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  snprintf(key, keylen, "dir%02u/file-%08llu", (unsigned)(i / 1000),
           (unsigned long long)i);
  o = obj(key, 0);
  /* Mostly small (in odd directories small enough for the object limit to
   * cut first, in even ones the byte limit), now and then empty or larger
   * than max_bytes. */
  o.size = (x % 50 == 0)    ? 0
           : (x % 997 == 0) ? (5u << 20)
                            : x % ((i / 1000) % 2 ? 4000 : 40000);
  o.mtime = (time_t)(1700000000 + i);
  o.has_crc64 = (int)(x & 1);
  o.crc64 = x;
  return o;
}

/* Runs the listing from object `from` with a segmenter that already
 * published `published` segments; appends every encoded segment to out
 * (up to max_out), stopping after stop_after segments (0 = all). Returns the
 * number written. */
static size_t run_listing(uint64_t from, uint64_t n, uint64_t published, size_t stop_after,
                          char **out, size_t max_out, uint64_t *next_obj) {
  seg_t *s = mk(250, 4u << 20);
  size_t k = 0;
  uint64_t i;
  char key[64];
  msg_segment_t *g;
  seg_resume(s, published);
  for (i = from; i < n; i++) {
    store_object_t o = listing_obj(i, key, sizeof(key));
    assert_int_equal(seg_add(s, &o, &g, NULL), FERRY_OK);
    assert_true(seg_pending_objects(s) <= 250);
    if (g) {
      assert_true(k < max_out);
      out[k] = msg_segment_encode(g);
      assert_non_null(out[k]);
      k++;
      /* The checkpoint is the last key of the segment just published; what
       * follows starts with the object just added. */
      if (stop_after && k == stop_after) {
        size_t last = g->n_objs - 1;
        listing_obj(i - 1, key, sizeof(key));
        assert_string_equal(g->objs[last].key, key);
        seg_segment_free(g);
        *next_obj = i;
        seg_destroy(s);
        return k;
      }
      seg_segment_free(g);
    }
  }
  seg_flush(s, &g);
  if (g) {
    out[k++] = msg_segment_encode(g);
    seg_segment_free(g);
  }
  *next_obj = n;
  seg_destroy(s);
  return k;
}

static void test_determinism_and_resume(void **state) {
  enum { N = 20000, MAXS = 1000 };
  static char *a[MAXS], *b[MAXS], *c[MAXS];
  size_t na, nb, nc, i, total_objs = 0, by_count = 0, by_bytes = 0, alone = 0;
  uint64_t next = 0, dummy;
  (void)state;
  na = run_listing(0, N, 0, 0, a, MAXS, &dummy);
  nb = run_listing(0, N, 0, 0, b, MAXS, &dummy);
  assert_true(na > 80);
  assert_int_equal(na, nb);
  for (i = 0; i < na; i++) assert_string_equal(a[i], b[i]);
  /* Interrupted after 37 segments, resumed from the checkpoint: the
   * remaining segments are the same, ids included. */
  nc = run_listing(0, N, 0, 37, c, MAXS, &next);
  assert_int_equal(nc, 37);
  for (i = 0; i < nc; i++) fx_free(c[i]);
  nc = run_listing(next, N, 37, 0, c, MAXS, &dummy);
  assert_int_equal(nc, na - 37);
  for (i = 0; i < nc; i++) assert_string_equal(c[i], a[i + 37]);
  /* Every object is in exactly one segment, in order; each segment decodes
   * and respects the limits. */
  for (i = 0; i < na; i++) {
    msg_segment_t d;
    char err[FERRY_ERRLEN];
    uint64_t bytes = 0;
    size_t j;
    char id[32];
    assert_int_equal(msg_segment_decode(a[i], strlen(a[i]), &d, err), FERRY_OK);
    snprintf(id, sizeof(id), "1-%06zu", i + 1);
    assert_string_equal(d.id, id);
    assert_true(d.n_objs >= 1 && d.n_objs <= 250);
    for (j = 0; j < d.n_objs; j++) {
      char key[64];
      store_object_t o = listing_obj(total_objs + j, key, sizeof(key));
      assert_string_equal(d.objs[j].key, key);
      assert_int_equal(d.objs[j].size, o.size);
      assert_int_equal(d.objs[j].has_crc64, o.has_crc64);
      if (o.has_crc64) assert_int_equal(d.objs[j].crc64, o.crc64);
      bytes += d.objs[j].size;
    }
    assert_true(bytes <= (4u << 20) || d.n_objs == 1);
    if (d.n_objs == 250) by_count++;
    else if (d.n_objs == 1 && bytes > (4u << 20)) alone++;
    else if (i + 1 < na) by_bytes++;
    total_objs += d.n_objs;
    msg_segment_release(&d);
  }
  assert_int_equal(total_objs, N);
  /* The listing exercised every kind of cut. */
  assert_true(by_count > 10);
  assert_true(by_bytes > 10);
  assert_true(alone > 5);
  for (i = 0; i < na; i++) {
    fx_free(a[i]);
    fx_free(b[i]);
  }
  for (i = 0; i < nc; i++) fx_free(c[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_invalid),
      cmocka_unit_test(test_object_count),
      cmocka_unit_test(test_one_object_per_segment),
      cmocka_unit_test(test_bytes),
      cmocka_unit_test(test_large_object_alone),
      cmocka_unit_test(test_invalid_objects),
      cmocka_unit_test(test_add_obj_and_ids),
      cmocka_unit_test(test_determinism_and_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
