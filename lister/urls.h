/*
 * urls.h: one line of a URL-list file, the source of a task "urls:/path"
 * (docs/lister.md, "URL lists"). Pure, thread-safe.
 *
 *   # a comment (first non-blank character '#'); blank lines are skipped
 *   https://cdn.example.com/photos/a%20b.jpg
 *   http://10.0.0.7:8080/dl?id=42    archive/42.bin
 *
 * A URL: http:// or https:// (any case), a host, an optional port, a path
 * and query; no blanks, control bytes, user name or password ("user@host":
 * secrets belong in the config) or fragment ('#'); at most LURL_URL_MAX
 * bytes. Optionally, after blanks, the destination key: the rest of the line
 * without trailing blanks (inner spaces kept), valid UTF-8 without control
 * bytes, at most LURL_KEY_MAX bytes. Without one, the key is the URL's path
 * without its leading '/' and its query, percent-decoded; it must then be
 * non-empty.
 *
 * (A small parser of the lister's own; lib/core/urllist, when it exists on
 * main, is meant to replace it.)
 */
#ifndef FERRY_LISTER_URLS_H
#define FERRY_LISTER_URLS_H

#include <stddef.h>

#include "core/ferry.h"

#define LURL_URL_MAX 8192
#define LURL_KEY_MAX 1023

typedef struct lurl {
  char *url;  /* as written (owned) */
  char *key;  /* destination key relative to the task's destination prefix (owned) */
} lurl_t;

/* Parses one line (len bytes; a trailing "\n" or "\r\n" is ignored). Returns
 * 1 for an entry (*out filled: release it), 0 for a blank or comment line,
 * -1 for a bad line (errbuf says why, without quoting the URL's query). */
int lurl_parse(const char *line, size_t len, lurl_t *out, char *errbuf);
void lurl_release(lurl_t *e);

/* The URL for messages: without its query string ("...?…"), which may hold
 * a presigned signature. New string. */
char *lurl_redact(const char *url);

#endif
