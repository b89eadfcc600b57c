/*
 * tally.c: the reporter's state. See tally.h for the contract and
 * docs/reporter.md for the rules; the short version:
 *
 *  - Per run: task-record figures (listing progress, totals) and counters
 *    summed over the results counted for that run. A result counts once per
 *    (task, segment id, run): the set of counted segment ids is the only
 *    per-segment memory.
 *  - The task view is the base run (the latest full run) adjusted by the
 *    retries that follow it. Retries are folded in per key: for every key
 *    that failed in the base run, its outcome in the latest retry replaces
 *    its outcome in the base run. So a key counts exactly once, whatever the
 *    order in which the topics were read.
 *  - Per key, only keys that failed (in a run at or after the base) and the
 *    retry outcomes of keys are kept: observations, one per (key, run). They
 *    live on disk (failidx.h), loaded one key at a time; what the retries
 *    change in the task's counters is summed as keys change (adj_t), so
 *    memory does not grow with failures (docs/reporter.md, "Memory").
 */
#include "report/tally.h"
#include "report/failidx.h"
#include "bus/resjoin.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------- a small string-keyed hash map (chained, FNV-1a) ---------- */

typedef struct hent {
  struct hent *next;
  uint64_t h;
  char *key;      /* owned */
  void *val;
} hent_t;

typedef struct hmap {
  hent_t **b;
  size_t nb;      /* power of two, or 0 before the first insert */
  size_t n;
} hmap_t;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

static hent_t *hmap_find(const hmap_t *m, const char *k) {
  uint64_t h;
  hent_t *e;
  if (!m->nb) return NULL;
  h = hash_str(k);
  for (e = m->b[h & (m->nb - 1)]; e; e = e->next)
    if (e->h == h && strcmp(e->key, k) == 0) return e;
  return NULL;
}

static void *hmap_get(const hmap_t *m, const char *k) {
  hent_t *e = hmap_find(m, k);
  return e ? e->val : NULL;
}

static void hmap_grow(hmap_t *m) {
  size_t nb = m->nb ? m->nb * 2 : 16, i;
  hent_t **b = fx_calloc(nb, sizeof(*b));
  for (i = 0; i < m->nb; i++) {
    hent_t *e = m->b[i], *next;
    for (; e; e = next) {
      next = e->next;
      e->next = b[e->h & (nb - 1)];
      b[e->h & (nb - 1)] = e;
    }
  }
  fx_free(m->b);
  m->b = b;
  m->nb = nb;
}

/* Inserts k (copied), which must be absent. */
static hent_t *hmap_put(hmap_t *m, const char *k, void *v) {
  hent_t *e;
  if (m->n >= m->nb) hmap_grow(m);
  e = fx_calloc(1, sizeof(*e));
  e->h = hash_str(k);
  e->key = fx_strdup(k);
  e->val = v;
  e->next = m->b[e->h & (m->nb - 1)];
  m->b[e->h & (m->nb - 1)] = e;
  m->n++;
  return e;
}

static void hmap_release(hmap_t *m, void (*freeval)(void *)) {
  size_t i;
  for (i = 0; i < m->nb; i++) {
    hent_t *e = m->b[i], *next;
    for (; e; e = next) {
      next = e->next;
      if (freeval) freeval(e->val);
      fx_free(e->key);
      fx_free(e);
    }
  }
  fx_free(m->b);
  memset(m, 0, sizeof(*m));
}

/* Iteration: for (e = hmap_first(m, &i); e; e = hmap_next(m, e, &i)). */
static hent_t *hmap_next_bucket(const hmap_t *m, size_t *i) {
  for (; *i < m->nb; (*i)++)
    if (m->b[*i]) return m->b[*i];
  return NULL;
}

static hent_t *hmap_first(const hmap_t *m, size_t *i) {
  *i = 0;
  return hmap_next_bucket(m, i);
}

static hent_t *hmap_next(const hmap_t *m, hent_t *e, size_t *i) {
  if (e->next) return e->next;
  (*i)++;
  return hmap_next_bucket(m, i);
}

/* ---------- counters by reason ---------- */

typedef struct rcount {
  tally_reason_t *v;   /* reasons owned */
  size_t n;
} rcount_t;

static uint64_t sat_add(uint64_t a, int64_t d) {
  if (d >= 0) return a + (uint64_t)d;
  return (uint64_t)(-d) > a ? 0 : a - (uint64_t)(-d);
}

static void rc_add(rcount_t *r, const char *reason, int64_t d) {
  size_t i;
  for (i = 0; i < r->n; i++) {
    if (strcmp(r->v[i].reason, reason) == 0) {
      r->v[i].n = sat_add(r->v[i].n, d);
      return;
    }
  }
  if (d <= 0) return;
  r->v = fx_realloc(r->v, (r->n + 1) * sizeof(*r->v));
  r->v[r->n].reason = fx_strdup(reason);
  r->v[r->n].n = (uint64_t)d;
  r->n++;
}

static void rc_release(rcount_t *r) {
  size_t i;
  for (i = 0; i < r->n; i++) fx_free(r->v[i].reason);
  fx_free(r->v);
  r->v = NULL;
  r->n = 0;
}

static void rc_copy(rcount_t *dst, const rcount_t *src) {
  size_t i;
  for (i = 0; i < src->n; i++) rc_add(dst, src->v[i].reason, (int64_t)src->v[i].n);
}

static int reason_cmp(const void *a, const void *b) {
  return strcmp(((const tally_reason_t *)a)->reason,
                ((const tally_reason_t *)b)->reason);
}

/* Moves r into a sorted array without zero entries; r is emptied. */
static void rc_steal(rcount_t *r, tally_reason_t **out, size_t *n) {
  size_t i, k = 0;
  for (i = 0; i < r->n; i++) {
    if (r->v[i].n)
      r->v[k++] = r->v[i];
    else
      fx_free(r->v[i].reason);
  }
  if (k) qsort(r->v, k, sizeof(*r->v), reason_cmp);
  *out = k ? r->v : NULL;
  *n = k;
  if (!k) fx_free(r->v);
  r->v = NULL;
  r->n = 0;
}

/* ---------- state ---------- */

enum { REC_LISTING = 0, REC_LISTED, REC_FAILED };

typedef struct trun {
  int run;
  /* From the latest task record of this run. */
  int has_rec;
  int retry_of;
  int rec_state;
  uint64_t listed_objects, listed_bytes, segments;
  int64_t rec_ms;
  /* Sums over the counted results of this run. */
  hmap_t segs;                /* counted segment ids (values unused) */
  uint64_t segs_done, objects, bytes_done, copied, skipped, failed, bytes_copied;
  rcount_t skipped_by, failed_by;
  int64_t first_ms, last_ms;
  /* Worker id -> twspan_t: each worker's span over its counted results
   * (first started .. last finished), summed into the busy time a trial's
   * per-worker rate is taken over (`ferry-lister --rate-from-json`). */
  hmap_t wk;
  int64_t start_ms;           /* earliest task-record time of this run (its
                                 listing began), 0 none */
  /* Fanned-out objects (docs/fanout.md): key -> tfan_t, one per object
   * whose part ranges reported in this run; fo_open of them undecided. */
  hmap_t fo;
  uint64_t fo_open;
  /* run_kind, kept current by refresh_kinds */
  tally_kind_t kind;
  int kretry_of;
  int has_obs;                /* a key's counted outcome of this run was stored */
} trun_t;

/* What the part ranges of one object said so far, in rising order of
 * precedence: a later verdict of higher rank replaces a lower one. A range
 * that found bytes damaged ("integrity") outranks a sibling's "copied": the
 * upload may have been completed with its damaged part (docs/fanout.md). */
enum { FO_OPEN = 0, FO_ABORTED, FO_FAILED, FO_COPIED, FO_CORRUPT };

typedef struct twspan {
  int64_t first_ms, last_ms;
} twspan_t;

typedef struct tfan {
  int state;
  uint64_t size;
  uint64_t done;       /* bytes counted in bytes_done for it (<= size) */
  char *label;         /* failure label counted in failed_by */
} tfan_t;

static void fan_free(void *p) {
  tfan_t *f = p;
  if (!f) return;
  fx_free(f->label);
  fx_free(f);
}

/* One key's outcome in one run. */
typedef struct tobs {
  struct tobs *next;          /* by run, descending */
  int run;
  int confirmed;              /* from a counted result (else only a failed record) */
  msg_status_t status;
  char *reason, *code, *message, *etag, *segment;
  uint64_t size, bytes;
  int attempts, http_status;
  int64_t at_ms;              /* last attempt: failed record's at_ms, else the
                                 result's finished_ms */
  int64_t rec_at_ms;          /* newest failed record merged, 0 none */
} tobs_t;

typedef struct sample {
  int run;
  int64_t s_ms, f_ms;
  uint64_t objects, bytes_done, bytes_copied;
} sample_t;

/* Signed counts by reason. */
typedef struct sreason {
  char *reason;
  int64_t n;
} sreason_t;

/* What the retries change in the base run's counters, summed over keys:
 * for every key with a base-run outcome and a later retry outcome, minus the
 * first plus the second. */
typedef struct adj {
  int64_t copied, skipped, failed, bytes_copied;
  sreason_t *sk, *fl;
  size_t n_sk, n_fl;
} adj_t;

typedef struct ttask {
  char *name;
  trun_t **runs;              /* ascending by run */
  size_t n_runs;
  uint32_t id;                /* its keys' prefix in the index */
  size_t n_keys;              /* keys in the index: tobs_t lists */
  int agg_valid;              /* adj is the sum over the index's keys */
  adj_t adj;
  int base;                   /* the latest full run (>= 1) */
  int has_def, def_run;
  int64_t def_ms;
  msg_loc_t src, dst;
  msg_policy_t policy;
  sample_t *samples;          /* results finished within the rate window of
                                 the newest one */
  size_t n_samples, cap_samples;
  int64_t max_f_ms;
  int64_t updated_ms;
} ttask_t;

struct tally {
  hmap_t tasks;               /* name -> ttask_t */
  failidx_t *idx;             /* the keys' observations, on disk */
  uint32_t next_id;
  fbuf_t vb;                  /* scratch: a key's encoded observations */
  resjoin_t *join;            /* split results waiting for their other parts */
  char *incomplete;           /* tally_set_incomplete */
  int64_t window_ms;
  uint64_t rejected, duplicates;
};

static const char *const state_strs[] = {
    "pending", "listing", "running", "completed", "completed-with-failures",
    "listing-failed"};

const char *tally_state_str(tally_state_t s) {
  return (unsigned)s < FERRY_ARRAY_LEN(state_strs) ? state_strs[s] : "unknown";
}

const char *tally_kind_str(tally_kind_t k) {
  switch (k) {
  case TALLY_KIND_UNKNOWN: return "unknown";
  case TALLY_KIND_FULL: return "full";
  case TALLY_KIND_RETRY: return "retry";
  }
  return "unknown";
}

static int failing(msg_status_t s) {
  return s == ST_FAILED || s == ST_CHANGED || s == ST_VANISHED;
}

const char *tally_outcome_label(const msg_outcome_t *o) {
  switch (o->status) {
  case ST_CHANGED: return "changed";
  case ST_VANISHED: return "vanished";
  case ST_FAILED: return o->reason ? o->reason : "failed";
  case ST_SKIPPED: return o->reason ? o->reason : "skipped";
  case ST_COPIED: return "copied";
  }
  return "failed";
}

static const char *obs_label(const tobs_t *o) {
  msg_outcome_t tmp;
  memset(&tmp, 0, sizeof(tmp));
  tmp.status = o->status;
  tmp.reason = o->reason;
  return tally_outcome_label(&tmp);
}

static void obs_free(tobs_t *o) {
  fx_free(o->reason);
  fx_free(o->code);
  fx_free(o->message);
  fx_free(o->etag);
  fx_free(o->segment);
  fx_free(o);
}

static void obs_list_free(void *p) {
  tobs_t *o = p, *next;
  for (; o; o = next) {
    next = o->next;
    obs_free(o);
  }
}

/* ---------- the retries' adjustment ---------- */

static void sr_add(sreason_t **v, size_t *n, const char *reason, int64_t d) {
  size_t i;
  for (i = 0; i < *n; i++) {
    if (strcmp((*v)[i].reason, reason) == 0) {
      (*v)[i].n += d;
      return;
    }
  }
  *v = fx_realloc(*v, (*n + 1) * sizeof(**v));
  (*v)[*n].reason = fx_strdup(reason);
  (*v)[*n].n = d;
  (*n)++;
}

static void adj_release(adj_t *a) {
  size_t i;
  for (i = 0; i < a->n_sk; i++) fx_free(a->sk[i].reason);
  for (i = 0; i < a->n_fl; i++) fx_free(a->fl[i].reason);
  fx_free(a->sk);
  fx_free(a->fl);
  memset(a, 0, sizeof(*a));
}

static const char *obs_label(const tobs_t *o);

/* One observation's share in the counters, sign +1 or -1. */
static void adj_obs(adj_t *a, const tobs_t *o, int64_t sign) {
  if (o->status == ST_COPIED) {
    a->copied += sign;
    a->bytes_copied += sign * (int64_t)o->bytes;
  } else if (o->status == ST_SKIPPED) {
    a->skipped += sign;
    sr_add(&a->sk, &a->n_sk, obs_label(o), sign);
  } else {
    a->failed += sign;
    sr_add(&a->fl, &a->n_fl, obs_label(o), sign);
  }
}

/* ---------- a key's observations, encoded for the index ---------- */

static void enc_u32(fbuf_t *b, uint32_t v) { fbuf_add(b, &v, 4); }
static void enc_u64(fbuf_t *b, uint64_t v) { fbuf_add(b, &v, 8); }

static void enc_str(fbuf_t *b, const char *s) {
  size_t n = s ? strlen(s) + 1 : 0;
  enc_u32(b, (uint32_t)n);
  if (n > 1) fbuf_add(b, s, n - 1);
}

static void obs_encode(const tobs_t *list, fbuf_t *b) {
  const tobs_t *o;
  fbuf_reset(b);
  for (o = list; o; o = o->next) {
    unsigned char fl[2] = {(unsigned char)o->confirmed, (unsigned char)o->status};
    enc_u32(b, (uint32_t)o->run);
    fbuf_add(b, fl, 2);
    enc_u64(b, o->size);
    enc_u64(b, o->bytes);
    enc_u32(b, (uint32_t)o->attempts);
    enc_u32(b, (uint32_t)o->http_status);
    enc_u64(b, (uint64_t)o->at_ms);
    enc_u64(b, (uint64_t)o->rec_at_ms);
    enc_str(b, o->reason);
    enc_str(b, o->code);
    enc_str(b, o->message);
    enc_str(b, o->etag);
    enc_str(b, o->segment);
  }
}

typedef struct dec {
  const unsigned char *p;
  size_t n, off;
  int bad;
} dec_t;

static void dec_raw(dec_t *d, void *out, size_t n) {
  if (d->bad || d->n - d->off < n) {
    d->bad = 1;
    memset(out, 0, n);
    return;
  }
  memcpy(out, d->p + d->off, n);
  d->off += n;
}

static char *dec_str(dec_t *d) {
  uint32_t n;
  char *s;
  dec_raw(d, &n, 4);
  if (d->bad || !n) return NULL;
  if (d->n - d->off < n - 1) {
    d->bad = 1;
    return NULL;
  }
  s = fx_strndup((const char *)d->p + d->off, n - 1);
  d->off += n - 1;
  return s;
}

static void obs_list_free(void *p);

/* The list encoded in p[0..n), NULL when empty; *bad = 1 when malformed
 * (what could be read is returned). */
static tobs_t *obs_decode(const void *p, size_t n, int *bad) {
  dec_t d = {p, n, 0, 0};
  tobs_t *head = NULL, **tail = &head;
  while (d.off < d.n && !d.bad) {
    tobs_t *o = fx_calloc(1, sizeof(*o));
    unsigned char fl[2];
    uint32_t u;
    uint64_t v;
    dec_raw(&d, &u, 4);
    o->run = (int)u;
    dec_raw(&d, fl, 2);
    o->confirmed = fl[0];
    o->status = (msg_status_t)fl[1];
    dec_raw(&d, &o->size, 8);
    dec_raw(&d, &o->bytes, 8);
    dec_raw(&d, &u, 4);
    o->attempts = (int)u;
    dec_raw(&d, &u, 4);
    o->http_status = (int)u;
    dec_raw(&d, &v, 8);
    o->at_ms = (int64_t)v;
    dec_raw(&d, &v, 8);
    o->rec_at_ms = (int64_t)v;
    o->reason = dec_str(&d);
    o->code = dec_str(&d);
    o->message = dec_str(&d);
    o->etag = dec_str(&d);
    o->segment = dec_str(&d);
    *tail = o;
    tail = &o->next;
  }
  *bad = d.bad;
  return head;
}

static void run_free(trun_t *r) {
  if (!r) return;
  hmap_release(&r->segs, NULL);
  hmap_release(&r->fo, fan_free);
  hmap_release(&r->wk, fx_free);
  rc_release(&r->skipped_by);
  rc_release(&r->failed_by);
  fx_free(r);
}

static void task_free(void *p) {
  ttask_t *tk = p;
  size_t i;
  if (!tk) return;
  for (i = 0; i < tk->n_runs; i++) run_free(tk->runs[i]);
  fx_free(tk->runs);
  adj_release(&tk->adj);
  if (tk->has_def) {
    msg_loc_release(&tk->src);
    msg_loc_release(&tk->dst);
  }
  fx_free(tk->samples);
  fx_free(tk->name);
  fx_free(tk);
}

tally_t *tally_open(const tally_opts_t *opts, char *errbuf) {
  failidx_t *idx = failidx_open(opts ? opts->state_dir : NULL, errbuf);
  tally_t *t;
  if (!idx) return NULL;
  t = fx_calloc(1, sizeof(*t));
  t->idx = idx;
  fbuf_init(&t->vb, 0);
  t->window_ms = (opts && opts->rate_window_ms > 0) ? opts->rate_window_ms : 30000;
  t->join = resjoin_new();
  return t;
}

tally_t *tally_new(const tally_opts_t *opts) {
  char eb[FERRY_ERRLEN];
  tally_t *t = tally_open(opts, eb);
  if (!t) {
    fprintf(stderr, "tally: %s\n", eb);
    abort();
  }
  return t;
}

void tally_destroy(tally_t *t) {
  if (!t) return;
  hmap_release(&t->tasks, task_free);
  resjoin_destroy(t->join);
  failidx_close(t->idx);
  fbuf_release(&t->vb);
  fx_free(t->incomplete);
  fx_free(t);
}

uint64_t tally_rejected(const tally_t *t) { return t->rejected; }
uint64_t tally_duplicates(const tally_t *t) { return t->duplicates; }

static ttask_t *task_get(tally_t *t, const char *name, int create) {
  ttask_t *tk = hmap_get(&t->tasks, name);
  if (tk || !create) return tk;
  tk = fx_calloc(1, sizeof(*tk));
  tk->name = fx_strdup(name);
  tk->base = 1;
  tk->id = t->next_id++;
  tk->agg_valid = 1;   /* no keys: nothing to adjust */
  hmap_put(&t->tasks, name, tk);
  return tk;
}

static trun_t *run_find(const ttask_t *tk, int run) {
  size_t i;
  for (i = 0; i < tk->n_runs; i++)
    if (tk->runs[i]->run == run) return tk->runs[i];
  return NULL;
}

static tally_kind_t run_kind(const ttask_t *tk, int run, int *retry_of);

static trun_t *run_get(ttask_t *tk, int run) {
  trun_t *r = run_find(tk, run);
  size_t i;
  if (r) return r;
  r = fx_calloc(1, sizeof(*r));
  r->run = run;
  tk->runs = fx_realloc(tk->runs, (tk->n_runs + 1) * sizeof(*tk->runs));
  for (i = tk->n_runs; i > 0 && tk->runs[i - 1]->run > run; i--)
    tk->runs[i] = tk->runs[i - 1];
  tk->runs[i] = r;
  tk->n_runs++;
  /* A run without a record changes no other run's kind (run_kind), and has
   * no counted observation yet: the adjustment stays right. */
  r->kind = run_kind(tk, run, &r->kretry_of);
  return r;
}

/* A counted result widens its run's span and its worker's. */
static void note_span(trun_t *r, const msg_result_t *m) {
  const char *w = m->worker && *m->worker ? m->worker : "?";
  twspan_t *sp = hmap_get(&r->wk, w);
  if (!r->first_ms || m->started_ms < r->first_ms) r->first_ms = m->started_ms;
  if (m->finished_ms > r->last_ms) r->last_ms = m->finished_ms;
  if (!sp) {
    sp = fx_calloc(1, sizeof(*sp));
    sp->first_ms = m->started_ms;
    hmap_put(&r->wk, w, sp);
  }
  if (m->started_ms < sp->first_ms) sp->first_ms = m->started_ms;
  if (m->finished_ms > sp->last_ms) sp->last_ms = m->finished_ms;
}

/* A run's kind: its own record says; else the next later record does
 * (retry_of names the full run, and every run between it and that record
 * is a retry of it); else unknown. */
static tally_kind_t run_kind(const ttask_t *tk, int run, int *retry_of) {
  const trun_t *x = run_find(tk, run);
  size_t i;
  *retry_of = 0;
  if (x && x->has_rec) {
    *retry_of = x->retry_of;
    return x->retry_of ? TALLY_KIND_RETRY : TALLY_KIND_FULL;
  }
  if (run == 1) return TALLY_KIND_FULL;
  for (i = 0; i < tk->n_runs; i++) {
    const trun_t *q = tk->runs[i];
    if (q->run <= run || !q->has_rec) continue;
    if (q->retry_of == run) return TALLY_KIND_FULL;
    if (q->retry_of && q->retry_of < run) {
      *retry_of = q->retry_of;
      return TALLY_KIND_RETRY;
    }
    return TALLY_KIND_UNKNOWN;  /* superseded by a later full run */
  }
  return TALLY_KIND_UNKNOWN;
}

static int later_record(const ttask_t *tk, int run) {
  size_t i;
  for (i = 0; i < tk->n_runs; i++)
    if (tk->runs[i]->run > run && tk->runs[i]->has_rec) return 1;
  return 0;
}

static void idx_error(tally_t *t, ttask_t *tk) {
  tally_set_incomplete(t, failidx_error(t->idx));
  if (tk) tk->agg_valid = 0;
}

/* Every run's kind again; a change, like a new base, changes which
 * observations the task's figures take (key_obs): the adjustment is then
 * summed again from the index when next needed. */
static void refresh_kinds(ttask_t *tk) {
  size_t i;
  for (i = 0; i < tk->n_runs; i++) {
    trun_t *r = tk->runs[i];
    int ro;
    tally_kind_t k = run_kind(tk, r->run, &ro);
    if (k != r->kind || ro != r->kretry_of) {
      r->kind = k;
      r->kretry_of = ro;
      /* Only counted outcomes of this run took its kind into the sum: a
       * retry's record before its results costs no pass. */
      if (r->has_obs) tk->agg_valid = 0;
    }
  }
}

static int prune_cb(void *arg, const char *key, const void *v, size_t n, fbuf_t *repl,
                    int *replace) {
  ttask_t *tk = arg;
  tobs_t *head, *prev = NULL, *o, *next;
  int bad, changed = 0;
  (void)key;
  head = obs_decode(v, n, &bad);
  for (o = head; o; o = next) {
    next = o->next;
    if (o->run < tk->base) {
      if (prev)
        prev->next = next;
      else
        head = next;
      obs_free(o);
      changed = 1;
    } else {
      prev = o;
    }
  }
  if (changed) {
    *replace = 1;
    if (head)
      obs_encode(head, repl);
    else
      tk->n_keys--;
  }
  obs_list_free(head);
  return 0;
}

/* Drops observations of runs before the base: no view reads them. */
static void prune_keys(tally_t *t, ttask_t *tk) {
  if (tk->n_keys && failidx_scan(t->idx, tk->id, NULL, prune_cb, tk) < 0) idx_error(t, tk);
}

static void update_base(tally_t *t, ttask_t *tk) {
  int base = 1;
  size_t i;
  for (i = 0; i < tk->n_runs; i++) {
    const trun_t *r = tk->runs[i];
    int full;
    if (!r->has_rec) continue;
    full = r->retry_of ? r->retry_of : r->run;
    if (full > base) base = full;
  }
  if (base > tk->base) {
    tk->base = base;
    tk->agg_valid = 0;
    prune_keys(t, tk);
    if (!tk->n_keys) {   /* a new full run before its results: nothing to sum */
      adj_release(&tk->adj);
      tk->agg_valid = 1;
    }
  }
}

/* ---------- adding records ---------- */

static int rec_rank(int st) { return st == REC_LISTING ? 0 : 1; }

ferry_err_t tally_add_task(tally_t *t, const msg_task_t *m, char *errbuf) {
  ttask_t *tk;
  trun_t *r;
  int st;
  if (!m->task || !*m->task)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "task.task: missing");
  if (m->run < 1)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "task.run: %d is not >= 1", m->run);
  if (m->retry_of < 0 || (m->retry_of && m->retry_of >= m->run))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "task.retry_of: %d is not in [1, run %d)", m->retry_of,
                        m->run);
  if (!m->state)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "task.state: missing");
  if (strcmp(m->state, "listing") == 0)
    st = REC_LISTING;
  else if (strcmp(m->state, "listed") == 0)
    st = REC_LISTED;
  else if (strcmp(m->state, "failed") == 0)
    st = REC_FAILED;
  else
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "task.state: unknown value");

  tk = task_get(t, m->task, 1);
  r = run_get(tk, m->run);
  if (m->updated_ms > 0 && (!r->start_ms || m->updated_ms < r->start_ms))
    r->start_ms = m->updated_ms;
  /* The newest record of a run wins; at equal times a final state beats
   * "listing", so a replayed progress record cannot undo the totals. */
  if (!r->has_rec || m->updated_ms > r->rec_ms ||
      (m->updated_ms == r->rec_ms && rec_rank(st) >= rec_rank(r->rec_state))) {
    r->has_rec = 1;
    r->retry_of = m->retry_of;
    r->rec_state = st;
    r->listed_objects = m->listed_objects;
    r->listed_bytes = m->listed_bytes;
    r->segments = m->segments;
    r->rec_ms = m->updated_ms;
  }
  if (!tk->has_def || m->run > tk->def_run ||
      (m->run == tk->def_run && m->updated_ms >= tk->def_ms)) {
    if (tk->has_def) {
      msg_loc_release(&tk->src);
      msg_loc_release(&tk->dst);
    }
    tk->src.store = fx_strdup(m->src.store ? m->src.store : "");
    tk->src.bucket = fx_strdup(m->src.bucket ? m->src.bucket : "");
    tk->src.prefix = fx_strdup(m->src.prefix ? m->src.prefix : "");
    tk->dst.store = fx_strdup(m->dst.store ? m->dst.store : "");
    tk->dst.bucket = fx_strdup(m->dst.bucket ? m->dst.bucket : "");
    tk->dst.prefix = fx_strdup(m->dst.prefix ? m->dst.prefix : "");
    tk->policy = m->policy;
    tk->has_def = 1;
    tk->def_run = m->run;
    tk->def_ms = m->updated_ms;
  }
  if (m->updated_ms > tk->updated_ms) tk->updated_ms = m->updated_ms;
  update_base(t, tk);
  refresh_kinds(tk);
  return FERRY_OK;
}

static void set_str(char **dst, const char *src) {
  fx_free(*dst);
  *dst = fx_strdup(src);
}

static void obs_fill(tobs_t *o, const msg_outcome_t *oc, const char *segment) {
  o->status = oc->status;
  set_str(&o->reason, oc->reason);
  set_str(&o->code, oc->code);
  set_str(&o->message, oc->message);
  if (oc->etag) set_str(&o->etag, oc->etag);   /* else keep a record's */
  set_str(&o->segment, segment);
  o->size = oc->size;
  o->bytes = oc->bytes;
  o->attempts = oc->attempts;
  o->http_status = oc->http_status;
}

/* The observation of run in the list *head, created when absent. */
static tobs_t *obs_get(tobs_t **head, int run) {
  tobs_t *prev = NULL, *o, *n;
  for (o = *head; o && o->run > run; o = o->next) prev = o;
  if (o && o->run == run) return o;
  n = fx_calloc(1, sizeof(*n));
  n->run = run;
  n->next = o;
  if (prev)
    prev->next = n;
  else
    *head = n;
  return n;
}

static void key_contrib(ttask_t *tk, const tobs_t *list, int64_t sign);

/* A key's observations, loaded from the index to be changed and stored
 * again with kstore: NULL when none (*exists = 0). While the adjustment is
 * kept, the key's share is taken out here and put back by kstore. */
static tobs_t *kload(tally_t *t, ttask_t *tk, const char *key, int *exists) {
  tobs_t *head;
  int r, bad = 0;
  *exists = 0;
  if (!tk->n_keys) return NULL;
  r = failidx_get(t->idx, tk->id, key, &t->vb);
  if (r < 0) idx_error(t, tk);
  if (r <= 0) return NULL;
  *exists = 1;
  head = obs_decode(t->vb.p, t->vb.len, &bad);
  if (bad) {
    tally_set_incomplete(t, "reporter state: an index entry is malformed");
    tk->agg_valid = 0;
  }
  if (tk->agg_valid) key_contrib(tk, head, -1);
  return head;
}

/* Stores head (NULL: removes the key) and frees it. */
static void kstore(tally_t *t, ttask_t *tk, const char *key, tobs_t *head, int exists) {
  if (tk->agg_valid) key_contrib(tk, head, +1);
  obs_encode(head, &t->vb);
  if (failidx_put(t->idx, tk->id, key, t->vb.p, t->vb.len) < 0)
    idx_error(t, tk);
  else if (head && !exists)
    tk->n_keys++;
  else if (!head && exists)
    tk->n_keys--;
  obs_list_free(head);
}

static void add_sample(tally_t *t, ttask_t *tk, const msg_result_t *m,
                       uint64_t objects, uint64_t bytes_done) {
  sample_t *s;
  size_t i, k;
  int64_t lo;
  if (m->finished_ms > tk->max_f_ms) tk->max_f_ms = m->finished_ms;
  lo = tk->max_f_ms - t->window_ms;
  if (m->finished_ms < lo) return;
  /* Keep only what can still fall in a window ending at or after the newest
   * result: the list stays as small as the window is short. */
  for (i = 0, k = 0; i < tk->n_samples; i++)
    if (tk->samples[i].f_ms >= lo) tk->samples[k++] = tk->samples[i];
  tk->n_samples = k;
  if (tk->n_samples == tk->cap_samples) {
    tk->cap_samples = tk->cap_samples ? tk->cap_samples * 2 : 16;
    tk->samples = fx_realloc(tk->samples, tk->cap_samples * sizeof(*tk->samples));
  }
  s = &tk->samples[tk->n_samples++];
  s->run = m->run;
  s->s_ms = m->started_ms <= m->finished_ms ? m->started_ms : m->finished_ms;
  s->f_ms = m->finished_ms;
  s->objects = objects;
  s->bytes_done = bytes_done;
  s->bytes_copied = m->bytes;
}

/* The object of a part range takes verdict v (FO_COPIED, FO_FAILED with
 * outcome fail, FO_ABORTED with outcome fail): it is counted once, on its
 * first verdict, and a verdict of higher rank replaces the counted one. */
static void fan_decide(tally_t *t, ttask_t *tk, trun_t *r, tfan_t *f, const msg_result_t *m, int v,
                       const msg_outcome_t *fail) {
  msg_outcome_t oc;
  int retry_of;
  tally_kind_t kind;
  if (f->state == FO_OPEN) {
    r->fo_open--;
    r->objects++;
    r->bytes_done += f->size - f->done;
    f->done = f->size;
  } else if (f->state == FO_COPIED) {
    r->copied = sat_add(r->copied, -1);
  } else {
    r->failed = sat_add(r->failed, -1);
    rc_add(&r->failed_by, f->label, -1);
  }
  f->state = v;
  fx_free(f->label);
  f->label = NULL;
  if (v == FO_COPIED) {
    r->copied++;
    memset(&oc, 0, sizeof(oc));
    oc.key = m->range.key;
    oc.size = m->range.size;
    oc.status = ST_COPIED;
    oc.bytes = m->range.size;
    oc.attempts = 1;
  } else {
    oc = *fail;
    oc.key = m->range.key;
    oc.size = m->range.size;
    f->label = fx_strdup(tally_outcome_label(&oc));
    r->failed++;
    rc_add(&r->failed_by, f->label, 1);
  }
  if (m->run < tk->base) return;
  /* Per key, as for a whole object (tally_add_result). */
  kind = run_kind(tk, m->run, &retry_of);
  {
    int exists;
    tobs_t *head = kload(t, tk, oc.key, &exists), *ob;
    if (!failing(oc.status) && kind != TALLY_KIND_RETRY && !exists) return;
    ob = obs_get(&head, m->run);
    obs_fill(ob, &oc, m->segment);
    ob->confirmed = 1;
    r->has_obs = 1;
    ob->at_ms = ob->rec_at_ms ? ob->rec_at_ms : m->finished_ms;
    kstore(t, tk, oc.key, head, exists);
  }
}

/* A part range's result (docs/fanout.md): the segment counts once as any
 * other, with its bytes; the object counts once per run, by its verdict. A
 * redelivered range's result still gives its verdict: its first copy may
 * have come before the object was complete. */
static ferry_err_t add_range_result(tally_t *t, ttask_t *tk, trun_t *r,
                                    const msg_result_t *m, int *dup) {
  const msg_outcome_t *fail = NULL;
  tfan_t *f;
  size_t i;
  int v = FO_OPEN;
  for (i = 0; i < m->n_outcomes && !fail; i++)
    if (failing(m->outcomes[i].status)) fail = &m->outcomes[i];
  if (fail && fail->reason && !strcmp(fail->reason, "integrity"))
    v = FO_CORRUPT;
  else if (m->n_copied)
    v = FO_COPIED;
  else if (fail)
    v = fail->reason && !strcmp(fail->reason, "upload-aborted") ? FO_ABORTED : FO_FAILED;
  f = hmap_get(&r->fo, m->range.key);
  if (!f) {
    f = fx_calloc(1, sizeof(*f));
    f->size = m->range.size;
    hmap_put(&r->fo, m->range.key, f);
    r->fo_open++;
  }
  if (hmap_find(&r->segs, m->segment)) {
    t->duplicates++;
    if (dup) *dup = 1;
  } else {
    uint64_t add = 0;
    hmap_put(&r->segs, m->segment, NULL);
    r->segs_done++;
    r->bytes_copied += m->bytes;
    if (f->state == FO_OPEN) {
      add = m->bytes < f->size - f->done ? m->bytes : f->size - f->done;
      f->done += add;
      r->bytes_done += add;
    }
    note_span(r, m);
    if (m->finished_ms > tk->updated_ms) tk->updated_ms = m->finished_ms;
    add_sample(t, tk, m, v != FO_OPEN && f->state == FO_OPEN, add);
  }
  if (v > f->state) fan_decide(t, tk, r, f, m, v, fail);
  return FERRY_OK;
}

ferry_err_t tally_add_result(tally_t *t, const msg_result_t *m, int *dup,
                             char *errbuf) {
  uint64_t n_skip = 0, n_fail = 0, n_copy = 0, bytes_done;
  ttask_t *tk;
  trun_t *r;
  size_t i;
  int retry_of;
  tally_kind_t kind;

  if (dup) *dup = 0;
  if (!m->task || !*m->task)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "result.task: missing");
  if (!m->segment || !*m->segment)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "result.segment: missing");
  if (m->run < 1)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "result.run: %d is not >= 1",
                        m->run);
  if (m->n_copied > m->n_objects || m->n_skipped > m->n_objects ||
      m->n_failed > m->n_objects ||
      m->n_copied + m->n_skipped + m->n_failed > m->n_objects)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "result.n_objects: less than copied + skipped + failed");
  bytes_done = m->bytes;
  for (i = 0; i < m->n_outcomes; i++) {
    const msg_outcome_t *o = &m->outcomes[i];
    if (!o->key || !*o->key)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "result.outcomes[%zu].key: missing", i);
    if (o->status == ST_COPIED) {
      n_copy++;
    } else {
      if (o->status == ST_SKIPPED)
        n_skip++;
      else if (failing(o->status))
        n_fail++;
      else
        return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                            "result.outcomes[%zu].status: unknown", i);
      bytes_done += o->size;
    }
  }
  if (n_skip != m->n_skipped || n_fail != m->n_failed || n_copy > m->n_copied)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "result.outcomes: %" PRIu64 " skipped, %" PRIu64
                        " failed, %" PRIu64 " copied do not match n_skipped %" PRIu64
                        ", n_failed %" PRIu64 ", n_copied %" PRIu64,
                        n_skip, n_fail, n_copy, m->n_skipped, m->n_failed,
                        m->n_copied);

  if (m->range.present && (m->n_objects != 1 || !m->range.key || !*m->range.key))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "result.range: a part range's result has one object and its key");

  tk = task_get(t, m->task, 1);
  r = run_get(tk, m->run);
  if (m->range.present) return add_range_result(t, tk, r, m, dup);
  if (hmap_find(&r->segs, m->segment)) {
    t->duplicates++;
    if (dup) *dup = 1;
    return FERRY_OK;
  }
  hmap_put(&r->segs, m->segment, NULL);
  r->segs_done++;
  r->objects += m->n_objects;
  r->copied += m->n_copied;
  r->skipped += m->n_skipped;
  r->failed += m->n_failed;
  r->bytes_copied += m->bytes;
  r->bytes_done += bytes_done;
  note_span(r, m);
  if (m->finished_ms > tk->updated_ms) tk->updated_ms = m->finished_ms;
  add_sample(t, tk, m, m->n_objects, bytes_done);

  kind = run_kind(tk, m->run, &retry_of);
  for (i = 0; i < m->n_outcomes; i++) {
    const msg_outcome_t *o = &m->outcomes[i];
    tobs_t *ob, *head;
    int exists, keep;
    if (o->status == ST_SKIPPED)
      rc_add(&r->skipped_by, tally_outcome_label(o), 1);
    else if (failing(o->status))
      rc_add(&r->failed_by, tally_outcome_label(o), 1);
    if (m->run < tk->base) continue;   /* superseded: counters only */
    /* Failures are always kept; copies and skips only where they can change
     * a failure: in retries, and for keys already known. That keeps a full
     * run's millions of copies out of the index (and off its lookups while
     * no key failed). */
    keep = failing(o->status) || kind == TALLY_KIND_RETRY;
    if (!keep && !tk->n_keys) continue;
    head = kload(t, tk, o->key, &exists);
    if (!keep && !exists) continue;
    ob = obs_get(&head, m->run);
    obs_fill(ob, o, m->segment);
    ob->confirmed = 1;
    r->has_obs = 1;
    ob->at_ms = ob->rec_at_ms ? ob->rec_at_ms : m->finished_ms;
    kstore(t, tk, o->key, head, exists);
  }
  return FERRY_OK;
}

ferry_err_t tally_add_failed(tally_t *t, const msg_failed_t *m, char *errbuf) {
  ttask_t *tk;
  tobs_t *ob, *head;
  const char *key;
  int exists;
  if (!m->task || !*m->task)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "failed.task: missing");
  if (m->run < 1)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "failed.run: %d is not >= 1",
                        m->run);
  key = m->outcome.key ? m->outcome.key : m->obj.key;
  if (!key || !*key)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "failed.outcome.key: missing");
  if (!failing(m->outcome.status))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "failed.outcome.status: \"%s\" is not a failure",
                        msg_status_str(m->outcome.status));
  tk = task_get(t, m->task, 1);
  if (m->at_ms > tk->updated_ms) tk->updated_ms = m->at_ms;
  if (m->run < tk->base) return FERRY_OK;
  /* A failed record only adds detail (the time of the last attempt). Whether
   * the key counts as failed is the counted result's word: the record may
   * come from a worker that died before its result, the segment then being
   * done again, perhaps successfully, by another. */
  head = kload(t, tk, key, &exists);
  ob = obs_get(&head, m->run);
  if (m->at_ms >= ob->rec_at_ms) {
    ob->rec_at_ms = m->at_ms;
    if (!ob->confirmed) obs_fill(ob, &m->outcome, m->segment);
    ob->at_ms = m->at_ms;
  }
  if (!ob->etag) {
    const char *etag = m->outcome.etag ? m->outcome.etag : m->obj.etag;
    if (etag) set_str(&ob->etag, etag);
  }
  kstore(t, tk, key, head, exists);
  return FERRY_OK;
}

ferry_err_t tally_feed(tally_t *t, tally_src_t src, const void *value,
                       size_t len, int *dup, char *errbuf) {
  ferry_err_t e;
  if (dup) *dup = 0;
  if (!value) return FERRY_OK;  /* a tombstone: nothing to count */
  switch (src) {
  case TALLY_SRC_TASKS: {
    msg_task_t m;
    e = msg_task_decode(value, len, &m, errbuf);
    if (e == FERRY_OK) {
      e = tally_add_task(t, &m, errbuf);
      msg_task_release(&m);
    }
    break;
  }
  case TALLY_SRC_RESULTS: {
    msg_result_t m, whole;
    int got;
    e = msg_result_decode(value, len, &m, errbuf);
    if (e != FERRY_OK) break;
    /* A result split over several messages counts once all are here. */
    got = resjoin_add(t->join, &m, &whole, errbuf);
    msg_result_release(&m);
    if (got < 0) e = FERRY_ERR_INVALID;
    if (got > 0) {
      e = tally_add_result(t, &whole, dup, errbuf);
      msg_result_release(&whole);
    }
    break;
  }
  case TALLY_SRC_FAILED: {
    msg_failed_t m;
    e = msg_failed_decode(value, len, &m, errbuf);
    if (e == FERRY_OK) {
      e = tally_add_failed(t, &m, errbuf);
      msg_failed_release(&m);
    }
    break;
  }
  default:
    e = ferry_seterr(errbuf, FERRY_ERR_INVALID, "tally: unknown source %d", (int)src);
  }
  if (e != FERRY_OK) t->rejected++;
  return e;
}

size_t tally_tracked_keys(const tally_t *t, const char *task) {
  const ttask_t *tk = hmap_get(&t->tasks, task);
  return tk ? tk->n_keys : 0;
}

static int str_ptr_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t tally_task_names(const tally_t *t, const char ***names) {
  size_t i = 0, n = 0;
  hent_t *e;
  const char **v = fx_calloc(t->tasks.n + 1, sizeof(*v));
  for (e = hmap_first(&t->tasks, &i); e; e = hmap_next(&t->tasks, e, &i))
    v[n++] = e->key;
  qsort(v, n, sizeof(*v), str_ptr_cmp);
  *names = v;
  return n;
}

/* ---------- views ---------- */

int64_t tally_eta_s(uint64_t remaining_objects, uint64_t remaining_bytes,
                    double objects_per_s, double bytes_per_s) {
  double eta = 0;
  int have = 0;
  if (remaining_objects == 0 && remaining_bytes == 0) return 0;
  if (remaining_objects) {
    if (objects_per_s > 0) {
      eta = (double)remaining_objects / objects_per_s;
      have = 1;
    }
  }
  if (remaining_bytes) {
    if (bytes_per_s > 0) {
      double b = (double)remaining_bytes / bytes_per_s;
      if (b > eta) eta = b;
      have = 1;
    }
  }
  /* Both remaining and only one rate known: that one estimate stands. */
  if (!have) return -1;
  if (eta > 1e12) eta = 1e12;
  return (int64_t)ceil(eta);
}

/* Rates over [now - window, now] from the results of runs >= min_run (or
 * exactly run when exact). A result's figures are spread evenly over its
 * [started, finished], so rates do not jump by a whole segment at a time.
 * The window starts no earlier than start_ms (when the runs began), so a
 * run's first seconds are not diluted by time before it. */
static void rates(const ttask_t *tk, int run, int exact, int64_t start_ms,
                  int64_t now, int64_t window, tally_figures_t *f) {
  int64_t lo = now - window, span;
  double obj = 0, bd = 0, bc = 0;
  size_t i;
  if (start_ms > lo) lo = start_ms;
  span = now - lo;
  if (span < 1000) span = 1000;
  for (i = 0; i < tk->n_samples; i++) {
    const sample_t *s = &tk->samples[i];
    int64_t a, b, dur = s->f_ms - s->s_ms;
    double frac;
    if (exact ? s->run != run : s->run < run) continue;
    a = s->s_ms > lo ? s->s_ms : lo;
    b = s->f_ms < now ? s->f_ms : now;
    if (dur <= 0) {
      if (s->f_ms < lo || s->f_ms > now) continue;
      frac = 1;
    } else {
      if (b <= a) continue;
      frac = (double)(b - a) / (double)dur;
    }
    obj += (double)s->objects * frac;
    bd += (double)s->bytes_done * frac;
    bc += (double)s->bytes_copied * frac;
  }
  f->objects_per_s = obj * 1000.0 / (double)span;
  f->done_bytes_per_s = bd * 1000.0 / (double)span;
  f->bytes_per_s = bc * 1000.0 / (double)span;
}

static int state_done(tally_state_t s) {
  return s == TALLY_COMPLETED || s == TALLY_COMPLETED_FAILURES;
}

static tally_state_t run_state(const ttask_t *tk, const trun_t *x) {
  if (x->has_rec) {
    if (x->rec_state == REC_FAILED) return TALLY_LISTING_FAILED;
    if (x->rec_state == REC_LISTING) return TALLY_LISTING;
    /* Every segment has a result and the results cover exactly the objects
     * listed. More than listed means results of segments this listing did
     * not publish (two listers took one run number, as they could before
     * the lister's lease): a segment of the listing may still lack its
     * result, so the run is not done. */
    if (x->segs_done < x->segments || x->fo_open) return TALLY_RUNNING;
    if (x->rec_state == REC_LISTED && x->objects != x->listed_objects) return TALLY_RUNNING;
  } else if (!later_record(tk, x->run)) {
    /* Results before any record of this run: the lister is at work. */
    return x->segs_done ? TALLY_LISTING : TALLY_PENDING;
  }
  /* Listed and every segment has a result; or a later run exists, so this
   * one's listing ended long ago (its record was compacted away). */
  return x->failed ? TALLY_COMPLETED_FAILURES : TALLY_COMPLETED;
}

/* Counters of run x into f (reasons into rs/rf); figures that need the
 * clock are left to the caller. */
static void run_figures(const ttask_t *tk, const trun_t *x, tally_figures_t *f,
                        rcount_t *rs, rcount_t *rf) {
  memset(f, 0, sizeof(*f));
  f->state = run_state(tk, x);
  if (x->has_rec) {
    f->listed_objects = x->listed_objects;
    f->listed_bytes = x->listed_bytes;
    f->segments_total = x->segments;
    f->totals_known = x->rec_state == REC_LISTED;
  } else if (state_done(f->state)) {
    f->totals_known = 1;
    f->totals_inferred = 1;
    f->listed_objects = x->objects;
    f->listed_bytes = x->bytes_done;
    f->segments_total = x->segs_done;
  }
  if (f->totals_known) {
    f->total_objects = f->listed_objects;
    f->total_bytes = f->listed_bytes;
  }
  f->segments_done = x->segs_done;
  f->done_objects = x->objects;
  if (f->totals_known && f->done_objects > f->total_objects) {
    /* Never more done than listed: the excess is shown apart. */
    f->overcount = f->done_objects - f->total_objects;
    f->done_objects = f->total_objects;
  }
  f->done_bytes = x->bytes_done;
  f->copied = x->copied;
  f->skipped = x->skipped;
  f->failed = x->failed;
  f->bytes_copied = x->bytes_copied;
  f->first_ms = x->first_ms;
  f->last_ms = x->last_ms;
  f->start_ms = x->start_ms;
  f->workers = x->wk.n;
  f->busy_ms = 0;
  {
    size_t bi = 0;
    hent_t *e;
    for (e = hmap_first(&x->wk, &bi); e; e = hmap_next(&x->wk, e, &bi)) {
      const twspan_t *sp = e->val;
      if (sp->last_ms > sp->first_ms) f->busy_ms += sp->last_ms - sp->first_ms;
    }
  }
  rc_copy(rs, &x->skipped_by);
  rc_copy(rf, &x->failed_by);
}

static void remaining(tally_figures_t *f) {
  if (!f->totals_known) return;
  f->remaining_objects = f->total_objects > f->done_objects
                             ? f->total_objects - f->done_objects : 0;
  f->remaining_bytes = f->total_bytes > f->done_bytes
                           ? f->total_bytes - f->done_bytes : 0;
}

static void finish_eta(tally_figures_t *f) {
  if (state_done(f->state))
    f->eta_s = 0;
  else if (!f->totals_known)
    f->eta_s = -1;
  else
    f->eta_s = tally_eta_s(f->remaining_objects, f->remaining_bytes,
                           f->objects_per_s, f->done_bytes_per_s);
}

/* Per-run kinds, indexed like tk->runs. */
static void run_kinds(const ttask_t *tk, tally_kind_t *kinds, int *retry_of) {
  size_t i;
  for (i = 0; i < tk->n_runs; i++)
    kinds[i] = run_kind(tk, tk->runs[i]->run, &retry_of[i]);
}

static int is_retry_of_base(const ttask_t *tk, int run) {
  const trun_t *r = run_find(tk, run);
  return r && r->kind == TALLY_KIND_RETRY && r->kretry_of == tk->base;
}

/* For key's observations: the base run's (confirmed) and the latest
 * confirmed retry of the base after it and before run upto; either may be
 * NULL. */
static void key_obs(const ttask_t *tk, const tobs_t *list, int upto,
                    const tobs_t **of, const tobs_t **ol) {
  const tobs_t *o;
  *of = *ol = NULL;
  for (o = list; o; o = o->next) {   /* descending by run */
    if (!o->confirmed || o->run >= upto) continue;
    if (o->run == tk->base) {
      *of = o;
    } else if (o->run > tk->base && !*ol &&
               is_retry_of_base(tk, o->run)) {
      *ol = o;
    }
  }
}

/* THE definition of "still failed" (docs/reporter.md): a key of the base
 * run whose latest outcome over the base run and its retries before run
 * upto is a failure. The view's failed count, the export and the lister's
 * --retry-failed all come from here. Returns that outcome, or NULL. */
static const tobs_t *key_still_failed(const ttask_t *tk, const tobs_t *list, int upto) {
  const tobs_t *of, *ol, *eff;
  key_obs(tk, list, upto, &of, &ol);
  if (!of) return NULL;
  eff = ol ? ol : of;
  return failing(eff->status) ? eff : NULL;
}

/* A key's share in the adjustment (adj_t): its base-run outcome replaced by
 * its latest retry outcome, the same choice as key_still_failed. */
static void key_contrib(ttask_t *tk, const tobs_t *list, int64_t sign) {
  const tobs_t *of, *ol;
  key_obs(tk, list, INT32_MAX, &of, &ol);
  if (!of || !ol) return;
  adj_obs(&tk->adj, of, -sign);
  adj_obs(&tk->adj, ol, sign);
}

static int agg_cb(void *arg, const char *key, const void *v, size_t n, fbuf_t *repl,
                  int *replace) {
  ttask_t *tk = arg;
  int bad;
  tobs_t *head = obs_decode(v, n, &bad);
  (void)key;
  (void)repl;
  (void)replace;
  key_contrib(tk, head, +1);
  obs_list_free(head);
  return 0;
}

/* The adjustment summed again over the task's keys when a change of kinds
 * or base made it stale: one pass over the index. */
static void ensure_agg(tally_t *t, ttask_t *tk) {
  if (tk->agg_valid) return;
  adj_release(&tk->adj);
  if (tk->n_keys && failidx_scan(t->idx, tk->id, NULL, agg_cb, tk) < 0) {
    tally_set_incomplete(t, failidx_error(t->idx));
    return;
  }
  tk->agg_valid = 1;
}

static void figures_steal_reasons(tally_figures_t *f, rcount_t *rs, rcount_t *rf) {
  rc_steal(rs, &f->skipped_by, &f->n_skipped_by);
  rc_steal(rf, &f->failed_by, &f->n_failed_by);
}

static void figures_release(tally_figures_t *f) {
  size_t i;
  for (i = 0; i < f->n_skipped_by; i++) fx_free(f->skipped_by[i].reason);
  for (i = 0; i < f->n_failed_by; i++) fx_free(f->failed_by[i].reason);
  fx_free(f->skipped_by);
  fx_free(f->failed_by);
}

static void loc_copy(msg_loc_t *d, const msg_loc_t *s) {
  d->store = fx_strdup(s->store);
  d->bucket = fx_strdup(s->bucket);
  d->prefix = fx_strdup(s->prefix);
}

ferry_err_t tally_view(const tally_t *t, const char *task, int64_t now_ms,
                       tally_view_t *out) {
  const ttask_t *tk = hmap_get(&t->tasks, task);
  tally_kind_t *kinds;
  int *retry_of;
  const trun_t *xb;
  trun_t empty;
  rcount_t rs = {0}, rf = {0};
  tally_figures_t *f;
  size_t i;

  memset(out, 0, sizeof(*out));
  out->task = fx_strdup(task);
  out->now_ms = now_ms;
  out->rate_window_ms = t->window_ms;
  out->f.eta_s = -1;
  out->base_run = 1;
  if (t->incomplete) out->incomplete = fx_strdup(t->incomplete);
  if (!tk) return FERRY_ERR_NOTFOUND;

  out->base_run = tk->base;
  out->latest_run = tk->n_runs ? tk->runs[tk->n_runs - 1]->run : 0;
  out->updated_ms = tk->updated_ms;
  if (tk->has_def) {
    out->has_def = 1;
    loc_copy(&out->src, &tk->src);
    loc_copy(&out->dst, &tk->dst);
    out->policy = tk->policy;
  }

  kinds = fx_calloc(tk->n_runs + 1, sizeof(*kinds));
  retry_of = fx_calloc(tk->n_runs + 1, sizeof(*retry_of));
  run_kinds(tk, kinds, retry_of);

  /* Per run. */
  out->runs = fx_calloc(tk->n_runs + 1, sizeof(*out->runs));
  out->n_runs = tk->n_runs;
  for (i = 0; i < tk->n_runs; i++) {
    const trun_t *x = tk->runs[i];
    tally_run_view_t *rv = &out->runs[i];
    rv->run = x->run;
    rv->kind = kinds[i];
    rv->retry_of = retry_of[i];
    rv->has_record = x->has_rec;
    run_figures(tk, x, &rv->f, &rs, &rf);
    figures_steal_reasons(&rv->f, &rs, &rf);
    remaining(&rv->f);
    rates(tk, x->run, 1, x->first_ms, now_ms, t->window_ms, &rv->f);
    finish_eta(&rv->f);
  }

  /* The task: the base run, with each of its failed keys at its latest
   * retry outcome. */
  f = &out->f;
  xb = run_find(tk, tk->base);
  if (!xb) {
    memset(&empty, 0, sizeof(empty));
    empty.run = tk->base;
    xb = &empty;
  }
  run_figures(tk, xb, f, &rs, &rf);
  {
    /* The view is a snapshot, but the adjustment is a cache it may refresh. */
    ttask_t *mtk = (ttask_t *)tk;
    ensure_agg((tally_t *)t, mtk);
    f->copied = sat_add(f->copied, mtk->adj.copied);
    f->skipped = sat_add(f->skipped, mtk->adj.skipped);
    f->failed = sat_add(f->failed, mtk->adj.failed);
    f->bytes_copied = sat_add(f->bytes_copied, mtk->adj.bytes_copied);
    for (i = 0; i < mtk->adj.n_sk; i++) rc_add(&rs, mtk->adj.sk[i].reason, mtk->adj.sk[i].n);
    for (i = 0; i < mtk->adj.n_fl; i++) rc_add(&rf, mtk->adj.fl[i].reason, mtk->adj.fl[i].n);
  }
  figures_steal_reasons(f, &rs, &rf);
  remaining(f);
  {
    /* Rates over the base run and everything after it. */
    int64_t start = 0;
    for (i = 0; i < tk->n_runs; i++) {
      const trun_t *x = tk->runs[i];
      if (x->run >= tk->base && x->first_ms && (!start || x->first_ms < start))
        start = x->first_ms;
    }
    rates(tk, tk->base, 0, start, now_ms, t->window_ms, f);
  }
  for (i = 0; i < tk->n_runs; i++) {
    const trun_t *x = tk->runs[i];
    if (x->run > tk->base && x->last_ms > f->last_ms) f->last_ms = x->last_ms;
  }
  finish_eta(f);
  if (state_done(f->state)) {
    /* The base run is done: the task is done unless a later run (a retry,
     * or a run not yet identified) is still at work; then what remains is
     * what those runs have left. */
    int busy = 0, unknown = 0;
    uint64_t ro = 0, rb = 0;
    for (i = 0; i < out->n_runs; i++) {
      const tally_run_view_t *rv = &out->runs[i];
      if (rv->run <= tk->base) continue;
      if (rv->f.state == TALLY_LISTING || rv->f.state == TALLY_RUNNING) {
        busy = 1;
        unknown |= !rv->f.totals_known;
        ro += rv->f.remaining_objects;
        rb += rv->f.remaining_bytes;
      }
    }
    if (busy) {
      f->state = TALLY_RUNNING;
      f->remaining_objects = ro;
      f->remaining_bytes = rb;
      f->eta_s = unknown ? -1
                         : tally_eta_s(ro, rb, f->objects_per_s, f->done_bytes_per_s);
    } else {
      f->state = f->failed ? TALLY_COMPLETED_FAILURES : TALLY_COMPLETED;
    }
  }
  fx_free(kinds);
  fx_free(retry_of);
  return FERRY_OK;
}

void tally_set_incomplete(tally_t *t, const char *why) {
  if (!t->incomplete) t->incomplete = fx_strdup(why ? why : "records deleted");
}

void tally_view_release(tally_view_t *v) {
  size_t i;
  if (!v) return;
  fx_free(v->task);
  fx_free(v->incomplete);
  if (v->has_def) {
    msg_loc_release(&v->src);
    msg_loc_release(&v->dst);
  }
  figures_release(&v->f);
  for (i = 0; i < v->n_runs; i++) figures_release(&v->runs[i].f);
  fx_free(v->runs);
  memset(v, 0, sizeof(*v));
}

/* ---------- rendering ---------- */

static json_t *jsize(uint64_t v) {
  return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *jreasons(const tally_reason_t *r, size_t n) {
  json_t *o = json_object();
  size_t i;
  for (i = 0; i < n; i++) json_object_set_new(o, r[i].reason, jsize(r[i].n));
  return o;
}

static json_t *jrate(double x) {
  /* Two decimals are plenty, and keep the output stable for diffs. */
  return json_real(round(x * 100.0) / 100.0);
}

static void figures_json(json_t *o, const tally_figures_t *f) {
  json_object_set_new(o, "state", json_string(tally_state_str(f->state)));
  json_object_set_new(o, "totals_known", json_boolean(f->totals_known));
  if (f->totals_inferred) json_object_set_new(o, "totals_inferred", json_true());
  json_object_set_new(o, "total_objects",
                      f->totals_known ? jsize(f->total_objects) : json_null());
  json_object_set_new(o, "total_bytes",
                      f->totals_known ? jsize(f->total_bytes) : json_null());
  json_object_set_new(o, "listed_objects", jsize(f->listed_objects));
  json_object_set_new(o, "listed_bytes", jsize(f->listed_bytes));
  json_object_set_new(o, "segments", jsize(f->segments_total));
  json_object_set_new(o, "segments_done", jsize(f->segments_done));
  json_object_set_new(o, "done_objects", jsize(f->done_objects));
  json_object_set_new(o, "done_bytes", jsize(f->done_bytes));
  if (f->overcount) json_object_set_new(o, "overcount", jsize(f->overcount));
  json_object_set_new(o, "copied", jsize(f->copied));
  json_object_set_new(o, "bytes_copied", jsize(f->bytes_copied));
  json_object_set_new(o, "skipped", jsize(f->skipped));
  json_object_set_new(o, "skipped_by_reason", jreasons(f->skipped_by, f->n_skipped_by));
  json_object_set_new(o, "failed", jsize(f->failed));
  json_object_set_new(o, "failed_by_reason", jreasons(f->failed_by, f->n_failed_by));
  json_object_set_new(o, "remaining_objects",
                      f->totals_known ? jsize(f->remaining_objects) : json_null());
  json_object_set_new(o, "remaining_bytes",
                      f->totals_known ? jsize(f->remaining_bytes) : json_null());
  json_object_set_new(o, "percent",
                      f->totals_known
                          ? jrate(f->total_objects
                                      ? 100.0 * (double)f->done_objects /
                                            (double)f->total_objects
                                      : 100.0)
                          : json_null());
  json_object_set_new(o, "objects_per_s", jrate(f->objects_per_s));
  json_object_set_new(o, "bytes_per_s", jrate(f->bytes_per_s));
  json_object_set_new(o, "eta_s", f->eta_s >= 0 ? json_integer(f->eta_s) : json_null());
  json_object_set_new(o, "first_ms", f->first_ms ? json_integer(f->first_ms) : json_null());
  json_object_set_new(o, "last_ms", f->last_ms ? json_integer(f->last_ms) : json_null());
  json_object_set_new(o, "started_ms", f->start_ms ? json_integer(f->start_ms) : json_null());
  json_object_set_new(o, "workers", json_integer((json_int_t)f->workers));
  json_object_set_new(o, "worker_busy_ms", json_integer(f->busy_ms));
}

static json_t *jloc(const msg_loc_t *l) {
  json_t *o = json_object();
  json_object_set_new(o, "store", json_string(l->store));
  json_object_set_new(o, "bucket", json_string(l->bucket));
  json_object_set_new(o, "prefix", json_string(l->prefix));
  return o;
}

json_t *tally_view_json(const tally_view_t *v) {
  json_t *o = json_object(), *runs = json_array();
  size_t i;
  json_object_set_new(o, "task", json_string(v->task));
  json_object_set_new(o, "run", json_integer(v->latest_run));
  json_object_set_new(o, "base_run", json_integer(v->base_run));
  if (v->has_def) {
    json_object_set_new(o, "src", jloc(&v->src));
    json_object_set_new(o, "dst", jloc(&v->dst));
    json_object_set_new(o, "policy", json_string(msg_policy_str(v->policy)));
  }
  figures_json(o, &v->f);
  json_object_set_new(o, "incomplete",
                      v->incomplete ? json_string(v->incomplete) : json_null());
  json_object_set_new(o, "rate_window_s", json_integer(v->rate_window_ms / 1000));
  json_object_set_new(o, "updated_ms", v->updated_ms ? json_integer(v->updated_ms)
                                                     : json_null());
  for (i = 0; i < v->n_runs; i++) {
    const tally_run_view_t *rv = &v->runs[i];
    json_t *r = json_object();
    json_object_set_new(r, "run", json_integer(rv->run));
    json_object_set_new(r, "kind", json_string(tally_kind_str(rv->kind)));
    json_object_set_new(r, "retry_of", rv->retry_of ? json_integer(rv->retry_of)
                                                    : json_null());
    json_object_set_new(r, "record", json_boolean(rv->has_record));
    figures_json(r, &rv->f);
    json_array_append_new(runs, r);
  }
  json_object_set_new(o, "runs", runs);
  return o;
}

void tally_fmt_bytes(fbuf_t *out, double b) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  size_t u = 0;
  if (b < 0) b = 0;
  while (b >= 1024.0 && u + 1 < FERRY_ARRAY_LEN(units)) {
    b /= 1024.0;
    u++;
  }
  if (u == 0)
    fbuf_addf(out, "%.0f B", b);
  else
    fbuf_addf(out, "%.1f %s", b, units[u]);
}

void tally_fmt_duration(fbuf_t *out, int64_t s) {
  if (s < 0) {
    fbuf_adds(out, "-");
    return;
  }
  if (s >= 86400)
    fbuf_addf(out, "%" PRId64 "d%" PRId64 "h", s / 86400, s % 86400 / 3600);
  else if (s >= 3600)
    fbuf_addf(out, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", s / 3600, s % 3600 / 60,
              s % 60);
  else if (s >= 60)
    fbuf_addf(out, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
  else
    fbuf_addf(out, "%" PRId64 "s", s);
}

static void fmt_reasons(fbuf_t *out, const tally_reason_t *r, size_t n) {
  size_t i;
  if (!n) return;
  fbuf_adds(out, " (");
  for (i = 0; i < n; i++)
    fbuf_addf(out, "%s%s %" PRIu64, i ? ", " : "", r[i].reason, r[i].n);
  fbuf_adds(out, ")");
}

/* "n/total" or "n/?" while the total is unknown. */
static void fmt_of(fbuf_t *out, uint64_t n, const tally_figures_t *f, uint64_t total) {
  if (f->totals_known)
    fbuf_addf(out, "%" PRIu64 "/%" PRIu64, n, total);
  else
    fbuf_addf(out, "%" PRIu64 "/?", n);
}

static void fmt_loc(fbuf_t *out, const msg_loc_t *l) {
  fbuf_addf(out, "%s:%s", l->store, l->bucket);
  if (l->prefix && *l->prefix) fbuf_addf(out, "/%s", l->prefix);
}

void tally_view_text(const tally_view_t *v, fbuf_t *out) {
  const tally_figures_t *f = &v->f;
  fbuf_t tmp;
  size_t i;
  fbuf_init(&tmp, 0);
  fbuf_addf(out, "task      %s", v->task);
  if (v->latest_run) {
    fbuf_addf(out, " (run %d", v->latest_run);
    if (v->base_run != v->latest_run) fbuf_addf(out, ", base run %d", v->base_run);
    fbuf_adds(out, ")");
  }
  fbuf_addf(out, "\nstate     %s\n", tally_state_str(f->state));
  if (v->incomplete) fbuf_addf(out, "INCOMPLETE figures: %s\n", v->incomplete);
  if (v->has_def) {
    fbuf_adds(out, "route     ");
    fmt_loc(out, &v->src);
    fbuf_adds(out, " -> ");
    fmt_loc(out, &v->dst);
    fbuf_addf(out, " (%s)\n", msg_policy_str(v->policy));
  }
  fbuf_addf(out, "listed    %" PRIu64 " objects, ", f->listed_objects);
  tally_fmt_bytes(out, (double)f->listed_bytes);
  fbuf_addf(out, ", %" PRIu64 " segments%s\n", f->segments_total,
            f->totals_known ? (f->totals_inferred ? " (from results)" : "")
                            : " so far");
  fbuf_adds(out, "done      ");
  fmt_of(out, f->done_objects, f, f->total_objects);
  if (f->totals_known && f->total_objects)
    fbuf_addf(out, " objects (%.1f%%), ",
              100.0 * (double)f->done_objects / (double)f->total_objects);
  else
    fbuf_adds(out, " objects, ");
  tally_fmt_bytes(out, (double)f->done_bytes);
  if (f->totals_known) {
    fbuf_adds(out, "/");
    tally_fmt_bytes(out, (double)f->total_bytes);
  }
  fbuf_adds(out, ", segments ");
  fmt_of(out, f->segments_done, f, f->segments_total);
  fbuf_addf(out, "\ncopied    %" PRIu64 " objects, ", f->copied);
  tally_fmt_bytes(out, (double)f->bytes_copied);
  fbuf_addf(out, "\nskipped   %" PRIu64, f->skipped);
  fmt_reasons(out, f->skipped_by, f->n_skipped_by);
  fbuf_addf(out, "\nfailed    %" PRIu64, f->failed);
  fmt_reasons(out, f->failed_by, f->n_failed_by);
  fbuf_adds(out, "\nrate      ");
  tally_fmt_bytes(out, f->bytes_per_s);
  fbuf_addf(out, "/s, %.1f objects/s (last %" PRId64 " s)\neta       ",
            f->objects_per_s, v->rate_window_ms / 1000);
  tally_fmt_duration(out, f->eta_s);
  fbuf_adds(out, "\n");
  if (v->n_runs) {
    fbuf_addf(out, "  %-4s %-7s %-24s %-13s %-19s %9s %9s %9s  %s\n", "RUN", "KIND",
              "STATE", "SEGMENTS", "OBJECTS", "COPIED", "SKIPPED", "FAILED",
              "BYTES COPIED");
    for (i = 0; i < v->n_runs; i++) {
      const tally_run_view_t *rv = &v->runs[i];
      fbuf_reset(&tmp);
      fbuf_addf(out, "  %-4d %-7s %-24s ", rv->run, tally_kind_str(rv->kind),
                tally_state_str(rv->f.state));
      fmt_of(&tmp, rv->f.segments_done, &rv->f, rv->f.segments_total);
      fbuf_addf(out, "%-13s ", fbuf_str(&tmp));
      fbuf_reset(&tmp);
      fmt_of(&tmp, rv->f.done_objects, &rv->f, rv->f.total_objects);
      fbuf_addf(out, "%-19s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 "  ", fbuf_str(&tmp),
                rv->f.copied, rv->f.skipped, rv->f.failed);
      tally_fmt_bytes(out, (double)rv->f.bytes_copied);
      fbuf_adds(out, "\n");
    }
  }
  fbuf_release(&tmp);
}

void tally_table_text(const tally_view_t *views, size_t n, fbuf_t *out) {
  size_t i, w = 4;
  fbuf_t a, b;
  fbuf_init(&a, 0);
  fbuf_init(&b, 0);
  for (i = 0; i < n; i++) {
    size_t l = strlen(views[i].task);
    if (l > w) w = l;
  }
  if (w > 40) w = 40;
  fbuf_addf(out, "%-*s %-24s %4s %-21s %6s %9s %9s %9s %-23s %-12s %s\n", (int)w,
            "TASK", "STATE", "RUN", "OBJECTS", "%", "COPIED", "SKIPPED", "FAILED",
            "BYTES", "RATE", "ETA");
  for (i = 0; i < n; i++) {
    const tally_view_t *v = &views[i];
    const tally_figures_t *f = &v->f;
    fbuf_reset(&a);
    fmt_of(&a, f->done_objects, f, f->total_objects);
    fbuf_addf(out, "%-*s %-24s %4d %-21s ", (int)w, v->task, tally_state_str(f->state),
              v->latest_run, fbuf_str(&a));
    if (f->totals_known)
      fbuf_addf(out, "%5.1f%%",
                f->total_objects ? 100.0 * (double)f->done_objects /
                                       (double)f->total_objects
                                 : 100.0);
    else
      fbuf_addf(out, "%6s", "-");
    fbuf_addf(out, " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " ", f->copied, f->skipped,
              f->failed);
    fbuf_reset(&a);
    tally_fmt_bytes(&a, (double)f->done_bytes);
    fbuf_adds(&a, "/");
    if (f->totals_known)
      tally_fmt_bytes(&a, (double)f->total_bytes);
    else
      fbuf_adds(&a, "?");
    fbuf_reset(&b);
    tally_fmt_bytes(&b, f->bytes_per_s);
    fbuf_adds(&b, "/s");
    fbuf_addf(out, "%-23s %-12s ", fbuf_str(&a), fbuf_str(&b));
    tally_fmt_duration(out, f->eta_s);
    fbuf_adds(out, "\n");
  }
  fbuf_release(&a);
  fbuf_release(&b);
}

void tally_view_line(const tally_view_t *v, fbuf_t *out) {
  const tally_figures_t *f = &v->f;
  fbuf_addf(out, "%s: %s, ", v->task, tally_state_str(f->state));
  fmt_of(out, f->done_objects, f, f->total_objects);
  fbuf_adds(out, " objects");
  if (f->totals_known && f->total_objects)
    fbuf_addf(out, " (%.1f%%)", 100.0 * (double)f->done_objects /
                                    (double)f->total_objects);
  fbuf_adds(out, ", ");
  tally_fmt_bytes(out, (double)f->done_bytes);
  if (f->totals_known) {
    fbuf_adds(out, "/");
    tally_fmt_bytes(out, (double)f->total_bytes);
  }
  fbuf_adds(out, ", ");
  tally_fmt_bytes(out, f->bytes_per_s);
  fbuf_addf(out, "/s, %.1f obj/s, copied %" PRIu64 ", skipped %" PRIu64
                 ", failed %" PRIu64 ", ETA ",
            f->objects_per_s, f->copied, f->skipped, f->failed);
  tally_fmt_duration(out, f->eta_s);
  if (f->overcount)
    fbuf_addf(out, "; results for %" PRIu64 " objects more than listed (two listings of one "
              "run?)", f->overcount);
}

/* ---------- export ---------- */

int tally_export_fmt_parse(const char *s, tally_export_fmt_t *out) {
  if (s && strcmp(s, "csv") == 0) {
    *out = TALLY_EXPORT_CSV;
    return 0;
  }
  if (s && strcmp(s, "jsonl") == 0) {
    *out = TALLY_EXPORT_JSONL;
    return 0;
  }
  return -1;
}

/* A text cell a spreadsheet would run as a formula (OWASP "CSV injection"),
 * or one that begins with the quote that marks such a cell. */
int tally_csv_neutralised(const char *s) {
  return s && *s && strchr("=+-@\t\r'", *s) != NULL;
}

void tally_csv_field(fbuf_t *out, const char *s) {
  size_t n;
  const char *p;
  int mark;
  if (!s) return;
  n = strlen(s);
  mark = tally_csv_neutralised(s);
  if (!mark && !strpbrk(s, ",\"\r\n") && !(n && (s[0] == ' ' || s[n - 1] == ' '))) {
    fbuf_add(out, s, n);
    return;
  }
  fbuf_addc(out, '"');
  if (mark) fbuf_addc(out, '\'');
  for (p = s; *p; p++) {
    if (*p == '"') fbuf_addc(out, '"');
    fbuf_addc(out, *p);
  }
  fbuf_addc(out, '"');
}

void tally_fmt_time_ms(char *buf, size_t n, int64_t ms) {
  time_t s;
  struct tm tm;
  char base[24];
  if (!n) return;
  buf[0] = '\0';
  if (ms <= 0) return;
  s = (time_t)(ms / 1000);
  if (!gmtime_r(&s, &tm)) return;
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, n, "%s.%03dZ", base, (int)(ms % 1000));
}

int tally_label_permanent(const char *label) {
  static const char *const perm[] = {"vanished",   "access-denied", "no-such-bucket",
                                     "credentials", "signature",    "http-403",
                                     "http-404"};
  size_t i;
  if (!label) return 0;
  for (i = 0; i < FERRY_ARRAY_LEN(perm); i++)
    if (strcmp(label, perm[i]) == 0) return 1;
  return 0;
}

/* The row of key at outcome o, with copies of its strings. */
static void row_fill(tally_failed_row_t *r, const char *key, const tobs_t *o) {
  char *reason = fx_strdup(o->reason);
  r->key = fx_strdup(key);
  r->size = o->size;
  r->status = o->status;
  r->reason = reason;
  r->label = o->status == ST_FAILED && reason ? reason : obs_label(o);
  r->code = fx_strdup(o->code);
  r->message = fx_strdup(o->message);
  r->segment = fx_strdup(o->segment);
  r->etag = fx_strdup(o->etag);
  r->run = o->run;
  r->attempts = o->attempts;
  r->http_status = o->http_status;
  r->at_ms = o->at_ms;
  r->permanent = tally_label_permanent(r->label);
}

void tally_failed_rows_free(tally_failed_row_t *rows, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    fx_free((char *)rows[i].key);
    fx_free((char *)rows[i].reason);
    fx_free((char *)rows[i].code);
    fx_free((char *)rows[i].message);
    fx_free((char *)rows[i].segment);
    fx_free((char *)rows[i].etag);
  }
  fx_free(rows);
}

typedef struct sf_arg {
  const ttask_t *tk;
  int upto;
  size_t max;                 /* stop after this many rows */
  tally_failed_row_t *rows;
  size_t n, cap;
} sf_arg_t;

static int sf_cb(void *arg, const char *key, const void *v, size_t n, fbuf_t *repl,
                 int *replace) {
  sf_arg_t *a = arg;
  int bad;
  tobs_t *head = obs_decode(v, n, &bad);
  const tobs_t *eff = key_still_failed(a->tk, head, a->upto);
  (void)repl;
  (void)replace;
  if (eff) {
    if (a->n == a->cap) {
      a->cap = a->cap ? a->cap * 2 : 64;
      a->rows = fx_realloc(a->rows, a->cap * sizeof(*a->rows));
    }
    row_fill(&a->rows[a->n++], key, eff);
  }
  obs_list_free(head);
  return a->n >= a->max;
}

size_t tally_still_failed_from(const tally_t *t, const char *task, int upto_run,
                               const char *after, size_t max, tally_failed_row_t **rows) {
  const ttask_t *tk = hmap_get(&t->tasks, task);
  sf_arg_t a;
  *rows = NULL;
  if (!tk || !tk->n_keys || !max) return 0;
  memset(&a, 0, sizeof(a));
  a.tk = tk;
  a.upto = upto_run <= 0 ? INT32_MAX : upto_run;
  a.max = max;
  /* The index is in key order: the rows come sorted. */
  if (failidx_scan(t->idx, tk->id, after, sf_cb, &a) < 0)
    tally_set_incomplete((tally_t *)t, failidx_error(t->idx));
  *rows = a.rows;
  return a.n;
}

size_t tally_still_failed(const tally_t *t, const char *task, int upto_run,
                          tally_failed_row_t **rows) {
  return tally_still_failed_from(t, task, upto_run, NULL, SIZE_MAX, rows);
}

static void jset_opt(json_t *o, const char *k, const char *s) {
  json_object_set_new(o, k, s ? json_string(s) : json_null());
}

static void export_row(fbuf_t *out, tally_export_fmt_t fmt, const char *key,
                       const tobs_t *o) {
  char when[40];
  json_t *j;
  char *s;
  tally_fmt_time_ms(when, sizeof(when), o->at_ms);
  if (fmt == TALLY_EXPORT_CSV) {
    tally_csv_field(out, key);
    fbuf_addf(out, ",%" PRIu64 ",%s,", o->size, msg_status_str(o->status));
    tally_csv_field(out, o->reason);
    fbuf_addf(out, ",%d,", o->http_status);
    tally_csv_field(out, o->code);
    fbuf_addc(out, ',');
    tally_csv_field(out, o->message);
    fbuf_addf(out, ",%d,%s,%d,", o->attempts, when, o->run);
    tally_csv_field(out, o->segment);
    fbuf_addc(out, ',');
    tally_csv_field(out, o->etag);
    fbuf_addc(out, '\n');
    return;
  }
  j = json_object();
  json_object_set_new(j, "key", json_string(key));
  json_object_set_new(j, "size", jsize(o->size));
  json_object_set_new(j, "status", json_string(msg_status_str(o->status)));
  jset_opt(j, "reason", o->reason);
  json_object_set_new(j, "http_status", json_integer(o->http_status));
  jset_opt(j, "code", o->code);
  jset_opt(j, "message", o->message);
  json_object_set_new(j, "attempts", json_integer(o->attempts));
  jset_opt(j, "last_attempt", *when ? when : NULL);
  json_object_set_new(j, "last_attempt_ms",
                      o->at_ms > 0 ? json_integer(o->at_ms) : json_null());
  json_object_set_new(j, "run", json_integer(o->run));
  jset_opt(j, "segment", o->segment);
  jset_opt(j, "etag", o->etag);
  s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  if (s) {
    fbuf_adds(out, s);
    fbuf_addc(out, '\n');
    free(s);
  }
}

struct tally_export {
  char *task;
  tally_export_fmt_t fmt;
  char *after;    /* the last key written; NULL before the first */
  int started, done;
  size_t rows;
};

tally_export_t *tally_export_new(const char *task, tally_export_fmt_t fmt) {
  tally_export_t *x = fx_calloc(1, sizeof(*x));
  x->task = fx_strdup(task);
  x->fmt = fmt;
  return x;
}

void tally_export_free(tally_export_t *x) {
  if (!x) return;
  fx_free(x->task);
  fx_free(x->after);
  fx_free(x);
}

size_t tally_export_rows(const tally_export_t *x) { return x->rows; }

typedef struct xp_arg {
  const ttask_t *tk;
  tally_export_t *x;
  fbuf_t *out;
  size_t start, max_rows, max_bytes, n;
} xp_arg_t;

static int xp_cb(void *arg, const char *key, const void *v, size_t n, fbuf_t *repl,
                 int *replace) {
  xp_arg_t *a = arg;
  int bad;
  tobs_t *head = obs_decode(v, n, &bad);
  /* the one definition of "still failed", as tally_still_failed */
  const tobs_t *eff = key_still_failed(a->tk, head, INT32_MAX);
  (void)repl;
  (void)replace;
  if (eff) {
    export_row(a->out, a->x->fmt, key, eff);
    a->n++;
    fx_free(a->x->after);
    a->x->after = fx_strdup(key);
  }
  obs_list_free(head);
  return a->n >= a->max_rows || (a->n && a->out->len - a->start >= a->max_bytes);
}

int tally_export_next(tally_export_t *x, const tally_t *t, size_t max_rows,
                      size_t max_bytes, fbuf_t *out) {
  const ttask_t *tk;
  xp_arg_t a;
  int r;
  if (x->done) return 0;
  if (!x->started && x->fmt == TALLY_EXPORT_CSV)
    fbuf_adds(out, "key,size,status,reason,http_status,code,message,attempts,"
                   "last_attempt,run,segment,etag\n");
  x->started = 1;
  tk = hmap_get(&t->tasks, x->task);
  if (!tk || !tk->n_keys || !max_rows) {
    x->done = 1;
    return 1;
  }
  memset(&a, 0, sizeof(a));
  a.tk = tk;
  a.x = x;
  a.out = out;
  a.start = out->len;
  a.max_rows = max_rows;
  a.max_bytes = max_bytes;
  /* A walk of the index from the cursor, in key order: a chunk costs about
   * its own rows, not a pass over every key. */
  r = failidx_scan(t->idx, tk->id, x->after, xp_cb, &a);
  if (r < 0) tally_set_incomplete((tally_t *)t, failidx_error(t->idx));
  if (r <= 0) x->done = 1;
  x->rows += a.n;
  return 1;
}

void tally_export_failed(const tally_t *t, const char *task,
                         tally_export_fmt_t fmt, fbuf_t *out, size_t *n_rows) {
  tally_export_t *x = tally_export_new(task, fmt);
  while (tally_export_next(x, t, 65536, SIZE_MAX, out)) {
  }
  if (n_rows) *n_rows = x->rows;
  tally_export_free(x);
}
