/* fanout.c: planning the fan-out of a huge object (docs/fanout.md). */
#include "plan/fanplan.h"

#include <string.h>

#include "policy/policy.h"

int fanout_wanted(uint64_t threshold, uint64_t size) {
  return threshold > 0 && size >= threshold;
}

ferry_err_t fanout_plan(store_type_t dst, uint64_t size, uint64_t preferred_part,
                        uint64_t range_bytes, fanout_plan_t *out, char *errbuf) {
  uint64_t n;
  memset(out, 0, sizeof(*out));
  if (policy_check_size(dst, size, errbuf) != FERRY_OK) return FERRY_ERR_INVALID;
  out->size = size;
  out->part_size = policy_part_size(dst, size, preferred_part);
  if (out->part_size == 0)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "object of %llu bytes cannot be cut in parts",
                        (unsigned long long)size);
  out->parts_total = policy_part_count(size, out->part_size);
  n = range_bytes ? size / range_bytes + (size % range_bytes != 0) : 1;
  if (n < 1) n = 1;
  if (n > out->parts_total) n = out->parts_total;
  out->n_ranges = (uint32_t)n;
  return FERRY_OK;
}

void fanout_range(const fanout_plan_t *p, uint32_t i, int *first, int *last) {
  uint64_t P = p->parts_total, n = p->n_ranges ? p->n_ranges : 1;
  *first = (int)((uint64_t)i * P / n) + 1;
  *last = (int)((uint64_t)(i + 1) * P / n);
}

uint64_t fanout_range_bytes(const fanout_plan_t *p, int first, int last) {
  uint64_t a = (uint64_t)(first - 1) * p->part_size;
  uint64_t b = (uint64_t)last * p->part_size;
  if (a > p->size) a = p->size;
  if (b > p->size) b = p->size;
  return b - a;
}

static void loc_copy(msg_loc_t *d, const msg_loc_t *s) {
  d->store = fx_strdup(s->store);
  d->bucket = fx_strdup(s->bucket);
  d->prefix = fx_strdup(s->prefix ? s->prefix : "");
}

msg_segment_t *fanout_segment(const char *id, const char *task, int run,
                              const msg_loc_t *src, const msg_loc_t *dst,
                              msg_policy_t policy, const msg_obj_t *obj,
                              const char *upload_id, const fanout_plan_t *p,
                              uint32_t i) {
  msg_segment_t *s = fx_calloc(1, sizeof(*s));
  msg_obj_t *o;
  s->id = fx_strdup(id);
  s->task = fx_strdup(task);
  s->run = run;
  loc_copy(&s->src, src);
  loc_copy(&s->dst, dst);
  s->policy = policy;
  s->objs = fx_calloc(1, sizeof(*s->objs));
  s->n_objs = 1;
  o = &s->objs[0];
  o->key = fx_strdup(obj->key);
  o->size = obj->size;
  o->etag = obj->etag ? fx_strdup(obj->etag) : NULL;
  o->mtime = obj->mtime;
  o->has_crc64 = obj->has_crc64;
  o->crc64 = obj->crc64;
  o->dst_key = obj->dst_key ? fx_strdup(obj->dst_key) : NULL;
  s->range.present = 1;
  s->range.upload_id = fx_strdup(upload_id);
  fanout_range(p, i, &s->range.part_first, &s->range.part_last);
  s->range.part_size = p->part_size;
  s->range.parts_total = (int)p->parts_total;
  return s;
}
