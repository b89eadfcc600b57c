/*
 * segrun.h: one segment being copied: the decoded segment, how many of its
 * objects are still running, and the result record being built (counts,
 * bytes, and every object that was not copied, with its outcome; in a retry
 * run, every object). For a part range of a fanned-out object (docs/fanout.md)
 * the result also names the object (result.range), and an outcome "copied"
 * with reason "parts" (its parts uploaded, the object not complete yet)
 * adds bytes but no copied object.
 * Single-threaded, like the engine.
 */
#ifndef FERRY_WORKER_SEGRUN_H
#define FERRY_WORKER_SEGRUN_H

#include "bus/audit.h"
#include "bus/msg.h"

typedef struct segrun {
  struct segrun *next;
  msg_segment_t seg;
  size_t remaining;
  msg_result_t result;
  void *opaque;          /* the driver's */
  char *topic;           /* Kafka position of the segment message (topic owned) */
  int32_t partition;
  int64_t offset;
  int pending;           /* deliveries not yet reported */
  int delivery_failed;
  int revoked;           /* its partition was revoked: never commit it */
  char *refused;         /* why the broker cannot take one of its messages
                            (too large, invalid): the segment is then
                            dead-lettered with this reason, not redone */
  int dead_lettered;     /* its dlq copy was sent */
  msg_audit_rec_t *audit;   /* the task's audit is on: one record per object
                               written (bounded by the segment's objects) */
  size_t n_audit;
  int audit_phase;       /* 1: its audit records are being sent (the result
                            waits for them), 2: they are delivered */
} segrun_t;

/* Takes ownership of *seg's contents (seg is zeroed). */
segrun_t *segrun_new(msg_segment_t *seg, const char *worker_id);
void segrun_destroy(segrun_t *r);
/* Records one object's outcome (copied into the result when not copied).
 * Returns 1 when it was the segment's last object. */
int segrun_add(segrun_t *r, const msg_outcome_t *o);
/* Records an object written, for the audit trail: o its outcome, obj as
 * listed, dst_key where it went, existed -1/0/1 (unknown, absent, present
 * before), crc64 when has_crc64, dst_etag may be NULL. */
void segrun_audit(segrun_t *r, const msg_outcome_t *o, const char *dst_key, int has_crc64,
                  uint64_t crc64, const char *dst_etag, int existed, int64_t at_ms);
/* The audit message of r's records (borrowing r's strings: do not release). */
void segrun_audit_msg(const segrun_t *r, msg_audit_t *out);

#endif
