/* retry.c: the still-failed set for --retry-failed, from the reporter's fold. */
#include "lister/retry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/topicscan.h"
#include "report/tally.h"
#include "core/log.h"

#define FAC "lister"

/* A failed record's object, kept for the replay. */
typedef struct fobj {
  msg_obj_t o;
  int64_t at;
} fobj_t;

typedef struct feed {
  const char *task;
  size_t tl;
  tally_t *t;
  tally_src_t src;
  int upto;
  fobj_t *objs;           /* failed records' objects (src FAILED) */
  size_t n, cap;
  uint64_t bad;
} feed_t;

static int is_task(const feed_t *f, const bus_msg_t *m) {
  /* Every topic read here is keyed by the task name. */
  return m->value && (!m->key || (m->key_len == f->tl && memcmp(m->key, f->task, f->tl) == 0));
}

static void keep_obj(feed_t *f, const bus_msg_t *m) {
  msg_failed_t x;
  char eb[FERRY_ERRLEN];
  if (msg_failed_decode(m->value, m->len, &x, eb)) return;
  if (strcmp(x.task, f->task) == 0 && x.run < f->upto && x.obj.key) {
    if (f->n == f->cap) {
      f->cap = f->cap ? f->cap * 2 : 64;
      f->objs = fx_realloc(f->objs, f->cap * sizeof(*f->objs));
    }
    f->objs[f->n].o = x.obj;   /* moved out of x */
    memset(&x.obj, 0, sizeof(x.obj));
    f->objs[f->n].at = x.at_ms;
    f->n++;
  }
  msg_failed_release(&x);
}

static int on_rec(const bus_msg_t *m, void *ctx) {
  feed_t *f = ctx;
  char eb[FERRY_ERRLEN];
  if (!is_task(f, m)) return 0;
  if (tally_feed(f->t, f->src, m->value, m->len, NULL, eb)) {
    LOG_WARN(FAC, "topic=%s partition=%d offset=%" PRId64 " msg=\"record skipped\" err=%s",
             FLOG_V(m->topic), (int)m->partition, m->offset, FLOG_Q(eb));
    f->bad++;
    return 0;
  }
  if (f->src == TALLY_SRC_FAILED) keep_obj(f, m);
  return 0;
}

/* By key, the newest record last. */
static int fobj_cmp(const void *a, const void *b) {
  const fobj_t *x = a, *y = b;
  int c = strcmp(x->o.key, y->o.key);
  if (c) return c;
  return x->at < y->at ? -1 : x->at > y->at;
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

/* out->objs: each still-failed row with the object of its newest failed
 * record (both lists sorted by key), or one rebuilt from the outcome. */
static void join_rows(feed_t *f, const tally_failed_row_t *rows, size_t n, lretry_t *out) {
  size_t i, j = 0;
  tally_reason_t *by = NULL;
  size_t n_by = 0, k;
  if (f->n) qsort(f->objs, f->n, sizeof(*f->objs), fobj_cmp);
  out->objs = fx_calloc(n ? n : 1, sizeof(*out->objs));
  for (i = 0; i < n; i++) {
    msg_obj_t *o = &out->objs[out->n++];
    fobj_t *best = NULL;
    while (j < f->n && strcmp(f->objs[j].o.key, rows[i].key) < 0) j++;
    while (j < f->n && strcmp(f->objs[j].o.key, rows[i].key) == 0) best = &f->objs[j++];
    if (best) {
      *o = best->o;
      memset(&best->o, 0, sizeof(best->o));
    } else {
      o->key = fx_strdup(rows[i].key);
      o->size = rows[i].size;
      o->etag = rows[i].etag ? fx_strdup(rows[i].etag) : NULL;
      o->mtime = -1;
      out->no_record++;
    }
    /* Permanent, and a retry already failed it so: a first retry after the
     * base run is the operator's to try (the cause may be fixed by now). */
    if (rows[i].permanent && rows[i].run != out->base_run) out->permanent++;
    for (k = 0; k < n_by && strcmp(by[k].reason, rows[i].label); k++) {}
    if (k == n_by) {
      by = fx_realloc(by, (n_by + 1) * sizeof(*by));
      by[n_by].reason = (char *)rows[i].label;
      by[n_by++].n = 0;
    }
    by[k].n++;
  }
  for (k = 0; k < n_by; k++)
    fbuf_addf(&out->labels, "%s%s %" PRIu64, k ? ", " : "", by[k].reason, by[k].n);
  fx_free(by);
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
  tally_failed_row_t *rows = NULL;
  size_t i, n = 0;
  ferry_err_t e = FERRY_OK;
  memset(out, 0, sizeof(*out));
  fbuf_init(&out->labels, 0);
  memset(&f, 0, sizeof(f));
  f.task = task;
  f.tl = strlen(task);
  /* its key index goes to $TMPDIR (docs/reporter.md, "Memory") */
  f.t = tally_open(NULL, errbuf);
  if (!f.t) {
    fbuf_release(&out->labels);
    return FERRY_ERR_IO;
  }
  f.upto = upto_run;
  for (i = 0; i < FERRY_ARRAY_LEN(order) && !e; i++) {
    f.src = order[i].src;
    e = bus_scan(bc, order[i].topic, timeout_ms, on_rec, &f, NULL, errbuf);
  }
  if (!e) {
    check_busy(f.t, task, upto_run, out);
    n = tally_still_failed(f.t, task, upto_run, &rows);
    join_rows(&f, rows, n, out);
    LOG_INFO(FAC, "task=%s base_run=%d still_failed=%zu permanent=%zu failed_records=%zu "
             "without_record=%zu skipped_records=%" PRIu64, FLOG_V(task), out->base_run, n,
             out->permanent, f.n, out->no_record, f.bad);
  }
  tally_failed_rows_free(rows, n);
  for (i = 0; i < f.n; i++) msg_obj_release(&f.objs[i].o);
  fx_free(f.objs);
  tally_destroy(f.t);
  return e;
}

void lretry_release(lretry_t *r) {
  size_t i;
  if (!r) return;
  for (i = 0; i < r->n; i++) msg_obj_release(&r->objs[i]);
  fx_free(r->objs);
  fbuf_release(&r->labels);
  memset(r, 0, sizeof(*r));
}
