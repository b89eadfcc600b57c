/*
 * scan.h: the lister's listing cursors, one object at a time, and the
 * merge-join of a source and a destination listing by relative key (for
 * --verify and --incremental).
 *
 * A cursor lists store:bucket/prefix page by page (ListObjectsV2,
 * lister.page_size keys a page), retrying retryable errors with backoff
 * (worker.max_attempts, worker.backoff_*), and checks that keys come in
 * strictly increasing byte order: the join relies on it, so a listing out
 * of order is an error rather than a wrong report. Memory: one page.
 *
 * One owner thread.
 */
#ifndef FERRY_LISTER_SCAN_H
#define FERRY_LISTER_SCAN_H

#include "conf/config.h"
#include "store/client.h"

typedef struct lscan lscan_t;

/* Called while waiting before a retry (e.g. to serve Kafka delivery
 * reports); it must return after about ms milliseconds. NULL = sleep. */
typedef ferry_err_t (*lscan_wait_fn)(void *ctx, int ms, char *errbuf);

/* New cursor over loc (a store location of conf). start_after may be NULL
 * (a full key). FERRY_ERR_CONFIG when the store is not in the config or
 * cannot be used. */
lscan_t *lscan_new(const ferry_conf_t *conf, const conf_loc_t *loc, const char *start_after,
                   char *errbuf);
void lscan_destroy(lscan_t *c);
void lscan_set_wait(lscan_t *c, lscan_wait_fn fn, void *ctx);
/* ordered 1 (the default): keys out of increasing byte order are an error,
 * as the merge-joins (--verify, --incremental) need. 0: taken as listed
 * (--estimate, --dry-run count and list; s3rver lists `a-1` before `a`). */
void lscan_set_ordered(lscan_t *c, int ordered);

/*
 * The next object: *o (borrowed until the next call) and *rel, its key
 * relative to the prefix; *o is NULL at the end. Errors: the listing failed
 * after retries (errbuf names store, bucket and prefix), a store that does
 * not advance (store/listcur.h), keys out of order when ordered
 * (FERRY_ERR_STORE), interrupted (lister_stop: FERRY_ERR_TIMEOUT).
 */
ferry_err_t lscan_next(lscan_t *c, const store_object_t **o, const char **rel,
                       char *errbuf);
/* Pages fetched so far. */
unsigned long lscan_pages(const lscan_t *c);
/* The cursor's store (borrowed), for HEADs on the same connection. */
store_t *lscan_store(lscan_t *c);

/*
 * The merge-join: each call gives the next relative key present on either
 * side, in order, with the source object (or NULL) and the destination
 * object (or NULL); both NULL at the end. The objects are borrowed until the
 * next call.
 */
typedef struct ljoin {
  lscan_t *src, *dst;
  const store_object_t *so, *dobj;
  const char *srel, *drel;
  int started;
  int handed;              /* LJOIN_SRC | LJOIN_DST: given out by the last call */
} ljoin_t;

enum { LJOIN_SRC = 1, LJOIN_DST = 2 };

void ljoin_init(ljoin_t *j, lscan_t *src, lscan_t *dst);
ferry_err_t ljoin_next(ljoin_t *j, const store_object_t **s, const store_object_t **d,
                       const char **rel, char *errbuf);

#endif
