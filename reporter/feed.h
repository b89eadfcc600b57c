/*
 * feed.h: the reporter's reading of Kafka — the tasks, results and failed
 * topics, from the beginning, into a tally — and the "caught up" test.
 *
 * The consumer is a group-less reader (bus_reader_new): every partition
 * of the three topics is assigned from the earliest offset, nothing is ever
 * committed, and no group is joined (the workers' least of all). So each
 * start rebuilds the whole state, at once, and redelivered or replayed
 * records are counted once by the tally.
 *
 * Caught up: every partition of the three topics has been read up to the
 * high watermark it had when the feed was created.
 *
 * One owner thread reads (feed_poll, feed_catch_up). When the tally is
 * shared with other threads, feed_set_lock makes the feed hold a mutex
 * while it changes the tally or its own figures; feed_stats may then be
 * called from another thread holding that mutex.
 */
#ifndef FERRY_REPORTER_FEED_H
#define FERRY_REPORTER_FEED_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "bus/bus.h"
#include "report/console.h"
#include "report/tally.h"

typedef struct feed feed_t;

/* New feed into t (borrowed; must outlive the feed), marking where every
 * partition ends now; c's group id is replaced by the feed's own. With cs
 * (borrowed, may be NULL) it also reads taskstate, control and workers into
 * it — unless one of them does not exist (a fleet older than the console:
 * warned, read without them). NULL with errbuf on error
 * (FERRY_ERR_NOTFOUND: a topic does not exist). */
feed_t *feed_new(const bus_conf_t *c, tally_t *t, console_t *cs, char *errbuf);
/* Whether the console's topics are read. */
int feed_has_console(const feed_t *f);

/* Called (under the lock, as the tally's changes) with every results
 * record the tally accepted and its Kafka timestamp (-1 unknown). */
typedef void feed_result_fn(void *ctx, const void *value, size_t len, int64_t ts_ms);
void feed_on_result(feed_t *f, feed_result_fn *fn, void *ctx);
void feed_destroy(feed_t *f);

/* From now on, every change to the tally (and to the figures feed_stats
 * reads) is made holding lock (borrowed; must outlive the feed). */
void feed_set_lock(feed_t *f, pthread_mutex_t *lock);

/* How far the feed has read. */
typedef struct feed_stats {
  uint64_t records;   /* records read */
  uint64_t rejected;  /* of which rejected by the tally */
  int64_t lag;        /* records behind the partitions' ends (the newest
                         ends fetches have told), -1 before any is known */
  int caught_up;      /* feed_caught_up */
} feed_stats_t;

/* Fills *out. From another thread: only holding the feed's lock. */
void feed_stats(const feed_t *f, feed_stats_t *out);

/* 1 when every partition has been read up to its mark. */
int feed_caught_up(const feed_t *f);

/*
 * Reads what arrives within timeout_ms (then whatever is already there,
 * without waiting, up to a batch), feeding the tally. Undecodable or
 * invalid records are logged with topic/partition/offset and skipped.
 * *n (may be NULL) gets the number of records read. FERRY_ERR_KAFKA only
 * on a fatal consumer error.
 */
ferry_err_t feed_poll(feed_t *f, int timeout_ms, size_t *n, char *errbuf);

/* feed_poll until caught up, *stop becomes non-zero
 * (FERRY_ERR_INVALID, "interrupted") or timeout_ms passes
 * (FERRY_ERR_TIMEOUT, naming the partitions behind). timeout_ms < 0: no
 * limit. */
ferry_err_t feed_catch_up(feed_t *f, int timeout_ms, volatile sig_atomic_t *stop,
                          char *errbuf);

#endif
