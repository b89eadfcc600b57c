/*
 * fleet.h: the worker's side of each task's own limits.
 *
 * A task's limits come from its segments (the lister writes them; a segment
 * without them falls back to the worker config's task of that name) and
 * apply to that task's objects only (xfer_task_limits). They are fleet-wide:
 * this worker publishes a heartbeat naming the tasks it works on, reads the
 * other workers' heartbeats, and gives the engine its share of each task's
 * limit, recomputed on every turn (xfer/fleetshare.h has the rule).
 * Without Kafka (--segments-from) the process is the whole fleet: a task's
 * limit applies in full.
 */
#ifndef FERRY_WORKER_FLEET_H
#define FERRY_WORKER_FLEET_H

#include "bus/bus.h"
#include "bus/msg.h"
#include "conf/config.h"
#include "xfer/engine.h"

typedef struct wfleet wfleet_t;

/* bc NULL: no Kafka (the process is alone). With bc, the heartbeat reader
 * is opened; when the workers topic cannot be read, the share falls back to
 * the partition estimate and the reader is tried again every 30 s. */
wfleet_t *wfleet_new(const ferry_conf_t *conf, const bus_conf_t *bc);
void wfleet_destroy(wfleet_t *f);

/* A segment's objects are about to be submitted: its task's limits and
 * this worker's share of them go to the engine first. */
void wfleet_segment(wfleet_t *f, xfer_engine_t *e, const msg_segment_t *seg);

/* The task's live limits from the master's taskstate record (have = 1), or
 * back to those of its segments (have = 0): fleet-wide qps and bandwidth,
 * 0 = unlimited; this worker's share goes to the engine at once. */
void wfleet_task_limits(wfleet_t *f, xfer_engine_t *e, const char *task, int have, uint64_t qps,
                        uint64_t bw);

/* The local minute of the day (0..1439), by which schedules are read. */
int wfleet_minute(void);

/* Once a minute: the bandwidth of the tasks whose segments carry a
 * schedule, read again at the new minute. */
void wfleet_minute_tick(wfleet_t *f, xfer_engine_t *e);

/* A segments partition assigned (on = 1) or taken away: named in the
 * heartbeat's `parts`, with `host` and `rate` (objects and bytes per
 * second over the last 10 s) for the fleet view. */
void wfleet_assign(wfleet_t *f, const char *topic, int32_t partition, int on);

/* The consumer group changed: this worker's partitions of the segments
 * topic (for the estimate used while peers are not heard yet). */
void wfleet_partitions(wfleet_t *f, int assigned, int total);

/* Once per loop turn: reads heartbeats, publishes this worker's when due
 * (every FS_EVERY_MS, and at once when its tasks change), and updates the
 * engine's per-task shares. p may be NULL (nothing published). */
void wfleet_turn(wfleet_t *f, xfer_engine_t *e, bus_producer_t *p);

/* Tells the others this worker is leaving (its shares go back to them). */
void wfleet_leave(wfleet_t *f, bus_producer_t *p);

/* One line per task at exit: its requests and bytes on this worker
 * (event=task-summary). */
void worker_log_task_totals(const xfer_engine_t *e);

#endif
