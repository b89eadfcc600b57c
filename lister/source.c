/* source.c: the stream of objects a task would copy (source.h). */
#include "lister/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/urllist.h"
#include "lister/lister.h"
#include "xfer/backoff.h"

struct lsrc {
  const ferry_conf_t *conf;
  const task_conf_t *t;
  lsrc_mode_t mode;
  lscan_t *src, *dst;
  ljoin_t join;
  msg_obj_t cur;           /* LIST / INCREMENTAL: borrows from the cursor's page;
                              URLS: owns its strings */
  lsrc_stats_t st;
  /* URLS */
  FILE *f;
  char *line;
  size_t cap;
  long lineno;
  store_t *http;
  backoff_t bo;
  uint64_t rng;
  int max_attempts;
  lscan_wait_fn wait;
  void *wait_ctx;
};

lsrc_t *lsrc_new(const ferry_conf_t *conf, const task_conf_t *t, lsrc_mode_t mode,
                 char *errbuf) {
  lsrc_t *s = fx_calloc(1, sizeof(*s));
  s->conf = conf;
  s->t = t;
  s->mode = mode;
  if (mode == LSRC_URLS) {
    store_conf_t uc;
    if (t->src.kind != CONF_LOC_URLS) {
      ferry_seterr(errbuf, FERRY_ERR_CONFIG, "the source is not a URL list");
      goto fail;
    }
    if (!(s->f = fopen(t->src.path, "r"))) {
      ferry_seterr(errbuf, FERRY_ERR_IO, "URL list %s: %s", t->src.path, strerror(errno));
      goto fail;
    }
    store_conf_urls(&uc);
    s->http = store_new(&uc, errbuf);
    store_conf_release(&uc);
    if (!s->http) goto fail;
    backoff_init(&s->bo);
    if (conf->worker.backoff_base_ms > 0) s->bo.base_ms = conf->worker.backoff_base_ms;
    if (conf->worker.backoff_max_ms > 0) s->bo.cap_ms = conf->worker.backoff_max_ms;
    backoff_rng_seed(&s->rng, (uint64_t)ferry_now_us());
    s->max_attempts = conf->worker.max_attempts > 0 ? (int)conf->worker.max_attempts : 5;
    return s;
  }
  if (!(s->src = lscan_new(conf, &t->src, NULL, errbuf))) goto fail;
  /* Only the merge-join needs the listing in byte order. */
  lscan_set_ordered(s->src, mode == LSRC_INCREMENTAL);
  if (mode == LSRC_INCREMENTAL) {
    if (!(s->dst = lscan_new(conf, &t->dst, NULL, errbuf))) goto fail;
    ljoin_init(&s->join, s->src, s->dst);
  }
  return s;
fail:
  lsrc_destroy(s);
  return NULL;
}

static void cur_release(lsrc_t *s) {
  if (s->mode == LSRC_URLS) msg_obj_release(&s->cur);
  memset(&s->cur, 0, sizeof(s->cur));
}

void lsrc_destroy(lsrc_t *s) {
  if (!s) return;
  cur_release(s);
  if (s->f) fclose(s->f);
  free(s->line);
  store_destroy(s->http);
  lscan_destroy(s->src);
  lscan_destroy(s->dst);
  fx_free(s);
}

void lsrc_set_wait(lsrc_t *s, lscan_wait_fn fn, void *ctx) {
  s->wait = fn;
  s->wait_ctx = ctx;
  if (s->src) lscan_set_wait(s->src, fn, ctx);
  if (s->dst) lscan_set_wait(s->dst, fn, ctx);
}

unsigned long lsrc_pages(const lsrc_t *s) { return s->src ? lscan_pages(s->src) : 0; }
void lsrc_stats(const lsrc_t *s, lsrc_stats_t *out) { *out = s->st; }

static const msg_obj_t *as_obj(lsrc_t *s, const store_object_t *o) {
  memset(&s->cur, 0, sizeof(s->cur));
  s->cur.key = o->key;
  s->cur.size = o->size;
  s->cur.etag = o->etag;
  s->cur.mtime = (int64_t)o->mtime;
  s->cur.has_crc64 = o->has_crc64;
  s->cur.crc64 = o->crc64;
  return &s->cur;
}

/* HEAD of one URL with retries: 1 found (*h filled), 0 failed (reported). */
static int url_head(lsrc_t *s, const char *url, store_head_t *h, char *errbuf) {
  store_error_t err;
  int attempt;
  for (attempt = 1;; attempt++) {
    char msg[512];
    long ms;
    store_error_clear(&err);
    /* The bucket is ignored by the HTTP store; the key is the URL. */
    if (store_head_object(s->http, "-", url, h, &err) == FERRY_OK) return 1;
    store_head_release(h);
    store_error_format(&err, msg, sizeof(msg));
    if (!backoff_should_retry(&err, attempt, s->max_attempts) || lister_stop) {
      char *shown = urllist_redact(url);
      fprintf(stderr, "ferry-lister: %s:%ld: HEAD %s failed (%s); published with size 0, "
              "so the run records it as failed\n", s->t->src.path, s->lineno, shown, msg);
      fx_free(shown);
      return 0;
    }
    ms = backoff_delay_ms(&s->bo, attempt - 1, err.retry_after_s, &s->rng);
    if (s->wait) {
      if (s->wait(s->wait_ctx, (int)ms, errbuf)) return 0;
    } else {
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
}

/* The next usable URL-list entry, read with HEAD. */
static ferry_err_t next_url(lsrc_t *s, const msg_obj_t **out, char *errbuf) {
  const char *dprefix = s->t->dst.prefix ? s->t->dst.prefix : "";
  for (;;) {
    ssize_t n;
    urllist_entry_t ent;
    char eb[FERRY_ERRLEN];
    store_head_t h;
    const char *p;
    size_t len;
    int is_entry;
    if (lister_stop) return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "interrupted by a signal");
    errno = 0;
    n = getline(&s->line, &s->cap, s->f);
    if (n < 0) {
      if (ferror(s->f))
        return ferry_seterr(errbuf, FERRY_ERR_IO, "URL list %s: %s", s->t->src.path,
                            strerror(errno ? errno : EIO));
      return FERRY_OK;
    }
    s->lineno++;
    p = s->line;
    len = (size_t)n;
    if (len && p[len - 1] == '\n') len--;
    /* A byte order mark from a Windows editor is not part of the first URL. */
    if (s->lineno == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3, len -= 3;
    if (urllist_parse_line(p, len, s->t->src.path, s->lineno, &ent, &is_entry, eb)) {
      fprintf(stderr, "ferry-lister: %s; entry not published\n", eb);
      s->st.bad++;
      continue;
    }
    if (!is_entry) continue;
    s->st.examined++;
    memset(&h, 0, sizeof(h));
    if (url_head(s, ent.url, &h, errbuf)) {
      s->cur.size = h.size;
      /* A weak ETag cannot be matched (If-Match compares strongly). */
      s->cur.etag = h.etag && strncmp(h.etag, "W/", 2) != 0 ? fx_strdup(h.etag) : NULL;
      s->cur.mtime = (int64_t)h.mtime;
      store_head_release(&h);
    } else {
      s->st.head_failed++;
      s->cur.mtime = -1;
    }
    if (!conf_task_filter(s->t, ent.key, s->cur.size, s->cur.mtime)) {
      s->st.filtered++;
      urllist_entry_release(&ent);
      cur_release(s);
      continue;
    }
    s->cur.key = ent.url;
    ent.url = NULL;
    s->cur.dst_key = fx_asprintf("%s%s", dprefix, ent.key);
    urllist_entry_release(&ent);
    *out = &s->cur;
    return FERRY_OK;
  }
}

ferry_err_t lsrc_next(lsrc_t *s, const msg_obj_t **out, sd_kind_t *why, char *errbuf) {
  ferry_err_t e;
  *out = NULL;
  if (why) *why = SD_MISSING;
  cur_release(s);
  if (s->mode == LSRC_URLS) return next_url(s, out, errbuf);
  for (;;) {
    const store_object_t *so = NULL, *dobj = NULL;
    const char *rel;
    sd_kind_t k;
    if (s->mode == LSRC_LIST) {
      if ((e = lscan_next(s->src, &so, &rel, errbuf)) || !so) return e;
    } else {
      if ((e = ljoin_next(&s->join, &so, &dobj, &rel, errbuf))) return e;
      if (!so && !dobj) return FERRY_OK;
      if (!so) continue;  /* only at the destination: not ours to copy */
    }
    s->st.examined++;
    if (!conf_task_filter(s->t, rel, so->size, (int64_t)so->mtime)) {
      s->st.filtered++;
      continue;
    }
    k = dobj ? sd_compare(so, dobj) : SD_MISSING;
    if (k == SD_SAME) {
      s->st.in_step++;
      continue;
    }
    s->st.by_kind[k]++;
    if (why) *why = k;
    *out = as_obj(s, so);
    return FERRY_OK;
  }
}
