/*
 * http.c: the reporter's HTTP server. See http.h.
 *
 * Why libmicrohttpd's internal thread and a mutex rather than driving it
 * from the consume loop (external select): the loop spends its time inside
 * librdkafka's poll, which has no file descriptor to wait on beside
 * libmicrohttpd's, so the server would answer only between polls (up to
 * half a second late) and not at all while a large journal is replayed at
 * start (feed_catch_up), which is when an operator most wants to look. With
 * its own thread the server answers at once, and the lock is held only for
 * snapshots: the tally is never rendered or sent under it.
 */
#include "reporter/http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/tallyweb.h"
#include "core/log.h"
#include "web/httpd.h"

#define FAC "http"

/* Bounds: what one response may cost (the page, JSON and metrics at most
 * HTTPD_MAX_BODY). The failed lists are streamed in chunks
 * (tally_export_next), each taken under the lock when the client has read
 * the previous one: an export holds at most one chunk, and at most
 * MAX_EXPORTS run at once (503 beyond), whatever the list's length. */
#define MAX_EXPORTS 4
#define EXPORT_CHUNK_ROWS 4096
#define EXPORT_CHUNK_BYTES ((size_t)1 << 20)
#define EXPORT_BLOCK ((size_t)64 << 10)        /* libmicrohttpd's read size */

struct http {
  httpd_t *d;
  const tally_t *t;
  const feed_t *feed;
  pthread_mutex_t *lock;
  _Atomic int exports;   /* failed-list responses not yet finished */
};

/* ---------- snapshots (under the lock) ---------- */

typedef struct snap {
  tallyweb_stats_t st;
  tally_view_t *views;
  size_t n;
} snap_t;

static void stats_locked(const http_t *h, tallyweb_stats_t *st, int64_t now) {
  feed_stats_t fs;
  feed_stats(h->feed, &fs);
  memset(st, 0, sizeof(*st));
  st->records = fs.records;
  st->rejected = fs.rejected;
  st->duplicates = tally_duplicates(h->t);
  st->lag = fs.lag;
  st->caught_up = fs.caught_up;
  st->now_ms = now;
}

static void snap_take(const http_t *h, snap_t *s) {
  const char **names;
  size_t i;
  int64_t now = ferry_wall_ms();
  pthread_mutex_lock(h->lock);
  stats_locked(h, &s->st, now);
  s->n = tally_task_names(h->t, &names);
  s->views = fx_calloc(s->n + 1, sizeof(*s->views));
  for (i = 0; i < s->n; i++) tally_view(h->t, names[i], now, &s->views[i]);
  pthread_mutex_unlock(h->lock);
  fx_free(names);
}

static void snap_release(snap_t *s) {
  size_t i;
  for (i = 0; i < s->n; i++) tally_view_release(&s->views[i]);
  fx_free(s->views);
}

/* ---------- handlers ---------- */

/* The page's own headers: its script and style only, never in a frame. */
static const char *const *page_headers(void) {
  static const char *hdrs[] = {"Content-Security-Policy", NULL, "X-Frame-Options", "DENY",
                               NULL};
  hdrs[1] = tallyweb_page_csp();
  return hdrs;
}

static enum MHD_Result get_page(const http_t *h, struct MHD_Connection *c) {
  snap_t s;
  fbuf_t b;
  snap_take(h, &s);
  fbuf_init(&b, 0);
  tallyweb_page(s.views, s.n, &s.st, &b);
  snap_release(&s);
  return httpd_send_text(c, "text/html; charset=utf-8", &b, page_headers());
}

static enum MHD_Result get_metrics(const http_t *h, struct MHD_Connection *c) {
  snap_t s;
  fbuf_t b;
  snap_take(h, &s);
  fbuf_init(&b, 0);
  tallyweb_metrics(s.views, s.n, &s.st, &b);
  snap_release(&s);
  return httpd_send_text(c, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
}

static enum MHD_Result get_tasks(const http_t *h, struct MHD_Connection *c) {
  snap_t s;
  json_t *a = json_array();
  size_t i;
  snap_take(h, &s);
  for (i = 0; i < s.n; i++) json_array_append_new(a, tally_view_json(&s.views[i]));
  snap_release(&s);
  return httpd_send_json(c, MHD_HTTP_OK, a);
}

static enum MHD_Result get_reporter(const http_t *h, struct MHD_Connection *c) {
  tallyweb_stats_t st;
  const char **names;
  size_t n;
  pthread_mutex_lock(h->lock);
  stats_locked(h, &st, ferry_wall_ms());
  n = tally_task_names(h->t, &names);
  pthread_mutex_unlock(h->lock);
  fx_free(names);
  return httpd_send_json(c, MHD_HTTP_OK, tallyweb_stats_json(&st, n));
}

static enum MHD_Result get_task(const http_t *h, struct MHD_Connection *c,
                                const char *task) {
  tally_view_t v;
  ferry_err_t e;
  json_t *j;
  pthread_mutex_lock(h->lock);
  e = tally_view(h->t, task, ferry_wall_ms(), &v);
  pthread_mutex_unlock(h->lock);
  if (e == FERRY_ERR_NOTFOUND) {
    tally_view_release(&v);
    return httpd_send_error(c, MHD_HTTP_NOT_FOUND, "no such task", task);
  }
  j = tally_view_json(&v);
  tally_view_release(&v);
  return httpd_send_json(c, MHD_HTTP_OK, j);
}

/* attachment; filename="<task>-failed.csv", the name reduced to safe bytes. */
static char *disposition(const char *task, const char *ext) {
  char name[80];
  size_t i, o = 0;
  for (i = 0; task[i] && o < 60; i++) {
    unsigned char ch = (unsigned char)task[i];
    name[o++] = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'
                    ? (char)ch
                    : '_';
  }
  name[o] = '\0';
  return fx_asprintf("attachment; filename=\"%s-failed.%s\"", o ? name : "task", ext);
}

/* One failed-list response being sent: the cursor and its current chunk. */
typedef struct export_stream {
  http_t *h;
  tally_export_t *x;
  fbuf_t chunk;
  size_t off;       /* of chunk already sent */
} export_stream_t;

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max) {
  export_stream_t *s = cls;
  size_t n;
  (void)pos;
  while (s->off == s->chunk.len) {
    int more;
    fbuf_reset(&s->chunk);
    s->off = 0;
    pthread_mutex_lock(s->h->lock);
    more = tally_export_next(s->x, s->h->t, EXPORT_CHUNK_ROWS, EXPORT_CHUNK_BYTES,
                             &s->chunk);
    pthread_mutex_unlock(s->h->lock);
    if (!more) return MHD_CONTENT_READER_END_OF_STREAM;
  }
  n = FERRY_MIN(max, s->chunk.len - s->off);
  memcpy(buf, s->chunk.p + s->off, n);
  s->off += n;
  return (ssize_t)n;
}

static void export_done(void *cls) {
  export_stream_t *s = cls;
  LOG_DEBUG(FAC, "export rows=%zu msg=\"failed list sent\"", tally_export_rows(s->x));
  s->h->exports--;
  tally_export_free(s->x);
  fbuf_release(&s->chunk);
  fx_free(s);
}

static enum MHD_Result get_failed(http_t *h, struct MHD_Connection *c, const char *url,
                                  const char *task, tally_export_fmt_t fmt) {
  tally_view_t v;
  ferry_err_t e;
  export_stream_t *s;
  struct MHD_Response *r;
  char *disp;
  enum MHD_Result ret;
  pthread_mutex_lock(h->lock);
  e = tally_view(h->t, task, ferry_wall_ms(), &v);
  pthread_mutex_unlock(h->lock);
  tally_view_release(&v);
  if (e == FERRY_ERR_NOTFOUND) return httpd_send_error(c, MHD_HTTP_NOT_FOUND, "no such task", task);
  if (++h->exports > MAX_EXPORTS) {
    h->exports--;
    /* The path, not the decoded name: it cannot break the log line. */
    LOG_WARN(FAC, "path=%s msg=\"%d failed-list exports already running\"", FLOG_Q(url),
             MAX_EXPORTS);
    return httpd_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                      "too many failed-list exports at once: try again later", task);
  }
  s = fx_calloc(1, sizeof(*s));
  s->h = h;
  s->x = tally_export_new(task, fmt);
  fbuf_init(&s->chunk, 0);
  r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EXPORT_BLOCK, export_read, s,
                                        export_done);
  if (!r) {
    export_done(s);
    return MHD_NO;
  }
  httpd_common_headers(r);
  MHD_add_response_header(r, "Content-Type", fmt == TALLY_EXPORT_CSV
                                                 ? "text/csv; charset=utf-8"
                                                 : "application/x-ndjson; charset=utf-8");
  disp = disposition(task, fmt == TALLY_EXPORT_CSV ? "csv" : "jsonl");
  MHD_add_response_header(r, "Content-Disposition", disp);
  fx_free(disp);
  ret = MHD_queue_response(c, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  int get) {
  http_t *h = cls;
  char *task = NULL;
  tallyweb_route_t r;
  enum MHD_Result ret;
  r = tallyweb_route(url, &task);
  LOG_DEBUG(FAC, "path=%s route=%d", FLOG_Q(url), (int)r);
  if (r == TALLYWEB_NOT_FOUND) {
    ret = httpd_send_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL);
  } else if (r == TALLYWEB_BAD_PATH) {
    ret = httpd_send_error(c, MHD_HTTP_BAD_REQUEST, "bad %-escape in the path", NULL);
  } else if (!get) {
    ret = httpd_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", NULL);
  } else {
    switch (r) {
    case TALLYWEB_PAGE: ret = get_page(h, c); break;
    case TALLYWEB_METRICS: ret = get_metrics(h, c); break;
    case TALLYWEB_TASKS: ret = get_tasks(h, c); break;
    case TALLYWEB_REPORTER: ret = get_reporter(h, c); break;
    case TALLYWEB_TASK: ret = get_task(h, c, task); break;
    case TALLYWEB_FAILED_CSV:
      ret = get_failed(h, c, url, task, TALLY_EXPORT_CSV);
      break;
    case TALLYWEB_FAILED_JSONL:
      ret = get_failed(h, c, url, task, TALLY_EXPORT_JSONL);
      break;
    default: ret = httpd_send_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL); break;
    }
  }
  fx_free(task);
  return ret;
}

/* ---------- life cycle ---------- */

http_t *http_new(const char *listen, const tally_t *t, const feed_t *f,
                 pthread_mutex_t *lock, char *errbuf) {
  http_t *h = fx_calloc(1, sizeof(*h));
  h->t = t;
  h->feed = f;
  h->lock = lock;
  h->d = httpd_new("reporter", listen, on_request, h, errbuf);
  if (!h->d) {
    fx_free(h);
    return NULL;
  }
  return h;
}

void http_destroy(http_t *h) {
  if (!h) return;
  httpd_destroy(h->d);
  fx_free(h);
}

const char *http_url(const http_t *h) { return httpd_url(h->d); }
