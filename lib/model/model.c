/*
 * model.c: the domain model's enum names and release functions (model.h).
 */
#include "model/model.h"

#include <string.h>

/* ---------- enums ---------- */

const char *const msg_policy_names[MSG_POLICY__COUNT] = {"overwrite", "skip", "skip-if-same"};
const char *const msg_status_names[MSG_STATUS__COUNT] = {"copied", "skipped", "failed",
                                           "changed", "vanished"};

const char *msg_policy_str(msg_policy_t p) {
  if ((unsigned)p < FERRY_ARRAY_LEN(msg_policy_names)) return msg_policy_names[p];
  return "?";
}

int msg_policy_parse(const char *s, msg_policy_t *out) {
  size_t i;
  for (i = 0; s && i < FERRY_ARRAY_LEN(msg_policy_names); i++) {
    if (strcmp(s, msg_policy_names[i]) == 0) {
      *out = (msg_policy_t)i;
      return 0;
    }
  }
  return -1;
}

const char *msg_status_str(msg_status_t s) {
  if ((unsigned)s < FERRY_ARRAY_LEN(msg_status_names)) return msg_status_names[s];
  return "?";
}

int msg_status_parse(const char *s, msg_status_t *out) {
  size_t i;
  for (i = 0; s && i < FERRY_ARRAY_LEN(msg_status_names); i++) {
    if (strcmp(s, msg_status_names[i]) == 0) {
      *out = (msg_status_t)i;
      return 0;
    }
  }
  return -1;
}

/* ---------- release ---------- */

void msg_loc_release(msg_loc_t *l) {
  if (!l) return;
  fx_free(l->store);
  fx_free(l->bucket);
  fx_free(l->prefix);
  memset(l, 0, sizeof(*l));
}

void msg_obj_release(msg_obj_t *o) {
  if (!o) return;
  fx_free(o->key);
  fx_free(o->etag);
  fx_free(o->dst_key);
  memset(o, 0, sizeof(*o));
}

void msg_outcome_release(msg_outcome_t *o) {
  if (!o) return;
  fx_free(o->key);
  fx_free(o->reason);
  fx_free(o->code);
  fx_free(o->request_id);
  fx_free(o->message);
  fx_free(o->etag);
  memset(o, 0, sizeof(*o));
}

void msg_segment_release(msg_segment_t *s) {
  size_t i;
  if (!s) return;
  fx_free(s->task);
  fx_free(s->id);
  msg_loc_release(&s->src);
  msg_loc_release(&s->dst);
  for (i = 0; s->objs && i < s->n_objs; i++) msg_obj_release(&s->objs[i]);
  fx_free(s->objs);
  fx_free(s->range.upload_id);
  kvlist_release(&s->class_map);
  for (i = 0; s->schedule && i < s->n_schedule; i++) fx_free(s->schedule[i]);
  fx_free(s->schedule);
  memset(s, 0, sizeof(*s));
}

void msg_result_release(msg_result_t *r) {
  size_t i;
  if (!r) return;
  fx_free(r->task);
  fx_free(r->segment);
  fx_free(r->worker);
  for (i = 0; r->outcomes && i < r->n_outcomes; i++)
    msg_outcome_release(&r->outcomes[i]);
  fx_free(r->outcomes);
  fx_free(r->range.key);
  memset(r, 0, sizeof(*r));
}

void msg_failed_release(msg_failed_t *f) {
  if (!f) return;
  fx_free(f->task);
  fx_free(f->segment);
  msg_loc_release(&f->src);
  msg_loc_release(&f->dst);
  msg_obj_release(&f->obj);
  msg_outcome_release(&f->outcome);
  memset(f, 0, sizeof(*f));
}

void msg_shards_release(msg_shard_t *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    fx_free(v[i].lo);
    fx_free(v[i].hi);
    fx_free(v[i].checkpoint);
  }
  fx_free(v);
}

void msg_heartbeat_release(msg_heartbeat_t *h) {
  size_t i;
  if (!h) return;
  fx_free(h->worker);
  fx_free(h->instance);
  for (i = 0; h->tasks && i < h->n_tasks; i++) fx_free(h->tasks[i].task);
  fx_free(h->tasks);
  fx_free(h->host);
  for (i = 0; h->parts && i < h->n_parts; i++) {
    fx_free(h->parts[i].topic);
    fx_free(h->parts[i].partitions);
  }
  fx_free(h->parts);
  memset(h, 0, sizeof(*h));
}

void msg_task_release(msg_task_t *t) {
  if (!t) return;
  fx_free(t->task);
  fx_free(t->state);
  msg_loc_release(&t->src);
  msg_loc_release(&t->dst);
  fx_free(t->checkpoint);
  fx_free(t->kind);
  msg_shards_release(t->shards, t->n_shards);
  memset(t, 0, sizeof(*t));
}
