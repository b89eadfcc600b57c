/*
 * engine.h: the copy engine. One libcurl multi event loop drives many object
 * copies at once: each source GET streams into the destination PUT through a
 * bounded buffer (no temp files), CRC64 is computed on the way and compared
 * with the source's and destination's, large objects go as multipart uploads
 * with parts in parallel, and every object ends with exactly one outcome.
 *
 * Single-threaded: all calls from the thread that runs xfer_run().
 */
#ifndef FERRY_XFER_ENGINE_H
#define FERRY_XFER_ENGINE_H

#include <stdint.h>

#include "model/model.h"
#include "core/kv.h"
#include "store/store.h"

typedef struct xfer_conf {
  int concurrency;               /* HTTP transfers at once (default 32) */
  int concurrency_max;           /* > concurrency: adapt the transfers at once up to this
                                  * (xfer/inflight.h); else fixed at concurrency */
  long store_down_max_s;         /* a store down (xfer/storedown.h) this long fails the
                                  * objects waiting for it ("store-down"); 0 = never */
  long max_host_conns;           /* per-host connection cap (default 64) */
  size_t buffer_size;            /* streaming buffer per transfer (default 256 KiB) */
  uint64_t small_threshold;      /* objects up to this are buffered whole (default 1 MiB) */
  uint64_t multipart_threshold;  /* objects above this go multipart (default 64 MiB) */
  uint64_t part_size;            /* preferred part size (default 16 MiB) */
  int max_attempts;              /* per request, including the first (default 5) */
  long backoff_base_ms;          /* default 200 */
  long backoff_max_ms;           /* default 20000 */
  long stall_timeout_s;          /* no byte for this long: cut and retry (default 30); time
                                  * paused by flow control or bandwidth does not count */
  long request_timeout_s;        /* total cap of body-less requests, 0 = none; never
                                  * applies to GET/PUT bodies or to Complete */
  long complete_timeout_s;       /* Complete: no byte from the store for this long
                                  * (default 600) */
  double qps_limit;              /* requests/s for this worker, 0 = unlimited */
  double bandwidth_limit;        /* bytes/s for this worker, 0 = unlimited */
  const kvlist_t *storage_class_map;  /* "SRC" -> "DST" names, borrowed, may be NULL */
  int record_source_etag;        /* write x-*-meta-ferry-src-etag at the destination */
  uint64_t rng_seed;             /* jitter seed; 0 = from the clock */
} xfer_conf_t;

void xfer_conf_defaults(xfer_conf_t *c);

typedef struct xfer_engine xfer_engine_t;

/* Called once per submitted object with its outcome (borrowed for the call). */
typedef void(xfer_done_cb)(void *opaque, const msg_segment_t *seg, size_t index,
                           const msg_outcome_t *outcome);

/* What the engine wrote for the object whose callback is running (the audit
 * trail, bus/audit.h). Only valid inside an xfer_done_cb call. */
typedef struct xfer_written {
  int wrote;             /* 1: this job wrote the object (outcome copied; for a
                            part range: this job completed the upload) */
  const char *dst_key;   /* the key at the destination */
  int has_crc64;
  uint64_t crc64;        /* CRC-64 of the bytes sent (whole objects and
                            multipart), or the destination's for an object
                            completed from part ranges */
  const char *dst_etag;  /* the destination's answer (PUT, Complete, HEAD), may be NULL */
  int existed;           /* -1: unknown (no HEAD of the destination was made),
                            0: the key was absent, 1: it existed */
} xfer_written_t;

/* Inside an xfer_done_cb call: the written facts of that object; NULL
 * outside a callback. */
const xfer_written_t *xfer_done_written(const xfer_engine_t *e);

/* New engine knowing the given stores (deep-copied) by name. */
xfer_engine_t *xfer_engine_new(const xfer_conf_t *conf, const store_conf_t *stores,
                               size_t n_stores, char *errbuf);
void xfer_engine_destroy(xfer_engine_t *e);

/* Queues object `index` of seg. seg is borrowed and must outlive the job's
 * callback. An unknown store name completes the object at once as failed
 * (reason "config"). */
void xfer_submit(xfer_engine_t *e, const msg_segment_t *seg, size_t index,
                 xfer_done_cb *cb, void *opaque);

/* Runs the event loop for at most timeout_ms (returns earlier when a job
 * completes). Returns the number of jobs not yet completed. */
size_t xfer_run(xfer_engine_t *e, int timeout_ms);
size_t xfer_pending(const xfer_engine_t *e);

/* Changes the worker's limits, over all tasks; 0 = unlimited. */
void xfer_set_limits(xfer_engine_t *e, double qps, double bandwidth);

/* A task's own limits (xfer/tasklimit.h): the requests/s (to the source
 * and the destination together) and bytes/s this engine may spend on the
 * task's objects; 0 = unlimited. Other tasks are not affected, and a task
 * held back by its limit does not hold up the others. Changing them keeps
 * the tokens saved. The worker's limits (xfer_set_limits) apply on top. */
void xfer_task_limits(xfer_engine_t *e, const char *task, double qps, double bandwidth);

/* Pauses (on = 1) or resumes a task: none of its queued objects starts while
 * paused; those running finish. */
void xfer_task_pause(xfer_engine_t *e, const char *task, int on);

/* Cancels a task's objects in the engine: queued ones end skipped, reason
 * "cancelled", without a request; running ones are cut (their transfers
 * stopped, a multipart upload they started aborted) and end skipped,
 * reason "cancelled". Callbacks fire as objects end (some at once, some in
 * later xfer_run calls, after their aborts). Returns the objects affected. */
size_t xfer_task_cancel(xfer_engine_t *e, const char *task);

/* What the engine knows of one task. */
typedef struct xfer_task_stat {
  const char *task;          /* borrowed: valid until the engine is destroyed */
  size_t jobs;               /* objects submitted, not finished */
  int held;                  /* its own limit holds it back now, or it is paused */
  int paused;                /* xfer_task_pause */
  uint64_t qps, bandwidth;   /* limits in force, 0 = unlimited */
  uint64_t requests, bytes;  /* spent so far */
} xfer_task_stat_t;

/* Every task the engine has seen (at most max into out); returns how many
 * there are. */
size_t xfer_tasks(const xfer_engine_t *e, xfer_task_stat_t *out, size_t max);

/* Abandons every job: transfers are cut at once, units waiting (a backoff
 * included) dropped, callbacks fire with status failed, reason "shutdown".
 * A multipart upload with parts is left open when keep_uploads (its object
 * is copied again by whoever gets the work, who continues it: the worker's
 * segments are redelivered), else aborted; one without parts is aborted.
 * Aborts are best effort, bounded by timeout_ms. */
void xfer_abandon_all(xfer_engine_t *e, int timeout_ms, int keep_uploads);

/* Counters for logs and benchmarks. */
typedef struct xfer_stats {
  uint64_t requests, retries, bytes_in, bytes_out;
  uint64_t copied, skipped, failed;
  uint64_t uploads_resumed;      /* open uploads of a key continued */
  uint64_t parts_reused;         /* their parts kept (same MD5 as the source's bytes) */
  uint64_t uploads_left;         /* left open at shutdown, to be continued */
  uint64_t uploads_aborted;      /* aborted (failed copies, other uploads of a key) */
  uint64_t uploads_abort_failed; /* could not be aborted: continued by the next copy */
} xfer_stats_t;
void xfer_get_stats(const xfer_engine_t *e, xfer_stats_t *out);

/* Finished requests per store (index < xfer_store_count, named by
 * xfer_store_name) and status class; a transfer that got no HTTP status
 * (reset, timeout, TLS) is XFER_RC_ERROR. For a worker's /metrics. */
enum { XFER_RC_2XX, XFER_RC_3XX, XFER_RC_4XX, XFER_RC_5XX, XFER_RC_ERROR, XFER_RC__N };
size_t xfer_store_count(const xfer_engine_t *e);
const char *xfer_store_name(const xfer_engine_t *e, size_t i);
void xfer_get_req_counts(const xfer_engine_t *e, size_t i, uint64_t out[XFER_RC__N]);

/* Transfers the engine may run at once now: concurrency, or the adaptive
 * limit (concurrency_max). */
int xfer_inflight_limit(const xfer_engine_t *e);
/* 1 while store i (as xfer_store_name) is down (xfer/storedown.h). */
int xfer_store_down(const xfer_engine_t *e, size_t i);

#endif
