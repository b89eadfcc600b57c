/* estimate.c: the duration model of estimate.h (docs/lister.md, "Estimate"). */
#include "plan/estimate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

void est_init(est_t *e, const est_params_t *p) {
  memset(e, 0, sizeof(*e));
  e->p = *p;
  if (e->p.workers < 1) e->p.workers = 1;
  if (e->p.concurrency < 2) e->p.concurrency = 2;
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

void est_add(est_t *e, uint64_t size) {
  int b = est_bucket(size);
  e->objects++;
  e->bytes += size;
  e->count[b]++;
  e->bucket_bytes[b] += size;
  e->requests += est_requests(e, size);
  if (policy_use_multipart(e->p.dst_type, size, e->p.multipart_threshold)) e->multipart++;
}

/* The smaller of two rates where 0 means "no bound". */
static double min_rate(double a, double b) {
  if (a <= 0) return b > 0 ? b : 0;
  if (b <= 0) return a;
  return a < b ? a : b;
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
  out->t_model = best;
  out->t_estimate = best;
  out->t_measured = -1;
  if (p->measured_ops > 0 || p->measured_bps > 0) {
    double m = 0, lim;
    if (p->measured_ops > 0) m = (double)e->objects / (w * p->measured_ops);
    if (p->measured_bps > 0 && (double)e->bytes / (w * p->measured_bps) > m)
      m = (double)e->bytes / (w * p->measured_bps);
    out->t_measured = m;
    out->t_estimate = m;
    out->bound = "measured rate";
    /* A measured rate was taken under its own fleet's limits; a larger
     * fleet still meets the configured ones. */
    if (out->t_qps > out->t_estimate) out->t_estimate = out->t_qps, out->bound = "qps limit";
    lim = limit_bps > 0 ? (double)e->bytes / limit_bps : 0;
    if (lim > out->t_estimate) out->t_estimate = lim, out->bound = "bandwidth limit";
  }
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
