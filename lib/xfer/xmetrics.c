/* xmetrics.c: see xmetrics.h. */
#include "xfer/xmetrics.h"

#include "web/promtext.h"

static const char *const rc_class[XFER_RC__N] = {"2xx", "3xx", "4xx", "5xx", "error"};

static void counter(fbuf_t *out, const char *name, const char *help, uint64_t v) {
  prom_head(out, name, "counter", help);
  prom_u64(out, name, NULL, v);
}

static void gauge(fbuf_t *out, const char *name, const char *help, double v) {
  prom_head(out, name, "gauge", help);
  prom_f64(out, name, NULL, v);
}

static void requests(fbuf_t *out, const xfer_engine_t *e) {
  size_t i;
  int c;
  prom_head(out, "ferry_worker_requests_total", "counter",
            "Finished requests by store and status class (error: no HTTP status).");
  for (i = 0; i < xfer_store_count(e); i++) {
    uint64_t n[XFER_RC__N];
    xfer_get_req_counts(e, i, n);
    for (c = 0; c < XFER_RC__N; c++) {
      const char *l[] = {"store", xfer_store_name(e, i), "status", rc_class[c], NULL};
      prom_u64(out, "ferry_worker_requests_total", l, n[c]);
    }
  }
}

static void stores_down(fbuf_t *out, const xfer_engine_t *e) {
  size_t i;
  prom_head(out, "ferry_worker_store_down", "gauge",
            "1 while the store is down: no new request but a probe (docs/worker.md).");
  for (i = 0; i < xfer_store_count(e); i++) {
    const char *l[] = {"store", xfer_store_name(e, i), NULL};
    prom_u64(out, "ferry_worker_store_down", l, (uint64_t)xfer_store_down(e, i));
  }
}

void xmetrics_render(const xmetrics_t *m, const xfer_engine_t *e, fbuf_t *out) {
  xfer_stats_t st;
  const char *info[] = {"id", m->worker_id, "version", m->version, NULL};
  const char *ost[3][3] = {{"status", "copied", NULL},
                           {"status", "skipped", NULL},
                           {"status", "failed", NULL}};
  xfer_get_stats(e, &st);
  prom_head(out, "ferry_worker_info", "gauge", "The worker's id and release (value 1).");
  prom_u64(out, "ferry_worker_info", info, 1);
  gauge(out, "ferry_worker_start_time_seconds", "When the worker started (Unix time).",
        m->started_unix_s);
  requests(out, e);
  counter(out, "ferry_worker_requests_started_total", "Requests started.", st.requests);
  counter(out, "ferry_worker_retries_total", "Requests retried after a retryable error.",
          st.retries);
  prom_head(out, "ferry_worker_objects_total", "counter", "Objects finished, by outcome.");
  prom_u64(out, "ferry_worker_objects_total", ost[0], st.copied);
  prom_u64(out, "ferry_worker_objects_total", ost[1], st.skipped);
  prom_u64(out, "ferry_worker_objects_total", ost[2], st.failed);
  counter(out, "ferry_worker_bytes_read_total", "Bytes read from sources.", st.bytes_in);
  counter(out, "ferry_worker_bytes_written_total", "Bytes written to destinations.",
          st.bytes_out);
  gauge(out, "ferry_worker_objects_in_flight", "Objects queued or being copied.",
        (double)xfer_pending(e));
  gauge(out, "ferry_worker_requests_in_flight_limit",
        "Requests the engine may run at once now (concurrency, or the adaptive limit).",
        (double)xfer_inflight_limit(e));
  stores_down(out, e);
  gauge(out, "ferry_worker_segments_in_flight", "Segments taken and not yet committed.",
        (double)m->segments_in_flight);
  gauge(out, "ferry_worker_assigned_partitions", "Segments partitions assigned to it.",
        m->assigned_partitions);
  gauge(out, "ferry_worker_partitions", "Partitions of the segments topic.",
        m->total_partitions);
  gauge(out, "ferry_worker_limit_requests_per_second",
        "QPS limit in force on this worker (0: none).", m->limit_qps);
  gauge(out, "ferry_worker_limit_bytes_per_second",
        "Bandwidth limit in force on this worker (0: none).", m->limit_bytes_per_s);
  gauge(out, "ferry_worker_paused_by_window",
        "1 outside every worker.windows window (no new segment is taken).",
        m->paused_by_window);
  gauge(out, "ferry_worker_tasks_paused",
        "Tasks the master's taskstate says are paused (none of their objects starts).",
        m->tasks_paused);
  gauge(out, "ferry_worker_tasks_cancelled",
        "Tasks the master's taskstate says are cancelled.", m->tasks_cancelled);
}
