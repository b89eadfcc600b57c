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

static int put(json_t *o, const char *k, json_t *v) {
  return v ? json_object_set_new(o, k, v) : -1;
}
static int put_str(json_t *o, const char *k, const char *s) {
  return s ? put(o, k, json_string(s)) : -1;
}
static int put_opt_str(json_t *o, const char *k, const char *s) {
  return s ? put(o, k, json_string(s)) : 0;
}
static int put_i64(json_t *o, const char *k, int64_t v) {
  return put(o, k, json_integer((json_int_t)v));
}
static int put_u64(json_t *o, const char *k, uint64_t v) {
  return v > (uint64_t)INT64_MAX ? -1 : put(o, k, json_integer((json_int_t)v));
}

static json_t *enc_rec(const msg_audit_rec_t *r) {
  json_t *o = json_object();
  int bad = 0;
  bad |= put_str(o, "key", r->key);
  bad |= put_str(o, "dst_key", r->dst_key);
  bad |= put_u64(o, "size", r->size);
  if (r->has_crc64) {
    char c[24];   /* decimal: a CRC-64 does not fit JSON's signed integers */
    snprintf(c, sizeof(c), "%" PRIu64, r->crc64);
    bad |= put_str(o, "crc64", c);
  }
  bad |= put_opt_str(o, "src_etag", r->src_etag);
  bad |= put_opt_str(o, "dst_etag", r->dst_etag);
  bad |= put_str(o, "overwrote", (unsigned)r->overwrote < FERRY_ARRAY_LEN(overwrote_names)
                                     ? overwrote_names[r->overwrote] : NULL);
  bad |= r->at_ms < 0 ? -1 : put_i64(o, "at_ms", r->at_ms);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static char *finish(json_t *root, int bad) {
  char *s = NULL;
  if (root && !bad) s = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  return s;
}

/* a with records [first, first + cnt) as part `part` of `parts`. */
static char *encode_slice(const msg_audit_t *a, size_t first, size_t cnt, int part,
                          int parts) {
  json_t *o = json_object(), *arr = json_array(), *l = json_object();
  size_t i;
  int bad = 0;
  bad |= put_i64(o, "v", MSG_VERSION);
  bad |= put_str(o, "task", a->task);
  bad |= put_str(o, "segment", a->segment);
  bad |= a->run < 1 ? -1 : put_i64(o, "run", a->run);
  bad |= put_str(o, "worker", a->worker);
  bad |= put_str(l, "store", a->dst.store);
  bad |= put_str(l, "bucket", a->dst.bucket);
  bad |= put_str(l, "prefix", a->dst.prefix ? a->dst.prefix : "");
  bad |= put(o, "dst", l);
  for (i = first; i < first + cnt && !bad; i++) {
    json_t *r = enc_rec(&a->recs[i]);
    bad |= r ? json_array_append_new(arr, r) : -1;
  }
  bad |= put(o, "records", arr);
  if (parts > 1) {
    bad |= put_i64(o, "part", part);
    bad |= put_i64(o, "parts", parts);
  }
  return finish(o, bad);
}

char *msg_audit_encode(const msg_audit_t *a) {
  return encode_slice(a, 0, a->n_recs, a->part, a->parts);
}

ferry_err_t msg_audit_encode_parts(const msg_audit_t *a, size_t max_len, char ***out,
                                   size_t *n, char *errbuf) {
  char *whole, *head;
  size_t *first, n_parts = 0, i, used, head_len;
  ferry_err_t e = FERRY_OK;
  const char *seg = a->segment ? a->segment : "?";
  *out = NULL;
  *n = 0;
  if (a->n_recs == 0) return FERRY_OK;
  if (!(whole = encode_slice(a, 0, a->n_recs, 0, 0)))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "audit of segment %s cannot be encoded",
                        seg);
  if (strlen(whole) <= max_len) {
    *out = fx_calloc(1, sizeof(**out));
    (*out)[0] = whole;
    *n = 1;
    return FERRY_OK;
  }
  fx_free(whole);
  /* The fields around the records, with part numbers as long as they get. */
  head = encode_slice(a, 0, 0, (int)FERRY_MIN(a->n_recs, INT_MAX),
                      (int)FERRY_MIN(a->n_recs, INT_MAX));
  head_len = head ? strlen(head) : 0;
  fx_free(head);
  first = fx_calloc(a->n_recs + 1, sizeof(*first));
  used = max_len + 1; /* a new part at the first record */
  for (i = 0; i < a->n_recs; i++) {
    char *s = finish(enc_rec(&a->recs[i]), 0);
    size_t len = s ? strlen(s) : 0;
    fx_free(s);
    if (!len || head_len + len > max_len) {
      e = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                       "audit of segment %s: the record of key \"%.200s\" alone needs %zu "
                       "bytes, more than the limit of %zu",
                       seg, a->recs[i].key ? a->recs[i].key : "?", head_len + len, max_len);
      break;
    }
    if (used + 1 + len > max_len) {   /* +1: the comma between two records */
      first[n_parts++] = i;
      used = head_len + len;
    } else {
      used += 1 + len;
    }
  }
  first[n_parts] = a->n_recs;
  if (!e) {
    *out = fx_calloc(n_parts, sizeof(**out));
    for (i = 0; i < n_parts && !e; i++) {
      (*out)[i] = encode_slice(a, first[i], first[i + 1] - first[i], (int)i + 1,
                               (int)n_parts);
      if (!(*out)[i] || strlen((*out)[i]) > max_len)
        e = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                         "audit of segment %s: part %zu of %zu does not fit in %zu bytes",
                         seg, i + 1, n_parts, max_len);
    }
    if (e) {
      msg_parts_free(*out, n_parts);
      *out = NULL;
    } else {
      *n = n_parts;
    }
  }
  fx_free(first);
  return e;
}

/* ---------- decoding ---------- */

static json_t *member(json_t *o, const char *name) {
  json_t *v = json_object_get(o, name);
  return json_is_null(v) ? NULL : v;
}

static ferry_err_t get_str(json_t *o, const char *path, const char *name, int req,
                           char **out, char *eb) {
  json_t *v = member(o, name);
  size_t n;
  *out = NULL;
  if (!v)
    return req ? ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: missing", path, name) : FERRY_OK;
  if (!json_is_string(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not a string", path, name);
  n = json_string_length(v);
  if (memchr(json_string_value(v), '\0', n))
    return ferry_seterr(eb, FERRY_ERR_PARSE,
                        "%s.%s: contains a NUL character (\\u0000), not allowed", path, name);
  if (req && n == 0)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: empty string", path, name);
  *out = fx_strndup(json_string_value(v), n);
  return FERRY_OK;
}

static ferry_err_t get_int(json_t *o, const char *path, const char *name, int64_t lo,
                           int64_t hi, int64_t *out, char *eb) {
  json_t *v = member(o, name);
  if (!v) return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: missing", path, name);
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return ferry_seterr(eb, FERRY_ERR_PARSE,
                        "%s.%s: not an integer in [%" PRId64 ", %" PRId64 "]", path, name, lo,
                        hi);
  *out = (int64_t)json_integer_value(v);
  return FERRY_OK;
}

#define TRY(expr)                                                              \
  do {                                                                         \
    if ((e = (expr)) != FERRY_OK) return e;                                    \
  } while (0)

static ferry_err_t dec_rec(json_t *o, const char *path, msg_audit_rec_t *r, char *eb) {
  char *s = NULL;
  int64_t x;
  ferry_err_t e;
  if (!json_is_object(o)) return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not an object", path);
  TRY(get_str(o, path, "key", 1, &r->key, eb));
  TRY(get_str(o, path, "dst_key", 1, &r->dst_key, eb));
  TRY(get_int(o, path, "size", 0, INT64_MAX, &x, eb));
  r->size = (uint64_t)x;
  TRY(get_str(o, path, "crc64", 0, &s, eb));
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
  TRY(get_str(o, path, "src_etag", 0, &r->src_etag, eb));
  TRY(get_str(o, path, "dst_etag", 0, &r->dst_etag, eb));
  TRY(get_str(o, path, "overwrote", 1, &s, eb));
  if (msg_overwrote_parse(s, &r->overwrote)) {
    e = ferry_seterr(eb, FERRY_ERR_PARSE, "%s.overwrote: unknown value \"%.40s\"", path, s);
    fx_free(s);
    return e;
  }
  fx_free(s);
  TRY(get_int(o, path, "at_ms", 0, INT64_MAX, &r->at_ms, eb));
  return FERRY_OK;
}

static ferry_err_t dec_audit(json_t *r, msg_audit_t *a, char *eb) {
  const char *P = "audit";
  json_t *l, *arr;
  int64_t x;
  size_t i;
  ferry_err_t e;
  TRY(get_str(r, P, "task", 1, &a->task, eb));
  TRY(get_str(r, P, "segment", 1, &a->segment, eb));
  TRY(get_int(r, P, "run", 1, INT_MAX, &x, eb));
  a->run = (int)x;
  TRY(get_str(r, P, "worker", 1, &a->worker, eb));
  if (!(l = member(r, "dst"))) return ferry_seterr(eb, FERRY_ERR_PARSE, "audit.dst: missing");
  if (!json_is_object(l)) return ferry_seterr(eb, FERRY_ERR_PARSE, "audit.dst: not an object");
  TRY(get_str(l, "audit.dst", "store", 1, &a->dst.store, eb));
  TRY(get_str(l, "audit.dst", "bucket", 1, &a->dst.bucket, eb));
  TRY(get_str(l, "audit.dst", "prefix", 0, &a->dst.prefix, eb));
  if (!a->dst.prefix) a->dst.prefix = fx_strdup("");
  if (!(arr = member(r, "records")))
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
  if (member(r, "part") || member(r, "parts")) {
    int64_t parts;
    TRY(get_int(r, P, "parts", 1, INT_MAX, &parts, eb));
    TRY(get_int(r, P, "part", 1, parts, &x, eb));
    a->part = (int)x;
    a->parts = (int)parts;
  }
  return FERRY_OK;
}

#undef TRY

ferry_err_t msg_audit_decode(const char *buf, size_t len, msg_audit_t *out, char *errbuf) {
  json_error_t je;
  json_t *r;
  json_t *v;
  ferry_err_t e;
  memset(out, 0, sizeof(*out));
  if (!buf || len == 0) return ferry_seterr(errbuf, FERRY_ERR_PARSE, "audit: empty input");
  r = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  if (!r)
    return ferry_seterr(errbuf, FERRY_ERR_PARSE, "audit: invalid JSON at byte %d: %s",
                        je.position, je.text);
  if (!json_is_object(r)) {
    json_decref(r);
    return ferry_seterr(errbuf, FERRY_ERR_PARSE, "audit: not a JSON object");
  }
  v = member(r, "v");
  if (!v) e = ferry_seterr(errbuf, FERRY_ERR_PARSE, "audit.v: missing");
  else if (!json_is_integer(v)) e = ferry_seterr(errbuf, FERRY_ERR_PARSE, "audit.v: not an integer");
  else if (json_integer_value(v) != MSG_VERSION)
    e = ferry_seterr(errbuf, FERRY_ERR_PARSE, "audit.v: unsupported version %lld (expected %d)",
                     (long long)json_integer_value(v), MSG_VERSION);
  else e = dec_audit(r, out, errbuf);
  json_decref(r);
  if (e != FERRY_OK) msg_audit_release(out);
  return e;
}
