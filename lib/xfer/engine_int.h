/*
 * engine_int.h: the copy engine's internals, shared by its files and by
 * nothing else (callers use xfer/engine.h):
 *  - engine.c: the engine, its requests, scheduling and the event loop;
 *  - engine_job.c: an object's job, its outcome and its single requests;
 *  - engine_pair.c: a copy pair, a GET streamed into a PUT;
 *  - engine_mpu.c: the multipart job (parts, complete, continued uploads,
 *    part ranges of fanned-out objects).
 * engine.c's header comment describes how they work together. The functions
 * below have external linkage only so that these files share them.
 */
#ifndef FERRY_XFER_ENGINE_INT_H
#define FERRY_XFER_ENGINE_INT_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "core/buf.h"
#include "core/kv.h"
#include "store/client.h"
#include "store/request.h"
#include "xfer/backoff.h"
#include "xfer/bufpool.h"
#include "xfer/engine.h"
#include "xfer/inflight.h"
#include "policy/policy.h"
#include "xfer/ratelimit.h"
#include "xfer/storedown.h"
#include "xfer/tasklimit.h"

#define FAC "xfer"
#define RECV_CHUNK (64 * 1024)
_Static_assert(TL_MIN_BYTE_BURST >= 2 * RECV_CHUNK, "a held GET must fit a task's byte burst");
#define SMALL_RECV (16 * 1024)
/* libcurl's own upload buffer (CURLOPT_UPLOAD_BUFFERSIZE's default), and
 * how much larger a streamed PUT's may be made (engine.c, xfer_engine_new). */
#define CURL_UPLOAD_DEFAULT (64 * 1024)
#define UPLOAD_EXTRA_MAX (448 * 1024)
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

extern const char *const rq_name[];  /* by rq_kind_t, for logs */

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
  curl_off_t ul_seen;    /* bytes of the body sent so far (a PUT's progress) */
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
  /* The multi's sockets in an epoll set (libcurl's socket interface): each
   * turn hands libcurl only the sockets that are ready, instead of
   * curl_multi_perform checking every transfer's socket every turn. */
  int epfd;
  int64_t curl_timer_us;            /* libcurl's timeout, -1 = none */
  struct epoll_event *evs;          /* ready at the last wait, n_evs of them */
  int n_evs;
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
  CURL **easy_pool;                 /* finished handles, reset, to reuse */
  size_t n_easy_pool, cap_easy_pool;
  size_t ring_size;                 /* a streamed pair's ring */
  long upload_buf;                  /* a streamed PUT's libcurl upload buffer */
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
  /* engine_adapt.c */
  int adaptive;                     /* concurrency_max > concurrency */
  inflight_t inflight;              /* the adaptive limit */
  int64_t inflight_log_us;          /* its last change logged */
  int inflight_logged;              /* the value logged then */
  size_t other_ring_bytes;          /* rings not from the pool (small objects) */
  storedown_t *down;                /* per store (n_stores) */
};

/* engine.c: requests and scheduling. */
void xreq_detach(xfer_engine_t *e, xreq_t *x);
void xreq_free(xfer_engine_t *e, xreq_t *x);
void want_unpause(xfer_engine_t *e, xreq_t *x);
void want_pause(xfer_engine_t *e, xreq_t *x);
void bw_hold(xfer_engine_t *e, xreq_t *x);
void xreq_moved(xreq_t *x);
xreq_t *xreq_new(job_t *j, rq_kind_t kind);
ferry_err_t xreq_setup(xfer_engine_t *e, xreq_t *x, store_t *s, store_req_t *r,
                       curl_off_t body_len);
void xreq_start(xfer_engine_t *e, xreq_t *x);
void schedule(xfer_engine_t *e, unit_t *u);

/* engine_adapt.c: the adaptive limit and stores found down. */
void adapt_init(xfer_engine_t *e);
void adapt_release(xfer_engine_t *e);
int adapt_cap(const xfer_engine_t *e);
void adapt_note(xfer_engine_t *e, const store_t *s, long status, CURLcode cc);
int adapt_mem_ok(xfer_engine_t *e, const unit_t *u, int need);
void adapt_full(xfer_engine_t *e);
void adapt_held(xfer_engine_t *e);
int adapt_gate(xfer_engine_t *e, const unit_t *u, int64_t now, int64_t *wake);
void adapt_started(xfer_engine_t *e, const unit_t *u, int64_t now);
void adapt_tick(xfer_engine_t *e);
int adapt_holds(const xfer_engine_t *e, const job_t *j);

/* engine_job.c: jobs, outcomes, single requests. */
void set_copied(job_t *j, const char *reason);
void set_fail(job_t *j, msg_status_t st, const char *reason, const store_error_t *err,
              const char *msg);
const char *reason_of(const store_error_t *err);
void job_free(job_t *j);
void job_finish(xfer_engine_t *e, job_t *j);
void queue_single(xfer_engine_t *e, job_t *j, rq_kind_t kind, int64_t not_before);
void queue_pair(xfer_engine_t *e, pair_t *p, int64_t not_before);
void job_fail(xfer_engine_t *e, job_t *j, msg_status_t st, const char *reason,
              const store_error_t *err, const char *msg);
void job_success(xfer_engine_t *e, job_t *j);
int head_parse(xfer_engine_t *e, job_t *j, int src, const kvlist_t *hdrs,
               store_head_t *h, int finish);
ferry_err_t dst_headers(job_t *j, store_req_t *r, char *errbuf);
ferry_err_t start_single(xfer_engine_t *e, job_t *j, rq_kind_t kind);
void job_start_copy(xfer_engine_t *e, job_t *j);
void job_retry_single(xfer_engine_t *e, job_t *j, rq_kind_t kind, const store_error_t *err);
void job_on_req(xfer_engine_t *e, xreq_t *x, CURLcode cc);

/* engine_pair.c: copy pairs. */
void pair_free(xfer_engine_t *e, pair_t *p);
pair_t *pair_new(job_t *j, int part, uint64_t off, uint64_t len);
int pair_slots(const pair_t *p);
ferry_err_t pair_start_put(xfer_engine_t *e, pair_t *p);
ferry_err_t pair_start_get(xfer_engine_t *e, pair_t *p);
void pair_reset(xfer_engine_t *e, pair_t *p);
void pair_end(xfer_engine_t *e, pair_t *p, int ok, const store_error_t *err, int retryable);
int md5_matches(EVP_MD_CTX *c, const char *etag);
void pair_on_done(xfer_engine_t *e, xreq_t *x, CURLcode cc);

/* engine_mpu.c: multipart jobs. */
void on_head_src(xfer_engine_t *e, job_t *j, xreq_t *x);
void job_start_parts(xfer_engine_t *e, job_t *j);
void complete_gone(xfer_engine_t *e, job_t *j);
void on_complete(xfer_engine_t *e, job_t *j, xreq_t *x, long status);
void mpu_init(xfer_engine_t *e, job_t *j);
void stale_done(xfer_engine_t *e, job_t *j, int aborted);
void resume_on_uploads(xfer_engine_t *e, job_t *j, xreq_t *x);
void resume_check_done(xfer_engine_t *e, pair_t *p);
void range_start(xfer_engine_t *e, job_t *j);
void completing_del(xfer_engine_t *e, job_t *j);
void range_poison(xfer_engine_t *e, job_t *j);
void range_parts_done(xfer_engine_t *e, job_t *j);
void range_on_list(xfer_engine_t *e, job_t *j, xreq_t *x);
void range_verify(xfer_engine_t *e, job_t *j);
void range_on_verify(xfer_engine_t *e, job_t *j, long status, xreq_t *x);

#endif
