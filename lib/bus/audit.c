/*
 * audit.c: the audit message's JSON codec (Jansson). The rules are those of
 * msg.c (docs/messages.md, "Rules common to all messages"): scalars always
 * written and required, optional strings omitted when NULL, unknown members
 * ignored, duplicates and \u0000 refused, "v" must be 1.
 */
#include "bus/audit.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bus/jsonx.h"

#define PATHLEN 96

static const char *const overwrote_names[] = {"unknown", "no", "yes"};

const char *msg_overwrote_str(msg_overwrote_t o) {
  return (unsigned)o < FERRY_ARRAY_LEN(overwrote_names) ? overwrote_names[o] : "?";
}

int msg_overwrote_parse(const char *s, msg_overwrote_t *out) {
  size_t i;
  for (i = 0; s && i < FERRY_ARRAY_LEN(overwrote_names); i++)
    if (strcmp(s, overwrote_names[i]) == 0) {
      *out = (msg_overwrote_t)i;
      return 0;
    }
  return -1;
}

void msg_audit_rec_release(msg_audit_rec_t *r) {
  if (!r) return;
  fx_free(r->key);
  fx_free(r->dst_key);
  fx_free(r->src_etag);
  fx_free(r->dst_etag);
  memset(r, 0, sizeof(*r));
}

void msg_audit_release(msg_audit_t *a) {
  size_t i;
  if (!a) return;
  fx_free(a->task);
  fx_free(a->segment);
  fx_free(a->worker);
  msg_loc_release(&a->dst);
  for (i = 0; a->recs && i < a->n_recs; i++) msg_audit_rec_release(&a->recs[i]);
  fx_free(a->recs);
  memset(a, 0, sizeof(*a));
}

/* ---------- encoding ---------- */

static json_t *enc_rec(const msg_audit_rec_t *r) {
  json_t *o = json_object();
  int bad = 0;
  bad |= jx_put_str(o, "key", r->key);
  bad |= jx_put_str(o, "dst_key", r->dst_key);
  bad |= jx_put_u64(o, "size", r->size);
  if (r->has_crc64) {
    char c[24];   /* decimal: a CRC-64 does not fit JSON's signed integers */
    snprintf(c, sizeof(c), "%" PRIu64, r->crc64);
    bad |= jx_put_str(o, "crc64", c);
  }
  bad |= jx_put_opt_str(o, "src_etag", r->src_etag);
  bad |= jx_put_opt_str(o, "dst_etag", r->dst_etag);
  bad |= jx_put_str(o, "overwrote", (unsigned)r->overwrote < FERRY_ARRAY_LEN(overwrote_names)
                                     ? overwrote_names[r->overwrote] : NULL);
  bad |= r->at_ms < 0 ? -1 : jx_put_i64(o, "at_ms", r->at_ms);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* a with records [first, first + cnt) as part `part` of `parts`. */
static char *encode_slice(const msg_audit_t *a, size_t first, size_t cnt, int part,
                          int parts) {
  json_t *o = json_object(), *arr = json_array(), *l = json_object();
  size_t i;
  int bad = 0;
  bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "task", a->task);
  bad |= jx_put_str(o, "segment", a->segment);
  bad |= a->run < 1 ? -1 : jx_put_i64(o, "run", a->run);
  bad |= jx_put_str(o, "worker", a->worker);
  bad |= jx_put_str(l, "store", a->dst.store);
  bad |= jx_put_str(l, "bucket", a->dst.bucket);
  bad |= jx_put_str(l, "prefix", a->dst.prefix ? a->dst.prefix : "");
  bad |= jx_put(o, "dst", l);
  for (i = first; i < first + cnt && !bad; i++) {
    json_t *r = enc_rec(&a->recs[i]);
    bad |= r ? json_array_append_new(arr, r) : -1;
  }
  bad |= jx_put(o, "records", arr);
  if (parts > 1) {
    bad |= jx_put_i64(o, "part", part);
    bad |= jx_put_i64(o, "parts", parts);
  }
  return jx_finish(o, bad);
}

char *msg_audit_encode(const msg_audit_t *a) {
  return encode_slice(a, 0, a->n_recs, a->part, a->parts);
}

static char *slice_audit(const void *m, size_t first, size_t cnt, int part, int parts) {
  return encode_slice(m, first, cnt, part, parts);
}
static size_t audit_item_len(const void *m, size_t i) {
  char *s = jx_finish(enc_rec(&((const msg_audit_t *)m)->recs[i]), 0);
  size_t len = s ? strlen(s) : 0;
  fx_free(s);
  return len;
}
static const char *audit_item_key(const void *m, size_t i) {
  return ((const msg_audit_t *)m)->recs[i].key;
}

ferry_err_t msg_audit_encode_parts(const msg_audit_t *a, size_t max_len, char ***out,
                                   size_t *n, char *errbuf) {
  jx_parts_spec_t s = {a,       a->n_recs, slice_audit, audit_item_len, audit_item_key,
                       "audit", "record",  a->segment ? a->segment : "?", 1};
  return jx_encode_parts(&s, max_len, out, n, errbuf);
}

/* ---------- decoding ---------- */

#define TRY(expr)                                                              \
  do {                                                                         \
    if ((e = (expr)) != FERRY_OK) return e;                                    \
  } while (0)

static ferry_err_t dec_rec(json_t *o, const char *path, msg_audit_rec_t *r, char *eb) {
  char *s = NULL;
  int64_t x;
  ferry_err_t e;
  if (!json_is_object(o)) return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not an object", path);
  TRY(jx_get_str(o, path, "key", 1, 1, &r->key, eb));
  TRY(jx_get_str(o, path, "dst_key", 1, 1, &r->dst_key, eb));
  TRY(jx_get_int_range(o, path, "size", 0, INT64_MAX, &x, eb));
  r->size = (uint64_t)x;
  TRY(jx_get_str(o, path, "crc64", 0, 0, &s, eb));
  if (s) {
    const char *p = s;
    uint64_t c = 0;
    int ok = *p != '\0';
    for (; *p && ok; p++) {
      unsigned d = (unsigned)(*p - '0');
      if (*p < '0' || *p > '9' || c > (UINT64_MAX - d) / 10) ok = 0;
      else c = c * 10 + d;
    }
    fx_free(s);
    if (!ok)
      return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.crc64: not a decimal CRC-64", path);
    r->has_crc64 = 1;
    r->crc64 = c;
  }
  TRY(jx_get_str(o, path, "src_etag", 0, 0, &r->src_etag, eb));
  TRY(jx_get_str(o, path, "dst_etag", 0, 0, &r->dst_etag, eb));
  TRY(jx_get_str(o, path, "overwrote", 1, 1, &s, eb));
  if (msg_overwrote_parse(s, &r->overwrote)) {
    e = ferry_seterr(eb, FERRY_ERR_PARSE, "%s.overwrote: unknown value \"%.40s\"", path, s);
    fx_free(s);
    return e;
  }
  fx_free(s);
  TRY(jx_get_int_range(o, path, "at_ms", 0, INT64_MAX, &r->at_ms, eb));
  return FERRY_OK;
}

static ferry_err_t dec_audit(json_t *r, msg_audit_t *a, char *eb) {
  const char *P = "audit";
  json_t *l, *arr;
  int64_t x;
  size_t i;
  ferry_err_t e;
  TRY(jx_get_str(r, P, "task", 1, 1, &a->task, eb));
  TRY(jx_get_str(r, P, "segment", 1, 1, &a->segment, eb));
  TRY(jx_get_int_range(r, P, "run", 1, INT_MAX, &x, eb));
  a->run = (int)x;
  TRY(jx_get_str(r, P, "worker", 1, 1, &a->worker, eb));
  if (!(l = jx_member(r, "dst"))) return ferry_seterr(eb, FERRY_ERR_PARSE, "audit.dst: missing");
  if (!json_is_object(l)) return ferry_seterr(eb, FERRY_ERR_PARSE, "audit.dst: not an object");
  TRY(jx_get_str(l, "audit.dst", "store", 1, 1, &a->dst.store, eb));
  TRY(jx_get_str(l, "audit.dst", "bucket", 1, 1, &a->dst.bucket, eb));
  TRY(jx_get_str(l, "audit.dst", "prefix", 0, 0, &a->dst.prefix, eb));
  if (!a->dst.prefix) a->dst.prefix = fx_strdup("");
  if (!(arr = jx_member(r, "records")))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "audit.records: missing");
  if (!json_is_array(arr))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "audit.records: not an array");
  a->n_recs = json_array_size(arr);
  a->recs = a->n_recs ? fx_calloc(a->n_recs, sizeof(*a->recs)) : NULL;
  for (i = 0; i < a->n_recs; i++) {
    char path[PATHLEN];
    snprintf(path, sizeof(path), "audit.records[%zu]", i);
    TRY(dec_rec(json_array_get(arr, i), path, &a->recs[i], eb));
  }
  if (jx_member(r, "part") || jx_member(r, "parts")) {
    int64_t parts;
    TRY(jx_get_int_range(r, P, "parts", 1, INT_MAX, &parts, eb));
    TRY(jx_get_int_range(r, P, "part", 1, parts, &x, eb));
    a->part = (int)x;
    a->parts = (int)parts;
  }
  return FERRY_OK;
}

#undef TRY

ferry_err_t msg_audit_decode(const char *buf, size_t len, msg_audit_t *out, char *errbuf) {
  json_t *r;
  ferry_err_t e;
  memset(out, 0, sizeof(*out));
  if ((e = jx_load(buf, len, "audit", &r, errbuf))) return e;
  e = dec_audit(r, out, errbuf);
  json_decref(r);
  if (e != FERRY_OK) msg_audit_release(out);
  return e;
}
