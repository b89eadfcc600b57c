/*
 * engine_mpu.c: the copy engine's multipart jobs: HEAD of the source,
 * initiate (or continue an upload left open), parts in parallel, complete
 * and verify; and the part ranges of fanned-out objects, whose upload is
 * shared by several workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/crc64.h"
#include "core/log.h"
#include "store/xml.h"
#include "xfer/engine_int.h"

static void resume_find(xfer_engine_t *e, job_t *j);
static void range_list(xfer_engine_t *e, job_t *j, int pass);

/* ------------------------------------------------------------------------ */
/* Multipart copies: HEAD source, parts, complete. */

void on_head_src(xfer_engine_t *e, job_t *j, xreq_t *x) {
  char errbuf[FERRY_ERRLEN];
  store_head_t *h = &j->src_head;
  j->have_src_head = 1;
  if (head_parse(e, j, 1, &x->rhdrs, h, 1)) return;
  if (j->obj->etag && j->obj->etag[0] && h->etag && strcasecmp(h->etag, j->obj->etag)) {
    job_fail(e, j, ST_CHANGED, "changed", NULL, "source ETag differs from listing");
    return;
  }
  if (h->size != j->obj->size) {
    job_fail(e, j, ST_CHANGED, "changed", NULL, "source size differs from listing");
    return;
  }
  if (policy_check_size(store_conf(j->dst)->type, j->obj->size, errbuf) != FERRY_OK) {
    job_fail(e, j, ST_FAILED, "too-large", NULL, errbuf);
    return;
  }
  j->part_size = policy_part_size(store_conf(j->dst)->type, j->obj->size, e->conf.part_size);
  j->n_parts = (int)policy_part_count(j->obj->size, j->part_size);
  j->parts = fx_calloc((size_t)j->n_parts, sizeof(*j->parts));
  resume_find(e, j);
}

/* Queues parts while the job has fewer than its share in flight. */
void job_start_parts(xfer_engine_t *e, job_t *j) {
  int cap = FERRY_MAX(1, e->conf.concurrency / 2);
  int end = j->is_range ? j->part_hi : j->n_parts;
  while (j->next_part < end && j->parts_inflight < cap) {
    int i = j->next_part++;
    if (j->parts[i].done) continue;  /* a part range's part already uploaded */
    uint64_t off = (uint64_t)i * j->part_size;
    uint64_t len = FERRY_MIN(j->part_size, j->obj->size - off);
    pair_t *p = pair_new(j, i, off, len);
    p->check = j->parts[i].check;
    j->parts[i].inflight = 1;
    j->parts_inflight++;
    queue_pair(e, p, 0);
  }
}

/* The upload is no longer there (NoSuchUpload): what the destination holds
 * decides (range_on_verify). After a Complete of ours was retried, it is the
 * first attempt that completed it, so a wrong object is an integrity error. */
void complete_gone(xfer_engine_t *e, job_t *j) {
  fx_free(j->upload_id);
  j->upload_id = NULL;
  if (!j->is_range) j->completed_here = 1;
  range_verify(e, j);
}

/* A single request finished. */
/* CompleteMultipartUpload answered 2xx (COS may still say <Error>). */
void on_complete(xfer_engine_t *e, job_t *j, xreq_t *x, long status) {
  rq_kind_t kind = RQ_MPU_COMPLETE;
  char errbuf[FERRY_ERRLEN];
  char *etag = NULL;
  store_error_t perr;
  store_head_t h;
  uint64_t crc = 0;
  int i;
  ferry_err_t pe;
  store_error_clear(&perr);
  pe = store_xml_parse_complete(x->body.p ? x->body.p : "", x->body.len, &etag, &perr, errbuf);
  if (pe == FERRY_ERR_STORE && !strcmp(perr.code, "NoSuchUpload") &&
      (j->is_range || j->resumed || j->req_attempts > 1)) {
    /* Completed (or aborted) by another worker meanwhile, or by our
     * own earlier attempt whose answer was cut: verify the object. */
    complete_gone(e, j);
    return;
  }
  if (pe == FERRY_ERR_STORE) {
    perr.http_status = (int)status;
    store_error_classify(&perr);
    if (perr.retryable && j->req_attempts < e->conf.max_attempts) {
      job_retry_single(e, j, kind, &perr);
      return;
    }
    job_fail(e, j, ST_FAILED, reason_of(&perr), &perr, NULL);
    return;
  }
  if (pe) {
    job_fail(e, j, ST_FAILED, "protocol", NULL, errbuf);
    return;
  }
  fx_free(j->dst_etag);
  j->dst_etag = etag;   /* the completed object's ETag */
  /* Upload is complete: nothing to abort any more. */
  fx_free(j->upload_id);
  j->upload_id = NULL;
  if (j->is_range) {
    /* The parts' CRCs were computed by several workers: verify the
     * object as a whole (HEAD: size, CRC-64 where the stores give it). */
    j->completed_here = 1;
    range_verify(e, j);
    return;
  }
  for (i = 0; i < j->n_parts; i++) {
    uint64_t plen = FERRY_MIN(j->part_size, j->obj->size - (uint64_t)i * j->part_size);
    crc = crc64_combine(crc, j->parts[i].crc, plen);
  }
  if (head_parse(e, j, 0, &x->rhdrs, &h, 1)) {
    store_head_release(&h);
    return;
  }
  if (h.has_crc64 && h.crc64 != crc) {
    store_head_release(&h);
    job_fail(e, j, ST_FAILED, "integrity", NULL,
             "destination CRC64 of the completed upload differs from the bytes sent");
    return;
  }
  store_head_release(&h);
  {
    int has_src = j->obj->has_crc64 || (j->have_src_head && j->src_head.has_crc64);
    uint64_t src = j->obj->has_crc64 ? j->obj->crc64 : j->src_head.crc64;
    if (has_src && src != crc) {
      job_fail(e, j, ST_FAILED, "integrity", NULL,
               "CRC64 of the bytes read differs from the source's");
      return;
    }
  }
  j->bytes = j->obj->size;
  j->has_wcrc = 1;
  j->wcrc = crc;
  job_success(e, j);
}

/* ------------------------------------------------------------------------ */
/* Continuing an upload left open (docs/worker.md, "Shutdown and continued
 * uploads"). Before initiating, a multipart copy asks the destination for
 * the open uploads of its key (ListMultipartUploads, prefix = the key). None:
 * it initiates one. Else it continues the newest (the others are aborted,
 * nobody else would finish them), lists its parts (ListParts, as part
 * ranges do), and re-reads from the source each part present with its size
 * and an MD5 ETag: the same MD5 keeps the part (no upload), any difference,
 * or an ETag that is not an MD5, uploads it again. Every part's CRC-64 is
 * then known, so the object is verified as any multipart copy. */

void mpu_init(xfer_engine_t *e, job_t *j) {
  j->phase = PH_MPU_INIT;
  j->req_attempts = 0;
  j->resumed = 0;
  queue_single(e, j, RQ_MPU_INIT, 0);
}

static void resume_find(xfer_engine_t *e, job_t *j) {
  j->phase = PH_MPU_INIT;
  j->req_attempts = 0;
  queue_single(e, j, RQ_MPU_LIST_UPLOADS, 0);
}

/* Aborts the other open uploads of the key one at a time, then lists the
 * parts of the one continued. */
static void stale_next(xfer_engine_t *e, job_t *j) {
  if (j->n_stale > 0) {
    j->req_attempts = 0;
    queue_single(e, j, RQ_MPU_ABORT_STALE, 0);
    return;
  }
  if (j->finishing) {
    job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
    return;
  }
  range_list(e, j, 0);
}

void stale_done(xfer_engine_t *e, job_t *j, int aborted) {
  char *id = j->stale[--j->n_stale];
  if (aborted) {
    LOG_INFO(FAC, "event=upload-aborted key=%s upload_id=%s reason=another-continued",
             FLOG_Q(j->dst_key), FLOG_V(id));
    e->stats.uploads_aborted++;
  } else {
    LOG_WARN(FAC, "event=abort-failed key=%s upload_id=%s", FLOG_Q(j->dst_key), FLOG_V(id));
    e->stats.uploads_abort_failed++;
  }
  fx_free(id);
  stale_next(e, j);
}

void resume_on_uploads(xfer_engine_t *e, job_t *j, xreq_t *x) {
  store_uploads_t ups;
  char errbuf[FERRY_ERRLEN];
  long best;
  size_t i;
  if (store_xml_parse_list_uploads(x->body.p ? x->body.p : "", x->body.len, &ups, errbuf)) {
    LOG_WARN(FAC, "event=list-uploads-failed key=%s error=%s", FLOG_Q(j->dst_key),
             FLOG_Q(errbuf));
    mpu_init(e, j);
    return;
  }
  best = policy_resume_pick(ups.uploads, ups.n, j->dst_key);
  if (best < 0) {
    store_uploads_release(&ups);
    mpu_init(e, j);
    return;
  }
  for (i = 0; i < ups.n; i++) {
    if ((long)i == best || !policy_upload_is_of(&ups.uploads[i], j->dst_key)) continue;
    j->stale = fx_realloc(j->stale, (size_t)(j->n_stale + 1) * sizeof(*j->stale));
    j->stale[j->n_stale++] = fx_strdup(ups.uploads[i].upload_id);
  }
  j->upload_id = fx_strdup(ups.uploads[best].upload_id);
  j->resumed = 1;
  e->stats.uploads_resumed++;
  LOG_INFO(FAC, "event=upload-found key=%s upload_id=%s others=%d", FLOG_Q(j->dst_key),
           FLOG_V(j->upload_id), j->n_stale);
  store_uploads_release(&ups);
  stale_next(e, j);
}

/* The continued upload's parts are listed (range_on_list): those present
 * with their size and an MD5 ETag are checked against the source, the rest
 * uploaded. */
static void resume_after_listing(xfer_engine_t *e, job_t *j) {
  int i, present = 0;
  for (i = 0; i < j->n_parts; i++) {
    part_state_t *ps = &j->parts[i];
    ps->check = ps->listed && ps->etag && policy_etag_is_md5(ps->etag);
    present += ps->listed;
  }
  LOG_INFO(FAC, "event=upload-resumed key=%s upload_id=%s parts=%d present=%d",
           FLOG_Q(j->dst_key), FLOG_V(j->upload_id), j->n_parts, present);
  j->phase = PH_PARTS;
  j->next_part = 0;
  job_start_parts(e, j);
}

/* A present part was read back from the source: kept when its MD5 is the
 * listed ETag, else uploaded again. */
void resume_check_done(xfer_engine_t *e, pair_t *p) {
  job_t *j = p->job;
  part_state_t *ps = &j->parts[p->part];
  if (md5_matches(p->md5, ps->etag)) {
    e->stats.parts_reused++;
    p->put_etag = fx_strdup(ps->etag);
    pair_end(e, p, 1, NULL, 0);
    return;
  }
  LOG_INFO(FAC, "event=part-differs key=%s part=%d upload_id=%s", FLOG_Q(j->dst_key),
           p->part + 1, FLOG_V(j->upload_id));
  e->slots_used -= pair_slots(p);
  j->units--;
  p->check = ps->check = 0;
  pair_reset(e, p);
  queue_pair(e, p, 0);
}

/* ------------------------------------------------------------------------ */
/* Part ranges of fanned-out objects (docs/fanout.md). The upload was
 * initiated by the lister and is shared by the workers of its ranges; the
 * destination is the only state. A job lists the upload's parts (skipping
 * its own that are already there, after a redelivery), uploads the rest of
 * its range, lists again, and completes the upload when every part of the
 * object is present with its size: the last range to finish always sees
 * them all. An upload gone (NoSuchUpload) means completed by another or
 * aborted: a HEAD of the destination tells which. A failure of the range
 * aborts the upload (job_fail), so the other ranges stop at NoSuchUpload. */

void range_start(xfer_engine_t *e, job_t *j) {
  const msg_range_t *rg = &j->seg->range;
  if (rg->parts_total < 1 || rg->part_first < 1 || rg->part_last < rg->part_first ||
      rg->part_last > rg->parts_total || !rg->upload_id ||
      policy_part_count(j->obj->size, rg->part_size) != (uint32_t)rg->parts_total) {
    job_fail(e, j, ST_FAILED, "protocol", NULL, "part range does not fit the object");
    return;
  }
  j->upload_id = fx_strdup(rg->upload_id);
  j->part_size = rg->part_size;
  j->n_parts = rg->parts_total;
  j->parts = fx_calloc((size_t)j->n_parts, sizeof(*j->parts));
  j->part_lo = rg->part_first - 1;
  j->part_hi = rg->part_last;
  LOG_INFO(FAC, "event=range-start segment=%s key=%s parts=%d-%d of=%d upload_id=%s",
           FLOG_V(j->seg->id), FLOG_Q(j->obj->key), rg->part_first, rg->part_last,
           rg->parts_total, FLOG_V(j->upload_id));
  range_list(e, j, 0);
}

static void range_list(xfer_engine_t *e, job_t *j, int pass) {
  int i;
  j->phase = PH_RANGE_LIST;
  j->list_pass = pass;
  j->list_marker = 0;
  j->list_pages = 0;
  for (i = 0; i < j->n_parts; i++) j->parts[i].listed = 0;
  j->req_attempts = 0;
  queue_single(e, j, RQ_MPU_LIST_PARTS, 0);
}

/* Uploads being completed by a job of this engine: a sibling range of the
 * same object that also sees every part leaves it to that job (one Complete
 * per worker, whatever the number of its ranges). */
static int completing_has(const xfer_engine_t *e, const char *id) {
  size_t i;
  for (i = 0; i < e->n_completing; i++)
    if (strcmp(e->completing[i], id) == 0) return 1;
  return 0;
}

static void completing_add(xfer_engine_t *e, job_t *j) {
  if (e->n_completing == e->cap_completing) {
    e->cap_completing = e->cap_completing ? e->cap_completing * 2 : 4;
    e->completing = fx_realloc(e->completing, e->cap_completing * sizeof(*e->completing));
  }
  e->completing[e->n_completing++] = fx_strdup(j->upload_id);
  j->completing = 1;
}

/* A range that found one of its parts stored damaged holds the upload as
 * its completer would, so that no sibling range of this engine completes it
 * before the range's abort (engine_pair.c, pair_integrity). */
void range_poison(xfer_engine_t *e, job_t *j) {
  if (!j->completing && j->upload_id && !completing_has(e, j->upload_id)) completing_add(e, j);
}

void completing_del(xfer_engine_t *e, job_t *j) {
  size_t i;
  j->completing = 0;
  for (i = 0; i < e->n_completing; i++) {
    if (strcmp(e->completing[i], j->seg->range.upload_id) != 0) continue;
    fx_free(e->completing[i]);
    e->completing[i] = e->completing[--e->n_completing];
    return;
  }
}

/* Every part of the object listed with its size: complete the upload with
 * the listed ETags. Else, after the upload, this range is done and another
 * range will complete. */
static void range_after_listing(xfer_engine_t *e, job_t *j) {
  int i, all = 1;
  if (!j->is_range) {
    resume_after_listing(e, j);
    return;
  }
  for (i = 0; i < j->n_parts && all; i++) all = j->parts[i].listed;
  if (j->list_pass == 0) {
    /* Before uploading: the parts of the range already there stay. */
    j->range_parts = 0;
    for (i = j->part_lo; i < j->part_hi; i++) {
      j->parts[i].done = j->parts[i].listed;
      if (!j->parts[i].done) j->range_parts++;
    }
    if (j->range_parts > 0) {
      j->phase = PH_PARTS;
      j->next_part = j->part_lo;
      job_start_parts(e, j);
      return;
    }
  }
  if (all && !completing_has(e, j->upload_id)) {
    /* Ranges whose last parts end together (within a ListParts round trip)
     * all see every part. The range holding the object's last part
     * completes at once; one k ranges before it waits 0.5 s per range (at
     * most 2 s), so that of several completers the first has usually begun
     * before the next and the next meets NoSuchUpload. The pause is paid
     * whenever the last range to finish is not the object's last, so it is
     * kept short: it was 2 s per range up to 20 s, a quarter of a 256 MiB
     * object's copy on the WAN bed. A second Complete is harmless anyway
     * (it completes the same parts again, or meets NoSuchUpload, and
     * verifies). */
    int span = j->part_hi - j->part_lo;
    int k = (j->n_parts - j->part_hi + span - 1) / (span > 0 ? span : 1);
    int64_t wait_ms = (int64_t)FERRY_MIN(k, 4) * 500 + (int64_t)backoff_rng_upto(&e->rng, 250);
    j->phase = PH_COMPLETE;
    j->req_attempts = 0;
    completing_add(e, j);
    queue_single(e, j, RQ_MPU_COMPLETE, ferry_now_us() + wait_ms * 1000);
    return;
  }
  fx_free(j->upload_id);  /* not ours to abort any more */
  j->upload_id = NULL;
  set_copied(j, "parts");
  j->bytes = j->range_bytes;
  job_finish(e, j);
}

void range_parts_done(xfer_engine_t *e, job_t *j) {
  range_list(e, j, 1);
}

void range_on_list(xfer_engine_t *e, job_t *j, xreq_t *x) {
  store_parts_t ps;
  char errbuf[FERRY_ERRLEN];
  size_t k;
  if (store_xml_parse_list_parts(x->body.p ? x->body.p : "", x->body.len, &ps, errbuf)) {
    job_fail(e, j, ST_FAILED, "protocol", NULL, errbuf);
    return;
  }
  for (k = 0; k < ps.n; k++) {
    const store_part_t *sp = &ps.parts[k];
    uint64_t off, len;
    part_state_t *st;
    if (sp->number < 1 || sp->number > j->n_parts || !sp->etag) continue;
    if (policy_part_range(j->obj->size, j->part_size, (uint32_t)sp->number, &off, &len) ||
        sp->size != len)
      continue;  /* a part cut differently (or half written) is uploaded again */
    st = &j->parts[sp->number - 1];
    st->listed = 1;
    fx_free(st->etag);
    st->etag = fx_strdup(sp->etag);
  }
  if (ps.truncated && ps.next_marker > j->list_marker && ++j->list_pages < 20) {
    j->list_marker = ps.next_marker;
    store_parts_release(&ps);
    j->req_attempts = 0;
    queue_single(e, j, RQ_MPU_LIST_PARTS, 0);
    return;
  }
  store_parts_release(&ps);
  range_after_listing(e, j);
}

void range_verify(xfer_engine_t *e, job_t *j) {
  j->phase = PH_VERIFY;
  j->req_attempts = 0;
  queue_single(e, j, RQ_VERIFY_DST, 0);
}

/* The upload is no longer open: the object at the destination must be the
 * one the ranges make (size; CRC-64 when both stores give it; a multipart
 * ETag's part count). Else it was aborted (another range failed, or a
 * cleanup), or — when this job completed it — it is corrupt. */
void range_on_verify(xfer_engine_t *e, job_t *j, long status, xreq_t *x) {
  store_head_t h;
  const char *why = NULL;
  char msg[160];
  if (status == 404 || !x) {
    why = "the upload is gone and the destination has no object";
  } else {
    const char *dash;
    store_head_from_headers(&h, store_conf(j->dst)->type, &x->rhdrs);
    dash = h.etag ? strrchr(h.etag, '-') : NULL;
    if (h.size != j->obj->size) {
      snprintf(msg, sizeof(msg), "the upload is gone and the destination object has %llu "
               "bytes, not %llu", (unsigned long long)h.size, (unsigned long long)j->obj->size);
      why = msg;
    } else if (h.has_crc64 && (j->obj->has_crc64 || (j->have_src_head && j->src_head.has_crc64)) &&
               h.crc64 != (j->obj->has_crc64 ? j->obj->crc64 : j->src_head.crc64)) {
      /* The source's CRC from the listing, or from the HEAD a multipart
       * copy made (a bucket listing carries none): an older object of the
       * same size and part count left at the destination is told apart. */
      why = "destination CRC64 differs from the source's";
    } else if (dash && atoi(dash + 1) > 0 && atoi(dash + 1) != j->n_parts) {
      snprintf(msg, sizeof(msg), "the upload is gone and the destination object has %d "
               "parts, not %d", atoi(dash + 1), j->n_parts);
      why = msg;
    }
    if (!why && h.etag && !j->dst_etag) j->dst_etag = fx_strdup(h.etag);
    if (!why && h.has_crc64) {
      j->has_wcrc = 1;
      j->wcrc = h.crc64;
    }
    store_head_release(&h);
  }
  if (why) {
    job_fail(e, j, ST_FAILED, j->completed_here ? "integrity" : "upload-aborted", NULL, why);
    return;
  }
  set_copied(j, NULL);
  j->bytes = j->is_range ? j->range_bytes : j->obj->size;
  job_finish(e, j);
}
