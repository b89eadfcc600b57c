/*
 * retry.h: what ferry-lister --retry-failed replays — the task's
 * still-failed set, as the reporter counts it (tally_still_failed over the
 * tasks, results and failed topics) — and whether a retry may start now.
 *
 * Memory: the reporter's tally for one task (segment ids, failed keys and
 * their retry outcomes) and one object per still-failed key.
 * One owner thread.
 */
#ifndef FERRY_LISTER_RETRY_H
#define FERRY_LISTER_RETRY_H

#include "bus/bus.h"
#include "bus/msg.h"
#include "core/buf.h"

typedef struct lretry {
  msg_obj_t *objs;        /* to replay, sorted by key; owned */
  size_t n;
  size_t permanent;       /* of them, failed permanently (tally_label_permanent)
                             at their latest attempt, which was in a retry */
  fbuf_t labels;          /* "access-denied 2, http-503 1": the failures by label */
  int base_run;           /* the task's latest full run */
  size_t no_record;       /* still failed without a failed record (rebuilt from
                             the result's outcome) */
  char busy[320];         /* non-empty: a run is still in progress; why */
} lretry_t;

/*
 * Reads task's records from the tasks, results and failed topics of bc (each
 * up to its high watermark) and fills *out (uninitialized on entry): the
 * keys still failed in the runs before upto_run, each with the object of its
 * newest failed record, and out->busy when a run before upto_run is still
 * listing or running. Errors: those of bus_scan.
 */
ferry_err_t lretry_load(const bus_conf_t *bc, int timeout_ms, const char *task, int upto_run,
                        lretry_t *out, char *errbuf);
void lretry_release(lretry_t *r);

#endif
