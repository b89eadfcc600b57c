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
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "bus/tallyweb.h"
#include "core/log.h"

#define FAC "http"

/* Bounds: what one response may cost. The failed lists are streamed in
 * chunks (tally_export_next), each taken under the lock when the client
 * has read the previous one: an export holds at most one chunk, and at
 * most MAX_EXPORTS run at once (503 beyond), whatever the list's length. */
#define MAX_BODY ((size_t)64 << 20)            /* page, JSON, metrics */
#define MAX_EXPORTS 4
#define EXPORT_CHUNK_ROWS 4096
#define EXPORT_CHUNK_BYTES ((size_t)1 << 20)
#define EXPORT_BLOCK ((size_t)64 << 10)        /* libmicrohttpd's read size */
#define MAX_CONNECTIONS 64
#define CONN_TIMEOUT_S 30
#define CONN_MEMORY ((size_t)32 << 10)         /* request line and headers */

struct http {
  struct MHD_Daemon *d;
  const tally_t *t;
  const feed_t *feed;
  pthread_mutex_t *lock;
  char url[128];
  char start_err[200];   /* libmicrohttpd's last word while starting */
  _Atomic int starting;  /* set while MHD_start_daemon runs */
  _Atomic int exports;   /* failed-list responses not yet finished */
};

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- listen address ---------- */

ferry_err_t http_parse_listen(const char *listen, char **host, int *port, char *errbuf) {
  const char *colon, *h = listen, *hend;
  char *end;
  long v;
  *host = NULL;
  *port = -1;
  if (!listen || !*listen)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "listen: empty address");
  if (listen[0] == '[') {
    const char *rb = strchr(listen, ']');
    if (!rb || rb == listen + 1 || rb[1] != ':')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "listen \"%s\": expected [IPV6]:PORT", listen);
    h = listen + 1;
    hend = rb;
    colon = rb + 1;
  } else {
    colon = strrchr(listen, ':');
    if (!colon || memchr(listen, ':', (size_t)(colon - listen)))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "listen \"%s\": expected ADDR:PORT, :PORT or [IPV6]:PORT",
                          listen);
    hend = colon;
  }
  errno = 0;
  v = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || errno || v < 0 || v > 65535 || colon[1] == '-' ||
      colon[1] == '+' || colon[1] == ' ')
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "listen \"%s\": the port must be 0..65535 (0: any free port)",
                        listen);
  *host = hend > h ? fx_strndup(h, (size_t)(hend - h)) : fx_strdup("127.0.0.1");
  *port = (int)v;
  return FERRY_OK;
}

/* ---------- responses ---------- */

static void common_headers(struct MHD_Response *r) {
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

/* Sends body (emptied: its memory goes to the response) with status. */
static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status,
                                const char *ctype, fbuf_t *body,
                                const char *disposition, int page) {
  size_t len = body->len;
  char *p = fbuf_steal(body);
  struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
      len, p, fx_free);
  enum MHD_Result ret;
  if (!r) {
    fx_free(p);
    return MHD_NO;
  }
  common_headers(r);
  MHD_add_response_header(r, "Content-Type", ctype);
  if (disposition) MHD_add_response_header(r, "Content-Disposition", disposition);
  if (page) {
    MHD_add_response_header(r, "Content-Security-Policy", tallyweb_page_csp());
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
  }
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
    MHD_add_response_header(r, "Allow", "GET, HEAD");
  if (status == MHD_HTTP_SERVICE_UNAVAILABLE) MHD_add_response_header(r, "Retry-After", "5");
  ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static int dump_cb(const char *buf, size_t size, void *data) {
  return fbuf_add((fbuf_t *)data, buf, size) ? -1 : 0;
}

/* Sends j (stolen) as JSON, or a 500 when it would exceed MAX_BODY. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j);

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
                                  const char *msg, const char *task) {
  json_t *j = json_object();
  json_object_set_new(j, "error", json_string(msg));
  if (task) json_object_set_new(j, "task", json_string(task));
  return send_json(c, status, j);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
  fbuf_t b;
  int rc;
  fbuf_init(&b, MAX_BODY);
  rc = j ? json_dump_callback(j, dump_cb, &b, JSON_COMPACT | JSON_PRESERVE_ORDER) : -1;
  json_decref(j);
  if (rc == 0) rc = fbuf_addc(&b, '\n') ? -1 : 0;
  if (rc != 0) {
    fbuf_release(&b);
    if (status == MHD_HTTP_INTERNAL_SERVER_ERROR) return MHD_NO;   /* no loop */
    LOG_WARN(FAC, "msg=\"JSON response over the limit\" max_bytes=%zu", MAX_BODY);
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "response too large", NULL);
  }
  return send_buf(c, status, "application/json; charset=utf-8", &b, NULL, 0);
}

/* Sends a rendered text body, or a 500 when it grew past MAX_BODY. */
static enum MHD_Result send_text(struct MHD_Connection *c, const char *ctype, fbuf_t *b,
                                 int page) {
  if (b->len > MAX_BODY) {
    LOG_WARN(FAC, "msg=\"response over the limit\" bytes=%zu max_bytes=%zu", b->len,
             MAX_BODY);
    fbuf_release(b);
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "response too large", NULL);
  }
  return send_buf(c, MHD_HTTP_OK, ctype, b, NULL, page);
}

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
  int64_t now = wall_ms();
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

static enum MHD_Result get_page(const http_t *h, struct MHD_Connection *c) {
  snap_t s;
  fbuf_t b;
  snap_take(h, &s);
  fbuf_init(&b, 0);
  tallyweb_page(s.views, s.n, &s.st, &b);
  snap_release(&s);
  return send_text(c, "text/html; charset=utf-8", &b, 1);
}

static enum MHD_Result get_metrics(const http_t *h, struct MHD_Connection *c) {
  snap_t s;
  fbuf_t b;
  snap_take(h, &s);
  fbuf_init(&b, 0);
  tallyweb_metrics(s.views, s.n, &s.st, &b);
  snap_release(&s);
  return send_text(c, "text/plain; version=0.0.4; charset=utf-8", &b, 0);
}

static enum MHD_Result get_tasks(const http_t *h, struct MHD_Connection *c) {
  snap_t s;
  json_t *a = json_array();
  size_t i;
  snap_take(h, &s);
  for (i = 0; i < s.n; i++) json_array_append_new(a, tally_view_json(&s.views[i]));
  snap_release(&s);
  return send_json(c, MHD_HTTP_OK, a);
}

static enum MHD_Result get_reporter(const http_t *h, struct MHD_Connection *c) {
  tallyweb_stats_t st;
  const char **names;
  size_t n;
  pthread_mutex_lock(h->lock);
  stats_locked(h, &st, wall_ms());
  n = tally_task_names(h->t, &names);
  pthread_mutex_unlock(h->lock);
  fx_free(names);
  return send_json(c, MHD_HTTP_OK, tallyweb_stats_json(&st, n));
}

static enum MHD_Result get_task(const http_t *h, struct MHD_Connection *c,
                                const char *task) {
  tally_view_t v;
  ferry_err_t e;
  json_t *j;
  pthread_mutex_lock(h->lock);
  e = tally_view(h->t, task, wall_ms(), &v);
  pthread_mutex_unlock(h->lock);
  if (e == FERRY_ERR_NOTFOUND) {
    tally_view_release(&v);
    return send_error(c, MHD_HTTP_NOT_FOUND, "no such task", task);
  }
  j = tally_view_json(&v);
  tally_view_release(&v);
  return send_json(c, MHD_HTTP_OK, j);
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
  e = tally_view(h->t, task, wall_ms(), &v);
  pthread_mutex_unlock(h->lock);
  tally_view_release(&v);
  if (e == FERRY_ERR_NOTFOUND) return send_error(c, MHD_HTTP_NOT_FOUND, "no such task", task);
  if (++h->exports > MAX_EXPORTS) {
    h->exports--;
    /* The path, not the decoded name: it cannot break the log line. */
    LOG_WARN(FAC, "path=%s msg=\"%d failed-list exports already running\"", FLOG_Q(url),
             MAX_EXPORTS);
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
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
  common_headers(r);
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
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  static int seen;   /* its address marks a request whose headers are in */
  http_t *h = cls;
  char *task = NULL;
  tallyweb_route_t r;
  enum MHD_Result ret;
  int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
            strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  (void)version;
  (void)upload_data;
  /* The first call has the headers only. A GET or HEAD is answered on the
   * next, when libmicrohttpd has seen that no body follows and can keep
   * the connection open. Anything else is refused at once, as is a GET
   * that announces a body: libmicrohttpd then closes the connection
   * instead of reading a body nobody wants. */
  if (*con_cls == NULL) {
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (get && (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                            MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
                (cl && strcmp(cl, "0") != 0)))
      return send_error(c, MHD_HTTP_BAD_REQUEST, "a GET has no body", NULL);
    if (get) {
      *con_cls = &seen;
      return MHD_YES;
    }
  }
  if (*upload_data_size) {   /* announced no body, yet sent one */
    *upload_data_size = 0;
    return MHD_NO;
  }
  r = tallyweb_route(url, &task);
  LOG_DEBUG(FAC, "method=%s path=%s route=%d", method, FLOG_Q(url), (int)r);
  if (r == TALLYWEB_NOT_FOUND) {
    ret = send_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL);
  } else if (r == TALLYWEB_BAD_PATH) {
    ret = send_error(c, MHD_HTTP_BAD_REQUEST, "bad %-escape in the path", NULL);
  } else if (!get) {
    ret = send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", NULL);
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
    default: ret = send_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL); break;
    }
  }
  fx_free(task);
  return ret;
}

/* The path as sent: tallyweb_route splits it into segments before it
 * decodes them, so an encoded '/' stays inside a task name. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  http_t *h = cls;
  char line[200];
  size_t n;
  vsnprintf(line, sizeof(line), fmt, ap);
  n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  if (h->starting) snprintf(h->start_err, sizeof(h->start_err), "%s", line);
  LOG_WARN(FAC, "microhttpd=%s", FLOG_Q(line));
}

/* ---------- life cycle ---------- */

http_t *http_new(const char *listen, const tally_t *t, const feed_t *f,
                 pthread_mutex_t *lock, char *errbuf) {
  http_t *h;
  char *host = NULL, portstr[8];
  int port, gai;
  struct addrinfo hints, *ai = NULL;
  const union MHD_DaemonInfo *info;
  sigset_t block, old;
  char addr[INET6_ADDRSTRLEN];
  if (http_parse_listen(listen, &host, &port, errbuf)) return NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(portstr, sizeof(portstr), "%d", port);
  gai = getaddrinfo(host, portstr, &hints, &ai);
  if (gai != 0 || !ai) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "listen \"%s\": %s", listen,
                 gai ? gai_strerror(gai) : "no address");
    fx_free(host);
    return NULL;
  }
  fx_free(host);
  h = fx_calloc(1, sizeof(*h));
  h->t = t;
  h->feed = f;
  h->lock = lock;
  h->starting = 1;
  /* The server's thread inherits this mask: SIGINT and SIGTERM go to the
   * main thread, whose loop watches the flag the handler sets. */
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  h->d = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
          (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
      0, NULL, NULL, on_request, h,
      /* The logger first, so that every later option's complaint reaches it. */
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
      MHD_OPTION_SOCK_ADDR, ai->ai_addr,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY,
      MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
      MHD_OPTION_END);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  h->starting = 0;
  if (!h->d) {
    ferry_seterr(errbuf, FERRY_ERR_IO, "listen \"%s\": cannot serve HTTP there%s%s",
                 listen, h->start_err[0] ? ": " : "", h->start_err);
    freeaddrinfo(ai);
    fx_free(h);
    return NULL;
  }
  info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  if (ai->ai_family == AF_INET6) {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr,
              sizeof(addr));
    snprintf(h->url, sizeof(h->url), "http://[%s]:%u/", addr,
             info ? (unsigned)info->port : (unsigned)port);
  } else {
    inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr,
              sizeof(addr));
    snprintf(h->url, sizeof(h->url), "http://%s:%u/", addr,
             info ? (unsigned)info->port : (unsigned)port);
  }
  freeaddrinfo(ai);
  LOG_INFO(FAC, "listening %s port=%u", h->url,
           info ? (unsigned)info->port : (unsigned)port);
  return h;
}

void http_destroy(http_t *h) {
  if (!h) return;
  MHD_stop_daemon(h->d);
  fx_free(h);
}

const char *http_url(const http_t *h) { return h->url; }
