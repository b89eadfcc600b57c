/*
 * listplan.h: which run a lister starts, and from where, given the task's
 * latest record in the tasks topic. Pure (no I/O), thread-safe.
 *
 * The rules (docs/lister.md, "Runs"):
 *   - no record: a listing is run 1, from the start; a --from-list replay is
 *     run 1 too (then a full run); --retry-failed has nothing to retry
 *     (FERRY_ERR_NOTFOUND).
 *   - the latest run is finished ("listed"): any mode starts run + 1 from
 *     the start; --retry-failed replays the failures of that run. A replay
 *     is a retry of the latest full run (retry_of).
 *   - the latest run is unfinished ("listing", or "failed": the lister gave
 *     up, e.g. a missing bucket or an unreachable broker): the same kind of
 *     command finishes it — a listing resumes after its checkpoint with the
 *     recorded counts, a replay is redone whole (its segment ids are the
 *     same, so workers and the reporter count each object once). Another
 *     kind of command is refused (FERRY_ERR_INVALID, naming the command that
 *     finishes it). A listing whose source, destination or policy changed
 *     in the config since is not resumed: run + 1 starts from the start
 *     (plan->note says so).
 *   - an incremental run is a full run (no retry_of) that is never resumed:
 *     what it copies depends on the destination, which the workers change
 *     meanwhile. An unfinished incremental run is followed by run + 1,
 *     computed afresh (plan->note says so).
 */
#ifndef FERRY_XFER_LISTPLAN_H
#define FERRY_XFER_LISTPLAN_H

#include <stdint.h>

#include "model/model.h"
#include "core/ferry.h"

typedef enum listplan_kind {
  LISTPLAN_LIST = 0,    /* list the source */
  LISTPLAN_RETRY,       /* --retry-failed */
  LISTPLAN_FROM_LIST,   /* --from-list FILE */
  LISTPLAN_INCREMENTAL  /* --incremental: what is missing or changed at the
                           destination; a full run of those objects */
} listplan_kind_t;

/* "list", "retry", "from-list", "incremental"; static. */
const char *listplan_kind_str(listplan_kind_t k);
/* The kind of a task record: its kind member, else retry when retry_of is
 * set, else list; -1 for an unknown kind value. */
int listplan_record_kind(const msg_task_t *rec);

typedef struct listplan {
  int run;                 /* the run to publish, >= 1 */
  int resume;              /* 1: an interrupted listing continues */
  const char *start_after; /* resume: the checkpoint key (borrowed from the
                              record), or NULL to start at the beginning */
  uint64_t segments;       /* resume: segments already published */
  uint64_t objects, bytes; /* resume: objects and bytes in them */
  int base_run;            /* retry: the run whose failures are replayed */
  int retry_of;            /* the task record's retry_of for the run: 0 for a
                              full run; for a replay, the latest full run
                              (docs/messages.md) */
  char note[256];          /* a remark for the operator, or "" */
} listplan_t;

/*
 * Decides for kind, with rec the task's latest record (NULL when none) and
 * def the current definition (task, src, dst, policy; other fields unused).
 * Errors (with a one-line errbuf): FERRY_ERR_NOTFOUND (retry without any
 * run), FERRY_ERR_INVALID (an unfinished run of another kind).
 */
ferry_err_t listplan_decide(listplan_kind_t kind, const msg_task_t *rec,
                            const msg_task_t *def, listplan_t *out, char *errbuf);

/* 1 when a and b name the same source, destination and policy. */
int listplan_same_definition(const msg_task_t *a, const msg_task_t *b);

#endif
