/*
 * msg.c: JSON codecs for ferry's Kafka messages (Jansson).
 *
 * The contract is in msg.h and the wire format in docs/messages.md. The rule
 * that keeps both simple: every scalar field of a struct is always written
 * and required when read; every pointer documented as "may be NULL" is
 * omitted when NULL and optional when read (JSON null reads as absent).
 * Unknown members are ignored so that version 1 can grow optional fields.
 */
#include "bus/msg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bus/jsonx.h"
#include "core/buf.h"
#include "core/enc.h"

/* Paths such as "result.outcomes[12345].request_id" fit easily. */
#define PATHLEN 96

/* Part numbers of a multipart upload are 1..10000 in S3, OSS and COS. */
#define MAX_PART 10000

static const char *const state_names[] = {"listing", "listed", "failed"};

/* ---------- encoding ---------- */




/* Diagnostic text (service code, request id, message) comes from servers
 * and transports, cut to fixed buffers on the way: an invalid UTF-8 byte
 * there must not make a result unpublishable (the worker would stop on a
 * poison segment), so such bytes are written as U+FFFD instead. */
static int put_diag_str(json_t *o, const char *k, const char *s) {
  json_t *v;
  fbuf_t b;
  if (!s) return 0;
  v = json_string(s);
  if (!v) {
    fbuf_init(&b, 0);
    enc_utf8_repair(&b, s, strlen(s));
    v = json_string(fbuf_str(&b));
    fbuf_release(&b);
  }
  return jx_put(o, k, v);
}



static json_t *enc_loc(const msg_loc_t *l) {
  json_t *o = json_object();
  int bad = 0;
  bad |= jx_put_str(o, "store", l->store);
  bad |= jx_put_str(o, "bucket", l->bucket);
  bad |= jx_put_str(o, "prefix", l->prefix ? l->prefix : "");
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *enc_obj(const msg_obj_t *ob) {
  json_t *o = json_object();
  int bad = 0;
  bad |= jx_put_str(o, "key", ob->key);
  bad |= jx_put_u64(o, "size", ob->size);
  bad |= jx_put_opt_str(o, "etag", ob->etag);
  bad |= jx_put_i64(o, "mtime", ob->mtime);
  if (ob->has_crc64) {
    /* Decimal string: a CRC-64 does not fit JSON's signed integers, and the
     * x-*-hash-crc64ecma headers carry the same decimal form. */
    char c[24];
    snprintf(c, sizeof(c), "%" PRIu64, ob->crc64);
    bad |= jx_put_str(o, "crc64", c);
  }
  bad |= jx_put_opt_str(o, "dst_key", ob->dst_key);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *enc_outcome(const msg_outcome_t *oc, int top) {
  json_t *o = json_object();
  int bad = 0;
  if (top) bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "key", oc->key);
  bad |= jx_put_u64(o, "size", oc->size);
  bad |= jx_put_str(o, "status", (unsigned)oc->status < FERRY_ARRAY_LEN(msg_status_names)
                                  ? msg_status_names[oc->status] : NULL);
  bad |= jx_put_opt_str(o, "reason", oc->reason);
  bad |= jx_put_u64(o, "bytes", oc->bytes);
  bad |= jx_put_i64(o, "attempts", oc->attempts);
  bad |= jx_put_i64(o, "duration_ms", oc->duration_ms);
  bad |= jx_put_i64(o, "http_status", oc->http_status);
  bad |= put_diag_str(o, "code", oc->code);
  bad |= put_diag_str(o, "request_id", oc->request_id);
  bad |= put_diag_str(o, "message", oc->message);
  bad |= jx_put_opt_str(o, "etag", oc->etag);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static const char *policy_or_null(msg_policy_t p) {
  return (unsigned)p < FERRY_ARRAY_LEN(msg_policy_names) ? msg_policy_names[p] : NULL;
}


/* The task's copy settings: {"class_map": ["SRC=DST", ...], "record_source_etag": b}. */
static json_t *enc_copy(const msg_segment_t *s) {
  json_t *o = json_object(), *m = json_array();
  size_t i;
  int bad = 0;
  for (i = 0; i < s->class_map.n; i++) {
    char *kv = fx_asprintf("%s=%s", s->class_map.v[i].name, s->class_map.v[i].value);
    bad |= json_array_append_new(m, json_string(kv));
    fx_free(kv);
  }
  bad |= jx_put(o, "class_map", m);
  bad |= jx_put(o, "record_source_etag", json_boolean(s->record_src_etag));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

char *msg_segment_encode(const msg_segment_t *s) {
  json_t *o = json_object(), *a = json_array();
  size_t i;
  int bad = 0;
  bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "task", s->task);
  bad |= jx_put_str(o, "id", s->id);
  bad |= jx_put_i64(o, "run", s->run);
  bad |= jx_put(o, "src", enc_loc(&s->src));
  bad |= jx_put(o, "dst", enc_loc(&s->dst));
  bad |= jx_put_str(o, "policy", policy_or_null(s->policy));
  if (s->has_limits) {
    json_t *l = json_object();
    bad |= jx_put_u64(l, "qps", s->qps_limit);
    bad |= jx_put_u64(l, "bandwidth", s->bandwidth_limit);
    if (s->n_schedule) {
      json_t *sa = json_array();
      size_t k;
      for (k = 0; k < s->n_schedule; k++)
        bad |= !s->schedule[k] || json_array_append_new(sa, json_string(s->schedule[k]));
      bad |= jx_put(l, "schedule", sa);
    }
    bad |= jx_put(o, "limits", l);
  }
  if (s->audit) bad |= jx_put(o, "audit", json_true());
  if (s->has_copy) bad |= jx_put(o, "copy", enc_copy(s));
  for (i = 0; i < s->n_objs && !bad; i++) {
    json_t *ob = enc_obj(&s->objs[i]);
    bad |= ob ? json_array_append_new(a, ob) : -1;
  }
  bad |= jx_put(o, "objs", a);
  if (s->range.present) {
    json_t *r = json_object();
    bad |= jx_put_str(r, "upload_id", s->range.upload_id);
    bad |= jx_put_i64(r, "part_first", s->range.part_first);
    bad |= jx_put_i64(r, "part_last", s->range.part_last);
    bad |= jx_put_u64(r, "part_size", s->range.part_size);
    if (s->range.parts_total > 0) bad |= jx_put_i64(r, "parts_total", s->range.parts_total);
    bad |= jx_put(o, "range", r);
  }
  return jx_finish(o, bad);
}

char *msg_result_encode(const msg_result_t *r) {
  json_t *o = json_object(), *a = json_array();
  size_t i;
  int bad = 0;
  bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "task", r->task);
  bad |= jx_put_str(o, "segment", r->segment);
  bad |= jx_put_i64(o, "run", r->run);
  bad |= jx_put_str(o, "worker", r->worker);
  bad |= jx_put_u64(o, "n_objects", r->n_objects);
  bad |= jx_put_u64(o, "n_copied", r->n_copied);
  bad |= jx_put_u64(o, "n_skipped", r->n_skipped);
  bad |= jx_put_u64(o, "n_failed", r->n_failed);
  bad |= jx_put_u64(o, "bytes", r->bytes);
  bad |= jx_put_i64(o, "started_ms", r->started_ms);
  bad |= jx_put_i64(o, "finished_ms", r->finished_ms);
  for (i = 0; i < r->n_outcomes && !bad; i++) {
    json_t *oc = enc_outcome(&r->outcomes[i], 0);
    bad |= oc ? json_array_append_new(a, oc) : -1;
  }
  bad |= jx_put(o, "outcomes", a);
  if (r->range.present) {
    json_t *g = json_object();
    bad |= jx_put_str(g, "key", r->range.key);
    bad |= jx_put_u64(g, "size", r->range.size);
    bad |= jx_put_i64(g, "part_first", r->range.part_first);
    bad |= jx_put_i64(g, "part_last", r->range.part_last);
    bad |= jx_put_i64(g, "parts_total", r->range.parts_total);
    bad |= jx_put(o, "range", g);
  }
  if (r->parts > 1) {
    bad |= (r->part < 1 || r->part > r->parts) ? -1 : jx_put_i64(o, "part", r->part);
    bad |= jx_put_i64(o, "parts", r->parts);
  }
  return jx_finish(o, bad);
}

void msg_parts_free(char **v, size_t n) {
  size_t i;
  for (i = 0; v && i < n; i++) fx_free(v[i]);
  fx_free(v);
}

/* Length of one outcome as an element of "outcomes"; 0 when not encodable. */
static size_t outcome_len(const msg_outcome_t *oc) {
  char *s = jx_finish(enc_outcome(oc, 0), 0);
  size_t n = s ? strlen(s) : 0;
  fx_free(s);
  return n;
}

/* Encodes r with outcomes [first, first + cnt) as part `part` of `parts`. */
static char *encode_slice(const msg_result_t *r, size_t first, size_t cnt, int part,
                          int parts) {
  msg_result_t p = *r;
  p.outcomes = cnt ? r->outcomes + first : NULL;
  p.n_outcomes = cnt;
  p.part = part;
  p.parts = parts;
  return msg_result_encode(&p);
}

static char *slice_result(const void *m, size_t first, size_t cnt, int part, int parts) {
  return encode_slice(m, first, cnt, part, parts);
}
static size_t result_item_len(const void *m, size_t i) {
  return outcome_len(&((const msg_result_t *)m)->outcomes[i]);
}
static const char *result_item_key(const void *m, size_t i) {
  return ((const msg_result_t *)m)->outcomes[i].key;
}

ferry_err_t msg_result_encode_parts(const msg_result_t *r, size_t max_len, char ***out,
                                    size_t *n, char *errbuf) {
  jx_parts_spec_t s = {r,           r->n_outcomes, slice_result, result_item_len,
                       result_item_key, "result",  "outcome",    r->segment ? r->segment : "?",
                       0};
  return jx_encode_parts(&s, max_len, out, n, errbuf);
}

char *msg_failed_encode(const msg_failed_t *f) {
  json_t *o = json_object();
  int bad = 0;
  bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "task", f->task);
  bad |= jx_put_str(o, "segment", f->segment);
  bad |= jx_put_i64(o, "run", f->run);
  bad |= jx_put(o, "src", enc_loc(&f->src));
  bad |= jx_put(o, "dst", enc_loc(&f->dst));
  bad |= jx_put(o, "obj", enc_obj(&f->obj));
  bad |= jx_put(o, "outcome", enc_outcome(&f->outcome, 0));
  bad |= jx_put_i64(o, "at_ms", f->at_ms);
  return jx_finish(o, bad);
}

static json_t *enc_hb_parts(const msg_heartbeat_t *h) {
  json_t *a = json_array();
  size_t i, k;
  for (i = 0; i < h->n_parts; i++) {
    json_t *t = json_object(), *p = json_array();
    int bad = jx_put_str(t, "topic", h->parts[i].topic);
    for (k = 0; k < h->parts[i].n; k++)
      bad |= json_array_append_new(p, json_integer(h->parts[i].partitions[k]));
    bad |= jx_put(t, "partitions", p);
    if (bad || json_array_append_new(a, t)) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

char *msg_heartbeat_encode(const msg_heartbeat_t *h) {
  json_t *o = json_object(), *a = json_array();
  int bad = 0;
  size_t i;
  bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "worker", h->worker);
  bad |= jx_put_str(o, "instance", h->instance);
  bad |= jx_put_i64(o, "at_ms", h->at_ms);
  bad |= jx_put_i64(o, "every_ms", h->every_ms);
  if (h->leaving) bad |= jx_put(o, "leaving", json_true());
  for (i = 0; i < h->n_tasks; i++) {
    json_t *t = json_object();
    bad |= jx_put_str(t, "task", h->tasks[i].task);
    bad |= jx_put_u64(t, "objects", h->tasks[i].objects);
    bad |= jx_put(t, "held", json_boolean(h->tasks[i].held));
    bad |= json_array_append_new(a, t);
  }
  bad |= jx_put(o, "tasks", a);
  bad |= jx_put_opt_str(o, "host", h->host);
  if (h->n_parts) bad |= jx_put(o, "parts", enc_hb_parts(h));
  if (h->has_rate) {
    json_t *r = json_object();
    bad |= h->objects_s < 0 || h->bytes_s < 0;
    bad |= jx_put(r, "objects_s", json_real(h->objects_s));
    bad |= jx_put(r, "bytes_s", json_real(h->bytes_s));
    bad |= jx_put(o, "rate", r);
  }
  return jx_finish(o, bad);
}

char *msg_task_encode(const msg_task_t *t) {
  json_t *o = json_object();
  int bad = 0;
  bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "task", t->task);
  bad |= jx_put_i64(o, "run", t->run);
  bad |= jx_put(o, "src", enc_loc(&t->src));
  bad |= jx_put(o, "dst", enc_loc(&t->dst));
  bad |= jx_put_str(o, "policy", policy_or_null(t->policy));
  bad |= jx_put_str(o, "state", t->state);
  bad |= jx_put_u64(o, "listed_objects", t->listed_objects);
  bad |= jx_put_u64(o, "listed_bytes", t->listed_bytes);
  bad |= jx_put_u64(o, "segments", t->segments);
  bad |= jx_put_opt_str(o, "checkpoint", t->checkpoint);
  bad |= jx_put_i64(o, "updated_ms", t->updated_ms);
  /* Optional so that full runs (and v1 readers) are unchanged. */
  if (t->retry_of != 0)
    bad |= (t->retry_of < 1 || t->retry_of >= t->run)
               ? -1 : jx_put_i64(o, "retry_of", t->retry_of);
  bad |= jx_put_opt_str(o, "kind", t->kind);
  if (t->n_shards) {
    json_t *a = json_array();
    size_t i;
    for (i = 0; i < t->n_shards && !bad; i++) {
      const msg_shard_t *sh = &t->shards[i];
      json_t *so = json_object();
      bad |= jx_put_opt_str(so, "lo", sh->lo);
      bad |= jx_put_opt_str(so, "hi", sh->hi);
      bad |= jx_put_opt_str(so, "checkpoint", sh->checkpoint);
      bad |= jx_put_u64(so, "segments", sh->segments);
      bad |= jx_put_u64(so, "objects", sh->objects);
      bad |= jx_put_u64(so, "bytes", sh->bytes);
      bad |= jx_put(so, "done", json_boolean(sh->done));
      bad |= json_array_append_new(a, so);
    }
    bad |= jx_put(o, "shards", a);
  }
  return jx_finish(o, bad);
}

char *msg_outcome_encode(const msg_outcome_t *oc) {
  return jx_finish(enc_outcome(oc, 1), 0);
}

/* ---------- decoding ---------- */

enum { OPT = 0, REQ = 1 };












/* "<crc>" decimal uint64, digits only. */
static int parse_u64_dec(const char *s, uint64_t *out) {
  uint64_t x = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    unsigned d;
    if (*s < '0' || *s > '9') return -1;
    d = (unsigned)(*s - '0');
    if (x > (UINT64_MAX - d) / 10) return -1;
    x = x * 10 + d;
  }
  *out = x;
  return 0;
}


#define TRY(expr)                                                              \
  do {                                                                         \
    if ((e = (expr)) != FERRY_OK) return e;                                    \
  } while (0)

/* Field decoders fill *out progressively; on failure the caller releases the
 * whole message, so everything they allocate is reachable from *out. */

static ferry_err_t dec_loc(json_t *p, const char *ppath, const char *name,
                           msg_loc_t *l, char *eb) {
  char path[PATHLEN];
  json_t *o;
  ferry_err_t e;
  TRY(jx_get_obj(p, ppath, name, &o, eb));
  snprintf(path, sizeof(path), "%s.%s", ppath, name);
  TRY(jx_get_str(o, path, "store", REQ, 1, &l->store, eb));
  TRY(jx_get_str(o, path, "bucket", REQ, 1, &l->bucket, eb));
  TRY(jx_get_str(o, path, "prefix", OPT, 0, &l->prefix, eb));
  if (!l->prefix) l->prefix = fx_strdup("");
  return FERRY_OK;
}

static ferry_err_t dec_obj(json_t *o, const char *path, msg_obj_t *ob, char *eb) {
  char *crc = NULL;
  ferry_err_t e;
  TRY(jx_get_str(o, path, "key", REQ, 1, &ob->key, eb));
  TRY(jx_get_u64(o, path, "size", &ob->size, eb));
  TRY(jx_get_str(o, path, "etag", OPT, 0, &ob->etag, eb));
  TRY(jx_get_int_range(o, path, "mtime", -1, INT64_MAX, &ob->mtime, eb));
  TRY(jx_get_str(o, path, "crc64", OPT, 0, &crc, eb));
  if (crc) {
    int bad = parse_u64_dec(crc, &ob->crc64);
    fx_free(crc);
    if (bad)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "%s.crc64: not a decimal unsigned 64-bit integer", path);
    ob->has_crc64 = 1;
  }
  TRY(jx_get_str(o, path, "dst_key", OPT, 1, &ob->dst_key, eb));
  return FERRY_OK;
}

static ferry_err_t dec_outcome(json_t *o, const char *path, msg_outcome_t *oc,
                               char *eb) {
  int st;
  ferry_err_t e;
  TRY(jx_get_str(o, path, "key", REQ, 1, &oc->key, eb));
  TRY(jx_get_u64(o, path, "size", &oc->size, eb));
  TRY(jx_get_enum(o, path, "status", msg_status_names, FERRY_ARRAY_LEN(msg_status_names),
               &st, eb));
  oc->status = (msg_status_t)st;
  TRY(jx_get_str(o, path, "reason", OPT, 1, &oc->reason, eb));
  TRY(jx_get_u64(o, path, "bytes", &oc->bytes, eb));
  TRY(jx_get_int(o, path, "attempts", 0, INT_MAX, &oc->attempts, eb));
  TRY(jx_get_time(o, path, "duration_ms", &oc->duration_ms, eb));
  TRY(jx_get_int(o, path, "http_status", 0, 999, &oc->http_status, eb));
  TRY(jx_get_str(o, path, "code", OPT, 0, &oc->code, eb));
  TRY(jx_get_str(o, path, "request_id", OPT, 0, &oc->request_id, eb));
  TRY(jx_get_str(o, path, "message", OPT, 0, &oc->message, eb));
  TRY(jx_get_str(o, path, "etag", OPT, 0, &oc->etag, eb));
  return FERRY_OK;
}

/* A storage class name as the config accepts it (letters, digits, '_',
 * '-'; "*" alone as a source): the value goes into a request header. */
static int class_ok(const char *s, size_t n, int is_src) {
  size_t i;
  if (is_src && n == 1 && s[0] == '*') return 1;
  if (n == 0) return !is_src;
  for (i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return 0;
  return 1;
}

/* "copy": the task's storage class map ("SRC=DST", at most 64 entries) and
 * its record_source_etag switch. */
static ferry_err_t dec_copy(json_t *r, msg_segment_t *s, char *eb) {
  const char *P = "segment.copy";
  json_t *c, *m, *v;
  size_t i;
  ferry_err_t e;
  TRY(jx_get_obj(r, "segment", "copy", &c, eb));
  TRY(jx_get_arr(c, P, "class_map", &m, eb));
  if (json_array_size(m) > 64)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.class_map: more than 64 entries", P);
  s->has_copy = 1;
  for (i = 0; i < json_array_size(m); i++) {
    const char *x, *eq;
    v = json_array_get(m, i);
    x = json_is_string(v) ? json_string_value(v) : NULL;
    eq = x ? strchr(x, '=') : NULL;
    if (!x || !eq || json_string_length(v) > 129 || memchr(x, '\0', json_string_length(v)) ||
        !class_ok(x, (size_t)(eq - x), 1) || !class_ok(eq + 1, strlen(eq + 1), 0))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.class_map[%zu]: not \"SRC=DST\"", P, i);
    {
      char *name = fx_strndup(x, (size_t)(eq - x));
      kvlist_add(&s->class_map, name, eq + 1);
      fx_free(name);
    }
  }
  v = jx_member(c, "record_source_etag");
  if (!v || !json_is_boolean(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.record_source_etag: %s", P,
                        v ? "not a boolean" : "missing");
  s->record_src_etag = json_is_true(v);
  return FERRY_OK;
}

static ferry_err_t dec_segment(json_t *r, msg_segment_t *s, char *eb) {
  const char *P = "segment";
  json_t *a, *rg;
  int pol;
  size_t i;
  ferry_err_t e;
  TRY(jx_get_str(r, P, "task", REQ, 1, &s->task, eb));
  TRY(jx_get_str(r, P, "id", REQ, 1, &s->id, eb));
  TRY(jx_get_int(r, P, "run", 1, INT_MAX, &s->run, eb));
  TRY(dec_loc(r, P, "src", &s->src, eb));
  TRY(dec_loc(r, P, "dst", &s->dst, eb));
  TRY(jx_get_enum(r, P, "policy", msg_policy_names, FERRY_ARRAY_LEN(msg_policy_names), &pol,
               eb));
  s->policy = (msg_policy_t)pol;
  TRY(jx_get_arr(r, P, "objs", &a, eb));
  if (json_array_size(a) == 0)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "segment.objs: empty array");
  s->objs = fx_calloc(json_array_size(a), sizeof(*s->objs));
  s->n_objs = json_array_size(a);
  for (i = 0; i < s->n_objs; i++) {
    char path[PATHLEN];
    json_t *ob = json_array_get(a, i);
    snprintf(path, sizeof(path), "segment.objs[%zu]", i);
    if (!json_is_object(ob))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not an object", path);
    TRY(dec_obj(ob, path, &s->objs[i], eb));
  }
  if (jx_member(r, "limits")) {
    json_t *l;
    TRY(jx_get_obj(r, P, "limits", &l, eb));
    s->has_limits = 1;
    TRY(jx_get_u64(l, "segment.limits", "qps", &s->qps_limit, eb));
    TRY(jx_get_u64(l, "segment.limits", "bandwidth", &s->bandwidth_limit, eb));
    if (jx_member(l, "schedule")) {
      json_t *sa = jx_member(l, "schedule");
      size_t k, n;
      if (!json_is_array(sa) || json_array_size(sa) > 96)
        return ferry_seterr(eb, FERRY_ERR_PARSE,
                            "segment.limits.schedule: not an array of at most 96 entries");
      n = json_array_size(sa);
      s->schedule = n ? fx_calloc(n, sizeof(*s->schedule)) : NULL;
      for (k = 0; k < n; k++) {
        json_t *v = json_array_get(sa, k);
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            memchr(json_string_value(v), '\0', json_string_length(v)))
          return ferry_seterr(eb, FERRY_ERR_PARSE,
                              "segment.limits.schedule[%zu]: not a non-empty string", k);
        s->schedule[k] = fx_strdup(json_string_value(v));
        s->n_schedule = k + 1;
      }
    }
  }
  if (jx_member(r, "audit")) {
    if (!json_is_boolean(jx_member(r, "audit")))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "segment.audit: not a boolean");
    s->audit = json_is_true(jx_member(r, "audit"));
  }
  if (jx_member(r, "copy")) TRY(dec_copy(r, s, eb));
  if (jx_member(r, "range")) {
    const char *RP = "segment.range";
    int64_t first, last;
    TRY(jx_get_obj(r, P, "range", &rg, eb));
    s->range.present = 1;
    TRY(jx_get_str(rg, RP, "upload_id", REQ, 1, &s->range.upload_id, eb));
    TRY(jx_get_int_range(rg, RP, "part_first", 1, MAX_PART, &first, eb));
    TRY(jx_get_int_range(rg, RP, "part_last", first, MAX_PART, &last, eb));
    s->range.part_first = (int)first;
    s->range.part_last = (int)last;
    TRY(jx_get_u64(rg, RP, "part_size", &s->range.part_size, eb));
    if (s->range.part_size == 0)
      return ferry_seterr(eb, FERRY_ERR_PARSE, "segment.range.part_size: zero");
    if (s->n_objs != 1)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "segment.range: a part range needs exactly one object, "
                          "got %zu", s->n_objs);
    {
      /* The object's part count: ceil(size / part_size), 1 when empty. */
      uint64_t sz = s->objs[0].size, ps = s->range.part_size;
      uint64_t total = sz == 0 ? 1 : sz / ps + (sz % ps != 0);
      int64_t given;
      if (total > MAX_PART)
        return ferry_seterr(eb, FERRY_ERR_PARSE,
                            "segment.range.part_size: %" PRIu64 " cuts the object in "
                            "more than %d parts", ps, MAX_PART);
      if (jx_member(rg, "parts_total")) {
        TRY(jx_get_int_range(rg, RP, "parts_total", 1, MAX_PART, &given, eb));
        if ((uint64_t)given != total)
          return ferry_seterr(eb, FERRY_ERR_PARSE,
                              "segment.range.parts_total: %" PRId64 " does not match "
                              "the object's size and part_size (%" PRIu64 " parts)",
                              given, total);
      }
      s->range.parts_total = (int)total;
      if (last > (int64_t)total)
        return ferry_seterr(eb, FERRY_ERR_PARSE,
                            "segment.range.part_last: %" PRId64 " is beyond the object's "
                            "%" PRIu64 " parts", last, total);
    }
  }
  return FERRY_OK;
}

static ferry_err_t dec_result(json_t *r, msg_result_t *res, char *eb) {
  const char *P = "result";
  json_t *a;
  size_t i;
  ferry_err_t e;
  TRY(jx_get_str(r, P, "task", REQ, 1, &res->task, eb));
  TRY(jx_get_str(r, P, "segment", REQ, 1, &res->segment, eb));
  TRY(jx_get_int(r, P, "run", 1, INT_MAX, &res->run, eb));
  TRY(jx_get_str(r, P, "worker", REQ, 1, &res->worker, eb));
  TRY(jx_get_u64(r, P, "n_objects", &res->n_objects, eb));
  TRY(jx_get_u64(r, P, "n_copied", &res->n_copied, eb));
  TRY(jx_get_u64(r, P, "n_skipped", &res->n_skipped, eb));
  TRY(jx_get_u64(r, P, "n_failed", &res->n_failed, eb));
  /* Each count is < 2^63, so the sum of three cannot wrap a uint64. */
  if (res->n_copied + res->n_skipped + res->n_failed > res->n_objects)
    return ferry_seterr(eb, FERRY_ERR_PARSE,
                        "result.n_objects: %" PRIu64 " is less than copied + "
                        "skipped + failed (%" PRIu64 ")", res->n_objects,
                        res->n_copied + res->n_skipped + res->n_failed);
  TRY(jx_get_u64(r, P, "bytes", &res->bytes, eb));
  TRY(jx_get_time(r, P, "started_ms", &res->started_ms, eb));
  TRY(jx_get_time(r, P, "finished_ms", &res->finished_ms, eb));
  TRY(jx_get_arr(r, P, "outcomes", &a, eb));
  if (json_array_size(a)) {
    res->outcomes = fx_calloc(json_array_size(a), sizeof(*res->outcomes));
    res->n_outcomes = json_array_size(a);
  }
  for (i = 0; i < res->n_outcomes; i++) {
    char path[PATHLEN];
    json_t *oc = json_array_get(a, i);
    snprintf(path, sizeof(path), "result.outcomes[%zu]", i);
    if (!json_is_object(oc))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not an object", path);
    TRY(dec_outcome(oc, path, &res->outcomes[i], eb));
  }
  if (jx_member(r, "range")) {
    const char *RP = "result.range";
    json_t *rg;
    int64_t first, last, total;
    TRY(jx_get_obj(r, P, "range", &rg, eb));
    res->range.present = 1;
    TRY(jx_get_str(rg, RP, "key", REQ, 1, &res->range.key, eb));
    TRY(jx_get_u64(rg, RP, "size", &res->range.size, eb));
    TRY(jx_get_int_range(rg, RP, "parts_total", 1, MAX_PART, &total, eb));
    TRY(jx_get_int_range(rg, RP, "part_first", 1, total, &first, eb));
    TRY(jx_get_int_range(rg, RP, "part_last", first, total, &last, eb));
    res->range.part_first = (int)first;
    res->range.part_last = (int)last;
    res->range.parts_total = (int)total;
    if (res->n_objects != 1)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "result.range: a part range is one object, n_objects is %" PRIu64,
                          res->n_objects);
  }
  if (jx_member(r, "part") || jx_member(r, "parts")) {
    /* Every part holds at least one outcome, so a result has at most as
     * many parts as objects. */
    TRY(jx_get_int(r, P, "parts", 1, 1000000, &res->parts, eb));
    TRY(jx_get_int(r, P, "part", 1, res->parts, &res->part, eb));
    if ((uint64_t)res->parts > res->n_objects && res->parts > 1)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "result.parts: %d parts for %" PRIu64 " objects", res->parts,
                          res->n_objects);
    if (res->n_outcomes > res->n_objects)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "result.outcomes: %zu outcomes in one part of a result of %" PRIu64
                          " objects", res->n_outcomes, res->n_objects);
  }
  return FERRY_OK;
}

static ferry_err_t dec_failed(json_t *r, msg_failed_t *f, char *eb) {
  const char *P = "failed";
  json_t *c;
  ferry_err_t e;
  TRY(jx_get_str(r, P, "task", REQ, 1, &f->task, eb));
  TRY(jx_get_str(r, P, "segment", REQ, 1, &f->segment, eb));
  TRY(jx_get_int(r, P, "run", 1, INT_MAX, &f->run, eb));
  TRY(dec_loc(r, P, "src", &f->src, eb));
  TRY(dec_loc(r, P, "dst", &f->dst, eb));
  TRY(jx_get_obj(r, P, "obj", &c, eb));
  TRY(dec_obj(c, "failed.obj", &f->obj, eb));
  TRY(jx_get_obj(r, P, "outcome", &c, eb));
  TRY(dec_outcome(c, "failed.outcome", &f->outcome, eb));
  TRY(jx_get_time(r, P, "at_ms", &f->at_ms, eb));
  return FERRY_OK;
}

static ferry_err_t dec_task(json_t *r, msg_task_t *t, char *eb) {
  const char *P = "task";
  int pol, st;
  ferry_err_t e;
  TRY(jx_get_str(r, P, "task", REQ, 1, &t->task, eb));
  TRY(jx_get_int(r, P, "run", 1, INT_MAX, &t->run, eb));
  TRY(dec_loc(r, P, "src", &t->src, eb));
  TRY(dec_loc(r, P, "dst", &t->dst, eb));
  TRY(jx_get_enum(r, P, "policy", msg_policy_names, FERRY_ARRAY_LEN(msg_policy_names), &pol,
               eb));
  t->policy = (msg_policy_t)pol;
  TRY(jx_get_enum(r, P, "state", state_names, FERRY_ARRAY_LEN(state_names), &st, eb));
  t->state = fx_strdup(state_names[st]);
  TRY(jx_get_u64(r, P, "listed_objects", &t->listed_objects, eb));
  TRY(jx_get_u64(r, P, "listed_bytes", &t->listed_bytes, eb));
  TRY(jx_get_u64(r, P, "segments", &t->segments, eb));
  TRY(jx_get_str(r, P, "checkpoint", OPT, 0, &t->checkpoint, eb));
  TRY(jx_get_time(r, P, "updated_ms", &t->updated_ms, eb));
  if (jx_member(r, "retry_of")) {
    if (t->run < 2)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "task.retry_of: run 1 cannot be a retry");
    TRY(jx_get_int(r, P, "retry_of", 1, t->run - 1, &t->retry_of, eb));
  }
  TRY(jx_get_str(r, P, "kind", OPT, 1, &t->kind, eb));
  if (jx_member(r, "shards")) {
    json_t *a;
    size_t i;
    TRY(jx_get_arr(r, P, "shards", &a, eb));
    if (json_array_size(a) == 0 || json_array_size(a) > 4096)
      return ferry_seterr(eb, FERRY_ERR_PARSE, "task.shards: %zu shards (1..4096)",
                          json_array_size(a));
    t->shards = fx_calloc(json_array_size(a), sizeof(*t->shards));
    t->n_shards = json_array_size(a);
    for (i = 0; i < t->n_shards; i++) {
      char path[PATHLEN];
      json_t *so = json_array_get(a, i), *d;
      msg_shard_t *sh = &t->shards[i];
      snprintf(path, sizeof(path), "task.shards[%zu]", i);
      if (!json_is_object(so))
        return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not an object", path);
      TRY(jx_get_str(so, path, "lo", OPT, 1, &sh->lo, eb));
      TRY(jx_get_str(so, path, "hi", OPT, 1, &sh->hi, eb));
      TRY(jx_get_str(so, path, "checkpoint", OPT, 1, &sh->checkpoint, eb));
      TRY(jx_get_u64(so, path, "segments", &sh->segments, eb));
      TRY(jx_get_u64(so, path, "objects", &sh->objects, eb));
      TRY(jx_get_u64(so, path, "bytes", &sh->bytes, eb));
      d = jx_member(so, "done");
      if (!d || !json_is_boolean(d))
        return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.done: %s", path,
                            d ? "not a boolean" : "missing");
      sh->done = json_is_true(d);
      if (sh->lo && sh->hi && strcmp(sh->lo, sh->hi) >= 0)
        return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: lo is not before hi", path);
    }
  }
  return FERRY_OK;
}

/* A non-negative number (integer or real). */
static ferry_err_t get_rate(json_t *o, const char *name, double *out, char *eb) {
  json_t *v = jx_member(o, name);
  if (!v) return jx_missing(eb, "heartbeat.rate", name);
  if (!json_is_number(v) || json_number_value(v) < 0)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "heartbeat.rate.%s: not a non-negative number",
                        name);
  *out = json_number_value(v);
  return FERRY_OK;
}

/* The optional members of the fleet view: host, parts, rate. */
static ferry_err_t dec_hb_extra(json_t *r, msg_heartbeat_t *h, char *eb) {
  const char *P = "heartbeat";
  json_t *a, *v;
  size_t i, k;
  ferry_err_t e;
  TRY(jx_get_str(r, P, "host", 0, 0, &h->host, eb));
  if ((v = jx_member(r, "rate"))) {
    if (!json_is_object(v))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "heartbeat.rate: not an object");
    TRY(get_rate(v, "objects_s", &h->objects_s, eb));
    TRY(get_rate(v, "bytes_s", &h->bytes_s, eb));
    h->has_rate = 1;
  }
  if (!(a = jx_member(r, "parts"))) return FERRY_OK;
  if (!json_is_array(a) || json_array_size(a) > 100000)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "heartbeat.parts: not an array of at most 100000");
  h->parts = fx_calloc(json_array_size(a) + 1, sizeof(*h->parts));
  for (i = 0; i < json_array_size(a); i++) {
    json_t *t = json_array_get(a, i), *p;
    char path[PATHLEN];
    snprintf(path, sizeof(path), "heartbeat.parts[%zu]", i);
    if (!json_is_object(t)) return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not an object", path);
    h->n_parts = i + 1;
    TRY(jx_get_str(t, path, "topic", REQ, 1, &h->parts[i].topic, eb));
    TRY(jx_get_arr(t, path, "partitions", &p, eb));
    h->parts[i].partitions = fx_calloc(json_array_size(p) + 1, sizeof(int32_t));
    for (k = 0; k < json_array_size(p); k++) {
      json_t *x = json_array_get(p, k);
      if (!json_is_integer(x) || json_integer_value(x) < 0 ||
          json_integer_value(x) > INT32_MAX)
        return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.partitions[%zu]: not a partition number",
                            path, k);
      h->parts[i].partitions[k] = (int32_t)json_integer_value(x);
      h->parts[i].n = k + 1;
    }
  }
  return FERRY_OK;
}

static ferry_err_t dec_heartbeat(json_t *r, msg_heartbeat_t *h, char *eb) {
  const char *P = "heartbeat";
  json_t *a, *v;
  size_t i;
  ferry_err_t e;
  TRY(jx_get_str(r, P, "worker", REQ, 1, &h->worker, eb));
  TRY(jx_get_str(r, P, "instance", REQ, 1, &h->instance, eb));
  TRY(jx_get_time(r, P, "at_ms", &h->at_ms, eb));
  TRY(jx_get_int_range(r, P, "every_ms", 1, 600000, &h->every_ms, eb));
  v = jx_member(r, "leaving");
  if (v && !json_is_boolean(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "heartbeat.leaving: not a boolean");
  h->leaving = v && json_is_true(v);
  TRY(jx_get_arr(r, P, "tasks", &a, eb));
  if (json_array_size(a) > 100000)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "heartbeat.tasks: %zu tasks (at most 100000)",
                        json_array_size(a));
  h->tasks = fx_calloc(json_array_size(a) + 1, sizeof(*h->tasks));
  for (i = 0; i < json_array_size(a); i++) {
    json_t *t = json_array_get(a, i);
    msg_hb_task_t *k = &h->tasks[i];
    char path[PATHLEN];
    snprintf(path, sizeof(path), "heartbeat.tasks[%zu]", i);
    if (!json_is_object(t))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not an object", path);
    h->n_tasks = i + 1;
    TRY(jx_get_str(t, path, "task", REQ, 1, &k->task, eb));
    TRY(jx_get_u64(t, path, "objects", &k->objects, eb));
    v = jx_member(t, "held");
    if (!v || !json_is_boolean(v))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.held: %s", path,
                          v ? "not a boolean" : "missing");
    k->held = json_is_true(v);
  }
  return dec_hb_extra(r, h, eb);
}

#undef TRY

/* The public decoders share load → decode → release-on-failure. */
#define DECODER(fn, type, what, dec, release)                                  \
  ferry_err_t fn(const char *buf, size_t len, type *out, char *errbuf) {       \
    json_t *root;                                                              \
    ferry_err_t e;                                                             \
    memset(out, 0, sizeof(*out));                                              \
    e = jx_load(buf, len, what, &root, errbuf);                                \
    if (e != FERRY_OK) return e;                                               \
    e = dec(root, out, errbuf);                                                \
    json_decref(root);                                                         \
    if (e != FERRY_OK) release(out);                                           \
    return e;                                                                  \
  }

static ferry_err_t dec_outcome_top(json_t *r, msg_outcome_t *o, char *eb) {
  return dec_outcome(r, "outcome", o, eb);
}

DECODER(msg_segment_decode, msg_segment_t, "segment", dec_segment,
        msg_segment_release)
DECODER(msg_result_decode, msg_result_t, "result", dec_result, msg_result_release)
DECODER(msg_failed_decode, msg_failed_t, "failed", dec_failed, msg_failed_release)
DECODER(msg_task_decode, msg_task_t, "task", dec_task, msg_task_release)
DECODER(msg_outcome_decode, msg_outcome_t, "outcome", dec_outcome_top,
        msg_outcome_release)
DECODER(msg_heartbeat_decode, msg_heartbeat_t, "heartbeat", dec_heartbeat,
        msg_heartbeat_release)
