/*
 * engine_job.c: the copy engine's jobs. A job is one object: its outcome,
 * its end (the callback), the HEAD of the destination that applies the skip
 * policies, and the single requests (HEAD, initiate, complete, abort, list)
 * of any job.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "store/xml.h"
#include "xfer/engine_int.h"

/* ------------------------------------------------------------------------ */
/* Outcome helpers. */

/* The job's object is copied: whatever an attempt that failed before (and
 * was retried) wrote into the outcome goes, so that a copied object never
 * carries a failure's reason, code or message. reason: NULL, or "parts". */
void set_copied(job_t *j, const char *reason) {
  msg_outcome_t *o = &j->out;
  o->status = ST_COPIED;
  o->http_status = 0;
  fx_free(o->reason), o->reason = reason ? fx_strdup(reason) : NULL;
  fx_free(o->code), o->code = NULL;
  fx_free(o->request_id), o->request_id = NULL;
  fx_free(o->message), o->message = NULL;
}

void set_fail(job_t *j, msg_status_t st, const char *reason, const store_error_t *err,
              const char *msg) {
  msg_outcome_t *o = &j->out;
  o->status = st;
  fx_free(o->reason);
  o->reason = fx_strdup(reason);
  if (err) {
    o->http_status = err->http_status;
    fx_free(o->code);
    o->code = err->code[0] ? fx_strdup(err->code) : NULL;
    fx_free(o->request_id);
    o->request_id = err->request_id[0] ? fx_strdup(err->request_id) : NULL;
    fx_free(o->message);
    o->message = fx_strdup(err->message[0] ? err->message : (msg ? msg : reason));
  } else {
    fx_free(o->message);
    o->message = msg ? fx_strdup(msg) : NULL;
  }
}

/* A reason word for a store error: "access-denied", "http-503", ... */
const char *reason_of(const store_error_t *err) {
  static __thread char buf[48];
  if (store_error_is_tls(err)) return "tls";
  if (err->http_status == 0) return err->curl_code == CURLE_OPERATION_TIMEDOUT ? "timeout" : "network";
  if (!strcmp(err->code, "AccessDenied")) return "access-denied";
  if (!strcmp(err->code, "NoSuchBucket")) return "no-such-bucket";
  if (!strcmp(err->code, "SignatureDoesNotMatch")) return "signature";
  if (!strcmp(err->code, "InvalidAccessKeyId")) return "credentials";
  snprintf(buf, sizeof(buf), "http-%d", err->http_status);
  return buf;
}

/* ------------------------------------------------------------------------ */
/* Job lifecycle. */

void job_free(job_t *j) {
  int i;
  fx_free(j->dst_key);
  if (j->have_src_head) store_head_release(&j->src_head);
  fx_free(j->upload_id);
  while (j->n_stale > 0) fx_free(j->stale[--j->n_stale]);
  fx_free(j->stale);
  if (j->parts) {
    for (i = 0; i < j->n_parts; i++) fx_free(j->parts[i].etag);
    fx_free(j->parts);
  }
  fx_free(j->out.key);
  fx_free(j->out.reason);
  fx_free(j->out.code);
  fx_free(j->out.request_id);
  fx_free(j->out.message);
  fx_free(j->out.etag);
  fx_free(j->dst_etag);
  fx_free(j);
}

static void active_remove(xfer_engine_t *e, job_t *j) {
  if (j->prev) j->prev->next = j->next;
  else e->active = j->next;
  if (j->next) j->next->prev = j->prev;
  j->next = j->prev = NULL;
  e->n_active--;
}

/* Ends the job: the callback fires and the job is freed. Only when no unit of
 * the job is queued or running. */
void job_finish(xfer_engine_t *e, job_t *j) {
  msg_outcome_t *o = &j->out;
  if (j->completing) completing_del(e, j);
  if (j->is_range)
    LOG_INFO(FAC, "event=range-end segment=%s key=%s status=%s reason=%s completed_here=%d "
             "bytes=%" PRIu64, FLOG_V(j->seg->id), FLOG_Q(j->obj->key),
             msg_status_str(o->status), FLOG_V(o->reason), j->completed_here, j->range_bytes);
  o->attempts = j->attempts_total ? j->attempts_total : 1;
  o->duration_ms = (ferry_now_us() - j->start_us) / 1000;
  o->bytes = o->status == ST_COPIED ? j->bytes : 0;
  switch (o->status) {
  case ST_COPIED: e->stats.copied++; break;
  case ST_SKIPPED: e->stats.skipped++; break;
  default: e->stats.failed++; break;
  }
  if (o->status == ST_COPIED || o->status == ST_SKIPPED)
    LOG_DEBUG(FAC, "event=object status=%s key=%s bytes=%" PRIu64,
              msg_status_str(o->status), FLOG_Q(o->key), o->bytes);
  else
    LOG_INFO(FAC, "event=object status=%s reason=%s key=%s http=%d code=%s",
             msg_status_str(o->status), FLOG_V(o->reason ? o->reason : "-"),
             FLOG_Q(o->key), o->http_status, FLOG_V(o->code ? o->code : "-"));
  j->phase = PH_DONE;
  j->lim->jobs--;
  active_remove(e, j);
  e->completed_in_run++;
  {
    xfer_written_t w = {0};
    w.wrote = o->status == ST_COPIED && (!j->is_range || j->completed_here);
    w.dst_key = j->dst_key;
    w.has_crc64 = j->has_wcrc;
    w.crc64 = j->wcrc;
    w.dst_etag = j->dst_etag;
    w.existed = j->dst_existed;
    e->written = &w;
    j->cb(j->opaque, j->seg, j->index, o);
    e->written = NULL;
  }
  job_free(j);
}

void queue_single(xfer_engine_t *e, job_t *j, rq_kind_t kind, int64_t not_before) {
  unit_t *u = fx_calloc(1, sizeof(*u));
  u->job = j;
  u->kind = kind;
  u->not_before_us = not_before;
  j->units++;
  schedule(e, u);
}

void queue_pair(xfer_engine_t *e, pair_t *p, int64_t not_before) {
  unit_t *u = fx_calloc(1, sizeof(*u));
  u->job = p->job;
  u->pair = p;
  u->not_before_us = not_before;
  p->job->units++;
  schedule(e, u);
}

/* Fails the job; a started multipart upload is aborted first. */
void job_fail(xfer_engine_t *e, job_t *j, msg_status_t st, const char *reason,
              const store_error_t *err, const char *msg) {
  if (!j->finishing) set_fail(j, st, reason, err, msg);
  j->finishing = 1;
  if (j->units > 0) return;  /* the last unit to end finishes the job */
  if ((j->is_range || j->resumed) && j->range_gone && j->out.reason &&
      !strcmp(j->out.reason, "upload-aborted")) {
    /* Every part stopped: now ask the destination what became of it. */
    j->range_gone = 0;
    j->finishing = 0;
    set_copied(j, NULL);
    range_verify(e, j);
    return;
  }
  if (j->is_range && j->upload_id && j->out.reason && !strcmp(j->out.reason, "shutdown")) {
    /* A shared upload outlives this worker: its segment is redelivered. */
    fx_free(j->upload_id);
    j->upload_id = NULL;
  }
  if (!j->is_range && j->upload_id && j->phase != PH_ABORT && e->keep_uploads &&
      (j->parts_done > 0 || j->resumed) && j->out.reason &&
      !strcmp(j->out.reason, "shutdown")) {
    /* The segment is redelivered: whoever copies the object next finds
     * this upload and uploads only the parts it lacks (resume_*). One
     * continued here may hold parts not yet verified here: kept too. */
    LOG_INFO(FAC, "event=upload-left key=%s upload_id=%s parts=%d of=%d", FLOG_Q(j->dst_key),
             FLOG_V(j->upload_id), j->parts_done, j->n_parts);
    e->stats.uploads_left++;
    fx_free(j->upload_id);
    j->upload_id = NULL;
  }
  if (j->upload_id && j->phase != PH_ABORT) {
    j->phase = PH_ABORT;
    j->req_attempts = 0;
    queue_single(e, j, RQ_MPU_ABORT, 0);
    return;
  }
  job_finish(e, j);
}

void job_success(xfer_engine_t *e, job_t *j) {
  set_copied(j, NULL);
  job_finish(e, j);
}

/* The job's head from a response of its source (src = 1) or destination:
 * a size or CRC header that is present but unreadable fails the object
 * (reason "protocol"), the message naming the header and the object, rather
 * than reading as size 0 or as no CRC. Returns 0, or -1 after job_fail
 * (`finish`) or set_fail. h is filled and must be released either way. */
int head_parse(xfer_engine_t *e, job_t *j, int src, const kvlist_t *hdrs,
               store_head_t *h, int finish) {
  char eb[FERRY_ERRLEN], *what;
  store_t *s = src ? j->src : j->dst;
  ferry_err_t rc;
  what = fx_asprintf("%s:%s/%s", store_conf(s)->name,
                     src ? j->seg->src.bucket : j->seg->dst.bucket,
                     src ? j->obj->key : j->dst_key);
  rc = store_head_parse(h, store_conf(s)->type, hdrs, what, eb);
  fx_free(what);
  if (rc == FERRY_OK) return 0;
  if (finish)
    job_fail(e, j, ST_FAILED, "protocol", NULL, eb);
  else
    set_fail(j, ST_FAILED, "protocol", NULL, eb);
  return -1;
}

/* Destination request headers for a whole-object PUT or initiate. */
ferry_err_t dst_headers(job_t *j, store_req_t *r, char *errbuf) {
  kvlist_t hdrs;
  ferry_err_t err;
  xfer_engine_t *e = j->e;
  kvlist_init(&hdrs);
  policy_meta_opts_t opts;
  /* The task's own settings, carried in its segments, win over the worker's. */
  opts.class_map = j->seg->has_copy ? &j->seg->class_map : e->conf.storage_class_map;
  opts.record_src_etag = j->seg->has_copy ? j->seg->record_src_etag : e->conf.record_source_etag;
  if (!j->have_src_head) {
    kvlist_release(&hdrs);
    return FERRY_OK;
  }
  err = policy_meta_map(&j->src_head, store_conf(j->src)->type, store_conf(j->dst)->type, &opts,
                        &hdrs, errbuf);
  if (!err) kvlist_copy(&r->headers, &hdrs);
  kvlist_release(&hdrs);
  return err;
}

/* ------------------------------------------------------------------------ */
/* Single requests: HEAD dst/src, initiate, complete, abort. */

/* The query of a single request on an upload (or the bucket's uploads). */
static void single_query(job_t *j, rq_kind_t kind, store_req_t *r) {
  char marker[16];
  switch (kind) {
  case RQ_MPU_COMPLETE:
  case RQ_MPU_ABORT:
    kvlist_add(&r->query, "uploadId", j->upload_id);
    break;
  case RQ_MPU_ABORT_STALE:
    kvlist_add(&r->query, "uploadId", j->stale[j->n_stale - 1]);
    break;
  case RQ_MPU_LIST_PARTS:
    kvlist_add(&r->query, "uploadId", j->upload_id);
    kvlist_add(&r->query, "max-parts", "1000");
    if (j->list_marker > 0) {
      snprintf(marker, sizeof(marker), "%d", j->list_marker);
      kvlist_add(&r->query, "part-number-marker", marker);
    }
    break;
  case RQ_MPU_LIST_UPLOADS:
    kvlist_add(&r->query, "uploads", "");
    kvlist_add(&r->query, "prefix", j->dst_key);
    kvlist_add(&r->query, "max-uploads", "1000");
    break;
  default:
    break;
  }
}

static const char *single_method(rq_kind_t kind) {
  switch (kind) {
  case RQ_MPU_LIST_PARTS:
  case RQ_MPU_LIST_UPLOADS: return "GET";
  case RQ_MPU_INIT:
  case RQ_MPU_COMPLETE: return "POST";
  case RQ_MPU_ABORT:
  case RQ_MPU_ABORT_STALE: return "DELETE";
  default: return "HEAD";
  }
}

ferry_err_t start_single(xfer_engine_t *e, job_t *j, rq_kind_t kind) {
  store_req_t r;
  char errbuf[FERRY_ERRLEN];
  ferry_err_t err = FERRY_OK;
  store_t *s = (kind == RQ_HEAD_SRC) ? j->src : j->dst;
  const char *bucket = (kind == RQ_HEAD_SRC) ? j->seg->src.bucket : j->seg->dst.bucket;
  const char *key = (kind == RQ_HEAD_SRC) ? j->obj->key : j->dst_key;
  fbuf_t body;
  curl_off_t blen = -1;
  xreq_t *x;
  fbuf_init(&body, 0);
  x = xreq_new(j, kind);
  if (kind == RQ_MPU_LIST_UPLOADS)  /* a bucket request, by prefix */
    store_req_init_bucket(&r, store_conf(s), single_method(kind), bucket);
  else
    store_req_init(&r, store_conf(s), single_method(kind), bucket, key);
  single_query(j, kind, &r);
  if (kind == RQ_MPU_INIT) {
    kvlist_add(&r.query, "uploads", "");
    err = dst_headers(j, &r, errbuf);
    if (err) {
      set_fail(j, ST_FAILED, "metadata", NULL, errbuf);
      j->finishing = 1;
    }
    blen = 0;
  }
  if (kind == RQ_MPU_COMPLETE) {
    store_part_t *parts = fx_calloc((size_t)j->n_parts, sizeof(*parts));
    int i;
    for (i = 0; i < j->n_parts; i++) {
      parts[i].number = i + 1;
      parts[i].etag = j->parts[i].etag;
    }
    store_mpu_complete_body(&body, parts, (size_t)j->n_parts);
    fx_free(parts);
    kvlist_add(&r.headers, "Content-Type", "application/xml");
    blen = (curl_off_t)body.len;
  }
  if (!err) err = store_req_sign(&r, store_conf(s), time(NULL), errbuf);
  if (!err) err = xreq_setup(e, x, s, &r, blen);
  store_req_release(&r);
  if (err) {
    fbuf_release(&body);
    xreq_free(e, x);
    return err;
  }
  if (kind == RQ_MPU_COMPLETE) {
    curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, body.p);
  } else if (kind == RQ_MPU_INIT) {
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, "");
  }
  fbuf_release(&body);
  xreq_start(e, x);
  return FERRY_OK;
}

/* The decision after HEAD destination. */
static void on_head_dst(xfer_engine_t *e, job_t *j, long status, xreq_t *x) {
  store_head_t h;
  const char *reason = NULL;
  if (status == 404) {
    j->dst_existed = 0;
    job_start_copy(e, j);
    return;
  }
  if (head_parse(e, j, 0, &x->rhdrs, &h, 1)) {
    store_head_release(&h);
    return;
  }
  j->dst_existed = 1;
  if (policy_decide(j->seg->policy, j->obj, &h, &reason) == POLICY_ACT_SKIP) {
    store_head_release(&h);
    j->out.status = ST_SKIPPED;
    j->out.reason = fx_strdup(reason);
    job_finish(e, j);
    return;
  }
  store_head_release(&h);
  job_start_copy(e, j);
}

void job_start_copy(xfer_engine_t *e, job_t *j) {
  if (policy_use_multipart(store_conf(j->dst)->type, j->obj->size,
                           e->conf.multipart_threshold)) {
    j->phase = PH_HEAD_SRC;
    j->req_attempts = 0;
    queue_single(e, j, RQ_HEAD_SRC, 0);
    return;
  }
  j->phase = PH_PAIR;
  queue_pair(e, pair_new(j, -1, 0, j->obj->size), 0);
}

void job_retry_single(xfer_engine_t *e, job_t *j, rq_kind_t kind, const store_error_t *err) {
  long d = backoff_delay_ms(&e->backoff, j->req_attempts, err->retry_after_s, &e->rng);
  e->stats.retries++;
  LOG_INFO(FAC, "event=retry op=%s key=%s attempt=%d delay_ms=%ld http=%d code=%s",
           rq_name[kind], FLOG_Q(j->obj->key), j->req_attempts, d, err->http_status,
           FLOG_V(err->code[0] ? err->code : "-"));
  queue_single(e, j, kind, ferry_now_us() + (int64_t)d * 1000);
}

/* A single request failed (err: what the store or libcurl said). */
static void job_on_req_failed(xfer_engine_t *e, job_t *j, rq_kind_t kind, long status,
                              const store_error_t *err) {
  if (kind == RQ_HEAD_DST && status == 404) {
    j->dst_existed = 0;
    if (!j->finishing) job_start_copy(e, j);
    else job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
    return;
  }
  if (!j->finishing && status == 404 &&
      ((j->is_range && kind == RQ_MPU_LIST_PARTS) ||
       (kind == RQ_MPU_COMPLETE && (j->is_range || j->resumed || j->req_attempts > 1)))) {
    /* NoSuchUpload: completed by another worker, or aborted; or completed
     * by an earlier attempt of ours cut by complete_timeout_s. */
    complete_gone(e, j);
    return;
  }
  if (!j->is_range && kind == RQ_MPU_LIST_PARTS && status == 404 && !j->finishing) {
    /* The upload to continue is gone meanwhile: a new one. */
    fx_free(j->upload_id);
    j->upload_id = NULL;
    mpu_init(e, j);
    return;
  }
  if (kind == RQ_VERIFY_DST && status == 404 && !j->finishing) {
    range_on_verify(e, j, status, NULL);
    return;
  }
  if (kind == RQ_MPU_ABORT) {
    if (err->retryable && j->req_attempts < e->conf.max_attempts) {
      job_retry_single(e, j, kind, err);
      return;
    }
    if (j->is_range && err->http_status == 404 && j->out.reason &&
        !strcmp(j->out.reason, "integrity")) {
      /* Completed by another range before this abort: the object may hold
       * the damaged part. It stays failed ("integrity" outranks a sibling's
       * "copied": docs/fanout.md). */
      LOG_WARN(FAC, "event=damaged-upload-completed key=%s upload_id=%s code=%s: another range "
               "completed the upload before its abort; the object is reported failed",
               FLOG_Q(j->dst_key), FLOG_V(j->upload_id), FLOG_V(err->code[0] ? err->code : "-"));
      job_finish(e, j);
      return;
    }
    /* Could not abort: say so. The next copy of the key continues it
     * (or aborts it); else it is left for `--cleanup`. */
    LOG_WARN(FAC, "event=abort-failed key=%s upload_id=%s http=%d", FLOG_Q(j->dst_key),
             FLOG_V(j->upload_id), err->http_status);
    e->stats.uploads_abort_failed++;
    job_finish(e, j);
    return;
  }
  if (kind == RQ_MPU_ABORT_STALE) {
    if (err->retryable && j->req_attempts < e->conf.max_attempts) job_retry_single(e, j, kind, err);
    else stale_done(e, j, err->http_status == 404);  /* 404: gone already */
    return;
  }
  if (j->finishing) {
    job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
    return;
  }
  if (kind == RQ_HEAD_SRC && status == 404) {
    job_fail(e, j, ST_VANISHED, "vanished", err, NULL);
    return;
  }
  if (kind == RQ_MPU_LIST_UPLOADS && !(err->retryable && j->req_attempts < e->conf.max_attempts)) {
    /* Continuing is a saving, not a condition of the copy: a store that
     * does not list uploads (or refuses to) gets a new upload. */
    LOG_WARN(FAC, "event=list-uploads-failed key=%s http=%d code=%s", FLOG_Q(j->dst_key),
             err->http_status, FLOG_V(err->code[0] ? err->code : "-"));
    mpu_init(e, j);
    return;
  }
  if (err->retryable && j->req_attempts < e->conf.max_attempts) {
    job_retry_single(e, j, kind, err);
    return;
  }
  job_fail(e, j, ST_FAILED, reason_of(err), err, NULL);
}

void job_on_req(xfer_engine_t *e, xreq_t *x, CURLcode cc) {
  job_t *j = x->job;
  rq_kind_t kind = x->kind;
  long status = 0;
  store_error_t err;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  e->slots_used -= 1;
  j->units--;
  j->req_attempts++;
  j->attempts_total++;
  store_error_clear(&err);
  if (cc == CURLE_OK && status >= 200 && status < 300 && j->finishing &&
      kind != RQ_MPU_INIT && kind != RQ_MPU_ABORT && kind != RQ_MPU_ABORT_STALE) {
    xreq_free(e, x);
    job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
    return;
  }
  if (cc == CURLE_OK && status >= 200 && status < 300) {
    switch (kind) {
    case RQ_HEAD_DST:
      if (!j->finishing) on_head_dst(e, j, status, x);
      break;
    case RQ_HEAD_SRC:
      if (!j->finishing) on_head_src(e, j, x);
      break;
    case RQ_MPU_INIT: {
      char errbuf[FERRY_ERRLEN];
      char *id = NULL;
      if (store_xml_parse_initiate(x->body.p ? x->body.p : "", x->body.len, &id, errbuf)) {
        job_fail(e, j, ST_FAILED, "protocol", NULL, errbuf);
        break;
      }
      j->upload_id = id;
      if (j->finishing) {
        job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
        break;
      }
      j->phase = PH_PARTS;
      job_start_parts(e, j);
      break;
    }
    case RQ_MPU_LIST_PARTS:
      if (!j->finishing) range_on_list(e, j, x);
      break;
    case RQ_MPU_LIST_UPLOADS:
      if (!j->finishing) resume_on_uploads(e, j, x);
      break;
    case RQ_MPU_ABORT_STALE:
      stale_done(e, j, 1);
      break;
    case RQ_VERIFY_DST:
      if (!j->finishing) range_on_verify(e, j, status, x);
      break;
    case RQ_MPU_COMPLETE:
      if (!j->finishing) on_complete(e, j, x, status);
      break;
    case RQ_MPU_ABORT:
      LOG_INFO(FAC, "event=upload-aborted key=%s upload_id=%s", FLOG_Q(j->dst_key),
               FLOG_V(j->upload_id));
      e->stats.uploads_aborted++;
      fx_free(j->upload_id);
      j->upload_id = NULL;
      job_finish(e, j);
      break;
    default:
      break;
    }
    xreq_free(e, x);
    return;
  }
  /* Failure. */
  store_error_from_response(&err, cc == CURLE_OK ? (int)status : 0, &x->rhdrs, x->body.p,
                            x->body.len, cc, x->curl_err);
  store_error_name_store(&err, kind == RQ_HEAD_SRC ? j->src : j->dst);
  if (err.retryable && adapt_holds(e, j)) j->req_attempts--;  /* the store's outage */
  xreq_free(e, x);
  job_on_req_failed(e, j, kind, status, &err);
}
