/* ops.c: --estimate, --dry-run and --verify (ops.h). */
#include "lister/ops.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "report/tally.h"
#include "core/log.h"
#include "lister/scan.h"
#include "lister/source.h"
#include "plan/estimate.h"
#include "policy/policy.h"
#include "plan/syncdiff.h"

#define FAC "lister"

/* Defaults of the estimate's assumptions (docs/lister.md). */
#define DEFAULT_RATE (100.0 * 1024 * 1024) /* bytes/s a worker reads or writes */
#define DEFAULT_REQUEST_MS 20.0

/* ---------- output ---------- */

typedef struct outf {
  FILE *f;
  const char *name;
  int is_stdout;
} outf_t;

static int out_open(outf_t *o, const char *path) {
  memset(o, 0, sizeof(*o));
  if (!path || strcmp(path, "-") == 0) {
    o->f = stdout;
    o->name = "stdout";
    o->is_stdout = 1;
    return 0;
  }
  o->name = path;
  o->f = fopen(path, "w");
  if (!o->f) {
    fprintf(stderr, "ferry-lister: --out %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* Returns -1 (reported) when the output could not be written. */
static int out_close(outf_t *o) {
  int bad = ferror(o->f);
  if (o->is_stdout) bad |= fflush(o->f) != 0;
  else bad |= fclose(o->f) != 0;
  if (bad) fprintf(stderr, "ferry-lister: writing %s failed\n", o->name);
  return bad ? -1 : 0;
}

/* Writes one CSV row of n fields (NULL = empty), RFC 4180 quoting. */
static void csv_row(FILE *f, const char *const *v, size_t n) {
  fbuf_t b;
  size_t i;
  fbuf_init(&b, 0);
  for (i = 0; i < n; i++) {
    if (i) fbuf_addc(&b, ',');
    tally_csv_field(&b, v[i]);
  }
  fbuf_addc(&b, '\n');
  fwrite(b.p, 1, b.len, f);
  fbuf_release(&b);
}

static void fmt_time(char *buf, size_t n, int64_t mtime) {
  if (mtime < 0) buf[0] = '\0';
  else tally_fmt_time_ms(buf, n, mtime * 1000);
}

/* The destination key, or "" when the object has none (the worker skips
 * or fails it: policy_dst_key). */
static char *dst_key_of(const task_conf_t *t, const msg_obj_t *o) {
  char *k = NULL;
  policy_dst_key(t->src.prefix, t->dst.prefix, o->key, o->size, o->dst_key, &k);
  return k ? k : fx_strdup("");
}

static void loc_str(char *buf, size_t n, const conf_loc_t *l) {
  if (l->kind == CONF_LOC_URLS) snprintf(buf, n, "urls:%s", l->path);
  else snprintf(buf, n, "%s:%s%s%s", l->store, l->bucket, *l->prefix ? "/" : "", l->prefix);
}

static void print_stream_stats(const task_conf_t *t, const lsrc_stats_t *st, int incremental) {
  size_t k;
  fprintf(stderr, "ferry-lister: task %s: %" PRIu64 " source %s examined, %" PRIu64
          " left out by the filters", t->name, st->examined,
          t->src.kind == CONF_LOC_URLS ? "entries" : "objects", st->filtered);
  if (incremental) {
    fprintf(stderr, ", %" PRIu64 " in step at the destination", st->in_step);
    for (k = SD_MISSING; k < SD_KINDS; k++)
      if (st->by_kind[k]) fprintf(stderr, ", %s %" PRIu64, sd_kind_str((sd_kind_t)k), st->by_kind[k]);
  }
  if (st->bad) fprintf(stderr, ", %" PRIu64 " bad entries", st->bad);
  fputc('\n', stderr);
}

/* ---------- --dry-run ---------- */

static int run_dry(const ferry_conf_t *conf, const task_conf_t *t, const lister_opts_t *o,
                   lsrc_t *src) {
  static const char *const head[] = {"key", "dst_key", "size", "mtime", "etag", "reason"};
  outf_t out;
  char eb[FERRY_ERRLEN];
  uint64_t n = 0, bytes = 0;
  lsrc_stats_t st;
  ferry_err_t e;
  (void)conf;
  if (out_open(&out, o->out)) return LISTER_EXIT_FAIL;
  csv_row(out.f, head, 6);
  for (;;) {
    const msg_obj_t *ob;
    sd_kind_t why;
    char size[32], tm[40];
    char *dk;
    const char *row[6];
    if ((e = lsrc_next(src, &ob, &why, eb))) break;
    if (!ob) break;
    dk = dst_key_of(t, ob);
    snprintf(size, sizeof(size), "%" PRIu64, ob->size);
    fmt_time(tm, sizeof(tm), ob->mtime);
    row[0] = ob->key;
    row[1] = dk;
    row[2] = size;
    row[3] = tm;
    row[4] = ob->etag;
    row[5] = o->incremental ? sd_kind_str(why) : NULL;
    csv_row(out.f, row, 6);
    fx_free(dk);
    n++;
    bytes += ob->size;
  }
  if (out_close(&out)) return LISTER_EXIT_FAIL;
  if (e) {
    fprintf(stderr, "ferry-lister: task %s: %s\n", t->name, eb);
    return LISTER_EXIT_FAIL;
  }
  lsrc_stats(src, &st);
  print_stream_stats(t, &st, o->incremental);
  fprintf(stderr, "ferry-lister: task %s (dry run%s): %" PRIu64 " objects, %" PRIu64
          " bytes would be copied; nothing published\n", t->name,
          o->incremental ? ", incremental" : "", n, bytes);
  return LISTER_EXIT_OK;
}

/* ---------- --estimate ---------- */

/* A rate from the reporter's JSON: the task object (--task T --json), or
 * {"tasks": [...]} with the task in it. */
/* A trial's rate from the reporter's JSON: *ops and *bps per busy worker
 * (*per_worker 1) when the view has the workers' busy time, else the
 * fleet's over its span or window (*per_worker 0: the caller divides by
 * --rate-workers). *start_s: how long after its listing began the trial's
 * first copy did (0 unknown). */
static int read_rate(const char *path, const char *task, double *ops, double *bps,
                     int *per_worker, double *start_s, const char **how) {
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je), *obj = NULL, *v;
  int rc = -1;
  if (!root) {
    fprintf(stderr, "ferry-lister: --rate-from-json %s:%d: %s\n", path, je.line, je.text);
    return -1;
  }
  if (json_is_object(root) && json_object_get(root, "tasks")) {
    json_t *arr = json_object_get(root, "tasks"), *x;
    size_t i;
    json_array_foreach(arr, i, x) {
      json_t *name = json_object_get(x, "task");
      if (json_is_string(name) && strcmp(json_string_value(name), task) == 0) obj = x;
    }
    if (!obj && json_array_size(arr) == 1) obj = json_array_get(arr, 0);
  } else if (json_is_object(root)) {
    obj = root;
  }
  if (!obj) {
    fprintf(stderr, "ferry-lister: --rate-from-json %s: no task \"%s\" in it\n", path, task);
    goto out;
  }
  *ops = *bps = *start_s = 0;
  *per_worker = 0;
  {
    json_t *fm = json_object_get(obj, "first_ms"), *sm = json_object_get(obj, "started_ms");
    if (json_is_integer(fm) && json_is_integer(sm) &&
        json_integer_value(fm) > json_integer_value(sm))
      *start_s = (double)(json_integer_value(fm) - json_integer_value(sm)) / 1000.0;
  }
  /* Each worker's busy time (its first result's start to its last one's
   * finish, summed over the workers): a trial where one worker copied a
   * large object while the others idled is not charged their idle time. */
  {
    json_t *bm = json_object_get(obj, "worker_busy_ms");
    json_t *dn = json_object_get(obj, "done_objects"), *db = json_object_get(obj, "done_bytes");
    if (json_is_integer(bm) && json_integer_value(bm) >= 1000 && json_is_integer(dn) &&
        json_is_integer(db) && json_integer_value(dn) > 0) {
      double busy = (double)json_integer_value(bm) / 1000.0;
      *ops = (double)json_integer_value(dn) / busy;
      *bps = (double)json_integer_value(db) / busy;
      *per_worker = 1;
      *how = "the trial's workers' busy time, worker_busy_ms";
      rc = 0;
      goto out;
    }
  }
  /* The trial's whole copy span (first result started .. last finished)
   * first: it is what a finished trial leaves (its 30 s window rates are
   * null once it stops) and it averages over the trial's mix of sizes; the
   * window rates only when the span is missing or under a second. */
  {
    json_t *fm = json_object_get(obj, "first_ms"), *lm = json_object_get(obj, "last_ms");
    json_t *dn = json_object_get(obj, "done_objects"), *db = json_object_get(obj, "done_bytes");
    if (json_is_integer(fm) && json_is_integer(lm) && json_is_integer(dn) && json_is_integer(db) &&
        json_integer_value(lm) - json_integer_value(fm) >= 1000 && json_integer_value(dn) > 0) {
      double span = (double)(json_integer_value(lm) - json_integer_value(fm)) / 1000.0;
      *ops = (double)json_integer_value(dn) / span;
      *bps = (double)json_integer_value(db) / span;
      *how = "the trial's copy span, first_ms..last_ms";
      rc = 0;
      goto out;
    }
  }
  *how = "the reporter's rate window";
  if ((v = json_object_get(obj, "objects_per_s")) && json_is_number(v)) *ops = json_number_value(v);
  if ((v = json_object_get(obj, "bytes_per_s")) && json_is_number(v)) *bps = json_number_value(v);
  if (!(*ops > 0) && !(*bps > 0)) {
    fprintf(stderr, "ferry-lister: --rate-from-json %s: no measured rate in it (objects_per_s "
            "and bytes_per_s are null or 0: was the task running?)\n", path);
    goto out;
  }
  rc = 0;
out:
  json_decref(root);
  return rc;
}

static void est_params_from(est_params_t *p, const ferry_conf_t *conf, const task_conf_t *t,
                            const lister_opts_t *o) {
  const store_conf_t *dsc = conf_store(conf, t->dst.store);
  memset(p, 0, sizeof(*p));
  p->workers = o->workers > 0 ? o->workers : 1;
  p->concurrency = conf->worker.concurrency > 0 ? (int)conf->worker.concurrency : 32;
  p->request_s = (o->request_ms > 0 ? o->request_ms : DEFAULT_REQUEST_MS) / 1000.0;
  p->src_rate = o->src_rate > 0 ? o->src_rate : DEFAULT_RATE;
  p->dst_rate = o->dst_rate > 0 ? o->dst_rate : DEFAULT_RATE;
  p->worker_qps = (double)conf->worker.qps_limit;
  p->worker_bw = (double)conf->worker.bandwidth_limit;
  p->task_qps = (double)t->qps_limit;
  p->task_bw = (double)t->bandwidth_limit;
  p->head_dst = o->incremental ? 0 : t->same_name != POLICY_OVERWRITE;
  p->dst_type = dsc ? dsc->type : STORE_S3;
  p->multipart_threshold = conf->worker.multipart_threshold;
  p->part_size = conf->worker.part_size;
  p->seg_max_objects = conf->lister.segment_max_objects > 0 ? (uint64_t)conf->lister.segment_max_objects : 0;
  p->seg_max_bytes = conf->lister.segment_max_bytes;
  p->fanout_threshold = conf->lister.fanout_threshold;
  p->partitions = conf->kafka.segments_partitions > 0 ? (int)conf->kafka.segments_partitions : 1;
}

static void rate_str(char *buf, size_t n, double bps) {
  if (bps <= 0) {
    snprintf(buf, n, "unbounded");
    return;
  }
  est_fmt_size(buf, n, bps);
  strncat(buf, "/s", n - strlen(buf) - 1);
}

/* Each input of --estimate says where it comes from: "measured" (this
 * listing, a trial's rate), "given" (the command line), "config", or
 * "assumed" (a default that nobody measured: the estimate is only as good
 * as those). */
static void print_inputs(FILE *f, const est_params_t *pp, const lister_opts_t *o) {
  char a[64], b[64];
  const est_params_t p = *pp;
  fprintf(f, "inputs (measured | given | config | assumed = a default, not measured):\n");
  fprintf(f, "  objects, bytes, sizes: measured (this listing)\n");
  fprintf(f, "  workers: %d (%s)\n", p.workers, o->workers > 0 ? "given: --workers" : "assumed: --workers");
  fprintf(f, "  concurrency: %d per worker, %d copies in flight each (config: worker.concurrency)\n",
          p.concurrency, p.concurrency / 2);
  rate_str(a, sizeof(a), p.src_rate);
  fprintf(f, "  source read per worker: %s (%s)\n", a, o->src_rate > 0 ? "given: --src-rate" : "assumed: --src-rate");
  rate_str(a, sizeof(a), p.dst_rate);
  fprintf(f, "  destination write per worker: %s (%s)\n", a,
          o->dst_rate > 0 ? "given: --dst-rate" : "assumed: --dst-rate");
  fprintf(f, "  per request: %.1f ms (%s)\n", p.request_s * 1000,
          o->request_ms > 0 ? "given: --request-ms" : "assumed: --request-ms");
  fprintf(f, "  rate of a trial: %s\n", o->rate_from_json ? "measured (--rate-from-json, below)"
                                                            : "none (--rate-from-json)");
  rate_str(a, sizeof(a), p.task_bw);
  rate_str(b, sizeof(b), p.worker_bw);
  fprintf(f, "  limits: task qps %.0f, task bandwidth %s, worker qps %.0f, worker bandwidth %s "
          "(config; 0 / unbounded = none)\n", p.task_qps, a, p.worker_qps, b);
}

/* The placement line: segments, and the slowest worker's share. */
static void print_placed(FILE *f, const est_params_t *p, const est_result_t *r) {
  char a[64], b[64], c[64];
  est_fmt_duration(a, sizeof(a), r->t_placed);
  est_fmt_duration(b, sizeof(b), r->t_placed_lo);
  est_fmt_duration(c, sizeof(c), r->t_placed_hi);
  fprintf(f, "  slowest worker    %" PRIu64 " segments round-robin over %d partitions, %d worker%s"
          " = %s (%s .. %s by where the run starts)\n", r->segments, p->partitions, p->workers,
          p->workers == 1 ? "" : "s", a, b, c);
}

static int run_estimate(const ferry_conf_t *conf, const task_conf_t *t, const lister_opts_t *o,
                        lsrc_t *src) {
  est_params_t p;
  est_t *est = fx_calloc(1, sizeof(*est));
  est_result_t r;
  char eb[FERRY_ERRLEN], a[64], b[64], c[64], range[160], sl[160], dl[160];
  lsrc_stats_t st;
  ferry_err_t e;
  int i, lo = -1, hi = -1, rc = LISTER_EXIT_OK;
  FILE *f = stdout;
  const char *rate_how = "";
  int per_worker = 0;

  est_params_from(&p, conf, t, o);
  if (o->rate_from_json) {
    double ops, bps, m = o->rate_workers > 0 ? o->rate_workers : 1;
    if (read_rate(o->rate_from_json, t->name, &ops, &bps, &per_worker, &p.start_s, &rate_how)) {
      fx_free(est);
      return LISTER_EXIT_USAGE;
    }
    if (per_worker) m = 1;
    p.measured_ops = ops / m;
    p.measured_bps = bps / m;
  }
  est_init(est, &p);
  for (;;) {
    const msg_obj_t *ob;
    if ((e = lsrc_next(src, &ob, NULL, eb))) break;
    if (!ob) break;
    est_add(est, ob->size);
  }
  if (e) {
    fprintf(stderr, "ferry-lister: task %s: %s\n", t->name, eb);
    est_release(est);
    fx_free(est);
    return LISTER_EXIT_FAIL;
  }
  lsrc_stats(src, &st);
  print_stream_stats(t, &st, o->incremental);
  est_compute(est, &r);
  p = est->p;

  loc_str(sl, sizeof(sl), &t->src);
  loc_str(dl, sizeof(dl), &t->dst);
  fprintf(f, "task %s%s: %s -> %s\n", t->name, o->incremental ? " (incremental)" : "", sl, dl);
  est_fmt_size(a, sizeof(a), (double)est->bytes);
  fprintf(f, "objects: %" PRIu64 "  (%" PRIu64 " left out by filters%s)\n", est->objects,
          st.filtered, o->incremental ? ", the rest in step" : "");
  fprintf(f, "bytes: %" PRIu64 "  (%s)\n", est->bytes, a);
  if (est->objects) {
    est_fmt_size(a, sizeof(a), (double)est->bytes / (double)est->objects);
    fprintf(f, "mean size: %s; %" PRIu64 " multipart (above %" PRIu64 " bytes)\n", a,
            est->multipart, p.multipart_threshold);
  }
  for (i = 0; i < EST_BUCKETS; i++)
    if (est->count[i]) {
      if (lo < 0) lo = i;
      hi = i;
    }
  if (lo >= 0) {
    fprintf(f, "size histogram (power-of-two buckets):\n");
    fprintf(f, "  %-24s %12s %8s %12s\n", "size", "objects", "%", "bytes");
    for (i = lo; i <= hi; i++) {
      uint64_t blo, bhi;
      est_bucket_range(i, &blo, &bhi);
      if (i == 0) {
        snprintf(range, sizeof(range), "0 B");
      } else {
        est_fmt_size(a, sizeof(a), (double)blo);
        if (bhi) est_fmt_size(b, sizeof(b), (double)bhi);
        else snprintf(b, sizeof(b), "16 EiB");
        snprintf(range, sizeof(range), "[%s, %s)", a, b);
      }
      est_fmt_size(c, sizeof(c), (double)est->bucket_bytes[i]);
      fprintf(f, "  %-24s %12" PRIu64 " %7.1f%% %12s\n", range, est->count[i],
              100.0 * (double)est->count[i] / (double)est->objects, c);
    }
  }
  print_inputs(f, &p, o);
  fprintf(f, "requests: %.0f (%.2f per object%s)\n", est->requests,
          est->objects ? est->requests / (double)est->objects : 0.0,
          p.head_dst ? ", a HEAD of the destination included" : "");
  est_fmt_duration(a, sizeof(a), r.t_requests);
  fprintf(f, "  request overhead  Q x L / (W x P)  = %.0f x %.3f s / (%d x %d) = %s\n",
          est->requests, p.request_s, p.workers, p.concurrency / 2, a);
  est_fmt_duration(a, sizeof(a), r.t_transfer);
  rate_str(b, sizeof(b), r.fleet_bps);
  fprintf(f, "  transfer          B / R            = %" PRIu64 " B / %s = %s\n", est->bytes, b, a);
  if (r.fleet_qps > 0) {
    est_fmt_duration(a, sizeof(a), r.t_qps);
    fprintf(f, "  qps limit         Q / QPS          = %.0f / %.1f = %s\n", est->requests,
            r.fleet_qps, a);
  } else {
    fprintf(f, "  qps limit         none\n");
  }
  if (r.t_placed >= 0 && r.t_measured < 0) print_placed(f, &p, &r);
  est_fmt_duration(a, sizeof(a), r.t_model);
  fprintf(f, "model: %s\n", a);
  if (r.t_measured >= 0) {
    est_fmt_duration(a, sizeof(a), r.t_measured);
    rate_str(b, sizeof(b), p.measured_bps);
    fprintf(f, "measured per worker: %.1f objects/s, %s (from %s, %s) -> %s for %d worker%s\n",
            p.measured_ops, b, o->rate_from_json, rate_how, a, p.workers,
            p.workers == 1 ? "" : "s");
    if (r.t_placed >= 0) print_placed(f, &p, &r);
  }
  if (p.start_s > 0) {
    est_fmt_duration(a, sizeof(a), p.start_s);
    fprintf(f, "start: %s (measured: the trial's first copy began that long after its listing)\n", a);
  }
  est_fmt_duration(a, sizeof(a), r.t_estimate);
  fprintf(f, "estimated duration: %s (bound: %s)\n", a, r.bound);
  fprintf(f, "estimate_seconds=%.3f objects=%" PRIu64 " bytes=%" PRIu64 " requests=%.0f\n",
          r.t_estimate, est->objects, est->bytes, est->requests);
  if (fflush(f) || ferror(f)) rc = LISTER_EXIT_FAIL;
  est_release(est);
  fx_free(est);
  return rc;
}

/* ---------- --verify ---------- */

static int run_verify(const ferry_conf_t *conf, const task_conf_t *t, const lister_opts_t *o) {
  static const char *const head[] = {"status", "key", "dst_key", "src_size", "dst_size",
                                     "src_etag", "dst_etag", "src_mtime", "dst_mtime"};
  lscan_t *src = NULL, *dst = NULL;
  ljoin_t j;
  outf_t out;
  char eb[FERRY_ERRLEN], sl[160], dl[160];
  uint64_t counts[SD_KINDS], n_src = 0, n_dst = 0, filtered = 0, diffs = 0;
  const char *dprefix = t->dst.prefix ? t->dst.prefix : "";
  ferry_err_t e = FERRY_OK;
  int rc, have_out = o->out != NULL;
  size_t k;
  FILE *sf;

  memset(counts, 0, sizeof(counts));
  if (t->src.kind != CONF_LOC_STORE) {
    fprintf(stderr, "ferry-lister: task %s: --verify compares two stores; the source is a "
            "URL list\n", t->name);
    return LISTER_EXIT_USAGE;
  }
  if (!(src = lscan_new(conf, &t->src, NULL, eb)) || !(dst = lscan_new(conf, &t->dst, NULL, eb))) {
    fprintf(stderr, "ferry-lister: task %s: %s\n", t->name, eb);
    lscan_destroy(src);
    return LISTER_EXIT_USAGE;
  }
  if (have_out && out_open(&out, o->out)) {
    lscan_destroy(src);
    lscan_destroy(dst);
    return LISTER_EXIT_FAIL;
  }
  if (have_out) csv_row(out.f, head, 9);
  ljoin_init(&j, src, dst);
  for (;;) {
    const store_object_t *so, *dobj;
    const char *rel;
    sd_kind_t kd;
    if ((e = ljoin_next(&j, &so, &dobj, &rel, eb))) break;
    if (!so && !dobj) break;
    if (so) n_src++;
    if (dobj) n_dst++;
    if (so && !conf_task_filter(t, rel, so->size, (int64_t)so->mtime)) {
      filtered++;  /* out of the task's scope, on both sides */
      continue;
    }
    if (!so) {
      /* Dates at the destination are copy times: only key and size filters
       * decide whether an extra object is in scope. */
      if (!conf_task_filter(t, rel, dobj->size, -1)) {
        filtered++;
        continue;
      }
      kd = SD_EXTRA;
    } else {
      kd = dobj ? sd_compare(so, dobj) : SD_MISSING;
    }
    counts[kd]++;
    if (kd == SD_SAME) continue;
    /* An extra object (at the destination only: deleted at the source, or
     * written by someone else) is reported but is no difference: ferry never
     * deletes, so it would keep a cut-over loop waiting for exit 0 for ever. */
    if (kd != SD_EXTRA) diffs++;
    if (have_out) {
      char ss[32] = "", ds[32] = "", st[40], dt[40];
      char *dk = fx_asprintf("%s%s", dprefix, rel);
      const char *row[9];
      if (so) snprintf(ss, sizeof(ss), "%" PRIu64, so->size);
      if (dobj) snprintf(ds, sizeof(ds), "%" PRIu64, dobj->size);
      fmt_time(st, sizeof(st), so ? (int64_t)so->mtime : -1);
      fmt_time(dt, sizeof(dt), dobj ? (int64_t)dobj->mtime : -1);
      row[0] = sd_kind_str(kd);
      row[1] = so ? so->key : NULL;
      row[2] = dk;
      row[3] = ss;
      row[4] = ds;
      row[5] = so ? so->etag : NULL;
      row[6] = dobj ? dobj->etag : NULL;
      row[7] = st;
      row[8] = dt;
      csv_row(out.f, row, 9);
      fx_free(dk);
    }
  }
  if (have_out && out_close(&out)) e = e ? e : FERRY_ERR_IO;
  lscan_destroy(src);
  lscan_destroy(dst);
  if (e) {
    if (*eb) fprintf(stderr, "ferry-lister: task %s: %s\n", t->name, eb);
    return LISTER_EXIT_FAIL;
  }
  /* The summary goes to stdout, unless the report does. */
  sf = have_out && strcmp(o->out, "-") == 0 ? stderr : stdout;
  loc_str(sl, sizeof(sl), &t->src);
  loc_str(dl, sizeof(dl), &t->dst);
  fprintf(sf, "task %s: verify %s -> %s\n", t->name, sl, dl);
  fprintf(sf, "listed: source %" PRIu64 ", destination %" PRIu64 ", left out by filters %"
          PRIu64 "\n", n_src, n_dst, filtered);
  for (k = 0; k < SD_KINDS; k++)
    fprintf(sf, "%s: %" PRIu64 "\n", k == SD_SAME ? "in-step" : sd_kind_str((sd_kind_t)k),
            counts[k]);
  rc = diffs ? LISTER_EXIT_DIFF : LISTER_EXIT_OK;
  fprintf(sf, "result: %s (%" PRIu64 " difference%s%s%" PRIu64 " extra at the destination)%s%s\n",
          diffs ? "NOT in step" : "in step", diffs, diffs == 1 ? "" : "s", "; ",
          counts[SD_EXTRA], have_out ? "; report: " : "",
          have_out ? (strcmp(o->out, "-") ? o->out : "stdout") : "");
  fflush(sf);
  return rc;
}

int lops_run(const ferry_conf_t *conf, const task_conf_t *t, const lister_opts_t *o) {
  lsrc_t *src;
  char eb[FERRY_ERRLEN];
  int rc;
  if (o->verify) return run_verify(conf, t, o);
  src = lsrc_new(conf, t,
                 t->src.kind == CONF_LOC_URLS ? LSRC_URLS
                 : o->incremental             ? LSRC_INCREMENTAL
                                              : LSRC_LIST,
                 eb);
  if (!src) {
    fprintf(stderr, "ferry-lister: task %s: %s\n", t->name, eb);
    return LISTER_EXIT_USAGE;
  }
  rc = o->estimate ? run_estimate(conf, t, o, src) : run_dry(conf, t, o, src);
  lsrc_destroy(src);
  return rc;
}
