/* Unit tests for lib/core/log: one event is one line of key=value fields
 * whatever the values hold (newlines, quotes, '=', every byte a key may
 * have), and a parser following log.h's grammar gets the values back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/log.h"

/* ---- a parser of log.h's grammar --------------------------------------- */

typedef struct field {
  char key[64];
  char val[2048];
  size_t len;
} field_t;

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Splits the fields of one line (no '\n' inside; the prefix up to ": " is
 * skipped when `prefix`); returns how many, or -1 when the line breaks the
 * grammar. */
static int parse(const char *line, int prefix, field_t *f, int max) {
  const char *p = line;
  int n = 0;
  if (prefix) {
    p = strstr(line, ": ");
    if (!p) return -1;
    p += 2;
  }
  while (*p && *p != '\n') {
    size_t k = 0;
    if (n == max) return -1;
    while (*p && *p != '=' && *p != ' ' && *p != '\n') {
      if (k + 1 >= sizeof(f[n].key)) return -1;
      f[n].key[k++] = *p++;
    }
    f[n].key[k] = '\0';
    if (*p != '=' || k == 0) return -1;
    p++;
    f[n].len = 0;
    if (*p == '"') {
      p++;
      for (;;) {
        char c = *p++;
        if (c == '\0' || c == '\n') return -1; /* unterminated */
        if (c == '"') break;
        if (c == '\\') {
          c = *p++;
          if (c == 'n')
            c = '\n';
          else if (c == 'r')
            c = '\r';
          else if (c == 't')
            c = '\t';
          else if (c == 'x') {
            int h = hexval(p[0]), l = h < 0 ? -1 : hexval(p[1]);
            if (l < 0) return -1;
            c = (char)(h * 16 + l);
            p += 2;
          } else if (c != '"' && c != '\\') {
            return -1;
          }
        } else if ((unsigned char)c < 0x20 || c == 0x7f) {
          return -1;
        }
        if (f[n].len + 1 >= sizeof(f[n].val)) return -1;
        f[n].val[f[n].len++] = c;
      }
    } else {
      while (*p && *p != ' ' && *p != '\n') {
        if (*p == '"' || *p == '\\' || *p == '=') return -1;
        if (f[n].len + 1 >= sizeof(f[n].val)) return -1;
        f[n].val[f[n].len++] = *p++;
      }
    }
    f[n].val[f[n].len] = '\0';
    n++;
    if (*p == ' ')
      p++;
    else if (*p && *p != '\n')
      return -1;
  }
  return n;
}

/* ---- flog_value / flog_quoted ------------------------------------------ */

static void test_value_bare_or_quoted(void **state) {
  char b[FLOG_QMAX];
  (void)state;
  assert_string_equal(flog_value(b, sizeof(b), "photos/2024/a.jpg"), "photos/2024/a.jpg");
  assert_string_equal(flog_value(b, sizeof(b), "t-1:x"), "t-1:x");
  assert_string_equal(flog_value(b, sizeof(b), ""), "\"\"");
  assert_string_equal(flog_value(b, sizeof(b), NULL), "-");
  assert_string_equal(flog_value(b, sizeof(b), "a b"), "\"a b\"");
  assert_string_equal(flog_value(b, sizeof(b), "k=v"), "\"k=v\"");
  assert_string_equal(flog_value(b, sizeof(b), "say \"hi\""), "\"say \\\"hi\\\"\"");
  assert_string_equal(flog_value(b, sizeof(b), "a\\b"), "\"a\\\\b\"");
  assert_string_equal(flog_value(b, sizeof(b), "l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  assert_string_equal(flog_value(b, sizeof(b), "\x01\x7f"), "\"\\x01\\x7f\"");
  /* Valid UTF-8 stays readable; a stray byte is escaped. */
  assert_string_equal(flog_value(b, sizeof(b), "caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  assert_string_equal(flog_value(b, sizeof(b), "a\xff"), "\"a\\xff\"");
  assert_string_equal(flog_value(b, sizeof(b), "\xc0\xaf"),
                      "\"\\xc0\\xaf\""); /* overlong */
  assert_string_equal(flog_value(b, sizeof(b), "\xed\xa0\x80"),
                      "\"\\xed\\xa0\\x80\""); /* surrogate */
  assert_string_equal(flog_quoted(b, sizeof(b), "plain"), "\"plain\"");
  assert_string_equal(flog_quoted(b, sizeof(b), NULL), "\"-\"");
}

static void test_value_cut_inside_quotes(void **state) {
  char b[16];
  (void)state;
  /* Never cut inside an escape; the quotes stay balanced. */
  assert_string_equal(flog_quoted(b, sizeof(b), "\n\n\n\n\n\n\n\n"),
                      "\"\\n\\n\\n\\n\\n...\"");
  assert_string_equal(flog_value(b, sizeof(b), "abcdefghijklmnopqrstuvwxyz"),
                      "abcdefghijkl...");
}

/* A 1023-byte key with every byte 1..255 (the most a key can be) comes
 * back whole from a quoted value: nothing is cut, nothing is lost. */
static void test_value_every_byte_roundtrip(void **state) {
  char key[1024], out[FLOG_QMAX], line[8192];
  field_t f[2];
  int i;
  (void)state;
  for (i = 0; i < 1023; i++) key[i] = (char)(1 + i % 255);
  key[1023] = '\0';
  flog_quoted(out, sizeof(out), key);
  snprintf(line, sizeof(line), "key=%s", out);
  assert_null(strchr(line, '\n'));
  assert_int_equal(parse(line, 0, f, 2), 1);
  assert_int_equal(f[0].len, 1023);
  assert_memory_equal(f[0].val, key, 1023);
  /* All 0xff / 0x01: 4 bytes each, still whole. */
  memset(key, 0xff, 1023);
  flog_quoted(out, sizeof(out), key);
  assert_int_equal(strlen(out), 4 * 1023 + 2);
}

/* ---- whole lines -------------------------------------------------------- */

/* Runs fn with stderr in a temp file; returns what was written. */
static char *capture(void (*fn)(void)) {
  FILE *tmp = tmpfile();
  int saved;
  long len;
  char *s;
  assert_non_null(tmp);
  fflush(stderr);
  saved = dup(2);
  assert_true(dup2(fileno(tmp), 2) >= 0);
  fn();
  dup2(saved, 2);
  close(saved);
  len = (long)lseek(fileno(tmp), 0, SEEK_END);
  s = calloc(1, (size_t)len + 1);
  assert_non_null(s);
  assert_int_equal(pread(fileno(tmp), s, (size_t)len, 0), len);
  fclose(tmp);
  return s;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    if (*s == '\n') n++;
  return n;
}

static const char *evil_task = "t1\nfake line: event=summary copied=999";
static const char *evil_key = "dir/\"quoted\" key=1\r\n\ttab\\end";

static void log_evil(void) {
  flog_set_level(FLOG_INFO);
  LOG_INFO("test", "event=object task=%s key=%s http=%d", FLOG_V(evil_task),
           FLOG_Q(evil_key), 200);
}

static void test_line_values_escaped(void **state) {
  char *out = capture(log_evil);
  field_t f[4];
  (void)state;
  assert_int_equal(count_lines(out), 1);
  assert_int_equal(parse(out, 1, f, 4), 4);
  assert_string_equal(f[0].key, "event");
  assert_string_equal(f[0].val, "object");
  assert_string_equal(f[1].key, "task");
  assert_string_equal(f[1].val, evil_task);
  assert_string_equal(f[2].key, "key");
  assert_string_equal(f[2].val, evil_key);
  assert_string_equal(f[3].key, "http");
  assert_string_equal(f[3].val, "200");
  free(out);
}

/* A caller that forgets FLOG_V still cannot split the event. */
static void log_raw(void) {
  LOG_WARN("test", "msg=\"%s\"", "a\nb\x01");
}

static void test_line_raw_control_escaped(void **state) {
  char *out = capture(log_raw);
  (void)state;
  assert_int_equal(count_lines(out), 1);
  assert_non_null(strstr(out, "msg=\"a\\nb\\x01\"\n"));
  free(out);
}

/* A line over the limit is cut at a whole unit, its quote closed, and it
 * says so. */
static void log_long(void) {
  char big[6000];
  memset(big, '\n', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  LOG_ERROR("test", "event=x key=%s after=1", FLOG_Q(big));
}

static void test_line_truncated(void **state) {
  char *out = capture(log_long);
  field_t f[4];
  size_t len = strlen(out);
  (void)state;
  assert_int_equal(count_lines(out), 1);
  assert_true(len <= 4096);
  assert_int_equal(parse(out, 1, f, 4), 3);
  assert_string_equal(f[2].key, "truncated");
  free(out);
}

static void test_format_cut_keeps_escapes_whole(void **state) {
  char msg[200], out[40];
  field_t f[3];
  int i;
  (void)state;
  for (i = 0; i < 60; i++) {
    /* Every cut position, over quoted \xHH and \" escapes. */
    snprintf(msg, sizeof(msg), "k=\"%.*s\\x01\\\"\\x02\\\\\\x03\" z=1", i % 20,
             "aaaaaaaaaaaaaaaaaaaa");
    flog_format(out, sizeof(out) - (size_t)(i % 8), msg);
    assert_int_equal(count_lines(out), 1);
    if (parse(out, 0, f, 3) < 1) fail_msg("unparseable: %s", out);
  }
  /* Without a cut, the line is the message. */
  assert_int_equal(flog_format(out, sizeof(out), "a=1 b=\"x y\""),
                   strlen("a=1 b=\"x y\"\n"));
  assert_string_equal(out, "a=1 b=\"x y\"\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_value_bare_or_quoted),
      cmocka_unit_test(test_value_cut_inside_quotes),
      cmocka_unit_test(test_value_every_byte_roundtrip),
      cmocka_unit_test(test_line_values_escaped),
      cmocka_unit_test(test_line_raw_control_escaped),
      cmocka_unit_test(test_line_truncated),
      cmocka_unit_test(test_format_cut_keeps_escapes_whole),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
