/*
 * engine_adapt.c: the copy engine's two answers to what the stores say.
 *  - The adaptive limit (worker.concurrency_max, xfer/inflight.h): how many
 *    transfers run at once, grown while completions/s rise, halved when a
 *    store pushes back, never beyond the memory model's budget (below), the
 *    ceiling, or what the QPS limit lets through.
 *  - Stores found down (xfer/storedown.h): no new request to a store that
 *    fails everything, one probe at a time until it answers; the attempts of
 *    objects waiting for it are not used up, until worker.store_down_max_s.
 */
#include <curl/curl.h>
#include <string.h>

#include "core/log.h"
#include "xfer/engine_int.h"

/* libcurl's and our state per running transfer besides its ring
 * (docs/worker.md, "Memory": ~0.3 MiB per pair, ~0.15 MiB per small copy). */
#define SLOT_OVERHEAD (150 * 1024)
#define INFLIGHT_LOG_US 5000000  /* changes are logged at most this often */

void adapt_init(xfer_engine_t *e) {
  size_t i;
  int64_t now = ferry_now_us();
  e->adaptive = e->conf.concurrency_max > e->conf.concurrency;
  /* The floor: one streamed pair. */
  inflight_init(&e->inflight, e->conf.concurrency, 2,
                e->adaptive ? e->conf.concurrency_max : e->conf.concurrency, now);
  e->inflight_logged = e->inflight.cur;
  if (e->adaptive)
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->conf.concurrency_max * 2);
  e->down = fx_calloc(e->n_stores + 1, sizeof(*e->down));
  for (i = 0; i < e->n_stores; i++) sd_init(&e->down[i]);
}

void adapt_release(xfer_engine_t *e) { fx_free(e->down); }

int adapt_cap(const xfer_engine_t *e) {
  return e->adaptive ? e->inflight.cur : e->conf.concurrency;
}

int xfer_inflight_limit(const xfer_engine_t *e) { return adapt_cap(e); }

int xfer_store_down(const xfer_engine_t *e, size_t i) {
  return i < e->n_stores && e->down && e->down[i].down;
}

static long store_idx(const xfer_engine_t *e, const store_t *s) {
  size_t i;
  for (i = 0; i < e->n_stores; i++)
    if (e->stores[i] == s) return (long)i;
  return -1;
}

static const char *sname(const xfer_engine_t *e, long i) {
  return store_conf(e->stores[i])->name;
}

/* A failure in the network, not a cut of ours (abandon, a pair's other
 * half, a callback refusing bytes). */
static int net_failure(CURLcode cc) {
  switch (cc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
    return 1;
  default:
    return 0;
  }
}

static void inflight_log(xfer_engine_t *e, const char *why, int force) {
  int64_t now = ferry_now_us();
  if (e->inflight.cur == e->inflight_logged) return;
  if (!force && now - e->inflight_log_us < INFLIGHT_LOG_US) return;
  LOG_INFO(FAC, "event=inflight limit=%d was=%d why=%s", e->inflight.cur, e->inflight_logged,
           why);
  e->inflight_logged = e->inflight.cur;
  e->inflight_log_us = now;
}

/* Every finished request, by its store: feeds both controllers. */
void adapt_note(xfer_engine_t *e, const store_t *s, long status, CURLcode cc) {
  long i = store_idx(e, s);
  int64_t now = ferry_now_us();
  int net = cc != CURLE_OK && net_failure(cc);
  sd_answer_t a = sd_classify(cc == CURLE_OK ? status : 0, net);
  if (e->adaptive) {
    if (a == SD_FAILURE) {
      if (inflight_congested(&e->inflight)) inflight_log(e, "pushback", 0);
    } else if (cc == CURLE_OK && status >= 200 && status < 300) {
      inflight_done(&e->inflight);
    }
  }
  if (i < 0) return;
  switch (sd_note(&e->down[i], a, now)) {
  case 1:
    LOG_WARN(FAC, "event=store-down store=%s failures=%d http=%ld", FLOG_V(sname(e, i)),
             SD_FAILURES, cc == CURLE_OK ? status : 0L);
    break;
  case -1:
    LOG_INFO(FAC, "event=store-up store=%s down_s=%lld", FLOG_V(sname(e, i)),
             (long long)((now - e->down[i].down_since_us) / 1000000));
    e->down[i].expired_said = 0;
    break;
  default:
    break;
  }
}

void adapt_full(xfer_engine_t *e) {
  if (e->adaptive) inflight_full(&e->inflight);
}

void adapt_held(xfer_engine_t *e) {
  if (e->adaptive) inflight_held(&e->inflight);
}

/* The memory model (docs/worker.md, "Memory") grants what `concurrency`
 * transfers of streamed pairs take: concurrency / 2 rings and the per
 * transfer overhead. Beyond `concurrency` transfers, a unit starts only
 * while that budget holds: many small copies, few streamed ones. */
int adapt_mem_ok(xfer_engine_t *e, const unit_t *u, int need) {
  size_t budget, used, cost;
  if (!e->adaptive || e->slots_used + need <= e->conf.concurrency) return 1;
  /* A streamed pair: its ring and its PUT's upload buffer beyond libcurl's
   * default (counted in SLOT_OVERHEAD), buffer_size together. */
  size_t pair_cost = e->rings.size + (size_t)e->upload_buf - CURL_UPLOAD_DEFAULT;
  budget = (size_t)e->conf.concurrency * (e->conf.buffer_size / 2 + SLOT_OVERHEAD);
  used = (size_t)e->slots_used * SLOT_OVERHEAD + e->rings.live * pair_cost + e->other_ring_bytes;
  cost = (size_t)need * SLOT_OVERHEAD;
  if (u->pair) cost += u->pair->wait_whole || u->pair->cap > e->rings.size ? u->pair->cap
                                                                           : pair_cost;
  if (used + cost <= budget) return 1;
  inflight_held(&e->inflight);
  return 0;
}

/* The stores a unit sends requests to: the source (GET, HEAD of the
 * source), the destination (the rest), both for a pair. */
static int unit_stores(const xfer_engine_t *e, const unit_t *u, long out[2]) {
  int n = 0;
  const job_t *j = u->job;
  if (u->pair) {
    out[n++] = store_idx(e, j->src);
    if (!u->pair->check) out[n++] = store_idx(e, j->dst);
  } else {
    out[n++] = store_idx(e, u->kind == RQ_HEAD_SRC || u->kind == RQ_GET ? j->src : j->dst);
  }
  return n;
}

/* May the unit start as far as its stores go? 1: yes, 2: yes, as the
 * probe of a store down, 0: not now (*wake: when to look again), -1: a
 * store it needs is down for longer than store_down_max_s. Aborts of a
 * failed job always go (their failure is logged and left). */
int adapt_gate(xfer_engine_t *e, const unit_t *u, int64_t now, int64_t *wake) {
  long st[2];
  int n = unit_stores(e, u, st), k, r = 1;
  int64_t max_us = (int64_t)e->conf.store_down_max_s * 1000000;
  for (k = 0; k < n; k++) {
    storedown_t *d;
    int m;
    if (st[k] < 0) continue;
    d = &e->down[st[k]];
    if (!d->down) continue;
    if (sd_expired(d, now, max_us)) {
      if (!d->expired_said) {
        LOG_WARN(FAC, "event=store-down-expired store=%s down_s=%ld", FLOG_V(sname(e, st[k])),
                 e->conf.store_down_max_s);
        d->expired_said = 1;
      }
      if (!u->pair && (u->kind == RQ_MPU_ABORT || u->kind == RQ_MPU_ABORT_STALE)) continue;
      return -1;
    }
    m = sd_may_start(d, now, wake);
    if (m == 0) return 0;
    if (m == 2) r = 2;
  }
  return r;
}

/* A unit that adapt_gate let through as a probe has started. */
void adapt_started(xfer_engine_t *e, const unit_t *u, int64_t now) {
  long st[2];
  int n = unit_stores(e, u, st), k;
  for (k = 0; k < n; k++)
    if (st[k] >= 0 && e->down[st[k]].down) {
      sd_probe_started(&e->down[st[k]], now);
      LOG_INFO(FAC, "event=store-probe store=%s", FLOG_V(sname(e, st[k])));
    }
}

/* Once per loop turn: the adaptive limit's window. */
void adapt_tick(xfer_engine_t *e) {
  if (!e->adaptive) return;
  inflight_tick(&e->inflight, ferry_now_us());
  /* A change not logged yet (the rate limit) is logged now. */
  inflight_log(e, e->inflight.cur > e->inflight_logged ? "rising" : "falling", 0);
}

/* A failed request of j does not use up an attempt while a store of the
 * job is down (and not for longer than store_down_max_s): the outage is
 * the store's, not the object's. */
int adapt_holds(const xfer_engine_t *e, const job_t *j) {
  int64_t now = ferry_now_us(), max_us = (int64_t)e->conf.store_down_max_s * 1000000;
  long a = store_idx(e, j->src), b = store_idx(e, j->dst);
  if (a >= 0 && e->down[a].down && !sd_expired(&e->down[a], now, max_us)) return 1;
  if (b >= 0 && e->down[b].down && !sd_expired(&e->down[b], now, max_us)) return 1;
  return 0;
}
