/*
 * httpd.h: a small, bounded HTTP/1.1 server for the services' read-only
 * endpoints (the reporter's page and API, a worker's /metrics), on
 * libmicrohttpd's own thread.
 *
 * It owns what every such endpoint needs and none should redo: the listen
 * address ("ADDR:PORT", "[IPV6]:PORT", ":PORT" = loopback, port 0 = any
 * free one), bounds (connections, idle time, header size), GET and HEAD only
 * (a GET announcing a body 400; the handler answers other methods 405, so
 * that an unknown path stays 404 whatever the method), JSON errors, and the
 * headers every answer carries (no-store, nosniff, no-referrer).
 *
 * Threads: the handler runs on the server's thread, one request at a time;
 * it must take its own lock around what the service's main thread changes.
 * SIGINT and SIGTERM stay with the thread that called httpd_new.
 */
#ifndef FERRY_WEB_HTTPD_H
#define FERRY_WEB_HTTPD_H

#include <jansson.h>
#include <microhttpd.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/ferry.h"

typedef struct httpd httpd_t;

/* Answers one request for url (the path as sent, not decoded); get is 0
 * for a method other than GET and HEAD, which a known path answers with
 * httpd_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, ...). */
typedef enum MHD_Result (*httpd_handler_fn)(void *cls, struct MHD_Connection *c,
                                            const char *url, int get);

/* Parses a listen address (above). *host is new (fx_free). FERRY_ERR_INVALID
 * with errbuf naming the address otherwise. */
ferry_err_t httpd_parse_listen(const char *listen, char **host, int *port, char *errbuf);

/* Starts serving on listen; what names the service in log lines. NULL with
 * errbuf when the address is bad (FERRY_ERR_INVALID) or cannot be bound
 * (FERRY_ERR_IO). Logs "listening URL" with the port actually bound. */
httpd_t *httpd_new(const char *what, const char *listen, httpd_handler_fn fn, void *cls,
                   char *errbuf);
/* A request as httpd_new_ex's handler sees it. */
typedef struct httpd_req {
  const char *method;
  const char *url;        /* the path as sent, not decoded */
  int get;                /* GET or HEAD */
  int post;               /* POST: body holds what came (NUL-terminated) */
  const char *body;
  size_t body_len;
  const struct sockaddr *client;   /* the peer's address, or NULL */
} httpd_req_t;

typedef enum MHD_Result (*httpd_req_fn)(void *cls, struct MHD_Connection *c,
                                        const httpd_req_t *r);

typedef struct httpd_opts {
  httpd_req_fn req;       /* answers every request; POST bodies are read first */
  size_t max_body;        /* a POST body above this is refused with 413 */
  const char *tls_cert;   /* PEM text of the certificate (chain) and its key: */
  const char *tls_key;    /* both set, the server speaks HTTPS only */
} httpd_opts_t;

/* httpd_new with POST (bodies of at most o->max_body bytes) and optionally
 * HTTPS. errbuf also when libmicrohttpd was built without TLS or refuses
 * the certificate or key. */
httpd_t *httpd_new_ex(const char *what, const char *listen, const httpd_opts_t *o, void *cls,
                      char *errbuf);
/* Stops the server (waits for a request in progress). Accepts NULL. */
void httpd_destroy(httpd_t *h);
/* "http://127.0.0.1:8080/" (https with TLS) with the bound port; borrowed. */
const char *httpd_url(const httpd_t *h);

/* Largest body httpd_send_text and httpd_send_json send; more is a 500. */
#define HTTPD_MAX_BODY ((size_t)64 << 20)

/* Sends body (emptied: its memory goes to the response). disposition and
 * extra (a NULL-terminated name, value, ... list) may be NULL. */
/* The headers every answer carries, for a response built elsewhere. */
void httpd_common_headers(struct MHD_Response *r);
enum MHD_Result httpd_send_buf(struct MHD_Connection *c, unsigned status, const char *ctype,
                               fbuf_t *body, const char *disposition,
                               const char *const *extra);
/* A rendered body with status 200, or a 500 when it grew past HTTPD_MAX_BODY. */
enum MHD_Result httpd_send_text(struct MHD_Connection *c, const char *ctype, fbuf_t *b,
                                const char *const *extra);
/* j (stolen) as JSON, or a 500 when it would exceed HTTPD_MAX_BODY. */
enum MHD_Result httpd_send_json(struct MHD_Connection *c, unsigned status, json_t *j);
/* {"error": msg, "task": task} (task may be NULL). */
enum MHD_Result httpd_send_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                 const char *task);

#endif
