/*
 * engine_pair.c: the copy engine's pairs. A pair couples a source GET and a
 * destination PUT (a whole object or one part) through a ring buffer, with
 * flow control both ways, and checks the bytes on the way (CRC-64, MD5).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/crc64.h"
#include "core/enc.h"
#include "core/log.h"
#include "xfer/engine_int.h"
#include "xfer/flow.h"

/* ------------------------------------------------------------------------ */
/* Ring buffer of a pair. */

static size_t ring_write(pair_t *p, const char *src, size_t n) {
  size_t done = 0;
  while (done < n && p->fill < p->cap) {
    size_t tail = (p->head + p->fill) % p->cap;
    size_t room = FERRY_MIN(p->cap - p->fill, p->cap - tail);
    size_t k = FERRY_MIN(room, n - done);
    memcpy(p->ring + tail, src + done, k);
    p->fill += k;
    done += k;
  }
  return done;
}

static size_t ring_read(pair_t *p, char *dst, size_t n) {
  size_t done = 0;
  while (done < n && p->fill > 0) {
    size_t k = FERRY_MIN(p->fill, p->cap - p->head);
    k = FERRY_MIN(k, n - done);
    memcpy(dst + done, p->ring + p->head, k);
    p->head = (p->head + k) % p->cap;
    p->fill -= k;
    done += k;
  }
  return done;
}

/* ------------------------------------------------------------------------ */
/* Pairs. */

/* The ring is taken when the pair's GET starts, not when the pair is queued:
 * a multipart job queues up to concurrency / 2 parts, and with several large
 * objects most of them wait for a slot. Memory is then bounded by the pairs
 * running (concurrency / 2), not by the parts queued. A small object is
 * read into a buffer of its own size (up to small_threshold): up to
 * `concurrency` of them run, and pooled rings would hold buffer_size each. */
static void pair_ring_take(xfer_engine_t *e, pair_t *p) {
  if (p->ring) return;
  if (!p->wait_whole && p->cap <= e->rings.size) {
    p->ring = bufpool_get(&e->rings);
    p->ring_pooled = 1;
  } else {
    p->ring = fx_malloc(p->cap);
    p->ring_pooled = 0;
    e->other_ring_bytes += p->cap;  /* the adaptive limit's memory budget */
  }
}

static void pair_ring_give(xfer_engine_t *e, pair_t *p) {
  if (!p->ring) return;
  if (p->ring_pooled) bufpool_put(&e->rings, p->ring);
  else fx_free(p->ring), e->other_ring_bytes -= p->cap;
  p->ring = NULL;
  p->ring_pooled = 0;
}

void pair_free(xfer_engine_t *e, pair_t *p) {
  size_t i;
  if (!p) return;
  for (i = 0; i < e->n_put_pending; i++)
    if (e->put_pending[i] == p) e->put_pending[i] = NULL;
  xreq_free(e, p->get);
  xreq_free(e, p->put);
  pair_ring_give(e, p);
  if (p->md5) EVP_MD_CTX_free(p->md5);
  fx_free(p->put_etag);
  fx_free(p);
}

pair_t *pair_new(job_t *j, int part, uint64_t off, uint64_t len) {
  pair_t *p = fx_calloc(1, sizeof(*p));
  xfer_engine_t *e = j->e;
  p->job = j;
  p->part = part;
  p->off = off;
  p->len = len;
  p->wait_whole = part < 0 && len <= e->conf.small_threshold;
  p->cap = p->wait_whole ? (size_t)FERRY_MAX(len, 1) : e->ring_size;
  return p;
}

/* Slots a pair holds while it runs. A streamed pair's GET and PUT run at
 * the same time: two. A small object is read whole before its PUT starts,
 * so its two requests never overlap: one slot, which the PUT takes over
 * from the GET. (Counting two left half the slots idle on small objects.) */
int pair_slots(const pair_t *p) { return p->wait_whole || p->check ? 1 : 2; }

static int dst_wants_md5(job_t *j) {
  return store_conf(j->dst)->type == STORE_S3;
}

/* How an S3 destination verifies this pair's bytes, decided when the GET's
 * headers are in (a listing says nothing of encryption or object type):
 *  - a whole object whose source ETag the GET's headers guarantee to be its
 *    MD5 (policy_etag_md5_trusted): that ETag goes as Content-MD5 and the
 *    bytes are not hashed (MD5 was half of the worker's CPU on large
 *    objects), unless a BadDigest made the job distrust it;
 *  - anything else, parts included: the bytes are hashed on the way. A
 *    buffered object sends the digest as Content-MD5; a streamed object or
 *    part (its PUT starts before the last byte is read) compares it with the
 *    ETag the destination answers, when the answer's headers guarantee that
 *    ETag to be the MD5 of what it stored. A mismatch is retried. */
static void pair_md5_plan(pair_t *p, const kvlist_t *get_hdrs) {
  job_t *j = p->job;
  if (!dst_wants_md5(j)) return;
  p->md5_from_src = p->part < 0 && !j->md5_distrust &&
                    policy_etag_md5_trusted(store_conf(j->src)->type, get_hdrs, j->obj->etag);
  if (!p->md5_from_src && !p->md5) {
    p->md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(p->md5, EVP_md5(), NULL);
  }
}

static size_t get_write_cb(char *buf, size_t sz, size_t n, void *ud);
static size_t put_read_cb(char *buf, size_t sz, size_t n, void *ud);

/* Checks the GET response once its headers are complete. Returns 0 when the
 * transfer may go on; otherwise marks the job's outcome. */
static int pair_validate_get(xfer_engine_t *e, pair_t *p) {
  job_t *j = p->job;
  long status = 0;
  const char *etag, *clen;
  store_head_t h;
  curl_easy_getinfo(p->get->easy, CURLINFO_RESPONSE_CODE, &status);
  p->validated = 1;
  if (status != 200 && status != 206) return -1;  /* handled as an error at done */
  if (p->part >= 0 && status != 206) {
    set_fail(j, ST_FAILED, "range", NULL, "ranged GET did not answer 206");
    return -2;
  }
  if (status == 206) {
    /* The bytes must be those asked for: a server or cache answering
     * another range of the same length would be stitched in unnoticed
     * where no CRC-64 covers the whole object (S3, URL sources). */
    const char *cr = kvlist_get(&p->get->rhdrs, "Content-Range");
    unsigned long long a = 0, b = 0;
    if (!cr || sscanf(cr, "bytes %llu-%llu/", &a, &b) != 2 || a != p->off ||
        b != p->off + p->len - 1) {
      char msg[256];
      snprintf(msg, sizeof(msg), "ranged GET for bytes %llu-%llu answered Content-Range '%.80s'",
               (unsigned long long)p->off, (unsigned long long)(p->off + p->len - 1),
               cr ? cr : "(none)");
      set_fail(j, ST_FAILED, "range", NULL, msg);
      return -2;
    }
  }
  if (head_parse(e, j, 1, &p->get->rhdrs, &h, 0)) {
    store_head_release(&h);
    return -2;
  }
  etag = h.etag;
  /* A strict decimal now (head_parse): strtoull reads it exactly. */
  clen = kvlist_get(&p->get->rhdrs, "Content-Length");
  if (j->obj->etag && j->obj->etag[0] && etag && strcasecmp(etag, j->obj->etag) != 0) {
    char msg[256];
    snprintf(msg, sizeof(msg), "source ETag %s differs from listed %s", etag, j->obj->etag);
    set_fail(j, ST_CHANGED, "changed", NULL, msg);
    store_head_release(&h);
    return -2;
  }
  if ((!j->obj->etag || !j->obj->etag[0]) && j->obj->mtime > 0 && h.mtime > 0 &&
      (int64_t)h.mtime != j->obj->mtime) {
    /* No ETag to hold the object still (a URL without one, or a weak
     * one): its Last-Modified, as the listing's HEAD saw it, must not move,
     * or the parts of a multipart copy could come from two versions. */
    set_fail(j, ST_CHANGED, "changed", NULL, "source Last-Modified differs from the listing's");
    store_head_release(&h);
    return -2;
  }
  if (clen && strtoull(clen, NULL, 10) != p->len) {
    set_fail(j, ST_CHANGED, "changed", NULL, "source size differs from listing");
    store_head_release(&h);
    return -2;
  }
  pair_md5_plan(p, &p->get->rhdrs);
  if (p->part < 0 && !j->have_src_head) {
    j->src_head = h;  /* metadata for the PUT */
    j->have_src_head = 1;
  } else {
    store_head_release(&h);
  }
  return 0;
}

static size_t get_write_cb(char *buf, size_t sz, size_t n, void *ud) {
  xreq_t *x = ud;
  pair_t *p = x->pair;
  xfer_engine_t *e = p->job->e;
  size_t len = sz * n;
  xreq_moved(x);
  if (p->failed || p->job->finishing) {
    p->failed = 1;
    return 0;
  }
  if (!p->validated) {
    int rc = pair_validate_get(e, p);
    if (rc == -1) {
      /* Error status: collect the error body instead of streaming it. */
      fbuf_add(&x->body, buf, len);
      return len;
    }
    if (rc < 0) {
      p->failed = 1;
      return 0;
    }
  }
  if (x->body.len) { /* still collecting an error body */
    fbuf_add(&x->body, buf, len);
    return len;
  }
  if (p->got + len > p->len) {
    set_fail(p->job, ST_CHANGED, "changed", NULL, "source sent more bytes than listed");
    p->failed = 1;
    return 0;
  }
  if (!p->check && p->cap - p->fill < len) {
    x->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  {
    int64_t now = ferry_now_us();
    int64_t wait = tl_take_bytes(p->job->lim, &e->bw, len, now);
    if (wait > 0) {
      p->bw_wake_us = now + wait;
      x->paused = 1;
      bw_hold(e, x);
      return CURL_WRITEFUNC_PAUSE;
    }
  }
  LOG_TRACE(FAC, "get-write len=%zu fill=%zu got=%llu", len, p->fill, (unsigned long long)p->got);
  if (!p->check) ring_write(p, buf, len);
  p->crc = crc64_update(p->crc, buf, len);
  if (p->md5) EVP_DigestUpdate(p->md5, buf, len);
  p->got += len;
  e->stats.bytes_in += len;
  if (p->check) return len;
  if (!p->wait_whole && flow_should_pause(p->cap, p->fill, p->len - p->got, RECV_CHUNK))
    want_pause(e, x);
  if (!p->wait_whole && !p->put_started) {
    /* Handles are never added from inside a callback: the loop starts the
     * PUT right after libcurl returns. */
    if (!p->put_queued) {
      p->put_queued = 1;
      if (e->n_put_pending == e->cap_put_pending) {
        e->cap_put_pending = e->cap_put_pending ? e->cap_put_pending * 2 : 16;
        e->put_pending = fx_realloc(e->put_pending, e->cap_put_pending * sizeof(*e->put_pending));
      }
      e->put_pending[e->n_put_pending++] = p;
    }
  } else if (p->put) {
    want_unpause(e, p->put);
  }
  return len;
}

static int put_progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow) {
  xreq_t *x = ud;
  (void)dltotal, (void)dlnow, (void)ultotal;
  if (ulnow > x->ul_seen) {
    x->ul_seen = ulnow;
    xreq_moved(x);
  }
  return 0;
}

static size_t put_read_cb(char *buf, size_t sz, size_t n, void *ud) {
  xreq_t *x = ud;
  pair_t *p = x->pair;
  xfer_engine_t *e = p->job->e;
  size_t k;
  if (p->failed || p->job->finishing) {
    p->failed = 1;
    return CURL_READFUNC_ABORT;
  }
  k = ring_read(p, buf, sz * n);
  LOG_TRACE(FAC, "put-read asked=%zu got=%zu fill=%zu get_done=%d", sz * n, k, p->fill, p->get_done);
  if (k == 0) {
    if (p->get_done) return 0; /* all sent (curl checks the length) */
    x->paused = 1;
    return CURL_READFUNC_PAUSE;
  }
  xreq_moved(x);
  p->sent += k;
  e->stats.bytes_out += k;
  if (p->get && p->get->paused && !p->bw_wake_us &&
      flow_should_resume(p->cap, p->fill, p->len - p->got, RECV_CHUNK))
    want_unpause(e, p->get);
  return k;
}

/* libcurl rewinds an upload when it must re-send it, typically because a
 * kept-alive connection was closed by the server just as the request went
 * out. A buffered object is all in the ring, so it can start over; a
 * streamed one cannot (its bytes are gone), and the pair is retried whole. */
static int put_seek_cb(void *ud, curl_off_t offset, int origin) {
  xreq_t *x = ud;
  pair_t *p = x->pair;
  if (origin != SEEK_SET || offset != 0) return CURL_SEEKFUNC_CANTSEEK;
  if (p->sent == 0) return CURL_SEEKFUNC_OK;
  if (p->wait_whole && p->get_done && p->got == p->len) {
    p->head = 0;
    p->fill = (size_t)p->len;
    p->sent = 0;
    return CURL_SEEKFUNC_OK;
  }
  return CURL_SEEKFUNC_CANTSEEK;
}

ferry_err_t pair_start_put(xfer_engine_t *e, pair_t *p) {
  job_t *j = p->job;
  store_req_t r;
  char errbuf[FERRY_ERRLEN];
  char num[16];
  ferry_err_t err;
  xreq_t *x = xreq_new(j, RQ_PUT);
  x->pair = p;
  p->put = x;
  p->put_started = 1;
  store_req_init(&r, store_conf(j->dst), "PUT", j->seg->dst.bucket, j->dst_key);
  if (p->part >= 0) {
    snprintf(num, sizeof(num), "%d", p->part + 1);
    kvlist_add(&r.query, "partNumber", num);
    kvlist_add(&r.query, "uploadId", j->upload_id);
  } else {
    err = dst_headers(j, &r, errbuf);
    if (err) {
      store_req_release(&r);
      set_fail(j, ST_FAILED, "metadata", NULL, errbuf);
      return err;
    }
  }
  if (dst_wants_md5(j)) {
    /* Content-MD5 lets the server verify the bytes: known for buffered
     * objects, or the source's ETag when it is a plain MD5. */
    unsigned char md[16];
    int have = 0;
    if (p->md5_from_src) {
      const char *hex = j->obj->etag + (j->obj->etag[0] == '"');
      int i;
      for (i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        md[i] = (unsigned char)v;
      }
      have = 1;
    } else if (p->wait_whole && p->md5) {
      EVP_MD_CTX *c = EVP_MD_CTX_new();
      unsigned int l = 16;
      EVP_MD_CTX_copy_ex(c, p->md5);
      EVP_DigestFinal_ex(c, md, &l);
      EVP_MD_CTX_free(c);
      have = 1;
    }
    if (have) {
      fbuf_t b64;
      fbuf_init(&b64, 0);
      enc_b64(&b64, md, 16);
      kvlist_add(&r.headers, "Content-MD5", fbuf_str(&b64));
      fbuf_release(&b64);
    }
  }
  err = store_req_sign(&r, store_conf(j->dst), time(NULL), errbuf);
  if (!err) err = xreq_setup(e, x, j->dst, &r, (curl_off_t)p->len);
  store_req_release(&r);
  if (err) return err;
  curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, put_read_cb);
  curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
  if (!p->wait_whole) {
    /* The read callback comes once per upload buffer (512 KiB): a PUT
     * moving slower than that per stall_timeout_s would look stalled, so
     * its bytes going out count as progress too. */
    curl_easy_setopt(x->easy, CURLOPT_UPLOAD_BUFFERSIZE, e->upload_buf);
    curl_easy_setopt(x->easy, CURLOPT_XFERINFOFUNCTION, put_progress_cb);
    curl_easy_setopt(x->easy, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(x->easy, CURLOPT_NOPROGRESS, 0L);
  }
  curl_easy_setopt(x->easy, CURLOPT_SEEKFUNCTION, put_seek_cb);
  curl_easy_setopt(x->easy, CURLOPT_SEEKDATA, x);
  xreq_start(e, x);
  return FERRY_OK;
}

ferry_err_t pair_start_get(xfer_engine_t *e, pair_t *p) {
  job_t *j = p->job;
  store_req_t r;
  char errbuf[FERRY_ERRLEN];
  ferry_err_t err;
  xreq_t *x = xreq_new(j, RQ_GET);
  x->pair = p;
  p->get = x;
  if (!p->check) pair_ring_take(e, p);  /* a check only hashes the bytes */
  store_req_init(&r, store_conf(j->src), "GET", j->seg->src.bucket, j->obj->key);
  if (p->part >= 0 || p->len != j->obj->size) {
    char range[64];
    snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, p->off, p->off + p->len - 1);
    kvlist_add(&r.headers, "Range", range);
    if (store_conf(j->src)->type == STORE_OSS)
      kvlist_add(&r.headers, "x-oss-range-behavior", "standard");
  }
  if (j->obj->etag && j->obj->etag[0]) {
    char *q = fx_asprintf("\"%s\"", j->obj->etag);
    kvlist_add(&r.headers, "If-Match", q);
    fx_free(q);
  }
  err = store_req_sign(&r, store_conf(j->src), time(NULL), errbuf);
  if (!err) err = xreq_setup(e, x, j->src, &r, -1);
  store_req_release(&r);
  if (err) return err;
  curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, get_write_cb);
  curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
  /* S3 destinations: pair_md5_plan, once the GET's headers are in. */
  p->md5_from_src = 0;
  if (p->check) {  /* a continued upload's part, read back: its MD5 */
    p->md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(p->md5, EVP_md5(), NULL);
  }
  xreq_start(e, x);
  return FERRY_OK;
}

/* Resets a pair for another attempt. */
void pair_reset(xfer_engine_t *e, pair_t *p) {
  size_t i;
  for (i = 0; i < e->n_put_pending; i++)
    if (e->put_pending[i] == p) e->put_pending[i] = NULL;
  p->put_queued = 0;
  xreq_free(e, p->get);
  xreq_free(e, p->put);
  p->get = p->put = NULL;
  pair_ring_give(e, p); /* a pair waiting for its retry holds no ring */
  p->head = p->fill = 0;
  p->get_done = p->put_done = p->put_started = p->validated = 0;
  p->got = p->sent = 0;
  p->crc = 0;
  p->failed = 0;
  p->bw_wake_us = 0;
  if (p->md5) {
    EVP_MD_CTX_free(p->md5);
    p->md5 = NULL;
  }
  fx_free(p->put_etag);
  p->put_etag = NULL;
  p->has_put_crc = 0;
}

/* ------------------------------------------------------------------------ */
/* Pair completion. */

/* Ends a pair attempt: success, retry or failure. */
void pair_end(xfer_engine_t *e, pair_t *p, int ok, const store_error_t *err, int retryable) {
  job_t *j = p->job;
  int attempts;
  e->slots_used -= pair_slots(p);
  j->units--;
  p->attempts++;
  j->attempts_total++;
  if (!ok && retryable && adapt_holds(e, j)) p->attempts--;  /* the store's outage */
  attempts = p->attempts;
  if (ok) {
    if (p->part >= 0) {
      part_state_t *ps = &j->parts[p->part];
      ps->done = 1;
      ps->inflight = 0;
      ps->crc = p->crc;
      fx_free(ps->etag);  /* a listed part's, uploaded again */
      ps->etag = p->put_etag;
      p->put_etag = NULL;
      j->parts_done++;
      j->parts_inflight--;
      j->range_bytes += p->len;
      pair_free(e, p);
      if (j->finishing) {
        job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
        return;
      }
      if (j->is_range) {
        if (j->parts_done == j->range_parts) range_parts_done(e, j);
        else job_start_parts(e, j);
        return;
      }
      if (j->parts_done == j->n_parts) {
        j->phase = PH_COMPLETE;
        j->req_attempts = 0;
        queue_single(e, j, RQ_MPU_COMPLETE, 0);
      } else {
        job_start_parts(e, j);
      }
      return;
    }
    j->bytes = p->len;
    j->has_wcrc = 1;
    j->wcrc = p->crc;
    fx_free(j->dst_etag);
    j->dst_etag = p->put_etag;
    p->put_etag = NULL;
    pair_free(e, p);
    job_success(e, j);
    return;
  }
  if (!j->finishing && retryable && err && attempts < e->conf.max_attempts) {
    long d = backoff_delay_ms(&e->backoff, attempts, err->retry_after_s, &e->rng);
    e->stats.retries++;
    LOG_INFO(FAC,
             "event=retry op=copy key=%s part=%d attempt=%d delay_ms=%ld http=%d code=%s",
             FLOG_Q(j->obj->key), p->part + 1, attempts, d, err->http_status,
             FLOG_V(err->code[0]
                        ? err->code
                        : (err->curl_code ? curl_easy_strerror(err->curl_code) : "-")));
    pair_reset(e, p);
    queue_pair(e, p, ferry_now_us() + (int64_t)d * 1000);
    return;
  }
  if (p->part >= 0) j->parts_inflight--;
  pair_free(e, p);
  if ((j->is_range || j->resumed) && !j->finishing && err && err->http_status == 404 &&
      !strcmp(err->code, "NoSuchUpload")) {
    /* The shared upload is gone: completed by another, or aborted. Parts
     * still in flight end first (the job waits for its units). */
    fx_free(j->upload_id);
    j->upload_id = NULL;
    if (j->units == 0) {
      range_verify(e, j);
    } else {
      /* Stop the other parts; the last unit to end verifies (job_fail). */
      set_fail(j, ST_FAILED, "upload-aborted", err, NULL);
      j->finishing = 1;
      j->range_gone = 1;
    }
    return;
  }
  if (j->is_range && !j->finishing && err && err->http_status == 404 &&
      !strcmp(err->code, "NoSuchKey")) {
    job_fail(e, j, ST_VANISHED, "vanished", err, NULL);
  } else if (j->finishing || !err) {
    job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
  } else if (err->http_status == 404 && err->code[0] && !strcmp(err->code, "NoSuchKey") &&
             j->phase != PH_PARTS) {
    job_fail(e, j, ST_VANISHED, "vanished", err, NULL);
  } else if (err->http_status == 412 || err->http_status == 416) {
    job_fail(e, j, ST_CHANGED, "changed", err, NULL);
  } else {
    job_fail(e, j, ST_FAILED, reason_of(err), err, NULL);
  }
}

/* Whether the MD5 of the bytes hashed in c (finalised here) is the hex
 * digest etag (any case: OSS spells it in capitals). */
int md5_matches(EVP_MD_CTX *c, const char *etag) {
  unsigned char md[16];
  unsigned int l = 16;
  fbuf_t hex;
  int same;
  EVP_DigestFinal_ex(c, md, &l);
  fbuf_init(&hex, 0);
  enc_hex(&hex, md, 16);
  same = strcasecmp(fbuf_str(&hex), etag) == 0;
  fbuf_release(&hex);
  return same;
}

static void pair_cut(xfer_engine_t *e, pair_t *p);

/* What a 2xx PUT (object or part) answered, checked against the bytes sent:
 * the CRC-64 (OSS, COS), else the MD5 for S3 destinations (pair_md5_plan)
 * when the answer's headers guarantee its ETag is one. NULL when it holds,
 * else why not. */
static const char *pair_put_digest_bad(pair_t *p, const kvlist_t *rhdrs, const store_head_t *h) {
  job_t *j = p->job;
  store_type_t dt = store_conf(j->dst)->type;
  if (h->has_crc64) return h->crc64 == p->crc ? NULL : "destination CRC64 differs from the bytes sent";
  if (!policy_etag_md5_trusted(dt, rhdrs, h->etag)) return NULL;
  /* Not every server checks Content-MD5 (s3rver does not). */
  if (p->md5_from_src)
    return policy_etag_equal(h->etag, j->obj->etag)
               ? NULL
               : "destination ETag differs from the source's MD5 sent as Content-MD5";
  if (p->md5) {
    int same = md5_matches(p->md5, h->etag);
    EVP_MD_CTX_free(p->md5);
    p->md5 = NULL;
    if (!same)
      return p->part >= 0 ? "destination part ETag differs from the MD5 of the bytes sent"
                          : "destination ETag differs from the MD5 of the bytes sent";
  }
  return NULL;
}

/* The destination stored other bytes than those sent (or than the source's
 * digest): never "copied". Retried like a transient failure (bytes damaged
 * on the way); after the last attempt the object fails as "integrity". */
static void pair_integrity(xfer_engine_t *e, pair_t *p, int status, const char *why) {
  job_t *j = p->job;
  store_error_t err;
  pair_cut(e, p);
  p->failed = 1;
  if (j->is_range && !j->finishing) {
    /* A part of a shared upload stored damaged is listed like any other
     * until a retry replaces it, and another range seeing every part may
     * complete the upload with it meanwhile; where the stores give no
     * CRC-64 nothing after that would notice. So the range fails at once
     * and aborts the upload; this engine's sibling ranges leave it alone. */
    char msg[FERRY_ERRLEN];
    snprintf(msg, sizeof(msg), "%s (part %d of a shared upload: the upload is aborted)", why,
             p->part + 1);
    LOG_WARN(FAC, "event=part-damaged key=%s part=%d upload_id=%s: %s", FLOG_Q(j->obj->key),
             p->part + 1, FLOG_V(j->upload_id), why);
    range_poison(e, j);
    set_fail(j, ST_FAILED, "integrity", NULL, msg);
    j->finishing = 1;
    pair_end(e, p, 0, NULL, 0);
    return;
  }
  if (!j->finishing && p->attempts + 1 < e->conf.max_attempts) {
    store_error_clear(&err);
    err.http_status = status;
    snprintf(err.code, sizeof(err.code), "DigestMismatch");
    snprintf(err.message, sizeof(err.message), "%s", why);
    err.retryable = 1;
    pair_end(e, p, 0, &err, 1);
    return;
  }
  set_fail(j, ST_FAILED, "integrity", NULL, why);
  j->finishing = 1;
  pair_end(e, p, 0, NULL, 0);
}

/* Cuts both transfers of a pair (one failed). */
static void pair_cut(xfer_engine_t *e, pair_t *p) {
  xreq_detach(e, p->get);
  xreq_detach(e, p->put);
}

/* The bytes of a whole-object GET must match the source's CRC64 when the
 * store gives it (OSS/COS: whole-object CRC, so not for parts). Returns 0
 * when they do or nothing tells, else 1 after pair_integrity. */
static int pair_get_crc_bad(xfer_engine_t *e, pair_t *p, xreq_t *x, long status) {
  job_t *j = p->job;
  store_head_t h;
  int has_src;
  uint64_t src;
  if (p->part >= 0) return 0;
  /* Its headers passed head_parse in pair_validate_get. */
  store_head_from_headers(&h, store_conf(j->src)->type, &x->rhdrs);
  has_src = j->obj->has_crc64 || h.has_crc64;
  src = j->obj->has_crc64 ? j->obj->crc64 : h.crc64;
  store_head_release(&h);
  if (has_src && src != p->crc) {
    pair_integrity(e, p, (int)status, "CRC64 of the bytes read differs from the source's");
    return 1;
  }
  return 0;
}

/* The pair's GET finished: an error, a short or unexpected answer, or all
 * bytes read; then the PUT starts (small object) or goes on. */
static void pair_on_get_done(xfer_engine_t *e, pair_t *p, xreq_t *x, CURLcode cc, long status) {
  job_t *j = p->job;
  store_error_t err;
  store_error_clear(&err);
  if (p->failed) {
    /* Our own callback stopped it: outcome already recorded. */
    pair_cut(e, p);
    j->finishing = 1;
    pair_end(e, p, 0, NULL, 0);
    return;
  }
  if (cc != CURLE_OK || (status != 200 && status != 206)) {
    store_error_from_response(&err, cc == CURLE_OK ? (int)status : 0, &x->rhdrs, x->body.p,
                              x->body.len, cc, x->curl_err);
    store_error_name_store(&err, j->src);
    if (status == 404 && !err.code[0]) snprintf(err.code, sizeof(err.code), "NoSuchKey");
    /* 416: a ranged GET beyond the object's end: it is shorter than listed. */
    if (status == 404 || status == 412 || status == 416) err.retryable = 0;
    pair_cut(e, p);
    p->failed = 1;
    pair_end(e, p, 0, &err, err.retryable);
    return;
  }
  if (!p->validated) {
    int rc = pair_validate_get(e, p);
    if (rc < 0) {
      pair_cut(e, p);
      p->failed = 1;
      j->finishing = 1;
      pair_end(e, p, 0, NULL, 0);
      return;
    }
  }
  if (p->got != p->len) {
    pair_cut(e, p);
    p->failed = 1;
    set_fail(j, ST_CHANGED, "changed", NULL, "source returned fewer bytes than listed");
    j->finishing = 1;
    pair_end(e, p, 0, NULL, 0);
    return;
  }
  p->get_done = 1;
  if (pair_get_crc_bad(e, p, x, status)) return;
  if (p->check) {
    resume_check_done(e, p);
    return;
  }
  if (!p->put_started) {
    if (pair_start_put(e, p) != FERRY_OK) {
      pair_cut(e, p);
      p->failed = 1;
      j->finishing = 1;
      if (!j->out.reason) set_fail(j, ST_FAILED, "internal", NULL, "could not start PUT");
      pair_end(e, p, 0, NULL, 0);
    }
    return;
  }
  want_unpause(e, p->put);
}

/* The answer of a 2xx PUT: its headers must parse and its digest match the
 * bytes sent; the ETag is kept (a part's goes into Complete). Returns 0, or
 * -1 after the pair ended. */
static int pair_put_answer(xfer_engine_t *e, pair_t *p, xreq_t *x, long status) {
  job_t *j = p->job;
  store_head_t h;
  const char *bad;
  if (head_parse(e, j, 0, &x->rhdrs, &h, 0)) {
    store_head_release(&h);
    pair_cut(e, p);
    j->finishing = 1;
    pair_end(e, p, 0, NULL, 0);
    return -1;
  }
  if (!h.has_crc64 && (store_conf(j->dst)->type == STORE_OSS || store_conf(j->dst)->type == STORE_COS)) {
    /* OSS and COS answer every write with its CRC-64, and ferry sends them
     * no Content-MD5 nor hashes with MD5: without it nothing checks what
     * was stored, so the copy fails (closed), naming the header. Asking
     * again would not make it appear. */
    const char *why = store_conf(j->dst)->type == STORE_OSS
                          ? "the destination answered without x-oss-hash-crc64ecma: what it stored cannot be checked"
                          : "the destination answered without x-cos-hash-crc64ecma: what it stored cannot be checked";
    store_head_release(&h);
    if (j->is_range) {
      pair_integrity(e, p, (int)status, why);  /* aborts the shared upload */
      return -1;
    }
    pair_cut(e, p);
    p->failed = 1;
    set_fail(j, ST_FAILED, "integrity", NULL, why);
    j->finishing = 1;
    pair_end(e, p, 0, NULL, 0);
    return -1;
  }
  bad = pair_put_digest_bad(p, &x->rhdrs, &h);
  if (bad) {
    store_head_release(&h);
    pair_integrity(e, p, (int)status, bad);
    return -1;
  }
  p->put_etag = h.etag ? fx_strdup(h.etag) : NULL;
  store_head_release(&h);
  return 0;
}

/* The pair's PUT finished: an error (retried or not), or stored, checked
 * and done. */
static void pair_on_put_done(xfer_engine_t *e, pair_t *p, xreq_t *x, CURLcode cc, long status) {
  job_t *j = p->job;
  store_error_t err;
  store_error_clear(&err);
  if (cc != CURLE_OK || status < 200 || status >= 300) {
    if (cc == CURLE_ABORTED_BY_CALLBACK && p->failed) {
      pair_cut(e, p);
      j->finishing = 1;
      pair_end(e, p, 0, NULL, 0);
      return;
    }
    store_error_from_response(&err, cc == CURLE_OK ? (int)status : 0, &x->rhdrs, x->body.p,
                              x->body.len, cc, x->curl_err);
    store_error_name_store(&err, j->dst);
    if (p->md5_from_src && !strcmp(err.code, "BadDigest") && !j->md5_distrust) {
      /* The source's ETag, trusted as its MD5, was not the MD5 of the bytes
       * the destination received: the next attempt hashes them. */
      j->md5_distrust = 1;
      LOG_WARN(FAC, "event=bad-digest key=%s etag=%s: hashing the bytes on the next attempt",
               FLOG_Q(j->obj->key), FLOG_V(j->obj->etag));
    }
    pair_cut(e, p);
    p->failed = 1;
    pair_end(e, p, 0, &err, err.retryable);
    return;
  }
  if (!p->get_done || p->sent != p->len) {
    pair_cut(e, p);
    p->failed = 1;
    set_fail(j, ST_FAILED, "internal", NULL, "destination PUT ended before all bytes were sent");
    pair_end(e, p, 0, &err, 1);
    return;
  }
  if (pair_put_answer(e, p, x, status)) return;
  if (p->part >= 0 && !p->put_etag) {
    set_fail(j, ST_FAILED, "protocol", NULL, "UploadPart answered without an ETag");
    j->finishing = 1;
    pair_end(e, p, 0, NULL, 0);
    return;
  }
  p->put_done = 1;
  pair_end(e, p, 1, NULL, 0);
}

void pair_on_done(xfer_engine_t *e, xreq_t *x, CURLcode cc) {
  pair_t *p = x->pair;
  long status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  LOG_TRACE(FAC, "pair-done kind=%s cc=%d status=%ld got=%llu sent=%llu", rq_name[x->kind], (int)cc,
            status, (unsigned long long)p->got, (unsigned long long)p->sent);
  xreq_detach(e, x);
  if (x->kind == RQ_GET) pair_on_get_done(e, p, x, cc, status);
  else pair_on_put_done(e, p, x, cc, status);
}
