/*
 * out.h: where the lister's segments and task records go: Kafka (segments
 * topic keyed by segment id, tasks topic keyed by task name), or a JSON-lines
 * file of segments (`--segments-to`, task records dropped).
 *
 * Kafka sends are bounded in flight (count and bytes): a send first serves
 * delivery reports until there is room, so memory does not grow with the
 * bucket. Every delivery report is checked; the first failure makes every
 * later call fail with it.
 *
 * One owner thread.
 */
#ifndef FERRY_LISTER_OUT_H
#define FERRY_LISTER_OUT_H

#include <stdint.h>

#include "bus/bus.h"
#include "bus/msg.h"
#include "core/ferry.h"

/* The size a segment written to a file (--segments-to) is split at; on
 * Kafka the segments topic's own limit applies (bus_producer_max_value:
 * the topic's max.message.bytes and the producer's message.max.bytes). */
#define LOUT_FILE_MAX_MESSAGE 900000

typedef struct lout lout_t;

/* path "-" = standard output. */
lout_t *lout_file(const char *path, char *errbuf);
/* c borrowed for the call. */
lout_t *lout_kafka(const bus_conf_t *c, char *errbuf);
/* Does not wait: call lout_drain first to keep what is in flight. */
void lout_destroy(lout_t *o);
int lout_is_kafka(const lout_t *o);

/*
 * Sends one segment (key: its id). A segment whose JSON exceeds the
 * segments topic's limit (LOUT_FILE_MAX_MESSAGE for a file) is sent as halves, recursively, with ids "<id>.1",
 * "<id>.2" (deterministic: a resumed listing splits the same way).
 * FERRY_ERR_INVALID when the segment cannot be encoded; FERRY_ERR_KAFKA /
 * FERRY_ERR_IO / FERRY_ERR_TIMEOUT otherwise.
 */
ferry_err_t lout_segment(lout_t *o, const msg_segment_t *s, char *errbuf);
/* The task's own limits, written into every segment from now on (workers
 * take a task's limits from its segments, not from their config). */
void lout_set_limits(lout_t *o, uint64_t qps, uint64_t bandwidth);
/* The task's bandwidth_schedule (borrowed: must outlive o), written into
 * every segment from now on as limits.schedule. */
void lout_set_schedule(lout_t *o, char **schedule, size_t n);
/* The task's audit switch, stamped on every segment (member "audit"). */
void lout_set_audit(lout_t *o, int audit);
/* The task's storage class map and record_source_etag, stamped on every
 * segment so that workers apply the task's settings, not their own. */
void lout_set_copy(lout_t *o, const kvlist_t *class_map, int record_src_etag);

/* Sends a task record (Kafka only; a file drops it). */
ferry_err_t lout_task(lout_t *o, const msg_task_t *rec, char *errbuf);

/* Serves delivery reports for up to ms; a file simply sleeps. Returns the
 * first delivery failure, if any. */
ferry_err_t lout_wait(lout_t *o, int ms, char *errbuf);
/* Waits until every send is delivered (Kafka: sent at once, without
 * linger.ms; FERRY_ERR_TIMEOUT after timeout_ms), or flushes and syncs a
 * file. */
ferry_err_t lout_drain(lout_t *o, int timeout_ms, char *errbuf);

/* Segment messages sent (splits counted), and their delivered count. */
uint64_t lout_segments_sent(const lout_t *o);
uint64_t lout_segments_delivered(const lout_t *o);
/* Largest number of messages in flight seen (for tests of the bound). */
uint64_t lout_max_inflight(const lout_t *o);

#endif
