/*
 * jsonx.h: the small JSON helpers every message codec of lib/bus shares
 * (Jansson): encoders that report what cannot be represented, and decoders
 * that name the field in their errors ("segment.objs[3].size: not a
 * non-negative integer"). Pure, thread-safe. A JSON null reads as absent.
 */
#ifndef FERRY_BUS_JSONX_H
#define FERRY_BUS_JSONX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ferry.h"

/* Encoding: each returns 0, or -1 when the value cannot be represented (a
 * NULL required string, invalid UTF-8, an integer beyond signed 64 bits). */
int jx_put(json_t *o, const char *k, json_t *v);
int jx_put_str(json_t *o, const char *k, const char *s);
int jx_put_opt_str(json_t *o, const char *k, const char *s);  /* NULL: omitted */
int jx_put_i64(json_t *o, const char *k, int64_t v);
int jx_put_u64(json_t *o, const char *k, uint64_t v);
/* Serializes compactly and frees root; NULL root or bad != 0 gives NULL. */
char *jx_finish(json_t *root, int bad);

/* At most 40 bytes of s, quoted and printable, for error messages. */
void jx_quote(char *out, size_t outlen, const char *s);
json_t *jx_member(json_t *o, const char *name);
ferry_err_t jx_missing(char *eb, const char *path, const char *name);
/* Decoding members of o; path names o in errors. */
ferry_err_t jx_get_str(json_t *o, const char *path, const char *name, int req, int nonempty,
                       char **out, char *eb);
ferry_err_t jx_get_int_range(json_t *o, const char *path, const char *name, int64_t lo,
                             int64_t hi, int64_t *out, char *eb);
ferry_err_t jx_get_int(json_t *o, const char *path, const char *name, int lo, int hi,
                       int *out, char *eb);
ferry_err_t jx_get_u64(json_t *o, const char *path, const char *name, uint64_t *out,
                       char *eb);
ferry_err_t jx_get_time(json_t *o, const char *path, const char *name, int64_t *out,
                        char *eb);
ferry_err_t jx_get_enum(json_t *o, const char *path, const char *name,
                        const char *const *names, size_t n, int *out, char *eb);
ferry_err_t jx_get_obj(json_t *o, const char *path, const char *name, json_t **child,
                       char *eb);
ferry_err_t jx_get_arr(json_t *o, const char *path, const char *name, json_t **child,
                       char *eb);
/* Parses buf as one JSON object whose "v" is MSG_VERSION; *root is new on
 * success. what names the message in errors ("segment"). */
ferry_err_t jx_load(const char *buf, size_t len, const char *what, json_t **root,
                    char *eb);

/*
 * A message with a list of items (a result's outcomes, an audit's records)
 * encoded as parts of at most max_len bytes each, for topics with a message
 * limit: one message (parts 0, 0) when it fits, else parts 1..n, each with
 * the message's other fields and a consecutive slice of the items, in order.
 */
typedef struct jx_parts_spec {
  const void *msg;
  size_t n_items;
  /* msg with items [first, first + cnt) as part `part` of `parts` (0, 0: whole). */
  char *(*slice)(const void *msg, size_t first, size_t cnt, int part, int parts);
  size_t (*item_len)(const void *msg, size_t i);  /* encoded length, 0 = cannot */
  const char *(*item_key)(const void *msg, size_t i);  /* for errors */
  const char *what;      /* "result", "audit" */
  const char *item;      /* "outcome", "record" */
  const char *segment;   /* the segment id, for errors */
  int none_when_empty;   /* no items: nothing to send (*n = 0) */
} jx_parts_spec_t;

/* On FERRY_OK *out is a new array of *n strings (msg_parts_free).
 * FERRY_ERR_INVALID when the message cannot be encoded or one item alone with
 * the other fields is longer than max_len (naming its key). */
ferry_err_t jx_encode_parts(const jx_parts_spec_t *s, size_t max_len, char ***out, size_t *n,
                            char *errbuf);

#endif
