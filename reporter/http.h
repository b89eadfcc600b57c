/*
 * http.h: the reporter's HTTP server (libmicrohttpd) — the status page,
 * /api/tasks, /api/tasks/{name}, the failed lists, /api/reporter and
 * /metrics (docs/reporter.md, "HTTP"). What it says is lib/report/tallyweb.c;
 * this module is sockets, threads and locking.
 *
 * Threads: the server runs in libmicrohttpd's own thread, which answers
 * one request at a time. The tally and the feed stay with the reporter's
 * main thread, which changes them only while holding the lock given to
 * http_new (feed_set_lock); the server holds the same lock only while it
 * takes a snapshot (tally views, an export, the feed's figures) and renders
 * after releasing it. So the consume loop never waits for a slow client.
 */
#ifndef FERRY_REPORTER_HTTP_H
#define FERRY_REPORTER_HTTP_H

#include <pthread.h>

#include "report/console.h"
#include "report/series.h"
#include "report/tally.h"
#include "core/ferry.h"
#include "reporter/feed.h"
#include "web/auth.h"

#include <jansson.h>

typedef struct http http_t;

/* An action (POST /api/tasks, /api/tasks/{name}/{verb}) for the console:
 * verb "create" (body = the task spec) or a path's verb (body: the request's
 * JSON, e.g. {"limits": {...}}, or NULL). by = "<role>:<token name>". Fills
 * id (the command's, 16 hex) and answers 202, or another status with
 * errbuf saying why (400 bad input, 503 the command could not be sent).
 * Called on the server's thread, without the lock. */
typedef unsigned (*http_action_fn)(void *cls, const char *task, const char *verb,
                                   const json_t *body, const char *by, char id[17],
                                   char *errbuf);

typedef struct http_conf {
  const char *listen;
  const auth_tokens_t *tokens;   /* borrowed; none: viewing open, no actions */
  int behind_proxy;              /* a TLS-terminating proxy forwards to us */
  const char *tls_cert, *tls_key;   /* PEM text (both or neither): HTTPS */
  const char *const *stores;     /* the configured stores' names (GET /api/stores) */
  size_t n_stores;
  http_action_fn action;         /* NULL: actions answer 503 */
  void *cls;
  console_t *console;            /* task states, action log, workers (under the
                                    lock); NULL: none */
  const series_t *series;        /* the tasks' charts (under the lock); NULL: none */
} http_conf_t;

/*
 * Starts serving on hc->listen (see httpd_parse_listen in web/httpd.h),
 * answering from t and f (borrowed; must outlive the server) under lock
 * (borrowed), letting in whom hc's tokens allow (web/auth.h). Logs
 * "listening http://ADDR:PORT/" with the port actually bound. NULL with
 * errbuf when the address is bad (FERRY_ERR_INVALID) or cannot be bound
 * (FERRY_ERR_IO: in use, not local, ...).
 */
http_t *http_new(const http_conf_t *hc, const tally_t *t, const feed_t *f,
                 pthread_mutex_t *lock, char *errbuf);
/* Stops the server (waits for a request in progress). Accepts NULL. */
void http_destroy(http_t *h);

/* "http://127.0.0.1:8080/" with the bound port; borrowed. */
const char *http_url(const http_t *h);

#endif
