/*
 * xmetrics.h: a worker's own metrics in the Prometheus text format
 * (docs/worker.md, "Metrics"): the copy engine's counters, requests by store
 * and status class, what is in flight, the partitions and limits in force.
 * Rendering only; worker/metrics.c serves it.
 */
#ifndef FERRY_XFER_XMETRICS_H
#define FERRY_XFER_XMETRICS_H

#include <stddef.h>

#include "core/buf.h"
#include "xfer/engine.h"

/* What the worker's loop knows besides the engine. */
typedef struct xmetrics {
  const char *worker_id;
  const char *version;
  size_t segments_in_flight;
  int assigned_partitions, total_partitions;
  double limit_qps, limit_bytes_per_s;   /* in force on this worker; 0 = none */
  int paused_by_window;                  /* outside worker.windows */
  int tasks_paused, tasks_cancelled;     /* tasks in that state (taskstate) */
  double started_unix_s;
} xmetrics_t;

/* Appends every ferry_worker_* metric but the loop age (which the server
 * adds at scrape time) to out. Reads the engine: call on its thread. */
void xmetrics_render(const xmetrics_t *m, const xfer_engine_t *e, fbuf_t *out);

#endif
