/* shardplan.c: the key ranges of a sharded listing (shardplan.h). */
#include "plan/shardplan.h"

#include <string.h>

typedef struct ent {
  char *s;
  int is_prefix;
} ent_t;

typedef struct ents {
  ent_t *v;
  size_t n, cap;
} ents_t;

static void ents_push(ents_t *e, const char *s, int is_prefix) {
  if (e->n == e->cap) {
    e->cap = e->cap ? e->cap * 2 : 64;
    e->v = fx_realloc(e->v, e->cap * sizeof(*e->v));
  }
  e->v[e->n].s = fx_strdup(s);
  e->v[e->n].is_prefix = is_prefix;
  e->n++;
}

static void ents_release(ents_t *e) {
  size_t i;
  for (i = 0; i < e->n; i++) fx_free(e->v[i].s);
  fx_free(e->v);
  memset(e, 0, sizeof(*e));
}

int shardplan_where(const char *key, const char *lo, const char *hi) {
  if (lo && strcmp(key, lo) <= 0) return -1;
  if (hi && strcmp(key, hi) > 0) return 1;
  return 0;
}

void shardplan_release(shardplan_t *p) {
  size_t i;
  if (!p) return;
  for (i = 0; i < p->n; i++) {
    fx_free(p->shards[i].lo);
    fx_free(p->shards[i].hi);
  }
  fx_free(p->shards);
  memset(p, 0, sizeof(*p));
}

/*
 * k = min(shards, n) ranges (one when n < 2). Shard j (j >= 1) starts after
 * entry[floor(j*n/k)]: the bound is that entry itself, which is strictly
 * increasing in j because k <= n. A prefix entry as bound keeps all its keys
 * but its marker in shard j; a key entry as bound goes to shard j - 1. Either
 * way each shard holds about n/k entries.
 */
void shardplan_split(const char *const *entries, size_t n_entries, size_t shards,
                     shardplan_t *out) {
  size_t k, j;
  memset(out, 0, sizeof(*out));
  if (shards < 1) shards = 1;
  if (shards > SHARDPLAN_MAX_SHARDS) shards = SHARDPLAN_MAX_SHARDS;
  k = n_entries < 2 ? 1 : (shards < n_entries ? shards : n_entries);
  out->shards = fx_calloc(k, sizeof(*out->shards));
  out->n = k;
  out->entries = n_entries;
  for (j = 1; j < k; j++) {
    size_t idx = (size_t)((unsigned long long)j * n_entries / k);
    out->shards[j].lo = fx_strdup(entries[idx]);
    out->shards[j - 1].hi = fx_strdup(entries[idx]);
  }
}

/* Appends the entries directly under prefix, in order, until there are max of
 * them in *e (then *cut = 1). */
static ferry_err_t level(shardplan_list_fn list, void *ctx, const char *prefix, size_t max,
                         ents_t *e, int *cut, unsigned long *pages, char *errbuf) {
  char *token = NULL;
  size_t plen = strlen(prefix);
  ferry_err_t err = FERRY_OK;
  for (;;) {
    store_list_page_t page;
    size_t a = 0, b = 0, before = e->n;
    int more;
    memset(&page, 0, sizeof(page));
    if ((err = list(ctx, prefix, token, &page, errbuf))) {
      store_list_page_release(&page);
      break;
    }
    (*pages)++;
    /* Keys and common prefixes come as two sorted lists: merge them. */
    while ((a < page.n_objects || b < page.n_prefixes) && !*cut) {
      const char *k = a < page.n_objects ? page.objects[a].key : NULL;
      const char *p = b < page.n_prefixes ? page.prefixes[b] : NULL;
      int take_key = k && (!p || strcmp(k, p) < 0);
      const char *s = take_key ? k : p;
      if (take_key) a++;
      else b++;
      /* Only what lies strictly under the prefix, in increasing order. */
      if (!s || strncmp(s, prefix, plen) != 0 || !s[plen]) continue;
      if (e->n && strcmp(s, e->v[e->n - 1].s) <= 0) continue;
      if (e->n >= max) {
        *cut = 1;
        break;
      }
      ents_push(e, s, !take_key);
    }
    more = page.truncated && !*cut;
    if (more && e->n == before && page.n_objects + page.n_prefixes > 0) {
      /* Nothing new on a full page: the store ignored the token (it would
       * answer the same page for ever). The plan is only about balance. */
      *cut = 1;
      more = 0;
    }
    fx_free(token);
    token = NULL;
    if (more) {
      if (page.next_token && *page.next_token) {
        token = fx_strdup(page.next_token);
      } else {
        /* A store without tokens: this plan is only about balance, so
         * stop rather than guess a start-after. */
        *cut = 1;
        more = 0;
      }
    }
    store_list_page_release(&page);
    if (!more) break;
  }
  fx_free(token);
  return err;
}

static int any_prefix(const ents_t *e) {
  size_t i;
  for (i = 0; i < e->n; i++)
    if (e->v[i].is_prefix) return 1;
  return 0;
}

ferry_err_t shardplan_discover(shardplan_list_fn list, void *ctx, const char *prefix,
                               size_t shards, size_t max_entries, shardplan_t *out,
                               char *errbuf) {
  ents_t cur;
  int cut = 0, depth = 1;
  unsigned long pages = 0;
  ferry_err_t e;
  const char **v;
  size_t i;
  memset(out, 0, sizeof(*out));
  memset(&cur, 0, sizeof(cur));
  if (!prefix) prefix = "";
  if (shards < 1) shards = 1;
  if (max_entries == 0) max_entries = SHARDPLAN_DEFAULT_MAX_ENTRIES;
  if (shards > 1) {
    if ((e = level(list, ctx, prefix, max_entries, &cur, &cut, &pages, errbuf))) {
      ents_release(&cur);
      return e;
    }
    while (!cut && cur.n < 4 * shards && depth < SHARDPLAN_MAX_DEPTH && any_prefix(&cur)) {
      ents_t next;
      int ncut = 0;
      memset(&next, 0, sizeof(next));
      for (i = 0; i < cur.n && !ncut; i++) {
        size_t before = next.n;
        if (!cur.v[i].is_prefix) {
          if (next.n >= max_entries) ncut = 1;
          else ents_push(&next, cur.v[i].s, 0);
          continue;
        }
        if ((e = level(list, ctx, cur.v[i].s, max_entries, &next, &ncut, &pages, errbuf))) {
          ents_release(&next);
          ents_release(&cur);
          return e;
        }
        /* A prefix that lists nothing under it stays as it was. */
        if (next.n == before && !ncut) ents_push(&next, cur.v[i].s, 0);
      }
      if (ncut) {
        /* Too many below: keep the level above, which is complete. */
        ents_release(&next);
        break;
      }
      ents_release(&cur);
      cur = next;
      depth++;
    }
  }
  v = fx_calloc(cur.n ? cur.n : 1, sizeof(*v));
  for (i = 0; i < cur.n; i++) v[i] = cur.v[i].s;
  shardplan_split(v, cur.n, shards, out);
  out->cut = cut;
  out->pages = pages;
  fx_free(v);
  ents_release(&cur);
  return FERRY_OK;
}
