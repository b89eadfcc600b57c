/*
 * urllist.h: the URL-list file format, for a task source "urls:/path/to/list"
 * (docs/lister.md, "URL lists"). Pure parsing over memory; the caller reads
 * the file (ferry-lister: lister/source.c, a line at a time).
 *
 * The format, one entry per line (LF or CRLF):
 *
 *   # a comment: the first non-blank character of the line is '#'
 *   https://bucket.example.com/photos/a%20b.jpg
 *   http://10.0.0.7:8080/dl?id=42    archive/42.bin
 *
 * - A URL: "http://" or "https://" (any case), a host (a DNS name or IPv4
 *   address of letters, digits, '-', '.', '_'; or an IPv6 literal in
 *   brackets), an optional ":PORT" (1-65535), then the path and query.
 *   At most URLLIST_URL_MAX bytes. A URL holds no blanks or control bytes;
 *   '%' must start a %XX escape; bytes above 0x7F must be valid UTF-8 (pasted
 *   file names) without C1 control characters (U+0080..U+009F). Refused:
 *   user names or passwords ("user:pw@host": secrets belong in the config,
 *   and error text never repeats them) and fragments ('#': never sent to a
 *   server; write %23).
 * - Optionally, after blanks (spaces or tabs), the destination key: the rest
 *   of the line, trailing blanks removed, so it may hold inner spaces. Raw
 *   UTF-8, at most URLLIST_KEY_MAX bytes, no control characters (C0, DEL, C1:
 *   a raw control byte in a text file is damage, not intent).
 * - Without one, the destination key is the URL's path without its leading
 *   '/' and without the query, percent-decoded ('+' stays '+'); it must
 *   then be non-empty, valid UTF-8 without control characters (C0, DEL, C1,
 *   written as %XX or not), at most URLLIST_KEY_MAX bytes.
 * - Blank lines and comment lines are skipped; a UTF-8 byte order mark at
 *   the start of the buffer is skipped.
 *
 * Errors are FERRY_ERR_PARSE with "NAME:LINE: what" in errbuf (NAME is
 * the name given to urllist_cursor_init, else "line"), never quoting a
 * password or a query (a presigned URL's signature): excerpts of a URL end
 * at '?'. Thread-safe; a cursor is used by one thread at a time.
 */
#ifndef FERRY_URLLIST_H
#define FERRY_URLLIST_H

#include <stddef.h>

#include "core/ferry.h"

#define URLLIST_URL_MAX 8192 /* bytes of one URL */
#define URLLIST_KEY_MAX 1023 /* bytes of a destination key (OSS's limit) */

typedef struct urllist_entry {
  char *url;     /* the URL as written (owned) */
  int https;     /* 1 for https, 0 for http */
  char *host;    /* host, lower-cased; an IPv6 literal keeps its brackets (owned) */
  int port;      /* 0 when the URL names none */
  char *target;  /* path and query as written, the request target: "/" when the
                    URL has no path (owned) */
  char *key;     /* the destination key: given, else derived (owned, non-empty) */
  int key_given; /* 1 when the line names the destination key */
  long line;     /* 1-based line number */
} urllist_entry_t;

/* Frees the strings and zeroes e; e may be NULL or already released. */
void urllist_entry_release(urllist_entry_t *e);

/*
 * Parses one line (without its '\n'; a trailing '\r' is ignored; the line
 * may hold NUL bytes, which are refused). lineno and name only label
 * messages (name NULL = "line"). On FERRY_OK, *is_entry is 1 and *out is
 * filled (release it), or *is_entry is 0 for a blank or comment line. On
 * FERRY_ERR_PARSE, *out is zeroed. out is uninitialized on entry.
 */
ferry_err_t urllist_parse_line(const char *line, size_t len, const char *name,
                               long lineno, urllist_entry_t *out, int *is_entry,
                               char *errbuf);

/* The URL for messages: without its query string (shown as "?…"), which may
 * hold a presigned signature. New string. */
char *urllist_redact(const char *url);

/* Walks a whole buffer line by line. The buffer and name are borrowed and
 * must outlive the cursor. */
typedef struct urllist_cursor {
  const char *buf;
  size_t len;
  size_t off;
  long line; /* lines consumed so far */
  const char *name;
} urllist_cursor_t;

void urllist_cursor_init(urllist_cursor_t *c, const char *buf, size_t len,
                         const char *name);

/*
 * The next entry: FERRY_OK with *eof 0 and *out filled; FERRY_OK with *eof 1
 * at the end (out zeroed); FERRY_ERR_PARSE for a bad line, which is skipped
 * (out zeroed; call again for the rest).
 */
ferry_err_t urllist_next(urllist_cursor_t *c, urllist_entry_t *out, int *eof,
                         char *errbuf);

#endif
