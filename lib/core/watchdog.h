/*
 * watchdog: a thread that notices when a loop stops turning.
 *
 * The owner calls wd_beat() on every turn of its loop; when no beat came for
 * longer than the limit, the watchdog calls its callback once, from its own
 * thread (the default callback logs the stall and ends the process with
 * exit status 70, so a supervisor restarts it). Meant for services that keep
 * no state a restart would lose, such as the worker: a worker found blocked
 * inside a library call (librdkafka's consumer poll, seen blocking without a
 * time limit) is better restarted than left holding its partitions.
 */
#ifndef FERRY_CORE_WATCHDOG_H
#define FERRY_CORE_WATCHDOG_H

#include <stdint.h>

typedef struct wd wd_t;
/* stalled_ms: time since the last beat; where: the label of the last beat. */
typedef void wd_expire_cb(int64_t stalled_ms, const char *where, void *ctx);

/* Starts the thread. cb NULL = log at error level and _exit(70). NULL if
 * the thread cannot start (the caller goes on without a watchdog). */
wd_t *wd_start(int64_t limit_ms, wd_expire_cb *cb, void *ctx);
/* A turn of the loop; where is a static string naming the place. */
void wd_beat(wd_t *w, const char *where);
/* Changes the limit (e.g. a longer one while shutting down); also a beat. */
void wd_limit(wd_t *w, int64_t limit_ms, const char *where);
/* Stops and joins the thread. Accepts NULL. */
void wd_stop(wd_t *w);

#endif
