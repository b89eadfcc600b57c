/*
 * jsonx.c: the JSON helpers the message codecs share (jsonx.h).
 */
#include "bus/jsonx.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bus/msg.h"

/*
 * Each put_* returns 0, or -1 when the value cannot be represented: a NULL
 * required string, a string that is not valid UTF-8, an integer beyond
 * JSON's signed 64-bit range. The encoder then returns NULL.
 */
int jx_put(json_t *o, const char *k, json_t *v) {
  return v ? json_object_set_new(o, k, v) : -1;
}

int jx_put_str(json_t *o, const char *k, const char *s) {
  return s ? jx_put(o, k, json_string(s)) : -1;
}

int jx_put_opt_str(json_t *o, const char *k, const char *s) {
  return s ? jx_put(o, k, json_string(s)) : 0;
}

int jx_put_i64(json_t *o, const char *k, int64_t v) {
  return jx_put(o, k, json_integer((json_int_t)v));
}

int jx_put_u64(json_t *o, const char *k, uint64_t v) {
  if (v > (uint64_t)INT64_MAX) return -1;
  return jx_put(o, k, json_integer((json_int_t)v));
}

/* Serializes and frees root; NULL root or bad != 0 gives NULL. */
char *jx_finish(json_t *root, int bad) {
  char *s = NULL;
  if (root && !bad) s = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(root);
  return s;
}

/*
 * Writes at most 40 bytes of s into out as a quoted, printable string, so an
 * error message never carries control bytes or a megabyte of garbage.
 */
void jx_quote(char *out, size_t outlen, const char *s) {
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
json_t *jx_member(json_t *o, const char *name) {
  json_t *v = json_object_get(o, name);
  return json_is_null(v) ? NULL : v;
}

ferry_err_t jx_missing(char *eb, const char *path, const char *name) {
  return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: missing", path, name);
}

/* A string member; nonempty rejects "". NUL inside is refused because every
 * string here is a C string (and no store key can contain NUL). */
ferry_err_t jx_get_str(json_t *o, const char *path, const char *name,
                       int req, int nonempty, char **out, char *eb) {
  json_t *v = jx_member(o, name);
  const char *s;
  size_t n;
  *out = NULL;
  if (!v) return req ? jx_missing(eb, path, name) : FERRY_OK;
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
ferry_err_t jx_get_int_range(json_t *o, const char *path, const char *name,
                             int64_t lo, int64_t hi, int64_t *out, char *eb) {
  json_t *v = jx_member(o, name);
  json_int_t x;
  if (!v) return jx_missing(eb, path, name);
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

ferry_err_t jx_get_int(json_t *o, const char *path, const char *name,
                       int lo, int hi, int *out, char *eb) {
  int64_t x = 0;  /* set on FERRY_OK; GCC -O3 cannot tell */
  ferry_err_t e = jx_get_int_range(o, path, name, lo, hi, &x, eb);
  if (e == FERRY_OK) *out = (int)x;
  return e;
}

/* A size or count: Jansson integers are signed 64-bit, so values are
 * 0..2^63-1 (larger ones fail in the parser); negatives are refused. */
ferry_err_t jx_get_u64(json_t *o, const char *path, const char *name,
                       uint64_t *out, char *eb) {
  json_t *v = jx_member(o, name);
  if (!v) return jx_missing(eb, path, name);
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not a non-negative integer",
                        path, name);
  *out = (uint64_t)json_integer_value(v);
  return FERRY_OK;
}

/* Unix milliseconds (or seconds): non-negative, as a size is. */
ferry_err_t jx_get_time(json_t *o, const char *path, const char *name,
                        int64_t *out, char *eb) {
  uint64_t x = 0;
  ferry_err_t e = jx_get_u64(o, path, name, &x, eb);
  if (e == FERRY_OK) *out = (int64_t)x;
  return e;
}

/* One of names[]; returns its index in *out. */
ferry_err_t jx_get_enum(json_t *o, const char *path, const char *name,
                        const char *const *names, size_t n, int *out,
                        char *eb) {
  json_t *v = jx_member(o, name);
  const char *s;
  char q[64];
  size_t i;
  if (!v) return jx_missing(eb, path, name);
  if (!json_is_string(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not a string", path, name);
  s = json_string_value(v);
  for (i = 0; i < n; i++) {
    if (strlen(names[i]) == json_string_length(v) && strcmp(s, names[i]) == 0) {
      *out = (int)i;
      return FERRY_OK;
    }
  }
  jx_quote(q, sizeof(q), s);
  return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: unknown value %s", path, name, q);
}

/* A sub-object member; *child borrowed. */
ferry_err_t jx_get_obj(json_t *o, const char *path, const char *name,
                       json_t **child, char *eb) {
  json_t *v = jx_member(o, name);
  if (!v) return jx_missing(eb, path, name);
  if (!json_is_object(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not an object", path, name);
  *child = v;
  return FERRY_OK;
}

ferry_err_t jx_get_arr(json_t *o, const char *path, const char *name,
                       json_t **child, char *eb) {
  json_t *v = jx_member(o, name);
  if (!v) return jx_missing(eb, path, name);
  if (!json_is_array(v))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.%s: not an array", path, name);
  *child = v;
  return FERRY_OK;
}

/* Parses buf as one JSON object, checks "v". *root is new on success. */
ferry_err_t jx_load(const char *buf, size_t len, const char *what,
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
  e = jx_get_int_range(r, what, "v", INT64_MIN, INT64_MAX, &v, eb);
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

/* Where each part starts: parts holding as many items as fit, greedily. */
static ferry_err_t plan_parts(const jx_parts_spec_t *s, size_t max_len, size_t head_len,
                              size_t *first, size_t *n_parts, char *errbuf) {
  size_t i, used = max_len + 1; /* forces a new part at the first item */
  *n_parts = 0;
  for (i = 0; i < s->n_items; i++) {
    size_t len = s->item_len(s->msg, i);
    if (!len || head_len + len > max_len) {
      const char *k = s->item_key(s->msg, i);
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "%s of segment %s: the %s of key \"%.200s\" alone needs %zu bytes, "
                          "more than the limit of %zu",
                          s->what, s->segment, s->item, k ? k : "?", head_len + len, max_len);
    }
    if (used + 1 + len > max_len) { /* +1: the comma between two items */
      first[(*n_parts)++] = i;
      used = head_len + len;
    } else {
      used += 1 + len;
    }
  }
  first[*n_parts] = s->n_items;
  return FERRY_OK;
}

ferry_err_t jx_encode_parts(const jx_parts_spec_t *s, size_t max_len, char ***out, size_t *n,
                            char *errbuf) {
  char *whole, *head;
  size_t *first, n_parts = 0, i, head_len;
  ferry_err_t e;
  *out = NULL;
  *n = 0;
  if (s->n_items == 0 && s->none_when_empty) return FERRY_OK;
  if (!(whole = s->slice(s->msg, 0, s->n_items, 0, 0)))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "%s of segment %s cannot be encoded",
                        s->what, s->segment);
  if (strlen(whole) <= max_len || s->n_items == 0) {
    if (strlen(whole) > max_len) {
      e = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                       "%s of segment %s is %zu bytes, more than the limit of %zu", s->what,
                       s->segment, strlen(whole), max_len);
      fx_free(whole);
      return e;
    }
    *out = fx_calloc(1, sizeof(**out));
    (*out)[0] = whole;
    *n = 1;
    return FERRY_OK;
  }
  fx_free(whole);
  /* The fields around the items, with part numbers as long as they can get
   * (there are never more parts than items). */
  head = s->slice(s->msg, 0, 0, (int)FERRY_MIN(s->n_items, INT_MAX),
                  (int)FERRY_MIN(s->n_items, INT_MAX));
  head_len = head ? strlen(head) : 0;
  fx_free(head);
  first = fx_calloc(s->n_items + 1, sizeof(*first));
  e = plan_parts(s, max_len, head_len, first, &n_parts, errbuf);
  if (!e) {
    *out = fx_calloc(n_parts, sizeof(**out));
    for (i = 0; i < n_parts && !e; i++) {
      (*out)[i] = s->slice(s->msg, first[i], first[i + 1] - first[i], (int)i + 1, (int)n_parts);
      if (!(*out)[i] || strlen((*out)[i]) > max_len)
        e = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                         "%s of segment %s: part %zu of %zu does not fit in %zu bytes", s->what,
                         s->segment, i + 1, n_parts, max_len);
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
