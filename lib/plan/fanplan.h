/*
 * fanout.h: planning the fan-out of a huge object across workers
 * (docs/fanout.md): its part size, and the part ranges that travel as
 * separate segments, each copied by whichever worker takes it.
 *
 * Pure, no I/O, thread-safe.
 */
#ifndef FERRY_XFER_FANOUT_H
#define FERRY_XFER_FANOUT_H

#include <stdint.h>

#include "model/model.h"
#include "core/ferry.h"
#include "store/store.h"

typedef struct fanout_plan {
  uint64_t size;          /* the object's size */
  uint64_t part_size;     /* as the engine picks it for the destination */
  uint32_t parts_total;   /* ceil(size / part_size), 1 when empty */
  uint32_t n_ranges;      /* part-range segments */
} fanout_plan_t;

/* 1 when an object of size bytes is fanned out: threshold > 0 and
 * size >= threshold. */
int fanout_wanted(uint64_t threshold, uint64_t size);

/* Plans an object of size bytes copied to a store of type dst: the part size
 * is policy_part_size(dst, size, preferred_part) (what the engine would use),
 * and the parts are spread evenly over ceil(size / range_bytes) ranges (at
 * most one per part, at least one). range_bytes 0 counts as one range.
 * FERRY_ERR_INVALID when the object is too large for dst (errbuf says so). */
ferry_err_t fanout_plan(store_type_t dst, uint64_t size, uint64_t preferred_part,
                        uint64_t range_bytes, fanout_plan_t *out, char *errbuf);

/* Part numbers [*first, *last] (1-based, inclusive) of range i (0-based,
 * < n_ranges): range i holds parts floor(i*P/n)+1 .. floor((i+1)*P/n). */
void fanout_range(const fanout_plan_t *p, uint32_t i, int *first, int *last);

/* Bytes of parts [first, last] of the planned object. */
uint64_t fanout_range_bytes(const fanout_plan_t *p, int first, int last);

/* A new part-range segment (free with msg_segment_release + fx_free): id,
 * task, run, locations and policy copied from the arguments, one object
 * (copied), range i of the plan with upload_id. */
msg_segment_t *fanout_segment(const char *id, const char *task, int run,
                              const msg_loc_t *src, const msg_loc_t *dst,
                              msg_policy_t policy, const msg_obj_t *obj,
                              const char *upload_id, const fanout_plan_t *p,
                              uint32_t i);

#endif
