/* Unit tests for lib/core/urllist: the URL-list file format of task sources
 * "urls:/path": good lines, every refusal with its line number, key and URL
 * length limits at the boundary, every byte value in keys, and random and
 * mangled input (no crash, no leak: the sanitizer build checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/urllist.h"

/* Parses one line (NUL-terminated) and expects an entry. */
static urllist_entry_t parse_ok(const char *line) {
  urllist_entry_t e;
  char eb[FERRY_ERRLEN] = "";
  int is_entry = -1;
  ferry_err_t rc = urllist_parse_line(line, strlen(line), NULL, 7, &e, &is_entry, eb);
  if (rc != FERRY_OK) fail_msg("'%s': %s", line, eb);
  assert_int_equal(is_entry, 1);
  assert_int_equal(e.line, 7);
  return e;
}

/* Expects line[0..len) to be refused with a message containing want. */
static void expect_err_n(const char *line, size_t len, const char *want) {
  urllist_entry_t e;
  char eb[FERRY_ERRLEN] = "";
  int is_entry = -1;
  ferry_err_t rc = urllist_parse_line(line, len, NULL, 12, &e, &is_entry, eb);
  if (rc != FERRY_ERR_PARSE) fail_msg("'%.*s': accepted", (int)len, line);
  assert_int_equal(is_entry, 0);
  assert_null(e.url);
  assert_null(e.key);
  assert_non_null(strstr(eb, "line 12: "));
  if (want && !strstr(eb, want))
    fail_msg("'%.*s': got '%s', want '%s'", (int)len, line, eb, want);
}

static void expect_err(const char *line, const char *want) {
  expect_err_n(line, strlen(line), want);
}

static void test_good_lines(void **state) {
  urllist_entry_t e;
  (void)state;
  e = parse_ok("https://bucket.example.com/photos/a%20b.jpg");
  assert_string_equal(e.url, "https://bucket.example.com/photos/a%20b.jpg");
  assert_int_equal(e.https, 1);
  assert_string_equal(e.host, "bucket.example.com");
  assert_int_equal(e.port, 0);
  assert_string_equal(e.target, "/photos/a%20b.jpg");
  assert_string_equal(e.key, "photos/a b.jpg");
  assert_int_equal(e.key_given, 0);
  urllist_entry_release(&e);

  /* Explicit key with inner blanks; surrounding blanks and CR go. */
  e = parse_ok(" \tHTTP://10.0.0.7:8080/dl?id=42 \t archive/my file 42.bin \t\r");
  assert_string_equal(e.url, "HTTP://10.0.0.7:8080/dl?id=42");
  assert_int_equal(e.https, 0);
  assert_string_equal(e.host, "10.0.0.7");
  assert_int_equal(e.port, 8080);
  assert_string_equal(e.target, "/dl?id=42");
  assert_string_equal(e.key, "archive/my file 42.bin");
  assert_int_equal(e.key_given, 1);
  urllist_entry_release(&e);

  /* The query is not part of the derived key; '+' stays '+'. */
  e = parse_ok("https://Cdn.Example.COM/a+b/%E6%B5%8B.txt?Expires=1&Signature=x%2By");
  assert_string_equal(e.host, "cdn.example.com");
  assert_string_equal(e.key, "a+b/\xe6\xb5\x8b.txt");
  assert_string_equal(e.target, "/a+b/%E6%B5%8B.txt?Expires=1&Signature=x%2By");
  urllist_entry_release(&e);

  /* Raw UTF-8 in a pasted URL. */
  e = parse_ok("http://h/\xe7\x85\xa7\xe7\x89\x87/1.jpg");
  assert_string_equal(e.key, "\xe7\x85\xa7\xe7\x89\x87/1.jpg");
  urllist_entry_release(&e);

  /* IPv6 literal with a port; no path but a key. */
  e = parse_ok("http://[::1]:9000 k");
  assert_string_equal(e.host, "[::1]");
  assert_int_equal(e.port, 9000);
  assert_string_equal(e.target, "/");
  assert_string_equal(e.key, "k");
  urllist_entry_release(&e);
  e = parse_ok("https://h?x=1 k");
  assert_string_equal(e.target, "/?x=1");
  urllist_entry_release(&e);

  /* A directory marker, and a path of several slashes. */
  e = parse_ok("http://h/dir/");
  assert_string_equal(e.key, "dir/");
  urllist_entry_release(&e);
  e = parse_ok("http://h//x");
  assert_string_equal(e.key, "/x");
  urllist_entry_release(&e);
  /* DEL and C1 written as %XX in a path given with a key: the URL is sent
   * as written, only keys must be text. */
  e = parse_ok("http://h/a%0Ab%7F%C2%85 k");
  assert_string_equal(e.key, "k");
  urllist_entry_release(&e);
  /* Ports at both ends. */
  e = parse_ok("http://h:1/a");
  assert_int_equal(e.port, 1);
  urllist_entry_release(&e);
  e = parse_ok("http://h:65535/a");
  assert_int_equal(e.port, 65535);
  urllist_entry_release(&e);
  /* Release twice and on NULL is fine. */
  urllist_entry_release(&e);
  urllist_entry_release(NULL);
}

static void test_skipped_lines(void **state) {
  static const char *skip[] = {
      "", " ", "\t \t", "\r", "# comment", "   # indented", "#https://h/a", "  \r"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
    urllist_entry_t e;
    int is_entry = -1;
    char eb[FERRY_ERRLEN];
    assert_int_equal(
        urllist_parse_line(skip[i], strlen(skip[i]), NULL, 1, &e, &is_entry, eb),
        FERRY_OK);
    assert_int_equal(is_entry, 0);
    assert_null(e.url);
  }
}

static void test_bad_urls(void **state) {
  (void)state;
  expect_err("ftp://h/a", "not an http:// or https:// URL: 'ftp://h/a'");
  expect_err("h/a", "not an http:// or https:// URL");
  expect_err("http:/h/a", "not an http:// or https:// URL");
  expect_err("https:", "not an http:// or https:// URL");
  expect_err("http://", "URL has no host");
  expect_err("http:///a", "URL has no host");
  expect_err("http://:80/a", "URL has no host");
  expect_err("http://h%41/a", "bad character in host");
  expect_err("http://h\xc3\xa9/a", "bad character in host");
  expect_err("http://h:/a", "bad port");
  expect_err("http://h:0/a", "port 0 out of range");
  expect_err("http://h:65536/a", "port 65536 out of range");
  expect_err("http://h:123456/a", "bad port");
  expect_err("http://h:8o/a", "bad port");
  expect_err("http://h:80:81/a", "bad port");
  expect_err("http://[::1/a", "unclosed IPv6 literal");
  expect_err("http://[]/a", "bad IPv6 literal");
  expect_err("http://[g::1]/a", "bad IPv6 literal");
  expect_err("http://[::1]x/a", "unexpected text after the IPv6 literal");
  expect_err("http://h/a#frag", "a fragment ('#') in the URL");
  expect_err("http://h#frag k", "a fragment ('#') in the URL");
  expect_err("http://h/a%2", "bad %XX escape");
  expect_err("http://h/a%zz", "bad %XX escape");
  expect_err("http://h/a%", "bad %XX escape");
  expect_err("http://h/a%4?x", "bad %XX escape");
  expect_err("http://h/a\x01", "control byte 0x01 in URL");
  expect_err("http://h/a\x7f", "control byte 0x7f in URL");
  expect_err("http://h/a\xff", "not valid UTF-8");
  expect_err("http://h/a\xc0\xaf", "not valid UTF-8");     /* overlong '/' */
  expect_err("http://h/a\xed\xa0\x80", "not valid UTF-8"); /* surrogate */
  expect_err("http://h/a\xe6\xb5", "not valid UTF-8");     /* cut sequence */
  expect_err("http://h/", "names no object; give the destination key");
  expect_err("http://h", "names no object");
  expect_err("http://h/?x=1", "names no object");
  expect_err("http://h/a%00b", "decodes to a NUL byte");
  expect_err("http://h/a%FF", "does not decode to valid UTF-8");
  expect_err_n("http://h/a\0b", 11, "NUL byte at column 11");
  expect_err_n("  http://h/a k\0", 15, "NUL byte at column 15");
}

/* Userinfo is refused without the password reaching the message. */
static void test_credentials_not_echoed(void **state) {
  static const char *lines[] = {"https://user:S3cr3tPa55@h/a", "http://S3cr3tPa55@h/a k",
                                "http://u:S3cr3tPa55@[::1]:80/a",
                                "https://u:S3cr3tPa55@/a"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
    urllist_entry_t e;
    int is_entry;
    char eb[FERRY_ERRLEN];
    assert_int_equal(
        urllist_parse_line(lines[i], strlen(lines[i]), "list.txt", 3, &e, &is_entry, eb),
        FERRY_ERR_PARSE);
    assert_non_null(strstr(eb, "list.txt:3: a user name or password in the URL"));
    assert_null(strstr(eb, "S3cr3t"));
  }
  /* A query may hold a presigned signature: errors quote up to the '?'. */
  {
    static const char *q[] = {
        "https://h/a?X-Amz-Signature=S3cr3tSig%zz",
        "https://h/a?Signature=S3cr3tSig\x01",
        "https://h/a?Signature=S3cr3tSig#frag",
        "https://h/a?Signature=S3cr3tSig\xff",
        "ftp://h/a?Signature=S3cr3tSig",
        "https://h/?Signature=S3cr3tSig",
    };
    for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
      urllist_entry_t e;
      int is_entry;
      char eb[FERRY_ERRLEN];
      assert_int_equal(urllist_parse_line(q[i], strlen(q[i]), NULL, 1, &e, &is_entry, eb),
                       FERRY_ERR_PARSE);
      if (strstr(eb, "S3cr3t")) fail_msg("query quoted: %s", eb);
    }
    expect_err("https://h/a%zz?Signature=S3cr3tSig", "bad %XX escape in URL '/a%zz?...'");
  }
  /* An '@' in the path is an ordinary key byte. */
  {
    urllist_entry_t e = parse_ok("http://h/a@b");
    assert_string_equal(e.key, "a@b");
    urllist_entry_release(&e);
  }
}

/* Keys of 1023 bytes pass, 1024 do not: given, or derived from the path
 * (where the limit applies to the decoded key). */
static void test_key_length(void **state) {
  char *line = malloc(16384), *key = malloc(4096);
  urllist_entry_t e;
  size_t i;
  (void)state;
  for (i = 0; i < 1024; i++) key[i] = (char)('a' + i % 26);
  key[1023] = '\0';
  snprintf(line, 16384, "http://h/x %s", key);
  e = parse_ok(line);
  assert_int_equal(strlen(e.key), 1023);
  urllist_entry_release(&e);
  snprintf(line, 16384, "http://h/x %sZ", key);
  expect_err(line, "destination key is 1024 bytes, over 1023");
  snprintf(line, 16384, "http://h/%s", key);
  e = parse_ok(line);
  assert_int_equal(strlen(e.key), 1023);
  urllist_entry_release(&e);
  snprintf(line, 16384, "http://h/%sZ", key);
  expect_err(line, "the key from the URL path is 1024 bytes, over 1023");
  /* 1023 x "%41" decodes to 1023 bytes; one more is too many. */
  strcpy(line, "http://h/");
  for (i = 0; i < 1023; i++) strcat(line, "%41");
  e = parse_ok(line);
  assert_int_equal(strlen(e.key), 1023);
  assert_int_equal(e.key[1022], 'A');
  urllist_entry_release(&e);
  strcat(line, "%41");
  expect_err(line, "1024 bytes, over 1023");
  /* Multi-byte: 341 x 3 bytes = 1023 pass; 342 x 3 = 1026 fail. */
  key[0] = '\0';
  for (i = 0; i < 341; i++) strcat(key, "\xe6\xb5\x8b");
  snprintf(line, 16384, "http://h/x %s", key);
  e = parse_ok(line);
  assert_int_equal(strlen(e.key), 1023);
  urllist_entry_release(&e);
  strcat(key, "\xe6\xb5\x8b");
  snprintf(line, 16384, "http://h/x %s", key);
  expect_err(line, "destination key is 1026 bytes");
  free(line);
  free(key);
}

static void test_url_length(void **state) {
  char *line = malloc(URLLIST_URL_MAX + 64);
  urllist_entry_t e;
  size_t n;
  (void)state;
  /* Exactly URLLIST_URL_MAX bytes: fine (with a key: the path is too long
   * for a key of its own). */
  strcpy(line, "http://h/");
  n = strlen(line);
  memset(line + n, 'q', URLLIST_URL_MAX - n);
  line[URLLIST_URL_MAX] = '\0';
  strcat(line, " k");
  e = parse_ok(line);
  assert_int_equal(strlen(e.url), URLLIST_URL_MAX);
  urllist_entry_release(&e);
  line[URLLIST_URL_MAX] = 'q';
  line[URLLIST_URL_MAX + 1] = '\0';
  expect_err(line, "URL is 8193 bytes, over 8192");
  free(line);
}

/* Every byte value in a given key and in a path: printable ones pass,
 * control bytes are refused, raw or percent-encoded (a derived key). */
static void test_every_byte(void **state) {
  char line[64];
  int c;
  (void)state;
  for (c = 1; c < 256; c++) {
    urllist_entry_t e;
    int is_entry;
    char eb[FERRY_ERRLEN];
    ferry_err_t rc;
    size_t n;
    /* As the middle byte of a given key. */
    n = (size_t)snprintf(line, sizeof(line), "http://h/x a%cb", c);
    rc = urllist_parse_line(line, n, NULL, 1, &e, &is_entry, eb);
    if (c == '\n') {
      assert_int_equal(rc, FERRY_ERR_PARSE); /* the caller splits lines */
    } else if (c < 0x20) {
      assert_int_equal(rc, FERRY_ERR_PARSE);
      assert_non_null(strstr(eb, "control byte"));
    } else if (c == 0x7f) {
      assert_int_equal(rc, FERRY_ERR_PARSE);
      assert_non_null(strstr(eb, "control byte 0x7f in destination key"));
    } else if (c >= 0x80) {
      assert_int_equal(rc, FERRY_ERR_PARSE); /* a lone byte is not UTF-8 */
      assert_non_null(strstr(eb, "not valid UTF-8"));
    } else {
      if (rc != FERRY_OK) fail_msg("byte 0x%02x: %s", c, eb);
      assert_int_equal(e.key[1], c);
      urllist_entry_release(&e);
    }
    /* Percent-encoded in the path: everything but a lone high byte. */
    n = (size_t)snprintf(line, sizeof(line), "http://h/a%%%02Xb", c);
    rc = urllist_parse_line(line, n, NULL, 1, &e, &is_entry, eb);
    if (c >= 0x80) {
      assert_int_equal(rc, FERRY_ERR_PARSE);
    } else if (c < 0x20 || c == 0x7f) {
      assert_int_equal(rc, FERRY_ERR_PARSE);
      assert_non_null(strstr(eb, "decodes to a control character"));
    } else {
      if (rc != FERRY_OK) fail_msg("%%%02X: %s", c, eb);
      assert_int_equal((unsigned char)e.key[1], c);
      urllist_entry_release(&e);
    }
  }
}

/* C1 control characters (U+0080..U+009F, two bytes in UTF-8) are refused
 * in a URL, a given key and a derived key; U+00A0 just above them passes. */
static void test_c1_controls(void **state) {
  urllist_entry_t e;
  (void)state;
  expect_err("http://h/a\xc2\x85" "b", "control character U+0085 in URL");
  expect_err("http://h/a k\xc2\x80", "control character U+0080 in destination key");
  expect_err("http://h/x a\xc2\x9f" "b", "control character U+009F in destination key");
  expect_err("http://h/a%C2%9Bb", "decodes to a control character (U+009B)");
  expect_err("http://h/a%0Ab", "decodes to a control character (U+000A)");
  e = parse_ok("http://h/a\xc2\xa0" "b");
  assert_string_equal(e.key, "a\xc2\xa0" "b");
  urllist_entry_release(&e);
  e = parse_ok("http://h/a%C2%A0b k\xc2\xa0");
  assert_string_equal(e.key, "k\xc2\xa0");
  urllist_entry_release(&e);
}

/* The URL shown in messages loses its query (a presigned signature). */
static void test_redact(void **state) {
  char *r;
  (void)state;
  r = urllist_redact("https://h/a.jpg?Signature=S3cr3t&x=1");
  assert_string_equal(r, "https://h/a.jpg?\xe2\x80\xa6");
  fx_free(r);
  r = urllist_redact("https://h/a.jpg");
  assert_string_equal(r, "https://h/a.jpg");
  fx_free(r);
  r = urllist_redact("http://h?");
  assert_string_equal(r, "http://h?\xe2\x80\xa6");
  fx_free(r);
}

static void test_cursor(void **state) {
  static const char text[] =
      "\xEF\xBB\xBFhttps://h/first\r\n"
      "\n"
      "# comment\n"
      "ftp://nope/x\n"
      "http://h/second  dst/2\n"
      "http://h/\n"
      "   \n"
      "http://h/last";
  urllist_cursor_t c;
  urllist_entry_t e;
  int eof;
  char eb[FERRY_ERRLEN];
  (void)state;
  urllist_cursor_init(&c, text, sizeof(text) - 1, "urls.txt");
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_OK);
  assert_int_equal(eof, 0);
  assert_string_equal(e.key, "first");
  assert_int_equal(e.line, 1);
  urllist_entry_release(&e);
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_ERR_PARSE);
  assert_string_equal(eb, "urls.txt:4: not an http:// or https:// URL: 'ftp://nope/x'");
  assert_null(e.url);
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_OK);
  assert_string_equal(e.key, "dst/2");
  assert_int_equal(e.line, 5);
  urllist_entry_release(&e);
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_ERR_PARSE);
  assert_non_null(strstr(eb, "urls.txt:6: the URL path names no object"));
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_OK);
  assert_string_equal(e.key, "last");
  assert_int_equal(e.line, 8);
  urllist_entry_release(&e);
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_OK);
  assert_int_equal(eof, 1);
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_OK);
  assert_int_equal(eof, 1);
  /* Empty and NULL buffers are simply empty. */
  urllist_cursor_init(&c, NULL, 5, NULL);
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_OK);
  assert_int_equal(eof, 1);
  urllist_cursor_init(&c, "\xEF\xBB\xBF", 3, NULL);
  assert_int_equal(urllist_next(&c, &e, &eof, eb), FERRY_OK);
  assert_int_equal(eof, 1);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Random bytes and mangled good lines: any verdict, consistent outputs. */
static void test_random_input(void **state) {
  static const char *seeds[] = {"https://h.example.com:443/a%20b/c?d=e  dst key",
                                "http://[::1]:9000/x", "# c", "http://h/\xe6\xb5\x8b"};
  static const char alphabet[] =
      "%/:?#@[] \t\r\n\x01\x7f\x80\xe6\xb5\x8bhtps0123456789aAzZ";
  char buf[256];
  int round;
  (void)state;
  for (round = 0; round < 5000; round++) {
    size_t n, i;
    urllist_cursor_t c;
    urllist_entry_t e;
    int eof = 0, guard = 0;
    char eb[FERRY_ERRLEN];
    if (round % 2) {
      n = (size_t)(rng() % sizeof(buf));
      for (i = 0; i < n; i++) buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
    } else {
      const char *s = seeds[rng() % 4];
      n = strlen(s);
      memcpy(buf, s, n);
      for (i = 0; i < 3; i++) buf[rng() % n] = (char)rng();
    }
    urllist_cursor_init(&c, buf, n, NULL);
    while (!eof && guard++ < 300) {
      ferry_err_t rc = urllist_next(&c, &e, &eof, eb);
      if (rc == FERRY_OK && !eof) {
        assert_non_null(e.url);
        assert_non_null(e.host);
        assert_non_null(e.target);
        assert_true(e.key && *e.key && strlen(e.key) <= URLLIST_KEY_MAX);
        urllist_entry_release(&e);
      } else if (rc != FERRY_OK) {
        assert_int_equal(rc, FERRY_ERR_PARSE);
        assert_null(e.url);
      }
    }
    assert_int_equal(eof, 1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_lines),   cmocka_unit_test(test_skipped_lines),
      cmocka_unit_test(test_bad_urls),     cmocka_unit_test(test_credentials_not_echoed),
      cmocka_unit_test(test_key_length),   cmocka_unit_test(test_url_length),
      cmocka_unit_test(test_every_byte),   cmocka_unit_test(test_cursor),
      cmocka_unit_test(test_c1_controls),  cmocka_unit_test(test_redact),
      cmocka_unit_test(test_random_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
