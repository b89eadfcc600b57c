/*
 * metrics.h: a worker's optional /metrics listener (worker.metrics_listen,
 * docs/worker.md "Metrics"). The worker's loop renders its figures into a
 * text the server hands out (wmetrics_publish, about once a second) and
 * marks every turn (wmetrics_beat); the server adds, at scrape time, how
 * long ago the loop last turned, so a stuck loop shows even though it no
 * longer renders anything.
 */
#ifndef FERRY_WORKER_METRICS_H
#define FERRY_WORKER_METRICS_H

#include "xfer/xmetrics.h"

typedef struct wmetrics wmetrics_t;

/* Serves on listen (see lib/web/httpd.h). NULL with errbuf on failure. */
wmetrics_t *wmetrics_start(const char *listen, char *errbuf);
/* Renders m and e (on the engine's thread) as the next scrape's answer.
 * Accepts a NULL wm (no listener): does nothing. */
void wmetrics_publish(wmetrics_t *wm, const xmetrics_t *m, const xfer_engine_t *e);
/* The loop turned. Accepts NULL. */
void wmetrics_beat(wmetrics_t *wm);
void wmetrics_stop(wmetrics_t *wm);
const char *wmetrics_url(const wmetrics_t *wm);

#endif
