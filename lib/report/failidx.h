/*
 * failidx.h: the reporter's on-disk key index — (task id, object key) ->
 * opaque value, in key order — so that the tally's memory does not grow with
 * the number of failed objects (docs/reporter.md, "Memory").
 *
 * Backed by LMDB (a B+tree in one memory-mapped file): lookups, updates and
 * ordered scans without a hand-written on-disk structure. The index is a
 * cache of what the topics say: it lives in a fresh directory made under
 * the given parent at open and removed at close, and every start rebuilds
 * it from the topics, so nothing is ever synced to disk.
 *
 * Keys longer than LMDB's key limit share an LMDB record with the keys of
 * the same leading bytes (a bucket, ordered inside), so any key up to the
 * stores' 1024 bytes (and beyond) works and scans stay in strcmp order.
 *
 * RAM: one write transaction is kept open and committed every
 * FAILIDX_BATCH changes, so its dirty pages are bounded; the file's pages
 * mapped into the process are dropped from it (madvise) every 16 384
 * operations, so they stay in the page cache, not in the reporter's RSS.
 *
 * Not thread-safe: one owner at a time, under the caller's lock (the
 * reporter's tally mutex). Without LMDB's lock (MDB_NOLOCK) no transaction
 * is tied to the thread that began it, so threads may take turns.
 */
#ifndef FERRY_BUS_FAILIDX_H
#define FERRY_BUS_FAILIDX_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/ferry.h"

typedef struct failidx failidx_t;

/* Opens a new, empty index in a new directory under parent (NULL or "":
 * $TMPDIR, else /tmp). NULL on failure, errbuf saying why. */
failidx_t *failidx_open(const char *parent, char *errbuf);
/* Closes it and removes its files. */
void failidx_close(failidx_t *x);
/* The directory it lives in. */
const char *failidx_dir(const failidx_t *x);

/* Value of (tid, key) into val (reset first): 1 found, 0 absent, -1 error
 * (failidx_error). */
int failidx_get(failidx_t *x, uint32_t tid, const char *key, fbuf_t *val);
/* Sets (tid, key) to v[0..n); n == 0 deletes it. 0, or -1 on error. */
int failidx_put(failidx_t *x, uint32_t tid, const char *key, const void *v, size_t n);

/*
 * Calls cb for every key of tid after `after` (every key when NULL), in
 * strcmp order, until cb returns nonzero. cb may replace the value: it sets
 * *repl to the new bytes (an empty fbuf_t given to it, n == 0 deletes) and
 * *replace = 1. Returns 1 when cb stopped the scan, 0 at the end, -1 on
 * error. cb must not call other failidx functions.
 */
typedef int (*failidx_cb)(void *arg, const char *key, const void *v, size_t n,
                          fbuf_t *repl, int *replace);
int failidx_scan(failidx_t *x, uint32_t tid, const char *after, failidx_cb cb, void *arg);

/* The last error, "" when none. */
const char *failidx_error(const failidx_t *x);
/* Bytes used in the file (pages in use x page size). */
uint64_t failidx_bytes(failidx_t *x);

#endif
