/*
 * engine.c: the copy engine's event loop (libcurl multi).
 *
 * Units of work:
 *  - a job is one object: HEAD destination (skip policies), then either one
 *    "pair" (source GET streamed into destination PUT) or a multipart upload
 *    (HEAD source, initiate, one pair per part, complete; abort on failure);
 *  - a pair couples a GET and a PUT through a ring buffer with flow control
 *    both ways: the GET pauses when the ring is full, the PUT when it is
 *    empty. Small objects use a ring the size of the object and start the PUT
 *    when the GET is complete (so Content-MD5 can be sent);
 *  - a single request (HEAD, initiate, complete, abort) uses one slot, a
 *    streamed pair two: slots are reserved before a unit starts, so a
 *    started GET always has its PUT slot and the loop cannot deadlock on
 *    paused GETs. A small object's pair uses one: its PUT starts only when
 *    its GET has ended, and takes the GET's slot over.
 *
 * Pausing and unpausing another handle is never done inside a libcurl
 * callback: callbacks set flags and the loop applies them after
 * curl_multi_perform returns.
 */
#include "xfer/engine.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/crc64.h"
#include "core/enc.h"
#include "core/log.h"
#include "store/client.h"
#include "store/request.h"
#include "store/xml.h"
#include "xfer/backoff.h"
#include "xfer/bufpool.h"
#include "xfer/flow.h"
#include "xfer/policy.h"
#include "xfer/ratelimit.h"
#include "xfer/tasklimit.h"

#include <openssl/evp.h>

#define FAC "xfer"
#define RECV_CHUNK (64 * 1024)
_Static_assert(TL_MIN_BYTE_BURST >= 2 * RECV_CHUNK, "a held GET must fit a task's byte burst");
#define SMALL_RECV (16 * 1024)
#define STALL_CHECK_US 250000  /* stalls are looked for this often */

typedef struct job job_t;
typedef struct pair pair_t;
typedef struct xreq xreq_t;
typedef struct unit unit_t;

typedef enum rq_kind {
  RQ_HEAD_DST,
  RQ_HEAD_SRC,
  RQ_GET,
  RQ_PUT,
  RQ_MPU_INIT,
  RQ_MPU_COMPLETE,
  RQ_MPU_ABORT,
  RQ_MPU_LIST_PARTS,     /* part ranges (fan-out): ListParts of the shared upload */
  RQ_VERIFY_DST,         /* part ranges: HEAD of the completed object */
  RQ_MPU_LIST_UPLOADS,   /* multipart: an upload of the key left open to continue? */
  RQ_MPU_ABORT_STALE     /* multipart: abort another open upload of the key */
} rq_kind_t;

static const char *rq_name[] = {"head-dst", "head-src", "get", "put",
                                "mpu-init", "mpu-complete", "mpu-abort",
                                "mpu-list-parts", "verify-dst", "mpu-list-uploads",
                                "mpu-abort-stale"};

/* One HTTP transfer. */
struct xreq {
  job_t *job;
  pair_t *pair;          /* GET/PUT of a pair, else NULL */
  rq_kind_t kind;
  CURL *easy;
  struct curl_slist *hdrs;
  kvlist_t rhdrs;        /* response headers */
  fbuf_t body;           /* response body for HEAD/XML requests */
  char curl_err[CURL_ERROR_SIZE];
  int in_multi;
  int paused;            /* paused by flow control or bandwidth */
  int want_unpause;
  int want_pause;        /* GET: ring nearly full, pause after perform */
  int aborted;           /* a callback asked to stop this transfer */
  int64_t moved_us;      /* last byte moved (or unpaused): the stall clock */
  xreq_t *run_prev, *run_next;  /* e->running: the handles in the multi */
};

/* A GET streamed into a PUT (whole object or one part). */
struct pair {
  job_t *job;
  int part;              /* part index (0-based) or -1 for a whole object */
  uint64_t off, len;     /* byte range */
  xreq_t *get, *put;
  char *ring;            /* taken when the GET starts, given back at the end */
  int ring_pooled;       /* ring is from the engine's pool (else fx_malloc) */
  size_t cap, head, fill;
  int wait_whole;        /* small object: PUT after the GET completes */
  int get_done, put_done, put_started;
  int validated;         /* GET status and headers checked */
  uint64_t got, sent;
  uint64_t crc;
  EVP_MD_CTX *md5;       /* S3 destinations: MD5 of the bytes, when needed */
  int md5_from_src;      /* Content-MD5 is the source's (MD5) ETag */
  int failed;
  int attempts;
  char *put_etag;
  int has_put_crc;
  uint64_t put_crc;
  int64_t bw_wake_us;    /* bandwidth pause until */
  int put_queued;        /* on the engine's put_pending list */
  int check;             /* a continued upload's part: GET only, its MD5 compared
                          * with the listed part's ETag (resume_check_done) */
};

/* A scheduled unit: a single request or a pair. */
struct unit {
  unit_t *next;
  job_t *job;
  rq_kind_t kind;        /* for single requests */
  pair_t *pair;          /* for pairs */
  int64_t not_before_us; /* backoff */
};

typedef struct part_state {
  int done;
  int inflight;
  char *etag;
  uint64_t crc;
  int attempts;
  int listed;            /* present, with its size, in the upload's listing */
  int check;             /* listed part of a continued upload, to verify by reading */
} part_state_t;

typedef enum job_phase {
  PH_QUEUED,
  PH_HEAD_DST,
  PH_HEAD_SRC,
  PH_PAIR,
  PH_MPU_INIT,
  PH_PARTS,
  PH_COMPLETE,
  PH_ABORT,
  PH_DONE,
  PH_RANGE_LIST,         /* part ranges: listing the upload's parts */
  PH_VERIFY              /* part ranges: HEAD of the destination object */
} job_phase_t;

struct job {
  job_t *next;           /* queue / active list */
  job_t *prev;
  xfer_engine_t *e;
  const msg_segment_t *seg;
  size_t index;
  const msg_obj_t *obj;
  tl_task_t *lim;        /* the task's limits (e->tasks) */
  xfer_done_cb *cb;
  void *opaque;
  store_t *src, *dst;
  char *dst_key;
  policy_dk_t dk;        /* how dst_key was made (POLICY_DK_OK: usable) */
  int md5_distrust;      /* BadDigest met with the source's ETag as Content-MD5: hash */
  job_phase_t phase;
  int64_t start_us;
  int req_attempts;      /* attempts of the current single request */
  int attempts_total;
  int units;             /* units of this job queued or running */
  /* Source facts learnt on the way. */
  store_head_t src_head;
  int have_src_head;
  /* Multipart. */
  char *upload_id;
  uint64_t part_size;
  int n_parts;
  int next_part;
  int parts_done;
  int parts_inflight;
  part_state_t *parts;
  /* Outcome being built. */
  msg_outcome_t out;
  int finishing;         /* failure recorded; waiting for abort to finish */
  uint64_t bytes;
  /* A part range of a fanned-out object (seg->range.present): the upload
   * is shared with other workers (docs/fanout.md). */
  int is_range;
  int part_lo, part_hi;  /* 0-based part indices [lo, hi) of this range */
  int range_parts;       /* parts of the range to upload in this job */
  int list_pass;         /* 0: listing before the upload, 1: after */
  int list_marker;       /* ListParts pagination (NextPartNumberMarker) */
  int list_pages;
  int completed_here;    /* this job's CompleteMultipartUpload succeeded */
  int range_gone;        /* NoSuchUpload met while units ran: verify when they end */
  int completing;        /* registered in e->completing */
  uint64_t range_bytes;  /* bytes of parts this job uploaded */
  /* Continuing an upload left open (shutdown, crash) for the same key. */
  int resumed;           /* upload_id is one found open, not initiated here */
  char **stale;          /* other open uploads of the key, to abort */
  int n_stale;
  /* What was written, for the audit trail (xfer_done_written). */
  int dst_existed;       /* -1 unknown (no HEAD), 0 absent, 1 present */
  int has_wcrc;
  uint64_t wcrc;
  char *dst_etag;
};

typedef struct timer {
  int64_t when_us;
  pair_t *pair;          /* bandwidth unpause */
} timer_t_;

struct xfer_engine {
  xfer_conf_t conf;
  const xfer_written_t *written;   /* during a done callback only */
  kvlist_t class_map;
  CURLM *multi;
  store_t **stores;
  size_t n_stores;
  job_t *queue_head, *queue_tail;   /* not started */
  size_t n_queued;
  job_t *active;                    /* started, doubly linked */
  size_t n_active;
  unit_t *ready_head, *ready_tail;  /* waiting for a slot or a token */
  int slots_used;
  xreq_t **unpause;                 /* handles to unpause after perform */
  size_t n_unpause, cap_unpause;
  xreq_t **pause;                   /* GETs to pause after perform */
  size_t n_pause, cap_pause;
  pair_t **put_pending;             /* pairs whose PUT should start */
  size_t n_put_pending, cap_put_pending;
  xreq_t **bw_held;                 /* GETs paused by the bandwidth limit */
  size_t n_bw_held, cap_bw_held;
  bufpool_t rings;                  /* ring buffers of running pairs */
  ratelimit_t qps;                  /* worker.qps_limit */
  ratelimit_t bw;                   /* worker.bandwidth_limit */
  tl_table_t tasks;                 /* each task's own limits */
  backoff_t backoff;
  uint64_t rng;
  int completed_in_run;
  xfer_stats_t stats;
  xreq_t *running;                  /* handles in the multi (stall checks) */
  int keep_uploads;                 /* abandon: leave uploads open to be continued */
  int64_t stall_check_us;           /* next stall scan */
  uint64_t (*req_counts)[XFER_RC__N];  /* per store (n_stores), for /metrics */
  char **completing;                /* part ranges: uploads a job of ours completes */
  size_t n_completing, cap_completing;
};

/* ------------------------------------------------------------------------ */

void xfer_conf_defaults(xfer_conf_t *c) {
  memset(c, 0, sizeof(*c));
  c->concurrency = 32;
  c->max_host_conns = 64;
  c->buffer_size = 256 * 1024;
  c->small_threshold = 1024 * 1024;
  c->multipart_threshold = 64ull * 1024 * 1024;
  c->part_size = 16ull * 1024 * 1024;
  c->max_attempts = 5;
  c->backoff_base_ms = 200;
  c->backoff_max_ms = 20000;
  c->stall_timeout_s = 30;
  c->complete_timeout_s = 600;
}

static store_t *find_store(xfer_engine_t *e, const char *name) {
  size_t i;
  if (!name) return NULL;
  for (i = 0; i < e->n_stores; i++)
    if (strcmp(store_conf(e->stores[i])->name, name) == 0) return e->stores[i];
  return NULL;
}

xfer_engine_t *xfer_engine_new(const xfer_conf_t *conf, const store_conf_t *stores,
                               size_t n_stores, char *errbuf) {
  xfer_engine_t *e = fx_calloc(1, sizeof(*e));
  size_t i;
  e->conf = *conf;
  if (e->conf.concurrency < 2) e->conf.concurrency = 2;
  if (e->conf.buffer_size < 2 * RECV_CHUNK) e->conf.buffer_size = 2 * RECV_CHUNK;
  if (e->conf.max_attempts < 1) e->conf.max_attempts = 1;
  /* A pair holds two slots, so at most concurrency / 2 pairs run, each with
   * one ring: the pool never needs to keep more than that. */
  bufpool_init(&e->rings, e->conf.buffer_size, (size_t)e->conf.concurrency / 2);
  kvlist_init(&e->class_map);
  if (conf->storage_class_map) kvlist_copy(&e->class_map, conf->storage_class_map);
  e->conf.storage_class_map = &e->class_map;
  e->stores = fx_calloc(n_stores + 1, sizeof(*e->stores));
  e->req_counts = fx_calloc(n_stores + 1, sizeof(*e->req_counts));
  for (i = 0; i < n_stores; i++) {
    e->stores[i] = store_new(&stores[i], errbuf);
    if (!e->stores[i]) {
      e->n_stores = i;
      xfer_engine_destroy(e);
      return NULL;
    }
  }
  e->n_stores = n_stores;
  if (!find_store(e, STORE_URLS_NAME)) {
    /* URL-list segments name the built-in anonymous HTTP store as their
     * source ("urls" is reserved in the config for it). */
    store_conf_t uc;
    store_conf_urls(&uc);
    e->stores[e->n_stores] = store_new(&uc, errbuf);
    store_conf_release(&uc);
    if (e->stores[e->n_stores]) e->n_stores++;
  }
  e->multi = curl_multi_init();
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conf->max_host_conns);
  curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->conf.concurrency * 2);
  e->rng = conf->rng_seed ? conf->rng_seed : (uint64_t)ferry_now_us() | 1;
  backoff_init(&e->backoff);
  if (conf->backoff_base_ms > 0) e->backoff.base_ms = conf->backoff_base_ms;
  if (conf->backoff_max_ms > 0) e->backoff.cap_ms = conf->backoff_max_ms;
  backoff_rng_seed(&e->rng, e->rng);
  tl_init(&e->tasks);
  xfer_set_limits(e, conf->qps_limit, conf->bandwidth_limit);
  return e;
}

/* Bursts are a tenth of a second's worth: enough to keep transfers busy,
 * small enough that a limit holds over short windows. The bandwidth burst is
 * at least two receive chunks so a paused GET can always resume. */
void xfer_set_limits(xfer_engine_t *e, double qps, double bandwidth) {
  int64_t now = ferry_now_us();
  uint64_t q = qps > 0 ? (uint64_t)(qps + 0.5) : 0;
  uint64_t b = bandwidth > 0 ? (uint64_t)bandwidth : 0;
  e->conf.qps_limit = qps;
  e->conf.bandwidth_limit = bandwidth;
  if (q == 0 && qps > 0) q = 1;
  rl_init(&e->qps, q, q ? FERRY_MAX(q / 10, 2) : 0, now);
  rl_init(&e->bw, b, b ? FERRY_MAX(b / 10, 2 * RECV_CHUNK) : 0, now);
}

void xfer_task_limits(xfer_engine_t *e, const char *task, double qps, double bandwidth) {
  uint64_t q = qps > 0 ? (uint64_t)(qps + 0.5) : 0;
  if (q == 0 && qps > 0) q = 1;
  tl_set_limits(tl_get(&e->tasks, task, ferry_now_us()), q,
                bandwidth > 0 ? (uint64_t)bandwidth : 0, ferry_now_us());
}

size_t xfer_tasks(const xfer_engine_t *e, xfer_task_stat_t *out, size_t max) {
  size_t i;
  int64_t now = ferry_now_us();
  for (i = 0; i < e->tasks.n && i < max; i++) {
    const tl_task_t *k = e->tasks.v[i];
    out[i].task = k->name;
    out[i].jobs = k->jobs;
    out[i].held = tl_limited(k) && tl_held(k, now);
    out[i].qps = k->qps_rate;
    out[i].bandwidth = k->bw_rate;
    out[i].requests = k->requests;
    out[i].bytes = k->bytes;
  }
  return e->tasks.n;
}

void xfer_get_stats(const xfer_engine_t *e, xfer_stats_t *out) { *out = e->stats; }

size_t xfer_store_count(const xfer_engine_t *e) { return e->n_stores; }

const char *xfer_store_name(const xfer_engine_t *e, size_t i) {
  return i < e->n_stores ? store_conf(e->stores[i])->name : NULL;
}

void xfer_get_req_counts(const xfer_engine_t *e, size_t i, uint64_t out[XFER_RC__N]) {
  memcpy(out, e->req_counts[i], sizeof(e->req_counts[i]));
}

/* Counts a finished request by its store and status class. */
static void count_req(xfer_engine_t *e, const xreq_t *x, CURLcode cc) {
  const store_t *s = x->kind == RQ_GET || x->kind == RQ_HEAD_SRC ? x->job->src : x->job->dst;
  long status = 0;
  int cls = XFER_RC_ERROR;
  size_t i;
  if (cc == CURLE_OK) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 600) cls = (int)(status / 100) - 2;
  for (i = 0; i < e->n_stores; i++)
    if (e->stores[i] == s) e->req_counts[i][cls]++;
}

size_t xfer_pending(const xfer_engine_t *e) { return e->n_queued + e->n_active; }

const xfer_written_t *xfer_done_written(const xfer_engine_t *e) { return e->written; }

/* ------------------------------------------------------------------------ */
/* Outcome helpers. */

/* The job's object is copied: whatever an attempt that failed before (and
 * was retried) wrote into the outcome goes, so that a copied object never
 * carries a failure's reason, code or message. reason: NULL, or "parts". */
static void set_copied(job_t *j, const char *reason) {
  msg_outcome_t *o = &j->out;
  o->status = ST_COPIED;
  o->http_status = 0;
  fx_free(o->reason), o->reason = reason ? fx_strdup(reason) : NULL;
  fx_free(o->code), o->code = NULL;
  fx_free(o->request_id), o->request_id = NULL;
  fx_free(o->message), o->message = NULL;
}

static void set_fail(job_t *j, msg_status_t st, const char *reason, const store_error_t *err,
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
static const char *reason_of(const store_error_t *err) {
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
/* Requests. */

/* Takes a handle out of the multi (and of the running list). */
static void xreq_detach(xfer_engine_t *e, xreq_t *x) {
  if (!x || !x->in_multi) return;
  curl_multi_remove_handle(e->multi, x->easy);
  x->in_multi = 0;
  if (x->run_prev) x->run_prev->run_next = x->run_next;
  else e->running = x->run_next;
  if (x->run_next) x->run_next->run_prev = x->run_prev;
  x->run_prev = x->run_next = NULL;
}

static void xreq_free(xfer_engine_t *e, xreq_t *x) {
  if (!x) return;
  xreq_detach(e, x);
  if (x->easy) curl_easy_cleanup(x->easy);
  curl_slist_free_all(x->hdrs);
  kvlist_release(&x->rhdrs);
  fbuf_release(&x->body);
  /* Drop a pending unpause of this handle. */
  for (size_t i = 0; i < e->n_unpause; i++)
    if (e->unpause[i] == x) e->unpause[i] = NULL;
  for (size_t i = 0; i < e->n_pause; i++)
    if (e->pause[i] == x) e->pause[i] = NULL;
  for (size_t i = 0; i < e->n_bw_held; i++)
    if (e->bw_held[i] == x) e->bw_held[i] = NULL;
  fx_free(x);
}

static void want_unpause(xfer_engine_t *e, xreq_t *x) {
  if (!x || !x->paused || x->want_unpause) return;
  x->want_unpause = 1;
  if (e->n_unpause == e->cap_unpause) {
    e->cap_unpause = e->cap_unpause ? e->cap_unpause * 2 : 16;
    e->unpause = fx_realloc(e->unpause, e->cap_unpause * sizeof(*e->unpause));
  }
  e->unpause[e->n_unpause++] = x;
}

/* A GET whose ring can no longer take a whole chunk is paused by the loop
 * (xfer/flow.h says why), unless the PUT made room meanwhile. */
static void want_pause(xfer_engine_t *e, xreq_t *x) {
  if (x->paused || x->want_pause) return;
  x->want_pause = 1;
  if (e->n_pause == e->cap_pause) {
    e->cap_pause = e->cap_pause ? e->cap_pause * 2 : 16;
    e->pause = fx_realloc(e->pause, e->cap_pause * sizeof(*e->pause));
  }
  e->pause[e->n_pause++] = x;
}

static void bw_hold(xfer_engine_t *e, xreq_t *x) {
  if (e->n_bw_held == e->cap_bw_held) {
    e->cap_bw_held = e->cap_bw_held ? e->cap_bw_held * 2 : 16;
    e->bw_held = fx_realloc(e->bw_held, e->cap_bw_held * sizeof(*e->bw_held));
  }
  e->bw_held[e->n_bw_held++] = x;
}

/* Every byte that arrives or leaves restarts the request's stall clock. */
static void xreq_moved(xreq_t *x) { x->moved_us = ferry_now_us(); }

static size_t hdr_cb(char *p, size_t sz, size_t n, void *ud) {
  xreq_t *x = ud;
  xreq_moved(x);
  return store_hdr_cb(p, sz, n, &x->rhdrs);
}

static size_t body_cb(char *p, size_t sz, size_t n, void *ud) {
  xreq_t *x = ud;
  xreq_moved(x);  /* whitespace before a Complete's answer included */
  if (fbuf_add(&x->body, p, sz * n) != FERRY_OK) return 0;  /* capped */
  return sz * n;
}

static void job_on_req(xfer_engine_t *e, xreq_t *x, CURLcode cc);
static void pair_on_done(xfer_engine_t *e, xreq_t *x, CURLcode cc);
static void schedule(xfer_engine_t *e, unit_t *u);

/* Creates a request of the given kind with a signed store request. */
static xreq_t *xreq_new(job_t *j, rq_kind_t kind) {
  xreq_t *x = fx_calloc(1, sizeof(*x));
  x->job = j;
  x->kind = kind;
  kvlist_init(&x->rhdrs);
  fbuf_init(&x->body, 1024 * 1024);
  x->easy = curl_easy_init();
  return x;
}

/* Common easy options after store_http_setup. */
static ferry_err_t xreq_setup(xfer_engine_t *e, xreq_t *x, store_t *s, store_req_t *r,
                              curl_off_t body_len) {
  char errbuf[FERRY_ERRLEN];
  ferry_err_t err = store_http_setup(s, x->easy, r, body_len, &x->hdrs, errbuf);
  if (err) {
    LOG_ERROR(FAC, "event=setup-failed error=%s", FLOG_Q(errbuf));
    return err;
  }
  curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
  curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, hdr_cb);
  curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->curl_err);
  curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
  /* libcurl allocates a receive buffer of this size per transfer: a GET's
   * body comes through it; the other requests' answers are a few headers
   * and a little XML, so they take libcurl's smallest sensible one. */
  curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, (long)(x->kind == RQ_GET ? RECV_CHUNK : SMALL_RECV));
  /* A body (GET, PUT, UploadPart) lasts as long as its bytes keep moving,
   * however slow the link or the limits: only stall_check cuts it. Complete
   * may merge for minutes: complete_timeout_s of silence (stall_check).
   * The requests without a body also get a total cap. */
  if (e->conf.request_timeout_s > 0 && !x->pair && x->kind != RQ_MPU_COMPLETE)
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, e->conf.request_timeout_s);
  return FERRY_OK;
}

static void xreq_start(xfer_engine_t *e, xreq_t *x) {
  curl_multi_add_handle(e->multi, x->easy);
  x->in_multi = 1;
  x->moved_us = ferry_now_us();
  x->run_prev = NULL;
  x->run_next = e->running;
  if (e->running) e->running->run_prev = x;
  e->running = x;
  e->stats.requests++;
}

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
/* Job lifecycle. */

static void job_free(job_t *j) {
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
static void completing_del(xfer_engine_t *e, job_t *j);

static void job_finish(xfer_engine_t *e, job_t *j) {
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

static void queue_single(xfer_engine_t *e, job_t *j, rq_kind_t kind, int64_t not_before) {
  unit_t *u = fx_calloc(1, sizeof(*u));
  u->job = j;
  u->kind = kind;
  u->not_before_us = not_before;
  j->units++;
  schedule(e, u);
}

static void queue_pair(xfer_engine_t *e, pair_t *p, int64_t not_before) {
  unit_t *u = fx_calloc(1, sizeof(*u));
  u->job = p->job;
  u->pair = p;
  u->not_before_us = not_before;
  p->job->units++;
  schedule(e, u);
}

static void range_verify(xfer_engine_t *e, job_t *j);

/* Fails the job; a started multipart upload is aborted first. */
static void job_fail(xfer_engine_t *e, job_t *j, msg_status_t st, const char *reason,
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

static void job_success(xfer_engine_t *e, job_t *j) {
  set_copied(j, NULL);
  job_finish(e, j);
}

static void job_start_copy(xfer_engine_t *e, job_t *j);
static void range_start(xfer_engine_t *e, job_t *j);
static void range_list(xfer_engine_t *e, job_t *j, int pass);
static void range_on_list(xfer_engine_t *e, job_t *j, xreq_t *x);
static void range_verify(xfer_engine_t *e, job_t *j);
static void range_on_verify(xfer_engine_t *e, job_t *j, long status, xreq_t *x);
static void range_parts_done(xfer_engine_t *e, job_t *j);
static void resume_find(xfer_engine_t *e, job_t *j);
static void resume_on_uploads(xfer_engine_t *e, job_t *j, xreq_t *x);
static void resume_after_listing(xfer_engine_t *e, job_t *j);
static void resume_check_done(xfer_engine_t *e, pair_t *p);
static void mpu_init(xfer_engine_t *e, job_t *j);
static void stale_done(xfer_engine_t *e, job_t *j, int aborted);

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
  }
}

static void pair_ring_give(xfer_engine_t *e, pair_t *p) {
  if (!p->ring) return;
  if (p->ring_pooled) bufpool_put(&e->rings, p->ring);
  else fx_free(p->ring);
  p->ring = NULL;
  p->ring_pooled = 0;
}

static void pair_free(xfer_engine_t *e, pair_t *p) {
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

static pair_t *pair_new(job_t *j, int part, uint64_t off, uint64_t len) {
  pair_t *p = fx_calloc(1, sizeof(*p));
  xfer_engine_t *e = j->e;
  p->job = j;
  p->part = part;
  p->off = off;
  p->len = len;
  p->wait_whole = part < 0 && len <= e->conf.small_threshold;
  p->cap = p->wait_whole ? (size_t)FERRY_MAX(len, 1) : e->conf.buffer_size;
  return p;
}

/* Slots a pair holds while it runs. A streamed pair's GET and PUT run at
 * the same time: two. A small object is read whole before its PUT starts,
 * so its two requests never overlap: one slot, which the PUT takes over
 * from the GET. (Counting two left half the slots idle on small objects.) */
static int pair_slots(const pair_t *p) { return p->wait_whole || p->check ? 1 : 2; }

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

/* The job's head from a response of its source (src = 1) or destination:
 * a size or CRC header that is present but unreadable fails the object
 * (reason "protocol"), the message naming the header and the object, rather
 * than reading as size 0 or as no CRC. Returns 0, or -1 after job_fail
 * (`finish`) or set_fail. h is filled and must be released either way. */
static int head_parse(xfer_engine_t *e, job_t *j, int src, const kvlist_t *hdrs,
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

static ferry_err_t pair_start_put(xfer_engine_t *e, pair_t *p);

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
     * PUT right after curl_multi_perform returns. */
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

/* Destination request headers for a whole-object PUT or initiate. */
static ferry_err_t dst_headers(job_t *j, store_req_t *r, char *errbuf) {
  kvlist_t hdrs;
  ferry_err_t err;
  xfer_engine_t *e = j->e;
  kvlist_init(&hdrs);
  policy_meta_opts_t opts;
  opts.class_map = e->conf.storage_class_map;
  opts.record_src_etag = e->conf.record_source_etag;
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

static ferry_err_t pair_start_put(xfer_engine_t *e, pair_t *p) {
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
  curl_easy_setopt(x->easy, CURLOPT_SEEKFUNCTION, put_seek_cb);
  curl_easy_setopt(x->easy, CURLOPT_SEEKDATA, x);
  xreq_start(e, x);
  return FERRY_OK;
}

static ferry_err_t pair_start_get(xfer_engine_t *e, pair_t *p) {
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
static void pair_reset(xfer_engine_t *e, pair_t *p) {
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
/* Scheduling. */

static void schedule(xfer_engine_t *e, unit_t *u) {
  u->next = NULL;
  if (e->ready_tail) e->ready_tail->next = u;
  else e->ready_head = u;
  e->ready_tail = u;
}

static ferry_err_t start_single(xfer_engine_t *e, job_t *j, rq_kind_t kind);

/* Aborts still run for a failed job. */
static int unit_survives_failure(const unit_t *u) {
  return !u->pair && (u->kind == RQ_MPU_ABORT || u->kind == RQ_MPU_ABORT_STALE);
}

/* A unit of a failed job that will not run: the last one ends the job. */
static void unit_drop(xfer_engine_t *e, unit_t *u) {
  job_t *j = u->job;
  j->units--;
  if (u->pair) {
    if (u->pair->part >= 0) j->parts_inflight--;
    pair_free(e, u->pair);
  }
  fx_free(u);
  if (j->units == 0) job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
}

/* Starts ready units while slots and tokens allow. Returns the earliest time
 * a waiting unit could start (0 when none waits on time). */
static int64_t start_ready(xfer_engine_t *e) {
  unit_t **pp = &e->ready_head, *prev = NULL;
  int64_t now = ferry_now_us(), wake = 0;
  tl_pass_requests(&e->tasks);
  while (*pp) {
    unit_t *u = *pp;
    int need = u->pair ? pair_slots(u->pair) : 1;
    int tokens = u->pair ? 2 : 1;
    job_t *j = u->job;
    if (j->finishing && !unit_survives_failure(u)) {
      /* The job failed meanwhile (or the worker shuts down): drop the
       * unit, even one waiting out a backoff. */
      *pp = u->next;
      if (e->ready_tail == u) e->ready_tail = prev;
      unit_drop(e, u);
      continue;
    }
    if (u->not_before_us > now) {
      if (!wake || u->not_before_us < wake) wake = u->not_before_us;
      prev = u;
      pp = &u->next;
      continue;
    }
    if (e->slots_used + need > e->conf.concurrency) break;
    {
      int worker_short = 0;
      int64_t w = tl_take_requests(j->lim, &e->qps, (uint64_t)tokens, now, &worker_short);
      if (w > 0) {
        if (!wake || now + w < wake) wake = now + w;
        if (worker_short) break;
        /* Only this task waits for its tokens: the others go first. */
        prev = u;
        pp = &u->next;
        continue;
      }
    }
    /* Unlink. */
    *pp = u->next;
    if (e->ready_tail == u) e->ready_tail = prev;
    e->slots_used += need;
    if (u->pair) {
      if (pair_start_get(e, u->pair) != FERRY_OK) {
        e->slots_used -= need;
        j->units--;
        pair_free(e, u->pair);
        fx_free(u);
        job_fail(e, j, ST_FAILED, "internal", NULL, "could not start a source GET");
        continue;
      }
    } else if (start_single(e, j, u->kind) != FERRY_OK) {
      e->slots_used -= need;
      j->units--;
      fx_free(u);
      if (u->kind == RQ_MPU_ABORT) {
        job_finish(e, j);
      } else if (u->kind == RQ_MPU_ABORT_STALE) {
        stale_done(e, j, 0);
      } else {
        job_fail(e, j, ST_FAILED, "internal", NULL, "could not start a request");
      }
      continue;
    }
    fx_free(u);
  }
  return wake;
}

/* Takes the first queued object whose task may start one (tasklimit.h) at
 * or after *pp (the scan's place, so a pass reads the queue once); objects
 * of a task its own limit holds back stay in the queue, in their place. */
static job_t *next_startable(xfer_engine_t *e, job_t ***pp, job_t **prev, int64_t now) {
  while (**pp) {
    job_t *j = **pp;
    if (tl_may_start_job(j->lim, now)) {
      **pp = j->next;
      if (e->queue_tail == j) e->queue_tail = *prev;
      e->n_queued--;
      return j;
    }
    *prev = j;
    *pp = &j->next;
  }
  return NULL;
}

/* An object whose destination key would be empty (policy_dst_key): never a
 * request with an empty key, which would address the bucket. */
static void job_no_key(xfer_engine_t *e, job_t *j) {
  if (j->dk == POLICY_DK_SKIP_MARKER) {
    j->out.status = ST_SKIPPED;
    j->out.reason = fx_strdup("prefix-marker");
    j->out.message = fx_strdup("the folder marker of the task's source prefix: its copy would "
                               "be the destination bucket's root, which needs no marker");
    job_finish(e, j);
    return;
  }
  job_fail(e, j, ST_FAILED, "empty-key", NULL,
           "the destination key would be empty (the source key equals the task's source "
           "prefix and the destination prefix is empty)");
}

/* Starts queued jobs while fewer than `concurrency` jobs are active. */
static void start_jobs(xfer_engine_t *e) {
  job_t *j, **pp = &e->queue_head, *prev = NULL;
  int64_t now = ferry_now_us();
  tl_pass_jobs(&e->tasks);
  while (e->n_active < (size_t)e->conf.concurrency &&
         (j = next_startable(e, &pp, &prev, now)) != NULL) {
    j->next = e->active;
    j->prev = NULL;
    if (e->active) e->active->prev = j;
    e->active = j;
    e->n_active++;
    j->start_us = ferry_now_us();
    if (!j->src || !j->dst) {
      job_fail(e, j, ST_FAILED, "config", NULL,
               !j->src ? "unknown source store" : "unknown destination store");
      continue;
    }
    if (j->dk != POLICY_DK_OK) {
      job_no_key(e, j);
    } else if (j->is_range) {
      range_start(e, j);
    } else if (j->seg->policy == POLICY_OVERWRITE) {
      job_start_copy(e, j);
    } else {
      j->phase = PH_HEAD_DST;
      queue_single(e, j, RQ_HEAD_DST, 0);
    }
  }
}

void xfer_submit(xfer_engine_t *e, const msg_segment_t *seg, size_t index, xfer_done_cb *cb,
                 void *opaque) {
  job_t *j = fx_calloc(1, sizeof(*j));
  const msg_obj_t *o = &seg->objs[index];
  j->dst_existed = -1;
  j->e = e;
  j->seg = seg;
  j->index = index;
  j->obj = o;
  j->cb = cb;
  j->opaque = opaque;
  j->lim = tl_get(&e->tasks, seg->task, ferry_now_us());
  j->lim->jobs++;
  j->src = find_store(e, seg->src.store);
  j->dst = find_store(e, seg->dst.store);
  j->dk = policy_dst_key(seg->src.prefix, seg->dst.prefix, o->key, o->size, o->dst_key,
                         &j->dst_key);
  if (!j->dst_key) j->dst_key = fx_strdup(""); /* never sent: start_jobs ends the job */
  j->out.key = fx_strdup(o->key);
  j->out.size = o->size;
  j->out.etag = o->etag ? fx_strdup(o->etag) : NULL;
  j->is_range = seg->range.present;
  j->phase = PH_QUEUED;
  if (e->queue_tail) e->queue_tail->next = j;
  else e->queue_head = j;
  e->queue_tail = j;
  e->n_queued++;
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

static ferry_err_t start_single(xfer_engine_t *e, job_t *j, rq_kind_t kind) {
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

static void job_start_parts(xfer_engine_t *e, job_t *j);

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

static void job_start_copy(xfer_engine_t *e, job_t *j) {
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

static void on_head_src(xfer_engine_t *e, job_t *j, xreq_t *x) {
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
static void job_start_parts(xfer_engine_t *e, job_t *j) {
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

static void job_retry_single(xfer_engine_t *e, job_t *j, rq_kind_t kind, const store_error_t *err) {
  long d = backoff_delay_ms(&e->backoff, j->req_attempts, err->retry_after_s, &e->rng);
  e->stats.retries++;
  LOG_INFO(FAC, "event=retry op=%s key=%s attempt=%d delay_ms=%ld http=%d code=%s",
           rq_name[kind], FLOG_Q(j->obj->key), j->req_attempts, d, err->http_status,
           FLOG_V(err->code[0] ? err->code : "-"));
  queue_single(e, j, kind, ferry_now_us() + (int64_t)d * 1000);
}

/* The upload is no longer there (NoSuchUpload): what the destination holds
 * decides (range_on_verify). After a Complete of ours was retried, it is the
 * first attempt that completed it, so a wrong object is an integrity error. */
static void complete_gone(xfer_engine_t *e, job_t *j) {
  fx_free(j->upload_id);
  j->upload_id = NULL;
  if (!j->is_range) j->completed_here = 1;
  range_verify(e, j);
}

/* A single request finished. */
/* CompleteMultipartUpload answered 2xx (COS may still say <Error>). */
static void on_complete(xfer_engine_t *e, job_t *j, xreq_t *x, long status) {
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

static void job_on_req(xfer_engine_t *e, xreq_t *x, CURLcode cc) {
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
  xreq_free(e, x);
  job_on_req_failed(e, j, kind, status, &err);
}

/* ------------------------------------------------------------------------ */
/* Pair completion. */

/* Ends a pair attempt: success, retry or failure. */
static void pair_end(xfer_engine_t *e, pair_t *p, int ok, const store_error_t *err, int retryable) {
  job_t *j = p->job;
  int attempts;
  e->slots_used -= pair_slots(p);
  j->units--;
  p->attempts++;
  j->attempts_total++;
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
static int md5_matches(EVP_MD_CTX *c, const char *etag) {
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

static void pair_on_done(xfer_engine_t *e, xreq_t *x, CURLcode cc) {
  pair_t *p = x->pair;
  job_t *j = p->job;
  long status = 0;
  store_error_t err;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  LOG_TRACE(FAC, "pair-done kind=%s cc=%d status=%ld got=%llu sent=%llu", rq_name[x->kind], (int)cc,
            status, (unsigned long long)p->got, (unsigned long long)p->sent);
  store_error_clear(&err);
  xreq_detach(e, x);
  if (x->kind == RQ_GET) {
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
    /* The bytes read must match the source's CRC64 when the store gives it
     * (OSS/COS: whole-object CRC, so only for whole-object GETs here). */
    if (p->part < 0) {
      store_head_t h;
      int has_src;
      uint64_t src;
      /* Its headers passed head_parse in pair_validate_get. */
      store_head_from_headers(&h, store_conf(j->src)->type, &x->rhdrs);
      has_src = j->obj->has_crc64 || h.has_crc64;
      src = j->obj->has_crc64 ? j->obj->crc64 : h.crc64;
      store_head_release(&h);
      if (has_src && src != p->crc) {
        pair_integrity(e, p, (int)status, "CRC64 of the bytes read differs from the source's");
        return;
      }
    }
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
    return;
  }
  /* PUT finished. */
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
  {
    store_head_t h;
    if (head_parse(e, j, 0, &x->rhdrs, &h, 0)) {
      store_head_release(&h);
      pair_cut(e, p);
      j->finishing = 1;
      pair_end(e, p, 0, NULL, 0);
      return;
    }
    {
      const char *bad = pair_put_digest_bad(p, &x->rhdrs, &h);
      if (bad) {
        store_head_release(&h);
        pair_integrity(e, p, (int)status, bad);
        return;
      }
    }
    p->put_etag = h.etag ? fx_strdup(h.etag) : NULL;
    store_head_release(&h);
  }
  if (p->part >= 0 && !p->put_etag) {
    set_fail(j, ST_FAILED, "protocol", NULL, "UploadPart answered without an ETag");
    j->finishing = 1;
    pair_end(e, p, 0, NULL, 0);
    return;
  }
  p->put_done = 1;
  pair_end(e, p, 1, NULL, 0);
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

static void mpu_init(xfer_engine_t *e, job_t *j) {
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

static void stale_done(xfer_engine_t *e, job_t *j, int aborted) {
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

static void resume_on_uploads(xfer_engine_t *e, job_t *j, xreq_t *x) {
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
static void resume_check_done(xfer_engine_t *e, pair_t *p) {
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

static void range_start(xfer_engine_t *e, job_t *j) {
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

static void completing_del(xfer_engine_t *e, job_t *j) {
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
    /* Ranges whose last parts end together all see every part. The range
     * holding the object's last part completes at once; one k ranges before
     * it waits 2 s per range (at most 20 s), so that of several completers
     * the first usually finishes before the next starts and the next meets
     * NoSuchUpload. A second Complete is harmless anyway (it completes the
     * same parts again, or meets NoSuchUpload, and verifies). */
    int span = j->part_hi - j->part_lo;
    int k = (j->n_parts - j->part_hi + span - 1) / (span > 0 ? span : 1);
    int64_t wait_ms = (int64_t)FERRY_MIN(k, 10) * 2000 + (int64_t)backoff_rng_upto(&e->rng, 250);
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

static void range_parts_done(xfer_engine_t *e, job_t *j) {
  range_list(e, j, 1);
}

static void range_on_list(xfer_engine_t *e, job_t *j, xreq_t *x) {
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

static void range_verify(xfer_engine_t *e, job_t *j) {
  j->phase = PH_VERIFY;
  j->req_attempts = 0;
  queue_single(e, j, RQ_VERIFY_DST, 0);
}

/* The upload is no longer open: the object at the destination must be the
 * one the ranges make (size; CRC-64 when both stores give it; a multipart
 * ETag's part count). Else it was aborted (another range failed, or a
 * cleanup), or — when this job completed it — it is corrupt. */
static void range_on_verify(xfer_engine_t *e, job_t *j, long status, xreq_t *x) {
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
    } else if (h.has_crc64 && j->obj->has_crc64 && h.crc64 != j->obj->crc64) {
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

/* ------------------------------------------------------------------------ */
/* The loop. */

static void apply_pauses(xfer_engine_t *e) {
  size_t i;
  for (i = 0; i < e->n_pause; i++) {
    xreq_t *x = e->pause[i];
    pair_t *p;
    if (!x) continue;
    x->want_pause = 0;
    p = x->pair;
    if (x->paused || !x->in_multi || p->failed || p->get_done) continue;
    if (!flow_should_pause(p->cap, p->fill, p->len - p->got, RECV_CHUNK)) continue;
    x->paused = 1;
    curl_easy_pause(x->easy, CURLPAUSE_RECV);
  }
  e->n_pause = 0;
}

static void apply_unpauses(xfer_engine_t *e) {
  size_t i;
  for (i = 0; i < e->n_unpause; i++) {
    xreq_t *x = e->unpause[i];
    if (!x) continue;
    x->want_unpause = 0;
    if (!x->paused || !x->in_multi) continue;
    if (x->pair && x == x->pair->get && x->pair->bw_wake_us) continue; /* on the bw timer */
    x->paused = 0;
    x->moved_us = ferry_now_us();  /* time paused by us is not a stall */
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
  }
  e->n_unpause = 0;
}

/* Releases bandwidth-held GETs whose time has come; returns the next wake
 * time, 0 if none is held. */
static int64_t bw_release(xfer_engine_t *e) {
  size_t i, k = 0;
  int64_t now = ferry_now_us(), next = 0;
  for (i = 0; i < e->n_bw_held; i++) {
    xreq_t *x = e->bw_held[i];
    if (!x) continue;
    if (x->pair->bw_wake_us <= now) {
      x->pair->bw_wake_us = 0;
      want_unpause(e, x);
      continue;
    }
    if (!next || x->pair->bw_wake_us < next) next = x->pair->bw_wake_us;
    e->bw_held[k++] = x;
  }
  e->n_bw_held = k;
  return next;
}

/* Starts the PUTs that GET callbacks asked for. */
static void start_puts(xfer_engine_t *e) {
  size_t i;
  for (i = 0; i < e->n_put_pending; i++) {
    pair_t *p = e->put_pending[i];
    if (!p) continue;
    p->put_queued = 0;
    if (p->put_started || p->failed) continue;
    if (pair_start_put(e, p) != FERRY_OK) {
      if (!p->job->finishing)
        set_fail(p->job, ST_FAILED, "internal", NULL, "could not start the destination PUT");
      p->failed = 1;
      p->job->finishing = 1;
      /* The paused GET learns of it when resumed. */
      if (p->get) want_unpause(e, p->get);
    }
  }
  e->n_put_pending = 0;
}

/* A request's stall limit: complete_timeout_s for Complete (the store may
 * merge for minutes before it answers), else stall_timeout_s; 0 = none. */
static long stall_limit_s(const xfer_engine_t *e, const xreq_t *x) {
  return x->kind == RQ_MPU_COMPLETE ? e->conf.complete_timeout_s : e->conf.stall_timeout_s;
}

/* Cuts, as a timeout (retried like one), every running request that moved
 * no byte for its limit. A request paused by the engine (flow control, the
 * bandwidth limit) is not stalled: its clock restarts when it resumes; time
 * waiting for a QPS token is spent before a request starts. libcurl's
 * low-speed check is not used: it would need a byte a second, and S3 sends
 * Complete's keep-alive whitespace more rarely. One request at a time: ending
 * one may end others (its pair's other half). */
static void stall_check(xfer_engine_t *e) {
  int64_t now = ferry_now_us();
  xreq_t *x;
  if (now < e->stall_check_us) return;
  e->stall_check_us = now + STALL_CHECK_US;
again:
  for (x = e->running; x; x = x->run_next) {
    long lim = stall_limit_s(e, x);
    if (x->paused || lim <= 0 || now - x->moved_us < (int64_t)lim * 1000000) continue;
    snprintf(x->curl_err, sizeof(x->curl_err), "no byte moved for %ld s (worker.%s)", lim,
             x->kind == RQ_MPU_COMPLETE ? "complete_timeout_s" : "stall_timeout_s");
    LOG_INFO(FAC, "event=stall op=%s key=%s seconds=%ld", rq_name[x->kind],
             FLOG_Q(x->job->obj->key), lim);
    count_req(e, x, CURLE_OPERATION_TIMEDOUT);
    if (x->pair) {
      pair_on_done(e, x, CURLE_OPERATION_TIMEDOUT);
    } else {
      xreq_detach(e, x);
      job_on_req(e, x, CURLE_OPERATION_TIMEDOUT);
    }
    goto again;
  }
}

static void handle_done(xfer_engine_t *e) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(e->multi, &left))) {
    xreq_t *x = NULL;
    if (m->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    if (!x) continue;
    count_req(e, x, m->data.result);
    if (x->pair) {
      pair_on_done(e, x, m->data.result);
    } else {
      CURLcode cc = m->data.result;
      xreq_detach(e, x);
      job_on_req(e, x, cc);
    }
  }
}

size_t xfer_run(xfer_engine_t *e, int timeout_ms) {
  int64_t deadline = ferry_now_us() + (int64_t)timeout_ms * 1000;
  e->completed_in_run = 0;
  for (;;) {
    int running = 0;
    int64_t now, wake, bw;
    int wait_ms;
    start_jobs(e);
    wake = start_ready(e);
    curl_multi_perform(e->multi, &running);
    handle_done(e);
    stall_check(e);
    start_puts(e);
    bw = bw_release(e);
    apply_pauses(e);
    apply_unpauses(e);
    if (xfer_pending(e) == 0) {
      /* Idle: the kept rings go back to the system until work comes. */
      bufpool_trim(&e->rings);
      break;
    }
    if (e->completed_in_run) break;
    now = ferry_now_us();
    if (now >= deadline) break;
    wait_ms = (int)((deadline - now) / 1000);
    if (wake && (wake - now) / 1000 < wait_ms) wait_ms = (int)((wake - now) / 1000);
    if (bw && (bw - now) / 1000 < wait_ms) wait_ms = (int)((bw - now) / 1000);
    if (e->running && wait_ms > STALL_CHECK_US / 1000) wait_ms = STALL_CHECK_US / 1000;
    if (wait_ms < 1 && (wake || bw)) wait_ms = 1;
    curl_multi_poll(e->multi, NULL, 0, wait_ms, NULL);
  }
  return xfer_pending(e);
}

/* Cuts every running body transfer (its job is failing): the parts of an
 * upload end at once, not when their bytes next move. One at a time, as
 * ending one may free others. */
static void abandon_cut_pairs(xfer_engine_t *e) {
  xreq_t *x;
again:
  for (x = e->running; x; x = x->run_next) {
    if (!x->pair) continue;
    x->pair->failed = 1;
    pair_on_done(e, x->pair->get ? x->pair->get : x, CURLE_ABORTED_BY_CALLBACK);
    goto again;
  }
}

void xfer_abandon_all(xfer_engine_t *e, int timeout_ms, int keep_uploads) {
  /* Mark every job failed; uploads are left or aborted by job_fail. */
  int64_t deadline = ferry_now_us() + (int64_t)timeout_ms * 1000;
  job_t *j;
  e->keep_uploads = keep_uploads;
  while (e->queue_head) {
    j = e->queue_head;
    e->queue_head = j->next;
    e->n_queued--;
    j->next = e->active;
    j->prev = NULL;
    if (e->active) e->active->prev = j;
    e->active = j;
    e->n_active++;
    j->start_us = ferry_now_us();
    set_fail(j, ST_FAILED, "shutdown", NULL, "worker shut down before the copy");
    j->finishing = 1;
  }
  e->queue_tail = NULL;
  for (j = e->active; j; j = j->next) {
    if (!j->finishing) set_fail(j, ST_FAILED, "shutdown", NULL, "worker shut down mid-copy");
    j->finishing = 1;
  }
  abandon_cut_pairs(e);
  while (xfer_pending(e) && ferry_now_us() < deadline) {
    /* Jobs with no unit left finish (or abort) now; queued units, those
     * waiting out a backoff included, are dropped by the next run. */
    job_t *next;
    for (j = e->active; j; j = next) {
      next = j->next;
      if (j->units == 0 && j->phase != PH_ABORT) job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
    }
    xfer_run(e, 100);
  }
  if (xfer_pending(e))
    LOG_WARN(FAC, "event=abandon-timeout jobs=%zu", xfer_pending(e));
}

void xfer_engine_destroy(xfer_engine_t *e) {
  size_t i;
  if (!e) return;
  while (e->ready_head) {
    unit_t *u = e->ready_head;
    e->ready_head = u->next;
    if (u->pair) pair_free(e, u->pair);
    fx_free(u);
  }
  /* Remaining jobs (not finished) are dropped without callbacks. */
  while (e->queue_head) {
    job_t *j = e->queue_head;
    e->queue_head = j->next;
    job_free(j);
  }
  if (e->multi) curl_multi_cleanup(e->multi);
  for (i = 0; i < e->n_stores; i++) store_destroy(e->stores[i]);
  fx_free(e->stores);
  fx_free(e->req_counts);
  fx_free(e->unpause);
  fx_free(e->pause);
  fx_free(e->put_pending);
  fx_free(e->bw_held);
  for (i = 0; i < e->n_completing; i++) fx_free(e->completing[i]);
  fx_free(e->completing);
  bufpool_release(&e->rings);
  kvlist_release(&e->class_map);
  tl_release(&e->tasks);
  fx_free(e);
}
