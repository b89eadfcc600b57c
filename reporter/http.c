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
#include <strings.h>
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

/* Login sessions: how many at once, and for how long. */
#define MAX_SESSIONS 256
#define SESSION_TTL_MS ((int64_t)12 * 3600 * 1000)
#define SESSION_COOKIE "ferry_session"
#define MAX_BODY ((size_t)64 << 10)

struct http {
  httpd_t *d;
  const tally_t *t;
  const feed_t *feed;
  pthread_mutex_t *lock;
  http_conf_t hc;
  const char *scheme;           /* as the browser sees us: https with TLS or a proxy */
  auth_sessions_t *sessions;    /* the server's thread only */
  _Atomic int exports;   /* failed-list responses not yet finished */
};

/* ---------- snapshots (under the lock) ---------- */

typedef struct snap {
  tallyweb_stats_t st;
  tally_view_t *views;
  json_t **ctl;     /* each view's taskstate JSON, or NULL */
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

/* The tally's task names and those the console knows of (a task created
 * and not started yet has no tally records), sorted, without duplicates. */
static size_t names_locked(const http_t *h, const char ***out) {
  const char **a, **b;
  size_t na = tally_task_names(h->t, &a), nb = 0, i = 0, k = 0, n = 0;
  if (!h->hc.console) {
    *out = a;
    return na;
  }
  nb = console_task_names(h->hc.console, &b);
  *out = fx_calloc(na + nb + 1, sizeof(**out));
  while (i < na || k < nb) {
    int c = i == na ? 1 : k == nb ? -1 : strcmp(a[i], b[k]);
    (*out)[n++] = c <= 0 ? a[i] : b[k];
    if (c <= 0) i++;
    if (c >= 0) k++;
  }
  fx_free(a);
  fx_free(b);
  return n;
}

static void snap_take(const http_t *h, snap_t *s) {
  const char **names;
  size_t i;
  int64_t now = ferry_wall_ms();
  pthread_mutex_lock(h->lock);
  stats_locked(h, &s->st, now);
  s->n = names_locked(h, &names);
  s->views = fx_calloc(s->n + 1, sizeof(*s->views));
  s->ctl = fx_calloc(s->n + 1, sizeof(*s->ctl));
  for (i = 0; i < s->n; i++) {
    tally_view(h->t, names[i], now, &s->views[i]);
    if (h->hc.console) {
      s->views[i].ctl_state = console_state(h->hc.console, names[i]);
      s->ctl[i] = console_task_json(h->hc.console, names[i]);
    }
  }
  pthread_mutex_unlock(h->lock);
  fx_free(names);
}

static void snap_release(snap_t *s) {
  size_t i;
  for (i = 0; i < s->n; i++) {
    tally_view_release(&s->views[i]);
    json_decref(s->ctl[i]);
  }
  fx_free(s->views);
  fx_free(s->ctl);
}

/* A task's JSON: the tally's view with the console's "taskstate". */
static json_t *task_json(const tally_view_t *v, json_t *ctl) {
  json_t *j = tally_view_json(v);
  json_object_set(j, "taskstate", ctl ? ctl : json_null());
  return j;
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
  if (h->hc.console) {
    pthread_mutex_lock(h->lock);
    console_metrics(h->hc.console, ferry_wall_ms(), &b);
    pthread_mutex_unlock(h->lock);
  }
  return httpd_send_text(c, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
}

static enum MHD_Result get_tasks(const http_t *h, struct MHD_Connection *c) {
  snap_t s;
  json_t *a = json_array();
  size_t i;
  snap_take(h, &s);
  for (i = 0; i < s.n; i++) json_array_append_new(a, task_json(&s.views[i], s.ctl[i]));
  snap_release(&s);
  return httpd_send_json(c, MHD_HTTP_OK, a);
}

static enum MHD_Result get_reporter(const http_t *h, struct MHD_Connection *c) {
  tallyweb_stats_t st;
  const char **names;
  size_t n;
  pthread_mutex_lock(h->lock);
  stats_locked(h, &st, ferry_wall_ms());
  n = names_locked(h, &names);
  pthread_mutex_unlock(h->lock);
  fx_free(names);
  return httpd_send_json(c, MHD_HTTP_OK, tallyweb_stats_json(&st, n));
}

static enum MHD_Result get_task(const http_t *h, struct MHD_Connection *c,
                                const char *task) {
  tally_view_t v;
  ferry_err_t e;
  json_t *j, *ctl = NULL;
  pthread_mutex_lock(h->lock);
  e = tally_view(h->t, task, ferry_wall_ms(), &v);
  if (h->hc.console) ctl = console_task_json(h->hc.console, task);
  pthread_mutex_unlock(h->lock);
  if (e == FERRY_ERR_NOTFOUND && !ctl) {
    tally_view_release(&v);
    return httpd_send_error(c, MHD_HTTP_NOT_FOUND, "no such task", task);
  }
  j = task_json(&v, ctl);
  json_decref(ctl);
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

/* ---------- who is asking ---------- */

static const char *header(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* The decision on one request (web/auth.h), with the session looked up. */
static void gate(http_t *h, struct MHD_Connection *c, const httpd_req_t *rq, int action,
                 auth_result_t *res, char sname[AUTH_NAME_MAX]) {
  auth_req_t ar;
  char sid[AUTH_ID_LEN + 8], csrf[AUTH_ID_LEN + 1];
  const char *sent_csrf = header(c, "X-CSRF-Token");
  memset(&ar, 0, sizeof(ar));
  ar.action = action;
  /* Behind a proxy every request comes from the proxy's address: nobody
   * counts as local. */
  ar.loopback = !h->hc.behind_proxy && auth_is_loopback(rq->client);
  ar.have_tokens = h->hc.tokens && h->hc.tokens->n > 0;
  ar.bearer = auth_bearer(header(c, MHD_HTTP_HEADER_AUTHORIZATION));
  ar.bearer_tok = ar.have_tokens ? auth_tokens_find(h->hc.tokens, ar.bearer) : NULL;
  if (auth_cookie_get(header(c, MHD_HTTP_HEADER_COOKIE), SESSION_COOKIE, sid, sizeof(sid)) &&
      auth_session_get(h->sessions, sid, ferry_wall_ms(), sname, &ar.session_role, csrf)) {
    ar.session_name = sname;
    ar.csrf_ok = sent_csrf && auth_str_eq(sent_csrf, csrf);
  }
  ar.origin = header(c, "Origin");
  ar.referer = header(c, "Referer");
  ar.scheme = h->scheme;
  ar.host = header(c, MHD_HTTP_HEADER_HOST);
  auth_decide(&ar, res);
  if (res->status)
    /* The token's name at most, never a secret. */
    LOG_INFO(FAC, "path=%s method=%s status=%u token=%s msg=%s", FLOG_Q(rq->url), rq->method,
             res->status, FLOG_V(res->name ? res->name : "-"), FLOG_Q(res->msg));
}

static enum MHD_Result send_denied(struct MHD_Connection *c, const auth_result_t *res) {
  json_t *j = json_object();
  json_object_set_new(j, "error", json_string(res->msg));
  if (res->status == MHD_HTTP_UNAUTHORIZED) {
    fbuf_t b;
    char *s = json_dumps(j, JSON_COMPACT);
    static const char *hdrs[] = {"WWW-Authenticate", "Bearer realm=\"ferry\"", NULL};
    json_decref(j);
    fbuf_init(&b, 0);
    fbuf_adds(&b, s ? s : "{}");
    fbuf_addc(&b, '\n');
    free(s);
    return httpd_send_buf(c, res->status, "application/json; charset=utf-8", &b, NULL, hdrs);
  }
  return httpd_send_json(c, res->status, j);
}

/* POST /login: {"token": "..."} or token=... (a form); sets the session
 * cookie. A form gets a redirect to the page, a script the session. */
static enum MHD_Result post_login(http_t *h, struct MHD_Connection *c, const httpd_req_t *rq) {
  char secret[512], id[AUTH_ID_LEN + 1], csrf[AUTH_ID_LEN + 1], *cookie;
  const char *ctype = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
  const char *origin = header(c, "Origin");
  int form = ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0;
  const auth_token_t *tok = NULL;
  enum MHD_Result ret;
  struct MHD_Response *r;
  json_t *j;
  if (origin && strcmp(origin, "null") != 0 &&
      !auth_same_origin(origin, 0, h->scheme, header(c, MHD_HTTP_HEADER_HOST)))
    return httpd_send_error(c, MHD_HTTP_FORBIDDEN,
                            "cross-site request refused: the Origin is not this server", NULL);
  secret[0] = '\0';
  if (form) {
    if (!auth_form_get(rq->body, "token", secret, sizeof(secret))) secret[0] = '\0';
  } else {
    json_t *b = json_loads(rq->body, 0, NULL);
    const char *s = json_string_value(json_object_get(b, "token"));
    if (s && strlen(s) < sizeof(secret)) snprintf(secret, sizeof(secret), "%s", s);
    json_decref(b);
  }
  if (secret[0] && h->hc.tokens) tok = auth_tokens_find(h->hc.tokens, secret);
  memset(secret, 0, sizeof(secret));
  if (!tok) {
    LOG_INFO(FAC, "path=/login status=401 msg=\"unknown token\"");
    return httpd_send_error(c, MHD_HTTP_UNAUTHORIZED, "unknown token", NULL);
  }
  if (auth_session_new(h->sessions, tok, ferry_wall_ms(), id, csrf))
    return httpd_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no randomness for a session",
                            NULL);
  LOG_INFO(FAC, "msg=\"logged in\" token=%s role=%s", FLOG_V(tok->name),
           auth_role_str(tok->role));
  cookie = fx_asprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
                       SESSION_COOKIE, id, (int)(SESSION_TTL_MS / 1000),
                       strcmp(h->scheme, "https") == 0 ? "; Secure" : "");
  if (form) {
    r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    httpd_common_headers(r);
    MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, "/");
    ret = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
    MHD_destroy_response(r);
  } else {
    fbuf_t b;
    char *s;
    const char *hdrs[] = {MHD_HTTP_HEADER_SET_COOKIE, cookie, NULL};
    j = json_pack("{s:s, s:s, s:s}", "name", tok->name, "role", auth_role_str(tok->role),
                  "csrf", csrf);
    s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    fbuf_init(&b, 0);
    fbuf_adds(&b, s ? s : "{}");
    fbuf_addc(&b, '\n');
    free(s);
    ret = httpd_send_buf(c, MHD_HTTP_OK, "application/json; charset=utf-8", &b, NULL, hdrs);
  }
  fx_free(cookie);
  return ret;
}

static enum MHD_Result post_logout(http_t *h, struct MHD_Connection *c) {
  char sid[AUTH_ID_LEN + 8];
  const char *hdrs[] = {MHD_HTTP_HEADER_SET_COOKIE,
                        SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", NULL};
  fbuf_t b;
  if (auth_cookie_get(header(c, MHD_HTTP_HEADER_COOKIE), SESSION_COOKIE, sid, sizeof(sid)))
    auth_session_end(h->sessions, sid);
  fbuf_init(&b, 0);
  fbuf_adds(&b, "{\"ok\":true}\n");
  return httpd_send_buf(c, MHD_HTTP_OK, "application/json; charset=utf-8", &b, NULL, hdrs);
}

/* GET /api/session: who this request is (the page shows its buttons for an
 * operator) and the session's CSRF token. */
static enum MHD_Result get_session(http_t *h, struct MHD_Connection *c,
                                   const auth_result_t *res) {
  char sid[AUTH_ID_LEN + 8], csrf[AUTH_ID_LEN + 1];
  json_t *j = json_object();
  json_object_set_new(j, "name", res->name ? json_string(res->name) : json_null());
  json_object_set_new(j, "role", json_string(auth_role_str(res->role)));
  if (auth_cookie_get(header(c, MHD_HTTP_HEADER_COOKIE), SESSION_COOKIE, sid, sizeof(sid)) &&
      auth_session_get(h->sessions, sid, ferry_wall_ms(), NULL, NULL, csrf))
    json_object_set_new(j, "csrf", json_string(csrf));
  json_object_set_new(j, "tokens", json_boolean(h->hc.tokens && h->hc.tokens->n > 0));
  return httpd_send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result get_stores(const http_t *h, struct MHD_Connection *c) {
  json_t *a = json_array();
  size_t i;
  for (i = 0; i < h->hc.n_stores; i++) json_array_append_new(a, json_string(h->hc.stores[i]));
  return httpd_send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "stores", a));
}

/* GET /api/tasks/{name}/actions (task) or /api/workers (NULL). */
static enum MHD_Result get_console(const http_t *h, struct MHD_Connection *c,
                                   const char *task) {
  json_t *a = NULL;
  if (h->hc.console) {
    pthread_mutex_lock(h->lock);
    a = task ? console_actions_json(h->hc.console, task)
             : console_workers_json(h->hc.console, ferry_wall_ms());
    pthread_mutex_unlock(h->lock);
  }
  if (!a) a = json_array();
  if (task) return httpd_send_json(c, MHD_HTTP_OK, json_pack("{s:s, s:o}", "task", task,
                                                             "actions", a));
  return httpd_send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "workers", a));
}

/* GET /task/{name}: the task's own page. */
static enum MHD_Result get_task_page(const http_t *h, struct MHD_Connection *c,
                                     const char *task) {
  tally_view_t v;
  tallyweb_stats_t st;
  json_t *ctl = NULL, *acts = NULL;
  fbuf_t charts, b;
  ferry_err_t e;
  int64_t now = ferry_wall_ms();
  fbuf_init(&charts, 0);
  pthread_mutex_lock(h->lock);
  stats_locked(h, &st, now);
  e = tally_view(h->t, task, now, &v);
  if (h->hc.console) {
    ctl = console_task_json(h->hc.console, task);
    acts = console_actions_json(h->hc.console, task);
    v.ctl_state = console_state(h->hc.console, task);
  }
  if (h->hc.series) series_svg(h->hc.series, task, now, &charts);
  pthread_mutex_unlock(h->lock);
  if (e == FERRY_ERR_NOTFOUND && !ctl && !json_array_size(acts)) {
    tally_view_release(&v);
    json_decref(acts);
    fbuf_release(&charts);
    return httpd_send_error(c, MHD_HTTP_NOT_FOUND, "no such task", task);
  }
  fbuf_init(&b, 0);
  tallyweb_task_page(&v, ctl, acts, fbuf_str(&charts), &st, &b);
  tally_view_release(&v);
  json_decref(ctl);
  json_decref(acts);
  fbuf_release(&charts);
  return httpd_send_text(c, "text/html; charset=utf-8", &b, page_headers());
}

/* GET /fleet. */
static enum MHD_Result get_fleet(const http_t *h, struct MHD_Connection *c) {
  tallyweb_stats_t st;
  json_t *w = NULL;
  fbuf_t b;
  int64_t now = ferry_wall_ms();
  pthread_mutex_lock(h->lock);
  stats_locked(h, &st, now);
  if (h->hc.console) w = console_workers_json(h->hc.console, now);
  pthread_mutex_unlock(h->lock);
  fbuf_init(&b, 0);
  tallyweb_fleet_page(w, &st, &b);
  json_decref(w);
  return httpd_send_text(c, "text/html; charset=utf-8", &b, page_headers());
}

/* POST /api/tasks (create) and /api/tasks/{name}/{verb}. */
static enum MHD_Result post_action(http_t *h, struct MHD_Connection *c, const httpd_req_t *rq,
                                   const char *task, const char *verb,
                                   const auth_result_t *res) {
  char eb[FERRY_ERRLEN], id[17], by[AUTH_NAME_MAX + 16];
  json_error_t je;
  json_t *body = NULL;
  unsigned status;
  const char *name = task;
  if (rq->body_len) {
    body = json_loadb(rq->body, rq->body_len, 0, &je);
    if (!json_is_object(body)) {
      json_decref(body);
      return httpd_send_error(c, MHD_HTTP_BAD_REQUEST, "the body is not a JSON object", task);
    }
  }
  if (!task) {   /* create: the task is the spec's name */
    name = json_string_value(json_object_get(body, "name"));
    if (!name || !*name) {
      json_decref(body);
      return httpd_send_error(c, MHD_HTTP_BAD_REQUEST,
                              "the task spec has no \"name\" (a string)", NULL);
    }
  }
  if (!h->hc.action) {
    json_decref(body);
    return httpd_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "this reporter cannot send commands", name);
  }
  snprintf(by, sizeof(by), "%s:%s", auth_role_str(res->role), res->name);
  eb[0] = '\0';
  id[0] = '\0';
  status = h->hc.action(h->hc.cls, name, verb, body, by, id, eb);
  if (status == MHD_HTTP_ACCEPTED) {
    json_t *j = json_pack("{s:s, s:s, s:s}", "id", id, "cmd", verb, "task", name);
    LOG_INFO(FAC, "task=%s cmd=%s id=%s by=%s msg=\"command sent\"", FLOG_V(name), verb, id,
             FLOG_V(by));
    json_decref(body);
    return httpd_send_json(c, MHD_HTTP_ACCEPTED, j);
  }
  {
    enum MHD_Result ret = httpd_send_error(c, status, eb[0] ? eb : "refused", name);
    json_decref(body);
    return ret;
  }
}

/* A page route without credentials from afar: a login form (no script). */
static enum MHD_Result send_login_page(struct MHD_Connection *c, const auth_result_t *res) {
  fbuf_t b;
  fbuf_init(&b, 0);
  fbuf_adds(&b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>ferry: log in</title></head><body><h1>ferry</h1><p>");
  tallyweb_html_escape(&b, res->msg);
  fbuf_adds(&b, "</p><form method=\"post\" action=\"/login\" id=\"login-form\">"
                "<label>Token <input type=\"password\" name=\"token\" id=\"login-token\" "
                "autocomplete=\"current-password\"></label> "
                "<button type=\"submit\" id=\"login-submit\">Log in</button></form>"
                "</body></html>\n");
  return httpd_send_buf(c, res->status, "text/html; charset=utf-8", &b, NULL, page_headers());
}

static int is_page(tallyweb_route_t r) {
  return r == TALLYWEB_PAGE || r == TALLYWEB_TASK_PAGE || r == TALLYWEB_FLEET;
}

static enum MHD_Result route_get(http_t *h, struct MHD_Connection *c, const char *url,
                                 tallyweb_route_t r, const char *task,
                                 const auth_result_t *res) {
  switch (r) {
  case TALLYWEB_PAGE: return get_page(h, c);
  case TALLYWEB_METRICS: return get_metrics(h, c);
  case TALLYWEB_TASKS: return get_tasks(h, c);
  case TALLYWEB_REPORTER: return get_reporter(h, c);
  case TALLYWEB_TASK: return get_task(h, c, task);
  case TALLYWEB_FAILED_CSV: return get_failed(h, c, url, task, TALLY_EXPORT_CSV);
  case TALLYWEB_FAILED_JSONL: return get_failed(h, c, url, task, TALLY_EXPORT_JSONL);
  case TALLYWEB_SESSION: return get_session(h, c, res);
  case TALLYWEB_STORES: return get_stores(h, c);
  case TALLYWEB_ACTIONS: return get_console(h, c, task);
  case TALLYWEB_WORKERS: return get_console(h, c, NULL);
  case TALLYWEB_TASK_PAGE: return get_task_page(h, c, task);
  case TALLYWEB_FLEET: return get_fleet(h, c);
  default: return httpd_send_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL);
  }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const httpd_req_t *rq) {
  http_t *h = cls;
  char *task = NULL, sname[AUTH_NAME_MAX];
  const char *verb = NULL;
  tallyweb_route_t r;
  enum MHD_Result ret;
  auth_result_t res;
  int post_route;
  r = tallyweb_route_verb(rq->url, &task, &verb);
  LOG_DEBUG(FAC, "path=%s route=%d", FLOG_Q(rq->url), (int)r);
  post_route = r == TALLYWEB_LOGIN || r == TALLYWEB_LOGOUT || r == TALLYWEB_ACTION ||
               r == TALLYWEB_TASKS;
  if (r == TALLYWEB_NOT_FOUND) {
    ret = httpd_send_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL);
  } else if (r == TALLYWEB_BAD_PATH) {
    ret = httpd_send_error(c, MHD_HTTP_BAD_REQUEST, "bad %-escape in the path", NULL);
  } else if (rq->post && post_route) {
    if (r == TALLYWEB_LOGIN) {
      ret = post_login(h, c, rq);
    } else if (r == TALLYWEB_LOGOUT) {
      ret = post_logout(h, c);
    } else {
      gate(h, c, rq, 1, &res, sname);
      ret = res.status ? send_denied(c, &res)
                       : post_action(h, c, rq, task, r == TALLYWEB_TASKS ? "create" : verb,
                                     &res);
    }
  } else if (r == TALLYWEB_LOGIN || r == TALLYWEB_LOGOUT || r == TALLYWEB_ACTION) {
    static const char *allow[] = {"Allow", "POST", NULL};
    fbuf_t b;
    fbuf_init(&b, 0);
    fbuf_adds(&b, "{\"error\":\"method not allowed: POST only\"}\n");
    ret = httpd_send_buf(c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json; charset=utf-8", &b,
                         NULL, allow);
  } else if (!rq->get) {
    ret = httpd_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", NULL);
  } else {
    gate(h, c, rq, 0, &res, sname);
    if (res.status)
      ret = is_page(r) ? send_login_page(c, &res) : send_denied(c, &res);
    else
      ret = route_get(h, c, rq->url, r, task, &res);
  }
  fx_free(task);
  return ret;
}

/* ---------- life cycle ---------- */

http_t *http_new(const http_conf_t *hc, const tally_t *t, const feed_t *f,
                 pthread_mutex_t *lock, char *errbuf) {
  http_t *h = fx_calloc(1, sizeof(*h));
  httpd_opts_t o;
  h->t = t;
  h->feed = f;
  h->lock = lock;
  h->hc = *hc;
  h->scheme = hc->tls_cert || hc->behind_proxy ? "https" : "http";
  h->sessions = auth_sessions_new(MAX_SESSIONS, SESSION_TTL_MS);
  memset(&o, 0, sizeof(o));
  o.req = on_request;
  o.max_body = MAX_BODY;
  o.tls_cert = hc->tls_cert;
  o.tls_key = hc->tls_key;
  h->d = httpd_new_ex("reporter", hc->listen, &o, h, errbuf);
  if (!h->d) {
    auth_sessions_free(h->sessions);
    fx_free(h);
    return NULL;
  }
  return h;
}

void http_destroy(http_t *h) {
  if (!h) return;
  httpd_destroy(h->d);
  auth_sessions_free(h->sessions);
  fx_free(h);
}

const char *http_url(const http_t *h) { return httpd_url(h->d); }
