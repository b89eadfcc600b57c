/* listcur.c: see listcur.h. */
#include "store/listcur.h"

#include <string.h>

#include "core/log.h"

#define FAC "list"

static void set(char **dst, const char *v) {
  fx_free(*dst);
  *dst = v ? fx_strdup(v) : NULL;
}

void store_listcur_init(store_listcur_t *c, store_list_api_t mode, const char *start_after,
                        const char *what) {
  memset(c, 0, sizeof(*c));
  c->mode = mode;
  c->api = mode == STORE_LIST_V1 ? STORE_LIST_V1 : STORE_LIST_V2;
  c->after = start_after && *start_after ? fx_strdup(start_after) : NULL;
  c->what = fx_strdup(what ? what : "?");
}

void store_listcur_release(store_listcur_t *c) {
  if (!c) return;
  fx_free(c->token);
  fx_free(c->after);
  fx_free(c->first);
  fx_free(c->last);
  fx_free(c->what);
  memset(c, 0, sizeof(*c));
}

const char *store_listcur_token(const store_listcur_t *c) {
  return c->api == STORE_LIST_V2 ? c->token : NULL;
}

const char *store_listcur_after(const store_listcur_t *c) {
  return c->api == STORE_LIST_V2 && c->token ? NULL : c->after;
}

static int same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* 1 when p repeats where the walk already was. Keys are not compared by
 * order: some stores (s3rver) do not list in byte order. */
static int stuck(const store_listcur_t *c, const store_list_page_t *p) {
  const char *f, *l;
  if (c->pages == 0 || p->n_objects == 0) return 0;
  f = p->objects[0].key;
  l = p->objects[p->n_objects - 1].key;
  return same(f, c->first) || same(f, c->after) || same(l, c->last);
}

int store_listcur_take(store_listcur_t *c, const store_list_page_t *p, char errbuf[FERRY_ERRLEN]) {
  const char *next = NULL;
  if (stuck(c, p)) {
    const char *f = p->objects[0].key;
    if (c->mode == STORE_LIST_AUTO && c->api == STORE_LIST_V2) {
      LOG_WARN(FAC, "listing=%s page=%llu event=list-v1-fallback first=%s: ListObjectsV2 did "
               "not advance (list-type=2 or start-after ignored); going on with V1 (marker)",
               FLOG_V(c->what), (unsigned long long)c->pages + 1, FLOG_Q(f));
      c->api = STORE_LIST_V1;
      set(&c->token, NULL);
      set(&c->after, c->last); /* where the walk stood, whatever V2 went on with */
      return 0;
    }
    ferry_seterr(errbuf, FERRY_ERR_STORE,
                 "listing %s: the store did not advance: page %llu starts at '%.200s' again "
                 "(it ignores %s); set list_api = \"%s\" for this store",
                 c->what, (unsigned long long)c->pages + 1, f,
                 c->api == STORE_LIST_V2 ? "ListObjectsV2's continuation or start-after"
                                         : "ListObjects' marker",
                 c->api == STORE_LIST_V2 ? "v1" : "v2");
    return -1;
  }
  c->pages++;
  if (p->n_objects > 0) {
    set(&c->first, p->objects[0].key);
    set(&c->last, p->objects[p->n_objects - 1].key);
  }
  if (!p->truncated) {
    c->done = 1;
    return 1;
  }
  if (c->api == STORE_LIST_V2 && p->next_token && *p->next_token) {
    set(&c->token, p->next_token);
    return 1;
  }
  set(&c->token, NULL);
  if (c->api == STORE_LIST_V1 && p->next_marker && *p->next_marker) next = p->next_marker;
  else if (p->n_objects > 0) next = p->objects[p->n_objects - 1].key;
  if (!next) {
    ferry_seterr(errbuf, FERRY_ERR_STORE,
                 "listing %s: a truncated page without a continuation token, marker or keys",
                 c->what);
    return -1;
  }
  set(&c->after, next);
  return 1;
}
