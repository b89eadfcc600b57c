/* Unit tests for lib/plan/listfile: CSV and JSONL failed-object lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "report/tally.h"
#include "plan/listfile.h"

/* Opens text as a list (fmemopen: the reader only needs a FILE*). */
static listfile_t *open_text(const char *text, FILE **fp, char *err) {
  *fp = fmemopen((void *)text, strlen(text), "r");
  assert_non_null(*fp);
  return listfile_from_stream(*fp, "list.csv", err);
}

/* Reads every entry; returns their keys joined by '|', bad entries as "!". */
static void read_all(listfile_t *lf, char *out, size_t n) {
  char err[FERRY_ERRLEN];
  out[0] = '\0';
  for (;;) {
    msg_obj_t o;
    int eof = 0;
    ferry_err_t e = listfile_next(lf, &o, &eof, err);
    if (e == FERRY_ERR_PARSE) {
      strncat(out, "!|", n - strlen(out) - 1);
      continue;
    }
    assert_int_equal(e, FERRY_OK);
    if (eof) break;
    strncat(out, o.key, n - strlen(out) - 1);
    strncat(out, "|", n - strlen(out) - 1);
    msg_obj_release(&o);
  }
}

static void test_csv_export(void **state) {
  /* The reporter's export columns; keys with commas, quotes, a newline and
   * CRLF line ends. */
  const char *text =
      "key,size,status,reason,http_status,code,message,attempts,last_attempt\r\n"
      "a/plain.txt,10,failed,http-503,503,SlowDown,\"Reduce, please\",5,2024-01-15\r\n"
      "\"b/comma,quote\"\"x\"\".txt\",20,failed,integrity,0,,,1,\r\n"
      "\"c/new\nline.txt\",30,failed,vanished,404,NoSuchKey,,1,\r\n"
      "\r\n"
      "d/unicode-数据.txt,,failed,x,0,,,1,\n";
  char err[FERRY_ERRLEN], keys[512];
  FILE *f;
  listfile_t *lf = open_text(text, &f, err);
  msg_obj_t o;
  int eof;
  (void)state;
  assert_non_null(lf);
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_OK);
  assert_int_equal(eof, 0);
  assert_string_equal(o.key, "a/plain.txt");
  assert_int_equal(o.size, 10);
  assert_null(o.etag);
  assert_int_equal(o.mtime, -1);
  assert_int_equal(listfile_line(lf), 2);
  msg_obj_release(&o);
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_OK);
  assert_string_equal(o.key, "b/comma,quote\"x\".txt");
  assert_int_equal(o.size, 20);
  msg_obj_release(&o);
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_OK);
  assert_string_equal(o.key, "c/new\nline.txt");
  assert_int_equal(listfile_line(lf), 4);
  msg_obj_release(&o);
  read_all(lf, keys, sizeof(keys));
  assert_string_equal(keys, "d/unicode-数据.txt|");
  listfile_close(lf);
  fclose(f);
}

static void test_csv_header_variants(void **state) {
  char err[FERRY_ERRLEN], keys[256];
  FILE *f;
  listfile_t *lf;
  (void)state;
  /* BOM, key not first, spaces and case in the header, an etag column. */
  lf = open_text("\xEF\xBB\xBF" "status, Key ,ETag\nfailed,x/1,\"\"\"abc\"\"\"\n", &f, err);
  assert_non_null(lf);
  {
    msg_obj_t o;
    int eof;
    assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_OK);
    assert_string_equal(o.key, "x/1");
    assert_string_equal(o.etag, "abc");
    msg_obj_release(&o);
  }
  read_all(lf, keys, sizeof(keys));
  assert_string_equal(keys, "");
  listfile_close(lf);
  fclose(f);
  /* No key column. */
  lf = open_text("name,size\nx,1\n", &f, err);
  assert_null(lf);
  assert_non_null(strstr(err, "no \"key\" column"));
  fclose(f);
  /* Empty file. */
  lf = open_text("", &f, err);
  assert_null(lf);
  assert_non_null(strstr(err, "empty"));
  fclose(f);
}

static void test_csv_bad_rows(void **state) {
  char err[FERRY_ERRLEN], keys[256];
  FILE *f;
  listfile_t *lf;
  msg_obj_t o;
  int eof;
  (void)state;
  /* A short row, an empty key, a bad size, junk after a quote, then good
   * rows: each bad one is reported and skipped. */
  lf = open_text("size,key\n5\n3,\nxx,k1\n1,\"k\"junk\n2,k2\n", &f, err);
  assert_non_null(lf);
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_ERR_PARSE);
  assert_non_null(strstr(err, "list.csv:2:"));
  assert_null(o.key);
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_ERR_PARSE);
  assert_non_null(strstr(err, "list.csv:3: empty key"));
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_ERR_PARSE);
  assert_non_null(strstr(err, "list.csv:4: size"));
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_ERR_PARSE);
  assert_non_null(strstr(err, "list.csv:5: character after a closing quote"));
  read_all(lf, keys, sizeof(keys));
  assert_string_equal(keys, "k2|");
  listfile_close(lf);
  fclose(f);
  /* An unterminated quote runs to the end of the file. */
  lf = open_text("key\nok\n\"never closed\nmore\n", &f, err);
  assert_non_null(lf);
  read_all(lf, keys, sizeof(keys));
  assert_string_equal(keys, "ok|!|");
  listfile_close(lf);
  fclose(f);
}

static void test_jsonl(void **state) {
  const char *text =
      "\n{\"key\":\"a/1\",\"size\":7,\"etag\":\"e1\",\"status\":\"failed\"}\n"
      "{\"key\":\"b/\\u6570\\\"q\\\"\\n\"}\n"
      "not json\n"
      "[1]\n"
      "{\"key\":\"\"}\n"
      "{\"key\":\"c\",\"size\":-1}\n"
      "{\"key\":\"nul\\u0000x\"}\n"
      "   \n"
      "{\"key\":\"d\",\"size\":null}";
  char err[FERRY_ERRLEN], keys[256];
  FILE *f;
  listfile_t *lf = open_text(text, &f, err);
  msg_obj_t o;
  int eof;
  (void)state;
  assert_non_null(lf);
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_OK);
  assert_string_equal(o.key, "a/1");
  assert_int_equal(o.size, 7);
  assert_string_equal(o.etag, "e1");
  assert_int_equal(listfile_line(lf), 2);
  msg_obj_release(&o);
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_OK);
  assert_string_equal(o.key, "b/\xE6\x95\xB0\"q\"\n");
  msg_obj_release(&o);
  assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_ERR_PARSE);
  assert_non_null(strstr(err, "list.csv:4: not JSON"));
  read_all(lf, keys, sizeof(keys));
  assert_string_equal(keys, "!|!|!|!|d|");
  listfile_close(lf);
  fclose(f);
}

/* What the export writes, --from-list reads back exactly,
 * keys that a spreadsheet would run as formulas (marked with a quote by the
 * export) and keys that really begin with quotes included. */
static void test_export_round_trip(void **state) {
  static const char *keys[] = {
      "=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tTAB", "\rCR", "'quoted",
      "''two", "'", "=", "plain/key", "a'b", "a=b", "x,\"y\"\nz", " lead", "-"};
  tally_t *t = tally_new(NULL);
  msg_outcome_t oc[FERRY_ARRAY_LEN(keys)];
  msg_result_t r;
  msg_task_t tk;
  fbuf_t b;
  char err[FERRY_ERRLEN];
  size_t i, rows, n = 0;
  int dup, seen[FERRY_ARRAY_LEN(keys)] = {0};
  FILE *f;
  listfile_t *lf;
  (void)state;
  memset(&tk, 0, sizeof(tk));
  tk.task = "t";
  tk.run = 1;
  tk.state = "listed";
  tk.listed_objects = FERRY_ARRAY_LEN(keys);
  tk.src.store = tk.dst.store = "s";
  tk.src.bucket = tk.dst.bucket = "b";
  tk.src.prefix = "";
  tk.dst.prefix = "d/";
  assert_int_equal(tally_add_task(t, &tk, err), FERRY_OK);
  memset(&r, 0, sizeof(r));
  memset(oc, 0, sizeof(oc));
  for (i = 0; i < FERRY_ARRAY_LEN(keys); i++) {
    oc[i].key = (char *)keys[i];
    oc[i].size = i + 1;
    oc[i].status = ST_FAILED;
    oc[i].reason = "-x";
    oc[i].etag = i % 2 ? "'etag" : "=etag";
  }
  r.task = "t";
  r.segment = "1-1";
  r.run = 1;
  r.worker = "w";
  r.n_objects = r.n_failed = FERRY_ARRAY_LEN(keys);
  r.outcomes = oc;
  r.n_outcomes = FERRY_ARRAY_LEN(keys);
  assert_int_equal(tally_add_result(t, &r, &dup, err), FERRY_OK);
  fbuf_init(&b, 0);
  tally_export_failed(t, "t", TALLY_EXPORT_CSV, &b, &rows);
  assert_int_equal(rows, FERRY_ARRAY_LEN(keys));
  lf = open_text(fbuf_str(&b), &f, err);
  assert_non_null(lf);
  for (;;) {
    msg_obj_t o;
    int eof;
    assert_int_equal(listfile_next(lf, &o, &eof, err), FERRY_OK);
    if (eof) break;
    for (i = 0; i < FERRY_ARRAY_LEN(keys); i++)
      if (strcmp(o.key, keys[i]) == 0) break;
    if (i == FERRY_ARRAY_LEN(keys)) fail_msg("read back a key never exported: [%s]", o.key);
    assert_false(seen[i]);
    seen[i] = 1;
    assert_int_equal(o.size, i + 1);
    assert_string_equal(o.etag, oc[i].etag);
    n++;
    msg_obj_release(&o);
  }
  assert_int_equal(n, FERRY_ARRAY_LEN(keys));
  listfile_close(lf);
  fclose(f);
  fbuf_release(&b);
  tally_destroy(t);
}

static void test_open_missing(void **state) {
  char err[FERRY_ERRLEN];
  (void)state;
  assert_null(listfile_open("/nonexistent/dir/failed.csv", err));
  assert_non_null(strstr(err, "/nonexistent/dir/failed.csv"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csv_export),
      cmocka_unit_test(test_export_round_trip),
      cmocka_unit_test(test_csv_header_variants),
      cmocka_unit_test(test_csv_bad_rows),
      cmocka_unit_test(test_jsonl),
      cmocka_unit_test(test_open_missing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
