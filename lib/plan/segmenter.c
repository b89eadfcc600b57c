/* segmenter.c: streaming cut of a listing into segments. */
#include "plan/segmenter.h"

#include <string.h>

struct seg {
  char *task;
  char *id_prefix;
  int run;
  msg_loc_t src, dst;
  msg_policy_t policy;
  size_t max_objects;
  uint64_t max_bytes;  /* 0 = no limit */
  uint64_t seq;        /* segments handed out so far */
  msg_obj_t *objs;     /* the segment being filled */
  size_t n, cap;
  uint64_t bytes;
};

static void loc_copy(msg_loc_t *dst, const msg_loc_t *src) {
  dst->store = fx_strdup(src->store);
  dst->bucket = fx_strdup(src->bucket);
  dst->prefix = fx_strdup(src->prefix ? src->prefix : "");
}

static ferry_err_t loc_check(const msg_loc_t *l, const char *which, char *errbuf) {
  if (!l) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: no %s location", which);
  if (!l->store || !*l->store)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: %s.store is missing", which);
  if (!l->bucket || !*l->bucket)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: %s.bucket is missing", which);
  return FERRY_OK;
}

seg_t *seg_new(const char *task, int run, const msg_loc_t *src, const msg_loc_t *dst,
               msg_policy_t policy, size_t max_objects, uint64_t max_bytes,
               const char *id_prefix, char *errbuf) {
  seg_t *seg;
  if (!task || !*task) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: task name is missing");
    return NULL;
  }
  if (run < 1) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: run %d is not >= 1", run);
    return NULL;
  }
  if (loc_check(src, "src", errbuf) != FERRY_OK) return NULL;
  if (loc_check(dst, "dst", errbuf) != FERRY_OK) return NULL;
  seg = fx_calloc(1, sizeof(*seg));
  seg->task = fx_strdup(task);
  seg->id_prefix = fx_strdup(id_prefix ? id_prefix : "");
  seg->run = run;
  loc_copy(&seg->src, src);
  loc_copy(&seg->dst, dst);
  seg->policy = policy;
  seg->max_objects = max_objects ? max_objects : SEG_DEFAULT_MAX_OBJECTS;
  seg->max_bytes = max_bytes;
  return seg;
}

static void pending_release(seg_t *seg) {
  size_t i;
  for (i = 0; i < seg->n; i++) msg_obj_release(&seg->objs[i]);
  fx_free(seg->objs);
  seg->objs = NULL;
  seg->n = seg->cap = 0;
  seg->bytes = 0;
}

void seg_destroy(seg_t *seg) {
  if (!seg) return;
  pending_release(seg);
  fx_free(seg->task);
  fx_free(seg->id_prefix);
  msg_loc_release(&seg->src);
  msg_loc_release(&seg->dst);
  fx_free(seg);
}

void seg_set_policy(seg_t *seg, msg_policy_t policy) { seg->policy = policy; }

void seg_resume(seg_t *seg, uint64_t published) {
  seg->seq = published;
}

char *seg_next_id(seg_t *seg) {
  seg->seq++;
  return fx_asprintf("%s%d-%06llu", seg->id_prefix, seg->run, (unsigned long long)seg->seq);
}

/* Hands the pending objects out as a new segment and starts an empty one. */
static msg_segment_t *finish(seg_t *seg) {
  msg_segment_t *s = fx_calloc(1, sizeof(*s));
  seg->seq++;
  s->task = fx_strdup(seg->task);
  s->id = fx_asprintf("%s%d-%06llu", seg->id_prefix, seg->run,
                      (unsigned long long)seg->seq);
  s->run = seg->run;
  loc_copy(&s->src, &seg->src);
  loc_copy(&s->dst, &seg->dst);
  s->policy = seg->policy;
  /* Give back the growth slack: segments may wait in a producer queue. */
  s->objs = fx_realloc(seg->objs, seg->n * sizeof(*seg->objs));
  s->n_objs = seg->n;
  seg->objs = NULL;
  seg->n = seg->cap = 0;
  seg->bytes = 0;
  return s;
}

/* 1 when o cannot join the pending objects. A pending single object larger
 * than max_bytes already exceeds the limit, so anything after it closes the
 * segment: it goes alone. */
static int must_cut(const seg_t *seg, uint64_t size) {
  if (seg->n == 0) return 0;
  if (seg->n >= seg->max_objects) return 1;
  if (seg->max_bytes == 0) return 0;
  return seg->bytes > seg->max_bytes || size > seg->max_bytes - seg->bytes;
}

/* Appends o (its strings are copied), after cutting if needed. */
static ferry_err_t add(seg_t *seg, const char *key, uint64_t size, const char *etag,
                       int64_t mtime, int has_crc64, uint64_t crc64, const char *dst_key,
                       msg_segment_t **out_ready, char *errbuf) {
  msg_obj_t *m;
  if (!out_ready) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: no output");
  *out_ready = NULL;
  if (!key || !*key)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: object without a key");
  if (must_cut(seg, size)) *out_ready = finish(seg);
  if (seg->n == seg->cap) {
    size_t cap = seg->cap ? seg->cap * 2 : 16;
    if (cap > seg->max_objects) cap = seg->max_objects;
    seg->objs = fx_realloc(seg->objs, cap * sizeof(*seg->objs));
    seg->cap = cap;
  }
  m = &seg->objs[seg->n++];
  m->key = fx_strdup(key);
  m->size = size;
  m->etag = fx_strdup(etag);
  m->mtime = mtime;
  m->has_crc64 = has_crc64 ? 1 : 0;
  m->crc64 = has_crc64 ? crc64 : 0;
  m->dst_key = fx_strdup(dst_key);
  seg->bytes = size > UINT64_MAX - seg->bytes ? UINT64_MAX : seg->bytes + size;
  return FERRY_OK;
}

ferry_err_t seg_add(seg_t *seg, const store_object_t *o, msg_segment_t **out_ready,
                    char *errbuf) {
  if (!o) {
    if (out_ready) *out_ready = NULL;
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: no object");
  }
  return add(seg, o->key, o->size, o->etag, (int64_t)o->mtime, o->has_crc64, o->crc64,
             NULL, out_ready, errbuf);
}

ferry_err_t seg_add_obj(seg_t *seg, const msg_obj_t *o, msg_segment_t **out_ready,
                        char *errbuf) {
  if (!o) {
    if (out_ready) *out_ready = NULL;
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "segmenter: no object");
  }
  return add(seg, o->key, o->size, o->etag, o->mtime, o->has_crc64, o->crc64, o->dst_key,
             out_ready, errbuf);
}

void seg_flush(seg_t *seg, msg_segment_t **out) {
  *out = seg->n ? finish(seg) : NULL;
}

uint64_t seg_count(const seg_t *seg) {
  return seg->seq;
}

size_t seg_pending_objects(const seg_t *seg) {
  return seg->n;
}

uint64_t seg_pending_bytes(const seg_t *seg) {
  return seg->bytes;
}

void seg_segment_free(msg_segment_t *s) {
  if (!s) return;
  msg_segment_release(s);
  fx_free(s);
}
