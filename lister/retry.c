/* retry.c: the still-failed set for --retry-failed, from the reporter's fold.
 *
 * Memory does not grow with the failures: the tally keeps its keys on disk
 * (report/failidx.h), each failed record's message goes to an index of its
 * own on disk (the newest per key), and the set is walked in chunks of
 * CHUNK rows, once to count it and once to replay it. Holding it whole
 * took 0.65 KiB per failure (669 MiB at a million: bench/RESULTS.md). */
#include "lister/retry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/topicscan.h"
#include "core/log.h"
#include "report/failidx.h"
#include "report/tally.h"

#define FAC "lister"
#define CHUNK 1024

/* What lretry_next walks, open from lretry_load to lretry_release. */
struct lretry_src {
  tally_t *t;
  failidx_t *objs;            /* key -> 8 bytes of at_ms, then the failed record */
  char *task;
  int upto;
  tally_failed_row_t *rows;   /* the chunk being replayed */
  size_t n_rows, pos;
  char *after;                /* the last key handed out */
  fbuf_t val;
};

typedef struct feed {
  const char *task;
  size_t tl;
  lretry_src_t *s;
  tally_src_t src;
  size_t records;             /* failed records kept */
  uint64_t bad;
  ferry_err_t err;
  char *eb;
} feed_t;

static int is_task(const feed_t *f, const bus_msg_t *m) {
  /* Every topic read here is keyed by the task name. */
  return m->value && (!m->key || (m->key_len == f->tl && memcmp(m->key, f->task, f->tl) == 0));
}

/* A failed record of a run before upto: kept when it is the key's newest. */
static void keep_obj(feed_t *f, const bus_msg_t *m) {
  msg_failed_t x;
  char eb[FERRY_ERRLEN];
  if (msg_failed_decode(m->value, m->len, &x, eb)) return;
  if (strcmp(x.task, f->task) == 0 && x.run < f->s->upto && x.obj.key && x.obj.key[0]) {
    fbuf_t *v = &f->s->val;
    int64_t at = x.at_ms, old = INT64_MIN;
    int got = failidx_get(f->s->objs, 0, x.obj.key, v);
    if (got == 1 && v->len >= sizeof(old)) memcpy(&old, v->p, sizeof(old));
    if (got < 0) {
      f->err = ferry_seterr(f->eb, FERRY_ERR_IO, "%s", failidx_error(f->s->objs));
    } else if (got == 0 || at >= old) {
      fbuf_reset(v);
      fbuf_add(v, &at, sizeof(at));
      fbuf_add(v, m->value, m->len);
      if (failidx_put(f->s->objs, 0, x.obj.key, v->p, v->len))
        f->err = ferry_seterr(f->eb, FERRY_ERR_IO, "%s", failidx_error(f->s->objs));
      else if (got == 0)
        f->records++;
    }
  }
  msg_failed_release(&x);
}

static int on_rec(const bus_msg_t *m, void *ctx) {
  feed_t *f = ctx;
  char eb[FERRY_ERRLEN];
  if (!is_task(f, m)) return 0;
  if (tally_feed(f->s->t, f->src, m->value, m->len, NULL, eb)) {
    LOG_WARN(FAC, "topic=%s partition=%d offset=%" PRId64 " msg=\"record skipped\" err=%s",
             FLOG_V(m->topic), (int)m->partition, m->offset, FLOG_Q(eb));
    f->bad++;
    return 0;
  }
  if (f->src == TALLY_SRC_FAILED) keep_obj(f, m);
  return f->err ? 1 : 0;
}

/* A run before upto that is still at work makes a retry now incomplete. */
static void check_busy(const tally_t *t, const char *task, int upto, lretry_t *out) {
  tally_view_t v;
  size_t i;
  tally_view(t, task, 0, &v);
  out->base_run = v.base_run;
  for (i = 0; i < v.n_runs; i++) {
    const tally_run_view_t *rv = &v.runs[i];
    if (rv->run < v.base_run || rv->run >= upto) continue;
    if (rv->f.state == TALLY_RUNNING)
      snprintf(out->busy, sizeof(out->busy),
               "run %d is still running (%" PRIu64 " of %" PRIu64 " segments have a "
               "result)", rv->run, rv->f.segments_done, rv->f.segments_total);
    else if (rv->f.state == TALLY_LISTING)
      snprintf(out->busy, sizeof(out->busy), "run %d is still listing", rv->run);
  }
  tally_view_release(&v);
}

/* The next chunk of rows after s->after; 0 at the end. */
static size_t next_chunk(lretry_src_t *s) {
  tally_failed_rows_free(s->rows, s->n_rows);
  s->rows = NULL;
  s->pos = 0;
  s->n_rows = tally_still_failed_from(s->t, s->task, s->upto, s->after, CHUNK, &s->rows);
  if (s->n_rows) {
    fx_free(s->after);
    s->after = fx_strdup(s->rows[s->n_rows - 1].key);
  }
  return s->n_rows;
}

static void rewind_src(lretry_src_t *s) {
  tally_failed_rows_free(s->rows, s->n_rows);
  s->rows = NULL;
  s->n_rows = s->pos = 0;
  fx_free(s->after);
  s->after = NULL;
}

/* The counts (n, permanent, no_record, labels): one pass over the set. */
static void count(lretry_src_t *s, lretry_t *out) {
  tally_reason_t *by = NULL;
  size_t n_by = 0, k, i;
  while (next_chunk(s)) {
    for (i = 0; i < s->n_rows; i++) {
      const tally_failed_row_t *row = &s->rows[i];
      out->n++;
      if (failidx_get(s->objs, 0, row->key, &s->val) != 1) out->no_record++;
      /* Permanent, and a retry already failed it so: a first retry after the
       * base run is the operator's to try (the cause may be fixed by now). */
      if (row->permanent && row->run != out->base_run) out->permanent++;
      for (k = 0; k < n_by && strcmp(by[k].reason, row->label); k++) {}
      if (k == n_by) {
        by = fx_realloc(by, (n_by + 1) * sizeof(*by));
        by[n_by].reason = fx_strdup(row->label);
        by[n_by++].n = 0;
      }
      by[k].n++;
    }
  }
  for (k = 0; k < n_by; k++) {
    fbuf_addf(&out->labels, "%s%s %" PRIu64, k ? ", " : "", by[k].reason, by[k].n);
    fx_free(by[k].reason);
  }
  fx_free(by);
  rewind_src(s);
}

static void src_free(lretry_src_t *s) {
  if (!s) return;
  rewind_src(s);
  if (s->objs) failidx_close(s->objs);
  if (s->t) tally_destroy(s->t);
  fbuf_release(&s->val);
  fx_free(s->task);
  fx_free(s);
}

ferry_err_t lretry_load(const bus_conf_t *bc, int timeout_ms, const char *task, int upto_run,
                        lretry_t *out, char *errbuf) {
  static const struct {
    bus_topic_t topic;
    tally_src_t src;
  } order[] = {{BUS_TASKS, TALLY_SRC_TASKS},
               {BUS_RESULTS, TALLY_SRC_RESULTS},
               {BUS_FAILED, TALLY_SRC_FAILED}};
  feed_t f;
  lretry_src_t *s = fx_calloc(1, sizeof(*s));
  size_t i;
  ferry_err_t e = FERRY_OK;
  memset(out, 0, sizeof(*out));
  fbuf_init(&out->labels, 0);
  fbuf_init(&s->val, 0);
  s->task = fx_strdup(task);
  s->upto = upto_run;
  /* both indexes go to $TMPDIR (docs/reporter.md, "Memory") */
  s->t = tally_open(NULL, errbuf);
  if (s->t) s->objs = failidx_open(NULL, errbuf);
  if (!s->t || !s->objs) {
    src_free(s);
    fbuf_release(&out->labels);
    return FERRY_ERR_IO;
  }
  memset(&f, 0, sizeof(f));
  f.task = task;
  f.tl = strlen(task);
  f.s = s;
  f.eb = errbuf;
  for (i = 0; i < FERRY_ARRAY_LEN(order) && !e; i++) {
    f.src = order[i].src;
    e = bus_scan(bc, order[i].topic, timeout_ms, on_rec, &f, NULL, errbuf);
    if (!e && f.err) e = f.err;
  }
  if (e) {
    src_free(s);
    fbuf_release(&out->labels);
    return e;
  }
  out->src = s;
  check_busy(s->t, task, upto_run, out);
  count(s, out);
  LOG_INFO(FAC, "task=%s base_run=%d still_failed=%zu permanent=%zu failed_records=%zu "
           "without_record=%zu skipped_records=%" PRIu64, FLOG_V(task), out->base_run, out->n,
           out->permanent, f.records, out->no_record, f.bad);
  return FERRY_OK;
}

int lretry_next(lretry_t *r, msg_obj_t *o) {
  lretry_src_t *s = r->src;
  const tally_failed_row_t *row;
  memset(o, 0, sizeof(*o));
  r->last_integrity = 0;
  if (!s) return 0;
  if (s->pos == s->n_rows && !next_chunk(s)) return 0;
  row = &s->rows[s->pos++];
  r->last_integrity = row->reason && !strcmp(row->reason, "integrity");
  if (failidx_get(s->objs, 0, row->key, &s->val) == 1 && s->val.len > sizeof(int64_t)) {
    msg_failed_t x;
    char eb[FERRY_ERRLEN];
    if (!msg_failed_decode(s->val.p + sizeof(int64_t), s->val.len - sizeof(int64_t), &x, eb)) {
      *o = x.obj;   /* moved out of x */
      memset(&x.obj, 0, sizeof(x.obj));
      msg_failed_release(&x);
      return 1;
    }
  }
  o->key = fx_strdup(row->key);
  o->size = row->size;
  o->etag = row->etag ? fx_strdup(row->etag) : NULL;
  o->mtime = -1;
  return 1;
}

void lretry_release(lretry_t *r) {
  if (!r) return;
  src_free(r->src);
  fbuf_release(&r->labels);
  memset(r, 0, sizeof(*r));
}
