/* tasklimit.c: per-task token buckets and the engine's isolation rules. */
#include "xfer/tasklimit.h"

#include <string.h>

#include "core/ferry.h"

void tl_init(tl_table_t *t) { memset(t, 0, sizeof(*t)); }

void tl_release(tl_table_t *t) {
  size_t i;
  for (i = 0; i < t->n; i++) {
    fx_free(t->v[i]->name);
    fx_free(t->v[i]);
  }
  fx_free(t->v);
  tl_init(t);
}

tl_task_t *tl_find(const tl_table_t *t, const char *name) {
  size_t i;
  for (i = 0; i < t->n; i++)
    if (strcmp(t->v[i]->name, name) == 0) return t->v[i];
  return NULL;
}

tl_task_t *tl_get(tl_table_t *t, const char *name, int64_t now_us) {
  tl_task_t *k = tl_find(t, name ? name : "");
  if (k) return k;
  k = fx_calloc(1, sizeof(*k));
  k->name = fx_strdup(name ? name : "");
  rl_init(&k->qps, 0, 0, now_us);
  rl_init(&k->bw, 0, 0, now_us);
  t->v = fx_realloc(t->v, (t->n + 1) * sizeof(*t->v));
  t->v[t->n++] = k;
  return k;
}

void tl_set_limits(tl_task_t *k, uint64_t qps, uint64_t bw, int64_t now_us) {
  if (qps != k->qps_rate) {
    uint64_t burst = qps / 4 > 4 ? qps / 4 : 4;
    rl_set(&k->qps, qps, qps ? burst : 0, now_us);
    k->qps_rate = qps;
  }
  if (bw != k->bw_rate) {
    uint64_t burst = bw / 4 > TL_MIN_BYTE_BURST ? bw / 4 : TL_MIN_BYTE_BURST;
    rl_set(&k->bw, bw, bw ? burst : 0, now_us);
    k->bw_rate = bw;
  }
}

int tl_limited(const tl_task_t *k) { return k->qps_rate || k->bw_rate; }

int tl_held(const tl_task_t *k, int64_t now_us) {
  return k->starved || now_us < k->bw_until_us;
}

void tl_pass_requests(tl_table_t *t) {
  size_t i;
  for (i = 0; i < t->n; i++) t->v[i]->starved = 0;
}

void tl_pass_jobs(tl_table_t *t) {
  size_t i;
  for (i = 0; i < t->n; i++) t->v[i]->started = 0;
}

int tl_may_start_job(tl_task_t *k, int64_t now_us) {
  if (k->paused) return 0;
  if (tl_limited(k)) {
    if (tl_held(k, now_us)) return 0;
    if (k->qps_rate && rl_available(&k->qps, now_us) <= k->started) return 0;
    if (k->bw_rate && rl_available(&k->bw, now_us) == 0) return 0;
  }
  k->started++;
  return 1;
}

int64_t tl_take_requests(tl_task_t *k, ratelimit_t *worker, uint64_t n, int64_t now_us,
                         int *worker_short) {
  int64_t wk = rl_wait_us(&k->qps, n, now_us);
  int64_t ww = worker ? rl_wait_us(worker, n, now_us) : 0;
  *worker_short = ww > 0;
  if (wk > 0) k->starved = 1;
  if (wk > 0 || ww > 0) return wk > ww ? wk : ww;
  rl_take(&k->qps, n, now_us);
  if (worker) rl_take(worker, n, now_us);
  k->requests += n;
  return 0;
}

int64_t tl_take_bytes(tl_task_t *k, ratelimit_t *worker, uint64_t n, int64_t now_us) {
  int64_t wk = rl_wait_us(&k->bw, n, now_us);
  int64_t ww = worker ? rl_wait_us(worker, n, now_us) : 0;
  if (wk > 0 && now_us + wk > k->bw_until_us) k->bw_until_us = now_us + wk;
  if (wk > 0 || ww > 0) return wk > ww ? wk : ww;
  rl_take(&k->bw, n, now_us);
  if (worker) rl_take(worker, n, now_us);
  k->bytes += n;
  return 0;
}
