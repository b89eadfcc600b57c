/* scan.c: listing cursors with retries, and the merge-join of two of them. */
#include "lister/scan.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "lister/lister.h"
#include "store/listcur.h"
#include "xfer/backoff.h"
#include "plan/syncdiff.h"

#define FAC "lister"

struct lscan {
  store_t *store;
  char *store_name, *bucket, *prefix;
  size_t plen;
  int page_size;
  store_listcur_t cur;     /* token / start-after / marker, and the advance check */
  store_list_page_t page;
  size_t idx;
  int have_page, done;
  char *last_key;          /* last key of the previous page (order check) */
  int unordered;           /* lscan_set_ordered(c, 0): no order check */
  unsigned long pages;
  backoff_t bo;
  uint64_t rng;
  int max_attempts;
  lscan_wait_fn wait;
  void *wait_ctx;
};

lscan_t *lscan_new(const ferry_conf_t *conf, const conf_loc_t *loc, const char *start_after,
                   char *errbuf) {
  const store_conf_t *sc;
  lscan_t *c;
  if (!loc || loc->kind != CONF_LOC_STORE) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG, "not a store location");
    return NULL;
  }
  sc = conf_store(conf, loc->store);
  if (!sc) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG, "store %s is not in the config", loc->store);
    return NULL;
  }
  c = fx_calloc(1, sizeof(*c));
  c->store = store_new(sc, errbuf);
  if (!c->store) {
    fx_free(c);
    return NULL;
  }
  c->store_name = fx_strdup(loc->store);
  c->bucket = fx_strdup(loc->bucket);
  c->prefix = fx_strdup(loc->prefix ? loc->prefix : "");
  c->plen = strlen(c->prefix);
  c->page_size = conf->lister.page_size > 0 && conf->lister.page_size <= 1000
                     ? (int)conf->lister.page_size : 1000;
  {
    char *what = fx_asprintf("%s:%s%s%s", loc->store, loc->bucket, c->plen ? "/" : "", c->prefix);
    store_listcur_init(&c->cur, (store_list_api_t)sc->list_api, start_after, what);
    fx_free(what);
  }
  backoff_init(&c->bo);
  if (conf->worker.backoff_base_ms > 0) c->bo.base_ms = conf->worker.backoff_base_ms;
  if (conf->worker.backoff_max_ms > 0) c->bo.cap_ms = conf->worker.backoff_max_ms;
  backoff_rng_seed(&c->rng, (uint64_t)ferry_now_us() ^ ((uint64_t)getpid() << 32));
  c->max_attempts = conf->worker.max_attempts > 0 ? (int)conf->worker.max_attempts : 5;
  return c;
}

void lscan_destroy(lscan_t *c) {
  if (!c) return;
  if (c->have_page) store_list_page_release(&c->page);
  store_destroy(c->store);
  fx_free(c->store_name);
  fx_free(c->bucket);
  fx_free(c->prefix);
  store_listcur_release(&c->cur);
  fx_free(c->last_key);
  fx_free(c);
}

void lscan_set_ordered(lscan_t *c, int ordered) { c->unordered = !ordered; }

void lscan_set_wait(lscan_t *c, lscan_wait_fn fn, void *ctx) {
  c->wait = fn;
  c->wait_ctx = ctx;
}

unsigned long lscan_pages(const lscan_t *c) { return c->pages; }
store_t *lscan_store(lscan_t *c) { return c->store; }

static ferry_err_t wait_ms(lscan_t *c, long ms, char *errbuf) {
  struct timespec ts;
  if (c->wait) return c->wait(c->wait_ctx, (int)ms, errbuf);
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
  return FERRY_OK;
}

static ferry_err_t where(lscan_t *c, ferry_err_t e, const char *what, char *errbuf) {
  return ferry_seterr(errbuf, e, "listing %s:%s%s%s failed: %s", c->store_name, c->bucket,
                      c->plen ? "/" : "", c->prefix, what);
}

/* Fetches the next page into c->page (with retries). */
static ferry_err_t fetch(lscan_t *c, char *errbuf) {
  store_error_t err;
  ferry_err_t e;
  int attempt;
  if (c->have_page) {
    store_list_page_release(&c->page);
    c->have_page = 0;
  }
  for (attempt = 1;; attempt++) {
    char msg[512];
    long ms;
    if (lister_stop) return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "interrupted by a signal");
    store_error_clear(&err);
    memset(&c->page, 0, sizeof(c->page));
    e = store_list_ex(c->store, c->cur.api, c->bucket, c->plen ? c->prefix : NULL, NULL,
                      store_listcur_after(&c->cur), store_listcur_token(&c->cur), c->page_size,
                      &c->page, &err);
    if (e == FERRY_OK) {
      int use = store_listcur_take(&c->cur, &c->page, errbuf);
      if (use > 0) break;
      store_list_page_release(&c->page);
      if (use < 0) return FERRY_ERR_STORE;
      attempt = 0; /* fell back to V1: the same page again, with a marker */
      continue;
    }
    store_list_page_release(&c->page);
    store_error_format(&err, msg, sizeof(msg));
    if (!backoff_should_retry(&err, attempt, c->max_attempts) || lister_stop)
      return where(c, e, msg, errbuf);
    ms = backoff_delay_ms(&c->bo, attempt - 1, err.retry_after_s, &c->rng);
    LOG_WARN(FAC, "op=list store=%s bucket=%s attempt=%d retry_in_ms=%ld err=%s",
             FLOG_V(c->store_name), FLOG_V(c->bucket), attempt, ms, FLOG_Q(msg));
    if ((e = wait_ms(c, ms, errbuf))) return e;
  }
  c->have_page = 1;
  c->idx = 0;
  c->pages++;
  c->done = c->cur.done;
  return FERRY_OK;
}

ferry_err_t lscan_next(lscan_t *c, const store_object_t **o, const char **rel,
                       char *errbuf) {
  ferry_err_t e;
  *o = NULL;
  *rel = NULL;
  for (;;) {
    if (c->have_page && c->idx < c->page.n_objects) {
      const store_object_t *x = &c->page.objects[c->idx];
      const char *prev = c->idx ? c->page.objects[c->idx - 1].key : c->last_key;
      c->idx++;
      if (!x->key || strncmp(x->key, c->prefix, c->plen) != 0) continue;
      if (prev && !c->unordered && sd_key_cmp(prev, x->key) >= 0)
        return where(c, FERRY_ERR_STORE, "keys are not in increasing byte order; the "
                     "listings cannot be compared", errbuf);
      *o = x;
      *rel = x->key + c->plen;
      return FERRY_OK;
    }
    if (c->have_page && c->page.n_objects) {
      fx_free(c->last_key);
      c->last_key = fx_strdup(c->page.objects[c->page.n_objects - 1].key);
    }
    if (c->done) {
      if (c->have_page) {
        store_list_page_release(&c->page);
        c->have_page = 0;
      }
      return FERRY_OK;
    }
    if ((e = fetch(c, errbuf))) return e;
  }
}

/* ---------- merge-join ---------- */

void ljoin_init(ljoin_t *j, lscan_t *src, lscan_t *dst) {
  memset(j, 0, sizeof(*j));
  j->src = src;
  j->dst = dst;
}

ferry_err_t ljoin_next(ljoin_t *j, const store_object_t **s, const store_object_t **d,
                       const char **rel, char *errbuf) {
  ferry_err_t e;
  int c;
  *s = *d = NULL;
  *rel = NULL;
  /* Advance the side(s) handed out by the previous call, only now: what
   * was handed out stays valid until this call. */
  if (!j->started || (j->handed & LJOIN_SRC))
    if ((e = lscan_next(j->src, &j->so, &j->srel, errbuf))) return e;
  if (!j->started || (j->handed & LJOIN_DST))
    if ((e = lscan_next(j->dst, &j->dobj, &j->drel, errbuf))) return e;
  j->started = 1;
  j->handed = 0;
  if (!j->so && !j->dobj) return FERRY_OK;
  c = !j->so ? 1 : !j->dobj ? -1 : sd_key_cmp(j->srel, j->drel);
  if (c <= 0) {
    *s = j->so;
    *rel = j->srel;
    j->handed |= LJOIN_SRC;
  }
  if (c >= 0) {
    *d = j->dobj;
    *rel = j->drel;
    j->handed |= LJOIN_DST;
  }
  return FERRY_OK;
}
