/*
 * tallyweb.c: the reporter's page, metrics and routes. See tallyweb.h.
 *
 * The page is rendered twice over, on purpose: here in C (so it reads
 * without JavaScript, in curl or a text browser) and by its inline script
 * from api/tasks every 2 s. Both make the same markup — a row per task
 * with a bar whose fill has the state's colour class — so keep row() in
 * reporter/assets/page.js and page_row() below in step. The script builds
 * its rows with DOM calls and textContent only, never innerHTML, so record
 * text cannot become markup there either.
 */
#include "report/tallyweb.h"
#include "report/assets.h"
#include "web/promtext.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

/* ---------- escaping ---------- */

void tallyweb_html_escape(fbuf_t *out, const char *s) {
  const char *p, *run = s;
  if (!s) return;
  for (p = s; *p; p++) {
    const char *ent;
    switch (*p) {
    case '&': ent = "&amp;"; break;
    case '<': ent = "&lt;"; break;
    case '>': ent = "&gt;"; break;
    case '"': ent = "&quot;"; break;
    case '\'': ent = "&#39;"; break;
    default: continue;
    }
    fbuf_add(out, run, (size_t)(p - run));
    fbuf_adds(out, ent);
    run = p + 1;
  }
  fbuf_add(out, run, (size_t)(p - run));
}

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

void tallyweb_url_escape(fbuf_t *out, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p;
  if (!s) return;
  for (p = (const unsigned char *)s; *p; p++) {
    if (unreserved(*p)) {
      fbuf_addc(out, (char)*p);
    } else {
      char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      fbuf_add(out, e, 3);
    }
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int tallyweb_url_decode(const char *s, size_t n, char **out) {
  char *d = fx_malloc(n + 1);
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      int hi, lo;
      if (n - i < 3) goto bad;
      hi = hexval(s[i + 1]);
      lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0) goto bad;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    if (c == '\0') goto bad;
    d[o++] = c;
  }
  d[o] = '\0';
  *out = d;
  return 0;
bad:
  fx_free(d);
  *out = NULL;
  return -1;
}

void tallyweb_label_escape(fbuf_t *out, const char *s) { prom_label_escape(out, s); }

/* ---------- routes ---------- */

/* Splits path ("/a/b/c") into at most max segments (pointers into path,
 * with lengths); -1 when there are more or path does not start with '/'.
 * A trailing slash makes a last empty segment. */
#define MAX_SEGS 5
static int split(const char *path, const char **seg, size_t *len) {
  int n = 0;
  const char *p = path;
  if (*p != '/') return -1;
  while (*p == '/') {
    const char *s = ++p;
    while (*p && *p != '/') p++;
    if (n == MAX_SEGS) return -1;
    seg[n] = s;
    len[n] = (size_t)(p - s);
    n++;
  }
  return n;
}

static int is(const char *seg, size_t len, const char *lit) {
  return strlen(lit) == len && memcmp(seg, lit, len) == 0;
}

static const char *const VERBS[] = {"start", "pause", "resume", "cancel", "retry-failed",
                                    "limits", NULL};

tallyweb_route_t tallyweb_route_verb(const char *path, char **task, const char **verb) {
  const char *seg[MAX_SEGS];
  size_t len[MAX_SEGS];
  int n, i;
  *task = NULL;
  *verb = NULL;
  if (!path) return TALLYWEB_NOT_FOUND;
  n = split(path, seg, len);
  if (n < 1) return TALLYWEB_NOT_FOUND;
  if (n == 1 && (len[0] == 0 || is(seg[0], len[0], "index.html"))) return TALLYWEB_PAGE;
  if (n == 1 && is(seg[0], len[0], "metrics")) return TALLYWEB_METRICS;
  if (n == 1 && is(seg[0], len[0], "login")) return TALLYWEB_LOGIN;
  if (n == 1 && is(seg[0], len[0], "logout")) return TALLYWEB_LOGOUT;
  if (n == 1 && is(seg[0], len[0], "fleet")) return TALLYWEB_FLEET;
  if (n == 2 && is(seg[0], len[0], "task") && len[1])
    return tallyweb_url_decode(seg[1], len[1], task) ? TALLYWEB_BAD_PATH : TALLYWEB_TASK_PAGE;
  if (!is(seg[0], len[0], "api")) return TALLYWEB_NOT_FOUND;
  if (n == 2 && is(seg[1], len[1], "reporter")) return TALLYWEB_REPORTER;
  if (n == 2 && is(seg[1], len[1], "session")) return TALLYWEB_SESSION;
  if (n == 2 && is(seg[1], len[1], "stores")) return TALLYWEB_STORES;
  if (n == 2 && is(seg[1], len[1], "workers")) return TALLYWEB_WORKERS;
  if (n < 2 || !is(seg[1], len[1], "tasks")) return TALLYWEB_NOT_FOUND;
  if (n == 2 || (n == 3 && len[2] == 0)) return TALLYWEB_TASKS;
  if (len[2] == 0) return TALLYWEB_NOT_FOUND;
  {
    tallyweb_route_t r = TALLYWEB_NOT_FOUND;
    if (n == 3)
      r = TALLYWEB_TASK;
    else if (n == 4 && is(seg[3], len[3], "failed.csv"))
      r = TALLYWEB_FAILED_CSV;
    else if (n == 4 && is(seg[3], len[3], "failed.jsonl"))
      r = TALLYWEB_FAILED_JSONL;
    else if (n == 4 && is(seg[3], len[3], "actions"))
      r = TALLYWEB_ACTIONS;
    else if (n == 4)
      for (i = 0; VERBS[i]; i++)
        if (is(seg[3], len[3], VERBS[i])) {
          r = TALLYWEB_ACTION;
          *verb = VERBS[i];
        }
    if (r == TALLYWEB_NOT_FOUND) return r;
    if (tallyweb_url_decode(seg[2], len[2], task)) {
      *verb = NULL;
      return TALLYWEB_BAD_PATH;
    }
    return r;
  }
}

tallyweb_route_t tallyweb_route(const char *path, char **task) {
  const char *verb;
  return tallyweb_route_verb(path, task, &verb);
}

/* ---------- shared figures ---------- */

const char *tallyweb_state_color(tally_state_t s) {
  switch (s) {
  case TALLY_COMPLETED: return "green";
  case TALLY_COMPLETED_FAILURES: return "yellow";
  case TALLY_RUNNING: return "blue";
  case TALLY_LISTING_FAILED: return "red";
  case TALLY_PENDING:
  case TALLY_LISTING:
  case TALLY_STATE__COUNT: break;
  }
  return "grey";
}

/* Objects done as a percentage of the total, or of what is listed so far
 * while listing; the page's script computes the same (percent()). */
/* "DONE / TOTAL" of objects or bytes ("?" while the listing goes on). */
static void objects_done_of(fbuf_t *out, const tally_figures_t *f) {
  fbuf_addf(out, "%" PRIu64 " / ", f->done_objects);
  if (f->totals_known)
    fbuf_addf(out, "%" PRIu64, f->total_objects);
  else
    fbuf_adds(out, "?");
}
static void bytes_done_of(fbuf_t *out, const tally_figures_t *f) {
  tally_fmt_bytes(out, (double)f->done_bytes);
  fbuf_adds(out, " / ");
  if (f->totals_known)
    tally_fmt_bytes(out, (double)f->total_bytes);
  else
    fbuf_adds(out, "?");
}

static double percent(const tally_figures_t *f) {
  if (f->totals_known)
    return f->total_objects ? 100.0 * (double)f->done_objects / (double)f->total_objects
                            : 100.0;
  return f->listed_objects ? 100.0 * (double)f->done_objects / (double)f->listed_objects
                           : 0.0;
}

/* Rates as the JSON gives them (tally.c rounds to two decimals). */
static double rate2(double x) { return round(x * 100.0) / 100.0; }

json_t *tallyweb_stats_json(const tallyweb_stats_t *s, size_t n_tasks) {
  json_t *o = json_object();
  json_object_set_new(o, "records", json_integer((json_int_t)s->records));
  json_object_set_new(o, "rejected", json_integer((json_int_t)s->rejected));
  json_object_set_new(o, "duplicates", json_integer((json_int_t)s->duplicates));
  json_object_set_new(o, "lag", s->lag >= 0 ? json_integer(s->lag) : json_null());
  json_object_set_new(o, "caught_up", json_boolean(s->caught_up));
  json_object_set_new(o, "tasks", json_integer((json_int_t)n_tasks));
  return o;
}

/* ---------- metrics ---------- */

static void family(fbuf_t *out, const char *name, const char *type, const char *help) {
  fbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{task="...",lname="lval"} (the second label when lname is set). */
static void labels(fbuf_t *out, const char *name, const char *task, const char *lname,
                   const char *lval) {
  fbuf_adds(out, name);
  if (!task && !lname) return;
  fbuf_addc(out, '{');
  if (task) {
    fbuf_adds(out, "task=\"");
    tallyweb_label_escape(out, task);
    fbuf_addc(out, '"');
  }
  if (lname) {
    fbuf_addf(out, "%s%s=\"", task ? "," : "", lname);
    tallyweb_label_escape(out, lval);
    fbuf_addc(out, '"');
  }
  fbuf_addc(out, '}');
}

static void sample_u(fbuf_t *out, const char *name, const char *task, const char *lname,
                     const char *lval, uint64_t v) {
  labels(out, name, task, lname, lval);
  fbuf_addf(out, " %" PRIu64 "\n", v);
}

static void sample_i(fbuf_t *out, const char *name, const char *task, int64_t v) {
  labels(out, name, task, NULL, NULL);
  fbuf_addf(out, " %" PRId64 "\n", v);
}

static void sample_d(fbuf_t *out, const char *name, const char *task, double v) {
  labels(out, name, task, NULL, NULL);
  if (isnan(v) || isinf(v)) v = 0;
  fbuf_addf(out, " %.15g\n", v);
}

/* One task figure per task: the common shape of most families. */
typedef enum { M_STATE, M_OBJECTS_TOTAL, M_BYTES_TOTAL, M_TOTALS_KNOWN, M_OBJECTS,
               M_BYTES_DONE, M_BYTES_COPIED, M_SEGMENTS_TOTAL, M_SEGMENTS_DONE,
               M_FAILURES, M_SKIPS, M_RATE_B, M_RATE_O, M_ETA, M_RUN, M_UPDATED,
               M__COUNT } metric_t;

static const struct {
  const char *name, *type, *help;
} metrics[M__COUNT] = {
    [M_STATE] = {"ferry_task_state", "gauge",
                 "1 for the task's current state, 0 for the others."},
    [M_OBJECTS_TOTAL] = {"ferry_task_objects_total", "gauge",
                         "Objects of the task: the listing's total, or listed so far "
                         "while listing; state is the task's state."},
    [M_BYTES_TOTAL] = {"ferry_task_bytes_total", "gauge",
                       "Bytes of the task: the listing's total, or listed so far while "
                       "listing."},
    [M_TOTALS_KNOWN] = {"ferry_task_totals_known", "gauge",
                        "1 once the listing is over and the totals are final."},
    [M_OBJECTS] = {"ferry_task_objects", "gauge",
                   "Objects done by outcome (copied, skipped, failed)."},
    [M_BYTES_DONE] = {"ferry_task_bytes_done", "gauge",
                      "Bytes done: copied, plus the sizes of objects skipped or failed."},
    [M_BYTES_COPIED] = {"ferry_task_bytes_copied_total", "counter",
                        "Bytes written to the destination (resets with a new full run)."},
    [M_SEGMENTS_TOTAL] = {"ferry_task_segments_total", "gauge",
                          "Segments published (final once the totals are known)."},
    [M_SEGMENTS_DONE] = {"ferry_task_segments_done", "gauge",
                         "Segments with a counted result."},
    [M_FAILURES] = {"ferry_task_failures", "gauge", "Objects still failed, by reason."},
    [M_SKIPS] = {"ferry_task_skips", "gauge", "Objects skipped, by reason."},
    [M_RATE_B] = {"ferry_task_rate_bytes_per_second", "gauge",
                  "Bytes copied per second over the rate window."},
    [M_RATE_O] = {"ferry_task_rate_objects_per_second", "gauge",
                  "Objects done per second over the rate window."},
    [M_ETA] = {"ferry_task_eta_seconds", "gauge",
               "Estimated seconds to finish; absent while unknown, 0 when done."},
    [M_RUN] = {"ferry_task_run", "gauge", "Latest run of the task."},
    [M_UPDATED] = {"ferry_task_updated_timestamp_seconds", "gauge",
                   "Time of the newest record of the task (Unix seconds)."},
};

static void task_metric(fbuf_t *out, metric_t m, const tally_view_t *v) {
  const tally_figures_t *f = &v->f;
  size_t i;
  switch (m) {
  case M_STATE:
    for (i = 0; i < TALLY_STATE__COUNT; i++)
      sample_u(out, metrics[m].name, v->task, "state", tally_state_str((tally_state_t)i),
               f->state == (tally_state_t)i);
    break;
  case M_OBJECTS_TOTAL:
    sample_u(out, metrics[m].name, v->task, "state", tally_state_str(f->state),
             f->totals_known ? f->total_objects : f->listed_objects);
    break;
  case M_BYTES_TOTAL:
    sample_u(out, metrics[m].name, v->task, NULL, NULL,
             f->totals_known ? f->total_bytes : f->listed_bytes);
    break;
  case M_TOTALS_KNOWN:
    sample_u(out, metrics[m].name, v->task, NULL, NULL, f->totals_known != 0);
    break;
  case M_OBJECTS:
    sample_u(out, metrics[m].name, v->task, "status", "copied", f->copied);
    sample_u(out, metrics[m].name, v->task, "status", "skipped", f->skipped);
    sample_u(out, metrics[m].name, v->task, "status", "failed", f->failed);
    break;
  case M_BYTES_DONE:
    sample_u(out, metrics[m].name, v->task, NULL, NULL, f->done_bytes);
    break;
  case M_BYTES_COPIED:
    sample_u(out, metrics[m].name, v->task, NULL, NULL, f->bytes_copied);
    break;
  case M_SEGMENTS_TOTAL:
    sample_u(out, metrics[m].name, v->task, NULL, NULL, f->segments_total);
    break;
  case M_SEGMENTS_DONE:
    sample_u(out, metrics[m].name, v->task, NULL, NULL, f->segments_done);
    break;
  case M_FAILURES:
    for (i = 0; i < f->n_failed_by; i++)
      sample_u(out, metrics[m].name, v->task, "reason", f->failed_by[i].reason,
               f->failed_by[i].n);
    break;
  case M_SKIPS:
    for (i = 0; i < f->n_skipped_by; i++)
      sample_u(out, metrics[m].name, v->task, "reason", f->skipped_by[i].reason,
               f->skipped_by[i].n);
    break;
  case M_RATE_B: sample_d(out, metrics[m].name, v->task, rate2(f->bytes_per_s)); break;
  case M_RATE_O: sample_d(out, metrics[m].name, v->task, rate2(f->objects_per_s)); break;
  case M_ETA:
    if (f->eta_s >= 0) sample_i(out, metrics[m].name, v->task, f->eta_s);
    break;
  case M_RUN: sample_i(out, metrics[m].name, v->task, v->latest_run); break;
  case M_UPDATED:
    if (v->updated_ms > 0)
      sample_d(out, metrics[m].name, v->task, (double)v->updated_ms / 1000.0);
    break;
  case M__COUNT: break;
  }
}

void tallyweb_metrics(const tally_view_t *views, size_t n, const tallyweb_stats_t *s,
                      fbuf_t *out) {
  size_t i;
  int m;
  family(out, "ferry_reporter_records_total", "counter",
         "Records read from the tasks, results and failed topics since the start.");
  sample_u(out, "ferry_reporter_records_total", NULL, NULL, NULL, s->records);
  family(out, "ferry_reporter_rejected_records_total", "counter",
         "Records skipped as undecodable or invalid.");
  sample_u(out, "ferry_reporter_rejected_records_total", NULL, NULL, NULL, s->rejected);
  family(out, "ferry_reporter_duplicate_results_total", "counter",
         "Results recognized as duplicates and not counted again.");
  sample_u(out, "ferry_reporter_duplicate_results_total", NULL, NULL, NULL,
           s->duplicates);
  family(out, "ferry_reporter_caught_up", "gauge",
         "1 once every partition has been read up to where it ended at start.");
  sample_u(out, "ferry_reporter_caught_up", NULL, NULL, NULL, s->caught_up != 0);
  if (s->lag >= 0) {
    family(out, "ferry_reporter_lag_records", "gauge",
           "Records not read yet behind the ends of the partitions (consumer lag).");
    sample_i(out, "ferry_reporter_lag_records", NULL, s->lag);
  }
  family(out, "ferry_reporter_tasks", "gauge", "Tasks known.");
  sample_u(out, "ferry_reporter_tasks", NULL, NULL, NULL, n);
  for (m = 0; m < M__COUNT; m++) {
    family(out, metrics[m].name, metrics[m].type, metrics[m].help);
    for (i = 0; i < n; i++) task_metric(out, (metric_t)m, &views[i]);
  }
}

/* ---------- page ---------- */

/* The page's script: refreshes the rows from api/tasks (and the reporter
 * line from api/reporter) every 2 s. Only DOM calls and textContent: record
 * text never becomes markup. Links are relative, so the page also works
 * behind a proxy under a path prefix. Counts each successful refresh in
 * body[data-refreshes] (tests read it). */
/* reporter/assets/page.js, embedded at build time (report/assets.h). */
#define PAGE_JS tallyweb_asset_page_js

/* reporter/assets/page.css, likewise. */
#define PAGE_CSS tallyweb_asset_page_css

static void loc_text(fbuf_t *out, const msg_loc_t *l) {
  tallyweb_html_escape(out, l->store);
  fbuf_addc(out, ':');
  tallyweb_html_escape(out, l->bucket);
  if (l->prefix && *l->prefix) {
    fbuf_addc(out, '/');
    tallyweb_html_escape(out, l->prefix);
  }
}

/* One row; the script's row() makes the same markup. */
static void page_row(fbuf_t *out, const tally_view_t *v) {
  const tally_figures_t *f = &v->f;
  double p = percent(f);
  size_t i;
  fbuf_adds(out, "<tr class=\"task\" data-task=\"");
  tallyweb_html_escape(out, v->task);
  fbuf_addf(out, "\" data-state=\"%s\"", tally_state_str(f->state));
  if (v->ctl_state) fbuf_addf(out, " data-ctl-state=\"%s\"", v->ctl_state);
  fbuf_adds(out, "><td><div class=\"name\">");
  tallyweb_html_escape(out, v->task);
  fbuf_adds(out, "</div>");
  if (v->has_def) {
    fbuf_adds(out, "<div class=\"route\">");
    loc_text(out, &v->src);
    fbuf_adds(out, " → ");
    loc_text(out, &v->dst);
    fbuf_adds(out, "</div>");
  }
  fbuf_addf(out, "</td><td class=\"state\">%s", tally_state_str(f->state));
  if (v->ctl_state)
    fbuf_addf(out, " <span class=\"ctl %s\" data-testid=\"ctl-state\">%s</span>",
              v->ctl_state, v->ctl_state);
  fbuf_addf(out,
            "</td><td class=\"progress\">"
            "<div class=\"bar\" data-percent=\"%.1f\"><div class=\"fill %s\" "
            "style=\"width: %.1f%%;\"></div></div><span class=\"pct\">",
            p, tallyweb_state_color(f->state), p > 100 ? 100.0 : p);
  if (f->totals_known)
    fbuf_addf(out, "%.1f%%", p);
  else
    fbuf_adds(out, "listing…");
  fbuf_adds(out, "</span></td><td class=\"num objects\">");
  objects_done_of(out, f);
  fbuf_addf(out,
            "<div class=\"detail\">copied %" PRIu64 " · skipped %" PRIu64
            " · failed %" PRIu64 "</div></td><td class=\"num bytes\">",
            f->copied, f->skipped, f->failed);
  bytes_done_of(out, f);
  fbuf_adds(out, "</td><td class=\"num rate\">");
  tally_fmt_bytes(out, rate2(f->bytes_per_s));
  fbuf_addf(out, "/s · %.1f obj/s</td><td class=\"num eta\">", rate2(f->objects_per_s));
  tally_fmt_duration(out, f->eta_s);
  fbuf_addf(out, "</td><td class=\"failures\">%" PRIu64, f->failed);
  if (f->failed) {
    fbuf_adds(out, "<div class=\"reasons\">");
    for (i = 0; i < f->n_failed_by; i++) {
      if (i) fbuf_adds(out, ", ");
      tallyweb_html_escape(out, f->failed_by[i].reason);
      fbuf_addf(out, " %" PRIu64, f->failed_by[i].n);
    }
    fbuf_adds(out, "</div>");
  }
  /* The name is %-escaped for the URL, then (harmlessly: only '%' and
   * unreserved bytes remain) HTML-escaped for the attribute. */
  {
    fbuf_t u, a;
    static const char *const verbs[][2] = {
        {"start", "Start"}, {"retry-failed", "Retry failed"}, {"pause", "Pause"},
        {"resume", "Resume"}, {"cancel", "Cancel"}};
    size_t k;
    fbuf_init(&u, 0);
    fbuf_init(&a, 0);
    tallyweb_url_escape(&u, v->task);
    tallyweb_html_escape(&a, fbuf_str(&u));   /* the URL segment */
    fbuf_reset(&u);
    tallyweb_html_escape(&u, v->task);        /* the data-task value */
    fbuf_addf(out, "</td><td class=\"links\"><a class=\"csv\" data-action=\"export-csv\" "
                   "data-task=\"%s\" href=\"api/tasks/%s/failed.csv\">CSV</a> "
                   "<a class=\"jsonl\" data-action=\"export-jsonl\" data-task=\"%s\" "
                   "href=\"api/tasks/%s/failed.jsonl\">JSONL</a></td>"
                   "<td class=\"actions\"><a class=\"details\" data-action=\"details\" "
                   "data-task=\"%s\" href=\"task/%s\">Details</a>",
              fbuf_str(&u), fbuf_str(&a), fbuf_str(&u), fbuf_str(&a), fbuf_str(&u),
              fbuf_str(&a));
    for (k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++)
      fbuf_addf(out, " <button type=\"button\" class=\"op\" data-action=\"%s\" "
                     "data-task=\"%s\">%s</button>",
                verbs[k][0], fbuf_str(&u), verbs[k][1]);
    fbuf_addf(out, "<div class=\"action-msg\" data-task=\"%s\" role=\"status\"></div>",
              fbuf_str(&u));
    fbuf_release(&u);
    fbuf_release(&a);
  }
  fbuf_adds(out, "</td></tr>\n");
}

/* The console's controls above the table: who is logged in and the login
 * form (which also works without the script), and the "New task" form for
 * an operator (filled and sent by the script). Ids are stable for a
 * browser test (docs/reporter.md, "The page"). */
#define CONSOLE_HTML                                                                     \
  "<nav><a href=\"fleet\" id=\"nav-fleet\">Fleet</a></nav>\n"                           \
  "<div id=\"session\"><span id=\"session-who\"></span> "                                \
  "<form id=\"login-form\" method=\"post\" action=\"login\">"                             \
  "<input type=\"password\" name=\"token\" id=\"login-token\" placeholder=\"token\" "       \
  "autocomplete=\"current-password\"> <button type=\"submit\" id=\"login-submit\">Log "    \
  "in</button></form> <button type=\"button\" id=\"logout\" hidden>Log out</button> "       \
  "<span id=\"login-error\" role=\"alert\"></span></div>\n"                               \
  "<details id=\"new-task\" class=\"op\"><summary>New task</summary>"                       \
  "<form id=\"new-form\">"                                                                \
  "<label>Name <input id=\"new-name\" required></label>"                                  \
  "<fieldset><legend>Source</legend><select id=\"new-source-store\"></select> "           \
  "<input id=\"new-source-bucket\" placeholder=\"bucket\" required> "                     \
  "<input id=\"new-source-prefix\" placeholder=\"prefix/\"></fieldset>"                   \
  "<fieldset><legend>Destination</legend><select id=\"new-dest-store\"></select> "        \
  "<input id=\"new-dest-bucket\" placeholder=\"bucket\" required> "                       \
  "<input id=\"new-dest-prefix\" placeholder=\"prefix/\"></fieldset>"                     \
  "<label>Same name <select id=\"new-same-name\"><option>skip-if-same</option>"          \
  "<option>skip</option><option>overwrite</option></select></label> "                     \
  "<label>QPS limit <input id=\"new-qps-limit\" placeholder=\"0 = unlimited\"></label> "   \
  "<label>Bandwidth limit <input id=\"new-bandwidth-limit\" placeholder=\"e.g. 100M\">"    \
  "</label> <label>Include <input id=\"new-include\" placeholder=\"*.jpg, *.png\"></label> " \
  "<label>Exclude <input id=\"new-exclude\" placeholder=\"tmp/*\"></label> "                \
  "<button type=\"submit\" id=\"new-submit\">Create</button>"                             \
  "<div id=\"new-error\" role=\"alert\"></div><div id=\"new-status\" role=\"status\"></div>" \
  "</form></details>\n"                                                                   \
  "<details id=\"limits-task\" class=\"op\"><summary>Limits</summary>"                     \
  "<form id=\"limits-form\"><label>Task <input id=\"limits-name\" required></label> "       \
  "<label>QPS <input id=\"limits-qps\" placeholder=\"unchanged; 0 = unlimited\"></label> "  \
  "<label>Bandwidth <input id=\"limits-bandwidth\" placeholder=\"e.g. 50M; 0 = unlimited\">" \
  "</label> <label>Schedule <input id=\"limits-schedule\" "                                \
  "placeholder=\"08:00-19:00=10M, 19:00-08:00=0\"></label> "                               \
  "<button type=\"submit\" id=\"limits-submit\">Set</button>"                              \
  "<div id=\"limits-error\" role=\"alert\"></div><div id=\"limits-status\" "                \
  "role=\"status\"></div></form></details>\n"

void tallyweb_page(const tally_view_t *views, size_t n, const tallyweb_stats_t *s,
                   fbuf_t *out) {
  size_t i;
  char when[32];
  time_t secs = (time_t)(s->now_ms / 1000);
  struct tm tmv;
  gmtime_r(&secs, &tmv);
  strftime(when, sizeof(when), "%H:%M:%S UTC", &tmv);
  fbuf_adds(out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<link rel=\"icon\" href=\"data:,\">\n"
            "<title>ferry — migration status</title>\n<style>");
  fbuf_adds(out, PAGE_CSS);
  fbuf_adds(out, "</style></head>\n<body>\n<h1>ferry — migration status</h1>\n");
  fbuf_adds(out, CONSOLE_HTML);
  fbuf_adds(out, "<div id=\"reporter\">");
  fbuf_addf(out, "%s · %" PRIu64 " records read",
            s->caught_up ? "caught up" : "catching up", s->records);
  if (s->lag >= 0) fbuf_addf(out, " · lag %" PRId64, s->lag);
  if (s->rejected) fbuf_addf(out, " · %" PRIu64 " rejected", s->rejected);
  fbuf_adds(out,
            "</div>\n<table><thead><tr><th>Task</th><th>State</th><th>Progress</th>"
            "<th>Objects</th><th>Bytes</th><th>Rate</th><th>ETA</th><th>Failed</th>"
            "<th>Export failed</th><th>Actions</th></tr></thead>\n<tbody id=\"tasks\">\n");
  for (i = 0; i < n; i++) page_row(out, &views[i]);
  if (!n)
    fbuf_adds(out, "<tr><td class=\"empty\" colspan=\"10\">No tasks yet.</td></tr>\n");
  fbuf_addf(out, "</tbody></table>\n<p id=\"updated\">as of %s; refreshes every 2 s</p>\n"
                 "<script>",
            when);
  fbuf_adds(out, PAGE_JS);
  fbuf_adds(out, "</script>\n</body></html>\n");
}

/* ---------- a task's page and the fleet ---------- */

static void utc(fbuf_t *out, int64_t ms) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tmv;
  char s[32];
  gmtime_r(&secs, &tmv);
  strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tmv);
  fbuf_adds(out, s);
}

static void head(fbuf_t *out, const char *title, int refresh_s) {
  fbuf_addf(out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta http-equiv=\"refresh\" content=\"%d\">\n<link rel=\"icon\" href=\"data:,\">\n"
            "<title>ferry — ",
            refresh_s);
  tallyweb_html_escape(out, title);
  fbuf_adds(out, "</title>\n<style>");
  fbuf_adds(out, PAGE_CSS);
  fbuf_adds(out, "</style></head>\n<body>\n");
}

static const char *jstr(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static void action_rows(fbuf_t *out, const json_t *actions) {
  size_t i;
  fbuf_adds(out, "<table id=\"actions\"><thead><tr><th>When (UTC)</th><th>Action</th>"
                 "<th>By</th><th>Result</th></tr></thead><tbody>\n");
  for (i = json_array_size(actions); i-- > 0;) {   /* newest first */
    const json_t *a = json_array_get(actions, i), *ack = json_object_get(a, "ack");
    fbuf_adds(out, "<tr class=\"action\" data-id=\"");
    tallyweb_html_escape(out, jstr(a, "id"));
    fbuf_adds(out, "\" data-cmd=\"");
    tallyweb_html_escape(out, jstr(a, "cmd"));
    fbuf_addf(out, "\" data-result=\"%s\"><td>",
              !json_is_object(ack) ? "waiting"
              : json_is_true(json_object_get(ack, "ok")) ? "ok" : "refused");
    utc(out, json_integer_value(json_object_get(a, "at_ms")));
    fbuf_adds(out, "</td><td>");
    tallyweb_html_escape(out, jstr(a, "cmd"));
    fbuf_adds(out, "</td><td>");
    tallyweb_html_escape(out, jstr(a, "by"));
    fbuf_adds(out, "</td><td>");
    if (!json_is_object(ack)) {
      fbuf_adds(out, "waiting for the master");
    } else if (json_is_true(json_object_get(ack, "ok"))) {
      fbuf_adds(out, "done");
    } else {
      fbuf_adds(out, "<span class=\"bad\">refused: ");
      tallyweb_html_escape(out, jstr(ack, "error"));
      fbuf_adds(out, "</span>");
    }
    fbuf_adds(out, "</td></tr>\n");
  }
  if (!json_array_size(actions))
    fbuf_adds(out, "<tr><td class=\"empty\" colspan=\"4\">No actions.</td></tr>\n");
  fbuf_adds(out, "</tbody></table>\n");
}

static void run_rows(fbuf_t *out, const tally_view_t *v) {
  size_t i;
  fbuf_adds(out, "<table id=\"runs\"><thead><tr><th>Run</th><th>Kind</th><th>Objects</th>"
                 "<th>Copied</th><th>Skipped</th><th>Failed</th><th>Bytes copied</th>"
                 "</tr></thead><tbody>\n");
  for (i = 0; i < v->n_runs; i++) {
    const tally_run_view_t *r = &v->runs[i];
    fbuf_addf(out, "<tr class=\"run\" data-run=\"%d\"><td>%d", r->run, r->run);
    if (r->retry_of) fbuf_addf(out, " (retry of %d)", r->retry_of);
    fbuf_addf(out, "</td><td>%s</td><td class=\"num\">%" PRIu64 " / ", tally_kind_str(r->kind),
              r->f.done_objects);
    if (r->f.totals_known)
      fbuf_addf(out, "%" PRIu64, r->f.total_objects);
    else
      fbuf_adds(out, "?");
    fbuf_addf(out, "</td><td class=\"num\">%" PRIu64 "</td><td class=\"num\">%" PRIu64
                   "</td><td class=\"num\">%" PRIu64 "</td><td class=\"num\">",
              r->f.copied, r->f.skipped, r->f.failed);
    tally_fmt_bytes(out, (double)r->f.bytes_copied);
    fbuf_adds(out, "</td></tr>\n");
  }
  if (!v->n_runs) fbuf_adds(out, "<tr><td class=\"empty\" colspan=\"7\">No runs yet.</td></tr>\n");
  fbuf_adds(out, "</tbody></table>\n");
}

void tallyweb_task_page(const tally_view_t *v, const json_t *taskstate, const json_t *actions,
                        const char *charts_html, const tallyweb_stats_t *s, fbuf_t *out) {
  const tally_figures_t *f = &v->f;
  fbuf_t u, a;
  const json_t *lim = json_object_get(taskstate, "limits");
  head(out, v->task, 10);
  fbuf_init(&u, 0);
  fbuf_init(&a, 0);
  tallyweb_url_escape(&u, v->task);
  tallyweb_html_escape(&a, fbuf_str(&u));
  fbuf_adds(out, "<nav><a href=\"../\" id=\"nav-home\">All tasks</a> · "
                 "<a href=\"../fleet\" id=\"nav-fleet\">Fleet</a></nav>\n<h1 id=\"task-name\">");
  tallyweb_html_escape(out, v->task);
  fbuf_addf(out, "</h1>\n<dl id=\"task-summary\"><dt>State</dt><dd id=\"task-state\" "
                 "data-state=\"%s\">%s",
            tally_state_str(f->state), tally_state_str(f->state));
  if (json_is_object(taskstate)) {
    fbuf_addf(out, " <span class=\"ctl %s\" data-testid=\"ctl-state\">%s</span>",
              jstr(taskstate, "state"), jstr(taskstate, "state"));
  }
  fbuf_adds(out, "</dd>");
  if (v->has_def) {
    fbuf_adds(out, "<dt>Route</dt><dd id=\"task-route\">");
    loc_text(out, &v->src);
    fbuf_adds(out, " → ");
    loc_text(out, &v->dst);
    fbuf_adds(out, "</dd>");
  }
  fbuf_adds(out, "<dt>Objects</dt><dd id=\"task-objects\">");
  objects_done_of(out, f);
  fbuf_addf(out, " (copied %" PRIu64 ", skipped %" PRIu64 ", failed %" PRIu64 ")</dd>"
                 "<dt>Bytes</dt><dd id=\"task-bytes\">",
            f->copied, f->skipped, f->failed);
  bytes_done_of(out, f);
  fbuf_adds(out, "</dd><dt>Rate</dt><dd id=\"task-rate\">");
  tally_fmt_bytes(out, rate2(f->bytes_per_s));
  fbuf_addf(out, "/s · %.1f obj/s</dd><dt>ETA</dt><dd id=\"task-eta\">", rate2(f->objects_per_s));
  tally_fmt_duration(out, f->eta_s);
  fbuf_adds(out, "</dd>");
  if (json_is_object(lim)) {
    size_t i;
    fbuf_addf(out, "<dt>Limits</dt><dd id=\"task-limits\">qps %" JSON_INTEGER_FORMAT
                   " · bandwidth ",
              json_integer_value(json_object_get(lim, "qps")));
    if (json_integer_value(json_object_get(lim, "bandwidth")) > 0) {
      tally_fmt_bytes(out, (double)json_integer_value(json_object_get(lim, "bandwidth")));
      fbuf_adds(out, "/s");
    } else {
      fbuf_adds(out, "unlimited");
    }
    for (i = 0; i < json_array_size(json_object_get(lim, "schedule")); i++) {
      fbuf_adds(out, i ? ", " : " · schedule ");
      tallyweb_html_escape(out, json_string_value(json_array_get(json_object_get(lim, "schedule"), i)));
    }
    fbuf_adds(out, "</dd>");
  }
  fbuf_addf(out, "</dl>\n<p id=\"exports\"><a data-action=\"export-csv\" href=\"../api/tasks/%s/"
                 "failed.csv\">Export failed (CSV)</a> · <a data-action=\"export-jsonl\" "
                 "href=\"../api/tasks/%s/failed.jsonl\">Export failed (JSONL)</a></p>\n"
                 "<h2>Over the last 24 hours</h2>\n<section id=\"charts\">",
            fbuf_str(&a), fbuf_str(&a));
  fbuf_adds(out, charts_html ? charts_html : "");
  fbuf_adds(out, "</section>\n<h2>Runs</h2>\n");
  run_rows(out, v);
  fbuf_adds(out, "<h2>Actions</h2>\n");
  action_rows(out, actions);
  fbuf_adds(out, "<p id=\"updated\">as of ");
  utc(out, s->now_ms);
  fbuf_adds(out, " UTC; reloads every 10 s</p>\n</body></html>\n");
  fbuf_release(&u);
  fbuf_release(&a);
}

void tallyweb_fleet_page(const json_t *workers, const tallyweb_stats_t *s, fbuf_t *out) {
  size_t i, k, j;
  head(out, "fleet", 5);
  fbuf_addf(out, "<nav><a href=\"./\" id=\"nav-home\">All tasks</a></nav>\n<h1>ferry — fleet"
                 "</h1>\n<p id=\"fleet-count\">%zu workers</p>\n<table id=\"workers\"><thead><tr>"
                 "<th>Worker</th><th>Host</th><th>Tasks (objects in hand)</th><th>Partitions</th>"
                 "<th>Rate</th><th>Last heard</th></tr></thead><tbody>\n",
            json_array_size(workers));
  for (i = 0; i < json_array_size(workers); i++) {
    const json_t *w = json_array_get(workers, i), *ts = json_object_get(w, "tasks"),
                 *ps = json_object_get(w, "parts"), *rate = json_object_get(w, "rate");
    int stale = json_is_true(json_object_get(w, "stale"));
    fbuf_adds(out, "<tr class=\"worker\" data-worker=\"");
    tallyweb_html_escape(out, jstr(w, "worker"));
    fbuf_addf(out, "\" data-stale=\"%s\"><td>", stale ? "true" : "false");
    tallyweb_html_escape(out, jstr(w, "worker"));
    fbuf_adds(out, "</td><td class=\"host\">");
    tallyweb_html_escape(out, json_is_string(json_object_get(w, "host")) ? jstr(w, "host") : "—");
    fbuf_adds(out, "</td><td class=\"tasks\">");
    for (k = 0; k < json_array_size(ts); k++) {
      const json_t *t = json_array_get(ts, k);
      if (k) fbuf_adds(out, ", ");
      tallyweb_html_escape(out, jstr(t, "task"));
      fbuf_addf(out, " (%" JSON_INTEGER_FORMAT "%s)", json_integer_value(json_object_get(t, "objects")),
                json_is_true(json_object_get(t, "held")) ? ", held" : "");
    }
    fbuf_adds(out, "</td><td class=\"parts\">");
    for (k = 0; k < json_array_size(ps); k++) {
      const json_t *p = json_array_get(ps, k), *pa = json_object_get(p, "partitions");
      if (k) fbuf_adds(out, "; ");
      tallyweb_html_escape(out, jstr(p, "topic"));
      fbuf_adds(out, ":");
      for (j = 0; j < json_array_size(pa); j++)
        fbuf_addf(out, "%s%" JSON_INTEGER_FORMAT, j ? "," : " ",
                  json_integer_value(json_array_get(pa, j)));
    }
    if (!json_array_size(ps)) fbuf_adds(out, "—");
    fbuf_adds(out, "</td><td class=\"num rate\">");
    if (json_is_object(rate)) {
      tally_fmt_bytes(out, json_number_value(json_object_get(rate, "bytes_s")));
      fbuf_addf(out, "/s · %.1f obj/s", json_number_value(json_object_get(rate, "objects_s")));
    } else {
      fbuf_adds(out, "—");
    }
    fbuf_adds(out, "</td><td class=\"num heard\">");
    tally_fmt_duration(out, json_integer_value(json_object_get(w, "age_ms")) / 1000);
    fbuf_addf(out, " ago%s</td></tr>\n", stale ? " <span class=\"bad\">(stale)</span>" : "");
  }
  if (!json_array_size(workers))
    fbuf_adds(out, "<tr><td class=\"empty\" colspan=\"6\">No worker heard from in the last "
                   "hour.</td></tr>\n");
  fbuf_adds(out, "</tbody></table>\n<p id=\"updated\">as of ");
  utc(out, s->now_ms);
  fbuf_adds(out, " UTC; reloads every 5 s</p>\n</body></html>\n");
}

static pthread_once_t csp_once = PTHREAD_ONCE_INIT;
static char csp[256];

static void csp_make(void) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  if (!EVP_Digest(PAGE_JS, tallyweb_asset_page_js_len, md, &mdlen, EVP_sha256(), NULL)) {
    /* Without the hash no inline script may run: the page still reads. */
    snprintf(csp, sizeof(csp), "default-src 'none'");
    return;
  }
  EVP_EncodeBlock(b64, md, (int)mdlen);
  snprintf(csp, sizeof(csp),
           "default-src 'none'; script-src 'sha256-%s'; style-src 'unsafe-inline'; "
           "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'",
           (const char *)b64);
}

const char *tallyweb_page_csp(void) {
  pthread_once(&csp_once, csp_make);
  return csp;
}
