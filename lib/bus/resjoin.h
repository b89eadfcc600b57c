/*
 * resjoin.h: joins the parts of a result split over several messages
 * (msg_result_encode_parts; docs/messages.md "results") back into one
 * result, for the reporter.
 *
 * The parts of one publication share task, segment, run, worker,
 * started_ms and parts. A set is complete when every part number 1..parts
 * has arrived; a part number seen twice is ignored, and outcomes are
 * de-duplicated by key (the first kept). When a set completes, any other
 * incomplete set of the same (task, segment, run) — a worker that stopped
 * half-way through publishing — is dropped: the segment's result is known.
 *
 * Pure, one owner thread.
 */
#ifndef FERRY_BUS_RESJOIN_H
#define FERRY_BUS_RESJOIN_H

#include <stddef.h>

#include "bus/msg.h"
#include "core/ferry.h"

typedef struct resjoin resjoin_t;

resjoin_t *resjoin_new(void);
void resjoin_destroy(resjoin_t *j);   /* accepts NULL */

/*
 * Takes part (steals its contents: *part is zeroed, nothing left to
 * release). Returns 1 with *whole a new result (release it; part and parts
 * are 0) when part completed its set; 0 when parts of the set are still
 * missing or part repeats one already held; -1 with errbuf when part
 * contradicts its set (another n_objects or counts), which is then left as
 * it was. A result that is not split (parts 0 or 1) is returned as it is.
 */
int resjoin_add(resjoin_t *j, msg_result_t *part, msg_result_t *whole, char *errbuf);

/* Incomplete sets held. */
size_t resjoin_pending(const resjoin_t *j);

#endif
