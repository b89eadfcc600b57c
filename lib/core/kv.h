/*
 * kv.h: an ordered list of name/value string pairs, used for HTTP headers and
 * query parameters. Names and values are copied (owned by the list).
 * Not thread-safe.
 */
#ifndef FERRY_KV_H
#define FERRY_KV_H

#include "core/ferry.h"

typedef struct kv {
  char *name;
  char *value;   /* never NULL; "" for a bare query parameter */
} kv_t;

typedef struct kvlist {
  kv_t *v;
  size_t n;
  size_t cap;
} kvlist_t;

void kvlist_init(kvlist_t *l);
void kvlist_release(kvlist_t *l);
void kvlist_add(kvlist_t *l, const char *name, const char *value);   /* value NULL = "" */
void kvlist_addn(kvlist_t *l, const char *name, const char *value, size_t vlen);
/* Replaces the first entry whose name matches case-insensitively, or adds. */
void kvlist_set(kvlist_t *l, const char *name, const char *value);
/* Borrowed value of the first case-insensitive match, or NULL. */
const char *kvlist_get(const kvlist_t *l, const char *name);
void kvlist_del(kvlist_t *l, const char *name);                      /* all matches */
void kvlist_copy(kvlist_t *dst, const kvlist_t *src);               /* appends */

#endif
