/* Regression tests for bad input found by fuzzing and review (tests/fuzz).
 * Each test is named after what it guards; the inputs that exposed the bugs
 * live in tests/fuzz/regressions/<target>/, and test_replay_all runs every
 * one of them through its entry point in this (gcc) build too, so they are
 * checked without clang. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus/msg.h"
#include "conf/config.h"
#include "core/enc.h"
#include "core/urllist.h"
#include "store/client.h"
#include "store/xml.h"
#include "plan/listfile.h"

#define REGRESSIONS FIXTURES_DIR "/../fuzz/regressions"

typedef struct blob {
  char *p;
  size_t n;
} blob_t;

static blob_t load(const char *path) {
  blob_t b = {NULL, 0};
  FILE *f = fopen(path, "rb");
  long n;
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b.p = malloc((size_t)n + 1);
  assert_non_null(b.p);
  assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
  b.p[n] = '\0';
  b.n = (size_t)n;
  fclose(f);
  return b;
}

static int utf8_ok(const char *s) {
  return enc_utf8_valid(s, strlen(s));
}

/* An <Error> body whose Message and RequestId are longer than the fields of
 * store_error_t, with the cut falling inside a 3-byte character: the fields
 * were cut mid-character (snprintf), and the invalid UTF-8 made every
 * outcome carrying them unencodable. Now the cut falls between characters. */
static void test_xml_error_fields_cut_between_characters(void **state) {
  blob_t b = load(REGRESSIONS "/xml_error/error-message-cut-mid-character.xml");
  store_error_t e;
  char eb[FERRY_ERRLEN];
  const char *msg;
  (void)state;
  memset(&e, 0, sizeof(e));
  assert_int_equal(store_xml_parse_error(b.p, b.n, &e, eb), FERRY_OK);
  assert_string_equal(e.code, "InternalError");
  assert_true(utf8_ok(e.message));
  assert_true(utf8_ok(e.request_id));
  /* 'x' and 84 whole characters (253 bytes): the 85th does not fit in 255. */
  assert_int_equal(strlen(e.message), 1 + 84 * 3);
  msg = strstr(b.p, "<Message>") + 9;
  assert_memory_equal(e.message, msg, strlen(e.message));
  assert_int_equal(strlen(e.request_id), 2 + 41 * 3);
  free(b.p);
}

/* The same inside a 200 CompleteMultipartUpload answer (COS): the error
 * fields the worker reports are valid UTF-8. */
static void test_complete_200_error_fields_cut_between_characters(void **state) {
  blob_t b = load(REGRESSIONS "/xml_complete/complete-200-error-cut-mid-character.xml");
  store_error_t e;
  char *etag = NULL, eb[FERRY_ERRLEN];
  (void)state;
  memset(&e, 0, sizeof(e));
  assert_int_equal(store_xml_parse_complete(b.p, b.n, &etag, &e, eb), FERRY_ERR_STORE);
  assert_null(etag);
  assert_true(utf8_ok(e.code));
  assert_true(utf8_ok(e.message));
  assert_true(utf8_ok(eb));
  assert_int_equal(strlen(e.code), 2 + 30 * 2); /* "CC" and 30 x U+00E9 */
  free(b.p);
}

/* A result whose outcome carries diagnostics with invalid UTF-8 (a server's
 * header, a cut message) is still published: the worker used to stop on it
 * ("result not encodable"), and the segment came back forever. Keys stay
 * strict: an invalid key is still refused. */
static void test_outcome_with_invalid_utf8_diagnostics_encodes(void **state) {
  msg_outcome_t o;
  msg_result_t r;
  msg_result_t d;
  char *j, eb[FERRY_ERRLEN];
  (void)state;
  memset(&o, 0, sizeof(o));
  o.key = "photos/a.jpg";
  o.size = 10;
  o.status = ST_FAILED;
  o.reason = "http-500";
  o.attempts = 3;
  o.http_status = 500;
  o.code = "Internal\xff";
  o.request_id = "id-\xc3";
  o.message = "x\xe6\xb5\x8b\xe6\xb5"; /* a whole character, then a cut one */
  memset(&r, 0, sizeof(r));
  r.task = "t";
  r.segment = "1-1";
  r.run = 1;
  r.worker = "w";
  r.n_objects = 1;
  r.n_failed = 1;
  r.outcomes = &o;
  r.n_outcomes = 1;
  j = msg_result_encode(&r);
  assert_non_null(j);
  assert_int_equal(msg_result_decode(j, strlen(j), &d, eb), FERRY_OK);
  assert_string_equal(d.outcomes[0].code, "Internal\xef\xbf\xbd");
  assert_string_equal(d.outcomes[0].request_id, "id-\xef\xbf\xbd");
  assert_string_equal(d.outcomes[0].message, "x\xe6\xb5\x8b\xef\xbf\xbd\xef\xbf\xbd");
  msg_result_release(&d);
  fx_free(j);
  j = msg_outcome_encode(&o);
  assert_non_null(j);
  fx_free(j);
  o.key = "bad\xff";
  assert_null(msg_outcome_encode(&o));
  assert_null(msg_result_encode(&r));
}

/* enc_utf8_*: the validator the fixes above rely on. */
static void test_utf8_helpers(void **state) {
  static const struct {
    const char *s;
    int ok;
  } cases[] = {
      {"", 1},
      {"plain", 1},
      {"\xe6\xb5\x8b\xe8\xaf\x95", 1},
      {"\xf0\x9f\x98\x80", 1},
      {"\xf4\x8f\xbf\xbf", 1},
      {"\xc2\x80", 1},
      {"\x7f\x01", 1},
      {"\xff", 0},
      {"\xc0\xaf", 0},         /* overlong '/' */
      {"\xe0\x80\xaf", 0},     /* overlong */
      {"\xf0\x80\x80\xaf", 0}, /* overlong */
      {"\xed\xa0\x80", 0},     /* surrogate */
      {"\xf4\x90\x80\x80", 0}, /* above U+10FFFF */
      {"\xe6\xb5", 0},         /* cut */
      {"\x80", 0},             /* lone continuation */
  };
  size_t i;
  fbuf_t b;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(cases); i++)
    if (enc_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
      fail_msg("case %zu", i);
  fbuf_init(&b, 0);
  enc_utf8_repair(&b,
                  "a\xe6\xb5"
                  "b\xff\xe6\xb5\x8b",
                  8);
  assert_string_equal(fbuf_str(&b),
                      "a\xef\xbf\xbd\xef\xbf\xbd"
                      "b\xef\xbf\xbd\xe6\xb5\x8b");
  fbuf_release(&b);
}

/* ---- every kept input, through its entry point ------------------------ */

static void replay_xml(xml_kind_t kind, const char *p, size_t n) {
  char eb[FERRY_ERRLEN];
  store_error_t e;
  ferry_err_t rc = FERRY_OK;
  memset(&e, 0, sizeof(e));
  switch (kind) {
    case XML_LIST: {
      store_list_page_t pg;
      rc = store_xml_parse_list(p, n, &pg, eb);
      store_list_page_release(&pg);
      break;
    }
    case XML_ERROR:
      rc = store_xml_parse_error(p, n, &e, eb);
      assert_true(utf8_ok(e.code) && utf8_ok(e.message) && utf8_ok(e.request_id));
      break;
    case XML_INITIATE:
    case XML_COMPLETE: {
      char *s = NULL;
      rc = kind == XML_INITIATE ? store_xml_parse_initiate(p, n, &s, eb)
                                : store_xml_parse_complete(p, n, &s, &e, eb);
      assert_true(utf8_ok(e.code) && utf8_ok(e.message) && utf8_ok(e.request_id));
      fx_free(s);
      break;
    }
    case XML_LIST_PARTS: {
      store_parts_t pt;
      rc = store_xml_parse_list_parts(p, n, &pt, eb);
      store_parts_release(&pt);
      break;
    }
    case XML_LIST_UPLOADS: {
      store_uploads_t u;
      rc = store_xml_parse_list_uploads(p, n, &u, eb);
      store_uploads_release(&u);
      break;
    }
  }
  assert_true(rc == FERRY_OK || rc == FERRY_ERR_PARSE || rc == FERRY_ERR_STORE);
}

static void replay_msg(const char *p, size_t n) {
  char eb[FERRY_ERRLEN];
  if (n < 1) return;
  switch ((unsigned char)(p[0] - '0') % 5) {
    case 0: {
      msg_segment_t m;
      if (msg_segment_decode(p + 1, n - 1, &m, eb) == FERRY_OK) msg_segment_release(&m);
      break;
    }
    case 1: {
      msg_result_t m;
      if (msg_result_decode(p + 1, n - 1, &m, eb) == FERRY_OK) msg_result_release(&m);
      break;
    }
    case 2: {
      msg_failed_t m;
      if (msg_failed_decode(p + 1, n - 1, &m, eb) == FERRY_OK) msg_failed_release(&m);
      break;
    }
    case 3: {
      msg_task_t m;
      if (msg_task_decode(p + 1, n - 1, &m, eb) == FERRY_OK) msg_task_release(&m);
      break;
    }
    default: {
      msg_outcome_t m;
      if (msg_outcome_decode(p + 1, n - 1, &m, eb) == FERRY_OK) msg_outcome_release(&m);
      break;
    }
  }
}

static void replay_one(const char *target, const char *p, size_t n) {
  static const xml_kind_t part_kinds[] = {XML_LIST_PARTS, XML_LIST_UPLOADS, XML_INITIATE};
  char eb[FERRY_ERRLEN];
  if (strcmp(target, "xml_list") == 0) {
    replay_xml(XML_LIST, p, n);
  } else if (strcmp(target, "xml_error") == 0) {
    replay_xml(XML_ERROR, p, n);
  } else if (strcmp(target, "xml_complete") == 0) {
    replay_xml(XML_COMPLETE, p, n);
  } else if (strcmp(target, "xml_parts") == 0) {
    if (n) replay_xml(part_kinds[(unsigned char)p[0] % 3], p + 1, n - 1);
  } else if (strcmp(target, "msg") == 0) {
    replay_msg(p, n);
  } else if (strcmp(target, "config") == 0) {
    fbuf_t errs;
    ferry_conf_t *c;
    fbuf_init(&errs, 0);
    c = conf_load_string(p, "replay", CONF_NO_INCLUDE | CONF_SKIP_CREDENTIALS, &errs,
                         NULL);
    assert_true(c != NULL || errs.len > 0);
    conf_destroy(c);
    fbuf_release(&errs);
  } else if (strcmp(target, "urllist") == 0) {
    urllist_cursor_t cur;
    urllist_entry_t e;
    int eof = 0;
    size_t guard = 0;
    urllist_cursor_init(&cur, p, n, "replay");
    while (!eof && guard++ <= n + 1) {
      if (urllist_next(&cur, &e, &eof, eb) == FERRY_OK) urllist_entry_release(&e);
    }
    assert_true(eof);
  } else if (strcmp(target, "listfile") == 0) {
    FILE *f = n ? fmemopen((void *)p, n, "r") : NULL;
    listfile_t *lf = f ? listfile_from_stream(f, "replay", eb) : NULL;
    msg_obj_t o;
    int eof = 0;
    size_t guard = 0;
    while (lf && !eof && guard++ <= n + 2) {
      ferry_err_t rc = listfile_next(lf, &o, &eof, eb);
      if (rc == FERRY_ERR_IO) break;
      if (rc == FERRY_OK && !eof) msg_obj_release(&o);
    }
    listfile_close(lf);
    if (f) fclose(f);
  } else if (strcmp(target, "response") == 0) {
    /* Status and headers aside, the body is what can be odd: parse it as
     * an error response. */
    store_error_t e;
    store_error_from_response(&e, 500, NULL, p, n, CURLE_OK, NULL);
    assert_non_null(memchr(e.message, '\0', sizeof(e.message)));
  } else if (strcmp(target, "confval") == 0) {
    /* Covered by the clang fuzz build; the parsers are exercised by
     * test_config. */
  } else {
    fail_msg("regressions/%s: no replay for this target", target);
  }
}

static void test_replay_all(void **state) {
  DIR *top = opendir(REGRESSIONS), *d;
  struct dirent *t, *f;
  size_t n = 0;
  (void)state;
  assert_non_null(top);
  while ((t = readdir(top)) != NULL) {
    char dir[1024];
    if (t->d_name[0] == '.') continue;
    snprintf(dir, sizeof(dir), "%s/%s", REGRESSIONS, t->d_name);
    d = opendir(dir);
    if (!d) continue;
    while ((f = readdir(d)) != NULL) {
      char path[2048];
      blob_t b;
      if (f->d_name[0] == '.') continue;
      snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
      b = load(path);
      replay_one(t->d_name, b.p, b.n);
      free(b.p);
      n++;
    }
    closedir(d);
  }
  closedir(top);
  assert_true(n >= 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xml_error_fields_cut_between_characters),
      cmocka_unit_test(test_complete_200_error_fields_cut_between_characters),
      cmocka_unit_test(test_outcome_with_invalid_utf8_diagnostics_encodes),
      cmocka_unit_test(test_utf8_helpers),
      cmocka_unit_test(test_replay_all),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
