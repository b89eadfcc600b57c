/*
 * scan.h: reads one of ferry's topics from the beginning up to its high
 * watermark, outside any consumer group: the way a service rebuilds state
 * from a topic (the lister's last task record and still-failed objects; a
 * restarted reporter may do the same).
 *
 * The high watermarks are taken once at the start, so messages produced
 * while the scan runs are not waited for, and the scan always ends. Nothing
 * is committed and no group is joined.
 *
 * Thread-safety: a scan runs on the calling thread; the callback runs there.
 */
#ifndef FERRY_BUS_SCAN_H
#define FERRY_BUS_SCAN_H

#include "bus/bus.h"
#include "core/ferry.h"

/* Called once per message, in offset order within each partition (no order
 * across partitions). m and everything it points to are borrowed for the
 * call only (bus_msg_header works on it; do not bus_msg_destroy it). Return 0
 * to go on, non-zero to stop the scan early (bus_scan then returns FERRY_OK). */
typedef int bus_scan_cb(const bus_msg_t *m, void *ctx);

typedef struct bus_scan_stats {
  int partitions;        /* partitions of the topic */
  uint64_t messages;     /* messages handed to the callback */
} bus_scan_stats_t;

/*
 * Scans topic t of c (c->group_id is not used). timeout_ms bounds every wait
 * on the brokers: metadata, watermarks, and any stretch without progress.
 * Errors: FERRY_ERR_KAFKA (brokers unreachable within timeout_ms, bad
 * property), FERRY_ERR_NOTFOUND (the topic does not exist),
 * FERRY_ERR_TIMEOUT (the scan stalled for timeout_ms before the watermark).
 * stats may be NULL.
 */
ferry_err_t bus_scan(const bus_conf_t *c, bus_topic_t t, int timeout_ms,
                     bus_scan_cb *cb, void *ctx, bus_scan_stats_t *stats,
                     char *errbuf);
/* bus_scan of the topic named topic (a task's segments topic). */
ferry_err_t bus_scan_named(const bus_conf_t *c, const char *topic, int timeout_ms,
                           bus_scan_cb *cb, void *ctx, bus_scan_stats_t *stats,
                           char *errbuf);

#endif
