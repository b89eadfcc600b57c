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

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/enc.h"

/* Paths such as "result.outcomes[12345].request_id" fit easily. */
#define PATHLEN 96

/* Part numbers of a multipart upload are 1..10000 in S3, OSS and COS. */
#define MAX_PART 10000

static const char *const state_names[] = {"listing", "listed", "failed"};

/* ---------- encoding ---------- */

/*
 * Each put_* returns 0, or -1 when the value cannot be represented: a NULL
 * required string, a string that is not valid UTF-8, an integer beyond
 * JSON's signed 64-bit range. The encoder then returns NULL.
 */
static int put(json_t *o, const char *k, json_t *v) {
  return v ? json_object_set_new(o, k, v) : -1;
}

static int put_str(json_t *o, const char *k, const char *s) {
  return s ? put(o, k, json_string(s)) : -1;
}

static int put_opt_str(json_t *o, const char *k, const char *s) {
  return s ? put(o, k, json_string(s)) : 0;
}

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
  return put(o, k, v);
}

static int put_i64(json_t *o, const char *k, int64_t v) {
  return put(o, k, json_integer((json_int_t)v));
}

static int put_u64(json_t *o, const char *k, uint64_t v) {
  if (v > (uint64_t)INT64_MAX) return -1;
  return put(o, k, json_integer((json_int_t)v));
}

static json_t *enc_loc(const msg_loc_t *l) {
  json_t *o = json_object();
  int bad = 0;
  bad |= put_str(o, "store", l->store);
  bad |= put_str(o, "bucket", l->bucket);
  bad |= put_str(o, "prefix", l->prefix ? l->prefix : "");
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *enc_obj(const msg_obj_t *ob) {
  json_t *o = json_object();
  int bad = 0;
  bad |= put_str(o, "key", ob->key);
  bad |= put_u64(o, "size", ob->size);
  bad |= put_opt_str(o, "etag", ob->etag);
  bad |= put_i64(o, "mtime", ob->mtime);
  if (ob->has_crc64) {
    /* Decimal string: a CRC-64 does not fit JSON's signed integers, and the
     * x-*-hash-crc64ecma headers carry the same decimal form. */
    char c[24];
    snprintf(c, sizeof(c), "%" PRIu64, ob->crc64);
    bad |= put_str(o, "crc64", c);
  }
  bad |= put_opt_str(o, "dst_key", ob->dst_key);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *enc_outcome(const msg_outcome_t *oc, int top) {
  json_t *o = json_object();
  int bad = 0;
  if (top) bad |= put_i64(o, "v", MSG_VERSION);
  bad |= put_str(o, "key", oc->key);
  bad |= put_u64(o, "size", oc->size);
  bad |= put_str(o, "status", (unsigned)oc->status < FERRY_ARRAY_LEN(msg_status_names)
                                  ? msg_status_names[oc->status] : NULL);
  bad |= put_opt_str(o, "reason", oc->reason);
  bad |= put_u64(o, "bytes", oc->bytes);
  bad |= put_i64(o, "attempts", oc->attempts);
  bad |= put_i64(o, "duration_ms", oc->duration_ms);
  bad |= put_i64(o, "http_status", oc->http_status);
  bad |= put_diag_str(o, "code", oc->code);
  bad |= put_diag_str(o, "request_id", oc->request_id);
  bad |= put_diag_str(o, "message", oc->message);
  bad |= put_opt_str(o, "etag", oc->etag);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static const char *policy_or_null(msg_policy_t p) {
  return (unsigned)p < FERRY_ARRAY_LEN(msg_policy_names) ? msg_policy_names[p] : NULL;
}

/* Serializes and frees root; NULL root or bad != 0 gives NULL. */
static char *finish(json_t *root, int bad) {
  char *s = NULL;
  if (root && !bad) s = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(root);
  return s;
}

char *msg_segment_encode(const msg_segment_t *s) {
  json_t *o = json_object(), *a = json_array();
  size_t i;
  int bad = 0;
  bad |= put_i64(o, "v", MSG_VERSION);
  bad |= put_str(o, "task", s->task);
  bad |= put_str(o, "id", s->id);
  bad |= put_i64(o, "run", s->run);
  bad |= put(o, "src", enc_loc(&s->src));
  bad |= put(o, "dst", enc_loc(&s->dst));
  bad |= put_str(o, "policy", policy_or_null(s->policy));
  if (s->has_limits) {
    json_t *l = json_object();
    bad |= put_u64(l, "qps", s->qps_limit);
    bad |= put_u64(l, "bandwidth", s->bandwidth_limit);
    bad |= put(o, "limits", l);
  }
  if (s->audit) bad |= put(o, "audit", json_true());
  for (i = 0; i < s->n_objs && !bad; i++) {
    json_t *ob = enc_obj(&s->objs[i]);
    bad |= ob ? json_array_append_new(a, ob) : -1;
  }
  bad |= put(o, "objs", a);
  if (s->range.present) {
    json_t *r = json_object();
    bad |= put_str(r, "upload_id", s->range.upload_id);
    bad |= put_i64(r, "part_first", s->range.part_first);
    bad |= put_i64(r, "part_last", s->range.part_last);
    bad |= put_u64(r, "part_size", s->range.part_size);
    if (s->range.parts_total > 0) bad |= put_i64(r, "parts_total", s->range.parts_total);
    bad |= put(o, "range", r);
  }
  return finish(o, bad);
}

char *msg_result_encode(const msg_result_t *r) {
  json_t *o = json_object(), *a = json_array();
  size_t i;
  int bad = 0;
  bad |= put_i64(o, "v", MSG_VERSION);
  bad |= put_str(o, "task", r->task);
  bad |= put_str(o, "segment", r->segment);
  bad |= put_i64(o, "run", r->run);
  bad |= put_str(o, "worker", r->worker);
  bad |= put_u64(o, "n_objects", r->n_objects);
  bad |= put_u64(o, "n_copied", r->n_copied);
  bad |= put_u64(o, "n_skipped", r->n_skipped);
  bad |= put_u64(o, "n_failed", r->n_failed);
  bad |= put_u64(o, "bytes", r->bytes);
  bad |= put_i64(o, "started_ms", r->started_ms);
  bad |= put_i64(o, "finished_ms", r->finished_ms);
  for (i = 0; i < r->n_outcomes && !bad; i++) {
    json_t *oc = enc_outcome(&r->outcomes[i], 0);
    bad |= oc ? json_array_append_new(a, oc) : -1;
  }
  bad |= put(o, "outcomes", a);
  if (r->range.present) {
    json_t *g = json_object();
    bad |= put_str(g, "key", r->range.key);
    bad |= put_u64(g, "size", r->range.size);
    bad |= put_i64(g, "part_first", r->range.part_first);
    bad |= put_i64(g, "part_last", r->range.part_last);
    bad |= put_i64(g, "parts_total", r->range.parts_total);
    bad |= put(o, "range", g);
  }
  if (r->parts > 1) {
    bad |= (r->part < 1 || r->part > r->parts) ? -1 : put_i64(o, "part", r->part);
    bad |= put_i64(o, "parts", r->parts);
  }
  return finish(o, bad);
}

void msg_parts_free(char **v, size_t n) {
  size_t i;
  for (i = 0; v && i < n; i++) fx_free(v[i]);
  fx_free(v);
}

/* Length of one outcome as an element of "outcomes"; 0 when not encodable. */
static size_t outcome_len(const msg_outcome_t *oc) {
  char *s = finish(enc_outcome(oc, 0), 0);
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

ferry_err_t msg_result_encode_parts(const msg_result_t *r, size_t max_len, char ***out,
                                    size_t *n, char *errbuf) {
  char *whole = encode_slice(r, 0, r->n_outcomes, 0, 0), *head;
  size_t *first, n_parts = 0, i, used, head_len;
  ferry_err_t e = FERRY_OK;
  *out = NULL;
  *n = 0;
  if (!whole)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "result of segment %s cannot be encoded",
                        r->segment ? r->segment : "?");
  if (strlen(whole) <= max_len || r->n_outcomes < 2) {
    if (strlen(whole) > max_len) {
      e = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                       "result of segment %s is %zu bytes, more than the limit of %zu",
                       r->segment, strlen(whole), max_len);
      fx_free(whole);
      return e;
    }
    *out = fx_calloc(1, sizeof(**out));
    (*out)[0] = whole;
    *n = 1;
    return FERRY_OK;
  }
  fx_free(whole);
  /* The fields around the outcomes, with part numbers as long as they can
   * get (there are never more parts than outcomes). */
  head = encode_slice(r, 0, 0, (int)FERRY_MIN(r->n_outcomes, INT_MAX),
                      (int)FERRY_MIN(r->n_outcomes, INT_MAX));
  head_len = head ? strlen(head) : 0;
  fx_free(head);
  first = fx_calloc(r->n_outcomes + 1, sizeof(*first));
  used = max_len + 1; /* forces a new part at the first outcome */
  for (i = 0; i < r->n_outcomes && !e; i++) {
    size_t len = outcome_len(&r->outcomes[i]);
    if (!len || head_len + len > max_len) {
      e = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                       "result of segment %s: the outcome of key \"%.200s\" alone needs "
                       "%zu bytes, more than the limit of %zu",
                       r->segment, r->outcomes[i].key ? r->outcomes[i].key : "?",
                       head_len + len, max_len);
      break;
    }
    /* +1 for the comma between two outcomes. */
    if (used + 1 + len > max_len) {
      first[n_parts++] = i;
      used = head_len + len;
    } else {
      used += 1 + len;
    }
  }
  first[n_parts] = r->n_outcomes;
  if (!e) {
    *out = fx_calloc(n_parts, sizeof(**out));
    for (i = 0; i < n_parts && !e; i++) {
      (*out)[i] = encode_slice(r, first[i], first[i + 1] - first[i], (int)i + 1, (int)n_parts);
      if (!(*out)[i] || strlen((*out)[i]) > max_len)
        e = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                         "result of segment %s: part %zu of %zu does not fit in %zu bytes",
                         r->segment, i + 1, n_parts, max_len);
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

char *msg_failed_encode(const msg_failed_t *f) {
  json_t *o = json_object();
  int bad = 0;
  bad |= put_i64(o, "v", MSG_VERSION);
  bad |= put_str(o, "task", f->task);
  bad |= put_str(o, "segment", f->segment);
  bad |= put_i64(o, "run", f->run);
  bad |= put(o, "src", enc_loc(&f->src));
  bad |= put(o, "dst", enc_loc(&f->dst));
  bad |= put(o, "obj", enc_obj(&f->obj));
  bad |= put(o, "outcome", enc_outcome(&f->outcome, 0));
  bad |= put_i64(o, "at_ms", f->at_ms);
  return finish(o, bad);
}

char *msg_heartbeat_encode(const msg_heartbeat_t *h) {
  json_t *o = json_object(), *a = json_array();
  int bad = 0;
  size_t i;
  bad |= put_i64(o, "v", MSG_VERSION);
  bad |= put_str(o, "worker", h->worker);
  bad |= put_str(o, "instance", h->instance);
  bad |= put_i64(o, "at_ms", h->at_ms);
  bad |= put_i64(o, "every_ms", h->every_ms);
  if (h->leaving) bad |= put(o, "leaving", json_true());
  for (i = 0; i < h->n_tasks; i++) {
    json_t *t = json_object();
    bad |= put_str(t, "task", h->tasks[i].task);
    bad |= put_u64(t, "objects", h->tasks[i].objects);
    bad |= put(t, "held", json_boolean(h->tasks[i].held));
    bad |= json_array_append_new(a, t);
  }
  bad |= put(o, "tasks", a);
  return finish(o, bad);
}

char *msg_task_encode(const msg_task_t *t) {
  json_t *o = json_object();
  int bad = 0;
  bad |= put_i64(o, "v", MSG_VERSION);
  bad |= put_str(o, "task", t->task);
  bad |= put_i64(o, "run", t->run);
  bad |= put(o, "src", enc_loc(&t->src));
  bad |= put(o, "dst", enc_loc(&t->dst));
  bad |= put_str(o, "policy", policy_or_null(t->policy));
  bad |= put_str(o, "state", t->state);
  bad |= put_u64(o, "listed_objects", t->listed_objects);
  bad |= put_u64(o, "listed_bytes", t->listed_bytes);
  bad |= put_u64(o, "segments", t->segments);
  bad |= put_opt_str(o, "checkpoint", t->checkpoint);
  bad |= put_i64(o, "updated_ms", t->updated_ms);
  /* Optional so that full runs (and v1 readers) are unchanged. */
  if (t->retry_of != 0)
    bad |= (t->retry_of < 1 || t->retry_of >= t->run)
               ? -1 : put_i64(o, "retry_of", t->retry_of);
  bad |= put_opt_str(o, "kind", t->kind);
  if (t->n_shards) {
    json_t *a = json_array();
    size_t i;
    for (i = 0; i < t->n_shards && !bad; i++) {
      const msg_shard_t *sh = &t->shards[i];
      json_t *so = json_object();
      bad |= put_opt_str(so, "lo", sh->lo);
      bad |= put_opt_str(so, "hi", sh->hi);
      bad |= put_opt_str(so, "checkpoint", sh->checkpoint);
      bad |= put_u64(so, "segments", sh->segments);
      bad |= put_u64(so, "objects", sh->objects);
      bad |= put_u64(so, "bytes", sh->bytes);
      bad |= put(so, "done", json_boolean(sh->done));
      bad |= json_array_append_new(a, so);
    }
    bad |= put(o, "shards", a);
  }
  return finish(o, bad);
}

char *msg_outcome_encode(const msg_outcome_t *oc) {
  return finish(enc_outcome(oc, 1), 0);
}

/* ---------- decoding ---------- */

enum { OPT = 0, REQ = 1 };

/*
 * Writes at most 40 bytes of s into out as a quoted, printable string, so an
 * error message never carries control bytes or a megabyte of garbage.
 */
static void quote(char *out, size_t outlen, const char *s) {
  size_t o = 0, i;
  out[o++] = '"';
  for (i = 0; s[i] && i < 40 && o + 6 < outlen; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
      o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    else
      out[o++] = (char)c;
  }
  if (s[i] && o + 4 < outlen) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o++] = '"';
  out[o] = '\0';
}

/* Member lookup; a JSON null counts as absent. */
static json_t *member(json_t *o, const char *name) {
  json_t *v = json_object_get(o, name);
  return json_is_null(v) ? NULL : v;
}

static ferry_err_t missing(char *eb, const char *path, const char *name) {
  return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: missing", path, name);
}

/* A string member; nonempty rejects "". NUL inside is refused because every
 * string here is a C string (and no store key can contain NUL). */
static ferry_err_t get_str(json_t *o, const char *path, const char *name,
                           int req, int nonempty, char **out, char *eb) {
  json_t *v = member(o, name);
  const char *s;
  size_t n;
  *out = NULL;
  if (!v) return req ? missing(eb, path, name) : FERRY_OK;
  if (!json_is_string(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not a string", path, name);
  s = json_string_value(v);
  n = json_string_length(v);
  if (memchr(s, '\0', n))
    return ferry_seterr(eb, FERRY_ERR_PARSE,
                        "%s.%s: contains a NUL character (\\u0000), not allowed",
                        path, name);
  if (nonempty && n == 0)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: empty string", path, name);
  *out = fx_strndup(s, n);
  return FERRY_OK;
}

/* A signed integer member within [lo, hi]. */
static ferry_err_t get_int_range(json_t *o, const char *path, const char *name,
                                 int64_t lo, int64_t hi, int64_t *out, char *eb) {
  json_t *v = member(o, name);
  json_int_t x;
  if (!v) return missing(eb, path, name);
  if (!json_is_integer(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not an integer", path, name);
  x = json_integer_value(v);
  if (x < lo || x > hi)
    return ferry_seterr(eb, FERRY_ERR_PARSE,
                        "%s.%s: %lld out of range [%" PRId64 ", %" PRId64 "]",
                        path, name, (long long)x, lo, hi);
  *out = (int64_t)x;
  return FERRY_OK;
}

static ferry_err_t get_int(json_t *o, const char *path, const char *name,
                           int lo, int hi, int *out, char *eb) {
  int64_t x;
  ferry_err_t e = get_int_range(o, path, name, lo, hi, &x, eb);
  if (e == FERRY_OK) *out = (int)x;
  return e;
}

/* A size or count: Jansson integers are signed 64-bit, so values are
 * 0..2^63-1 (larger ones fail in the parser); negatives are refused. */
static ferry_err_t get_u64(json_t *o, const char *path, const char *name,
                           uint64_t *out, char *eb) {
  json_t *v = member(o, name);
  if (!v) return missing(eb, path, name);
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not a non-negative integer",
                        path, name);
  *out = (uint64_t)json_integer_value(v);
  return FERRY_OK;
}

/* Unix milliseconds (or seconds): non-negative. */
static ferry_err_t get_time(json_t *o, const char *path, const char *name,
                            int64_t *out, char *eb) {
  json_t *v = member(o, name);
  if (!v) return missing(eb, path, name);
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not a non-negative integer",
                        path, name);
  *out = (int64_t)json_integer_value(v);
  return FERRY_OK;
}

/* One of names[]; returns its index in *out. */
static ferry_err_t get_enum(json_t *o, const char *path, const char *name,
                            const char *const *names, size_t n, int *out,
                            char *eb) {
  json_t *v = member(o, name);
  const char *s;
  char q[64];
  size_t i;
  if (!v) return missing(eb, path, name);
  if (!json_is_string(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not a string", path, name);
  s = json_string_value(v);
  for (i = 0; i < n; i++) {
    if (strlen(names[i]) == json_string_length(v) && strcmp(s, names[i]) == 0) {
      *out = (int)i;
      return FERRY_OK;
    }
  }
  quote(q, sizeof(q), s);
  return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: unknown value %s", path, name, q);
}

/* A sub-object member; *child borrowed. */
static ferry_err_t get_obj(json_t *o, const char *path, const char *name,
                           json_t **child, char *eb) {
  json_t *v = member(o, name);
  if (!v) return missing(eb, path, name);
  if (!json_is_object(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not an object", path, name);
  *child = v;
  return FERRY_OK;
}

static ferry_err_t get_arr(json_t *o, const char *path, const char *name,
                           json_t **child, char *eb) {
  json_t *v = member(o, name);
  if (!v) return missing(eb, path, name);
  if (!json_is_array(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not an array", path, name);
  *child = v;
  return FERRY_OK;
}

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

/* Parses buf as one JSON object, checks "v". *root is new on success. */
static ferry_err_t load(const char *buf, size_t len, const char *what,
                        json_t **root, char *eb) {
  json_error_t je;
  json_t *r;
  int64_t v;
  ferry_err_t e;
  *root = NULL;
  if (!buf || len == 0)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: empty input", what);
  /* ALLOW_NUL lets get_str name the field holding a \u0000 instead of a bare
   * parser error; DECODE_ANY lets us say "not an object" for scalars. */
  r = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                 &je);
  if (!r)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: invalid JSON at byte %d: %s",
                        what, je.position, je.text);
  if (!json_is_object(r)) {
    json_decref(r);
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not a JSON object", what);
  }
  e = get_int_range(r, what, "v", INT64_MIN, INT64_MAX, &v, eb);
  if (e == FERRY_OK && v != MSG_VERSION)
    e = ferry_seterr(eb, FERRY_ERR_PARSE,
                     "%s.v: unsupported version %" PRId64 " (expected %d)", what,
                     v, MSG_VERSION);
  if (e != FERRY_OK) {
    json_decref(r);
    return e;
  }
  *root = r;
  return FERRY_OK;
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
  TRY(get_obj(p, ppath, name, &o, eb));
  snprintf(path, sizeof(path), "%s.%s", ppath, name);
  TRY(get_str(o, path, "store", REQ, 1, &l->store, eb));
  TRY(get_str(o, path, "bucket", REQ, 1, &l->bucket, eb));
  TRY(get_str(o, path, "prefix", OPT, 0, &l->prefix, eb));
  if (!l->prefix) l->prefix = fx_strdup("");
  return FERRY_OK;
}

static ferry_err_t dec_obj(json_t *o, const char *path, msg_obj_t *ob, char *eb) {
  char *crc = NULL;
  ferry_err_t e;
  TRY(get_str(o, path, "key", REQ, 1, &ob->key, eb));
  TRY(get_u64(o, path, "size", &ob->size, eb));
  TRY(get_str(o, path, "etag", OPT, 0, &ob->etag, eb));
  TRY(get_int_range(o, path, "mtime", -1, INT64_MAX, &ob->mtime, eb));
  TRY(get_str(o, path, "crc64", OPT, 0, &crc, eb));
  if (crc) {
    int bad = parse_u64_dec(crc, &ob->crc64);
    fx_free(crc);
    if (bad)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "%s.crc64: not a decimal unsigned 64-bit integer", path);
    ob->has_crc64 = 1;
  }
  TRY(get_str(o, path, "dst_key", OPT, 1, &ob->dst_key, eb));
  return FERRY_OK;
}

static ferry_err_t dec_outcome(json_t *o, const char *path, msg_outcome_t *oc,
                               char *eb) {
  int st;
  ferry_err_t e;
  TRY(get_str(o, path, "key", REQ, 1, &oc->key, eb));
  TRY(get_u64(o, path, "size", &oc->size, eb));
  TRY(get_enum(o, path, "status", msg_status_names, FERRY_ARRAY_LEN(msg_status_names),
               &st, eb));
  oc->status = (msg_status_t)st;
  TRY(get_str(o, path, "reason", OPT, 1, &oc->reason, eb));
  TRY(get_u64(o, path, "bytes", &oc->bytes, eb));
  TRY(get_int(o, path, "attempts", 0, INT_MAX, &oc->attempts, eb));
  TRY(get_time(o, path, "duration_ms", &oc->duration_ms, eb));
  TRY(get_int(o, path, "http_status", 0, 999, &oc->http_status, eb));
  TRY(get_str(o, path, "code", OPT, 0, &oc->code, eb));
  TRY(get_str(o, path, "request_id", OPT, 0, &oc->request_id, eb));
  TRY(get_str(o, path, "message", OPT, 0, &oc->message, eb));
  TRY(get_str(o, path, "etag", OPT, 0, &oc->etag, eb));
  return FERRY_OK;
}

static ferry_err_t dec_segment(json_t *r, msg_segment_t *s, char *eb) {
  const char *P = "segment";
  json_t *a, *rg;
  int pol;
  size_t i;
  ferry_err_t e;
  TRY(get_str(r, P, "task", REQ, 1, &s->task, eb));
  TRY(get_str(r, P, "id", REQ, 1, &s->id, eb));
  TRY(get_int(r, P, "run", 1, INT_MAX, &s->run, eb));
  TRY(dec_loc(r, P, "src", &s->src, eb));
  TRY(dec_loc(r, P, "dst", &s->dst, eb));
  TRY(get_enum(r, P, "policy", msg_policy_names, FERRY_ARRAY_LEN(msg_policy_names), &pol,
               eb));
  s->policy = (msg_policy_t)pol;
  TRY(get_arr(r, P, "objs", &a, eb));
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
  if (member(r, "limits")) {
    json_t *l;
    TRY(get_obj(r, P, "limits", &l, eb));
    s->has_limits = 1;
    TRY(get_u64(l, "segment.limits", "qps", &s->qps_limit, eb));
    TRY(get_u64(l, "segment.limits", "bandwidth", &s->bandwidth_limit, eb));
  }
  if (member(r, "audit")) {
    if (!json_is_boolean(member(r, "audit")))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "segment.audit: not a boolean");
    s->audit = json_is_true(member(r, "audit"));
  }
  if (member(r, "range")) {
    const char *RP = "segment.range";
    int64_t first, last;
    TRY(get_obj(r, P, "range", &rg, eb));
    s->range.present = 1;
    TRY(get_str(rg, RP, "upload_id", REQ, 1, &s->range.upload_id, eb));
    TRY(get_int_range(rg, RP, "part_first", 1, MAX_PART, &first, eb));
    TRY(get_int_range(rg, RP, "part_last", first, MAX_PART, &last, eb));
    s->range.part_first = (int)first;
    s->range.part_last = (int)last;
    TRY(get_u64(rg, RP, "part_size", &s->range.part_size, eb));
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
      if (member(rg, "parts_total")) {
        TRY(get_int_range(rg, RP, "parts_total", 1, MAX_PART, &given, eb));
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
  TRY(get_str(r, P, "task", REQ, 1, &res->task, eb));
  TRY(get_str(r, P, "segment", REQ, 1, &res->segment, eb));
  TRY(get_int(r, P, "run", 1, INT_MAX, &res->run, eb));
  TRY(get_str(r, P, "worker", REQ, 1, &res->worker, eb));
  TRY(get_u64(r, P, "n_objects", &res->n_objects, eb));
  TRY(get_u64(r, P, "n_copied", &res->n_copied, eb));
  TRY(get_u64(r, P, "n_skipped", &res->n_skipped, eb));
  TRY(get_u64(r, P, "n_failed", &res->n_failed, eb));
  /* Each count is < 2^63, so the sum of three cannot wrap a uint64. */
  if (res->n_copied + res->n_skipped + res->n_failed > res->n_objects)
    return ferry_seterr(eb, FERRY_ERR_PARSE,
                        "result.n_objects: %" PRIu64 " is less than copied + "
                        "skipped + failed (%" PRIu64 ")", res->n_objects,
                        res->n_copied + res->n_skipped + res->n_failed);
  TRY(get_u64(r, P, "bytes", &res->bytes, eb));
  TRY(get_time(r, P, "started_ms", &res->started_ms, eb));
  TRY(get_time(r, P, "finished_ms", &res->finished_ms, eb));
  TRY(get_arr(r, P, "outcomes", &a, eb));
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
  if (member(r, "range")) {
    const char *RP = "result.range";
    json_t *rg;
    int64_t first, last, total;
    TRY(get_obj(r, P, "range", &rg, eb));
    res->range.present = 1;
    TRY(get_str(rg, RP, "key", REQ, 1, &res->range.key, eb));
    TRY(get_u64(rg, RP, "size", &res->range.size, eb));
    TRY(get_int_range(rg, RP, "parts_total", 1, MAX_PART, &total, eb));
    TRY(get_int_range(rg, RP, "part_first", 1, total, &first, eb));
    TRY(get_int_range(rg, RP, "part_last", first, total, &last, eb));
    res->range.part_first = (int)first;
    res->range.part_last = (int)last;
    res->range.parts_total = (int)total;
    if (res->n_objects != 1)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "result.range: a part range is one object, n_objects is %" PRIu64,
                          res->n_objects);
  }
  if (member(r, "part") || member(r, "parts")) {
    /* Every part holds at least one outcome, so a result has at most as
     * many parts as objects. */
    TRY(get_int(r, P, "parts", 1, 1000000, &res->parts, eb));
    TRY(get_int(r, P, "part", 1, res->parts, &res->part, eb));
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
  TRY(get_str(r, P, "task", REQ, 1, &f->task, eb));
  TRY(get_str(r, P, "segment", REQ, 1, &f->segment, eb));
  TRY(get_int(r, P, "run", 1, INT_MAX, &f->run, eb));
  TRY(dec_loc(r, P, "src", &f->src, eb));
  TRY(dec_loc(r, P, "dst", &f->dst, eb));
  TRY(get_obj(r, P, "obj", &c, eb));
  TRY(dec_obj(c, "failed.obj", &f->obj, eb));
  TRY(get_obj(r, P, "outcome", &c, eb));
  TRY(dec_outcome(c, "failed.outcome", &f->outcome, eb));
  TRY(get_time(r, P, "at_ms", &f->at_ms, eb));
  return FERRY_OK;
}

static ferry_err_t dec_task(json_t *r, msg_task_t *t, char *eb) {
  const char *P = "task";
  int pol, st;
  ferry_err_t e;
  TRY(get_str(r, P, "task", REQ, 1, &t->task, eb));
  TRY(get_int(r, P, "run", 1, INT_MAX, &t->run, eb));
  TRY(dec_loc(r, P, "src", &t->src, eb));
  TRY(dec_loc(r, P, "dst", &t->dst, eb));
  TRY(get_enum(r, P, "policy", msg_policy_names, FERRY_ARRAY_LEN(msg_policy_names), &pol,
               eb));
  t->policy = (msg_policy_t)pol;
  TRY(get_enum(r, P, "state", state_names, FERRY_ARRAY_LEN(state_names), &st, eb));
  t->state = fx_strdup(state_names[st]);
  TRY(get_u64(r, P, "listed_objects", &t->listed_objects, eb));
  TRY(get_u64(r, P, "listed_bytes", &t->listed_bytes, eb));
  TRY(get_u64(r, P, "segments", &t->segments, eb));
  TRY(get_str(r, P, "checkpoint", OPT, 0, &t->checkpoint, eb));
  TRY(get_time(r, P, "updated_ms", &t->updated_ms, eb));
  if (member(r, "retry_of")) {
    if (t->run < 2)
      return ferry_seterr(eb, FERRY_ERR_PARSE,
                          "task.retry_of: run 1 cannot be a retry");
    TRY(get_int(r, P, "retry_of", 1, t->run - 1, &t->retry_of, eb));
  }
  TRY(get_str(r, P, "kind", OPT, 1, &t->kind, eb));
  if (member(r, "shards")) {
    json_t *a;
    size_t i;
    TRY(get_arr(r, P, "shards", &a, eb));
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
      TRY(get_str(so, path, "lo", OPT, 1, &sh->lo, eb));
      TRY(get_str(so, path, "hi", OPT, 1, &sh->hi, eb));
      TRY(get_str(so, path, "checkpoint", OPT, 1, &sh->checkpoint, eb));
      TRY(get_u64(so, path, "segments", &sh->segments, eb));
      TRY(get_u64(so, path, "objects", &sh->objects, eb));
      TRY(get_u64(so, path, "bytes", &sh->bytes, eb));
      d = member(so, "done");
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

static ferry_err_t dec_heartbeat(json_t *r, msg_heartbeat_t *h, char *eb) {
  const char *P = "heartbeat";
  json_t *a, *v;
  size_t i;
  ferry_err_t e;
  TRY(get_str(r, P, "worker", REQ, 1, &h->worker, eb));
  TRY(get_str(r, P, "instance", REQ, 1, &h->instance, eb));
  TRY(get_time(r, P, "at_ms", &h->at_ms, eb));
  TRY(get_int_range(r, P, "every_ms", 1, 600000, &h->every_ms, eb));
  v = member(r, "leaving");
  if (v && !json_is_boolean(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "heartbeat.leaving: not a boolean");
  h->leaving = v && json_is_true(v);
  TRY(get_arr(r, P, "tasks", &a, eb));
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
    TRY(get_str(t, path, "task", REQ, 1, &k->task, eb));
    TRY(get_u64(t, path, "objects", &k->objects, eb));
    v = member(t, "held");
    if (!v || !json_is_boolean(v))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.held: %s", path,
                          v ? "not a boolean" : "missing");
    k->held = json_is_true(v);
  }
  return FERRY_OK;
}

#undef TRY

/* The public decoders share load → decode → release-on-failure. */
#define DECODER(fn, type, what, dec, release)                                  \
  ferry_err_t fn(const char *buf, size_t len, type *out, char *errbuf) {       \
    json_t *root;                                                              \
    ferry_err_t e;                                                             \
    memset(out, 0, sizeof(*out));                                              \
    e = load(buf, len, what, &root, errbuf);                                   \
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
