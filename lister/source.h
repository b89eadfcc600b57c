/*
 * source.h: the objects a task would copy, one at a time, after its filters:
 *
 *   LSRC_LIST         the source listing (what a plain run publishes);
 *   LSRC_INCREMENTAL  the source objects that are missing or changed at the
 *                     destination, from a merge-join of both listings
 *                     (plan/syncdiff.h says what "changed" means);
 *   LSRC_URLS         a URL-list source (urls:/path): each URL is read with
 *                     HEAD for its size, ETag and date; the object's key is the
 *                     URL and its dst_key the destination prefix + the list's
 *                     key for it.
 *
 * --estimate, --dry-run and the publishing runs of --incremental and URL
 * lists all read this stream, so they agree on what would be copied.
 * One owner thread.
 */
#ifndef FERRY_LISTER_SOURCE_H
#define FERRY_LISTER_SOURCE_H

#include <stdint.h>

#include "bus/msg.h"
#include "conf/config.h"
#include "lister/scan.h"
#include "plan/syncdiff.h"

typedef enum lsrc_mode { LSRC_LIST = 0, LSRC_INCREMENTAL, LSRC_URLS } lsrc_mode_t;

typedef struct lsrc lsrc_t;

typedef struct lsrc_stats {
  uint64_t examined;       /* source objects (or URL entries) seen */
  uint64_t filtered;       /* left out by the task's filters */
  uint64_t in_step;        /* incremental: already at the destination, same */
  uint64_t by_kind[SD_KINDS]; /* incremental: why each object is copied */
  uint64_t bad;            /* URL lists: entries not usable (reported on stderr) */
  uint64_t head_failed;    /* URL lists: HEAD failed; published with size 0 */
} lsrc_stats_t;

/* New stream for task t (borrowed, as conf). Errors: FERRY_ERR_CONFIG (a
 * store missing or unusable), FERRY_ERR_IO (the URL list cannot be read). */
lsrc_t *lsrc_new(const ferry_conf_t *conf, const task_conf_t *t, lsrc_mode_t mode,
                 char *errbuf);
void lsrc_destroy(lsrc_t *s);
void lsrc_set_wait(lsrc_t *s, lscan_wait_fn fn, void *ctx);

/* The next object to copy: *o borrowed until the next call, NULL at the end;
 * *why (may be NULL) says why (SD_MISSING for a plain listing). Errors as
 * lscan_next's. */
ferry_err_t lsrc_next(lsrc_t *s, const msg_obj_t **o, sd_kind_t *why, char *errbuf);

/* Listing pages of the source so far (0 for URL lists). */
unsigned long lsrc_pages(const lsrc_t *s);
void lsrc_stats(const lsrc_t *s, lsrc_stats_t *out);

#endif
