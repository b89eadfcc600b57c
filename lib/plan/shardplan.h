/*
 * shardplan.h: how a sharded listing (lister.shards > 1) splits a task's key
 * space, and which shard a key belongs to.
 *
 * A shard is a key range (lo, hi]: the keys k with lo < k <= hi in byte order
 * (strcmp: UTF-8 byte order, as ListObjectsV2 returns keys), lo NULL = from
 * the start, hi NULL = to the end. It is listed with start-after = lo and
 * stops at the first key > hi. The bounds are any strings — usually a common
 * prefix "a/b/" or a key found by the discovery below — so every key of the
 * bucket lies in exactly one shard whatever the discovery saw: the plan only
 * decides the balance, never the correctness. (A bound that is a common prefix
 * "x/" puts a directory-marker key "x/" itself in the shard before.)
 *
 * Discovery: a delimited listing ("/") at the task prefix gives the entries
 * directly under it, common prefixes and keys, merged in order. While there
 * are fewer than 4 entries per shard and some are prefixes, each prefix is
 * replaced by the entries under it (at most SHARDPLAN_MAX_DEPTH levels), so
 * one big prefix ("data/") still splits. At most max_entries entries are held
 * (memory is bounded, not O(bucket)); a level with more is cut there, and the
 * last shard then also covers everything after the last entry seen. With no
 * entry at all (an empty prefix; s3rver's delimited listing of a bucket root
 * answers nothing), or fewer than two, there is one shard. The shards get
 * equal numbers of entries: the sizes of prefixes are unknown.
 *
 * Pure apart from the listing callback; no globals.
 */
#ifndef FERRY_XFER_SHARDPLAN_H
#define FERRY_XFER_SHARDPLAN_H

#include <stddef.h>

#include "core/ferry.h"
#include "store/xml.h"

#define SHARDPLAN_MAX_SHARDS 256
#define SHARDPLAN_MAX_DEPTH 3
#define SHARDPLAN_DEFAULT_MAX_ENTRIES 10000

/* One delimited ListObjectsV2 page ("/") under prefix (never NULL; "" = the
 * root), continuing from token (NULL first). *page is filled as store_list
 * fills it and released by the caller. */
typedef ferry_err_t (*shardplan_list_fn)(void *ctx, const char *prefix, const char *token,
                                         store_list_page_t *page, char *errbuf);

typedef struct shard_range {
  char *lo;   /* exclusive, NULL = from the start */
  char *hi;   /* inclusive, NULL = to the end */
} shard_range_t;

typedef struct shardplan {
  shard_range_t *shards;   /* owned, n >= 1 */
  size_t n;
  size_t entries;          /* entries discovered (for the log) */
  int cut;                 /* 1: discovery stopped at max_entries */
  unsigned long pages;     /* listing pages discovery fetched */
} shardplan_t;

/*
 * Splits entries (sorted strictly increasing, borrowed) into at most `shards`
 * ranges of about equal entry counts: *out gets n = min(shards, n_entries)
 * ranges (1 when n_entries < 2); shard j >= 1 starts after entry
 * floor(j * n_entries / n), a copy of which is its lo and shard j - 1's hi.
 * shards < 1 counts as 1, more than SHARDPLAN_MAX_SHARDS as that.
 */
void shardplan_split(const char *const *entries, size_t n_entries, size_t shards,
                     shardplan_t *out);

/* Discovers the entries under prefix with list (see above) and splits them.
 * max_entries 0 = SHARDPLAN_DEFAULT_MAX_ENTRIES. Errors: list's. */
ferry_err_t shardplan_discover(shardplan_list_fn list, void *ctx, const char *prefix,
                               size_t shards, size_t max_entries, shardplan_t *out,
                               char *errbuf);

/* Where key lies against (lo, hi]: -1 at or before lo, 0 inside, 1 after hi. */
int shardplan_where(const char *key, const char *lo, const char *hi);

void shardplan_release(shardplan_t *p);

#endif
