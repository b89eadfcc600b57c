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

#include "report/tally.h"
#include "core/ferry.h"
#include "reporter/feed.h"

typedef struct http http_t;

/*
 * Starts serving on listen (see httpd_parse_listen in web/httpd.h), answering from t and f
 * (borrowed; must outlive the server) under lock (borrowed). Logs
 * "listening http://ADDR:PORT/" with the port actually bound. NULL with
 * errbuf when the address is bad (FERRY_ERR_INVALID) or cannot be bound
 * (FERRY_ERR_IO: in use, not local, ...).
 */
http_t *http_new(const char *listen, const tally_t *t, const feed_t *f,
                 pthread_mutex_t *lock, char *errbuf);
/* Stops the server (waits for a request in progress). Accepts NULL. */
void http_destroy(http_t *h);

/* "http://127.0.0.1:8080/" with the bound port; borrowed. */
const char *http_url(const http_t *h);

#endif
