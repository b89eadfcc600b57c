/*
 * libFuzzer target: the URL-list parser (lib/core/urllist.h), over the
 * whole input as a file. Checked: every entry keeps the documented bounds
 * (URL length, non-empty key of at most 1023 bytes, port range), a bad
 * line is skipped with "fuzz:LINE: ..." naming a line that exists, and the
 * walk ends.
 */
#include <string.h>

#include "core/urllist.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  urllist_cursor_t c;
  urllist_entry_t e;
  char eb[FERRY_ERRLEN];
  int eof = 0;
  long lines = 1, prev = 0;
  size_t i, steps = 0;
  for (i = 0; i < size; i++) lines += data[i] == '\n';
  urllist_cursor_init(&c, (const char *)data, size, "fuzz");
  while (!eof) {
    ferry_err_t rc;
    FUZZ_CHECK(steps++ <= size + 1);
    memset(&e, 0x5a, sizeof(e));
    eb[0] = '\0';
    rc = urllist_next(&c, &e, &eof, eb);
    if (rc != FERRY_OK) {
      long at;
      FUZZ_CHECK(rc == FERRY_ERR_PARSE);
      FUZZ_CHECK(e.url == NULL && e.key == NULL && e.host == NULL && e.target == NULL);
      FUZZ_CHECK(strncmp(eb, "fuzz:", 5) == 0);
      at = strtol(eb + 5, NULL, 10);
      FUZZ_CHECK(at > prev && at <= lines);
      prev = at;
      continue;
    }
    if (eof) {
      FUZZ_CHECK(e.url == NULL);
      break;
    }
    FUZZ_CHECK(e.line > prev && e.line <= lines);
    prev = e.line;
    FUZZ_CHECK(e.url && strlen(e.url) <= URLLIST_URL_MAX);
    FUZZ_CHECK(e.host && *e.host);
    FUZZ_CHECK(e.target && e.target[0] == '/');
    FUZZ_CHECK(e.key && *e.key && strlen(e.key) <= URLLIST_KEY_MAX);
    FUZZ_CHECK(e.port >= 0 && e.port <= 65535);
    FUZZ_CHECK(e.https == 0 || e.https == 1);
    FUZZ_CHECK(e.key_given == 0 || e.key_given == 1);
    urllist_entry_release(&e);
  }
  return 0;
}
