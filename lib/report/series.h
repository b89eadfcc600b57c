/*
 * series.h: each task's progress over time for its own page — objects and
 * bytes done, and failures by reason, per minute over the last 24 hours —
 * folded from the results topic by each record's Kafka timestamp, so a
 * reporter that starts again rebuilds it while it replays the topic.
 *
 * Bounded: SERIES_MINUTES buckets per task (a ring: a minute more than 24 h
 * older than the newest is dropped), the first SERIES_REASONS failure
 * reasons of a task by name and "other" for the rest. About 70 KiB per task.
 * A result delivered twice (a segment redone) counts twice here, unlike in
 * the tally: the series shows work done, not objects accounted for.
 *
 * Not thread-safe: the reporter calls it under the tally's lock.
 */
#ifndef FERRY_REPORT_SERIES_H
#define FERRY_REPORT_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/ferry.h"

#define SERIES_MINUTES 1440
#define SERIES_REASONS 6

typedef struct series series_t;

series_t *series_new(void);
void series_free(series_t *s);

/* Adds objects done, bytes copied and failed objects with reason (NULL:
 * none failed) to task's minute of ts_ms. */
void series_add(series_t *s, const char *task, int64_t ts_ms, uint64_t objects, uint64_t bytes,
                const char *reason, uint64_t failed);
/* A results record (JSON, docs/messages.md) at ts_ms (< 0: its finished_ms):
 * its counts once (the first part of a split result), the failures of every
 * part's outcomes by reason. FERRY_ERR_PARSE when it does not decode. */
ferry_err_t series_add_result(series_t *s, const void *buf, size_t len, int64_t ts_ms,
                              char *errbuf);

/* {"minute_ms": 60000, "points": [[minute_start_ms, objects, bytes, failed], ...],
 *  "reasons": [...], "failed_by_reason": [[minute_start_ms, n0, n1, ...], ...]}
 * for the minutes of the last 24 h up to now_ms that saw anything, oldest
 * first. New reference (empty lists for an unknown task). */
json_t *series_json(const series_t *s, const char *task, int64_t now_ms);

/* Three inline SVG charts (objects/s, bytes/s, failures per minute by
 * reason) over the last 24 h up to now_ms, each an <svg> element with a
 * <title>, axes labels in UTC; "no results in the last 24 h" when empty.
 * Reasons are HTML-escaped. */
void series_svg(const series_t *s, const char *task, int64_t now_ms, fbuf_t *out);

#endif
