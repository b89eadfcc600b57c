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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"

#define FAC "http"
#define MAX_CONNECTIONS 64
#define CONN_TIMEOUT_S 30
#define CONN_MEMORY ((size_t)32 << 10)         /* request line and headers */

struct httpd {
  struct MHD_Daemon *d;
  httpd_handler_fn fn;
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
  for (; extra && extra[0] && extra[1]; extra += 2)
    MHD_add_response_header(r, extra[0], extra[1]);
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  static int seen;   /* its address marks a request whose headers are in */
  httpd_t *h = cls;
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
    snprintf(h->url, sizeof(h->url), "http://[%s]:%u/", addr, port);
  } else {
    inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr, sizeof(addr));
    snprintf(h->url, sizeof(h->url), "http://%s:%u/", addr, port);
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

httpd_t *httpd_new(const char *what, const char *listen, httpd_handler_fn fn, void *cls,
                   char *errbuf) {
  httpd_t *h;
  struct addrinfo *ai = resolve(listen, errbuf);
  const union MHD_DaemonInfo *info;
  sigset_t block, old;
  unsigned port;
  if (!ai) return NULL;
  h = fx_calloc(1, sizeof(*h));
  h->fn = fn;
  h->cls = cls;
  h->starting = 1;
  /* The server's thread inherits this mask: SIGINT and SIGTERM go to the
   * caller's thread, whose loop watches the flag its handler sets. */
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
    ferry_seterr(errbuf, FERRY_ERR_IO, "%s: listen \"%s\": cannot serve HTTP there%s%s", what,
                 listen, h->start_err[0] ? ": " : "", h->start_err);
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

void httpd_destroy(httpd_t *h) {
  if (!h) return;
  MHD_stop_daemon(h->d);
  fx_free(h);
}

const char *httpd_url(const httpd_t *h) { return h->url; }
