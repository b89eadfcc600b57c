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

#endif
