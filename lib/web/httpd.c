/*
 * httpd.c: see httpd.h.
 *
 * Why libmicrohttpd's internal thread rather than driving it from a
 * service's loop (external select): the loops spend their time inside
 * librdkafka's poll or the copy engine, which give no file descriptor to
 * wait on beside the server's, so answers would come only between polls,
 * and not at all during the reporter's replay at start — when an operator
 * most wants to look.
 */
#include "web/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/log.h"

#define FAC "http"
#define MAX_CONNECTIONS 64
#define CONN_TIMEOUT_S 30
#define CONN_MEMORY ((size_t)32 << 10)         /* request line and headers */

struct httpd {
  struct MHD_Daemon *d;
  httpd_handler_fn fn;
  httpd_req_fn req;
  size_t max_body;
  int tls;
  void *cls;
  char url[128];
  char start_err[200];   /* libmicrohttpd's last word while starting */
  _Atomic int starting;  /* set while MHD_start_daemon runs */
};

/* ---------- listen address ---------- */

ferry_err_t httpd_parse_listen(const char *listen, char **host, int *port, char *errbuf) {
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

void httpd_common_headers(struct MHD_Response *r) {
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

enum MHD_Result httpd_send_buf(struct MHD_Connection *c, unsigned status, const char *ctype,
                               fbuf_t *body, const char *disposition,
                               const char *const *extra) {
  size_t len = body->len;
  char *p = fbuf_steal(body);
  struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
      len, p, fx_free);
  enum MHD_Result ret;
  if (!r) {
    fx_free(p);
    return MHD_NO;
  }
  httpd_common_headers(r);
  MHD_add_response_header(r, "Content-Type", ctype);
  if (disposition) MHD_add_response_header(r, "Content-Disposition", disposition);
  int allow = 0;
  for (; extra && extra[0] && extra[1]; extra += 2) {
    MHD_add_response_header(r, extra[0], extra[1]);
    allow |= strcasecmp(extra[0], "Allow") == 0;
  }
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED && !allow)
    MHD_add_response_header(r, "Allow", "GET, HEAD");
  /* A bound reached (e.g. the reporter's concurrent exports): come back soon. */
  if (status == MHD_HTTP_SERVICE_UNAVAILABLE) MHD_add_response_header(r, "Retry-After", "5");
  ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static int dump_cb(const char *buf, size_t size, void *data) {
  return fbuf_add((fbuf_t *)data, buf, size) ? -1 : 0;
}

enum MHD_Result httpd_send_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                 const char *task) {
  json_t *j = json_object();
  json_object_set_new(j, "error", json_string(msg));
  if (task) json_object_set_new(j, "task", json_string(task));
  return httpd_send_json(c, status, j);
}

enum MHD_Result httpd_send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
  fbuf_t b;
  int rc;
  fbuf_init(&b, HTTPD_MAX_BODY);
  rc = j ? json_dump_callback(j, dump_cb, &b, JSON_COMPACT | JSON_PRESERVE_ORDER) : -1;
  json_decref(j);
  if (rc == 0) rc = fbuf_addc(&b, '\n') ? -1 : 0;
  if (rc != 0) {
    fbuf_release(&b);
    if (status == MHD_HTTP_INTERNAL_SERVER_ERROR) return MHD_NO;   /* no loop */
    LOG_WARN(FAC, "msg=\"JSON response over the limit\" max_bytes=%zu", HTTPD_MAX_BODY);
    return httpd_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "response too large", NULL);
  }
  return httpd_send_buf(c, status, "application/json; charset=utf-8", &b, NULL, NULL);
}

enum MHD_Result httpd_send_text(struct MHD_Connection *c, const char *ctype, fbuf_t *b,
                                const char *const *extra) {
  if (b->len > HTTPD_MAX_BODY) {
    LOG_WARN(FAC, "msg=\"response over the limit\" bytes=%zu max_bytes=%zu", b->len,
             HTTPD_MAX_BODY);
    fbuf_release(b);
    return httpd_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "response too large", NULL);
  }
  return httpd_send_buf(c, MHD_HTTP_OK, ctype, b, NULL, extra);
}

/* ---------- requests ---------- */

/* A POST being read (con_cls): its body so far. */
typedef struct post_body {
  fbuf_t b;
  int too_big;
} post_body_t;

static int seen;   /* its address, in con_cls, marks a GET whose headers are in */

static void call_req(httpd_t *h, struct MHD_Connection *c, const char *url,
                     const char *method, int get, const post_body_t *pb,
                     enum MHD_Result *ret) {
  httpd_req_t r;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  memset(&r, 0, sizeof(r));
  r.method = method;
  r.url = url;
  r.get = get;
  r.post = pb != NULL;
  r.body = pb ? (pb->b.p ? pb->b.p : "") : NULL;
  r.body_len = pb ? pb->b.len : 0;
  r.client = ci ? ci->client_addr : NULL;
  *ret = h->req(h->cls, c, &r);
}

/* A POST for httpd_new_ex's handler: read the body (bounded), then answer. */
static enum MHD_Result on_post(httpd_t *h, struct MHD_Connection *c, const char *url,
                               const char *method, const char *upload_data,
                               size_t *upload_data_size, void **con_cls) {
  post_body_t *pb = *con_cls;
  enum MHD_Result ret;
  if (!pb) {
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > h->max_body)
      return httpd_send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large", NULL);
    pb = fx_calloc(1, sizeof(*pb));
    fbuf_init(&pb->b, h->max_body + 1);
    *con_cls = pb;
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (!pb->too_big && (pb->b.len + *upload_data_size > h->max_body ||
                         fbuf_add(&pb->b, upload_data, *upload_data_size)))
      pb->too_big = 1;
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (pb->too_big)
    return httpd_send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large", NULL);
  if (fbuf_addc(&pb->b, '\0')) return MHD_NO;
  pb->b.len--;   /* the NUL is not the body's */
  LOG_DEBUG(FAC, "method=%s path=%s bytes=%zu", method, FLOG_Q(url), pb->b.len);
  call_req(h, c, url, method, 0, pb, &ret);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  post_body_t *pb = *con_cls;
  (void)cls;
  (void)c;
  (void)toe;
  if (pb && (void *)pb != (void *)&seen) {
    fbuf_release(&pb->b);
    fx_free(pb);
  }
  *con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  httpd_t *h = cls;
  int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
            strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  enum MHD_Result ret;
  (void)version;
  if (h->req && strcmp(method, MHD_HTTP_METHOD_POST) == 0)
    return on_post(h, c, url, method, upload_data, upload_data_size, con_cls);
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
      return httpd_send_error(c, MHD_HTTP_BAD_REQUEST, "a GET has no body", NULL);
    if (get) {
      *con_cls = &seen;
      return MHD_YES;
    }
  }
  if (*upload_data_size) {   /* announced no body, yet sent one */
    *upload_data_size = 0;
    return MHD_NO;
  }
  LOG_DEBUG(FAC, "method=%s path=%s", method, FLOG_Q(url));
  if (h->req) {
    call_req(h, c, url, method, get, NULL, &ret);
    return ret;
  }
  return h->fn(h->cls, c, url, get);
}

/* The path as sent: handlers split it into segments before they decode
 * them, so an encoded '/' stays inside a name. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  httpd_t *h = cls;
  char line[200];
  size_t n;
  vsnprintf(line, sizeof(line), fmt, ap);
  n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  if (h->starting) snprintf(h->start_err, sizeof(h->start_err), "%s", line);
  LOG_WARN(FAC, "microhttpd=%s", FLOG_Q(line));
}

/* ---------- life cycle ---------- */

static void set_url(httpd_t *h, const struct addrinfo *ai, unsigned port) {
  char addr[INET6_ADDRSTRLEN];
  if (ai->ai_family == AF_INET6) {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr,
              sizeof(addr));
    snprintf(h->url, sizeof(h->url), "%s://[%s]:%u/", h->tls ? "https" : "http", addr, port);
  } else {
    inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr, sizeof(addr));
    snprintf(h->url, sizeof(h->url), "%s://%s:%u/", h->tls ? "https" : "http", addr, port);
  }
}

static struct addrinfo *resolve(const char *listen, char *errbuf) {
  char *host = NULL, portstr[8];
  int port, gai;
  struct addrinfo hints, *ai = NULL;
  if (httpd_parse_listen(listen, &host, &port, errbuf)) return NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(portstr, sizeof(portstr), "%d", port);
  gai = getaddrinfo(host, portstr, &hints, &ai);
  fx_free(host);
  if (gai != 0 || !ai) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "listen \"%s\": %s", listen,
                 gai ? gai_strerror(gai) : "no address");
    return NULL;
  }
  return ai;
}

static httpd_t *start(const char *what, const char *listen, httpd_handler_fn fn,
                      const httpd_opts_t *o, void *cls, char *errbuf) {
  httpd_t *h;
  struct addrinfo *ai;
  const union MHD_DaemonInfo *info;
  sigset_t block, old;
  unsigned port;
  struct MHD_OptionItem opts[12];
  int n = 0;
  if (o && (!o->tls_cert) != (!o->tls_key)) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "%s: TLS needs both a certificate and a key", what);
    return NULL;
  }
  if (o && o->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID,
                 "%s: this libmicrohttpd was built without TLS: serve HTTP behind a "
                 "TLS-terminating proxy instead", what);
    return NULL;
  }
  ai = resolve(listen, errbuf);
  if (!ai) return NULL;
  h = fx_calloc(1, sizeof(*h));
  h->fn = fn;
  h->req = o ? o->req : NULL;
  h->max_body = o && o->max_body ? o->max_body : 64 << 10;
  h->tls = o && o->tls_cert;
  h->cls = cls;
  h->starting = 1;
#define OPT(op, v, p) opts[n++] = (struct MHD_OptionItem){(op), (intptr_t)(v), (p)}
  /* The logger first, so that every later option's complaint reaches it. */
  OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h);
  OPT(MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr);
  OPT(MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS, NULL);
  OPT(MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S, NULL);
  OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY, NULL);
  OPT(MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, NULL);
  OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL);
  if (h->tls) {
    OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key);
    OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->tls_cert);
  }
  OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
  /* The server's thread inherits this mask: SIGINT and SIGTERM go to the
   * caller's thread, whose loop watches the flag its handler sets. */
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  h->d = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (h->tls ? MHD_USE_TLS : 0) |
          (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
      0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  h->starting = 0;
  if (!h->d) {
    ferry_seterr(errbuf, FERRY_ERR_IO, "%s: listen \"%s\": cannot serve HTTP%s there%s%s",
                 what, listen, h->tls ? "S" : "", h->start_err[0] ? ": " : "", h->start_err);
    freeaddrinfo(ai);
    fx_free(h);
    return NULL;
  }
  info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  port = info ? (unsigned)info->port : 0;
  set_url(h, ai, port);
  freeaddrinfo(ai);
  LOG_INFO(FAC, "listening %s port=%u server=%s", h->url, port, what);
  return h;
}

httpd_t *httpd_new(const char *what, const char *listen, httpd_handler_fn fn, void *cls,
                   char *errbuf) {
  return start(what, listen, fn, NULL, cls, errbuf);
}

httpd_t *httpd_new_ex(const char *what, const char *listen, const httpd_opts_t *o, void *cls,
                      char *errbuf) {
  return start(what, listen, NULL, o, cls, errbuf);
}

void httpd_destroy(httpd_t *h) {
  if (!h) return;
  MHD_stop_daemon(h->d);
  fx_free(h);
}

const char *httpd_url(const httpd_t *h) { return h->url; }
