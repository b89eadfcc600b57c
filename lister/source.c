/* source.c: the stream of objects a task would copy (source.h). */
#include "lister/source.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "lister/lister.h"

struct lsrc {
  const ferry_conf_t *conf;
  const task_conf_t *t;
  lsrc_mode_t mode;
  lscan_t *src, *dst;
  ljoin_t join;
  msg_obj_t cur;           /* LIST / INCREMENTAL: borrows from the cursor's page */
  lsrc_stats_t st;
};

lsrc_t *lsrc_new(const ferry_conf_t *conf, const task_conf_t *t, lsrc_mode_t mode,
                 char *errbuf) {
  lsrc_t *s = fx_calloc(1, sizeof(*s));
  s->conf = conf;
  s->t = t;
  s->mode = mode;
  if (mode == LSRC_URLS) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG, "URL lists are not supported yet");
    fx_free(s);
    return NULL;
  }
  if (!(s->src = lscan_new(conf, &t->src, NULL, errbuf))) goto fail;
  if (mode == LSRC_INCREMENTAL) {
    if (!(s->dst = lscan_new(conf, &t->dst, NULL, errbuf))) goto fail;
    ljoin_init(&s->join, s->src, s->dst);
  }
  return s;
fail:
  lsrc_destroy(s);
  return NULL;
}

void lsrc_destroy(lsrc_t *s) {
  if (!s) return;
  lscan_destroy(s->src);
  lscan_destroy(s->dst);
  fx_free(s);
}

void lsrc_set_wait(lsrc_t *s, lscan_wait_fn fn, void *ctx) {
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

ferry_err_t lsrc_next(lsrc_t *s, const msg_obj_t **out, sd_kind_t *why, char *errbuf) {
  ferry_err_t e;
  *out = NULL;
  if (why) *why = SD_MISSING;
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
