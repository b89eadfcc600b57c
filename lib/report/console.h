/*
 * console.h: what the reporter knows of the console — each task's state as
 * the master's `taskstate` topic says it, the commands and acks of the
 * `control` topic (the action log), and the workers' last heartbeats (the
 * fleet view) — folded from the topics' records, and rendered as JSON and
 * metrics. Pure (no I/O); the reporter's feed gives it the records.
 *
 * Bounds: the last CONSOLE_MAX_ACTIONS commands per task, CONSOLE_MAX_TASKS
 * tasks and CONSOLE_MAX_WORKERS workers (beyond them records are counted as
 * dropped); a worker leaves the table when it says so or when its last
 * heartbeat is over an hour old (the workers topic's retention).
 *
 * Not thread-safe: the reporter calls it under the tally's lock.
 */
#ifndef FERRY_REPORT_CONSOLE_H
#define FERRY_REPORT_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/ferry.h"

#define CONSOLE_MAX_ACTIONS 200
#define CONSOLE_MAX_TASKS 10000
#define CONSOLE_MAX_WORKERS 10000
#define CONSOLE_WORKER_FORGET_MS ((int64_t)3600 * 1000)

typedef struct console console_t;

console_t *console_new(void);
void console_free(console_t *c);

/* One record of `control` (a command or an ack). FERRY_ERR_PARSE (errbuf
 * from the codec) when it does not decode. */
ferry_err_t console_feed_control(console_t *c, const void *buf, size_t len, char *errbuf);
/* One record of `taskstate`: key = task name; buf NULL (a tombstone)
 * forgets the task's state. */
ferry_err_t console_feed_taskstate(console_t *c, const char *key, size_t key_len,
                                   const void *buf, size_t len, char *errbuf);
/* One heartbeat of `workers`. */
ferry_err_t console_feed_heartbeat(console_t *c, const void *buf, size_t len, char *errbuf);

/* The task's state word ("created", "running", "paused", "cancelled"), or
 * NULL when no taskstate record names it. Borrowed. */
const char *console_state(const console_t *c, const char *task);
/* {"state", "origin", "run", "limits": {...}, "updated_ms", "by"} of the
 * task's taskstate record, or NULL when none. New reference. */
json_t *console_task_json(const console_t *c, const char *task);
/* Names of the tasks with a taskstate record (borrowed; *names is a new
 * array, fx_free), sorted. */
size_t console_task_names(const console_t *c, const char ***names);
/* The task's commands, oldest first, each {"id", "cmd", "by", "at_ms",
 * "limits"?, "ack": null | {"ok", "error"?, "by", "at_ms"}}. New reference. */
json_t *console_actions_json(const console_t *c, const char *task);
/* The workers, by id: {"worker", "host", "at_ms", "every_ms", "age_ms",
 * "stale" (no heartbeat for three intervals), "tasks": [{"task", "objects",
 * "held"}], "parts": [{"topic", "partitions"}], "rate": {"objects_s",
 * "bytes_s"} | null}. Forgets workers older than CONSOLE_WORKER_FORGET_MS
 * first. New reference. */
json_t *console_workers_json(console_t *c, int64_t now_ms);
/* "NAME: STATE (by BY)" a line for every task with a taskstate record. */
void console_states_text(const console_t *c, fbuf_t *out);
/* Records that did not decode, and that were dropped at a bound. */
uint64_t console_rejected(const console_t *c);
uint64_t console_dropped(const console_t *c);

/*
 * The control command of a console action (docs/reporter.md, "The console"):
 * verb "create" | "start" | "retry-failed" | "pause" | "resume" | "cancel"
 * | "limits"; body the request's JSON object (may be NULL): for create the
 * task spec, whose "name" must be task; for limits {"qps": N, "bandwidth":
 * N or "10M", "schedule": ["08:00-19:00=10M", ...]} (or that under
 * "limits"), a member left out keeping the task's current limit (taskstate;
 * 0 or none without one). by: "<role>:<token name>". *out (uninitialized on
 * entry; msg_control_release after FERRY_OK) gets a new random id and
 * at_ms = now_ms. FERRY_ERR_INVALID with errbuf naming the field.
 */
struct msg_control;
ferry_err_t console_command(const console_t *c, const char *task, const char *verb,
                            const json_t *body, const char *by, int64_t now_ms,
                            struct msg_control *out, char *errbuf);

/* ferry_taskstate{task,state} (1 for the task's state, 0 for the others)
 * and ferry_workers (workers heard from, not stale) in the Prometheus text
 * format. */
void console_metrics(const console_t *c, int64_t now_ms, fbuf_t *out);

#endif
