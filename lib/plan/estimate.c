/* estimate.c: the duration model of estimate.h (docs/lister.md, "Estimate"). */
#include "plan/estimate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/fanplan.h"
#include "plan/segmenter.h"
#include "policy/policy.h"

/* Offsets of the first segment's partition tried at most: the mean over a
 * spread of them, when the placement depends on it. */
#define EST_MAX_OFFSETS 64

void est_init(est_t *e, const est_params_t *p) {
  memset(e, 0, sizeof(*e));
  e->p = *p;
  if (e->p.workers < 1) e->p.workers = 1;
  if (e->p.concurrency < 2) e->p.concurrency = 2;
  if (!e->p.seg_max_objects) e->p.seg_max_objects = SEG_DEFAULT_MAX_OBJECTS;
  if (e->p.partitions > 0) e->pl = fx_calloc(3 * (size_t)e->p.partitions, sizeof(double));
}

void est_release(est_t *e) {
  fx_free(e->pl);
  e->pl = NULL;
}

int est_bucket(uint64_t size) {
  int b = 0;
  while (size) {
    b++;
    size >>= 1;
  }
  return b;
}

void est_bucket_range(int b, uint64_t *lo, uint64_t *hi) {
  if (b <= 0) {
    *lo = 0;
    *hi = 1;
    return;
  }
  *lo = (uint64_t)1 << (b - 1);
  *hi = b >= 64 ? 0 : (uint64_t)1 << b;
}

double est_requests(const est_t *e, uint64_t size) {
  double q = e->p.head_dst ? 1 : 0;
  if (policy_use_multipart(e->p.dst_type, size, e->p.multipart_threshold)) {
    uint64_t ps = policy_part_size(e->p.dst_type, size, e->p.part_size);
    uint32_t parts = ps ? policy_part_count(size, ps) : 1;
    return q + 3 + 2.0 * parts;  /* HEAD source, initiate, parts, complete */
  }
  return q + 2;                  /* GET + PUT */
}

/* A segment goes to the next partition (bus/segplace.h: round-robin). */
static void place(est_t *e, double n, double bytes, double req) {
  double *s = e->pl + 3 * (e->segments % (uint64_t)e->p.partitions);
  s[0] += n;
  s[1] += bytes;
  s[2] += req;
  e->segments++;
}

static void cut(est_t *e) {
  if (!e->seg_n) return;
  place(e, e->seg_obj, (double)e->seg_bytes, e->seg_req);
  e->seg_n = e->seg_bytes = 0;
  e->seg_obj = e->seg_req = 0;
}

/* The lister's cut (plan/segmenter.c's must_cut, lister.c's fan_out). */
static void place_add(est_t *e, uint64_t size, double req) {
  const est_params_t *p = &e->p;
  uint64_t mb = p->seg_max_bytes;
  fanout_plan_t plan;
  char eb[FERRY_ERRLEN];
  if (fanout_wanted(p->fanout_threshold, size) &&
      fanout_plan(p->dst_type, size, p->part_size, mb, &plan, eb) == FERRY_OK &&
      plan.n_ranges > 1) {
    uint32_t i;
    cut(e);
    for (i = 0; i < plan.n_ranges; i++) {
      int a, b;
      fanout_range(&plan, i, &a, &b);
      place(e, 1.0 / plan.n_ranges, (double)fanout_range_bytes(&plan, a, b),
            req / plan.n_ranges);
    }
    return;
  }
  if (e->seg_n && (e->seg_n >= p->seg_max_objects ||
                   (mb && (e->seg_bytes > mb || size > mb - e->seg_bytes))))
    cut(e);
  e->seg_n++;
  e->seg_obj += 1;
  e->seg_bytes += size;
  e->seg_req += req;
}

void est_add(est_t *e, uint64_t size) {
  int b = est_bucket(size);
  double req = est_requests(e, size);
  e->objects++;
  e->bytes += size;
  e->count[b]++;
  e->bucket_bytes[b] += size;
  e->requests += req;
  if (policy_use_multipart(e->p.dst_type, size, e->p.multipart_threshold)) e->multipart++;
  if (e->pl) place_add(e, size, req);
}

/* The smaller of two rates where 0 means "no bound". */
static double min_rate(double a, double b) {
  if (a <= 0) return b > 0 ? b : 0;
  if (b <= 0) return a;
  return a < b ? a : b;
}

/* One worker's time for its share (objects, bytes, requests): with a
 * measured rate, its bytes at the measured bytes/s (its objects at the
 * objects/s when no bytes/s is known); else the model's requests over its
 * copy slots and bytes at its rate. A measured pair of rates describes the
 * trial's mix as a whole: a share of 300 small objects at a mixed trial's
 * objects/s (which large objects held down) would be charged minutes that
 * its bytes take seconds, so a share is weighed by its bytes. */
static double share_time(const est_t *e, const double *w, int measured, double per_worker_bps) {
  const est_params_t *p = &e->p;
  double t = 0, pairs = (double)(p->concurrency / 2);
  if (measured) {
    if (p->measured_bps > 0) return w[1] / p->measured_bps;
    return p->measured_ops > 0 ? w[0] / p->measured_ops : 0;
  }
  if (pairs < 1) pairs = 1;
  t = w[2] * p->request_s / pairs;
  if (per_worker_bps > 0 && w[1] / per_worker_bps > t) t = w[1] / per_worker_bps;
  return t;
}

/* The slowest worker's time with the first segment on partition `off`:
 * segment i on partition (off + i) mod P, partition q on worker q mod W
 * (the round-robin assignor; other topics only rename the workers). */
static double slowest(const est_t *e, const double *pend, uint64_t off, double *wl, size_t nw,
                      int measured, double per_worker_bps) {
  uint64_t np = (uint64_t)e->p.partitions, q;
  size_t i;
  double worst = 0;
  memset(wl, 0, 3 * nw * sizeof(double));
  for (q = 0; q < np; q++) {
    const double *s = e->pl + 3 * q;
    double *w = wl + 3 * (((q + off) % np) % nw);
    w[0] += s[0], w[1] += s[1], w[2] += s[2];
  }
  if (pend) {
    double *w = wl + 3 * (((e->segments + off) % np) % nw);
    w[0] += pend[0], w[1] += pend[1], w[2] += pend[2];
  }
  for (i = 0; i < nw; i++) {
    double t = share_time(e, wl + 3 * i, measured, per_worker_bps);
    if (t > worst) worst = t;
  }
  return worst;
}

static void placed(const est_t *e, est_result_t *out, int measured, double per_worker_bps) {
  uint64_t np = (uint64_t)e->p.partitions, n_off, k;
  size_t nw = (size_t)e->p.workers < np ? (size_t)e->p.workers : (size_t)np;
  double pend[3] = {e->seg_obj, (double)e->seg_bytes, e->seg_req}, sum = 0, *wl;
  /* Every start gives the same shares up to renaming when W divides P or
   * each partition has a worker of its own. */
  n_off = (np % nw == 0) ? 1 : (np < EST_MAX_OFFSETS ? np : EST_MAX_OFFSETS);
  wl = fx_calloc(3 * nw, sizeof(double));
  out->t_placed_lo = -1;
  out->t_placed_hi = 0;
  for (k = 0; k < n_off; k++) {
    double t = slowest(e, e->seg_n ? pend : NULL, k * np / n_off, wl, nw, measured, per_worker_bps);
    sum += t;
    if (out->t_placed_lo < 0 || t < out->t_placed_lo) out->t_placed_lo = t;
    if (t > out->t_placed_hi) out->t_placed_hi = t;
  }
  fx_free(wl);
  out->t_placed = sum / (double)n_off;
  out->segments = e->segments + (e->seg_n ? 1 : 0);
}

void est_compute(const est_t *e, est_result_t *out) {
  const est_params_t *p = &e->p;
  double w = p->workers, pairs = (double)(p->concurrency / 2);
  double per_worker_bps = min_rate(min_rate(p->src_rate, p->dst_rate), p->worker_bw);
  double limit_bps = min_rate(p->worker_bw > 0 ? w * p->worker_bw : 0, p->task_bw);
  double best = 0;
  memset(out, 0, sizeof(*out));
  out->bound = "nothing";
  out->fleet_bps = min_rate(per_worker_bps > 0 ? w * per_worker_bps : 0, p->task_bw);
  out->fleet_qps = min_rate(p->worker_qps > 0 ? w * p->worker_qps : 0, p->task_qps);
  if (pairs < 1) pairs = 1;
  out->t_requests = e->requests * p->request_s / (w * pairs);
  out->t_transfer = out->fleet_bps > 0 ? (double)e->bytes / out->fleet_bps : 0;
  out->t_qps = out->fleet_qps > 0 ? e->requests / out->fleet_qps : 0;
  if (out->t_requests > best) best = out->t_requests, out->bound = "request overhead";
  if (out->t_transfer > best) best = out->t_transfer, out->bound = "transfer";
  if (out->t_qps > best) best = out->t_qps, out->bound = "qps limit";
  out->t_placed = out->t_placed_lo = out->t_placed_hi = -1;
  if (e->pl && e->objects) {
    placed(e, out, 0, per_worker_bps);
    if (out->t_placed > best) best = out->t_placed, out->bound = "slowest worker's share";
  }
  out->t_model = best;
  out->t_estimate = best;
  out->t_measured = -1;
  if (p->measured_ops > 0 || p->measured_bps > 0) {
    double m = 0, lim;
    if (p->measured_ops > 0) m = (double)e->objects / (w * p->measured_ops);
    if (p->measured_bps > 0 && (double)e->bytes / (w * p->measured_bps) > m)
      m = (double)e->bytes / (w * p->measured_bps);
    out->bound = "measured rate";
    if (e->pl && e->objects) {
      placed(e, out, 1, 0);
      if (out->t_placed > m) m = out->t_placed, out->bound = "slowest worker's share";
    }
    out->t_measured = m;
    out->t_estimate = m;
    /* A measured rate was taken under its own fleet's limits; a larger
     * fleet still meets the configured ones. */
    if (out->t_qps > out->t_estimate) out->t_estimate = out->t_qps, out->bound = "qps limit";
    lim = limit_bps > 0 ? (double)e->bytes / limit_bps : 0;
    if (lim > out->t_estimate) out->t_estimate = lim, out->bound = "bandwidth limit";
  }
  if (p->start_s > 0) out->t_estimate += p->start_s;
}

void est_fmt_size(char *out, size_t n, double bytes) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) {
    bytes /= 1024;
    u++;
  }
  if (u == 0) snprintf(out, n, "%.0f B", bytes);
  else snprintf(out, n, "%.*f %s", bytes < 10 ? 1 : 0, bytes, units[u]);
}

void est_fmt_duration(char *out, size_t n, double s) {
  double r;
  if (!(s >= 0)) s = 0;  /* also NaN */
  r = floor(s + 0.5);
  if (s < 10) snprintf(out, n, "%.1f s", s);
  else if (r < 60) snprintf(out, n, "%.0f s", r);
  else if (r < 3600) snprintf(out, n, "%.0f min %02.0f s", floor(r / 60), fmod(r, 60));
  else if (r < 86400)
    snprintf(out, n, "%.0f h %02.0f min", floor(r / 3600), floor(fmod(r, 3600) / 60));
  else snprintf(out, n, "%.0f d %02.0f h", floor(r / 86400), floor(fmod(r, 86400) / 3600));
}
