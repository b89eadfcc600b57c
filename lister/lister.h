/*
 * lister.h: ferry-lister's work, behind its thin main.c.
 *
 * One call lists (or replays) one task and publishes its segments and task
 * records (docs/lister.md). Everything it prints is on stderr: one summary
 * line on success, one line per error. One thread, but for a sharded listing
 * (lister.shards > 1): one listing thread per shard, the main thread publishing;
 * and with Kafka the task's lease (bus/lease.h) is served by a thread of its own.
 */
#ifndef FERRY_LISTER_H
#define FERRY_LISTER_H

#include "conf/config.h"

/* Exit statuses of ferry-lister. */
enum {
  LISTER_EXIT_OK = 0,       /* every segment and record delivered / written */
  LISTER_EXIT_FAIL = 1,     /* store, broker or file error; interrupted; some
                               objects could not be replayed */
  LISTER_EXIT_USAGE = 2,    /* bad arguments, bad config, unknown task */
  /* 3 is --verify's "not in step" (ops.h). */
  LISTER_EXIT_PERMANENT = 4, /* --retry-failed: published, but every object in
                               it had already failed permanently (vanished,
                               access denied, ...) in a retry: retrying again
                               will not help */
  LISTER_EXIT_BUSY = 5      /* refused: a run of the task is still at work
                               (--retry-failed), or another lister holds it */
};

typedef struct lister_opts {
  const char *task;         /* -t */
  const char *segments_to;  /* --segments-to FILE|-: JSON lines, no Kafka */
  int retry_failed;         /* --retry-failed */
  const char *from_list;    /* --from-list FILE|- */
  int run;                  /* --run N (file output only); 0 = decide */
  int estimate;             /* --estimate: count, histogram, duration; no publishing */
  int dry_run;              /* --dry-run: list what would be copied; no publishing */
  int verify;               /* --verify: compare source and destination listings */
  int incremental;          /* --incremental: only what is missing or changed */
  const char *out;          /* --out FILE|-: the --verify report / --dry-run list */
  int workers;              /* --workers N (estimate); 0 = 1 */
  const char *rate_from_json; /* --rate-from-json FILE: measured rate (reporter JSON) */
  int rate_workers;         /* --rate-workers M: workers behind that rate; 0 = 1 */
  double src_rate;          /* --src-rate: bytes/s one worker reads; 0 = default */
  double dst_rate;          /* --dst-rate: bytes/s one worker writes; 0 = default */
  double request_ms;        /* --request-ms: overhead per request; 0 = default */
  int resume_only;          /* --resume-only: go on with an unfinished listing, never
                               start a new run (the master's respawned children) */
} lister_opts_t;

/* Runs the lister; returns an exit status above. conf borrowed. */
int lister_run(const ferry_conf_t *conf, const lister_opts_t *o);

/* ferry-lister --cleanup (cleanup.c): aborts the multipart uploads under the
 * task's destination prefix initiated more than older_than_ms ago (0: every
 * one); one line per failure and a summary on stderr. Returns an exit
 * status above (FAIL when an upload could not be listed or aborted). */
int lister_cleanup(const ferry_conf_t *conf, const char *task, int64_t older_than_ms);

/* Set by the signal handler (SIGINT, SIGTERM): stop after the current
 * page, record the checkpoint, exit LISTER_EXIT_FAIL. Atomic, not volatile:
 * the shard threads read it while the handler writes it (TSan: a data race);
 * a lock-free atomic store is safe in a handler. */
extern _Atomic int lister_stop;

#endif
