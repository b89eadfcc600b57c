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

#include "bus/msg.h"
#include "core/kv.h"
#include "store/store.h"

typedef struct xfer_conf {
  int concurrency;               /* HTTP transfers at once (default 32) */
  long max_host_conns;           /* per-host connection cap (default 64) */
  size_t buffer_size;            /* streaming buffer per transfer (default 256 KiB) */
  uint64_t small_threshold;      /* objects up to this are buffered whole (default 1 MiB) */
  uint64_t multipart_threshold;  /* objects above this go multipart (default 64 MiB) */
  uint64_t part_size;            /* preferred part size (default 16 MiB) */
  int max_attempts;              /* per request, including the first (default 5) */
  long backoff_base_ms;          /* default 200 */
  long backoff_max_ms;           /* default 20000 */
  long stall_timeout_s;          /* no byte for this long: cut and retry (default 30) */
  long request_timeout_s;        /* whole request cap, 0 = none */
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

/* Changes the limits (fleet share recomputed on a rebalance); 0 = unlimited. */
void xfer_set_limits(xfer_engine_t *e, double qps, double bandwidth);

/* Abandons every job: transfers are cut, multipart uploads aborted (best
 * effort, bounded by timeout_ms), callbacks fire with status failed, reason
 * "shutdown". */
void xfer_abandon_all(xfer_engine_t *e, int timeout_ms);

/* Counters for logs and benchmarks. */
typedef struct xfer_stats {
  uint64_t requests, retries, bytes_in, bytes_out;
  uint64_t copied, skipped, failed;
} xfer_stats_t;
void xfer_get_stats(const xfer_engine_t *e, xfer_stats_t *out);

/* Finished requests per store (index < xfer_store_count, named by
 * xfer_store_name) and status class; a transfer that got no HTTP status
 * (reset, timeout, TLS) is XFER_RC_ERROR. For a worker's /metrics. */
enum { XFER_RC_2XX, XFER_RC_3XX, XFER_RC_4XX, XFER_RC_5XX, XFER_RC_ERROR, XFER_RC__N };
size_t xfer_store_count(const xfer_engine_t *e);
const char *xfer_store_name(const xfer_engine_t *e, size_t i);
void xfer_get_req_counts(const xfer_engine_t *e, size_t i, uint64_t out[XFER_RC__N]);

#endif
