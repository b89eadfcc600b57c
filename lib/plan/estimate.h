/*
 * estimate.h: how long a task will take, from its listing (object count,
 * bytes, sizes) and the fleet's figures. `ferry-lister --estimate` feeds it
 * one object at a time and prints the result; docs/lister.md ("Estimate")
 * gives the model.
 *
 * The model takes the slowest of three bottlenecks:
 *
 *   T_requests = Q * L / (W * P)      request overhead spread over the copies
 *                                     in flight (P = concurrency / 2 per worker:
 *                                     a copy holds a GET and a PUT)
 *   T_transfer = B / min(W * min(r_src, r_dst, bw_worker), bw_task)
 *   T_qps      = Q / min(W * qps_worker, qps_task)
 *   T_model    = max(T_requests, T_transfer, T_qps)
 *
 * Q counts the requests each object needs (est_requests). With a measured
 * per-worker rate (objects/s o, bytes/s b, e.g. from the reporter's JSON):
 *
 *   T_measured = max(N / (W * o), B / (W * b), T_qps, B / bw_limits)
 *
 * and that is the estimate; otherwise T_model is. A rate or limit of 0 means
 * "no bound" and drops its term.
 *
 * With placement on, each worker's share is summed from the segments the
 * lister's cut gives it (round-robin), its time is the same formula over
 * that share alone (requests over its P and bytes at its rate; with a
 * measured rate, its bytes at the measured bytes/s), and the slowest
 * worker bounds the task too: a
 * few large objects on few workers do not run W-wide. start_s is added last.
 *
 * Pure, no I/O; one owner thread per est_t.
 */
#ifndef FERRY_XFER_ESTIMATE_H
#define FERRY_XFER_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Power-of-two size buckets: bucket 0 holds empty objects, bucket b >= 1
 * holds sizes in [2^(b-1), 2^b). */
#define EST_BUCKETS 65

typedef struct est_params {
  int workers;                  /* W >= 1 */
  int concurrency;              /* HTTP transfers per worker (worker.concurrency) */
  double request_s;             /* L: overhead of one request, seconds */
  double src_rate;              /* r_src: bytes/s one worker reads, 0 = no bound */
  double dst_rate;              /* r_dst: bytes/s one worker writes, 0 = no bound */
  double worker_qps;            /* worker.qps_limit, 0 = none */
  double worker_bw;             /* worker.bandwidth_limit, 0 = none */
  double task_qps;              /* the task's fleet-wide qps_limit, 0 = none */
  double task_bw;               /* the task's fleet-wide bandwidth_limit, 0 = none */
  int head_dst;                 /* 1: the same-name policy HEADs the destination */
  store_type_t dst_type;        /* multipart rules (policy/policy.h) */
  uint64_t multipart_threshold;
  uint64_t part_size;
  double measured_ops;          /* per worker, objects/s; 0 = unknown */
  double measured_bps;          /* per worker, bytes/s; 0 = unknown */
  /* Placement; partitions 0 = off (the balanced terms only). The lister's
   * cut (seg_max_objects, 0 = 1000; seg_max_bytes, 0 = none; objects from
   * fanout_threshold up, 0 = never, in part ranges of about seg_max_bytes)
   * and the round-robin of segments over the partitions and of partitions
   * over the W workers: the slowest worker's share bounds the task. */
  uint64_t seg_max_objects, seg_max_bytes, fanout_threshold;
  int partitions;
  double start_s;               /* before the first copy begins, 0 = none */
} est_params_t;

typedef struct est {
  est_params_t p;
  uint64_t objects, bytes;
  double requests;              /* Q */
  uint64_t multipart;           /* objects that go multipart */
  uint64_t count[EST_BUCKETS];
  uint64_t bucket_bytes[EST_BUCKETS];
  /* Placement (NULL pl = off): per partition objects, bytes, requests of
   * the segments placed on it; the segment being filled. */
  double *pl;
  uint64_t segments;
  uint64_t seg_n, seg_bytes;
  double seg_obj, seg_req;
} est_t;

typedef struct est_result {
  double t_requests, t_transfer, t_qps, t_model;
  /* The slowest worker's share under placement (< 0 when off), the mean
   * over the partition the run's first segment lands on, and its lowest
   * and highest over those starts; with a measured rate it uses the rate. */
  double t_placed, t_placed_lo, t_placed_hi;
  uint64_t segments;            /* the cut's segments (placement on) */
  double t_measured;            /* < 0 when no measured rate */
  double t_estimate;            /* the answer: start_s + the slowest bound */
  const char *bound;            /* "request overhead", "transfer", "qps limit",
                                   "measured rate", "slowest worker's share",
                                   "bandwidth limit", "nothing" (static) */
  double fleet_bps;             /* the transfer term's rate, 0 = unbounded */
  double fleet_qps;             /* the qps term's rate, 0 = unbounded */
} est_result_t;

/* Placement on (p->partitions > 0) allocates: est_release frees. */
void est_init(est_t *e, const est_params_t *p);
void est_release(est_t *e);
/* Bucket of a size (0..64). */
int est_bucket(uint64_t size);
/* The bucket's range [*lo, *hi); *hi is 0 for bucket 64 (no upper end). */
void est_bucket_range(int b, uint64_t *lo, uint64_t *hi);
/* Requests to copy one object of this size under e's parameters: an optional
 * HEAD of the destination, then GET + PUT, or for multipart HEAD source +
 * initiate + a GET and an UploadPart per part + complete. */
double est_requests(const est_t *e, uint64_t size);
void est_add(est_t *e, uint64_t size);
void est_compute(const est_t *e, est_result_t *out);

/* "1.5 KiB", "7.6 MiB", "12 B" into out (n bytes). */
void est_fmt_size(char *out, size_t n, double bytes);
/* "0.4 s", "42 s", "3 min 05 s", "2 h 04 min", "3 d 02 h". */
void est_fmt_duration(char *out, size_t n, double seconds);

#endif
