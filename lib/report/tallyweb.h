/*
 * tallyweb.h: what the reporter's HTTP server says about a tally — the
 * status page, the Prometheus metrics, the URL routes, and the escaping
 * they need — as pure functions over tally views (tally.h). The server
 * itself (sockets, threads, locking) is reporter/http.c.
 *
 * Everything that comes from Kafka records (task names, reasons, store,
 * bucket and prefix names) is untrusted text: the page escapes it for HTML
 * and for URLs, the metrics for label values, and the JSON is Jansson's.
 *
 * Thread-safe: no state; views and stats are only read.
 */
#ifndef FERRY_BUS_TALLYWEB_H
#define FERRY_BUS_TALLYWEB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "report/tally.h"
#include "core/buf.h"

/* The reader's figures, beside the tasks: how far the reporter has read. */
typedef struct tallyweb_stats {
  uint64_t records;     /* records read from the topics */
  uint64_t rejected;    /* of which undecodable or invalid */
  uint64_t duplicates;  /* results recognized as duplicates */
  int64_t lag;          /* records not read yet behind the partitions' ends; -1 unknown */
  int caught_up;        /* read up to where every partition ended at start */
  int64_t now_ms;       /* the clock the page and metrics are made with */
} tallyweb_stats_t;

/* ---------- escaping ---------- */

/* s for HTML text and quoted attribute values: & < > " ' as entities. */
void tallyweb_html_escape(fbuf_t *out, const char *s);
/* s as one URL path segment: every byte but A-Z a-z 0-9 - . _ ~ as %XX
 * (so "/" and "." segments cannot change the path). */
void tallyweb_url_escape(fbuf_t *out, const char *s);
/* Decodes %XX in s[0..n) into a new string (*out, fx_free). -1 (and *out
 * NULL) for a bad escape or one that decodes to NUL. '+' stays '+'. */
int tallyweb_url_decode(const char *s, size_t n, char **out);
/* A Prometheus label value: backslash, double quote and newline escaped. */
void tallyweb_label_escape(fbuf_t *out, const char *s);

/* ---------- routes ---------- */

typedef enum tallyweb_route {
  TALLYWEB_NOT_FOUND = 0,
  TALLYWEB_BAD_PATH,          /* a bad %-escape in the path: 400 */
  TALLYWEB_PAGE,              /* /  (also /index.html) */
  TALLYWEB_TASKS,             /* /api/tasks */
  TALLYWEB_TASK,              /* /api/tasks/{name} */
  TALLYWEB_FAILED_CSV,        /* /api/tasks/{name}/failed.csv */
  TALLYWEB_FAILED_JSONL,      /* /api/tasks/{name}/failed.jsonl */
  TALLYWEB_REPORTER,          /* /api/reporter: tallyweb_stats_json */
  TALLYWEB_METRICS,           /* /metrics */
  TALLYWEB_LOGIN,             /* /login (POST: a token; sets the session cookie) */
  TALLYWEB_LOGOUT,            /* /logout (POST) */
  TALLYWEB_SESSION,           /* /api/session: who is logged in, the CSRF token */
  TALLYWEB_STORES,            /* /api/stores: the configured stores' names */
  TALLYWEB_ACTION,            /* /api/tasks/{name}/{verb} (POST): *verb as in the path */
  TALLYWEB_ACTIONS,           /* /api/tasks/{name}/actions: commands and acks */
  TALLYWEB_TASK_PAGE,         /* /task/{name} */
  TALLYWEB_FLEET,             /* /fleet */
  TALLYWEB_WORKERS            /* /api/workers */
} tallyweb_route_t;

/*
 * The route of a raw (not yet %-decoded) path without its query. For the
 * task routes *task gets the decoded name (new, fx_free), else NULL. Paths
 * are matched segment by segment, exactly: nothing maps to a file, so
 * "..", "//" and the like are simply unknown (TALLYWEB_NOT_FOUND).
 */
tallyweb_route_t tallyweb_route(const char *path, char **task);
/* tallyweb_route, and for TALLYWEB_ACTION *verb (static): "start", "pause",
 * "resume", "cancel", "retry-failed" or "limits"; else NULL. */
tallyweb_route_t tallyweb_route_verb(const char *path, char **task, const char **verb);

/* ---------- rendering ---------- */

/* {"records": n, "rejected": n, "duplicates": n, "lag": n|null,
 *  "caught_up": bool, "tasks": n}; new reference. */
json_t *tallyweb_stats_json(const tallyweb_stats_t *s, size_t n_tasks);

/*
 * The metrics in the Prometheus text exposition format (version 0.0.4),
 * one family per metric with # HELP and # TYPE, for views[0..n) (one per
 * task, as tally_view makes them) and s. Names and meanings are in
 * docs/reporter.md. Appends to out; an append past out's cap is the
 * caller's to detect (out->len against out->max).
 */
void tallyweb_metrics(const tally_view_t *views, size_t n, const tallyweb_stats_t *s,
                      fbuf_t *out);

/*
 * The status page: a complete HTML document with one row per task (a
 * progress bar coloured by state, objects and bytes done / total, rate,
 * ETA, failures by reason, links to the failed list), rendered from the
 * views so that it reads without JavaScript, and a small inline script that
 * refreshes the rows from api/tasks every 2 s. No external assets.
 */
void tallyweb_page(const tally_view_t *views, size_t n, const tallyweb_stats_t *s,
                   fbuf_t *out);

/*
 * A task's own page (/task/{name}): its state (with the console's
 * taskstate, may be NULL), figures and ETA, its runs, charts_html (the
 * series' inline SVG, series.h), its exports and its action log (actions:
 * console_actions_json's array, may be NULL). Links are relative to
 * /task/. No script: it reloads itself every 10 s (meta refresh).
 */
void tallyweb_task_page(const tally_view_t *v, const json_t *taskstate, const json_t *actions,
                        const char *charts_html, const tallyweb_stats_t *s, fbuf_t *out);
/* The fleet view (/fleet): a row per worker of workers
 * (console_workers_json's array): host, tasks, partitions, rate, last heard.
 * Reloads itself every 5 s. */
void tallyweb_fleet_page(const json_t *workers, const tallyweb_stats_t *s, fbuf_t *out);

/* The Content-Security-Policy for the page: nothing but its own inline
 * script (by SHA-256 hash) and style, and fetches to the same origin.
 * Static; computed once. */
const char *tallyweb_page_csp(void);

/* The bar colour of a state: "green" completed, "yellow" completed with
 * failures, "blue" running, "red" listing failed, "grey" pending or
 * listing. Static. */
const char *tallyweb_state_color(tally_state_t s);

#endif
