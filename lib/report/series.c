/*
 * series.c: see series.h.
 */
#include "report/series.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bus/msg.h"
#include "report/tally.h"
#include "report/tallyweb.h"

#define MINUTE_MS 60000
#define NR (SERIES_REASONS + 1)   /* the named reasons and "other" */

typedef struct bucket {
  int64_t minute;                 /* minutes since the epoch; 0 = empty */
  uint64_t objects, bytes, failed;
  uint32_t by_reason[NR];
} bucket_t;

typedef struct stask {
  char *name;
  char *reasons[SERIES_REASONS];  /* in order of first appearance */
  size_t n_reasons;
  int64_t newest;                 /* newest minute seen */
  bucket_t *b;                    /* SERIES_MINUTES, a ring by minute */
} stask_t;

struct series {
  stask_t *t;
  size_t n;
};

series_t *series_new(void) { return fx_calloc(1, sizeof(series_t)); }

void series_free(series_t *s) {
  size_t i, k;
  if (!s) return;
  for (i = 0; i < s->n; i++) {
    for (k = 0; k < s->t[i].n_reasons; k++) fx_free(s->t[i].reasons[k]);
    fx_free(s->t[i].b);
    fx_free(s->t[i].name);
  }
  fx_free(s->t);
  fx_free(s);
}

static stask_t *find(const series_t *s, const char *task) {
  size_t i;
  for (i = 0; i < s->n; i++)
    if (strcmp(s->t[i].name, task) == 0) return &s->t[i];
  return NULL;
}

static int reason_slot(stask_t *t, const char *reason) {
  size_t k;
  for (k = 0; k < t->n_reasons; k++)
    if (strcmp(t->reasons[k], reason) == 0) return (int)k;
  if (t->n_reasons < SERIES_REASONS) {
    t->reasons[t->n_reasons] = fx_strdup(reason);
    return (int)t->n_reasons++;
  }
  return SERIES_REASONS;   /* other */
}

void series_add(series_t *s, const char *task, int64_t ts_ms, uint64_t objects, uint64_t bytes,
                const char *reason, uint64_t failed) {
  stask_t *t = find(s, task);
  int64_t minute = ts_ms / MINUTE_MS;
  bucket_t *b;
  if (ts_ms <= 0) return;
  if (!t) {
    s->t = fx_realloc(s->t, (s->n + 1) * sizeof(*s->t));
    t = &s->t[s->n++];
    memset(t, 0, sizeof(*t));
    t->name = fx_strdup(task);
    t->b = fx_calloc(SERIES_MINUTES, sizeof(*t->b));
  }
  if (minute <= t->newest - SERIES_MINUTES) return;   /* older than the window */
  if (minute > t->newest) t->newest = minute;
  b = &t->b[minute % SERIES_MINUTES];
  if (b->minute != minute) {   /* a minute a day older: its slot is reused */
    memset(b, 0, sizeof(*b));
    b->minute = minute;
  }
  b->objects += objects;
  b->bytes += bytes;
  if (reason && failed) {
    b->failed += failed;
    b->by_reason[reason_slot(t, reason)] += (uint32_t)failed;
  }
}

ferry_err_t series_add_result(series_t *s, const void *buf, size_t len, int64_t ts_ms,
                              char *errbuf) {
  msg_result_t r;
  size_t i;
  ferry_err_t e = msg_result_decode(buf, len, &r, errbuf);
  if (e) return e;
  if (ts_ms < 0) ts_ms = r.finished_ms;
  /* Each part of a split result repeats the counts: take them once. */
  if (r.part <= 1) series_add(s, r.task, ts_ms, r.n_objects, r.bytes, NULL, 0);
  /* Changed and vanished sources count as failures, as in the tally. */
  for (i = 0; i < r.n_outcomes; i++)
    if (r.outcomes[i].status != ST_COPIED && r.outcomes[i].status != ST_SKIPPED)
      series_add(s, r.task, ts_ms, 0, 0, tally_outcome_label(&r.outcomes[i]), 1);
  msg_result_release(&r);
  return FERRY_OK;
}

/* The buckets of the 24 h window ending at now_ms (or at the newest minute
 * when that is later), oldest first; *first gets the window's first minute. */
static size_t window(const stask_t *t, int64_t now_ms, const bucket_t **out, int64_t *first) {
  int64_t last = now_ms / MINUTE_MS, m;
  size_t n = 0;
  if (t->newest > last) last = t->newest;
  *first = last - SERIES_MINUTES + 1;
  for (m = *first; m <= last; m++) {
    const bucket_t *b = &t->b[((m % SERIES_MINUTES) + SERIES_MINUTES) % SERIES_MINUTES];
    if (b->minute == m) out[n++] = b;
  }
  return n;
}

json_t *series_json(const series_t *s, const char *task, int64_t now_ms) {
  const stask_t *t = find(s, task);
  json_t *o = json_object(), *pts = json_array(), *rs = json_array(), *fr = json_array();
  size_t i, k;
  json_object_set_new(o, "minute_ms", json_integer(MINUTE_MS));
  if (t) {
    const bucket_t **bs = fx_calloc(SERIES_MINUTES, sizeof(*bs));
    int64_t first;
    size_t n = window(t, now_ms, bs, &first);
    for (k = 0; k < t->n_reasons; k++) json_array_append_new(rs, json_string(t->reasons[k]));
    if (t->n_reasons == SERIES_REASONS) json_array_append_new(rs, json_string("other"));
    for (i = 0; i < n; i++) {
      json_t *f = json_array();
      json_array_append_new(pts, json_pack("[I, I, I, I]", (json_int_t)(bs[i]->minute * MINUTE_MS),
                                           (json_int_t)bs[i]->objects,
                                           (json_int_t)bs[i]->bytes,
                                           (json_int_t)bs[i]->failed));
      json_array_append_new(f, json_integer(bs[i]->minute * MINUTE_MS));
      for (k = 0; k < json_array_size(rs); k++)
        json_array_append_new(f, json_integer(bs[i]->by_reason[k]));
      json_array_append_new(fr, f);
    }
    fx_free(bs);
  }
  json_object_set_new(o, "points", pts);
  json_object_set_new(o, "reasons", rs);
  json_object_set_new(o, "failed_by_reason", fr);
  return o;
}

/* ---------- SVG ---------- */

#define W 720
#define H 150
#define PAD_L 70
#define PAD_B 20
static const char *const COLORS[NR] = {"#cc3333", "#e8b400", "#7b3fb5", "#2f74d0",
                                       "#2e9e44", "#d9730d", "#777777"};

static void hhmm(fbuf_t *out, int64_t minute) {
  time_t secs = (time_t)(minute * 60);
  struct tm tmv;
  char s[16];
  gmtime_r(&secs, &tmv);
  strftime(s, sizeof(s), "%H:%M", &tmv);
  fbuf_adds(out, s);
}

/* One chart: values[c][i] at minutes[i] for each curve c < nc. */
static void chart(fbuf_t *out, const char *id, const char *title, int bytes, int64_t first,
                  const int64_t *minutes, double *const *values, size_t n, size_t nc,
                  const char *const *names) {
  double max = 0;
  size_t i, c;
  for (c = 0; c < nc; c++)
    for (i = 0; i < n; i++)
      if (values[c][i] > max) max = values[c][i];
  fbuf_addf(out, "<figure class=\"chart\"><svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
                 "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\"><title>",
            id, W, H, W, H);
  fbuf_adds(out, title);
  fbuf_addf(out, "</title><rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
                 "stroke=\"#ddd\"/><text x=\"%d\" y=\"12\" text-anchor=\"end\" font-size=\"11\">",
            PAD_L, W - PAD_L, H - PAD_B, PAD_L - 4);
  if (bytes) {
    tally_fmt_bytes(out, max);
    fbuf_adds(out, "/s");
  } else {
    fbuf_addf(out, "%.3g", max);
  }
  fbuf_addf(out, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">0</text>"
                 "<text x=\"%d\" y=\"%d\" font-size=\"11\">",
            PAD_L - 4, H - PAD_B, PAD_L, H - 4);
  hhmm(out, first);
  fbuf_addf(out, " UTC</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">", W,
            H - 4);
  hhmm(out, first + SERIES_MINUTES - 1);
  fbuf_adds(out, " UTC</text>");
  for (c = 0; c < nc; c++) {
    fbuf_addf(out, "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"%s\" points=\"",
              nc > 1 ? COLORS[c % NR] : "#2f74d0");
    for (i = 0; i < n; i++) {
      double x = PAD_L + (double)(minutes[i] - first) * (W - PAD_L) / (SERIES_MINUTES - 1);
      double y = (H - PAD_B) - (max > 0 ? values[c][i] / max * (H - PAD_B - 14) : 0);
      fbuf_addf(out, "%s%.1f,%.1f", i ? " " : "", x, y);
    }
    fbuf_adds(out, "\"/>");
  }
  fbuf_addf(out, "</svg><figcaption>");
  fbuf_adds(out, title);
  for (c = 0; names && c < nc; c++) {
    fbuf_addf(out, " <span class=\"key\" style=\"color:%s\">■</span> ", COLORS[c % NR]);
    tallyweb_html_escape(out, names[c]);
  }
  fbuf_adds(out, "</figcaption></figure>\n");
}

void series_svg(const series_t *s, const char *task, int64_t now_ms, fbuf_t *out) {
  const stask_t *t = find(s, task);
  const bucket_t **bs;
  int64_t first, *minutes;
  double *v[NR + 2];
  const char *names[NR];
  size_t n, i, c, nr;
  if (!t) {
    fbuf_adds(out, "<p class=\"empty\" id=\"charts-empty\">no results in the last 24 h</p>\n");
    return;
  }
  bs = fx_calloc(SERIES_MINUTES, sizeof(*bs));
  n = window(t, now_ms, bs, &first);
  if (!n) {
    fx_free(bs);
    fbuf_adds(out, "<p class=\"empty\" id=\"charts-empty\">no results in the last 24 h</p>\n");
    return;
  }
  minutes = fx_calloc(n, sizeof(*minutes));
  nr = t->n_reasons + (t->n_reasons == SERIES_REASONS);
  for (c = 0; c < NR + 2; c++) v[c] = fx_calloc(n, sizeof(double));
  for (i = 0; i < n; i++) {
    minutes[i] = bs[i]->minute;
    v[0][i] = (double)bs[i]->objects / 60.0;
    v[1][i] = (double)bs[i]->bytes / 60.0;
    for (c = 0; c < nr; c++) v[2 + c][i] = bs[i]->by_reason[c];
  }
  for (c = 0; c < nr; c++) names[c] = c < t->n_reasons ? t->reasons[c] : "other";
  chart(out, "chart-objects", "objects/s (per-minute average)", 0, first, minutes, &v[0], n, 1,
        NULL);
  chart(out, "chart-bytes", "bytes/s (per-minute average)", 1, first, minutes, &v[1], n, 1, NULL);
  if (nr)
    chart(out, "chart-failures", "failures per minute by reason", 0, first, minutes, &v[2], n,
          nr, names);
  else
    fbuf_adds(out, "<p class=\"empty\" id=\"chart-failures-empty\">no failures</p>\n");
  for (c = 0; c < NR + 2; c++) fx_free(v[c]);
  fx_free(minutes);
  fx_free(bs);
}
