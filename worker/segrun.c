/* segrun.c: per-segment bookkeeping of the worker. */
#include "worker/segrun.h"

#include <string.h>

segrun_t *segrun_new(msg_segment_t *seg, const char *worker_id) {
  segrun_t *r = fx_calloc(1, sizeof(*r));
  r->seg = *seg;
  memset(seg, 0, sizeof(*seg));
  r->remaining = r->seg.n_objs;
  r->result.task = fx_strdup(r->seg.task);
  r->result.segment = fx_strdup(r->seg.id);
  r->result.run = r->seg.run;
  r->result.worker = fx_strdup(worker_id);
  r->result.n_objects = r->seg.n_objs;
  r->result.started_ms = ferry_wall_ms();
  if (r->seg.range.present && r->seg.n_objs == 1) {
    /* A part range (docs/fanout.md): the result names the object. */
    r->result.range.present = 1;
    r->result.range.key = fx_strdup(r->seg.objs[0].key);
    r->result.range.size = r->seg.objs[0].size;
    r->result.range.part_first = r->seg.range.part_first;
    r->result.range.part_last = r->seg.range.part_last;
    r->result.range.parts_total = r->seg.range.parts_total;
  }
  return r;
}

void segrun_destroy(segrun_t *r) {
  if (!r) return;
  msg_segment_release(&r->seg);
  msg_result_release(&r->result);
  while (r->n_audit) msg_audit_rec_release(&r->audit[--r->n_audit]);
  fx_free(r->audit);
  fx_free(r->refused);
  fx_free(r->topic);
  fx_free(r);
}

static char *dup_or_null(const char *s) { return s ? fx_strdup(s) : NULL; }

int segrun_add(segrun_t *r, const msg_outcome_t *o) {
  msg_result_t *res = &r->result;
  /* A part range whose parts are uploaded while the object is not complete
   * yet: bytes, but no object copied (docs/fanout.md). */
  int parts_only = r->seg.range.present && o->status == ST_COPIED && o->reason &&
                   strcmp(o->reason, "parts") == 0;
  switch (o->status) {
  case ST_COPIED:
    if (!parts_only) res->n_copied++;
    res->bytes += o->bytes;
    break;
  case ST_SKIPPED: res->n_skipped++; break;
  default: res->n_failed++; break;
  }
  /* Results list every object not copied; a retry run (run > 1) lists the
   * copied ones too, so the reporter can move them out of the failed list. */
  if ((o->status != ST_COPIED || r->seg.run > 1) && !parts_only) {
    msg_outcome_t *d;
    res->outcomes = fx_realloc(res->outcomes, (res->n_outcomes + 1) * sizeof(*res->outcomes));
    d = &res->outcomes[res->n_outcomes++];
    *d = *o;
    d->key = dup_or_null(o->key);
    d->reason = dup_or_null(o->reason);
    d->code = dup_or_null(o->code);
    d->request_id = dup_or_null(o->request_id);
    d->message = dup_or_null(o->message);
    d->etag = dup_or_null(o->etag);
  }
  if (r->remaining) r->remaining--;
  if (r->remaining == 0) res->finished_ms = ferry_wall_ms();
  return r->remaining == 0;
}

void segrun_audit(segrun_t *r, const msg_outcome_t *o, const char *dst_key, int has_crc64,
                  uint64_t crc64, const char *dst_etag, int existed, int64_t at_ms) {
  msg_audit_rec_t *a;
  r->audit = fx_realloc(r->audit, (r->n_audit + 1) * sizeof(*r->audit));
  a = &r->audit[r->n_audit++];
  memset(a, 0, sizeof(*a));
  a->key = fx_strdup(o->key);
  a->dst_key = fx_strdup(dst_key && *dst_key ? dst_key : o->key);
  a->size = o->size;
  a->has_crc64 = has_crc64;
  a->crc64 = crc64;
  a->src_etag = dup_or_null(o->etag);
  a->dst_etag = dup_or_null(dst_etag);
  a->overwrote = existed < 0 ? OVERWROTE_UNKNOWN : existed ? OVERWROTE_YES : OVERWROTE_NO;
  a->at_ms = at_ms;
}

void segrun_audit_msg(const segrun_t *r, msg_audit_t *out) {
  memset(out, 0, sizeof(*out));
  out->task = r->seg.task;
  out->segment = r->seg.id;
  out->run = r->seg.run;
  out->worker = r->result.worker;
  out->dst = r->seg.dst;
  out->recs = r->audit;
  out->n_recs = r->n_audit;
}
