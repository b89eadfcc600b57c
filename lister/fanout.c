/* fanout.c (lister): HEAD, policy and initiate for a fanned-out object. */
#include "lister/fanout.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "lister/lister.h"
#include "xfer/backoff.h"
#include "policy/policy.h"

#define FAC "lister"

struct lfan {
  const ferry_conf_t *conf;
  const task_conf_t *t;
  store_t *src;
  store_t *dst;
  int dst_failed;         /* the destination store could not be opened */
  lout_t *out;
  backoff_t bo;
  uint64_t rng;
  int max_attempts;
  uint64_t uploads, whole;
};

lfan_t *lfan_new(const ferry_conf_t *conf, const task_conf_t *t, store_t *src, lout_t *out) {
  lfan_t *f = fx_calloc(1, sizeof(*f));
  f->conf = conf;
  f->t = t;
  f->src = src;
  f->out = out;
  backoff_init(&f->bo);
  if (conf->worker.backoff_base_ms > 0) f->bo.base_ms = conf->worker.backoff_base_ms;
  if (conf->worker.backoff_max_ms > 0) f->bo.cap_ms = conf->worker.backoff_max_ms;
  backoff_rng_seed(&f->rng, (uint64_t)ferry_now_us() ^ ((uint64_t)getpid() << 20));
  f->max_attempts = conf->worker.max_attempts > 0 ? (int)conf->worker.max_attempts : 5;
  return f;
}

void lfan_destroy(lfan_t *f) {
  if (!f) return;
  store_destroy(f->dst);
  fx_free(f);
}

uint64_t lfan_uploads(const lfan_t *f) { return f->uploads; }
uint64_t lfan_whole(const lfan_t *f) { return f->whole; }

/* 1: try again after the backoff; 0: give up (err says why). */
static int again(lfan_t *f, const char *op, int attempt, const store_error_t *err,
                 ferry_err_t *werr, char *errbuf) {
  long ms;
  if (!backoff_should_retry(err, attempt, f->max_attempts) || lister_stop) return 0;
  ms = backoff_delay_ms(&f->bo, attempt - 1, err->retry_after_s, &f->rng);
  LOG_WARN(FAC, "task=%s op=%s attempt=%d retry_in_ms=%ld http=%d code=%s", FLOG_V(f->t->name),
           op, attempt, ms, err->http_status, FLOG_V(err->code[0] ? err->code : "-"));
  if (!f->out) {
    /* A shard thread: the output is the main thread's. */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && !lister_stop) {
    }
    return !lister_stop;
  }
  *werr = lout_wait(f->out, (int)ms, errbuf);
  return *werr == FERRY_OK;
}

static void whole(lfan_t *f, const msg_obj_t *o, const char *why) {
  f->whole++;
  fprintf(stderr, "ferry-lister: task %s: %s: %s; it goes whole to one worker\n", f->t->name,
          o->key, why);
}

/* Opens the destination store on first use; a failure is said once. */
static void open_dst(lfan_t *f, const msg_loc_t *dst) {
  char eb[FERRY_ERRLEN];
  const store_conf_t *dc;
  if (f->dst || f->dst_failed) return;
  dc = conf_store(f->conf, dst->store);
  f->dst = dc ? store_new(dc, eb) : NULL;
  if (!f->dst) {
    f->dst_failed = 1;
    fprintf(stderr, "ferry-lister: task %s: destination store %s cannot be opened (%s); "
            "huge objects go whole\n", f->t->name, dst->store,
            dc ? eb : "not in the config");
  }
}

/* HEAD of the source object, with retries, into h; o takes its current
 * ETag, size, date and CRC64. 1 found; 0 not (o goes whole, said; or
 * *werr when waiting failed). */
static int head_src(lfan_t *f, const msg_loc_t *src, msg_obj_t *o, store_head_t *h,
                    ferry_err_t *werr, char *errbuf) {
  store_error_t err;
  char msg[512];
  int attempt;
  memset(h, 0, sizeof(*h));
  for (attempt = 1;; attempt++) {
    store_error_clear(&err);
    if (store_head_object(f->src, src->bucket, o->key, h, &err) == FERRY_OK) break;
    store_head_release(h);
    if (err.http_status == 404 || !again(f, "fanout-head", attempt, &err, werr, errbuf)) {
      if (*werr) return 0;
      store_error_format(&err, msg, sizeof(msg));
      whole(f, o, err.http_status == 404 ? "vanished at the source" : msg);
      return 0;
    }
  }
  if (h->etag && (!o->etag || strcasecmp(h->etag, o->etag) != 0)) {
    fx_free(o->etag);
    o->etag = fx_strdup(h->etag);
  }
  o->size = h->size;
  if (h->mtime >= 0) o->mtime = (int64_t)h->mtime;
  if (h->has_crc64) {
    o->has_crc64 = 1;
    o->crc64 = h->crc64;
  }
  return 1;
}

/* The same-name policy, decided once here (the ranges then overwrite): 1
 * when a worker is to decide instead (the object goes whole), 0 to go on,
 * or *werr when waiting failed. */
static int dst_decides(lfan_t *f, const msg_loc_t *dst, const char *dkey, msg_policy_t policy,
                       const msg_obj_t *o, ferry_err_t *werr, char *errbuf) {
  store_head_t dh;
  store_error_t err;
  int attempt, present = 0, failed = 0;
  if (policy == POLICY_OVERWRITE) return 0;
  memset(&dh, 0, sizeof(dh));
  for (attempt = 1;; attempt++) {
    store_error_clear(&err);
    if (store_head_object(f->dst, dst->bucket, dkey, &dh, &err) == FERRY_OK) {
      present = 1;
      break;
    }
    store_head_release(&dh);
    if (err.http_status == 404) break;
    if (!again(f, "fanout-head-dst", attempt, &err, werr, errbuf)) {
      failed = 1;
      break;
    }
  }
  if (*werr) return 0;
  if (failed || (present && policy_decide(policy, o, &dh, NULL) == POLICY_ACT_SKIP)) {
    /* A worker decides (and reports the skip) as for any object. */
    store_head_release(&dh);
    f->whole++;
    return 1;
  }
  store_head_release(&dh);
  return 0;
}

/* Initiates the upload, with retries: its id in *upload_id, or NULL (the
 * object goes whole, said; or *werr when waiting failed). */
static void initiate(lfan_t *f, const msg_loc_t *dst, const char *dkey, const kvlist_t *hdrs,
                     const msg_obj_t *o, char **upload_id, ferry_err_t *werr, char *errbuf) {
  store_error_t err;
  char msg[512];
  int attempt;
  for (attempt = 1;; attempt++) {
    char *id = NULL;
    store_error_clear(&err);
    if (store_mpu_init(f->dst, dst->bucket, dkey, hdrs, &id, &err) == FERRY_OK) {
      *upload_id = id;
      return;
    }
    fx_free(id);
    if (!again(f, "fanout-initiate", attempt, &err, werr, errbuf)) break;
  }
  if (*werr) return;
  store_error_format(&err, msg, sizeof(msg));
  whole(f, o, msg);
}

ferry_err_t lfan_prepare(lfan_t *f, const msg_loc_t *src, const msg_loc_t *dst,
                         msg_policy_t policy, msg_obj_t *o, char **upload_id,
                         fanout_plan_t *plan, char *errbuf) {
  store_head_t h;
  ferry_err_t werr = FERRY_OK;
  store_type_t dtype;
  kvlist_t hdrs;
  policy_meta_opts_t mo;
  char eb[FERRY_ERRLEN];
  char *dkey = NULL;

  *upload_id = NULL;
  memset(plan, 0, sizeof(*plan));
  open_dst(f, dst);
  if (!f->dst) {
    f->whole++;
    return FERRY_OK;
  }
  dtype = store_conf(f->dst)->type;

  /* The source's current version: the ranges must all copy the same bytes,
   * and its metadata goes on the upload. */
  if (!head_src(f, src, o, &h, &werr, errbuf)) return werr;
  if (!fanout_wanted(f->conf->lister.fanout_threshold, o->size)) {
    store_head_release(&h);
    whole(f, o, "now below lister.fanout_threshold");
    return FERRY_OK;
  }
  if (fanout_plan(dtype, o->size, f->conf->worker.part_size, f->conf->lister.segment_max_bytes,
                  plan, eb) != FERRY_OK) {
    store_head_release(&h);
    whole(f, o, eb);  /* the worker reports it (too-large) */
    return FERRY_OK;
  }

  if (policy_dst_key(src->prefix, dst->prefix, o->key, o->size, o->dst_key, &dkey) !=
      POLICY_DK_OK) {
    store_head_release(&h);
    whole(f, o, "no destination key of its own");  /* the worker reports it */
    return FERRY_OK;
  }
  if (dst_decides(f, dst, dkey, policy, o, &werr, errbuf) || werr) {
    store_head_release(&h);
    fx_free(dkey);
    return werr;
  }

  kvlist_init(&hdrs);
  memset(&mo, 0, sizeof(mo));
  mo.class_map = &f->t->storage_class_map;
  mo.record_src_etag = f->t->record_source_etag;
  if (policy_meta_map(&h, store_conf(f->src)->type, dtype, &mo, &hdrs, eb) != FERRY_OK) {
    store_head_release(&h);
    kvlist_release(&hdrs);
    fx_free(dkey);
    whole(f, o, eb);  /* the worker reports it (metadata) */
    return FERRY_OK;
  }
  store_head_release(&h);
  initiate(f, dst, dkey, &hdrs, o, upload_id, &werr, errbuf);
  kvlist_release(&hdrs);
  if (werr || !*upload_id) {
    fx_free(dkey);
    return werr;
  }
  f->uploads++;
  LOG_INFO(FAC, "task=%s event=fanout key=%s dst_key=%s size=%" PRIu64
           " upload_id=%s part_size=%" PRIu64 " parts=%u ranges=%u", FLOG_V(f->t->name),
           FLOG_Q(o->key), FLOG_Q(dkey), o->size, FLOG_V(*upload_id), plan->part_size,
           plan->parts_total, plan->n_ranges);
  fx_free(dkey);
  return FERRY_OK;
}
