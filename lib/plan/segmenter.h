/*
 * segmenter.h: the lister's streaming cut of a listing into segments.
 *
 * Objects go in one at a time, in listing order; a finished segment comes out
 * when the next object would not fit (more than max_objects objects, or more
 * than max_bytes bytes). A single object larger than max_bytes travels alone
 * in its own segment. Only the segment being filled is held: memory is
 * O(segment), whatever the size of the bucket.
 *
 * The cut depends only on the sequence of objects, so the same listing gives
 * the same segments (ids included), and a lister resumed from its checkpoint
 * — the last key of the last published segment, with seg_resume() told how
 * many segments were published — republishes exactly the segments the
 * interrupted run would have published.
 *
 * Segment ids are "<id_prefix><run>-<seq>", seq counting from 1, zero-padded
 * to six digits ("1-000042"), wider when it needs more.
 *
 * Pure, no I/O. A seg_t is used by one thread at a time.
 */
#ifndef FERRY_XFER_SEGMENTER_H
#define FERRY_XFER_SEGMENTER_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "core/ferry.h"
#include "store/store.h"

#define SEG_DEFAULT_MAX_OBJECTS 1000

typedef struct seg seg_t;

/* New segmenter for one task run. task, src, dst and id_prefix are copied
 * (src/dst prefix NULL counts as ""; id_prefix may be NULL). max_objects 0 =
 * SEG_DEFAULT_MAX_OBJECTS; max_bytes 0 = no byte limit. NULL with errbuf
 * filled when task or a location's store/bucket is missing, or run < 1. */
seg_t *seg_new(const char *task, int run, const msg_loc_t *src, const msg_loc_t *dst,
               msg_policy_t policy, size_t max_objects, uint64_t max_bytes,
               const char *id_prefix, char *errbuf);
/* Frees seg and any objects still pending (flush first to keep them). */
void seg_destroy(seg_t *seg);

/* Continues a run of which `published` segments were already handed out:
 * the next segment gets seq published + 1. Call before the first seg_add. */
void seg_resume(seg_t *seg, uint64_t published);

/* Adds one listed object (key, size, etag, mtime, crc64 when listed; the
 * storage class is not carried). *out_ready receives a finished segment
 * (new: free with seg_segment_free) when adding o closed one, else NULL.
 * FERRY_ERR_INVALID (nothing added, *out_ready NULL) when o or its key is
 * NULL or the key is empty. */
ferry_err_t seg_add(seg_t *seg, const store_object_t *o, msg_segment_t **out_ready,
                    char *errbuf);

/* The same for an object already in message form (URL lists, failed-object
 * replays): every field is copied, dst_key included. */
ferry_err_t seg_add_obj(seg_t *seg, const msg_obj_t *o, msg_segment_t **out_ready,
                        char *errbuf);

/* At the end of the listing: *out receives the last, partly filled segment
 * (new), or NULL when nothing is pending. */
void seg_flush(seg_t *seg, msg_segment_t **out);
/* The same-name policy of the segments cut from now on (flush first: the
 * pending objects would take it too). */
void seg_set_policy(seg_t *seg, msg_policy_t policy);

/* Hands out the next segment id ("<id_prefix><run>-<seq>", new string)
 * without a segment: a part range of a fanned-out object (docs/fanout.md),
 * which counts as one segment. Call with nothing pending (seg_flush first),
 * so that ids keep the listing order and a resumed listing reproduces them. */
char *seg_next_id(seg_t *seg);

/* Segments handed out so far (including those given to seg_resume). */
uint64_t seg_count(const seg_t *seg);
/* Objects and bytes waiting in the segment being filled. */
size_t seg_pending_objects(const seg_t *seg);
uint64_t seg_pending_bytes(const seg_t *seg);

/* msg_segment_release + free; NULL is fine. */
void seg_segment_free(msg_segment_t *s);

#endif
