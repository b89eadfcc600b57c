/*
 * listfile.h: a streaming reader of object lists fed back to the lister
 * (`ferry-lister --from-list FILE`): the reporter's failed-object exports.
 *
 * Two formats, told apart by the first non-blank character of the file:
 *   - JSON lines ('{'): one object per line with a string "key"; "size"
 *     (non-negative integer) and "etag" (string) are used when present,
 *     other members are ignored; blank lines are skipped.
 *   - CSV (anything else): RFC 4180 (fields separated by ',', quoted with
 *     '"', '""' for a quote, quoted fields may hold ',' and newlines, CRLF
 *     or LF). The first row is a header naming the columns; "key" is
 *     required, "size" and "etag" are used when present (names matched
 *     without regard to case or surrounding blanks). A UTF-8 BOM is skipped.
 *     A key or etag that begins with a single quote loses that one quote:
 *     the export writes values beginning with '=', '+', '-', '@', TAB, CR
 *     or a quote with a quote before them (spreadsheet formula injection,
 *     tally.h tally_csv_field), so "'=x" is the key "=x" and "''a" is "'a".
 * Keys are full source keys, raw UTF-8, as the export writes them.
 *
 * Entries come one at a time: memory is O(longest entry), whatever the
 * file's length. A bad entry is reported (FERRY_ERR_PARSE, "FILE:LINE: why")
 * and skipped; the next call goes on after it.
 *
 * A listfile_t is used by one thread at a time.
 */
#ifndef FERRY_XFER_LISTFILE_H
#define FERRY_XFER_LISTFILE_H

#include <stdio.h>

#include "model/model.h"
#include "core/ferry.h"

typedef struct listfile listfile_t;

/* Opens path ("-" = standard input) and reads the CSV header if any. NULL
 * with errbuf filled when the file cannot be opened or a CSV header has no
 * "key" column. */
listfile_t *listfile_open(const char *path, char *errbuf);
/* The same over an open stream (borrowed: not closed by listfile_close);
 * name stands for the file in messages. */
listfile_t *listfile_from_stream(FILE *f, const char *name, char *errbuf);
/* Closes the file (unless it was given as a stream) and frees lf. */
void listfile_close(listfile_t *lf);

/*
 * Reads the next entry into *out (uninitialized on entry): key set; size
 * and etag from the file when present, else 0 / NULL; mtime -1; no crc64;
 * no dst_key. Release it with msg_obj_release.
 * Returns FERRY_OK with *eof 0 for an entry, FERRY_OK with *eof 1 at the
 * end (out zeroed), FERRY_ERR_PARSE for a bad entry (skipped; out zeroed;
 * call again), FERRY_ERR_IO on a read error (stop).
 */
ferry_err_t listfile_next(listfile_t *lf, msg_obj_t *out, int *eof, char *errbuf);

/* Line number where the last entry returned began (1-based). */
long listfile_line(const listfile_t *lf);

#endif
