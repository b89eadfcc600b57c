/*
 * retry.h: what ferry-lister --retry-failed replays — the task's
 * still-failed set, as the reporter counts it (tally_still_failed over the
 * tasks, results and failed topics) — and whether a retry may start now.
 *
 * Memory: the reporter's tally for one task, its keys on disk, and an index
 * of the failed records on disk too; the set is walked in chunks, so what
 * stays in memory does not grow with the failures. One owner thread.
 */
#ifndef FERRY_LISTER_RETRY_H
#define FERRY_LISTER_RETRY_H

#include "bus/bus.h"
#include "bus/msg.h"
#include "core/buf.h"

typedef struct lretry_src lretry_src_t;

typedef struct lretry {
  size_t n;               /* objects to replay */
  size_t permanent;       /* of them, failed permanently (tally_label_permanent)
                             at their latest attempt, which was in a retry */
  fbuf_t labels;          /* "access-denied 2, http-503 1": the failures by label */
  int base_run;           /* the task's latest full run */
  size_t no_record;       /* still failed without a failed record (rebuilt from
                             the result's outcome) */
  char busy[320];         /* non-empty: a run is still in progress; why */
  lretry_src_t *src;      /* what lretry_next walks; owned */
  int last_integrity;     /* the object lretry_next gave last failed as
                             "integrity": the destination may hold bytes
                             known to be wrong (replay.c) */
} lretry_t;

/*
 * Reads task's records from the tasks, results and failed topics of bc (each
 * up to its high watermark) and fills *out (uninitialized on entry): the
 * counts of the keys still failed in the runs before upto_run, and
 * out->busy when a run before upto_run is still listing or running; then
 * lretry_next gives the objects. Errors: those of bus_scan, an index that
 * cannot be written (FERRY_ERR_IO).
 */
ferry_err_t lretry_load(const bus_conf_t *bc, int timeout_ms, const char *task, int upto_run,
                        lretry_t *out, char *errbuf);
/* The next still-failed object in key order, with the object of its newest
 * failed record (or one rebuilt from its outcome: no record): 1 and *o
 * filled (msg_obj_release), 0 at the end. */
int lretry_next(lretry_t *r, msg_obj_t *o);
void lretry_release(lretry_t *r);

#endif
