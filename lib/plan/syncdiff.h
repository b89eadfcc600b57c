/*
 * syncdiff.h: is a destination object in step with its source, judged from
 * the two listings alone (no HEAD)? The verdicts of `ferry-lister --verify`
 * and the selection of `--incremental` (docs/lister.md, "Verify and
 * incremental sync").
 *
 * For a source object and the destination object of the same relative key:
 *   1. sizes differ                                   -> SD_SIZE
 *   2. both carry a CRC-64: they differ               -> SD_CRC64, equal -> SD_SAME
 *   3. both ETags are single-part MD5s (32 hex digits): they differ -> SD_ETAG,
 *      equal -> SD_SAME (compared case-insensitively: OSS writes upper case)
 *   4. nothing conclusive: the source was modified after the destination
 *      object was written (source mtime > destination mtime, both known)
 *      -> SD_NEWER, else SD_SAME.
 * A content checksum that matches wins over the dates: a source re-uploaded
 * with the same bytes is not copied again. Multipart ETags ("...-N") and
 * listings without CRC-64 fall through to the dates.
 *
 * Pure, thread-safe.
 */
#ifndef FERRY_XFER_SYNCDIFF_H
#define FERRY_XFER_SYNCDIFF_H

#include "store/store.h"

typedef enum sd_kind {
  SD_SAME = 0,
  SD_MISSING,  /* at the source, not at the destination */
  SD_SIZE,
  SD_CRC64,
  SD_ETAG,
  SD_NEWER,    /* source modified after the destination copy */
  SD_EXTRA     /* at the destination, not at the source */
} sd_kind_t;

#define SD_KINDS 7

/* "same", "missing", "size", "crc64", "etag", "newer", "extra" (static). */
const char *sd_kind_str(sd_kind_t k);

/* The verdict for src and dst of the same relative key (both non-NULL). */
sd_kind_t sd_compare(const store_object_t *src, const store_object_t *dst);

/* Orders relative keys as the stores list them: by bytes, unsigned (UTF-8
 * code point order). <0, 0, >0. */
int sd_key_cmp(const char *a, const char *b);

#endif
