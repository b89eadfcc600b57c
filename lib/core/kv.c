/* kv.c: name/value lists. */
#include "core/kv.h"

#include <string.h>
#include <strings.h>

void kvlist_init(kvlist_t *l) {
  l->v = NULL;
  l->n = l->cap = 0;
}

void kvlist_release(kvlist_t *l) {
  size_t i;
  for (i = 0; i < l->n; i++) {
    fx_free(l->v[i].name);
    fx_free(l->v[i].value);
  }
  fx_free(l->v);
  kvlist_init(l);
}

void kvlist_addn(kvlist_t *l, const char *name, const char *value, size_t vlen) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 8;
    l->v = fx_realloc(l->v, l->cap * sizeof(*l->v));
  }
  l->v[l->n].name = fx_strdup(name);
  l->v[l->n].value = value ? fx_strndup(value, vlen) : fx_strdup("");
  l->n++;
}

void kvlist_add(kvlist_t *l, const char *name, const char *value) {
  kvlist_addn(l, name, value, value ? strlen(value) : 0);
}

void kvlist_set(kvlist_t *l, const char *name, const char *value) {
  size_t i;
  for (i = 0; i < l->n; i++) {
    if (strcasecmp(l->v[i].name, name) == 0) {
      fx_free(l->v[i].value);
      l->v[i].value = fx_strdup(value ? value : "");
      return;
    }
  }
  kvlist_add(l, name, value);
}

const char *kvlist_get(const kvlist_t *l, const char *name) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (strcasecmp(l->v[i].name, name) == 0) return l->v[i].value;
  return NULL;
}

void kvlist_del(kvlist_t *l, const char *name) {
  size_t i = 0;
  while (i < l->n) {
    if (strcasecmp(l->v[i].name, name) == 0) {
      fx_free(l->v[i].name);
      fx_free(l->v[i].value);
      memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
      l->n--;
    } else {
      i++;
    }
  }
}

void kvlist_copy(kvlist_t *dst, const kvlist_t *src) {
  size_t i;
  for (i = 0; i < src->n; i++) kvlist_add(dst, src->v[i].name, src->v[i].value);
}
