/* resjoin.c: joining split results (resjoin.h). */
#include "bus/resjoin.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct rset {
  msg_result_t *parts;   /* indexed part - 1; .task NULL = not arrived */
  int n_parts, have;
} rset_t;

struct resjoin {
  rset_t *sets;
  size_t n, cap;
};

resjoin_t *resjoin_new(void) { return fx_calloc(1, sizeof(resjoin_t)); }

static void set_release(rset_t *s) {
  int i;
  for (i = 0; i < s->n_parts; i++) msg_result_release(&s->parts[i]);
  fx_free(s->parts);
  memset(s, 0, sizeof(*s));
}

void resjoin_destroy(resjoin_t *j) {
  size_t i;
  if (!j) return;
  for (i = 0; i < j->n; i++) set_release(&j->sets[i]);
  fx_free(j->sets);
  fx_free(j);
}

size_t resjoin_pending(const resjoin_t *j) { return j->n; }

/* Any part that has arrived: the set's shared fields. */
static const msg_result_t *set_any(const rset_t *s) {
  int i;
  for (i = 0; i < s->n_parts; i++)
    if (s->parts[i].task) return &s->parts[i];
  return NULL;
}

static int same_segment(const msg_result_t *a, const msg_result_t *b) {
  return a->run == b->run && strcmp(a->task, b->task) == 0 &&
         strcmp(a->segment, b->segment) == 0;
}

static int same_publication(const msg_result_t *a, const msg_result_t *b) {
  return same_segment(a, b) && a->parts == b->parts && a->started_ms == b->started_ms &&
         strcmp(a->worker, b->worker) == 0;
}

static int same_counts(const msg_result_t *a, const msg_result_t *b) {
  return a->n_objects == b->n_objects && a->n_copied == b->n_copied &&
         a->n_skipped == b->n_skipped && a->n_failed == b->n_failed && a->bytes == b->bytes &&
         a->finished_ms == b->finished_ms && a->range.present == b->range.present;
}

static int cmp_key(const void *x, const void *y) {
  const msg_outcome_t *a = *(const msg_outcome_t *const *)x;
  const msg_outcome_t *b = *(const msg_outcome_t *const *)y;
  int c = strcmp(a->key, b->key);
  /* Equal keys: the earlier one first, so it is the one kept. */
  return c ? c : (a < b ? -1 : a > b);
}

/* Drops outcomes whose key came before, keeping the order of the rest. */
static void dedup_outcomes(msg_result_t *r) {
  msg_outcome_t **by = fx_calloc(r->n_outcomes + 1, sizeof(*by));
  unsigned char *drop = fx_calloc(r->n_outcomes + 1, 1);
  size_t i, k = 0;
  for (i = 0; i < r->n_outcomes; i++) by[i] = &r->outcomes[i];
  qsort(by, r->n_outcomes, sizeof(*by), cmp_key);
  for (i = 1; i < r->n_outcomes; i++)
    if (strcmp(by[i]->key, by[i - 1]->key) == 0) drop[by[i] - r->outcomes] = 1;
  for (i = 0; i < r->n_outcomes; i++) {
    if (drop[i]) msg_outcome_release(&r->outcomes[i]);
    else r->outcomes[k++] = r->outcomes[i];
  }
  r->n_outcomes = k;
  fx_free(by);
  fx_free(drop);
}

/* Moves the parts of a complete set into one result. */
static void set_join(rset_t *s, msg_result_t *whole) {
  size_t total = 0, k = 0;
  int i;
  for (i = 0; i < s->n_parts; i++) total += s->parts[i].n_outcomes;
  *whole = s->parts[0];
  whole->outcomes = total ? fx_calloc(total, sizeof(*whole->outcomes)) : NULL;
  for (i = 0; i < s->n_parts; i++) {
    msg_result_t *p = &s->parts[i];
    if (p->n_outcomes) memcpy(whole->outcomes + k, p->outcomes, p->n_outcomes * sizeof(*p->outcomes));
    k += p->n_outcomes;
    fx_free(p->outcomes);
    p->outcomes = NULL;
    p->n_outcomes = 0;
    if (i) msg_result_release(p);
  }
  whole->n_outcomes = total;
  whole->part = whole->parts = 0;
  fx_free(s->parts);
  memset(s, 0, sizeof(*s));
  dedup_outcomes(whole);
}

/* Removes set i (already released or moved) and every incomplete set of
 * the same segment and run. */
static void drop_segment(resjoin_t *j, const msg_result_t *done, size_t i) {
  size_t k, w = 0;
  j->sets[i].n_parts = -1;
  for (k = 0; k < j->n; k++) {
    rset_t *s = &j->sets[k];
    const msg_result_t *any = s->n_parts > 0 ? set_any(s) : NULL;
    if (s->n_parts < 0 || (any && same_segment(any, done))) {
      if (s->n_parts > 0) set_release(s);
      continue;
    }
    j->sets[w++] = *s;
  }
  j->n = w;
}

int resjoin_add(resjoin_t *j, msg_result_t *part, msg_result_t *whole, char *errbuf) {
  size_t i;
  rset_t *s = NULL;
  memset(whole, 0, sizeof(*whole));
  if (part->parts <= 1) {
    *whole = *part;
    whole->part = whole->parts = 0;
    memset(part, 0, sizeof(*part));
    return 1;
  }
  for (i = 0; i < j->n && !s; i++) {
    const msg_result_t *any = set_any(&j->sets[i]);
    if (any && same_publication(any, part)) s = &j->sets[i];
  }
  if (s) {
    const msg_result_t *any = set_any(s);
    if (!same_counts(any, part)) {
      ferry_seterr(errbuf, FERRY_ERR_INVALID,
                   "result part %d/%d of segment %s (run %d, worker %s): its counts differ "
                   "from the other parts'", part->part, part->parts, part->segment, part->run,
                   part->worker);
      return -1;
    }
  } else {
    if (j->n == j->cap) {
      j->cap = j->cap ? j->cap * 2 : 8;
      j->sets = fx_realloc(j->sets, j->cap * sizeof(*j->sets));
    }
    s = &j->sets[j->n++];
    memset(s, 0, sizeof(*s));
    s->n_parts = part->parts;
    s->parts = fx_calloc((size_t)part->parts, sizeof(*s->parts));
  }
  if (s->parts[part->part - 1].task) {
    msg_result_release(part);   /* a part already held */
    return 0;
  }
  s->parts[part->part - 1] = *part;
  memset(part, 0, sizeof(*part));
  if (++s->have < s->n_parts) return 0;
  set_join(s, whole);
  drop_segment(j, whole, (size_t)(s - j->sets));
  return 1;
}
