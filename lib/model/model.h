/*
 * model.h: ferry's domain model: a task, its segments and their objects, an
 * object's outcome, a segment's result, a failed object, a worker's
 * heartbeat, as plain C structs with their enums and release functions.
 * Everything above core uses these; the JSON codecs that put them on Kafka
 * are bus/msg.h, and docs/messages.md documents each field. Pure,
 * thread-safe.
 */
#ifndef FERRY_MODEL_MODEL_H
#define FERRY_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/ferry.h"
#include "core/kv.h"

/* Same-name policy at the destination. */
typedef enum msg_policy {
  POLICY_OVERWRITE = 0,
  POLICY_SKIP,           /* exists -> skip */
  POLICY_SKIP_IF_SAME    /* skip when size and CRC64 (or size and single-part ETag) match */
} msg_policy_t;

/* The wire names, indexed by the enum (the codecs read and write these). */
enum { MSG_POLICY__COUNT = 3 };
extern const char *const msg_policy_names[MSG_POLICY__COUNT];
const char *msg_policy_str(msg_policy_t p);      /* "overwrite", "skip", "skip-if-same" */
int msg_policy_parse(const char *s, msg_policy_t *out);

/* A location: store name from the config (never credentials), bucket, prefix. */
typedef struct msg_loc {
  char *store;
  char *bucket;
  char *prefix;          /* "" when none */
} msg_loc_t;

/* One object of a segment, as listed at the source. */
typedef struct msg_obj {
  char *key;             /* full source key (raw UTF-8) */
  uint64_t size;
  char *etag;            /* unquoted, may be NULL */
  int64_t mtime;         /* unix seconds, -1 unknown */
  int has_crc64;
  uint64_t crc64;
  char *dst_key;         /* optional explicit destination key (URL lists), else NULL */
} msg_obj_t;

/* A part range of one huge object (fan-out across workers), or none. */
typedef struct msg_range {
  int present;
  char *upload_id;       /* multipart upload created by the lister */
  int part_first;        /* 1-based part numbers [first, last] */
  int part_last;
  uint64_t part_size;
  int parts_total;       /* parts of the whole object: ceil(size / part_size),
                            1 for an empty object (docs/fanout.md); the decoder
                            fills it in when the member is absent */
} msg_range_t;

/* ferry.segments value. */
typedef struct msg_segment {
  char *task;
  char *id;              /* segment id, unique within the task run ("<run>-<seq>") */
  int run;               /* 1 for the first run, +1 per --retry-failed */
  msg_loc_t src;
  msg_loc_t dst;
  msg_policy_t policy;
  msg_obj_t *objs;       /* owned */
  size_t n_objs;
  msg_range_t range;
  /* The task's own fleet-wide limits (member "limits", written by listers
   * since the limits moved into the task's records; a segment without it
   * leaves the worker to its config's task of that name). 0 = unlimited. */
  int has_limits;
  uint64_t qps_limit;          /* requests/s, to source and destination */
  uint64_t bandwidth_limit;    /* bytes/s */
  char **schedule;             /* limits.schedule: "HH:MM-HH:MM=SIZE" entries (the
                                  task's bandwidth_schedule), owned; the first
                                  window holding the local time gives the
                                  bandwidth, else bandwidth_limit */
  size_t n_schedule;
  int audit;             /* the task's audit switch (member "audit", written
                            only when 1): workers publish what they wrote
                            to the audit topic (bus/audit.h) */
  /* The task's own copy settings (member "copy", written by listers since
   * tasks carry them in their records; a segment without it leaves the
   * worker to its own worker.storage_class_map and record_source_etag). */
  int has_copy;
  kvlist_t class_map;          /* storage class SRC -> DST, "*" for the rest */
  int record_src_etag;         /* write the source ETag as user metadata */
} msg_segment_t;

typedef enum msg_status {
  ST_COPIED = 0,
  ST_SKIPPED,
  ST_FAILED,
  ST_CHANGED,            /* source changed after listing (ETag differs) */
  ST_VANISHED            /* source deleted after listing */
} msg_status_t;

enum { MSG_STATUS__COUNT = 5 };
extern const char *const msg_status_names[MSG_STATUS__COUNT];
const char *msg_status_str(msg_status_t s);      /* "copied", ... */
int msg_status_parse(const char *s, msg_status_t *out);

/* The outcome of one object (or one part range). */
typedef struct msg_outcome {
  char *key;
  uint64_t size;
  msg_status_t status;
  char *reason;          /* short machine word: "exists", "same", "integrity",
                            "access-denied", "http-503", ... ; NULL for copied */
  uint64_t bytes;        /* bytes written to the destination */
  int attempts;
  int64_t duration_ms;
  int http_status;       /* of the last failing request, 0 if none */
  char *code;            /* service code, may be NULL */
  char *request_id;      /* may be NULL */
  char *message;         /* one line, may be NULL */
  char *etag;            /* source ETag of the object (for retries) */
} msg_outcome_t;

/* The result of a part-range segment (fan-out, docs/fanout.md): which object
 * and which of its parts. Then n_objects is 1 and n_copied 1 only when the
 * object is complete at the destination (this worker completed the upload or
 * found it completed), n_failed 1 when the object failed; neither when only
 * this range's parts were uploaded. */
typedef struct msg_result_range {
  int present;
  char *key;             /* the object's source key */
  uint64_t size;         /* the whole object's size */
  int part_first, part_last, parts_total;
} msg_result_range_t;

/* ferry.results value: one per segment. */
typedef struct msg_result {
  char *task;
  char *segment;         /* segment id */
  int run;
  char *worker;          /* worker id */
  uint64_t n_objects, n_copied, n_skipped, n_failed;
  uint64_t bytes;        /* bytes copied */
  int64_t started_ms, finished_ms;  /* unix ms */
  msg_outcome_t *outcomes;  /* every object NOT copied (skips and failures), owned */
  size_t n_outcomes;
  msg_result_range_t range; /* part-range segments only ("range" member), owned */
  int part, parts;          /* a result split over several messages (members
                               "part" and "parts", written when parts > 1):
                               this is part `part` of 1..parts; each part
                               carries the whole segment's counts and a slice
                               of its outcomes. 0, 0: the whole result */
} msg_result_t;

/* ferry.failed value: one per failed object, replayable. */
typedef struct msg_failed {
  char *task;
  char *segment;
  int run;
  msg_loc_t src;
  msg_loc_t dst;
  msg_obj_t obj;
  msg_outcome_t outcome;
  int64_t at_ms;
} msg_failed_t;

/* One shard of a sharded listing (lister.shards > 1; docs/lister.md): the
 * key range (lo, hi] it lists and its own checkpoint. */
typedef struct msg_shard {
  char *lo;              /* exclusive lower bound, NULL = from the start */
  char *hi;              /* inclusive upper bound, NULL = to the end */
  char *checkpoint;      /* last key of its last published segment, may be NULL */
  uint64_t segments, objects, bytes;  /* published by this shard */
  int done;              /* 1: listed to its end */
} msg_shard_t;

/* ferry.tasks value (compacted by task name). */
typedef struct msg_task {
  char *task;
  int run;
  msg_loc_t src;
  msg_loc_t dst;
  msg_policy_t policy;
  char *state;           /* "listing", "listed", "failed" */
  uint64_t listed_objects, listed_bytes;  /* so far, or totals once listed */
  uint64_t segments;
  char *checkpoint;      /* last key fully published, may be NULL */
  int64_t updated_ms;
  int retry_of;          /* 0: a full run (the task's whole listing); else a
                            retry (--retry-failed) of the still-failed objects
                            of full run retry_of (1 <= retry_of < run); the
                            member "retry_of" is written only for retries */
  char *kind;            /* how the lister found the run's objects, may be NULL
                            (= "list", or "retry" when retry_of is set): "list"
                            (source listing), "retry" (--retry-failed),
                            "from-list" (--from-list FILE); other values are kept */
  msg_shard_t *shards;   /* a sharded listing's ranges and positions, owned;
                            NULL / 0 otherwise (member "shards" omitted) */
  size_t n_shards;
} msg_task_t;

/* One task a worker is working on, in its heartbeat. */
typedef struct msg_hb_task {
  char *task;
  uint64_t objects;      /* objects of the task taken and not finished */
  int held;              /* the task's own limit holds it back on this worker */
} msg_hb_task_t;

/* The partitions of one topic assigned to a worker, in its heartbeat. */
typedef struct msg_hb_parts {
  char *topic;
  int32_t *partitions;   /* owned */
  size_t n;
} msg_hb_parts_t;

/* ferry.workers value: every worker says every every_ms which tasks it is
 * working on (docs/messages.md); workers share a task's fleet-wide limits
 * among those working on it (docs/worker.md, "Limits"). */
typedef struct msg_heartbeat {
  char *worker;          /* worker id */
  char *instance;        /* random per process: two processes with one id differ */
  int64_t at_ms;         /* unix ms when sent */
  int64_t every_ms;      /* the sender's interval (1..600000) */
  int leaving;           /* the worker is stopping: forget it now */
  msg_hb_task_t *tasks;  /* owned */
  size_t n_tasks;
  /* Optional, for the fleet view (absent in heartbeats of older workers). */
  char *host;            /* host name, may be NULL */
  msg_hb_parts_t *parts; /* the partitions assigned to it, by topic; owned */
  size_t n_parts;
  int has_rate;          /* member "rate": objects and bytes per second */
  double objects_s, bytes_s;  /* over the last seconds (docs/messages.md) */
} msg_heartbeat_t;

void msg_loc_release(msg_loc_t *l);
void msg_obj_release(msg_obj_t *o);
void msg_outcome_release(msg_outcome_t *o);
void msg_segment_release(msg_segment_t *s);
void msg_result_release(msg_result_t *r);
void msg_failed_release(msg_failed_t *f);
void msg_task_release(msg_task_t *t);
void msg_shards_release(msg_shard_t *v, size_t n);  /* and frees v */
void msg_heartbeat_release(msg_heartbeat_t *h);

#endif
