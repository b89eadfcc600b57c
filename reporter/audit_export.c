/* audit_export.c: --export-audit (audit_export.h). */
#include "reporter/audit_export.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bus/topicscan.h"
#include "core/log.h"

#define FAC "reporter"

const char *audit_csv_header(void) {
  return "key,dst_store,dst_bucket,dst_key,size,crc64,src_etag,dst_etag,overwrote,"
         "written_at,written_at_ms,worker,run,segment\n";
}

static void jset_opt(json_t *o, const char *k, const char *v) {
  if (v) json_object_set_new(o, k, json_string(v));
}

void audit_rows(const msg_audit_t *a, tally_export_fmt_t fmt, fbuf_t *out) {
  size_t i;
  for (i = 0; i < a->n_recs; i++) {
    const msg_audit_rec_t *r = &a->recs[i];
    char when[32], crc[24] = "";
    tally_fmt_time_ms(when, sizeof(when), r->at_ms);
    if (r->has_crc64) snprintf(crc, sizeof(crc), "%" PRIu64, r->crc64);
    if (fmt == TALLY_EXPORT_CSV) {
      tally_csv_field(out, r->key);
      fbuf_addc(out, ',');
      tally_csv_field(out, a->dst.store);
      fbuf_addc(out, ',');
      tally_csv_field(out, a->dst.bucket);
      fbuf_addc(out, ',');
      tally_csv_field(out, r->dst_key);
      fbuf_addf(out, ",%" PRIu64 ",%s,", r->size, crc);
      tally_csv_field(out, r->src_etag);
      fbuf_addc(out, ',');
      tally_csv_field(out, r->dst_etag);
      fbuf_addf(out, ",%s,%s,%" PRId64 ",", msg_overwrote_str(r->overwrote), when, r->at_ms);
      tally_csv_field(out, a->worker);
      fbuf_addf(out, ",%d,", a->run);
      tally_csv_field(out, a->segment);
      fbuf_addc(out, '\n');
    } else {
      json_t *j = json_object();
      char *s;
      json_object_set_new(j, "key", json_string(r->key));
      json_object_set_new(j, "dst_store", json_string(a->dst.store));
      json_object_set_new(j, "dst_bucket", json_string(a->dst.bucket));
      json_object_set_new(j, "dst_key", json_string(r->dst_key));
      json_object_set_new(j, "size", json_integer((json_int_t)r->size));
      jset_opt(j, "crc64", r->has_crc64 ? crc : NULL);
      jset_opt(j, "src_etag", r->src_etag);
      jset_opt(j, "dst_etag", r->dst_etag);
      json_object_set_new(j, "overwrote", json_string(msg_overwrote_str(r->overwrote)));
      json_object_set_new(j, "written_at", json_string(when));
      json_object_set_new(j, "written_at_ms", json_integer((json_int_t)r->at_ms));
      json_object_set_new(j, "worker", json_string(a->worker));
      json_object_set_new(j, "run", json_integer(a->run));
      json_object_set_new(j, "segment", json_string(a->segment));
      s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
      json_decref(j);
      if (s) {
        fbuf_adds(out, s);
        fbuf_addc(out, '\n');
        free(s);
      }
    }
  }
}

typedef struct ctx {
  const char *task;
  tally_export_fmt_t fmt;
  FILE *f;
  fbuf_t b;
  int io_err;
  audit_export_stats_t *st;
} ctx_t;

static int on_msg(const bus_msg_t *m, void *arg) {
  ctx_t *c = arg;
  char eb[FERRY_ERRLEN];
  msg_audit_t a;
  size_t tl = strlen(c->task);
  /* Keyed "TASK/SEGMENT" (task names hold no '/'): other tasks' records are
   * not even decoded. */
  if (!m->key || m->key_len <= tl || memcmp(m->key, c->task, tl) != 0 ||
      ((const char *)m->key)[tl] != '/')
    return 0;
  if (!m->value || msg_audit_decode(m->value, m->len, &a, eb) != FERRY_OK) {
    c->st->bad++;
    LOG_WARN(FAC, "event=audit-undecodable partition=%d offset=%" PRId64 " error=%s "
             "msg=\"skipped: its records are not in the export\"", (int)m->partition,
             m->offset, FLOG_Q(m->value ? eb : "empty message"));
    return 0;
  }
  if (strcmp(a.task, c->task) == 0) {
    c->st->messages++;
    c->st->rows += a.n_recs;
    fbuf_reset(&c->b);
    audit_rows(&a, c->fmt, &c->b);
    if (c->b.len && fwrite(c->b.p, 1, c->b.len, c->f) != c->b.len) c->io_err = errno ? errno : EIO;
  }
  msg_audit_release(&a);
  return c->io_err ? 1 : 0;
}

ferry_err_t audit_export(const bus_conf_t *bc, const char *task, tally_export_fmt_t fmt,
                         FILE *f, int timeout_ms, audit_export_stats_t *st, char *errbuf) {
  ctx_t c;
  ferry_err_t e;
  memset(&c, 0, sizeof(c));
  memset(st, 0, sizeof(*st));
  c.task = task;
  c.fmt = fmt;
  c.f = f;
  c.st = st;
  fbuf_init(&c.b, 0);
  if (fmt == TALLY_EXPORT_CSV && fputs(audit_csv_header(), f) == EOF)
    c.io_err = errno ? errno : EIO;
  e = c.io_err ? FERRY_OK : bus_scan(bc, BUS_AUDIT, timeout_ms, on_msg, &c, NULL, errbuf);
  fbuf_release(&c.b);
  if (!e && c.io_err) e = ferry_seterr(errbuf, FERRY_ERR_IO, "%s", strerror(c.io_err));
  return e;
}
